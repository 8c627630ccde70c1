//! The detail pane: the selected request section by section (mail, auth,
//! estimate, checklist, workspace, requester, notes, replies, job, thread).

use super::*;

pub(super) const LABEL: usize = 10;

pub(super) fn label(s: &str) -> Span<'static> {
    Span::styled(format!("{s:<LABEL$}"), DIM)
}

pub(super) fn heading(s: &str) -> Line<'static> {
    Line::styled(
        s.to_string(),
        Style::new().fg(ACCENT).add_modifier(Modifier::BOLD),
    )
}

/// `label  value` with the value wrapped under itself.
pub(super) fn kv(out: &mut Vec<Line<'static>>, name: &str, value: &str, style: Style, w: usize) {
    for (i, part) in wrap(value, w.saturating_sub(LABEL)).into_iter().enumerate() {
        let l = if i == 0 {
            label(name)
        } else {
            Span::raw(" ".repeat(LABEL))
        };
        out.push(Line::from(vec![l, Span::styled(part, style)]));
    }
}

/// A value already split into lines, each under the label column.
pub(super) fn kv_lines(
    out: &mut Vec<Line<'static>>,
    name: &str,
    values: Vec<String>,
    style: Style,
) {
    for (i, part) in values.into_iter().enumerate() {
        let l = if i == 0 {
            label(name)
        } else {
            Span::raw(" ".repeat(LABEL))
        };
        out.push(Line::from(vec![l, Span::styled(part, style)]));
    }
}

/// A marked, wrapped line: `mark text`, continuation indented under the text.
pub(super) fn marked(
    out: &mut Vec<Line<'static>>,
    indent: usize,
    mark: Span<'static>,
    text: &str,
    style: Style,
    w: usize,
) {
    let lead = indent + mark.width() + 1;
    for (i, part) in wrap(text, w.saturating_sub(lead)).into_iter().enumerate() {
        let mut spans = vec![Span::raw(" ".repeat(indent))];
        if i == 0 {
            spans.push(mark.clone());
            spans.push(Span::raw(" "));
        } else {
            spans.push(Span::raw(" ".repeat(mark.width() + 1)));
        }
        spans.push(Span::styled(part, style));
        out.push(Line::from(spans));
    }
}

/// Everything the detail pane shows for `row`, wrapped to `w` columns: one
/// function per section, in the order they appear.
pub(super) fn detail_lines(row: &Row, state: &State, w: usize) -> Vec<Line<'static>> {
    let mut out: Vec<Line<'static>> = Vec::new();
    in_flight(&mut out, row, state, w);
    presence(&mut out, row, state, w);
    damage(&mut out, row, w);
    mail_header(&mut out, row, state, w);
    promise(&mut out, row, state, w);
    checklist(&mut out, row, w);
    decision(&mut out, row, w);
    job(&mut out, row, state, w);
    workspace(&mut out, row, state, w);
    requester(&mut out, row, w);
    notes_and_replies(&mut out, row, state, w);
    thread(&mut out, row, state, w);
    out
}

/// Team mode: who else has it open, and what they are writing.
fn presence(out: &mut Vec<Line<'static>>, row: &Row, state: &State, w: usize) {
    let r = &row.req;
    let others: Vec<String> = state
        .others_on(r.id)
        .map(|p| format!("{} ({})", clean(&p.operator), p.activity.as_str()))
        .collect();
    if !others.is_empty() {
        let writing = state
            .others_on(r.id)
            .any(|p| p.activity != crate::store::presence::Activity::Viewing);
        let color = if writing { WARN } else { ACCENT };
        marked(
            out,
            0,
            Span::styled(if writing { "✎" } else { "●" }, Style::new().fg(color)),
            &format!("also open: {}", others.join(", ")),
            Style::new().fg(color),
            w,
        );
    }
}

/// What could not be read from the store, field by field, in words (the
/// queue row is marked `!`); the stored text itself is kept as it was.
fn damage(out: &mut Vec<Line<'static>>, row: &Row, w: usize) {
    let r = &row.req;
    if r.damage.is_empty() {
        return;
    }
    let bad = Style::new().fg(BAD);
    out.push(Line::styled(
        " Damaged in the store (shown as unknown):",
        bad.add_modifier(Modifier::BOLD),
    ));
    for d in &r.damage {
        marked(out, 1, Span::styled("!", bad), &d.to_string(), bad, w);
    }
}

/// The mail: subject, sender, Reply-To, receipt, authentication, warnings.
fn mail_header(out: &mut Vec<Line<'static>>, row: &Row, state: &State, w: usize) {
    let r = &row.req;
    let bold = Style::new().add_modifier(Modifier::BOLD);
    // The mail.
    for part in wrap(&r.subject, w) {
        out.push(Line::styled(part, bold));
    }
    let from = match (&r.from_name, &r.from) {
        (Some(n), Some(a)) if !n.is_empty() && n != a => format!("{n} <{a}>"),
        (_, Some(a)) => a.clone(),
        (Some(n), None) => n.clone(),
        (None, None) => "(no From address)".into(),
    };
    kv(out, "From", &from, Style::new(), w);
    if let Some(rt) = &r.reply_to {
        let mismatch = r
            .warnings
            .contains(&crate::intake::Warning::ReplyToMismatch);
        kv(
            out,
            "Reply-To",
            rt,
            if mismatch {
                Style::new().fg(WARN)
            } else {
                Style::new()
            },
            w,
        );
    }
    let received = match r.received_at {
        Some(t) => format!("{} · {}", when(t, state), ago(t, state.now)),
        None => "unreadable in the store (see Damaged)".to_string(),
    };
    kv(out, "Received", &received, Style::new(), w);
    if r.thread_len > 1 {
        kv(
            out,
            "Thread",
            &format!("{} messages", r.thread_len),
            Style::new(),
            w,
        );
    }
    let mut auth = vec![label("Auth")];
    for (name, res) in [
        ("dkim", &r.auth.dkim),
        ("spf", &r.auth.spf),
        ("dmarc", &r.auth.dmarc),
    ] {
        auth.push(Span::styled(format!("{name} "), DIM));
        auth.push(Span::styled(
            fit(res, 10),
            Style::new()
                .fg(auth_color(res))
                .add_modifier(Modifier::BOLD),
        ));
        auth.push(Span::raw("  "));
    }
    out.push(Line::from(auth));
    if let Some(reason) = &r.auth_override {
        kv(
            out,
            "",
            &format!("accepted by override: {reason}"),
            Style::new().fg(WARN),
            w,
        );
    }
    for warning in &r.warnings {
        let bad = matches!(
            warning,
            crate::intake::Warning::DmarcFail | crate::intake::Warning::DkimFail
        );
        let color = if bad { BAD } else { WARN };
        marked(
            out,
            0,
            Span::styled("⚠", Style::new().fg(color)),
            warning.describe(),
            Style::new().fg(color),
            w,
        );
    }
}

/// The promise: the estimate and the due date.
fn promise(out: &mut Vec<Line<'static>>, row: &Row, state: &State, w: usize) {
    // The promise.
    out.push(Line::raw(""));
    match (&row.estimate, row.due) {
        (Some(e), due) => {
            let days = if e.business_days == 1 {
                "1 business day".to_string()
            } else {
                format!("{} business days", e.business_days)
            };
            let mut first = format!("{} h of work · {days}", e.hours);
            // Yellow says "over 48 h" already where the words would wrap.
            if e.over_48h && width(&first) + 12 <= w.saturating_sub(LABEL) {
                first.push_str(" · over 48 h");
            }
            kv(
                out,
                "Estimate",
                &first,
                if e.over_48h {
                    Style::new().fg(WARN)
                } else {
                    Style::new()
                },
                w,
            );
            if let Some(due) = due {
                let (left, style) = sla(row, state.now);
                let rel = if is_closed(row) {
                    String::new()
                } else {
                    format!(" ({left})")
                };
                kv(
                    out,
                    "Due",
                    &format!("{}{rel}", when(due, state)),
                    if is_closed(row) { Style::new() } else { style },
                    w,
                );
            }
        }
        (None, _) => kv(
            out,
            "Estimate",
            if row.req.size.is_some() && row.req.received_at.is_none() {
                "unknown: the time it arrived cannot be read"
            } else {
                "unknown until the backend reports the size"
            },
            DIM,
            w,
        ),
    }
}

/// The checklist that gates approval.
fn checklist(out: &mut Vec<Line<'static>>, row: &Row, w: usize) {
    // The checklist.
    out.push(Line::raw(""));
    out.push(heading("Checklist"));
    for (check, st) in row.checklist() {
        let (mark, color, extra) = match &st {
            CheckState::Met => ("✔", OK, String::new()),
            CheckState::Overridden(reason) => ("✔", WARN, format!(" — overridden: {reason}")),
            // The dim dash says it where the words would wrap.
            CheckState::NotNeeded if width(check.label()) + 16 <= w => {
                ("–", Color::Reset, " — not needed".to_string())
            }
            CheckState::NotNeeded => ("–", Color::Reset, String::new()),
            CheckState::Unmet(why) => ("✗", BAD, format!(" — {why}")),
        };
        let text_style = match st {
            CheckState::NotNeeded => DIM,
            CheckState::Unmet(_) => Style::new().fg(BAD),
            CheckState::Overridden(_) => Style::new().fg(WARN),
            CheckState::Met => Style::new(),
        };
        marked(
            out,
            1,
            Span::styled(mark, Style::new().fg(color).add_modifier(Modifier::BOLD)),
            &format!("{}{extra}", check.label()),
            text_style,
            w,
        );
    }
}

/// The decision (reason, override).
fn decision(out: &mut Vec<Line<'static>>, row: &Row, w: usize) {
    let r = &row.req;
    // The decision and the job.
    if r.decision_reason.is_some() || r.approval_override.is_some() {
        out.push(Line::raw(""));
        out.push(heading("Decision"));
        if let Some(reason) = &r.decision_reason {
            let what = if r.state == RequestState::Rejected {
                "Rejected: "
            } else {
                "Reason: "
            };
            marked(
                out,
                1,
                Span::raw("·"),
                &format!("{what}{reason}"),
                Style::new(),
                w,
            );
        }
        if let Some(reason) = &r.approval_override {
            marked(
                out,
                1,
                Span::styled("!", Style::new().fg(WARN)),
                &format!("Approved with an override: {reason}"),
                Style::new().fg(WARN),
                w,
            );
        }
    }
}

/// The workspace, as the backend reports it, and its size.
fn workspace(out: &mut Vec<Line<'static>>, row: &Row, state: &State, w: usize) {
    let r = &row.req;
    let bold = Style::new().add_modifier(Modifier::BOLD);
    // The workspace and the requester, as the backend reports them.
    out.push(Line::raw(""));
    let ws_name = r
        .workspace_name
        .as_deref()
        .unwrap_or("(not named in the mail)");
    let verified = if r.workspace_verified {
        ""
    } else {
        " · not verified"
    };
    kv(
        out,
        "Workspace",
        &format!("{ws_name}{verified}"),
        if r.workspace_verified {
            bold
        } else {
            Style::new().fg(WARN)
        },
        w,
    );
    if let Some(id) = &r.workspace_id {
        kv(out, "", &fit(id, w.saturating_sub(LABEL)), DIM, w);
    }
    let others = state.same_workspace(r.id);
    if !others.is_empty() {
        let list: Vec<String> = others
            .iter()
            .map(|(id, what)| format!("#{id} {what}"))
            .collect();
        kv(
            out,
            "Others",
            &format!("{} (same workspace)", list.join(", ")),
            Style::new().fg(WARN),
            w,
        );
    }
    if let Some(s) = &r.size {
        let mut items = vec![
            format!("{} messages", thousands(s.messages)),
            format!("{} conversations", thousands(s.conversations)),
            format!("{} internal notes", thousands(s.internal_notes)),
            format!("{} customers", thousands(s.customers)),
            format!("{} articles", thousands(s.articles)),
            format!("{} categories", thousands(s.categories)),
            format!("{} routing rules", thousands(s.routing_rules)),
            match s.members {
                1 => "1 member".to_string(),
                n => format!("{} members", thousands(n)),
            },
            format!(
                "{} attachments ({})",
                thousands(s.attachments),
                human_bytes(s.attachment_bytes)
            ),
        ];
        if s.large_attachments > 0 {
            items.push(format!(
                "{} large (≥ 50 MB)",
                thousands(s.large_attachments)
            ));
        }
        kv_lines(
            out,
            "Size",
            pack(&items, w.saturating_sub(LABEL)),
            Style::new(),
        );
    }
}

/// The requester: role, memberships, where the link goes.
fn requester(out: &mut Vec<Line<'static>>, row: &Row, w: usize) {
    let r = &row.req;
    let bold = Style::new().add_modifier(Modifier::BOLD);
    let account = r.account().unwrap_or("—");
    match r.role {
        Some(role) => {
            let ok = role.may_request_export();
            kv(
                out,
                "Requester",
                &format!("{account} · {role}"),
                if ok {
                    Style::new()
                } else {
                    Style::new().fg(BAD)
                },
                w,
            );
        }
        None if row.resolving => kv(
            out,
            "Requester",
            &format!("{account} · looking up…"),
            DIM,
            w,
        ),
        None => kv(
            out,
            "Requester",
            &format!("{account} · not a member"),
            Style::new().fg(BAD),
            w,
        ),
    }
    let others: Vec<String> = r
        .memberships
        .iter()
        .filter(|m| Some(&m.workspace_id) != r.workspace_id.as_ref())
        .map(|m| format!("{} ({})", m.workspace_name, m.role))
        .collect();
    if !others.is_empty() {
        kv(out, "", &format!("also: {}", others.join(", ")), DIM, w);
    }
    // NOTE: only an owner or admin gets a link; for anyone else, naming an
    // address beside "link" would read as the very thing that never happens.
    const LINK: &str = "Export link goes to:";
    if !r.role.is_some_and(|role| role.may_request_export()) {
        kv(
            out,
            "",
            "no export link: only an owner or admin of the workspace gets one",
            DIM,
            w,
        );
    } else if width(LINK) + 1 + width(account) <= w {
        // The address on the same line when it fits, else whole on the next.
        out.push(Line::from(vec![
            Span::raw(format!("{LINK} ")),
            Span::styled(clean(account), bold),
        ]));
    } else {
        out.push(Line::raw(LINK));
        out.push(Line::styled(
            format!("  {}", fit(account, w.saturating_sub(2))),
            bold,
        ));
    }
    if let (Some(acc), Some(from)) = (r.account_email.as_deref(), r.from.as_deref()) {
        if !acc.eq_ignore_ascii_case(from) {
            marked(
                out,
                0,
                Span::styled("⚠", Style::new().fg(WARN)),
                &format!("not the From address ({from})"),
                Style::new().fg(WARN),
                w,
            );
        }
    }
}

/// Notes and replies.
fn notes_and_replies(out: &mut Vec<Line<'static>>, row: &Row, state: &State, w: usize) {
    let r = &row.req;
    let bold = Style::new().add_modifier(Modifier::BOLD);
    // Notes and replies.
    out.push(Line::raw(""));
    out.push(heading(&format!("Notes ({})", r.notes.len())));
    if r.notes.is_empty() {
        let key = first_key(state, Action::Note).unwrap_or_else(|| "n".into());
        let text = format!("none yet — {key} adds the scope-confirmation note");
        marked(out, 0, Span::raw(""), &text, DIM, w);
    }
    for note in &r.notes {
        out.push(Line::from(vec![
            Span::raw(" "),
            // The author's display name (notes keep the operator's id).
            Span::styled(clean(state.name_of(&note.author)), bold),
            Span::styled(format!(" · {}", when_known(note.at, state)), DIM),
        ]));
        for part in wrap_text(&note.text, w.saturating_sub(3)) {
            out.push(Line::raw(format!("   {part}")));
        }
    }
    super::replies::reply_lines(out, row, state, w);
}

/// The mail itself, oldest first (already sanitized by intake).
fn thread(out: &mut Vec<Line<'static>>, row: &Row, state: &State, w: usize) {
    let r = &row.req;
    let bold = Style::new().add_modifier(Modifier::BOLD);
    // The mail itself, oldest first (already sanitized by intake).
    if let Some((id, messages)) = &state.thread {
        if *id == r.id && !messages.is_empty() {
            out.push(Line::default());
            out.push(heading(&format!("Mail ({})", messages.len())));
            for m in messages {
                let from = match (&m.from_name, &m.from) {
                    (Some(n), Some(a)) => format!("{} <{a}>", clean(n)),
                    (None, Some(a)) => a.clone(),
                    (Some(n), None) => clean(n),
                    (None, None) => "unknown sender".into(),
                };
                let date = m.date.map(|d| when(d, state)).unwrap_or_default();
                let kind = words(&m.kind);
                out.push(Line::from(vec![
                    Span::styled(format!("── {kind} · "), DIM),
                    Span::styled(fit(&from, w.saturating_sub(width(&kind) + 6)), bold),
                ]));
                if !date.is_empty() {
                    out.push(Line::styled(format!("   {date}"), DIM));
                }
                for line in wrap(&clean(&m.subject), w.saturating_sub(3)) {
                    out.push(Line::styled(format!("   {line}"), bold));
                }
                let body = m.body.trim_end();
                let shown: Vec<&str> = body.lines().take(200).collect();
                for line in shown.iter() {
                    let quoted = line.trim_start().starts_with('>');
                    for part in wrap_text(&clean(line), w.saturating_sub(3)) {
                        let style = if quoted { DIM } else { Style::new() };
                        out.push(Line::styled(format!("   {part}"), style));
                    }
                }
                if body.lines().count() > shown.len() {
                    out.push(Line::styled("   …", DIM));
                }
                out.push(Line::default());
            }
        }
    }
}

pub(super) fn draw_detail(f: &mut Frame<'_>, area: Rect, state: &mut State, narrow: bool) {
    let Some(row) = state.current() else {
        let block = pane(
            narrow,
            Line::styled(" Detail ", Style::new().add_modifier(Modifier::BOLD)),
        );
        let inner = block.inner(area);
        f.render_widget(block, area);
        let y = inner.y + inner.height / 2;
        let msg = Line::styled("No request selected", DIM).centered();
        f.render_widget(
            Paragraph::new(msg),
            Rect {
                y,
                height: inner.height.min(1),
                ..inner
            },
        );
        return;
    };
    let (sw, ss) = state_word(row);
    let mut title = vec![
        Span::styled(
            format!(" #{} ", row.req.id),
            Style::new().fg(ACCENT).add_modifier(Modifier::BOLD),
        ),
        Span::styled(format!("{sw} "), ss),
    ];
    if let Some(ws) = &row.req.workspace_name {
        let used: usize = title.iter().map(Span::width).sum();
        let room = (area.width as usize).saturating_sub(used + 6);
        title.push(Span::styled(
            format!("· {} ", fit(ws, room)),
            Style::new().add_modifier(Modifier::BOLD),
        ));
    }
    let gauge = row.req.job.as_ref().filter(|j| !j.is_terminal()).map(|j| {
        let pct = j.progress.clamp(0.0, 1.0);
        // The phase is in the job section above; the bar gets the width.
        let label = if j.status == JobStatus::Running {
            format!("{:.0}%", pct * 100.0)
        } else {
            j.status.to_string()
        };
        (pct, format!("export {label}"))
    });
    let block = pane(narrow, Line::from(title)).padding(ratatui::widgets::Padding::horizontal(1));
    let inner = block.inner(area);
    let (text_area, gauge_area) = match gauge {
        Some(_) if inner.height > 3 => {
            let [t, g] = Layout::vertical([Constraint::Min(0), Constraint::Length(1)]).areas(inner);
            (t, Some(g))
        }
        _ => (inner, None),
    };
    let w = text_area.width.saturating_sub(1).max(10) as usize;
    let lines = detail_lines(row, state, w);
    // Lines are wrapped here already, so their count is the height.
    let max_scroll = lines.len().saturating_sub(text_area.height as usize);
    state.detail_scroll = state.detail_scroll.min(max_scroll as u16);
    let scroll = state.detail_scroll;
    let block = if max_scroll > 0 {
        let hint = if scroll as usize >= max_scroll {
            " ↑ K "
        } else if scroll == 0 {
            " ↓ J more "
        } else {
            " ↑↓ J/K "
        };
        block.title_bottom(Line::styled(hint, DIM).right_aligned())
    } else {
        block
    };
    f.render_widget(block, area);
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((scroll, 0)),
        text_area,
    );
    if let (Some(g), Some((pct, text))) = (gauge_area, gauge) {
        let gauge = LineGauge::default()
            .ratio(pct)
            .label(Line::styled(text, Style::new().fg(ACCENT)))
            .filled_symbol(symbols::line::THICK_HORIZONTAL)
            .unfilled_symbol(symbols::line::HORIZONTAL)
            .filled_style(Style::new().fg(ACCENT))
            .unfilled_style(DIM);
        f.render_widget(gauge, g);
    }
}

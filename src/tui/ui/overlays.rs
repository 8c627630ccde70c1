//! What the current mode draws on top: help, confirm, pickers (the input
//! editor is `editor.rs`, the outbox `outbox.rs`).

use super::*;

/// A centered rectangle of at most `w` × `h`, inside `area`.
pub(super) fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

pub(super) fn popup<'a>(title: &str, color: Color) -> Block<'a> {
    Block::bordered()
        .border_type(BorderType::Rounded)
        .border_style(Style::new().fg(color))
        .title(Line::styled(
            format!(" {} ", clean(title)),
            Style::new().fg(color).add_modifier(Modifier::BOLD),
        ))
}

pub(super) fn draw_overlay(f: &mut Frame<'_>, area: Rect, state: &mut State) {
    match &state.mode {
        Mode::Normal | Mode::Filter | Mode::Outbox { .. } | Mode::Stats(_) => {}
        Mode::Help => draw_help(f, area, state),
        Mode::Confirm(c) => draw_confirm(f, area, state, c),
        Mode::Pick { pick, selected } => {
            let footer = popup_footer(state, "pick", "cancel");
            draw_pick(f, area, pick, *selected, &footer)
        }
        Mode::Input { .. } => draw_input(f, area, state),
    }
}

/// Key names as the help shows them; compact (`^d`, `S-Tab`) on small screens.
pub(super) fn keys_text(keys: &[String], compact: bool) -> String {
    let keys: Vec<String> = if compact {
        keys.iter()
            .map(|k| k.replace("Ctrl-", "^").replace("Shift-Tab", "S-Tab"))
            .collect()
    } else {
        keys.to_vec()
    };
    keys.join(" ")
}

/// `action`'s keys, " / "-separated, without the upper-case twins of
/// letters ("y", not "y / Y"); `default` when unbound.
fn bound_keys(state: &State, action: Action, default: &str) -> String {
    let keys: Vec<String> = state
        .keys
        .bindings()
        .into_iter()
        .find(|(a, _)| *a == action)
        .map(|(_, k)| k)
        .unwrap_or_default();
    let shown: Vec<&str> = keys
        .iter()
        .filter(|k| {
            let lower = k.to_lowercase();
            *k == &lower || !keys.contains(&lower) || k.chars().count() > 1
        })
        .map(String::as_str)
        .collect();
    if shown.is_empty() {
        default.to_string()
    } else {
        shown.join(" / ")
    }
}

/// A titled list of (keys, what they do); `true`: packed into a line or two.
pub(super) type HelpSection = (&'static str, Vec<(String, String)>, bool);

/// The request actions (the help's "Request" section).
const REQUEST_ACTIONS: [Action; 10] = [
    Action::Approve,
    Action::Reject,
    Action::Reply,
    Action::Note,
    Action::Resolve,
    Action::ChooseWorkspace,
    Action::AccountEmail,
    Action::OverrideAuth,
    Action::CancelJob,
    Action::RetryJob,
];

/// Actions shown as one line, "keys / keys  what".
// NOTE: claim and Mine share a line in the queue section: with each on its
// own, the help at 80×24 is one line taller than the 21 rows it has.
const PAIRS: [(Action, Action, &str); 7] = [
    (Action::Claim, Action::Mine, "take it / Mine tab"),
    (Action::Up, Action::Down, "up / down"),
    (
        Action::ScrollDetailUp,
        Action::ScrollDetailDown,
        "scroll the detail",
    ),
    (Action::ItemUp, Action::ItemDown, "move"),
    (Action::NextPeriod, Action::PrevPeriod, "period"),
    (Action::Top, Action::Bottom, "first / last"),
    (Action::PageUp, Action::PageDown, "page up / down"),
];

/// Every binding of the key map (rebound keys show as bound) and the fixed
/// keys, by mode: generated, so the help cannot drift from the keys.
pub(super) fn help_sections(state: &State, compact: bool) -> Vec<HelpSection> {
    let bindings = state.keys.bindings();
    let keys_of = |a: Action| -> Option<String> {
        bindings
            .iter()
            .find(|(b, _)| *b == a)
            .map(|(_, k)| keys_text(k, compact))
    };
    let section = |pick: &dyn Fn(Action) -> bool, fixed: Option<Scope>| -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (a, _) in bindings.iter().filter(|(a, _)| pick(*a)) {
            if let Some((x, y, what)) = PAIRS.iter().find(|(x, y, _)| x == a || y == a) {
                if x == a {
                    let both = [keys_of(*x), keys_of(*y)].into_iter().flatten();
                    out.push((both.collect::<Vec<_>>().join(" / "), what.to_string()));
                }
                continue;
            }
            if let Some(k) = keys_of(*a) {
                out.push((k, a.describe().to_string()));
            }
        }
        for (_, k, what) in FIXED_KEYS.iter().filter(|(s, ..)| Some(*s) == fixed) {
            out.push((keys_text(&[k.to_string()], compact), what.to_string()));
        }
        out
    };
    let in_scope = |scope: Scope| move |a: Action| a.scope() == scope;
    let detail = [
        Action::Zoom,
        Action::ScrollDetailUp,
        Action::ScrollDetailDown,
    ];
    let queue = section(
        &|a| in_scope(Scope::Queue)(a) && !REQUEST_ACTIONS.contains(&a) && !detail.contains(&a),
        Some(Scope::Queue),
    );
    let request = section(&|a| REQUEST_ACTIONS.contains(&a), None);
    let popup = section(&in_scope(Scope::Popup), Some(Scope::Popup));
    let editor = section(&in_scope(Scope::Editor), Some(Scope::Editor));
    let stats = section(&in_scope(Scope::Stats), Some(Scope::Stats));
    vec![
        ("Queue", queue, false),
        ("Detail", section(&|a| detail.contains(&a), None), false),
        ("Request", request, false),
        ("Pop-ups (questions, pickers, outbox)", popup, true),
        ("Editor", editor, true),
        ("Stats", stats, true),
        ("Marks", legend(), true),
    ]
}

/// What the queue's marks and words mean.
fn legend() -> Vec<(String, String)> {
    [
        ("✉N", "customer wrote"),
        ("✗", "DMARC not passed"),
        ("⚠N", "warnings"),
        ("+N", "other requests, same workspace"),
        ("!", "unreadable field"),
        ("◆●✎", "held · open · writing"),
        ("bd", "business days"),
        ("in/late", "due: green >1 day, yellow <1 day, red late"),
    ]
    .into_iter()
    .map(|(k, d)| (k.to_string(), d.to_string()))
    .collect()
}

/// Sections laid out in `w` columns: heading, then `key  description`
/// with the description wrapped under itself; a blank line between sections.
pub(super) fn help_lines(sections: &[HelpSection], w: usize) -> Vec<Line<'static>> {
    let key_w = sections
        .iter()
        .filter(|(_, _, flow)| !flow)
        .flat_map(|(_, e, _)| e.iter().map(|(k, _)| width(k)))
        .max()
        .unwrap_or(1)
        .min(11);
    let key_style = Style::new().fg(ACCENT).add_modifier(Modifier::BOLD);
    let desc_w = w.saturating_sub(key_w + 2).max(8);
    let mut out = Vec::new();
    // Narrow (two columns at 80): no blank line between sections.
    let gap = w > 40;
    for (i, (title, entries, flow)) in sections.iter().enumerate() {
        if i > 0 && gap {
            out.push(Line::raw(""));
        }
        out.push(heading(title));
        if *flow {
            let mut line: Vec<Span<'static>> = Vec::new();
            let mut used = 0;
            for (k, d) in entries {
                let item = width(k) + 1 + width(d);
                if used > 0 && used + 3 + item > w {
                    out.push(Line::from(std::mem::take(&mut line)));
                    used = 0;
                }
                if used > 0 {
                    line.push(Span::styled(" · ", DIM));
                    used += 3;
                }
                line.push(Span::styled(k.clone(), key_style));
                line.push(Span::raw(format!(" {d}")));
                used += item;
            }
            out.push(Line::from(line));
            continue;
        }
        for (k, d) in entries {
            // A key list longer than the column gets a line of its own
            // (cut, it would hide a bound key).
            let own_line = width(k) > key_w;
            if own_line {
                out.push(Line::styled(k.clone(), key_style));
            }
            for (j, part) in wrap(d, desc_w).into_iter().enumerate() {
                let key = if j == 0 && !own_line {
                    format!("{k:<key_w$}")
                } else {
                    " ".repeat(key_w)
                };
                out.push(Line::from(vec![
                    Span::styled(key, key_style),
                    Span::raw("  "),
                    Span::raw(part),
                ]));
            }
        }
    }
    out
}

pub(super) fn draw_help(f: &mut Frame<'_>, area: Rect, state: &State) {
    let outer_w = area.width.min(104);
    let inner_w = outer_w.saturating_sub(4) as usize;
    let compact = area.width < NARROW;
    let mut sections = help_sections(state, compact);
    // The legend goes first when the keys need the room (80×24).
    let room = area.height.saturating_sub(if compact { 3 } else { 4 }) as usize;
    let two_col = inner_w >= 70;
    let tall = |s: &[HelpSection]| {
        if two_col {
            help_lines(s, inner_w / 2 - 2).len() / 2 + 2
        } else {
            help_lines(s, inner_w).len()
        }
    };
    if tall(&sections) > room {
        sections.retain(|(title, ..)| *title != "Marks");
    }
    const GAP: usize = 3;
    // Two columns when there is room: navigation on the left, the request
    // actions and popup keys on the right, split where the taller is lowest.
    let columns = if two_col {
        (1..sections.len())
            .flat_map(|at| (24..=inner_w - GAP - 30).map(move |lw| (at, lw)))
            .map(|(at, lw)| {
                let (left, right) = sections.split_at(at);
                let (l, r) = (help_lines(left, lw), help_lines(right, inner_w - GAP - lw));
                (l.len().max(r.len()), lw.abs_diff(inner_w / 2), lw, l, r)
            })
            .min_by_key(|(h, off, ..)| (*h, *off))
            .map(|(_, _, lw, l, r)| (lw, l, r))
    } else {
        None
    };
    let height = match &columns {
        Some((_, l, r)) => l.len().max(r.len()),
        None => help_lines(&sections, inner_w).len(),
    };
    // Between the tab bar and the status line: the help never hides
    // which tab is open (at 80×24 it used to cover the tab bar).
    let below_tabs = Rect {
        y: area.y + 1,
        height: area.height.saturating_sub(2),
        ..area
    };
    // On a small screen every row counts: a title rule, no box.
    let frame_h = if compact { 1 } else { 2 };
    let rect = centered(below_tabs, outer_w, height as u16 + frame_h);
    f.render_widget(Clear, rect);
    let block = if compact {
        Block::new()
            .borders(Borders::TOP)
            .border_style(Style::new().fg(ACCENT))
            .title(Line::styled(
                " Keys · any key closes ",
                Style::new().fg(ACCENT).add_modifier(Modifier::BOLD),
            ))
    } else {
        popup("Keys", ACCENT).title_bottom(Line::styled(" any key closes ", DIM).right_aligned())
    }
    .padding(ratatui::widgets::Padding::horizontal(1));
    let inner = block.inner(rect);
    f.render_widget(block, rect);
    match columns {
        Some((lw, left, right)) => {
            let [l, _, r] = Layout::horizontal([
                Constraint::Length(lw as u16),
                Constraint::Length(GAP as u16),
                Constraint::Min(0),
            ])
            .areas(inner);
            f.render_widget(Paragraph::new(left), l);
            f.render_widget(Paragraph::new(right), r);
        }
        None => f.render_widget(Paragraph::new(help_lines(&sections, inner_w)), inner),
    }
}

pub(super) fn draw_confirm(f: &mut Frame<'_>, area: Rect, state: &State, c: &Confirm) {
    let w = area.width.saturating_sub(4).min(64);
    let text_w = w.saturating_sub(4) as usize;
    let (id, color) = match c {
        Confirm::Approve {
            id,
            override_reason: None,
            force: false,
        } => (*id, OK),
        Confirm::Approve { id, .. } => (*id, WARN),
        Confirm::Reject { id, .. }
        | Confirm::Cancel { id }
        | Confirm::TakeOver { id, .. }
        | Confirm::ApproveDuplicate { id, .. } => (*id, BAD),
        Confirm::SendReply { id, .. } | Confirm::Retry { id } => (*id, ACCENT),
        // Not about one request: no row matches id 0.
        Confirm::Quit { .. } => (0, WARN),
    };
    let row = state.current().filter(|r| r.req.id == id);
    let account = row
        .and_then(|r| r.req.account())
        .unwrap_or("the account email")
        .to_string();
    let mut lines: Vec<Line<'static>> = wrap(&c.question(), text_w)
        .into_iter()
        .map(|l| Line::styled(l, Style::new().add_modifier(Modifier::BOLD)))
        .collect();
    let mut detail: Vec<(String, Style)> = Vec::new();
    match c {
        Confirm::Approve {
            override_reason: None,
            ..
        } => {
            detail.push((format!("The backend emails the link to {account}."), DIM));
        }
        Confirm::Approve {
            override_reason: Some(reason),
            ..
        } => {
            if let Some(r) = row {
                for u in r.unmet() {
                    detail.push((format!("✗ {u}"), Style::new().fg(BAD)));
                }
            }
            detail.push((format!("Override: {reason}"), Style::new().fg(WARN)));
            detail.push((format!("The backend emails the link to {account}."), DIM));
        }
        Confirm::Quit { .. } => {}
        Confirm::ApproveDuplicate { other, .. } => {
            detail.push((
                format!(
                    "Two exports mean two link emails. #{other} already covers this workspace."
                ),
                Style::new().fg(WARN),
            ));
        }
        Confirm::Reject { reason, .. } => {
            detail.push((format!("Reason: {reason}"), Style::new()));
            detail.push((format!("The reply goes to {account}."), DIM));
        }
        Confirm::SendReply { body, .. } => {
            detail.push((format!("To: {account}"), DIM));
            detail.push((String::new(), DIM));
            let body_lines = wrap_text(body, text_w);
            let n = body_lines.len();
            for l in body_lines.into_iter().take(8) {
                detail.push((l, Style::new()));
            }
            if n > 8 {
                detail.push((format!("… {} more lines", n - 8), DIM));
            }
        }
        Confirm::Cancel { .. } | Confirm::Retry { .. } => {}
        Confirm::TakeOver { .. } => {
            detail.push(("The change is recorded in the audit log.".into(), DIM));
        }
    }
    if !detail.is_empty() {
        lines.push(Line::raw(""));
        for (text, style) in detail {
            for part in wrap_text(&text, text_w) {
                lines.push(Line::styled(part, style));
            }
        }
    }
    lines.push(Line::raw(""));
    lines.push(
        // The answers' keys as the key map has them (rebindable).
        Line::from(vec![
            Span::styled(
                bound_keys(state, Action::Yes, "y"),
                Style::new().fg(OK).add_modifier(Modifier::BOLD),
            ),
            Span::raw(" yes    "),
            Span::styled(
                bound_keys(state, Action::No, "n"),
                Style::new().fg(BAD).add_modifier(Modifier::BOLD),
            ),
            Span::raw(" no"),
        ])
        .centered(),
    );
    let rect = centered(area, w, lines.len() as u16 + 2);
    f.render_widget(Clear, rect);
    let block = popup("Confirm", color).padding(ratatui::widgets::Padding::horizontal(1));
    let inner = block.inner(rect);
    f.render_widget(block, rect);
    f.render_widget(Paragraph::new(lines), inner);
}

/// "↑ ↓ move · Enter pick · Esc cancel", from the key map's first keys.
fn popup_footer(state: &State, choose: &str, close: &str) -> String {
    let key = |a: Action, d: &str| first_key(state, a).unwrap_or_else(|| d.to_string());
    // The arrows read better than j/k when both are bound.
    let arrow = |a: Action, arrow: &str, d: &str| {
        let bound = state
            .keys
            .bindings()
            .into_iter()
            .any(|(b, k)| b == a && k.iter().any(|k| k == arrow));
        if bound {
            arrow.to_string()
        } else {
            key(a, d)
        }
    };
    format!(
        "{}{} move · {} {choose} · {} {close}",
        arrow(Action::ItemUp, "↑", "k"),
        arrow(Action::ItemDown, "↓", "j"),
        key(Action::Choose, "Enter"),
        if state
            .keys
            .bindings()
            .into_iter()
            .any(|(a, k)| a == Action::No && k.iter().any(|k| k == "Esc"))
        {
            "Esc".to_string()
        } else {
            key(Action::No, "Esc")
        },
    )
}

/// The outbox's keys: move and back.
pub(super) fn popup_footer_short(state: &State) -> String {
    let full = popup_footer(state, "", "back");
    let (mv, rest) = full.split_once(" · ").unwrap_or((&full, ""));
    let back = rest.rsplit(" · ").next().unwrap_or("Esc back");
    format!("{mv} · {back}")
}

pub(super) fn draw_pick(f: &mut Frame<'_>, area: Rect, pick: &Pick, selected: usize, footer: &str) {
    let (title, items): (&str, Vec<(String, String)>) = match pick {
        Pick::ReplyTemplate => (
            "Reply with",
            REPLY_TEMPLATES
                .iter()
                .map(|t| (template_words(*t), String::new()))
                .collect(),
        ),
        Pick::RejectTemplate => (
            "Reject: why",
            REJECT_TEMPLATES
                .iter()
                .map(|t| (template_words(*t), String::new()))
                .collect(),
        ),
        Pick::Workspace(list) => (
            "Workspace",
            list.iter()
                .map(|(id, name)| (clean(name), clean(id)))
                .collect(),
        ),
    };
    let name_w = items.iter().map(|(n, _)| width(n)).max().unwrap_or(0);
    let id_w = items.iter().map(|(_, i)| width(i)).max().unwrap_or(0);
    let want = (4 + name_w + if id_w > 0 { 2 + id_w } else { 0 }).max(width(footer)) + 4;
    let w = (want as u16).min(area.width.saturating_sub(4)).max(20);
    let inner_w = w.saturating_sub(4) as usize;
    let visible = (area.height.saturating_sub(6) as usize).max(1);
    let start = selected
        .saturating_sub(visible - 1)
        .min(items.len().saturating_sub(visible));
    let mut lines: Vec<Line<'static>> = Vec::new();
    for (i, (name, id)) in items.iter().enumerate().skip(start).take(visible) {
        let num = if i < 9 {
            format!("{} ", i + 1)
        } else {
            "  ".to_string()
        };
        let mut spans = vec![
            Span::styled(
                if i == selected { "›" } else { " " },
                Style::new().fg(ACCENT).add_modifier(Modifier::BOLD),
            ),
            Span::styled(num, Style::new().fg(ACCENT)),
        ];
        let room = inner_w.saturating_sub(3);
        let nw = name_w.min(room);
        spans.push(Span::raw(format!("{:<nw$}", fit(name, nw))));
        if !id.is_empty() && room > nw + 2 {
            spans.push(Span::styled(format!("  {}", fit(id, room - nw - 2)), DIM));
        }
        let line = Line::from(spans);
        lines.push(if i == selected {
            line.style(SELECTED)
        } else {
            line
        });
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled(fit(footer, inner_w), DIM));
    let rect = centered(area, w, lines.len() as u16 + 2);
    f.render_widget(Clear, rect);
    let block = popup(title, ACCENT).padding(ratatui::widgets::Padding::horizontal(1));
    let inner = block.inner(rect);
    f.render_widget(block, rect);
    f.render_widget(Paragraph::new(lines), inner);
}

//! The queue: one row per request, columns that fit the width (dropping the
//! least needed first), drawn only for the window on screen.

use super::*;

// Columns, in order: id, due, state, workspace, requester, role, msgs, est, flags.
pub(super) const C_STATE: usize = 2;
pub(super) const C_WS: usize = 3;
pub(super) const C_REQ: usize = 4;
pub(super) const C_ROLE: usize = 5;
pub(super) const C_SIZE: usize = 6;
pub(super) const C_EST: usize = 7;
pub(super) const C_FLAGS: usize = 8;
pub(super) const NCOLS: usize = 9;
pub(super) const HEADERS: [&str; NCOLS] = [
    "id",
    "due",
    "state",
    "workspace",
    "requester",
    "role",
    "msgs",
    "est",
    "",
];
pub(super) const CAPS: [usize; NCOLS] = [7, 13, 8, 40, 40, 5, 5, 8, 14];
/// Columns given up, in this order, when the queue is too narrow.
pub(super) const DROP_ORDER: [usize; 4] = [C_SIZE, C_ROLE, C_STATE, C_EST];
/// Space the flexible columns want at least before others are dropped.
pub(super) const WS_MIN: usize = 10;
pub(super) const REQ_MIN: usize = 14;

/// One cell: styled pieces of text.
pub(super) type QCell = Vec<(String, Style)>;

pub(super) fn queue_cells(row: &Row, state: &State) -> [QCell; NCOLS] {
    let r = &row.req;
    let one = |s: String, st: Style| vec![(s, st)];
    let (due, due_style) = sla(row, state.now);
    let (sw, ss) = state_word(row);
    let (role, rs) = role_cell(row);
    let (est, es) = estimate_cell(row);
    let mut flags = Vec::new();
    if state.is_pending(r.id) || row.resolving {
        flags.push((spinner(state).to_string(), Style::new().fg(ACCENT)));
    }
    if !r.warnings.is_empty() {
        flags.push((format!("⚠{}", r.warnings.len()), Style::new().fg(WARN)));
    }
    if dmarc_unaccepted(row) {
        flags.push(("✗".to_string(), Style::new().fg(BAD)));
    }
    // Team mode: who else has it open (✎ writing, ● viewing).
    if let Some(p) = state.others_on(r.id).next() {
        let writing = p.activity != crate::store::presence::Activity::Viewing;
        let (mark, color) = if writing {
            ("✎", WARN)
        } else {
            ("●", ACCENT)
        };
        let more = state.others_on(r.id).count() - 1;
        let name = fit(&clean(&p.operator), 8);
        let text = if more > 0 {
            format!("{mark}{name}+{more}")
        } else {
            format!("{mark}{name}")
        };
        flags.push((text, Style::new().fg(color)));
    }
    [
        one(format!("#{}", r.id), Style::new().fg(ACCENT)),
        one(due, due_style),
        one(sw.to_string(), ss),
        one(
            clean(r.workspace_name.as_deref().unwrap_or("—")),
            if r.workspace_name.is_some() {
                Style::new()
            } else {
                DIM
            },
        ),
        one(clean(requester(row)), Style::new()),
        one(role.to_string(), rs),
        one(
            r.size
                .map(|s| short_count(s.messages))
                .unwrap_or_else(|| "—".into()),
            DIM,
        ),
        one(est, es),
        flags,
    ]
}

pub(super) fn cell_width(c: &QCell) -> usize {
    c.iter().map(|(s, _)| width(s)).sum()
}

/// Column widths for the window's rows in `avail` columns; 0 = hidden.
pub(super) fn column_widths(cells: &[[QCell; NCOLS]], avail: usize, tab: Tab) -> [usize; NCOLS] {
    let mut w = [0usize; NCOLS];
    for (c, wc) in w.iter_mut().enumerate() {
        let content = cells.iter().map(|r| cell_width(&r[c])).max().unwrap_or(0);
        *wc = content.max(width(HEADERS[c])).min(CAPS[c]);
    }
    if cells.iter().all(|r| r[C_FLAGS].is_empty()) {
        w[C_FLAGS] = 0;
    }
    // In a tab other than All and Running every row has the same state.
    if !matches!(tab, Tab::All | Tab::Running) {
        w[C_STATE] = 0;
    }
    let flex_min = w[C_WS].min(WS_MIN) + w[C_REQ].min(REQ_MIN);
    let fixed = |w: &[usize; NCOLS]| -> usize {
        let shown = w.iter().filter(|&&x| x > 0).count();
        let others: usize = w
            .iter()
            .enumerate()
            .filter(|(c, _)| *c != C_WS && *c != C_REQ)
            .map(|(_, x)| *x)
            .sum();
        others + shown.saturating_sub(1)
    };
    for c in DROP_ORDER {
        if fixed(&w) + flex_min <= avail {
            break;
        }
        w[c] = 0;
    }
    let flex = avail.saturating_sub(fixed(&w));
    let (ws_want, req_want) = (w[C_WS], w[C_REQ]);
    if ws_want + req_want <= flex {
        // Both fit; the rest stays empty on the right (dense, like gitui).
    } else {
        let ws = ws_want.min((flex * 2 / 5).max(WS_MIN)).min(flex);
        w[C_WS] = ws;
        w[C_REQ] = flex.saturating_sub(ws).min(req_want);
    }
    w
}

/// Keeps `state.offset` so that the selection is inside a window of `h` rows.
pub(super) fn scroll_window(state: &mut State, h: usize) -> std::ops::Range<usize> {
    let n = state.visible.len();
    let h = h.max(1);
    // PgUp/PgDn move by what fits on screen.
    state.page = h;
    let sel = state.selected.min(n.saturating_sub(1));
    if sel < state.offset {
        state.offset = sel;
    }
    if sel >= state.offset + h {
        state.offset = sel + 1 - h;
    }
    state.offset = state.offset.min(n.saturating_sub(h));
    state.offset..(state.offset + h).min(n)
}

pub(super) fn draw_queue(f: &mut Frame<'_>, area: Rect, state: &mut State, narrow: bool) {
    let n = state.visible.len();
    let mut title = vec![Span::styled(
        " Queue ",
        Style::new().add_modifier(Modifier::BOLD),
    )];
    if n > 0 {
        let pos = thousands((state.selected.min(n - 1) + 1) as u64);
        title.push(Span::styled(format!("{pos}/{} ", thousands(n as u64)), DIM));
    }
    let block = pane(narrow, Line::from(title));
    let inner = block.inner(area);
    f.render_widget(block, area);
    if inner.height == 0 || inner.width == 0 {
        return;
    }
    if n == 0 {
        let key =
            |a: Action, default: &str| first_key(state, a).unwrap_or_else(|| default.to_string());
        let (msg, hint) = if state.filter.is_empty() {
            let hint = format!(
                "{} / {}: other tabs",
                key(Action::NextTab, "Tab"),
                key(Action::PrevTab, "Shift-Tab")
            );
            ("No requests in this tab".to_string(), hint)
        } else {
            let hint = format!("{} then Esc clears the filter", key(Action::Filter, "/"));
            (format!("Nothing matches /{}", fit(&state.filter, 30)), hint)
        };
        let lines = vec![
            Line::from(msg).centered(),
            Line::styled(hint, DIM).centered(),
        ];
        let h = (lines.len() as u16).min(inner.height);
        let y = inner.y + (inner.height - h) / 2;
        f.render_widget(
            Paragraph::new(lines),
            Rect {
                y,
                height: h,
                ..inner
            },
        );
        return;
    }
    let body_h = inner.height.saturating_sub(1) as usize;
    let range = scroll_window(state, body_h);
    let cells: Vec<[QCell; NCOLS]> = state.visible[range.clone()]
        .iter()
        .map(|&i| queue_cells(&state.rows[i], state))
        .collect();
    let closed: Vec<bool> = state.visible[range.clone()]
        .iter()
        .map(|&i| is_closed(&state.rows[i]))
        .collect();
    const SYMBOL: &str = "› ";
    let avail = (inner.width as usize).saturating_sub(width(SYMBOL));
    let widths = column_widths(&cells, avail, state.tab);
    let shown: Vec<usize> = (0..NCOLS).filter(|&c| widths[c] > 0).collect();
    let header = TableRow::new(
        shown
            .iter()
            .map(|&c| Cell::from(fit(HEADERS[c], widths[c]))),
    )
    .style(DIM.add_modifier(Modifier::BOLD));
    let rows = cells.into_iter().zip(closed).map(|(row, closed)| {
        let cells = shown.iter().map(|&c| {
            let w = widths[c];
            let cell = &row[c];
            let line = if cell.len() == 1 {
                let (s, st) = &cell[0];
                let text = fit(s, w);
                if c == C_SIZE {
                    Line::from(Span::styled(format!("{text:>w$}"), *st))
                } else {
                    Line::from(Span::styled(text, *st))
                }
            } else {
                Line::from(
                    cell.iter()
                        .map(|(s, st)| Span::styled(s.clone(), *st))
                        .collect::<Vec<_>>(),
                )
            };
            Cell::from(line)
        });
        let r = TableRow::new(cells.collect::<Vec<_>>());
        if closed {
            r.style(DIM)
        } else {
            r
        }
    });
    let table = Table::new(
        rows,
        shown.iter().map(|&c| Constraint::Length(widths[c] as u16)),
    )
    .header(header)
    .column_spacing(1)
    .row_highlight_style(SELECTED)
    .highlight_symbol(Line::styled(
        SYMBOL,
        Style::new().fg(ACCENT).add_modifier(Modifier::BOLD),
    ));
    let mut ts = TableState::default().with_selected(Some(state.selected.min(n - 1) - range.start));
    f.render_stateful_widget(table, inner, &mut ts);
}

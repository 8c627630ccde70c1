//! The queue: one row per request, columns that fit the width (dropping the
//! least needed first), drawn only for the window on screen.

use super::*;
use std::collections::HashMap;

// Columns, in order: id, due, state, workspace, requester, role, msgs, est, flags.
pub(super) const C_DUE: usize = 1;
pub(super) const C_STATE: usize = 2;
pub(super) const C_WS: usize = 3;
pub(super) const C_REQ: usize = 4;
pub(super) const C_ROLE: usize = 5;
pub(super) const C_SIZE: usize = 6;
pub(super) const C_EST: usize = 7;
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
/// The fixed columns' widths, whatever the rows on screen hold, so that no
/// column jumps while scrolling: "late 1d 23h" (see [`super::sla`]),
/// "cancelled", "owner", "2.1M", "over 48h", and the flags `✗⚠6✉1+3`
/// (cut at the right, least urgent last). The id column is as wide as the
/// largest id in the queue; workspace and requester share the rest.
pub(super) const FIXED: [usize; NCOLS] = [0, 11, 9, 0, 0, 5, 5, 8, 7];
/// Columns given up, in this order, when the queue is too narrow. State and
/// role stay at every width a queue is drawn at (down to 60 columns); only a
/// queue narrower than that loses them, last.
pub(super) const DROP_ORDER: [usize; 5] = [C_SIZE, C_EST, C_DUE, C_ROLE, C_STATE];
/// Space the flexible columns want at least before others are dropped.
pub(super) const WS_MIN: usize = 8;
pub(super) const REQ_MIN: usize = 12;
/// More than this is empty space: the rest stays on the right.
pub(super) const WS_MAX: usize = 32;
pub(super) const REQ_MAX: usize = 40;

/// One cell: styled pieces of text.
pub(super) type QCell = Vec<(String, Style)>;

/// For the workspaces of the rows on screen: how many requests of each are
/// open, exporting, or emailed in the last 7 days (one pass over the queue
/// per frame, not one per row).
pub(super) fn open_per_workspace<'a>(state: &'a State, shown: &[usize]) -> HashMap<&'a str, usize> {
    let mut counts: HashMap<&str, usize> = shown
        .iter()
        .filter_map(|&i| state.rows[i].req.workspace_id.as_deref())
        .map(|w| (w, 0))
        .collect();
    for r in &state.rows {
        if let Some(n) = r
            .req
            .workspace_id
            .as_deref()
            .and_then(|w| counts.get_mut(w))
        {
            if state.open_or_recent(r).is_some() {
                *n += 1;
            }
        }
    }
    counts
}

/// The other open or recent requests of `row`'s workspace (see
/// [`open_per_workspace`]), counted only on rows still undecided or
/// exporting: there a second export is the question.
fn others_of_workspace(row: &Row, per_ws: &HashMap<&str, usize>) -> usize {
    if !(row.req.state.is_open() || row.req.state.is_in_flight()) {
        return 0;
    }
    let all = row
        .req
        .workspace_id
        .as_deref()
        .and_then(|w| per_ws.get(w))
        .copied()
        .unwrap_or(0);
    // The row itself is open or exporting, so it is one of them.
    all.saturating_sub(1)
}

pub(super) fn queue_cells(
    row: &Row,
    state: &State,
    per_ws: &HashMap<&str, usize>,
) -> [QCell; NCOLS] {
    let r = &row.req;
    let one = |s: String, st: Style| vec![(s, st)];
    let (due, due_style) = sla(row, state.now);
    let (sw, ss) = state_word(row);
    let (role, rs) = role_cell(row);
    let (est, es) = estimate_cell(row);
    // Most urgent first: a narrow flags column cuts at the right.
    let mut flags = Vec::new();
    if state.is_pending(r.id) || row.resolving {
        flags.push((spinner(state).to_string(), Style::new().fg(ACCENT)));
    }
    if !r.damage.is_empty() {
        // A field could not be read from the store (the detail says which).
        flags.push((
            "!".to_string(),
            Style::new().fg(BAD).add_modifier(Modifier::BOLD),
        ));
    }
    let unread = r.seen.unread(&state.operator_id);
    if unread > 0 {
        // The customer wrote since this operator last opened the request.
        flags.push((
            format!("✉{unread}"),
            Style::new().fg(ACCENT).add_modifier(Modifier::BOLD),
        ));
    }
    if dmarc_unaccepted(row) {
        flags.push(("✗".to_string(), Style::new().fg(BAD)));
    }
    if !r.warnings.is_empty() {
        flags.push((format!("⚠{}", r.warnings.len()), Style::new().fg(WARN)));
    }
    let others = others_of_workspace(row, per_ws);
    if others > 0 {
        // Another request of the same workspace is open or recent: a
        // second export is a question (`ApproveDuplicate`).
        flags.push((
            format!("+{others}"),
            Style::new().fg(WARN).add_modifier(Modifier::BOLD),
        ));
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
        requester_cell(row, state),
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

/// Who holds the request (team mode): "◆Kim", or "◆you" for one's own,
/// then the requester. The holder comes first: the column is cut at the
/// right, and at 120 columns an address left no room for it (seen in a
/// two-terminal trial: nobody's claim showed).
fn requester_cell(row: &Row, state: &State) -> QCell {
    let mut cell = Vec::new();
    if let Some(by) = &row.req.claimed_by {
        let name = if *by == state.operator_id {
            "you".to_string()
        } else {
            clean(row.req.claimed_by_name.as_deref().unwrap_or(by))
        };
        cell.push((format!("◆{name} "), Style::new().fg(ACCENT)));
    }
    cell.push((clean(requester(row)), Style::new()));
    cell
}

/// A cell of several styled pieces in `w` columns: cut like [`fit`],
/// with `…` where the text stops (the table would cut it bare: "◆Kim
/// agent@acm" at 80 columns in the demo).
fn fit_spans(cell: &QCell, w: usize) -> Vec<Span<'static>> {
    let total: usize = cell.iter().map(|(s, _)| width(s)).sum();
    if total <= w {
        return cell
            .iter()
            .map(|(s, st)| Span::styled(s.clone(), *st))
            .collect();
    }
    let mut out = Vec::new();
    let mut left = w;
    for (s, st) in cell {
        let sw = width(s);
        // `<`, not `<=`: the last column left is the ellipsis's.
        if sw < left {
            out.push(Span::styled(s.clone(), *st));
            left -= sw;
        } else {
            // One column more than there is: `fit` cuts it and adds `…`.
            let cut = fit(&format!("{s} "), left);
            out.push(Span::styled(cut, *st));
            break;
        }
    }
    out
}

/// Column widths in `avail` columns; 0 = hidden. `max_id`: the largest
/// request id in the queue (its digits size the id column).
pub(super) fn column_widths(max_id: i64, avail: usize, tab: Tab) -> [usize; NCOLS] {
    let mut w = FIXED;
    w[0] = width(&format!("#{max_id}"));
    // In a tab other than All, Running and Mine every row has the same
    // state (the tab's name says it).
    if !matches!(tab, Tab::All | Tab::Running | Tab::Mine) {
        w[C_STATE] = 0;
    }
    let fixed = |w: &[usize; NCOLS]| -> usize {
        // Each shown column but the first has one space before it; the two
        // flexible ones are counted as shown.
        let shown = w
            .iter()
            .enumerate()
            .filter(|(c, x)| **x > 0 || *c == C_WS || *c == C_REQ)
            .count();
        w.iter().sum::<usize>() + shown.saturating_sub(1)
    };
    for c in DROP_ORDER {
        if fixed(&w) + WS_MIN + REQ_MIN <= avail {
            break;
        }
        w[c] = 0;
    }
    let flex = avail.saturating_sub(fixed(&w));
    let ws = (flex * 2 / 5).clamp(WS_MIN.min(flex), WS_MAX);
    w[C_WS] = ws.min(flex);
    w[C_REQ] = flex.saturating_sub(w[C_WS]).min(REQ_MAX);
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
        let (msg, hint) = if state.filter.is_empty() && state.tab == Tab::Mine {
            let hint = format!(
                "{} on a request takes it; it is listed here",
                key(Action::Claim, "m")
            );
            ("You hold no request".to_string(), hint)
        } else if state.filter.is_empty() {
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
    let per_ws = open_per_workspace(state, &state.visible[range.clone()]);
    let cells: Vec<[QCell; NCOLS]> = state.visible[range.clone()]
        .iter()
        .map(|&i| queue_cells(&state.rows[i], state, &per_ws))
        .collect();
    let closed: Vec<bool> = state.visible[range.clone()]
        .iter()
        .map(|&i| is_closed(&state.rows[i]))
        .collect();
    const SYMBOL: &str = "› ";
    let avail = (inner.width as usize).saturating_sub(width(SYMBOL));
    let max_id = state.rows.iter().map(|r| r.req.id).max().unwrap_or(0);
    let widths = column_widths(max_id, avail, state.tab);
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
                Line::from(fit_spans(cell, w))
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

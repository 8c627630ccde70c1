//! The status line: the last message, the inbox and backend health, the
//! key hints.

use super::*;

pub(super) fn health(name: &str, h: &Health) -> Vec<Span<'static>> {
    let (mark, color, text) = match h {
        Health::Up(s) => ("●", OK, s.as_str()),
        Health::Down(s) => ("✗", BAD, s.as_str()),
        Health::Unknown => ("○", Color::Reset, "…"),
    };
    let mut v = vec![
        Span::styled(format!("{name} "), DIM),
        Span::styled(mark.to_string(), Style::new().fg(color)),
    ];
    if !text.is_empty() && text != name {
        let style = if matches!(h, Health::Down(_)) {
            Style::new().fg(BAD)
        } else {
            Style::new()
        };
        v.push(Span::styled(format!(" {}", fit(text, 28)), style));
    }
    v
}

pub(super) fn first_key(state: &State, action: Action) -> Option<String> {
    state
        .keys
        .bindings()
        .into_iter()
        .find(|(a, _)| *a == action)
        .and_then(|(_, k)| k.into_iter().next())
}

/// The hints need about this much beside a one-line status.
const HINTS_W: usize = 36;

/// How many lines the status takes at `w` columns: one, or (advice longer
/// than fits beside the hints) the wrapped message, up to 4 lines, above a
/// line of hints. NOTE: advice such as "reject this one with
/// reject_duplicate, or retry once that export is done" was cut at 120.
pub(super) fn status_height(state: &State, w: u16) -> u16 {
    let w = w as usize;
    match &state.status {
        Some((text, _)) if width(text) + 2 + HINTS_W > w && !matches!(state.mode, Mode::Filter) => {
            wrap(text, w.saturating_sub(2)).len().min(4) as u16 + 1
        }
        _ => 1,
    }
}

pub(super) fn draw_status(f: &mut Frame<'_>, area: Rect, state: &State) {
    if area.height > 1 {
        let [msg, last] = Layout::vertical([Constraint::Min(0), Constraint::Length(1)]).areas(area);
        if let Some((text, error)) = &state.status {
            let style = status_style(*error);
            let mut lines: Vec<Line<'static>> = wrap(text, (msg.width as usize).saturating_sub(2))
                .into_iter()
                .map(|l| Line::styled(format!(" {l}"), style))
                .collect();
            lines.truncate(msg.height as usize);
            f.render_widget(Paragraph::new(lines), msg);
        }
        return draw_status_line(f, last, state, None);
    }
    draw_status_line(f, area, state, state.status.as_ref());
}

/// One line: the status message (`status`) on the left, the hints right.
fn draw_status_line(f: &mut Frame<'_>, area: Rect, state: &State, status: Option<&(String, bool)>) {
    let w = area.width as usize;
    if let Mode::Filter = state.mode {
        let text = format!("/{}", clean(&state.filter));
        let hint = Line::styled("Enter keep · Esc clear ", DIM).right_aligned();
        let shown = fit(&text, w.saturating_sub(24).max(8));
        f.render_widget(
            Paragraph::new(Line::styled(shown.clone(), Style::new().fg(WARN))),
            area,
        );
        if w > width(&shown) + 26 {
            f.render_widget(Paragraph::new(hint), area);
        }
        f.set_cursor_position((
            area.x + (width(&shown) as u16).min(area.width.saturating_sub(1)),
            area.y,
        ));
        return;
    }
    // Right: pending, inbox, backend, keys; dropped from the left end when the status needs room.
    let mut groups: Vec<Vec<Span<'static>>> = Vec::new();
    if !state.pending.is_empty() {
        groups.push(vec![Span::styled(
            format!("{} {} pending", spinner(state), state.pending.len()),
            Style::new().fg(ACCENT),
        )]);
    }
    // The store only while it is down: first, so it is the last to go.
    if matches!(state.store, Health::Down(_)) {
        groups.insert(0, health("store", &state.store));
    }
    groups.push(health("inbox", &state.inbox));
    groups.push(health("backend", &state.backend));
    let help = first_key(state, Action::Help).unwrap_or_else(|| "?".into());
    let quit = first_key(state, Action::Quit).unwrap_or_else(|| "q".into());
    groups.push(vec![
        Span::styled(help, Style::new().fg(ACCENT)),
        Span::styled(" help  ", DIM),
        Span::styled(quit, Style::new().fg(ACCENT)),
        Span::styled(" quit", DIM),
    ]);
    let status_w = status.map(|(s, _)| width(s) + 1).unwrap_or(0);
    let group_w = |g: &Vec<Span<'static>>| g.iter().map(Span::width).sum::<usize>() + 3;
    // Keep the status readable: give up hints (keys first, then health) until it fits or has 40 columns.
    let mut total: usize = groups.iter().map(group_w).sum::<usize>() + 1;
    while total + status_w > w && groups.len() > 1 && w.saturating_sub(total) < 40.min(status_w) {
        let g = groups.pop().unwrap_or_default();
        total -= group_w(&g);
    }
    let mut right: Vec<Span<'static>> = Vec::new();
    for (i, g) in groups.into_iter().enumerate() {
        if i > 0 {
            right.push(Span::styled(" │ ", DIM));
        }
        right.extend(g);
    }
    right.push(Span::raw(" "));
    let rw: usize = right.iter().map(Span::width).sum();
    if let Some((text, error)) = status {
        let style = status_style(*error);
        let room = w.saturating_sub(rw + 2);
        f.render_widget(
            Paragraph::new(Line::from(vec![
                Span::raw(" "),
                Span::styled(fit(text, room), style),
            ])),
            area,
        );
    }
    f.render_widget(Paragraph::new(Line::from(right).right_aligned()), area);
}

fn status_style(error: bool) -> Style {
    if error {
        Style::new().fg(BAD).add_modifier(Modifier::BOLD)
    } else {
        Style::new()
    }
}

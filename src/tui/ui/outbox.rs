//! The demo's outbox: the mail Concierge and the backend sent, a list
//! above the selected mail.

use super::*;

pub(super) fn draw_outbox(
    f: &mut Frame<'_>,
    top: Rect,
    main: Rect,
    state: &State,
    selected: usize,
) {
    let main = outbox_warnings(f, main, state);
    let n = state.outbox.len();
    let title = Line::from(vec![
        Span::styled(
            " concierge ",
            Style::new().fg(ACCENT).add_modifier(Modifier::BOLD),
        ),
        Span::raw(" Outbox "),
        Span::styled(format!("{n} mail{}", if n == 1 { "" } else { "s" }), DIM),
    ]);
    f.render_widget(Paragraph::new(title), top);
    f.render_widget(
        Paragraph::new(
            Line::styled(format!("{} ", popup_footer_short(state)), DIM).right_aligned(),
        ),
        top,
    );
    if n == 0 {
        let block = Block::bordered()
            .border_type(BorderType::Rounded)
            .border_style(DIM);
        let inner = block.inner(main);
        f.render_widget(block, main);
        let y = inner.y + inner.height / 2;
        f.render_widget(
            Paragraph::new(Line::styled("The outbox is empty (or still loading).", DIM).centered()),
            Rect {
                y,
                height: 1,
                ..inner
            },
        );
        return;
    }
    let sel = selected.min(n - 1);
    let list_h = ((n as u16) + 2)
        .clamp(3, (main.height / 3).max(5))
        .min(main.height);
    let [list_area, body_area] =
        Layout::vertical([Constraint::Length(list_h), Constraint::Min(0)]).areas(main);
    let block = Block::bordered()
        .border_type(BorderType::Rounded)
        .border_style(DIM)
        .title(Line::styled(
            " Sent ",
            Style::new().add_modifier(Modifier::BOLD),
        ));
    let inner = block.inner(list_area);
    f.render_widget(block, list_area);
    let lines = outbox_lines(state, sel, inner);
    f.render_widget(Paragraph::new(lines), inner);
    let m = &state.outbox[sel];
    let block = Block::bordered()
        .border_type(BorderType::Rounded)
        .border_style(DIM)
        .title(Line::styled(
            format!(
                " {} ",
                fit(&m.subject, (body_area.width as usize).saturating_sub(6))
            ),
            Style::new().add_modifier(Modifier::BOLD),
        ));
    let inner = block.inner(body_area);
    f.render_widget(block, body_area);
    let bw = (inner.width as usize).saturating_sub(1).max(10);
    let mut text: Vec<Line<'static>> = Vec::new();
    kv(&mut text, "To", &m.to, Style::new(), bw);
    kv(
        &mut text,
        "Date",
        &m.date.map(|t| when(t, state)).unwrap_or_default(),
        Style::new(),
        bw,
    );
    text.push(Line::raw(""));
    text.extend(wrap_text(&m.body, bw).into_iter().map(Line::raw));
    f.render_widget(
        Paragraph::new(Text::from(text)).wrap(Wrap { trim: false }),
        inner,
    );
}

/// The outbox's list rows that fit in `inner`, keeping `sel` in view.
fn outbox_lines(state: &State, sel: usize, inner: Rect) -> Vec<Line<'static>> {
    let n = state.outbox.len();
    let h = (inner.height as usize).max(1);
    let start = sel.saturating_sub(h - 1).min(n.saturating_sub(h));
    let iw = inner.width as usize;
    let date_w = 12.min(iw / 4);
    let to_w = 26.min(iw / 3);
    let subj_w = iw.saturating_sub(2 + date_w + to_w + 2);
    state.outbox[start..(start + h).min(n)]
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let i = start + i;
            let date = fit(
                &m.date.map(|t| short_when(t, state)).unwrap_or_default(),
                date_w,
            );
            let line = Line::from(vec![
                Span::styled(
                    if i == sel { "› " } else { "  " },
                    Style::new().fg(ACCENT).add_modifier(Modifier::BOLD),
                ),
                Span::styled(format!("{date:<date_w$} "), DIM),
                Span::raw(format!("{:<to_w$} ", fit(&m.to, to_w))),
                Span::styled(
                    fit(&m.subject, subj_w),
                    Style::new().add_modifier(Modifier::BOLD),
                ),
            ]);
            if i == sel {
                line.style(SELECTED)
            } else {
                line
            }
        })
        .collect()
}

//! The input editor pop-up: notes, reasons, reply bodies, the account
//! email, with what they are about and the keys that save or send them.

use super::*;

pub(super) fn draw_input(f: &mut Frame<'_>, area: Rect, state: &mut State) {
    let context = input_context(state);
    let Mode::Input {
        purpose,
        area: text,
        error,
    } = &mut state.mode
    else {
        return;
    };
    let multi = purpose.multi_line();
    let w = area
        .width
        .saturating_sub(4)
        .min(if multi { 84 } else { 64 });
    let inner_w = w.saturating_sub(4) as usize;
    let context: Vec<Line<'static>> = context
        .into_iter()
        .flat_map(|(t, s)| {
            wrap(&t, inner_w)
                .into_iter()
                .map(move |l| Line::styled(l, s))
        })
        .collect();
    // Room to write, while the request stays in view around the box.
    let text_h: u16 = if multi {
        (area.height * 2 / 5).clamp(3, 14)
    } else {
        1
    };
    let error_h = u16::from(error.is_some());
    let h = context.len() as u16 + u16::from(!context.is_empty()) + text_h + error_h + 2 + 2;
    let rect = centered(area, w, h);
    f.render_widget(Clear, rect);
    let color = match purpose {
        InputPurpose::ApproveOverride { .. } | InputPurpose::AuthOverride => WARN,
        InputPurpose::RejectReason(_) => BAD,
        _ => ACCENT,
    };
    let block = popup(&purpose.title(), color).padding(ratatui::widgets::Padding::horizontal(1));
    let inner = block.inner(rect);
    f.render_widget(block, rect);
    let ctx_h = context.len() as u16 + u16::from(!context.is_empty());
    let [ctx_area, text_area, error_area, _, footer_area] = Layout::vertical([
        Constraint::Length(ctx_h),
        Constraint::Min(1),
        Constraint::Length(error_h),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(inner);
    f.render_widget(Paragraph::new(context), ctx_area);
    // Long notes and replies wrap; the cursor line is not underlined (calmer).
    let wrap_mode = if multi {
        ratatui_textarea::WrapMode::WordOrGlyph
    } else {
        ratatui_textarea::WrapMode::None
    };
    if text.wrap_mode() != wrap_mode {
        text.set_wrap_mode(wrap_mode);
    }
    if text.cursor_line_style() != Style::new() {
        text.set_cursor_line_style(Style::new());
    }
    f.render_widget(&**text, text_area);
    if let Some(e) = error {
        f.render_widget(
            Paragraph::new(Line::styled(
                fit(&format!("✗ {e}"), inner_w),
                Style::new().fg(BAD).add_modifier(Modifier::BOLD),
            )),
            error_area,
        );
    }
    let spans = editor_keys(state, multi);
    f.render_widget(
        Paragraph::new(Line::from(spans).right_aligned()),
        footer_area,
    );
}

/// What the box is about, from the selected request: the recipient, the
/// unmet items an override lifts, the failed authentication.
fn input_context(state: &State) -> Vec<(String, Style)> {
    // What the box is about, from the selected request (read before borrowing the text area).
    let row = state.current();
    let account = row.and_then(|r| r.req.account()).unwrap_or("—").to_string();
    let mut context: Vec<(String, Style)> = Vec::new();
    if let Mode::Input { purpose, .. } = &state.mode {
        match purpose {
            InputPurpose::ReplyBody(_)
            | InputPurpose::RejectReason(_)
            | InputPurpose::RejectBody { .. } => context.push((format!("To: {account}"), DIM)),
            InputPurpose::ApproveOverride { .. } => {
                for u in row.map(|r| r.unmet()).unwrap_or_default() {
                    context.push((format!("✗ {u}"), Style::new().fg(BAD)));
                }
            }
            InputPurpose::AuthOverride => {
                if let Some(r) = row {
                    let a = &r.req.auth;
                    context.push((
                        format!("dkim {} · spf {} · dmarc {}", a.dkim, a.spf, a.dmarc),
                        Style::new().fg(BAD),
                    ));
                }
            }
            InputPurpose::AccountEmail => {
                context.push((
                    "The export link goes to this account's address.".into(),
                    DIM,
                ));
            }
            InputPurpose::Note => {}
        }
    }
    context
}

/// The editor's keys as the key map has them (rebindable).
fn editor_keys(state: &State, multi: bool) -> Vec<Span<'static>> {
    // A reply or rejection body goes out on Ctrl-S (after a confirm); a
    // note is saved.
    let sends = matches!(
        state.mode,
        Mode::Input {
            purpose: InputPurpose::ReplyBody(_) | InputPurpose::RejectBody { .. },
            ..
        }
    );
    // The editor's keys as the key map has them (rebindable).
    let key = |a: Action, default: &str| first_key(state, a).unwrap_or_else(|| default.into());
    let cancel = key(Action::CancelEdit, "Esc");
    let keys: Vec<(String, &str)> = if multi {
        vec![
            (
                key(Action::Save, "Ctrl-S"),
                if sends { " send" } else { " save" },
            ),
            (key(Action::OpenEditor, "Ctrl-E"), " $EDITOR"),
            (cancel, " cancel"),
        ]
    } else {
        vec![("Enter".into(), " ok"), (cancel, " cancel")]
    };
    let mut spans = Vec::new();
    for (i, (k, d)) in keys.into_iter().enumerate() {
        if i > 0 {
            spans.push(Span::styled(" · ", DIM));
        }
        spans.push(Span::styled(
            k,
            Style::new().fg(ACCENT).add_modifier(Modifier::BOLD),
        ));
        spans.push(Span::styled(d, DIM));
    }
    spans
}

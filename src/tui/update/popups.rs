//! Keys inside pop-ups (pickers, the input editor) and what a confirmed
//! question does.

use super::*;
use crate::tui::keys::Scope;

/// What the first Esc on a typed note says.
/// The longest note the editor saves. NOTE: a scope note is a few lines;
/// a 1 MB paste was stored whole (and in the audit log), and redrawing
/// its detail took 140 ms of CPU per frame in a debug build (measured
/// with /proc/PID/stat in the demo).
pub const NOTE_MAX_CHARS: usize = 20_000;

pub(super) const DISCARD_QUESTION: &str = "Esc again discards this note; Ctrl-S saves it";

pub(super) fn on_pick_key(
    state: &mut State,
    k: KeyEvent,
    pick: Pick,
    selected: usize,
) -> Vec<Command> {
    let n = match &pick {
        Pick::ReplyTemplate => REPLY_TEMPLATES.len(),
        Pick::RejectTemplate => REJECT_TEMPLATES.len(),
        Pick::Workspace(list) => list.len(),
    };
    let Some(id) = state.current().map(|r| r.req.id) else {
        return vec![];
    };
    // A digit chooses its item at once; everything else is the key map's.
    let (act, selected) = match k.code {
        KeyCode::Char(c @ '1'..='9') if (c as usize - '1' as usize) < n => {
            (Some(Action::Choose), c as usize - '1' as usize)
        }
        _ => (state.keys.action_in(Scope::Popup, k), selected),
    };
    match act {
        Some(Action::No) => {
            say(state, "cancelled");
            vec![]
        }
        Some(Action::ItemDown) => {
            state.mode = Mode::Pick {
                pick,
                selected: (selected + 1).min(n.saturating_sub(1)),
            };
            vec![]
        }
        Some(Action::ItemUp) => {
            state.mode = Mode::Pick {
                pick,
                selected: selected.saturating_sub(1),
            };
            vec![]
        }
        Some(Action::Choose) => match pick {
            Pick::ReplyTemplate => {
                let template = REPLY_TEMPLATES[selected.min(n - 1)];
                // A repeat is asked at the confirmation; a contradiction never goes.
                let refusal = state
                    .row_mut(id)
                    .and_then(|r| ops::reply::check(&r.req, template, true).err());
                if let Some(refusal) = refusal {
                    state.mode = Mode::Normal;
                    warn(state, refusal.to_string());
                    return vec![];
                }
                set_pending(state, id, "composing the reply");
                vec![Command::ComposeReply { id, template }]
            }
            Pick::RejectTemplate => {
                let template = REJECT_TEMPLATES[selected.min(n - 1)];
                open_input(state, InputPurpose::RejectReason(template), "");
                vec![]
            }
            Pick::Workspace(list) => match list.get(selected) {
                Some((workspace_id, workspace_name)) => vec![Command::ChooseWorkspace {
                    id,
                    seen: state.seen(id),
                    workspace_id: workspace_id.clone(),
                    workspace_name: workspace_name.clone(),
                }],
                None => vec![],
            },
        },
        _ => {
            state.mode = Mode::Pick { pick, selected };
            vec![]
        }
    }
}

pub(super) fn submit_input(
    state: &mut State,
    purpose: InputPurpose,
    area: Box<TextArea<'static>>,
    text: String,
) -> Vec<Command> {
    let Some(row) = state.current() else {
        return vec![];
    };
    let id = row.req.id;
    let trimmed = text.trim().to_string();
    let again = |state: &mut State, error: &str| {
        state.mode = Mode::Input {
            purpose: purpose.clone(),
            area: area.clone(),
            error: Some(error.to_string()),
        };
        vec![]
    };
    match purpose.clone() {
        InputPurpose::Note => {
            if trimmed.is_empty() {
                return again(state, "a note needs some text");
            }
            let n = trimmed.chars().count();
            if n > NOTE_MAX_CHARS {
                return again(
                    state,
                    &format!(
                        "a note holds at most {NOTE_MAX_CHARS} characters and this one has {n} (a paste gone wrong?): shorten it"
                    ),
                );
            }
            vec![Command::AddNote { id, text: trimmed }]
        }
        InputPurpose::AuthOverride => {
            if trimmed.len() < 5 {
                return again(state, "type the reason (at least a few words)");
            }
            vec![Command::OverrideAuth {
                id,
                seen: state.seen(id),
                reason: trimmed,
            }]
        }
        InputPurpose::ApproveOverride { force } => {
            if trimmed.len() < 5 {
                return again(state, "type the reason (at least a few words)");
            }
            state.mode = Mode::Confirm(Confirm::Approve {
                id,
                override_reason: Some(trimmed),
                force,
            });
            vec![]
        }
        InputPurpose::RejectReason(template) => {
            if trimmed.len() < 3 {
                return again(state, "a rejection needs a reason");
            }
            set_pending(state, id, "composing the rejection");
            vec![Command::ComposeRejection {
                id,
                template,
                reason: trimmed,
            }]
        }
        InputPurpose::RejectBody { template, reason } => {
            if trimmed.is_empty() {
                return again(state, "the reply is empty");
            }
            if text.contains("{{") {
                return again(state, "the reply still holds a {{placeholder}}");
            }
            state.mode = Mode::Confirm(Confirm::Reject {
                id,
                template,
                reason,
                body: text,
            });
            vec![]
        }
        InputPurpose::ReplyBody(template) => {
            if trimmed.is_empty() {
                return again(state, "the reply is empty");
            }
            if text.contains("{{") {
                return again(state, "the reply still holds a {{placeholder}}");
            }
            let again = state.row_mut(id).is_some_and(|r| {
                matches!(
                    ops::reply::check(&r.req, template, false),
                    Err(ops::reply::Refusal::Repeat { .. })
                )
            });
            state.mode = Mode::Confirm(Confirm::SendReply {
                id,
                template,
                again,
                body: text,
            });
            vec![]
        }
        InputPurpose::AccountEmail => {
            let email = trimmed.to_lowercase();
            let valid = email.split_once('@').is_some_and(|(l, d)| {
                !l.is_empty() && d.contains('.') && !email.contains(char::is_whitespace)
            });
            if !valid {
                return again(state, "that is not an email address");
            }
            vec![Command::SetAccountEmail {
                id,
                email,
                seen: state.seen(id),
            }]
        }
    }
}

pub(super) fn confirmed(state: &mut State, c: Confirm) -> Vec<Command> {
    match c {
        Confirm::Approve {
            id,
            override_reason,
            force,
        } => {
            let unmet = state
                .row_mut(id)
                .map(|r| r.unmet_checks())
                .unwrap_or_default();
            set_pending(state, id, "starting the export");
            vec![Command::Approve {
                id,
                seen: state.seen(id),
                override_reason,
                unmet,
                force,
            }]
        }
        Confirm::Reject {
            id,
            template,
            reason,
            body,
        } => {
            set_pending(state, id, "rejecting");
            vec![Command::Reject {
                id,
                seen: state.seen(id),
                template,
                reason,
                body,
            }]
        }
        Confirm::SendReply {
            id,
            template,
            body,
            again,
        } => {
            set_pending(state, id, "sending the reply");
            vec![Command::SendReply {
                id,
                seen: state.seen(id),
                template,
                body,
                again,
            }]
        }
        Confirm::ApproveDuplicate { id, .. } => {
            if let Some(row) = state.row_mut(id).map(|r| r.clone()) {
                approve_checklist(state, &row, true);
            }
            vec![]
        }
        Confirm::Quit { .. } => {
            state.quit = true;
            vec![]
        }
        Confirm::Cancel { id } => {
            set_pending(state, id, "cancelling the export");
            vec![Command::CancelJob {
                id,
                seen: state.seen(id),
            }]
        }
        Confirm::TakeOver { id, holder_id, .. } => vec![Command::Claim {
            id,
            holder_seen: Some(holder_id),
        }],
        Confirm::Retry { id } => {
            set_pending(state, id, "restarting the export");
            vec![Command::RetryJob {
                id,
                seen: state.seen(id),
            }]
        }
    }
}

/// A key on the stats screen.
pub(super) fn on_stats_key(
    state: &mut State,
    k: KeyEvent,
    mut m: Box<crate::stats::screen::Model>,
) -> Vec<Command> {
    use crate::stats::screen::KeyOutcome;
    // The stats screen speaks key codes: the key map's actions are
    // handed over as the codes it knows; its period digits as typed.
    let code = match state.keys.action_in(Scope::Stats, k) {
        Some(Action::NextPeriod) => KeyCode::Tab,
        Some(Action::PrevPeriod) => KeyCode::BackTab,
        Some(Action::CloseStats) => KeyCode::Esc,
        _ if matches!(k.code, KeyCode::Char('7' | '3' | '9')) => k.code,
        _ => KeyCode::Null,
    };
    let out = m.on_key(code);
    if out != KeyOutcome::Close {
        state.mode = Mode::Stats(m);
    }
    match out {
        KeyOutcome::Load(days) => vec![Command::LoadStats { days }],
        _ => vec![],
    }
}

/// A key in the text editor (notes, reasons, reply bodies).
pub(super) fn on_input_key(
    state: &mut State,
    k: KeyEvent,
    purpose: InputPurpose,
    mut area: Box<TextArea<'static>>,
    error: Option<String>,
) -> Vec<Command> {
    let act = state.keys.action_in(Scope::Editor, k);
    let submit = act == Some(Action::Save) || (!purpose.multi_line() && k.code == KeyCode::Enter);
    if act == Some(Action::CancelEdit) {
        // NOTE: a typed note or reason is not thrown away on one
        // stray Esc: the first one asks, a second one discards.
        let typed = !area.lines().join("").trim().is_empty();
        let asked = error.as_deref() == Some(DISCARD_QUESTION);
        if typed && matches!(purpose, InputPurpose::Note) && !asked {
            state.mode = Mode::Input {
                purpose,
                area,
                error: Some(DISCARD_QUESTION.into()),
            };
            return vec![];
        }
        say(state, "cancelled: nothing was saved or sent");
        return vec![];
    }
    if act == Some(Action::OpenEditor) {
        let text = area.lines().join("\n");
        state.mode = Mode::Input {
            purpose,
            area,
            error,
        };
        return vec![Command::Edit(text)];
    }
    if submit {
        let text = area.lines().join("\n");
        return submit_input(state, purpose, area, text);
    }
    area.input(k);
    state.mode = Mode::Input {
        purpose,
        area,
        error,
    };
    vec![]
}

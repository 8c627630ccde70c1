//! `update(state, msg) -> commands`: every decision the screen makes, with
//! no I/O, so each is tested with plain values.

use super::keys::Action;
use super::msg::{Command, Msg};
use super::state::{Confirm, Health, InputPurpose, Mode, Pick, Row, State, Tab};
use crate::domain::{self, AuthResult, Role};
use crate::mail::templates::Template;
use crate::ops;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui_textarea::TextArea;

/// Reply templates offered by `r`, in order.
pub const REPLY_TEMPLATES: [Template; 3] = [
    Template::Acknowledgement,
    Template::EstimateOver48h,
    Template::ScopeQuestion,
];
/// Rejection templates offered by `x`, in order.
pub const REJECT_TEMPLATES: [Template; 4] = [
    Template::RejectNotOwnerOrAdmin,
    Template::RejectUseAccountEmail,
    Template::RejectWorkspaceNotFound,
    Template::RejectDuplicate,
];

fn say(state: &mut State, text: impl Into<String>) {
    state.status = Some((text.into(), false));
}

fn warn(state: &mut State, text: impl Into<String>) {
    state.status = Some((text.into(), true));
}

fn text_area(initial: &str) -> Box<TextArea<'static>> {
    let lines: Vec<String> = initial.lines().map(str::to_string).collect();
    let mut area = if lines.is_empty() {
        TextArea::default()
    } else {
        TextArea::new(lines)
    };
    area.move_cursor(ratatui_textarea::CursorMove::Bottom);
    area.move_cursor(ratatui_textarea::CursorMove::End);
    Box::new(area)
}

fn open_input(state: &mut State, purpose: InputPurpose, initial: &str) {
    state.mode = Mode::Input {
        purpose,
        area: text_area(initial),
        error: None,
    };
}

fn set_pending(state: &mut State, id: i64, what: &str) {
    state.pending.retain(|(p, _)| *p != id);
    state.pending.push((id, what.to_string()));
}

fn clear_pending(state: &mut State, id: i64) {
    state.pending.retain(|(p, _)| *p != id);
}

/// Replaces (or adds) a request from the store and re-derives the view.
fn upsert(state: &mut State, req: crate::store::requests::RequestView) {
    let rates = state.rates.clone();
    match state.row_mut(req.id) {
        Some(row) => {
            let (resolving, lookup_failed) = (row.resolving, row.lookup_failed);
            *row = Row::new(req, &rates);
            row.resolving = resolving;
            row.lookup_failed = lookup_failed;
        }
        None => state.rows.push(Row::new(req, &rates)),
    }
}

pub fn update(state: &mut State, msg: Msg) -> Vec<Command> {
    match msg {
        Msg::Key(k) => on_key(state, k),
        Msg::Paste(text) => {
            match &mut state.mode {
                Mode::Input { area, .. } => {
                    area.insert_str(crate::intake::sanitize::multi_line(&text).text);
                }
                Mode::Filter => {
                    state
                        .filter
                        .push_str(&crate::intake::sanitize::single_line(&text).text);
                    state.refilter();
                }
                _ => {}
            }
            vec![]
        }
        Msg::Resize => vec![],
        Msg::Tick(now) => {
            state.now = now;
            // Lookups that failed while the backend was down, a few per tick.
            let retry: Vec<i64> = state
                .rows
                .iter()
                .filter(|r| r.lookup_failed && !r.resolving)
                .take(8)
                .map(|r| r.req.id)
                .collect();
            for &id in &retry {
                if let Some(r) = state.row_mut(id) {
                    r.resolving = true;
                    r.lookup_failed = false;
                }
            }
            retry
                .into_iter()
                .map(|id| Command::Resolve { id })
                .collect()
        }
        Msg::RequestUpdated(req) => {
            let id = req.id;
            upsert(state, req);
            state.refilter();
            // The thread may have grown (a follow-up arrived).
            if state.current().map(|r| r.req.id) == Some(id) {
                return vec![Command::LoadThread { id }];
            }
            vec![]
        }
        Msg::Requests(reqs) => {
            let mut cmds = Vec::new();
            let n = reqs.len();
            for req in reqs {
                let new = state.row_mut(req.id).is_none();
                let id = req.id;
                let unresolved = !req.workspace_verified && req.account_email.is_none();
                upsert(state, req);
                if new && unresolved {
                    if let Some(row) = state.row_mut(id) {
                        row.resolving = true;
                    }
                    cmds.push(Command::Resolve { id });
                }
            }
            state.refilter();
            if n > 0 {
                say(
                    state,
                    format!("{n} new or updated request(s) from the inbox"),
                );
            }
            cmds
        }
        Msg::Inbox(h) => {
            state.inbox = h;
            vec![]
        }
        Msg::Backend(h) => {
            state.backend = h;
            vec![]
        }
        Msg::Resolved { id, result } => {
            let failed = result.is_err();
            if let Some(row) = state.row_mut(id) {
                row.resolving = false;
                row.lookup_failed = failed;
            }
            match result {
                Ok(resolution) => {
                    state.backend = Health::Up("backend".into());
                    vec![Command::SaveResolution { id, resolution }]
                }
                Err(e) => {
                    warn(
                        state,
                        format!("#{id}: could not look up the requester: {e}"),
                    );
                    vec![]
                }
            }
        }
        Msg::ReplyComposed { id, template, body } => {
            clear_pending(state, id);
            if state.current().map(|r| r.req.id) == Some(id) && state.mode.is_normal() {
                open_input(state, InputPurpose::ReplyBody(template), &body);
            }
            vec![]
        }
        Msg::RejectionComposed {
            id,
            template,
            reason,
            body,
        } => {
            clear_pending(state, id);
            if state.current().map(|r| r.req.id) == Some(id) && state.mode.is_normal() {
                open_input(state, InputPurpose::RejectBody { template, reason }, &body);
            }
            vec![]
        }
        Msg::Job { id, job } => {
            announce_job(state, id, &job);
            vec![Command::SaveJob { id, job }]
        }
        Msg::Done { id, what } => {
            clear_pending(state, id);
            say(state, format!("#{id}: {what}"));
            vec![]
        }
        Msg::Failed { id, what, error } => {
            clear_pending(state, id);
            warn(state, format!("#{id}: {what} failed: {error}"));
            vec![]
        }
        Msg::Edited(text) => {
            if let Mode::Input { area, .. } = &mut state.mode {
                **area = *text_area(&text);
            }
            vec![]
        }
        Msg::Outbox(mails) => {
            state.outbox = mails;
            vec![]
        }
        Msg::Thread { id, messages } => {
            state.thread = Some((id, messages));
            vec![]
        }
        Msg::Stats { days, result } => {
            if let Mode::Stats(m) = &mut state.mode {
                m.loaded(days, result);
            }
            vec![]
        }
    }
}

/// Says so in the status line when request `id`'s job reaches an end it
/// was not known to be at: the status line never keeps "the export is
/// starting" after the link was emailed.
fn announce_job(state: &mut State, id: i64, job: &crate::store::requests::JobSnap) {
    use crate::domain::JobStatus;
    let before = state
        .rows
        .iter()
        .find(|r| r.req.id == id)
        .and_then(|r| r.req.job.as_ref())
        .map(|j| j.status);
    if before == Some(job.status) || !job.is_terminal() {
        return;
    }
    match job.status {
        JobStatus::Emailed => say(
            state,
            format!(
                "#{id}: export finished; the link was emailed to {}",
                job.deliver_to.as_deref().unwrap_or("the account email")
            ),
        ),
        JobStatus::Cancelled => say(
            state,
            format!("#{id}: export cancelled (t starts it again)"),
        ),
        JobStatus::Failed => warn(
            state,
            format!(
                "#{id}: export failed: {} (t retries)",
                job.error.as_deref().unwrap_or("no reason given")
            ),
        ),
        _ => {}
    }
}

fn on_key(state: &mut State, k: KeyEvent) -> Vec<Command> {
    // Ctrl-C quits from anywhere (asking first while an export runs; a
    // second Ctrl-C at that question quits).
    if k.code == KeyCode::Char('c')
        && k.modifiers.contains(KeyModifiers::CONTROL)
        && !matches!(state.mode, Mode::Input { .. })
    {
        if matches!(state.mode, Mode::Confirm(Confirm::Quit { .. })) {
            state.quit = true;
        } else {
            quit(state);
        }
        return vec![];
    }
    match std::mem::replace(&mut state.mode, Mode::Normal) {
        Mode::Normal => on_normal_key(state, k),
        Mode::Help => {
            // Any key closes the help.
            vec![]
        }
        Mode::Filter => {
            match k.code {
                KeyCode::Esc => {
                    state.filter.clear();
                    state.refilter();
                }
                KeyCode::Enter => {}
                KeyCode::Backspace => {
                    state.filter.pop();
                    state.refilter();
                    state.mode = Mode::Filter;
                }
                KeyCode::Char(c) if !k.modifiers.contains(KeyModifiers::CONTROL) => {
                    state.filter.push(c);
                    state.refilter();
                    state.mode = Mode::Filter;
                }
                _ => state.mode = Mode::Filter,
            }
            thread_for_selection(state)
        }
        Mode::Outbox { selected } => {
            let n = state.outbox.len();
            match k.code {
                KeyCode::Esc | KeyCode::Char('q') | KeyCode::Char('o') => {}
                KeyCode::Char('j') | KeyCode::Down => {
                    state.mode = Mode::Outbox {
                        selected: (selected + 1).min(n.saturating_sub(1)),
                    }
                }
                KeyCode::Char('k') | KeyCode::Up => {
                    state.mode = Mode::Outbox {
                        selected: selected.saturating_sub(1),
                    }
                }
                _ => state.mode = Mode::Outbox { selected },
            }
            vec![]
        }
        Mode::Stats(mut m) => {
            use crate::stats::screen::KeyOutcome;
            let out = m.on_key(k.code);
            if out != KeyOutcome::Close {
                state.mode = Mode::Stats(m);
            }
            match out {
                KeyOutcome::Load(days) => vec![Command::LoadStats { days }],
                _ => vec![],
            }
        }
        Mode::Pick { pick, selected } => on_pick_key(state, k, pick, selected),
        Mode::Confirm(c) => match k.code {
            KeyCode::Char('y') | KeyCode::Char('Y') => confirmed(state, c),
            KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc => {
                say(state, "cancelled");
                vec![]
            }
            _ => {
                state.mode = Mode::Confirm(c);
                vec![]
            }
        },
        Mode::Input {
            purpose,
            mut area,
            error,
        } => {
            let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
            let submit = (ctrl && k.code == KeyCode::Char('s'))
                || (!purpose.multi_line() && k.code == KeyCode::Enter);
            if k.code == KeyCode::Esc {
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
            if ctrl && k.code == KeyCode::Char('e') {
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
    }
}

/// What the first Esc on a typed note says.
const DISCARD_QUESTION: &str = "Esc again discards this note; Ctrl-S saves it";

fn on_pick_key(state: &mut State, k: KeyEvent, pick: Pick, selected: usize) -> Vec<Command> {
    let n = match &pick {
        Pick::ReplyTemplate => REPLY_TEMPLATES.len(),
        Pick::RejectTemplate => REJECT_TEMPLATES.len(),
        Pick::Workspace(list) => list.len(),
    };
    let Some(id) = state.current().map(|r| r.req.id) else {
        return vec![];
    };
    match k.code {
        KeyCode::Esc | KeyCode::Char('q') => {
            say(state, "cancelled");
            vec![]
        }
        KeyCode::Char('j') | KeyCode::Down => {
            state.mode = Mode::Pick {
                pick,
                selected: (selected + 1).min(n.saturating_sub(1)),
            };
            vec![]
        }
        KeyCode::Char('k') | KeyCode::Up => {
            state.mode = Mode::Pick {
                pick,
                selected: selected.saturating_sub(1),
            };
            vec![]
        }
        KeyCode::Char(c @ '1'..='9') if (c as usize - '1' as usize) < n => on_pick_key(
            state,
            KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE),
            pick,
            c as usize - '1' as usize,
        ),
        KeyCode::Enter => match pick {
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

fn submit_input(
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
            vec![Command::AddNote { id, text: trimmed }]
        }
        InputPurpose::AuthOverride => {
            if trimmed.len() < 5 {
                return again(state, "type the reason (at least a few words)");
            }
            vec![Command::OverrideAuth {
                id,
                reason: trimmed,
            }]
        }
        InputPurpose::ApproveOverride => {
            if trimmed.len() < 5 {
                return again(state, "type the reason (at least a few words)");
            }
            state.mode = Mode::Confirm(Confirm::Approve {
                id,
                override_reason: Some(trimmed),
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
            vec![Command::SetAccountEmail { id, email }]
        }
    }
}

fn confirmed(state: &mut State, c: Confirm) -> Vec<Command> {
    match c {
        Confirm::Approve {
            id,
            override_reason,
        } => {
            let unmet = state
                .row_mut(id)
                .map(|r| r.unmet_checks())
                .unwrap_or_default();
            set_pending(state, id, "starting the export");
            vec![Command::Approve {
                id,
                override_reason,
                unmet,
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
                template,
                body,
                again,
            }]
        }
        Confirm::ApproveDuplicate { id, .. } => {
            if let Some(row) = state.row_mut(id).map(|r| r.clone()) {
                approve_checklist(state, &row);
            }
            vec![]
        }
        Confirm::Quit { .. } => {
            state.quit = true;
            vec![]
        }
        Confirm::Cancel { id } => {
            set_pending(state, id, "cancelling the export");
            vec![Command::CancelJob { id }]
        }
        Confirm::Retry { id } => {
            set_pending(state, id, "restarting the export");
            vec![Command::RetryJob { id }]
        }
    }
}

/// The thread to load when the selection shows a request whose thread is not loaded.
fn thread_for_selection(state: &State) -> Vec<Command> {
    match state.current() {
        Some(r) if state.thread.as_ref().map(|(id, _)| *id) != Some(r.req.id) => {
            vec![Command::LoadThread { id: r.req.id }]
        }
        _ => vec![],
    }
}

fn move_to(state: &mut State, pos: usize) {
    state.selected = pos.min(state.visible.len().saturating_sub(1));
    state.detail_scroll = 0;
}

fn on_normal_key(state: &mut State, k: KeyEvent) -> Vec<Command> {
    let mut cmds = on_normal_key_inner(state, k);
    cmds.extend(thread_for_selection(state));
    cmds
}

fn on_normal_key_inner(state: &mut State, k: KeyEvent) -> Vec<Command> {
    if k.code == KeyCode::Esc {
        if state.zoom {
            state.zoom = false;
        } else {
            state.status = None;
        }
        return vec![];
    }
    if let KeyCode::Char(c @ '1'..='7') = k.code {
        state.tab = Tab::ALL[c as usize - '1' as usize];
        state.refilter();
        return vec![];
    }
    let Some(action) = state.keys.action(k) else {
        return vec![];
    };
    let current = state.current().cloned();
    let busy = |state: &mut State, id: i64| {
        let what = state
            .pending
            .iter()
            .find(|(p, _)| *p == id)
            .map(|(_, w)| w.clone());
        if let Some(w) = &what {
            warn(state, format!("#{id} is busy: {w}"));
        }
        what.is_some()
    };
    match action {
        Action::Quit => quit(state),
        Action::Help => state.mode = Mode::Help,
        Action::Up => move_to(state, state.selected.saturating_sub(1)),
        Action::Down => move_to(state, state.selected + 1),
        Action::PageUp => move_to(state, state.selected.saturating_sub(state.page.max(1))),
        Action::PageDown => move_to(state, state.selected + state.page.max(1)),
        Action::Top => move_to(state, 0),
        Action::Bottom => move_to(state, usize::MAX),
        Action::NextTab | Action::PrevTab => {
            let i = Tab::ALL.iter().position(|t| *t == state.tab).unwrap_or(0);
            let n = Tab::ALL.len();
            let j = if action == Action::NextTab {
                (i + 1) % n
            } else {
                (i + n - 1) % n
            };
            state.tab = Tab::ALL[j];
            state.refilter();
        }
        Action::Filter => state.mode = Mode::Filter,
        Action::Sort => {
            state.sort = state.sort.next();
            state.refilter();
            say(state, format!("sorted by {}", state.sort.title()));
        }
        Action::Zoom => {
            state.zoom = !state.zoom;
            state.detail_scroll = 0;
        }
        Action::ScrollDetailUp => state.detail_scroll = state.detail_scroll.saturating_sub(5),
        Action::ScrollDetailDown => state.detail_scroll = state.detail_scroll.saturating_add(5),
        Action::Stats => {
            state.mode = Mode::Stats(Box::new(crate::stats::screen::Model::loading(30)));
            return vec![Command::LoadStats { days: 30 }];
        }
        Action::Outbox => {
            if state.has_outbox {
                state.mode = Mode::Outbox { selected: 0 };
                return vec![Command::LoadOutbox];
            }
            warn(state, "no outbox here: replies go out over SMTP");
        }
        _ => {
            let Some(row) = current else {
                warn(state, "no request selected");
                return vec![];
            };
            let id = row.req.id;
            if busy(state, id) {
                return vec![];
            }
            return on_request_action(state, action, &row);
        }
    }
    vec![]
}

/// Quits, or asks first while an export is being started or followed (it
/// goes on at the backend and is followed again on the next start).
fn quit(state: &mut State) {
    let running = state
        .rows
        .iter()
        .filter(|r| r.req.state.is_in_flight())
        .count();
    if running == 0 {
        state.quit = true;
    } else {
        state.mode = Mode::Confirm(Confirm::Quit { running });
    }
}

/// The checklist step of approving: straight to the confirmation when it
/// is complete, else the override reason first.
fn approve_checklist(state: &mut State, row: &Row) {
    if row.unmet().is_empty() {
        state.mode = Mode::Confirm(Confirm::Approve {
            id: row.req.id,
            override_reason: None,
        });
    } else {
        open_input(state, InputPurpose::ApproveOverride, "");
        warn(state, format!("unmet: {}", row.unmet().join("; ")));
    }
}

fn open_state(row: &Row) -> bool {
    row.req.state.is_open()
}

fn on_request_action(state: &mut State, action: Action, row: &Row) -> Vec<Command> {
    let id = row.req.id;
    match action {
        Action::Note => open_input(state, InputPurpose::Note, ""),
        Action::Reply => {
            if row.req.account().is_none() {
                warn(state, "no address to reply to");
                return vec![];
            }
            let suggested = match &row.estimate {
                Some(e) if e.over_48h => 1,
                _ => 0,
            };
            state.mode = Mode::Pick {
                pick: Pick::ReplyTemplate,
                selected: suggested,
            };
        }
        Action::Reject => {
            if !open_state(row) {
                warn(
                    state,
                    format!("#{id} is {}; it cannot be rejected now", row.req.state),
                );
                return vec![];
            }
            let suggested = match row.req.role {
                Some(Role::Agent) => 0,
                None if !row.req.workspace_verified
                    && row.req.workspace_name.is_some()
                    && !row.req.memberships.is_empty() =>
                {
                    2
                }
                None => 1,
                _ => 0,
            };
            state.mode = Mode::Pick {
                pick: Pick::RejectTemplate,
                selected: suggested,
            };
        }
        Action::Approve => {
            if !open_state(row) {
                warn(
                    state,
                    format!("#{id} is {}; it cannot be approved", row.req.state),
                );
                return vec![];
            }
            // Hard requirements no override can lift: the backend needs both.
            if row.req.workspace_id.is_none() || !row.req.workspace_verified {
                warn(state, "identify the workspace first (w: choose from the requester's workspaces, R: look up again)");
                return vec![];
            }
            if row.req.member_id.is_none() {
                warn(state, "the requester is no member of this workspace: link an account email (e) or reject (x)");
                return vec![];
            }
            // Items 1, 2 and 4 of the checklist take no typed reason: no
            // reason stands in for an owner/admin or the promised estimate.
            let hard: Vec<&str> = row
                .unmet_checks()
                .into_iter()
                .filter(|c| !c.overridable())
                .map(|c| c.label())
                .collect();
            if !hard.is_empty() {
                warn(
                    state,
                    format!("cannot approve, no override lifts: {}", hard.join("; ")),
                );
                return vec![];
            }
            // One export per workspace: a second one is an explicit choice.
            if let Some((other, what)) = state.live_export_for_workspace(id) {
                state.mode = Mode::Confirm(Confirm::ApproveDuplicate { id, other, what });
                return vec![];
            }
            approve_checklist(state, row);
        }
        Action::Resolve | Action::ChooseWorkspace | Action::AccountEmail if !open_state(row) => {
            warn(
                state,
                format!(
                    "#{id} is {}: its workspace and requester are fixed",
                    row.req.state
                ),
            );
        }
        Action::Resolve => {
            if let Some(r) = state.row_mut(id) {
                r.resolving = true;
            }
            return vec![Command::Resolve { id }];
        }
        Action::ChooseWorkspace => {
            let list: Vec<(String, String)> = row
                .req
                .memberships
                .iter()
                .map(|m| (m.workspace_id.clone(), m.workspace_name.clone()))
                .collect();
            if list.is_empty() {
                warn(
                    state,
                    "the requester has no workspaces on the backend (link an account email with e)",
                );
                return vec![];
            }
            state.mode = Mode::Pick {
                pick: Pick::Workspace(list),
                selected: 0,
            };
        }
        Action::AccountEmail => {
            let initial = row.req.account_email.clone().unwrap_or_default();
            open_input(state, InputPurpose::AccountEmail, &initial);
        }
        Action::OverrideAuth => {
            if AuthResult::of(&row.req.auth.dmarc) == AuthResult::Pass {
                say(state, "DMARC passed: nothing to override");
                return vec![];
            }
            open_input(state, InputPurpose::AuthOverride, "");
        }
        Action::CancelJob => {
            if !row.req.state.allows(domain::Action::Cancel) {
                warn(state, "no running export to cancel");
                return vec![];
            }
            state.mode = Mode::Confirm(Confirm::Cancel { id });
        }
        Action::RetryJob => {
            if !row.req.state.allows(domain::Action::Retry) {
                warn(state, "only a failed export can be retried");
                return vec![];
            }
            state.mode = Mode::Confirm(Confirm::Retry { id });
        }
        _ => {}
    }
    vec![]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::estimate::Rates;
    use crate::intake::Auth;
    use crate::store::requests::{JobSnap, Membership, Note, ReplySnap, RequestView, SizeSnap};
    use chrono::TimeZone;

    fn now() -> chrono::DateTime<chrono::Utc> {
        chrono::Utc
            .with_ymd_and_hms(2026, 11, 24, 10, 0, 0)
            .unwrap()
    }

    /// A fully resolved owner's request that meets every checklist item.
    fn ready(id: i64) -> RequestView {
        RequestView {
            id,
            message_id: format!("req-{id}@acme.example"),
            state: crate::domain::RequestState::New,
            subject: "Data export request: Acme Support".into(),
            from: Some("owner@acme.example".into()),
            from_name: Some("Ada Owner".into()),
            reply_to: None,
            account_email: Some("owner@acme.example".into()),
            received_at: "2026-11-23T09:14:05.000Z".into(),
            workspace_name: Some("Acme Support".into()),
            workspace_id: Some("3c9e4a57-1b7d-5f0e-9a2b-6d8c1e4f7a90".into()),
            workspace_verified: true,
            member_id: Some("11111111-1b7d-5f0e-9a2b-6d8c1e4f7a90".into()),
            role: Some(crate::domain::Role::Owner),
            memberships: vec![Membership {
                member_id: "11111111-1b7d-5f0e-9a2b-6d8c1e4f7a90".into(),
                workspace_id: "3c9e4a57-1b7d-5f0e-9a2b-6d8c1e4f7a90".into(),
                workspace_name: "Acme Support".into(),
                email: "owner@acme.example".into(),
                role: crate::domain::Role::Owner,
            }],
            size: Some(SizeSnap {
                messages: 12_000,
                customers: 900,
                attachment_bytes: 50_000_000,
                large_attachments: 1,
                ..SizeSnap::default()
            }),
            auth: Auth {
                dkim: "pass".into(),
                spf: "pass".into(),
                dmarc: "pass".into(),
                dmarc_domain: None,
            },
            warnings: vec![],
            auth_override: None,
            decision_reason: None,
            approval_override: None,
            idempotency_key: None,
            export_body: None,
            job: None,
            notes: vec![Note {
                author: "Sam".into(),
                text: "Scope: everything".into(),
                at: "2026-11-23T10:00:00Z".into(),
            }],
            replies: vec![],
            thread_len: 1,
        }
    }

    /// `update` without the thread loads that follow every selection (tested
    /// on their own below), so the tests read as the decisions they check.
    fn update(s: &mut State, m: Msg) -> Vec<Command> {
        super::update(s, m)
            .into_iter()
            .filter(|c| !matches!(c, Command::LoadThread { .. }))
            .collect()
    }

    #[test]
    fn the_selected_requests_thread_is_loaded_once_and_enter_zooms() {
        let mut s = state(vec![ready(1), ready(2)]);
        let cmds = super::update(&mut s, key('j'));
        let id = s.current().unwrap().req.id;
        assert_eq!(cmds, vec![Command::LoadThread { id }]);
        super::update(
            &mut s,
            Msg::Thread {
                id,
                messages: vec![],
            },
        );
        assert!(
            super::update(&mut s, Msg::Tick(now())).is_empty(),
            "loaded once"
        );
        assert!(!super::update(&mut s, code(KeyCode::Enter))
            .iter()
            .any(|c| matches!(c, Command::LoadThread { .. })));
        assert!(s.zoom);
        super::update(&mut s, code(KeyCode::Esc));
        assert!(!s.zoom);
    }

    fn state(reqs: Vec<RequestView>) -> State {
        State::new(reqs, Rates::default(), "Sam".into(), now())
    }

    fn key(c: char) -> Msg {
        Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
    }

    fn code(c: KeyCode) -> Msg {
        Msg::Key(KeyEvent::new(c, KeyModifiers::NONE))
    }

    fn ctrl(c: char) -> Msg {
        Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL))
    }

    fn typed(s: &mut State, text: &str) {
        for c in text.chars() {
            assert!(update(s, key(c)).is_empty());
        }
    }

    #[test]
    fn a_complete_checklist_approves_after_confirmation() {
        let mut s = state(vec![ready(1)]);
        assert_eq!(s.rows[0].tab, Tab::Ready);
        assert!(update(&mut s, key('a')).is_empty());
        assert!(matches!(
            s.mode,
            Mode::Confirm(Confirm::Approve {
                id: 1,
                override_reason: None
            })
        ));
        let cmds = update(&mut s, key('y'));
        assert_eq!(
            cmds,
            vec![Command::Approve {
                id: 1,
                override_reason: None,
                unmet: vec![]
            }]
        );
        assert!(s.is_pending(1));
        // While pending, a second approve is refused (never twice).
        assert!(update(&mut s, key('a')).is_empty());
        assert!(s.status.as_ref().unwrap().0.contains("busy"));
    }

    #[test]
    fn declining_the_confirmation_does_nothing() {
        let mut s = state(vec![ready(1)]);
        update(&mut s, key('a'));
        assert!(update(&mut s, key('n')).is_empty());
        assert!(s.mode.is_normal() && !s.is_pending(1));
    }

    #[test]
    fn each_unmet_gate_demands_a_typed_override() {
        type Change = Box<dyn Fn(&mut RequestView)>;
        let variants: Vec<(&str, Change)> = vec![
            (
                "Sender authenticated",
                Box::new(|r| r.auth.dmarc = "fail".into()),
            ),
            ("Scope-confirmation note", Box::new(|r| r.notes.clear())),
        ];
        for (label, change) in variants {
            let mut r = ready(1);
            change(&mut r);
            let mut s = state(vec![r]);
            assert_ne!(s.rows[0].tab, Tab::Ready, "{label}");
            update(&mut s, key('a'));
            assert!(
                matches!(
                    &s.mode,
                    Mode::Input {
                        purpose: InputPurpose::ApproveOverride,
                        ..
                    }
                ),
                "{label}"
            );
            // An empty or token reason is refused.
            update(&mut s, code(KeyCode::Enter));
            assert!(
                matches!(&s.mode, Mode::Input { error: Some(_), .. }),
                "{label}"
            );
            typed(&mut s, "customer called, verified by phone");
            update(&mut s, code(KeyCode::Enter));
            assert!(
                matches!(
                    &s.mode,
                    Mode::Confirm(Confirm::Approve {
                        override_reason: Some(_),
                        ..
                    })
                ),
                "{label}"
            );
            let cmds = update(&mut s, key('y'));
            match &cmds[..] {
                [Command::Approve {
                    override_reason: Some(reason),
                    unmet,
                    ..
                }] => {
                    assert_eq!(reason, "customer called, verified by phone");
                    assert_eq!(unmet.len(), 1, "{label}: {unmet:?}");
                    assert!(unmet[0].label().contains(label), "{label}: {unmet:?}");
                }
                other => panic!("{label}: {other:?}"),
            }
        }
    }

    #[test]
    fn pasted_text_is_sanitised_before_it_reaches_a_note_or_the_filter() {
        let hostile = "scope: all\u{1b}[31m red\u{1b}[0m\u{1b}]0;pwned\u{7}\u{202e}!";
        let mut s = state(vec![ready(1)]);
        update(&mut s, key('n'));
        assert!(update(&mut s, Msg::Paste(hostile.into())).is_empty());
        let Mode::Input { area, .. } = &s.mode else {
            panic!("{:?}", s.mode)
        };
        let text = area.lines().join("\n");
        assert_eq!(text, "scope: all red!");
        assert!(!text.contains('\u{1b}') && !text.contains("[31m") && !text.contains("pwned"));

        let mut s = state(vec![ready(1)]);
        update(&mut s, key('/'));
        update(&mut s, Msg::Paste("acme\u{1b}[2J\nsupport".into()));
        assert!(
            !s.filter.contains('\u{1b}') && !s.filter.contains("[2J"),
            "{:?}",
            s.filter
        );
        assert!(!s.filter.contains('\n'), "{:?}", s.filter);
    }

    #[test]
    fn no_typed_reason_lifts_the_owner_admin_or_specific_estimate_items() {
        type Change = Box<dyn Fn(&mut RequestView)>;
        let variants: Vec<(&str, Change)> = vec![
            (
                "Specific estimate sent",
                Box::new(|r| {
                    r.size = Some(SizeSnap {
                        messages: 2_100_000,
                        customers: 40_000,
                        ..SizeSnap::default()
                    })
                }),
            ),
            (
                "owner or admin",
                Box::new(|r| r.role = Some(crate::domain::Role::Agent)),
            ),
        ];
        for (label, change) in variants {
            let mut r = ready(1);
            change(&mut r);
            // Even with a fixable item open too, the hard one decides.
            r.notes.clear();
            let mut s = state(vec![r]);
            assert!(update(&mut s, key('a')).is_empty(), "{label}");
            assert!(s.mode.is_normal(), "{label}: {:?}", s.mode);
            let (said, is_error) = s.status.clone().unwrap();
            assert!(is_error && said.contains(label), "{label}: {said}");
        }
    }

    #[test]
    fn no_override_can_start_an_export_without_workspace_or_member() {
        let mut r = ready(1);
        r.workspace_verified = false;
        let mut s = state(vec![r]);
        assert!(update(&mut s, key('a')).is_empty());
        assert!(s.mode.is_normal());
        assert!(s
            .status
            .as_ref()
            .unwrap()
            .0
            .contains("identify the workspace"));

        let mut r = ready(1);
        r.member_id = None;
        r.role = None;
        let mut s = state(vec![r]);
        update(&mut s, key('a'));
        assert!(s.mode.is_normal());
        assert!(s.status.as_ref().unwrap().0.contains("no member"));
    }

    #[test]
    fn a_decided_request_cannot_be_approved_or_rejected_again() {
        use crate::domain::RequestState as S;
        for st in [S::Approved, S::Running, S::Done, S::Rejected] {
            let mut r = ready(1);
            r.state = st;
            let mut s = state(vec![r]);
            assert!(update(&mut s, key('a')).is_empty(), "{st}");
            assert!(s.mode.is_normal(), "{st}");
            assert!(update(&mut s, key('x')).is_empty(), "{st}");
            assert!(s.mode.is_normal(), "{st}");
        }
    }

    #[test]
    fn reject_needs_a_template_a_reason_and_a_confirmation() {
        let mut r = ready(1);
        r.role = Some(crate::domain::Role::Agent);
        let mut s = state(vec![r]);
        update(&mut s, key('x'));
        // The agent's request suggests "not an owner or admin".
        assert!(matches!(
            s.mode,
            Mode::Pick {
                pick: Pick::RejectTemplate,
                selected: 0
            }
        ));
        update(&mut s, code(KeyCode::Enter));
        assert!(matches!(
            &s.mode,
            Mode::Input {
                purpose: InputPurpose::RejectReason(Template::RejectNotOwnerOrAdmin),
                ..
            }
        ));
        update(&mut s, code(KeyCode::Enter));
        assert!(
            matches!(&s.mode, Mode::Input { error: Some(_), .. }),
            "empty reason accepted"
        );
        typed(&mut s, "agent, not admin");
        // The reason given, the reply is composed to be read before it goes.
        assert_eq!(
            update(&mut s, code(KeyCode::Enter)),
            vec![Command::ComposeRejection {
                id: 1,
                template: Template::RejectNotOwnerOrAdmin,
                reason: "agent, not admin".into()
            }]
        );
        update(
            &mut s,
            Msg::RejectionComposed {
                id: 1,
                template: Template::RejectNotOwnerOrAdmin,
                reason: "agent, not admin".into(),
                body: "Hello".into(),
            },
        );
        assert!(matches!(
            &s.mode,
            Mode::Input {
                purpose: InputPurpose::RejectBody { .. },
                ..
            }
        ));
        update(&mut s, ctrl('s'));
        let cmds = update(&mut s, key('y'));
        assert_eq!(
            cmds,
            vec![Command::Reject {
                id: 1,
                template: Template::RejectNotOwnerOrAdmin,
                reason: "agent, not admin".into(),
                body: "Hello".into()
            }]
        );
    }

    #[test]
    fn notes_are_multi_line_and_saved_with_ctrl_s() {
        let mut s = state(vec![ready(1)]);
        update(&mut s, key('n'));
        typed(&mut s, "Scope: all");
        update(&mut s, code(KeyCode::Enter));
        typed(&mut s, "incl. drafts");
        let cmds = update(&mut s, ctrl('s'));
        assert_eq!(
            cmds,
            vec![Command::AddNote {
                id: 1,
                text: "Scope: all\nincl. drafts".into()
            }]
        );
        // Esc asks once, a second Esc discards the draft.
        update(&mut s, key('n'));
        typed(&mut s, "oops");
        assert!(update(&mut s, code(KeyCode::Esc)).is_empty());
        assert!(!s.mode.is_normal());
        assert!(update(&mut s, code(KeyCode::Esc)).is_empty());
        assert!(s.mode.is_normal());
    }

    #[test]
    fn reply_flow_composes_edits_and_confirms() {
        let mut r = ready(1);
        r.size = Some(SizeSnap {
            messages: 2_100_000,
            customers: 40_000,
            ..SizeSnap::default()
        });
        let mut s = state(vec![r]);
        update(&mut s, key('r'));
        // Over 48 h: the specific estimate is suggested.
        assert!(matches!(
            s.mode,
            Mode::Pick {
                pick: Pick::ReplyTemplate,
                selected: 1
            }
        ));
        let cmds = update(&mut s, code(KeyCode::Enter));
        assert_eq!(
            cmds,
            vec![Command::ComposeReply {
                id: 1,
                template: Template::EstimateOver48h
            }]
        );
        update(
            &mut s,
            Msg::ReplyComposed {
                id: 1,
                template: Template::EstimateOver48h,
                body: "Hello Ada".into(),
            },
        );
        assert!(matches!(
            &s.mode,
            Mode::Input {
                purpose: InputPurpose::ReplyBody(Template::EstimateOver48h),
                ..
            }
        ));
        typed(&mut s, ", more");
        update(&mut s, ctrl('s'));
        let cmds = update(&mut s, key('y'));
        assert_eq!(
            cmds,
            vec![Command::SendReply {
                id: 1,
                template: Template::EstimateOver48h,
                body: "Hello Ada, more".into(),
                again: false,
            }]
        );
    }

    #[test]
    fn a_reply_with_a_leftover_placeholder_is_refused() {
        let mut s = state(vec![ready(1)]);
        update(
            &mut s,
            Msg::ReplyComposed {
                id: 1,
                template: Template::Acknowledgement,
                body: "Hi {{requester_name}}".into(),
            },
        );
        assert!(update(&mut s, ctrl('s')).is_empty());
        assert!(matches!(&s.mode, Mode::Input { error: Some(e), .. } if e.contains("placeholder")));
    }

    #[test]
    fn auth_override_needs_a_reason() {
        let mut r = ready(1);
        r.auth.dmarc = "fail".into();
        let mut s = state(vec![r]);
        update(&mut s, key('v'));
        typed(&mut s, "ok");
        assert!(update(&mut s, code(KeyCode::Enter)).is_empty());
        typed(&mut s, " - confirmed on a call");
        let cmds = update(&mut s, code(KeyCode::Enter));
        assert_eq!(
            cmds,
            vec![Command::OverrideAuth {
                id: 1,
                reason: "ok - confirmed on a call".into()
            }]
        );
    }

    #[test]
    fn account_email_and_workspace_choice() {
        let mut r = ready(1);
        r.workspace_verified = false;
        r.workspace_name = None;
        r.workspace_id = None;
        let mut s = state(vec![r]);
        update(&mut s, key('w'));
        let cmds = update(&mut s, code(KeyCode::Enter));
        assert_eq!(
            cmds,
            vec![Command::ChooseWorkspace {
                id: 1,
                workspace_id: "3c9e4a57-1b7d-5f0e-9a2b-6d8c1e4f7a90".into(),
                workspace_name: "Acme Support".into()
            }]
        );
        update(&mut s, key('e'));
        // Prefilled with the current account email: clear it first.
        for _ in 0..40 {
            update(&mut s, code(KeyCode::Backspace));
        }
        typed(&mut s, "not an address");
        assert!(update(&mut s, code(KeyCode::Enter)).is_empty());
        for _ in 0..40 {
            update(&mut s, code(KeyCode::Backspace));
        }
        typed(&mut s, "Owner@Acme.example");
        assert_eq!(
            update(&mut s, code(KeyCode::Enter)),
            vec![Command::SetAccountEmail {
                id: 1,
                email: "owner@acme.example".into()
            }]
        );
    }

    #[test]
    fn cancel_and_retry_only_where_they_apply() {
        let mut r = ready(1);
        r.state = crate::domain::RequestState::Running;
        r.job = Some(JobSnap {
            id: "j".into(),
            status: crate::domain::JobStatus::Running,
            phase: None,
            progress: 0.4,
            created_at: None,
            finished_at: None,
            emailed_at: None,
            deliver_to: None,
            link_expires_at: None,
            error: None,
        });
        let mut s = state(vec![r]);
        assert!(update(&mut s, key('t')).is_empty());
        assert!(s.mode.is_normal());
        update(&mut s, key('c'));
        assert_eq!(update(&mut s, key('y')), vec![Command::CancelJob { id: 1 }]);

        let mut r = ready(2);
        r.state = crate::domain::RequestState::Failed;
        let mut s = state(vec![r]);
        assert!(update(&mut s, key('c')).is_empty());
        update(&mut s, key('t'));
        assert_eq!(update(&mut s, key('y')), vec![Command::RetryJob { id: 2 }]);
        assert_eq!(
            s.rows[0].tab,
            Tab::Running,
            "a failed export still needs staff"
        );
    }

    #[test]
    fn a_second_export_for_a_workspace_needs_an_explicit_confirm() {
        // Request 2 of the same workspace is running: approving 1 asks first.
        let mut other = ready(2);
        other.state = crate::domain::RequestState::Running;
        let mut s = state(vec![ready(1), other.clone()]);
        let at = |s: &mut State, id: i64| {
            while s.current().map(|r| r.req.id) != Some(id) {
                update(s, key('j'));
            }
        };
        at(&mut s, 1);
        assert!(update(&mut s, key('a')).is_empty());
        assert!(
            matches!(
                s.mode,
                Mode::Confirm(Confirm::ApproveDuplicate {
                    id: 1,
                    other: 2,
                    ..
                })
            ),
            "{:?}",
            s.mode
        );
        if let Mode::Confirm(c) = &s.mode {
            assert!(
                c.question().contains("reject_duplicate"),
                "{}",
                c.question()
            );
        }
        assert!(
            update(&mut s, key('n')).is_empty(),
            "declined: nothing starts"
        );
        assert!(s.mode.is_normal());
        update(&mut s, key('a'));
        assert!(
            update(&mut s, key('y')).is_empty(),
            "yes leads to the approval itself"
        );
        assert!(matches!(
            s.mode,
            Mode::Confirm(Confirm::Approve { id: 1, .. })
        ));
        assert!(matches!(
            &update(&mut s, key('y'))[..],
            [Command::Approve { id: 1, .. }]
        ));

        // Emailed 3 days ago counts; 10 days ago (link expired) does not.
        for (days, asks) in [(3, true), (10, false)] {
            let mut done = ready(2);
            done.state = crate::domain::RequestState::Done;
            done.job = Some(JobSnap {
                id: "j".into(),
                status: crate::domain::JobStatus::Emailed,
                phase: None,
                progress: 1.0,
                created_at: None,
                finished_at: None,
                emailed_at: Some((now() - chrono::Duration::days(days)).to_rfc3339()),
                deliver_to: None,
                link_expires_at: None,
                error: None,
            });
            let mut s = state(vec![ready(1), done]);
            at(&mut s, 1);
            update(&mut s, key('a'));
            let asked = matches!(s.mode, Mode::Confirm(Confirm::ApproveDuplicate { .. }));
            assert_eq!(asked, asks, "emailed {days} days ago");
        }
    }

    #[test]
    fn a_cancelled_export_leaves_running_and_can_be_retried() {
        let mut r = ready(1);
        r.state = crate::domain::RequestState::Failed;
        r.job = Some(JobSnap {
            id: "j".into(),
            status: crate::domain::JobStatus::Cancelled,
            phase: None,
            progress: 0.4,
            created_at: None,
            finished_at: None,
            emailed_at: None,
            deliver_to: None,
            link_expires_at: None,
            error: None,
        });
        let mut s = state(vec![r]);
        assert_eq!(s.rows[0].tab, Tab::Done, "nothing runs any more");
        update(&mut s, key('t'));
        assert_eq!(update(&mut s, key('y')), vec![Command::RetryJob { id: 1 }]);
    }

    #[test]
    fn filter_tabs_and_sorting() {
        let mut a = ready(1);
        a.workspace_name = Some("Northwind".into());
        let mut b = ready(2);
        b.state = crate::domain::RequestState::Rejected;
        let mut c = ready(3);
        c.notes.clear();
        let mut s = state(vec![a, b, c]);
        assert_eq!(s.visible.len(), 3);
        assert_eq!(
            s.tab_counts[Tab::ALL.iter().position(|t| *t == Tab::Rejected).unwrap()],
            1
        );
        update(&mut s, key('/'));
        typed(&mut s, "north");
        assert_eq!(s.visible.len(), 1);
        assert_eq!(s.current().unwrap().req.id, 1);
        update(&mut s, code(KeyCode::Esc));
        assert_eq!(s.visible.len(), 3);
        update(&mut s, key('6'));
        assert_eq!(s.tab, Tab::Done);
        assert!(s.visible.is_empty());
        update(&mut s, key('7'));
        assert_eq!(s.current().unwrap().req.id, 2);
        update(&mut s, code(KeyCode::Tab));
        assert_eq!(s.tab, Tab::All);
        update(&mut s, key('s'));
        assert_eq!(s.sort, super::super::state::Sort::Newest);
        update(&mut s, key('G'));
        assert_eq!(s.selected, 2);
        update(&mut s, key('k'));
        assert_eq!(s.selected, 1);
        update(&mut s, key('g'));
        assert_eq!(s.selected, 0);
    }

    #[test]
    fn new_requests_from_the_inbox_are_looked_up() {
        let mut s = state(vec![]);
        let mut r = ready(5);
        r.workspace_verified = false;
        r.account_email = None;
        let cmds = update(&mut s, Msg::Requests(vec![r]));
        assert_eq!(cmds, vec![Command::Resolve { id: 5 }]);
        assert!(s.rows[0].resolving);
        let cmds = update(
            &mut s,
            Msg::Resolved {
                id: 5,
                result: Err("unreachable".into()),
            },
        );
        assert!(cmds.is_empty() && !s.rows[0].resolving);
        assert!(s.status.as_ref().unwrap().1);
        // The next tick tries again (the backend may be back), once.
        assert_eq!(
            update(&mut s, Msg::Tick(now())),
            vec![Command::Resolve { id: 5 }]
        );
        assert!(update(&mut s, Msg::Tick(now())).is_empty());
    }

    #[test]
    fn job_updates_are_saved_and_the_specific_estimate_unlocks_approval() {
        let mut r = ready(1);
        r.size = Some(SizeSnap {
            messages: 2_100_000,
            customers: 40_000,
            ..SizeSnap::default()
        });
        let mut s = state(vec![r.clone()]);
        assert_ne!(s.rows[0].tab, Tab::Ready);
        r.replies.push(ReplySnap {
            id: 1,
            template: "estimate_over_48h".into(),
            state: crate::domain::ReplyState::Sent,
            to: "owner@acme.example".into(),
            at: String::new(),
        });
        update(&mut s, Msg::RequestUpdated(r));
        assert_eq!(s.rows[0].tab, Tab::Ready);
        let job = JobSnap {
            id: "j".into(),
            status: crate::domain::JobStatus::Emailed,
            phase: None,
            progress: 1.0,
            created_at: None,
            finished_at: None,
            emailed_at: None,
            deliver_to: None,
            link_expires_at: None,
            error: None,
        };
        assert_eq!(
            update(
                &mut s,
                Msg::Job {
                    id: 1,
                    job: job.clone()
                }
            ),
            vec![Command::SaveJob { id: 1, job }]
        );
    }

    #[test]
    fn esc_on_a_typed_note_asks_once_then_discards() {
        let mut s = state(vec![ready(1)]);
        update(&mut s, key('n'));
        assert!(matches!(s.mode, Mode::Input { .. }));
        // An empty note closes at once.
        update(&mut s, code(KeyCode::Esc));
        assert!(s.mode.is_normal());
        update(&mut s, key('n'));
        for c in "scope ok".chars() {
            update(&mut s, key(c));
        }
        update(&mut s, code(KeyCode::Esc));
        match &s.mode {
            Mode::Input { area, error, .. } => {
                assert_eq!(area.lines().join(""), "scope ok", "the text is kept");
                assert_eq!(error.as_deref(), Some(DISCARD_QUESTION));
            }
            other => panic!("the first Esc closed the note: {other:?}"),
        }
        update(&mut s, code(KeyCode::Esc));
        assert!(s.mode.is_normal(), "the second Esc discards");
    }

    #[test]
    fn a_finished_job_is_announced_once_and_replaces_the_starting_message() {
        let mut s = state(vec![ready(1)]);
        say(&mut s, "#1: approved: the export is starting");
        let job = |status| JobSnap {
            id: "j".into(),
            status,
            phase: None,
            progress: 1.0,
            created_at: None,
            finished_at: None,
            emailed_at: None,
            deliver_to: Some("o***@acme.example".into()),
            link_expires_at: None,
            error: None,
        };
        update(
            &mut s,
            Msg::Job {
                id: 1,
                job: job(crate::domain::JobStatus::Running),
            },
        );
        assert_eq!(
            s.status.as_ref().unwrap().0,
            "#1: approved: the export is starting"
        );
        update(
            &mut s,
            Msg::Job {
                id: 1,
                job: job(crate::domain::JobStatus::Emailed),
            },
        );
        let (text, bad) = s.status.clone().unwrap();
        assert_eq!(
            text,
            "#1: export finished; the link was emailed to o***@acme.example"
        );
        assert!(!bad);
        // Once the row knows it, the same status again says nothing new.
        s.rows[0].req.job = Some(job(crate::domain::JobStatus::Emailed));
        say(&mut s, "something else");
        update(
            &mut s,
            Msg::Job {
                id: 1,
                job: job(crate::domain::JobStatus::Emailed),
            },
        );
        assert_eq!(s.status.as_ref().unwrap().0, "something else");
    }

    #[test]
    fn page_keys_move_by_what_fits_on_screen() {
        let mut s = state((1..=30).map(ready).collect());
        s.page = 7; // as the renderer found it
        update(&mut s, code(KeyCode::PageDown));
        assert_eq!(s.selected, 7);
        update(&mut s, code(KeyCode::PageDown));
        update(&mut s, code(KeyCode::PageUp));
        assert_eq!(s.selected, 7);
    }

    #[test]
    fn help_and_quit() {
        let mut s = state(vec![ready(1)]);
        update(&mut s, key('?'));
        assert!(matches!(s.mode, Mode::Help));
        update(&mut s, key('x'));
        assert!(s.mode.is_normal(), "any key closes the help");
        update(&mut s, key('q'));
        assert!(s.quit);
    }

    #[test]
    fn quitting_while_an_export_runs_asks_first() {
        let mut r = ready(1);
        r.state = crate::domain::RequestState::Running;
        let mut s = state(vec![r]);
        update(&mut s, key('q'));
        assert!(!s.quit);
        assert!(matches!(
            s.mode,
            Mode::Confirm(Confirm::Quit { running: 1 })
        ));
        update(&mut s, key('n'));
        assert!(!s.quit && s.mode.is_normal());
        let ctrl_c = || Msg::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
        update(&mut s, ctrl_c());
        assert!(!s.quit, "Ctrl-C asks too");
        update(&mut s, ctrl_c());
        assert!(s.quit, "a second Ctrl-C quits");
        let mut s = state(vec![ready(1)]);
        update(&mut s, key('q'));
        assert!(s.quit, "nothing running: no question");
    }
}

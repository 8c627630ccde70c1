//! `update(state, msg) -> commands`: every decision the screen makes, with
//! no I/O, so each is tested with plain values.

use super::keys::{Action, Scope};
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
    let mut area = text_area(initial);
    // A reply to read before it goes opens at its greeting, not scrolled
    // to its signature (the greeting was out of sight at 80×24).
    if matches!(
        purpose,
        InputPurpose::ReplyBody(_) | InputPurpose::RejectBody { .. }
    ) {
        area.move_cursor(ratatui_textarea::CursorMove::Top);
        area.move_cursor(ratatui_textarea::CursorMove::Head);
    }
    state.mode = Mode::Input {
        purpose,
        area,
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
            let ids: Vec<i64> = reqs.iter().map(|r| r.id).collect();
            for req in reqs {
                // NOTE: the change feed may have shown the row already; a
                // row nobody is looking up yet still is "new" here.
                let new = state.row_mut(req.id).is_none_or(|r| {
                    !r.resolving && !r.lookup_failed && r.req.memberships.is_empty()
                });
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
            let unread: Vec<String> = state
                .rows
                .iter()
                .filter(|r| ids.contains(&r.req.id) && r.req.seen.unread(&state.operator) > 0)
                .map(|r| format!("#{}", r.req.id))
                .collect();
            if !unread.is_empty() {
                say(
                    state,
                    format!(
                        "the customer wrote again on {} (✉ in the queue)",
                        unread.join(", ")
                    ),
                );
            } else if n > 0 {
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
        Msg::Store(h) => {
            state.store = h;
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
                    // Said when the operator asked (`R`, `e`, `w`: the
                    // status says "#id: … looking up …"); the lookups of
                    // new mail stay quiet.
                    let asked = state.status.as_ref().is_some_and(|(s, _)| {
                        s.starts_with(&format!("#{id}: ")) && s.contains("looking up")
                    });
                    if asked {
                        say(state, format!("#{id}: {}", found(&resolution)));
                    }
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
        Msg::Stale { id, what, text } => {
            clear_pending(state, id);
            state.action_seen = None;
            // Review: the request as it is now is selected (the runtime
            // sent its fresh copy first) and its thread reloaded.
            if let Some(pos) = state
                .visible
                .iter()
                .position(|&i| state.rows[i].req.id == id)
            {
                move_to(state, pos);
            }
            warn(state, format!("#{id}: {what} stopped: {text}"));
            vec![Command::LoadThread { id }]
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
        Msg::Changed(changes) => live::changed(state, changes),
        Msg::Presence(others) => live::presence(state, others),
        Msg::EditorFailed(error) => {
            warn(state, format!("$EDITOR: {error}"));
            vec![]
        }
        Msg::Outbox(mails) => {
            state.outbox = mails;
            vec![]
        }
        Msg::Thread { id, messages } => {
            // NOTE: asked once per thread shown (a new id, or a message
            // more): the store's answer reloads the thread, and a store
            // that did not record it (another operator name) must not
            // start an endless mark-reload loop.
            let grown = state
                .thread
                .as_ref()
                .is_none_or(|(t, m)| *t != id || m.len() != messages.len());
            state.thread = Some((id, messages));
            // Shown in the detail pane: the customer's follow-ups are read.
            let unread = grown
                && state
                    .current()
                    .filter(|r| r.req.id == id)
                    .is_some_and(|r| r.req.seen.unread(&state.operator) > 0);
            if unread {
                return vec![Command::MarkSeen { id }];
            }
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
            match state.keys.action_in(Scope::Popup, k) {
                Some(Action::No) => {}
                // The key that opened it closes it too.
                _ if state.keys.action(k) == Some(Action::Outbox) => {}
                Some(Action::ItemDown) => {
                    state.mode = Mode::Outbox {
                        selected: (selected + 1).min(n.saturating_sub(1)),
                    }
                }
                Some(Action::ItemUp) => {
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
        Mode::Pick { pick, selected } => on_pick_key(state, k, pick, selected),
        Mode::Confirm(c) => match state.keys.action_in(Scope::Popup, k) {
            Some(Action::Yes) => confirmed(state, c),
            Some(Action::No) => {
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
            let act = state.keys.action_in(Scope::Editor, k);
            let submit =
                act == Some(Action::Save) || (!purpose.multi_line() && k.code == KeyCode::Enter);
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
        Action::Mine => {
            state.mine = !state.mine;
            state.refilter();
            say(
                state,
                if state.mine {
                    "Mine: only the requests you hold"
                } else {
                    "all requests"
                },
            );
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
/// `force`: a second export of the workspace was confirmed already.
pub(super) fn approve_checklist(state: &mut State, row: &Row, force: bool) {
    if row.unmet().is_empty() {
        state.mode = Mode::Confirm(Confirm::Approve {
            id: row.req.id,
            override_reason: None,
            force,
        });
    } else {
        open_input(state, InputPurpose::ApproveOverride { force }, "");
        warn(state, format!("unmet: {}", row.unmet().join("; ")));
    }
}

/// What a lookup found, in words for the status line.
fn found(r: &crate::store::requests::Resolution) -> String {
    let Some((ws_id, name)) = &r.workspace else {
        return format!(
            "looked up: {} workspace(s) for {}, none identified (w: choose one)",
            r.memberships.len(),
            r.account_email
        );
    };
    let role = r
        .memberships
        .iter()
        .find(|m| &m.workspace_id == ws_id)
        .map_or("no member".to_string(), |m| m.role.to_string());
    format!("looked up: {name}, {} is {role}", r.account_email)
}

fn open_state(row: &Row) -> bool {
    row.req.state.is_open()
}

fn on_request_action(state: &mut State, action: Action, row: &Row) -> Vec<Command> {
    let id = row.req.id;
    // Whatever this key starts (a pick, a text, a question) acts on the
    // version on screen now, not on one that arrives while it is open.
    state.action_seen = Some((id, row.req.version));
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
            approve_checklist(state, row, false);
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
            say(
                state,
                format!("#{id}: looking up the requester and workspace again"),
            );
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
        Action::Claim => return claim(state, row),
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

/// `m`: takes an unheld request, gives one's own back, and asks before
/// taking a colleague's (the store refuses if the holder changed meanwhile).
fn claim(state: &mut State, row: &Row) -> Vec<Command> {
    let id = row.req.id;
    match (&row.req.claimed_by, &row.req.claimed_by_name) {
        (None, _) => vec![Command::Claim {
            id,
            holder_seen: None,
        }],
        (Some(by), _) if *by == state.operator_id => vec![Command::Release { id }],
        (Some(by), name) => {
            state.mode = Mode::Confirm(Confirm::TakeOver {
                id,
                holder: name.clone().unwrap_or_else(|| by.clone()),
                holder_id: by.clone(),
            });
            vec![]
        }
    }
}

pub(crate) mod live;
mod popups;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_flows;

use popups::*;

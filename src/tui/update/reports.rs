//! What workers and the store report back (lookups, jobs, replies, a
//! thread, the stats), as `update` decides about it.

use super::*;

/// A worker's or the store's report (every `Msg` but keys, paste and the
/// team's live feed).
pub(super) fn on_report(state: &mut State, msg: Msg) -> Vec<Command> {
    match msg {
        Msg::Tick(now) => on_tick(state, now),
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
        Msg::Requests(reqs) => on_requests(state, reqs),
        Msg::Inbox(h) => {
            // Back after an outage: a reply sent meanwhile could not be
            // filed (`\Answered`, the Sent copy); file it now rather than
            // at the next start.
            let back = matches!(state.inbox, Health::Down(_)) && matches!(h, Health::Up(_));
            state.inbox = h;
            if back {
                vec![Command::FilePending]
            } else {
                vec![]
            }
        }
        Msg::Backend(h) => {
            state.backend = h;
            vec![]
        }
        Msg::DemoResumed { at } => {
            say(
                state,
                format!("the demo was resumed: following its backend at {at}"),
            );
            vec![]
        }
        Msg::Store(h) => {
            // Back after an outage: presence moves announced meanwhile may
            // be lost to this screen (a colleague who quit then stayed
            // listed), so read who is where again.
            let back = matches!(state.store, Health::Down(_)) && matches!(h, Health::Up(_));
            state.store = h;
            if back {
                vec![Command::LoadPresence]
            } else {
                vec![]
            }
        }
        Msg::Resolved { id, result } => on_resolved(state, id, result),
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
        Msg::EditorFailed(error) => {
            warn(state, format!("$EDITOR: {error}"));
            vec![]
        }
        Msg::Outbox(mails) => {
            state.outbox = mails;
            vec![]
        }
        Msg::Thread { id, messages } => on_thread(state, id, messages),
        Msg::Stats { days, result } => {
            if let Mode::Stats(m) = &mut state.mode {
                m.loaded(days, result);
            }
            vec![]
        }
        Msg::Key(_)
        | Msg::Paste(_)
        | Msg::Resize
        | Msg::Edited(_)
        | Msg::Changed(_)
        | Msg::Presence(_)
        | Msg::Operators(_)
        | Msg::Lease { .. } => vec![],
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

/// The clock moved: lookups that failed while the backend was down are
/// tried again, a few per tick.
fn on_tick(state: &mut State, now: chrono::DateTime<chrono::Utc>) -> Vec<Command> {
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

/// New or grown requests from this screen's inbox poller.
fn on_requests(state: &mut State, reqs: Vec<crate::store::requests::RequestView>) -> Vec<Command> {
    let mut cmds = Vec::new();
    let n = reqs.len();
    let ids: Vec<i64> = reqs.iter().map(|r| r.id).collect();
    for req in reqs {
        // NOTE: the change feed may have shown the row already; a
        // row nobody is looking up yet still is "new" here.
        let new = state
            .row_mut(req.id)
            .is_none_or(|r| !r.resolving && !r.lookup_failed && r.req.memberships.is_empty());
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
        .filter(|r| ids.contains(&r.req.id) && r.req.seen.unread(&state.operator_id) > 0)
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

/// The backend's answer about a request's requester and workspace.
fn on_resolved(
    state: &mut State,
    id: i64,
    result: Result<crate::store::requests::Resolution, String>,
) -> Vec<Command> {
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

/// A request's thread from the store, for the detail pane.
fn on_thread(
    state: &mut State,
    id: i64,
    messages: Vec<crate::store::requests::ThreadMessage>,
) -> Vec<Command> {
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
            .is_some_and(|r| r.req.seen.unread(&state.operator_id) > 0);
    if unread {
        return vec![Command::MarkSeen { id }];
    }
    vec![]
}

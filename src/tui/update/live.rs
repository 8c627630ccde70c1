//! Team mode in `update`: what the screen does when the store says that
//! another screen (or process) changed something.

use super::{say, warn, Command, State};
use crate::store::changes::Change;
use crate::store::presence::{Activity, Presence};
use crate::tui::state::{Confirm, InputPurpose, Mode};

/// What this screen is doing, for its presence entry: the selected request
/// and whether a note, reply or rejection is being written for it.
pub fn presence_of(state: &State) -> (Option<i64>, Activity) {
    let activity = match &state.mode {
        Mode::Input { purpose, .. } => match purpose {
            InputPurpose::Note => Activity::WritingNote,
            InputPurpose::ReplyBody(_) => Activity::WritingReply,
            InputPurpose::RejectReason(_) | InputPurpose::RejectBody { .. } => {
                Activity::WritingRejection
            }
            _ => Activity::Viewing,
        },
        // Still writing until it is sent: the question before sending is
        // the moment a colleague most needs to see it (seen in the demo,
        // where the other screen said "viewing").
        Mode::Confirm(Confirm::SendReply { .. }) => Activity::WritingReply,
        Mode::Confirm(Confirm::Reject { .. }) => Activity::WritingRejection,
        _ => Activity::Viewing,
    };
    (state.current().map(|r| r.req.id), activity)
}

/// The other screens as they stand; two screens with this operator's name
/// are told so (their notes and claims would look like one person's).
pub(super) fn presence(state: &mut State, others: Vec<Presence>) -> Vec<Command> {
    let twin = others.iter().any(|p| p.operator == state.operator);
    let was_twin = state.others.iter().any(|p| p.operator == state.operator);
    state.others = others;
    if twin && !was_twin {
        warn(
            state,
            format!(
                "another Concierge is open as {} too: set [operator] to tell you apart",
                state.operator
            ),
        );
    }
    vec![]
}

/// Reloads only the requests the changes name (the open detail's thread
/// follows from `RequestUpdated`), and says what another operator did to
/// the selected request (not the inbox's doing: the poller's screen says
/// that already, and every poll would hide the line).
pub(super) fn changed(state: &mut State, changes: Vec<Change>) -> Vec<Command> {
    // Presence moves are read from `presence`; the request row is unchanged.
    let presence = changes.iter().any(|c| c.kind == "presence");
    let mut ids: Vec<i64> = changes
        .iter()
        .filter(|c| c.kind != "presence")
        .filter_map(|c| c.request_id)
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let current = state.current().map(|r| r.req.id);
    // A warning (a collision stop saying what changed, a failure) stays
    // until the operator clears it with Esc: the colleague's next change
    // ("export progress by Kim", seen in tmux) used to replace the only
    // line that said why nothing happened.
    let warning_shown = matches!(state.status, Some((_, true)));
    if let Some(c) = changes.iter().rev().filter(|_| !warning_shown).find(|c| {
        c.request_id.is_some()
            && c.request_id == current
            && c.actor != state.operator_id
            && c.actor != "intake"
            && c.kind != "presence"
    }) {
        // The feed names the operator's id (an address); the screen says
        // the name they chose (`App` sends `Msg::Operators` first).
        let line = format!(
            "#{}: {} by {}",
            c.request_id.unwrap_or_default(),
            what(&c.kind),
            state.name_of(&c.actor)
        );
        say(state, line);
    }
    let mut cmds = Vec::new();
    if !ids.is_empty() {
        cmds.push(Command::Reload { ids });
    }
    if presence {
        cmds.push(Command::LoadPresence);
    }
    cmds
}

/// The poller's lease changed hands: its new holder looks up every open
/// request the backend has not been asked about yet (the other screens
/// see the answers through the change feed, so each lookup is made, and
/// its `request.resolved` audited, once).
pub(super) fn lease(state: &mut State, mine: bool) -> Vec<Command> {
    if !mine {
        return vec![];
    }
    let ids: Vec<i64> = state
        .rows
        .iter()
        .filter(|r| needs_lookup(r))
        .map(|r| r.req.id)
        .collect();
    for &id in &ids {
        if let Some(r) = state.row_mut(id) {
            r.resolving = true;
        }
    }
    ids.into_iter().map(|id| Command::Resolve { id }).collect()
}

/// An open request the backend was never asked about, and no lookup of
/// it is in flight here.
pub fn needs_lookup(r: &crate::tui::state::Row) -> bool {
    !r.req.workspace_verified
        && r.req.memberships.is_empty()
        && r.req.state.is_open()
        && !r.resolving
        && !r.lookup_failed
}

/// A change's kind in words.
fn what(kind: &str) -> String {
    match kind {
        "note.added" => "note added".into(),
        "request.approved" => "approved".into(),
        "request.rejected" => "rejected".into(),
        "reply.sending" | "reply.sent" => "reply sent".into(),
        "reply.failed" => "reply failed".into(),
        "job.status" => "export progress".into(),
        "message.attached" => "the customer wrote again".into(),
        "request.claimed" => "taken".into(),
        "request.released" => "given back".into(),
        "job.cancel" => "export cancel asked".into(),
        other => other.replace(['.', '_'], " "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::changes::Change;
    use crate::tui::update::tests::{ready, state};

    fn change(seq: i64, id: Option<i64>, kind: &str, actor: &str) -> Change {
        Change {
            seq,
            request_id: id,
            kind: kind.into(),
            actor: actor.into(),
            at: crate::time::parse("2026-11-30T01:00:00.000Z").ok(),
        }
    }

    #[test]
    fn only_the_named_requests_are_reloaded_once_each() {
        let mut s = state(vec![ready(1), ready(2), ready(3)]);
        let cmds = changed(
            &mut s,
            vec![
                change(1, Some(3), "note.added", "Kim"),
                change(2, Some(1), "job.status", "Kim"),
                change(3, Some(3), "reply.sent", "Kim"),
                change(4, None, "poller", "Kim"),
                change(5, Some(2), "presence", "Kim"),
            ],
        );
        assert_eq!(
            cmds,
            vec![Command::Reload { ids: vec![1, 3] }, Command::LoadPresence]
        );
    }

    fn entry(operator: &str, id: i64, activity: Activity) -> Presence {
        Presence {
            session: format!("{operator}-1"),
            operator: operator.into(),
            request_id: Some(id),
            activity,
        }
    }

    #[test]
    fn writing_a_note_or_a_reply_is_what_others_see() {
        let mut s = state(vec![ready(1), ready(2)]);
        let id = s.current().unwrap().req.id;
        assert_eq!(presence_of(&s), (Some(id), Activity::Viewing));
        crate::tui::update::update(&mut s, crate::tui::update::tests::key('n'));
        assert_eq!(presence_of(&s), (Some(id), Activity::WritingNote));
    }

    #[test]
    fn a_second_screen_with_the_same_name_is_told_once() {
        let mut s = state(vec![ready(1)]);
        presence(&mut s, vec![entry("Kim", 1, Activity::WritingReply)]);
        assert_eq!(s.status, None);
        assert_eq!(s.others_on(1).count(), 1);
        let me = s.operator.clone();
        presence(&mut s, vec![entry(&me, 1, Activity::Viewing)]);
        let (text, is_warning) = s.status.clone().unwrap();
        assert!(is_warning && text.contains("open as Sam too"), "{text}");
        s.status = None;
        presence(&mut s, vec![entry(&me, 1, Activity::Viewing)]);
        assert_eq!(s.status, None, "said once, not on every heartbeat");
    }

    #[test]
    fn another_operators_change_to_the_selected_request_is_said() {
        let mut s = state(vec![ready(1), ready(2)]);
        let (id, me) = (s.current().unwrap().req.id, s.operator.clone());
        changed(&mut s, vec![change(1, Some(id), "note.added", &me)]);
        assert_eq!(s.status, None, "one's own change is not announced");
        changed(&mut s, vec![change(2, Some(id), "note.added", "Kim")]);
        assert_eq!(s.status, Some((format!("#{id}: note added by Kim"), false)));
    }

    #[test]
    fn a_stop_stays_on_the_status_line_while_colleagues_go_on() {
        let mut s = state(vec![ready(1), ready(2)]);
        let id = s.current().unwrap().req.id;
        crate::tui::update::update(
            &mut s,
            crate::tui::msg::Msg::Stale {
                id,
                what: "approval".into(),
                text: "Kim approved it 1 s ago".into(),
            },
        );
        let stop = s.status.clone().unwrap();
        assert!(stop.1 && stop.0.contains("Kim approved it"), "{stop:?}");
        let cmds = changed(&mut s, vec![change(3, Some(id), "job.status", "Kim")]);
        assert_eq!(s.status, Some(stop), "the stop is not replaced");
        assert_eq!(
            cmds,
            vec![Command::Reload { ids: vec![id] }],
            "still reloaded"
        );
    }

    fn unresolved(id: i64) -> crate::store::requests::RequestView {
        let mut r = ready(id);
        r.workspace_verified = false;
        r.memberships.clear();
        r.account_email = None;
        r
    }

    #[test]
    fn the_poller_looks_up_what_nobody_has_once_and_the_others_do_not() {
        let mut decided = unresolved(3);
        decided.state = crate::domain::RequestState::Rejected;
        let mut s = state(vec![unresolved(1), ready(2), decided, unresolved(4)]);
        assert!(lease(&mut s, false).is_empty(), "not the poller: no lookup");
        assert!(s.rows.iter().all(|r| !r.resolving));
        assert_eq!(
            lease(&mut s, true),
            vec![Command::Resolve { id: 1 }, Command::Resolve { id: 4 }]
        );
        assert!(s.row_mut(1).unwrap().resolving, "the spinner shows it");
        // The lease comes back (a takeover): what is in flight is not asked twice.
        assert!(lease(&mut s, true).is_empty());
    }

    #[test]
    fn a_colleague_is_named_by_name_even_one_this_screen_had_not_heard_of() {
        let mut s = state(vec![ready(1)]);
        let id = s.current().unwrap().req.id;
        changed(
            &mut s,
            vec![change(1, Some(id), "note.added", "kim@ochrehq.com")],
        );
        assert_eq!(
            s.status,
            Some((format!("#{id}: note added by kim@ochrehq.com"), false)),
            "unknown: the id, rather than nothing"
        );
        // The feed reads the operators table first (`Msg::Operators`).
        crate::tui::update::update(
            &mut s,
            crate::tui::msg::Msg::Operators(
                [("kim@ochrehq.com".to_string(), "Kim".to_string())].into(),
            ),
        );
        changed(
            &mut s,
            vec![change(2, Some(id), "note.added", "kim@ochrehq.com")],
        );
        assert_eq!(s.status, Some((format!("#{id}: note added by Kim"), false)));
    }
}

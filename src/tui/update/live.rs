//! Team mode in `update`: what the screen does when the store says that
//! another screen (or process) changed something.

use super::{say, Command, State};
use crate::store::changes::Change;

/// Reloads only the requests the changes name (the open detail's thread
/// follows from `RequestUpdated`), and says what another operator did to
/// the selected request.
pub(super) fn changed(state: &mut State, changes: Vec<Change>) -> Vec<Command> {
    let mut ids: Vec<i64> = changes.iter().filter_map(|c| c.request_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let current = state.current().map(|r| r.req.id);
    if let Some(c) = changes
        .iter()
        .rev()
        .find(|c| c.request_id.is_some() && c.request_id == current && c.actor != state.operator)
    {
        say(
            state,
            format!(
                "#{}: {} by {}",
                c.request_id.unwrap_or_default(),
                what(&c.kind),
                c.actor
            ),
        );
    }
    if ids.is_empty() {
        return vec![];
    }
    vec![Command::Reload { ids }]
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
            at: "2026-11-30T01:00:00.000Z".into(),
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
            ],
        );
        assert_eq!(cmds, vec![Command::Reload { ids: vec![1, 3] }]);
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
}

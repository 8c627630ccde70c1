//! What a key does to the selected request: notes, replies, decisions,
//! lookups, the export, claims.

use super::*;

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

fn open_state(row: &Row) -> bool {
    row.req.state.is_open()
}

pub(super) fn on_request_action(state: &mut State, action: Action, row: &Row) -> Vec<Command> {
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
        Action::Approve => approve(state, row),
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

/// `a`: what stands between the request and its export, else the question.
fn approve(state: &mut State, row: &Row) {
    let id = row.req.id;
    if !open_state(row) {
        warn(
            state,
            format!("#{id} is {}; it cannot be approved", row.req.state),
        );
        return;
    }
    // Hard requirements no override can lift: the backend needs both.
    if row.req.workspace_id.is_none() || !row.req.workspace_verified {
        warn(state, "identify the workspace first (w: choose from the requester's workspaces, R: look up again)");
        return;
    }
    if row.req.member_id.is_none() {
        warn(
            state,
            "the requester is no member of this workspace: link an account email (e) or reject (x)",
        );
        return;
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
        return;
    }
    // One export per workspace: a second one is an explicit choice.
    if let Some((other, what)) = state.live_export_for_workspace(id) {
        state.mode = Mode::Confirm(Confirm::ApproveDuplicate { id, other, what });
        return;
    }
    approve_checklist(state, row, false);
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

//! What staff decide about a request: what the backend found (account,
//! workspace), notes, overrides, approval and rejection. Each is one
//! transaction with its audit entry and change record ([`Store::audited`]),
//! checked against the state ([`super::requests::ensure_allows`]) and, where
//! a colleague's change would make it wrong, the version the operator saw
//! ([`super::team`]).

use super::db::{params, Tx};
use super::requests::{ensure_allows, ensure_open, Resolution};
use super::team::{bump, check_version, Seen};
use super::{audit, now, Store};
use crate::domain::{Action, Check, StoreError};
use anyhow::{bail, Result};

/// Who and what would be exported: a lookup that changes these bumps the
/// version.
type LinkFacts = (
    Option<String>,
    Option<String>,
    bool,
    Option<String>,
    Option<String>,
);

fn link_facts(tx: &Tx<'_>, id: i64) -> Result<LinkFacts> {
    tx.query_row(
        "SELECT account_email, workspace_id, workspace_verified, member_id, role FROM requests WHERE id = ?1",
        params![id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
    )
}

impl Store {
    /// Records what the backend says about the requester and the workspace.
    pub fn set_resolution(&mut self, id: i64, res: &Resolution, actor: &str) -> Result<()> {
        let tx = self.conn.transaction()?;
        ensure_open(&tx, id)?;
        let before = link_facts(&tx, id)?;
        let (ws_id, ws_name) = match &res.workspace {
            Some((i, n)) => (Some(i.clone()), Some(n.clone())),
            None => (None, None),
        };
        let member = ws_id
            .as_ref()
            .and_then(|w| res.memberships.iter().find(|m| &m.workspace_id == w));
        tx.execute(
            "UPDATE requests SET account_email = ?2, memberships = ?3,
               workspace_id = COALESCE(?4, workspace_id), workspace_name = COALESCE(?5, workspace_name),
               workspace_verified = ?6, member_id = ?7, role = ?8, size = COALESCE(?9, size), updated_at = ?10
             WHERE id = ?1",
            params![
                id,
                res.account_email,
                serde_json::to_string(&res.memberships)?,
                ws_id,
                ws_name,
                ws_id.is_some(),
                member.map(|m| m.member_id.clone()),
                member.map(|m| m.role),
                res.size.map(|s| serde_json::to_string(&s)).transpose()?,
                now()
            ],
        )?;
        // Every open screen runs lookups: only one that changed who or what
        // would be exported is a change a colleague's action depends on.
        if link_facts(&tx, id)? != before {
            bump(
                &tx,
                id,
                "request.resolved",
                actor,
                "linked the account and workspace the backend found",
            )?;
        } else {
            super::changes::record(&tx, Some(id), "request.resolved", actor)?;
        }
        audit::append_tx(
            &tx,
            actor,
            "request.resolved",
            &format!("request:{id}"),
            &serde_json::json!({
                "account_email": res.account_email,
                "workspace": res.workspace,
                "role": member.map(|m| m.role),
            }),
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Points the request at a workspace staff chose (verified by the next
    /// resolve against the backend).
    pub fn set_workspace(
        &mut self,
        id: i64,
        workspace_id: &str,
        workspace_name: &str,
        actor: &str,
        seen: Seen,
    ) -> Result<()> {
        let detail =
            serde_json::json!({ "workspace_id": workspace_id, "workspace_name": workspace_name });
        let what = format!("linked the workspace {workspace_name}");
        self.audited(actor, "request.workspace", id, detail, Some(&what), |tx| {
            check_version(tx, id, seen)?;
            ensure_open(tx, id)?;
            tx.execute(
                "UPDATE requests SET workspace_id = ?2, workspace_name = ?3, workspace_verified = 0, updated_at = ?4 WHERE id = ?1",
                params![id, workspace_id, workspace_name, now()],
            )?;
            Ok(())
        })
    }

    /// Adds a scope-confirmation note. NOTE: no version bump and no
    /// collision check: a colleague's note must not stop a reply that is
    /// still right (see [`super::team`]).
    pub fn add_note(&mut self, id: i64, author: &str, text: &str) -> Result<()> {
        if text.trim().is_empty() {
            bail!("a note needs some text");
        }
        self.audited(
            author,
            "note.added",
            id,
            serde_json::json!({ "text": text }),
            None,
            |tx| {
                tx.execute(
                "INSERT INTO notes (request_id, author, text, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![id, author, text, now()],
            )?;
                Ok(())
            },
        )
    }

    /// Accepts a sender-authentication failure, with a typed reason.
    pub fn override_auth(&mut self, id: i64, reason: &str, actor: &str, seen: Seen) -> Result<()> {
        if reason.trim().is_empty() {
            bail!("an override needs a reason");
        }
        self.audited(
            actor,
            "auth.override",
            id,
            serde_json::json!({ "reason": reason }),
            Some("accepted the sender-authentication failure"),
            |tx| {
                check_version(tx, id, seen)?;
                tx.execute(
                    "UPDATE requests SET auth_override = ?2, updated_at = ?3 WHERE id = ?1",
                    params![id, reason, now()],
                )?;
                Ok(())
            },
        )
    }

    /// Approves: stores the decision, the idempotency key and the body the
    /// export will be started with (`export_body`, never changed after).
    /// Refuses a request that is already approved or beyond.
    // NOTE: one argument per fact the approval records; a struct for one
    // caller (ops::export) would only move the list.
    #[allow(clippy::too_many_arguments)]
    pub fn approve(
        &mut self,
        id: i64,
        key: &str,
        export_body: Option<&str>,
        override_reason: Option<&str>,
        unmet: &[Check],
        actor: &str,
        seen: Seen,
    ) -> Result<()> {
        let tx = self.conn.transaction()?;
        check_version(&tx, id, seen)?;
        ensure_allows(&tx, id, Action::Approve)?;
        if let Some(hard) = unmet.iter().find(|c| !c.overridable()) {
            return Err(StoreError::Conflict(format!(
                "request {id}: \"{}\" is not met, and no reason can stand in for it",
                hard.label()
            ))
            .into());
        }
        if !unmet.is_empty() && override_reason.is_none_or(|r| r.trim().is_empty()) {
            bail!("approving with unmet checklist items needs an override reason");
        }
        let unmet: Vec<&str> = unmet.iter().map(|c| c.label()).collect();
        bump(&tx, id, "request.approved", actor, "approved it")?;
        tx.execute(
            "UPDATE requests SET state = 'approved', idempotency_key = ?2, approval_override = ?3, updated_at = ?4,
               export_body = ?5 WHERE id = ?1",
            params![id, key, override_reason, now(), export_body],
        )?;
        audit::append_tx(
            &tx,
            actor,
            "request.approved",
            &format!("request:{id}"),
            &serde_json::json!({ "idempotency_key": key, "override": override_reason, "unmet": unmet }),
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Rejects, with the reason the reply gives.
    pub fn reject(&mut self, id: i64, reason: &str, actor: &str, seen: Seen) -> Result<()> {
        if reason.trim().is_empty() {
            bail!("a rejection needs a reason");
        }
        let what = format!("rejected it ({reason})");
        let detail = serde_json::json!({ "reason": reason });
        self.audited(actor, "request.rejected", id, detail, Some(&what), |tx| {
            check_version(tx, id, seen)?;
            ensure_allows(tx, id, Action::Reject)?;
            tx.execute(
                "UPDATE requests SET state = 'rejected', decision_reason = ?2, updated_at = ?3 WHERE id = ?1",
                params![id, reason, now()],
            )?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::requests::tests::store_with_request;
    use super::*;

    #[test]
    fn notes_need_text_and_overrides_need_reasons() {
        let mut s = store_with_request();
        assert!(s.add_note(1, "sam", "   ").is_err());
        s.add_note(1, "sam", "Scope: all").unwrap();
        assert!(s.override_auth(1, "", "sam", None).is_err());
        assert!(
            s.approve(1, "k", None, None, &[Check::ScopeNoteWritten], "sam", None)
                .is_err(),
            "unmet items need a reason"
        );
        for hard in [
            Check::WorkspaceIdentified,
            Check::OwnerOrAdmin,
            Check::SpecificEstimateSent,
        ] {
            let e = s
                .approve(
                    1,
                    "k",
                    None,
                    Some("customer is in a hurry"),
                    &[hard],
                    "sam",
                    None,
                )
                .unwrap_err();
            assert!(
                matches!(StoreError::of(&e), Some(StoreError::Conflict(_))),
                "{hard:?}: {e:#}"
            );
        }
        s.approve(
            1,
            "k",
            None,
            Some("called the owner"),
            &[Check::ScopeNoteWritten],
            "sam",
            None,
        )
        .unwrap();
        let v = s.load_request(1).unwrap();
        assert_eq!(v.notes.len(), 1);
        assert_eq!(v.approval_override.as_deref(), Some("called the owner"));
    }
}

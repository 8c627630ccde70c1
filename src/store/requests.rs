//! Requests as the screen shows them, and every change staff make to them.
//!
//! Each change is one transaction with its audit entry, written before the
//! action it enables (an export is started only after its approval and
//! idempotency key are stored; a note is stored before anything else
//! happens), so a crash at any point leaves a state the next start resumes.

use super::db::{params, OptionalExtension, Row, Tx};
use super::team::{bump, check_version, Seen};
use super::{audit, now, Store};
use crate::domain::{Action, Check, JobStatus, ReplyState, RequestState, Role, StoreError};
use crate::intake::{Auth, Warning};
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// A membership of the requester's account, as the backend reported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    pub member_id: String,
    pub workspace_id: String,
    pub workspace_name: String,
    pub email: String,
    pub role: Role,
}

/// A workspace's size, as the backend reported it.
pub type SizeSnap = crate::backend::WorkspaceSize;

/// The last known state of the export job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobSnap {
    pub id: String,
    pub status: JobStatus,
    pub phase: Option<String>,
    pub progress: f64,
    pub created_at: Option<String>,
    pub finished_at: Option<String>,
    pub emailed_at: Option<String>,
    pub deliver_to: Option<String>,
    pub link_expires_at: Option<String>,
    pub error: Option<String>,
}

impl JobSnap {
    pub fn is_terminal(&self) -> bool {
        self.status.is_terminal()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub author: String,
    pub text: String,
    pub at: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplySnap {
    pub id: i64,
    pub template: String,
    pub state: ReplyState,
    pub to: String,
    pub at: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ThreadMessage {
    pub kind: String,
    pub from: Option<String>,
    pub from_name: Option<String>,
    pub date: Option<String>,
    pub subject: String,
    pub body: String,
}

/// One request with everything the queue and the detail pane show.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestView {
    pub id: i64,
    pub message_id: String,
    pub state: RequestState,
    pub subject: String,
    pub from: Option<String>,
    pub from_name: Option<String>,
    pub reply_to: Option<String>,
    pub account_email: Option<String>,
    pub received_at: String,
    pub workspace_name: Option<String>,
    pub workspace_id: Option<String>,
    pub workspace_verified: bool,
    pub member_id: Option<String>,
    pub role: Option<Role>,
    pub memberships: Vec<Membership>,
    pub size: Option<SizeSnap>,
    pub auth: Auth,
    pub warnings: Vec<Warning>,
    pub auth_override: Option<String>,
    pub decision_reason: Option<String>,
    pub approval_override: Option<String>,
    pub idempotency_key: Option<String>,
    /// The `POST /v1/exports` body (JSON), frozen at approval.
    pub export_body: Option<String>,
    pub job: Option<JobSnap>,
    pub notes: Vec<Note>,
    pub replies: Vec<ReplySnap>,
    pub thread_len: usize,
    /// The version the store had when this was read: every collision-checked
    /// action carries it back ([`super::team`]).
    pub version: i64,
    /// Who holds the request (operator id), and their display name.
    pub claimed_by: Option<String>,
    pub claimed_by_name: Option<String>,
    /// Which follow-ups each operator has seen (store/seen.rs).
    pub seen: super::seen::Seen,
}

impl RequestView {
    /// The address the export link would go to: the account email.
    pub fn account(&self) -> Option<&str> {
        self.account_email.as_deref().or(self.from.as_deref())
    }
}

/// What resolving a request against the backend found.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolution {
    pub account_email: String,
    pub memberships: Vec<Membership>,
    /// The workspace, when it could be identified.
    pub workspace: Option<(String, String)>,
    pub size: Option<SizeSnap>,
}

const SELECT: &str = "SELECT r.id, r.message_id, r.state, r.subject, r.requester, m.from_name, m.reply_to, r.account_email,
    r.received_at, r.workspace_name, r.workspace_id, r.workspace_verified, r.member_id, r.role, r.memberships, r.size,
    m.dkim, m.spf, m.dmarc, m.warnings, r.auth_override, r.decision_reason, r.approval_override, r.idempotency_key, r.job, r.export_body,
    r.version, r.claimed_by, COALESCE(o.name, r.claimed_by)
    FROM requests r JOIN messages m ON m.message_id = r.message_id LEFT JOIN operators o ON o.id = r.claimed_by";

fn row_to_view(r: &Row) -> Result<RequestView> {
    let json = |i: usize| -> Result<Option<String>> { r.get(i) };
    Ok(RequestView {
        id: r.get(0)?,
        message_id: r.get(1)?,
        state: r.get(2)?,
        subject: r.get(3)?,
        from: r.get(4)?,
        from_name: r.get(5)?,
        reply_to: r.get(6)?,
        account_email: r.get(7)?,
        received_at: r.get(8)?,
        workspace_name: r.get(9)?,
        workspace_id: r.get(10)?,
        workspace_verified: r.get(11)?,
        member_id: r.get(12)?,
        role: r.get(13)?,
        memberships: json(14)?
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_default(),
        size: json(15)?.and_then(|s| serde_json::from_str(&s).ok()),
        auth: Auth {
            dkim: r.get(16)?,
            spf: r.get(17)?,
            dmarc: r.get(18)?,
            dmarc_domain: None,
        },
        warnings: serde_json::from_str(&r.get::<_, String>(19)?).unwrap_or_default(),
        auth_override: r.get(20)?,
        decision_reason: r.get(21)?,
        approval_override: r.get(22)?,
        idempotency_key: r.get(23)?,
        job: json(24)?.and_then(|s| serde_json::from_str(&s).ok()),
        export_body: r.get(25)?,
        notes: Vec::new(),
        replies: Vec::new(),
        thread_len: 0,
        version: r.get(26)?,
        claimed_by: r.get(27)?,
        claimed_by_name: r.get(28)?,
        seen: Default::default(),
    })
}

/// Which requests a load reads: all of them, or one by id. Each case is
/// its own SQL text, so each is planned for what it reads (see `load`).
pub(crate) struct Filter {
    params: Vec<super::db::Value>,
}

impl Filter {
    pub(crate) fn new(only: Option<i64>) -> Filter {
        Filter {
            params: only.map(super::db::Value::Int).into_iter().collect(),
        }
    }

    /// The condition on `column` (a request id): `column = ?1`, or true.
    pub(crate) fn on(&self, column: &str) -> String {
        if self.params.is_empty() {
            "1 = 1".to_string()
        } else {
            format!("{column} = ?1")
        }
    }

    pub(crate) fn params(&self) -> &[super::db::Value] {
        &self.params
    }
}

/// The queries of a load: the requests; their notes; replies; thread
/// messages (follow-ups flagged, see [`super::seen`]); who saw what.
///
/// NOTE: the requests query has no `ORDER BY r.id` (the caller sorts):
/// with it PostgreSQL walks `requests_pkey` and looks up each message by
/// Message-ID (a nested loop, 62–72 ms of server time for 10,000); without
/// it, it hashes the join (44 ms). SQLite returns rowid order either way.
fn load_sql(f: &Filter) -> [String; 5] {
    [
        format!("{SELECT} WHERE {}", f.on("r.id")),
        format!(
            "SELECT request_id, author, text, created_at FROM notes WHERE {} ORDER BY id",
            f.on("request_id")
        ),
        format!(
            "SELECT request_id, id, template, state, to_addr, COALESCE(sent_at, created_at) FROM replies
             WHERE {} ORDER BY id",
            f.on("request_id")
        ),
        format!(
            "SELECT request_id, id, CASE WHEN kind = 'follow_up' THEN 1 ELSE 0 END FROM messages
             WHERE request_id IS NOT NULL AND {} ORDER BY id",
            f.on("request_id")
        ),
        format!(
            "SELECT request_id, operator, last_message FROM seen WHERE {} ORDER BY request_id, operator",
            f.on("request_id")
        ),
    ]
}

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

/// Who and what is exported is fixed once a request is decided.
pub(crate) fn ensure_open(tx: &Tx<'_>, id: i64) -> Result<()> {
    ensure_allows(tx, id, Action::EditTarget).map(|_| ())
}

/// The request's state, when it allows `action` (the transition table in
/// [`crate::domain`]); else the typed refusal.
pub(crate) fn ensure_allows(tx: &Tx<'_>, id: i64, action: Action) -> Result<RequestState> {
    let state: Option<RequestState> = tx
        .query_row(
            "SELECT state FROM requests WHERE id = ?1",
            params![id],
            |r| r.get(0),
        )
        .optional()?;
    let state = state.ok_or(StoreError::NotFound {
        what: "request",
        id,
    })?;
    state.check(id, action)?;
    Ok(state)
}

impl Store {
    /// Runs `change` and appends its audit entry in one IMMEDIATE
    /// transaction: the entry exists exactly when the change does.
    pub(crate) fn audited<T>(
        &mut self,
        actor: &str,
        action: &str,
        id: i64,
        detail: serde_json::Value,
        change: impl FnOnce(&Tx<'_>) -> Result<T>,
    ) -> Result<T> {
        let tx = self.conn.transaction()?;
        let out = change(&tx)?;
        audit::append_tx(&tx, actor, action, &format!("request:{id}"), &detail)?;
        super::changes::record(&tx, Some(id), action, actor)?;
        tx.commit()?;
        Ok(out)
    }

    /// Every request, with notes, replies and thread sizes, in a handful of
    /// queries (the first frame of a 10,000-request store waits on this).
    pub fn load_requests(&self) -> Result<Vec<RequestView>> {
        self.load(None)
    }

    /// One request, fresh from the store.
    pub fn load_request(&self, id: i64) -> Result<RequestView> {
        self.load(Some(id))?
            .pop()
            .with_context(|| format!("no request {id} in the store"))
    }

    /// Requests (all, or the one with `only`'s id) with their notes,
    /// replies and thread sizes.
    ///
    /// NOTE: one request is its own SQL (`WHERE r.id = ?1`), never a
    /// `CAST(?1 AS BIGINT) IS NULL OR r.id = ?1` filter shared with "all":
    /// that OR defeats the indexes on both engines (SQLite scanned all
    /// 10,000 requests to reload one, 2.7 ms; see README "The team store").
    fn load(&self, only: Option<i64>) -> Result<Vec<RequestView>> {
        let filter = Filter::new(only);
        let [views_sql, notes_sql, replies_sql, thread_sql, seen_sql] = load_sql(&filter);
        let mut views: Vec<RequestView> =
            self.conn
                .query_map(&views_sql, filter.params(), row_to_view)?;
        // Sorted here, not by ORDER BY: see `load_sql`.
        views.sort_unstable_by_key(|v| v.id);
        let index: HashMap<i64, usize> = views.iter().enumerate().map(|(i, v)| (v.id, i)).collect();
        // Each row goes straight into its view (no intermediate rows).
        self.conn.query_map(&notes_sql, filter.params(), |r| {
            if let Some(&i) = index.get(&r.get::<_, i64>(0)?) {
                views[i].notes.push(Note {
                    author: r.get(1)?,
                    text: r.get(2)?,
                    at: r.get(3)?,
                });
            }
            Ok(())
        })?;
        self.conn.query_map(&replies_sql, filter.params(), |r| {
            if let Some(&i) = index.get(&r.get::<_, i64>(0)?) {
                views[i].replies.push(ReplySnap {
                    id: r.get(1)?,
                    template: r.get(2)?,
                    state: r.get(3)?,
                    to: r.get(4)?,
                    at: r.get(5)?,
                });
            }
            Ok(())
        })?;
        // One pass over the threads gives their lengths and follow-ups.
        self.conn.query_map(&thread_sql, filter.params(), |r| {
            if let Some(&i) = index.get(&r.get::<_, i64>(0)?) {
                views[i].thread_len += 1;
                if r.get::<_, bool>(2)? {
                    views[i].seen.follow_ups.push(r.get(1)?);
                }
            }
            Ok(())
        })?;
        self.conn.query_map(&seen_sql, filter.params(), |r| {
            if let Some(&i) = index.get(&r.get::<_, i64>(0)?) {
                views[i].seen.by.push((r.get(1)?, r.get(2)?));
            }
            Ok(())
        })?;
        Ok(views)
    }

    /// The thread's messages, oldest first (the detail pane's mail view).
    pub fn thread_messages(&self, id: i64) -> Result<Vec<ThreadMessage>> {
        self.conn.query_map(
            "SELECT kind, from_addr, from_name, date, subject, body FROM messages WHERE request_id = ?1 ORDER BY id",
            params![id],
            |r| {
            Ok(ThreadMessage {
                kind: r.get(0)?,
                from: r.get(1)?,
                from_name: r.get(2)?,
                date: r.get(3)?,
                subject: r.get(4)?,
                body: r.get(5)?,
            })
        })
    }

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
                actor,
                "linked the account and workspace the backend found",
            )?;
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
        super::changes::record(&tx, Some(id), "request.resolved", actor)?;
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
        self.audited(actor, "request.workspace", id, detail, |tx| {
            check_version(tx, id, seen)?;
            ensure_open(tx, id)?;
            bump(tx, id, actor, &format!("linked the workspace {workspace_name}"))?;
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
            |tx| {
                check_version(tx, id, seen)?;
                bump(tx, id, actor, "accepted the sender-authentication failure")?;
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
        bump(&tx, id, actor, "approved it")?;
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
        super::changes::record(&tx, Some(id), "request.approved", actor)?;
        tx.commit()?;
        Ok(())
    }

    /// Rejects, with the reason the reply gives.
    pub fn reject(&mut self, id: i64, reason: &str, actor: &str, seen: Seen) -> Result<()> {
        if reason.trim().is_empty() {
            bail!("a rejection needs a reason");
        }
        self.audited(actor, "request.rejected", id, serde_json::json!({ "reason": reason }), |tx| {
            check_version(tx, id, seen)?;
            ensure_allows(tx, id, Action::Reject)?;
            bump(tx, id, actor, &format!("rejected it ({reason})"))?;
            tx.execute(
                "UPDATE requests SET state = 'rejected', decision_reason = ?2, updated_at = ?3 WHERE id = ?1",
                params![id, reason, now()],
            )?;
            Ok(())
        })
    }

    /// Records the job the backend started (or returned again for the same
    /// key) and its latest state; the request's state follows the job's.
    ///
    /// Refuses ([`StoreError::Conflict`]) a snapshot older than the one
    /// stored for the same job (two polls answered out of order must not
    /// take a `done` request back to `running`), and any job on a request
    /// that was never approved. The same snapshot again is a no-op.
    pub fn set_job(&mut self, id: i64, job: &JobSnap, actor: &str) -> Result<()> {
        let tx = self.conn.transaction()?;
        let (current, old): (Option<RequestState>, Option<String>) = tx
            .query_row(
                "SELECT state, job FROM requests WHERE id = ?1",
                params![id],
                |r| Ok((Some(r.get(0)?), r.get(1)?)),
            )
            .optional()?
            .unwrap_or((None, None));
        let current = current.ok_or(StoreError::NotFound {
            what: "request",
            id,
        })?;
        let old: Option<JobSnap> = old.and_then(|s| serde_json::from_str(&s).ok());
        let same_job = old
            .as_ref()
            .is_some_and(|o| o.id == job.id && !o.id.is_empty());
        if let (true, Some(o)) = (same_job, &old) {
            if job.status.rank() < o.status.rank()
                || (o.status.is_terminal() && job.status != o.status)
            {
                return Err(StoreError::Conflict(format!(
                    "request {id}: job {} is already {}; a {} snapshot is stale",
                    job.id, o.status, job.status
                ))
                .into());
            }
        }
        if !(current.allows(Action::RecordJob) || (current == RequestState::Done && same_job)) {
            current.check(id, Action::RecordJob)?;
        }
        let state = RequestState::for_job(job.status);
        tx.execute(
            "UPDATE requests SET job_id = ?2, job = ?3, state = ?4, updated_at = ?5 WHERE id = ?1",
            params![id, job.id, serde_json::to_string(job)?, state, now()],
        )?;
        if old.as_ref().map(|o| (&o.id, o.status)) != Some((&job.id, job.status)) {
            bump(
                &tx,
                id,
                actor,
                &format!("saw the export become {}", job.status),
            )?;
            audit::append_tx(
                &tx,
                actor,
                "job.status",
                &format!("request:{id}"),
                &serde_json::json!({ "job": job.id, "status": job.status, "error": job.error }),
            )?;
        }
        // Progress too (not audited): every screen's bar moves.
        if old.as_ref() != Some(job) {
            super::changes::record(&tx, Some(id), "job.status", actor)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Starts a failed export again. When the backend refused to create a
    /// job (no job id), the same key is safe to send again. When a job exists
    /// and the backend reported it failed or cancelled, the same key would
    /// only return that job, so the key gets a retry suffix, recorded before
    /// the new start.
    pub fn retry_job(&mut self, id: i64, actor: &str, seen: Seen) -> Result<String> {
        let tx = self.conn.transaction()?;
        check_version(&tx, id, seen)?;
        ensure_allows(&tx, id, Action::Retry)?;
        let (key, job): (Option<String>, Option<String>) = tx.query_row(
            "SELECT idempotency_key, job FROM requests WHERE id = ?1",
            params![id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let job: Option<JobSnap> = job.and_then(|j| serde_json::from_str(&j).ok());
        let no_job = job.as_ref().is_none_or(|j| j.id.is_empty());
        let confirmed_dead = job
            .as_ref()
            .is_some_and(|j| matches!(j.status, JobStatus::Failed | JobStatus::Cancelled));
        if !no_job && !confirmed_dead {
            return Err(StoreError::Conflict(format!(
                "request {id}: the backend has not reported its export failed; it cannot be retried"
            ))
            .into());
        }
        let base = key.unwrap_or_default();
        let new_key = if no_job {
            base
        } else {
            let base = base.split("/retry").next().unwrap_or("").to_string();
            let n: i64 = tx.query_row(
                "SELECT COUNT(*) FROM audit WHERE subject = ?1 AND action = 'job.retry'",
                params![format!("request:{id}")],
                |r| r.get(0),
            )?;
            format!("{base}/retry{}", n + 1)
        };
        let clear_job = if no_job {
            ", job = NULL, job_id = NULL"
        } else {
            ""
        };
        bump(&tx, id, actor, "started the export again")?;
        tx.execute(
            &format!(
                "UPDATE requests SET state = ?2, idempotency_key = ?3{clear_job}, updated_at = ?4 WHERE id = ?1"
            ),
            params![id, RequestState::Approved, new_key, now()],
        )?;
        audit::append_tx(
            &tx,
            actor,
            "job.retry",
            &format!("request:{id}"),
            &serde_json::json!({ "idempotency_key": new_key }),
        )?;
        super::changes::record(&tx, Some(id), "job.retry", actor)?;
        tx.commit()?;
        Ok(new_key)
    }

    /// For `reject_duplicate`: another open or running request for the same
    /// workspace, as "who, when" (one query, not a load of every request).
    pub fn other_request_for_workspace(&self, id: i64) -> Result<Option<String>> {
        self.conn
            .query_row(
                "SELECT COALESCE(m.from_name, o.requester, ''), substr(o.received_at, 1, 10)
                 FROM requests r JOIN requests o ON o.workspace_id = r.workspace_id AND o.id != r.id
                 JOIN messages m ON m.message_id = o.message_id
                 WHERE r.id = ?1 AND o.state IN ('new', 'waiting', 'approved', 'running')
                 ORDER BY o.id LIMIT 1",
                params![id],
                |r| {
                    Ok(format!(
                        "{} of {}",
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?
                    ))
                },
            )
            .optional()
    }

    /// Requests whose export must be started or followed (after a restart).
    pub fn unfinished_jobs(&self) -> Result<Vec<i64>> {
        self.conn.query_map(
            "SELECT id FROM requests WHERE state IN ('approved', 'running') ORDER BY id",
            params![],
            |r| r.get(0),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intake::{inspect, Options};

    fn store_with_request() -> Store {
        let mut s = Store::in_memory().unwrap();
        let raw = "From: owner@acme.example\r\nMessage-ID: <r1@acme.example>\r\nSubject: Data export request: Acme\r\n\r\nhi\r\n";
        let i = inspect(raw.as_bytes(), &Options::default());
        let key = i.store_key(raw.as_bytes());
        s.store_batch("INBOX", &[(i, key, None)], None).unwrap();
        s
    }

    fn job(id: &str, status: &str) -> JobSnap {
        JobSnap {
            id: id.into(),
            status: JobStatus::parse(status).unwrap(),
            phase: None,
            progress: 0.0,
            created_at: None,
            finished_at: None,
            emailed_at: None,
            deliver_to: None,
            link_expires_at: None,
            error: None,
        }
    }

    #[test]
    fn approval_is_once_and_retries_never_mint_a_key_for_a_live_job() {
        let mut s = store_with_request();
        s.approve(1, "k", None, None, &[], "sam", None).unwrap();
        assert!(
            s.approve(1, "k2", None, None, &[], "sam", None).is_err(),
            "approved twice"
        );
        assert!(s.reject(1, "too late", "sam", None).is_err());
        assert!(
            s.set_account_email(1, "other@acme.example", "sam", None)
                .is_err(),
            "the account is fixed"
        );
        assert!(
            s.set_workspace(1, "w", "Other", "sam", None).is_err(),
            "the workspace is fixed"
        );

        // The backend refused to create a job: the same key is sent again.
        s.set_job(1, &job("", "failed"), "sam").unwrap();
        assert_eq!(s.retry_job(1, "sam", None).unwrap(), "k");
        assert_eq!(s.load_request(1).unwrap().state, RequestState::Approved);

        // A job the backend reports failed: a new key, recorded.
        s.set_job(1, &job("j1", "failed"), "sam").unwrap();
        let first = s.retry_job(1, "sam", None).unwrap();
        assert!(first.starts_with("k/retry"), "{first}");
        s.set_job(1, &job("j2", "cancelled"), "sam").unwrap();
        let second = s.retry_job(1, "sam", None).unwrap();
        assert!(second.starts_with("k/retry") && second != first, "{second}");

        // Anything else is not retried.
        s.set_job(1, &job("j3", "running"), "sam").unwrap();
        assert!(s.retry_job(1, "sam", None).is_err());
        assert!(crate::store::audit::verify(s.conn()).unwrap().is_ok());
    }

    #[test]
    fn a_stale_job_snapshot_never_takes_a_request_back() {
        let mut s = store_with_request();
        assert!(
            s.set_job(1, &job("j1", "running"), "sam").is_err(),
            "a request that was never approved gets no job"
        );
        s.approve(1, "k", None, None, &[], "sam", None).unwrap();
        s.set_job(1, &job("j1", "running"), "sam").unwrap();
        s.set_job(1, &job("j1", "emailed"), "sam").unwrap();
        assert_eq!(s.load_request(1).unwrap().state, RequestState::Done);
        // Two polls answered out of order: the older one arrives last.
        let e = s.set_job(1, &job("j1", "running"), "sam").unwrap_err();
        assert!(
            matches!(StoreError::of(&e), Some(StoreError::Conflict(_))),
            "{e:#}"
        );
        let e = s.set_job(1, &job("j1", "failed"), "sam").unwrap_err();
        assert!(
            matches!(StoreError::of(&e), Some(StoreError::Conflict(_))),
            "{e:#}"
        );
        let v = s.load_request(1).unwrap();
        assert_eq!(v.state, RequestState::Done);
        assert_eq!(v.job.unwrap().status, JobStatus::Emailed);
        // The same final snapshot again is harmless.
        s.set_job(1, &job("j1", "emailed"), "sam").unwrap();
        let e = s.retry_job(1, "sam", None).unwrap_err();
        assert!(
            matches!(
                StoreError::of(&e),
                Some(StoreError::IllegalTransition { .. })
            ),
            "{e:#}"
        );
    }

    #[test]
    fn another_request_for_the_same_workspace_is_found_for_a_duplicate_reply() {
        let mut s = store_with_request();
        let raw = "From: Bo <admin@acme.example>\r\nMessage-ID: <r2@acme.example>\r\nSubject: Data export request: Acme\r\n\r\nhi\r\n";
        let i = inspect(raw.as_bytes(), &Options::default());
        let key = i.store_key(raw.as_bytes());
        s.store_batch("INBOX", &[(i, key, None)], None).unwrap();
        assert_eq!(
            s.other_request_for_workspace(2).unwrap(),
            None,
            "no workspace linked yet"
        );
        for id in [1, 2] {
            s.set_workspace(id, "ws-1", "Acme", "sam", None).unwrap();
        }
        let other = s.other_request_for_workspace(2).unwrap().unwrap();
        assert!(other.starts_with("owner@acme.example of "), "{other}");
        s.reject(1, "dup", "sam", None).unwrap();
        assert_eq!(
            s.other_request_for_workspace(2).unwrap(),
            None,
            "a rejected one does not count"
        );
    }

    #[test]
    fn reloading_one_request_searches_by_index_and_scans_no_table() {
        let s = store_with_request();
        let one = Filter::new(Some(1));
        for sql in load_sql(&one) {
            let plan: Vec<String> = s
                .conn
                .query_map(&format!("EXPLAIN QUERY PLAN {sql}"), one.params(), |r| {
                    r.get(3)
                })
                .unwrap();
            assert!(
                plan.iter().any(|l| l.starts_with("SEARCH"))
                    && !plan.iter().any(|l| l.starts_with("SCAN")),
                "{sql}: {plan:?}"
            );
        }
    }

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

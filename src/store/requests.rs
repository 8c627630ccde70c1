//! Requests as the screen shows them: the values ([`RequestView`], its
//! notes, replies, job), reading them from the store, and the rules every
//! change checks first (the state allows it; [`Store::audited`]).
//!
//! Each change is one transaction with its audit entry, written before the
//! action it enables (an export is started only after its approval and
//! idempotency key are stored; a note is stored before anything else
//! happens), so a crash at any point leaves a state the next start resumes.
//! The changes themselves: [`super::decisions`] (what staff decide) and
//! [`super::jobs`] (the export job).

pub use super::damage::Damage;
use super::damage::SoftRow;
use super::db::{params, OptionalExtension, Row, Tx};
use super::team::bump;
use super::{audit, Store};
use crate::domain::{Action, JobStatus, ReplyState, RequestState, Role, StoreError};
use crate::intake::{Auth, Warning};
use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
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
    pub created_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub emailed_at: Option<DateTime<Utc>>,
    pub deliver_to: Option<String>,
    pub link_expires_at: Option<DateTime<Utc>>,
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
    /// None when the stored time cannot be read (the request's `damage`
    /// says what was found).
    pub at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplySnap {
    pub id: i64,
    pub template: String,
    pub state: ReplyState,
    pub to: String,
    /// When it was sent, else when it was written; None when the stored
    /// time cannot be read (the request's `damage` says what was found).
    pub at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ThreadMessage {
    pub kind: String,
    pub from: Option<String>,
    pub from_name: Option<String>,
    /// The message's `Date:` header, as intake stored it (UTC; none when
    /// missing or unreadable).
    pub date: Option<DateTime<Utc>>,
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
    /// None only when the stored time cannot be read (see `damage`): no
    /// request is shown with a made-up arrival time.
    pub received_at: Option<DateTime<Utc>>,
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
    /// What could not be read from the store for this request, one
    /// sentence per field ([`Damage`]); empty for a sound row.
    pub damage: Vec<Damage>,
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

/// One request's row: its identity (id, Message-ID, state, version) must
/// read; every other field that cannot be read is left unknown and named
/// in the view's `damage` ([`super::damage`]), so one bad value never
/// hides the rest of the queue.
fn row_to_view(r: &Row) -> Result<RequestView> {
    let mut d = SoftRow::new(r);
    let auth = Auth {
        dkim: d.or_default(16, "the DKIM result", "messages.dkim"),
        spf: d.or_default(17, "the SPF result", "messages.spf"),
        dmarc: d.or_default(18, "the DMARC result", "messages.dmarc"),
        dmarc_domain: None,
    };
    Ok(RequestView {
        id: r.get(0)?,
        message_id: r.get(1)?,
        state: r.get(2)?,
        subject: d.or_default(3, "the subject", "requests.subject"),
        from: d.get(4, "the sender", "requests.requester").flatten(),
        from_name: d
            .get(5, "the sender's name", "messages.from_name")
            .flatten(),
        reply_to: d
            .get(6, "the Reply-To address", "messages.reply_to")
            .flatten(),
        account_email: d
            .get(7, "the account email", "requests.account_email")
            .flatten(),
        received_at: d.get(8, "the time it arrived", "requests.received_at"),
        workspace_name: d
            .get(9, "the workspace name", "requests.workspace_name")
            .flatten(),
        workspace_id: d
            .get(10, "the workspace id", "requests.workspace_id")
            .flatten(),
        workspace_verified: d.or_default(
            11,
            "whether the workspace is verified",
            "requests.workspace_verified",
        ),
        member_id: d.get(12, "the member id", "requests.member_id").flatten(),
        role: d.get(13, "the requester's role", "requests.role").flatten(),
        memberships: d
            .json(14, "the requester's memberships", "requests.memberships")
            .unwrap_or_default(),
        size: d.json(15, "the workspace size", "requests.size"),
        auth,
        warnings: d
            .json(19, "the intake warnings", "messages.warnings")
            .unwrap_or_default(),
        auth_override: d
            .get(20, "the authentication override", "requests.auth_override")
            .flatten(),
        decision_reason: d
            .get(21, "the decision's reason", "requests.decision_reason")
            .flatten(),
        approval_override: d
            .get(22, "the approval override", "requests.approval_override")
            .flatten(),
        idempotency_key: d
            .get(23, "the idempotency key", "requests.idempotency_key")
            .flatten(),
        job: d.json(24, "the export job", "requests.job"),
        export_body: d
            .get(25, "the frozen export body", "requests.export_body")
            .flatten(),
        notes: Vec::new(),
        replies: Vec::new(),
        thread_len: 0,
        version: r.get(26)?,
        claimed_by: d.get(27, "who claimed it", "requests.claimed_by").flatten(),
        claimed_by_name: d.get(28, "the claimer's name", "operators.name").flatten(),
        seen: Default::default(),
        damage: d.damage,
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

/// What a row of a request's holdings is (its first column; see
/// [`load_sql`]), and the columns it fills: a note (id, author, text, at); a reply (id, template,
/// state, to, at); a thread message (id, follow-up 0/1 in the last
/// column); who saw it (operator, last message in the last column).
const NOTE: i64 = 1;
const REPLY: i64 = 2;
const THREAD: i64 = 3;
const SEEN: i64 = 4;

/// The queries of a load: the requests; then what they hold: notes,
/// replies, thread messages (follow-ups flagged, see [`super::seen`]) and
/// who saw what, each row tagged with its kind (`NOTE`...) in one shape,
/// ordered by id (seen: by operator).
///
/// NOTE: reloading one request (after every action) reads what it holds in
/// one UNION ALL, not four queries: on PostgreSQL each query is a network
/// round trip, and the reload was five of them (README "The team store").
/// The full load keeps four: each reads its table in primary-key order,
/// where the UNION's ORDER BY sorts 10,000 thread rows on both engines.
/// The columns are padded to one shape, typed by the first branch
/// (`CAST(NULL AS ...)`, as PostgreSQL wants to know).
///
/// NOTE: the requests query has no `ORDER BY r.id` (the caller sorts):
/// with it PostgreSQL walks `requests_pkey` and looks up each message by
/// Message-ID (a nested loop, 62–72 ms of server time for 10,000); without
/// it, it hashes the join (44 ms). SQLite returns rowid order either way.
fn load_sql(f: &Filter) -> Vec<String> {
    let on = f.on("request_id");
    let held = [
        format!("SELECT {NOTE}, id, author, text, created_at, CAST(NULL AS TEXT), CAST(NULL AS BIGINT), request_id FROM notes WHERE {on}"),
        format!("SELECT {REPLY}, id, template, state, to_addr, COALESCE(sent_at, created_at), NULL, request_id FROM replies WHERE {on}"),
        format!("SELECT {THREAD}, id, NULL, NULL, NULL, NULL, CASE WHEN kind = 'follow_up' THEN 1 ELSE 0 END, request_id
                 FROM messages WHERE request_id IS NOT NULL AND {on}"),
        format!("SELECT {SEEN}, 0, operator, NULL, NULL, NULL, last_message, request_id FROM seen WHERE {on}"),
    ];
    let mut sql = vec![format!("{SELECT} WHERE {}", f.on("r.id"))];
    if f.params.is_empty() {
        sql.extend(held.map(|q| format!("{q} ORDER BY 2, 3")));
    } else {
        sql.push(format!("{} ORDER BY 1, 2, 3", held.join(" UNION ALL ")));
    }
    sql
}

/// Puts one row of what a request holds (see [`load_sql`]) into its view.
fn add_to_view(v: &mut RequestView, r: &Row) -> Result<()> {
    match r.get::<_, i64>(0)? {
        // A note's or reply's field that cannot be read is named on the
        // request (`damage`); the rest of the queue still loads.
        NOTE => {
            let mut d = SoftRow::new(r);
            let note = Note {
                author: d.or_default(2, "a note's author", "notes.author"),
                text: d.or_default(3, "a note's text", "notes.text"),
                at: d.get(4, "a note's time", "notes.created_at"),
            };
            v.damage.append(&mut d.damage);
            v.notes.push(note);
        }
        REPLY => {
            let mut d = SoftRow::new(r);
            let reply = ReplySnap {
                id: r.get(1)?,
                template: d.or_default(2, "a reply's template", "replies.template"),
                state: r.get(3)?,
                to: d.or_default(4, "a reply's recipient", "replies.to_addr"),
                at: d.get(5, "a reply's time", "replies.sent_at"),
            };
            v.damage.append(&mut d.damage);
            v.replies.push(reply);
        }
        THREAD => {
            v.thread_len += 1;
            if r.get::<_, bool>(6)? {
                v.seen.follow_ups.push(r.get(1)?);
            }
        }
        SEEN => v.seen.by.push((r.get(2)?, r.get(6)?)),
        other => anyhow::bail!("a load row of unknown kind {other}"),
    }
    Ok(())
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
    /// transaction: the entry exists exactly when the change does. The
    /// change is recorded once: with `bumps` (what it did, in words) it
    /// moves the request's version ([`bump`]), else it is a plain change.
    pub(crate) fn audited<T>(
        &mut self,
        actor: &str,
        action: &str,
        id: i64,
        detail: serde_json::Value,
        bumps: Option<&str>,
        change: impl FnOnce(&Tx<'_>) -> Result<T>,
    ) -> Result<T> {
        let tx = self.conn.transaction()?;
        let out = change(&tx)?;
        match bumps {
            Some(what) => {
                bump(&tx, id, action, actor, what)?;
            }
            None => super::changes::record(&tx, Some(id), action, actor)?,
        }
        audit::append_tx(&tx, actor, action, &format!("request:{id}"), &detail)?;
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
        let sql = load_sql(&filter);
        let mut views: Vec<RequestView> =
            self.conn.query_map(&sql[0], filter.params(), row_to_view)?;
        // Sorted here, not by ORDER BY: see `load_sql`.
        views.sort_unstable_by_key(|v| v.id);
        let index: HashMap<i64, usize> = views.iter().enumerate().map(|(i, v)| (v.id, i)).collect();
        // Each row goes straight into its view (no intermediate rows).
        for held in &sql[1..] {
            self.conn.query_map(held, filter.params(), |r| {
                match index.get(&r.get::<_, i64>(7)?) {
                    Some(&i) => add_to_view(&mut views[i], r),
                    None => Ok(()),
                }
            })?;
        }
        Ok(views)
    }

    /// The thread's messages, oldest first (the detail pane's mail view).
    pub fn thread_messages(&self, id: i64) -> Result<Vec<ThreadMessage>> {
        self.conn.query_map(
            "SELECT kind, from_addr, from_name, date, subject, body FROM messages WHERE request_id = ?1 ORDER BY id",
            params![id],
            |r| {
            // The detail's mail view: a date that cannot be read shows as
            // unknown (the load's `damage` names the request's bad fields).
            let mut d = SoftRow::new(r);
            Ok(ThreadMessage {
                kind: r.get(0)?,
                from: r.get(1)?,
                from_name: r.get(2)?,
                date: d.get(3, "a message's date", "messages.date").flatten(),
                subject: r.get(4)?,
                body: r.get(5)?,
            })
        })
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
pub(super) mod tests {
    use super::*;
    use crate::intake::{inspect, Options};

    /// A store holding one new request (id 1) from owner@acme.example.
    pub(in crate::store) fn store_with_request() -> Store {
        let mut s = Store::in_memory().unwrap();
        let raw = "From: owner@acme.example\r\nMessage-ID: <r1@acme.example>\r\nSubject: Data export request: Acme\r\n\r\nhi\r\n";
        let i = inspect(raw.as_bytes(), &Options::default());
        let key = i.store_key(raw.as_bytes());
        s.store_batch("INBOX", &[(i, key, None)], None).unwrap();
        s
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
}

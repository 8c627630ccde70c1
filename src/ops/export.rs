//! Approving and starting an export: the body of `POST /v1/exports` is
//! decided once, at approval, and stored with the Idempotency-Key.
//!
//! NOTE: the backend hashes the body under the key; the same key with a
//! different body is a 409 `idempotency_conflict`, and the job the first
//! attempt created would never be recorded. So a retry or a restart sends
//! the stored bytes, never a body rebuilt from the request as it is now (a
//! note written after approval would change it).

use crate::backend::{ExportRequest, Job, JobStatus};
use crate::domain::Check;
use crate::store::requests::{JobSnap, RequestView};
use crate::store::team::Seen;
use crate::store::Store;
use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// The body for approving `req` now: workspace, requester, the request's
/// Message-ID and the latest scope note. Also the JSON that is stored;
/// with `force` (a second export of the workspace the operator confirmed)
/// it says `"force": true`, so that every retry under the same key sends
/// those bytes and the backend never answers 409 `export_in_progress`.
pub fn body_at_approval(req: &RequestView, force: bool) -> Result<(ExportRequest, String)> {
    let workspace_id = req
        .workspace_id
        .as_deref()
        .and_then(|w| Uuid::parse_str(w).ok())
        .context("the workspace is not identified")?;
    let requested_by = req
        .member_id
        .as_deref()
        .and_then(|m| Uuid::parse_str(m).ok())
        .context("the requester is no member of the workspace")?;
    let body = ExportRequest {
        workspace_id,
        requested_by,
        request_message_id: req.message_id.clone(),
        note: req.notes.last().map(|n| n.text.clone()),
        force,
    };
    let json = serde_json::to_string(&body)?;
    Ok((body, json))
}

/// Approves request `id`: the checklist refusals and the transition are the
/// store's; the Idempotency-Key and the body are decided here, once, and
/// stored with the decision (`force` frozen into the body: see
/// [`body_at_approval`]). Returns the request as approved.
pub fn approve(
    store: &mut Store,
    id: i64,
    override_reason: Option<&str>,
    unmet: &[Check],
    actor: &str,
    seen: Seen,
    force: bool,
) -> Result<RequestView> {
    let req = store.load_request(id)?;
    let (body, json) = body_at_approval(&req, force)?;
    let key = crate::backend::idempotency_key(&req.message_id, body.workspace_id);
    // The body is built from the request as read just now; the store
    // refuses the approval if it is no longer at the version the operator
    // saw (or, with `seen` None, at the version just read), so the stored
    // body never mixes two versions.
    let seen = Some(seen.unwrap_or(req.version));
    store.approve(id, &key, Some(&json), override_reason, unmet, actor, seen)?;
    crash_point(CRASH_AFTER_APPROVAL);
    store.load_request(id)
}

/// The environment variable of [`crash_point`]: the screen's crash tests
/// (tests/crash_screen.rs) set it to the point where the process must die.
pub const CRASH_AT_ENV: &str = "CONCIERGE_CRASH_AT";
/// The approval and its key are stored; the backend was not asked yet.
pub const CRASH_AFTER_APPROVAL: &str = "after-approval-record";
/// The backend answered the start with its job; the job id is not stored.
pub const CRASH_AFTER_START: &str = "after-start-post";

/// A test hook: when [`CRASH_AT_ENV`] names `point`, the process aborts
/// here, like a kill -9 at exactly this step (no destructor runs, nothing
/// more is stored), for windows too narrow to hit from outside.
///
/// NOTE: compiled only into debug builds (`debug_assertions`). `cargo test`
/// runs the binary as a debug build, so the crash tests need no extra flag
/// in CI, while the `release` and `dist` builds people run do not contain
/// the check at all: no environment variable can make a shipped binary
/// abort. (A cargo feature would have had to be named in every test command,
/// and a test run without it would have silently tested nothing.)
pub fn crash_point(point: &str) {
    #[cfg(debug_assertions)]
    if std::env::var(CRASH_AT_ENV).is_ok_and(|v| v == point) {
        eprintln!("{CRASH_AT_ENV}={point}: aborting here");
        std::process::abort();
    }
    #[cfg(not(debug_assertions))]
    let _ = point;
}

/// The body to start (or start again) the export with, and its `force`
/// flag: the ones stored at approval; for a request approved before bodies
/// were stored, the ones approval would have built (never forced).
pub fn frozen_body(req: &RequestView) -> Result<(ExportRequest, bool)> {
    match &req.export_body {
        Some(json) => {
            let body: ExportRequest =
                serde_json::from_str(json).context("the stored export body is unreadable")?;
            let force = body.force;
            Ok((body, force))
        }
        None => body_at_approval(req, false).map(|(b, _)| (b, false)),
    }
}

/// The phase that marks a job the backend answered 404 for.
pub const LOST: &str = "lost";

/// The snapshot for a job the backend no longer knows: `failed` (so the
/// request leaves Running and a retry, which first checks the backend for
/// a live export of the workspace, starts a new key), phase [`LOST`], and
/// the way forward in its error.
pub fn lost(last: &JobSnap) -> JobSnap {
    JobSnap {
        status: JobStatus::Failed,
        phase: Some(LOST.into()),
        error: Some(format!(
            "the backend no longer knows export {}: check it for a live export of the workspace, then retry (t) with a new key",
            last.id
        )),
        ..last.clone()
    }
}

/// Of a workspace's jobs (`GET /v1/exports?workspace_id=`), the one an
/// unanswered or refused start most likely created and that must be adopted
/// instead of starting another: the newest live one, else the newest emailed
/// one whose link is still valid.
pub fn job_to_adopt(jobs: &[Job], now: DateTime<Utc>) -> Option<&Job> {
    let newest =
        |f: &dyn Fn(&Job) -> bool| jobs.iter().filter(|j| f(j)).max_by_key(|j| j.created_at);
    newest(&|j: &Job| !j.status.is_terminal()).or_else(|| {
        newest(&|j: &Job| {
            j.status == JobStatus::Emailed && j.link_expires_at.is_some_and(|t| t > now)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn job(n: u128, status: JobStatus, created_h: u32, expires: Option<DateTime<Utc>>) -> Job {
        Job {
            id: Uuid::from_u128(n),
            workspace_id: Uuid::from_u128(99),
            status,
            phase: None,
            progress: 0.0,
            created_at: Utc.with_ymd_and_hms(2026, 11, 29, created_h, 0, 0).unwrap(),
            started_at: None,
            finished_at: None,
            emailed_at: None,
            deliver_to: None,
            link_expires_at: expires,
            error: None,
        }
    }

    /// A store with one Acme request, resolved to workspace 7, member 8.
    fn resolved_store() -> (Store, Uuid, Uuid) {
        use crate::store::requests::{Membership, Resolution};
        let mut s = Store::in_memory().unwrap();
        let raw = "From: owner@acme.example\r\nMessage-ID: <r1@acme.example>\r\nSubject: Data export request: Acme\r\n\r\nhi\r\n";
        let i = crate::intake::inspect(raw.as_bytes(), &crate::intake::Options::default());
        let key = i.store_key(raw.as_bytes());
        s.store_batch("INBOX", &[(i, key, None)], None).unwrap();
        let (ws, member) = (Uuid::from_u128(7), Uuid::from_u128(8));
        let res = Resolution {
            account_email: "owner@acme.example".into(),
            memberships: vec![Membership {
                member_id: member.to_string(),
                workspace_id: ws.to_string(),
                workspace_name: "Acme".into(),
                email: "owner@acme.example".into(),
                role: crate::domain::Role::Owner,
            }],
            workspace: Some((ws.to_string(), "Acme".into())),
            size: None,
        };
        s.set_resolution(1, &res, "sam").unwrap();
        (s, ws, member)
    }

    #[test]
    fn the_body_is_frozen_at_approval_and_a_later_note_does_not_change_it() {
        let (mut s, ws, member) = resolved_store();
        s.add_note(1, "sam", "Scope: everything").unwrap();
        let approved = approve(&mut s, 1, None, &[], "sam", None, false).unwrap();
        let (at_approval, forced) = frozen_body(&approved).unwrap();
        assert!(!forced, "no duplicate confirm, no force");
        assert!(!approved.export_body.as_deref().unwrap().contains("force"));
        assert_eq!(at_approval.note.as_deref(), Some("Scope: everything"));
        assert_eq!(
            (at_approval.workspace_id, at_approval.requested_by),
            (ws, member)
        );
        // A note after approval (the operator explaining a retry) is kept,
        // but the body the backend sees under this key stays the same bytes.
        s.add_note(1, "sam", "Retrying after the outage").unwrap();
        let later = s.load_request(1).unwrap();
        assert_eq!(frozen_body(&later).unwrap(), (at_approval, false));
        assert_eq!(later.export_body, approved.export_body);
    }

    #[test]
    fn a_confirmed_second_export_freezes_force_into_the_body_and_its_retries() {
        let (mut s, _, _) = resolved_store();
        let approved = approve(&mut s, 1, None, &[], "sam", None, true).unwrap();
        let json = approved.export_body.clone().unwrap();
        assert!(json.contains(r#""force":true"#), "{json}");
        assert!(frozen_body(&approved).unwrap().1);
        // A retry with a new key sends the same bytes, force included.
        let failed = JobSnap {
            id: Uuid::from_u128(3).to_string(),
            status: JobStatus::Failed,
            phase: None,
            progress: 0.0,
            created_at: None,
            finished_at: None,
            emailed_at: None,
            deliver_to: None,
            link_expires_at: None,
            error: Some("disk full".into()),
        };
        s.set_job(1, &failed, "sam").unwrap();
        s.retry_job(1, "sam", None).unwrap();
        let retried = s.load_request(1).unwrap();
        assert_eq!(retried.export_body.as_deref(), Some(json.as_str()));
        assert!(frozen_body(&retried).unwrap().1);
    }

    #[test]
    fn a_job_the_backend_no_longer_knows_is_lost_and_retried_with_a_new_key() {
        let mut s = Store::in_memory().unwrap();
        let raw = "From: owner@acme.example\r\nMessage-ID: <r1@acme.example>\r\nSubject: Data export request: Acme\r\n\r\nhi\r\n";
        let i = crate::intake::inspect(raw.as_bytes(), &crate::intake::Options::default());
        let key = i.store_key(raw.as_bytes());
        s.store_batch("INBOX", &[(i, key, None)], None).unwrap();
        s.approve(1, "k", None, None, &[], "sam", None).unwrap();
        let running = JobSnap {
            id: Uuid::from_u128(3).to_string(),
            status: JobStatus::Running,
            phase: Some("writing:messages".into()),
            progress: 0.4,
            created_at: None,
            finished_at: None,
            emailed_at: None,
            deliver_to: None,
            link_expires_at: None,
            error: None,
        };
        s.set_job(1, &running, "sam").unwrap();
        s.set_job(1, &lost(&running), "sam").unwrap();
        let v = s.load_request(1).unwrap();
        assert_eq!(
            v.state,
            crate::domain::RequestState::Failed,
            "no longer running"
        );
        let job = v.job.unwrap();
        assert_eq!(job.phase.as_deref(), Some(LOST));
        assert!(
            job.error.unwrap().contains("retry"),
            "a way forward is named"
        );
        // The way forward: a retry with a new key (the old one would only
        // return the lost job's record, or nothing).
        let new_key = s.retry_job(1, "sam", None).unwrap();
        assert!(new_key.starts_with("k/retry"), "{new_key}");
    }

    #[test]
    fn the_live_job_is_adopted_before_an_emailed_one_and_never_a_dead_one() {
        let now = Utc.with_ymd_and_hms(2026, 11, 29, 12, 0, 0).unwrap();
        let valid = Some(now + chrono::Duration::days(6));
        let expired = Some(now - chrono::Duration::hours(1));
        let jobs = [
            job(1, JobStatus::Failed, 11, None),
            job(2, JobStatus::Emailed, 9, valid),
            job(3, JobStatus::Running, 8, None),
            job(4, JobStatus::Cancelled, 10, None),
        ];
        assert_eq!(
            job_to_adopt(&jobs, now).map(|j| j.id),
            Some(Uuid::from_u128(3))
        );
        assert_eq!(
            job_to_adopt(&jobs[..2], now).map(|j| j.id),
            Some(Uuid::from_u128(2))
        );
        let old = [
            job(5, JobStatus::Emailed, 1, expired),
            job(6, JobStatus::Failed, 2, None),
        ];
        assert_eq!(job_to_adopt(&old, now), None);
    }
}

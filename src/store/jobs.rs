//! The export job of an approved request: the snapshots the backend
//! reports (never taking a request back to an older state) and the retry of
//! a failed export (a new idempotency key only when the old one would return
//! the dead job).

use super::db::{params, OptionalExtension};
use super::requests::{ensure_allows, JobSnap};
use super::team::{bump, check_version, Seen};
use super::{audit, now, Store};
use crate::domain::{Action, JobStatus, RequestState, StoreError};
use anyhow::Result;

impl Store {
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
                "job.status",
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
        } else if old.as_ref() != Some(job) {
            // Progress too (not audited, no bump): every screen's bar moves.
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
        bump(&tx, id, "job.retry", actor, "started the export again")?;
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
        tx.commit()?;
        Ok(new_key)
    }
}

#[cfg(test)]
mod tests {
    use super::super::requests::tests::store_with_request;
    use super::*;

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
}

//! The reference backend's own state: jobs and idempotency keys in SQLite
//! (`jobs.db` under `--data`), so that a restart loses nothing.
//!
//! Every status change is a conditional UPDATE (`… WHERE status = 'running'`),
//! so a worker that lost a race (the job was cancelled meanwhile) cannot
//! overwrite the newer state.

use anyhow::{Context, Result};
use ochre_api::JobStatus;
use rusqlite::{params, Connection, OptionalExtension, Row};
use std::path::Path;
use std::sync::Mutex;
use uuid::Uuid;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS jobs (
    id                 TEXT PRIMARY KEY,
    workspace_id       TEXT NOT NULL,
    requested_by       TEXT NOT NULL,
    request_message_id TEXT NOT NULL,
    note               TEXT,
    operator           TEXT,
    deliver_to         TEXT NOT NULL,
    status             TEXT NOT NULL,
    phase              TEXT,
    progress           REAL NOT NULL DEFAULT 0,
    created_at         INTEGER NOT NULL,
    started_at         INTEGER,
    finished_at        INTEGER,
    emailed_at         INTEGER,
    link_expires_at    INTEGER,
    error              TEXT,
    runs               INTEGER NOT NULL DEFAULT 0,
    email_attempts     INTEGER NOT NULL DEFAULT 0,
    email_started_at   INTEGER
);
CREATE INDEX IF NOT EXISTS jobs_by_workspace ON jobs (workspace_id, created_at);
CREATE TABLE IF NOT EXISTS idempotency_keys (
    key          TEXT PRIMARY KEY,
    request_hash TEXT NOT NULL,
    job_id       TEXT NOT NULL REFERENCES jobs (id),
    created_at   INTEGER NOT NULL
);
";

/// A job as stored. Times are Unix milliseconds, `link_expires_at` seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRow {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub requested_by: Uuid,
    pub request_message_id: String,
    pub note: Option<String>,
    pub operator: Option<String>,
    /// The full account email (masked on the way out).
    pub deliver_to: String,
    pub status: JobStatus,
    pub phase: Option<String>,
    pub progress: f64,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub emailed_at: Option<i64>,
    pub link_expires_at: Option<i64>,
    pub error: Option<String>,
    /// How many times the build was started (more than 1 after a restart).
    pub runs: i64,
    pub email_attempts: i64,
    /// Set before each SMTP transaction; see [`JobStore::begin_email`].
    pub email_started_at: Option<i64>,
}

/// A new job to insert.
pub struct NewJob<'a> {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub requested_by: Uuid,
    pub request_message_id: &'a str,
    pub note: Option<&'a str>,
    pub operator: Option<&'a str>,
    pub deliver_to: &'a str,
    pub now_ms: i64,
}

/// What an Idempotency-Key lookup found.
pub enum KeyLookup {
    /// Unused key.
    Free,
    /// Used with the same request: its job.
    Same(Box<JobRow>),
    /// Used with another request.
    Conflict,
}

/// What [`JobStore::insert`] did.
#[derive(Debug)]
pub enum Insert {
    Created,
    /// The key was used with the same request: its job.
    Same(Box<JobRow>),
    /// The key was used with another request.
    KeyConflict,
    /// Another export of the workspace is live: that job.
    InProgress(Box<JobRow>),
}

/// The outcome of a cancel.
pub enum Cancel {
    Cancelled(JobRow),
    /// Already emailed or failed (or being emailed right now).
    TooLate(JobRow),
    NotFound,
}

pub struct JobStore {
    conn: Mutex<Connection>,
}

fn row_to_job(r: &Row<'_>) -> rusqlite::Result<JobRow> {
    let uuid = |i: usize| -> rusqlite::Result<Uuid> {
        let s: String = r.get(i)?;
        Uuid::parse_str(&s).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
        })
    };
    let status: String = r.get(7)?;
    let status = JobStatus::parse(&status).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            7,
            rusqlite::types::Type::Text,
            format!("unknown status {status:?}").into(),
        )
    })?;
    Ok(JobRow {
        id: uuid(0)?,
        workspace_id: uuid(1)?,
        requested_by: uuid(2)?,
        request_message_id: r.get(3)?,
        note: r.get(4)?,
        operator: r.get(5)?,
        deliver_to: r.get(6)?,
        status,
        phase: r.get(8)?,
        progress: r.get(9)?,
        created_at: r.get(10)?,
        started_at: r.get(11)?,
        finished_at: r.get(12)?,
        emailed_at: r.get(13)?,
        link_expires_at: r.get(14)?,
        error: r.get(15)?,
        runs: r.get(16)?,
        email_attempts: r.get(17)?,
        email_started_at: r.get(18)?,
    })
}

const COLUMNS: &str =
    "id, workspace_id, requested_by, request_message_id, note, operator, deliver_to, \
     status, phase, progress, created_at, started_at, finished_at, emailed_at, link_expires_at, \
     error, runs, email_attempts, email_started_at";

impl JobStore {
    /// Opens (creating if needed) the store at `path`.
    pub fn open(path: &Path) -> Result<JobStore> {
        let conn = Connection::open(path)
            .with_context(|| format!("could not open the job store {}", path.display()))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)
            .with_context(|| format!("could not set up the job store {}", path.display()))?;
        Ok(JobStore {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // NOTE: a panic while holding the lock cannot leave SQLite half-written
        // (every change is one statement or one transaction), so a poisoned
        // lock is safe to keep using.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// After a restart: jobs that were `running` go back to `queued` (their
    /// ZIP is rewritten from scratch). Returns the queued jobs, oldest first,
    /// and the `ready` ones (built, not yet emailed).
    pub fn recover(&self) -> Result<(Vec<Uuid>, Vec<Uuid>)> {
        let c = self.conn();
        c.execute(
            "UPDATE jobs SET status = 'queued', phase = 'queued', progress = 0, error = NULL \
             WHERE status = 'running'",
            [],
        )?;
        let ids = |status: &str| -> Result<Vec<Uuid>> {
            let mut st =
                c.prepare("SELECT id FROM jobs WHERE status = ?1 ORDER BY created_at, rowid")?;
            let rows = st.query_map([status], |r| r.get::<_, String>(0))?;
            let mut out = Vec::new();
            for r in rows {
                out.push(Uuid::parse_str(&r?)?);
            }
            Ok(out)
        };
        Ok((ids("queued")?, ids("ready")?))
    }

    pub fn get(&self, id: Uuid) -> Result<Option<JobRow>> {
        let c = self.conn();
        Ok(c.query_row(
            &format!("SELECT {COLUMNS} FROM jobs WHERE id = ?1"),
            [id.to_string()],
            row_to_job,
        )
        .optional()?)
    }

    /// Jobs, newest first; of one workspace when given.
    pub fn list(&self, workspace: Option<Uuid>) -> Result<Vec<JobRow>> {
        let c = self.conn();
        let mut out = Vec::new();
        match workspace {
            Some(w) => {
                let mut st = c.prepare(&format!(
                    "SELECT {COLUMNS} FROM jobs WHERE workspace_id = ?1 \
                     ORDER BY created_at DESC, rowid DESC"
                ))?;
                for r in st.query_map([w.to_string()], row_to_job)? {
                    out.push(r?);
                }
            }
            None => {
                let mut st = c.prepare(&format!(
                    "SELECT {COLUMNS} FROM jobs ORDER BY created_at DESC, rowid DESC"
                ))?;
                for r in st.query_map([], row_to_job)? {
                    out.push(r?);
                }
            }
        }
        Ok(out)
    }

    /// Looks up an Idempotency-Key.
    pub fn lookup_key(&self, key: &str, request_hash: &str) -> Result<KeyLookup> {
        let c = self.conn();
        lookup_key(&c, key, request_hash)
    }

    /// Inserts the job and its key in one transaction, unless the key was
    /// taken meanwhile (answers what it points at) or, without `force`,
    /// another export of the workspace is live (answers that job).
    ///
    /// NOTE: the check and the insert are one IMMEDIATE transaction under
    /// the connection's mutex, so concurrent POSTs with different keys for
    /// one workspace create exactly one job.
    pub fn insert(
        &self,
        key: &str,
        request_hash: &str,
        job: &NewJob<'_>,
        force: bool,
    ) -> Result<Insert> {
        let mut c = self.conn();
        let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        match lookup_key(&tx, key, request_hash)? {
            KeyLookup::Free => {}
            KeyLookup::Same(j) => return Ok(Insert::Same(j)),
            KeyLookup::Conflict => return Ok(Insert::KeyConflict),
        }
        if !force {
            if let Some(live) = live_job(&tx, job.workspace_id, job.now_ms.div_euclid(1000))? {
                return Ok(Insert::InProgress(Box::new(live)));
            }
        }
        tx.execute(
            "INSERT INTO jobs (id, workspace_id, requested_by, request_message_id, note, operator, \
             deliver_to, status, phase, progress, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'queued', 'queued', 0, ?8)",
            params![
                job.id.to_string(),
                job.workspace_id.to_string(),
                job.requested_by.to_string(),
                job.request_message_id,
                job.note,
                job.operator,
                job.deliver_to,
                job.now_ms
            ],
        )?;
        tx.execute(
            "INSERT INTO idempotency_keys (key, request_hash, job_id, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![key, request_hash, job.id.to_string(), job.now_ms],
        )?;
        tx.commit()?;
        Ok(Insert::Created)
    }

    /// `queued → running`; false if the job is no longer queued.
    pub fn start(&self, id: Uuid, now_ms: i64, link_expires_at: i64) -> Result<bool> {
        let n = self.conn().execute(
            "UPDATE jobs SET status = 'running', phase = 'collecting', progress = 0, \
             started_at = ?2, link_expires_at = ?3, error = NULL, runs = runs + 1 \
             WHERE id = ?1 AND status = 'queued'",
            params![id.to_string(), now_ms, link_expires_at],
        )?;
        Ok(n == 1)
    }

    /// Phase and progress of a running job; false if it is no longer running.
    pub fn progress(&self, id: Uuid, phase: &str, progress: f64) -> Result<bool> {
        let n = self.conn().execute(
            "UPDATE jobs SET phase = ?2, progress = ?3 WHERE id = ?1 AND status = 'running'",
            params![id.to_string(), phase, progress.clamp(0.0, 1.0)],
        )?;
        Ok(n == 1)
    }

    /// `running → ready`: the ZIP is in place and the link can be signed.
    pub fn ready(&self, id: Uuid, now_ms: i64) -> Result<bool> {
        let n = self.conn().execute(
            "UPDATE jobs SET status = 'ready', phase = 'emailing', progress = 1, finished_at = ?2 \
             WHERE id = ?1 AND status = 'running'",
            params![id.to_string(), now_ms],
        )?;
        Ok(n == 1)
    }

    /// The sent-marker: recorded before each SMTP transaction of a `ready`
    /// job. False if the job is no longer ready (cancelled, or emailed).
    ///
    /// NOTE: a crash after the SMTP server accepted but before
    /// [`JobStore::emailed`] recorded it leaves the marker set without
    /// `emailed_at`; the next start sends again (logged), with the same
    /// Message-ID so the recipient's client can collapse the two. SMTP has
    /// no two-phase commit, so "at most one duplicate, in that window only"
    /// is the best available; the Maildir outbox is exactly-once.
    pub fn begin_email(&self, id: Uuid, now_ms: i64) -> Result<bool> {
        let n = self.conn().execute(
            "UPDATE jobs SET email_started_at = ?2, email_attempts = email_attempts + 1 \
             WHERE id = ?1 AND status = 'ready'",
            params![id.to_string(), now_ms],
        )?;
        Ok(n == 1)
    }

    /// `ready → emailed`, once the SMTP server accepted the message.
    pub fn emailed(&self, id: Uuid, now_ms: i64) -> Result<bool> {
        let n = self.conn().execute(
            "UPDATE jobs SET status = 'emailed', phase = NULL, emailed_at = ?2, error = NULL \
             WHERE id = ?1 AND status = 'ready'",
            params![id.to_string(), now_ms],
        )?;
        Ok(n == 1)
    }

    /// The error shown on the job while it is retried.
    pub fn set_error(&self, id: Uuid, error: &str) -> Result<()> {
        self.conn().execute(
            "UPDATE jobs SET error = ?2 WHERE id = ?1",
            params![id.to_string(), error],
        )?;
        Ok(())
    }

    /// `running | ready → failed`.
    pub fn fail(&self, id: Uuid, error: &str, now_ms: i64) -> Result<bool> {
        let n = self.conn().execute(
            "UPDATE jobs SET status = 'failed', phase = NULL, error = ?2, \
             finished_at = COALESCE(finished_at, ?3) \
             WHERE id = ?1 AND status IN ('queued', 'running', 'ready')",
            params![id.to_string(), error, now_ms],
        )?;
        Ok(n == 1)
    }

    /// Cancels a job that has not been emailed. `sending` says the email is
    /// in an SMTP transaction right now, which is too late to stop.
    pub fn cancel(&self, id: Uuid, now_ms: i64, sending: bool) -> Result<Cancel> {
        let Some(job) = self.get(id)? else {
            return Ok(Cancel::NotFound);
        };
        match job.status {
            JobStatus::Cancelled => return Ok(Cancel::Cancelled(job)),
            JobStatus::Emailed | JobStatus::Failed => return Ok(Cancel::TooLate(job)),
            JobStatus::Ready if sending => return Ok(Cancel::TooLate(job)),
            _ => {}
        }
        let n = self.conn().execute(
            "UPDATE jobs SET status = 'cancelled', phase = NULL, finished_at = ?2 \
             WHERE id = ?1 AND status IN ('queued', 'running', 'ready')",
            params![id.to_string(), now_ms],
        )?;
        let job = self.get(id)?.context("the job vanished")?;
        Ok(if n == 1 {
            Cancel::Cancelled(job)
        } else {
            Cancel::TooLate(job)
        })
    }
}

/// The newest live export of a workspace: queued, running, ready, or
/// emailed with its link still valid at `now_s` (Unix seconds).
fn live_job(c: &Connection, workspace: Uuid, now_s: i64) -> Result<Option<JobRow>> {
    Ok(c.query_row(
        &format!(
            "SELECT {COLUMNS} FROM jobs WHERE workspace_id = ?1 \
             AND (status IN ('queued', 'running', 'ready') \
                  OR (status = 'emailed' AND link_expires_at > ?2)) \
             ORDER BY created_at DESC, rowid DESC LIMIT 1"
        ),
        params![workspace.to_string(), now_s],
        row_to_job,
    )
    .optional()?)
}

fn lookup_key(c: &Connection, key: &str, request_hash: &str) -> Result<KeyLookup> {
    let found: Option<(String, String)> = c
        .query_row(
            "SELECT request_hash, job_id FROM idempotency_keys WHERE key = ?1",
            [key],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((hash, job_id)) = found else {
        return Ok(KeyLookup::Free);
    };
    if hash != request_hash {
        return Ok(KeyLookup::Conflict);
    }
    let job = c
        .query_row(
            &format!("SELECT {COLUMNS} FROM jobs WHERE id = ?1"),
            [job_id],
            row_to_job,
        )
        .context("an idempotency key points at a missing job")?;
    Ok(KeyLookup::Same(Box::new(job)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_job<'a>(id: Uuid) -> NewJob<'a> {
        NewJob {
            id,
            workspace_id: Uuid::nil(),
            requested_by: Uuid::nil(),
            request_message_id: "m@x",
            note: None,
            operator: Some("op"),
            deliver_to: "owner@acme.example",
            now_ms: 1,
        }
    }

    #[test]
    fn lifecycle_and_keys_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("jobs.db");
        let id = Uuid::new_v4();
        {
            let s = JobStore::open(&p).unwrap();
            assert!(matches!(
                s.insert("k", "h", &new_job(id), false).unwrap(),
                Insert::Created
            ));
            assert!(matches!(s.lookup_key("k", "h").unwrap(), KeyLookup::Same(j) if j.id == id));
            assert!(matches!(
                s.lookup_key("k", "other").unwrap(),
                KeyLookup::Conflict
            ));
            assert!(s.start(id, 2, 100).unwrap());
            assert!(!s.start(id, 2, 100).unwrap(), "started twice");
            assert!(s.progress(id, "writing:messages", 0.5).unwrap());
        }
        // "crash" mid-run: reopen
        let s = JobStore::open(&p).unwrap();
        let (queued, ready) = s.recover().unwrap();
        assert_eq!(queued, vec![id]);
        assert!(ready.is_empty());
        assert!(matches!(
            s.lookup_key("k", "h").unwrap(),
            KeyLookup::Same(_)
        ));
        assert!(s.start(id, 3, 100).unwrap());
        assert_eq!(s.get(id).unwrap().unwrap().runs, 2);
        assert!(s.ready(id, 4).unwrap());
        assert!(s.begin_email(id, 5).unwrap());
        assert!(s.emailed(id, 6).unwrap());
        assert!(!s.emailed(id, 7).unwrap(), "emailed twice");
        assert!(matches!(
            s.cancel(id, 8, false).unwrap(),
            Cancel::TooLate(_)
        ));
    }

    #[test]
    fn one_live_export_per_workspace_unless_forced() {
        let dir = tempfile::tempdir().unwrap();
        let s = JobStore::open(&dir.path().join("jobs.db")).unwrap();
        let first = Uuid::new_v4();
        assert!(matches!(
            s.insert("a", "h", &new_job(first), false).unwrap(),
            Insert::Created
        ));
        // another key, same workspace: the live job is named
        let second = Uuid::new_v4();
        match s.insert("b", "h", &new_job(second), false).unwrap() {
            Insert::InProgress(j) => assert_eq!(j.id, first),
            other => panic!("{other:?}"),
        }
        assert!(s.get(second).unwrap().is_none());
        // the same key again is still its own job, not a conflict
        assert!(
            matches!(s.insert("a", "h", &new_job(second), false).unwrap(), Insert::Same(j) if j.id == first)
        );
        // emailed with a valid link (expires at 100 s; now is 1 ms) is live too
        assert!(s.start(first, 1, 100).unwrap());
        assert!(s.ready(first, 2).unwrap());
        assert!(s.emailed(first, 3).unwrap());
        assert!(matches!(
            s.insert("b", "h", &new_job(second), false).unwrap(),
            Insert::InProgress(_)
        ));
        // once the link expired it is not
        let mut later = new_job(second);
        later.now_ms = 100_000;
        assert!(matches!(
            s.insert("b", "h", &later, false).unwrap(),
            Insert::Created
        ));
        // forced: a second live job
        let third = Uuid::new_v4();
        assert!(matches!(
            s.insert("c", "h", &new_job(third), true).unwrap(),
            Insert::Created
        ));
    }

    #[test]
    fn cancel_wins_over_a_late_worker() {
        let dir = tempfile::tempdir().unwrap();
        let s = JobStore::open(&dir.path().join("jobs.db")).unwrap();
        let id = Uuid::new_v4();
        s.insert("k2", "h", &new_job(id), false).unwrap();
        assert!(s.start(id, 1, 100).unwrap());
        assert!(matches!(
            s.cancel(id, 2, false).unwrap(),
            Cancel::Cancelled(_)
        ));
        assert!(!s.ready(id, 3).unwrap());
        assert!(!s.progress(id, "x", 0.1).unwrap());
        assert_eq!(s.get(id).unwrap().unwrap().status, JobStatus::Cancelled);
    }
}

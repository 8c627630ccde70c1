//! Background jobs: a dispatcher hands queued jobs to at most `--workers`
//! concurrent builds; a built job is then emailed, with retries.
//!
//! A job's life: `queued` → `running` (phases `collecting`,
//! `writing:conversations` … `writing:attachments`, `uploading`) → `ready`
//! (phase `emailing`) → `emailed`; or `failed` / `cancelled`.
//!
//! Restart: jobs found `running` are queued again and their ZIP rewritten
//! from scratch (the partial file is truncated); `ready` jobs resume
//! emailing. Status `emailed` is recorded only after the SMTP server
//! accepted the message.

use super::export::{write_export, ExportError, ExportOptions};
use super::links::LinkKey;
use super::mail::{self, Mailer};
use super::seed::{Attachment, Demo};
use super::store::{Cancel, JobRow, JobStore};
use anyhow::{Context, Result};
use lettre::message::Mailbox;
use ochre_api::secret::Secret;
use ochre_api::JobStatus;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, Semaphore};
use uuid::Uuid;

/// How often a running job writes its progress to the store.
const PROGRESS_EVERY: Duration = Duration::from_millis(200);
/// Email retries: first delay, cap, and how many attempts before giving up
/// (unless the link expires first).
const EMAIL_RETRY_BASE: Duration = Duration::from_secs(1);
const EMAIL_RETRY_CAP: Duration = Duration::from_secs(60);
pub const EMAIL_MAX_ATTEMPTS: i64 = 30;
/// How often built exports whose link has expired are deleted.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// The shared state of the reference backend.
pub struct Backend {
    pub demo: Demo,
    pub store: JobStore,
    pub key: LinkKey,
    pub token: Secret,
    pub public_url: String,
    pub link_ttl: Duration,
    exports_dir: PathBuf,
    mailer: Mailer,
    from: Mailbox,
    queue: mpsc::UnboundedSender<Uuid>,
    queue_rx: Mutex<Option<mpsc::UnboundedReceiver<Uuid>>>,
    workers: usize,
    email_attempts: i64,
    cancels: Mutex<HashMap<Uuid, Arc<AtomicBool>>>,
    /// Jobs whose email is in an SMTP transaction right now.
    sending: Mutex<HashSet<Uuid>>,
    /// Set on shutdown: running builds stop and stay `running` in the store.
    stopping: AtomicBool,
}

pub struct BackendParts {
    pub demo: Demo,
    pub store: JobStore,
    pub key: LinkKey,
    pub token: Secret,
    pub public_url: String,
    pub link_ttl: Duration,
    pub exports_dir: PathBuf,
    pub mailer: Mailer,
    pub from: Mailbox,
    pub workers: usize,
    /// Attempts to deliver a link email before the job fails
    /// (default [`EMAIL_MAX_ATTEMPTS`]).
    pub email_attempts: i64,
}

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Backend {
    pub fn new(p: BackendParts) -> Backend {
        let (tx, rx) = mpsc::unbounded_channel();
        Backend {
            demo: p.demo,
            store: p.store,
            key: p.key,
            token: p.token,
            public_url: p.public_url,
            link_ttl: p.link_ttl,
            exports_dir: p.exports_dir,
            mailer: p.mailer,
            from: p.from,
            queue: tx,
            queue_rx: Mutex::new(Some(rx)),
            workers: p.workers,
            email_attempts: p.email_attempts.max(1),
            cancels: Mutex::new(HashMap::new()),
            sending: Mutex::new(HashSet::new()),
            stopping: AtomicBool::new(false),
        }
    }

    /// Stops every running build without changing its state in the store,
    /// so the next start rebuilds it from scratch (as after a crash).
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        for flag in lock(&self.cancels).values() {
            flag.store(true, Ordering::SeqCst);
        }
    }

    /// Starts the dispatcher, re-queues interrupted jobs and resumes
    /// emailing built ones. Call once, inside the runtime.
    pub fn recover(this: &Arc<Backend>) -> Result<()> {
        let rx = lock(&this.queue_rx)
            .take()
            .context("the job dispatcher was started twice")?;
        tokio::spawn(dispatcher(this.clone(), rx));
        let sweeper = this.clone();
        tokio::spawn(async move {
            loop {
                let b = sweeper.clone();
                let _ = tokio::task::spawn_blocking(move || b.sweep()).await;
                tokio::time::sleep(SWEEP_EVERY).await;
            }
        });
        let (queued, ready) = this.store.recover()?;
        for id in queued {
            tracing::info!(job = %id, "resuming queued job");
            this.enqueue(id);
        }
        for id in ready {
            let job = this.store.get(id)?;
            if job.as_ref().and_then(|j| j.email_started_at).is_some() {
                tracing::warn!(job = %id, "the link email may have been accepted before the restart; sending it again with the same Message-ID");
            }
            tokio::spawn(email_job(this.clone(), id));
        }
        Ok(())
    }

    pub fn enqueue(&self, id: Uuid) {
        let _ = self.queue.send(id);
    }

    /// Deletes the ZIPs nobody can download any more: the link expired, or
    /// the job is gone. (A cancelled job's ZIP is deleted when it is cancelled.)
    pub fn sweep(&self) {
        let now = chrono::Utc::now().timestamp();
        let Ok(dir) = std::fs::read_dir(&self.exports_dir) else {
            return;
        };
        for e in dir.flatten() {
            let name = e.file_name();
            let Some(id) = name
                .to_str()
                .and_then(|n| n.strip_suffix(".zip"))
                .and_then(|n| Uuid::parse_str(n).ok())
            else {
                continue;
            };
            let dead = match self.store.get(id) {
                Ok(Some(j)) => j.link_expires_at.is_some_and(|t| t <= now),
                Ok(None) => true,
                Err(_) => false,
            };
            if dead && std::fs::remove_file(e.path()).is_ok() {
                tracing::info!(job = %id, "deleted an export whose link expired");
            }
        }
    }

    /// The path of a job's finished ZIP.
    pub fn zip_path(&self, id: Uuid) -> PathBuf {
        self.exports_dir.join(format!("{id}.zip"))
    }

    /// The download URL of a job's export.
    pub fn download_url(&self, id: Uuid, expires: i64) -> String {
        format!(
            "{}/downloads/{}",
            self.public_url,
            self.key.sign_download(id, expires)
        )
    }

    /// Cancels a job (see [`JobStore::cancel`]); a running build stops at
    /// its next progress report.
    pub fn cancel(&self, id: Uuid) -> Result<Cancel> {
        // NOTE: the `sending` lock is held across the check and the update,
        // and `email_job` takes it to enter a transaction, so a cancel can
        // never slip between "email accepted" and "recorded as emailed".
        let sending = lock(&self.sending);
        let out = self.store.cancel(id, now_ms(), sending.contains(&id))?;
        drop(sending);
        if let Cancel::Cancelled(_) = out {
            if let Some(flag) = lock(&self.cancels).get(&id) {
                flag.store(true, Ordering::SeqCst);
            }
            let _ = std::fs::remove_file(self.zip_path(id));
        }
        Ok(out)
    }
}

async fn dispatcher(b: Arc<Backend>, mut rx: mpsc::UnboundedReceiver<Uuid>) {
    let sem = Arc::new(Semaphore::new(b.workers));
    while let Some(id) = rx.recv().await {
        let Ok(permit) = sem.clone().acquire_owned().await else {
            return;
        };
        let b = b.clone();
        tokio::spawn(async move {
            let built = build_job(b.clone(), id).await;
            drop(permit);
            if built {
                email_job(b, id).await;
            }
        });
    }
}

/// Builds the ZIP of a queued job. True when the job is `ready`.
async fn build_job(b: Arc<Backend>, id: Uuid) -> bool {
    let job = match b.store.get(id) {
        Ok(Some(j)) if j.status == JobStatus::Queued => j,
        Ok(_) => return false,
        Err(e) => {
            tracing::error!(job = %id, error = %format!("{e:#}"), "could not read the job");
            return false;
        }
    };
    let expires = chrono::Utc::now().timestamp() + b.link_ttl.as_secs() as i64;
    match b.store.start(id, now_ms(), expires) {
        Ok(true) => {}
        Ok(false) => return false,
        Err(e) => {
            tracing::error!(job = %id, error = %format!("{e:#}"), "could not start the job");
            return false;
        }
    }
    tracing::info!(job = %id, workspace = %job.workspace_id, "building export");
    let flag = Arc::new(AtomicBool::new(b.stopping.load(Ordering::SeqCst)));
    lock(&b.cancels).insert(id, flag.clone());
    let bb = b.clone();
    let started = Instant::now();
    let res = tokio::task::spawn_blocking(move || build_zip(&bb, &job, expires, &flag)).await;
    lock(&b.cancels).remove(&id);
    match res {
        Ok(Ok(())) => match b.store.ready(id, now_ms()) {
            Ok(true) => {
                tracing::info!(job = %id, "export built in {:?}", started.elapsed());
                true
            }
            _ => {
                let _ = std::fs::remove_file(b.zip_path(id));
                false
            }
        },
        Ok(Err(BuildError::Cancelled)) => {
            if b.stopping.load(Ordering::SeqCst) {
                tracing::info!(job = %id, "export interrupted by shutdown; it is rebuilt on the next start");
            } else {
                tracing::info!(job = %id, "export cancelled");
            }
            false
        }
        Ok(Err(BuildError::Failed(e))) => {
            tracing::error!(job = %id, error = %e, "export failed");
            let _ = b.store.fail(id, &e, now_ms());
            false
        }
        Err(e) => {
            let msg = format!("the export worker stopped: {e}");
            tracing::error!(job = %id, error = %msg);
            let _ = b.store.fail(id, &msg, now_ms());
            false
        }
    }
}

enum BuildError {
    Cancelled,
    Failed(String),
}

fn build_zip(
    b: &Backend,
    job: &JobRow,
    expires: i64,
    cancel: &AtomicBool,
) -> Result<(), BuildError> {
    let ws = b.demo.workspace(job.workspace_id).ok_or_else(|| {
        BuildError::Failed(format!("workspace {} no longer exists", job.workspace_id))
    })?;
    let part = b.exports_dir.join(format!("{}.zip.part", job.id));
    let fail = |what: &str, e: &dyn std::fmt::Display| BuildError::Failed(format!("{what}: {e}"));
    // NOTE: File::create truncates: a job re-run after a restart rewrites its
    // ZIP from scratch rather than trusting a half-written file.
    let file = super::private::create(&part).map_err(|e| fail("could not create the ZIP", &e))?;
    let url_for = |a: &Attachment| {
        format!(
            "{}/attachments/{}",
            b.public_url,
            b.key.sign_attachment(job.id, a.id, expires)
        )
    };
    let opts = ExportOptions {
        exported_at: chrono::Utc::now().timestamp(),
        link_expires_at: expires,
        large_attachment_url: &url_for,
        scratch_dir: Some(&b.exports_dir),
    };
    let mut last = Instant::now() - PROGRESS_EVERY;
    let mut last_phase = String::new();
    let mut progress = |phase: &str, f: f64| -> bool {
        if cancel.load(Ordering::SeqCst) {
            return false;
        }
        if phase != last_phase || last.elapsed() >= PROGRESS_EVERY {
            last = Instant::now();
            last_phase.clear();
            last_phase.push_str(phase);
            // Scaled so that 1.0 means "emailed is next", not "writing done".
            match b.store.progress(job.id, phase, f * 0.98) {
                Ok(still_running) => return still_running,
                Err(e) => {
                    tracing::warn!(job = %job.id, error = %format!("{e:#}"), "could not record progress")
                }
            }
        }
        true
    };
    let result = write_export(
        ws,
        std::io::BufWriter::with_capacity(1 << 20, file),
        &opts,
        &mut progress,
    );
    let w = match result {
        Ok((w, summary)) => {
            tracing::info!(job = %job.id, records = ?summary.counts, "export written");
            w
        }
        Err(ExportError::Cancelled) => {
            let _ = std::fs::remove_file(&part);
            return Err(BuildError::Cancelled);
        }
        Err(e) => {
            let _ = std::fs::remove_file(&part);
            return Err(fail("could not write the export", &e));
        }
    };
    let file = w
        .into_inner()
        .map_err(|e| fail("could not write the ZIP", &e.error().to_string()))?;
    file.sync_all()
        .map_err(|e| fail("could not write the ZIP", &e))?;
    drop(file);
    let _ = b.store.progress(job.id, "uploading", 0.99);
    std::fs::rename(&part, b.zip_path(job.id)).map_err(|e| fail("could not store the ZIP", &e))?;
    if let Ok(d) = std::fs::File::open(&b.exports_dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Emails the link of a `ready` job, retrying with backoff; the job shows
/// the last error while it retries.
async fn email_job(b: Arc<Backend>, id: Uuid) {
    let mut attempt: i64 = 0;
    loop {
        let job = match b.store.get(id) {
            Ok(Some(j)) if j.status == JobStatus::Ready => j,
            _ => return,
        };
        let Some(expires) = job.link_expires_at else {
            let _ = b.store.fail(id, "the job has no link expiry", now_ms());
            return;
        };
        if chrono::Utc::now().timestamp() >= expires {
            let _ = b.store.fail(
                id,
                "the link expired before the email could be delivered",
                now_ms(),
            );
            return;
        }
        let msg = match compose(&b, &job, expires) {
            Ok(m) => m,
            Err(e) => {
                let _ = b.store.fail(id, &format!("{e:#}"), now_ms());
                return;
            }
        };
        if !b.enter_sending(id) {
            return;
        }
        let result = b.mailer.deliver(&msg, &mail::outbox_name(id)).await;
        match result {
            Ok(()) => {
                crash_point("after-email");
                b.leave_sending(id, true);
                return;
            }
            Err(e) => {
                b.leave_sending(id, false);
                attempt += 1;
                if attempt >= b.email_attempts {
                    let _ = b.store.fail(
                        id,
                        &format!(
                            "the link email could not be delivered after {attempt} attempts: {e}"
                        ),
                        now_ms(),
                    );
                    return;
                }
                let delay = backoff(attempt);
                tracing::warn!(job = %id, attempt, error = %e, "link email not delivered; retrying in {delay:?}");
                let _ = b.store.set_error(
                    id,
                    &format!(
                        "email not delivered (attempt {attempt}), retrying in {}s: {e}",
                        delay.as_secs().max(1)
                    ),
                );
                tokio::time::sleep(delay).await;
            }
        }
    }
}

impl Backend {
    /// Records the sent-marker and marks the job as in an SMTP transaction;
    /// false if the job is no longer `ready`.
    fn enter_sending(&self, id: Uuid) -> bool {
        let mut sending = lock(&self.sending);
        match self.store.begin_email(id, now_ms()) {
            Ok(true) => {
                sending.insert(id);
                true
            }
            _ => false,
        }
    }

    /// Ends the SMTP transaction; when `accepted`, records `emailed` under
    /// the same lock that a cancel takes.
    fn leave_sending(&self, id: Uuid, accepted: bool) {
        let mut sending = lock(&self.sending);
        if accepted {
            match self.store.emailed(id, now_ms()) {
                Ok(true) => tracing::info!(job = %id, "link emailed"),
                Ok(false) => tracing::warn!(job = %id, "link emailed, but the job had changed"),
                Err(e) => {
                    tracing::error!(job = %id, error = %format!("{e:#}"), "could not record the email")
                }
            }
        }
        sending.remove(&id);
    }
}

/// The environment variable of [`crash_point`].
pub const CRASH_AT_ENV: &str = "CONCIERGE_BACKEND_CRASH_AT";

/// A test hook: when [`CRASH_AT_ENV`] names this point, the process aborts
/// here, like a kill -9 at exactly this step (no destructor, no store
/// update). The fault tests use it for windows too narrow to hit from
/// outside, e.g. "the email was delivered, `emailed` not yet recorded".
///
/// NOTE: compiled only into debug builds (`debug_assertions`), as
/// Concierge's own `ops::export::crash_point`: `cargo test` builds the
/// binary the fault tests run in debug, while a `release` or `dist` binary
/// holds neither the check nor the variable's name, so no environment can
/// make a shipped backend abort.
fn crash_point(name: &str) {
    #[cfg(debug_assertions)]
    if std::env::var(CRASH_AT_ENV).is_ok_and(|v| v == name) {
        eprintln!("{CRASH_AT_ENV}={name}: aborting here");
        std::process::abort();
    }
    #[cfg(not(debug_assertions))]
    let _ = name;
}

fn backoff(attempt: i64) -> Duration {
    let attempt = u32::try_from(attempt.max(1)).unwrap_or(u32::MAX);
    ochre_api::net::Backoff::new(EMAIL_RETRY_BASE, EMAIL_RETRY_CAP).delay(attempt)
}

fn compose(b: &Backend, job: &JobRow, expires: i64) -> Result<lettre::Message> {
    let ws = b
        .demo
        .workspace(job.workspace_id)
        .context("the workspace no longer exists")?;
    let member = ws.member(job.requested_by);
    let url = b.download_url(job.id, expires);
    mail::compose(
        &b.from,
        &mail::LinkEmail {
            job_id: job.id,
            to_email: &job.deliver_to,
            to_name: member.map(|m| m.name.as_str()).unwrap_or(""),
            workspace: &ws.name,
            url: &url,
            expires_at: expires,
            size: ws.size(),
        },
    )
}

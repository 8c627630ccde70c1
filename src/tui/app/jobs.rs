//! The export's network side: starting it (with the frozen body and the
//! idempotency key), following the job, cancelling and retrying. Workers
//! report [`Outcome`]s; [`Runtime::apply`] records them.

use super::*;

impl Runtime {
    pub(super) fn cancel_job(&mut self, id: i64, seen: Option<i64>) -> Vec<Msg> {
        let (Some(backend), Ok(req)) = (self.backend.clone(), self.store.load_request(id)) else {
            return Self::failed(id, "cancelling", "no backend");
        };
        // The collision stop and the record, before the backend hears of it.
        let actor = self.actor.clone();
        if let Err(e) = self.store.cancel_requested(id, seen, &actor) {
            return self.refused(id, "cancelling", e);
        }
        let Some(job_id) = req
            .job
            .as_ref()
            .and_then(|j| uuid::Uuid::parse_str(&j.id).ok())
        else {
            return Self::failed(id, "cancelling", "the export has not started yet");
        };
        let tx = self.tx.clone();
        tokio::spawn(async move {
            let ev = match backend.cancel(job_id).await {
                Ok(job) => outcome(Outcome::JobCancelled {
                    id,
                    job: job_snap(&job),
                }),
                Err(e) => msg(Msg::Failed {
                    id,
                    what: "cancelling".into(),
                    error: api_err(&e),
                }),
            };
            let _ = tx.send(ev);
        });
        vec![]
    }

    pub(super) fn retry_job(&mut self, id: i64, seen: Option<i64>) -> Vec<Msg> {
        // Never a second live export: ask the backend first.
        let (Some(backend), Ok(req)) = (self.backend.clone(), self.store.load_request(id)) else {
            return Self::failed(id, "retrying", "no backend");
        };
        let Some(ws) = req
            .workspace_id
            .as_deref()
            .and_then(|w| uuid::Uuid::parse_str(w).ok())
        else {
            return Self::failed(id, "retrying", "the workspace is not identified");
        };
        let tx = self.tx.clone();
        tokio::spawn(async move {
            let ev = match backend.jobs(ws).await {
                Ok(jobs) => match jobs.iter().find(|j| !j.status.is_terminal()) {
                    Some(live) => msg(Msg::Failed {
                        id,
                        what: "retrying".into(),
                        error: format!(
                            "export {} of this workspace is still {}",
                            live.id,
                            live.status.as_str()
                        ),
                    }),
                    None => outcome(Outcome::RetryCleared { id, seen }),
                },
                Err(e) => msg(Msg::Failed {
                    id,
                    what: "retrying".into(),
                    error: api_err(&e),
                }),
            };
            let _ = tx.send(ev);
        });
        vec![]
    }

    /// Records the retry (same key when no job was created, a new one when
    /// the backend reported the job dead) and starts the export.
    pub(super) fn retry_now(&mut self, id: i64, seen: Option<i64>) -> Vec<Msg> {
        let actor = self.actor.clone();
        match self.store.retry_job(id, &actor, seen) {
            Ok(_) => {
                let mut out = self.reload(id);
                if let Ok(req) = self.store.load_request(id) {
                    self.start_export(&req);
                }
                out.push(Msg::Done {
                    id,
                    what: "the export is starting again".into(),
                });
                out
            }
            Err(e) => self.refused(id, "retrying", e),
        }
    }

    pub(super) fn save_job(&mut self, id: i64, job: &JobSnap) -> Vec<Msg> {
        if let Err(e) = self.store.set_job(id, job, &self.actor) {
            return Self::failed(id, "saving the job", e);
        }
        self.record_duration(id, job);
        self.reload(id)
    }

    /// A finished job's real duration, kept beside its estimate so the rates
    /// can be calibrated (`concierge estimate --calibration`).
    fn record_duration(&mut self, id: i64, job: &JobSnap) {
        if job.status != crate::domain::JobStatus::Emailed {
            return;
        }
        let (Some(start), Some(end)) = (job.created_at, job.finished_at) else {
            return;
        };
        let Ok(req) = self.store.load_request(id) else {
            return;
        };
        let Some(size) = req.size else { return };
        let size = crate::estimate::Size::from(size);
        let actual = (end - start).num_milliseconds().max(0) as f64 / 3_600_000.0;
        let estimated = self.rates.hours(&size);
        let _ = self.store.record_job_duration(
            &job.id,
            req.workspace_id.as_deref(),
            &size,
            estimated,
            actual,
        );
    }

    /// Starts (or, with the same key, finds again) the export of an approved
    /// request, then follows it.
    pub(super) fn start_export(&mut self, req: &RequestView) {
        let id = req.id;
        let (Some(backend), Some(key)) = (self.backend.clone(), req.idempotency_key.clone()) else {
            self.send(msg(Msg::Failed {
                id,
                what: "starting the export".into(),
                error: "no backend configured".into(),
            }));
            return;
        };
        // The body stored at approval: a retry sends the same bytes.
        let (body, force) = match crate::ops::export::frozen_body(req) {
            Ok(b) => b,
            Err(e) => {
                self.send(msg(Msg::Failed {
                    id,
                    what: "starting the export".into(),
                    error: format!("{e:#}"),
                }));
                return;
            }
        };
        let tx = self.tx.clone();
        tokio::spawn(async move {
            // Retried with backoff while unreachable: the same key never starts a second export.
            let mut attempt = 0u32;
            loop {
                match backend.start_export_with(&body, &key, force).await {
                    Ok(job) => {
                        crate::ops::export::crash_point(crate::ops::export::CRASH_AFTER_START);
                        let snap = job_snap(&job);
                        let _ = tx.send(msg(Msg::Backend(Health::Up("backend".into()))));
                        let _ = tx.send(outcome(Outcome::ExportStarted { id, job: snap }));
                        return;
                    }
                    // NOTE: an unknown outcome (no answer, 5xx, 429, an answer
                    // we cannot read) may mean the job exists: keep asking
                    // with the same key, which can only return that job.
                    Err(e) if e.is_transient() || matches!(e, ApiError::Protocol { .. }) => {
                        let wait = crate::sync::backoff(
                            attempt,
                            Duration::from_secs(1),
                            Duration::from_secs(60),
                        );
                        attempt += 1;
                        let _ = tx.send(msg(Msg::Backend(Health::Down(format!(
                            "{}; retrying",
                            api_err(&e)
                        )))));
                        tokio::time::sleep(wait).await;
                    }
                    // NOTE: another request's export of this workspace is
                    // live: its link goes to that requester, so it is not
                    // adopted, and nothing is started. (A second export the
                    // operator confirmed carries `force` and never gets here.)
                    Err(ApiError::ExportInProgress { job_id, .. }) => {
                        let _ = tx.send(msg(Msg::Failed {
                            id,
                            what: "starting the export".into(),
                            error: format!(
                                "the backend already runs export {job_id} of this workspace for another request; \
                                 nothing was started: reject this one with reject_duplicate, or retry once that export is done"
                            ),
                        }));
                        return;
                    }
                    // A 409 (the key used with another body by an older
                    // version, or another live export of the workspace):
                    // an export exists. Find it and follow it, never a second.
                    Err(e @ ApiError::Conflict { .. }) => {
                        let now = chrono::Utc::now();
                        let found = backend.jobs(body.workspace_id).await.ok().and_then(|jobs| {
                            crate::ops::export::job_to_adopt(&jobs, now).map(job_snap)
                        });
                        let Some(snap) = found else {
                            let _ = tx.send(msg(Msg::Failed {
                                id,
                                what: "starting the export".into(),
                                error: format!(
                                    "{}; no export of the workspace was found to adopt",
                                    api_err(&e)
                                ),
                            }));
                            return;
                        };
                        let _ = tx.send(outcome(Outcome::ExportAdopted { id, job: snap }));
                        return;
                    }
                    Err(e) => {
                        let error = api_err(&e);
                        let snap = JobSnap {
                            id: String::new(),
                            status: crate::domain::JobStatus::Failed,
                            phase: None,
                            progress: 0.0,
                            created_at: None,
                            finished_at: None,
                            emailed_at: None,
                            deliver_to: None,
                            link_expires_at: None,
                            error: Some(error.clone()),
                        };
                        let _ = tx.send(outcome(Outcome::ExportRefused {
                            id,
                            job: snap,
                            error,
                        }));
                        return;
                    }
                }
            }
        });
    }

    /// Follows a job until it is emailed (or fails), with backoff while
    /// nothing changes or the backend is down.
    pub(super) fn follow(&mut self, id: i64, req: &RequestView) {
        let Some(backend) = self.backend.clone() else {
            return;
        };
        let Some(job) = &req.job else { return };
        if job.is_terminal() || !self.following.insert(id) {
            return;
        }
        let Ok(job_id) = uuid::Uuid::parse_str(&job.id) else {
            return;
        };
        let tx = self.tx.clone();
        let fastest = self.job_poll;
        let mut last = job.clone();
        tokio::spawn(async move {
            let mut wait = fastest;
            let mut down = false;
            loop {
                tokio::time::sleep(wait).await;
                match backend.job(job_id).await {
                    Ok(j) => {
                        if std::mem::take(&mut down) {
                            // The backend answers again: the status bar says so.
                            let _ = tx.send(msg(Msg::Backend(Health::Up("backend".into()))));
                        }
                        let snap = job_snap(&j);
                        let changed = snap != last;
                        let done = j.status.is_terminal();
                        if changed {
                            last = snap.clone();
                            let _ = tx.send(msg(Msg::Job { id, job: snap }));
                        }
                        if done {
                            let _ = tx.send(outcome(Outcome::FollowEnded { id }));
                            return;
                        }
                        wait = if changed {
                            fastest
                        } else {
                            (wait * 2).min(Duration::from_secs(30))
                        };
                    }
                    // NOTE: a 404 is no outage: the backend answers, and
                    // it does not know the job (data lost, another backend).
                    // Following it forever would hide that; record it lost.
                    Err(ApiError::NotFound { .. }) => {
                        let snap = crate::ops::export::lost(&last);
                        let _ = tx.send(msg(Msg::Job { id, job: snap }));
                        let _ = tx.send(outcome(Outcome::FollowEnded { id }));
                        return;
                    }
                    Err(e) => {
                        down = true;
                        let _ = tx.send(msg(Msg::Backend(Health::Down(api_err(&e)))));
                        wait = (wait * 2).min(Duration::from_secs(60));
                    }
                }
            }
        });
    }
}

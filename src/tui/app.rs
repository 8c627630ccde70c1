//! The loop and the workers.
//!
//! [`App`] owns the [`State`] and the [`Runtime`]; every event goes through
//! [`App::handle`]: `update` decides, the runtime carries the commands out —
//! store writes (local SQLite, with their audit entries) right away, network
//! work on tokio tasks that report back through the channel. The terminal
//! loop ([`run`]) only adds the terminal's events and drawing, so tests drive
//! the same `App` through its channel without a terminal.

use super::keys::KeyMap;
use super::msg::{Command, Msg};
use super::state::{Health, OutboxMail, State};
use super::update::update;
use crate::backend::{ApiError, BackendClient, Job};
use crate::estimate::Rates;
use crate::mail::outgoing::{Reply, Sender};
use crate::mail::templates::{Template, Templates};
use crate::store::requests::{JobSnap, Membership, RequestView, Resolution};
use crate::store::Store;
use anyhow::{Context, Result};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Where the inbox comes from.
// One value per app: the size of `Connection` (grown by the OAuth settings)
// does not matter here.
#[allow(clippy::large_enum_variant)]
pub enum Inbox {
    Maildir(PathBuf),
    Imap {
        cfg: crate::config::Connection,
        password: crate::secret::Secret,
    },
    /// No inbox worker (tests feed requests themselves).
    None,
}

/// Everything the app needs, already validated.
pub struct Setup {
    pub store_path: crate::store::Location,
    /// The operator's display name (signs replies, shown to colleagues).
    pub operator: String,
    /// `[operator] email`: the identity in the store; `None` uses the name.
    pub operator_email: Option<String>,
    pub rates: Rates,
    pub keys: KeyMap,
    pub templates: Templates,
    pub backend: Option<BackendClient>,
    pub sender: Option<Sender>,
    /// The From of replies.
    pub from: String,
    pub inbox: Inbox,
    pub authserv_id: String,
    /// Maildirs whose mail the outbox view shows (the demo).
    pub outboxes: Vec<PathBuf>,
    /// For filing replies over IMAP (`\Answered`, Sent copy).
    pub config: Option<crate::config::Config>,
    /// Poll interval of the job follower at its fastest.
    pub job_poll: Duration,
}

/// Work a worker hands back to the loop, to run with the runtime's store.
pub type Apply = Box<dyn FnOnce(&mut Runtime) -> Vec<Msg> + Send>;

/// A message for the loop: for `update`, or work for the runtime with the store.
// NOTE: events are moved once through a channel; boxing the big ones buys nothing.
#[allow(clippy::large_enum_variant)]
pub enum Event {
    Msg(Msg),
    /// Runs on the loop with the runtime (store writes after network work).
    Apply(Apply),
}

pub struct Runtime {
    pub store: Store,
    tx: mpsc::UnboundedSender<Event>,
    backend: Option<Arc<BackendClient>>,
    sender: Option<Arc<Sender>>,
    templates: Templates,
    rates: Rates,
    operator: String,
    /// The operator's id in the store: audit actor, notes, claims.
    actor: String,
    from: String,
    outboxes: Vec<PathBuf>,
    config: Option<crate::config::Config>,
    job_poll: Duration,
    /// Jobs being followed (request ids), so one is never followed twice.
    following: std::collections::HashSet<i64>,
    /// Bounds concurrent backend lookups (a big store resolves gradually).
    lookups: Arc<tokio::sync::Semaphore>,
}

pub struct App {
    pub state: State,
    pub runtime: Runtime,
}

fn msg(m: Msg) -> Event {
    Event::Msg(m)
}

fn api_err(e: &ApiError) -> String {
    crate::intake::sanitize::single_line(&e.to_string()).text
}

fn job_snap(j: &Job) -> JobSnap {
    JobSnap {
        id: j.id.to_string(),
        status: j.status,
        phase: j.phase.clone(),
        progress: j.progress,
        created_at: Some(j.created_at.to_rfc3339()),
        finished_at: j.finished_at.map(|t| t.to_rfc3339()),
        emailed_at: j.emailed_at.map(|t| t.to_rfc3339()),
        deliver_to: j.deliver_to.clone(),
        link_expires_at: j.link_expires_at.map(|t| t.to_rfc3339()),
        error: j.error.clone(),
    }
}

impl App {
    /// Opens the store, loads every request and starts the workers.
    pub fn start(setup: Setup, tx: mpsc::UnboundedSender<Event>) -> Result<App> {
        let mut store = Store::open_at(&setup.store_path)?;
        let actor = crate::config::Operator {
            name: setup.operator.clone(),
            email: setup.operator_email.clone(),
        }
        .id();
        // Colleagues' screens show this name for our changes and claims.
        store.register_operator(&actor, &setup.operator)?;
        let requests = store.load_requests()?;
        let mut state = State::new(
            requests,
            setup.rates.clone(),
            setup.operator.clone(),
            chrono::Utc::now(),
        );
        state.keys = setup.keys;
        state.operator_id = actor.clone();
        state.has_outbox = !setup.outboxes.is_empty();
        if setup.backend.is_none() {
            state.backend = Health::Down("not configured".into());
        }
        let mut runtime = Runtime {
            store,
            tx: tx.clone(),
            backend: setup.backend.map(Arc::new),
            sender: setup.sender.map(Arc::new),
            templates: setup.templates,
            rates: setup.rates,
            operator: setup.operator,
            actor,
            from: setup.from,
            outboxes: setup.outboxes,
            config: setup.config,
            job_poll: setup.job_poll,
            following: Default::default(),
            lookups: Arc::new(tokio::sync::Semaphore::new(4)),
        };
        start_inbox(
            setup.inbox,
            setup.store_path.clone(),
            setup.authserv_id,
            tx.clone(),
        );
        runtime.resume()?;
        // Requests the backend has not been asked about yet.
        let unresolved: Vec<i64> = state
            .rows
            .iter()
            .filter(|r| {
                !r.req.workspace_verified && r.req.memberships.is_empty() && r.req.state.is_open()
            })
            .map(|r| r.req.id)
            .collect();
        for id in unresolved {
            if let Some(r) = state.row_mut(id) {
                r.resolving = true;
            }
            runtime.dispatch(Command::Resolve { id });
        }
        if let Some(id) = state.current().map(|r| r.req.id) {
            // Through `update`, which also marks its follow-ups read.
            let mut pending = runtime.dispatch(Command::LoadThread { id });
            while let Some(m) = pending.pop() {
                for cmd in update(&mut state, m) {
                    pending.extend(runtime.dispatch(cmd));
                }
            }
        }
        Ok(App { state, runtime })
    }

    /// One event through update and the runtime.
    pub fn handle(&mut self, event: Event) {
        let mut queue = match event {
            Event::Msg(m) => vec![m],
            Event::Apply(f) => f(&mut self.runtime),
        };
        while let Some(m) = queue.pop() {
            for cmd in update(&mut self.state, m) {
                queue.extend(self.runtime.dispatch(cmd));
            }
        }
    }
}

impl Runtime {
    fn send(&self, e: Event) {
        let _ = self.tx.send(e);
    }

    fn reload(&self, id: i64) -> Vec<Msg> {
        match self.store.load_request(id) {
            Ok(v) => vec![Msg::RequestUpdated(v)],
            Err(e) => vec![Msg::Failed {
                id,
                what: "reading the store".into(),
                error: format!("{e:#}"),
            }],
        }
    }

    fn failed(id: i64, what: &str, e: impl std::fmt::Display) -> Vec<Msg> {
        tracing::warn!(request = id, "{what} failed: {e}");
        vec![Msg::Failed {
            id,
            what: what.into(),
            error: e.to_string(),
        }]
    }

    /// After a restart: follow every job that was running, and start again
    /// (with the stored idempotency key, so never twice) any approved export
    /// whose start was not confirmed.
    fn resume(&mut self) -> Result<()> {
        for id in self.store.unfinished_jobs()? {
            let req = self.store.load_request(id)?;
            if req.job.is_some() {
                self.follow(id, &req);
            } else {
                self.start_export(&req);
            }
        }
        Ok(())
    }

    /// Carries out one command; returns messages to feed back right away.
    pub fn dispatch(&mut self, cmd: Command) -> Vec<Msg> {
        match &cmd {
            Command::Approve {
                id,
                override_reason,
                force,
                ..
            } => {
                tracing::info!(
                    request = id,
                    overridden = override_reason.is_some(),
                    force,
                    "approve"
                )
            }
            Command::Reject { id, template, .. } => {
                tracing::info!(request = id, template = template.file_stem(), "reject")
            }
            Command::SendReply { id, template, .. } => {
                tracing::info!(request = id, template = template.file_stem(), "reply")
            }
            Command::CancelJob { id, .. } | Command::RetryJob { id, .. } => {
                tracing::info!(request = id, "{cmd:?}")
            }
            _ => tracing::debug!("{cmd:?}"),
        }
        let actor = self.actor.clone();
        match cmd {
            Command::Resolve { id } => self.resolve(id),
            Command::SaveResolution { id, resolution } => {
                match self.store.set_resolution(id, &resolution, &actor) {
                    Ok(()) => self.reload(id),
                    Err(e) => Self::failed(id, "saving the lookup", e),
                }
            }
            Command::SetAccountEmail { id, email, seen } => {
                match self.store.set_account_email(id, &email, &actor, seen) {
                    Ok(()) => {
                        let mut out = self.reload(id);
                        out.extend(self.resolve(id));
                        out.push(Msg::Done {
                            id,
                            what: format!("linked to {email}; looking up its workspaces"),
                        });
                        out
                    }
                    Err(e) => self.refused(id, "linking the account email", e),
                }
            }
            Command::ChooseWorkspace {
                id,
                workspace_id,
                workspace_name,
                seen,
            } => {
                match self
                    .store
                    .set_workspace(id, &workspace_id, &workspace_name, &actor, seen)
                {
                    Ok(()) => {
                        let mut out = self.reload(id);
                        out.extend(self.resolve(id));
                        out.push(Msg::Done {
                            id,
                            what: format!("workspace set to {workspace_name}; looking up its size"),
                        });
                        out
                    }
                    Err(e) => self.refused(id, "choosing the workspace", e),
                }
            }
            Command::AddNote { id, text } => match self.store.add_note(id, &actor, &text) {
                Ok(()) => {
                    let mut out = self.reload(id);
                    out.push(Msg::Done {
                        id,
                        what: "note saved".into(),
                    });
                    out
                }
                Err(e) => Self::failed(id, "saving the note", e),
            },
            Command::OverrideAuth { id, reason, seen } => {
                match self.store.override_auth(id, &reason, &actor, seen) {
                    Ok(()) => {
                        let mut out = self.reload(id);
                        out.push(Msg::Done {
                            id,
                            what: "sender authentication accepted; the reason is in the audit log"
                                .into(),
                        });
                        out
                    }
                    Err(e) => self.refused(id, "recording the override", e),
                }
            }
            Command::ComposeReply { id, template } => match self.compose(id, template) {
                Ok(body) => vec![Msg::ReplyComposed { id, template, body }],
                Err(e) => Self::failed(id, "composing the reply", format!("{e:#}")),
            },
            Command::SendReply {
                id,
                template,
                body,
                again,
                seen,
            } => self.send_reply(id, template, &body, again, seen),
            Command::ComposeRejection {
                id,
                template,
                reason,
            } => match self.compose(id, template) {
                Ok(body) => vec![Msg::RejectionComposed {
                    id,
                    template,
                    reason,
                    body,
                }],
                Err(e) => Self::failed(id, "composing the rejection reply", format!("{e:#}")),
            },
            Command::Reject {
                id,
                template,
                reason,
                body,
                seen,
            } => {
                if let Err(e) = self.store.reject(id, &reason, &actor, seen) {
                    return self.refused(id, "rejecting", e);
                }
                let mut out = self.reload(id);
                // The rejection bumped the version by exactly one: its own
                // reply carries that, so only a change by someone else in
                // between stops it.
                out.extend(self.send_reply(id, template, &body, false, seen.map(|v| v + 1)));
                out
            }
            Command::Approve {
                id,
                override_reason,
                unmet,
                seen,
                force,
            } => {
                let approved = crate::ops::export::approve(
                    &mut self.store,
                    id,
                    override_reason.as_deref(),
                    &unmet,
                    &actor,
                    seen,
                    force,
                );
                let mut out = self.reload(id);
                match approved {
                    Ok(req) => {
                        self.start_export(&req);
                        out.push(Msg::Done {
                            id,
                            what: "approved: the export is starting".into(),
                        });
                    }
                    Err(e) => out.extend(self.refused(id, "approving", e)),
                }
                out
            }
            Command::SaveJob { id, job } => self.save_job(id, &job),
            Command::CancelJob { id, seen } => {
                let (Some(backend), Ok(req)) = (self.backend.clone(), self.store.load_request(id))
                else {
                    return Self::failed(id, "cancelling", "no backend");
                };
                // The collision stop and the record, before the backend hears of it.
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
                        Ok(job) => {
                            let snap = job_snap(&job);
                            Event::Apply(Box::new(move |rt: &mut Runtime| {
                                let mut out = rt.save_job(id, &snap);
                                out.push(Msg::Done {
                                    id,
                                    what: "export cancelled".into(),
                                });
                                out
                            }))
                        }
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
            Command::RetryJob { id, seen } => {
                // Never a second live export: ask the backend first.
                let (Some(backend), Ok(req)) = (self.backend.clone(), self.store.load_request(id))
                else {
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
                            None => Event::Apply(Box::new(move |rt: &mut Runtime| {
                                rt.retry_now(id, seen)
                            })),
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
            Command::Claim { id, holder_seen } => self.claim(id, holder_seen.as_deref()),
            Command::Release { id } => self.release(id),
            Command::Edit(text) => {
                // The terminal loop handles the editor; without one, keep the text.
                vec![Msg::Edited(text)]
            }
            Command::LoadOutbox => vec![Msg::Outbox(read_outboxes(&self.outboxes))],
            Command::LoadStats { days } => {
                let path = self.store.conn().sqlite_path();
                let (rates, tx) = (self.rates.clone(), self.tx.clone());
                tokio::task::spawn_blocking(move || {
                    let result = crate::stats::screen::load_for_screen(path, &rates, days);
                    let _ = tx.send(msg(Msg::Stats { days, result }));
                });
                vec![]
            }
            Command::MarkSeen { id } => match self.store.mark_seen(id, &actor) {
                Ok(()) => self.reload(id),
                Err(e) => Self::failed(id, "marking the follow-ups read", e),
            },
            Command::LoadThread { id } => match self.store.thread_messages(id) {
                Ok(messages) => vec![Msg::Thread { id, messages }],
                Err(e) => Self::failed(id, "reading the thread", e),
            },
        }
    }

    /// Records the retry (same key when no job was created, a new one when
    /// the backend reported the job dead) and starts the export.
    fn retry_now(&mut self, id: i64, seen: Option<i64>) -> Vec<Msg> {
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

    fn compose(&self, id: i64, template: Template) -> Result<String> {
        let req = self.store.load_request(id)?;
        let compose = crate::ops::reply::Compose {
            templates: &self.templates,
            rates: &self.rates,
            operator: &self.operator,
            size: req.size.map(|s| s.for_estimate()),
            existing_request: Some(
                self.store
                    .other_request_for_workspace(id)?
                    .unwrap_or_else(|| "another request".into()),
            ),
            // Dates promised in a reply count from now (the ops core says why).
            now: chrono::Utc::now(),
        };
        crate::ops::reply::compose(&self.store, id, template, &compose)
    }

    fn send_reply(
        &mut self,
        id: i64,
        template: Template,
        body: &str,
        again: bool,
        seen: Option<i64>,
    ) -> Vec<Msg> {
        let Some(sender) = self.sender.clone() else {
            return Self::failed(id, "sending the reply", "no [smtp] configured");
        };
        let reply = match self
            .store
            .reply_target(id)
            .and_then(|t| crate::reply::build(&self.from, &t, body))
        {
            Ok(r) => r,
            Err(e) => return Self::failed(id, "building the reply", format!("{e:#}")),
        };
        let reply_id = match crate::ops::reply::begin(
            &mut self.store,
            id,
            template,
            &reply,
            again,
            &self.actor,
            seen,
        ) {
            Ok(r) => r,
            Err(e)
                if crate::domain::StoreError::of(&e)
                    .is_some_and(|s| matches!(s, crate::domain::StoreError::Stale { .. })) =>
            {
                return self.refused(id, "sending the reply", e)
            }
            Err(e) => return Self::failed(id, "recording the reply", format!("{e:#}")),
        };
        let tx = self.tx.clone();
        let config = self.config.clone();
        tokio::spawn(async move {
            let outcome = crate::ops::reply::outcome_of(
                &sender.send(&reply).await.map_err(anyhow::Error::from),
            );
            let _ = tx.send(Event::Apply(Box::new(move |rt: &mut Runtime| {
                if let Err(e) = crate::ops::reply::finish(&mut rt.store, reply_id, &outcome, &rt.actor) {
                    return Runtime::failed(id, "recording the reply", e);
                }
                let mut out = rt.reload(id);
                match outcome {
                    crate::ops::reply::Outcome::Accepted => {
                        out.push(Msg::Done {
                            id,
                            what: format!(
                                "the \"{}\" reply was sent to {}",
                                template.file_stem().replace('_', " "),
                                reply.to
                            ),
                        });
                        rt.file_reply(id, reply_id, reply, config);
                    }
                    crate::ops::reply::Outcome::Refused(e) => out.extend(Runtime::failed(
                        id,
                        "sending the reply (it is kept; retry with `concierge reply --retry`)",
                        e,
                    )),
                    crate::ops::reply::Outcome::Unknown(e) => out.extend(Runtime::failed(
                        id,
                        "sending the reply: it may have been delivered (check Sent; resend only with `concierge reply --retry N --force`)",
                        e,
                    )),
                }
                out
            })));
        });
        vec![]
    }

    /// `\Answered` and the Sent copy, on a blocking thread.
    fn file_reply(
        &self,
        id: i64,
        reply_id: i64,
        reply: Reply,
        config: Option<crate::config::Config>,
    ) {
        let Some(cfg) = config else { return };
        let (Some(imap), crate::config::SourceKind::Imap) = (cfg.imap.clone(), cfg.intake.source)
        else {
            return;
        };
        let Ok(answered) = self.store.reply_target(id).map(|t| t.answered.message_id) else {
            return;
        };
        let tx = self.tx.clone();
        tokio::task::spawn_blocking(move || {
            let result = imap
                .password()
                .and_then(|pw| crate::inbox::imap::file_reply(&imap, &pw, &answered, &reply.bytes));
            let ev = match result {
                Ok((flagged, copied)) => Event::Apply(Box::new(move |rt: &mut Runtime| {
                    let _ = rt.store.reply_imap_done(reply_id, flagged, copied);
                    vec![]
                })),
                Err(e) => msg(Msg::Failed {
                    id,
                    what: "filing the reply over IMAP".into(),
                    error: format!("{e:#}"),
                }),
            };
            let _ = tx.send(ev);
        });
    }

    fn save_job(&mut self, id: i64, job: &JobSnap) -> Vec<Msg> {
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
        let parse = |s: &Option<String>| {
            s.as_deref()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        };
        let (Some(start), Some(end)) = (parse(&job.created_at), parse(&job.finished_at)) else {
            return;
        };
        let Ok(req) = self.store.load_request(id) else {
            return;
        };
        let Some(size) = req.size else { return };
        let size = size.for_estimate();
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

    /// Asks the backend about the requester and the workspace.
    fn resolve(&mut self, id: i64) -> Vec<Msg> {
        let Some(backend) = self.backend.clone() else {
            return vec![Msg::Resolved {
                id,
                result: Err("no backend configured".into()),
            }];
        };
        let req = match self.store.load_request(id) {
            Ok(r) => r,
            Err(e) => return Self::failed(id, "looking up", e),
        };
        let tx = self.tx.clone();
        let lookups = self.lookups.clone();
        tokio::spawn(async move {
            let _permit = lookups.acquire_owned().await;
            let result = resolve(&backend, &req).await;
            let health = match &result {
                Err(ApiError::Unreachable { detail }) => {
                    Some(Health::Down(format!("unreachable: {detail}")))
                }
                Err(ApiError::Unauthorized) => Some(Health::Down("token rejected".into())),
                Ok(_) => Some(Health::Up("backend".into())),
                _ => None,
            };
            if let Some(h) = health {
                let _ = tx.send(msg(Msg::Backend(h)));
            }
            let _ = tx.send(msg(Msg::Resolved {
                id,
                result: result.map_err(|e| api_err(&e)),
            }));
        });
        vec![]
    }

    /// Starts (or, with the same key, finds again) the export of an approved
    /// request, then follows it.
    fn start_export(&mut self, req: &RequestView) {
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
                        let _ = tx.send(Event::Apply(Box::new(move |rt: &mut Runtime| {
                            let out = rt.save_job(id, &snap);
                            if let Ok(req) = rt.store.load_request(id) {
                                rt.follow(id, &req);
                            }
                            out
                        })));
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
                        let _ = tx.send(Event::Apply(Box::new(move |rt: &mut Runtime| {
                            let mut out = rt.save_job(id, &snap);
                            if let Ok(req) = rt.store.load_request(id) {
                                rt.follow(id, &req);
                            }
                            out.push(Msg::Done {
                                id,
                                what: format!(
                                    "the backend already had export {}: following it",
                                    snap.id
                                ),
                            });
                            out
                        })));
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
                        let _ = tx.send(Event::Apply(Box::new(move |rt: &mut Runtime| {
                            let mut out = rt.save_job(id, &snap);
                            out.extend(Runtime::failed(id, "starting the export", error));
                            out
                        })));
                        return;
                    }
                }
            }
        });
    }

    /// Follows a job until it is emailed (or fails), with backoff while
    /// nothing changes or the backend is down.
    fn follow(&mut self, id: i64, req: &RequestView) {
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
                            let _ = tx.send(Event::Apply(Box::new(move |rt: &mut Runtime| {
                                rt.following.remove(&id);
                                vec![]
                            })));
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
                        let _ = tx.send(Event::Apply(Box::new(move |rt: &mut Runtime| {
                            rt.following.remove(&id);
                            vec![]
                        })));
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

mod team;
mod terminal;
mod workers;

pub use terminal::{default_log_path, run};
pub use workers::read_outboxes;
use workers::*;

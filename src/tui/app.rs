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
    /// What the status says when the backend stops answering, when the
    /// screen knows why (a screen joined to the demo: its host quit).
    pub backend_gone: Option<String>,
    /// A screen joined to the demo: the sandbox whose `join.json` names
    /// the backend; read again when the backend stops answering (the
    /// host's demo may have been `--resume`d on a new port and token).
    pub follow_demo: Option<PathBuf>,
}

/// A message for the loop: for `update`, or a worker's outcome for the
/// runtime to record in the store (plain data: it can be logged and replayed).
// NOTE: events are moved once through a channel; boxing the big ones buys nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Event {
    Msg(Msg),
    /// What a worker's network work came to, applied by [`Runtime::apply`].
    Outcome(Outcome),
}

pub struct Runtime {
    pub store: Store,
    /// Where the store is (the stats screen opens its own read-only
    /// connection there).
    store_at: crate::store::Location,
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
    backend_gone: Option<String>,
    follow_demo: Option<PathBuf>,
    /// Jobs being followed (request ids), so one is never followed twice.
    following: std::collections::HashSet<i64>,
    /// Replies whose filing is under way on a filing thread, so one is
    /// never filed twice at once (two Sent copies): see `file_replies`.
    filing: replies::Filing,
    /// Bounds concurrent backend lookups (a big store resolves gradually).
    lookups: Arc<tokio::sync::Semaphore>,
    /// Text `update` asked to open in `$EDITOR`, for the terminal to take.
    edit: Option<String>,
    /// This screen's presence session, what it told the store and when
    /// to tell it next (`debounce`), and the presence timer set, if any.
    session: String,
    presence: debounce::Debounce,
    presence_wake: Option<std::time::Instant>,
    /// What this screen last decided to show in presence: the heartbeat
    /// writes it again at every beat (see `live::start_heartbeat`).
    presence_shown: live::Shown,
    /// Stops the inbox worker when the runtime ends (the screen quits).
    inbox_stop: crate::inbox::shutdown::AskOnDrop,
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
        created_at: Some(j.created_at),
        finished_at: j.finished_at,
        emailed_at: j.emailed_at,
        deliver_to: j.deliver_to.clone(),
        link_expires_at: j.link_expires_at,
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
        // The feed's position first: a change committed while the rows load
        // is read again (reloading a row twice is harmless; missing one is not).
        let seq = crate::store::changes::last_seq(store.conn())?;
        if let Err(e) = crate::store::changes::prune(
            store.conn(),
            chrono::Utc::now() - crate::store::changes::KEEP,
        ) {
            tracing::warn!("pruning the change feed: {e:#}");
        }
        let requests = store.load_requests()?;
        let mut state = State::new(
            requests,
            setup.rates.clone(),
            setup.operator.clone(),
            chrono::Utc::now(),
        );
        state.keys = setup.keys;
        state.operator_id = actor.clone();
        state.names = crate::store::operators::names(store.conn())?;
        state.has_outbox = !setup.outboxes.is_empty();
        if setup.backend.is_none() {
            state.backend = Health::Down("not configured".into());
        }
        let mut runtime = Runtime {
            store,
            store_at: setup.store_path.clone(),
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
            backend_gone: setup.backend_gone,
            follow_demo: setup.follow_demo,
            following: Default::default(),
            filing: Default::default(),
            lookups: Arc::new(tokio::sync::Semaphore::new(4)),
            edit: None,
            session: crate::store::presence::session_id(),
            presence: Default::default(),
            presence_wake: None,
            presence_shown: Default::default(),
            inbox_stop: Default::default(),
        };
        let with_inbox = !matches!(setup.inbox, Inbox::None);
        let may_poll = with_inbox.then(|| Arc::new(std::sync::atomic::AtomicBool::new(false)));
        live::start_feed(setup.store_path.clone(), seq, tx.clone());
        live::start_heartbeat(
            setup.store_path.clone(),
            runtime.session.clone(),
            runtime.operator.clone(),
            runtime.presence_shown.clone(),
            may_poll.clone(),
            tx.clone(),
        );
        runtime.inbox_stop.0 = start_inbox(
            setup.inbox,
            setup.store_path.clone(),
            setup.authserv_id,
            may_poll,
            tx.clone(),
        );
        runtime.resume()?;
        runtime.file_pending(replies::Why::Start);
        runtime.watch_backend();
        // Requests the backend has not been asked about yet are looked up
        // by one screen only: the poller's (`Msg::Lease` from the
        // heartbeat, which takes the lease). A screen without an inbox does
        // it itself only when no poller runs.
        if !with_inbox && !live::someone_polls(&runtime.store, &runtime.session) {
            for cmd in update(&mut state, Msg::Lease { mine: true }) {
                runtime.dispatch(cmd);
            }
        }
        let mut app = App { state, runtime };
        app.runtime.publish_presence(&app.state);
        let others = app.runtime.dispatch(Command::LoadPresence);
        for m in others {
            update(&mut app.state, m);
        }
        let (state, runtime) = (&mut app.state, &mut app.runtime);
        if let Some(id) = state.current().map(|r| r.req.id) {
            // Through `update`, which also marks its follow-ups read.
            let mut pending = runtime.dispatch(Command::LoadThread { id });
            while let Some(m) = pending.pop() {
                for cmd in update(state, m) {
                    pending.extend(runtime.dispatch(cmd));
                }
            }
        }
        Ok(app)
    }

    /// One event through update and the runtime; returns the commands
    /// `update` gave, in order (for a log, or a replay test).
    pub fn handle(&mut self, event: Event) -> Vec<Command> {
        let mut queue = match event {
            Event::Msg(m) => vec![m],
            Event::Outcome(o) => self.runtime.apply(o),
        };
        let mut given = Vec::new();
        while let Some(m) = queue.pop() {
            for cmd in update(&mut self.state, m) {
                given.push(cmd.clone());
                queue.extend(self.runtime.dispatch(cmd));
            }
        }
        self.runtime.publish_presence(&self.state);
        given
    }

    /// The text `update` asked to open in `$EDITOR` (`Command::Edit`), once.
    pub fn take_edit(&mut self) -> Option<String> {
        self.runtime.edit.take()
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
        log_command(&cmd);
        match cmd {
            Command::Resolve { id } => self.resolve(id),
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
            Command::Approve {
                id,
                override_reason,
                unmet,
                seen,
                force,
            } => self.approve(id, override_reason.as_deref(), &unmet, seen, force),
            Command::SaveJob { id, job } => self.save_job(id, &job),
            Command::CancelJob { id, seen } => self.cancel_job(id, seen),
            Command::RetryJob { id, seen } => self.retry_job(id, seen),
            Command::Claim { id, holder_seen } => self.claim(id, holder_seen.as_deref()),
            Command::Release { id } => self.release(id),
            Command::Edit(text) => {
                // Only the terminal can lend the screen to `$EDITOR`: it
                // takes this after the event (`App::take_edit`).
                self.edit = Some(text);
                vec![]
            }
            Command::LoadOutbox => vec![Msg::Outbox(read_outboxes(&self.outboxes))],
            Command::LoadStats { days } => {
                let at = self.store_at.clone();
                let (rates, tx) = (self.rates.clone(), self.tx.clone());
                // Its own thread: a store that stalls must not hold the quit.
                workers::detached("stats", move || {
                    let result = crate::stats::screen::load_for_screen(&at, &rates, days);
                    let _ = tx.send(msg(Msg::Stats { days, result }));
                });
                vec![]
            }
            Command::Reload { ids } => self.reload_all(&ids),
            Command::LoadPresence => self.load_presence(),
            Command::FilePending => {
                self.file_pending(replies::Why::InboxBack);
                vec![]
            }
            Command::MarkSeen { id } => match self.store.mark_seen(id, &self.actor) {
                Ok(()) => self.reload(id),
                Err(e) => Self::failed(id, "marking the follow-ups read", e),
            },
            Command::LoadThread { id } => match self.store.thread_messages(id) {
                Ok(messages) => vec![Msg::Thread { id, messages }],
                Err(e) => Self::failed(id, "reading the thread", e),
            },
            store_only => self.write(store_only),
        }
    }

    /// The commands that are one store write, then a fresh copy of the row.
    fn write(&mut self, cmd: Command) -> Vec<Msg> {
        let actor = self.actor.clone();
        match cmd {
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
            other => {
                tracing::error!("not a store write: {other:?}");
                vec![]
            }
        }
    }

    fn approve(
        &mut self,
        id: i64,
        override_reason: Option<&str>,
        unmet: &[crate::domain::Check],
        seen: Option<i64>,
        force: bool,
    ) -> Vec<Msg> {
        let approved = crate::ops::export::approve(
            &mut self.store,
            id,
            override_reason,
            unmet,
            &self.actor,
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

    /// Renders a template for a request (the ops core composes).
    fn compose(&self, id: i64, template: Template) -> Result<String> {
        let req = self.store.load_request(id)?;
        let compose = crate::ops::reply::Compose {
            templates: &self.templates,
            rates: &self.rates,
            operator: &self.operator,
            size: req.size.map(Into::into),
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
}

/// One line in the log per command; the decisions at `info`.
fn log_command(cmd: &Command) {
    match cmd {
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
}

mod debounce;
mod jobs;
mod live;
mod outcome;
mod replies;
mod team;
mod terminal;
#[cfg(test)]
mod tests;
mod workers;

use outcome::outcome;
pub use outcome::Outcome;
pub use terminal::{default_log_path, run, run_with};
pub use workers::read_outboxes;
use workers::*;

//! A test hook, compiled into debug builds only: `concierge chaos-worker`
//! (hidden) runs one operator's random session on the configured store,
//! so that tests/team_chaos.rs can race several Concierge PROCESSES on one
//! store and SIGKILL one at a chosen step. It is the screen's protocol
//! without the screen: the same `ops` calls, the real backend and SMTP.
//!
//! Each step picks a request and an action (approve, reject, reply, note,
//! claim, override, link, resume a started export) and acts on the copy
//! of the request its "screen" holds, which half the time is one read
//! earlier: another process may have acted since, which is what the
//! collision stop is for. With a Maildir it also takes the inbox poller's
//! lease and polls while it holds it. Every outcome is one JSON line on
//! stdout, written after the store committed it, so a line that exists
//! is a fact about the store: `accepted` (a version-checked action, with
//! the version it carried), `note`, `lease`, `paused`, `failure` (an error
//! no operator expects), `done`.
//!
//! `--pause-at approve|reply`: the session's FIRST action is that one (on
//! request 1, resp. 2); once the store recorded it, the worker says
//! `paused` and blocks on stdin before the network step (the export start,
//! the SMTP send) — the window a kill -9 is aimed at.
//!
//! NOTE: debug builds only, like `ops::export::crash_point`: no flag or
//! environment variable can reach this from a shipped binary.

use crate::config::Config;
use crate::domain::{RequestState, StoreError};
use crate::mail::outgoing::Sender;
use crate::mail::templates::Template;
use crate::ops;
use crate::store::requests::{JobSnap, RequestView};
use crate::store::{presence, Store};
use anyhow::{Context, Result};
use rand::{Rng, SeedableRng};
use serde_json::json;
use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, clap::Args)]
pub struct ChaosArgs {
    /// The random sequence of this session.
    #[arg(long)]
    pub seed: u64,
    /// Random steps to take.
    #[arg(long)]
    pub steps: usize,
    /// Requests 1..=N are acted on.
    #[arg(long)]
    pub requests: i64,
    /// `approve` or `reply`: do it first, then stop before its network step.
    #[arg(long)]
    pub pause_at: Option<String>,
    /// Take the poller's lease and poll this Maildir while holding it;
    /// after the steps, wait (up to a minute) for the lease and poll once.
    #[arg(long)]
    pub maildir: Option<PathBuf>,
    /// After the steps, start or record every approved export once (what
    /// a restarted screen resumes).
    #[arg(long)]
    pub settle: bool,
}

/// One JSON line on stdout, flushed (the test reads it as it comes).
fn say(v: serde_json::Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{v}");
    let _ = out.flush();
}

struct Worker {
    store: Store,
    client: crate::backend::BackendClient,
    sender: Sender,
    rt: tokio::runtime::Runtime,
    from: String,
    id: String,
    name: String,
    session: String,
    polling: bool,
}

/// Whether `e` is a refusal an operator expects (someone was first, the
/// request no longer allows it), not a failure.
fn refused(e: &anyhow::Error) -> bool {
    StoreError::of(e).is_some() || e.downcast_ref::<ops::reply::Refusal>().is_some()
}

fn snap(job: &crate::backend::Job) -> JobSnap {
    JobSnap {
        id: job.id.to_string(),
        status: job.status,
        phase: job.phase.clone(),
        progress: job.progress,
        created_at: None,
        finished_at: None,
        emailed_at: None,
        deliver_to: None,
        link_expires_at: None,
        error: None,
    }
}

pub fn run(cfg: &Config, args: &ChaosArgs) -> Result<i32> {
    let b = cfg.backend.as_ref().context("[backend] is needed")?;
    let token = crate::secret::from_env(&b.token_env).context("[backend] token_env")?;
    let client = crate::backend::BackendClient::new(&b.url, token, &cfg.operator.name)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let smtp = cfg.smtp.as_ref().context("[smtp] is needed")?;
    let mut w = Worker {
        store: cfg.open_store()?,
        client,
        sender: Sender::smtp(smtp)?,
        rt: tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?,
        from: smtp.from.clone().unwrap_or_default(),
        id: cfg.operator.id(),
        name: cfg.operator.name.clone(),
        session: presence::session_id(),
        polling: false,
    };
    w.store.register_operator(&w.id, &w.name)?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(args.seed);
    let mut screen: HashMap<i64, RequestView> = HashMap::new();
    if let Some(at) = args.pause_at.as_deref() {
        let id = if at == "approve" { 1 } else { 2 };
        let read = w.store.load_request(id)?;
        let outcome = w.act(at, &read, 0, Some(at), &mut rng);
        w.report(at, &read, outcome);
    }
    for step in 0..args.steps {
        if let Some(dir) = &args.maildir {
            if let Err(e) = w.poll(dir) {
                say(json!({"event": "failure", "text": format!("poll: {e:#}")}));
            }
        }
        let id = rng.gen_range(1..=args.requests);
        if rng.gen_bool(0.5) || !screen.contains_key(&id) {
            match w.store.load_request(id) {
                Ok(v) => {
                    screen.insert(id, v);
                }
                Err(e) => {
                    say(json!({"event": "failure", "text": format!("reading #{id}: {e:#}")}));
                    continue;
                }
            }
        }
        let read = screen[&id].clone();
        let what = match rng.gen_range(0..100) {
            0..=5 => "approve",
            6..=9 => "reject",
            10..=27 => "reply",
            28..=45 => "note",
            46..=57 => "claim",
            58..=74 => "override",
            75..=89 => "link",
            _ => "resume",
        };
        let outcome = w.act(what, &read, step, None, &mut rng);
        w.report(what, &read, outcome);
    }
    if args.settle {
        for id in w.store.unfinished_jobs()? {
            let req = w.store.load_request(id)?;
            match w.resume(&req) {
                Err(e) if !refused(&e) => {
                    say(json!({"event": "failure", "text": format!("settling #{id}: {e:#}")}))
                }
                _ => {}
            }
        }
    }
    if let Some(dir) = &args.maildir {
        // The lease holder may be killed after this session's steps: keep
        // asking for the lease, as a running screen's heartbeat does.
        let until = Instant::now() + Duration::from_secs(60);
        while !w.polling && Instant::now() < until {
            if let Err(e) = w.poll(dir) {
                say(json!({"event": "failure", "text": format!("poll: {e:#}")}));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        w.poll(dir)?;
    }
    say(json!({"event": "done"}));
    Ok(0)
}

impl Worker {
    /// Takes or renews the lease; polls the Maildir while holding it.
    fn poll(&mut self, dir: &std::path::Path) -> Result<()> {
        let now = chrono::Utc::now();
        let lease = presence::take_lease(self.store.conn(), &self.session, &self.name, now)?;
        let mine = lease.session == self.session;
        if mine && !self.polling {
            say(json!({"event": "lease", "who": self.name, "at": now.to_rfc3339()}));
        }
        self.polling = mine;
        if mine {
            let mut src = crate::inbox::maildir::MaildirSource::new(dir)?;
            crate::sync::sync_once(&mut src, &mut self.store, "mx.ochrehq.com")?;
        }
        Ok(())
    }

    /// Says what came of `what`: `Ok(true)` is an accepted version-checked
    /// action (already said by `act` when it pauses), `Ok(false)` another
    /// success.
    fn report(&self, what: &str, read: &RequestView, outcome: Result<bool>) {
        match outcome {
            Ok(true) => self.accepted(what, read),
            Ok(false) => {}
            Err(e) if refused(&e) => {}
            Err(e) => say(
                json!({"event": "failure", "text": format!("{} {what} #{}: {e:#}", self.name, read.id)}),
            ),
        }
    }

    fn accepted(&self, what: &str, read: &RequestView) {
        say(
            json!({"event": "accepted", "id": read.id, "seen": read.version, "who": self.name, "what": what}),
        );
    }

    /// After the store recorded `what`: with `pause`, say so and block
    /// until killed (stdin never ends while the test holds it).
    fn pause_here(&self, what: &str, read: &RequestView, pause: Option<&str>) {
        if pause == Some(what) {
            self.accepted(what, read);
            say(json!({"event": "paused", "at": what, "id": read.id}));
            let mut line = String::new();
            let _ = std::io::stdin().read_line(&mut line);
        }
    }

    /// Starts (or records again) the export of an approved request with
    /// its stored key and body: the same key never starts a second one.
    fn resume(&mut self, req: &RequestView) -> Result<bool> {
        let fresh = self.store.load_request(req.id)?;
        if fresh.state != RequestState::Approved || fresh.job.is_some() {
            return Ok(false);
        }
        let (body, force) = ops::export::frozen_body(&fresh)?;
        let key = fresh.idempotency_key.clone().unwrap_or_default();
        let job = self
            .rt
            .block_on(self.client.start_export_with(&body, &key, force))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        self.store.set_job(req.id, &snap(&job), &self.id)?;
        Ok(false)
    }

    fn act(
        &mut self,
        what: &str,
        read: &RequestView,
        step: usize,
        pause: Option<&str>,
        rng: &mut rand::rngs::StdRng,
    ) -> Result<bool> {
        let (id, seen, me) = (read.id, Some(read.version), self.id.clone());
        match what {
            "approve" => {
                let req = ops::export::approve(&mut self.store, id, None, &[], &me, seen, false)?;
                self.pause_here(what, read, pause);
                // Accepted whatever the backend says next.
                // A colleague's resume may have recorded a newer snapshot
                // of the same job first: that refusal is expected.
                match self.resume(&req) {
                    Err(e) if !refused(&e) => {
                        say(json!({"event": "failure", "text": format!("starting #{id}: {e:#}")}))
                    }
                    _ => {}
                }
                Ok(pause.is_none())
            }
            "reject" => self.store.reject(id, "raced", &me, seen).map(|_| true),
            "reply" => {
                let template = if pause.is_some() || rng.gen_bool(0.5) {
                    Template::Acknowledgement
                } else {
                    Template::ScopeQuestion
                };
                let text = format!("Hello, {} here ({step}).", self.name);
                let target = self.store.reply_target(id)?;
                let reply = crate::reply::build(&self.from, &target, &text)?;
                let rid =
                    ops::reply::begin(&mut self.store, id, template, &reply, false, &me, seen)?;
                self.pause_here(what, read, pause);
                let sent = self
                    .rt
                    .block_on(self.sender.send(&reply))
                    .map_err(anyhow::Error::from);
                let outcome = ops::reply::outcome_of(&sent);
                let finished = ops::reply::finish(&mut self.store, rid, &outcome, &me);
                if let Err(e) = sent.and(finished) {
                    say(json!({"event": "failure", "text": format!("sending to #{id}: {e:#}")}));
                }
                Ok(pause.is_none())
            }
            "override" => {
                let reason = format!("{} checked by phone", self.name);
                self.store
                    .override_auth(id, &reason, &me, seen)
                    .map(|_| true)
            }
            "link" => {
                let email = read.account().unwrap_or_default().to_string();
                self.store
                    .set_account_email(id, &email, &me, seen)
                    .map(|_| true)
            }
            "note" => {
                let text = format!("{} note {step}", self.name);
                self.store.add_note(id, &me, &text)?;
                say(json!({"event": "note", "id": id, "text": text}));
                Ok(false)
            }
            "claim" => self
                .store
                .claim(id, &me, read.claimed_by.as_deref())
                .map(|_| false),
            _ => self.resume(read),
        }
    }
}

//! Several Concierge PROCESSES on one team store (a real PostgreSQL,
//! tests/support/postgres.rs), each one operator taking random actions
//! (`concierge chaos-worker`, a debug-build test hook: src/chaos.rs) with
//! the real reference backend over HTTP and the real SMTP sink, and kill -9
//! in the windows that matter:
//!
//! - one process right after its approval was stored, before the export
//!   was started; another right after its reply was recorded `sending`,
//!   before the SMTP send;
//! - the process holding the inbox poller's lease: another takes the lease
//!   before the dead one's lease would have run out (the server knows its
//!   connection closed), and stores the mail that arrived meanwhile.
//!
//! Afterwards (and after a restart's resume, `--settle`): 0 duplicate
//! exports, 0 duplicate replies, 0 lost notes, 0 actions accepted on a
//! version that had changed, every mail stored once, and the audit chain
//! intact. No sleeps: every wait polls a condition with a deadline.

use concierge_test_support as support;

use concierge::domain::ReplyState;
use concierge::store::db::params;
use concierge::store::{audit, presence, Store};
use serde_json::Value;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::smtp::SmtpSink;
use support::team::REQUESTERS;

/// Random steps per racing process.
const STEPS: usize = 60;
const MINUTE: Duration = Duration::from_secs(60);

/// Every JSON line every worker said, with the worker's name.
type Events = Arc<Mutex<Vec<(String, Value)>>>;

struct Worker {
    name: String,
    child: Child,
}

struct Team {
    dir: PathBuf,
    /// The `[store]` section's keys.
    store: String,
    smtp_port: u16,
    backend_url: String,
    token: String,
    events: Events,
}

impl Team {
    /// Starts `concierge chaos-worker` as operator `name`, reading its
    /// lines into `events` as they come.
    fn spawn(&self, name: &str, args: &[&str]) -> Worker {
        let email = format!("{}@ochrehq.com", name.to_lowercase());
        let config = self.dir.join(format!("{name}.toml"));
        std::fs::write(
            &config,
            format!(
                "[operator]\nname = \"{name}\"\nemail = \"{email}\"\n\
                 [smtp]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"none\"\nusername = \"\"\n\
                 from = \"Ochre Concierge <hello@ochrehq.com>\"\n\
                 [backend]\nurl = \"{}\"\ntoken_env = \"CONCIERGE_BACKEND_TOKEN\"\n\
                 [store]\n{}",
                self.smtp_port, self.backend_url, self.store
            ),
        )
        .unwrap();
        let log = std::fs::File::create(self.dir.join(format!("{name}.log"))).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_concierge"))
            .arg("--config")
            .arg(&config)
            .arg("chaos-worker")
            .args(args)
            .env("CONCIERGE_BACKEND_TOKEN", &self.token)
            .env("CONCIERGE_DB_PASSWORD", support::postgres::PASSWORD)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let (events, who) = (self.events.clone(), name.to_string());
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                let v: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|_| serde_json::json!({"event": "failure", "text": line}));
                events.lock().unwrap().push((who.clone(), v));
            }
        });
        Worker {
            name: name.into(),
            child,
        }
    }

    /// The events so far that `pred` picks.
    fn picked(&self, pred: impl Fn(&str, &Value) -> bool) -> Vec<(String, Value)> {
        let all = self.events.lock().unwrap();
        all.iter().filter(|(w, v)| pred(w, v)).cloned().collect()
    }

    /// Waits (polling, up to `within`) for an event `pred` picks.
    fn wait_for(
        &self,
        what: &str,
        within: Duration,
        pred: impl Fn(&str, &Value) -> bool,
    ) -> (String, Value) {
        let deadline = Instant::now() + within;
        let mut found = None;
        let ok = support::wait_until(deadline, || {
            found = self.picked(&pred).into_iter().next();
            found.is_some()
        });
        assert!(
            ok,
            "timed out waiting for {what}: {:#?}",
            self.picked(|_, _| true)
        );
        found.unwrap()
    }
}

fn event<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    (v["event"] == name).then_some(v)
}

/// Waits for `w` to exit by itself.
fn finish(w: &mut Worker, within: Duration) {
    let deadline = Instant::now() + within;
    let ok = support::wait_until(deadline, || w.child.try_wait().unwrap().is_some());
    assert!(ok, "{} did not finish", w.name);
    assert!(w.child.wait().unwrap().success(), "{} failed", w.name);
}

/// A customer's follow-up on request `n` (0-based), as a Maildir file.
fn follow_up(maildir: &Path, n: usize, k: usize) {
    let (email, workspace) = REQUESTERS[n];
    let raw = format!(
        "From: {email}\r\nMessage-ID: <chaos-f{n}-{k}@example>\r\nIn-Reply-To: <chaos-{n}@example>\r\n\
         Subject: Re: Data export request: {workspace}\r\n\r\nAny news ({k})?\r\n"
    );
    std::fs::write(maildir.join("new").join(format!("f{n}-{k}.eml")), raw).unwrap();
}

#[test]
fn on_postgres_processes_killed_mid_action_and_the_killed_poller_leave_no_duplicate_and_nothing_lost(
) {
    let dir = tempfile::tempdir().unwrap();
    let url = support::postgres::server().fresh_database();
    let store = Store::connect_pg(&support::postgres::target(&url)).unwrap();
    let keys = format!("url = \"{url}\"\npassword_env = \"CONCIERGE_DB_PASSWORD\"\n");
    chaos(dir.path(), keys, store);
}

/// The same on one SQLite file: BEGIN IMMEDIATE orders the processes, and
/// the lease passes at once because the dead holder ran on this machine.
#[test]
fn on_sqlite_processes_killed_mid_action_and_the_killed_poller_leave_no_duplicate_and_nothing_lost()
{
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("team.db");
    let store = Store::open(&path).unwrap();
    chaos(
        dir.path(),
        format!("path = \"{}\"\n", path.display()),
        store,
    );
}

fn chaos(dir: &Path, store_keys: String, mut store: Store) {
    let sink = SmtpSink::start();
    let backend = concierge::demo::start_backend(
        Path::new(env!("CARGO_BIN_EXE_concierge")),
        dir,
        &dir.join("outbox"),
        None,
    )
    .unwrap();
    let client = concierge::backend::BackendClient::new(
        &backend.url,
        concierge::secret::Secret::new(backend.token.clone()),
        "test",
    )
    .unwrap();
    support::team::seed_resolved(&mut store, &client, "chaos");
    let maildir = dir.join("inbox");
    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub)).unwrap();
    }
    follow_up(&maildir, 0, 0);
    let team = Team {
        dir: dir.to_path_buf(),
        store: store_keys,
        smtp_port: sink.port(),
        backend_url: backend.url.clone(),
        token: backend.token.clone(),
        events: Arc::default(),
    };
    let mdir = maildir.to_str().unwrap();
    let steps = STEPS.to_string();

    // Cy approves request 1 and Dee acknowledges request 2; each stops
    // right after the store recorded it, and is killed there while the
    // others race.
    let mut cy = team.spawn(
        "Cy",
        &[
            "--seed",
            "1",
            "--steps",
            "0",
            "--requests",
            "3",
            "--pause-at",
            "approve",
        ],
    );
    let mut dee = team.spawn(
        "Dee",
        &[
            "--seed",
            "2",
            "--steps",
            "0",
            "--requests",
            "3",
            "--pause-at",
            "reply",
        ],
    );
    for who in ["Cy", "Dee"] {
        team.wait_for(&format!("{who} paused"), MINUTE, |w, v| {
            w == who && event(v, "paused").is_some()
        });
    }
    let mut racers: Vec<Worker> = [
        ("Ann", "3", true),
        ("Bo", "4", true),
        ("Eve", "5", false),
        ("Fay", "6", false),
    ]
    .iter()
    .map(|&(name, seed, polls)| {
        let mut args = vec!["--seed", seed, "--steps", &steps, "--requests", "3"];
        if polls {
            args.extend(["--maildir", mdir]);
        }
        team.spawn(name, &args)
    })
    .collect();
    cy.child.kill().unwrap();
    dee.child.kill().unwrap();
    let _ = (cy.child.wait(), dee.child.wait());

    // The poller: kill -9 whoever holds the lease; mail keeps arriving.
    let (holder, _) = team.wait_for("a lease holder", MINUTE, |_, v| event(v, "lease").is_some());
    let lease = presence::lease(store.conn()).unwrap().expect("a lease");
    assert_eq!(lease.holder, holder, "still the first holder's lease");
    let victim = racers.iter().position(|w| w.name == holder).unwrap();
    let mut killed = racers.remove(victim);
    killed.child.kill().unwrap();
    let _ = killed.child.wait();
    for k in 1..=2 {
        follow_up(&maildir, 1, k);
    }
    follow_up(&maildir, 2, 3);
    let (heir, v) = team.wait_for("the lease taken over", 2 * MINUTE, |w, v| {
        w != holder && event(v, "lease").is_some()
    });
    let taken = chrono::DateTime::parse_from_rfc3339(v["at"].as_str().unwrap()).unwrap();
    let expired = lease.expires_at;
    assert!(
        taken <= expired,
        "{heir} took the lease at {taken}, after {holder}'s ran out at {expired}"
    );
    for w in &mut racers {
        finish(w, 3 * MINUTE);
    }
    // A restart resumes what was approved and never started (Cy's).
    let mut settle = team.spawn(
        "Sal",
        &["--seed", "9", "--steps", "0", "--requests", "3", "--settle"],
    );
    finish(&mut settle, MINUTE);

    let failures = team.picked(|_, v| event(v, "failure").is_some());
    assert!(failures.is_empty(), "{failures:#?}");
    let accepted = team.picked(|_, v| event(v, "accepted").is_some());
    let notes = team.picked(|_, v| event(v, "note").is_some()).len();
    eprintln!(
        "{} accepted, {notes} notes; {holder} held the lease, {heir} took it over",
        accepted.len()
    );
    assert!(
        accepted.len() > 2,
        "hardly anything was accepted: {accepted:?}"
    );

    // 0 actions on a stale version: the change that made version seen + 1
    // is that very action (its kind, its operator), and no two accepted
    // actions carried the same version of a request (an operator acting
    // again on the copy their own earlier action made stale included).
    let mut carried = std::collections::HashSet::new();
    for (who, a) in &accepted {
        let (id, seen) = (a["id"].as_i64().unwrap(), a["seen"].as_i64().unwrap());
        assert!(
            carried.insert((id, seen)),
            "two actions accepted on #{id} v{seen}: {a}"
        );
        let kind = match a["what"].as_str().unwrap() {
            "approve" => "request.approved",
            "reject" => "request.rejected",
            "reply" => "reply.sending",
            "override" => "auth.override",
            "link" => "request.account_email",
            other => panic!("{other} is not version-checked"),
        };
        let next: (String, String) = store
            .conn()
            .query_row(
                "SELECT kind, who FROM changes WHERE request_id = ?1 AND version = ?2",
                params![id, seen + 1],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .expect("an accepted action moved the version");
        assert_eq!(
            next,
            (kind.to_string(), who.clone()),
            "{who} {a} was accepted on a stale version"
        );
    }

    // 0 duplicate exports: per workspace, one job per approval, Cy's
    // included (started by the resume with its stored key).
    for (n, (_, workspace)) in REQUESTERS.iter().enumerate() {
        let id = n as i64 + 1;
        let v = store.load_request(id).unwrap();
        let ws = uuid::Uuid::parse_str(v.workspace_id.as_deref().unwrap()).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let jobs = rt.block_on(client.jobs(ws)).unwrap();
        let count = |action: &str| -> i64 {
            store
                .conn()
                .query_row(
                    "SELECT COUNT(*) FROM audit WHERE subject = ?1 AND action = ?2",
                    params![format!("request:{id}"), action],
                    |r| r.get(0),
                )
                .unwrap()
        };
        let (approved, rejected) = (count("request.approved"), count("request.rejected"));
        assert!(
            approved + rejected <= 1,
            "#{id}: decided {approved} + {rejected} times"
        );
        assert_eq!(jobs.len() as i64, approved, "{workspace}: {jobs:?}");
        if let Some(job) = jobs.first() {
            assert_eq!(
                v.job.map(|j| j.id),
                Some(job.id.to_string()),
                "#{id} records its job"
            );
        }
    }
    assert!(
        store.load_request(1).unwrap().job.is_some(),
        "Cy's approval went on to its export"
    );

    // 0 duplicate replies: no template twice to one request; each reply
    // reached the sink at most once, a `sent` one exactly once; Dee's was
    // never sent.
    let mut replies = Vec::new();
    for id in 1..=REQUESTERS.len() as i64 {
        replies.extend(store.replies(id).unwrap().into_iter().map(|r| (id, r)));
    }
    let mut pairs: Vec<_> = replies
        .iter()
        .map(|(i, r)| (*i, r.template.clone()))
        .collect();
    pairs.sort();
    let n = pairs.len();
    pairs.dedup();
    assert_eq!(pairs.len(), n, "a template went twice: {replies:#?}");
    let sent = replies
        .iter()
        .filter(|(_, r)| r.state == ReplyState::Sent)
        .count();
    let got = sink.wait_for(sent, Duration::from_secs(10));
    for (_, r) in &replies {
        let copies = got
            .iter()
            .filter(|m| m.text().contains(r.message_id.as_str()))
            .count();
        match r.state {
            ReplyState::Sent => assert_eq!(copies, 1, "{r:?}"),
            _ => assert!(copies <= 1, "{r:?} arrived {copies} times"),
        }
    }
    assert!(
        got.len() <= replies.len(),
        "the sink got a reply the store never recorded"
    );
    let dees: Vec<_> = replies
        .iter()
        .filter(|(id, r)| *id == 2 && r.template == "acknowledgement")
        .collect();
    assert_eq!(dees.len(), 1);
    assert_eq!(
        dees[0].1.state,
        ReplyState::Sending,
        "killed before the send"
    );
    assert!(!got
        .iter()
        .any(|m| m.text().contains(dees[0].1.message_id.as_str())));

    // 0 lost notes (a note the killed poller stored but never reported may
    // be extra, never missing).
    let stored: Vec<String> = (1..=REQUESTERS.len() as i64)
        .flat_map(|id| store.load_request(id).unwrap().notes)
        .map(|n| n.text)
        .collect();
    let said = team.picked(|_, v| event(v, "note").is_some());
    for (_, v) in &said {
        let text = v["text"].as_str().unwrap();
        assert!(stored.iter().any(|s| s == text), "lost note {text:?}");
    }
    assert!(
        stored.len() - said.len() <= 1,
        "{} stored, {} said",
        stored.len(),
        said.len()
    );

    // Every mail once: 3 requests and 4 follow-ups, whoever polled.
    let messages: i64 = store
        .conn()
        .query_row("SELECT COUNT(*) FROM messages", params![], |r| r.get(0))
        .unwrap();
    assert_eq!(messages, 3 + 4);
    assert_eq!(store.thread(2).unwrap().len(), 3, "both follow-ups on #2");

    // `concierge audit verify` on the team store.
    assert!(audit::verify(store.conn()).unwrap().is_ok());
    let out = Command::new(env!("CARGO_BIN_EXE_concierge"))
        .arg("--config")
        .arg(dir.join("Sal.toml"))
        .args(["audit", "verify"])
        .env("CONCIERGE_DB_PASSWORD", support::postgres::PASSWORD)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    drop(backend);
}

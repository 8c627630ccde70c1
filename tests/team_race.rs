//! Several operators on one SQLite store, at once: each thread is one
//! operator with its own connection, taking random actions (approve,
//! reject, reply, note, claim) on the version of the request it just read,
//! for a bounded number of steps. The exports go to the real reference
//! backend over HTTP, the replies to the real SMTP sink. Afterwards:
//! no export started twice, no reply sent twice, no note lost, no action
//! accepted on a version that had changed, and the audit chain intact.

use concierge_test_support as support;

use concierge::config::Config;
use concierge::domain::{ReplyState, StoreError};
use concierge::mail::outgoing::Sender;
use concierge::mail::templates::Template;
use concierge::ops;
use concierge::store::requests::JobSnap;
use concierge::store::{audit, Store};
use rand::{Rng, SeedableRng};
use std::path::Path;
use support::smtp::SmtpSink;
use support::team::REQUESTERS;

const OPERATORS: [(&str, &str); 3] = [
    ("kim@ochrehq.com", "Kim"),
    ("sam@ochrehq.com", "Sam"),
    ("lee@ochrehq.com", "Lee"),
];
/// Steps per operator: enough for every request to be fought over.
const STEPS: usize = 60;

/// An action a store accepted, with the version its operator had read.
#[derive(Debug)]
struct Accepted {
    id: i64,
    seen: i64,
    who: &'static str,
    what: String,
}

fn config(dir: &Path, smtp_port: u16) -> Config {
    let text = format!(
        "[operator]\nname = \"Race\"\n[smtp]\nhost = \"127.0.0.1\"\nport = {smtp_port}\nsecurity = \"none\"\nusername = \"\"\nfrom = \"Ochre Concierge <hello@ochrehq.com>\"\n[store]\npath = \"{}\"\n",
        dir.join("team.db").display()
    );
    let path = dir.join("config.toml");
    std::fs::write(&path, text).unwrap();
    Config::load(Some(&path)).unwrap()
}

/// Whether `e` is a refusal an operator expects (someone was first, or the
/// request no longer allows it), not a failure.
fn refused(e: &anyhow::Error) -> bool {
    StoreError::of(e).is_some() || e.downcast_ref::<ops::reply::Refusal>().is_some()
}

/// One operator's session: `STEPS` random actions; returns what was
/// accepted, the notes written, and the failures (none expected).
fn operator(
    n: usize,
    cfg: Config,
    url: String,
    token: String,
    barrier: std::sync::Arc<std::sync::Barrier>,
) -> (Vec<Accepted>, Vec<String>, Vec<String>) {
    let (id_, name) = OPERATORS[n];
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client =
        concierge::backend::BackendClient::new(&url, concierge::secret::Secret::new(token), name)
            .unwrap();
    let sender = Sender::smtp(cfg.smtp.as_ref().unwrap()).unwrap();
    let mut store = Store::open(&cfg.store_path().unwrap()).unwrap();
    store.register_operator(id_, name).unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(n as u64 + 7);
    let (mut accepted, mut notes, mut failures) = (Vec::new(), Vec::new(), Vec::new());
    let mut stops = 0;
    for step in 0..STEPS {
        let id = rng.gen_range(1..=REQUESTERS.len() as i64);
        let read = store.load_request(id);
        // Every operator reads, then every operator acts: each step is a
        // real race. NOTE: nothing may panic between two waits (the others
        // would wait for ever): failures are collected instead.
        barrier.wait();
        let read = match read {
            Ok(r) => r,
            Err(e) => {
                failures.push(format!("{name}: reading #{id}: {e:#}"));
                continue;
            }
        };
        let seen = read.version;
        // Decisions are rare (they end a request's race); the repeatable
        // version-checked actions (override, link) keep the races going.
        let what = match rng.gen_range(0..100) {
            0..=5 => "approve",
            6..=9 => "reject",
            10..=29 => "reply",
            30..=49 => "note",
            50..=64 => "claim",
            65..=84 => "override",
            _ => "link",
        };
        let result: anyhow::Result<bool> = match what {
            "approve" => ops::export::approve(&mut store, id, None, &[], id_, Some(seen), false)
                .and_then(|req| {
                    let (body, force) = ops::export::frozen_body(&req)?;
                    let key = req.idempotency_key.clone().unwrap_or_default();
                    let job = rt.block_on(client.start_export_with(&body, &key, force))?;
                    let snap = JobSnap {
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
                    };
                    store.set_job(id, &snap, id_)?;
                    Ok(true)
                }),
            "reject" => store.reject(id, "raced", id_, Some(seen)).map(|_| true),
            "reply" => {
                let template = if rng.gen_bool(0.5) {
                    Template::Acknowledgement
                } else {
                    Template::ScopeQuestion
                };
                let from = cfg
                    .smtp
                    .as_ref()
                    .and_then(|s| s.from.clone())
                    .unwrap_or_default();
                let text = format!("Hello, {name} here ({step}).");
                match store
                    .reply_target(id)
                    .and_then(|t| concierge::reply::build(&from, &t, &text))
                {
                    Err(e) => Err(e),
                    Ok(reply) => {
                        ops::reply::begin(&mut store, id, template, &reply, false, id_, Some(seen))
                            .and_then(|rid| {
                                let sent = rt
                                    .block_on(sender.send(&reply))
                                    .map_err(anyhow::Error::from);
                                ops::reply::finish(
                                    &mut store,
                                    rid,
                                    &ops::reply::outcome_of(&sent),
                                    id_,
                                )?;
                                sent?;
                                Ok(true)
                            })
                    }
                }
            }
            "override" => store
                .override_auth(id, &format!("{name} checked by phone"), id_, Some(seen))
                .map(|_| true),
            "link" => {
                let email = read.account().unwrap_or_default().to_string();
                store
                    .set_account_email(id, &email, id_, Some(seen))
                    .map(|_| true)
            }
            "note" => {
                let text = format!("{name} note {step}");
                let r = store.add_note(id, id_, &text);
                if r.is_ok() {
                    notes.push(text);
                }
                r.map(|_| false)
            }
            _ => store
                .claim(id, id_, read.claimed_by.as_deref())
                .map(|_| false),
        };
        match result {
            Ok(true) => accepted.push(Accepted {
                id,
                seen,
                who: name,
                what: what.into(),
            }),
            Ok(false) => {}
            Err(e) if refused(&e) => {
                if matches!(StoreError::of(&e), Some(StoreError::Stale { .. })) {
                    stops += 1;
                }
            }
            Err(e) => failures.push(format!("{name} {what} #{id}: {e:#}")),
        }
    }
    eprintln!(
        "{name}: {} accepted, {stops} collision stops",
        accepted.len()
    );
    (accepted, notes, failures)
}

#[test]
fn operators_racing_on_one_store_never_duplicate_an_export_or_a_reply_or_act_on_a_stale_version() {
    let dir = tempfile::tempdir().unwrap();
    let sink = SmtpSink::start();
    let cfg = config(dir.path(), sink.port());
    let backend = concierge::demo::start_backend(
        Path::new(env!("CARGO_BIN_EXE_concierge")),
        dir.path(),
        &dir.path().join("outbox"),
        None,
    )
    .unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let client = concierge::backend::BackendClient::new(
        &backend.url,
        concierge::secret::Secret::new(backend.token.clone()),
        "test",
    )
    .unwrap();
    let mut store = Store::open(&cfg.store_path().unwrap()).unwrap();
    support::team::seed_resolved(&mut store, &client, "race");

    let barrier = std::sync::Arc::new(std::sync::Barrier::new(OPERATORS.len()));
    let sessions: Vec<_> = (0..OPERATORS.len())
        .map(|n| {
            let (cfg, url, token) = (cfg.clone(), backend.url.clone(), backend.token.clone());
            let barrier = barrier.clone();
            std::thread::spawn(move || operator(n, cfg, url, token, barrier))
        })
        .collect();
    let (mut accepted, mut notes, mut failures) = (Vec::new(), Vec::new(), Vec::new());
    for s in sessions {
        let (a, n, f) = s.join().unwrap();
        accepted.extend(a);
        notes.extend(n);
        failures.extend(f);
    }
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(!accepted.is_empty(), "nothing was ever accepted");

    // 0 actions on a stale version: the first change after the version an
    // accepted action read is that action itself.
    for a in &accepted {
        let since = store.changes_since(a.id, a.seen).unwrap();
        let first = since
            .first()
            .expect("an accepted action changed the version");
        assert_eq!(
            (first.version, first.who.as_str()),
            (a.seen + 1, a.who),
            "{a:?} was accepted after {first:?}"
        );
    }

    // 0 duplicate exports: the backend holds one job per approved request,
    // and no request was decided twice.
    for (n, (_, workspace)) in REQUESTERS.iter().enumerate() {
        let id = n as i64 + 1;
        let v = store.load_request(id).unwrap();
        let ws = uuid::Uuid::parse_str(v.workspace_id.as_deref().unwrap()).unwrap();
        let jobs = rt.block_on(client.jobs(ws)).unwrap();
        let approvals = accepted
            .iter()
            .filter(|a| a.id == id && a.what == "approve")
            .count();
        assert!(approvals <= 1, "#{id} approved {approvals} times");
        assert_eq!(jobs.len(), approvals, "{workspace}: {jobs:?}");
        let decisions: i64 = store
            .conn()
            .query_row(
                "SELECT COUNT(*) FROM audit WHERE subject = ?1 AND action IN ('request.approved', 'request.rejected')",
                concierge::store::db::params![format!("request:{id}")],
                |r| r.get(0),
            )
            .unwrap();
        assert!(decisions <= 1, "#{id}: {decisions} decisions");
    }

    // 0 duplicate replies: every reply the sink got is one recorded `sent`
    // reply, and no template went twice to one request.
    let mut sent = Vec::new();
    for id in 1..=REQUESTERS.len() as i64 {
        for r in store.replies(id).unwrap() {
            assert_eq!(r.state, ReplyState::Sent, "{r:?}");
            sent.push((id, r.template.clone(), r.message_id.clone()));
        }
    }
    let mut pairs: Vec<_> = sent.iter().map(|(i, t, _)| (*i, t.clone())).collect();
    pairs.sort();
    let n = pairs.len();
    pairs.dedup();
    assert_eq!(pairs.len(), n, "a template went twice: {sent:?}");
    let got = sink.wait_for(sent.len(), std::time::Duration::from_secs(10));
    assert_eq!(got.len(), sent.len(), "the sink got {} replies", got.len());
    for (_, _, mid) in &sent {
        let copies = got
            .iter()
            .filter(|m| m.text().contains(mid.as_str()))
            .count();
        assert_eq!(copies, 1, "reply {mid} arrived {copies} times");
    }

    // 0 lost notes.
    let stored: Vec<String> = (1..=REQUESTERS.len() as i64)
        .flat_map(|id| store.load_request(id).unwrap().notes)
        .map(|n| n.text)
        .collect();
    for text in &notes {
        assert!(stored.contains(text), "lost note {text:?}");
    }
    assert_eq!(stored.len(), notes.len());

    assert!(audit::verify(store.conn()).unwrap().is_ok());
    drop(backend);
}

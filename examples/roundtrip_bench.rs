//! Round trips per action: what the store sends to its engine for each
//! operator action (note, claim, approve, the reply's record and its
//! outcome, reject), engine by engine, counted by the connection itself
//! (`db::Conn::counts`), with the median time of the action.
//!
//! On PostgreSQL each statement is one network round trip once it is
//! prepared (the first use of each costs one more, per connection: the
//! rounds below are measured after a warm-up). BEGIN (with the writer
//! lock) and COMMIT count as statements.
//!
//! Run: `cargo run --release --example roundtrip_bench [-- --rounds 200]`.
//! It starts its own PostgreSQL (initdb + pg_ctl, as the tests do:
//! tests/support/postgres.rs). The test that holds these figures to one
//! transaction and at most 10 statements is tests/store_changes.rs
//! `each_action_is_one_transaction_of_a_few_statements`.

use concierge_test_support as support;

use concierge::intake::{inspect, Options};
use concierge::mail::outgoing::Reply;
use concierge::store::db::Counts;
use concierge::store::{Store, Stored};
use std::time::{Duration, Instant};

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn request(s: &mut Store, n: usize) -> i64 {
    let raw = format!(
        "From: owner@acme.example\r\nMessage-ID: <rt{n}@acme.example>\r\nSubject: Data export request: Acme\r\n\r\nhi\r\n"
    );
    let i = inspect(raw.as_bytes(), &Options::default());
    let key = i.store_key(raw.as_bytes());
    match s.store_batch("INBOX", &[(i, key, None)], None).unwrap()[0] {
        Stored::NewRequest(id) => id,
        ref other => panic!("{other:?}"),
    }
}

const ACTIONS: [&str; 6] = [
    "note",
    "claim",
    "approve",
    "reply (record)",
    "reply (outcome)",
    "reject",
];

/// One round of every action on two fresh requests; the counts and time
/// of each, in [`ACTIONS`] order.
fn round(s: &mut Store, n: usize) -> Vec<(Counts, Duration)> {
    let (a, b) = (request(s, 2 * n), request(s, 2 * n + 1));
    let me = "kim@ochrehq.com";
    let reply = Reply {
        message_id: format!("rt-reply-{n}@ochrehq.com"),
        to: "owner@acme.example".into(),
        subject: "Re: Data export request: Acme".into(),
        bytes: b"ack".to_vec(),
    };
    let mut out = Vec::new();
    let mut time = |s: &mut Store, f: &mut dyn FnMut(&mut Store)| {
        let (c0, t0) = (s.conn().counts(), Instant::now());
        f(s);
        out.push((s.conn().counts() - c0, t0.elapsed()));
    };
    time(s, &mut |s| s.add_note(a, me, "Scope: all").unwrap());
    time(s, &mut |s| {
        s.claim(a, me, None).unwrap();
    });
    time(s, &mut |s| {
        s.approve(a, "k", None, None, &[], me, Some(0)).unwrap()
    });
    let mut rid = 0;
    time(s, &mut |s| {
        rid = s
            .reply_begin(b, "acknowledgement", &reply, me, Some(0))
            .unwrap()
    });
    time(s, &mut |s| s.reply_finish(rid, Ok(()), me).unwrap());
    time(s, &mut |s| s.reject(b, "agent", me, Some(1)).unwrap());
    out
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn bench(name: &str, mut s: Store, rounds: usize) {
    s.register_operator("kim@ochrehq.com", "Kim").unwrap();
    round(&mut s, 0); // warm-up: statements prepared, caches filled
    let all: Vec<Vec<(Counts, Duration)>> = (1..=rounds).map(|n| round(&mut s, n)).collect();
    println!("\n{name} ({rounds} rounds)");
    println!("| action | transactions | statements | median |");
    println!("| --- | --- | --- | --- |");
    for (i, action) in ACTIONS.iter().enumerate() {
        let counts: Vec<Counts> = all.iter().map(|r| r[i].0).collect();
        // Every round sends the same: anything else would be a bug here.
        assert!(
            counts.windows(2).all(|w| w[0] == w[1]),
            "{action}: {counts:?}"
        );
        let t = median(all.iter().map(|r| r[i].1).collect());
        println!(
            "| {action} | {} | {} | {:.2} ms |",
            counts[0].transactions,
            counts[0].statements,
            t.as_secs_f64() * 1e3
        );
    }
}

fn main() {
    let rounds = arg("--rounds", 200).max(1);
    let dir = tempfile::tempdir().unwrap();
    bench(
        "SQLite (file, WAL, synchronous=FULL)",
        Store::open(&dir.path().join("rt.db")).unwrap(),
        rounds,
    );
    let url = support::postgres::server().fresh_database();
    bench(
        "PostgreSQL 15 (loopback)",
        Store::connect_pg(&support::postgres::target(&url)).unwrap(),
        rounds,
    );
}

//! Store benchmark: time to first frame from a store of 10,000 requests on
//! SQLite and on a team store (PostgreSQL over loopback), and the same for
//! reloading one request (what the screen does after each action).
//!
//! Run: `cargo run --release --example store_bench`. It starts its own
//! PostgreSQL (initdb + pg_ctl, as the tests do: tests/support/postgres.rs)
//! and fills it with `concierge store copy` from the SQLite store, so both
//! engines hold the same rows.

#[path = "../tests/support/mod.rs"]
#[allow(unused_imports)]
mod support;

use concierge::estimate::Rates;
use concierge::intake::{inspect, Options};
use concierge::store::requests::{Membership, SizeSnap};
use concierge::store::{Location, Store};
use concierge::tui::state::State;
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use std::time::{Duration, Instant};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// A store with `n` requests, about a third of them resolved with a size.
fn seeded_store(path: &std::path::Path, n: usize) -> Store {
    let mut store = Store::open(path).unwrap();
    let workspaces = [
        "Acme Support",
        "Northwind Traders",
        "Globex",
        "Initech",
        "Umbrella",
    ];
    let mut batch = Vec::new();
    for i in 0..n {
        let ws = workspaces[i % workspaces.len()];
        let raw = format!(
            "From: Owner {i} <owner{i}@customer{}.example>\r\nSubject: Data export request: {ws} {i}\r\n\
             Message-ID: <bench-{i}@customer.example>\r\nDate: Mon, 23 Nov 2026 09:14:05 +0000\r\n\
             Authentication-Results: mx.ochrehq.com; dkim=pass; spf=pass; dmarc={}\r\n\r\nWorkspace: {ws} {i}\r\n",
            i % 97,
            if i % 11 == 0 { "fail" } else { "pass" }
        );
        let msg = inspect(raw.as_bytes(), &Options::default());
        let key = msg.store_key(raw.as_bytes());
        batch.push((msg, key, None));
        if batch.len() == 500 {
            store.store_batch("bench", &batch, None).unwrap();
            batch.clear();
        }
    }
    if !batch.is_empty() {
        store.store_batch("bench", &batch, None).unwrap();
    }
    for id in (1..=n as i64).step_by(3) {
        let res = concierge::store::requests::Resolution {
            account_email: format!("owner{id}@customer.example"),
            memberships: vec![Membership {
                member_id: uuid::Uuid::new_v4().to_string(),
                workspace_id: uuid::Uuid::new_v4().to_string(),
                workspace_name: "Acme Support".into(),
                email: format!("owner{id}@customer.example"),
                role: concierge::domain::Role::Owner,
            }],
            workspace: None,
            size: Some(SizeSnap {
                messages: 10_000 + id as u64 * 37,
                customers: 500,
                ..SizeSnap::default()
            }),
        };
        store.set_resolution(id, &res, "bench").unwrap();
    }
    store
}

/// Where a first frame's time goes.
struct Frame {
    total: Duration,
    open: Duration,
    load: Duration,
    derive_draw: Duration,
}

/// Open the store, load every request, derive, draw: median of 7 (each
/// step's median too).
fn first_frame(at: &Location) -> Frame {
    let (mut totals, mut opens, mut loads, mut draws) = (vec![], vec![], vec![], vec![]);
    for _ in 0..7 {
        let t = Instant::now();
        let store = Store::open_at(at).unwrap();
        let opened = t.elapsed();
        let reqs = store.load_requests().unwrap();
        let loaded = t.elapsed();
        assert_eq!(reqs.len(), 10_000);
        let mut state = State::new(reqs, Rates::default(), "bench".into(), chrono::Utc::now());
        let mut terminal = Terminal::new(TestBackend::new(120, 40)).unwrap();
        terminal
            .draw(|f| concierge::tui::ui::render(f, &mut state))
            .unwrap();
        let total = t.elapsed();
        totals.push(total);
        opens.push(opened);
        loads.push(loaded - opened);
        draws.push(total - loaded);
    }
    Frame {
        total: median(totals),
        open: median(opens),
        load: median(loads),
        derive_draw: median(draws),
    }
}

/// Reload one request (after a note, a decision): median of 201.
fn reload_one(at: &Location) -> Duration {
    let store = Store::open_at(at).unwrap();
    let times = (0..201)
        .map(|i| {
            let t = Instant::now();
            store.load_request(1 + (i * 37) % 10_000).unwrap();
            t.elapsed()
        })
        .collect();
    median(times)
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s10000.db");
    let sqlite = seeded_store(&path, 10_000);
    let url = support::postgres::server().fresh_database();
    let team = Store::connect_pg(&support::postgres::target(&url)).unwrap();
    concierge::store::copy::copy(&sqlite, &team).unwrap();
    drop((sqlite, team));
    let engines = [
        ("SQLite", Location::Sqlite(path)),
        (
            "PostgreSQL (loopback)",
            Location::Postgres(support::postgres::target(&url)),
        ),
    ];
    println!("Concierge store benchmark (10,000 requests; medians)");
    let mut firsts = Vec::new();
    for (name, at) in &engines {
        let first = first_frame(at);
        let one = reload_one(at);
        println!(
            "{name:<22} time to first frame: {:>7.1} ms   reload one request: {:>6.0} µs",
            first.total.as_secs_f64() * 1e3,
            one.as_secs_f64() * 1e6
        );
        println!(
            "{:<22}   of which open {:.1} ms, load {:.1} ms, derive + draw {:.1} ms",
            "",
            first.open.as_secs_f64() * 1e3,
            first.load.as_secs_f64() * 1e3,
            first.derive_draw.as_secs_f64() * 1e3
        );
        firsts.push(first.total);
    }
    println!(
        "first frame PostgreSQL / SQLite: {:.2}× (goal ≤ 1.5×)",
        firsts[1].as_secs_f64() / firsts[0].as_secs_f64()
    );
}

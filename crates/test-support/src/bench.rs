//! What the screen benchmarks share (examples/tui_bench.rs,
//! examples/store_bench.rs): a store of many requests, and the time to
//! first frame from it, on whichever engine a [`Location`] names.

use concierge::estimate::Rates;
use concierge::store::requests::{Membership, Resolution, SizeSnap};
use concierge::store::{Location, Store};
use concierge::tui::state::State;
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use std::time::{Duration, Instant};

/// The median of `v` (the upper one of an even count).
pub fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// A SQLite store at `path` with `n` requests over five workspaces, one in
/// 11 failing DMARC, about a third of them resolved to an owner with a
/// size (what the queue shows most of the day).
pub fn seeded_store(path: &std::path::Path, n: usize) -> Store {
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
        batch.push(concierge::store::testing::mail(&raw));
        // 500 a transaction, as the poller stores a batch.
        if batch.len() == 500 {
            store.store_batch("bench", &batch, None).unwrap();
            batch.clear();
        }
    }
    if !batch.is_empty() {
        store.store_batch("bench", &batch, None).unwrap();
    }
    for id in (1..=n as i64).step_by(3) {
        let res = Resolution {
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

/// Time to first frame from the store at `at` holding `requests`
/// requests: open it, load every request, derive the state, draw 120×40.
/// The median of 7.
/// Where a first frame's time goes (medians of 7, each step's own).
pub struct Frame {
    pub total: Duration,
    pub open: Duration,
    pub load: Duration,
    pub derive_draw: Duration,
}

pub fn first_frame(at: &Location, requests: usize) -> Frame {
    let (mut totals, mut opens, mut loads, mut draws) = (vec![], vec![], vec![], vec![]);
    for _ in 0..7 {
        let t = Instant::now();
        let store = Store::open_at(at).unwrap();
        let opened = t.elapsed();
        let reqs = store.load_requests().unwrap();
        let loaded = t.elapsed();
        assert_eq!(reqs.len(), requests);
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

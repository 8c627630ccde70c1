//! The change feed: propagation and idle cost.
//!
//! On the SQLite file, then on PostgreSQL over loopback (its own server,
//! started as the tests do: tests/support/postgres.rs; `--engine sqlite` or
//! `--engine postgres` runs one).
//!
//! Propagation: a store with one request; screen B (the same `App` the
//! terminal runs, on its own connection) is open on it. 200 times, another
//! connection commits a note (as another operator would) and the clock runs
//! until B's state shows it. Reports p50, p95 and the worst.
//!
//! Idle: the same screen open with nothing happening for 30 s (or
//! `--idle SECS`); the process's user+system CPU from `/proc/self/stat`
//! before and after (the screen's presence heartbeat, and what its commits
//! wake, are the only work: the feed waits on file events or on LISTEN).
//!
//! `cargo run --release --example feed_bench [-- --idle 30 --changes 200]`

use concierge_test_support as support;

use concierge::store::Store;
use concierge::tui::app::{App, Event, Inbox, Setup};
use std::time::{Duration, Instant};

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// User + system CPU of this process, in seconds (`/proc/self/stat`
/// fields 14 and 15, in clock ticks of 1/100 s on Linux).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<u64> = after
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    // After the command name: state is field 3 (not numeric), so index 10/11.
    (f.get(10).copied().unwrap_or(0) + f.get(11).copied().unwrap_or(0)) as f64 / 100.0
}

/// One engine's run: propagation over `changes` notes, then `idle` seconds
/// of nothing. `writer` is another operator's connection to the same store.
async fn run(
    name: &str,
    at: concierge::store::Location,
    mut writer: Store,
    changes: usize,
    idle: u64,
) {
    let setup = Setup {
        store_path: at,
        operator: "Sam".into(),
        operator_email: None,
        rates: Default::default(),
        keys: Default::default(),
        templates: concierge::mail::templates::Templates::load(None).unwrap(),
        backend: None,
        sender: None,
        from: "x <x@example.com>".into(),
        inbox: Inbox::None,
        authserv_id: "mx.example".into(),
        outboxes: vec![],
        config: None,
        job_poll: Duration::from_secs(1),
        backend_gone: None,
        follow_demo: None,
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Event>();
    let mut app = App::start(setup, tx).unwrap();
    let id = app.state.rows[0].req.id;
    let mut took = Vec::with_capacity(changes);
    for n in 1..=changes {
        let t0 = Instant::now();
        writer.add_note(id, "Kim", &format!("note {n}")).unwrap();
        while app.state.rows[0].req.notes.len() < n {
            let ev = rx.recv().await.unwrap();
            app.handle(ev);
        }
        took.push(t0.elapsed());
    }
    took.sort();
    let q = |p: f64| took[((took.len() as f64 * p).ceil() as usize).saturating_sub(1)];
    println!(
        "{name:<10} propagation over {changes} changes: p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms",
        q(0.50).as_secs_f64() * 1e3,
        q(0.95).as_secs_f64() * 1e3,
        took.last().unwrap().as_secs_f64() * 1e3
    );
    // Idle: nothing commits but the screen's own presence heartbeat.
    let before = cpu_seconds();
    let until = Instant::now() + Duration::from_secs(idle);
    while let Ok(Some(ev)) = tokio::time::timeout_at(until.into(), rx.recv()).await {
        app.handle(ev);
    }
    println!(
        "{name:<10} CPU over {idle} idle seconds with the feed watching: {:.2} s (goal < 0.1 s)",
        cpu_seconds() - before
    );
}

/// A store with one request, and a second connection to it (the writer).
fn one_request(store: &mut Store) {
    let raw = "From: owner@acme.example\r\nMessage-ID: <bench@acme.example>\r\nSubject: Data export request: Acme Support\r\n\r\nhi\r\n";
    let i = concierge::intake::inspect(raw.as_bytes(), &Default::default());
    let key = i.store_key(raw.as_bytes());
    store.store_batch("INBOX", &[(i, key, None)], None).unwrap();
}

fn main() {
    let changes = arg("--changes", 200) as usize;
    let idle = arg("--idle", 30);
    let only = std::env::args()
        .skip_while(|a| a != "--engine")
        .nth(1)
        .unwrap_or_default();
    // The test server's own client is sync: made before the runtime starts.
    let pg_url = (only.is_empty() || only == "postgres")
        .then(|| support::postgres::server().fresh_database());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        if only.is_empty() || only == "sqlite" {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("bench.db");
            let mut writer = Store::open(&path).unwrap();
            one_request(&mut writer);
            run("SQLite", path.into(), writer, changes, idle).await;
        }
        if let Some(url) = pg_url {
            let target = support::postgres::target(&url);
            let mut writer = Store::connect_pg(&target).unwrap();
            one_request(&mut writer);
            let at = concierge::store::Location::Postgres(target);
            run("PostgreSQL", at, writer, changes, idle).await;
        }
    });
}

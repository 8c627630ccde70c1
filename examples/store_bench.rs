//! Store benchmark: time to first frame from a store of 10,000 requests on
//! SQLite and on a team store (PostgreSQL over loopback), and the same for
//! reloading one request (what the screen does after each action).
//!
//! Run: `cargo run --release --example store_bench`. It starts its own
//! PostgreSQL (initdb + pg_ctl, as the tests do: crates/test-support/src/postgres.rs)
//! and fills it with `concierge store copy` from the SQLite store, so both
//! engines hold the same rows.

use concierge_test_support as support;

use concierge::store::{Location, Store};
use concierge_test_support::bench::{self, median, seeded_store};
use std::time::{Duration, Instant};

/// Open the store, load every request, derive, draw: median of 7.
fn first_frame(at: &Location) -> bench::Frame {
    bench::first_frame(at, 10_000)
}

/// Reload one request (after a note, a decision): median of 201, and the
/// statements each sends (on PostgreSQL one round trip each).
fn reload_one(at: &Location) -> (Duration, u64) {
    let store = Store::open_at(at).unwrap();
    let before = store.conn().counts();
    let times = (0..201)
        .map(|i| {
            let t = Instant::now();
            store.load_request(1 + (i * 37) % 10_000).unwrap();
            t.elapsed()
        })
        .collect();
    let sent = store.conn().counts() - before;
    (median(times), sent.statements / 201)
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
        let (one, statements) = reload_one(at);
        println!(
            "{name:<22} time to first frame: {:>7.1} ms   reload one request: {:>6.0} µs ({statements} statements)",
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

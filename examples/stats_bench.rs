//! Stats screen benchmark: from pressing `S` to the first frame, on a store
//! of 10,000 requests spread over the last 90 days — opening the store
//! read-only, the four queries, the figures, and drawing at 120×40 and
//! 80×24 into ratatui's `TestBackend` (the same steps as
//! `stats::screen::load_figures` and `tui::stats_view::render`, timed one
//! by one). Goal: under 100 ms.
//!
//! Run: `cargo run --release --example stats_bench` (`-- --runs N`, default
//! 21). Prints the median and the slowest run per period.

use chrono::{Duration as Days, Utc};
use concierge::estimate::{Rates, Size};
use concierge::stats::load::open_read_only;
use concierge::stats::screen::Model;
use concierge::stats::{compute, load, Period};
use concierge::stats::{fixture, ActivityRow, HistoryRow, RequestRow, Rows};
use concierge::store::Store;
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use std::time::{Duration, Instant};

const REQUESTS: i64 = 10_000;
const OPERATORS: [&str; 5] = ["sam", "kim", "ada", "lin", "joe"];

/// 10,000 requests over 90 days: 60 % emailed, 15 % rejected, the rest
/// open; each with a reply, a note and a decision in the audit log; a size
/// on a third; a finished export's estimate for each emailed one.
fn rows(now: chrono::DateTime<Utc>) -> Rows {
    let mut rows = Rows::default();
    let span = 90 * 24 * 3600;
    for id in 1..=REQUESTS {
        // Spread evenly, newest last; a few hours' jitter from the id.
        let received = now - Days::seconds(span - span * id / REQUESTS) - Days::hours(id % 7);
        let op = OPERATORS[id as usize % OPERATORS.len()];
        let (state, emailed, rejected) = match id % 20 {
            0..=11 => ("done", Some(received + Days::hours(2 + id % 40)), None),
            12..=14 => ("rejected", None, Some(received + Days::hours(3))),
            15 => ("running", None, None),
            16 => ("approved", None, None),
            17 => ("waiting", None, None),
            _ => ("new", None, None),
        };
        let replied = (state != "new").then(|| received + Days::minutes(30 + id % 600));
        rows.requests.push(RequestRow {
            id,
            received_at: received,
            workspace: Some(format!("Workspace {}", id % 400)),
            requester: Some(format!("owner{id}@customer.example")),
            state: state.into(),
            first_reply_at: replied,
            emailed_at: emailed,
            rejected_at: rejected,
            size: (id % 3 == 0).then_some(Size {
                messages: 10_000 * (id as u64 % 300),
                customers: 50 * (id as u64 % 100),
                attachment_bytes: 1_000_000 * (id as u64 % 500),
                large_attachments: id as u64 % 3,
            }),
        });
        let mut act = |action: &str, at| {
            rows.activity.push(ActivityRow {
                actor: op.into(),
                action: action.into(),
                request_id: Some(id),
                at,
            })
        };
        if let Some(t) = replied {
            act("reply.sent", t);
            act("note.added", t + Days::minutes(5));
        }
        if let Some(t) = rejected {
            act("request.rejected", t);
        }
        if let Some(t) = emailed {
            act("request.approved", received + Days::hours(1));
            let estimated = 0.5 + (id % 50) as f64;
            rows.history.push(HistoryRow {
                estimated_hours: estimated,
                actual_hours: estimated * (0.5 + (id % 17) as f64 / 10.0),
                finished_at: t,
            });
        }
    }
    rows
}

fn main() {
    let runs: usize = std::env::args()
        .skip_while(|a| a != "--runs")
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(21);
    let now = Utc::now();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("stats.db");
    let store = Store::open(&path).expect("store");
    let t = Instant::now();
    fixture::write(&store, &rows(now)).expect("seed");
    drop(store);
    eprintln!(
        "seeded {REQUESTS} requests in {:.1} s ({} KiB)",
        t.elapsed().as_secs_f64(),
        std::fs::metadata(&path)
            .map(|m| m.len() / 1024)
            .unwrap_or(0)
    );
    let rates = Rates::default();
    println!("| period | requests in it | read (open + SQL) | figures | first frames | total (median of {runs}) | slowest total |");
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let med = |mut v: Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    for days in [7, 30, 90] {
        let (mut read, mut figs, mut frames, mut totals) = (vec![], vec![], vec![], vec![]);
        let mut total = 0;
        for _ in 0..runs {
            let t0 = Instant::now();
            let period = Period::last_days(days, now, rates.calendar());
            let conn = open_read_only(&path).expect("open");
            let rows = load(&conn, &period).expect("load");
            let t1 = Instant::now();
            let figures = compute(&rows, &period, &rates, now).expect("figures");
            let t2 = Instant::now();
            total = figures.requests.total;
            let mut model = Model::loading(days);
            model.loaded(days, Ok(figures));
            for (w, h) in [(120, 40), (80, 24)] {
                let mut term = Terminal::new(TestBackend::new(w, h)).expect("terminal");
                term.draw(|f| concierge::tui::stats_view::render(f, f.area(), &model))
                    .expect("draw");
            }
            let t3 = Instant::now();
            read.push(t1 - t0);
            figs.push(t2 - t1);
            frames.push(t3 - t2);
            totals.push(t3 - t0);
        }
        let slowest = *totals.iter().max().expect("runs");
        println!(
            "| last {days} days | {total} | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms |",
            ms(med(read)),
            ms(med(figs)),
            ms(med(frames)),
            ms(med(totals)),
            ms(slowest)
        );
    }
}

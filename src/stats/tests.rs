//! The figures of `fixture::scenario`, worked out by hand (see its doc for
//! each request's story), and the edge cases: an empty period, one request.

use super::fixture::{scenario, scenario_now, scenario_rates};
use super::*;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

/// Mon 16 Nov to Sun 29 Nov 2026, Berlin.
fn two_weeks() -> Period {
    let cal = scenario_rates().calendar().clone();
    Period::dates(date("2026-11-16"), date("2026-11-29"), &cal).unwrap()
}

fn figures(period: &Period) -> Figures {
    compute(&scenario(), period, &scenario_rates(), scenario_now()).unwrap()
}

#[test]
fn a_period_is_local_days_in_the_team_time_zone() {
    let p = two_weeks();
    assert_eq!(p.since, at("2026-11-15T23:00:00Z"));
    assert_eq!(p.until, at("2026-11-29T23:00:00Z"));
    assert_eq!(p.bucket, BucketSize::Day);
    let cal = scenario_rates().calendar().clone();
    let last7 = Period::last_days(7, scenario_now(), &cal);
    assert_eq!(last7.since, at("2026-11-23T23:00:00Z"));
    assert_eq!(last7.until, scenario_now());
    assert_eq!(
        Period::last_days(90, scenario_now(), &cal).bucket,
        BucketSize::Week
    );
    assert!(Period::dates(date("2026-11-02"), date("2026-11-01"), &cal).is_err());
}

#[test]
fn requests_per_day_stacked_by_outcome() {
    let f = figures(&two_weeks());
    assert_eq!(
        f.requests,
        Counts {
            total: 6,
            emailed: 3,
            rejected: 1,
            open: 2
        }
    );
    assert_eq!(f.buckets.len(), 14);
    let nonzero: Vec<(String, usize, usize, usize)> = f
        .buckets
        .iter()
        .filter(|b| b.total() > 0)
        .map(|b| (b.start.to_string(), b.emailed, b.rejected, b.open))
        .collect();
    assert_eq!(
        nonzero,
        vec![
            ("2026-11-16".into(), 2, 0, 0),
            ("2026-11-19".into(), 1, 0, 0),
            ("2026-11-21".into(), 0, 1, 0),
            ("2026-11-24".into(), 0, 0, 1),
            // 23:30 UTC on Friday is Saturday in Berlin.
            ("2026-11-28".into(), 0, 0, 1),
        ]
    );
}

#[test]
fn first_reply_and_link_times_against_the_promise() {
    let f = figures(&two_weeks());
    // Replies after 2, 95 (over the holiday, in time), 45 (weekend, in
    // time), 24.5 (late) and 1 hours: sorted 1, 2, 24.5, 45, 95.
    assert_eq!(
        f.first_reply,
        Timing {
            count: 5,
            median_hours: Some(24.5),
            p90_hours: Some(95.0),
            within_promise: 4
        }
    );
    // Links after 12 (kept), 97 (an hour late) and 70 hours (kept: the
    // estimate gave 3 business days).
    assert_eq!(
        f.link_emailed,
        Timing {
            count: 3,
            median_hours: Some(70.0),
            p90_hours: Some(97.0),
            within_promise: 2
        }
    );
    // Kept: 1, 8. Missed: 2 (late), 4 (open past due). Pending: 5.
    // The rejected 3 promised no export.
    assert_eq!(
        f.promise,
        Promise {
            kept: 2,
            missed: 2,
            pending: 1,
            share_kept: Some(0.5)
        }
    );
}

#[test]
fn overdue_now_counts_every_open_request_whatever_the_period() {
    let f = figures(&two_weeks());
    let got: Vec<(i64, DateTime<Utc>, f64)> = f
        .overdue_now
        .iter()
        .map(|o| (o.id, o.due, o.hours_overdue))
        .collect();
    assert_eq!(
        got,
        vec![
            (7, at("2026-11-06T10:00:00Z"), 576.0),
            (4, at("2026-11-25T09:30:00Z"), 120.5),
        ]
    );
}

#[test]
fn estimate_accuracy_reuses_the_calibration() {
    let f = figures(&two_weeks());
    let bands: Vec<usize> = f.accuracy.bands.iter().map(|b| b.count).collect();
    // Ratios 1.0, 2.5, 0.4, 1.157; the 100× job finished before the period.
    assert_eq!(bands, vec![1, 0, 2, 0, 1]);
    assert_eq!(f.accuracy.jobs, 4);
    let c = f.accuracy.calibration.clone().unwrap();
    // Median of 0.4, 1.0, 1.157, 2.5 = (1.0 + 70/60.5) / 2 = 1.0785.
    assert_eq!(c.median_ratio, 1.079);
    assert_eq!(c.suggested_messages_per_hour, 37_088.1);
    assert_eq!(c.suggested_customers_per_hour, 18_544.1);
    assert_eq!(c.mean_error_pct, 56.4);
}

#[test]
fn per_operator_from_the_audit_log() {
    let f = figures(&two_weeks());
    let sam = OperatorFigures {
        name: "sam".into(),
        handled: 3,
        replies_sent: 3,
        approved: 1,
        rejected: 0,
        notes: 1,
    };
    // Kim's reply to 6 was before the period.
    let kim = OperatorFigures {
        name: "kim".into(),
        handled: 3,
        replies_sent: 2,
        approved: 0,
        rejected: 1,
        notes: 1,
    };
    assert_eq!(f.operators, vec![kim, sam]);
}

#[test]
fn an_empty_period_has_no_figures_and_no_division_by_zero() {
    let cal = scenario_rates().calendar().clone();
    let p = Period::dates(date("2026-10-05"), date("2026-10-11"), &cal).unwrap();
    let f = figures(&p);
    assert_eq!(f.requests.total, 0);
    assert_eq!(f.buckets.len(), 7);
    assert!(f.buckets.iter().all(|b| b.total() == 0));
    assert_eq!((f.first_reply.count, f.first_reply.median_hours), (0, None));
    assert_eq!(f.link_emailed.p90_hours, None);
    assert_eq!(f.promise.share_kept, None);
    assert_eq!((f.accuracy.jobs, f.accuracy.calibration.clone()), (0, None));
    assert!(f.operators.is_empty());
    // Still open and overdue now, whatever period is shown.
    assert_eq!(f.overdue_now.len(), 2);
    let json = serde_json::to_string(&f).unwrap();
    assert!(!json.contains("NaN") && !json.contains("inf"), "{json}");
}

#[test]
fn a_one_request_period() {
    let cal = scenario_rates().calendar().clone();
    let p = Period::dates(date("2026-11-21"), date("2026-11-21"), &cal).unwrap();
    let f = figures(&p);
    assert_eq!((f.requests.total, f.requests.rejected), (1, 1));
    assert_eq!(f.first_reply.median_hours, Some(45.0));
    assert_eq!(f.first_reply.p90_hours, Some(45.0));
    assert_eq!(f.link_emailed.count, 0);
    assert_eq!(f.promise.share_kept, None, "a rejection promised no export");
}

#[test]
fn weeks_start_on_monday() {
    let cal = scenario_rates().calendar().clone();
    // Sunday 1 Nov to Tuesday 15 Dec.
    let p = Period::dates(date("2026-11-01"), date("2026-12-15"), &cal).unwrap();
    assert_eq!(p.bucket, BucketSize::Week);
    let f = figures(&p);
    let starts: Vec<String> = f.buckets.iter().map(|b| b.start.to_string()).collect();
    assert_eq!(starts.first().unwrap(), "2026-10-26");
    assert_eq!(starts.last().unwrap(), "2026-12-14");
    assert_eq!(starts.len(), 8);
    let week = |d: &str| {
        f.buckets
            .iter()
            .find(|b| b.start == date(d))
            .unwrap()
            .total()
    };
    // 7 (Thu 5); 6 (Tue 10); 1, 8, 2, 3 (16–21); 4, 5 (24–28).
    assert_eq!(
        (
            week("2026-11-02"),
            week("2026-11-09"),
            week("2026-11-16"),
            week("2026-11-23")
        ),
        (1, 1, 4, 2)
    );
}

#[test]
fn median_and_nearest_rank_p90() {
    assert_eq!(median_p90(&mut []), (None, None));
    assert_eq!(median_p90(&mut [3.0]), (Some(3.0), Some(3.0)));
    assert_eq!(median_p90(&mut [4.0, 1.0]), (Some(2.5), Some(4.0)));
    let mut ten: Vec<f64> = (1..=10).map(f64::from).collect();
    assert_eq!(median_p90(&mut ten), (Some(5.5), Some(9.0)));
    let mut eleven: Vec<f64> = (1..=11).map(f64::from).collect();
    assert_eq!(median_p90(&mut eleven), (Some(6.0), Some(10.0)));
}

#[test]
fn the_store_reads_back_what_was_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let store = crate::store::Store::open(&path).unwrap();
    let rows = scenario();
    super::fixture::write(&store, &rows).unwrap();
    // What the loader must skip: a failed reply before the sent one, the
    // intake's own audit entries, an action that is not counted.
    store
        .conn()
        .execute_batch(
            "INSERT INTO replies (request_id, message_id, template, to_addr, subject, bytes, state, created_at, sent_at)
               VALUES (4, 'failed@x', 'acknowledgement', 'x', 'Re', x'', 'failed', '2026-11-24T09:40:00.000Z', '2026-11-24T09:40:00.000Z');
             INSERT INTO audit (at, actor, action, subject, detail, prev_hash, hash)
               VALUES ('2026-11-24T09:30:00.000Z', 'intake', 'request.received', 'request:4', '{}', '', ''),
                      ('2026-11-24T09:31:00.000Z', 'kim', 'request.resolved', 'request:4', '{}', '', '');",
        )
        .unwrap();
    drop(store);
    let conn = load::open_read_only(&path).unwrap();
    let p = two_weeks();
    let got = load(&conn, &p).unwrap();
    // Requests of the period and every open one (7), not 6 (done, earlier).
    let expected: Vec<&RequestRow> = rows.requests.iter().filter(|r| r.id != 6).collect();
    assert_eq!(got.requests.iter().collect::<Vec<_>>(), expected);
    let in_period: Vec<&ActivityRow> = rows.activity.iter().filter(|a| p.contains(a.at)).collect();
    assert_eq!(got.activity.iter().collect::<Vec<_>>(), in_period);
    assert_eq!(got.history.len(), 4);
    assert_eq!(
        compute(&got, &p, &scenario_rates(), scenario_now()).unwrap(),
        figures(&p)
    );
    // Read-only: writing through this connection fails.
    assert!(conn
        .execute("DELETE FROM requests", crate::store::db::params![])
        .is_err());
}

#[test]
fn operators_are_counted_under_their_display_names() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let mut store = crate::store::Store::open(&path).unwrap();
    super::fixture::write(&store, &scenario()).unwrap();
    store.register_operator("kim", "Kim Lee").unwrap();
    drop(store);
    let conn = load::open_read_only(&path).unwrap();
    let got = load(&conn, &two_weeks()).unwrap();
    let actors: std::collections::BTreeSet<&str> =
        got.activity.iter().map(|a| a.actor.as_str()).collect();
    // "sam" registered no name: the id is all there is.
    assert_eq!(actors, ["Kim Lee", "sam"].into_iter().collect());
}

//! `concierge report` through the real binary on a real SQLite store: the
//! hand-worked scenario of `stats::fixture` (its doc tells each request's
//! story), checked field by field in JSON, CSV and text.

use concierge::stats::fixture;
use concierge::store::Store;
use std::path::Path;
use std::process::{Command, Output};

struct Setup {
    _dir: tempfile::TempDir,
    config: String,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("c.db");
    let store = Store::open(&db).unwrap();
    fixture::write(&store, &fixture::scenario()).unwrap();
    // A name a spreadsheet would run as a formula.
    store
        .conn()
        .execute(
            "UPDATE requests SET workspace_name = '=HYPERLINK(\"http://x\",\"a, b\")' WHERE id = 2",
            concierge::store::db::params![],
        )
        .unwrap();
    drop(store);
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[store]\npath = \"{}\"\n[estimate]\ntimezone = \"Europe/Berlin\"\nholidays = [\"2026-11-20\"]\n",
            db.display()
        ),
    )
    .unwrap();
    Setup {
        config: config.display().to_string(),
        _dir: dir,
    }
}

fn report(config: &str, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_concierge"));
    cmd.args(["report", "--config", config, "--at", "2026-11-30T10:00:00Z"])
        .args(args)
        .env_remove("XDG_CONFIG_HOME")
        .env("HOME", "/nonexistent-home");
    cmd.output().unwrap()
}

fn ok(o: &Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout.clone()).unwrap()
}

const TWO_WEEKS: [&str; 4] = ["--since", "2026-11-16", "--until", "2026-11-29"];

#[test]
fn json_figures_field_by_field() {
    let s = setup();
    let out = ok(&report(
        &s.config,
        &[&TWO_WEEKS[..], &["--format", "json"]].concat(),
    ));
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["period"]["since"], "2026-11-15T23:00:00Z");
    assert_eq!(j["period"]["until"], "2026-11-29T23:00:00Z");
    assert_eq!(j["period"]["bucket"], "day");
    assert_eq!(j["timezone"], "Europe/Berlin");
    assert_eq!(
        j["requests"],
        serde_json::json!({"total": 6, "emailed": 3, "rejected": 1, "open": 2})
    );
    let buckets = j["buckets"].as_array().unwrap();
    assert_eq!(buckets.len(), 14);
    assert_eq!(
        buckets[0],
        serde_json::json!({"start": "2026-11-16", "emailed": 2, "rejected": 0, "open": 0})
    );
    assert_eq!(buckets[12]["start"], "2026-11-28");
    assert_eq!(buckets[12]["open"], 1);
    assert_eq!(
        j["first_reply"],
        serde_json::json!({"count": 5, "median_hours": 24.5, "p90_hours": 95.0, "within_promise": 4})
    );
    assert_eq!(
        j["link_emailed"],
        serde_json::json!({"count": 3, "median_hours": 70.0, "p90_hours": 97.0, "within_promise": 2})
    );
    assert_eq!(
        j["promise"],
        serde_json::json!({"kept": 2, "missed": 2, "pending": 1, "share_kept": 0.5})
    );
    let overdue: Vec<(i64, f64)> = j["overdue_now"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["id"].as_i64().unwrap(),
                o["hours_overdue"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(overdue, vec![(7, 576.0), (4, 120.5)]);
    assert_eq!(j["accuracy"]["jobs"], 4);
    assert_eq!(j["accuracy"]["calibration"]["median_ratio"], 1.079);
    assert_eq!(
        j["accuracy"]["calibration"]["suggested_messages_per_hour"],
        37088.1
    );
    assert_eq!(
        j["operators"][0],
        serde_json::json!({"name": "kim", "handled": 3, "replies_sent": 2, "approved": 0, "rejected": 1, "notes": 1})
    );
    assert_eq!(j["operators"][1]["name"], "sam");
    assert_eq!(j["operators"][1]["replies_sent"], 3);
}

#[test]
fn csv_one_row_per_request_with_its_timestamps() {
    let s = setup();
    let out = ok(&report(
        &s.config,
        &[&TWO_WEEKS[..], &["--format", "csv"]].concat(),
    ));
    let mut r = csv::Reader::from_reader(out.as_bytes());
    let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(
        header,
        concierge::stats::report::CSV_HEADER
            .iter()
            .map(|h| h.to_string())
            .collect::<Vec<_>>()
    );
    let rows: Vec<csv::StringRecord> = r.records().map(|r| r.unwrap()).collect();
    let ids: Vec<&str> = rows.iter().map(|r| &r[0]).collect();
    // Received in the period, oldest first; 6 and 7 are older.
    assert_eq!(ids, ["1", "8", "2", "3", "4", "5"]);
    let field = |id: &str, name: &str| -> String {
        let col = header.iter().position(|h| h == name).unwrap();
        rows.iter().find(|r| &r[0] == id).unwrap()[col].to_string()
    };
    assert_eq!(field("2", "received_at"), "2026-11-19T15:00:00Z");
    assert_eq!(
        field("2", "workspace"),
        "'=HYPERLINK(\"http://x\",\"a, b\")"
    );
    assert_eq!(field("2", "requester"), "owner2@example.com");
    assert_eq!(field("2", "state"), "done");
    assert_eq!(field("2", "outcome"), "emailed");
    assert_eq!(field("2", "first_reply_at"), "2026-11-23T14:00:00Z");
    assert_eq!(field("2", "hours_to_first_reply"), "95.00");
    assert_eq!(field("2", "reply_due"), "2026-11-23T15:00:00Z");
    assert_eq!(field("2", "emailed_at"), "2026-11-23T16:00:00Z");
    assert_eq!(field("2", "hours_to_link"), "97.00");
    assert_eq!(field("2", "link_due"), "2026-11-23T15:00:00Z");
    assert_eq!(field("2", "rejected_at"), "");
    assert_eq!(field("2", "promise"), "missed");
    assert_eq!(field("8", "link_due"), "2026-11-19T12:00:00Z");
    assert_eq!(field("8", "promise"), "kept");
    assert_eq!(field("3", "outcome"), "rejected");
    assert_eq!(field("3", "rejected_at"), "2026-11-23T09:00:00Z");
    assert_eq!(field("3", "reply_due"), "2026-11-24T08:00:00Z");
    assert_eq!(field("3", "promise"), "");
    assert_eq!(field("4", "hours_to_first_reply"), "24.50");
    assert_eq!(field("4", "promise"), "missed");
    assert_eq!(field("5", "first_reply_at"), "");
    assert_eq!(field("5", "link_due"), "2026-12-01T08:00:00Z");
    assert_eq!(field("5", "promise"), "pending");
}

#[test]
fn empty_and_one_request_periods_read_sensibly() {
    let s = setup();
    let empty = ["--since", "2026-10-05", "--until", "2026-10-11"];
    let j: serde_json::Value = serde_json::from_str(&ok(&report(
        &s.config,
        &[&empty[..], &["--format", "json"]].concat(),
    )))
    .unwrap();
    assert_eq!(j["requests"]["total"], 0);
    assert_eq!(j["first_reply"]["median_hours"], serde_json::Value::Null);
    assert_eq!(j["promise"]["share_kept"], serde_json::Value::Null);
    assert_eq!(j["accuracy"]["calibration"], serde_json::Value::Null);
    let text = ok(&report(&s.config, &empty));
    assert!(
        text.contains("Requests:        0 (emailed 0, rejected 0, open 0)"),
        "{text}"
    );
    assert!(
        text.contains("median -, 90th percentile -; 0 of 0"),
        "{text}"
    );
    assert!(text.contains("nothing to calibrate from"), "{text}");
    assert!(!text.contains("NaN") && !text.contains("inf"), "{text}");
    let csv = ok(&report(
        &s.config,
        &[&empty[..], &["--format", "csv"]].concat(),
    ));
    assert_eq!(csv.lines().count(), 1, "header only: {csv}");

    let one = ["--since", "2026-11-21", "--until", "2026-11-21"];
    let text = ok(&report(&s.config, &one));
    assert!(
        text.contains("Requests:        1 (emailed 0, rejected 1, open 0)"),
        "{text}"
    );
    assert!(
        text.contains("median 45.0 h, 90th percentile 45.0 h; 1 of 1 within one business day"),
        "{text}"
    );
    assert!(
        text.contains("Promise kept:    - (0 kept, 0 missed, 0 open and not yet due)"),
        "{text}"
    );
    assert!(
        text.contains("#7 Workspace 7: due 2026-11-06 11:00, 576.0 h overdue"),
        "{text}"
    );
}

#[test]
fn text_report_reads_as_sentences() {
    let s = setup();
    let text = ok(&report(&s.config, &TWO_WEEKS));
    for line in [
        "Concierge report: 2026-11-16 to 2026-11-29 (2026-11-16 00:00 to 2026-11-30 00:00, Europe/Berlin)",
        "Requests:        6 (emailed 3, rejected 1, open 2)",
        "First reply:     median 24.5 h, 90th percentile 95.0 h; 4 of 5 within one business day",
        "Link emailed:    median 70.0 h, 90th percentile 97.0 h; 2 of 3 by the due date",
        "Promise kept:    50.0 % (2 kept, 2 missed, 1 open and not yet due)",
        "Overdue now:     2",
        "  2026-11-16     2 requests: emailed 2, rejected 0, open 0",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
}

#[test]
fn mistakes_are_one_clear_line() {
    let s = setup();
    let o = report(&s.config, &["--since", "16.11.2026"]);
    assert_eq!(o.status.code(), Some(1));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("--since \"16.11.2026\": expected a date"), "{e}");
    let o = report(
        &s.config,
        &["--since", "2026-11-20", "--until", "2026-11-01"],
    );
    assert_eq!(o.status.code(), Some(1));
    let o = report(&s.config, &["--format", "xml"]);
    assert_eq!(o.status.code(), Some(2), "usage");
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    let missing = dir.path().join("none.db");
    std::fs::write(&cfg, format!("[store]\npath = \"{}\"\n", missing.display())).unwrap();
    let o = report(&cfg.display().to_string(), &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no store at"));
    assert!(
        !Path::new(&missing).exists(),
        "a report never creates a store"
    );
}

//! `concierge report` on a team store (PostgreSQL): the hand-worked
//! scenario of `stats::fixture` in a SQLite store, moved into a real
//! PostgreSQL database with `concierge store copy`, reports the same
//! figures, byte for byte, in JSON, CSV and text.

use concierge_test_support as support;

use concierge::stats::fixture;
use concierge::store::Store;
use support::postgres::{concierge, server, stdout_ok as ok, PASSWORD};

const CALENDAR: &str = "[estimate]\ntimezone = \"Europe/Berlin\"\nholidays = [\"2026-11-20\"]\n";

#[test]
fn a_team_store_reports_the_same_figures_as_the_solo_store_it_was_copied_from() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("solo.db");
    let store = Store::open(&db).unwrap();
    fixture::write(&store, &fixture::scenario()).unwrap();
    drop(store);
    let solo = dir.path().join("solo.toml");
    std::fs::write(
        &solo,
        format!("[store]\npath = \"{}\"\n{CALENDAR}", db.display()),
    )
    .unwrap();
    let url = server().fresh_database();
    ok(&concierge(
        &solo,
        &[
            "store",
            "copy",
            "--to",
            &url,
            "--password-env",
            "CONCIERGE_TEST_DB_PASSWORD",
        ],
    ));
    // The team's config names only the URL (no file to fall back on).
    let team = dir.path().join("team.toml");
    std::fs::write(
        &team,
        format!(
            "[store]\nurl = \"{url}\"\npassword_env = \"CONCIERGE_TEST_DB_PASSWORD\"\n{CALENDAR}"
        ),
    )
    .unwrap();

    let at = ["--at", "2026-11-30T10:00:00Z"];
    let two_weeks = ["--since", "2026-11-16", "--until", "2026-11-29"];
    for format in ["json", "csv", "text"] {
        for period in [&two_weeks[..], &[][..]] {
            let args = [&["report"][..], &at, period, &["--format", format]].concat();
            let from_solo = ok(&concierge(&solo, &args));
            let from_team = ok(&concierge(&team, &args));
            assert_eq!(from_team, from_solo, "{format} {period:?}");
        }
    }
    // Not empty figures that agree: the scenario's own numbers.
    let args = [&["report"][..], &at, &two_weeks, &["--format", "json"]].concat();
    let j: serde_json::Value = serde_json::from_str(&ok(&concierge(&team, &args))).unwrap();
    assert_eq!(
        j["requests"],
        serde_json::json!({"total": 6, "emailed": 3, "rejected": 1, "open": 2})
    );
    assert_eq!(
        j["link_emailed"]["count"], 3,
        "emailed_at read from the job"
    );
    assert_eq!(j["accuracy"]["jobs"], 4);
    assert_eq!(j["operators"][0]["name"], "kim");
}

/// The stats screen (`S`) reads through the same loader as `report`: on a
/// team store it shows the team's figures, not "no figures to read".
#[test]
fn the_stats_screen_reads_a_team_store() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("solo.db");
    let store = Store::open(&db).unwrap();
    fixture::write(&store, &fixture::scenario()).unwrap();
    let url = server().fresh_database();
    let target = support::postgres::target(&url);
    let team = Store::connect_pg(&target).unwrap();
    concierge::store::copy::copy(&store, &team).unwrap();
    drop((store, team));
    let rates = fixture::scenario_rates();
    let load = |at: concierge::store::Location| {
        concierge::stats::screen::load_figures(&at, &rates, 30, fixture::scenario_now())
    };
    let solo = load(concierge::store::Location::Sqlite(db)).unwrap();
    let team = load(concierge::store::Location::Postgres(target)).unwrap();
    assert_eq!(team, solo);
    assert_eq!(team.requests.total, solo.requests.total);
    assert!(team.requests.total > 0);
}

#[test]
fn a_team_store_without_a_schema_is_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let url = server().fresh_database();
    let team = dir.path().join("team.toml");
    std::fs::write(
        &team,
        format!("[store]\nurl = \"{url}\"\npassword_env = \"CONCIERGE_TEST_DB_PASSWORD\"\n"),
    )
    .unwrap();
    let o = concierge(&team, &["report"]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("concierge store migrate"), "{err}");
    assert!(!err.contains(PASSWORD), "{err}");
}

//! `concierge store migrate`, `concierge store copy --to URL` and `concierge
//! audit verify` on a team store, run as the binary on a real SQLite file
//! and a real PostgreSQL server.

use concierge_test_support as support;

use concierge::intake::{inspect, Options};
use concierge::mail::outgoing::Reply;
use concierge::store::{Store, Stored};
use std::path::Path;
use support::postgres::{concierge, server, stdout_ok as out, target, PASSWORD};

/// A solo store with a bit of everything: requests, a thread, notes, a
/// decision, a job, a reply with binary bytes, an estimate, a cursor.
fn solo_store(path: &Path) -> Store {
    let mut s = Store::open(path).unwrap();
    for n in 1..=3 {
        let raw = format!("From: owner{n}@acme.example\r\nMessage-ID: <r{n}@acme.example>\r\nSubject: Data export request: Acme {n}\r\n\r\nhi\r\n");
        let i = inspect(raw.as_bytes(), &Options::default());
        let key = i.store_key(raw.as_bytes());
        let cursor = concierge::store::Cursor {
            uidvalidity: 1,
            last_uid: n,
        };
        let r = s
            .store_batch("INBOX", &[(i, key, None)], Some(cursor))
            .unwrap();
        assert!(matches!(r[0], Stored::NewRequest(_)));
    }
    s.add_note(1, "sam", "Scope: everything").unwrap();
    s.approve(1, "key-1", Some("{}"), None, &[], "sam", None)
        .unwrap();
    let reply = Reply {
        message_id: "a1@ochre.example".into(),
        to: "owner1@acme.example".into(),
        subject: "Re: x".into(),
        bytes: vec![0, 200, 13, 10],
    };
    let rid = s
        .reply_begin(1, "acknowledgement", &reply, "sam", None)
        .unwrap();
    s.reply_finish(rid, Ok(()), "sam").unwrap();
    s.reject(2, "not the owner", "kim", None).unwrap();
    let size = concierge::estimate::Size {
        messages: 1,
        customers: 1,
        attachment_bytes: 1,
        large_attachments: 0,
    };
    s.record_job_duration("j1", None, &size, 1.0, 2.0).unwrap();
    s
}

#[test]
fn a_solo_store_moves_into_a_team_store_whole_and_verified() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("solo.db");
    let solo = solo_store(&db);
    let want_audit = concierge::store::audit::verify(solo.conn())
        .unwrap()
        .unwrap();
    drop(solo);
    let solo_cfg = dir.path().join("solo.toml");
    std::fs::write(&solo_cfg, format!("[store]\npath = \"{}\"\n", db.display())).unwrap();
    let url = server().fresh_database();

    let o = concierge(
        &solo_cfg,
        &[
            "store",
            "copy",
            "--to",
            &url,
            "--password-env",
            "CONCIERGE_TEST_DB_PASSWORD",
        ],
    );
    let text = out(&o);
    assert!(text.contains("requests: 3 rows"), "{text}");
    assert!(text.contains("messages: 3 rows"), "{text}");
    assert!(text.contains("notes: 1 rows"), "{text}");
    assert!(text.contains("replies: 1 rows"), "{text}");
    assert!(text.contains("estimate_history: 1 rows"), "{text}");
    assert!(
        text.contains(&format!("audit: {want_audit} rows")),
        "{text}"
    );

    // The team store, through the app: same requests, same bytes.
    let mut team = Store::connect_pg(&target(&url)).unwrap();
    // The copy leaves the planner statistics up to date (reltuples is -1
    // for a table never analyzed).
    let planned: i64 = team
        .conn()
        .query_row(
            "SELECT CAST(reltuples AS BIGINT) FROM pg_class WHERE relname = 'requests'",
            concierge::store::db::params![],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(planned, 3);
    let all = team.load_requests().unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(all[0].notes[0].text, "Scope: everything");
    assert_eq!(all[1].decision_reason.as_deref(), Some("not the owner"));
    let reply = team.reply(1).unwrap();
    assert_eq!(reply.to, "owner1@acme.example");
    assert!(
        team.reply_retry(1, true, "x").is_err(),
        "a sent reply stays sent"
    );
    assert_eq!(team.cursor("INBOX").unwrap().unwrap().last_uid, 3);
    // New rows continue after the copied ids (the sequences moved).
    let raw = "From: new@acme.example\r\nMessage-ID: <r9@acme.example>\r\nSubject: Data export request: New\r\n\r\nhi\r\n";
    let i = inspect(raw.as_bytes(), &Options::default());
    let key = i.store_key(raw.as_bytes());
    assert_eq!(
        team.store_batch("INBOX", &[(i, key, None)], None).unwrap(),
        vec![Stored::NewRequest(4)]
    );
    drop(team);

    // `audit verify` on the team store, configured the way a team is.
    let team_cfg = dir.path().join("team.toml");
    std::fs::write(
        &team_cfg,
        format!("[store]\nurl = \"{url}\"\npassword_env = \"CONCIERGE_TEST_DB_PASSWORD\"\n"),
    )
    .unwrap();
    let text = out(&concierge(&team_cfg, &["audit", "verify"]));
    assert_eq!(
        text.trim(),
        format!("audit log intact: {} entries", want_audit + 1)
    );
    let text = out(&concierge(&team_cfg, &["store", "migrate"]));
    assert!(text.contains("is current"), "{text}");

    // A second copy into the now non-empty store is refused, and changes nothing.
    let o = concierge(
        &solo_cfg,
        &[
            "store",
            "copy",
            "--to",
            &url,
            "--password-env",
            "CONCIERGE_TEST_DB_PASSWORD",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("not empty"), "{err}");
    assert!(!err.contains(PASSWORD));
    let team = Store::connect_pg(&target(&url)).unwrap();
    assert_eq!(team.request_count().unwrap(), 4);
}

#[test]
fn a_broken_source_chain_is_not_copied_and_a_password_in_the_url_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("solo.db");
    let solo = solo_store(&db);
    solo.conn()
        .execute(
            "UPDATE audit SET actor = 'mallory' WHERE seq = 2",
            concierge::store::db::params![],
        )
        .unwrap();
    drop(solo);
    let cfg = dir.path().join("solo.toml");
    std::fs::write(&cfg, format!("[store]\npath = \"{}\"\n", db.display())).unwrap();
    let url = server().fresh_database();
    let o = concierge(
        &cfg,
        &[
            "store",
            "copy",
            "--to",
            &url,
            "--password-env",
            "CONCIERGE_TEST_DB_PASSWORD",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("audit entry 2"), "{err}");
    let team = Store::connect_pg(&target(&url)).unwrap();
    assert_eq!(team.request_count().unwrap(), 0, "nothing copied");

    let with_pw = url.replace("postgres@", &format!("postgres:{PASSWORD}@"));
    let o = concierge(&cfg, &["store", "copy", "--to", &with_pw]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("password") && !err.contains(PASSWORD), "{err}");
}

#[test]
fn migrate_says_from_and_to() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("old.db");
    // No store yet: schema 0, created and migrated.
    let cfg = dir.path().join("c.toml");
    std::fs::write(&cfg, format!("[store]\npath = \"{}\"\n", db.display())).unwrap();
    let want = concierge::store::SCHEMA_VERSION;
    let text = out(&concierge(&cfg, &["store", "migrate"]));
    assert_eq!(text.trim(), format!("store schema 0 → {want}"));
    let text = out(&concierge(&cfg, &["store", "migrate"]));
    assert_eq!(text.trim(), format!("store schema {want} is current"));

    // The same on a new team store.
    let url = server().fresh_database();
    std::fs::write(
        &cfg,
        format!("[store]\nurl = \"{url}\"\npassword_env = \"CONCIERGE_TEST_DB_PASSWORD\"\n"),
    )
    .unwrap();
    let text = out(&concierge(&cfg, &["store", "migrate"]));
    assert_eq!(text.trim(), format!("store schema 0 → {want}"));
    let text = out(&concierge(&cfg, &["store", "migrate"]));
    assert_eq!(text.trim(), format!("store schema {want} is current"));
}

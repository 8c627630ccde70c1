//! The one change table and the round trips per action, on both engines
//! (a real SQLite file, a fresh database of a real PostgreSQL:
//! tests/support/postgres.rs): each change of a request is one row of
//! `changes`, read by the feed and by the collision stop; schema 9 moves
//! the old version history into it; every operator action is one
//! transaction of a few statements.

use concierge_test_support as support;

use concierge::mail::outgoing::Reply;
use concierge::store::db::params;
use concierge::store::testing::{mail as msg, request};
use concierge::store::{audit, changes, Store};

support::both_stores!(
    one_change_row_serves_the_feed_and_the_collision_stop,
    each_action_is_one_transaction_of_a_few_statements,
    a_change_whose_time_cannot_be_read_does_not_stop_the_feed,
);

/// The feed reads past a change whose stored time is damaged: that change
/// and every later one still reach the screens (its time is unknown).
fn a_change_whose_time_cannot_be_read_does_not_stop_the_feed(mut s: Store) {
    let id = request(&mut s, 1, "owner@acme.example");
    let seq = changes::last_seq(s.conn()).unwrap();
    s.add_note(id, "kim@ochrehq.com", "Scope: all").unwrap();
    s.add_note(id, "kim@ochrehq.com", "Confirmed").unwrap();
    let first = seq + 1;
    s.conn()
        .execute(
            "UPDATE changes SET at = 'yesterday-ish' WHERE seq = ?1",
            params![first],
        )
        .unwrap();
    let page = changes::after(s.conn(), seq, 100).unwrap();
    assert_eq!(page.len(), 2, "{page:?}");
    assert_eq!((page[0].seq, page[0].at), (first, None));
    assert!(page[1].at.is_some());
}

/// The changes rows of request `id` after `seq`: (kind, version, who, what).
type ChangeRow = (String, Option<i64>, Option<String>, Option<String>);
fn change_rows(s: &Store, id: i64, seq: i64) -> Vec<ChangeRow> {
    s.conn()
        .query_map(
            "SELECT kind, version, who, what FROM changes WHERE request_id = ?1 AND seq > ?2 ORDER BY seq",
            params![id, seq],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap()
}

fn one_change_row_serves_the_feed_and_the_collision_stop(mut s: Store) {
    let id = request(&mut s, 1, "owner@acme.example");
    s.register_operator("kim@ochrehq.com", "Kim").unwrap();
    let seq = changes::last_seq(s.conn()).unwrap();
    s.approve(id, "k", None, None, &[], "kim@ochrehq.com", Some(0))
        .unwrap();
    s.add_note(id, "kim@ochrehq.com", "Scope: all").unwrap();
    s.override_auth(id, "called them", "kim@ochrehq.com", Some(1))
        .unwrap();
    let follow = "From: owner@acme.example\r\nMessage-ID: <f1@acme.example>\r\nIn-Reply-To: <r1@acme.example>\r\nSubject: Re: Data export request: Acme\r\n\r\nThanks!\r\n";
    s.store_batch("INBOX", &[msg(follow)], None).unwrap();
    let some = |v: &str| Some(v.to_string());
    assert_eq!(
        change_rows(&s, id, seq),
        [
            (
                "request.approved".into(),
                Some(1),
                some("Kim"),
                some("approved it")
            ),
            ("note.added".into(), None, None, None),
            (
                "auth.override".into(),
                Some(2),
                some("Kim"),
                some("accepted the sender-authentication failure")
            ),
            (
                "message.attached".into(),
                Some(3),
                some("the customer"),
                some("replied: “Thanks!”")
            ),
        ],
        "one row per change, the versioned ones carrying the history"
    );
    // The feed reads those rows; the collision stop reads the same ones.
    let feed: Vec<String> = changes::after(s.conn(), seq, 10)
        .unwrap()
        .into_iter()
        .map(|c| c.kind)
        .collect();
    assert_eq!(
        feed,
        [
            "request.approved",
            "note.added",
            "auth.override",
            "message.attached"
        ]
    );
    let since: Vec<(i64, String)> = s
        .changes_since(id, 0)
        .unwrap()
        .into_iter()
        .map(|c| (c.version, c.what))
        .collect();
    assert_eq!(
        since,
        [
            (1, "approved it".into()),
            (2, "accepted the sender-authentication failure".into()),
            (3, "replied: “Thanks!”".into())
        ]
    );
    // Pruning the feed keeps the history: a screen asleep for days still
    // hears what changed since its version.
    let later = chrono::Utc::now() + chrono::TimeDelta::days(3);
    changes::prune(s.conn(), later).unwrap();
    assert_eq!(s.changes_since(id, 0).unwrap().len(), 3);
    assert_eq!(
        change_rows(&s, id, seq)
            .iter()
            .filter(|r| r.1.is_none())
            .count(),
        0,
        "the note's feed row was pruned"
    );
    // One version, one row: the table refuses a second.
    assert!(s
        .conn()
        .execute(
            "INSERT INTO changes (request_id, kind, actor, at, version) VALUES (?1, 'x', 'x', 'x', 1)",
            params![id],
        )
        .is_err());
}

/// Round trips per action: each is ONE transaction of at most
/// [`MOST_STATEMENTS`] statements (BEGIN and COMMIT included), on both
/// engines. The figures per action are printed by
/// `cargo run --example roundtrip_bench`.
const MOST_STATEMENTS: u64 = 10;

fn each_action_is_one_transaction_of_a_few_statements(mut s: Store) {
    let a = request(&mut s, 1, "owner@acme.example");
    let b = request(&mut s, 2, "owner@acme.example");
    s.register_operator("kim@ochrehq.com", "Kim").unwrap();
    let kim = "kim@ochrehq.com";
    let reply = Reply {
        message_id: "a@ochrehq.com".into(),
        to: "owner@acme.example".into(),
        subject: "Re: x".into(),
        bytes: b"ack".to_vec(),
    };
    let mut figures = Vec::new();
    let mut measure = |s: &mut Store, what: &str, f: &dyn Fn(&mut Store)| {
        let before = s.conn().counts();
        f(s);
        figures.push((what.to_string(), s.conn().counts() - before));
    };
    measure(&mut s, "note", &|s| {
        s.add_note(a, kim, "Scope: all").unwrap()
    });
    measure(&mut s, "claim", &|s| {
        s.claim(a, kim, None).unwrap();
    });
    measure(&mut s, "approve", &|s| {
        s.approve(a, "k", None, None, &[], kim, Some(0)).unwrap()
    });
    measure(&mut s, "reply", &|s| {
        s.reply_begin(b, "acknowledgement", &reply, kim, Some(0))
            .unwrap();
    });
    let rid = s.replies(b).unwrap()[0].id;
    measure(&mut s, "reply outcome", &|s| {
        s.reply_finish(rid, Ok(()), kim).unwrap()
    });
    measure(&mut s, "reject", &|s| {
        s.reject(b, "agent", kim, Some(1)).unwrap()
    });
    assert_eq!(figures.len(), 6);
    for (what, d) in &figures {
        assert_eq!(d.transactions, 1, "{what}: {d:?}");
        assert!(
            d.statements <= MOST_STATEMENTS,
            "{what}: {} statements, more than {MOST_STATEMENTS}",
            d.statements
        );
    }
    assert!(audit::verify(s.conn()).unwrap().is_ok());
}

/// Schema 9 moves the version history of schema 6 (`request_changes`)
/// into the change table: what changed since a version is still said,
/// the old table is gone, and new changes continue the history.
fn the_version_history_moves_into_the_change_table(mut s: Store) {
    assert_eq!(s.migrate_to(8).unwrap(), (0, 8));
    let c = s.conn();
    let t = "2026-11-23T09:00:00.000Z";
    c.execute(
        "INSERT INTO requests (message_id, subject, received_at, updated_at, version) VALUES ('m1@x', 'Data export request: Acme', ?1, ?1, 2)",
        params![t],
    )
    .unwrap();
    c.execute(
        "INSERT INTO request_changes (request_id, version, at, who, what) VALUES (1, 1, ?1, 'Kim', 'approved it'), (1, 2, ?1, 'the customer', 'replied: “x”')",
        params![t],
    )
    .unwrap();
    c.execute(
        "INSERT INTO changes (request_id, kind, actor, at) VALUES (1, 'request.approved', 'kim', ?1)",
        params![t],
    )
    .unwrap();
    let seq = changes::last_seq(c).unwrap();
    let want = concierge::store::SCHEMA_VERSION;
    assert_eq!(s.migrate().unwrap(), (8, want));
    let said: Vec<String> = s
        .changes_since(1, 0)
        .unwrap()
        .iter()
        .map(|c| format!("{} {} {}", c.version, c.who, c.what))
        .collect();
    assert_eq!(said, ["1 Kim approved it", "2 the customer replied: “x”"]);
    assert_eq!(s.changes_since(1, 1).unwrap().len(), 1);
    assert!(
        s.conn()
            .query_row("SELECT COUNT(*) FROM request_changes", params![], |r| r
                .get::<_, i64>(0))
            .is_err(),
        "request_changes is gone"
    );
    assert_eq!(changes::after(s.conn(), seq, 10).unwrap().len(), 2);
    // New changes continue the history.
    s.set_workspace(1, "ws-1", "Acme", "sam", Some(2)).unwrap();
    let next = s.changes_since(1, 2).unwrap();
    assert_eq!(next.len(), 1);
    assert_eq!(
        (next[0].version, next[0].what.as_str()),
        (3, "linked the workspace Acme")
    );
}

#[test]
fn the_version_history_moves_into_the_change_table_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open_unmigrated(&dir.path().join("c.db")).unwrap();
    the_version_history_moves_into_the_change_table(s);
}

#[test]
fn the_version_history_moves_into_the_change_table_on_postgres() {
    let url = support::postgres::server().fresh_database();
    let s = Store::connect_pg_unmigrated(&support::postgres::target(&url)).unwrap();
    the_version_history_moves_into_the_change_table(s);
}

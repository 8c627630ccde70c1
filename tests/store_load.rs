//! Loading requests (what the first frame and every reload read) gives the
//! same values on both engines: a real SQLite file and a fresh database of
//! a real PostgreSQL server (crates/test-support/src/postgres.rs), whose
//! rows are read in place and streamed in chunks (src/store/pg.rs).

use concierge_test_support as support;

use concierge::mail::outgoing::Reply;
use concierge::store::db::params;
use concierge::store::testing::{mail as msg, request};
use concierge::store::Store;

/// A store on a real SQLite file (kept alive by the returned dir).
fn sqlite() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(&dir.path().join("c.db")).unwrap();
    (s, dir)
}

#[test]
fn on_sqlite_a_load_that_fails_midway_leaves_the_connection_usable() {
    let (s, _d) = sqlite();
    a_load_that_fails_midway_leaves_the_connection_usable(s);
}

#[test]
fn on_postgres_a_load_that_fails_midway_leaves_the_connection_usable() {
    let (s, _u) = support::postgres::fresh_store();
    a_load_that_fails_midway_leaves_the_connection_usable(s);
}

/// Requests in every shape a load reads: no notes; many notes (more than
/// one chunk of PostgreSQL rows, `store/pg.rs`); a reply; follow-ups seen
/// by some; a claim; a resolution. Every stored time is then set to a
/// fixed one, so two stores filled alike hold the same values.
fn fill_every_shape(s: &mut Store) -> Vec<i64> {
    use concierge::store::testing::owner4_resolution;
    let ids: Vec<i64> = (1..=5)
        .map(|n| request(s, n, &format!("Owner {n} <owner{n}@acme.example>")))
        .collect();
    for k in 0..600 {
        let author = ["sam", "kim", "léa"][k % 3];
        s.add_note(
            ids[1],
            author,
            &format!("note {k}: «{}»", "x".repeat(k % 50)),
        )
        .unwrap();
    }
    s.add_note(ids[2], "sam", "Only 2025").unwrap();
    let reply = Reply {
        message_id: "reply-1@ochre.example".into(),
        to: "owner3@acme.example".into(),
        subject: "Re: Data export request: Acme".into(),
        bytes: b"hi".to_vec(),
    };
    s.reply_begin(ids[2], "acknowledgement", &reply, "sam", None)
        .unwrap();
    s.mark_seen(ids[0], "sam").unwrap();
    for f in 1..=3 {
        let raw = format!("From: owner1@acme.example\r\nMessage-ID: <f{f}@acme.example>\r\nIn-Reply-To: <r1@acme.example>\r\nSubject: Re: Data export request: Acme\r\n\r\nAny news? ({f})\r\n");
        s.store_batch("INBOX", &[msg(&raw)], None).unwrap();
    }
    s.mark_seen(ids[0], "kim").unwrap();
    s.register_operator("kim@ochrehq.com", "Kim").unwrap();
    s.claim(ids[3], "kim@ochrehq.com", None).unwrap();
    s.set_resolution(ids[3], &owner4_resolution(), "sam")
        .unwrap();
    let c = s.conn();
    for sql in [
        "UPDATE requests SET received_at = ?1, updated_at = ?1",
        "UPDATE notes SET created_at = ?1",
        "UPDATE replies SET created_at = ?1",
    ] {
        c.execute(sql, params!["2026-11-23T09:14:05.000Z"]).unwrap();
    }
    ids
}

/// The same requests stored on SQLite and on PostgreSQL load as the same
/// values, whole (`load_requests`) and one by one (`load_request`).
#[test]
fn both_engines_load_the_same_values() {
    let (mut lite, _d) = sqlite();
    let (mut pg, _u) = support::postgres::fresh_store();
    let ids = fill_every_shape(&mut lite);
    assert_eq!(fill_every_shape(&mut pg), ids);
    let all = lite.load_requests().unwrap();
    assert_eq!(pg.load_requests().unwrap(), all);
    for &id in &ids {
        assert_eq!(pg.load_request(id).unwrap(), lite.load_request(id).unwrap());
    }
    // What is compared is really there, in order.
    assert_eq!(all.iter().map(|v| v.id).collect::<Vec<_>>(), ids);
    assert!(all[4].notes.is_empty() && all[4].replies.is_empty());
    let notes: Vec<&str> = all[1].notes.iter().map(|n| n.text.as_str()).collect();
    assert_eq!(notes.len(), 600);
    assert!(notes
        .iter()
        .enumerate()
        .all(|(k, t)| t.starts_with(&format!("note {k}:"))));
    assert_eq!(all[1].notes[2].author, "léa");
    assert_eq!((all[0].thread_len, all[0].seen.follow_ups.len()), (4, 3));
    assert_eq!(all[0].seen.by.len(), 2);
    assert_eq!(all[2].replies.len(), 1);
    assert_eq!(all[3].claimed_by_name.as_deref(), Some("Kim"));
    assert!(all[3].size.is_some() && !all[3].memberships.is_empty());
}

/// A load that stops on a bad value partway through its rows (past the
/// first chunk on PostgreSQL) is an error naming it, and the connection
/// answers the next queries rightly (the rest of those rows never shows up
/// in a later result); so does a lookup that reads one row of many.
fn a_load_that_fails_midway_leaves_the_connection_usable(mut s: Store) {
    let ids = fill_every_shape(&mut s);
    // 400 more replies, so the bad one is past the first chunk of rows. A
    // reply's state is what still fails a load (a bad time or text only
    // marks its request as damaged: `store::damage`).
    let copy = "INSERT INTO replies (request_id, message_id, template, to_addr, subject, bytes, state, created_at)
                SELECT request_id, ?1, template, to_addr, subject, bytes, state, created_at
                FROM replies WHERE message_id = 'reply-1@ochre.example'";
    for k in 0..400 {
        let mid = format!("extra-{k}@ochre.example");
        assert_eq!(s.conn().execute(copy, params![mid]).unwrap(), 1);
    }
    let want = s.load_requests().unwrap();
    let state: String = s
        .conn()
        .query_row(
            "SELECT state FROM replies WHERE id = (SELECT MIN(id) + 300 FROM replies)",
            params![],
            |r| r.get(0),
        )
        .unwrap();
    let bad = "UPDATE replies SET state = ?1 WHERE id = (SELECT MIN(id) + 300 FROM replies)";
    s.conn().execute(bad, params!["not a state"]).unwrap();
    for _ in 0..3 {
        let e = format!("{:#}", s.load_requests().unwrap_err());
        assert!(e.contains("not a state"), "{e}");
        assert_eq!(s.load_request(ids[0]).unwrap(), want[0]);
    }
    let first: String = s
        .conn()
        .query_row("SELECT text FROM notes ORDER BY id", params![], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(first, "note 0: «»");
    let fix = "UPDATE replies SET state = ?1 WHERE state = 'not a state'";
    assert_eq!(s.conn().execute(fix, params![state]).unwrap(), 1);
    assert_eq!(s.load_requests().unwrap(), want);
}

/// Reloading one request (what the screen does after every action) sends
/// two statements: its row, then what it holds in one UNION ALL (on
/// PostgreSQL each is a network round trip; it was five).
#[test]
fn a_reload_is_two_statements_on_both_engines() {
    let (mut lite, _d) = sqlite();
    let (mut pg, _u) = support::postgres::fresh_store();
    for s in [&mut lite, &mut pg] {
        let ids = fill_every_shape(s);
        let before = s.conn().counts();
        let v = s.load_request(ids[1]).unwrap();
        assert_eq!(v.notes.len(), 600);
        assert_eq!((s.conn().counts() - before).statements, 2);
    }
}

/// A session that dies while its rows stream in (the server ended it after
/// the caller had read some) is an error, never a silent rerun that hands
/// the caller its first rows again; the next query runs on a new session.
#[test]
fn a_session_lost_midway_through_rows_is_an_error_and_no_row_comes_twice() {
    let (s, url) = support::postgres::fresh_store();
    let db = url.rsplit('/').next().unwrap().to_string();
    let mut killer = support::postgres::server().client(&db);
    // 20 MB of rows: far more than the socket buffers hold, so the server
    // is still sending when its session ends.
    let sql = "SELECT CAST(g AS BIGINT), repeat('x', 100) FROM generate_series(1, 200000) g";
    let mut seen = Vec::new();
    let got = s.conn().query_map(sql, params![], |r| {
        let g: i64 = r.get(0)?;
        seen.push(g);
        if g == 300 {
            killer
                .execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                     WHERE datname = current_database() AND pid <> pg_backend_pid()",
                    &[],
                )
                .unwrap();
        }
        Ok(())
    });
    assert!(got.is_err(), "the lost session is reported");
    assert!(seen.len() < 200_000, "the rows stopped");
    assert!(
        seen.iter().zip(1..).all(|(&g, want)| g == want),
        "each row once, in order"
    );
    let n: i64 = s
        .conn()
        .query_row(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM requests",
            params![],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 0, "the next query runs on a new session");
}

/// A row handler may itself call the store (another query on the same
/// connection) while the rows of a long result still stream in.
#[test]
fn a_row_handler_may_query_the_store_while_rows_stream() {
    let (s, _u) = support::postgres::fresh_store();
    let sql = "SELECT CAST(g AS BIGINT) FROM generate_series(1, 5000) g";
    let mut sum = 0;
    s.conn()
        .query_map(sql, params![], |r| {
            let g: i64 = r.get(0)?;
            if g % 1000 == 1 {
                let n: i64 = s.conn().query_row(
                    "SELECT CAST(COUNT(*) AS BIGINT) FROM requests",
                    params![],
                    |r| r.get(0),
                )?;
                assert_eq!(n, 0);
            }
            sum += g;
            Ok(())
        })
        .unwrap();
    assert_eq!(sum, 5000 * 5001 / 2);
}

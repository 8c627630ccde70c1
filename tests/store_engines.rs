//! The store's behaviour on both engines: every test body here runs once on
//! a real SQLite file and once on a fresh database of a real PostgreSQL
//! server (crates/test-support/src/postgres.rs). What the store promises — one row per
//! Message-ID, cursors in the same transaction, decisions once, typed
//! refusals, replies of record, an intact audit chain — holds on both.

use concierge_test_support as support;

use concierge::domain::{Check, ReplyState, RequestState, StoreError};
use concierge::mail::outgoing::Reply;
use concierge::store::db::{params, Engine, OptionalExtension, Value};
use concierge::store::testing::{job, mail as msg, request};
use concierge::store::{audit, Cursor, Store, Stored};

/// Runs `$body(open)` on both engines, `open` giving one more connection
/// to the same store (the same file, the same database), as another
/// process would have: `many_on_sqlite::$name` and `many_on_postgres::$name`.
macro_rules! both_many {
    ($($name:ident),* $(,)?) => {
        mod many_on_sqlite {
            $(#[test] fn $name() {
                let dir = tempfile::tempdir().unwrap();
                let path = dir.path().join("c.db");
                super::$name(|| concierge::store::Store::open(&path).unwrap());
            })*
        }
        mod many_on_postgres {
            $(#[test] fn $name() {
                let url = super::support::postgres::server().fresh_database();
                let target = super::support::postgres::target(&url);
                super::$name(|| concierge::store::Store::connect_pg(&target).unwrap());
            })*
        }
    };
}

both_many!(
    concurrent_appends_make_one_chain,
    simultaneous_approvals_make_one_decision,
    racing_approve_and_reject_make_one_decision,
);

support::both_stores!(
    same_mail_twice_is_one_request_and_replies_attach,
    decisions_are_once_and_retries_never_mint_a_key_for_a_live_job,
    a_stale_job_snapshot_never_takes_a_request_back,
    replies_of_record_are_sent_once,
    notes_overrides_and_the_workspace_lookup,
    tampering_with_the_audit_chain_is_named,
    typed_values_round_trip,
    migrating_again_changes_nothing,
    a_stale_version_is_refused_inside_the_transaction_and_records_nothing,
    claims_are_never_blind_and_changes_name_the_operator,
    times_are_read_once_and_a_bad_one_is_named,
    reloading_one_request_reads_what_loading_all_reads,
);

fn same_mail_twice_is_one_request_and_replies_attach(mut s: Store) {
    let req = msg("From: owner@acme.example\r\nMessage-ID: <r1@acme.example>\r\nSubject: Data export request: Acme Support\r\n\r\nhi\r\n");
    let r = s.store_batch("INBOX", &[req.clone(), req], None).unwrap();
    assert_eq!(r[0], Stored::NewRequest(1));
    assert_eq!(r[1], Stored::Duplicate);
    let reply = msg("From: owner@acme.example\r\nMessage-ID: <r2@acme.example>\r\nIn-Reply-To: <r1@acme.example>\r\nSubject: Re: Data export request: Acme Support\r\n\r\nthanks\r\n");
    let ooo = msg("From: owner@acme.example\r\nMessage-ID: <r3@acme.example>\r\nAuto-Submitted: auto-replied\r\nReferences: <x@y> <r2@acme.example>\r\nSubject: Out of office\r\n\r\naway\r\n");
    let subj = msg("From: owner@acme.example\r\nMessage-ID: <r4@acme.example>\r\nSubject: RE: Data export request: Acme Support\r\n\r\nmore\r\n");
    let stray = msg("From: x@other.example\r\nMessage-ID: <r5@other.example>\r\nIn-Reply-To: <unknown@x>\r\nSubject: Re: hello\r\n\r\n?\r\n");
    let cursor = Cursor {
        uidvalidity: 7,
        last_uid: u32::MAX,
    };
    let r = s
        .store_batch("INBOX", &[reply, ooo, subj, stray], Some(cursor))
        .unwrap();
    assert_eq!(
        r,
        vec![
            Stored::Attached(1),
            Stored::Attached(1),
            Stored::Attached(1),
            Stored::Ignored
        ]
    );
    assert_eq!(s.request_count().unwrap(), 1);
    assert_eq!(s.thread(1).unwrap().len(), 4);
    assert_eq!(s.cursor("INBOX").unwrap(), Some(cursor));
    assert_eq!(s.cursor("Other").unwrap(), None);
    // A Maildir name is kept once, however often it is stored.
    let mut named = msg("From: b@acme.example\r\nMessage-ID: <m1@acme.example>\r\nSubject: Data export request: B\r\n\r\nhi\r\n");
    named.2 = Some("cur/1:2,S".into());
    s.store_batch("Maildir", &[named.clone(), named], None)
        .unwrap();
    assert!(s.maildir_seen("Maildir", "cur/1:2,S").unwrap());
    assert!(!s.maildir_seen("Maildir", "cur/2:2,S").unwrap());
    assert_eq!(s.request_count().unwrap(), 2);
    assert_eq!(audit::verify(s.conn()).unwrap(), Ok(2));
}

fn decisions_are_once_and_retries_never_mint_a_key_for_a_live_job(mut s: Store) {
    let id = request(&mut s, 1, "owner@acme.example");
    s.approve(id, "k", Some("{\"a\":1}"), None, &[], "sam", None)
        .unwrap();
    assert!(s.approve(id, "k2", None, None, &[], "sam", None).is_err());
    assert!(s.reject(id, "too late", "sam", None).is_err());
    assert!(s
        .set_account_email(id, "o@acme.example", "sam", None)
        .is_err());
    assert!(s.set_workspace(id, "w", "Other", "sam", None).is_err());
    assert_eq!(
        s.load_request(id).unwrap().export_body.as_deref(),
        Some("{\"a\":1}")
    );
    s.set_job(id, &job("", "failed"), "sam").unwrap();
    assert_eq!(s.retry_job(id, "sam", None).unwrap(), "k");
    assert_eq!(s.load_request(id).unwrap().state, RequestState::Approved);
    s.set_job(id, &job("j1", "failed"), "sam").unwrap();
    let first = s.retry_job(id, "sam", None).unwrap();
    assert!(first.starts_with("k/retry"), "{first}");
    s.set_job(id, &job("j2", "cancelled"), "sam").unwrap();
    let second = s.retry_job(id, "sam", None).unwrap();
    assert!(second.starts_with("k/retry") && second != first, "{second}");
    s.set_job(id, &job("j3", "running"), "sam").unwrap();
    assert!(s.retry_job(id, "sam", None).is_err());
    assert_eq!(s.unfinished_jobs().unwrap(), vec![id]);
    let v = s.load_request(id).unwrap();
    assert_eq!(v.state, RequestState::Running);
    assert_eq!(v.job.unwrap().progress, 0.5);
    assert!(audit::verify(s.conn()).unwrap().is_ok());
}

fn a_stale_job_snapshot_never_takes_a_request_back(mut s: Store) {
    let id = request(&mut s, 1, "owner@acme.example");
    assert!(s.set_job(id, &job("j1", "running"), "sam").is_err());
    s.approve(id, "k", None, None, &[], "sam", None).unwrap();
    s.set_job(id, &job("j1", "running"), "sam").unwrap();
    s.set_job(id, &job("j1", "emailed"), "sam").unwrap();
    let e = s.set_job(id, &job("j1", "running"), "sam").unwrap_err();
    assert!(
        matches!(StoreError::of(&e), Some(StoreError::Conflict(_))),
        "{e:#}"
    );
    assert_eq!(s.load_request(id).unwrap().state, RequestState::Done);
    let e = s.set_job(99, &job("j1", "running"), "sam").unwrap_err();
    assert!(
        matches!(StoreError::of(&e), Some(StoreError::NotFound { .. })),
        "{e:#}"
    );
}

fn replies_of_record_are_sent_once(mut s: Store) {
    let id = request(&mut s, 1, "Ada Owner <owner@acme.example>");
    let target = s.reply_target(id).unwrap();
    assert_eq!(target.recipient(), Some("owner@acme.example"));
    // Bytes that are not UTF-8 survive as they are (BLOB / BYTEA).
    let bytes = vec![0u8, 159, 146, 150, b'\r', b'\n'];
    let reply = Reply {
        message_id: "reply-1@ochre.example".into(),
        to: "owner@acme.example".into(),
        subject: "Re: Data export request: Acme".into(),
        bytes: bytes.clone(),
    };
    let rid = s
        .reply_begin(id, "acknowledgement", &reply, "sam", None)
        .unwrap();
    s.reply_finish(rid, Err("421 try later"), "sam").unwrap();
    let row = s.reply(rid).unwrap();
    assert_eq!(row.state, ReplyState::Failed);
    assert_eq!(row.error.as_deref(), Some("421 try later"));
    assert!(s.replies_to_file("sam").unwrap().is_empty(), "not sent");
    let (again, r) = s.reply_retry(rid, false, "sam").unwrap();
    assert_eq!((again, r.bytes), (rid, bytes.clone()));
    s.reply_finish(rid, Ok(()), "sam").unwrap();
    // Sent: to be filed over IMAP by its sender (only), until it is.
    let to_file = s.replies_to_file("sam").unwrap();
    assert_eq!(to_file.len(), 1);
    assert_eq!(
        (
            to_file[0].reply_id,
            to_file[0].request_id,
            &to_file[0].message_id,
            &to_file[0].bytes
        ),
        (rid, id, &reply.message_id, &bytes)
    );
    assert!(s.replies_to_file("kim").unwrap().is_empty());
    s.reply_imap_done(rid, true, false).unwrap();
    assert!(s.replies_to_file("sam").unwrap().is_empty(), "filed");
    let row = s.reply(rid).unwrap();
    assert!(row.answered_flag && !row.sent_copy, "{row:?}");
    let e = s.reply_retry(rid, true, "sam").unwrap_err();
    assert!(
        matches!(StoreError::of(&e), Some(StoreError::Conflict(_))),
        "{e:#}"
    );
    assert_eq!(s.load_request(id).unwrap().state, RequestState::Waiting);
    assert_eq!(s.replies(id).unwrap().len(), 1);
    let size = concierge::estimate::Size {
        messages: 10,
        customers: 2,
        attachment_bytes: 5_000_000_000,
        large_attachments: 1,
    };
    for _ in 0..2 {
        s.record_job_duration("j1", Some("w"), &size, 1.5, 2.25)
            .unwrap();
    }
    assert_eq!(s.estimate_history().unwrap(), vec![(1.5, 2.25)]);
    assert!(audit::verify(s.conn()).unwrap().is_ok());
}

fn notes_overrides_and_the_workspace_lookup(mut s: Store) {
    let a = request(&mut s, 1, "owner@acme.example");
    let b = request(&mut s, 2, "Bo <admin@acme.example>");
    assert!(s.add_note(a, "sam", "  ").is_err());
    s.add_note(a, "sam", "Scope: all — ünïcødé ✓").unwrap();
    assert_eq!(s.other_request_for_workspace(b).unwrap(), None);
    for id in [a, b] {
        s.set_workspace(id, "ws-1", "Acme", "sam", None).unwrap();
    }
    let other = s.other_request_for_workspace(b).unwrap().unwrap();
    assert!(other.starts_with("owner@acme.example of "), "{other}");
    s.approve(
        a,
        "k",
        None,
        Some("called the owner"),
        &[Check::ScopeNoteWritten],
        "sam",
        None,
    )
    .unwrap();
    let all = s.load_requests().unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].notes[0].text, "Scope: all — ünïcødé ✓");
    assert_eq!(all[0].thread_len, 1);
    assert!(!all[0].workspace_verified);
    assert_eq!(s.thread_messages(a).unwrap()[0].body.trim(), "hi");
}

fn tampering_with_the_audit_chain_is_named(mut s: Store) {
    for i in 1..=3 {
        request(&mut s, i, "owner@acme.example");
    }
    assert_eq!(audit::verify(s.conn()).unwrap(), Ok(3));
    s.conn()
        .execute("UPDATE audit SET detail = ?1 WHERE seq = 2", params!["{}"])
        .unwrap();
    assert_eq!(
        audit::verify(s.conn()).unwrap(),
        Err(audit::Broken::Altered { seq: 2 })
    );
    s.conn()
        .execute("DELETE FROM audit WHERE seq = 2", params![])
        .unwrap();
    assert_eq!(
        audit::verify(s.conn()).unwrap(),
        Err(audit::Broken::Gap {
            seq: 3,
            expected: 2
        })
    );
}

fn typed_values_round_trip(s: Store) {
    let c = s.conn();
    let ddl = "CREATE TABLE kinds (id INTEGER PRIMARY KEY, i INTEGER, r REAL, t TEXT, b BLOB)";
    match c.engine() {
        Engine::Sqlite => c.execute_batch(ddl).unwrap(),
        Engine::Postgres => c.execute_batch(&concierge::store::db::pg_ddl(ddl)).unwrap(),
    }
    let id: i64 = c
        .query_row(
            "INSERT INTO kinds (i, r, t, b) VALUES (?1, ?2, ?3, ?4) RETURNING id",
            params![i64::MIN, -0.125f64, "it's ?1 — '", vec![0u8, 255]],
            |r| r.get(0),
        )
        .unwrap();
    let row = c
        .query_row(
            "SELECT i, r, t, b, NULL FROM kinds WHERE id = ?1",
            params![id],
            |r| r.to_values(),
        )
        .unwrap();
    assert_eq!(
        row[..4],
        [
            Value::Int(i64::MIN),
            Value::Real(-0.125),
            Value::Text("it's ?1 — '".into()),
            Value::Blob(vec![0, 255])
        ]
    );
    let none: Option<i64> = c
        .query_row("SELECT id FROM kinds WHERE id = ?1", params![id + 1], |r| {
            r.get(0)
        })
        .optional()
        .unwrap();
    assert_eq!(none, None);
    // A failed statement inside a transaction rolls the whole of it back.
    {
        let tx = c.transaction().unwrap();
        tx.execute("INSERT INTO kinds (i) VALUES (?1)", params![7])
            .unwrap();
        assert!(tx
            .execute("INSERT INTO nowhere (i) VALUES (?1)", params![7])
            .is_err());
    }
    let n: i64 = c
        .query_row("SELECT COUNT(*) FROM kinds", params![], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 1, "the uncommitted insert was rolled back");
}

fn migrating_again_changes_nothing(mut s: Store) {
    let want = concierge::store::SCHEMA_VERSION;
    assert_eq!(s.schema_version().unwrap(), want);
    assert_eq!(s.migrate().unwrap(), (want, want));
    let engine = s.conn().engine();
    assert!(matches!(engine, Engine::Sqlite | Engine::Postgres));
}

/// Several operators append to one audit chain at once (each with its own
/// connection, as separate processes would): every append succeeds and the
/// result is one chain, no fork, no gap.
fn concurrent_appends_make_one_chain(open: impl Fn() -> Store + Sync) {
    const THREADS: usize = 6;
    const EACH: usize = 25;
    let mut first = open();
    let id = request(&mut first, 1, "owner@acme.example");
    std::thread::scope(|scope| {
        for t in 0..THREADS {
            let open = &open;
            scope.spawn(move || {
                let mut s = open();
                for n in 0..EACH {
                    s.add_note(id, &format!("op{t}"), &format!("note {n}"))
                        .unwrap();
                }
            });
        }
    });
    let total = (THREADS * EACH) as i64 + 1;
    assert_eq!(audit::verify(first.conn()).unwrap(), Ok(total));
    assert_eq!(
        first.load_request(id).unwrap().notes.len(),
        THREADS * EACH,
        "no note lost"
    );
}

/// `sslmode=verify-full`: TLS with the server's certificate checked against
/// `ca_file` (rustls); without the CA the connection is refused, not
/// downgraded; the password never shows in the error.
#[test]
fn verify_full_uses_tls_and_refuses_an_unknown_ca() {
    let pg = support::postgres::server();
    let url = pg.fresh_database();
    let tls_url = format!(
        "{}?sslmode=verify-full",
        url.replace("@127.0.0.1:", "@localhost:")
    );
    let mut t = support::postgres::target(&tls_url);
    t.ca_file = Some(pg.ca_file());
    let s = Store::connect_pg(&t).unwrap();
    let ssl: bool = s
        .conn()
        .query_row(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            params![],
            |r| r.get(0),
        )
        .unwrap();
    assert!(ssl, "the connection is not TLS");
    // The plain test connection is not: the check above can tell.
    let plain = Store::connect_pg(&support::postgres::target(&url)).unwrap();
    let ssl: bool = plain
        .conn()
        .query_row(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            params![],
            |r| r.get(0),
        )
        .unwrap();
    assert!(!ssl);

    t.ca_file = None;
    let e = format!(
        "{:#}",
        Store::connect_pg(&t)
            .err()
            .expect("an unknown CA is refused")
    );
    assert!(e.to_lowercase().contains("certificate"), "{e}");
    assert!(!e.contains(support::postgres::PASSWORD), "{e}");
}

/// Operators approving the same request at once, each on their own
/// connection: exactly one approval, one audit entry for it.
fn simultaneous_approvals_make_one_decision(open: impl Fn() -> Store + Sync) {
    const THREADS: usize = 6;
    let mut first = open();
    let id = request(&mut first, 1, "owner@acme.example");
    let barrier = std::sync::Barrier::new(THREADS);
    let wins: usize = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let (open, barrier) = (&open, &barrier);
                scope.spawn(move || {
                    let mut s = open();
                    barrier.wait();
                    s.approve(
                        id,
                        &format!("key-{t}"),
                        None,
                        None,
                        &[],
                        &format!("op{t}"),
                        None,
                    )
                    .is_ok() as usize
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(wins, 1, "one decision");
    let approvals: i64 = first
        .conn()
        .query_row(
            "SELECT COUNT(*) FROM audit WHERE action = 'request.approved'",
            params![],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(approvals, 1);
    assert!(audit::verify(first.conn()).unwrap().is_ok());
}

/// A wrong password is one clear error that names neither password.
#[test]
fn a_wrong_password_is_a_clear_error_without_secrets() {
    let url = support::postgres::server().fresh_database();
    let mut t = support::postgres::target(&url);
    t.password = Some(concierge::secret::Secret::new("wrong-pw-4471"));
    let e = format!(
        "{:#}",
        Store::connect_pg(&t)
            .err()
            .expect("a wrong password is refused")
    );
    assert!(e.contains("password authentication failed"), "{e}");
    assert!(
        !e.contains("wrong-pw-4471") && !e.contains(support::postgres::PASSWORD),
        "{e}"
    );
    assert!(!format!("{:?}", concierge::store::Location::Postgres(t)).contains("wrong-pw-4471"));
}

// The collision stop (store/team.rs) on both engines: the two tests below
// are in the `both_stores!` list at the top.

/// Kim acts at version 0; Sam, whose screen also showed version 0, then
/// approves, rejects and replies: each is refused with the change that
/// came between, and nothing of Sam's is recorded or audited.
fn a_stale_version_is_refused_inside_the_transaction_and_records_nothing(mut s: Store) {
    let id = request(&mut s, 1, "owner@acme.example");
    s.register_operator("kim@ochrehq.com", "Kim").unwrap();
    assert_eq!(s.version(id).unwrap(), 0);
    let reply = Reply {
        message_id: "a@ochrehq.com".into(),
        to: "owner@acme.example".into(),
        subject: "Re: x".into(),
        bytes: b"ack".to_vec(),
    };
    s.reply_begin(id, "acknowledgement", &reply, "kim@ochrehq.com", Some(0))
        .unwrap();
    assert_eq!(s.version(id).unwrap(), 1);
    let audit_before = audit::verify(s.conn()).unwrap().unwrap();
    let stale = |e: anyhow::Error| match StoreError::of(&e) {
        Some(StoreError::Stale {
            seen, now, changes, ..
        }) => {
            assert_eq!((*seen, *now), (0, 1));
            assert_eq!(changes.len(), 1);
            assert_eq!(changes[0].who, "Kim");
            assert_eq!(changes[0].what, "sent the acknowledgement");
        }
        _ => panic!("not a collision stop: {e:#}"),
    };
    stale(
        s.approve(id, "k", None, None, &[], "sam", Some(0))
            .unwrap_err(),
    );
    stale(s.reject(id, "no", "sam", Some(0)).unwrap_err());
    stale(
        s.override_auth(id, "called them", "sam", Some(0))
            .unwrap_err(),
    );
    let again = Reply {
        message_id: "b@ochrehq.com".into(),
        ..reply
    };
    stale(
        s.reply_begin(id, "acknowledgement", &again, "sam", Some(0))
            .unwrap_err(),
    );
    let v = s.load_request(id).unwrap();
    assert_eq!(v.state, RequestState::New);
    assert_eq!(v.version, 1);
    assert_eq!(v.replies.len(), 1, "the second reply was never recorded");
    assert_eq!(
        audit::verify(s.conn()).unwrap().unwrap(),
        audit_before,
        "nothing was audited"
    );
    // A follow-up from the customer moves the version too.
    let follow = "From: owner@acme.example\r\nMessage-ID: <f1@acme.example>\r\nIn-Reply-To: <r1@acme.example>\r\nSubject: Re: Data export request: Acme\r\n\r\nActually, cancel\r\n";
    s.store_batch("INBOX", &[msg(follow)], None).unwrap();
    let changes = s.changes_since(id, 1).unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(
        (changes[0].who.as_str(), changes[0].what.as_str()),
        ("the customer", "replied: “Actually, cancel”")
    );
    stale_at(s.reject(id, "no", "sam", Some(1)).unwrap_err(), 2);
    // With the version now on screen, the action goes.
    s.reject(id, "no", "sam", Some(2)).unwrap();
    assert_eq!(s.version(id).unwrap(), 3);
    assert_eq!(s.load_request(id).unwrap().state, RequestState::Rejected);
}

fn stale_at(e: anyhow::Error, version: i64) {
    match StoreError::of(&e) {
        Some(StoreError::Stale { now, .. }) => assert_eq!(*now, version),
        _ => panic!("not a collision stop: {e:#}"),
    }
}

/// Claims: advisory (no version bump), never taken over blind, audited
/// with the previous holder; names come from the operators table.
fn claims_are_never_blind_and_changes_name_the_operator(mut s: Store) {
    let id = request(&mut s, 1, "owner@acme.example");
    s.register_operator("kim@ochrehq.com", "Kimberly").unwrap();
    // Registering again renames (ON CONFLICT ... DO UPDATE).
    s.register_operator("kim@ochrehq.com", "Kim").unwrap();
    s.register_operator("sam@ochrehq.com", "Sam").unwrap();
    let c = s.claim(id, "kim@ochrehq.com", None).unwrap();
    assert_eq!((c.by.as_str(), c.name.as_str()), ("kim@ochrehq.com", "Kim"));
    assert_eq!(
        s.load_request(id).unwrap().claimed_by_name.as_deref(),
        Some("Kim")
    );
    let e = s.claim(id, "sam@ochrehq.com", None).unwrap_err();
    assert!(
        matches!(StoreError::of(&e), Some(StoreError::Conflict(m)) if m.contains("held by Kim")),
        "{e:#}"
    );
    assert!(
        s.release(id, "sam@ochrehq.com").is_err(),
        "only the holder gives it back"
    );
    // Confirmed against Kim: taken, and the audit names Kim.
    s.claim(id, "sam@ochrehq.com", Some("kim@ochrehq.com"))
        .unwrap();
    let previous: String = s
        .conn()
        .query_row(
            "SELECT detail FROM audit WHERE action = 'request.claimed' ORDER BY seq DESC LIMIT 1",
            params![],
            |r| r.get(0),
        )
        .unwrap();
    assert!(previous.contains("kim@ochrehq.com"), "{previous}");
    s.release(id, "sam@ochrehq.com").unwrap();
    assert_eq!(s.claim_of(id).unwrap(), None);
    let n: i64 = s
        .conn()
        .query_row(
            "SELECT COUNT(*) FROM audit WHERE action IN ('request.claimed', 'request.released')",
            params![],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 3, "two claims and a release, each audited");
    assert_eq!(s.version(id).unwrap(), 0, "claims are no collision");
    s.set_workspace(id, "ws-1", "Acme", "sam@ochrehq.com", Some(0))
        .unwrap();
    let said: Vec<String> = s
        .changes_since(id, 0)
        .unwrap()
        .iter()
        .map(|c| format!("{} {}", c.who, c.what))
        .collect();
    assert_eq!(said, ["Sam linked the workspace Acme"]);
    assert!(audit::verify(s.conn()).unwrap().is_ok());
}

/// Two operators, each on their own connection, decide the same request
/// at the same moment on the version both read (Kim approves, Sam
/// rejects): every round ends in one decision and one collision stop.
fn racing_approve_and_reject_make_one_decision(open: impl Fn() -> Store + Sync) {
    const ROUNDS: u32 = 10;
    let mut first = open();
    let ids: Vec<i64> = (1..=ROUNDS)
        .map(|n| request(&mut first, n, "owner@acme.example"))
        .collect();
    let barrier = std::sync::Barrier::new(2);
    let outcomes: Vec<(i64, &str, String)> = std::thread::scope(|scope| {
        let handles: Vec<_> = ["kim", "sam"]
            .into_iter()
            .map(|who| {
                let (open, barrier, ids) = (&open, &barrier, &ids);
                scope.spawn(move || {
                    let mut s = open();
                    let mut out = Vec::new();
                    for &id in ids {
                        let seen = s.load_request(id).unwrap().version;
                        barrier.wait();
                        let r = if who == "kim" {
                            s.approve(id, "k", None, None, &[], who, Some(seen))
                        } else {
                            s.reject(id, "agent", who, Some(seen))
                        };
                        // Recorded, not asserted here: a panic in one racer
                        // would leave the other waiting at the barrier.
                        let what = match r {
                            Ok(()) => "won".to_string(),
                            Err(e) => match StoreError::of(&e) {
                                Some(StoreError::Stale { .. }) => "stale".to_string(),
                                _ => format!("{e:#}"),
                            },
                        };
                        out.push((id, who, what));
                    }
                    out
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    for &id in &ids {
        let mut these: Vec<&str> = outcomes
            .iter()
            .filter(|o| o.0 == id)
            .map(|o| o.2.as_str())
            .collect();
        these.sort();
        assert_eq!(these, ["stale", "won"], "request {id}: {outcomes:?}");
        let decisions: i64 = first
            .conn()
            .query_row(
                "SELECT COUNT(*) FROM audit WHERE subject = ?1 AND action IN ('request.approved', 'request.rejected')",
                params![format!("request:{id}")],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(decisions, 1, "request {id}: one decision audited");
        assert_eq!(first.version(id).unwrap(), 1);
    }
    assert!(audit::verify(first.conn()).unwrap().is_ok());
}

/// Times come back from either engine as `DateTime<Utc>`, read once where
/// the row is read; a stored time that is not RFC 3339 is unknown (never a
/// made-up time) and named on its request in words, and every other
/// request still loads.
fn times_are_read_once_and_a_bad_one_is_named(mut s: Store) {
    let t = |x: &str| concierge::time::parse(x).unwrap();
    let raw = "From: owner@acme.example\r\nMessage-ID: <t1@acme.example>\r\nDate: Mon, 23 Nov 2026 10:14:05 +0100\r\nSubject: Data export request: Acme\r\n\r\nhi\r\n";
    let id = match s.store_batch("INBOX", &[msg(raw)], None).unwrap()[0] {
        Stored::NewRequest(id) => id,
        ref other => panic!("{other:?}"),
    };
    let before = chrono::Utc::now();
    s.add_note(id, "sam", "Scope: all").unwrap();
    s.approve(id, "k", None, None, &[], "sam", None).unwrap();
    let mut j = job("j1", "emailed");
    j.created_at = Some(t("2026-11-23T10:00:00.123456Z"));
    j.emailed_at = Some(t("2026-11-23T11:30:00+01:00"));
    s.set_job(id, &j, "sam").unwrap();

    let v = s.load_request(id).unwrap();
    assert_eq!(v.received_at, Some(t("2026-11-23T09:14:05Z")));
    assert_eq!(v.damage, vec![]);
    let note = v.notes[0].at.unwrap();
    assert!(
        note >= before - chrono::Duration::seconds(1) && note <= chrono::Utc::now(),
        "{note}"
    );
    let got = v.job.unwrap();
    assert_eq!(
        got.created_at, j.created_at,
        "sub-second precision survives"
    );
    assert_eq!(got.emailed_at, Some(t("2026-11-23T10:30:00Z")));
    let thread = s.thread_messages(id).unwrap();
    assert_eq!(thread[0].date, Some(t("2026-11-23T09:14:05Z")));

    let other = request(&mut s, 2, "Kim <owner2@acme.example>");
    let sound = s.load_request(other).unwrap();
    for sql in [
        "UPDATE requests SET received_at = 'last Tuesday' WHERE id = ?1",
        "UPDATE notes SET created_at = '2026-11-23 10:00' WHERE request_id = ?1",
        "UPDATE requests SET job = '{\"id\": 7' WHERE id = ?1",
    ] {
        s.conn().execute(sql, params![id]).unwrap();
    }
    let all = s
        .load_requests()
        .expect("one bad row never empties the queue");
    assert_eq!(all.len(), 2);
    assert_eq!(all[1], sound, "the other request is untouched");
    let bad = &all[0];
    assert_eq!(bad.id, id);
    assert_eq!(bad.received_at, None, "no made-up time");
    assert_eq!(bad.notes.len(), 1, "the note is kept");
    assert_eq!(bad.notes[0].text, "Scope: all");
    assert_eq!(bad.notes[0].at, None);
    assert_eq!(bad.job, None);
    let said: Vec<String> = bad.damage.iter().map(|d| d.to_string()).collect();
    assert_eq!(said.len(), 3, "{said:?}");
    assert!(
        said[0].starts_with("the time it arrived (requests.received_at): expected an RFC 3339 time, found \"last Tuesday\""),
        "{said:?}"
    );
    assert!(
        said[1].starts_with("the export job (requests.job): not the JSON expected"),
        "{said:?}"
    );
    assert!(said[2].starts_with("a note's time (notes.created_at): expected an RFC 3339 time, found \"2026-11-23 10:00\""), "{said:?}");
    assert_eq!(s.load_request(id).unwrap(), *bad, "a reload reads the same");
    let raw: String = s
        .conn()
        .query_row(
            "SELECT received_at FROM requests WHERE id = ?1",
            params![id],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        raw, "last Tuesday",
        "nothing is rewritten: the stored text stays"
    );
}

/// A reload (`load_request`, its own indexed queries) and the first load
/// (`load_requests`, every request at once) must show the same request:
/// notes, replies, thread, follow-ups, who saw what, claim, lookups.
fn reloading_one_request_reads_what_loading_all_reads(mut s: Store) {
    use concierge::store::testing::owner4_resolution;
    let ids: Vec<i64> = (1..=4)
        .map(|n| request(&mut s, n, &format!("Owner {n} <owner{n}@acme.example>")))
        .collect();
    s.add_note(ids[0], "sam", "Scope: all").unwrap();
    s.add_note(ids[0], "kim", "Confirmed by phone").unwrap();
    s.add_note(ids[2], "sam", "Only 2025").unwrap();
    let reply = Reply {
        message_id: "reply-1@ochre.example".into(),
        to: "owner2@acme.example".into(),
        subject: "Re: Data export request: Acme".into(),
        bytes: b"hi".to_vec(),
    };
    s.reply_begin(ids[1], "acknowledgement", &reply, "sam", None)
        .unwrap();
    s.mark_seen(ids[0], "sam").unwrap();
    let follow_up = msg("From: owner1@acme.example\r\nMessage-ID: <f1@acme.example>\r\nIn-Reply-To: <r1@acme.example>\r\nSubject: Re: Data export request: Acme\r\n\r\nAny news?\r\n");
    s.store_batch("INBOX", &[follow_up], None).unwrap();
    s.mark_seen(ids[0], "kim").unwrap();
    s.register_operator("kim@ochrehq.com", "Kim").unwrap();
    s.claim(ids[3], "kim@ochrehq.com", None).unwrap();
    let res = owner4_resolution();
    s.set_resolution(ids[3], &res, "sam").unwrap();

    let all = s.load_requests().unwrap();
    assert_eq!(all.iter().map(|v| v.id).collect::<Vec<_>>(), ids);
    for v in &all {
        assert_eq!(&s.load_request(v.id).unwrap(), v, "request {}", v.id);
    }
    // The cases above are really there (the comparison is not of empties).
    assert_eq!(all[0].notes.len(), 2);
    assert_eq!(all[0].thread_len, 2);
    assert_eq!(all[0].seen.follow_ups.len(), 1);
    assert_eq!(all[0].seen.unread("sam"), 1);
    assert_eq!(all[0].seen.unread("kim"), 0);
    assert_eq!(all[1].replies.len(), 1);
    assert_eq!(all[2].notes[0].text, "Only 2025");
    assert_eq!(all[3].claimed_by_name.as_deref(), Some("Kim"));
    assert_eq!(all[3].memberships, res.memberships);
    assert_eq!(all[3].size, res.size);
    assert!(s.load_request(99).is_err(), "no such request");
}

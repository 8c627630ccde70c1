//! A team store whose server ends the sessions (a restart,
//! `pg_terminate_backend`, a network cut) is survived: the store connection,
//! the LISTEN connection and the screen's heartbeat connect again by
//! themselves, an action cut off mid-way is reported as failed with nothing
//! of it stored, and the screen says "store ✗" while the server cannot be
//! reached and clears it when it can. A real PostgreSQL
//! (tests/support/postgres.rs); sessions are ended with
//! `pg_terminate_backend`, and a database is made unreachable with
//! `ALTER DATABASE … ALLOW_CONNECTIONS false`. No sleeps: conditions are
//! polled with a deadline.

use concierge_test_support as support;

use concierge::intake::{inspect, Options};
use concierge::store::db::params;
use concierge::store::{audit, changes, Location, Store, Stored};
use concierge::tui::app::{App, Event, Inbox};
use concierge::tui::msg::Msg;
use concierge::tui::state::Health;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::time::{Duration, Instant};

fn request(s: &mut Store, n: u32) -> i64 {
    let raw = format!("From: owner@acme.example\r\nMessage-ID: <rc{n}@acme.example>\r\nSubject: Data export request: Acme\r\n\r\nhi\r\n");
    let i = inspect(raw.as_bytes(), &Options::default());
    let key = i.store_key(raw.as_bytes());
    match s.store_batch("INBOX", &[(i, key, None)], None).unwrap()[0] {
        Stored::NewRequest(id) => id,
        ref other => panic!("{other:?}"),
    }
}

/// The database name at the end of a test URL.
fn db_of(url: &str) -> String {
    url.rsplit('/').next().unwrap().to_string()
}

/// Ends every session on database `db` (but the one asking) and waits
/// until each has gone (`pg_terminate_backend`'s timeout, PostgreSQL 14+).
/// Returns how many there were. On a thread of its own: the harness's
/// sync client cannot run on a tokio thread.
fn terminate_all(db: &str) -> usize {
    let db = db.to_string();
    std::thread::spawn(move || {
        let mut c = support::postgres::server().client("postgres");
        let rows = c
            .query(
                "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity
                 WHERE datname = $1 AND pid <> pg_backend_pid()",
                &[&db],
            )
            .unwrap();
        assert!(rows.iter().all(|r| r.get::<_, bool>(0)), "all ended");
        rows.len()
    })
    .join()
    .unwrap()
}

/// Lets sessions start on `db` again, or not.
fn allow_connections(db: &str, allow: bool) {
    let db = db.to_string();
    std::thread::spawn(move || {
        let mut c = support::postgres::server().client("postgres");
        c.batch_execute(&format!("ALTER DATABASE {db} ALLOW_CONNECTIONS {allow}"))
            .unwrap();
    })
    .join()
    .unwrap()
}

fn backend_pid(s: &Store) -> i64 {
    s.conn()
        .query_row("SELECT CAST(pg_backend_pid() AS BIGINT)", params![], |r| {
            r.get(0)
        })
        .unwrap()
}

/// All sessions ended between two actions: the next note and approval go
/// through on a new session (the dead one is noticed before BEGIN, with
/// no round trip, or at BEGIN, which then runs once more), and nothing is
/// lost or doubled.
#[test]
fn after_every_session_was_ended_the_next_note_and_approval_go_through() {
    let (mut s, url) = support::postgres::fresh_store();
    let id = request(&mut s, 1);
    s.register_operator("kim@ochrehq.com", "Kim").unwrap();
    s.add_note(id, "kim@ochrehq.com", "before").unwrap();
    let before = backend_pid(&s);
    assert!(terminate_all(&db_of(&url)) >= 1);
    s.add_note(id, "kim@ochrehq.com", "after").unwrap();
    let v = s.load_request(id).unwrap();
    s.approve(id, "k", None, None, &[], "kim@ochrehq.com", Some(v.version))
        .unwrap();
    assert_ne!(backend_pid(&s), before, "a new session");
    let v = s.load_request(id).unwrap();
    let notes: Vec<&str> = v.notes.iter().map(|n| n.text.as_str()).collect();
    assert_eq!(notes, ["before", "after"], "no note lost or doubled");
    assert_eq!(v.state, concierge::domain::RequestState::Approved);
    // A second time, with a read first: a read runs again on a new session.
    terminate_all(&db_of(&url));
    assert_eq!(s.load_request(id).unwrap().notes.len(), 2);
    assert_eq!(audit::verify(s.conn()).unwrap(), Ok(4));
}

/// The session ends inside a transaction: the rest of it fails, its COMMIT
/// fails, nothing of it is stored, the error says so (without the
/// password), and the connection is not quietly carried on elsewhere: the
/// next transaction starts clean on a new session.
#[test]
fn a_session_lost_mid_transaction_fails_the_action_and_stores_none_of_it() {
    let (mut s, url) = support::postgres::fresh_store();
    let id = request(&mut s, 1);
    let seq = changes::last_seq(s.conn()).unwrap();
    let e = {
        let tx = s.conn().transaction().unwrap();
        tx.execute(
            "INSERT INTO notes (request_id, author, text, created_at) VALUES (?1, 'kim', 'half', 'x')",
            params![id],
        )
        .unwrap();
        terminate_all(&db_of(&url));
        let second = tx.execute(
            "INSERT INTO notes (request_id, author, text, created_at) VALUES (?1, 'kim', 'other half', 'x')",
            params![id],
        );
        let e = second.expect_err("the session is gone");
        // The rest of the transaction is not carried on on a new session.
        let third = tx.execute(
            "INSERT INTO notes (request_id, author, text, created_at) VALUES (?1, 'kim', 'third', 'x')",
            params![id],
        );
        assert!(third.is_err(), "a statement ran outside its transaction");
        assert!(tx.commit().is_err(), "no COMMIT on another session");
        format!("{e:#}")
    };
    assert!(e.contains("nothing of it was stored"), "{e}");
    assert!(!e.contains(support::postgres::PASSWORD), "{e}");
    assert!(s.load_request(id).unwrap().notes.is_empty(), "none of it");
    assert_eq!(changes::last_seq(s.conn()).unwrap(), seq);
    s.add_note(id, "kim", "whole").unwrap();
    assert_eq!(s.load_request(id).unwrap().notes.len(), 1);
    assert!(audit::verify(s.conn()).unwrap().is_ok());
}

/// The change feed's LISTEN session is ended: the watcher listens again,
/// says "changed" once (notifications sent meanwhile are lost, the feed's
/// rows are not), and a change made after that reaches it by NOTIFY.
#[test]
fn the_feed_listens_again_and_delivers_a_change_made_after_the_reconnect() {
    let (mut s, url) = support::postgres::fresh_store();
    let id = request(&mut s, 1);
    let at = Location::Postgres(support::postgres::target(&url));
    let mut w = changes::watch(&at).unwrap();
    let mut seq = changes::last_seq(w.conn()).unwrap();
    s.add_note(id, "kim", "one").unwrap();
    assert!(w.wait(Duration::from_secs(10)).unwrap());
    seq = changes::after(w.conn(), seq, 10)
        .unwrap()
        .last()
        .unwrap()
        .seq;

    terminate_all(&db_of(&url));
    // The next waits notice the lost session (an error, logged by the
    // screen), then listen again and say "changed".
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut errors = 0;
    loop {
        assert!(Instant::now() < deadline, "the feed never listened again");
        match w.wait(Duration::from_millis(500)) {
            Ok(true) => break,
            Ok(false) => {}
            Err(_) => errors += 1,
        }
    }
    assert!(errors >= 1, "the lost session was noticed");
    // Catch up (the reading connection reconnects too), then a new change
    // must arrive by NOTIFY on the new session.
    for c in changes::after(w.conn(), seq, 100).unwrap() {
        seq = c.seq;
    }
    assert!(
        !w.wait(Duration::from_millis(200)).unwrap(),
        "quiet until the next change"
    );
    s.add_note(id, "kim", "after the reconnect").unwrap();
    assert!(w.wait(Duration::from_secs(10)).unwrap(), "woken by NOTIFY");
    let got = changes::after(w.conn(), seq, 10).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(
        (got[0].request_id, got[0].kind.as_str()),
        (Some(id), "note.added")
    );
}

fn screen(at: Location, operator: &str) -> (App, tokio::sync::mpsc::UnboundedReceiver<Event>) {
    let setup = support::app::setup(at, operator, Inbox::None);
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    (App::start(setup, tx).unwrap(), rx)
}

/// Handles the screen's events until `cond` holds; panics after `within`.
async fn until(
    app: &mut App,
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<Event>,
    what: &str,
    within: Duration,
    cond: impl Fn(&App) -> bool,
) {
    let deadline = Instant::now() + within;
    while !cond(app) {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, rx.recv()).await {
            Ok(Some(ev)) => {
                app.handle(ev);
            }
            _ => panic!("timed out waiting for: {what}"),
        }
    }
}

/// The status line as drawn at 120 columns.
fn status_line(app: &mut App) -> String {
    let mut t = ratatui::Terminal::new(ratatui::backend::TestBackend::new(120, 30)).unwrap();
    t.draw(|f| concierge::tui::ui::render(f, &mut app.state))
        .unwrap();
    let buf = t.backend().buffer();
    let y = buf.area.height - 1;
    (0..buf.area.width)
        .map(|x| buf[(x, y)].symbol().to_string())
        .collect()
}

/// The session of a screen that died long ago ([`plant_dead_screen`]).
const DEAD_SCREEN: &str = "dead-screen";

/// A presence entry whose last beat is an hour old: the next heartbeat of
/// any screen sweeps it (only the heartbeat sweeps, `presence::beat`).
fn plant_dead_screen(s: &Store) {
    let dead = concierge::store::presence::Presence {
        session: DEAD_SCREEN.into(),
        operator: "Gone".into(),
        request_id: None,
        activity: concierge::store::presence::Activity::Viewing,
    };
    let long_ago = chrono::Utc::now() - chrono::TimeDelta::hours(1);
    concierge::store::presence::set(s.conn(), &dead, long_ago).unwrap();
    assert!(has_entry(s, DEAD_SCREEN));
}

/// Whether session `session` has a presence entry.
fn has_entry(s: &Store, session: &str) -> bool {
    let n: i64 = s
        .conn()
        .query_row(
            "SELECT COUNT(*) FROM presence WHERE session = ?1",
            params![session],
            |r| r.get(0),
        )
        .unwrap();
    n > 0
}

/// The screen's store goes away (every session ended, no new one allowed):
/// the status line says "store ✗" until the server takes sessions again,
/// then clears it, and a note written then goes through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_line_says_the_store_is_down_and_clears_it_when_back() {
    let url = std::thread::spawn(|| support::postgres::server().fresh_database())
        .join()
        .unwrap();
    let at = Location::Postgres(support::postgres::target(&url));
    let mut s = Store::open_at(&at).unwrap();
    let id = request(&mut s, 1);
    plant_dead_screen(&s);
    let (mut app, mut rx) = screen(at.clone(), "Sam");
    assert!(!status_line(&mut app).contains("store ✗"));
    // The heartbeat is the store's health check, on a connection it opens
    // on its own thread. This test is about that connection dropping and
    // coming back, so the cut waits until it is open: its first beat
    // sweeps the dead screen's entry. (A store cut before that open used to
    // be never reported, seen under load; that is fixed in the product and
    // tested in `tui::app::live`.)
    assert!(
        support::wait_until(Instant::now() + Duration::from_secs(60), || {
            !has_entry(&s, DEAD_SCREEN)
        }),
        "the heartbeat never swept the dead screen's entry"
    );
    drop(s);
    let db = db_of(&url);

    allow_connections(&db, false);
    terminate_all(&db);
    until(
        &mut app,
        &mut rx,
        "store down",
        Duration::from_secs(30),
        |a| matches!(a.state.store, Health::Down(_)),
    )
    .await;
    let line = status_line(&mut app);
    assert!(line.contains("store ✗"), "{line}");

    allow_connections(&db, true);
    until(
        &mut app,
        &mut rx,
        "store back",
        Duration::from_secs(30),
        |a| matches!(a.state.store, Health::Up(_)),
    )
    .await;
    let line = status_line(&mut app);
    assert!(!line.contains("store ✗"), "{line}");

    // The screen's own connection was ended too: the note still goes.
    for ev in [
        KeyEvent::new(KeyCode::Char('n'), KeyModifiers::NONE),
        KeyEvent::new(KeyCode::Char('x'), KeyModifiers::NONE),
        KeyEvent::new(KeyCode::Char('s'), KeyModifiers::CONTROL),
    ] {
        app.handle(Event::Msg(Msg::Key(ev)));
    }
    let notes = Store::open_at(&at).unwrap().load_request(id).unwrap().notes;
    assert_eq!(notes.len(), 1, "{:?}", app.state.status);
}

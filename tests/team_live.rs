//! Two screens on one store: what one writes, the other shows, by the
//! change feed (no reload of everything). A real SQLite file, and a real
//! PostgreSQL database (crates/test-support/src/postgres.rs) where the feed wakes on
//! LISTEN/NOTIFY; the same `App` the terminal runs, driven by key presses;
//! no sleeps, conditions polled with a deadline.

use concierge_test_support as support;
use support::team::pg_location;

use concierge::store::{Location, Store};
use concierge::tui::app::{App, Event, Inbox};
use concierge::tui::msg::{Command, Msg};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

fn mail(n: u32) -> String {
    format!(
        "From: Ada Owner <owner{n}@acme.example>\r\nTo: hello@ochrehq.com\r\n\
         Message-ID: <live-{n}@acme.example>\r\nDate: Mon, 2 Nov 2026 09:00:00 +0000\r\n\
         Subject: Data export request: Acme Support\r\n\r\nPlease export Acme Support.\r\n"
    )
}

/// Stores `n` requests, as the inbox poller would.
fn seed(at: impl Into<Location>, n: u32) {
    let mut store = Store::open_at(&at.into()).unwrap();
    for i in 1..=n {
        let raw = mail(i);
        let inspected = concierge::intake::inspect(raw.as_bytes(), &Default::default());
        let key = inspected.store_key(raw.as_bytes());
        store
            .store_batch("INBOX", &[(inspected, key, None)], None)
            .unwrap();
    }
}

pub struct Screen {
    pub app: App,
    rx: mpsc::UnboundedReceiver<Event>,
    /// Every command `update` gave on this screen.
    pub commands: Vec<Command>,
}

impl Screen {
    pub fn open(at: impl Into<Location>, operator: &str) -> Screen {
        Screen::with_inbox(at, operator, Inbox::None)
    }

    pub fn with_inbox(at: impl Into<Location>, operator: &str, inbox: Inbox) -> Screen {
        let setup = concierge_test_support::app::setup(at.into(), operator, inbox);
        let (tx, rx) = mpsc::unbounded_channel();
        Screen {
            app: App::start(setup, tx).unwrap(),
            rx,
            commands: Vec::new(),
        }
    }

    pub fn handle(&mut self, ev: Event) {
        let cmds = self.app.handle(ev);
        self.commands.extend(cmds);
    }

    pub fn key(&mut self, code: KeyCode) {
        self.handle(Event::Msg(Msg::Key(KeyEvent::new(
            code,
            KeyModifiers::NONE,
        ))));
    }

    pub fn typed(&mut self, text: &str) {
        for c in text.chars() {
            self.key(KeyCode::Char(c));
        }
    }

    pub fn ctrl(&mut self, c: char) {
        self.handle(Event::Msg(Msg::Key(KeyEvent::new(
            KeyCode::Char(c),
            KeyModifiers::CONTROL,
        ))));
    }

    /// Handles this screen's events until `cond` holds; panics after `within`.
    pub async fn until(&mut self, what: &str, within: Duration, cond: impl Fn(&App) -> bool) {
        let deadline = Instant::now() + within;
        while !cond(&self.app) {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.rx.recv()).await {
                Ok(Some(ev)) => self.handle(ev),
                _ => panic!(
                    "timed out waiting for: {what}; status {:?}",
                    self.app.state.status
                ),
            }
        }
    }

    /// Handles whatever is already queued (without waiting).
    pub fn drain(&mut self) {
        while let Ok(ev) = self.rx.try_recv() {
            self.handle(ev);
        }
    }

    pub fn notes(&self, id: i64) -> Vec<(String, String)> {
        self.app
            .state
            .rows
            .iter()
            .find(|r| r.req.id == id)
            .map(|r| {
                r.req
                    .notes
                    .iter()
                    .map(|n| (n.author.clone(), n.text.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_note_written_on_one_screen_appears_on_the_other_and_only_its_row_reloads() {
    let dir = tempfile::tempdir().unwrap();
    a_note_reaches_the_other_screen(dir.path().join("team.db").into()).await;
}

/// The PostgreSQL feed has no polling at all: without the writer's NOTIFY
/// nothing would wake Kim's watcher (a mutation that drops `pg_notify`
/// turns this red).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_a_note_reaches_the_other_screen_by_notify() {
    a_note_reaches_the_other_screen(pg_location()).await;
}

/// Kim's feed has read once when its screen shows Sam's first note (from
/// its first read or a wake-up); a second note can then only arrive by a
/// wake-up, so the engine's wake-up is what this checks.
async fn a_note_reaches_the_other_screen(path: Location) {
    let (mut sam, mut kim, id) = first_note_reaches_the_other_screen(path).await;
    sam.key(KeyCode::Char('n'));
    sam.typed("and the archive");
    sam.ctrl('s');
    kim.until("Sam's second note", Duration::from_secs(10), |a| {
        a.state
            .rows
            .iter()
            .any(|r| r.req.id == id && r.req.notes.len() == 2)
    })
    .await;
}

async fn first_note_reaches_the_other_screen(path: Location) -> (Screen, Screen, i64) {
    seed(&path, 5);
    let mut sam = Screen::open(&path, "Sam");
    let mut kim = Screen::open(&path, "Kim");
    let id = sam.app.state.current().unwrap().req.id;
    assert!(kim.notes(id).is_empty());

    sam.key(KeyCode::Char('n'));
    sam.typed("Scope: everything, drafts too");
    sam.ctrl('s');
    assert_eq!(sam.notes(id).len(), 1, "{:?}", sam.app.state.status);

    kim.until("Sam's note on Kim's screen", Duration::from_secs(10), |a| {
        a.state
            .rows
            .iter()
            .any(|r| r.req.id == id && !r.req.notes.is_empty())
    })
    .await;
    assert_eq!(
        kim.notes(id),
        vec![("Sam".into(), "Scope: everything, drafts too".into())]
    );
    // Only that request was read again, and Kim is told who did it.
    let reloads: Vec<_> = kim
        .commands
        .iter()
        .filter_map(|c| match c {
            Command::Reload { ids } => Some(ids.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(reloads, vec![vec![id]]);
    let kim_selected = kim.app.state.current().unwrap().req.id;
    if kim_selected == id {
        let status = kim.app.state.status.clone().unwrap().0;
        assert!(status.contains("note added by Sam"), "{status}");
    }
    (sam, kim, id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_stored_by_the_poller_appears_on_an_open_screen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("team.db");
    seed(&path, 1);
    let mut kim = Screen::open(&path, "Kim");
    assert_eq!(kim.app.state.rows.len(), 1);
    // Another process's poller stores a new request.
    let raw = mail(2);
    let inspected = concierge::intake::inspect(raw.as_bytes(), &Default::default());
    let key = inspected.store_key(raw.as_bytes());
    Store::open(&path)
        .unwrap()
        .store_batch("INBOX", &[(inspected, key, None)], None)
        .unwrap();
    kim.until(
        "the new request on Kim's screen",
        Duration::from_secs(10),
        |a| a.state.rows.len() == 2,
    )
    .await;
    kim.drain();
    assert!(kim
        .app
        .state
        .rows
        .iter()
        .any(|r| r.req.from.as_deref() == Some("owner2@acme.example")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_screen_sees_who_else_has_a_request_open_and_what_they_write() {
    let dir = tempfile::tempdir().unwrap();
    presence_reaches_the_other_screen(dir.path().join("team.db").into()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_each_screen_sees_who_else_has_a_request_open() {
    presence_reaches_the_other_screen(pg_location()).await;
}

async fn presence_reaches_the_other_screen(path: Location) {
    use concierge::store::presence::Activity;
    seed(&path, 3);
    let mut sam = Screen::open(&path, "Sam");
    let mut kim = Screen::open(&path, "Kim");
    let id = sam.app.state.current().unwrap().req.id;
    kim.until(
        "Sam viewing, on Kim's screen",
        Duration::from_secs(10),
        |a| a.state.others_on(id).any(|p| p.operator == "Sam"),
    )
    .await;
    sam.key(KeyCode::Char('n'));
    kim.until("Sam writing a note", Duration::from_secs(10), |a| {
        a.state
            .others_on(id)
            .any(|p| p.operator == "Sam" && p.activity == Activity::WritingNote)
    })
    .await;
    // Sam closes the screen: the entry goes at once.
    drop(sam);
    kim.until("Sam gone", Duration::from_secs(10), |a| {
        a.state.others.iter().all(|p| p.operator != "Sam")
    })
    .await;
    // A second screen as Kim: both are told.
    let mut twin = Screen::open(&path, "Kim");
    let said = |a: &App| {
        a.state
            .status
            .as_ref()
            .is_some_and(|(s, warning)| *warning && s.contains("open as Kim too"))
    };
    assert!(said(&twin.app), "{:?}", twin.app.state.status);
    kim.until("Kim told of the twin", Duration::from_secs(10), said)
        .await;
    twin.drain();
}

/// Drops mail `n` into a Maildir as a delivery agent does (tmp/, then new/).
fn deliver(maildir: &Path, n: u32) {
    for sub in ["tmp", "new", "cur"] {
        std::fs::create_dir_all(maildir.join(sub)).unwrap();
    }
    let name = format!("{n}.live.host");
    std::fs::write(maildir.join("tmp").join(&name), mail(n)).unwrap();
    std::fs::rename(
        maildir.join("tmp").join(&name),
        maildir.join("new").join(&name),
    )
    .unwrap();
}

fn requests_in(path: &Path) -> i64 {
    Store::open(path).unwrap().request_count().unwrap()
}

fn maildir_screen(path: &Path, maildir: &Path, operator: &str) -> Screen {
    Screen::with_inbox(path, operator, Inbox::Maildir(maildir.to_path_buf()))
}

/// Not a test on its own: the child process of the takeover test (a
/// Concierge polling the inbox until it is killed). Returns at once unless
/// that test started it.
#[test]
fn child_screen_for_the_takeover_test() {
    let Ok(dir) = std::env::var("CONCIERGE_TEAM_CHILD") else {
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let mut lee = maildir_screen(&dir.join("team.db"), &dir.join("inbox"), "Lee");
        // Runs until killed.
        lee.until("killed", Duration::from_secs(600), |_| false)
            .await;
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_concierge_polls_and_another_takes_over_within_30_s_of_a_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let (path, inbox) = (dir.path().join("team.db"), dir.path().join("inbox"));
    deliver(&inbox, 1);
    Store::open(&path).unwrap();
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_screen_for_the_takeover_test",
            "--nocapture",
        ])
        .env("CONCIERGE_TEAM_CHILD", dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let lease_holder = |path: &Path| {
        concierge::store::presence::lease(Store::open(path).unwrap().conn())
            .unwrap()
            .map(|l| l.holder)
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while !(lease_holder(&path).as_deref() == Some("Lee") && requests_in(&path) == 1) {
        assert!(Instant::now() < deadline, "the child never polled");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Kim's Concierge starts: it does not poll, and says who does.
    let mut kim = maildir_screen(&path, &inbox, "Kim");
    kim.until("inbox: polled by Lee", Duration::from_secs(10), |a| {
        a.state.inbox == concierge::tui::state::Health::Up("polled by Lee".into())
    })
    .await;
    deliver(&inbox, 2);
    kim.until(
        "mail 2 stored by Lee, shown to Kim",
        Duration::from_secs(10),
        |a| a.state.rows.len() == 2,
    )
    .await;
    assert_eq!(lease_holder(&path).as_deref(), Some("Lee"));
    // kill -9: no goodbye, the lease just stops being renewed.
    child.kill().unwrap();
    child.wait().unwrap();
    let killed = Instant::now();
    deliver(&inbox, 3);
    kim.until("Kim polls mail 3", Duration::from_secs(45), |a| {
        a.state.rows.len() == 3
    })
    .await;
    let took = killed.elapsed();
    println!("takeover after kill -9: {took:?}");
    assert_eq!(lease_holder(&path).as_deref(), Some("Kim"));
    // The lease is 25 s and Kim asks every 5 s; 2 s more for the Maildir poll.
    assert!(took <= Duration::from_secs(32), "took {took:?}");
    assert_eq!(requests_in(&path), 3);
}

#[test]
fn two_pollers_racing_store_each_message_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let (path, inbox) = (dir.path().join("team.db"), dir.path().join("inbox"));
    deliver(&inbox, 1);
    Store::open(&path).unwrap();
    let poller = |path: std::path::PathBuf, inbox: std::path::PathBuf| {
        std::thread::spawn(move || {
            let mut store = Store::open(&path).unwrap();
            let mut stored = 0;
            for _ in 0..60 {
                let mut src = concierge::inbox::maildir::MaildirSource::new(&inbox).unwrap();
                let report = concierge::sync::sync_once(&mut src, &mut store, "mx.ochrehq.com")
                    .expect("a poll never fails on the other's writes");
                stored += report.stored.len();
            }
            stored
        })
    };
    let a = poller(path.clone(), inbox.clone());
    let b = poller(path.clone(), inbox.clone());
    for n in 2..=40 {
        deliver(&inbox, n);
    }
    let (a, b) = (a.join().unwrap(), b.join().unwrap());
    // One last poll picks up anything delivered after both finished.
    let mut store = Store::open(&path).unwrap();
    let mut src = concierge::inbox::maildir::MaildirSource::new(&inbox).unwrap();
    let last = concierge::sync::sync_once(&mut src, &mut store, "mx.ochrehq.com").unwrap();
    assert_eq!(
        a + b + last.stored.len(),
        40,
        "each mail stored once: {a} + {b}"
    );
    assert_eq!(store.request_count().unwrap(), 40);
    let messages: i64 = store
        .conn()
        .query_row(
            "SELECT COUNT(*) FROM messages",
            concierge::store::db::params![],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(messages, 40);
}

/// PostgreSQL: the poller's lease goes to another Concierge as soon as the
/// holder's store connection is gone, whatever machine it ran on (the
/// server knows its connections), not 25 s later when the lease expires.
/// The clock handed to `take_lease` stays 1 s after the holder took it, so
/// expiry cannot be what hands it over.
#[test]
fn on_postgres_the_lease_is_taken_over_when_its_holders_connection_dies() {
    use concierge::store::presence::{lease, take_lease};
    let Location::Postgres(target) = pg_location() else {
        unreachable!()
    };
    let t0 = chrono::Utc::now();
    let t1 = t0 + chrono::TimeDelta::seconds(1);
    // Sessions of another machine: `is_dead_here` never judges them.
    let (lee_session, kim_session) = ("lee-laptop/4242/1", "kim-laptop/4242/1");
    let lee = Store::connect_pg(&target).unwrap();
    let kim = Store::connect_pg(&target).unwrap();
    let held = take_lease(lee.conn(), lee_session, "Lee", t0).unwrap();
    assert_eq!(held.session, lee_session);
    assert!(held.conn.is_some(), "the holder's connection is recorded");
    // Lee's connection lives: Kim asks and stands by.
    let asked = take_lease(kim.conn(), kim_session, "Kim", t1).unwrap();
    assert_eq!(asked.holder, "Lee");
    assert_eq!(
        take_lease(lee.conn(), lee_session, "Lee", t1)
            .unwrap()
            .holder,
        "Lee"
    );
    // Lee's Concierge dies: its connection closes (the server notices as
    // the socket closes; polled with a deadline).
    drop(lee);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let l = take_lease(kim.conn(), kim_session, "Kim", t1).unwrap();
        if l.session == kim_session {
            break;
        }
        assert!(Instant::now() < deadline, "Kim never took over: {l:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(lease(kim.conn()).unwrap().unwrap().holder, "Kim");
    // The new holder is announced on the feed, once per holder.
    let pollers: Vec<_> = concierge::store::changes::after(kim.conn(), 0, 100)
        .unwrap()
        .into_iter()
        .filter(|c| c.kind == "poller")
        .map(|c| c.actor)
        .collect();
    assert_eq!(pollers, vec!["Lee", "Kim"]);
}

/// A claim (branch `collide`'s `m`) is a change on the feed: the other
/// screen shows the new holder without reloading everything. Kim's feed has
/// read once already (the first note), so only a wake-up brings it.
async fn a_claim_reaches_the_other_screen(path: Location) {
    let (mut sam, mut kim, id) = first_note_reaches_the_other_screen(path).await;
    sam.key(KeyCode::Char('m'));
    assert_eq!(
        sam.app
            .state
            .rows
            .iter()
            .find(|r| r.req.id == id)
            .and_then(|r| r.req.claimed_by.clone())
            .as_deref(),
        Some("Sam"),
        "{:?}",
        sam.app.state.status
    );
    kim.until(
        "Sam's claim on Kim's screen",
        Duration::from_secs(10),
        |a| {
            a.state
                .rows
                .iter()
                .any(|r| r.req.id == id && r.req.claimed_by.as_deref() == Some("Sam"))
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_on_one_screen_shows_on_the_other() {
    let dir = tempfile::tempdir().unwrap();
    a_claim_reaches_the_other_screen(dir.path().join("team.db").into()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_a_claim_on_one_screen_shows_on_the_other() {
    a_claim_reaches_the_other_screen(pg_location()).await;
}

/// PostgreSQL: the watcher's LISTEN connection is cut (a server restart, a
/// proxy's idle timeout); it listens again and says "changed" (what was
/// notified meanwhile is lost, so the feed is read), then wakes on the
/// next commit as before.
#[test]
fn on_postgres_the_watcher_listens_again_after_its_connection_is_cut() {
    use concierge::store::changes;
    let at = pg_location();
    seed(&at, 1);
    let mut w = changes::watch(&at).unwrap();
    assert!(
        !w.wait(Duration::from_millis(200)).unwrap(),
        "nothing changed"
    );
    let Location::Postgres(target) = &at else {
        unreachable!()
    };
    // Only this test's database: the server is shared by the binary's
    // tests, and the others listen at the same time.
    let db = target.url.rsplit('/').next().unwrap();
    let db = db.split('?').next().unwrap().to_string();
    let mut admin = support::postgres::server().client("postgres");
    let cut = admin
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN%' AND datname = $1",
            &[&db],
        )
        .unwrap();
    assert_eq!(cut.len(), 1, "one listening connection");
    // The cut shows as an error (polled: the client sees it at its next read).
    let deadline = Instant::now() + Duration::from_secs(10);
    while w.wait(Duration::from_millis(100)).is_ok() {
        assert!(Instant::now() < deadline, "the cut was never noticed");
    }
    assert!(w.wait(Duration::from_secs(1)).unwrap(), "listening again");
    let mut writer = Store::connect_pg(target).unwrap();
    writer.add_note(1, "Kim", "after the cut").unwrap();
    assert!(w.wait(Duration::from_secs(10)).unwrap(), "woken by NOTIFY");
    let feed = changes::after(w.conn(), 0, 100).unwrap();
    assert_eq!(feed.last().unwrap().kind, "note.added");
}

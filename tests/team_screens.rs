//! Two operators' screens on one store, end to end: the real `App` twice,
//! the real reference backend, one store — a SQLite file, and a real
//! PostgreSQL database (tests/support/postgres.rs). Kim acknowledges a
//! request while Sam has the same acknowledgement open for sending: Sam is
//! told by Kim's name (not her address) what she did, Sam's send stops and
//! says why, and nothing is sent twice. Two screens opening on a store of
//! requests nobody has looked up yet look each one up once between them.

use concierge_test_support as support;
use support::team::{pg_location, runtime};

use concierge::domain::{ReplyState, Role};
use concierge::mail::templates::Template;
use concierge::store::{Location, Store};
use concierge::tui::app::{App, Event, Inbox, Setup};
use concierge::tui::msg::Msg;
use concierge::tui::state::{Confirm, Mode};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

fn setup(
    at: &Location,
    dir: &Path,
    backend: &concierge::demo::DemoBackend,
    who: (&str, &str),
    inbox: Inbox,
) -> Setup {
    concierge_test_support::app::setup_with_backend(
        at.clone(),
        dir,
        backend,
        (who.0, Some(who.1)),
        inbox,
    )
}

struct Screen {
    app: App,
    rx: mpsc::UnboundedReceiver<Event>,
}

impl Screen {
    fn start(setup: Setup) -> Screen {
        let (tx, rx) = mpsc::unbounded_channel();
        Screen {
            app: App::start(setup, tx).unwrap(),
            rx,
        }
    }

    /// Processes events until `cond` holds, or panics after `within`.
    async fn until(&mut self, what: &str, within: Duration, cond: impl Fn(&App) -> bool) {
        let deadline = Instant::now() + within;
        while !cond(&self.app) {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.rx.recv()).await {
                Ok(Some(ev)) => {
                    self.app.handle(ev);
                }
                _ => panic!(
                    "timed out waiting for: {what}; status: {:?}",
                    self.app.state.status
                ),
            }
        }
    }

    fn key(&mut self, code: KeyCode, mods: KeyModifiers) {
        self.app
            .handle(Event::Msg(Msg::Key(KeyEvent::new(code, mods))));
    }

    fn char(&mut self, c: char) {
        self.key(KeyCode::Char(c), KeyModifiers::NONE);
    }

    fn select(&mut self, from: &str) -> i64 {
        self.char('/');
        for c in from.chars() {
            self.char(c);
        }
        self.key(KeyCode::Enter, KeyModifiers::NONE);
        // The demo's spoofed mail comes from the same address: the real
        // one passed DMARC. The order of rows follows the feed on a
        // screen that saw them arrive, so look for it from the top.
        self.char('g');
        for _ in 0..self.app.state.visible.len() {
            let row = self.app.state.current().expect("the request is listed");
            if row.req.auth.dmarc == "pass" {
                break;
            }
            self.char('j');
        }
        let row = self.app.state.current().expect("the request is listed");
        assert_eq!(row.req.from.as_deref(), Some(from));
        assert_eq!(row.req.auth.dmarc, "pass");
        row.req.id
    }

    /// `r`, the suggested template, `Ctrl-S`: the send question is open.
    fn open_acknowledgement(&mut self) {
        self.char('r');
        self.key(KeyCode::Enter, KeyModifiers::NONE);
        self.key(KeyCode::Char('s'), KeyModifiers::CONTROL);
        assert!(
            matches!(
                self.app.state.mode,
                Mode::Confirm(Confirm::SendReply {
                    template: Template::Acknowledgement,
                    ..
                })
            ),
            "{:?}",
            self.app.state.status
        );
    }
}

fn start_backend(dir: &Path) -> concierge::demo::DemoBackend {
    concierge::demo::start_backend(
        Path::new(env!("CARGO_BIN_EXE_concierge")),
        dir,
        &dir.join("outbox"),
        None,
    )
    .unwrap()
}

#[test]
fn a_colleagues_acknowledgement_stops_mine_with_the_reason_and_nothing_goes_twice() {
    let dir = tempfile::tempdir().unwrap();
    let at = Location::Sqlite(dir.path().join("concierge.db"));
    acknowledgement_race(dir.path(), at);
}

#[test]
fn on_postgres_a_colleagues_acknowledgement_stops_mine_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    acknowledgement_race(dir.path(), pg_location());
}

fn acknowledgement_race(dir: &Path, at: Location) {
    concierge::demo::write_maildir(&dir.join("inbox")).unwrap();
    let backend = start_backend(dir);
    runtime().block_on(async {
        // Sam opens first, on an empty store: Kim is no operator his
        // screen has heard of when her changes arrive.
        let mut sam = Screen::start(setup(
            &at,
            dir,
            &backend,
            ("Sam", "sam@ochrehq.com"),
            Inbox::None,
        ));
        let inbox = Inbox::Maildir(dir.join("inbox"));
        let mut kim = Screen::start(setup(&at, dir, &backend, ("Kim", "kim@ochrehq.com"), inbox));
        let resolved = |a: &App| {
            a.state.rows.iter().any(|r| {
                r.req.from.as_deref() == Some("owner@acme.example")
                    && r.req.role == Some(Role::Owner)
            })
        };
        kim.until(
            "the owner's request resolved",
            Duration::from_secs(30),
            resolved,
        )
        .await;
        sam.until(
            "the owner's request on Sam's screen",
            Duration::from_secs(30),
            resolved,
        )
        .await;
        // Sam's screen looked nothing up, yet says the backend answers.
        sam.until("Sam's backend health", Duration::from_secs(10), |a| {
            matches!(a.state.backend, concierge::tui::state::Health::Up(_))
        })
        .await;
        let id = sam.select("owner@acme.example");
        sam.open_acknowledgement();

        // Kim sends the same acknowledgement first.
        assert_eq!(kim.select("owner@acme.example"), id);
        kim.open_acknowledgement();
        kim.char('y');
        kim.until("Kim's acknowledgement sent", Duration::from_secs(30), |a| {
            a.state.rows.iter().any(|r| {
                r.req.id == id && r.req.replies.iter().any(|x| x.state == ReplyState::Sent)
            })
        })
        .await;

        // Sam's screen names Kim, not her address.
        sam.until("Sam told of Kim's reply", Duration::from_secs(10), |a| {
            a.state
                .status
                .as_ref()
                .is_some_and(|(s, _)| s.contains("reply sent by"))
        })
        .await;
        let (told, _) = sam.app.state.status.clone().unwrap();
        assert_eq!(told, format!("#{id}: reply sent by Kim"));

        // Sam confirms the one he wrote: it stops, with the reason.
        sam.char('y');
        let (text, warning) = sam.app.state.status.clone().expect("a status");
        assert!(warning, "{text}");
        assert!(text.contains("stopped"), "{text}");
        assert!(text.contains("Kim sent the acknowledgement"), "{text}");
        let row = sam.app.state.current().unwrap();
        assert_eq!(row.req.id, id, "the request is selected for review");
        assert_eq!(row.req.replies.len(), 1, "Sam sees Kim's reply now");
        assert!(!sam.app.state.is_pending(id));

        let acks = concierge::tui::app::read_outboxes(&[dir.join("outbox")])
            .into_iter()
            .filter(|m| m.to == "owner@acme.example" && !m.subject.contains("ready"))
            .count();
        assert_eq!(acks, 1, "one acknowledgement went out");
        let store = Store::open_at(&at).unwrap();
        assert_eq!(
            store.replies(id).unwrap().len(),
            1,
            "Sam's was never recorded"
        );
    });
    drop(backend);
}

/// Stores the demo's mail as the poller would, without looking anything up.
fn seed_demo(at: &Location, dir: &Path) -> usize {
    let seed = dir.join("seed");
    concierge::demo::write_maildir(&seed).unwrap();
    let mut names: Vec<_> = std::fs::read_dir(seed.join("new"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    let mut store = Store::open_at(at).unwrap();
    let opts = concierge::intake::Options {
        authserv_id: "mx.ochrehq.com",
        truncated: false,
    };
    for path in names {
        let raw = std::fs::read(&path).unwrap();
        let inspected = concierge::intake::inspect(&raw, &opts);
        let key = inspected.store_key(&raw);
        store
            .store_batch("INBOX", &[(inspected, key, None)], None)
            .unwrap();
    }
    let open = store
        .load_requests()
        .unwrap()
        .iter()
        .filter(|r| r.state.is_open())
        .count();
    assert!(open >= 5, "the demo has requests to look up: {open}");
    open
}

/// How many times each request was looked up (`request.resolved` entries).
fn lookups(at: &Location) -> Vec<(String, i64)> {
    let store = Store::open_at(at).unwrap();
    store
        .conn()
        .query_map(
            "SELECT subject, COUNT(*) FROM audit WHERE action = 'request.resolved'
             GROUP BY subject ORDER BY subject",
            concierge::store::db::params![],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
}

/// Handles both screens' events until `cond` holds; panics after `within`.
async fn both_until(
    a: &mut Screen,
    b: &mut Screen,
    what: &str,
    within: Duration,
    cond: impl Fn(&App, &App) -> bool,
) {
    let deadline = tokio::time::Instant::now() + within;
    while !cond(&a.app, &b.app) {
        tokio::select! {
            Some(ev) = a.rx.recv() => { a.app.handle(ev); }
            Some(ev) = b.rx.recv() => { b.app.handle(ev); }
            _ = tokio::time::sleep_until(deadline) => panic!("timed out waiting for: {what}"),
        }
    }
}

#[test]
fn two_screens_opening_together_look_each_request_up_once() {
    let dir = tempfile::tempdir().unwrap();
    let at = Location::Sqlite(dir.path().join("concierge.db"));
    lookups_once(dir.path(), at);
}

#[test]
fn on_postgres_two_screens_opening_together_look_each_request_up_once() {
    let dir = tempfile::tempdir().unwrap();
    lookups_once(dir.path(), pg_location());
}

fn lookups_once(dir: &Path, at: Location) {
    let open = seed_demo(&at, dir);
    // Both screens have an inbox (an empty one): both compete for the
    // poller's lease, as two operators' Concierges do.
    let empty = dir.join("empty");
    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(empty.join(sub)).unwrap();
    }
    let backend = start_backend(dir);
    runtime().block_on(async {
        let who = [("Kim", "kim@ochrehq.com"), ("Sam", "sam@ochrehq.com")];
        let [mut kim, mut sam] =
            who.map(|w| Screen::start(setup(&at, dir, &backend, w, Inbox::Maildir(empty.clone()))));
        // Every open request shows its lookup on both screens, and neither
        // screen has one in flight.
        let done = |a: &App| {
            a.state
                .rows
                .iter()
                .filter(|r| r.req.state.is_open())
                .all(|r| r.req.account_email.is_some() && !r.resolving)
        };
        both_until(
            &mut kim,
            &mut sam,
            "every request looked up, on both screens",
            Duration::from_secs(60),
            |a, b| done(a) && done(b),
        )
        .await;
        let counts = lookups(&at);
        assert_eq!(counts.len(), open, "{counts:?}");
        assert!(counts.iter().all(|(_, n)| *n == 1), "{counts:?}");
    });
    drop(backend);
}

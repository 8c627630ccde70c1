//! The screen on a team store: the same `App` the terminal runs, its
//! runtime's workers (the inbox on `spawn_blocking`, the async job
//! follower, the key handlers) all calling a PostgreSQL store. The sync
//! `postgres` client panics when called on a tokio runtime thread; the
//! store runs it on its own thread, and this test drives every such call
//! path on a multi-thread runtime, as the terminal does.
//!
//! (Helpers copied from tests/tui_e2e.rs, which drives the same screen on
//! SQLite.)

mod support;

use concierge::domain::{JobStatus, ReplyState, RequestState, Role};
use concierge::store::{audit, Location, Store};
use concierge::tui::app::{App, Event, Inbox, Setup};
use concierge::tui::msg::Msg;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

struct Sandbox {
    dir: tempfile::TempDir,
    backend: concierge::demo::DemoBackend,
}

fn sandbox() -> Sandbox {
    let dir = tempfile::tempdir().unwrap();
    concierge::demo::write_maildir(&dir.path().join("inbox")).unwrap();
    let backend = concierge::demo::start_backend(
        Path::new(env!("CARGO_BIN_EXE_concierge")),
        dir.path(),
        &dir.path().join("outbox"),
        None,
    )
    .unwrap();
    Sandbox { dir, backend }
}

fn setup(sb: &Sandbox, store: Location) -> Setup {
    let client = concierge::backend::BackendClient::new(
        &sb.backend.url,
        concierge::secret::Secret::new(sb.backend.token.clone()),
        "e2e",
    )
    .unwrap();
    Setup {
        store_path: store,
        operator: "Sam".into(),
        operator_email: None,
        rates: concierge::estimate::Rates::default(),
        keys: concierge::tui::keys::KeyMap::default(),
        templates: concierge::mail::templates::Templates::load(None).unwrap(),
        backend: Some(client),
        sender: Some(concierge::mail::outgoing::Sender::Maildir(
            sb.dir.path().join("outbox"),
        )),
        from: "Ochre Concierge <hello@ochrehq.com>".into(),
        inbox: Inbox::Maildir(sb.dir.path().join("inbox")),
        authserv_id: "mx.ochrehq.com".into(),
        outboxes: vec![sb.dir.path().join("outbox")],
        config: None,
        job_poll: Duration::from_millis(100),
    }
}

struct Driver {
    app: App,
    rx: mpsc::UnboundedReceiver<Event>,
}

impl Driver {
    async fn start(setup: Setup) -> Driver {
        let (tx, rx) = mpsc::unbounded_channel();
        let app = App::start(setup, tx).unwrap();
        Driver { app, rx }
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
                    "timed out waiting for: {what}; status: {:?}; rows: {:#?}",
                    self.app.state.status,
                    self.app
                        .state
                        .rows
                        .iter()
                        .map(|r| (
                            r.req.id,
                            r.req.from.clone(),
                            r.req.state,
                            r.req.role,
                            r.req.job.clone()
                        ))
                        .collect::<Vec<_>>()
                ),
            }
        }
    }

    fn key(&mut self, code: KeyCode) {
        self.app.handle(Event::Msg(Msg::Key(KeyEvent::new(
            code,
            KeyModifiers::NONE,
        ))));
    }

    fn ctrl(&mut self, c: char) {
        self.app.handle(Event::Msg(Msg::Key(KeyEvent::new(
            KeyCode::Char(c),
            KeyModifiers::CONTROL,
        ))));
    }

    fn typed(&mut self, text: &str) {
        for c in text.chars() {
            self.key(KeyCode::Char(c));
        }
    }

    /// Selects the request from `from` by filtering on the address.
    fn select(&mut self, from: &str) -> i64 {
        self.key(KeyCode::Char('/'));
        self.typed(from);
        self.key(KeyCode::Enter);
        // The spoofed demo mail is from owner@acme.example too: the one
        // wanted is the member the lookup found. The filter keeps the
        // selection it had, which depends on the order the rows arrived in
        // (one batch, or one by one through the change feed): start at the
        // top of what the filter shows.
        for _ in 0..self.app.state.rows.len() {
            self.key(KeyCode::Up);
        }
        for _ in 0..self.app.state.rows.len() {
            if self
                .app
                .state
                .current()
                .is_some_and(|r| r.req.role.is_some())
            {
                break;
            }
            self.key(KeyCode::Down);
        }
        let row = self
            .app
            .state
            .current()
            .unwrap_or_else(|| panic!("no request from {from}"));
        assert_eq!(row.req.from.as_deref(), Some(from));
        row.req.id
    }

    fn clear_filter(&mut self) {
        self.key(KeyCode::Char('/'));
        self.key(KeyCode::Esc);
    }

    fn req(&self, id: i64) -> &concierge::store::requests::RequestView {
        &self
            .app
            .state
            .rows
            .iter()
            .find(|r| r.req.id == id)
            .unwrap()
            .req
    }
}

#[test]
fn the_screen_runs_on_a_team_store() {
    let sb = sandbox();
    let url = support::postgres::server().fresh_database();
    let target = support::postgres::target(&url);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut d = Driver::start(setup(&sb, Location::Postgres(target.clone()))).await;
        d.until(
            "the owner's request resolved",
            Duration::from_secs(30),
            |a| {
                a.state.rows.iter().any(|r| {
                    r.req.from.as_deref() == Some("owner@acme.example")
                        && r.req.role == Some(Role::Owner)
                        && r.req.size.is_some()
                })
            },
        )
        .await;
        let acme = d.select("owner@acme.example");
        d.key(KeyCode::Char('n'));
        d.typed("Confirmed scope with Ada: everything.");
        d.ctrl('s');
        assert_eq!(
            d.req(acme).notes.len(),
            1,
            "the note is in the store at once"
        );
        d.key(KeyCode::Char('a'));
        d.key(KeyCode::Char('y'));
        d.until("Acme exported and emailed", Duration::from_secs(60), |a| {
            a.state
                .rows
                .iter()
                .any(|r| r.req.id == acme && r.req.state == RequestState::Done)
        })
        .await;
        assert_eq!(d.req(acme).job.clone().unwrap().status, JobStatus::Emailed);
        assert_eq!(d.app.runtime.store.estimate_history().unwrap().len(), 1);

        d.clear_filter();
        let agent = d.select("agent@acme.example");
        d.key(KeyCode::Char('x'));
        d.key(KeyCode::Enter);
        d.typed("agent, not an owner or admin");
        d.key(KeyCode::Enter);
        d.ctrl('s');
        d.key(KeyCode::Char('y'));
        d.until("the rejection reply sent", Duration::from_secs(20), |a| {
            a.state.rows.iter().any(|r| {
                r.req.id == agent
                    && r.req.state == RequestState::Rejected
                    && r.req.replies.iter().any(|x| x.state == ReplyState::Sent)
            })
        })
        .await;
    });
    drop(rt);
    // What the screen did is in the team store, seen from another connection.
    let store = Store::open_at(&Location::Postgres(target)).unwrap();
    let all = store.load_requests().unwrap();
    let acme = all
        .iter()
        .find(|r| r.from.as_deref() == Some("owner@acme.example"))
        .unwrap();
    assert_eq!(acme.state, RequestState::Done);
    assert_eq!(acme.notes[0].text, "Confirmed scope with Ada: everything.");
    assert!(all.iter().any(|r| r.state == RequestState::Rejected));
    assert!(audit::verify(store.conn()).unwrap().unwrap() > 5);
}

//! The screen's `App` in process, driven through its own message channel
//! as the terminal drives it (no tmux: see [`crate::screen`] for that):
//! the [`Setup`] a test opens it with, the demo world around it (the real
//! reference backend as a child process, the demo Maildir inbox, a Maildir
//! outbox), and a [`Driver`] that presses keys and waits for a state.
//!
//! ```ignore
//! let demo = Demo::start();
//! let mut d = Driver::start(demo.setup(demo.store_file().into())).await;
//! d.until("the inbox read", Duration::from_secs(30), |a| !a.state.rows.is_empty()).await;
//! ```

use concierge::demo::DemoBackend;
use concierge::store::requests::RequestView;
use concierge::store::Location;
use concierge::tui::app::{App, Event, Inbox, Setup};
use concierge::tui::msg::Msg;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// The From line of every reply and link email in the tests.
pub const FROM: &str = "Ochre Concierge <hello@ochrehq.com>";
/// The only Authentication-Results issuer the tests trust.
pub const AUTHSERV_ID: &str = "mx.ochrehq.com";

/// A screen on `store` with nothing around it: no backend, no outgoing
/// mail, no outboxes; `inbox` is what it polls (often [`Inbox::None`]).
pub fn setup(store: Location, operator: &str, inbox: Inbox) -> Setup {
    Setup {
        store_path: store,
        operator: operator.into(),
        operator_email: None,
        rates: concierge::estimate::Rates::default(),
        keys: concierge::tui::keys::KeyMap::default(),
        templates: concierge::mail::templates::Templates::load(None).unwrap(),
        backend: None,
        sender: None,
        from: FROM.into(),
        inbox,
        authserv_id: AUTHSERV_ID.into(),
        outboxes: vec![],
        config: None,
        // Fast enough that a job's progress shows within a test's deadline.
        job_poll: Duration::from_millis(100),
        backend_gone: None,
        follow_demo: None,
    }
}

/// A screen on `store` talking to the reference backend `backend`, its
/// replies written to the Maildir outbox `dir/outbox` (where the backend
/// writes its link emails too). `who` is the operator's name and email.
pub fn setup_with_backend(
    store: Location,
    dir: &Path,
    backend: &DemoBackend,
    who: (&str, Option<&str>),
    inbox: Inbox,
) -> Setup {
    let client = concierge::backend::BackendClient::new(
        &backend.url,
        concierge::secret::Secret::new(backend.token.clone()),
        who.0,
    )
    .unwrap();
    Setup {
        operator_email: who.1.map(Into::into),
        backend: Some(client),
        sender: Some(concierge::mail::outgoing::Sender::Maildir(
            dir.join("outbox"),
        )),
        outboxes: vec![dir.join("outbox")],
        ..setup(store, who.0, inbox)
    }
}

/// The demo world: a temp dir holding the demo mails (`inbox/`), the
/// reference backend seeded with the demo workspaces (a child process,
/// link emails to `outbox/`).
pub struct Demo {
    pub dir: tempfile::TempDir,
    pub backend: DemoBackend,
}

impl Demo {
    pub fn start() -> Demo {
        let dir = tempfile::tempdir().unwrap();
        concierge::demo::write_maildir(&dir.path().join("inbox")).unwrap();
        let backend = concierge::demo::start_backend(
            crate::concierge_bin(),
            dir.path(),
            &dir.path().join("outbox"),
            None,
        )
        .unwrap();
        Demo { dir, backend }
    }

    /// The SQLite file a solo screen uses here.
    pub fn store_file(&self) -> PathBuf {
        self.dir.path().join("concierge.db")
    }

    /// The demo inbox.
    pub fn inbox(&self) -> Inbox {
        Inbox::Maildir(self.dir.path().join("inbox"))
    }

    /// Sam's screen on `store`, polling the demo inbox.
    pub fn setup(&self, store: Location) -> Setup {
        self.setup_as(store, ("Sam", None), self.inbox())
    }

    /// Another operator's screen on `store`.
    pub fn setup_as(&self, store: Location, who: (&str, Option<&str>), inbox: Inbox) -> Setup {
        setup_with_backend(store, self.dir.path(), &self.backend, who, inbox)
    }
}

/// A running `App` and the receiving end of its channel.
pub struct Driver {
    pub app: App,
    rx: mpsc::UnboundedReceiver<Event>,
}

impl Driver {
    /// Starts the app (on the caller's tokio runtime: it spawns workers).
    pub async fn start(setup: Setup) -> Driver {
        let (tx, rx) = mpsc::unbounded_channel();
        let app = App::start(setup, tx).unwrap();
        Driver { app, rx }
    }

    /// Processes events until `cond` holds, or panics after `within` with
    /// the status line and every row's state.
    ///
    /// NOTE: `within` is kept exact. Some tests make it a bound on the
    /// product, not only a failure guard (backend_health: the backend seen
    /// down within 20 s, below the 30 s a single request may take), so a
    /// floor for slow machines here would let such a test pass on a bug.
    pub async fn until(&mut self, what: &str, within: Duration, cond: impl Fn(&App) -> bool) {
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

    pub fn key(&mut self, code: KeyCode) {
        self.app.handle(Event::Msg(Msg::Key(KeyEvent::new(
            code,
            KeyModifiers::NONE,
        ))));
    }

    pub fn ctrl(&mut self, c: char) {
        self.app.handle(Event::Msg(Msg::Key(KeyEvent::new(
            KeyCode::Char(c),
            KeyModifiers::CONTROL,
        ))));
    }

    pub fn typed(&mut self, text: &str) {
        for c in text.chars() {
            self.key(KeyCode::Char(c));
        }
    }

    /// Filters on the address `from` and takes the selection the filter
    /// leaves; it must be a request from `from`.
    pub fn select(&mut self, from: &str) -> i64 {
        self.filter(from);
        self.selected_from(from)
    }

    /// Like [`Driver::select`], for an address with more than one request:
    /// the first one (from the top of what the filter shows) that the
    /// lookup resolved to a member. (The spoofed demo mail is from
    /// owner@acme.example too; the filter keeps the selection it had, which
    /// depends on the order the rows arrived in: one batch, or one by one
    /// through the change feed.)
    pub fn select_member(&mut self, from: &str) -> i64 {
        self.filter(from);
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
        self.selected_from(from)
    }

    fn filter(&mut self, from: &str) {
        self.key(KeyCode::Char('/'));
        self.typed(from);
        self.key(KeyCode::Enter);
    }

    fn selected_from(&self, from: &str) -> i64 {
        let row = self
            .app
            .state
            .current()
            .unwrap_or_else(|| panic!("no request from {from}"));
        assert_eq!(row.req.from.as_deref(), Some(from));
        row.req.id
    }

    pub fn clear_filter(&mut self) {
        self.key(KeyCode::Char('/'));
        self.key(KeyCode::Esc);
    }

    /// The request `id` as the screen has it.
    pub fn req(&self, id: i64) -> &RequestView {
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

//! Two screens on one SQLite store: what one writes, the other shows, by the
//! change feed (no reload of everything). Real store file, the same `App`
//! the terminal runs, driven by key presses; no sleeps, conditions polled
//! with a deadline.

use concierge::store::Store;
use concierge::tui::app::{App, Event, Inbox, Setup};
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
fn seed(path: &Path, n: u32) {
    let mut store = Store::open(path).unwrap();
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
    pub fn open(path: &Path, operator: &str) -> Screen {
        let setup = Setup {
            store_path: path.to_path_buf(),
            operator: operator.into(),
            rates: concierge::estimate::Rates::default(),
            keys: concierge::tui::keys::KeyMap::default(),
            templates: concierge::mail::templates::Templates::load(None).unwrap(),
            backend: None,
            sender: None,
            from: "Ochre Concierge <hello@ochrehq.com>".into(),
            inbox: Inbox::None,
            authserv_id: "mx.ochrehq.com".into(),
            outboxes: vec![],
            config: None,
            job_poll: Duration::from_millis(100),
        };
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
    let path = dir.path().join("team.db");
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
    use concierge::store::presence::Activity;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("team.db");
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

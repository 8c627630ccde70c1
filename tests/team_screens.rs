//! Two operators' screens on one store, end to end: the real `App` twice
//! (Kim's polls the demo inbox, Sam's does not), the real reference backend,
//! one SQLite file. Kim acknowledges a request while Sam has the same
//! acknowledgement open for sending: Sam's send stops, says why, and
//! nothing is sent twice.

use concierge::domain::{ReplyState, Role};
use concierge::mail::templates::Template;
use concierge::tui::app::{App, Event, Inbox, Setup};
use concierge::tui::msg::Msg;
use concierge::tui::state::{Confirm, Mode};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

fn setup(
    dir: &Path,
    backend: &concierge::demo::DemoBackend,
    who: (&str, &str),
    inbox: Inbox,
) -> Setup {
    concierge_test_support::app::setup_with_backend(
        dir.join("concierge.db").into(),
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
        let row = self.app.state.current().expect("the request is listed");
        assert_eq!(row.req.from.as_deref(), Some(from));
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

#[test]
fn a_colleagues_acknowledgement_stops_mine_with_the_reason_and_nothing_goes_twice() {
    let dir = tempfile::tempdir().unwrap();
    concierge::demo::write_maildir(&dir.path().join("inbox")).unwrap();
    let backend = concierge::demo::start_backend(
        Path::new(env!("CARGO_BIN_EXE_concierge")),
        dir.path(),
        &dir.path().join("outbox"),
        None,
    )
    .unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let inbox = Inbox::Maildir(dir.path().join("inbox"));
        let mut kim = Screen::start(setup(
            dir.path(),
            &backend,
            ("Kim", "kim@ochrehq.com"),
            inbox,
        ));
        kim.until(
            "the owner's request resolved",
            Duration::from_secs(30),
            |a| {
                a.state.rows.iter().any(|r| {
                    r.req.from.as_deref() == Some("owner@acme.example")
                        && r.req.role == Some(Role::Owner)
                })
            },
        )
        .await;
        let mut sam = Screen::start(setup(
            dir.path(),
            &backend,
            ("Sam", "sam@ochrehq.com"),
            Inbox::None,
        ));
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

        let acks = concierge::tui::app::read_outboxes(&[dir.path().join("outbox")])
            .into_iter()
            .filter(|m| m.to == "owner@acme.example" && !m.subject.contains("ready"))
            .count();
        assert_eq!(acks, 1, "one acknowledgement went out");
        let store = concierge::store::Store::open(&dir.path().join("concierge.db")).unwrap();
        assert_eq!(
            store.replies(id).unwrap().len(),
            1,
            "Sam's was never recorded"
        );
    });
    drop(backend);
}

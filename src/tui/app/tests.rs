//! The runtime driven by recorded events: workers' outcomes are plain data,
//! so a recorded run replays to the same commands and the same state.

use super::*;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::time::Instant;

const MAIL: &str = "From: Ada Owner <owner@acme.example>\r\nTo: hello@ochrehq.com\r\n\
Message-ID: <replay-1@acme.example>\r\nDate: Mon, 2 Nov 2026 09:00:00 +0000\r\n\
Subject: Data export request: Acme Support\r\n\r\n\
Please export the workspace Acme Support.\r\nRole: owner\r\n";

/// A store file holding one request, and the app on it (no backend, the
/// outbox a Maildir, no inbox worker).
fn app_on(dir: &std::path::Path) -> (App, mpsc::UnboundedReceiver<Event>) {
    let path = dir.join("concierge.db");
    let mut store = Store::open(&path).unwrap();
    let inspected = crate::intake::inspect(MAIL.as_bytes(), &Default::default());
    let key = inspected.store_key(MAIL.as_bytes());
    store
        .store_batch("INBOX", &[(inspected, key, None)], None)
        .unwrap();
    drop(store);
    let setup = Setup {
        store_path: path.into(),
        operator: "Sam".into(),
        operator_email: None,
        rates: Rates::default(),
        keys: KeyMap::default(),
        templates: Templates::load(None).unwrap(),
        backend: None,
        sender: Some(Sender::Maildir(dir.join("outbox"))),
        from: "Ochre Concierge <hello@ochrehq.com>".into(),
        inbox: Inbox::None,
        authserv_id: "mx.ochrehq.com".into(),
        outboxes: vec![],
        config: None,
        job_poll: Duration::from_millis(100),
        backend_gone: None,
        follow_demo: None,
    };
    let (tx, rx) = mpsc::unbounded_channel();
    (App::start(setup, tx).unwrap(), rx)
}

fn key(code: KeyCode) -> Event {
    Event::Msg(Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

fn ch(c: char) -> Event {
    key(KeyCode::Char(c))
}

fn ctrl(c: char) -> Event {
    Event::Msg(Msg::Key(KeyEvent::new(
        KeyCode::Char(c),
        KeyModifiers::CONTROL,
    )))
}

fn typed(text: &str) -> Vec<Event> {
    text.chars().map(ch).collect()
}

/// What the screen shows, without wall-clock times (which differ per run).
fn seen(app: &App) -> String {
    let rows: Vec<_> = app
        .state
        .rows
        .iter()
        .map(|r| {
            let notes: Vec<_> = r.req.notes.iter().map(|n| (&n.author, &n.text)).collect();
            let replies: Vec<_> = r
                .req
                .replies
                .iter()
                .map(|p| (p.id, &p.template, p.state, &p.to))
                .collect();
            format!("{} {:?} {notes:?} {replies:?}", r.req.id, r.req.state)
        })
        .collect();
    format!(
        "{rows:?} status={:?} pending={:?} normal={}",
        app.state.status,
        app.state.pending,
        app.state.mode.is_normal()
    )
}

/// A note; a note through `$EDITOR` (the terminal's answer recorded as
/// `Msg::Edited`); a reply, whose sending a worker reports.
fn script() -> Vec<Event> {
    let mut s = vec![ch('n')];
    s.extend(typed("Scope: all"));
    s.extend([ctrl('s'), ch('n'), ch('x'), ctrl('e')]);
    s
}

fn script_after_edit() -> Vec<Event> {
    vec![
        Event::Msg(Msg::Edited("edited in vi".into())),
        ctrl('s'),
        ch('r'),
        key(KeyCode::Enter),
        ctrl('s'),
        ch('y'),
    ]
}

#[tokio::test]
async fn a_recorded_run_replays_to_the_same_commands_and_state_twice() {
    // The live run: scripted keys, then whatever the workers (and the
    // change feed) report.
    let live_dir = tempfile::tempdir().unwrap();
    let (mut app, mut rx) = app_on(live_dir.path());
    let mut recorded = Vec::new();
    let mut commands = Vec::new();
    for ev in script() {
        recorded.push(ev.clone());
        commands.push(app.handle(ev));
    }
    // `update` asked for `$EDITOR` with the note's text; the terminal
    // would answer with the edited text.
    assert_eq!(app.take_edit().as_deref(), Some("x"));
    for ev in script_after_edit() {
        recorded.push(ev.clone());
        commands.push(app.handle(ev));
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while !app.state.rows[0]
        .req
        .replies
        .iter()
        .any(|r| r.state == crate::domain::ReplyState::Sent)
    {
        let left = deadline.saturating_duration_since(Instant::now());
        let ev = tokio::time::timeout(left, rx.recv())
            .await
            .expect("the reply's outcome within 20 s")
            .unwrap();
        recorded.push(ev.clone());
        commands.push(app.handle(ev));
    }
    let live = seen(&app);
    assert!(
        live.contains("Scope: all") && live.contains("edited in vi"),
        "{live}"
    );
    // Replayed twice on fresh stores: the same commands, the same screen.
    for _ in 0..2 {
        let dir = tempfile::tempdir().unwrap();
        let (mut again, _rx) = app_on(dir.path());
        let replayed: Vec<Vec<Command>> = recorded
            .iter()
            .cloned()
            .map(|ev| again.handle(ev))
            .collect();
        assert_eq!(replayed, commands);
        assert_eq!(seen(&again), live);
    }
}

/// A SQLite store location that cannot be opened while the returned path
/// (a file standing where its directory goes) exists: remove it and the
/// store opens. What a worker sees when the store goes away as it starts.
pub(super) fn blocked_store(dir: &std::path::Path) -> (std::path::PathBuf, crate::store::Location) {
    let blocker = dir.join("later");
    std::fs::write(&blocker, "in the way").unwrap();
    let at = crate::store::Location::Sqlite(blocker.join("c.db"));
    (blocker, at)
}

/// The first message a worker sends that `pick` takes (others skipped),
/// within 30 s.
pub(super) fn next_msg<T>(
    rx: &mut mpsc::UnboundedReceiver<Event>,
    mut pick: impl FnMut(Msg) -> Option<T>,
) -> Option<T> {
    let deadline = Instant::now() + std::time::Duration::from_secs(30);
    while Instant::now() < deadline {
        match rx.try_recv() {
            Ok(Event::Msg(m)) => {
                if let Some(t) = pick(m) {
                    return Some(t);
                }
            }
            Ok(_) => {}
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(20)),
        }
    }
    None
}

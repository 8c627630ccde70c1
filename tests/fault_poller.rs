//! The inbox poller (`concierge sync`, the team's always-on process) killed
//! with SIGKILL in the middle of a large sync, then started again (issue
//! 14's fault harness). A TCP proxy between the poller and Dovecot passes
//! the first part of the mailbox and then holds the connection in the
//! middle of a FETCH, so the kill always lands mid-batch with some batches
//! stored and some not — not whenever a race allows. Checked from outside,
//! in the store file: every message stored exactly once, and the cursor at
//! the mailbox's last UID under its UIDVALIDITY.

use concierge_test_support as support;
use concierge_test_support::proxy;

use concierge::store::Store;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_concierge");
/// Five of the sync's batches (50, 100, 200, then 500 messages each).
const MESSAGES: usize = 1_500;

fn request(n: usize) -> Vec<u8> {
    format!(
        "Authentication-Results: mx.ochrehq.com; dkim=pass header.d=ws{n}.example; spf=pass; dmarc=pass\r\n\
         From: Owner {n} <owner{n}@ws{n}.example>\r\n\
         To: hello@ochrehq.com\r\n\
         Date: Mon, 23 Nov 2026 09:14:05 +0000\r\n\
         Message-ID: <req-{n}@ws{n}.example>\r\n\
         Subject: Data export request: Workspace {n}\r\n\
         \r\n\
         Hello, please export workspace {n}.\r\n\
         Workspace: Workspace {n}\r\n"
    )
    .into_bytes()
}

fn sync(config: &Path, once: bool) -> std::process::Child {
    let mut cmd = Command::new(BIN);
    cmd.arg("sync");
    if once {
        cmd.arg("--once");
    }
    cmd.arg("--config")
        .arg(config)
        .env("POLLER_TEST_PW", support::dovecot::PASSWORD)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn concierge sync")
}

/// Dovecot holding `MESSAGES` requests (`mailbox_bytes` in all), and a
/// fault proxy in front of its IMAP port (on `rt`, which must outlive it).
fn mailbox_behind_a_proxy() -> (
    support::dovecot::Dovecot,
    usize,
    tokio::runtime::Runtime,
    proxy::Proxy,
) {
    let dovecot = support::dovecot::Dovecot::start();
    dovecot.seed_many((0..MESSAGES).map(request));
    let mailbox_bytes: usize = (0..MESSAGES).map(|n| request(n).len()).sum();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let proxy = rt.block_on(proxy::Proxy::start(&format!(
        "127.0.0.1:{}",
        dovecot.imap_port()
    )));
    (dovecot, mailbox_bytes, rt, proxy)
}

/// The store's request count, or None while it cannot be read (not made
/// yet, locked).
///
/// NOTE: read-only, not `Store::open`. The tests poll this every 10 ms
/// while the poller writes the same file, and `Store::open` creates the
/// file when it is missing (the first polls come before the poller has
/// started), sets it up and migrates it: writes that race the poller's
/// own. Reading only, the test stays out of the poller's way. (This is not
/// what made a CI run take 63.84 s here once: that is reproduced with
/// either kind of poll, see the report of branch `flaky`.)
fn requests(db: &Path) -> Option<i64> {
    if !db.exists() {
        return None;
    }
    let c = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .ok()?;
    c.query_row("SELECT COUNT(*) FROM requests", [], |r| r.get(0))
        .ok()
}

#[test]
fn a_poller_killed_mid_batch_loses_and_duplicates_nothing_on_restart() {
    let (dovecot, mailbox_bytes, _rt, proxy) = mailbox_behind_a_proxy();
    // The first connection: greeting, login, listing and the first batches
    // pass, then the answer stops half-way through the mailbox, inside the
    // fourth batch (351–850; FETCH adds its framing).
    proxy.push(proxy::Fault::StallAfter(mailbox_bytes / 2));
    let port = proxy.url.rsplit(':').next().unwrap().to_string();

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("concierge.db");
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[imap]\nhost = \"127.0.0.1\"\nport = {port}\nsecurity = \"none\"\nusername = \"{}\"\n\
             password_env = \"POLLER_TEST_PW\"\n[store]\npath = \"{}\"\n",
            dovecot.user(),
            db.display()
        ),
    )
    .unwrap();

    let mut poller = sync(&config, false);
    // Wait until the first batches are stored and the answer has stalled,
    // then kill -9 while the next batch is stuck in the proxy.
    let mut stored = 0;
    let reached = support::wait_until(Instant::now() + Duration::from_secs(120), || {
        stored = requests(&db).unwrap_or(0);
        stored >= before_stall() && proxy.stalled() > 0
    });
    poller.kill().unwrap();
    let killed = poller.wait_with_output().unwrap();
    assert!(
        reached,
        "the first batches were never stored ({stored}); the poller said: {}",
        String::from_utf8_lossy(&killed.stderr)
    );
    let at_kill = requests(&db).unwrap();
    assert!(
        (before_stall()..MESSAGES as i64).contains(&at_kill),
        "not killed mid-sync: {at_kill} of {MESSAGES} stored over {} connection(s); \
         the poller said: {}",
        proxy.connections(),
        String::from_utf8_lossy(&killed.stderr)
    );
    let cursor = Store::open(&db)
        .unwrap()
        .cursor(&format!("imap://{}@127.0.0.1:{port}/INBOX", dovecot.user()))
        .unwrap()
        .expect("a cursor for the stored batches");
    assert_eq!(
        i64::from(cursor.last_uid),
        at_kill,
        "the cursor covers exactly what was stored (UIDs 1..=N in seeding order)"
    );

    // Started again (the proxy passes everything now): the rest arrives.
    let out = sync(&config, true).wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = String::from_utf8_lossy(&out.stdout).lines().count();
    assert_eq!(
        lines as i64,
        MESSAGES as i64 - at_kill,
        "the restart stored again what was stored before the kill, or missed some"
    );
    let store = Store::open(&db).unwrap();
    assert_eq!(store.request_count().unwrap(), MESSAGES as i64);
    let ids: std::collections::BTreeSet<String> = store
        .load_requests()
        .unwrap()
        .into_iter()
        .map(|r| r.message_id)
        .collect();
    assert_eq!(ids.len(), MESSAGES, "some request is in the store twice");
    let cursor = store
        .cursor(&format!("imap://{}@127.0.0.1:{port}/INBOX", dovecot.user()))
        .unwrap()
        .unwrap();
    assert_eq!(cursor.last_uid as usize, MESSAGES);
    assert_eq!(cursor.uidvalidity, dovecot.uidvalidity());

    // And once more: nothing new, nothing stored again.
    let out = sync(&config, true).wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 0);
    assert_eq!(requests(&db), Some(MESSAGES as i64));
    drop(proxy);
}

// ------------------------------------------------------------- a prompt stop
//
// Quitting the screen asks the in-process poller to stop while it is
// blocked in a socket read (IDLE for up to `idle_timeout`, or a FETCH answer
// for up to the 60 s read timeout). The stop must end that read at once and
// leave the store as a finished batch left it. The 20 s deadlines on the
// stops below are only failure guards, far below the waits the stop must cut short (600 s
// of IDLE, 60 s of read timeout) and far above the milliseconds it takes.

use concierge::config::Connection;
use concierge::secret::Secret;
use concierge::sync::{Poller, PollerEvent, PollerOptions};

/// The failure guard: far above the expected milliseconds, far below the
/// 60 s read timeout and the 600 s IDLE that only a prompt stop can cut.
const GUARD: Duration = Duration::from_secs(20);

/// How long a wait for the poller to get somewhere (its first sync, its
/// IDLE) polls: those waits end as soon as it gets there, and they include
/// a Dovecot login and a sync on what may be a loaded 2-vCPU CI machine.
/// Only the stop itself is held to [`GUARD`].
const ARRIVAL: Duration = Duration::from_secs(60);

/// In-process pollers in this file run one at a time: the tests find the
/// poller's thread by its name.
static ONE_POLLER: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_poller() -> std::sync::MutexGuard<'static, ()> {
    ONE_POLLER.lock().unwrap_or_else(|e| e.into_inner())
}

/// Requests surely stored before the stall: the sync's first two batches.
///
/// NOTE: not the whole ramp (50 + 100 + 200), though the proxy passes all
/// of the third batch's data. The fetch sends the next batch's command
/// before it reads this one's answer, and Dovecot may then run the two at
/// once: the fourth batch's data follows the third's at once, and the
/// third's tagged OK waits behind the fourth's output, which stalls. The
/// third batch is then never complete, and a test that waited for 350
/// waited out the 60 s read timeout and passed only if a poll landed mid
/// catch-up (a CI run took 63.84 s; locally, three runs at once beside two
/// busy loops, 9 of 126 runs did, the 6 traced all stuck at 150; in a
/// proxy dump of one, `* 351 FETCH` came straight after message 350 and
/// `c7 OK` never; with the wait below, 0 of 42). The second batch's OK has
/// come before the fourth batch's command is sent, so it cannot be held so.
fn before_stall() -> i64 {
    let ramp = concierge::sync::RAMP;
    (ramp[0] + ramp[1]) as i64
}

fn imap(user: &str, port: u16) -> Connection {
    support::imap_server::plain_at(port, user)
}

/// The ids of this process's threads named `imap-poller` (a poller, or its
/// fetcher, which inherits the name).
fn poller_threads() -> std::collections::HashSet<String> {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Default::default();
    };
    tasks
        .flatten()
        .filter(|t| {
            std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.trim() == "imap-poller")
        })
        .map(|t| t.file_name().to_string_lossy().into_owned())
        .collect()
}

/// Whether a poller thread other than the `earlier` ones (a poller of an
/// earlier test may linger while it winds down) is asleep in a TCP read:
/// on Linux, its kernel wait channel is `wait_woken`, where `tcp_recvmsg`
/// waits for data.
fn poller_blocked_in_a_read(earlier: &std::collections::HashSet<String>) -> bool {
    poller_threads().difference(earlier).any(|tid| {
        std::fs::read_to_string(format!("/proc/self/task/{tid}/wchan"))
            .is_ok_and(|w| w.trim() == "wait_woken")
    })
}

/// Stops the poller and returns the events it sent after the stop; panics
/// when it has not stopped (its channel still open) within [`GUARD`].
fn stop_and_collect(p: &Poller) -> Vec<String> {
    p.stop();
    let deadline = Instant::now() + GUARD;
    let mut after = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match p.events.recv_timeout(left) {
            Ok(ev) => after.push(format!("{ev:?}")),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return after,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => panic!(
                "the poller was still running {GUARD:?} after the stop; events since: {after:?}"
            ),
        }
    }
}

#[test]
fn a_poller_waiting_in_idle_stops_as_soon_as_it_is_asked() {
    let _one = one_poller();
    let dovecot = support::dovecot::Dovecot::start();
    dovecot.seed("r1", &request(1));
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("concierge.db");
    let opts = PollerOptions {
        // Left alone, the IDLE would last 10 minutes.
        idle_timeout: Duration::from_secs(600),
        poll_interval: Duration::from_secs(3600),
        ..PollerOptions::default()
    };
    let cfg = imap(dovecot.user(), dovecot.imap_port());
    let earlier = poller_threads();
    let p = Poller::start(cfg, Secret::new(dovecot.password()), db.clone(), opts);
    let mut before = Vec::new();
    let synced = support::wait_until(Instant::now() + ARRIVAL, || {
        match p.events.recv_timeout(Duration::from_millis(100)) {
            Ok(PollerEvent::Synced(msgs, _)) if !msgs.is_empty() => true,
            Ok(ev) => {
                before.push(format!("{ev:?}"));
                false
            }
            Err(_) => false,
        }
    });
    assert!(synced, "the first sync never came: {before:?}");
    // After a sync the poller's only read is the IDLE: once it is asleep in
    // a read, it waits in IDLE.
    assert!(
        support::wait_until(Instant::now() + ARRIVAL, || {
            poller_blocked_in_a_read(&earlier)
        }),
        "the poller never settled into IDLE"
    );
    let after = stop_and_collect(&p);
    assert!(
        after.is_empty(),
        "a stop is no failure, and nothing is synced after it: {after:?}"
    );
    let store = Store::open(&db).unwrap();
    assert_eq!(store.request_count().unwrap(), 1);
    let key = format!(
        "imap://{}@127.0.0.1:{}/INBOX",
        dovecot.user(),
        dovecot.imap_port()
    );
    let cursor = store.cursor(&key).unwrap().expect("the cursor of the sync");
    assert_eq!(cursor.last_uid, 1);
}

#[test]
fn a_poller_stopped_in_the_middle_of_a_fetch_stores_no_half_batch() {
    let _one = one_poller();
    let (dovecot, mailbox_bytes, _rt, proxy) = mailbox_behind_a_proxy();
    // The first batches pass; the answer stops half-way through the
    // mailbox, inside a batch (the sync's first batches are `sync::RAMP`,
    // 350 messages, then 500 each: the stall falls in the fourth).
    proxy.push(proxy::Fault::StallAfter(mailbox_bytes / 2));
    let port: u16 = proxy.url.rsplit(':').next().unwrap().parse().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("concierge.db");
    let earlier = poller_threads();
    let p = Poller::start(
        imap(dovecot.user(), port),
        Secret::new(dovecot.password()),
        db.clone(),
        PollerOptions::default(),
    );
    let mut stored = 0;
    let stuck = support::wait_until(Instant::now() + Duration::from_secs(120), || {
        stored = requests(&db).unwrap_or(0);
        stored >= before_stall() && proxy.stalled() > 0 && poller_blocked_in_a_read(&earlier)
    });
    assert!(
        stuck,
        "never stuck after the first batches ({stored} stored)"
    );
    let after = stop_and_collect(&p);
    assert!(
        !after
            .iter()
            .any(|e| e.starts_with("Down") || e.starts_with("Fatal")),
        "a stop is no failure: {after:?}"
    );
    let key = format!("imap://{}@127.0.0.1:{port}/INBOX", dovecot.user());
    let at_stop = requests(&db).unwrap();
    assert!(
        (before_stall()..MESSAGES as i64).contains(&at_stop),
        "not stopped mid-sync: {at_stop} of {MESSAGES} stored"
    );
    let cursor = Store::open(&db).unwrap().cursor(&key).unwrap().unwrap();
    assert_eq!(
        i64::from(cursor.last_uid),
        at_stop,
        "the cursor covers exactly what was stored (UIDs 1..=N in seeding order)"
    );

    // The next sync (the proxy passes everything now) stores the rest once.
    let mut src = concierge::inbox::imap::ImapSource::connect(
        &imap(dovecot.user(), port),
        &Secret::new(dovecot.password()),
    )
    .unwrap();
    let mut store = Store::open(&db).unwrap();
    let report = concierge::sync::sync_once(&mut src, &mut store, "mx.ochrehq.com").unwrap();
    assert_eq!(report.stored.len() as i64, MESSAGES as i64 - at_stop);
    assert_eq!(store.request_count().unwrap(), MESSAGES as i64);
    assert_eq!(
        store.cursor(&key).unwrap().unwrap().last_uid as usize,
        MESSAGES
    );
    drop(proxy);
}

#[test]
fn quitting_the_screen_while_its_poller_waits_in_idle_is_prompt() {
    use concierge::tui::app::{App, Event, Inbox};
    use concierge::tui::state::Health;
    let _one = one_poller();
    let dovecot = support::dovecot::Dovecot::start();
    dovecot.seed("r1", &request(1));
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let setup = support::app::setup(
        dir.path().join("concierge.db").into(),
        "Sam",
        Inbox::Imap {
            cfg: imap(dovecot.user(), dovecot.imap_port()),
            password: Secret::new(dovecot.password()),
        },
    );

    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Event>();
    let earlier = poller_threads();
    let mut app = rt.block_on(async { App::start(setup, tx) }).unwrap();
    // The request arrives through the poller, which then waits in IDLE.
    let arrived = rt.block_on(async {
        let deadline = Instant::now() + ARRIVAL;
        while app.state.rows.is_empty() || app.state.inbox != Health::Up("IDLE".into()) {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, rx.recv()).await {
                Ok(Some(ev)) => {
                    app.handle(ev);
                }
                _ => return false,
            }
        }
        true
    });
    assert!(arrived, "the inbox never came up: {:?}", app.state.inbox);
    assert!(
        support::wait_until(Instant::now() + ARRIVAL, || {
            poller_blocked_in_a_read(&earlier)
        }),
        "the poller never settled into IDLE"
    );
    // Quit: `q` on an idle screen, then the loop ends and drops the app;
    // the runtime's end waits for its blocking tasks (the inbox worker).
    let q = crossterm::event::KeyEvent::new(
        crossterm::event::KeyCode::Char('q'),
        crossterm::event::KeyModifiers::NONE,
    );
    rt.block_on(async { app.handle(Event::Msg(concierge::tui::msg::Msg::Key(q))) });
    assert!(app.state.quit, "q did not quit: {:?}", app.state.mode);
    drop(app);
    drop(rx);
    let (done, ended) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        drop(rt);
        let _ = done.send(());
    });
    ended
        .recv_timeout(GUARD)
        .expect("the runtime still waits for the inbox worker after quitting");
}

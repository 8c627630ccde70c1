//! Quitting the screen while its workers are still connecting ends the
//! process at once, not after their connect timeouts (10 s per team-store
//! connection, store/pg.rs). The team store here is a real PostgreSQL
//! behind the fault proxy (crates/test-support/src/proxy.rs): the screen's
//! own connection passes, every later one (the workers': inbox, presence,
//! change feed) is accepted and never answered. The exit is polled with a
//! deadline that ends one connect timeout after the screen was started,
//! before any worker's connect could have timed out.
//!
//! The same for a reply being filed over IMAP (`\Answered`, the Sent copy)
//! when the real Dovecot behind the proxy is held silent: the screen quits
//! at once, and its next start, with the server answering, files the reply.

use concierge_test_support as support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::imap_server::ImapServer;
use support::proxy::{Fault, Proxy};
use support::screen::Pty;
use support::smtp::SmtpSink;

/// The screen on `config` (files under `dir`, `secret` in the environment)
/// in a fresh terminal, up to its queue.
fn screen(dir: &std::path::Path, config: &std::path::Path, secret: (&str, &str)) -> Pty {
    let pty_dir = dir.join("pty");
    std::fs::create_dir_all(&pty_dir).unwrap();
    let mut pty = Pty::new(&pty_dir);
    start_screen(&mut pty, dir, config, secret);
    pty
}

/// [`screen`] again in the same terminal (a restart).
fn start_screen(
    pty: &mut Pty,
    dir: &std::path::Path,
    config: &std::path::Path,
    secret: (&str, &str),
) {
    let xdg = dir.join("xdg");
    pty.spawn(
        &["--config", config.to_str().unwrap()],
        &[
            secret,
            ("TERM", "xterm-256color"),
            ("XDG_DATA_HOME", xdg.to_str().unwrap()),
            ("HOME", dir.to_str().unwrap()),
        ],
    );
    pty.wait_screen("the queue", Duration::from_secs(30), |s| {
        s.contains("Queue")
    });
}

/// The screen's exit code, waited for until `spawned + timeout`: a worker
/// that connects after `spawned` (taken before the screen was started) can
/// time out no earlier than that, so an exit seen before it did not wait
/// for one. Measured from the start, not from the `q`, this holds however
/// slowly a loaded machine gets from the start to the `q` (a fixed few
/// seconds after the `q` could be too short there, or, late enough, let an
/// exit after a timeout pass).
fn exit_before_a_timeout(pty: &Pty, spawned: Instant, timeout: Duration) -> i32 {
    let left = (spawned + timeout).saturating_duration_since(Instant::now());
    assert!(
        !left.is_zero(),
        "{:?} from the start to the q: a prompt exit cannot be told from a {timeout:?} timeout",
        spawned.elapsed()
    );
    pty.wait_exit(left)
}

#[test]
fn quitting_while_workers_wait_on_a_silent_team_store_ends_the_process_promptly() {
    let url = support::postgres::server().fresh_database();
    // Migrated first: the screen's own connection then only reads.
    concierge::store::Store::connect_pg(&support::postgres::target(&url)).unwrap();
    let rest = url.strip_prefix("postgres://postgres@").unwrap();
    let (upstream, db) = rest.split_once('/').unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let proxy = rt.block_on(Proxy::start(upstream));
    proxy.push(Fault::Pass);
    for _ in 0..32 {
        proxy.push(Fault::Stall);
    }
    let via = proxy.url.strip_prefix("http://").unwrap();

    let dir = tempfile::tempdir().unwrap();
    concierge::demo::write_maildir(&dir.path().join("inbox")).unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[operator]\nname = \"Sam\"\nemail = \"sam@ochrehq.com\"\n\
             [intake]\nsource = \"maildir\"\nmaildir = \"{}\"\n\
             [store]\nurl = \"postgres://postgres@{via}/{db}\"\n\
             password_env = \"CONCIERGE_TEST_DB_PASSWORD\"\n",
            dir.path().join("inbox").display()
        ),
    )
    .unwrap();
    let db_secret = ("CONCIERGE_TEST_DB_PASSWORD", support::postgres::PASSWORD);
    let spawned = Instant::now();
    let pty = screen(dir.path(), &config, db_secret);
    // The workers are connecting: at least two of them were accepted and
    // are held without an answer.
    assert!(
        support::wait_until(Instant::now() + Duration::from_secs(10), || {
            proxy.connections() >= 3
        }),
        "the workers did not connect: {} connections",
        proxy.connections()
    );
    pty.keys(&["q"]);
    // One connect timeout is 10 s (store/pg.rs).
    let code = exit_before_a_timeout(&pty, spawned, Duration::from_secs(10));
    assert_eq!(code, 0, "{}", pty.stderr());
    drop(proxy);
}

/// A listener that accepts every connection and never says a word; its
/// port, and how many connections it has accepted.
fn silent_listener() -> (u16, Arc<AtomicUsize>) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let n = accepted.clone();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for c in l.incoming().flatten() {
            held.push(c);
            n.fetch_add(1, Ordering::SeqCst);
        }
    });
    (port, accepted)
}

#[test]
fn quitting_while_the_imap_server_never_greets_ends_the_process_promptly() {
    for security in ["none", "tls"] {
        let (port, accepted) = silent_listener();
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config.toml");
        std::fs::write(
            &config,
            format!(
                "[operator]\nname = \"Sam\"\n[intake]\nsource = \"imap\"\n\
                 [imap]\nhost = \"127.0.0.1\"\nport = {port}\nsecurity = \"{security}\"\n\
                 username = \"u\"\npassword_env = \"QUIT_TEST_PW\"\n\
                 [store]\npath = \"{}\"\n",
                dir.path().join("c.db").display()
            ),
        )
        .unwrap();
        let spawned = Instant::now();
        let pty = screen(dir.path(), &config, ("QUIT_TEST_PW", "pw"));
        // The inbox worker is connected and waits for the greeting.
        assert!(
            support::wait_until(Instant::now() + Duration::from_secs(10), || {
                accepted.load(Ordering::SeqCst) > 0
            }),
            "the inbox did not connect"
        );
        pty.keys(&["q"]);
        // The IMAP connect timeout is 15 s (inbox/transport.rs) and its
        // read timeout 60 s.
        let code = exit_before_a_timeout(&pty, spawned, Duration::from_secs(15));
        assert_eq!(code, 0, "security {security}: {}", pty.stderr());
    }
}

const REQUEST: &str = "From: Ada Owner <owner@acme.example>\r\n\
To: hello@ochrehq.com\r\nSubject: Data export request: Acme Support\r\n\
Message-ID: <req-quit@acme.example>\r\nDate: Mon, 23 Nov 2026 09:14:05 +0000\r\n\
Authentication-Results: mx.ochrehq.com; dkim=pass; spf=pass; dmarc=pass\r\n\r\n\
Workspace: Acme Support\r\n";

/// What filing left on the real Dovecot: `\Answered`, and the copies in
/// its Sent mailbox.
fn filed(d: &support::dovecot::Dovecot) -> (bool, u32) {
    support::imap_server::filed(d, d.sent_mailbox())
}

#[test]
fn quitting_while_a_reply_is_filed_on_a_silent_imap_server_ends_promptly_and_the_next_start_files_it(
) {
    let d = support::dovecot::Dovecot::start();
    d.seed("req", REQUEST.as_bytes());
    let sink = SmtpSink::start();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let proxy = rt.block_on(Proxy::start(&format!("127.0.0.1:{}", d.imap_port())));
    let via: u16 = proxy.url.rsplit(':').next().unwrap().parse().unwrap();
    let dir = tempfile::tempdir().unwrap();
    // The same config twice: IMAP through the proxy, then straight to Dovecot.
    let config = |name: &str, port: u16| {
        let path = dir.path().join(name);
        std::fs::write(
            &path,
            format!(
                "[operator]\nname = \"Sam\"\n[intake]\nsource = \"imap\"\n\
                 [imap]\nhost = \"127.0.0.1\"\nport = {port}\nsecurity = \"none\"\n\
                 username = \"{user}\"\npassword_env = \"QUIT_TEST_PW\"\n\
                 [smtp]\nhost = \"127.0.0.1\"\nport = {smtp}\nsecurity = \"none\"\nusername = \"\"\n\
                 from = \"Ochre Concierge <hello@ochrehq.com>\"\n\
                 [store]\npath = \"{db}\"\n",
                user = d.user(),
                smtp = sink.port(),
                db = dir.path().join("c.db").display(),
            ),
        )
        .unwrap();
        path
    };
    let (held, direct) = (
        config("held.toml", via),
        config("direct.toml", d.imap_port()),
    );
    let secret = ("QUIT_TEST_PW", d.password());
    let mut pty = screen(dir.path(), &held, secret);
    pty.wait_screen("the request", Duration::from_secs(30), |s| {
        s.contains("owner@acme.example")
    });
    // From here on every new IMAP connection is accepted and never
    // answered; the inbox's connection is open already.
    let before = proxy.connections();
    for _ in 0..16 {
        proxy.push(Fault::Stall);
    }
    support::screen::send_suggested_reply(&pty);
    assert_eq!(sink.wait_for(1, Duration::from_secs(30)).len(), 1);
    pty.wait_screen("the reply sent", Duration::from_secs(30), |s| {
        s.contains("reply was sent")
    });
    // The filing has connected and waits for the greeting.
    assert!(
        support::wait_until(Instant::now() + Duration::from_secs(10), || {
            proxy.connections() > before
        }),
        "the filing did not connect"
    );
    pty.keys(&["q"]);
    // The IMAP read timeout is 60 s: an exit within 10 s did not wait for it.
    let code = pty.wait_exit(Duration::from_secs(10));
    assert_eq!(code, 0, "{}", pty.stderr());
    assert_eq!(filed(&d), (false, 0), "filed through a silent server?");
    let store = concierge::store::Store::open(&dir.path().join("c.db")).unwrap();
    assert_eq!(
        store.replies_to_file("Sam").unwrap().len(),
        1,
        "the reply is not marked to file"
    );
    drop(store);

    // The server answers again: the next start files the reply, once.
    start_screen(&mut pty, dir.path(), &direct, secret);
    let mut last = (false, 0);
    assert!(
        support::wait_until(Instant::now() + Duration::from_secs(30), || {
            last = filed(&d);
            last == (true, 1)
        }),
        "not filed at the next start: (answered, copies in Sent) = {last:?}"
    );
    support::imap_server::assert_filing_recorded(&dir.path().join("c.db"), "Sam");
    pty.keys(&["q"]);
    assert_eq!(
        pty.wait_exit(Duration::from_secs(10)),
        0,
        "{}",
        pty.stderr()
    );
    assert_eq!(filed(&d), (true, 1));
    assert_eq!(sink.messages().len(), 1, "the reply was sent again");
    drop(proxy);
}

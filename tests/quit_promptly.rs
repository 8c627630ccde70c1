//! Quitting the screen while its workers are still connecting ends the
//! process at once, not after their connect timeouts (10 s per team-store
//! connection, store/pg.rs). The team store here is a real PostgreSQL
//! behind the fault proxy (crates/test-support/src/proxy.rs): the screen's
//! own connection passes, every later one (the workers': inbox, presence,
//! change feed) is accepted and never answered. The exit is polled with a
//! deadline well under one connect timeout.

use concierge_test_support as support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::proxy::{Fault, Proxy};
use support::screen::Pty;

/// The screen on `config` (files under `dir`, `secret` in the environment)
/// in a fresh terminal, up to its queue.
fn screen(dir: &std::path::Path, config: &std::path::Path, secret: (&str, &str)) -> Pty {
    let pty_dir = dir.join("pty");
    std::fs::create_dir_all(&pty_dir).unwrap();
    let mut pty = Pty::new(&pty_dir);
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
    pty
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
    // One connect timeout is 10 s: an exit within 3 s did not wait for one.
    let code = pty.wait_exit(Duration::from_secs(3));
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
        let pty = screen(dir.path(), &config, ("QUIT_TEST_PW", "pw"));
        // The inbox worker is connected and waits for the greeting.
        assert!(
            support::wait_until(Instant::now() + Duration::from_secs(10), || {
                accepted.load(Ordering::SeqCst) > 0
            }),
            "the inbox did not connect"
        );
        pty.keys(&["q"]);
        // The IMAP connect timeout is 15 s and its read timeout 60 s.
        let code = pty.wait_exit(Duration::from_secs(3));
        assert_eq!(code, 0, "security {security}: {}", pty.stderr());
    }
}

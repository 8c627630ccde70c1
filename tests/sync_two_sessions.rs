//! A large fetch (at least `TWO_SESSIONS_FROM` messages: a first sync of a
//! big mailbox) goes over two IMAP sessions at once, so that the server's
//! one process per session is not the whole sync's critical path (issue
//! 10's speed goal). On Dovecot and Cyrus, through a loopback proxy that
//! counts the sessions and injects faults into the second one:
//! - every message is stored once, in order, and the cursor ends at the
//!   last UID;
//! - a server that refuses the second session is read over one;
//! - a second session cut mid-FETCH stops the sync with an error, leaves no
//!   gap below the cursor, and the next sync stores the rest exactly once.

use concierge::inbox::imap::{ImapSource, TWO_SESSIONS_FROM};
use concierge::secret::Secret;
use concierge::store::Store;
use concierge::sync::sync_once;
use concierge_test_support as support;
use support::imap_server::{plain_at, ImapServer};
use support::on_both_servers;
use support::proxy::{Fault, Proxy};

const MESSAGES: usize = TWO_SESSIONS_FROM + 150;
const AUTHSERV: &str = "mx.ochrehq.com";

fn request(n: usize) -> Vec<u8> {
    format!(
        "From: Owner {n} <owner{n}@ws{n}.example>\r\n\
         To: hello@ochrehq.com\r\n\
         Date: Mon, 23 Nov 2026 09:14:05 +0000\r\n\
         Message-ID: <two-{n}@ws{n}.example>\r\n\
         Subject: Data export request: Workspace {n}\r\n\
         \r\n\
         Please export workspace {n}.\r\n\
         Workspace: Workspace {n}\r\n"
    )
    .into_bytes()
}

/// The mailbox seeded, a proxy in front of it, and its runtime.
fn behind_a_proxy(d: &dyn ImapServer) -> (Proxy, tokio::runtime::Runtime) {
    for n in 0..MESSAGES {
        d.seed("two", &request(n));
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let proxy = rt.block_on(Proxy::start(&format!("127.0.0.1:{}", d.imap_port())));
    (proxy, rt)
}

fn port(proxy: &Proxy) -> u16 {
    proxy.url.rsplit(':').next().unwrap().parse().unwrap()
}

/// One sync through the proxy.
fn sync(d: &dyn ImapServer, proxy: &Proxy, store: &mut Store) -> anyhow::Result<usize> {
    let mut src =
        ImapSource::connect(&plain_at(port(proxy), d.user()), &Secret::new(d.password()))?;
    let seen = sync_once(&mut src, store, AUTHSERV)?.seen;
    src.logout();
    Ok(seen)
}

fn cursor(d: &dyn ImapServer, proxy: &Proxy, store: &Store) -> u32 {
    let src =
        ImapSource::connect(&plain_at(port(proxy), d.user()), &Secret::new(d.password())).unwrap();
    use concierge::inbox::Source;
    let key = src.mailbox_key();
    src.logout();
    store.cursor(&key).unwrap().map_or(0, |c| c.last_uid)
}

fn a_large_first_sync_reads_over_two_sessions_and_stores_everything_once(d: &mut dyn ImapServer) {
    let (proxy, _rt) = behind_a_proxy(d);
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("s.db")).unwrap();
    assert_eq!(sync(d, &proxy, &mut store).unwrap(), MESSAGES);
    assert_eq!(
        proxy.connections(),
        2,
        "the listing session and a second one"
    );
    assert_eq!(store.request_count().unwrap(), MESSAGES as i64);
    assert_eq!(sync(d, &proxy, &mut store).unwrap(), 0, "nothing new");
    assert_eq!(cursor(d, &proxy, &store), MESSAGES as u32);
    assert_eq!(store.request_count().unwrap(), MESSAGES as i64);
}

fn a_server_refusing_the_second_session_is_read_over_one(d: &mut dyn ImapServer) {
    let (proxy, _rt) = behind_a_proxy(d);
    proxy.push(Fault::Pass);
    proxy.push(Fault::Drop);
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("s.db")).unwrap();
    assert_eq!(sync(d, &proxy, &mut store).unwrap(), MESSAGES);
    assert_eq!(proxy.connections(), 2, "the second session was tried");
    assert_eq!(proxy.pending(), 0);
    assert_eq!(store.request_count().unwrap(), MESSAGES as i64);
}

fn a_second_session_cut_mid_fetch_leaves_no_gap_and_loses_nothing(d: &mut dyn ImapServer) {
    let (proxy, _rt) = behind_a_proxy(d);
    proxy.push(Fault::Pass);
    // The second session's greeting, login and EXAMINE pass, then its
    // answers stop inside its second batch (the fourth of the sync).
    proxy.push(Fault::CutAfter(120_000));
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("s.db")).unwrap();
    assert!(sync(d, &proxy, &mut store).is_err(), "the cut is an error");
    let stored = store.request_count().unwrap();
    let at = cursor(d, &proxy, &store);
    assert!(
        stored > 0 && (stored as usize) < MESSAGES,
        "stopped mid-sync: {stored} stored"
    );
    assert_eq!(
        i64::from(at),
        stored,
        "every message up to the cursor is stored, none above it"
    );
    // Nothing queued now: the next sync reads the rest.
    sync(d, &proxy, &mut store).unwrap();
    assert_eq!(store.request_count().unwrap(), MESSAGES as i64);
    assert_eq!(cursor(d, &proxy, &store), MESSAGES as u32);
}

on_both_servers!(
    a_large_first_sync_reads_over_two_sessions_and_stores_everything_once,
    a_server_refusing_the_second_session_is_read_over_one,
    a_second_session_cut_mid_fetch_leaves_no_gap_and_loses_nothing,
);

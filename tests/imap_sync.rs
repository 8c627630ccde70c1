//! The inbox against real servers started by the test harness (Dovecot, and
//! Cyrus for the bodies listed in `on_both_servers!` at the end): first and
//! incremental sync, read-only access, UIDVALIDITY changes, TLS, STARTTLS,
//! the poller's IDLE, reconnects and fatal errors.

use concierge_test_support as support;
use concierge_test_support::on_both_servers;

use concierge::config::{Connection, Security};
use concierge::inbox::imap::{ImapError, ImapSource};
use concierge::inbox::Source;
use concierge::intake::Kind;
use concierge::secret::Secret;
use concierge::store::Store;
use concierge::sync::{sync_once, Poller, PollerEvent, PollerOptions};
use std::time::{Duration, Instant};
use support::dovecot::Dovecot;
use support::imap_server::ImapServer;
use support::mail::{assert_inspect_agrees, chatter, relayed_request, request};

const AUTHSERV: &str = "mx.ochrehq.com";

use concierge_test_support::imap_server::plain;

fn pw(d: &dyn ImapServer) -> Secret {
    Secret::new(d.password())
}

fn store() -> (tempfile::TempDir, Store, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.db");
    let s = Store::open(&path).unwrap();
    (dir, s, path)
}

fn first_and_incremental_sync_never_mark_seen(d: &mut dyn ImapServer) {
    for i in 0..5 {
        d.seed("m", &request(i, "Acme Support"));
        d.seed("m", &chatter(i));
    }
    let (_dir, mut st, _) = store();
    let mut src = ImapSource::connect(&plain(d), &pw(d)).unwrap();
    // What `concierge check` shows: the capabilities after login.
    assert!(src.supports_idle());
    assert!(
        src.capabilities().iter().any(|c| c == "IDLE"),
        "{:?}",
        src.capabilities()
    );
    assert!(src.capabilities().iter().any(|c| c == "SPECIAL-USE"));
    let r = sync_once(&mut src, &mut st, AUTHSERV).unwrap();
    assert_eq!(r.seen, 10);
    assert_eq!(r.stored.len(), 5);
    assert!(r
        .stored
        .iter()
        .all(|m| m.kind == Kind::ExportRequest && m.uid.is_some()));
    assert_eq!(st.request_count().unwrap(), 5);

    // Nothing new: nothing fetched.
    let r = sync_once(&mut src, &mut st, AUTHSERV).unwrap();
    assert_eq!((r.seen, r.stored.len()), (0, 0));

    // Two more arrive: only they are fetched.
    d.seed("m", &request(100, "Globex"));
    d.seed("m", &chatter(100));
    let r = sync_once(&mut src, &mut st, AUTHSERV).unwrap();
    assert_eq!(r.seen, 2);
    assert_eq!(r.stored.len(), 1);
    assert_eq!(r.stored[0].workspace.name.as_deref(), Some("Globex"));
    assert_eq!(r.stored[0].uid, Some(11));
    src.logout();

    // The team's mail is untouched: no \Seen anywhere.
    let mut s = d.imap_session();
    s.examine("INBOX").unwrap();
    let fetches = s.fetch("1:*", "FLAGS").unwrap();
    assert_eq!(fetches.len(), 12);
    for f in fetches.iter() {
        assert!(
            !f.flags().contains(&imap::types::Flag::Seen),
            "{:?}",
            f.flags()
        );
    }
}

#[test]
fn uidvalidity_change_resyncs_without_duplicates() {
    let d = &mut Dovecot::start();
    for i in 0..3 {
        d.seed("m", &request(i, "Acme Support"));
    }
    let (_dir, mut st, _) = store();
    let mut src = ImapSource::connect(&plain(d), &pw(d)).unwrap();
    assert_eq!(
        sync_once(&mut src, &mut st, AUTHSERV).unwrap().stored.len(),
        3
    );
    let key = src.mailbox_key();
    let before = st.cursor(&key).unwrap().unwrap();
    drop(src);

    let new_validity = d.reset_uidvalidity();
    assert_ne!(new_validity, before.uidvalidity);
    d.seed("m", &request(3, "Northwind Traders"));
    let mut src = ImapSource::connect(&plain(d), &pw(d)).unwrap();
    let r = sync_once(&mut src, &mut st, AUTHSERV).unwrap();
    // Everything was looked at again, but only the new request is new.
    assert_eq!(r.seen, 4);
    assert_eq!(r.stored.len(), 1);
    assert_eq!(
        r.stored[0].workspace.name.as_deref(),
        Some("Northwind Traders")
    );
    assert_eq!(st.request_count().unwrap(), 4);
    let after = st.cursor(&key).unwrap().unwrap();
    assert_eq!(after.uidvalidity, new_validity);
    assert_eq!(after.last_uid, 4);
}

/// On both servers (Cyrus checks passwords against its sasldb): the same
/// one line, naming no password.
fn wrong_password_is_one_clear_error(d: &mut dyn ImapServer) {
    let err = ImapSource::connect(&plain(d), &Secret::new("not-the-password"))
        .err()
        .unwrap();
    assert!(matches!(err, ImapError::Auth { .. }), "{err:?}");
    assert!(!err.is_retryable());
    let msg = err.to_string();
    assert!(
        msg.contains("login refused") && !msg.contains("not-the-password"),
        "{msg}"
    );
    assert_eq!(
        msg,
        format!(
            "IMAP login refused for {} at 127.0.0.1: check the username and password",
            d.user()
        )
    );

    // The poller stops with one fatal event instead of retrying.
    let dir = tempfile::tempdir().unwrap();
    let p = Poller::start(
        plain(d),
        Secret::new("not-the-password"),
        dir.path().join("c.db"),
        PollerOptions::default(),
    );
    match p.events.recv_timeout(Duration::from_secs(20)).unwrap() {
        PollerEvent::Fatal(m) => assert!(m.contains("login refused"), "{m}"),
        other => panic!("expected Fatal, got {other:?}"),
    }
    // …and sends nothing more: the channel closes (its thread ended), not
    // merely quiet for a while.
    assert_eq!(
        p.events.recv_timeout(Duration::from_secs(30)).err(),
        Some(std::sync::mpsc::RecvTimeoutError::Disconnected)
    );
}

#[test]
fn tls_with_test_ca_and_untrusted_without_it() {
    let d = &Dovecot::start();
    d.seed("m", &request(1, "Acme Support"));
    let mut cfg = plain(d);
    cfg.host = "localhost".into();
    cfg.port = d.imaps_port();
    cfg.security = Security::Tls;
    cfg.ca_file = Some(d.ca_file());
    let (_dir, mut st, _) = store();
    let mut src = ImapSource::connect(&cfg, &pw(d)).unwrap();
    assert_eq!(
        sync_once(&mut src, &mut st, AUTHSERV).unwrap().stored.len(),
        1
    );

    cfg.ca_file = None;
    let err = ImapSource::connect(&cfg, &pw(d)).err().unwrap();
    assert!(!err.is_retryable(), "{err:?}");
    assert!(err.to_string().contains("certificate"), "{err}");
}

#[test]
fn starttls_upgrades_the_plaintext_port() {
    let d = &Dovecot::start();
    d.seed("m", &request(1, "Acme Support"));
    let mut cfg = plain(d);
    cfg.host = "localhost".into();
    cfg.security = Security::Starttls;
    cfg.ca_file = Some(d.ca_file());
    let (_dir, mut st, _) = store();
    let mut src = ImapSource::connect(&cfg, &pw(d)).unwrap();
    assert_eq!(
        sync_once(&mut src, &mut st, AUTHSERV).unwrap().stored.len(),
        1
    );
}

#[test]
fn plaintext_refused_for_a_remote_host() {
    let mut cfg = plain(&Dovecot::start());
    cfg.host = "imap.example.com".into();
    let err = ImapSource::connect(&cfg, &Secret::new("x")).err().unwrap();
    assert!(!err.is_retryable());
    assert!(err.to_string().contains("loopback"), "{err}");
}

/// Waits for a `Synced` event that carries a message with `message_id`.
fn wait_for_synced(p: &Poller, message_id: &str, within: Duration) -> Vec<String> {
    let deadline = Instant::now() + within;
    let mut seen = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match p.events.recv_timeout(left) {
            Ok(PollerEvent::Synced(msgs, _)) => {
                if msgs
                    .iter()
                    .any(|m| m.message_id.as_deref() == Some(message_id))
                {
                    return seen;
                }
                seen.push(format!("synced {}", msgs.len()));
            }
            Ok(PollerEvent::Fatal(e)) => panic!("poller stopped: {e}"),
            Ok(other) => seen.push(format!("{other:?}")),
            Err(_) => break,
        }
    }
    panic!("no Synced event with {message_id} within {within:?}; events: {seen:?}");
}

/// A store that cannot be opened when the poller starts (a PostgreSQL
/// restarting as the screen starts) is an outage: said, tried again, and
/// intake goes on once it opens, instead of ending for the session.
#[test]
fn a_store_not_openable_at_start_is_down_and_the_poller_goes_on_once_it_opens() {
    let d = Dovecot::start();
    d.seed("m", &request(1, "Acme Support"));
    let dir = tempfile::tempdir().unwrap();
    // Not openable while a file stands where its directory goes.
    let blocked = dir.path().join("later");
    std::fs::write(&blocked, "in the way").unwrap();
    let opts = PollerOptions {
        authserv_id: AUTHSERV.into(),
        backoff_min: Duration::from_millis(100),
        backoff_max: Duration::from_millis(500),
        ..PollerOptions::default()
    };
    let p = Poller::start(plain(&d), pw(&d), blocked.join("c.db"), opts);
    match p.events.recv_timeout(Duration::from_secs(30)) {
        Ok(PollerEvent::Down { error, .. }) => assert!(error.starts_with("the store: "), "{error}"),
        other => panic!("expected the store down first: {other:?}"),
    }
    std::fs::remove_file(&blocked).unwrap();
    let events = wait_for_synced(&p, "req-1@acme.example", Duration::from_secs(30));
    assert!(events.iter().all(|e| !e.starts_with("Fatal")), "{events:?}");
}

fn idle_delivers_a_new_request_without_waiting_for_the_poll(d: &mut dyn ImapServer) {
    let dir = tempfile::tempdir().unwrap();
    let opts = PollerOptions {
        authserv_id: AUTHSERV.into(),
        // Polling alone would take an hour: only IDLE can make this pass.
        poll_interval: Duration::from_secs(3600),
        idle_timeout: Duration::from_secs(600),
        ..PollerOptions::default()
    };
    let p = Poller::start(plain(d), pw(d), dir.path().join("c.db"), opts);
    match p.events.recv_timeout(Duration::from_secs(20)).unwrap() {
        PollerEvent::Connected { idle } => assert!(idle, "Dovecot offers IDLE"),
        other => panic!("{other:?}"),
    }
    // The initial (empty) sync, then the poller is in IDLE.
    assert!(matches!(
        p.events.recv_timeout(Duration::from_secs(20)).unwrap(),
        PollerEvent::Synced(..)
    ));
    // Logging in takes a few ms: a poller whose IDLE returned at once would
    // sync again and again meanwhile (empty `Synced` events).
    let mut s = d.imap_session();
    s.append("INBOX", &request(7, "Acme Support"))
        .finish()
        .unwrap();
    let between = wait_for_synced(&p, "req-7@acme.example", Duration::from_secs(15));
    // Waiting in IDLE, the poller syncs once, when the server announces the
    // new message, and not before.
    assert!(
        between.is_empty(),
        "the poller synced without news from the server: {between:?}"
    );
}

fn poller_recovers_after_the_server_restarts(d: &mut dyn ImapServer) {
    d.seed("m", &request(1, "Acme Support"));
    let dir = tempfile::tempdir().unwrap();
    let store_path = dir.path().join("c.db");
    let opts = PollerOptions {
        authserv_id: AUTHSERV.into(),
        idle_timeout: Duration::from_secs(600),
        backoff_min: Duration::from_millis(100),
        backoff_max: Duration::from_millis(500),
        ..PollerOptions::default()
    };
    let p = Poller::start(plain(d), pw(d), store_path.clone(), opts);
    wait_for_synced(&p, "req-1@acme.example", Duration::from_secs(20));

    d.stop();
    d.start_again();
    d.seed("m", &request(2, "Globex"));
    let events = wait_for_synced(&p, "req-2@acme.example", Duration::from_secs(30));
    assert!(
        events.iter().any(|e| e.starts_with("Down")),
        "expected a Down event first: {events:?}"
    );
    // The Down message names the server, and says what happened once.
    for down in events.iter().filter(|e| e.starts_with("Down")) {
        assert!(down.contains("127.0.0.1"), "{down}");
        let words: Vec<&str> = down.split(": ").collect();
        let mut unique = words.clone();
        unique.dedup();
        assert_eq!(words, unique, "repeated: {down}");
    }
    drop(p);
    let st = Store::open(&store_path).unwrap();
    assert_eq!(st.request_count().unwrap(), 2);
}

fn a_request_with_a_large_header_block_is_stored_and_classified_as_inspect_does(
    d: &mut dyn ImapServer,
) {
    // 20 and 40 KB headers, past the 16 KiB first read; one with a long
    // text (truncated read), one short; and a normal request after them.
    let mails = [relayed_request(1, 20, 40), relayed_request(2, 40, 1)];
    for m in &mails {
        d.seed("m", m);
    }
    d.seed("m", &request(3, "Acme Support"));
    let (dir, mut st, _) = store();
    let mut src = ImapSource::connect(&plain(d), &pw(d)).unwrap();
    let r = sync_once(&mut src, &mut st, AUTHSERV).unwrap();
    assert_eq!(r.seen, 3);
    let names: Vec<_> = r
        .stored
        .iter()
        .map(|m| (m.kind, m.workspace.name.clone().unwrap_or_default()))
        .collect();
    assert_eq!(
        names,
        vec![
            (Kind::ExportRequest, "Relayed 1".to_string()),
            (Kind::ExportRequest, "Relayed 2".to_string()),
            (Kind::ExportRequest, "Acme Support".to_string()),
        ]
    );
    // Authentication-Results sits below 20–40 KB of relay headers.
    for m in &r.stored {
        assert_eq!(serde_json::to_value(&m.auth).unwrap()["dmarc"], "pass");
    }
    assert_eq!(st.request_count().unwrap(), 3);

    // `inspect` on the same bytes says the same, field for field.
    for (m, synced) in mails.iter().zip(&r.stored) {
        let synced = serde_json::to_value(synced).unwrap();
        assert_inspect_agrees(dir.path(), m, synced, "a relayed request");
    }
}

#[test]
fn a_message_that_cannot_be_read_is_stored_as_malformed_not_dropped() {
    let d = &Dovecot::start();
    d.seed(
        "m",
        b"\x00\x01\x02 no header at all \xff\xfe\r\n\r\n\x1b[31m",
    );
    d.seed("m", &chatter(1));
    let (_dir, mut st, _) = store();
    let mut src = ImapSource::connect(&plain(d), &pw(d)).unwrap();
    let r = sync_once(&mut src, &mut st, AUTHSERV).unwrap();
    assert_eq!(r.seen, 2);
    // Kept for a human to look at, with its warning; chatter is not kept.
    assert_eq!(st.request_count().unwrap(), 1);
    assert_eq!(r.stored.len(), 1);
    assert_eq!(r.stored[0].kind, Kind::Other);
    assert!(r.stored[0]
        .warnings
        .contains(&concierge::intake::Warning::Malformed));
    let cursor = st.cursor(&src.mailbox_key()).unwrap().unwrap();
    assert_eq!(cursor.last_uid, 2);
}

fn oauth(d: &Dovecot, token_command: String) -> Connection {
    let mut c = plain(d);
    c.auth = concierge::config::AuthKind::Oauth2;
    c.password_env = None;
    c.token_command = Some(token_command);
    c
}

#[test]
fn oauth2_a_valid_token_is_accepted_an_expired_one_refused_a_refreshed_one_accepted() {
    use support::oauth::Introspection;
    let intro = Introspection::start(support::dovecot::USER);
    let d = &Dovecot::start_with_oauth2(&intro.url());
    d.seed("m", &request(1, "Acme Support"));
    intro.set_valid(&["tok-valid-1"]);
    let dir = tempfile::tempdir().unwrap();
    let connect = |name: &str, tokens: &[&str]| {
        let c = oauth(d, Introspection::token_command(dir.path(), name, tokens));
        let first = c.password().unwrap();
        ImapSource::connect(&c, &first)
    };

    // Valid: accepted on the first try, the token fetched once.
    let mut src = connect("valid", &["tok-valid-1"]).unwrap();
    let (_sdir, mut st, _) = store();
    assert_eq!(
        sync_once(&mut src, &mut st, AUTHSERV).unwrap().stored.len(),
        1
    );
    src.logout();
    assert_eq!(Introspection::runs(dir.path(), "valid"), 1);

    // The token printed first has expired: the command runs once more and
    // the fresh token is accepted.
    connect("refresh", &["tok-expired", "tok-valid-1"])
        .unwrap()
        .logout();
    assert_eq!(Introspection::runs(dir.path(), "refresh"), 2);

    // Always expired: one clear line, no token in it, exactly one retry.
    let err = connect("expired", &["tok-expired-secret"]).err().unwrap();
    assert!(matches!(err, ImapError::OauthRefused { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        !msg.contains('\n') && msg.contains("token_command"),
        "{msg}"
    );
    assert!(!msg.contains("tok-expired-secret"), "{msg}");
    assert!(!format!("{err:?}").contains("tok-expired-secret"));
    assert_eq!(Introspection::runs(dir.path(), "expired"), 2);

    // The read-write session (flagging \Answered, filing to Sent) too.
    let c = oauth(
        d,
        Introspection::token_command(dir.path(), "rw", &["tok-old", "tok-valid-1"]),
    );
    let first = c.password().unwrap();
    let mut session = concierge::inbox::imap::connect(&c, &first).unwrap();
    session.examine("INBOX").unwrap();
    assert_eq!(Introspection::runs(dir.path(), "rw"), 2);
}

fn a_mailbox_named_outside_ascii_is_synced(d: &mut dyn ImapServer) {
    // Inside the personal namespace: Cyrus refuses a top-level mailbox.
    let name = &format!("{}Anfragen Überfällig 台北", d.personal_prefix());
    let encoded = concierge::inbox::mutf7::encode(name);
    assert!(encoded.is_ascii());
    let mut s = d.imap_session();
    s.create(&encoded).unwrap();
    s.append(&encoded, &request(5, "Globex")).finish().unwrap();
    s.logout().unwrap();
    let mut c = plain(d);
    c.mailbox = name.into();
    let (_dir, mut st, _) = store();
    let mut src = ImapSource::connect(&c, &pw(d)).unwrap();
    let r = sync_once(&mut src, &mut st, AUTHSERV).unwrap();
    assert_eq!(r.stored.len(), 1);
    assert_eq!(r.stored[0].workspace.name.as_deref(), Some("Globex"));
    // The server lists it under the encoded name, which decodes back.
    let mut s = d.imap_session();
    let names = s.list(None, Some("*")).unwrap();
    assert!(names
        .iter()
        .any(|n| concierge::inbox::mutf7::decode(n.name()).as_deref() == Some(name)));
}

const REPLY: &[u8] = b"From: hello@ochrehq.com\r\nTo: owner1@acme.example\r\n\
Subject: Re: Data export request\r\nMessage-ID: <reply-1@ochrehq.com>\r\n\r\nOn it.\r\n";

/// Without `sent_mailbox`: Dovecot's copy goes to "Sent Items", which it
/// marks `\Sent` (RFC 6154); Cyrus marks nothing and keeps its mailboxes in
/// the personal namespace `INBOX.` (RFC 2342), so the copy goes to
/// `INBOX.Sent`. No top-level "Sent" is created on either.
fn without_sent_mailbox_the_copy_goes_to_the_servers_sent_mailbox(d: &mut dyn ImapServer) {
    d.seed("m", &request(1, "Acme Support"));
    let file = || {
        concierge::inbox::imap::file_reply(
            &plain(d),
            &pw(d),
            "req-1@acme.example",
            "reply-1@ochrehq.com",
            REPLY,
        )
        .unwrap()
    };
    let (flagged, copied) = file();
    assert!(flagged && copied);
    let mut s = d.imap_session();
    assert_eq!(s.examine(d.sent_mailbox()).unwrap().exists, 1);
    assert!(s.examine("Sent").is_err());
    // Filed again (its first filing was cut before the store recorded
    // it): still one copy in Sent.
    assert_eq!(file(), (true, true));
    assert_eq!(s.examine(d.sent_mailbox()).unwrap().exists, 1);
}

/// Waits until the poller has asked for the lease `n` more times than `from`.
fn asked(asks: &std::sync::atomic::AtomicUsize, from: usize, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while asks.load(std::sync::atomic::Ordering::SeqCst) < from + n {
        assert!(Instant::now() < deadline, "the poller stopped asking");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn the_imap_poller_polls_only_while_it_holds_the_lease() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Arc;
    let d = Dovecot::start();
    let dir = tempfile::tempdir().unwrap();
    let (mine, asks) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicUsize::new(0)),
    );
    let (m, a) = (mine.clone(), asks.clone());
    let opts = PollerOptions {
        authserv_id: AUTHSERV.into(),
        idle_timeout: Duration::from_secs(600),
        may_poll: Some(concierge::sync::MayPoll(Arc::new(move || {
            a.fetch_add(1, Ordering::SeqCst);
            m.load(Ordering::SeqCst)
        }))),
        ..PollerOptions::default()
    };
    let p = Poller::start(plain(&d), pw(&d), dir.path().join("c.db"), opts);
    // Another Concierge holds the lease: asked, it stays away from the server.
    asked(&asks, 0, 3);
    assert!(
        p.events.try_recv().is_err(),
        "it connected without the lease"
    );
    d.imap_session()
        .append("INBOX", &request(8, "Acme Support"))
        .finish()
        .unwrap();
    mine.store(true, Ordering::SeqCst);
    wait_for_synced(&p, "req-8@acme.example", Duration::from_secs(20));
    // The lease goes elsewhere; news ends the IDLE, and it does not sync.
    mine.store(false, Ordering::SeqCst);
    d.imap_session()
        .append("INBOX", &request(9, "Acme Support"))
        .finish()
        .unwrap();
    let from = asks.load(Ordering::SeqCst);
    asked(&asks, from, 3);
    while let Ok(ev) = p.events.try_recv() {
        if let PollerEvent::Synced(msgs, _) = ev {
            assert!(msgs.is_empty(), "synced without the lease: {msgs:?}");
        }
    }
    // Back to this one: it reconnects and stores the mail once.
    mine.store(true, Ordering::SeqCst);
    wait_for_synced(&p, "req-9@acme.example", Duration::from_secs(20));
}

#[test]
fn without_any_sent_mailbox_nothing_is_flagged_and_the_error_says_what_was_looked_for() {
    let d = support::cyrus::Cyrus::start();
    d.seed("m", &request(1, "Acme Support"));
    let mut s = d.imap_session();
    s.delete("INBOX.Sent").unwrap();
    let err = concierge::inbox::imap::file_reply(
        &plain(&d),
        &pw(&d),
        "req-1@acme.example",
        "reply-1@ochrehq.com",
        REPLY,
    )
    .unwrap_err();
    let msg = format!("{err:#}");
    assert!(
        msg.contains("\"INBOX.Sent\"") && msg.contains("RFC 2342") && msg.contains("sent_mailbox"),
        "{msg}"
    );
    // Settled before flagging: the request is not marked answered.
    s.examine("INBOX").unwrap();
    let f = s.fetch("1", "FLAGS").unwrap();
    let flags = f.iter().next().unwrap().flags().to_vec();
    assert!(!flags.contains(&imap::types::Flag::Answered), "{flags:?}");
}

/// A chatter message with a body of `kb` KB.
fn long_chatter(n: usize, kb: usize) -> Vec<u8> {
    let mut m = chatter(n);
    while m.len() < kb * 1024 {
        m.extend_from_slice(b"Some more words about adding a teammate to the workspace.\r\n");
    }
    m
}

/// Polls through the Courier-like proxy: (what the poll saw, bytes it cost).
fn poll_counting(
    src: &mut ImapSource,
    st: &mut Store,
    proxy: &support::forgetful::Forgetful,
) -> (concierge::sync::SyncReport, u64) {
    let before = proxy.bytes();
    let r = sync_once(src, st, AUTHSERV).unwrap();
    (r, proxy.bytes() - before)
}

#[test]
fn a_server_without_uidnext_that_renumbers_on_every_poll_is_listed_by_message_id() {
    let d = &Dovecot::start();
    for i in 0..60 {
        d.seed("m", &request(i, "Acme Support"));
        d.seed("m", &long_chatter(i, 6));
    }
    let proxy = support::forgetful::Forgetful::start(d.imap_port(), false);
    let mut cfg = plain(d);
    cfg.port = proxy.port();
    let (_dir, mut st, _) = store();
    let mut src = ImapSource::connect(&cfg, &pw(d)).unwrap();
    let (r, first) = poll_counting(&mut src, &mut st, &proxy);
    assert_eq!((r.seen, r.stored.len()), (120, 60));
    // Every later poll sees a new UIDVALIDITY: only Message-IDs travel.
    for _ in 0..3 {
        let (r, again) = poll_counting(&mut src, &mut st, &proxy);
        assert_eq!(r.seen, 0, "a known message was fetched again");
        assert!(again * 10 < first, "{again} bytes after {first}");
    }
    d.seed("m", &request(100, "Globex"));
    let (r, _) = poll_counting(&mut src, &mut st, &proxy);
    assert_eq!(r.seen, 1);
    assert_eq!(r.stored[0].workspace.name.as_deref(), Some("Globex"));
    assert_eq!(st.request_count().unwrap(), 61);
}

#[test]
fn a_uidvalidity_that_changes_on_two_polls_in_a_row_switches_to_message_ids() {
    let d = &Dovecot::start();
    for i in 0..20 {
        d.seed("m", &request(i, "Acme Support"));
        d.seed("m", &long_chatter(i, 6));
    }
    let proxy = support::forgetful::Forgetful::start(d.imap_port(), true);
    let mut cfg = plain(d);
    cfg.port = proxy.port();
    let (_dir, mut st, _) = store();
    let mut src = ImapSource::connect(&cfg, &pw(d)).unwrap();
    // First sync; one change is taken as a rebuilt mailbox (a full listing,
    // nothing stored twice); the second in a row switches to Message-IDs,
    // which lists everything once more and remembers it.
    for _ in 0..3 {
        assert_eq!(poll_counting(&mut src, &mut st, &proxy).0.seen, 40);
    }
    let (r, bytes) = poll_counting(&mut src, &mut st, &proxy);
    assert_eq!(r.seen, 0);
    assert!(bytes < 20 * 1024, "{bytes} bytes");
    assert_eq!(st.request_count().unwrap(), 20);
}

/// The delay is the server's: measured on Dovecot, on Cyrus with idled, and
/// on Cyrus without it (imapd polls every 2 s here, every 60 s by
/// default). The figures are printed (`--nocapture`) for the README; the
/// scratch mailbox is gone afterwards.
#[test]
fn the_idle_announcement_delay_is_measured_and_the_probe_mailbox_removed() {
    use concierge::inbox::idle_delay::{measure, IdleDelay, PROBE_MAILBOX};
    let servers: Vec<(&str, Box<dyn ImapServer>)> = vec![
        ("Dovecot", Box::new(Dovecot::start())),
        ("Cyrus with idled", Box::new(support::cyrus::Cyrus::start())),
        (
            "Cyrus without idled (imapidlepoll 2 s)",
            Box::new(support::cyrus::Cyrus::start_without_idled(2)),
        ),
    ];
    for (name, d) in &servers {
        let delay = measure(&plain(&**d), &pw(&**d), Duration::from_secs(30)).unwrap();
        eprintln!("{name}: {}", delay.describe());
        assert!(
            matches!(delay, IdleDelay::Announced(_)),
            "{name}: {delay:?}"
        );
        let mut s = d.imap_session();
        let left = s.list(None, Some("*")).unwrap();
        assert!(
            !left.iter().any(|n| n.name().contains(PROBE_MAILBOX)),
            "{name}: probe mailbox left behind"
        );
    }
}

on_both_servers!(
    wrong_password_is_one_clear_error,
    first_and_incremental_sync_never_mark_seen,
    idle_delivers_a_new_request_without_waiting_for_the_poll,
    poller_recovers_after_the_server_restarts,
    a_request_with_a_large_header_block_is_stored_and_classified_as_inspect_does,
    a_mailbox_named_outside_ascii_is_synced,
    without_sent_mailbox_the_copy_goes_to_the_servers_sent_mailbox,
);

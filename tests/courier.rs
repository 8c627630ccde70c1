//! Concierge against the real Courier-IMAP 5.0 (test-support's `courier`),
//! started by each test and logged into through Courier's own path
//! (couriertcpd → imaplogin → authdaemond's userdb → imapd).
//!
//! What Courier 5.0.13 does on a read-only EXAMINE, as the first test
//! records: no UIDNEXT, no UID database written (`courierimapuiddb`), UIDs
//! numbered 1..n afresh in every session and a UIDVALIDITY taken from the
//! clock (a new one each second). Concierge's fallback
//! (`src/inbox/unstable.rs`) must therefore list by Message-ID and fetch
//! only what it has not stored.

use concierge_test_support as support;

use concierge::inbox::imap::{file_reply, ImapError, ImapSource};
use concierge::inbox::Source;
use concierge::secret::Secret;
use concierge::store::Store;
use concierge::sync::{sync_once, SyncReport};
use std::time::{Duration, Instant};
use support::courier::{Courier, PASSWORD, SENT_MAILBOX, USER};
use support::imap_server::plain_at;
use support::mail::{assert_inspect_agrees, chatter, relayed_request, request};

const AUTHSERV: &str = "mx.ochrehq.com";

fn conn(c: &Courier) -> concierge::config::Connection {
    plain_at(c.imap_port(), USER)
}

fn pw() -> Secret {
    Secret::new(PASSWORD)
}

/// (UIDVALIDITY, UIDNEXT, UIDs) of INBOX as a fresh session EXAMINEs it.
fn examine(c: &Courier) -> (Option<u32>, Option<u32>, Vec<u32>) {
    let mut s = c.imap_session();
    let mb = s.examine("INBOX").unwrap();
    let mut uids: Vec<u32> = s.uid_search("ALL").unwrap().into_iter().collect();
    uids.sort_unstable();
    let _ = s.logout();
    (mb.uid_validity, mb.uid_next, uids)
}

/// Waits (polling, at most 5 s) until a fresh EXAMINE shows a UIDVALIDITY
/// other than `old`: Courier takes it from the clock, so at most ~1 s.
/// Returns the new one.
fn next_uidvalidity(c: &Courier, old: u32) -> u32 {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut now = old;
    let changed = support::wait_until(deadline, || {
        now = examine(c).0.expect("UIDVALIDITY");
        now != old
    });
    assert!(changed, "Courier kept UIDVALIDITY {old} for 5 s");
    now
}

#[test]
fn courier_examine_keeps_no_uids_and_gives_no_uidnext() {
    let c = Courier::start();
    for i in 0..3 {
        c.seed("m", &chatter(i));
    }
    let (first, next, uids) = examine(&c);
    let first = first.expect("Courier sends a UIDVALIDITY");
    assert_eq!(next, None, "Courier 5 sent a UIDNEXT on EXAMINE");
    assert_eq!(uids, [1, 2, 3]);
    let later = next_uidvalidity(&c, first);
    // One more message: the UIDs start again at 1, no database was kept.
    c.seed("m", &chatter(3));
    let (again, next, uids) = examine(&c);
    assert!(again >= Some(later), "{again:?} after {later}");
    assert_eq!(next, None);
    assert_eq!(uids, [1, 2, 3, 4]);
    assert!(
        !c.maildir().join("courierimapuiddb").exists(),
        "EXAMINE wrote Courier's UID database"
    );
}

/// The password is Courier's to check (authdaemond's userdb): a wrong one
/// is refused with Concierge's one clear line, the password not in it.
#[test]
fn on_courier_a_wrong_password_is_one_clear_error() {
    let c = Courier::start();
    let err = ImapSource::connect(&conn(&c), &Secret::new("not-the-password"))
        .err()
        .expect("Courier accepted a wrong password");
    assert!(matches!(err, ImapError::Auth { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!("IMAP login refused for {USER} at 127.0.0.1: check the username and password")
    );
    assert!(c.diagnostics().contains("LOGIN FAILED, user=concierge"));
}

/// One sync: what it saw and stored.
fn poll(src: &mut ImapSource, st: &mut Store) -> SyncReport {
    sync_once(src, st, AUTHSERV).unwrap()
}

fn workspaces(r: &SyncReport) -> Vec<String> {
    let mut names: Vec<String> = r
        .stored
        .iter()
        .filter_map(|m| m.workspace.name.clone())
        .collect();
    names.sort();
    names
}

#[test]
fn on_courier_a_sync_and_each_poll_store_every_message_once_by_message_id() {
    let c = Courier::start();
    for i in 0..10 {
        c.seed("m", &request(i, &format!("Acme {i}")));
        c.seed("m", &chatter(i));
    }
    let dir = tempfile::tempdir().unwrap();
    let mut st = Store::open(&dir.path().join("c.db")).unwrap();
    let mut src = ImapSource::connect(&conn(&c), &pw()).unwrap();
    let r = poll(&mut src, &mut st);
    assert_eq!((r.seen, r.stored.len()), (20, 10));
    assert_eq!(st.request_count().unwrap(), 10);
    // The source lists by Message-ID (no UIDNEXT): each of the 20 with its
    // own Message-ID.
    let listing = src.list_new(None).unwrap();
    let mut ids: Vec<&str> = listing
        .message_ids
        .iter()
        .map(|(_, id)| id.as_str())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 20, "not in Message-ID mode: {listing:?}");
    let first = listing.uidvalidity.expect("UIDVALIDITY");

    // A poll under a new UIDVALIDITY, nothing new: nothing fetched.
    let second = next_uidvalidity(&c, first);
    let r = poll(&mut src, &mut st);
    assert_eq!(r.seen, 0, "known messages were fetched again");

    // Two new requests: exactly those two, each once.
    c.seed("m", &request(100, "Globex"));
    c.seed("m", &request(101, "Initech"));
    next_uidvalidity(&c, second);
    let r = poll(&mut src, &mut st);
    assert_eq!(r.seen, 2, "fetched {} messages for 2 new ones", r.seen);
    assert_eq!(workspaces(&r), ["Globex", "Initech"]);
    assert_eq!(st.request_count().unwrap(), 12);
    let r = poll(&mut src, &mut st);
    assert_eq!((r.seen, st.request_count().unwrap()), (0, 12));
}

#[test]
fn a_new_source_on_a_known_store_fetches_nothing_again_from_courier() {
    let c = Courier::start();
    for i in 0..5 {
        c.seed("m", &request(i, "Acme Support"));
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.db");
    let mut st = Store::open(&path).unwrap();
    let mut src = ImapSource::connect(&conn(&c), &pw()).unwrap();
    let first = poll(&mut src, &mut st);
    assert_eq!(first.seen, 5);
    src.logout();
    drop(st);
    let validity = examine(&c).0.unwrap();
    next_uidvalidity(&c, validity);
    // A restarted Concierge: new connection, store opened again.
    let mut st = Store::open(&path).unwrap();
    let mut src = ImapSource::connect(&conn(&c), &pw()).unwrap();
    let r = poll(&mut src, &mut st);
    assert_eq!(r.seen, 0, "a restart fetched the mailbox again");
    assert_eq!(st.request_count().unwrap(), 5);
}

/// Courier answers the partial fetches (first read, then the rest of a long
/// header) and the Message-ID listing below 20–40 KB of headers; `inspect`
/// on the same bytes says what the sync stored, field for field.
#[test]
fn on_courier_requests_with_large_header_blocks_are_stored_once_as_inspect_reads_them() {
    let c = Courier::start();
    let mails = [relayed_request(1, 20, 40), relayed_request(2, 40, 1)];
    for m in &mails {
        c.seed("m", m);
    }
    c.seed("m", &request(3, "Acme Support"));
    let dir = tempfile::tempdir().unwrap();
    let mut st = Store::open(&dir.path().join("c.db")).unwrap();
    let mut src = ImapSource::connect(&conn(&c), &pw()).unwrap();
    let r = poll(&mut src, &mut st);
    assert_eq!(r.seen, 3);
    assert_eq!(workspaces(&r), ["Acme Support", "Relayed 1", "Relayed 2"]);
    for m in &r.stored {
        assert_eq!(m.kind, concierge::intake::Kind::ExportRequest);
        assert_eq!(serde_json::to_value(&m.auth).unwrap()["dmarc"], "pass");
    }
    for (n, mail) in mails.iter().enumerate() {
        let name = format!("Relayed {}", n + 1);
        let synced = r
            .stored
            .iter()
            .find(|m| m.workspace.name.as_deref() == Some(&name));
        let synced = serde_json::to_value(synced.expect(&name)).unwrap();
        assert_inspect_agrees(dir.path(), mail, synced, &name);
    }
    // The Message-IDs below the long headers are listed: nothing again.
    let validity = examine(&c).0.unwrap();
    next_uidvalidity(&c, validity);
    assert_eq!(poll(&mut src, &mut st).seen, 0);
    assert_eq!(st.request_count().unwrap(), 3);
}

const REPLY: &[u8] = b"From: hello@ochrehq.com\r\nTo: owner1@acme.example\r\n\
Subject: Re: Data export request\r\nMessage-ID: <reply-1@ochrehq.com>\r\n\r\nOn it.\r\n";

/// Without `sent_mailbox`: Courier marks no mailbox `\Sent` (RFC 6154) and
/// keeps its folders under the personal namespace `INBOX.` (RFC 2342), so
/// the copy goes to `INBOX.Sent` (`Maildir/.Sent`); the request is marked
/// \Answered (the Maildir flag `R`).
#[test]
fn on_courier_a_reply_is_filed_in_inbox_sent_and_the_request_marked_answered() {
    let c = Courier::start();
    let path = c.seed("m", &request(1, "Acme Support"));
    let file = || {
        file_reply(
            &conn(&c),
            &pw(),
            "req-1@acme.example",
            "reply-1@ochrehq.com",
            REPLY,
        )
    };
    assert_eq!(file().unwrap(), (true, true));
    let sent = c.messages_in(".Sent");
    assert_eq!(sent.len(), 1, "copies in Maildir/.Sent");
    assert!(sent[0].windows(20).any(|w| w == b"<reply-1@ochrehq.com"));
    let mut s = c.imap_session();
    assert_eq!(s.examine(SENT_MAILBOX).unwrap().exists, 1);
    assert!(s.examine("Sent").is_err(), "a top-level Sent was created");
    // Courier moved the request to cur/ with the Maildir flag R (replied).
    let name = path.file_name().unwrap().to_str().unwrap().to_string();
    let cur = std::fs::read_dir(c.maildir().join("cur")).unwrap();
    let flags: Vec<String> = cur
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|f| f.starts_with(&name))
        .collect();
    assert_eq!(flags.len(), 1, "{flags:?}");
    let info = flags[0].rsplit(":2,").next().unwrap();
    assert!(info.contains('R'), "not \\Answered: {flags:?}");
    // Filed again (as after a cut before the store recorded it): one copy.
    assert_eq!(file().unwrap(), (true, true));
    assert_eq!(c.messages_in(".Sent").len(), 1);
}

/// The delay is Courier's: without enhanced IDLE (Debian's default,
/// `IMAP_ENHANCEDIDLE=0`) imapd looks at the Maildir every
/// `IMAP_IDLE_TIMEOUT` seconds (60 by default, 5 here). Printed
/// (`--nocapture`); the probe mailbox is gone afterwards. (Enhanced IDLE
/// is left out: it starts a Gamin server, shared by user and outliving the
/// instance by ~30 s, which the test could not stop.)
#[test]
fn courier_idle_announcement_delay_is_measured_and_the_probe_mailbox_removed() {
    use concierge::inbox::idle_delay::{measure, IdleDelay, PROBE_MAILBOX};
    let c = Courier::start_with_settings(&[("IMAP_IDLE_TIMEOUT", "5")]);
    let delay = measure(&conn(&c), &pw(), Duration::from_secs(30)).unwrap();
    eprintln!("Courier, IMAP_IDLE_TIMEOUT 5 s: {}", delay.describe());
    let IdleDelay::Announced(after) = delay else {
        panic!("{delay:?}");
    };
    // Announced by imapd's own look at the Maildir, about 5 s after the
    // IDLE began, not at once. Measured from the APPEND's end, so an
    // APPEND slower than 4.5 s (a loaded machine) would make this fail;
    // with 2 s, 1.5 s was enough.
    assert!(after >= Duration::from_millis(500), "{after:?}");
    let mut s = c.imap_session();
    let left = s.list(None, Some("*")).unwrap();
    assert!(
        !left.iter().any(|n| n.name().contains(PROBE_MAILBOX)),
        "probe mailbox left behind"
    );
}

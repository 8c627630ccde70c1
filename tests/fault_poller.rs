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
/// Three of the sync's 500-message batches (`inbox::BATCH`).
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

/// The store's request count, or None while it cannot be read (locked).
fn requests(db: &Path) -> Option<i64> {
    Store::open(db).ok()?.request_count().ok()
}

#[test]
fn a_poller_killed_mid_batch_loses_and_duplicates_nothing_on_restart() {
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
    // The first connection: greeting, login, listing and the first batch
    // pass (a batch is a third of the mailbox; FETCH adds its framing),
    // then the answer stops half-way through the second batch.
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
    // Wait until the first batch is stored, then kill -9 while the second
    // one is stuck in the proxy.
    let mut stored = 0;
    let reached = support::wait_until(Instant::now() + Duration::from_secs(120), || {
        stored = requests(&db).unwrap_or(0);
        stored >= 500
    });
    poller.kill().unwrap();
    let killed = poller.wait_with_output().unwrap();
    assert!(
        reached,
        "the first batch was never stored ({stored}); the poller said: {}",
        String::from_utf8_lossy(&killed.stderr)
    );
    let at_kill = requests(&db).unwrap();
    assert!(
        (500..MESSAGES as i64).contains(&at_kill),
        "not killed mid-sync: {at_kill} of {MESSAGES} stored"
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

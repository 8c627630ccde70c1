//! Integration-test harness: real Dovecot and SMTP servers on loopback.
//!
//! Use it from an integration test file with `mod support;`.
//!
//! * [`dovecot::Dovecot`]: a private Dovecot 2.3 instance (IMAP, IMAPS, LMTP).
//! * [`cyrus::Cyrus`]: a private Cyrus IMAP 3.6 instance (the second IMAP
//!   implementation); [`imap_server`] runs one test body on both.
//! * [`smtp::SmtpSink`]: an aiosmtpd-based SMTP sink that records what it gets.
//! * [`free_port`], [`wait_until`]: small helpers.
//!
//! Every server has its own temp dir and its own ports, so tests can run in
//! parallel.
#![allow(dead_code)]

pub mod cyrus;
pub mod dovecot;
pub mod forgetful;
pub mod imap_server;
pub mod oauth;
pub mod postgres;
pub mod smtp;

use std::collections::{HashMap, HashSet};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What to run when Dovecot or aiosmtpd is missing.
pub const INSTALL_HINT: &str = "apt-get install -y --no-install-recommends dovecot-imapd \
     dovecot-lmtpd python3-aiosmtpd isync (or run scripts/test.sh)";

/// Poll interval used by the readiness / wait helpers.
pub const POLL_INTERVAL: Duration = Duration::from_millis(10);

/// A free TCP port on 127.0.0.1: bind port 0, read the port, drop the socket.
///
/// Ports already handed out by this process are never handed out again, so
/// parallel tests in one test binary cannot get the same port. (Another
/// process may still grab it in between; the servers retry with fresh ports
/// when their first bind fails.)
pub fn free_port() -> u16 {
    static HANDED_OUT: Mutex<Option<HashSet<u16>>> = Mutex::new(None);
    let mut guard = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
    let handed_out = guard.get_or_insert_with(HashSet::new);
    for _ in 0..1000 {
        let listener = TcpListener::bind(("127.0.0.1", 0)).expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local_addr").port();
        drop(listener);
        if handed_out.insert(port) {
            return port;
        }
    }
    panic!("free_port: could not find an unused port");
}

/// Polls `cond` every [`POLL_INTERVAL`] until it returns true (→ `true`) or
/// `deadline` passes (→ `false`). `cond` is always called at least once.
pub fn wait_until(deadline: Instant, mut cond: impl FnMut() -> bool) -> bool {
    loop {
        if cond() {
            return true;
        }
        let now = Instant::now();
        if now >= deadline {
            return false;
        }
        std::thread::sleep(POLL_INTERVAL.min(deadline - now));
    }
}

/// Set this environment variable to keep the temp dirs (logs, config, mail)
/// of servers dropped while a test panics.
pub const KEEP_DIRS_ENV: &str = "CONCIERGE_KEEP_TEST_DIRS";

/// Called from the servers' Drop: keeps `dir` when the test is failing and
/// [`KEEP_DIRS_ENV`] is set.
pub(crate) fn keep_dir_if_asked(dir: &mut tempfile::TempDir) {
    if std::thread::panicking() && std::env::var_os(KEEP_DIRS_ENV).is_some() {
        dir.disable_cleanup(true);
        eprintln!("{KEEP_DIRS_ENV}: keeping {}", dir.path().display());
    }
}

/// Reads a file for a panic message; never fails.
pub(crate) fn read_for_report(path: &Path) -> String {
    match std::fs::read(path) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) => format!("<cannot read {}: {e}>", path.display()),
    }
}

/// Sends `sig` (e.g. "TERM", "KILL") to the given pids with `kill(1)`.
/// Errors (e.g. a pid that is already gone) are ignored.
pub(crate) fn send_signal(sig: &str, pids: &[u32]) {
    if pids.is_empty() {
        return;
    }
    let kill = if Path::new("/bin/kill").exists() {
        "/bin/kill"
    } else {
        "kill"
    };
    let _ = Command::new(kill)
        .arg(format!("-{sig}"))
        .args(pids.iter().map(|p| p.to_string()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Parses `/proc/PID/stat` into (state, ppid).
fn proc_stat(pid: u32) -> Option<(char, u32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may contain spaces: split after
    // the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    Some((state, ppid))
}

/// All (transitive) descendants of `pid`, found by scanning /proc.
pub(crate) fn descendants(pid: u32) -> Vec<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(p) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            if let Some((_, ppid)) = proc_stat(p) {
                children.entry(ppid).or_default().push(p);
            }
        }
    }
    let mut out = Vec::new();
    let mut stack = vec![pid];
    while let Some(p) = stack.pop() {
        if let Some(kids) = children.get(&p) {
            for &k in kids {
                out.push(k);
                stack.push(k);
            }
        }
    }
    out
}

/// True when the process no longer runs (gone, or a zombie).
pub(crate) fn pid_gone(pid: u32) -> bool {
    match proc_stat(pid) {
        None => true,
        Some((state, _)) => state == 'Z' || state == 'X',
    }
}

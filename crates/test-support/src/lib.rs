//! Concierge's test harness, one crate shared by every integration test and
//! benchmark (`[dev-dependencies]` of the root package): real servers on
//! loopback, the real `concierge` binary, and drivers for the screen.
//!
//! Use it from a test with `use concierge_test_support as support;` (or
//! name the module: `use concierge_test_support::dovecot::Dovecot;`).
//!
//! * [`dovecot::Dovecot`]: a private Dovecot 2.3 instance (IMAP, IMAPS, LMTP).
//! * [`cyrus::Cyrus`]: a private Cyrus IMAP 3.6 instance (the second IMAP
//!   implementation); [`imap_server`] runs one test body on both.
//! * [`courier::Courier`]: a private Courier-IMAP 5.0 instance (the server
//!   whose UIDs Concierge's Message-ID fallback was written for).
//! * [`smtp::SmtpSink`]: an aiosmtpd-based SMTP sink that records what it gets.
//! * [`postgres`]: one PostgreSQL server per test binary, a fresh database
//!   per test.
//! * [`backend`]: the reference backend (`concierge backend serve`) and a
//!   raw HTTP client for it.
//! * [`screen`]: the real screen in tmux; [`app`]: the same `App` driven
//!   through its channel, in process.
//! * [`proxy`] (faults on a TCP connection), [`forgetful`] (an IMAP proxy
//!   that renumbers UIDVALIDITY), [`oauth`] (an RFC 7662 endpoint).
//! * [`servers::Servers`]: Dovecot, the STARTTLS SMTP sink and the backend
//!   that `init` and `check` are tried against.
//! * [`bench`]: the screen benchmarks' seeded store and first-frame timing.
//! * [`mail`]: the requests and questions the sync tests seed.
//! * [`team`]: a fresh team store, the two-screen runtime, [`both_stores!`]
//!   and the multi-operator tests' seeded requests.
//! * [`free_port`], [`closed_port`], [`wait_until`], [`concierge_bin`]: small helpers.
//!
//! Every server has its own temp dir and its own ports, so tests can run in
//! parallel.

pub mod app;
pub mod backend;
pub mod bench;
pub mod courier;
pub mod cyrus;
pub mod dovecot;
pub mod forgetful;
pub mod imap_server;
pub mod mail;
pub mod oauth;
pub mod postgres;
pub mod proxy;
pub mod screen;
pub mod servers;
pub mod smtp;
pub mod team;

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// What to run when Dovecot or aiosmtpd is missing.
pub const INSTALL_HINT: &str = "apt-get install -y --no-install-recommends dovecot-imapd \
     dovecot-lmtpd python3-aiosmtpd isync (or run scripts/test.sh)";

/// The `concierge` binary cargo built for this test run.
///
/// `env!("CARGO_BIN_EXE_concierge")` exists only while cargo compiles the
/// root package's own integration tests, not this crate: newer cargo also
/// sets the variable when it runs a test, else the binary sits beside the
/// test's `deps/` directory (`target/debug/concierge`), where cargo puts it
/// before it runs any integration test.
pub fn concierge_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let bin = std::env::var_os("CARGO_BIN_EXE_concierge")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                let mut dir = std::env::current_exe().expect("the test's own path");
                dir.pop();
                if dir.ends_with("deps") || dir.ends_with("examples") {
                    dir.pop();
                }
                dir.join(format!("concierge{}", std::env::consts::EXE_SUFFIX))
            });
        assert!(
            bin.exists(),
            "the concierge binary is not at {}: run the tests with cargo test, which builds it",
            bin.display()
        );
        bin
    })
}

/// The same as a `&str`, for shell lines and `format!`.
pub fn concierge_bin_str() -> &'static str {
    concierge_bin()
        .to_str()
        .expect("the binary's path is UTF-8")
}

/// Poll interval used by the readiness / wait helpers.
pub const POLL_INTERVAL: Duration = Duration::from_millis(10);

/// A loopback port that nothing listens on, kept so while this value
/// lives: a TCP socket bound to it that never listens. A connect to it is
/// refused at once (RST, "connection refused"), and no other socket can
/// bind it meanwhile. A port from [`free_port`] that a test only expects to
/// stay closed may be taken in between by another test's server, proxy or
/// outgoing connection (the kernel hands the same ports out again).
pub struct ClosedPort {
    _socket: tokio::net::TcpSocket,
    port: u16,
}

impl ClosedPort {
    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl std::os::fd::AsRawFd for ClosedPort {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self._socket.as_raw_fd()
    }
}

/// A logged-in plaintext IMAP session on 127.0.0.1:`port`, or what went
/// wrong (each server adds its own diagnostics to the panic).
pub(crate) fn imap_login(
    port: u16,
    user: &str,
    password: &str,
) -> Result<imap::Session<imap::Connection>, String> {
    let client = imap::ClientBuilder::new("127.0.0.1", port)
        .mode(imap::ConnectionMode::Plaintext)
        .connect()
        .map_err(|e| format!("IMAP connect to 127.0.0.1:{port}: {e}"))?;
    client
        .login(user, password)
        .map_err(|(e, _)| format!("IMAP LOGIN: {e}"))
}

/// True while a server's main process (`child`, if started) runs.
pub(crate) fn child_running(child: &mut Option<std::process::Child>) -> bool {
    child
        .as_mut()
        .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
}

/// See [`ClosedPort`].
pub fn closed_port() -> ClosedPort {
    let socket = tokio::net::TcpSocket::new_v4().expect("a TCP socket");
    socket
        .bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .expect("bind 127.0.0.1:0");
    let port = socket.local_addr().expect("local_addr").port();
    ClosedPort {
        _socket: socket,
        port,
    }
}

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
pub fn keep_dir_if_asked(dir: &mut tempfile::TempDir) {
    if std::thread::panicking() && std::env::var_os(KEEP_DIRS_ENV).is_some() {
        dir.disable_cleanup(true);
        eprintln!("{KEEP_DIRS_ENV}: keeping {}", dir.path().display());
    }
}

/// Connects to a server on `addr` (within 500 ms) and reads its first
/// line (within 1 s): the greeting every readiness probe starts from.
/// Answers the line, and the connection to go on with.
pub(crate) fn first_line(
    addr: SocketAddr,
) -> Result<(String, BufReader<TcpStream>, TcpStream), String> {
    let stream = TcpStream::connect_timeout(&addr, Duration::from_millis(500))
        .map_err(|e| format!("connect: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(1)))
        .map_err(|e| e.to_string())?;
    let writer = stream.try_clone().map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader
        .read_line(&mut line)
        .map_err(|e| format!("read greeting: {e}"))?;
    Ok((line, reader, writer))
}

/// Reads a file for a panic message; never fails.
pub fn read_for_report(path: &Path) -> String {
    match std::fs::read(path) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) => format!("<cannot read {}: {e}>", path.display()),
    }
}

/// Sends `sig` (e.g. "TERM", "KILL") to the given pids with `kill(1)`.
/// Errors (e.g. a pid that is already gone) are ignored.
pub fn send_signal(sig: &str, pids: &[u32]) {
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
pub fn descendants(pid: u32) -> Vec<u32> {
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
pub fn pid_gone(pid: u32) -> bool {
    match proc_stat(pid) {
        None => true,
        Some((state, _)) => state == 'Z' || state == 'X',
    }
}

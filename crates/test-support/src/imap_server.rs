//! One face for the real IMAP servers the tests start (Dovecot and Cyrus),
//! so that a test body runs unchanged against both.
//!
//! ```ignore
//! fn body(s: &mut dyn ImapServer) { s.seed("m", b"Subject: hi\r\n\r\nx\r\n"); }
//! #[test] fn on_dovecot() { body(&mut *start(Server::Dovecot)) }
//! #[test] fn on_cyrus() { body(&mut *start(Server::Cyrus)) }
//! ```

use super::cyrus::Cyrus;
use super::dovecot::{probe_greeting, Dovecot};
use super::{descendants, pid_gone, send_signal, wait_until, POLL_INTERVAL};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Which implementation to start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Server {
    Dovecot,
    Cyrus,
}

/// What the shared test bodies need from a running server.
pub trait ImapServer {
    /// Which implementation this is.
    fn kind(&self) -> Server;
    /// Plaintext IMAP port on 127.0.0.1.
    fn imap_port(&self) -> u16;
    /// The test user's login name.
    fn user(&self) -> &'static str;
    /// The test user's password.
    fn password(&self) -> &'static str;
    /// Puts one message into INBOX; UIDs follow seeding order.
    fn seed(&self, name: &str, bytes: &[u8]);
    /// A logged-in session as the test user.
    fn imap_session(&self) -> imap::Session<imap::Connection>;
    /// Stops the server, keeping port and data.
    fn stop(&mut self);
    /// Starts a stopped server again.
    fn start_again(&mut self);
    /// The server's own name for the sent mailbox when Concierge has to find
    /// it (no `sent_mailbox` configured).
    fn sent_mailbox(&self) -> &'static str;
    /// The personal namespace's prefix (RFC 2342): where the test user may
    /// create mailboxes.
    fn personal_prefix(&self) -> &'static str;
}

/// Starts a fresh instance of `which`.
pub fn start(which: Server) -> Box<dyn ImapServer> {
    match which {
        Server::Dovecot => Box::new(Dovecot::start()),
        Server::Cyrus => Box::new(Cyrus::start()),
    }
}

impl ImapServer for Dovecot {
    fn kind(&self) -> Server {
        Server::Dovecot
    }
    fn imap_port(&self) -> u16 {
        Dovecot::imap_port(self)
    }
    fn user(&self) -> &'static str {
        Dovecot::user(self)
    }
    fn password(&self) -> &'static str {
        Dovecot::password(self)
    }
    fn seed(&self, name: &str, bytes: &[u8]) {
        Dovecot::seed(self, name, bytes);
    }
    fn imap_session(&self) -> imap::Session<imap::Connection> {
        Dovecot::imap_session(self)
    }
    fn stop(&mut self) {
        Dovecot::stop(self)
    }
    fn start_again(&mut self) {
        Dovecot::start_again(self)
    }
    fn sent_mailbox(&self) -> &'static str {
        // Marked \Sent by SPECIAL-USE in the harness's dovecot.conf.
        "Sent Items"
    }
    fn personal_prefix(&self) -> &'static str {
        ""
    }
}

impl ImapServer for Cyrus {
    fn kind(&self) -> Server {
        Server::Cyrus
    }
    fn imap_port(&self) -> u16 {
        Cyrus::imap_port(self)
    }
    fn user(&self) -> &'static str {
        super::cyrus::USER
    }
    fn password(&self) -> &'static str {
        super::cyrus::PASSWORD
    }
    fn seed(&self, name: &str, bytes: &[u8]) {
        Cyrus::seed(self, name, bytes)
    }
    fn imap_session(&self) -> imap::Session<imap::Connection> {
        Cyrus::imap_session(self)
    }
    fn stop(&mut self) {
        Cyrus::stop(self)
    }
    fn start_again(&mut self) {
        Cyrus::start_again(self)
    }
    fn sent_mailbox(&self) -> &'static str {
        // In the personal namespace "INBOX." (RFC 2342), no SPECIAL-USE flag.
        "INBOX.Sent"
    }
    fn personal_prefix(&self) -> &'static str {
        "INBOX."
    }
}

// ---- the lifecycle both servers share: ports, readiness, stop ----

/// Runs `try_start` (which picks fresh ports, writes its config and calls
/// [`wait_ready`]) until it works; again with new ports, up to 3 times,
/// when another process took one of them between `free_port()` and the
/// server's bind. Panics with the server's own diagnostics otherwise.
pub(crate) fn start_on_free_ports<S>(
    server: &mut S,
    mut try_start: impl FnMut(&mut S) -> Result<(), String>,
    diagnostics: impl Fn(&S) -> String,
) {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match try_start(server) {
            Ok(()) => return,
            Err(msg) => {
                let why = diagnostics(server);
                if attempt < 3 && why.contains("Address already in use") {
                    continue;
                }
                panic!("{msg}\n{why}");
            }
        }
    }
}

/// Spawns `cmd` (a server's master, in the foreground) with its output
/// appended to `log`, then [`wait_ready`] on 127.0.0.1:`port`.
pub(crate) fn spawn_and_wait(
    mut cmd: Command,
    log: &Path,
    child: &mut Option<Child>,
    name: &str,
    port: u16,
    within: Duration,
) -> Result<(), String> {
    assert!(child.is_none(), "{name} already running");
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| format!("open {}: {e}", log.display()))?;
    let spawned = cmd
        .stdin(Stdio::null())
        .stdout(out.try_clone().map_err(|e| e.to_string())?)
        .stderr(out)
        .spawn()
        .map_err(|e| format!("cannot spawn {name}: {e}"))?;
    *child = Some(spawned);
    wait_ready(
        child,
        name,
        SocketAddr::from(([127, 0, 0, 1], port)),
        within,
    )
}

/// Waits until the server `child` runs answers on `addr` with a real
/// greeting and a working LOGIN ([`probe_greeting`]: the port opens before
/// the login process can answer), and is still alive after it. On an exit
/// or at the deadline `within`, the error says which (and `child` is
/// stopped and cleared).
pub(crate) fn wait_ready(
    child: &mut Option<Child>,
    name: &str,
    addr: SocketAddr,
    within: Duration,
) -> Result<(), String> {
    let deadline = Instant::now() + within;
    let exited = |child: &mut Option<Child>| {
        let status = child.as_mut().and_then(|c| c.try_wait().ok().flatten());
        if status.is_some() {
            *child = None;
        }
        status
    };
    loop {
        if let Some(status) = exited(child) {
            return Err(format!("{name} exited during startup: {status}"));
        }
        let last = match probe_greeting(addr) {
            Ok(()) => {
                return match exited(child) {
                    Some(status) => Err(format!("{name} exited right after greeting: {status}")),
                    None => Ok(()),
                }
            }
            Err(e) => e,
        };
        if Instant::now() >= deadline {
            stop_tree(child, Duration::from_secs(2));
            return Err(format!(
                "{name} gave no real `* OK` greeting and LOGIN on {addr} within {within:?} \
                 (last attempt: {last})"
            ));
        }
        std::thread::sleep(POLL_INTERVAL);
    }
}

/// SIGTERM to the master and all its children at once (a master alone
/// takes ~1–2.5 s to shut its children down; all at once takes ~50 ms),
/// waits up to `within`, then SIGKILLs what is left. Does nothing when
/// `child` is not running.
pub(crate) fn stop_tree(child: &mut Option<Child>, within: Duration) {
    let Some(mut child) = child.take() else {
        return;
    };
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    let master = child.id();
    let mut pids = vec![master];
    pids.extend(descendants(master));
    send_signal("TERM", &pids);
    let exited = wait_until(Instant::now() + within, || {
        matches!(child.try_wait(), Ok(Some(_))) && pids.iter().all(|&p| pid_gone(p))
    });
    if !exited {
        let mut left: Vec<u32> = pids.iter().copied().filter(|&p| !pid_gone(p)).collect();
        left.extend(descendants(master));
        send_signal("KILL", &left);
        let _ = child.kill();
        let _ = child.wait();
        wait_until(Instant::now() + Duration::from_secs(1), || {
            left.iter().all(|&p| pid_gone(p))
        });
    }
}

/// Runs each named test body (`fn name(server: &mut dyn ImapServer)`)
/// against Dovecot and against Cyrus: `dovecot::name` and `cyrus::name`.
/// Import it with `use concierge_test_support::on_both_servers;`.
#[macro_export]
macro_rules! on_both_servers {
    ($($name:ident),* $(,)?) => {
        mod dovecot {
            $(
                #[test]
                fn $name() {
                    let mut s = $crate::imap_server::start(
                        $crate::imap_server::Server::Dovecot,
                    );
                    super::$name(&mut *s);
                }
            )*
        }
        mod cyrus {
            $(
                #[test]
                fn $name() {
                    let mut s = $crate::imap_server::start(
                        $crate::imap_server::Server::Cyrus,
                    );
                    super::$name(&mut *s);
                }
            )*
        }
    };
}

/// A plaintext IMAP connection to `d`'s INBOX (a loopback server: the
/// only place `security = "none"` is allowed), password given separately.
pub fn plain(d: &dyn ImapServer) -> concierge::config::Connection {
    plain_at(d.imap_port(), d.user())
}

/// [`plain`] to any loopback `port` as `user`: a server the harness did not
/// start through [`ImapServer`], or a proxy in front of one (the sync
/// benchmark's counting proxy).
pub fn plain_at(port: u16, user: &str) -> concierge::config::Connection {
    concierge::config::Connection {
        host: "127.0.0.1".into(),
        port,
        security: concierge::config::Security::None,
        username: user.into(),
        password_env: Some("UNUSED".into()),
        password_command: None,
        auth: concierge::config::AuthKind::Password,
        token_command: None,
        mailbox: "INBOX".into(),
        ca_file: None,
        from: None,
        sent_mailbox: None,
    }
}

/// Whether INBOX's first message (the request a reply answered) is
/// `\Answered`, and how many copies the mailbox `sent` holds (none when it
/// does not exist yet): what filing a reply over IMAP leaves on `s`.
pub fn filed(s: &dyn ImapServer, sent: &str) -> (bool, u32) {
    let mut imap = s.imap_session();
    imap.examine("INBOX").expect("EXAMINE INBOX");
    let f = imap.fetch("1", "FLAGS").expect("FETCH 1 FLAGS");
    let answered = f
        .iter()
        .next()
        .expect("the request in INBOX")
        .flags()
        .contains(&imap::types::Flag::Answered);
    let copies = imap.examine(sent).map_or(0, |m| m.exists);
    let _ = imap.logout();
    (answered, copies)
}

/// Waits (up to 10 s) until the store at `db` has no reply of `actor` left
/// to file, then checks that request 1's reply is recorded as filed: its
/// `\Answered` flag set and its copy in Sent.
pub fn assert_filing_recorded(db: &Path, actor: &str) {
    let store = concierge::store::Store::open(db).expect("open the store");
    assert!(
        wait_until(Instant::now() + Duration::from_secs(10), || {
            store
                .replies_to_file(actor)
                .expect("replies to file")
                .is_empty()
        }),
        "the filing is not recorded"
    );
    let row = &store.replies(1).expect("request 1's replies")[0];
    assert!(row.answered_flag && row.sent_copy, "{row:?}");
}

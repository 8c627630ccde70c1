//! An SMTP sink (aiosmtpd, run with Debian's `/usr/bin/python3`) that stores
//! every message it accepts.
//!
//! ```ignore
//! let sink = support::smtp::SmtpSink::start();
//! // ... make the code under test send to 127.0.0.1:sink.port() ...
//! let got = sink.wait_for(1, Duration::from_secs(5));
//! assert_eq!(got[0].rcpt_to, vec!["customer@example.com"]);
//! ```
//!
//! The sink accepts any AUTH PLAIN/LOGIN credentials without TLS, so clients
//! configured with credentials work too. Lines longer than 1000 octets are
//! rejected with `500 Line too long` (aiosmtpd enforces RFC 5321).

use std::fs;
use std::io::BufRead;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{free_port, read_for_report, INSTALL_HINT, POLL_INTERVAL};

/// Debian's python3 (the pyenv python3 on PATH cannot import aiosmtpd).
pub const PYTHON: &str = "/usr/bin/python3";
/// The handler script.
pub const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/smtp_sink.py");

/// How long [`SmtpSink::start`] waits for the banner: a poll that ends at
/// the banner (a Python start, ~0.3 s when idle); the margin is for a
/// loaded 2-vCPU CI machine.
const START_DEADLINE: Duration = Duration::from_secs(60);

/// One message the sink accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    /// Envelope sender (MAIL FROM), without angle brackets; "" for `<>`.
    pub mail_from: String,
    /// Envelope recipients (RCPT TO), without angle brackets, in order.
    pub rcpt_to: Vec<String>,
    /// The message as received: CRLF line ends, dot-unstuffed, without the
    /// final `.` line.
    pub data: Vec<u8>,
}

impl Received {
    /// `data` as (lossy) UTF-8, for assertions.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.data).into_owned()
    }
}

/// Options for [`SmtpSink`]; start with [`SmtpSink::builder`].
#[derive(Clone, Debug, Default)]
pub struct SmtpSinkBuilder {
    fail_first: usize,
    lmtp: Option<(u16, String)>,
    tls: Option<(PathBuf, PathBuf)>,
    implicit_tls: bool,
    stall_after_data: bool,
    oauth_tokens: Option<PathBuf>,
}

impl SmtpSinkBuilder {
    /// Answer the first `n` DATA transactions with `451` (then accept).
    pub fn fail_first(mut self, n: usize) -> Self {
        self.fail_first = n;
        self
    }
    /// Also deliver every accepted message over LMTP (127.0.0.1:`port`) to
    /// `user`, whatever the envelope recipients are. The message is stored
    /// (and visible to [`SmtpSink::messages`]) only after the LMTP delivery
    /// finished.
    pub fn forward_to_lmtp(mut self, port: u16, user: &str) -> Self {
        self.lmtp = Some((port, user.to_string()));
        self
    }
    /// Offer STARTTLS with this certificate and key (PEM files) and refuse
    /// mail from a client that does not use it.
    pub fn require_starttls(mut self, cert: &Path, key: &Path) -> Self {
        self.tls = Some((cert.to_path_buf(), key.to_path_buf()));
        self
    }
    /// Speak TLS from the first byte (implicit TLS, RFC 8314 §3.3) with this
    /// certificate and key; no STARTTLS.
    pub fn implicit_tls(mut self, cert: &Path, key: &Path) -> Self {
        self.tls = Some((cert.to_path_buf(), key.to_path_buf()));
        self.implicit_tls = true;
        self
    }
    /// Offer AUTH XOAUTH2, accepting the tokens listed in `file` (one a
    /// line, re-read on each login).
    pub fn oauth_tokens(mut self, file: &Path) -> Self {
        self.oauth_tokens = Some(file.to_path_buf());
        self
    }
    /// Take the message body, then never answer the end of DATA.
    pub fn stall_after_data(mut self) -> Self {
        self.stall_after_data = true;
        self
    }
    /// Starts the sink.
    pub fn start(self) -> SmtpSink {
        SmtpSink::spawn(self)
    }
}

/// A running SMTP sink on 127.0.0.1. Killed on drop; its temp dir removed.
pub struct SmtpSink {
    dir: tempfile::TempDir,
    port: u16,
    child: Child,
}

impl SmtpSink {
    /// A sink that accepts everything.
    pub fn start() -> SmtpSink {
        Self::builder().start()
    }

    /// A sink that answers the first `n` DATA transactions with
    /// `451 4.3.0 Temporary failure`, then accepts.
    pub fn start_failing(n: usize) -> SmtpSink {
        Self::builder().fail_first(n).start()
    }

    /// A sink that also delivers each accepted message into Dovecot's INBOX
    /// of the test user ("concierge") over LMTP, so it can be read back over
    /// IMAP.
    pub fn start_forwarding_to_lmtp(lmtp_port: u16) -> SmtpSink {
        Self::builder()
            .forward_to_lmtp(lmtp_port, super::dovecot::USER)
            .start()
    }

    /// Builder for the other options.
    pub fn builder() -> SmtpSinkBuilder {
        SmtpSinkBuilder::default()
    }

    /// Always "127.0.0.1".
    pub fn host(&self) -> &'static str {
        "127.0.0.1"
    }

    /// The SMTP port on 127.0.0.1 (plaintext, no STARTTLS).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Where messages are stored.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The sink's stdout/stderr so far.
    pub fn log(&self) -> String {
        read_for_report(&self.dir.path().join("sink.log"))
    }

    /// All messages accepted so far, in arrival order.
    pub fn messages(&self) -> Vec<Received> {
        let mut metas: Vec<PathBuf> = fs::read_dir(self.dir.path())
            .expect("read sink dir")
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
                name.ends_with(".json") && name.as_bytes()[0].is_ascii_digit()
            })
            .collect();
        metas.sort();
        metas
            .iter()
            .map(|meta_path| {
                let meta: serde_json::Value = serde_json::from_slice(
                    &fs::read(meta_path)
                        .unwrap_or_else(|e| panic!("read {}: {e}", meta_path.display())),
                )
                .unwrap_or_else(|e| panic!("parse {}: {e}", meta_path.display()));
                let data_path = meta_path.with_extension("eml");
                let data = fs::read(&data_path)
                    .unwrap_or_else(|e| panic!("read {}: {e}", data_path.display()));
                Received {
                    mail_from: meta["mail_from"].as_str().unwrap_or_default().to_string(),
                    rcpt_to: meta["rcpt_to"]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .map(|v| v.as_str().unwrap_or_default().to_string())
                                .collect()
                        })
                        .unwrap_or_default(),
                    data,
                }
            })
            .collect()
    }

    /// How many DATA transactions were answered with 451 so far.
    pub fn rejected_count(&self) -> usize {
        fs::read_dir(self.dir.path())
            .expect("read sink dir")
            .flatten()
            .filter(|e| {
                let name = e.file_name();
                let name = name.to_string_lossy();
                name.starts_with("rejected-") && name.ends_with(".json")
            })
            .count()
    }

    /// LMTP delivery errors recorded so far (forwarding sinks only).
    pub fn lmtp_errors(&self) -> Vec<String> {
        let mut metas: Vec<PathBuf> = fs::read_dir(self.dir.path())
            .expect("read sink dir")
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        metas.sort();
        metas
            .iter()
            .filter_map(|p| {
                let v: serde_json::Value = serde_json::from_slice(&fs::read(p).ok()?).ok()?;
                v["lmtp_error"].as_str().map(String::from)
            })
            .collect()
    }

    /// Waits (polling) until at least `n` messages were accepted and returns
    /// all of them. Panics with what arrived so far and the sink log when
    /// `timeout` passes, or at once if the sink process died.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.messages();
            if got.len() >= n {
                return got;
            }
            if !self.is_alive() {
                panic!(
                    "SmtpSink on port {} died while waiting for {n} message(s) ({} received)\n\
                     --- sink log ---\n{}",
                    self.port,
                    got.len(),
                    self.log()
                );
            }
            if Instant::now() >= deadline {
                panic!(
                    "SmtpSink on port {}: timed out after {timeout:?} waiting for {n} message(s); \
                     {} received, {} rejected with 451\nreceived: {:#?}\n--- sink log ---\n{}",
                    self.port,
                    got.len(),
                    self.rejected_count(),
                    got.iter()
                        .map(|r| (&r.mail_from, &r.rcpt_to, r.data.len()))
                        .collect::<Vec<_>>(),
                    self.log()
                );
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    fn is_alive(&self) -> bool {
        // /proc check avoids needing &mut self for try_wait.
        !super::pid_gone(self.child.id())
    }

    fn spawn(opts: SmtpSinkBuilder) -> SmtpSink {
        if !Path::new(PYTHON).exists() {
            panic!("{PYTHON} is missing; aiosmtpd is needed: {INSTALL_HINT}");
        }
        let dir = tempfile::Builder::new()
            .prefix("concierge-smtp-")
            .tempdir()
            .expect("create sink temp dir");
        let mut attempt = 0;
        loop {
            attempt += 1;
            let port = free_port();
            let log = fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(dir.path().join("sink.log"))
                .expect("open sink.log");
            let mut cmd = Command::new(PYTHON);
            cmd.arg("-u")
                .arg(SCRIPT)
                .arg("--port")
                .arg(port.to_string())
                .arg("--dir")
                .arg(dir.path())
                .arg("--fail-first")
                .arg(opts.fail_first.to_string());
            if let Some((cert, key)) = &opts.tls {
                cmd.arg("--tls-cert").arg(cert).arg("--tls-key").arg(key);
                if opts.implicit_tls {
                    cmd.arg("--implicit-tls");
                }
            }
            if let Some(tokens) = &opts.oauth_tokens {
                cmd.arg("--oauth-tokens").arg(tokens);
            }
            if opts.stall_after_data {
                cmd.arg("--stall-after-data");
            }
            if let Some((lmtp_port, user)) = &opts.lmtp {
                cmd.arg("--lmtp-port")
                    .arg(lmtp_port.to_string())
                    .arg("--lmtp-user")
                    .arg(user);
            }
            let mut child = cmd
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("dup log"))
                .stderr(log)
                // Keep the user's PYTHONPATH etc. from interfering.
                .env_remove("PYTHONPATH")
                .env_remove("PYTHONHOME")
                .spawn()
                .unwrap_or_else(|e| panic!("spawn {PYTHON} {SCRIPT}: {e}"));

            let deadline = Instant::now() + START_DEADLINE;
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            loop {
                if let Ok(Some(status)) = child.try_wait() {
                    let log = read_for_report(&dir.path().join("sink.log"));
                    match status.code() {
                        Some(3) => panic!(
                            "python3-aiosmtpd is not installed: {INSTALL_HINT}\n--- sink log ---\n{log}"
                        ),
                        Some(4) if attempt < 3 => break, // port taken: retry
                        _ => panic!(
                            "SMTP sink exited during startup: {status}\n--- sink log ---\n{log}"
                        ),
                    }
                }
                // A TLS listener cannot be probed in plaintext: it is ready
                // once it says it listens.
                let probe = if opts.implicit_tls {
                    let log = read_for_report(&dir.path().join("sink.log"));
                    if log.contains("listening on") {
                        Ok(())
                    } else {
                        Err("not listening yet".to_string())
                    }
                } else {
                    probe_banner(addr)
                };
                let last_err = match probe {
                    Ok(()) => return SmtpSink { dir, port, child },
                    Err(e) => e,
                };
                if Instant::now() >= deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "SMTP sink gave no 220 banner on {addr} within {START_DEADLINE:?} \
                         (last attempt: {last_err})\n--- sink log ---\n{}",
                        read_for_report(&dir.path().join("sink.log"))
                    );
                }
                std::thread::sleep(POLL_INTERVAL);
            }
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        super::keep_dir_if_asked(&mut self.dir);
    }
}

/// Connects, expects a `220` banner, sends QUIT.
fn probe_banner(addr: SocketAddr) -> Result<(), String> {
    use std::io::Write;
    let (mut line, mut reader, mut writer) = super::first_line(addr)?;
    if !line.starts_with("220") {
        return Err(format!("unexpected banner {line:?}"));
    }
    let _ = writer.write_all(b"QUIT\r\n");
    line.clear();
    let _ = reader.read_line(&mut line);
    Ok(())
}

//! A private Cyrus IMAP 3.6 instance for one test: the second real IMAP
//! server implementation beside Dovecot.
//!
//! Cyrus conflicts with Dovecot as a Debian package (installing
//! `cyrus-imapd` removes `dovecot-imapd`), so `scripts/test.sh` unpacks its
//! two packages with `dpkg -x` into [`CYRUS_ROOT`] (override with the
//! `CONCIERGE_CYRUS_ROOT` environment variable) and installs only the
//! libraries it links (libpcre3, libxapian30, libical3).
//!
//! What differs from Dovecot, and what the tests rely on:
//! - the personal namespace is `INBOX.` (`altnamespace: no`), so the sent
//!   mailbox is `INBOX.Sent`, created at first login without a SPECIAL-USE
//!   flag: only NAMESPACE (RFC 2342) finds it;
//! - mail is seeded with APPEND (Cyrus's spool is not a Maildir);
//! - passwords are checked against a sasldb written with `saslpasswd2`
//!   (Debian's `sasl2-bin`; `sasl_pwcheck_method: auxprop`), so a wrong
//!   one is refused as on Dovecot; `failedloginpause: 0` answers it at once
//!   (Cyrus waits 3 s by default);
//! - without `idled`, IDLE only announces new mail every `imapidlepoll`
//!   seconds (60 by default), see [`Cyrus::start_without_idled`].
//!
//! Layout of the temp dir (mode 0755; the Cyrus user is `nobody` as root):
//!
//! ```text
//! DIR/imapd.conf  DIR/cyrus.conf  DIR/master.stderr
//! DIR/conf/ (configdirectory)  DIR/spool/ (partition-default)  DIR/run/
//! ```

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::dovecot::{chown_mail, lookup_ids, make_temp_dir, write_file, Ids};
use super::imap_server::{spawn_and_wait, start_on_free_ports, stop_tree};
use super::{free_port, read_for_report};

/// Where `scripts/test.sh` unpacks the Debian packages (`dpkg -x`).
pub const CYRUS_ROOT: &str = "/opt/concierge-test/cyrus";
/// Writes the sasldb the password is checked against (Debian's sasl2-bin).
pub const SASLPASSWD2: &str = "/usr/sbin/saslpasswd2";
/// Test user name (the same as Dovecot's, so test bodies are shared).
pub const USER: &str = super::dovecot::USER;
/// Test user password (in the instance's sasldb).
pub const PASSWORD: &str = super::dovecot::PASSWORD;

/// How long [`Cyrus::start`] waits for a greeting and a working LOGIN. A
/// poll that ends at the LOGIN; the margin is for a loaded 2-vCPU CI
/// machine.
const START_DEADLINE: Duration = Duration::from_secs(60);
/// How long a stop waits for the master and its children before SIGKILL.
const STOP_DEADLINE: Duration = Duration::from_secs(5);

/// A running private Cyrus instance; stopped and its temp dir removed on
/// drop.
pub struct Cyrus {
    dir: tempfile::TempDir,
    imap_port: u16,
    child: Option<Child>,
    /// Whether `idled` runs ([`Cyrus::start`]).
    idled: bool,
}

impl Cyrus {
    /// Starts a fresh instance with `idled`, so IDLE announces new mail at
    /// once (as Dovecot does). Panics with the server's output when it does
    /// not answer within 15 s.
    pub fn start() -> Cyrus {
        Self::start_with(None)
    }

    /// An instance without `idled`: an IDLE client hears about new mail
    /// only when imapd polls, every `poll_secs` seconds — the behaviour of a
    /// default Cyrus install (60 s), shortened for a test.
    pub fn start_without_idled(poll_secs: u32) -> Cyrus {
        Self::start_with(Some(poll_secs))
    }

    fn start_with(idle_poll: Option<u32>) -> Cyrus {
        let root = cyrus_root();
        let bin = root.join("usr/lib/cyrus/bin");
        if !bin.join("master").exists() {
            panic!(
                "Cyrus IMAP is not unpacked in {}: run scripts/test.sh (it unpacks \
                 cyrus-imapd and cyrus-common with dpkg -x)",
                root.display()
            );
        }
        let dir = make_temp_dir();
        let ids = lookup_ids(dir.path());
        let mut cy = Cyrus {
            dir,
            imap_port: 0,
            child: None,
            idled: idle_poll.is_none(),
        };
        cy.make_dirs(&ids);
        cy.write_sasldb(&ids);
        start_on_free_ports(
            &mut cy,
            |cy| {
                cy.imap_port = free_port();
                cy.write_config(&ids, &bin, idle_poll);
                cy.spawn_and_wait(&root)
            },
            Cyrus::diagnostics,
        );
        cy
    }

    /// Plaintext IMAP port on 127.0.0.1.
    pub fn imap_port(&self) -> u16 {
        self.imap_port
    }

    /// The instance's temp dir.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The master's stdout and stderr (Cyrus logs to syslog otherwise).
    pub fn diagnostics(&self) -> String {
        read_for_report(&self.dir.path().join("master.stderr"))
    }

    /// APPENDs one message to INBOX (the `name` is only for symmetry with
    /// Dovecot's seeding). UIDs are given in seeding order.
    pub fn seed(&self, _name: &str, bytes: &[u8]) {
        let mut s = self.imap_session();
        s.append("INBOX", bytes)
            .finish()
            .unwrap_or_else(|e| panic!("APPEND to Cyrus: {e}"));
        let _ = s.logout();
    }

    /// A logged-in plaintext IMAP session as the test user.
    pub fn imap_session(&self) -> imap::Session<imap::Connection> {
        super::imap_login(self.imap_port, USER, PASSWORD).unwrap_or_else(|e| panic!("{e} (Cyrus)"))
    }

    /// True while the master process runs.
    pub fn is_running(&mut self) -> bool {
        super::child_running(&mut self.child)
    }

    /// Stops the server (SIGTERM to the master and its children); data and
    /// port are kept for [`Cyrus::start_again`].
    pub fn stop(&mut self) {
        self.stop_within(STOP_DEADLINE);
    }

    /// Starts a stopped server again on the same port with the same data.
    pub fn start_again(&mut self) {
        if self.is_running() {
            return;
        }
        if let Err(msg) = self.spawn_and_wait(&cyrus_root()) {
            panic!("Cyrus start_again failed: {msg}\n{}", self.diagnostics());
        }
    }

    // ---- internals ----

    fn make_dirs(&self, ids: &Ids) {
        let root = self.dir.path();
        // The directories `mkimap` would make; imapd exits (EX_USAGE, no
        // message outside syslog) when conf/db is missing.
        let subs = [
            "conf",
            "conf/db",
            "conf/proc",
            "conf/socket",
            "conf/lock",
            "conf/log",
            "conf/msg",
            "conf/user",
            "conf/quota",
            "conf/sieve",
            "conf/ptclient",
            "conf/sync",
            "spool",
            "run",
        ];
        for sub in subs {
            let p = root.join(sub);
            fs::create_dir_all(&p).unwrap_or_else(|e| panic!("mkdir {}: {e}", p.display()));
            chown_mail(ids, &p);
        }
    }

    /// The test user's password, in `conf/sasldb2` (realm `localhost`, the
    /// `servername`), readable by the Cyrus user only.
    fn write_sasldb(&self, ids: &Ids) {
        use std::io::Write;
        if !Path::new(SASLPASSWD2).exists() {
            panic!(
                "{SASLPASSWD2} is missing: apt-get install -y sasl2-bin (or run scripts/test.sh)"
            );
        }
        let db = self.dir.path().join("conf/sasldb2");
        let mut child = Command::new(SASLPASSWD2)
            // -p: the password from stdin; -c: create the user.
            .args(["-p", "-c", "-u", "localhost", "-f"])
            .arg(&db)
            .arg(USER)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {SASLPASSWD2}: {e}"));
        child
            .stdin
            .take()
            .unwrap()
            .write_all(PASSWORD.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{SASLPASSWD2}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        fs::set_permissions(&db, fs::Permissions::from_mode(0o600))
            .unwrap_or_else(|e| panic!("chmod {}: {e}", db.display()));
        chown_mail(ids, &db);
    }

    fn write_config(&self, ids: &Ids, bin: &Path, idle_poll: Option<u32>) {
        let root = self.dir.path().display();
        // Cyrus services refuse to run as root ("must run as the Cyrus
        // user"): as root they run as nobody, otherwise as the test user.
        let user = &ids.login_user;
        let poll = idle_poll
            .map(|s| format!("imapidlepoll: {s}\n"))
            .unwrap_or_default();
        let imapd = format!(
            "configdirectory: {root}/conf\n\
             partition-default: {root}/spool\n\
             defaultpartition: default\n\
             servername: localhost\n\
             cyrus_user: {user}\n\
             admins: cyrusadmin\n\
             sasl_pwcheck_method: auxprop\n\
             sasl_auxprop_plugin: sasldb\n\
             sasl_sasldb_path: {root}/conf/sasldb2\n\
             failedloginpause: 0\n\
             sasl_mech_list: PLAIN LOGIN\n\
             allowplaintext: yes\n\
             altnamespace: no\n\
             unixhierarchysep: no\n\
             autocreate_post: 1\n\
             autocreate_quota: 0\n\
             autocreate_inbox_folders: Sent\n\
             idlesocket: {root}/run/idle\n\
             lmtpsocket: {root}/run/lmtp\n\
             notifysocket: {root}/run/notify\n\
             syslog_prefix: concierge-cyrus-test\n\
             {poll}"
        );
        write_file(&self.dir.path().join("imapd.conf"), imapd.as_bytes(), 0o644);
        let conf = format!("{root}/imapd.conf");
        let bin = bin.display();
        let idled = if idle_poll.is_none() {
            format!("  idled cmd=\"{bin}/idled -C {conf}\"\n")
        } else {
            String::new()
        };
        // With idled, imapd starts only once idled has bound its socket
        // (see `spawn_and_wait`): polled, 60 s at most.
        let imapd = if idle_poll.is_none() {
            let w = self.dir.path().join("imapd-after-idled.sh");
            let script = format!(
                "#!/bin/sh\ni=0\nwhile [ ! -S {root}/run/idle ] && [ $i -lt 600 ]; do \
                 sleep 0.1; i=$((i+1)); done\nexec {bin}/imapd \"$@\"\n"
            );
            write_file(&w, script.as_bytes(), 0o755);
            w.display().to_string()
        } else {
            format!("{bin}/imapd")
        };
        let cyrus_conf = format!(
            "START {{\n  recover cmd=\"{bin}/ctl_cyrusdb -C {conf} -r\"\n}}\n\
             SERVICES {{\n  imap cmd=\"{imapd} -C {conf}\" listen=\"127.0.0.1:{port}\" \
             prefork=0\n}}\n\
             EVENTS {{\n}}\n\
             DAEMON {{\n{idled}}}\n",
            port = self.imap_port
        );
        write_file(
            &self.dir.path().join("cyrus.conf"),
            cyrus_conf.as_bytes(),
            0o644,
        );
    }

    /// Starts the master and waits for imapd's greeting and, with `idled`,
    /// for `idled`'s socket. imapd tells `idled` about an IDLE once, when
    /// the IDLE starts, and polls every `imapidlepoll` (60 s) if `idled` is
    /// not there yet; the master starts both at once, so a client quick to
    /// IDLE after a start got the 60 s polling (a loaded run of imap_sync's
    /// Cyrus restart test waited 30 s for news so; `idled` started 5 s late
    /// reproduces it every time). So imapd starts only once `idled` is
    /// there (`write_config`).
    fn spawn_and_wait(&mut self, root: &Path) -> Result<(), String> {
        let dir = self.dir.path();
        // Bound by idled (`idlesocket`); the one left by a stopped idled
        // would pass the wait below.
        let idle_socket = dir.join("run/idle");
        if self.idled {
            let _ = fs::remove_file(&idle_socket);
        }
        let mut cmd = Command::new(root.join("usr/lib/cyrus/bin/master"));
        cmd.arg("-C")
            .arg(dir.join("imapd.conf"))
            .arg("-M")
            .arg(dir.join("cyrus.conf"))
            .arg("-p")
            .arg(dir.join("run/master.pid"))
            // Foreground: the test owns the process.
            .arg("-D")
            // Its own process group: the master ends with kill(0, SIGTERM),
            // which would otherwise reach every other Cyrus of this test run
            // (all run as nobody) and drop their connections.
            .process_group(0)
            .env("LD_LIBRARY_PATH", root.join("usr/lib/x86_64-linux-gnu"))
            .current_dir(dir);
        spawn_and_wait(
            cmd,
            &dir.join("master.stderr"),
            &mut self.child,
            "Cyrus master",
            self.imap_port,
            START_DEADLINE,
        )?;
        let deadline = std::time::Instant::now() + START_DEADLINE;
        if self.idled && !super::wait_until(deadline, || idle_socket.exists()) {
            return Err(format!(
                "idled did not bind {} within {START_DEADLINE:?}",
                idle_socket.display()
            ));
        }
        Ok(())
    }

    fn stop_within(&mut self, deadline: Duration) {
        stop_tree(&mut self.child, deadline);
    }
}

impl Drop for Cyrus {
    fn drop(&mut self) {
        self.stop_within(Duration::from_secs(2));
        super::keep_dir_if_asked(&mut self.dir);
    }
}

fn cyrus_root() -> PathBuf {
    std::env::var_os("CONCIERGE_CYRUS_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(CYRUS_ROOT))
}

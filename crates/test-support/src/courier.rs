//! A private Courier-IMAP 5.0 instance for one test: the third real IMAP
//! server implementation beside Dovecot and Cyrus, and the one whose UID
//! handling Concierge's fallback (`src/inbox/unstable.rs`) was written for.
//!
//! `courier-imap` conflicts with `dovecot-imapd` as a Debian package, so
//! `scripts/test.sh` unpacks courier-imap, courier-base, courier-authlib,
//! courier-authlib-userdb and libcourier-unicode4 with `dpkg -x` into
//! [`COURIER_ROOT`] (override with `CONCIERGE_COURIER_ROOT`) and installs
//! only the libraries they link (libidn12, libgamin0, libltdl7, libgdbm6).
//!
//! The login path is Courier's own, unchanged: `couriertcpd` accepts,
//! `imaplogin` asks `authdaemond` over its socket, `authdaemond` checks the
//! password with its `authuserdb` module (a userdb written with Courier's
//! `userdbpw` and `makedatprog`), and `imaplogin` then runs `imapd` as the
//! mail user on the user's Maildir. A wrong password is refused (after
//! Courier's own 5 s pause).
//!
//! courier-authlib compiles three paths in: its configuration
//! (`/etc/courier/authdaemonrc`, `/etc/courier/userdb.dat`), its modules
//! (`/usr/lib/courier-authlib/`) and its socket
//! (`/run/courier/authdaemon/socket`). So that the host stays untouched and
//! several instances run at once, the instance runs in its own mount
//! namespace (`unshare --mount`, hence root only, as the tests run in CI):
//! read-only overlays put DIR/etc over `/etc` and the unpacked `usr/lib`
//! over `/usr/lib`, and a private tmpfs is mounted on `/run`. Nothing
//! outside the namespace sees these mounts; they go with its last process.
//!
//! Layout of the temp dir (mode 0755):
//!
//! ```text
//! DIR/etc/courier/ (authdaemonrc, userdb.dat, userdbshadow.dat)
//! DIR/home/Maildir/ (cur new tmp, .Sent/: Courier's INBOX.Sent)
//! DIR/start.sh (run in the namespace)  DIR/courier.log (all output)
//! ```

use std::fs;
use std::io::{BufRead, Write};
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::dovecot::{chown_mail, lookup_ids, make_temp_dir, write_file, Ids};
use super::imap_server::{start_on_free_ports, stop_tree};
use super::{first_line, free_port, pid_gone, read_for_report, send_signal, wait_until};

/// Where `scripts/test.sh` unpacks the Debian packages (`dpkg -x`).
pub const COURIER_ROOT: &str = "/opt/concierge-test/courier";
/// Test user name (the same as Dovecot's, so test bodies are shared).
pub const USER: &str = super::dovecot::USER;
/// Test user password (in the instance's userdb, MD5-crypted).
pub const PASSWORD: &str = super::dovecot::PASSWORD;
/// Courier's sent mailbox: `Maildir/.Sent` seen through the `INBOX.`
/// namespace (RFC 2342), without a SPECIAL-USE flag.
pub const SENT_MAILBOX: &str = "INBOX.Sent";

/// How long [`Courier::start`] waits for authdaemond, a greeting and a
/// working LOGIN.
const START_DEADLINE: Duration = Duration::from_secs(15);
/// How long a stop waits for couriertcpd and its children before SIGKILL.
const STOP_DEADLINE: Duration = Duration::from_secs(5);
/// couriertcpd's defaults allow 4 connections per address; the tests open
/// more at once from 127.0.0.1 (a sync's two sessions plus seeding).
const MAX_CONNECTIONS: u32 = 100;

/// A running private Courier-IMAP instance; stopped and its temp dir
/// removed on drop.
pub struct Courier {
    dir: tempfile::TempDir,
    imap_port: u16,
    ids: Ids,
    child: Option<Child>,
}

impl Courier {
    /// Starts a fresh instance with an empty INBOX and an empty
    /// `INBOX.Sent`. Panics with the servers' output when it does not
    /// answer a LOGIN within 15 s.
    pub fn start() -> Courier {
        Self::start_with_settings(&[])
    }

    /// [`Courier::start`] with imapd settings (`/etc/courier/imapd`
    /// variables, e.g. `("IMAP_IDLE_TIMEOUT", "2")`) set after the
    /// package's defaults. Panics on a value with a `'` in it.
    pub fn start_with_settings(settings: &[(&str, &str)]) -> Courier {
        let root = courier_root();
        if !root.join("usr/bin/imapd").exists() {
            panic!(
                "Courier-IMAP is not unpacked in {}: run scripts/test.sh (it unpacks \
                 courier-imap and courier-authlib with dpkg -x)",
                root.display()
            );
        }
        let dir = make_temp_dir();
        let ids = lookup_ids(dir.path());
        if !ids.root {
            panic!(
                "the Courier-IMAP tests run as root: courier-authlib's paths are compiled \
                 in, so each instance gets its own mount namespace (unshare --mount)"
            );
        }
        let mut c = Courier {
            dir,
            imap_port: 0,
            ids,
            child: None,
        };
        c.make_maildir();
        c.write_auth(&root);
        start_on_free_ports(
            &mut c,
            |c| {
                c.imap_port = free_port();
                c.write_start_script(&root, settings);
                c.spawn_and_wait()
            },
            Courier::diagnostics,
        );
        c
    }

    /// Plaintext IMAP port on 127.0.0.1.
    pub fn imap_port(&self) -> u16 {
        self.imap_port
    }

    /// The instance's temp dir.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The test user's Maildir (INBOX).
    pub fn maildir(&self) -> PathBuf {
        self.dir.path().join("home/Maildir")
    }

    /// Everything couriertcpd, imaplogin, imapd and authdaemond printed.
    pub fn diagnostics(&self) -> String {
        read_for_report(&self.dir.path().join("courier.log"))
    }

    /// Delivers one message to INBOX as an MTA does (write in `tmp/`,
    /// rename into `new/`); Courier gives it a UID when a session next
    /// looks. Returns its path.
    pub fn seed(&self, name: &str, bytes: &[u8]) -> PathBuf {
        self.deliver(&self.maildir(), name, bytes)
    }

    /// Messages in a Maildir folder of the test user (`""` for INBOX,
    /// `".Sent"` for INBOX.Sent), read from disk: what Courier really
    /// stored.
    pub fn messages_in(&self, folder: &str) -> Vec<Vec<u8>> {
        let base = self.maildir().join(folder);
        let mut out = Vec::new();
        for sub in ["cur", "new"] {
            let Ok(entries) = fs::read_dir(base.join(sub)) else {
                continue;
            };
            for e in entries.flatten() {
                out.push(fs::read(e.path()).unwrap_or_default());
            }
        }
        out
    }

    /// A logged-in plaintext IMAP session as the test user.
    pub fn imap_session(&self) -> imap::Session<imap::Connection> {
        super::imap_login(self.imap_port, USER, PASSWORD)
            .unwrap_or_else(|e| panic!("{e} (Courier)\n{}", self.diagnostics()))
    }

    /// True while couriertcpd runs.
    pub fn is_running(&mut self) -> bool {
        super::child_running(&mut self.child)
    }

    /// Stops the server (SIGTERM to couriertcpd, authdaemond and every
    /// session), keeping the Maildir.
    pub fn stop(&mut self) {
        self.stop_within(STOP_DEADLINE);
    }

    // ---- internals ----

    /// imapd watches the Maildir through Gamin (libgamin, the `libfam.so.0`
    /// it links), which starts a `gam_server` that detaches itself and
    /// would outlive the instance by ~30 s, shared by every instance of
    /// the same user. `GAM_CLIENT_ID` gives each instance its own server,
    /// found again by this id in its environment and stopped with the rest.
    fn gamin_id(&self) -> String {
        let name = self.dir.path().file_name().unwrap_or_default();
        format!("concierge-{}", name.to_string_lossy())
    }

    fn stop_within(&mut self, within: Duration) {
        stop_tree(&mut self.child, within);
        let tag = format!("GAM_CLIENT_ID={}", self.gamin_id());
        let ours: Vec<u32> = processes_with_env(&tag);
        send_signal("TERM", &ours);
        let gone = wait_until(Instant::now() + within, || {
            ours.iter().all(|&p| pid_gone(p))
        });
        if !gone {
            send_signal("KILL", &ours);
        }
    }

    fn deliver(&self, folder: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let file_name = unique_name(name);
        let tmp = folder.join("tmp").join(&file_name);
        let dst = folder.join("new").join(&file_name);
        write_file(&tmp, bytes, 0o644);
        chown_mail(&self.ids, &tmp);
        fs::rename(&tmp, &dst)
            .unwrap_or_else(|e| panic!("rename {} -> {}: {e}", tmp.display(), dst.display()));
        dst
    }

    /// `home/Maildir` and `home/Maildir/.Sent` (with the `maildirfolder`
    /// marker `maildirmake -f` writes), owned by the mail user.
    fn make_maildir(&self) {
        let home = self.dir.path().join("home");
        let maildir = self.maildir();
        let mut dirs = vec![home.clone(), maildir.clone()];
        for folder in [maildir.clone(), maildir.join(".Sent")] {
            dirs.push(folder.clone());
            for sub in ["cur", "new", "tmp"] {
                dirs.push(folder.join(sub));
            }
        }
        for d in &dirs {
            fs::create_dir_all(d).unwrap_or_else(|e| panic!("mkdir {}: {e}", d.display()));
            chown_mail(&self.ids, d);
        }
        let marker = maildir.join(".Sent/maildirfolder");
        write_file(&marker, b"", 0o644);
        chown_mail(&self.ids, &marker);
    }

    /// authdaemonrc (only the userdb module) and the userdb, as
    /// `makeuserdb` would build it from `/etc/courier/userdb`: the
    /// password fields go to `userdbshadow.dat`, the rest to `userdb.dat`.
    fn write_auth(&self, root: &Path) {
        let etc = self.dir.path().join("etc/courier");
        fs::create_dir_all(&etc).unwrap_or_else(|e| panic!("mkdir {}: {e}", etc.display()));
        write_file(
            &etc.join("authdaemonrc"),
            b"authmodulelist=\"authuserdb\"\ndaemons=1\n\
              authdaemonvar=/run/courier/authdaemon\nDEBUG_LOGIN=0\n\
              DEFAULTOPTIONS=\"\"\nLOGGEROPTS=\"\"\n",
            0o644,
        );
        let crypted = run_with_input(
            &root.join("usr/sbin/userdbpw"),
            &["-md5"],
            format!("{PASSWORD}\n").as_bytes(),
        );
        let crypted = String::from_utf8_lossy(&crypted).trim().to_string();
        let (uid, gid) = (self.ids.mail_uid, self.ids.mail_gid);
        let home = self.dir.path().join("home");
        let maildir = self.maildir();
        // makedatprog reads `key<TAB>value` lines up to a line ".".
        let makedat = root.join("usr/lib/courier/courier-authlib/makedatprog");
        let tables = [
            (
                "userdb",
                format!(
                    "{USER}\tuid={uid}|gid={gid}|home={}|mail={}\n.\n",
                    home.display(),
                    maildir.display()
                ),
            ),
            ("userdbshadow", format!("{USER}\tsystempw={crypted}\n.\n")),
        ];
        for (name, text) in tables {
            let tmp = etc.join(format!("{name}.tmp"));
            let dat = etc.join(format!("{name}.dat"));
            let args = [
                "-".to_string(),
                tmp.display().to_string(),
                dat.display().to_string(),
            ];
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            run_with_input(&makedat, &args, text.as_bytes());
            assert!(
                dat.exists(),
                "{} wrote no {}",
                makedat.display(),
                dat.display()
            );
        }
    }

    /// The script run inside the new mount namespace: the two overlays and
    /// the private `/run`,
    /// authdaemond in the background (ready when its socket exists), then
    /// couriertcpd in the foreground with Debian's default imapd settings
    /// (`/etc/courier/imapd` of the package: capabilities, IDLE, ACLs) and
    /// then `settings`.
    fn write_start_script(&self, root: &Path, settings: &[(&str, &str)]) {
        let mut extra = String::new();
        for (name, value) in settings {
            assert!(
                name.bytes().all(|b| b.is_ascii_uppercase() || b == b'_') && !value.contains('\''),
                "unusable imapd setting {name}={value}"
            );
            extra.push_str(&format!("{name}='{value}'\n"));
        }
        let dir = self.dir.path().display();
        let root = root.display();
        let gamin = self.gamin_id();
        let port = self.imap_port;
        let max = MAX_CONNECTIONS;
        let script = format!(
            "set -e\n\
             mount -t overlay overlay -o 'lowerdir={dir}/etc:/etc' /etc\n\
             mount -t overlay overlay -o 'lowerdir={root}/usr/lib:/usr/lib' /usr/lib\n\
             mount -t tmpfs tmpfs /run\n\
             mkdir -p /run/courier/authdaemon\n\
             '{root}/usr/lib/courier/courier-authlib/authdaemond' &\n\
             # Polls for the socket every 50 ms for at most 10 s (200 tries).\n\
             n=0\n\
             while [ ! -S /run/courier/authdaemon/socket ]; do\n\
             \x20 n=$((n + 1)); [ $n -le 200 ] || {{ echo 'authdaemond made no socket'; exit 1; }}\n\
             \x20 sleep 0.05\n\
             done\n\
             set -a\n\
             . '{root}/etc/courier/imapd'\n\
             {extra}\
             GAM_CLIENT_ID='{gamin}'\n\
             set +a\n\
             exec '{root}/usr/sbin/couriertcpd' -address=127.0.0.1 -nodnslookup -noidentlookup \
             -maxprocs={max} -maxperip={max} {port} \
             '{root}/usr/lib/courier/courier/imaplogin' '{root}/usr/bin/imapd' Maildir\n"
        );
        write_file(&self.dir.path().join("start.sh"), script.as_bytes(), 0o644);
    }

    /// Spawns the namespace and waits until a LOGIN works. Courier's own
    /// readiness probe: the shared one pipelines LOGOUT behind LOGIN, and
    /// imaplogin drops what it read past LOGIN when it hands the connection
    /// to imapd, so that LOGOUT is never answered.
    fn spawn_and_wait(&mut self) -> Result<(), String> {
        assert!(self.child.is_none(), "Courier already running");
        let dir = self.dir.path();
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("courier.log"))
            .map_err(|e| format!("open courier.log: {e}"))?;
        let spawned = Command::new("unshare")
            // Without --fork, unshare execs sh (which execs couriertcpd):
            // the child is the server, and authdaemond its child.
            .args(["--mount", "--propagation", "private", "sh"])
            .arg(dir.join("start.sh"))
            // Its own process group, so a stop reaches only this instance.
            .process_group(0)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot spawn unshare (util-linux): {e}"))?;
        self.child = Some(spawned);
        let addr = SocketAddr::from(([127, 0, 0, 1], self.imap_port));
        let mut last = String::from("not tried");
        let mut exited = None;
        let ready = wait_until(Instant::now() + START_DEADLINE, || {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                exited = Some(status);
                return true;
            }
            match probe_login(addr) {
                Ok(()) => true,
                Err(e) => {
                    last = e;
                    false
                }
            }
        });
        if let Some(status) = exited {
            self.child = None;
            return Err(format!("Courier exited during startup: {status}"));
        }
        if !ready {
            stop_tree(&mut self.child, Duration::from_secs(2));
            return Err(format!(
                "Courier gave no `* OK` greeting and working LOGIN on {addr} within \
                 {START_DEADLINE:?} (last attempt: {last})"
            ));
        }
        Ok(())
    }
}

/// Greeting, LOGIN, then LOGOUT, one command at a time.
fn probe_login(addr: SocketAddr) -> Result<(), String> {
    let (greeting, mut reader, mut writer) = first_line(addr)?;
    if !greeting.starts_with("* OK") {
        return Err(format!("unexpected greeting {greeting:?}"));
    }
    let mut command = |tag: &str, text: String| -> Result<String, String> {
        writer
            .write_all(format!("{tag} {text}\r\n").as_bytes())
            .map_err(|e| format!("write {tag}: {e}"))?;
        let mut line = String::new();
        loop {
            line.clear();
            let n = reader
                .read_line(&mut line)
                .map_err(|e| format!("read {tag} reply: {e}"))?;
            if n == 0 {
                return Err(format!("connection closed during {tag}"));
            }
            if line.starts_with(&format!("{tag} ")) {
                return Ok(line.clone());
            }
        }
    };
    let login = command("r1", format!("LOGIN {USER} {PASSWORD}"))?;
    if !login.starts_with("r1 OK") {
        return Err(format!("LOGIN failed: {login:?}"));
    }
    command("r2", "LOGOUT".into()).map(|_| ())
}

impl Drop for Courier {
    fn drop(&mut self) {
        self.stop_within(Duration::from_secs(2));
        super::keep_dir_if_asked(&mut self.dir);
    }
}

/// Running processes whose environment holds the line `entry`.
fn processes_with_env(entry: &str) -> Vec<u32> {
    let Ok(procs) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    procs
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| {
            fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|&b| b == 0).any(|l| l == entry.as_bytes()))
        })
        .filter(|&pid| !pid_gone(pid))
        .collect()
}

fn courier_root() -> PathBuf {
    std::env::var_os("CONCIERGE_COURIER_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(COURIER_ROOT))
}

/// Runs `prog args` with `input` on stdin; its stdout. Panics with its
/// stderr when it fails.
fn run_with_input(prog: &Path, args: &[&str], input: &[u8]) -> Vec<u8> {
    let mut child = Command::new(prog)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {}: {e}", prog.display()));
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input)
        .unwrap_or_else(|e| panic!("write to {}: {e}", prog.display()));
    let out = child.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "{} failed: {}",
        prog.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A Maildir file name unique in this process, in the usual
/// `seconds.MmicrosPpid.host` shape (D. J. Bernstein's maildir(5)), with a
/// sequence number and the seed's name in place of the host.
fn unique_name(name: &str) -> String {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock before 1970");
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    let clean: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(20)
        .collect();
    // Zero-padded, so that names sort in delivery order.
    format!(
        "{}.M{:06}P{}Q{seq:06}.{clean}",
        now.as_secs(),
        now.subsec_micros(),
        std::process::id()
    )
}

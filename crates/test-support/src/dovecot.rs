//! A private Dovecot 2.3 instance for one test.
//!
//! ```ignore
//! let dv = support::dovecot::Dovecot::start();
//! dv.seed("first", b"Subject: hi\r\n\r\nbody\r\n");
//! let mut s = dv.imap_session();
//! assert_eq!(s.select("INBOX").unwrap().exists, 1);
//! ```
//!
//! Layout of the temp dir (mode 0755, so the unprivileged mail user can
//! traverse it):
//!
//! ```text
//! DIR/dovecot.conf   DIR/dovecot.log   DIR/dovecot.stderr   DIR/users
//! DIR/ca.pem (trust this)   DIR/server.pem   DIR/server.key
//! DIR/run/ (base_dir)   DIR/state/ (state_dir)
//! DIR/mail/concierge/Maildir/{cur,new,tmp}
//! ```

use std::fs;
use std::io::{BufRead, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::imap_server::{spawn_and_wait, start_on_free_ports, stop_tree};
use super::{free_port, read_for_report, INSTALL_HINT};

/// Path of the Dovecot binary.
pub const DOVECOT_BIN: &str = "/usr/sbin/dovecot";
/// Test user name.
pub const USER: &str = "concierge";
/// Test user password.
pub const PASSWORD: &str = "secret";

/// How long [`Dovecot::start`] waits for a real greeting. A poll that
/// ends at the greeting (~0.2 s when idle); the margin is for a loaded
/// 2-vCPU CI machine running test binaries' threads side by side.
const START_DEADLINE: Duration = Duration::from_secs(60);
/// How long [`Dovecot::stop`] waits for the master to exit before SIGKILL.
const STOP_DEADLINE: Duration = Duration::from_secs(5);
/// How long Drop waits before SIGKILL.
const DROP_DEADLINE: Duration = Duration::from_secs(2);

/// Who the Dovecot processes run as.
#[derive(Clone, Debug)]
pub(super) struct Ids {
    /// True when the tests run as root.
    pub(super) root: bool,
    pub(super) internal_user: String,
    pub(super) internal_group: String,
    pub(super) login_user: String,
    pub(super) mail_uid: u32,
    pub(super) mail_gid: u32,
}

/// A running private Dovecot instance. Stopped (SIGTERM) and its temp dir
/// removed on drop.
pub struct Dovecot {
    dir: tempfile::TempDir,
    imap_port: u16,
    imaps_port: u16,
    lmtp_port: u16,
    ids: Ids,
    child: Option<Child>,
    /// An RFC 7662 introspection URL: then Dovecot also accepts OAuth 2.0
    /// tokens (OAUTHBEARER, XOAUTH2) through its oauth2 passdb.
    oauth2: Option<String>,
}

impl Dovecot {
    /// Starts a fresh instance: own temp dir, config, CA + leaf certificate,
    /// users file and ports. Panics (with the Dovecot log) if it does not
    /// answer with a real `* OK` greeting within 10 s.
    pub fn start() -> Dovecot {
        Self::start_with(None)
    }

    /// An instance that also accepts OAuth 2.0 bearer tokens, validated by
    /// POSTing them to `introspection_url` (see [`super::oauth`]).
    pub fn start_with_oauth2(introspection_url: &str) -> Dovecot {
        Self::start_with(Some(introspection_url.to_string()))
    }

    fn start_with(oauth2: Option<String>) -> Dovecot {
        if !Path::new(DOVECOT_BIN).exists() {
            panic!("Dovecot is not installed: {INSTALL_HINT}");
        }
        let dir = make_temp_dir();
        let ids = lookup_ids(dir.path());
        let root = dir.path();

        write_tls_files(root);
        write_file(
            &root.join("users"),
            format!("{USER}:{{PLAIN}}{PASSWORD}:::::\n").as_bytes(),
            0o644,
        );
        let maildir = root.join("mail").join(USER).join("Maildir");
        for sub in ["cur", "new", "tmp"] {
            fs::create_dir_all(maildir.join(sub)).expect("create Maildir");
        }
        for p in [
            root.join("mail"),
            root.join("mail").join(USER),
            maildir.clone(),
            maildir.join("cur"),
            maildir.join("new"),
            maildir.join("tmp"),
        ] {
            fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).expect("chmod mail dir");
            chown_mail(&ids, &p);
        }

        let mut dv = Dovecot {
            dir,
            imap_port: 0,
            imaps_port: 0,
            lmtp_port: 0,
            ids,
            child: None,
            oauth2,
        };
        start_on_free_ports(
            &mut dv,
            |dv| {
                dv.imap_port = free_port();
                dv.imaps_port = free_port();
                dv.lmtp_port = free_port();
                dv.write_config();
                dv.spawn_and_wait()
            },
            Dovecot::diagnostics,
        );
        dv
    }

    /// Plaintext IMAP port on 127.0.0.1.
    pub fn imap_port(&self) -> u16 {
        self.imap_port
    }
    /// Implicit-TLS IMAP port on 127.0.0.1 (certificate for `localhost` and
    /// `127.0.0.1`, signed by [`Dovecot::ca_file`]).
    pub fn imaps_port(&self) -> u16 {
        self.imaps_port
    }
    /// LMTP port on 127.0.0.1 (`RCPT TO:<concierge>` delivers to the test user).
    pub fn lmtp_port(&self) -> u16 {
        self.lmtp_port
    }
    /// Always "127.0.0.1".
    pub fn host(&self) -> &'static str {
        "127.0.0.1"
    }
    /// Test user name: "concierge".
    pub fn user(&self) -> &'static str {
        USER
    }
    /// Test user password: "secret".
    pub fn password(&self) -> &'static str {
        PASSWORD
    }
    /// PEM file of the test CA that signed the server certificate.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }
    /// The instance's temp dir.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
    /// The test user's Maildir (INBOX lives at its root).
    pub fn maildir(&self) -> PathBuf {
        self.dir.path().join("mail").join(USER).join("Maildir")
    }
    /// Path of dovecot.log.
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("dovecot.log")
    }
    /// Contents of dovecot.log (empty string if missing).
    pub fn log(&self) -> String {
        fs::read(self.log_path())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }
    /// True while the Dovecot master process runs.
    pub fn is_running(&mut self) -> bool {
        super::child_running(&mut self.child)
    }

    /// Writes one message into `Maildir/new/` (via `tmp/` and rename, as the
    /// Maildir protocol wants) with a unique name that contains `name`
    /// (sanitized), owned by the mail user. Returns the file's path.
    ///
    /// File names carry a strictly increasing timestamp, so Dovecot gives
    /// UIDs in seeding order.
    pub fn seed(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let maildir = self.maildir();
        let file_name = unique_maildir_name(name);
        let tmp = maildir.join("tmp").join(&file_name);
        let dst = maildir.join("new").join(&file_name);
        write_file(&tmp, bytes, 0o644);
        chown_mail(&self.ids, &tmp);
        fs::rename(&tmp, &dst)
            .unwrap_or_else(|e| panic!("rename {} -> {}: {e}", tmp.display(), dst.display()));
        dst
    }

    /// Seeds many messages (named "bulk"), in order. Returns their paths.
    pub fn seed_many<I, B>(&self, messages: I) -> Vec<PathBuf>
    where
        I: IntoIterator<Item = B>,
        B: AsRef<[u8]>,
    {
        messages
            .into_iter()
            .map(|m| self.seed("bulk", m.as_ref()))
            .collect()
    }

    /// Stops the server (SIGTERM to the master and its children, waits up to
    /// 5 s, then SIGKILL). Ports and data are kept; [`Dovecot::restart`]
    /// brings it back. Does nothing if already stopped.
    pub fn stop(&mut self) {
        self.stop_within(STOP_DEADLINE);
    }

    /// Stops and starts again on the same ports with the same data. Open
    /// client connections get `* BYE` / are dropped.
    pub fn restart(&mut self) {
        self.stop();
        if let Err(msg) = self.spawn_and_wait() {
            panic!("restart failed: {msg}\n{}", self.diagnostics());
        }
    }

    /// Starts a stopped server again (same ports and data).
    pub fn start_again(&mut self) {
        if self.is_running() {
            return;
        }
        if let Err(msg) = self.spawn_and_wait() {
            panic!("start_again failed: {msg}\n{}", self.diagnostics());
        }
    }

    /// UIDVALIDITY of INBOX, read over IMAP (EXAMINE).
    pub fn uidvalidity(&self) -> u32 {
        let mut s = self.imap_session();
        let mb = s.examine("INBOX").expect("EXAMINE INBOX");
        let _ = s.logout();
        mb.uid_validity.expect("server sent no UIDVALIDITY")
    }

    /// Makes INBOX's UIDVALIDITY change: stops the server, deletes
    /// `dovecot-uidlist` and the index files (`dovecot.index*`,
    /// `dovecot.list.index*`) in the Maildir, starts again, and checks over
    /// IMAP that UIDVALIDITY changed. Messages stay (and get new UIDs from 1).
    /// Returns the new UIDVALIDITY.
    pub fn reset_uidvalidity(&mut self) -> u32 {
        let was_running = self.is_running();
        if !was_running {
            self.start_again();
        }
        let old = self.uidvalidity();
        self.stop();
        let maildir = self.maildir();
        for entry in fs::read_dir(&maildir).expect("read Maildir").flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name == "dovecot-uidlist"
                || name.starts_with("dovecot.index")
                || name.starts_with("dovecot.list.index")
            {
                fs::remove_file(entry.path())
                    .unwrap_or_else(|e| panic!("remove {}: {e}", entry.path().display()));
            }
        }
        self.start_again();
        let new = self.uidvalidity();
        assert_ne!(
            old, new,
            "reset_uidvalidity: UIDVALIDITY did not change (still {old})"
        );
        new
    }

    /// A logged-in plaintext IMAP session as the test user.
    pub fn imap_session(&self) -> imap::Session<imap::Connection> {
        super::imap_login(self.imap_port, USER, PASSWORD)
            .unwrap_or_else(|e| panic!("{e}\n{}", self.log()))
    }

    /// A logged-in implicit-TLS IMAP session (server name "localhost"),
    /// trusting only the test CA.
    pub fn imaps_session(&self) -> imap::Session<imap::Connection> {
        let tcp = TcpStream::connect(("127.0.0.1", self.imaps_port))
            .unwrap_or_else(|e| panic!("connect 127.0.0.1:{}: {e}", self.imaps_port));
        let tls = tls_connector(&self.ca_file())
            .connect("localhost", tcp)
            .unwrap_or_else(|e| panic!("TLS handshake: {e:?}"));
        let mut client = imap::Client::new(Box::new(tls) as imap::Connection);
        client.read_greeting().expect("IMAPS greeting");
        client
            .login(USER, PASSWORD)
            .map_err(|(e, _)| e)
            .unwrap_or_else(|e| panic!("IMAPS LOGIN: {e}\n{}", self.log()))
    }

    // ---- internals ----

    fn conf_path(&self) -> PathBuf {
        self.dir.path().join("dovecot.conf")
    }

    fn diagnostics(&self) -> String {
        format!(
            "--- {} ---\n{}\n--- {} ---\n{}",
            self.log_path().display(),
            read_for_report(&self.log_path()),
            self.dir.path().join("dovecot.stderr").display(),
            read_for_report(&self.dir.path().join("dovecot.stderr")),
        )
    }

    /// The auth part of the config: PLAIN/LOGIN, plus the oauth2 passdb
    /// (only for the OAuth mechanisms) when asked for.
    fn oauth_config(&self) -> String {
        let Some(url) = &self.oauth2 else {
            return "auth_mechanisms = plain login\n".into();
        };
        let d = self.dir.path().display();
        let ext = format!(
            "introspection_mode = post\nintrospection_url = {url}\n\
             username_attribute = username\nactive_attribute = active\nactive_value = true\n"
        );
        write_file(
            &self.dir.path().join("oauth2.conf.ext"),
            ext.as_bytes(),
            0o644,
        );
        format!(
            "auth_mechanisms = plain login oauthbearer xoauth2\nauth_failure_delay = 0\nlogin_trusted_networks = 127.0.0.0/8\n\
             passdb {{\n  driver = oauth2\n  mechanisms = oauthbearer xoauth2\n  args = {d}/oauth2.conf.ext\n}}\n"
        )
    }

    fn write_config(&self) {
        let d = self.dir.path().display().to_string();
        let ids = &self.ids;
        let conf = format!(
            r#"# generated by concierge-test-support (dovecot.rs)
base_dir = {d}/run
state_dir = {d}/state
instance_name = concierge-test-{imap}
protocols = imap lmtp
listen = 127.0.0.1
log_path = {d}/dovecot.log
info_log_path = {d}/dovecot.log
default_internal_user = {iu}
default_internal_group = {ig}
default_login_user = {lu}
ssl = yes
ssl_cert = <{d}/server.pem
ssl_key = <{d}/server.key
disable_plaintext_auth = no
{oauth}passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%n {d}/users
}}
userdb {{
  driver = passwd-file
  args = username_format=%n {d}/users
}}
mail_uid = {mu}
mail_gid = {mg}
mail_home = {d}/mail/%n
mail_location = maildir:~/Maildir
namespace inbox {{
  inbox = yes
  mailbox "Sent Items" {{
    special_use = \Sent
    auto = create
  }}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps}
    ssl = yes
  }}
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {lmtp}
  }}
}}
"#,
            oauth = self.oauth_config(),
            imap = self.imap_port,
            imaps = self.imaps_port,
            lmtp = self.lmtp_port,
            iu = ids.internal_user,
            ig = ids.internal_group,
            lu = ids.login_user,
            mu = ids.mail_uid,
            mg = ids.mail_gid,
        );
        write_file(&self.conf_path(), conf.as_bytes(), 0o644);
    }

    /// Spawns `dovecot -F -c CONF` and waits for a real greeting.
    fn spawn_and_wait(&mut self) -> Result<(), String> {
        let mut cmd = Command::new(DOVECOT_BIN);
        cmd.arg("-F").arg("-c").arg(self.conf_path());
        spawn_and_wait(
            cmd,
            &self.dir.path().join("dovecot.stderr"),
            &mut self.child,
            "dovecot",
            self.imap_port,
            START_DEADLINE,
        )
    }

    fn stop_within(&mut self, deadline: Duration) {
        stop_tree(&mut self.child, deadline);
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        self.stop_within(DROP_DEADLINE);
        super::keep_dir_if_asked(&mut self.dir);
        // TempDir removes the directory after this (unless kept).
    }
}

/// Builds a rustls connector (the rustls version imap uses) that trusts only
/// the CA in `ca_file`.
pub fn tls_connector(ca_file: &Path) -> rustls_connector::RustlsConnector {
    use rustls_connector::rustls;
    use rustls_connector::rustls::pki_types::pem::PemObject;
    use rustls_connector::rustls::pki_types::CertificateDer;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca_file)
        .unwrap_or_else(|e| panic!("read {}: {e:?}", ca_file.display()))
    {
        roots
            .add(cert.expect("parse CA PEM"))
            .expect("add CA to root store");
    }
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    rustls_connector::RustlsConnector::from(Arc::new(config))
}

/// One readiness probe: connect, read the greeting, require a real
/// `* OK ... ready.` (not "Waiting for authentication process"), then LOGIN
/// and LOGOUT so that the auth process is known to work.
pub(super) fn probe_greeting(addr: SocketAddr) -> Result<(), String> {
    let (mut line, mut reader, mut writer) = super::first_line(addr)?;
    if !line.starts_with("* OK") {
        return Err(format!("unexpected greeting {line:?}"));
    }
    if line.contains("Waiting for authentication") {
        // imap-login is up, auth is not yet: a second "* OK" follows.
        return Err(format!("not ready yet: {line:?}"));
    }
    writer
        .write_all(format!("r1 LOGIN {USER} {PASSWORD}\r\nr2 LOGOUT\r\n").as_bytes())
        .map_err(|e| format!("write LOGIN: {e}"))?;
    let mut login_ok = false;
    loop {
        line.clear();
        let n = reader
            .read_line(&mut line)
            .map_err(|e| format!("read LOGIN reply: {e}"))?;
        if n == 0 {
            return Err("connection closed during LOGIN".into());
        }
        if line.starts_with("r1 ") {
            if !line.starts_with("r1 OK") {
                return Err(format!("LOGIN failed: {line:?}"));
            }
            login_ok = true;
        }
        if line.starts_with("r2 ") {
            return if login_ok {
                Ok(())
            } else {
                Err("LOGOUT before LOGIN answer".into())
            };
        }
    }
}

pub(super) fn make_temp_dir() -> tempfile::TempDir {
    // Unix socket paths under base_dir must stay below ~108 bytes: use /tmp
    // when TMPDIR is long.
    let base = std::env::temp_dir();
    let base = if base.as_os_str().len() > 40 {
        PathBuf::from("/tmp")
    } else {
        base
    };
    let dir = tempfile::Builder::new()
        .prefix("concierge-dv-")
        .tempdir_in(&base)
        .unwrap_or_else(|e| panic!("create temp dir in {}: {e}", base.display()));
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).expect("chmod temp dir");
    // The mail user (nobody) must be able to traverse every parent.
    for anc in dir.path().ancestors().skip(1) {
        let mode = fs::metadata(anc)
            .unwrap_or_else(|e| panic!("stat {}: {e}", anc.display()))
            .permissions()
            .mode();
        assert!(
            mode & 0o001 != 0,
            "{} (mode {:o}) is not traversable by other users; Dovecot's mail user needs +x \
             on every parent of its mail store (set TMPDIR elsewhere)",
            anc.display(),
            mode & 0o7777
        );
    }
    dir
}

pub(super) fn write_file(path: &Path, bytes: &[u8], mode: u32) {
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
    f.write_all(bytes)
        .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
}

pub(super) fn chown_mail(ids: &Ids, path: &Path) {
    if ids.root {
        std::os::unix::fs::chown(path, Some(ids.mail_uid), Some(ids.mail_gid))
            .unwrap_or_else(|e| panic!("chown {}: {e}", path.display()));
    }
}

/// `name:x:uid:gid:...` lines of /etc/passwd or `name:x:gid:...` of /etc/group.
fn db_lookup(file: &str, pred: impl Fn(&[&str]) -> bool) -> Option<Vec<String>> {
    let text = fs::read_to_string(file).ok()?;
    text.lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() >= 3 && pred(f))
        .map(|f| f.into_iter().map(String::from).collect())
}

/// Decides which users Dovecot runs as. As root: internal = root, login =
/// nobody, mail = nobody:nogroup (looked up, not assumed to be 65534). As
/// another user: that user for everything.
pub(super) fn lookup_ids(owned_by_us: &Path) -> Ids {
    let meta = fs::metadata(owned_by_us).expect("stat temp dir");
    let (uid, gid) = (meta.uid(), meta.gid());
    if uid == 0 {
        let nobody = db_lookup("/etc/passwd", |f| f[0] == "nobody")
            .expect("no user `nobody` in /etc/passwd (needed as Dovecot's login and mail user)");
        let mail_uid: u32 = nobody[2].parse().expect("uid of nobody");
        let mail_gid: u32 = match db_lookup("/etc/group", |f| f[0] == "nogroup") {
            Some(g) => g[2].parse().expect("gid of nogroup"),
            // Distributions without `nogroup`: nobody's primary group.
            None => nobody[3].parse().expect("gid of nobody"),
        };
        Ids {
            root: true,
            internal_user: "root".into(),
            internal_group: db_lookup("/etc/group", |f| f[2] == "0")
                .map(|g| g[0].clone())
                .unwrap_or_else(|| "root".into()),
            login_user: "nobody".into(),
            mail_uid,
            mail_gid,
        }
    } else {
        let user = db_lookup("/etc/passwd", |f| f[2] == uid.to_string())
            .map(|f| f[0].clone())
            .unwrap_or_else(|| panic!("uid {uid} has no /etc/passwd entry"));
        let group = db_lookup("/etc/group", |f| f[2] == gid.to_string())
            .map(|f| f[0].clone())
            .unwrap_or_else(|| gid.to_string());
        Ids {
            root: false,
            internal_user: user.clone(),
            internal_group: group,
            login_user: user,
            mail_uid: uid,
            mail_gid: gid,
        }
    }
}

/// `SECS.MUSECSPpidQseq.NAME` with (SECS, USECS) strictly increasing across
/// the whole process, so Dovecot (which orders new files by that time) gives
/// UIDs in seeding order.
fn unique_maildir_name(name: &str) -> String {
    static LAST_MICROS: Mutex<u64> = Mutex::new(0);
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock before 1970")
        .as_micros() as u64;
    let micros = {
        let mut last = LAST_MICROS.lock().unwrap_or_else(|e| e.into_inner());
        let m = now.max(*last + 1);
        *last = m;
        m
    };
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    let clean = if clean.is_empty() {
        "msg".to_string()
    } else {
        clean
    };
    format!(
        "{}.M{:06}P{}Q{}.{}",
        micros / 1_000_000,
        micros % 1_000_000,
        std::process::id(),
        seq,
        clean
    )
}

/// Test CA + leaf for `localhost` / `127.0.0.1`, made with rcgen:
/// `DIR/ca.pem` (trust this), `DIR/server.pem`, `DIR/server.key`.
pub fn write_tls_files(dir: &Path) {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, KeyUsagePurpose,
    };
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "concierge test CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca_params.self_signed(&ca_key).expect("self-sign CA");
    let issuer = Issuer::new(ca_params, &ca_key);

    let leaf_key = KeyPair::generate().expect("leaf key");
    let mut leaf = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
        .expect("leaf params");
    leaf.distinguished_name
        .push(DnType::CommonName, "localhost");
    leaf.is_ca = IsCa::ExplicitNoCa;
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf.use_authority_key_identifier_extension = true;
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer).expect("sign leaf");

    write_file(&dir.join("ca.pem"), ca_cert.pem().as_bytes(), 0o644);
    write_file(&dir.join("server.pem"), leaf_cert.pem().as_bytes(), 0o644);
    write_file(
        &dir.join("server.key"),
        leaf_key.serialize_pem().as_bytes(),
        0o600,
    );
}

//! A real PostgreSQL server for tests: `initdb` into a temporary directory,
//! `pg_ctl` on a free loopback port, one server per test binary and a fresh
//! DATABASE per test (no state shared between tests).
//!
//! As root (CI, this machine) the server runs as the `postgres` user, which
//! Debian's package creates: `initdb` refuses to run as root. The server is
//! stopped (`pg_ctl stop -m immediate`) by a watchdog process when the test
//! process exits or dies — a static is never dropped, and a killed test
//! must not leave a server behind.
//!
//! Password authentication is on for TCP (SCRAM-SHA-256), so every test
//! connects the way a team store is reached: with a password handed over
//! out of band.

use super::free_port;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

/// What to run when PostgreSQL is missing.
pub const INSTALL_HINT: &str =
    "apt-get install -y --no-install-recommends postgresql (or run scripts/test.sh)";

/// The superuser's password in the test servers.
pub const PASSWORD: &str = "test-pw-9c1f";

pub struct Postgres {
    _dir: tempfile::TempDir,
    pub port: u16,
}

/// `pg_config --bindir`, else the newest /usr/lib/postgresql/*/bin.
fn bindir() -> PathBuf {
    if let Ok(o) = Command::new("pg_config").arg("--bindir").output() {
        let p = PathBuf::from(String::from_utf8_lossy(&o.stdout).trim());
        if p.join("initdb").exists() {
            return p;
        }
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.path().join("bin"))
                .filter(|p| p.join("initdb").exists())
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
        .pop()
        .unwrap_or_else(|| panic!("PostgreSQL's initdb not found: {INSTALL_HINT}"))
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// A command for a PostgreSQL binary, as the `postgres` user when we are root.
fn pg_command(bin: &Path, args: &[&str]) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(bin).args(args);
        c
    } else {
        let mut c = Command::new(bin);
        c.args(args);
        c
    }
}

fn run(mut c: Command, what: &str) {
    let o = c
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{what}: {e} ({INSTALL_HINT})"));
    assert!(
        o.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

impl Postgres {
    fn start() -> Postgres {
        let bin = bindir();
        let dir = tempfile::Builder::new()
            .prefix("concierge-pg-")
            .tempdir()
            .unwrap();
        let data = dir.path().join("data");
        let pwfile = dir.path().join("pw");
        std::fs::write(&pwfile, PASSWORD).unwrap();
        // TLS on as well (plaintext stays allowed): ca.pem, server.pem/.key.
        super::dovecot::write_tls_files(dir.path());
        if is_root() {
            run(
                {
                    let mut c = Command::new("chown");
                    c.args(["-R", "postgres:postgres"]).arg(dir.path());
                    c
                },
                "chown the test server's directory",
            );
        }
        let (d, p, s) = (
            data.to_str().unwrap().to_string(),
            pwfile.to_str().unwrap().to_string(),
            dir.path().to_str().unwrap().to_string(),
        );
        run(
            pg_command(
                &bin.join("initdb"),
                &[
                    "-D",
                    &d,
                    "-U",
                    "postgres",
                    "--pwfile",
                    &p,
                    "--auth-host=scram-sha-256",
                    "--auth-local=trust",
                    "-E",
                    "UTF8",
                    "--no-locale",
                    "--no-sync",
                ],
            ),
            "initdb",
        );
        // The port may be taken between free_port and the bind: retry.
        for _ in 0..5 {
            let port = free_port();
            // fsync off: a test server's data is thrown away anyway.
            let opts = format!(
                "-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={s} \
                 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200 \
                 -c ssl=on -c ssl_cert_file={s}/server.pem -c ssl_key_file={s}/server.key"
            );
            let log = format!("{s}/server.log");
            let ok = pg_command(
                &bin.join("pg_ctl"),
                &["start", "-w", "-t", "60", "-D", &d, "-l", &log, "-o", &opts],
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
            if ok {
                watchdog(&bin, &d, &s);
                return Postgres { _dir: dir, port };
            }
        }
        panic!("the test PostgreSQL did not start (see its server.log)");
    }

    /// The test CA that signed the server's certificate (for `localhost`).
    pub fn ca_file(&self) -> PathBuf {
        self._dir.path().join("ca.pem")
    }

    /// The URL of database `db` (no password in it: that comes separately).
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// A new, empty database; its URL.
    pub fn fresh_database(&self) -> String {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "t{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        );
        let mut c = self.client("postgres");
        c.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
        self.url(&name)
    }

    /// A plain client (as the superuser) on database `db`, for assertions.
    pub fn client(&self, db: &str) -> ::postgres::Client {
        let mut cfg: ::postgres::Config = self.url(db).parse().unwrap();
        cfg.password(PASSWORD);
        cfg.connect(::postgres::NoTls).unwrap()
    }
}

/// Stops the server when this process is gone: a shell that waits for our
/// pid to disappear (the test binary exits or is killed), then `pg_ctl
/// stop -m immediate`.
fn watchdog(bin: &Path, data: &str, dir: &str) {
    let pid = std::process::id();
    let stop = pg_command(
        &bin.join("pg_ctl"),
        &["stop", "-m", "immediate", "-D", data],
    );
    let argv: Vec<String> = std::iter::once(stop.get_program())
        .chain(stop.get_args())
        .map(|a| shell_words::quote(&a.to_string_lossy()).into_owned())
        .collect();
    // The poll is a reaper, not a synchronisation: nothing waits on it.
    let script = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {} >/dev/null 2>&1; rm -rf {}",
        argv.join(" "),
        shell_words::quote(dir)
    );
    let _ = Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
}

/// This test binary's server, started on first use.
pub fn server() -> &'static Postgres {
    static SERVER: OnceLock<Postgres> = OnceLock::new();
    SERVER.get_or_init(Postgres::start)
}

/// A store on a fresh database of this binary's server.
pub fn fresh_store() -> (concierge::store::Store, String) {
    let url = server().fresh_database();
    let store = concierge::store::Store::connect_pg(&target(&url)).unwrap();
    (store, url)
}

/// How the app reaches a test database.
pub fn target(url: &str) -> concierge::store::pg::PgTarget {
    concierge::store::pg::PgTarget {
        url: url.to_string(),
        password: Some(concierge::secret::Secret::new(PASSWORD)),
        ca_file: None,
    }
}

/// Runs the `concierge` binary with `config` and `args`, the team store's
/// password in `CONCIERGE_TEST_DB_PASSWORD`, and no user config around.
pub fn concierge(config: &Path, args: &[&str]) -> std::process::Output {
    Command::new(super::concierge_bin())
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("XDG_CONFIG_HOME")
        .env("HOME", "/nonexistent-home")
        .env("CONCIERGE_TEST_DB_PASSWORD", PASSWORD)
        .output()
        .unwrap()
}

/// The standard output of a run that must have succeeded (else its stderr).
pub fn stdout_ok(o: &std::process::Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout.clone()).unwrap()
}

//! `concierge check` against the real servers: a private Dovecot (IMAPS with
//! the test CA), the aiosmtpd sink (STARTTLS with the same CA, any AUTH), the
//! reference backend over HTTP and a real SQLite store. First every check
//! passes; then each setting is broken on purpose, one at a time, and the
//! output must name exactly that one check, in one line, with no secret.

use concierge_test_support as support;
use concierge_test_support::backend as backend_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_concierge");

/// The servers, and the checks' own helpers around them.
struct Env(support::servers::Servers);

impl std::ops::Deref for Env {
    type Target = support::servers::Servers;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl Env {
    fn start() -> Env {
        Env(support::servers::Servers::start())
    }

    /// A config where everything is right; `edit` breaks one thing.
    fn config(&self, name: &str, edit: impl Fn(String) -> String) -> PathBuf {
        let text = format!(
            r#"
[operator]
name = "Tess"
[imap]
host = "127.0.0.1"
port = {imaps}
security = "tls"
username = "concierge"
password_env = "CHECK_TEST_IMAP_PASSWORD"
ca_file = "{ca}" # imap-ca
[smtp]
host = "127.0.0.1"
port = {smtp}
security = "starttls"
username = "hello@ochrehq.com"
password_command = "printf smtp-pass-not-shown"
ca_file = "{ca}" # smtp-ca
from = "Ochre Concierge <hello@ochrehq.com>"
[backend]
url = "{url}"
token_env = "CHECK_TEST_BACKEND_TOKEN"
[store]
path = "{store}"
"#,
            imaps = self.dovecot.imaps_port(),
            ca = self.dovecot.ca_file().display(),
            smtp = self.smtp.port(),
            url = self.backend.url,
            store = self.dir.path().join("store.db").display(),
        );
        let path = self.dir.path().join(name);
        std::fs::write(&path, edit(text)).unwrap();
        path
    }

    fn check(&self, config: &Path, extra: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new(BIN);
        cmd.arg("check").arg("--config").arg(config).args(extra);
        cmd.env("CHECK_TEST_IMAP_PASSWORD", self.dovecot.password())
            .env("CHECK_TEST_BACKEND_TOKEN", backend_support::TOKEN);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    }
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn drop_line(text: &str, marker: &str) -> String {
    text.lines()
        .filter(|l| !l.contains(marker))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// The names of the ✗ lines.
fn failed(out: &str) -> Vec<String> {
    out.lines()
        .filter_map(|l| l.strip_prefix("✗ "))
        .map(|l| l.split(':').next().unwrap().to_string())
        .collect()
}

fn line<'a>(out: &'a str, check: &str) -> &'a str {
    out.lines()
        .find(|l| l[l.find(' ').map_or(0, |i| i + 1)..].starts_with(&format!("{check}:")))
        .unwrap_or_else(|| panic!("no {check} line in:\n{out}"))
}

/// Writes a store with two audit entries, as the app would.
fn seed_store(path: &Path) {
    let store = concierge::store::Store::open(path).unwrap();
    let tx = store.conn().transaction().unwrap();
    for action in ["note", "approve"] {
        concierge::store::audit::append_tx(
            &tx,
            "Tess",
            action,
            "request 1",
            &serde_json::json!({}),
        )
        .unwrap();
    }
    tx.commit().unwrap();
}

/// (what is broken, config, environment, the check that must fail, words in its line)
type Case<'a> = (&'a str, PathBuf, Vec<(&'a str, &'a str)>, &'a str, &'a str);

#[test]
fn every_check_passes_then_each_broken_setting_names_itself() {
    let env = Env::start();
    let good = env.config("good.toml", |t| t);

    // A fresh machine: no store yet is fine.
    let o = env.check(&good, &[], &[]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    for check in [
        "config",
        "imap.secret",
        "imap.connect",
        "imap.tls",
        "imap.login",
        "imap.capabilities",
        "imap.mailbox",
        "imap.sent",
        "imap.idle",
        "smtp.from",
        "smtp.secret",
        "smtp.connect",
        "smtp.tls",
        "smtp.auth",
        "backend.secret",
        "backend.connect",
        "backend.token",
        "store.open",
    ] {
        assert!(line(&out, check).starts_with("✓ "), "{check}:\n{out}");
    }
    assert!(line(&out, "imap.capabilities").contains("IDLE"), "{out}");
    assert!(
        line(&out, "imap.idle").contains("new mail announced after"),
        "{out}"
    );
    assert!(line(&out, "smtp.tls").contains("STARTTLS"), "{out}");
    // AUTH and NOOP only: nothing was sent.
    assert!(env.smtp.messages().is_empty());

    // With a store: schema and audit chain too.
    seed_store(&env.dir.path().join("store.db"));
    let out = text(&env.check(&good, &[], &[]));
    assert!(line(&out, "store.schema").starts_with("✓ "), "{out}");
    assert!(
        line(&out, "store.audit").contains("intact (2 entries)"),
        "{out}"
    );

    // held closed for the whole test (no other test can bind it meanwhile)
    let closed_port = support::closed_port();
    let closed = closed_port.port();
    let imaps = env.dovecot.imaps_port().to_string();
    // Said in words, not as "(os error 111)" (src/setup/words.rs).
    let refused = format!("nothing is listening on 127.0.0.1:{closed} — is the server running?");
    let backend_refused = format!(
        "cannot reach http://127.0.0.1:{closed}: nothing is listening on 127.0.0.1:{closed} — is the server running? (check [backend] url)"
    );
    let not_tls = format!(
        "127.0.0.1:{} did not answer with TLS — that port speaks plaintext",
        env.dovecot.imap_port()
    );
    let cases: Vec<Case> = vec![
        (
            "wrong IMAP password",
            good.clone(),
            vec![("CHECK_TEST_IMAP_PASSWORD", "wrong")],
            "imap.login",
            "refused the login",
        ),
        (
            "IMAP password not set",
            good.clone(),
            vec![("CHECK_TEST_IMAP_PASSWORD", "")],
            "imap.secret",
            "CHECK_TEST_IMAP_PASSWORD",
        ),
        (
            "untrusted certificate",
            env.config("noca.toml", |t| drop_line(&t, "# imap-ca")),
            vec![],
            "imap.tls",
            "not trusted (signed by a CA this machine does not trust)",
        ),
        (
            "closed IMAP port",
            env.config("closed.toml", |t| {
                t.replacen(&imaps, &closed.to_string(), 1)
            }),
            vec![],
            "imap.connect",
            &refused,
        ),
        (
            "TLS to the plaintext IMAP port",
            env.config("plainport.toml", |t| {
                t.replacen(&imaps, &env.dovecot.imap_port().to_string(), 1)
            }),
            vec![],
            "imap.tls",
            &not_tls,
        ),
        (
            "wrong mailbox",
            env.config("mbox.toml", |t| {
                t.replace("[smtp]", "mailbox = \"Requests\"\n[smtp]")
            }),
            vec![],
            "imap.mailbox",
            "Requests",
        ),
        (
            "wrong backend token",
            good.clone(),
            vec![("CHECK_TEST_BACKEND_TOKEN", "wrong-token-5d8e1c")],
            "backend.token",
            "refused the token",
        ),
        (
            "closed backend port",
            env.config("nobackend.toml", |t| {
                t.replace(&env.backend.url, &format!("http://127.0.0.1:{closed}"))
            }),
            vec![],
            "backend.connect",
            &backend_refused,
        ),
        (
            "closed SMTP port",
            env.config("nosmtp.toml", |t| {
                t.replacen(
                    &format!("port = {}", env.smtp.port()),
                    &format!("port = {closed}"),
                    1,
                )
            }),
            vec![],
            "smtp.connect",
            &refused,
        ),
        (
            "SMTP without the CA",
            env.config("smtpnoca.toml", |t| drop_line(&t, "# smtp-ca")),
            vec![],
            "smtp.tls",
            "not trusted (signed by a CA this machine does not trust)",
        ),
        (
            "failing password command",
            env.config("cmd.toml", |t| {
                t.replace("printf smtp-pass-not-shown", "false")
            }),
            vec![],
            "smtp.secret",
            "failed",
        ),
    ];
    for (what, config, vars, check, words) in cases {
        let o = env.check(&config, &[], &vars);
        let out = text(&o);
        assert_eq!(o.status.code(), Some(1), "{what}:\n{out}");
        assert_eq!(
            failed(&out),
            vec![check.to_string()],
            "{what}: exactly one ✗ expected:\n{out}"
        );
        let l = line(&out, check);
        assert!(l.contains(words), "{what}: {l}");
        assert!(!l.contains("os error"), "{what}: {l}");
        // One line per check: no error-context chains, no backtrace.
        assert!(
            out.lines()
                .all(|l| l.starts_with('✓') || l.starts_with('✗') || l.contains("checks")),
            "{what}:\n{out}"
        );
        for secret in [
            backend_support::TOKEN,
            "wrong-token-5d8e1c",
            "smtp-pass-not-shown",
        ] {
            assert!(
                !out.contains(secret),
                "{what}: a secret was printed:\n{out}"
            );
        }
    }
}

#[test]
fn store_problems_and_json_for_monitoring() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.db");
    seed_store(&store);
    // Only a store: the other sections are missing, which check reports too.
    let config = dir.path().join("c.toml");
    std::fs::write(
        &config,
        format!(
            "[intake]\nsource = \"maildir\"\nmaildir = \"{}\"\n[store]\npath = \"{}\"\n",
            dir.path().display(),
            store.display()
        ),
    )
    .unwrap();
    let run = |json: bool| {
        let mut c = Command::new(BIN);
        c.arg("check").arg("--config").arg(&config);
        if json {
            c.arg("--json");
        }
        c.output().unwrap()
    };
    let out = text(&run(false));
    assert!(line(&out, "store.audit").starts_with("✓ "), "{out}");
    assert!(line(&out, "inbox.maildir").starts_with("✗ "), "{out}");

    // A tampered audit entry.
    let conn = rusqlite::Connection::open(&store).unwrap();
    conn.execute("UPDATE audit SET action = 'reject' WHERE seq = 1", [])
        .unwrap();
    let o = run(true);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["ok"], false);
    let audit = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "store.audit")
        .unwrap();
    assert_eq!(audit["ok"], false, "{audit}");
    assert!(
        audit["detail"].as_str().unwrap().contains("backup"),
        "{audit}"
    );

    // An old schema.
    conn.pragma_update(None, "user_version", 1).unwrap();
    let out = text(&run(false));
    let l = line(&out, "store.schema");
    assert!(l.starts_with("✗ ") && l.contains("schema 1"), "{out}");
}

#[test]
fn a_missing_config_points_to_init() {
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(BIN)
        .arg("check")
        .env("XDG_CONFIG_HOME", dir.path())
        .output()
        .unwrap();
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1));
    assert!(line(&out, "config").contains("concierge init"), "{out}");
    // And the screen says the same.
    let o = Command::new(BIN)
        .env("XDG_CONFIG_HOME", dir.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        err.contains("run `concierge init`") && err.lines().count() == 1,
        "{err}"
    );
}

#[test]
fn a_team_store_nobody_listens_for_is_said_in_words() {
    let dir = tempfile::tempdir().unwrap();
    // held closed for the whole test (no other test can bind it meanwhile)
    let closed_port = support::closed_port();
    let closed = closed_port.port();
    let config = dir.path().join("team.toml");
    std::fs::write(
        &config,
        format!(
            "[operator]\nname = \"Tess\"\n[intake]\nsource = \"maildir\"\nmaildir = \"{}\"\n\
             [store]\nurl = \"postgres://concierge@127.0.0.1:{closed}/concierge\"\n\
             password_env = \"CHECK_TEST_DB_PASSWORD\"\n",
            dir.path().display()
        ),
    )
    .unwrap();
    let o = Command::new(BIN)
        .args(["check", "--config"])
        .arg(&config)
        .env("CHECK_TEST_DB_PASSWORD", "db-pass-not-shown")
        .output()
        .unwrap();
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    let l = line(&out, "store.open");
    assert!(
        l.contains(&format!(
            "team store: nothing is listening on 127.0.0.1:{closed} — is the server running? (check [store] url)"
        )),
        "{out}"
    );
    assert!(
        !out.contains("os error") && !out.contains("db-pass-not-shown"),
        "{out}"
    );
}

//! `concierge init` end to end against the real servers (Dovecot over IMAPS
//! with the test CA, the aiosmtpd sink with STARTTLS, the reference backend):
//! non-interactive from flags and environment variables, and interactive
//! with the answers piped into stdin. The file it writes is read back with
//! the real config loader and then passes `concierge check`.

use concierge_test_support as support;
use concierge_test_support::backend as backend_support;

use concierge::config::{Config, Security};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_concierge");

/// The servers, and the runs' own helpers around them.
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

    fn config_path(&self) -> PathBuf {
        self.dir.path().join("config/concierge/config.toml")
    }

    /// `concierge ARGS` with XDG dirs in the temp home and the secrets set.
    fn run(&self, args: &[&str], stdin: &str) -> Output {
        self.run_env(args, stdin, &[])
    }

    /// [`Env::run`] with more environment variables.
    fn run_env(&self, args: &[&str], stdin: &str, extra: &[(&str, &str)]) -> Output {
        let mut child = Command::new(BIN)
            .args(args)
            .envs(extra.iter().copied())
            .env("XDG_CONFIG_HOME", self.dir.path().join("config"))
            .env("XDG_DATA_HOME", self.dir.path().join("data"))
            .env("INIT_TEST_IMAP_PASSWORD", self.dovecot.password())
            .env("CONCIERGE_BACKEND_TOKEN", backend_support::TOKEN)
            .env_remove("CONCIERGE_IMAP_PASSWORD")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    fn flags(&self) -> Vec<String> {
        let mut v: Vec<String> = [
            "init",
            "--non-interactive",
            "--operator-name",
            "Ines",
            "--imap-host",
            "127.0.0.1",
            "--imap-username",
            "concierge",
            "--imap-password-env",
            "INIT_TEST_IMAP_PASSWORD",
            "--smtp-username",
            "hello@ochrehq.com",
            "--smtp-password-command",
            "printf smtp-pw",
            "--smtp-from",
            "Ochre Concierge <hello@ochrehq.com>",
        ]
        .map(String::from)
        .to_vec();
        v.extend([
            "--imap-port".into(),
            self.dovecot.imaps_port().to_string(),
            "--ca-file".into(),
            self.dovecot.ca_file().display().to_string(),
            "--smtp-port".into(),
            self.smtp.port().to_string(),
            "--backend-url".into(),
            self.backend.url.clone(),
        ]);
        v
    }
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn non_interactive_writes_a_private_config_that_check_passes_and_never_overwrites() {
    let env = Env::start();
    let flags = env.flags();
    let args: Vec<&str> = flags.iter().map(String::as_str).collect();
    let o = env.run(&args, "");
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    // It tried each connection on the way.
    for check in ["imap.login", "smtp.auth", "backend.token"] {
        assert!(out.contains(&format!("✓ {check}:")), "{check}:\n{out}");
    }
    let path = env.config_path();
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(path.parent().unwrap()), 0o700);
    // The real loader reads back every answer, and the defaults offered.
    let cfg = Config::load(Some(&path)).unwrap();
    assert_eq!(cfg.operator.name, "Ines");
    let imap = cfg.imap().unwrap();
    assert_eq!(imap.security, Security::Tls);
    assert_eq!(
        imap.password_env.as_deref(),
        Some("INIT_TEST_IMAP_PASSWORD")
    );
    assert_eq!(imap.mailbox, "INBOX");
    let smtp = cfg.smtp.as_ref().unwrap();
    assert_eq!(smtp.security, Security::Starttls);
    assert_eq!(smtp.host, "127.0.0.1");
    assert_eq!(smtp.password_command.as_deref(), Some("printf smtp-pw"));
    assert_eq!(
        smtp.from.as_deref(),
        Some("Ochre Concierge <hello@ochrehq.com>")
    );
    assert_eq!(
        cfg.backend.as_ref().unwrap().token_env,
        "CONCIERGE_BACKEND_TOKEN"
    );
    let written = std::fs::read_to_string(&path).unwrap();
    assert!(!written.contains("= \"secret\""), "{written}");
    assert!(!written.contains(backend_support::TOKEN), "{written}");

    // `concierge check` passes with it, found at the XDG path.
    let o = env.run(&["check"], "");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // A second init refuses to replace it.
    let mut other = flags.clone();
    other[3] = "Someone Else".into();
    let args: Vec<&str> = other.iter().map(String::as_str).collect();
    let o = env.run(&args, "");
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("--force"), "{}", text(&o));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), written);
    // --force replaces it, still 0600.
    let mut forced = args.clone();
    forced.push("--force");
    let o = env.run(&forced, "");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(
        Config::load(Some(&path)).unwrap().operator.name,
        "Someone Else"
    );
    assert_eq!(mode(&path), 0o600);
}

#[test]
fn non_interactive_names_the_missing_flag_and_writes_nothing() {
    // No server is needed: nothing is tried before every answer is known.
    let home = tempfile::tempdir().unwrap();
    let o = Command::new(BIN)
        .args([
            "init",
            "--non-interactive",
            "--skip-checks",
            "--operator-name",
            "Ines",
        ])
        .env("XDG_CONFIG_HOME", home.path())
        .env_remove("CONCIERGE_INIT_IMAP_HOST")
        .output()
        .unwrap();
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("--imap-host") && out.contains("CONCIERGE_INIT_IMAP_HOST"),
        "{out}"
    );
    assert_eq!(out.matches("concierge:").count(), 1, "one line: {out}");
    assert!(!home.path().join("concierge/config.toml").exists());
}

#[test]
fn interactive_answers_from_stdin_with_a_retry_after_a_failed_login() {
    let env = Env::start();
    let ca = env.dovecot.ca_file().display().to_string();
    let imaps = env.dovecot.imaps_port().to_string();
    let smtp = env.smtp.port().to_string();
    // One answer per line, in the order init asks; "" takes the default.
    let first_imap = [
        "127.0.0.1",        // IMAP server
        "",                 // security [tls]
        &imaps,             // port [993]
        "concierge",        // username
        "NOT_SET_ANYWHERE", // password variable: unset, so the try fails
        "",                 // mailbox [INBOX]
        &ca,                // CA file
        "y",                // Change these settings? yes
    ];
    let second_imap = ["", "", &imaps, "", "INIT_TEST_IMAP_PASSWORD", "", ""];
    let rest = [
        "",                  // SMTP server [IMAP host]
        "",                  // security [starttls]
        &smtp,               // port [587]
        "-",                 // no AUTH
        "hello@ochrehq.com", // From
        &env.backend.url,    // backend URL
        "",                  // token variable [CONCIERGE_BACKEND_TOKEN]
        "",                  // store [XDG data dir]
        "",                  // team store URL [none: the solo store]
    ];
    let mut answers = vec!["Ines Interactive", "ines@ochrehq.com", ""];
    answers.extend(first_imap);
    answers.extend(second_imap);
    answers.extend(rest);
    let stdin = answers.join("\n") + "\n";
    let o = env.run(&["init"], &stdin);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    // The defaults were offered, the failure said what was wrong in words.
    assert!(
        out.contains("IMAP port [993]") && out.contains("SMTP port [587]"),
        "{out}"
    );
    assert!(
        out.contains("✗ imap.secret: environment variable NOT_SET_ANYWHERE is not set"),
        "{out}"
    );
    assert!(
        out.contains("✓ imap.login: logged in as concierge"),
        "{out}"
    );
    assert!(out.contains("✓ smtp.tls: STARTTLS"), "{out}");
    assert!(out.contains("✓ backend.token"), "{out}");
    let path = env.config_path();
    assert_eq!(mode(&path), 0o600);
    let cfg = Config::load(Some(&path)).unwrap();
    assert_eq!(cfg.operator.email.as_deref(), Some("ines@ochrehq.com"));
    let imap = cfg.imap().unwrap();
    assert_eq!(
        imap.password_env.as_deref(),
        Some("INIT_TEST_IMAP_PASSWORD")
    );
    assert_eq!(imap.ca_file.as_deref(), Some(Path::new(&ca)));
    assert_eq!(cfg.smtp.as_ref().unwrap().username, "");
    assert!(
        cfg.store.path.is_none(),
        "the XDG default is not written out"
    );

    // Asked again: "n" keeps the file.
    let before = std::fs::read_to_string(&path).unwrap();
    let o = env.run(&["init"], "n\n");
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("Replace it?"), "{}", text(&o));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), before);

    // Input that ends early writes nothing and says so.
    std::fs::remove_file(&path).unwrap();
    let o = env.run(&["init"], "Ines\n");
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("nothing was written"), "{}", text(&o));
    assert!(!path.exists());
}

#[test]
fn a_team_store_is_tried_on_the_way_and_written_without_its_password() {
    let env = Env::start();
    let pg = support::postgres::server();
    let url = pg.fresh_database();
    let mut flags = env.flags();
    flags.extend([
        "--store-url".into(),
        url.clone(),
        "--store-password-env".into(),
        "INIT_TEST_STORE_PASSWORD".into(),
    ]);
    let args: Vec<&str> = flags.iter().map(String::as_str).collect();
    // Without the variable set, the check names it.
    let o = env.run(&args, "");
    let out = text(&o);
    assert!(
        out.contains("✗ store.team: INIT_TEST_STORE_PASSWORD is not set"),
        "{out}"
    );
    // With it, the team store is reached (its schema made, as the screen
    // would) and the config names the variable, never the password.
    let mut forced = args.clone();
    forced.push("--force");
    let pw = [("INIT_TEST_STORE_PASSWORD", support::postgres::PASSWORD)];
    let o = env.run_env(&forced, "", &pw);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(
        out.contains("✓ store.team: team store reached: 0 requests"),
        "{out}"
    );
    let path = env.config_path();
    let written = std::fs::read_to_string(&path).unwrap();
    assert!(!written.contains(support::postgres::PASSWORD), "{written}");
    let cfg = Config::load(Some(&path)).unwrap();
    assert_eq!(cfg.store.url.as_deref(), Some(url.as_str()));
    assert_eq!(
        cfg.store.password_env.as_deref(),
        Some("INIT_TEST_STORE_PASSWORD")
    );
    // The written config opens the team store: its schema is current.
    let o = env.run_env(&["store", "migrate"], "", &pw);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("current"), "{}", text(&o));
    // `concierge check` looks at the team store, not at a local file.
    let o = env.run_env(&["check"], "", &pw);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    for line in [
        "✓ store.open: the team store answers",
        "✓ store.schema: schema",
        "✓ store.audit: audit log intact (0 entries)",
    ] {
        assert!(out.contains(line), "{line}:\n{out}");
    }
}

//! The command line as scripts use it: exit codes, one-line errors, JSON lines.

use concierge_test_support as support;

use std::path::Path;
use std::process::{Command, Output};
use support::dovecot::Dovecot;

fn concierge(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_concierge"));
    cmd.args(args)
        .env_remove("XDG_CONFIG_HOME")
        .env("HOME", "/nonexistent-home");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

#[test]
fn sync_once_over_imap_prints_lines_with_uids_and_audit_verify_catches_tampering() {
    let d = Dovecot::start();
    d.seed(
        "req",
        b"From: Ada <owner@acme.example>\r\nSubject: Data export request: Acme Support\r\nMessage-ID: <r1@acme.example>\r\n\r\nWorkspace: Acme Support\r\n",
    );
    d.seed(
        "q",
        b"From: x@y.example\r\nSubject: hello\r\nMessage-ID: <q1@y.example>\r\n\r\nhi\r\n",
    );
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("c.db");
    let cfg = write(
        dir.path(),
        "config.toml",
        &format!(
            "[imap]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"none\"\nusername = \"{}\"\npassword_env = \"CLI_TEST_PW\"\n[store]\npath = \"{}\"\n",
            d.imap_port(),
            d.user(),
            db.display()
        ),
    );
    let o = concierge(
        &["sync", "--once", "--config", &cfg],
        &[("CLI_TEST_PW", d.password())],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let lines: Vec<serde_json::Value> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines.len(),
        1,
        "only the export request is printed: {lines:?}"
    );
    assert_eq!(lines[0]["uid"], 1);
    assert_eq!(lines[0]["kind"], "export_request");
    assert_eq!(lines[0]["workspace"]["name"], "Acme Support");

    // Again: nothing new, nothing printed.
    let o = concierge(
        &["sync", "--once", "--config", &cfg],
        &[("CLI_TEST_PW", d.password())],
    );
    assert!(o.status.success() && o.stdout.is_empty(), "{}", stderr(&o));

    let o = concierge(&["audit", "verify", "--config", &cfg], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("intact"));

    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute("UPDATE audit SET actor = 'mallory' WHERE seq = 1", [])
        .unwrap();
    drop(conn);
    let o = concierge(&["audit", "verify", "--config", &cfg], &[]);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(e.contains("audit entry 1") && e.lines().count() == 1, "{e}");
}

#[test]
fn a_wrong_password_is_one_line_without_the_password() {
    let d = Dovecot::start();
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(
        dir.path(),
        "config.toml",
        &format!(
            "[imap]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"none\"\nusername = \"{}\"\npassword_env = \"CLI_TEST_PW\"\n[store]\npath = \"{}\"\n",
            d.imap_port(),
            d.user(),
            dir.path().join("c.db").display()
        ),
    );
    let o = concierge(
        &["sync", "--once", "--config", &cfg],
        &[("CLI_TEST_PW", "hunter2-wrong")],
    );
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert_eq!(e.lines().count(), 1, "{e}");
    assert!(e.contains("login refused") && !e.contains("hunter2"), "{e}");
}

#[test]
fn config_mistakes_are_one_line_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("[imap]\nhost = \"imap.example.com\"\nport = 143\nsecurity = \"none\"\nusername = \"u\"\npassword_env = \"P\"\n", "[imap] security"),
        ("[imap]\nhots = \"x\"\n", "hots"),
        ("[estimate]\ntimezone = \"Mars/Olympus\"\n", "[estimate] timezone"),
        ("[keys]\napprove = \"hyper-a\"\n", "[keys]"),
        ("[intake]\nsource = \"pop3\"\n", "pop3"),
    ];
    for (text, key) in cases {
        let cfg = write(dir.path(), "bad.toml", text);
        let o = concierge(&["sync", "--once", "--config", &cfg], &[]);
        assert_eq!(o.status.code(), Some(1), "{text}");
        let e = stderr(&o);
        assert_eq!(e.lines().count(), 1, "{e}");
        assert!(e.contains(key) && e.contains("bad.toml"), "{text}: {e}");
    }
    let o = concierge(&["sync", "--once", "--config", "/nonexistent/c.toml"], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("/nonexistent/c.toml"));
    // Usage errors are exit 2.
    assert_eq!(
        concierge(&["estimate", "--messages", "1"], &[])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(concierge(&["frobnicate"], &[]).status.code(), Some(2));
}

#[test]
fn estimate_from_the_backend_by_workspace_name() {
    let dir = tempfile::tempdir().unwrap();
    let backend = concierge::demo::start_backend(
        Path::new(env!("CARGO_BIN_EXE_concierge")),
        dir.path(),
        &dir.path().join("outbox"),
        None,
    )
    .unwrap();
    let cfg = write(
        dir.path(),
        "config.toml",
        &format!(
            "[backend]\nurl = \"{}\"\ntoken_env = \"CLI_TEST_TOKEN\"\n",
            backend.url
        ),
    );
    let run = |name: &str| {
        let o = concierge(
            &[
                "estimate",
                "--workspace",
                name,
                "--at",
                "2026-11-27T16:00:00Z",
                "--config",
                &cfg,
            ],
            &[("CLI_TEST_TOKEN", &backend.token)],
        );
        assert!(o.status.success(), "{}", stderr(&o));
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()
    };
    let acme = run("acme support");
    assert_eq!(acme["over_48h"], false);
    assert_eq!(acme["business_days"], 1);
    assert_eq!(acme["due"], "2026-11-30T16:00:00Z");
    let globex = run("Globex");
    assert_eq!(globex["over_48h"], true);
    assert!(globex["hours"].as_f64().unwrap() > 48.0);

    // A wrong token: one line, and the token is not in it.
    let o = concierge(
        &["estimate", "--workspace", "Globex", "--config", &cfg],
        &[("CLI_TEST_TOKEN", "wrong-token-123")],
    );
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        !e.contains("wrong-token-123") && !e.contains(&backend.token) && e.lines().count() == 1,
        "{e}"
    );
}

/// `concierge reply` end to end against Dovecot and the SMTP sink: a dry run
/// sends and records nothing; a refused send is `failed` and `--retry` sends
/// it once; a sent reply is never sent again; a reply whose send was cut off
/// (`sending`) needs `--force`; the same template twice needs `--force`.
#[test]
fn reply_dry_run_retry_and_force_end_to_end() {
    use concierge::domain::ReplyState;
    let d = Dovecot::start();
    d.seed(
        "req",
        b"From: Ada <owner@acme.example>\r\nSubject: Data export request: Acme Support\r\nMessage-ID: <r1@acme.example>\r\nDate: Mon, 23 Nov 2026 09:14:05 +0000\r\n\r\nWorkspace: Acme Support\r\n",
    );
    let sink = support::smtp::SmtpSink::start_failing(1);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("c.db");
    let cfg = write(
        dir.path(),
        "config.toml",
        &format!(
            "[operator]\nname = \"Sam\"\n[imap]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"none\"\nusername = \"{}\"\npassword_env = \"CLI_TEST_PW\"\nsent_mailbox = \"Sent\"\n[smtp]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"none\"\nusername = \"\"\nfrom = \"Ochre Concierge <hello@ochrehq.com>\"\n[store]\npath = \"{}\"\n",
            d.imap_port(),
            d.user(),
            sink.port(),
            db.display()
        ),
    );
    let env = [("CLI_TEST_PW", d.password())];
    let run = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--config", &cfg]);
        concierge(&all, &env)
    };
    let o = run(&["sync", "--once"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let replies = || {
        concierge::store::Store::open(&db)
            .unwrap()
            .replies(1)
            .unwrap()
    };

    // Dry run: the message on stdout, nothing sent, nothing recorded.
    let o = run(&["reply", "1", "--template", "scope-question", "--dry-run"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("In-Reply-To: <r1@acme.example>"), "{out}");
    assert!(sink.messages().is_empty() && replies().is_empty());

    // The sink refuses the first message: `failed`, one line, exit 1.
    let o = run(&["reply", "1", "--template", "scope-question"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(stderr(&o).trim().lines().count(), 1, "{}", stderr(&o));
    assert_eq!(replies()[0].state, ReplyState::Failed);

    // --retry sends it, once; a sent reply is never sent again, not even forced.
    let o = run(&["reply", "--retry", "1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        sink.wait_for(1, std::time::Duration::from_secs(10)).len(),
        1
    );
    let o = run(&["reply", "--retry", "1", "--force"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("never sent twice"), "{}", stderr(&o));

    // The same template again: only with --force.
    let o = run(&["reply", "1", "--template", "scope-question"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("--force"), "{}", stderr(&o));
    assert_eq!(replies().len(), 1, "nothing recorded for a refused repeat");
    let o = run(&["reply", "1", "--template", "scope-question", "--force"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        sink.wait_for(2, std::time::Duration::from_secs(10)).len(),
        2
    );

    // A send cut off after DATA leaves the reply `sending` (as a crash
    // mid-send does): a plain retry refuses, --force sends it once more.
    let store = concierge::store::Store::open(&db).unwrap();
    store
        .conn()
        .execute(
            "UPDATE replies SET state = 'sending' WHERE id = 2",
            concierge::store::db::params![],
        )
        .unwrap();
    drop(store);
    let o = run(&["reply", "--retry", "2"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("--force"), "{}", stderr(&o));
    assert_eq!(sink.messages().len(), 2);
    let o = run(&["reply", "--retry", "2", "--force"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        sink.wait_for(3, std::time::Duration::from_secs(10)).len(),
        3
    );
    assert_eq!(replies()[1].state, ReplyState::Sent);

    // A stored time that cannot be read: the reply is still composed (its
    // date counts from now) and the operator is told which field is bad.
    let store = concierge::store::Store::open(&db).unwrap();
    store
        .conn()
        .execute(
            "UPDATE requests SET received_at = 'last Tuesday' WHERE id = 1",
            concierge::store::db::params![],
        )
        .unwrap();
    drop(store);
    let o = run(&[
        "reply",
        "1",
        "--template",
        "scope-question",
        "--force",
        "--dry-run",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(
            "request 1: the time it arrived (requests.received_at): expected an RFC 3339 time, found \"last Tuesday\""
        ),
        "{}",
        stderr(&o)
    );
}

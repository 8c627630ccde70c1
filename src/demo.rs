//! `concierge demo`: the whole product on an embedded sandbox.
//!
//! - the reference export backend (this same binary, `backend serve`) on a
//!   free loopback port, seeded with the demo workspaces;
//! - a Maildir inbox seeded from `assets/demo/inbox/` (compiled in), walking
//!   every path: an owner's and an admin's request, an agent's that must be
//!   rejected, one from an address that is no member, a spoofed one failing
//!   DMARC, Globex over 48 hours, a follow-up, an out-of-office, a question
//!   that is not a request;
//! - replies and the backend's link emails go into a Maildir outbox that the
//!   screen shows (`o`).
//!
//! Nothing to install or configure. Without a terminal (piped), it prints
//! the inbox's JSON lines instead.

use crate::inbox::maildir::MaildirSource;
use crate::store::{audit, Store};
use anyhow::{anyhow, Context, Result};
use include_dir::{include_dir, Dir};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};

static DEMO_INBOX: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/assets/demo/inbox");

/// How long before "now" each demo mail arrived, in minutes, by file stem.
///
/// NOTE: relative to the moment the demo starts, so the queue shows a
/// realistic mix of SLA colours on any day: fresh requests (minutes old),
/// some hours old, and Northwind's four days old, past its one business
/// day. A follow-up or auto-reply always comes after the mail it answers.
const ARRIVED_MINUTES_AGO: &[(&str, i64)] = &[
    ("01-acme-owner", 35),
    ("02-northwind-owner", 4 * 24 * 60),
    ("03-globex-admin", 50),
    ("04-acme-agent", 3 * 60),
    ("05-stranger", 7 * 60),
    ("06-spoofed", 20 * 60),
    ("07-acme-followup", 10),
    ("08-northwind-ooo", 4 * 24 * 60 - 30),
    ("09-report-question", 2 * 60),
];

/// `mail` with its `Date:` header (RFC 5322 §3.6.1) set to `minutes_ago`
/// before `now`. Only the header section is touched; a mail without a
/// Date header is returned unchanged.
pub fn with_date(mail: &[u8], now: chrono::DateTime<chrono::Utc>, minutes_ago: i64) -> Vec<u8> {
    let date = (now - chrono::Duration::minutes(minutes_ago)).to_rfc2822();
    let mut out = Vec::with_capacity(mail.len() + 8);
    let mut rest = mail;
    let mut replaced = false;
    while !rest.is_empty() {
        let end = rest
            .iter()
            .position(|&b| b == b'\n')
            .map_or(rest.len(), |i| i + 1);
        let (line, tail) = rest.split_at(end);
        // The blank line ends the header section.
        if line == b"\n" || line == b"\r\n" {
            out.extend_from_slice(rest);
            break;
        }
        if !replaced && line.len() >= 5 && line[..5].eq_ignore_ascii_case(b"date:") {
            let eol: &[u8] = if line.ends_with(b"\r\n") {
                b"\r\n"
            } else {
                b"\n"
            };
            out.extend_from_slice(format!("Date: {date}").as_bytes());
            out.extend_from_slice(eol);
            replaced = true;
        } else {
            out.extend_from_slice(line);
        }
        rest = tail;
    }
    out
}

/// Writes the embedded demo inbox as a Maildir under `root` (its `new/`),
/// each mail dated relative to now (see [`ARRIVED_MINUTES_AGO`]).
pub fn write_maildir(root: &Path) -> Result<usize> {
    let now = chrono::Utc::now();
    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(root.join(sub))?;
    }
    let mut files: Vec<_> = DEMO_INBOX
        .files()
        .filter(|f| f.path().extension().is_some_and(|e| e == "eml"))
        .collect();
    files.sort_by_key(|f| f.path());
    for (i, f) in files.iter().enumerate() {
        let stem = f
            .path()
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("msg");
        // Maildir-style unique names, in delivery order.
        let name = format!("{}.{:04}_{stem}.demo", 1_790_000_000 + i, i);
        let ago = ARRIVED_MINUTES_AGO
            .iter()
            .find(|(s, _)| *s == stem)
            .map_or(60, |(_, m)| *m);
        std::fs::write(
            root.join("new").join(name),
            with_date(f.contents(), now, ago),
        )?;
    }
    Ok(files.len())
}

/// The sandbox directory: fresh for each run (resume one with `--resume`).
fn sandbox() -> Result<PathBuf> {
    let base = std::env::temp_dir().join(format!("concierge-demo-{}", std::process::id()));
    if base.exists() {
        std::fs::remove_dir_all(&base).ok();
    }
    crate::refbackend::private::create_dir(&base)
        .with_context(|| format!("cannot create {}", base.display()))?;
    Ok(base)
}

/// The reference backend as a child process; killed on drop.
///
/// Its life is tied to ours: it runs with `--exit-with-stdin`, and `stdin`
/// is the write end of its standard input. When this process ends in any
/// way (kill -9 included) the kernel closes that end, the child reads end
/// of file and shuts down.
pub struct DemoBackend {
    child: Child,
    _stdin: Option<std::process::ChildStdin>,
    pub url: String,
    pub token: String,
}

impl Drop for DemoBackend {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `EXE backend serve` (EXE: this program) on a free loopback port
/// with the demo seed, its data under `dir`.
pub fn start_backend(
    exe: &Path,
    dir: &Path,
    outbox: &Path,
    link_ttl: Option<&str>,
) -> Result<DemoBackend> {
    use rand::Rng;
    let token: String = rand::thread_rng()
        .sample_iter(&rand::distributions::Alphanumeric)
        .take(32)
        .map(char::from)
        .collect();
    let mut cmd = std::process::Command::new(exe);
    cmd.args([
        "backend",
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--seed",
        "demo",
        "--data",
    ])
    .arg(dir.join("backend"))
    .arg("--outbox")
    .arg(outbox)
    .arg("--exit-with-stdin")
    .env("CONCIERGE_BACKEND_TOKEN", &token)
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::from(crate::refbackend::private::create(
        &dir.join("backend.log"),
    )?));
    if let Some(ttl) = link_ttl {
        cmd.args(["--link-ttl", ttl]);
    }
    let mut child = cmd.spawn().context("cannot start the demo backend")?;
    let stdin = child.stdin.take();
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| anyhow!("no stdout from the demo backend"))?;
    let mut lines = std::io::BufReader::new(stdout).lines();
    let url = loop {
        match lines.next() {
            Some(Ok(line)) => {
                if let Some(u) = line.strip_prefix("listening on ") {
                    break u.trim().to_string();
                }
            }
            _ => {
                let _ = child.kill();
                let log = std::fs::read_to_string(dir.join("backend.log")).unwrap_or_default();
                anyhow::bail!(
                    "the demo backend did not start: {}",
                    log.lines().last().unwrap_or("no output")
                );
            }
        }
    };
    // Keep draining its stdout so it never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Ok(DemoBackend {
        child,
        _stdin: stdin,
        url,
        token,
    })
}

/// `concierge demo [--resume DIR]`.
pub fn run(resume: Option<PathBuf>) -> Result<i32> {
    use std::io::IsTerminal;
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        return run_batch();
    }
    let dir = match resume {
        Some(d) => {
            if !d.join("inbox").is_dir() || !d.join("concierge.db").is_file() {
                anyhow::bail!(
                    "{} is not a demo sandbox (no inbox/ and concierge.db in it)",
                    d.display()
                );
            }
            d
        }
        None => sandbox()?,
    };
    let inbox = dir.join("inbox");
    let outbox = dir.join("outbox");
    if !inbox.is_dir() {
        write_maildir(&inbox)?;
    }
    let exe = std::env::current_exe().context("cannot find this program")?;
    let backend = start_backend(&exe, &dir, &outbox, None)?;
    let client = crate::backend::BackendClient::new(
        &backend.url,
        crate::secret::Secret::new(backend.token.clone()),
        "demo",
    )
    .map_err(|e| anyhow!("{e}"))?;
    let operator = std::env::var("USER").unwrap_or_else(|_| "demo".into());
    // A second screen joins with the backend's address and token (the
    // sandbox is private to this user; the file goes when the demo ends).
    let joining = dir.join(JOIN_FILE);
    {
        use std::io::Write;
        let mut f = crate::refbackend::private::create(&joining)?;
        writeln!(
            f,
            "{}",
            serde_json::json!({ "url": backend.url, "token": backend.token, "operator": operator })
        )?;
    }
    let hint = join_hint(&dir);
    // The inbox is read before the screen opens: the first frame shows every
    // request, and the status line keeps the join hint.
    {
        let mut store = Store::open(&dir.join("concierge.db"))?;
        let mut source = MaildirSource::new(&inbox)?;
        crate::sync::sync_once(&mut source, &mut store, crate::intake::DEFAULT_AUTHSERV_ID)?;
    }
    eprintln!("concierge demo: {hint}");
    let setup = crate::tui::app::Setup {
        store_path: dir.join("concierge.db").into(),
        operator,
        operator_email: None,
        rates: crate::estimate::Rates::default(),
        keys: crate::tui::keys::KeyMap::default(),
        templates: crate::mail::templates::Templates::load(None)?,
        backend: Some(client),
        sender: Some(crate::mail::outgoing::Sender::Maildir(outbox.clone())),
        from: "Ochre Concierge <hello@ochrehq.com>".into(),
        inbox: crate::tui::app::Inbox::Maildir(inbox),
        authserv_id: crate::intake::DEFAULT_AUTHSERV_ID.into(),
        outboxes: vec![outbox],
        config: None,
        job_poll: std::time::Duration::from_millis(300),
        backend_gone: None,
        follow_demo: None,
    };
    let result = crate::tui::app::run_with(setup, Some(dir.join("concierge.log")), Some(hint));
    let _ = std::fs::remove_file(&joining);
    drop(backend);
    result?;
    eprintln!("{}", exit_note(&dir, dir_size(&dir)));
    Ok(0)
}

/// The file in the sandbox through which a second screen joins.
const JOIN_FILE: &str = "join.json";

/// A joined screen's backend status once the backend stops answering: the
/// backend is the first screen's child, so it went with that screen (the
/// status line shows 28 characters of it).
pub const HOST_GONE: &str = "the demo's host screen quit";

/// The backend's address and token as the running demo wrote them to
/// `dir/join.json`.
fn read_join(dir: &Path) -> Result<(String, String, Option<String>)> {
    let joining = std::fs::read_to_string(dir.join(JOIN_FILE)).map_err(|_| {
        anyhow!(
            "no running demo in {} (start one with `concierge demo`; it prints the --join line)",
            dir.display()
        )
    })?;
    let v: serde_json::Value = serde_json::from_str(&joining).context("join.json is damaged")?;
    let (Some(url), Some(token)) = (v["url"].as_str(), v["token"].as_str()) else {
        anyhow::bail!("join.json is damaged (no url or token)");
    };
    let host = v["operator"].as_str().map(str::to_string);
    Ok((url.to_string(), token.to_string(), host))
}

/// A joined screen whose backend stopped answering: when `dir/join.json`
/// names another backend (the host's demo was `--resume`d: a new port, a
/// new token), points `client` and all its clones there and returns the
/// new address. None while the file is gone (the host quit) or unchanged.
pub fn rejoin(dir: &Path, client: &crate::backend::BackendClient) -> Option<String> {
    let (url, token, _) = read_join(dir).ok()?;
    let same_url = client.base_url().trim_end_matches('/') == url.trim_end_matches('/');
    if same_url && client.takes_token(&token) {
        return None;
    }
    client
        .retarget(&url, crate::secret::Secret::new(token))
        .ok()?;
    tracing::info!(url = %url, "the demo was resumed: following its backend");
    Some(url)
}

/// How to open a second operator's screen on this sandbox.
pub fn join_hint(dir: &Path) -> String {
    format!(
        "A second operator's screen: concierge demo --join {} --as Kim",
        dir.display()
    )
}

/// `concierge demo --join DIR --as NAME`: another operator's screen on a
/// running demo's sandbox — the same store, backend and outbox; no second
/// backend, and no second poller (it stands by while the demo polls).
pub fn join(dir: &Path, name: &str) -> Result<i32> {
    let name = crate::intake::sanitize::single_line(name).text;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 40 {
        anyhow::bail!("--as needs a name of 1 to 40 characters");
    }
    let (url, token, host) = read_join(dir)?;
    let (url, token) = (url.as_str(), token.as_str());
    // A demo that was killed (not quit) leaves its join.json behind: say
    // so, instead of a screen whose every lookup fails "connection refused".
    if !answers(url) {
        anyhow::bail!(
            "the demo in {} is not running any more (its backend at {url} does not answer): start `concierge demo` and use the --join line it prints",
            dir.display()
        );
    }
    if host.as_deref() == Some(name) {
        eprintln!("concierge demo: the first screen is {name} too; presence will say so");
    }
    let client = crate::backend::BackendClient::new(
        url,
        crate::secret::Secret::new(token.to_string()),
        "demo",
    )
    .map_err(|e| anyhow!("{e}"))?;
    let outbox = dir.join("outbox");
    let setup = crate::tui::app::Setup {
        store_path: dir.join("concierge.db").into(),
        operator: name.to_string(),
        operator_email: None,
        rates: crate::estimate::Rates::default(),
        keys: crate::tui::keys::KeyMap::default(),
        templates: crate::mail::templates::Templates::load(None)?,
        backend: Some(client),
        sender: Some(crate::mail::outgoing::Sender::Maildir(outbox.clone())),
        from: "Ochre Concierge <hello@ochrehq.com>".into(),
        // Stands by: the demo holds the poller's lease.
        inbox: crate::tui::app::Inbox::Maildir(dir.join("inbox")),
        authserv_id: crate::intake::DEFAULT_AUTHSERV_ID.into(),
        outboxes: vec![outbox],
        config: None,
        job_poll: std::time::Duration::from_millis(300),
        // Its backend is the first screen's: it goes when that screen quits.
        backend_gone: Some(HOST_GONE.into()),
        // ... and comes back elsewhere when that demo is resumed.
        follow_demo: Some(dir.to_path_buf()),
    };
    let log = dir.join(format!(
        "concierge-{}.log",
        name.replace(['/', '\\', '.'], "_")
    ));
    crate::tui::app::run_with(setup, Some(log), Some(format!("joined the demo as {name}")))?;
    Ok(0)
}

/// Whether something accepts connections at `url`'s host and port (the
/// demo's backend, on loopback: 2 s is plenty).
fn answers(url: &str) -> bool {
    let Ok(u) = reqwest::Url::parse(url) else {
        return false;
    };
    let (Some(host), Some(port)) = (u.host_str(), u.port_or_known_default()) else {
        return false;
    };
    let Ok(addrs) = std::net::ToSocketAddrs::to_socket_addrs(&(host, port)) else {
        return false;
    };
    addrs.into_iter().any(|a| {
        std::net::TcpStream::connect_timeout(&a, std::time::Duration::from_secs(2)).is_ok()
    })
}

/// What the demo says at exit: where its sandbox is, how big, how to
/// continue in it and how to remove it.
pub fn exit_note(dir: &Path, bytes: u64) -> String {
    format!(
        "concierge demo: the sandbox (store, inbox, outbox, backend jobs and exports) is in {} ({:.1} MB).\n\
         Continue where you left off: concierge demo --resume {}\n\
         Or remove it: rm -r {}",
        dir.display(),
        bytes as f64 / 1e6,
        dir.display(),
        dir.display()
    )
}

/// The bytes of every file under `dir` (symlinks not followed).
fn dir_size(dir: &Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    rd.flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_size(&e.path()),
            Ok(t) if t.is_file() => e.metadata().map_or(0, |m| m.len()),
            _ => 0,
        })
        .sum()
}

/// Without a terminal: sync the demo inbox and print its JSON lines.
pub fn run_batch() -> Result<i32> {
    let dir = sandbox()?;
    let maildir = dir.join("inbox");
    let n = write_maildir(&maildir)?;
    let mut store = Store::open(&dir.join("concierge.db"))?;
    let mut source = MaildirSource::new(&maildir)?;
    let report =
        crate::sync::sync_once(&mut source, &mut store, crate::intake::DEFAULT_AUTHSERV_ID)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for msg in &report.stored {
        writeln!(out, "{}", serde_json::to_string(msg)?)?;
    }
    let requests = store.request_count()?;
    let entries = audit::verify(store.conn())?.map_err(|b| anyhow!("{b}"))?;
    eprintln!(
        "concierge demo (no terminal, so no screen): {n} messages in the demo inbox; {} export-related stored as {requests} requests; audit log intact ({entries} entries). Sandbox: {}",
        report.stored.len(),
        dir.display()
    );
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date_of(mail: &[u8]) -> chrono::DateTime<chrono::FixedOffset> {
        let text = String::from_utf8_lossy(mail);
        let line = text
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("date:"))
            .expect("a Date header");
        chrono::DateTime::parse_from_rfc2822(line[5..].trim()).expect("an RFC 2822 date")
    }

    #[test]
    fn a_joined_screen_moves_only_when_the_demo_names_another_backend() {
        let dir = tempfile::tempdir().unwrap();
        let write = |url: &str, token: &str| {
            std::fs::write(
                dir.path().join(JOIN_FILE),
                serde_json::json!({ "url": url, "token": token, "operator": "Sam" }).to_string(),
            )
            .unwrap()
        };
        let secret = |t: &str| crate::secret::Secret::new(t.to_string());
        let client =
            crate::backend::BackendClient::new("http://127.0.0.1:1111", secret("old"), "demo")
                .unwrap();
        // A job follower's copy, taken before the demo moved.
        let follower = client.clone();
        assert_eq!(rejoin(dir.path(), &client), None, "the host quit");
        write("http://127.0.0.1:1111", "old");
        assert_eq!(rejoin(dir.path(), &client), None, "the same demo");
        write("http://127.0.0.1:2222", "new");
        assert_eq!(
            rejoin(dir.path(), &client).as_deref(),
            Some("http://127.0.0.1:2222")
        );
        assert!(follower.base_url().starts_with("http://127.0.0.1:2222"));
        assert!(follower.takes_token("new") && !follower.takes_token("old"));
        assert_eq!(rejoin(dir.path(), &client), None, "already there");
        // Plain http off loopback would carry the token in clear: refused.
        write("http://exports.example", "other");
        assert_eq!(rejoin(dir.path(), &client), None);
        assert!(follower.takes_token("new"));
    }

    #[test]
    fn joining_a_demo_that_was_killed_says_so_before_any_screen() {
        let open = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", open.local_addr().unwrap());
        assert!(answers(&url), "a listener answers");
        drop(open);
        assert!(!answers(&url), "a closed port does not");
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(JOIN_FILE),
            serde_json::json!({ "url": url, "token": "t", "operator": "Sam" }).to_string(),
        )
        .unwrap();
        let e = format!("{:#}", join(dir.path(), "Kim").unwrap_err());
        assert!(e.contains("is not running any more"), "{e}");
        assert!(e.contains("start `concierge demo`"), "{e}");
    }

    #[test]
    fn the_date_header_is_replaced_and_nothing_else() {
        let now = chrono::Utc::now();
        let mail = b"From: a@b\r\nDate: Mon, 23 Nov 2026 09:14:05 +0000\r\nSubject: x\r\n\r\nDate: in the body stays\r\n";
        let out = with_date(mail, now, 90);
        let text = String::from_utf8(out.clone()).unwrap();
        assert_eq!((now - date_of(&out).to_utc()).num_minutes(), 90);
        assert!(text.starts_with("From: a@b\r\nDate: "), "{text}");
        assert!(
            text.ends_with("Subject: x\r\n\r\nDate: in the body stays\r\n"),
            "{text}"
        );
        assert!(!text.contains("23 Nov 2026"));
        // no Date header: unchanged
        assert_eq!(
            with_date(b"From: a@b\n\nbody\n", now, 5),
            b"From: a@b\n\nbody\n"
        );
    }

    #[test]
    fn demo_mail_is_dated_relative_to_now_with_a_mix_of_ages() {
        let dir = tempfile::tempdir().unwrap();
        let n = write_maildir(dir.path()).unwrap();
        assert_eq!(n, ARRIVED_MINUTES_AGO.len(), "every demo mail has an age");
        let now = chrono::Utc::now();
        let mut ages = std::collections::HashMap::new();
        for e in std::fs::read_dir(dir.path().join("new")).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let stem = ARRIVED_MINUTES_AGO
                .iter()
                .find(|(s, _)| name.contains(s))
                .unwrap_or_else(|| panic!("{name} has no age"))
                .0;
            let age = (now - date_of(&std::fs::read(e.path()).unwrap()).to_utc()).num_minutes();
            assert!(age >= 0, "{stem} is dated in the future");
            ages.insert(stem, age);
        }
        // fresh, hours old, and one past any one-business-day promise
        assert!(ages.values().any(|&a| a < 60));
        assert!(ages.values().any(|&a| (60..24 * 60).contains(&a)));
        assert!(ages.values().any(|&a| a > 3 * 24 * 60));
        // replies come after what they answer
        assert!(ages["07-acme-followup"] < ages["01-acme-owner"]);
        assert!(ages["08-northwind-ooo"] < ages["02-northwind-owner"]);
    }

    #[test]
    fn joining_needs_a_running_demo_and_a_name() {
        let dir = tempfile::tempdir().unwrap();
        let err = join(dir.path(), "Kim").unwrap_err().to_string();
        assert!(err.contains("no running demo"), "{err}");
        let err = join(dir.path(), " \u{1b}[2J ").unwrap_err().to_string();
        assert!(err.contains("--as needs a name"), "{err}");
        assert!(join_hint(dir.path()).contains("--join"));
    }

    #[test]
    fn the_exit_note_names_the_sandbox_and_how_to_resume() {
        let note = exit_note(Path::new("/tmp/concierge-demo-42"), 318_000_000);
        assert!(note.contains("/tmp/concierge-demo-42 (318.0 MB)"), "{note}");
        assert!(note.contains("concierge demo --resume /tmp/concierge-demo-42"));
    }
}

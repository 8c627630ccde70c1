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

/// Writes the embedded demo inbox as a Maildir under `root` (its `new/`).
pub fn write_maildir(root: &Path) -> Result<usize> {
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
        std::fs::write(root.join("new").join(name), f.contents())?;
    }
    Ok(files.len())
}

/// The sandbox directory: fresh for each run.
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

pub fn run() -> Result<i32> {
    use std::io::IsTerminal;
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        return run_batch();
    }
    let dir = sandbox()?;
    let inbox = dir.join("inbox");
    let outbox = dir.join("outbox");
    write_maildir(&inbox)?;
    let exe = std::env::current_exe().context("cannot find this program")?;
    let backend = start_backend(&exe, &dir, &outbox, None)?;
    let client = crate::backend::BackendClient::new(
        &backend.url,
        crate::secret::Secret::new(backend.token.clone()),
        "demo",
    )
    .map_err(|e| anyhow!("{e}"))?;
    let operator = std::env::var("USER").unwrap_or_else(|_| "demo".into());
    let setup = crate::tui::app::Setup {
        store_path: dir.join("concierge.db"),
        operator,
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
    };
    let result = crate::tui::app::run(setup, Some(dir.join("concierge.log")));
    drop(backend);
    result?;
    eprintln!(
        "concierge demo: the sandbox (store, outbox, backend data) is in {}",
        dir.display()
    );
    Ok(0)
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

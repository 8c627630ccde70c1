//! `concierge demo`: the whole intake on an embedded sandbox.
//!
//! The demo inbox (`assets/demo/inbox/*.eml`) is compiled into the binary,
//! written into a fresh Maildir under a temporary directory, synced into a
//! fresh store, and every export-related message is printed as its JSON line,
//! followed by a summary of the requests found. Nothing to install or configure.

use crate::inbox::maildir::MaildirSource;
use crate::store::{audit, Store};
use anyhow::{Context, Result};
use include_dir::{include_dir, Dir};
use std::io::Write;
use std::path::Path;

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

pub fn run() -> Result<i32> {
    let dir = tempfile_dir()?;
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
    let entries = audit::verify(store.conn())?.map_err(|b| anyhow::anyhow!("{b}"))?;
    eprintln!(
        "concierge demo: {n} messages in the demo inbox; {} export-related stored as {requests} requests; audit log intact ({entries} entries). Sandbox: {}",
        report.stored.len(),
        dir.display()
    );
    Ok(0)
}

fn tempfile_dir() -> Result<std::path::PathBuf> {
    let base = std::env::temp_dir().join(format!("concierge-demo-{}", std::process::id()));
    if base.exists() {
        std::fs::remove_dir_all(&base).ok();
    }
    std::fs::create_dir_all(&base).with_context(|| format!("cannot create {}", base.display()))?;
    Ok(base)
}

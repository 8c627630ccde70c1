//! The command line (the contract in DESIGN.md) and its dispatch.
//!
//! Exit codes: 0 success, 1 runtime failure with one clear line on stderr,
//! 2 usage (clap's own).

use crate::config::{Config, SourceKind};
use crate::inbox::maildir::MaildirSource;
use crate::inbox::{imap::ImapSource, Source};
use crate::intake::{self, Inspected};
use crate::store::{audit, Store};
use crate::sync::{self, PollerEvent, PollerOptions};
use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, Parser)]
#[command(
    name = "concierge",
    version,
    about = "Triage and run Ochre workspace data exports"
)]
pub struct Cli {
    /// Configuration file (default: $XDG_CONFIG_HOME/concierge/config.toml).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The demo on an embedded sandbox: nothing to install or configure.
    Demo,
    /// One JSON line per mail file: kind, workspace, sender, authentication, warnings.
    Inspect {
        /// The only Authentication-Results authserv-id to trust
        /// (default: [intake] authserv_id, else mx.ochrehq.com).
        #[arg(long, value_name = "ID")]
        authserv_id: Option<String>,
        /// Raw RFC 5322 message files (.eml).
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Poll the configured inbox, store what is new, print one JSON line per
    /// export-related message.
    Sync {
        /// Poll once and exit (otherwise keep watching: IDLE or polling).
        #[arg(long)]
        once: bool,
    },
    /// The hash-chained audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// The reference export backend.
    Backend {
        #[command(subcommand)]
        command: BackendCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Walk the hash chain: exit 0 when intact, 1 naming the first broken entry.
    Verify,
}

#[derive(Debug, Subcommand)]
pub enum BackendCommand {
    /// Serve the export backend API v1 (token from CONCIERGE_BACKEND_TOKEN).
    Serve(crate::refbackend::ServeArgs),
}

/// Runs the command line; returns the process exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            // One line, whatever the error chain holds.
            let msg = format!("{e:#}").replace(['\n', '\r'], " ");
            eprintln!("concierge: {msg}");
            1
        }
    }
}

fn run(cli: Cli) -> Result<i32> {
    let config_path = cli.config.clone();
    match cli.command {
        None => {
            eprintln!("concierge: the interactive screen is not built yet; try `concierge demo`, `concierge sync --once` or `concierge --help`");
            Ok(2)
        }
        Some(Command::Inspect { authserv_id, files }) => {
            inspect(authserv_id, &files, config_path.as_deref())
        }
        Some(Command::Sync { once }) => {
            let cfg = Config::load(config_path.as_deref())?;
            sync_cmd(&cfg, once)
        }
        Some(Command::Audit {
            command: AuditCommand::Verify,
        }) => {
            let cfg = Config::load(config_path.as_deref())?;
            audit_verify(&cfg.store_path()?)
        }
        Some(Command::Backend {
            command: BackendCommand::Serve(args),
        }) => {
            crate::refbackend::run(args)?;
            Ok(0)
        }
        Some(Command::Demo) => crate::demo::run(),
    }
}

/// Writes one JSON line; a closed pipe (`| head`) ends quietly.
fn emit(out: &mut impl Write, msg: &Inspected) -> Result<bool> {
    let line = serde_json::to_string(msg)?;
    match writeln!(out, "{line}") {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(e).context("cannot write to standard output"),
    }
}

fn inspect(flag: Option<String>, files: &[PathBuf], config: Option<&Path>) -> Result<i32> {
    let authserv_id = match flag {
        Some(id) => id,
        None => {
            let exists =
                config.is_some() || crate::config::default_path().is_some_and(|p| p.is_file());
            if exists {
                Config::load(config)?.intake.authserv_id
            } else {
                intake::DEFAULT_AUTHSERV_ID.to_string()
            }
        }
    };
    let opts = intake::Options {
        authserv_id: &authserv_id,
        truncated: false,
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for file in files {
        let raw = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
        let mut msg = intake::inspect(&raw, &opts);
        msg.file = Some(file.display().to_string());
        if !emit(&mut out, &msg)? {
            return Ok(0);
        }
    }
    out.flush().ok();
    Ok(0)
}

/// The configured inbox as a source.
fn open_source(cfg: &Config) -> Result<Box<dyn Source>> {
    Ok(match cfg.intake.source {
        SourceKind::Maildir => {
            let dir = cfg
                .intake
                .maildir
                .as_ref()
                .context("[intake] maildir is not set")?;
            Box::new(MaildirSource::new(crate::config::expand_home(dir))?)
        }
        SourceKind::Imap => {
            let imap = cfg.imap()?;
            let password = imap.password().context("[imap] password")?;
            Box::new(ImapSource::connect(imap, &password)?)
        }
    })
}

fn sync_cmd(cfg: &Config, once: bool) -> Result<i32> {
    let store_path = cfg.store_path()?;
    let mut store = Store::open(&store_path)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if once || cfg.intake.source == SourceKind::Maildir {
        loop {
            let mut source = open_source(cfg)?;
            let report = sync::sync_once(source.as_mut(), &mut store, &cfg.intake.authserv_id)?;
            for msg in &report.stored {
                if !emit(&mut out, msg)? {
                    return Ok(0);
                }
            }
            out.flush().ok();
            if once {
                return Ok(0);
            }
            std::thread::sleep(std::time::Duration::from_secs(
                cfg.intake.poll_seconds.max(1),
            ));
        }
    }
    let imap = cfg.imap()?.clone();
    let password = imap.password().context("[imap] password")?;
    drop(store);
    let opts = PollerOptions {
        authserv_id: cfg.intake.authserv_id.clone(),
        poll_interval: std::time::Duration::from_secs(cfg.intake.poll_seconds.max(1)),
        ..PollerOptions::default()
    };
    let poller = sync::Poller::start(imap, password, store_path, opts);
    for ev in poller.events.iter() {
        match ev {
            PollerEvent::Synced(msgs) => {
                for m in &msgs {
                    if !emit(&mut out, m)? {
                        return Ok(0);
                    }
                }
                out.flush().ok();
            }
            PollerEvent::Connected { idle } => {
                eprintln!(
                    "concierge: connected ({})",
                    if idle { "IDLE" } else { "polling" }
                );
            }
            PollerEvent::Down { error, retry_in } => {
                eprintln!(
                    "concierge: {error}; retrying in {}s",
                    retry_in.as_secs().max(1)
                );
            }
            PollerEvent::Fatal(e) => anyhow::bail!(e),
        }
    }
    Ok(0)
}

fn audit_verify(store_path: &Path) -> Result<i32> {
    if !store_path.is_file() {
        anyhow::bail!("no store at {}", store_path.display());
    }
    let store = Store::open(store_path)?;
    match audit::verify(store.conn())? {
        Ok(n) => {
            println!("audit log intact: {n} entries");
            Ok(0)
        }
        Err(broken) => {
            eprintln!("concierge: {broken}");
            Ok(1)
        }
    }
}

//! The command line (the contract in README.md's Commands table) and its dispatch.
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
    Demo {
        /// Continue in the sandbox of an earlier demo (its store, inbox,
        /// outbox and backend jobs) instead of a fresh one.
        #[arg(long, value_name = "DIR", conflicts_with = "join")]
        resume: Option<PathBuf>,
        /// Open a second operator's screen on a running demo's sandbox
        /// (the path the demo shows), to see presence and live updates.
        #[arg(long, value_name = "DIR", requires = "as_name")]
        join: Option<PathBuf>,
        /// The operator name of the joining screen (with --join).
        #[arg(long = "as", value_name = "NAME", requires = "join")]
        as_name: Option<String>,
    },
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
    /// Turnaround estimate for a workspace size, or for a workspace by name
    /// (read from the backend).
    Estimate(EstimateArgs),
    /// Answer a request with a template, in its thread (or retry a failed reply).
    Reply(ReplyArgs),
    /// The team's figures: requests, time to first reply, time to link
    /// emailed, share within the promise, estimate accuracy, per operator.
    Report(crate::stats::report::ReportArgs),
    /// The hash-chained audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// The store itself: schema migrations, and moving a solo store into a
    /// team store.
    Store {
        #[command(subcommand)]
        command: StoreCommand,
    },
    /// The reference export backend.
    Backend {
        #[command(subcommand)]
        command: BackendCommand,
    },
    /// Write a first config by answering questions (or from flags with
    /// --non-interactive), trying each connection on the way.
    Init(Box<crate::setup::init::InitArgs>),
    /// Try every setting: config, secrets, IMAP, SMTP, backend, store.
    /// One line per check; exit 0 when all pass, 1 otherwise.
    Check {
        /// One JSON object instead of lines (for monitoring).
        #[arg(long)]
        json: bool,
    },
    /// Print the shell completion script (e.g. `concierge completions bash`).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff; `concierge man | man -l -`).
    Man,
    /// A test hook (debug builds only): one operator's random session on
    /// the configured store (src/chaos.rs, tests/team_chaos.rs).
    #[cfg(debug_assertions)]
    #[command(hide = true)]
    ChaosWorker(crate::chaos::ChaosArgs),
}

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["messages", "workspace", "calibration"])))]
pub struct EstimateArgs {
    #[arg(long, requires = "customers", requires = "attachment_bytes")]
    pub messages: Option<u64>,
    #[arg(long)]
    pub customers: Option<u64>,
    #[arg(long)]
    pub attachment_bytes: Option<u64>,
    #[arg(long, default_value_t = 0)]
    pub large_attachments: u64,
    /// The workspace's name: its size is read from the backend ([backend] in the config).
    #[arg(long, conflicts_with = "messages")]
    pub workspace: Option<String>,
    /// When the request arrived (RFC 3339; default: now).
    #[arg(long)]
    pub at: Option<String>,
    /// How far past estimates were off, from finished jobs in the store.
    #[arg(long, conflicts_with_all = ["messages", "workspace"])]
    pub calibration: bool,
}

#[derive(Debug, clap::Args)]
pub struct ReplyArgs {
    /// The request's number in the store.
    #[arg(required_unless_present = "retry")]
    pub request: Option<i64>,
    /// Which template.
    #[arg(long, value_enum, required_unless_present = "retry")]
    pub template: Option<crate::mail::templates::Template>,
    /// For reject-duplicate: the request already in progress, in words.
    #[arg(long)]
    pub existing: Option<String>,
    /// Print the reply instead of sending it.
    #[arg(long)]
    pub dry_run: bool,
    /// Send again a reply that failed (by its reply number).
    #[arg(long, conflicts_with_all = ["request", "template"])]
    pub retry: Option<i64>,
    /// With --retry: also a reply whose send was interrupted (check Sent
    /// first). Otherwise: send a template this request already received.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Walk the hash chain: exit 0 when intact, 1 naming the first broken entry.
    Verify,
}

#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Bring the configured store's schema up to date; prints from → to.
    Migrate,
    /// Copy the configured store (every request, message, note, reply,
    /// job, estimate and the audit chain) into an empty team store.
    Copy {
        /// The team store: postgres://user@host/db?sslmode=verify-full
        /// (no password in it).
        #[arg(long, value_name = "URL")]
        to: String,
        /// The environment variable holding the team store's password
        /// (default: [store] password_env / password_command).
        #[arg(long, value_name = "NAME")]
        password_env: Option<String>,
        /// An extra trust anchor for the team store's certificate.
        #[arg(long, value_name = "FILE")]
        ca_file: Option<PathBuf>,
    },
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
            let cfg = Config::load(config_path.as_deref())?;
            tui_cmd(cfg)
        }
        Some(Command::Inspect { authserv_id, files }) => {
            inspect(authserv_id, &files, config_path.as_deref())
        }
        Some(Command::Sync { once }) => {
            let cfg = Config::load(config_path.as_deref())?;
            sync_cmd(&cfg, once)
        }
        Some(Command::Estimate(args)) => estimate_cmd(args, config_path.as_deref()),
        Some(Command::Reply(args)) => {
            let cfg = Config::load(config_path.as_deref())?;
            reply_cmd(&cfg, args)
        }
        Some(Command::Report(args)) => {
            crate::stats::report::run(&Config::load(config_path.as_deref())?, &args)
        }
        Some(Command::Audit {
            command: AuditCommand::Verify,
        }) => {
            let cfg = Config::load(config_path.as_deref())?;
            audit_verify(&cfg)
        }
        Some(Command::Store { command }) => {
            let cfg = Config::load(config_path.as_deref())?;
            crate::store::cmd::run(&cfg, command)
        }
        Some(Command::Backend {
            command: BackendCommand::Serve(args),
        }) => {
            crate::refbackend::run(args)?;
            Ok(0)
        }
        Some(Command::Demo {
            resume,
            join,
            as_name,
        }) => match (join, as_name) {
            (Some(dir), Some(name)) => crate::demo::join(&dir, &name),
            _ => crate::demo::run(resume),
        },
        Some(Command::Init(args)) => {
            let stdin = std::io::stdin();
            let mut input = stdin.lock();
            let stdout = std::io::stdout();
            crate::setup::init::run(
                config_path.as_deref(),
                &args,
                Some(&mut input),
                &mut stdout.lock(),
            )
        }
        Some(Command::Check { json }) => crate::setup::check::run(config_path.as_deref(), json),
        Some(Command::Completions { shell }) => {
            crate::setup::docs::completions(shell, &mut std::io::stdout().lock())?;
            Ok(0)
        }
        Some(Command::Man) => {
            crate::setup::docs::man(&mut std::io::stdout().lock())?;
            Ok(0)
        }
        #[cfg(debug_assertions)]
        Some(Command::ChaosWorker(args)) => {
            crate::chaos::run(&Config::load(config_path.as_deref())?, &args)
        }
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
    let mut unreadable = 0usize;
    for file in files {
        // File names are hostile too: one sanitized line, on stdout and stderr.
        let name = intake::sanitize::single_line(&file.display().to_string()).text;
        // The same bytes `sync` reads of the same message (inbox::prefix).
        let (raw, truncated) = match crate::inbox::maildir::read_file_prefix(file) {
            Ok(read) => read,
            Err(e) => {
                out.flush().ok();
                eprintln!(
                    "concierge: cannot read {name}: {}",
                    unreadable_why(&e, &name)
                );
                unreadable += 1;
                continue;
            }
        };
        let opts = intake::Options {
            truncated,
            ..opts.clone()
        };
        let mut msg = intake::inspect(&raw, &opts);
        msg.file = Some(name);
        if !emit(&mut out, &msg)? {
            return Ok(0);
        }
    }
    out.flush().ok();
    Ok(if unreadable > 0 { 1 } else { 0 })
}

/// Why a mail file cannot be read, in words (no `(os error 2)`), with the
/// fix where there is one. `name` is already sanitized.
fn unreadable_why(e: &std::io::Error, name: &str) -> String {
    use std::io::ErrorKind;
    match e.kind() {
        ErrorKind::NotFound => "no such file".into(),
        ErrorKind::PermissionDenied => "permission denied".into(),
        ErrorKind::IsADirectory => {
            format!("it is a directory: give the mail files in it (e.g. {name}/*.eml)")
        }
        _ => {
            let text = e.to_string();
            let text = text.split(" (os error").next().unwrap_or(&text);
            intake::sanitize::single_line(text).text
        }
    }
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
    let store_path = cfg.store_location()?;
    let mut store = Store::open_at(&store_path)?;
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
            PollerEvent::Synced(msgs, _) => {
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

fn audit_verify(cfg: &Config) -> Result<i32> {
    let store = match cfg.store_target()? {
        Some(t) => Store::connect_pg(&t)?,
        None => {
            let store_path = cfg.store_path()?;
            if !store_path.is_file() {
                anyhow::bail!("no store at {}", store_path.display());
            }
            Store::open(&store_path)?
        }
    };
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

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn backend_client(cfg: &Config) -> Result<crate::backend::BackendClient> {
    let b = cfg.backend.as_ref().ok_or_else(|| {
        anyhow::anyhow!(
            "config file {}: [backend] section missing (needed to read workspace sizes)",
            cfg.path.display()
        )
    })?;
    let token = crate::secret::from_env(&b.token_env).context("[backend] token_env")?;
    crate::backend::BackendClient::new(&b.url, token, &cfg.operator.name)
        .map_err(|e| anyhow::anyhow!("{e}"))
}

/// The size of the workspace named `name`, from the backend.
fn workspace_size(cfg: &Config, name: &str) -> Result<crate::estimate::Size> {
    let client = backend_client(cfg)?;
    runtime()?.block_on(async {
        let found = client
            .workspaces(Some(name))
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let ws = found
            .first()
            .ok_or_else(|| anyhow::anyhow!("no workspace named {name:?} on the backend"))?;
        let d = client
            .workspace(ws.id)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(crate::estimate::Size::from(d.size))
    })
}

fn estimate_cmd(args: EstimateArgs, config: Option<&Path>) -> Result<i32> {
    let exists = config.is_some() || crate::config::default_path().is_some_and(|p| p.is_file());
    let cfg = if exists || args.workspace.is_some() || args.calibration {
        Some(Config::load(config)?)
    } else {
        None
    };
    let rates = cfg.as_ref().map(|c| c.estimate.clone()).unwrap_or_default();
    if args.calibration {
        let cfg = cfg.as_ref().context("no config")?;
        let store = cfg.open_store()?;
        let history = store.estimate_history()?;
        match crate::estimate::calibrate(&rates, &history) {
            Some(c) => println!("{}", serde_json::to_string(&c)?),
            None => anyhow::bail!("no finished jobs in the store yet: nothing to calibrate from"),
        }
        return Ok(0);
    }
    let at = match &args.at {
        Some(s) => chrono::DateTime::parse_from_rfc3339(s)
            .map_err(|e| anyhow::anyhow!("--at {s:?}: not an RFC 3339 time ({e})"))?
            .with_timezone(&chrono::Utc),
        None => chrono::Utc::now(),
    };
    let size = match (&args.workspace, args.messages) {
        (Some(name), _) => workspace_size(cfg.as_ref().context("no config")?, name)?,
        (None, Some(messages)) => crate::estimate::Size {
            messages,
            customers: args.customers.unwrap_or(0),
            attachment_bytes: args.attachment_bytes.unwrap_or(0),
            large_attachments: args.large_attachments,
        },
        (None, None) => {
            anyhow::bail!("give --messages/--customers/--attachment-bytes or --workspace")
        }
    };
    let e = rates.estimate(&size, at);
    println!("{}", serde_json::to_string(&e)?);
    Ok(0)
}

fn reply_cmd(cfg: &Config, args: ReplyArgs) -> Result<i32> {
    use crate::mail::outgoing::Sender;
    use crate::mail::templates::{Template, Templates};
    let mut store = cfg.open_store()?;
    let from = cfg
        .smtp
        .as_ref()
        .and_then(|s| s.from.clone())
        .ok_or_else(|| {
            anyhow::anyhow!("config file {}: [smtp] from: missing", cfg.path.display())
        })?;
    let smtp = cfg.smtp.as_ref().context("[smtp] section missing")?;
    // The audit and colleagues' screens know this operator by id, show the name.
    let actor = cfg.operator.id();
    store.register_operator(&actor, &cfg.operator.name)?;
    if let Some(reply_id) = args.retry {
        let (_request, reply) = store.reply_retry(reply_id, args.force, &actor)?;
        let sender = Sender::smtp(smtp)?;
        runtime()?.block_on(crate::reply::send(
            &mut store, &sender, cfg, reply_id, &reply,
        ))?;
        println!("reply {reply_id} sent to {}", reply.to);
        return Ok(0);
    }
    let (Some(request_id), Some(template)) = (args.request, args.template) else {
        anyhow::bail!("give a request number and --template");
    };
    let templates = Templates::load(cfg.path.parent().map(|d| d.join("templates")).as_deref())?;
    let target = store.reply_target(request_id)?;
    // Refused before any backend call: no acknowledgement after a decision,
    // the same template twice only with --force.
    let read = store.load_request(request_id)?;
    // A damaged field does not stop a reply (its date is computed from
    // now), but the operator hears of it, as the screen marks the row.
    for d in &read.damage {
        eprintln!("concierge: request {request_id}: {d}; left unknown, the stored text is kept");
    }
    crate::ops::reply::check(&read, template, args.force)?;
    let needs_size = matches!(
        template,
        Template::Acknowledgement | Template::EstimateOver48h
    );
    let size = match (&target.workspace_name, template) {
        (Some(name), _) if needs_size => Some(workspace_size(cfg, name)?),
        // The acknowledgement says in words that the date follows.
        (None, Template::Acknowledgement) => None,
        (None, Template::EstimateOver48h) => anyhow::bail!("request {request_id} names no workspace yet: resolve it before replying with an estimate"),
        _ => None,
    };
    let compose = crate::ops::reply::Compose {
        templates: &templates,
        rates: &cfg.estimate,
        operator: &cfg.operator.name,
        size,
        existing_request: args.existing.clone(),
        now: chrono::Utc::now(),
    };
    let body = crate::ops::reply::compose(&store, request_id, template, &compose)?;
    let reply = crate::reply::build(&from, &target, &body)?;
    if args.dry_run {
        print!("{}", String::from_utf8_lossy(&reply.bytes));
        return Ok(0);
    }
    let sender = Sender::smtp(smtp)?;
    let id = crate::ops::reply::begin(
        &mut store,
        request_id,
        template,
        &reply,
        args.force,
        &actor,
        // The version read before composing: a change while the reply was
        // written (a colleague's reply, the customer's) stops it.
        Some(read.version),
    )?;
    runtime()?.block_on(crate::reply::send(&mut store, &sender, cfg, id, &reply))?;
    println!("reply {id} sent to {}", reply.to);
    Ok(0)
}

/// The screen, configured from the config file.
fn tui_cmd(cfg: Config) -> Result<i32> {
    use std::io::IsTerminal;
    if !std::io::stdout().is_terminal() {
        anyhow::bail!("the screen needs a terminal; for scripts use `concierge sync --once` or `concierge inspect`");
    }
    let backend = match &cfg.backend {
        Some(_) => Some(backend_client(&cfg)?),
        None => None,
    };
    let sender = match &cfg.smtp {
        Some(s) => Some(crate::mail::outgoing::Sender::smtp(s)?),
        None => None,
    };
    let from = cfg
        .smtp
        .as_ref()
        .and_then(|s| s.from.clone())
        .unwrap_or_else(|| "hello@ochrehq.com".into());
    let inbox = match cfg.intake.source {
        SourceKind::Maildir => crate::tui::app::Inbox::Maildir(crate::config::expand_home(
            cfg.intake
                .maildir
                .as_ref()
                .context("[intake] maildir is not set")?,
        )),
        SourceKind::Imap => {
            let imap = cfg.imap()?.clone();
            let password = imap.password().context("[imap] password")?;
            crate::tui::app::Inbox::Imap {
                cfg: imap,
                password,
            }
        }
    };
    let setup = crate::tui::app::Setup {
        store_path: cfg.store_location()?,
        operator: cfg.operator.name.clone(),
        operator_email: cfg.operator.email.clone(),
        rates: cfg.estimate.clone(),
        keys: crate::tui::keys::KeyMap::with_overrides(&cfg.keys)?,
        templates: crate::mail::templates::Templates::load(
            cfg.path.parent().map(|d| d.join("templates")).as_deref(),
        )?,
        backend,
        sender,
        from,
        inbox,
        authserv_id: cfg.intake.authserv_id.clone(),
        outboxes: Vec::new(),
        config: Some(cfg.clone()),
        job_poll: std::time::Duration::from_secs(2),
        backend_gone: None,
        follow_demo: None,
    };
    crate::tui::app::run(setup, crate::tui::app::default_log_path())?;
    Ok(0)
}

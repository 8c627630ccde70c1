//! `ochre-refbackend`: the reference export backend behind `concierge
//! backend serve` (and the demo's embedded backend). A real implementation
//! of API v1 (`assets/openapi.yaml`), not a mock: it builds the documented
//! ZIP and emails the signed link. Its wire types are `ochre-api`'s, the
//! same ones the client in `concierge::backend` reads; Concierge re-exports
//! this crate as `concierge::refbackend`.
//!
//! - [`seed`]: the demo workspaces, generated deterministically on the fly.
//! - [`export`]: the export artifact, written streaming with flat memory;
//!   [`zipstream`]: the ZIP writer under it.
//! - [`links`]: HMAC-signed download links and the key file.
//! - [`store`]: jobs and idempotency keys in SQLite under `--data`.
//! - [`worker`]: background jobs with bounded concurrency; the link email.
//! - [`mail`]: the email itself, over SMTP or into a Maildir outbox.
//! - [`server`]: the axum routes, bearer authentication, error bodies.
//! - [`listen`]: the accept loop: connection cap, header and idle timeouts.
//! - [`private`]: 0600 files, 0700 directories, the `--data` lock.
//!
//! [`run`] is the command line entry; [`start`] runs the same server inside
//! an existing tokio runtime (for `concierge demo` and tests).

pub mod export;
pub mod links;
pub mod listen;
pub mod mail;
pub mod private;
pub mod seed;
pub mod server;
pub mod store;
pub mod worker;
pub mod zipstream;

use anyhow::{anyhow, Context, Result};
use ochre_api::secret::Secret;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The environment variable holding the API token.
pub const TOKEN_ENV: &str = "CONCIERGE_BACKEND_TOKEN";

/// Arguments of `concierge backend serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0: any free port; the chosen one is printed).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8700")]
    pub listen: String,
    /// Which demo data to serve (`demo` is the documented one).
    #[arg(long, value_name = "SEED", default_value = "demo")]
    pub seed: String,
    /// Directory for jobs.db, link.key and the built exports (default: a new
    /// temporary directory, printed on start).
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Send link emails over SMTP: smtp://127.0.0.1:2525 (plaintext, loopback
    /// only), smtps://[user@]host[:465] or smtp+starttls://[user@]host[:587];
    /// password from CONCIERGE_BACKEND_SMTP_PASSWORD.
    #[arg(long, value_name = "URL", conflicts_with = "outbox")]
    pub smtp: Option<String>,
    /// Write link emails into this Maildir instead (default: DATA/outbox).
    #[arg(long, value_name = "DIR")]
    pub outbox: Option<PathBuf>,
    /// How long download links stay valid: 7d, 12h, 10m, 90s.
    #[arg(long, value_name = "DURATION", default_value = "7d", value_parser = parse_duration)]
    pub link_ttl: Duration,
    /// The base URL put into links (default: http://ADDR as bound).
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
    /// The From of link emails.
    #[arg(
        long,
        value_name = "MAILBOX",
        default_value = "Ochre Exports <exports@ochrehq.com>"
    )]
    pub from: String,
    /// How many exports are built at the same time.
    #[arg(long, value_name = "N", default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub workers: u16,
    /// Connections served at once; more wait until one closes.
    #[arg(long, value_name = "N", default_value_t = 512, value_parser = clap::value_parser!(u32).range(1..=65_536))]
    pub max_connections: u32,
    /// How long a connection may take to send a request head, or stay idle
    /// between requests, before it is closed: 10s, 2m.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub header_timeout: Duration,
    /// Shut down when standard input reaches end of file: a parent that
    /// holds the other end of a pipe (`concierge demo`) takes the backend
    /// with it when it dies, even by kill -9.
    #[arg(long, hide = true)]
    pub exit_with_stdin: bool,
    /// Attempts to deliver a link email before the job fails (for tests).
    #[arg(long, hide = true, default_value_t = worker::EMAIL_MAX_ATTEMPTS, value_parser = clap::value_parser!(i64).range(1..=1000))]
    pub email_attempts: i64,
}

/// Parses `7d`, `12h`, `10m`, `90s` (or bare seconds).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 7d, 12h, 10m or 90s"))?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("{s:?}: the unit must be one of s, m, h, d")),
    };
    if n == 0 {
        return Err("a duration must be more than 0".into());
    }
    n.checked_mul(mult)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("{s:?} is too long"))
}

/// Everything the server needs, resolved.
pub struct ServerConfig {
    pub listen: String,
    pub seed: String,
    pub data_dir: PathBuf,
    pub smtp: Option<String>,
    /// Maildir outbox (used when `smtp` is None; default DATA/outbox).
    pub outbox: Option<PathBuf>,
    pub link_ttl: Duration,
    pub public_url: Option<String>,
    pub from: String,
    pub workers: usize,
    pub token: Secret,
    pub limits: listen::Limits,
    pub email_attempts: i64,
}

/// A server running in the background.
pub struct RunningServer {
    pub addr: SocketAddr,
    pub public_url: String,
    /// Where link emails go (for the start-up message).
    pub delivery: String,
    shutdown: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    backend: Arc<worker::Backend>,
    _lock: private::DataLock,
}

impl RunningServer {
    /// Stops accepting requests and waits for the open ones. Exports being
    /// written stop too and are rebuilt from scratch on the next start.
    pub async fn shutdown(self) -> Result<()> {
        self.backend.stop();
        let _ = self.shutdown.send(());
        self.task.await.context("the server task failed")??;
        Ok(())
    }
}

/// Binds, recovers interrupted jobs, and serves in the background.
pub async fn start(cfg: ServerConfig) -> Result<RunningServer> {
    private::create_dir(&cfg.data_dir).with_context(|| {
        format!(
            "could not create the data directory {}",
            cfg.data_dir.display()
        )
    })?;
    let lock = private::lock_data_dir(&cfg.data_dir)?;
    let key = links::LinkKey::load_or_create(&cfg.data_dir.join("link.key"))?;
    let db = cfg.data_dir.join("jobs.db");
    private::touch(&db).with_context(|| format!("could not create {}", db.display()))?;
    let store = store::JobStore::open(&db)?;
    let exports_dir = cfg.data_dir.join("exports");
    private::create_dir(&exports_dir)
        .with_context(|| format!("could not create {}", exports_dir.display()))?;
    let mailer = match &cfg.smtp {
        Some(url) => mail::Mailer::smtp(url)?,
        None => mail::Mailer::outbox(
            &cfg.outbox
                .clone()
                .unwrap_or_else(|| cfg.data_dir.join("outbox")),
        )?,
    };
    let from: lettre::message::Mailbox = cfg
        .from
        .parse()
        .map_err(|e| anyhow!("--from {:?} is not a mailbox: {e}", cfg.from))?;
    let listener = tokio::net::TcpListener::bind(&cfg.listen)
        .await
        .with_context(|| format!("could not listen on {}", cfg.listen))?;
    let addr = listener.local_addr()?;
    let public_url = cfg
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"))
        .trim_end_matches('/')
        .to_string();
    let delivery = mailer.describe();
    let backend = Arc::new(worker::Backend::new(worker::BackendParts {
        demo: seed::Demo::new(&cfg.seed),
        store,
        key,
        token: cfg.token,
        public_url: public_url.clone(),
        link_ttl: cfg.link_ttl,
        exports_dir,
        mailer,
        from,
        workers: cfg.workers.max(1),
        email_attempts: cfg.email_attempts,
    }));
    worker::Backend::recover(&backend)?;
    let app = server::router(backend.clone());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let limits = cfg.limits;
    let task = tokio::spawn(listen::serve(listener, app, limits, async {
        let _ = rx.await;
    }));
    Ok(RunningServer {
        addr,
        public_url,
        delivery,
        shutdown: tx,
        task,
        backend,
        _lock: lock,
    })
}

/// Runs the reference backend until interrupted (Ctrl-C or SIGTERM).
pub fn run(args: ServeArgs) -> Result<()> {
    let token = ochre_api::secret::from_env(TOKEN_ENV).map_err(|e| {
        anyhow!(
            "the backend needs an API token: {e} (set {TOKEN_ENV} to the token clients will send)"
        )
    })?;
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CONCIERGE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .try_init();
    let (data_dir, temporary) = match &args.data {
        Some(d) => (d.clone(), false),
        None => (
            std::env::temp_dir().join(format!("concierge-backend-{}", uuid::Uuid::new_v4())),
            true,
        ),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    let result = rt.block_on(async move {
        let server = start(ServerConfig {
            listen: args.listen,
            seed: args.seed,
            data_dir: data_dir.clone(),
            smtp: args.smtp,
            outbox: args.outbox,
            link_ttl: args.link_ttl,
            public_url: args.public_url,
            from: args.from,
            workers: args.workers as usize,
            token,
            limits: listen::Limits {
                max_connections: args.max_connections as usize,
                header_timeout: args.header_timeout,
            },
            email_attempts: args.email_attempts,
        })
        .await?;
        eprintln!(
            "data in {}{}; link emails to {}",
            data_dir.display(),
            if temporary {
                " (temporary: pass --data DIR to keep jobs across restarts)"
            } else {
                ""
            },
            server.delivery
        );
        {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            writeln!(out, "listening on http://{}", server.addr)?;
            out.flush()?;
        }
        if args.exit_with_stdin {
            tokio::select! {
                _ = shutdown_signal() => {}
                _ = stdin_closed() => tracing::info!("standard input closed: the parent is gone"),
            }
        } else {
            shutdown_signal().await;
        }
        tracing::info!("shutting down");
        server.shutdown().await
    });
    // NOTE: an export still being written is abandoned here, not awaited: it
    // stays `running` in the store and is rebuilt from scratch on the next
    // start, exactly as after a crash.
    rt.shutdown_timeout(std::time::Duration::from_secs(2));
    result
}

/// Resolves when standard input reaches end of file (or fails).
async fn stdin_closed() {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    // NOTE: a plain thread, not spawn_blocking: a read on stdin cannot be
    // cancelled, and the runtime's shutdown must not wait for it.
    std::thread::spawn(move || {
        use std::io::Read;
        let mut buf = [0u8; 256];
        let mut stdin = std::io::stdin();
        loop {
            match stdin.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        let _ = tx.send(());
    });
    let _ = rx.await;
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(
            parse_duration("7d").unwrap(),
            Duration::from_secs(7 * 86_400)
        );
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_duration("2").unwrap(), Duration::from_secs(2));
        assert!(parse_duration("7w").is_err());
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("").is_err());
    }
}

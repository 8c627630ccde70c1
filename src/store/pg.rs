//! The PostgreSQL engine: a sync `postgres` client that lives on its own
//! thread.
//!
//! The sync client drives a private tokio runtime with `block_on`, which
//! panics ("Cannot start a runtime from within a runtime") when called from
//! a thread of another runtime — the screen calls the store from async code
//! and from `spawn_blocking`. So the client never runs on the caller's
//! thread: each call is sent as a closure to the connection's own thread
//! and the caller waits for the answer on a channel. That makes every store
//! call safe from any thread, async or not, and costs two channel hops
//! (microseconds) next to a network round trip. A query's rows come back
//! in chunks as they arrive and are decoded in place on the caller's
//! thread ([`PgConn::each`]).
//!
//! A session the server ends (a restart, `pg_terminate_backend`, a network
//! cut) is survived: the next call outside a transaction connects again
//! (with [`crate::net::Backoff`] between failed attempts), and a call that
//! finds the session dead before it began anything — the BEGIN of a
//! transaction, a read — runs once more on the new session. What is never
//! done is to carry on a transaction on another session: once the session
//! is lost inside one, its remaining statements and its COMMIT fail, and
//! the action is reported as failed (its collision version keeps a redo
//! safe). A COMMIT whose answer was lost is reported as such: it may have
//! been stored.
//!
//! TLS is rustls: `sslmode=verify-full` (and `verify-ca`, treated as the
//! stricter verify-full) require TLS with the certificate checked against
//! the web PKI roots plus `ca_file`; `require` is TLS with the same checks
//! (rustls never skips them); `disable`/`prefer`/none connect in plaintext,
//! allowed only to a loopback host. The password never appears in an error
//! (the URL is not echoed; the client's errors do not carry it).

use super::db::{pg_sql, Value, ValueRef};
use anyhow::{anyhow, bail, Context, Result};
use bytes::BytesMut;
use postgres::fallible_iterator::FallibleIterator;
use postgres::types::{FromSql, IsNull, ToSql, Type};
use std::collections::HashMap;
use std::sync::mpsc;
use std::time::{Duration, Instant};

type BoxError = Box<dyn std::error::Error + Sync + Send>;
type Job = Box<dyn FnOnce(&mut State) + Send>;

/// The wait between attempts to reach a team store that is down: from
/// 0.2 s, doubling, at most 10 s (a restarting server is back within
/// seconds; a long outage costs one connection attempt per 5–10 s).
pub const RECONNECT: crate::net::Backoff =
    crate::net::Backoff::new(Duration::from_millis(200), Duration::from_secs(10));

/// Said when a transaction's session is gone: nothing of it was stored.
const LOST_IN_TX: &str = "the connection to the team store was lost during this action: nothing of it was stored; do it again";

struct State {
    target: PgTarget,
    /// None while the session is lost (reconnected on the next call
    /// outside a transaction).
    client: Option<postgres::Client>,
    /// Prepared statements by their (rewritten) SQL, of this session.
    statements: HashMap<String, postgres::Statement>,
    /// A BEGIN went through and no COMMIT/ROLLBACK yet.
    in_tx: bool,
    /// Failed connection attempts in a row, and when the next may run.
    failures: u32,
    next_try: Option<Instant>,
}

impl State {
    /// The session to run a statement on. Outside a transaction a lost
    /// session is replaced first; inside one it is an error.
    fn client(&mut self) -> Result<&mut postgres::Client> {
        if !self.in_tx {
            if let Some(c) = self.client.as_mut() {
                // A session the server ended has left its FATAL in our
                // socket: reading it (a non-blocking poll, no round trip)
                // closes the client, and the call below reconnects first.
                let _ = c.notifications().iter().next();
                if c.is_closed() {
                    self.client = None;
                }
            }
            if self.client.is_none() {
                self.reconnect()?;
            }
        }
        self.client.as_mut().ok_or_else(|| anyhow!(LOST_IN_TX))
    }

    fn reconnect(&mut self) -> Result<()> {
        let now = Instant::now();
        if let Some(at) = self.next_try.filter(|at| *at > now) {
            bail!(
                "the team store is unreachable; trying again in {:.1} s",
                (at - now).as_secs_f64()
            );
        }
        match connect(&self.target) {
            Ok(c) => {
                self.client = Some(c);
                self.statements.clear();
                self.failures = 0;
                self.next_try = None;
                Ok(())
            }
            Err(e) => {
                self.failures += 1;
                self.next_try = Some(now + RECONNECT.delay(self.failures));
                Err(e.context("the team store is unreachable"))
            }
        }
    }

    /// The error of a failed call; forgets the session when it died.
    fn failed(&mut self, e: postgres::Error) -> anyhow::Error {
        // A FATAL error (e.g. 57P01, the session was terminated) ends the
        // session even when the socket is not seen closed yet.
        let fatal = e.as_db_error().is_some_and(|d| d.severity() == "FATAL");
        let lost = fatal || e.is_closed() || self.client.as_ref().is_none_or(|c| c.is_closed());
        if !lost {
            return pg_err(e);
        }
        self.client = None;
        let err = pg_err(e);
        if self.in_tx {
            err.context(LOST_IN_TX)
        } else {
            err.context("the connection to the team store was lost")
        }
    }

    /// The statement prepared on the current session (call [`State::client`]
    /// first: a reconnect forgets the old session's statements).
    fn statement(&mut self, sql: &str) -> Result<postgres::Statement> {
        if let Some(st) = self.statements.get(sql) {
            return Ok(st.clone());
        }
        let c = self.client.as_mut().ok_or_else(|| anyhow!(LOST_IN_TX))?;
        let prepared = c.prepare(sql);
        let st = prepared.map_err(|e| self.failed(e))?;
        self.statements.insert(sql.to_string(), st.clone());
        Ok(st)
    }

    /// Runs `f` on the session; a read (`again`) that found the session
    /// dead outside a transaction runs once more on a new one.
    fn with<T>(
        &mut self,
        sql: &str,
        again: bool,
        mut f: impl FnMut(&mut postgres::Client, &postgres::Statement) -> Result<T, postgres::Error>,
    ) -> Result<T> {
        let mut tries = if again && !self.in_tx { 2 } else { 1 };
        loop {
            tries -= 1;
            self.client()?;
            let st = self.statement(sql)?;
            let c = self.client.as_mut().ok_or_else(|| anyhow!(LOST_IN_TX))?;
            let out = f(c, &st);
            match out {
                Ok(v) => return Ok(v),
                Err(e) => {
                    let e = self.failed(e);
                    if tries == 0 || self.client.is_some() {
                        return Err(e);
                    }
                }
            }
        }
    }

    fn begin(&mut self, sql: &str) -> Result<()> {
        if self.in_tx {
            bail!("a transaction is already open on this connection");
        }
        // The BEGIN is run once more when it found the session dead:
        // nothing had begun, so nothing is done twice.
        for last in [false, true] {
            let r = self.client()?.batch_execute(sql);
            match r {
                Ok(()) => {
                    self.in_tx = true;
                    return Ok(());
                }
                Err(e) => {
                    let e = self.failed(e);
                    if last || self.client.is_some() {
                        return Err(e);
                    }
                }
            }
        }
        unreachable!("the loop returns")
    }

    fn end(&mut self, sql: &str) -> Result<()> {
        if !self.in_tx {
            return Ok(());
        }
        let Some(c) = self.client.as_mut() else {
            self.in_tx = false;
            // The server rolled it back when the session died.
            return if sql == "COMMIT" {
                Err(anyhow!(LOST_IN_TX))
            } else {
                Ok(())
            };
        };
        let r = c.batch_execute(sql);
        self.in_tx = false;
        let Err(e) = r else { return Ok(()) };
        let lost = e.is_closed() || c.is_closed();
        let e = self.failed(e);
        if lost && sql == "COMMIT" {
            return Err(e.context("the connection to the team store was lost at COMMIT: the action may or may not be stored; look again before doing it again"));
        }
        Err(e)
    }
}

/// How to reach the server: everything but the password comes from the URL.
#[derive(Clone)]
pub struct PgTarget {
    pub url: String,
    pub password: Option<crate::secret::Secret>,
    pub ca_file: Option<std::path::PathBuf>,
}

/// A connection whose client runs on its own thread (see the module doc).
#[derive(Debug)]
pub struct PgConn {
    jobs: mpsc::Sender<Job>,
}

/// The server's message, with its SQLSTATE; never the connection string.
pub(crate) fn pg_err(e: postgres::Error) -> anyhow::Error {
    match e.as_db_error() {
        Some(db) => anyhow!(
            "PostgreSQL: {} (SQLSTATE {})",
            db.message(),
            db.code().code()
        ),
        None => {
            // The cause (e.g. the TLS verifier's "unknown issuer") is in
            // the source chain; none of it carries the password.
            let mut msg = format!("PostgreSQL: {e}");
            let mut src = std::error::Error::source(&e);
            while let Some(c) = src {
                msg.push_str(&format!(": {c}"));
                src = c.source();
            }
            anyhow!(msg)
        }
    }
}

/// True when the URL carries a password (`user:password@host`): secrets
/// come from the environment or a command, never from a file or argv.
pub fn url_has_password(url: &str) -> bool {
    let authority = url
        .split("://")
        .nth(1)
        .unwrap_or("")
        .split(['/', '?'])
        .next()
        .unwrap_or("");
    authority
        .rsplit_once('@')
        .is_some_and(|(user, _)| user.contains(':'))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SslMode {
    Plain,
    Verify,
}

/// Splits `sslmode` off the URL (the client knows only disable/prefer/
/// require) and parses the rest.
fn parse_url(url: &str) -> Result<(postgres::Config, SslMode)> {
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        bail!("[store] url must start with postgres:// (the URL is not shown: it may hold a password)");
    }
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut mode = None;
    let mut rest = Vec::new();
    for kv in query.split('&').filter(|s| !s.is_empty()) {
        match kv.split_once('=') {
            Some(("sslmode", v)) => mode = Some(v.to_string()),
            _ => rest.push(kv),
        }
    }
    let url = if rest.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", rest.join("&"))
    };
    let cfg: postgres::Config = url
        .parse()
        .map_err(|e| anyhow!("[store] url is not a valid PostgreSQL URL: {e}"))?;
    let mode = match mode.as_deref() {
        None | Some("disable") | Some("allow") | Some("prefer") => SslMode::Plain,
        Some("require") | Some("verify-ca") | Some("verify-full") => SslMode::Verify,
        Some(other) => bail!(
            "[store] url: unknown sslmode {other:?} (expected disable, require or verify-full)"
        ),
    };
    Ok((cfg, mode))
}

fn tls_config(ca_file: Option<&std::path::Path>) -> Result<rustls::ClientConfig> {
    use rustls::pki_types::{pem::PemObject, CertificateDer};
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(ca) = ca_file {
        let path = crate::config::expand_home(ca);
        let pem = std::fs::read(&path)
            .with_context(|| format!("cannot read [store] ca_file {}", path.display()))?;
        for cert in CertificateDer::pem_slice_iter(&pem) {
            let cert = cert.map_err(|e| anyhow!("[store] ca_file {}: {e}", path.display()))?;
            roots
                .add(cert)
                .map_err(|e| anyhow!("[store] ca_file {}: {e}", path.display()))?;
        }
    }
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS setup for the store")?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// A client of its own, on the caller's thread (the change feed's LISTEN,
/// which waits on it): never call it from a tokio runtime's thread.
pub(crate) fn client(target: &PgTarget) -> Result<postgres::Client> {
    connect(target)
}

fn connect(target: &PgTarget) -> Result<postgres::Client> {
    let (mut cfg, mode) = parse_url(&target.url)?;
    if let Some(pw) = &target.password {
        cfg.password(pw.expose());
    }
    // A cut network must end in an error, not a call that waits forever:
    // connect within 10 s, and (Linux) drop a session whose data stays
    // unacknowledged for 30 s; keepalives notice an idle one.
    if cfg.get_connect_timeout().is_none() {
        cfg.connect_timeout(Duration::from_secs(10));
    }
    cfg.keepalives_idle(Duration::from_secs(30));
    #[cfg(target_os = "linux")]
    if cfg.get_tcp_user_timeout().is_none() {
        cfg.tcp_user_timeout(Duration::from_secs(30));
    }
    if cfg.get_application_name().is_none() {
        cfg.application_name("concierge");
    }
    match mode {
        SslMode::Plain => {
            let loopback = cfg.get_hosts().iter().all(|h| match h {
                postgres::config::Host::Tcp(h) => crate::config::is_loopback(h),
                #[cfg(unix)]
                postgres::config::Host::Unix(_) => true,
            });
            if !loopback {
                bail!("[store] url: a store on another host needs sslmode=verify-full (plaintext is allowed only to a loopback address)");
            }
            cfg.connect(postgres::NoTls).map_err(pg_err)
        }
        SslMode::Verify => {
            cfg.ssl_mode(postgres::config::SslMode::Require);
            let tls = tokio_postgres_rustls::MakeRustlsConnect::new(tls_config(
                target.ca_file.as_deref(),
            )?);
            cfg.connect(tls).map_err(pg_err)
        }
    }
}

impl PgConn {
    /// Connects on a new thread; the error (if any) comes back here.
    pub fn connect(target: &PgTarget) -> Result<PgConn> {
        let (jobs, rx) = mpsc::channel::<Job>();
        let (ready_tx, ready_rx) = mpsc::sync_channel::<Result<()>>(1);
        let target = target.clone();
        std::thread::Builder::new()
            .name("concierge-pg".into())
            .spawn(move || {
                let client = match connect(&target) {
                    Ok(c) => c,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(()));
                let mut state = State {
                    target,
                    client: Some(client),
                    statements: HashMap::new(),
                    in_tx: false,
                    failures: 0,
                    next_try: None,
                };
                // Ends when the PgConn (the only sender) is dropped.
                for job in rx {
                    job(&mut state);
                }
            })
            .context("cannot start the store's connection thread")?;
        ready_rx
            .recv()
            .map_err(|_| anyhow!("the store's connection thread stopped"))??;
        Ok(PgConn { jobs })
    }

    fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut State) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.jobs
            .send(Box::new(move |st| {
                let _ = tx.send(f(st));
            }))
            .map_err(|_| anyhow!("the store's connection is closed"))?;
        rx.recv()
            .map_err(|_| anyhow!("the store's connection thread stopped"))?
    }

    pub fn execute(&self, sql: &str, params: &[Value]) -> Result<usize> {
        let sql = pg_sql(sql)?;
        let params = params.to_vec();
        self.run(move |st| {
            let refs: Vec<&(dyn ToSql + Sync)> =
                params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
            // A write outside a transaction is not run again: it may have
            // been done before the session died.
            st.with(&sql, false, |c, stmt| c.execute(stmt, &refs))
                .map(|n| n as usize)
        })
    }

    pub fn batch(&self, sql: &str) -> Result<()> {
        let sql = sql.to_string();
        self.run(move |st| {
            let r = st.client()?.batch_execute(&sql);
            r.map_err(|e| st.failed(e))
        })
    }

    /// Begins a transaction with `sql` (BEGIN and the writer lock).
    pub fn begin(&self, sql: &str) -> Result<()> {
        let sql = sql.to_string();
        self.run(move |st| st.begin(&sql))
    }

    pub fn commit(&self) -> Result<()> {
        self.run(|st| st.end("COMMIT"))
    }

    pub fn rollback(&self) -> Result<()> {
        self.run(|st| st.end("ROLLBACK"))
    }

    /// Runs a query and hands each row (at most `limit`) to `f` on the
    /// caller's thread, undecoded: `f` reads the columns in place
    /// ([`super::db::Row`]), as it does from SQLite's buffer.
    ///
    /// NOTE: rows cross from the connection's thread in chunks of [`CHUNK`]
    /// as they arrive, so the caller decodes one chunk while the server
    /// sends the next. Before this (README "The team store"), the whole
    /// result was received, then every column copied into an owned
    /// [`Value`] on this thread and the strings freed on the caller's: of a
    /// 10,000-request load's 61 ms of client CPU, about 17 ms were that
    /// copy and most of the rest malloc/free across the two threads.
    pub fn each(
        &self,
        sql: &str,
        params: &[Value],
        limit: Option<usize>,
        mut f: impl FnMut(&postgres::Row) -> Result<()>,
    ) -> Result<()> {
        let sql = pg_sql(sql)?;
        let params = params.to_vec();
        // A read outside a transaction may run again on a new session.
        let read = is_read(&sql);
        let take = limit.unwrap_or(usize::MAX);
        // NOTE: unbounded, as the whole result was before: the job never
        // waits for the caller, so `f` may itself call the store (its job
        // queues behind this one, which finishes) without a deadlock.
        let (tx, rx) = mpsc::channel::<Result<Vec<postgres::Row>>>();
        self.jobs
            .send(Box::new(move |st| {
                st.stream(&sql, &params, read, take, &tx)
            }))
            .map_err(|_| anyhow!("the store's connection is closed"))?;
        // Ends when the job drops its sender (all rows sent, or an error
        // sent). Returning early (an error from `f`) drops `rx`: the job
        // stops at its next send and the connection discards the rest.
        for chunk in rx {
            for row in &chunk? {
                f(row)?;
            }
        }
        Ok(())
    }
}

/// Rows cross to the caller's thread in chunks of this many (see
/// [`PgConn::each`]): a 10,000-row load is 40 channel hops.
const CHUNK: usize = 256;

impl State {
    /// The connection thread's half of [`PgConn::each`]: sends the rows in
    /// chunks, or the error; stops when the caller has gone.
    fn stream(
        &mut self,
        sql: &str,
        params: &[Value],
        read: bool,
        take: usize,
        tx: &mpsc::Sender<Result<Vec<postgres::Row>>>,
    ) {
        let refs: Vec<&(dyn ToSql + Sync)> =
            params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        let mut tries = if read && !self.in_tx { 2 } else { 1 };
        let failure = loop {
            tries -= 1;
            if let Err(e) = self.client() {
                break e;
            }
            let st = match self.statement(sql) {
                Ok(st) => st,
                // Preparing found the session dead: nothing ran yet.
                Err(e) if tries == 0 || self.client.is_some() => break e,
                Err(_) => continue,
            };
            let Some(c) = self.client.as_mut() else {
                break anyhow!(LOST_IN_TX);
            };
            match send_rows(c, &st, &refs, take, tx) {
                Ok(()) => return,
                // Run again only when the caller got no row yet: else the
                // rows it got would come twice.
                Err((e, started)) => {
                    let e = self.failed(e);
                    if started || tries == 0 || self.client.is_some() {
                        break e;
                    }
                }
            }
        };
        let _ = tx.send(Err(failure));
    }
}

/// Runs the query and sends its rows (at most `take`) in chunks; `Ok` also
/// when the caller stopped reading. The error says whether the query had
/// sent the caller any row (then it must not run again).
fn send_rows(
    c: &mut postgres::Client,
    st: &postgres::Statement,
    refs: &[&(dyn ToSql + Sync)],
    take: usize,
    tx: &mpsc::Sender<Result<Vec<postgres::Row>>>,
) -> std::result::Result<(), (postgres::Error, bool)> {
    let mut rows = c
        .query_raw(st, refs.iter().copied())
        .map_err(|e| (e, false))?;
    let (mut chunk, mut sent) = (Vec::with_capacity(CHUNK.min(take)), 0);
    while sent + chunk.len() < take {
        // Rows received but not yet sent are dropped with an error: the
        // caller has seen nothing of this run, so it may run again.
        let Some(row) = rows.next().map_err(|e| (e, sent > 0))? else {
            break;
        };
        chunk.push(row);
        if chunk.len() == CHUNK {
            sent += CHUNK;
            let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK));
            if tx.send(Ok(full)).is_err() {
                return Ok(()); // the caller stopped reading
            }
        }
    }
    if !chunk.is_empty() {
        let _ = tx.send(Ok(chunk));
    }
    Ok(())
}

impl ToSql for Value {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> std::result::Result<IsNull, BoxError> {
        match (self, ty) {
            (Value::Null, _) => Ok(IsNull::Yes),
            (Value::Int(i), &Type::INT8) => i.to_sql(ty, out),
            (Value::Int(i), &Type::INT4) => i32::try_from(*i)?.to_sql(ty, out),
            (Value::Int(i), &Type::INT2) => i16::try_from(*i)?.to_sql(ty, out),
            (Value::Int(i), &Type::FLOAT8) => (*i as f64).to_sql(ty, out),
            (Value::Int(i), &Type::BOOL) => (*i != 0).to_sql(ty, out),
            (Value::Int(i), _) if is_text(ty) => i.to_string().to_sql(ty, out),
            (Value::Real(f), &Type::FLOAT8) => f.to_sql(ty, out),
            (Value::Real(f), &Type::FLOAT4) => (*f as f32).to_sql(ty, out),
            (Value::Text(s), &Type::BYTEA) => s.as_bytes().to_sql(ty, out),
            (Value::Text(s), _) if is_text(ty) => s.as_str().to_sql(ty, out),
            (Value::Blob(b), &Type::BYTEA) => b.as_slice().to_sql(ty, out),
            (v, ty) => Err(format!("cannot bind {v:?} to a {ty} parameter").into()),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

/// A plain SELECT (no write, no lock, no NOTIFY): safe to run twice.
fn is_read(sql: &str) -> bool {
    let s = sql.trim_start().to_ascii_lowercase();
    s.starts_with("select ")
        && !s.contains("pg_notify")
        && !s.contains("pg_advisory")
        && !s.contains("setval")
        && !s.contains(" for update")
}

fn is_text(ty: &Type) -> bool {
    matches!(
        *ty,
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN
    )
}

/// A column read in place from the row's buffer, as a [`ValueRef`]: text
/// and BYTEA borrow it. NUMERIC (e.g. `SUM` of BIGINT) is not read: cast it
/// in SQL (`CAST(SUM(x) AS BIGINT)`).
pub(crate) struct PgRef<'a>(pub(crate) ValueRef<'a>);

impl<'a> FromSql<'a> for PgRef<'a> {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> std::result::Result<Self, BoxError> {
        Ok(PgRef(match *ty {
            Type::INT8 => ValueRef::Int(i64::from_sql(ty, raw)?),
            Type::INT4 => ValueRef::Int(i32::from_sql(ty, raw)?.into()),
            Type::INT2 => ValueRef::Int(i16::from_sql(ty, raw)?.into()),
            Type::BOOL => ValueRef::Int(bool::from_sql(ty, raw)?.into()),
            Type::FLOAT8 => ValueRef::Real(f64::from_sql(ty, raw)?),
            Type::FLOAT4 => ValueRef::Real(f32::from_sql(ty, raw)?.into()),
            Type::BYTEA => ValueRef::Blob(<&[u8]>::from_sql(ty, raw)?),
            // `<&str>::from_sql` compares the type's name with three
            // extension types first (a tenth of a load's decoding): for
            // the built-in text types it is this check alone.
            ref t if is_text(t) => ValueRef::Text(std::str::from_utf8(raw)?),
            ref t => return Err(format!("a {t} column cannot be read (cast it)").into()),
        }))
    }

    fn from_sql_null(_: &Type) -> std::result::Result<Self, BoxError> {
        Ok(PgRef(ValueRef::Null))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sslmode_is_ours_and_plaintext_stays_on_loopback() {
        let (_, m) =
            parse_url("postgres://u@db.example/c?sslmode=verify-full&connect_timeout=5").unwrap();
        assert_eq!(m, SslMode::Verify);
        let (c, m) = parse_url("postgres://u@127.0.0.1:5433/c").unwrap();
        assert_eq!(m, SslMode::Plain);
        assert_eq!(c.get_ports(), &[5433]);
        assert!(parse_url("postgres://u@h/c?sslmode=bogus").is_err());
        let e = parse_url("mysql://u:hunter2@h/c").unwrap_err().to_string();
        assert!(!e.contains("hunter2"), "{e}");
        let e = PgConn::connect(&PgTarget {
            url: "postgres://u:hunter2@db.example/c".into(),
            password: None,
            ca_file: None,
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains("verify-full") && !e.contains("hunter2"), "{e}");
    }
}

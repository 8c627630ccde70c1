//! Probes: each service tried the way the app will use it, one [`Line`] per
//! step, stopping at the first step that fails (the later ones could only
//! repeat its cause).
//!
//! NOTE: no probe ever prints a secret. A secret line names where the secret
//! comes from (the variable, or the command's program) and nothing else;
//! errors come from [`crate::secret`], whose messages never hold a value.
//! No probe changes anything: IMAP opens the mailbox with EXAMINE
//! (read-only, RFC 3501 §6.3.2), SMTP stops after AUTH and NOOP (no MAIL
//! FROM, so nothing is sent), the backend gets a `GET`, the store is opened
//! read-only.

use super::Line;
use crate::backend::{ApiError, BackendClient, RetryPolicy};
use crate::config::{Backend, Connection, Security};
use crate::inbox::imap::ImapError;
use crate::secret::Secret;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, Tokio1Executor};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::time::Duration;

/// Long enough for a far server, short enough that a first-day typo
/// (a firewalled port) does not look like a hang: 10 s.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where a connection's password comes from, in words (never the value).
fn secret_source(c: &Connection) -> String {
    if c.auth == crate::config::AuthKind::Oauth2 {
        let prog = c
            .token_command
            .as_deref()
            .and_then(|cmd| shell_words::split(cmd).ok())
            .and_then(|v| v.into_iter().next())
            .unwrap_or_default();
        return format!("the token command `{prog}`");
    }
    match (&c.password_env, &c.password_command) {
        (Some(var), _) => format!("${var}"),
        (None, Some(cmd)) => {
            // The program only: arguments may name a vault path someone
            // would rather not see on a shared screen.
            let prog = shell_words::split(cmd)
                .ok()
                .and_then(|v| v.into_iter().next())
                .unwrap_or_default();
            format!("the command `{prog}`")
        }
        (None, None) => "nowhere".into(),
    }
}

/// Obtains `[section]`'s password: a line and, when it worked, the secret.
pub fn password(check: &'static str, section: &str, c: &Connection) -> (Line, Option<Secret>) {
    let from = secret_source(c);
    match c.password() {
        Ok(s) => (
            Line::ok(check, format!("obtained from {from} (not shown)")),
            Some(s),
        ),
        Err(e) => {
            let fix = if c.password_env.is_some() {
                format!("export it in the shell that runs concierge, or set [{section}] password_command instead")
            } else {
                "run the command by hand to see why; it must print the password on its first line"
                    .to_string()
            };
            (Line::fail(check, format!("{e:#}: {fix}")), None)
        }
    }
}

/// The backend token: a line and, when it worked, the token.
pub fn token(b: &Backend) -> (Line, Option<Secret>) {
    match crate::secret::from_env(&b.token_env) {
        Ok(s) => (
            Line::ok(
                "backend.secret",
                format!("token obtained from ${} (not shown)", b.token_env),
            ),
            Some(s),
        ),
        Err(e) => (
            Line::fail(
                "backend.secret",
                format!(
                    "{e:#}: export the backend's API token as {} in the shell that runs concierge",
                    b.token_env
                ),
            ),
            None,
        ),
    }
}

/// A plain TCP connect to `host:port`: the first thing that can be wrong.
pub fn tcp(check: &'static str, section: &str, host: &str, port: u16) -> Line {
    let addrs = match (host, port).to_socket_addrs() {
        Ok(a) => a.collect::<Vec<_>>(),
        Err(e) => {
            let said =
                super::words::explain(&e.to_string(), host, port, &format!("[{section}] host"))
                    .unwrap_or_else(|| {
                        format!("cannot resolve {host:?} ({e}): check [{section}] host")
                    });
            return Line::fail(check, said);
        }
    };
    let mut last = None;
    for addr in &addrs {
        match TcpStream::connect_timeout(addr, CONNECT_TIMEOUT) {
            Ok(_) => return Line::ok(check, format!("{host}:{port} accepts connections")),
            Err(e) => last = Some(e),
        }
    }
    // In words where the cause is a common one; the OS's text otherwise.
    if let Some(cause) = last.as_ref().and_then(super::words::of_io) {
        let keys = format!("[{section}] host and port");
        return Line::fail(check, super::words::say(cause, host, port, &keys));
    }
    let why = last.map_or_else(|| "no address".to_string(), |e| e.to_string());
    Line::fail(
        check,
        format!("cannot connect to {host}:{port} ({why}): check [{section}] host and port, and that the server is running and reachable from here"),
    )
}

/// IMAP: connect, TLS, login, capabilities, mailbox, sent mailbox.
/// `password` is `None` when it could not be obtained (then only the
/// connection is tried).
pub fn imap(c: &Connection, password: Option<&Secret>) -> Vec<Line> {
    let mut lines = vec![tcp("imap.connect", "imap", &c.host, c.port)];
    let (true, Some(password)) = (lines[0].ok, password) else {
        return lines;
    };
    let mut session = match crate::inbox::imap::connect(c, password) {
        Ok(s) => {
            lines.push(tls_ok("imap.tls", c));
            lines.push(Line::ok(
                "imap.login",
                format!("logged in as {}", c.username),
            ));
            s
        }
        Err(e) => {
            lines.extend(imap_failure(c, e));
            return lines;
        }
    };
    lines.push(imap_capabilities(&mut session));
    lines.push(match session.examine(&c.mailbox) {
        Ok(mb) => Line::ok(
            "imap.mailbox",
            format!(
                "{:?} exists ({} messages; opened read-only)",
                c.mailbox, mb.exists
            ),
        ),
        Err(e) => Line::fail(
            "imap.mailbox",
            format!(
                "cannot open {:?} ({}): check [imap] mailbox; the server has {}",
                c.mailbox,
                e,
                mailbox_names(&mut session)
            ),
        ),
    });
    lines.push(sent_mailbox(c, password, &mut session));
    let _ = session.logout();
    lines.push(idle_delay(c, password));
    lines
}

/// NOTE: 65 s covers one default 60 s `imapidlepoll` of Cyrus without
/// idled (and Courier's), so even those servers get a measured figure.
const IDLE_PROBE_WAIT: std::time::Duration = std::time::Duration::from_secs(65);

/// How fast the server announces new mail in IDLE (a scratch mailbox is
/// created and deleted: see [`crate::inbox::idle_delay`]).
fn idle_delay(c: &Connection, password: &Secret) -> Line {
    match crate::inbox::idle_delay::measure(c, password, IDLE_PROBE_WAIT) {
        Ok(d) => Line::ok("imap.idle", d.describe()),
        Err(e) => Line::fail(
            "imap.idle",
            format!("could not measure the IDLE delay ({e:#}); polls still find new mail"),
        ),
    }
}

fn tls_ok(check: &'static str, c: &Connection) -> Line {
    match c.security {
        Security::Tls => Line::ok(check, format!("TLS, certificate verified for {}", c.host)),
        Security::Starttls => Line::ok(
            check,
            format!("STARTTLS, certificate verified for {}", c.host),
        ),
        Security::None => Line::ok(check, "none: plaintext, allowed to a loopback address only"),
    }
}

/// Which step an [`ImapError`] after a successful TCP connect belongs to.
fn imap_failure(c: &Connection, e: ImapError) -> Vec<Line> {
    match e {
        ImapError::Auth { user, .. } => vec![
            tls_ok("imap.tls", c),
            Line::fail(
                "imap.login",
                format!("the server refused the login for {user}: check [imap] username and the password in {}", secret_source(c)),
            ),
        ],
        ImapError::OauthRefused { user, .. } => vec![
            tls_ok("imap.tls", c),
            Line::fail(
                "imap.login",
                format!("the server refused the OAuth access token for {user} twice: run {} by hand, sign in again if it asks, and check the account has IMAP access", secret_source(c)),
            ),
        ],
        ImapError::Fatal { message, .. } if message.contains("certificate") => {
            vec![Line::fail(
                "imap.tls",
                format!("the server's certificate for {} is not trusted ({}): set [imap] ca_file to your private CA's PEM file, or check that host is the name on the certificate", c.host, cert_problem(&message)),
            )]
        }
        ImapError::Fatal { message, .. } | ImapError::Transport { message, .. }
            if super::words::in_text(&message) == Some(super::words::Cause::NotTls) =>
        {
            let hint = if c.port == 143 {
                " (port 143 usually means security = \"starttls\")"
            } else {
                ""
            };
            let said = super::words::say(super::words::Cause::NotTls, &c.host, c.port, "[imap] port and security");
            vec![Line::fail("imap.tls", format!("{said}{hint}"))]
        }
        ImapError::Fatal { message, .. } | ImapError::Transport { message, .. } => {
            let hint = match c.security {
                Security::Tls if c.port == 143 => "port 143 usually means security = \"starttls\"",
                Security::Starttls if c.port == 993 => "port 993 usually means security = \"tls\"",
                _ => "check [imap] port and security (993 with \"tls\", 143 with \"starttls\")",
            };
            vec![Line::fail(
                "imap.tls",
                format!("no IMAP session with {}:{} ({message}): {hint}", c.host, c.port),
            )]
        }
    }
}

/// rustls' reason, in words (its Debug text is no help on a first day).
fn cert_problem(message: &str) -> &'static str {
    const WORDS: [(&str, &str); 5] = [
        (
            "UnknownIssuer",
            "signed by a CA this machine does not trust",
        ),
        ("NotValidForName", "not issued for this host name"),
        ("Expired", "expired"),
        ("NotValidYet", "not valid yet"),
        (
            "CaUsedAsEndEntity",
            "a CA certificate used as the server's own",
        ),
    ];
    WORDS
        .iter()
        .find(|(k, _)| message.contains(k))
        .map_or("the TLS library refused it", |(_, w)| w)
}

/// The capabilities Concierge uses, and what it does without each.
fn imap_capabilities(session: &mut imap::Session<imap::Connection>) -> Line {
    let caps = match session.capabilities() {
        Ok(c) => c,
        Err(e) => return Line::fail("imap.capabilities", format!("CAPABILITY failed: {e}")),
    };
    // (capability, what happens without it)
    const USED: [(&str, &str); 3] = [
        (
            "IDLE",
            "new mail is found by polling every [intake] poll_seconds",
        ),
        ("UIDPLUS", "nothing changes: Concierge does not use it yet"),
        ("SPECIAL-USE", "set [imap] sent_mailbox by hand"),
    ];
    let have: Vec<&str> = USED
        .iter()
        .filter(|(c, _)| caps.has_str(c))
        .map(|(c, _)| *c)
        .collect();
    let missing: Vec<String> = USED
        .iter()
        .filter(|(c, _)| !caps.has_str(c))
        .map(|(c, without)| format!("{c} (so {without})"))
        .collect();
    let mut detail = if have.is_empty() {
        "none of IDLE, UIDPLUS, SPECIAL-USE".to_string()
    } else {
        have.join(", ")
    };
    if !missing.is_empty() {
        detail.push_str(&format!("; without {}", missing.join(", ")));
    }
    // NOTE: a missing capability is a ✓: Concierge works without each of
    // them (polling instead of IDLE), it is only told here.
    Line::ok("imap.capabilities", detail)
}

fn mailbox_names(session: &mut imap::Session<imap::Connection>) -> String {
    match session.list(Some(""), Some("*")) {
        Ok(names) => {
            let v: Vec<String> = names
                .iter()
                .take(20)
                .map(|n| format!("{:?}", n.name()))
                .collect();
            if v.is_empty() {
                "no mailboxes".into()
            } else {
                v.join(", ")
            }
        }
        Err(_) => "mailboxes that could not be listed".into(),
    }
}

/// Where copies of replies go: `[imap] sent_mailbox`, else the mailbox the
/// server marks `\Sent` (RFC 6154), else Sent in the personal namespace
/// (RFC 2342), as [`crate::inbox::imap::file_reply`] chooses; with neither, replies could not be filed, so say what to set.
fn sent_mailbox(
    c: &Connection,
    password: &Secret,
    session: &mut imap::Session<imap::Connection>,
) -> Line {
    let names = match session.list(Some(""), Some("*")) {
        Ok(n) => n,
        Err(e) => return Line::fail("imap.sent", format!("LIST failed: {e}")),
    };
    let marked: Option<String> = names
        .iter()
        .find(|n| {
            n.attributes()
                .iter()
                .any(|a| matches!(a, imap_proto::NameAttribute::Sent))
        })
        .map(|n| n.name().to_string());
    let exists = |want: &str| names.iter().any(|n| n.name() == want);
    match (&c.sent_mailbox, marked) {
        (Some(s), _) if exists(s) => Line::ok("imap.sent", format!("copies of replies go to {s:?}")),
        (Some(s), Some(m)) => Line::fail(
            "imap.sent",
            format!("[imap] sent_mailbox {s:?} does not exist; the server marks {m:?} as Sent: set sent_mailbox = {m:?}"),
        ),
        (Some(s), None) => Line::ok(
            "imap.sent",
            format!("{s:?} does not exist yet; it is created with the first reply"),
        ),
        (None, Some(m)) => Line::ok(
            "imap.sent",
            format!("copies of replies go to {m:?} (marked \\Sent)"),
        ),
        // The personal namespace (RFC 2342), as file_reply looks next.
        (None, None) => match crate::inbox::namespace::find_sent(session, c, password) {
            Ok(m) => Line::ok(
                "imap.sent",
                format!(
                    "copies of replies go to {:?} (in the personal namespace)",
                    crate::inbox::mutf7::decode(&m).unwrap_or(m)
                ),
            ),
            Err(e) => Line::fail("imap.sent", format!("{e:#}")),
        },
    }
}

/// A lettre transport for `[smtp]`, with or without credentials.
fn smtp_transport(
    c: &Connection,
    creds: Option<Credentials>,
) -> anyhow::Result<AsyncSmtpTransport<Tokio1Executor>> {
    // NOTE: the same TLS set-up as `mail::outgoing::Sender::smtp`, built here
    // because the probe needs it without credentials (STARTTLS alone) and
    // without a From address.
    let tls = match c.security {
        Security::None => Tls::None,
        Security::Tls | Security::Starttls => {
            let mut params = TlsParameters::builder(c.host.clone());
            if let Some(ca) = &c.ca_file {
                let path = crate::config::expand_home(ca);
                let pem = std::fs::read(&path).map_err(|e| {
                    anyhow::anyhow!("cannot read [smtp] ca_file {}: {e}", path.display())
                })?;
                let cert = Certificate::from_pem(&pem)
                    .map_err(|e| anyhow::anyhow!("[smtp] ca_file {}: {e}", path.display()))?;
                params = params.add_root_certificate(cert);
            }
            let params = params.build_rustls()?;
            if c.security == Security::Tls {
                Tls::Wrapper(params)
            } else {
                Tls::Required(params)
            }
        }
    };
    let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(c.host.as_str())
        .port(c.port)
        .tls(tls)
        .timeout(Some(CONNECT_TIMEOUT));
    if let Some(creds) = creds {
        b = b.credentials(creds);
    }
    Ok(b.build())
}

/// SMTP: connect, TLS/STARTTLS, AUTH, the From address. Nothing is sent.
pub async fn smtp(c: &Connection, password: Option<&Secret>) -> Vec<Line> {
    let mut lines = Vec::new();
    lines.push(match c.from.as_deref().map(str::parse::<lettre::message::Mailbox>) {
        Some(Ok(m)) => Line::ok("smtp.from", format!("replies come from {m}")),
        Some(Err(e)) => Line::fail("smtp.from", format!("[smtp] from is not an address ({e}): write it as \"Ochre Concierge <hello@ochrehq.com>\"")),
        None => Line::fail("smtp.from", "[smtp] from is missing: add from = \"Ochre Concierge <hello@ochrehq.com>\""),
    });
    let connect = tcp("smtp.connect", "smtp", &c.host, c.port);
    let reached = connect.ok;
    lines.push(connect);
    if !reached {
        return lines;
    }
    let tls = match smtp_transport(c, None) {
        Ok(t) => match t.test_connection().await {
            Ok(_) => tls_ok("smtp.tls", c),
            Err(e) => Line::fail("smtp.tls", smtp_tls_failure(c, &e)),
        },
        Err(e) => Line::fail("smtp.tls", format!("{e:#}")),
    };
    let tls_ok = tls.ok;
    lines.push(tls);
    if !tls_ok {
        return lines;
    }
    if c.username.is_empty() {
        lines.push(Line::ok(
            "smtp.auth",
            "no AUTH ([smtp] username is empty): the server must relay for this host",
        ));
        return lines;
    }
    let Some(password) = password else {
        return lines;
    };
    let creds = Credentials::new(c.username.clone(), password.expose().to_string());
    lines.push(match smtp_transport(c, Some(creds)) {
        Ok(t) => match t.test_connection().await {
            Ok(_) => Line::ok("smtp.auth", format!("AUTH accepted for {}", c.username)),
            Err(e) if e.status().is_some() => Line::fail(
                "smtp.auth",
                format!("the server refused the login for {} ({}): check [smtp] username and the password in {}", c.username, redacted(&e.to_string(), password), secret_source(c)),
            ),
            Err(e) => Line::fail(
                "smtp.auth",
                format!("AUTH did not work ({}): the server may not offer AUTH on this port; try 587 with \"starttls\"", redacted(&e.to_string(), password)),
            ),
        },
        Err(e) => Line::fail("smtp.auth", format!("{e:#}")),
    });
    lines
}

/// Server text after AUTH, with the password masked: the server has seen
/// it (AUTH PLAIN carries it) and a hostile one could echo it back.
fn redacted(server_text: &str, password: &Secret) -> String {
    let text = super::one_line(server_text);
    let p = password.expose();
    if p.is_empty() {
        text
    } else {
        text.replace(p, "***")
    }
}

fn smtp_tls_failure(c: &Connection, e: &lettre::transport::smtp::Error) -> String {
    let text = super::one_line(&format!("{e}: {:?}", std::error::Error::source(e)));
    if text.contains("certificate")
        || text.contains("Certificate")
        || text.contains("UnknownIssuer")
    {
        format!("the server's certificate for {} is not trusted ({}): set [smtp] ca_file to your private CA's PEM file", c.host, cert_problem(&text))
    } else if super::words::in_text(&text) == Some(super::words::Cause::NotTls) {
        let said = super::words::say(
            super::words::Cause::NotTls,
            &c.host,
            c.port,
            "[smtp] port and security",
        );
        format!("{said} (port 465 is \"tls\"; port 587 is usually \"starttls\")")
    } else {
        let hint = match c.security {
            Security::Tls => "port 465 is \"tls\"; port 587 is usually \"starttls\"",
            Security::Starttls => "the server may not offer STARTTLS here; port 465 is \"tls\"",
            Security::None => "check [smtp] port and security",
        };
        format!(
            "no SMTP session with {}:{} ({text}): {hint}",
            c.host, c.port
        )
    }
}

/// The backend: reachable, and the token accepted (`GET /v1/workspaces`).
pub async fn backend(b: &Backend, token: Option<Secret>, operator: &str) -> Vec<Line> {
    let Some(token) = token else {
        return Vec::new();
    };
    let client = match BackendClient::with_timeouts(
        &b.url,
        token,
        operator,
        CONNECT_TIMEOUT,
        CONNECT_TIMEOUT * 3,
    ) {
        Ok(c) => c.with_retry(RetryPolicy::none()),
        Err(e) => {
            return vec![Line::fail(
                "backend.connect",
                format!("{e}: check [backend] url"),
            )]
        }
    };
    let reached = Line::ok("backend.connect", format!("{} answers", b.url));
    match client.workspaces(None).await {
        Ok(ws) => vec![
            reached,
            Line::ok(
                "backend.token",
                format!("token accepted ({} workspaces visible)", ws.len()),
            ),
        ],
        Err(ApiError::Unauthorized) => vec![
            reached,
            Line::fail(
                "backend.token",
                format!(
                    "the backend refused the token in ${}: check it is this backend's API token",
                    b.token_env
                ),
            ),
        ],
        Err(ApiError::Unreachable { detail }) => {
            // The client says common causes in words already (an em dash
            // never appears in the system's or reqwest's own text).
            let said = if detail.contains(" — ") {
                Some(format!("cannot reach {}: {detail}", b.url))
            } else {
                super::words::host_port(&b.url, 80)
                    .and_then(|(h, p)| super::words::explain(&detail, &h, p, "[backend] url"))
                    .map(|s| format!("cannot reach {}: {s}", b.url))
            };
            vec![Line::fail(
                "backend.connect",
                said.unwrap_or_else(|| format!(
                    "cannot reach {} ({detail}): check [backend] url and that the backend is running",
                    b.url
                )),
            )]
        }
        Err(e) => vec![
            reached,
            Line::fail(
                "backend.token",
                format!("{e}: check [backend] url points at the export backend (API v1)"),
            ),
        ],
    }
}

/// The store: opens, schema current, audit chain intact. Read-only.
pub fn store(path: &Path) -> Vec<Line> {
    if !path.exists() {
        let dir = path.parent().unwrap_or(Path::new("."));
        return vec![Line::ok(
            "store.open",
            format!(
                "no store yet: it is created at {} on the first start (directory {})",
                path.display(),
                dir.display()
            ),
        )];
    }
    let flags =
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = match rusqlite::Connection::open_with_flags(path, flags)
        .and_then(|c| c.pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0)).map(|v| (c, v)))
    {
        Ok(cv) => cv,
        Err(e) => {
            return vec![Line::fail(
                "store.open",
                format!("cannot read {} ({e}): check [store] path points at a Concierge store and is readable", path.display()),
            )]
        }
    };
    let (conn, version) = conn;
    let mut lines = vec![Line::ok("store.open", format!("{} opens", path.display()))];
    let want = crate::store::SCHEMA_VERSION;
    lines.push(if version == want {
        Line::ok("store.schema", format!("schema {version} is current"))
    } else if version < want {
        Line::fail("store.schema", format!("schema {version}, this Concierge uses {want}: start `concierge` or run `concierge sync --once` once to upgrade it"))
    } else {
        Line::fail("store.schema", format!("schema {version} was written by a newer Concierge (this one knows {want}): upgrade concierge"))
    });
    if version != want {
        return lines;
    }
    let conn = crate::store::db::Conn::sqlite(conn);
    lines.push(match crate::store::audit::verify(&conn) {
        Ok(Ok(n)) => Line::ok("store.audit", format!("audit log intact ({n} entries)")),
        Ok(Err(broken)) => Line::fail(
            "store.audit",
            format!(
                "{broken}: the log was changed outside Concierge; restore the store from a backup"
            ),
        ),
        Err(e) => Line::fail("store.audit", format!("cannot read the audit log ({e:#})")),
    });
    lines
}

/// A team store (PostgreSQL): reachable, schema current, audit chain
/// intact. Read-only: it connects without migrating.
pub fn team_store(target: &crate::store::pg::PgTarget) -> Vec<Line> {
    let store = match crate::store::Store::connect_pg_unmigrated(target) {
        Ok(s) => s,
        Err(e) => return vec![Line::fail("store.open", team_store_failure(target, &e))],
    };
    let mut lines = vec![Line::ok("store.open", "the team store answers")];
    let want = crate::store::SCHEMA_VERSION;
    match store.schema_version() {
        Ok(v) if v == want => {
            lines.push(Line::ok("store.schema", format!("schema {v} is current")))
        }
        Ok(v) if v < want => {
            lines.push(Line::fail(
                "store.schema",
                format!("schema {v}, this Concierge uses {want}: run `concierge store migrate`"),
            ));
            return lines;
        }
        Ok(v) => {
            lines.push(Line::fail("store.schema", format!("schema {v} was written by a newer Concierge (this one knows {want}): upgrade concierge")));
            return lines;
        }
        Err(e) => {
            lines.push(Line::fail(
                "store.schema",
                format!("cannot read the schema version ({e:#}): an empty database is prepared by `concierge store migrate`"),
            ));
            return lines;
        }
    }
    lines.push(match crate::store::audit::verify(store.conn()) {
        Ok(Ok(n)) => Line::ok("store.audit", format!("audit log intact ({n} entries)")),
        Ok(Err(broken)) => Line::fail(
            "store.audit",
            format!(
                "{broken}: the log was changed outside Concierge; restore the store from a backup"
            ),
        ),
        Err(e) => Line::fail("store.audit", format!("cannot read the audit log ({e:#})")),
    });
    lines
}

/// Why the team store could not be reached: in words when the cause is a
/// common one (the PostgreSQL client's text ends in "(os error 111)").
pub fn team_store_failure(target: &crate::store::pg::PgTarget, e: &anyhow::Error) -> String {
    let text = format!("{e:#}");
    super::words::host_port(&target.url, 5432)
        .and_then(|(h, p)| super::words::explain(&text, &h, p, "[store] url"))
        .map_or_else(
            || format!("team store: {text}"),
            |s| format!("team store: {s}"),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_echoed_password_is_masked() {
        let pw = Secret::new("hunter2-very");
        let t = redacted("535 5.7.8 bad credentials hunter2-very\r\n", &pw);
        assert!(
            !t.contains("hunter2-very") && t.contains("535 5.7.8"),
            "{t}"
        );
    }

    #[test]
    fn certificate_problems_in_words() {
        assert_eq!(
            cert_problem("InvalidCertificate(NotValidForName)"),
            "not issued for this host name"
        );
        assert_eq!(cert_problem("something else"), "the TLS library refused it");
    }

    #[test]
    fn a_command_secret_shows_only_its_program() {
        let c = Connection {
            host: "h".into(),
            port: 1,
            security: Security::Tls,
            username: "u".into(),
            password_env: None,
            password_command: Some("pass show ochre/imap --vault private".into()),
            auth: Default::default(),
            token_command: None,
            mailbox: "INBOX".into(),
            ca_file: None,
            from: None,
            sent_mailbox: None,
        };
        assert_eq!(secret_source(&c), "the command `pass`");
    }
}

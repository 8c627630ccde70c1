//! IMAP: the support inbox, read without ever changing it.
//!
//! - TLS by default (rustls; web PKI roots, the system's roots and an optional
//!   `ca_file`), STARTTLS, or plaintext to a loopback address only.
//! - Incremental sync keyed on UIDVALIDITY and the last stored UID
//!   (RFC 3501 §2.3.1.1). The mailbox is opened with EXAMINE (read-only) and
//!   fetched with `BODY.PEEK[]<0.N>` (and, for a header block longer than
//!   that, `BODY.PEEK[HEADER]` + `BODY.PEEK[TEXT]<0.N>`: see `prefix`), so
//!   `\Seen` is never set (RFC 3501 §6.4.5). A poll with nothing new costs
//!   one round trip (EXAMINE reports UIDNEXT); with new mail, one more for
//!   `UID SEARCH`, then one per batch.
//! - [`Poller`]: a thread that syncs, then waits in IDLE (RFC 2177, re-issued
//!   well before the 29-minute limit) or sleeps when the server has no IDLE;
//!   after a drop it reconnects with capped, jittered backoff. A refused login
//!   is fatal, never retried in a loop.
//! - A server that does not keep UIDs (Courier) is listed by Message-ID
//!   instead: see [`super::unstable`].

use super::prefix::needs_whole_header;
use super::wire::{quoted, OauthMechanism, Stream, Wire, WireError};
use super::{Fetched, Listing, MsgRef, Source, BATCH, FETCH_PREFIX, MAX_HEADER};
use crate::config::{is_loopback, AuthKind, Connection as ConnCfg, Security};
use crate::intake::sanitize;
use crate::secret::Secret;
use crate::store::Cursor;
use anyhow::{anyhow, Result};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

pub use super::namespace::sent_mailbox;

pub(super) type Session = imap::Session<imap::Connection>;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
const IO_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a connection failed; the poller retries only [`ImapError::Transport`].
#[derive(Debug, thiserror::Error)]
pub enum ImapError {
    #[error("IMAP login refused for {user} at {host}: check the username and password")]
    Auth { user: String, host: String },
    #[error("IMAP login refused for {user} at {host}: the access token from token_command was refused twice (expired, revoked, or without IMAP access)")]
    OauthRefused { user: String, host: String },
    #[error("IMAP server {host}: {message}")]
    Fatal { host: String, message: String },
    #[error("IMAP server {host} unreachable: {message}")]
    Transport { host: String, message: String },
}

impl ImapError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, ImapError::Transport { .. })
    }
}

/// Server text is hostile too: one clean line, bounded.
pub(super) fn clean(s: impl std::fmt::Display) -> String {
    let s = sanitize::single_line(&s.to_string()).text;
    crate::intake::classify::truncate_chars(&s, 300)
}

fn tls_connector(cfg: &ConnCfg) -> Result<rustls_connector::RustlsConnector> {
    use rustls_connector::rustls_pki_types::{pem::PemObject, CertificateDer};
    let mut roots = rustls_connector::RustlsConnectorConfig::new_with_webpki_roots_certs();
    if let Ok(native) = rustls_connector::rustls_native_certs::load_native_certs() {
        roots.add_parsable_certificates(native);
    }
    if let Some(ca) = &cfg.ca_file {
        let path = crate::config::expand_home(ca);
        let pem = std::fs::read(&path)
            .map_err(|e| anyhow!("cannot read ca_file {}: {e}", path.display()))?;
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| anyhow!("ca_file {} is not PEM certificates: {e:?}", path.display()))?;
        if certs.is_empty() {
            anyhow::bail!("ca_file {} holds no certificate", path.display());
        }
        let (added, _) = roots.add_parsable_certificates(certs);
        if added == 0 {
            anyhow::bail!("ca_file {}: no usable certificate", path.display());
        }
    }
    Ok(roots.connector_with_no_client_auth())
}

fn tcp(cfg: &ConnCfg) -> std::result::Result<TcpStream, ImapError> {
    let transport = |e: std::io::Error| ImapError::Transport {
        host: cfg.host.clone(),
        message: clean(e),
    };
    let addrs = (cfg.host.as_str(), cfg.port)
        .to_socket_addrs()
        .map_err(transport)?;
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
            Ok(s) => {
                s.set_read_timeout(Some(IO_TIMEOUT)).map_err(transport)?;
                s.set_write_timeout(Some(IO_TIMEOUT)).map_err(transport)?;
                return Ok(s);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(transport(
        last.unwrap_or_else(|| std::io::Error::other("no address")),
    ))
}

fn handshake(
    cfg: &ConnCfg,
    tcp: TcpStream,
) -> std::result::Result<rustls_connector::TlsStream<TcpStream>, ImapError> {
    let connector = tls_connector(cfg).map_err(|e| ImapError::Fatal {
        host: cfg.host.clone(),
        message: clean(format!("{e:#}")),
    })?;
    connector.connect(&cfg.host, tcp).map_err(|e| {
        let message = format!("{e:?}");
        // A certificate problem will not fix itself: do not retry it.
        if message.contains("Certificate")
            || message.contains("certificate")
            || message.contains("NotValidForName")
        {
            ImapError::Fatal {
                host: cfg.host.clone(),
                message: clean(format!(
                    "TLS certificate not trusted ({message}); set [imap] ca_file for a private CA"
                )),
            }
        } else {
            ImapError::Transport {
                host: cfg.host.clone(),
                message: clean(format!("TLS handshake failed: {message}")),
            }
        }
    })
}

/// Reads one CRLF-terminated line byte by byte (nothing past it is consumed:
/// the TLS handshake starts right after).
fn read_line(stream: &mut TcpStream) -> std::io::Result<String> {
    use std::io::Read;
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while line.len() < 8192 {
        if stream.read(&mut byte)? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "connection closed",
            ));
        }
        line.push(byte[0]);
        if byte[0] == b'\n' {
            break;
        }
    }
    Ok(String::from_utf8_lossy(&line).trim_end().to_string())
}

/// The plaintext part of STARTTLS (RFC 3501 §6.2.1): greeting, then
/// `STARTTLS` and its tagged OK. Untagged lines in between are skipped.
fn starttls(cfg: &ConnCfg, mut stream: TcpStream) -> std::result::Result<TcpStream, ImapError> {
    use std::io::Write;
    let transport = |e: std::io::Error| ImapError::Transport {
        host: cfg.host.clone(),
        message: clean(e),
    };
    let greeting = read_line(&mut stream).map_err(transport)?;
    if !greeting.starts_with("* OK") && !greeting.starts_with("* PREAUTH") {
        return Err(ImapError::Fatal {
            host: cfg.host.clone(),
            message: clean(format!("unexpected greeting: {greeting}")),
        });
    }
    stream.write_all(b"c0 STARTTLS\r\n").map_err(transport)?;
    loop {
        let line = read_line(&mut stream).map_err(transport)?;
        if line.starts_with("* ") {
            continue;
        }
        if line.starts_with("c0 OK") {
            return Ok(stream);
        }
        return Err(ImapError::Fatal {
            host: cfg.host.clone(),
            message: clean(format!("STARTTLS refused: {line}")),
        });
    }
}

fn io_err(cfg: &ConnCfg, e: imap::Error) -> ImapError {
    ImapError::Transport {
        host: cfg.host.clone(),
        message: clean(e),
    }
}

/// Connects and logs in as `[imap]` says.
pub fn connect(cfg: &ConnCfg, password: &Secret) -> std::result::Result<Session, ImapError> {
    if cfg.security == Security::None && !is_loopback(&cfg.host) {
        return Err(ImapError::Fatal {
            host: cfg.host.clone(),
            message: "plaintext IMAP is allowed only to a loopback address; use security = \"tls\" or \"starttls\"".into(),
        });
    }
    let stream = tcp(cfg)?;
    let client = match cfg.security {
        Security::Tls => {
            let tls = handshake(cfg, stream)?;
            let mut c = imap::Client::new(Box::new(tls) as imap::Connection);
            c.read_greeting().map_err(|e| io_err(cfg, e))?;
            c
        }
        Security::Starttls => {
            let stream = starttls(cfg, stream)?;
            let tls = handshake(cfg, stream)?;
            let mut c = imap::Client::new(Box::new(tls) as imap::Connection);
            c.greeting_read = true;
            c
        }
        Security::None => {
            let mut c = imap::Client::new(Box::new(stream) as imap::Connection);
            c.read_greeting().map_err(|e| io_err(cfg, e))?;
            c
        }
    };
    let refused = |e: imap::Error, oauth: bool| match e {
        imap::Error::No(_) | imap::Error::Bad(_) if oauth => ImapError::OauthRefused {
            user: clean(&cfg.username),
            host: cfg.host.clone(),
        },
        imap::Error::No(_) | imap::Error::Bad(_) => ImapError::Auth {
            user: clean(&cfg.username),
            host: cfg.host.clone(),
        },
        other => io_err(cfg, other),
    };
    if cfg.auth != AuthKind::Oauth2 {
        return client
            .login(&cfg.username, password.expose())
            .map_err(|(e, _)| refused(e, false));
    }
    // XOAUTH2 here: both Google and Microsoft 365 take it. One retry with a
    // fresh token, as in `oauth_login`.
    let client = match client.authenticate("XOAUTH2", &Xoauth2::new(&cfg.username, password)) {
        Ok(session) => return Ok(session),
        Err((imap::Error::No(_) | imap::Error::Bad(_), client)) => client,
        Err((e, _)) => return Err(refused(e, true)),
    };
    let fresh = cfg.password().map_err(|e| ImapError::Fatal {
        host: cfg.host.clone(),
        message: clean(format!("{e:#}")),
    })?;
    client
        .authenticate("XOAUTH2", &Xoauth2::new(&cfg.username, &fresh))
        .map_err(|(e, _)| refused(e, true))
}

/// SASL XOAUTH2 for the `imap` crate: the initial response to the empty
/// challenge, an empty answer to the error challenge that precedes a NO.
struct Xoauth2(Secret);

impl Xoauth2 {
    fn new(user: &str, token: &Secret) -> Xoauth2 {
        Xoauth2(Secret::new(format!(
            "user={user}\x01auth=Bearer {}\x01\x01",
            token.expose()
        )))
    }
}

impl imap::Authenticator for Xoauth2 {
    type Response = String;
    fn process(&self, challenge: &[u8]) -> String {
        if challenge.is_empty() {
            self.0.expose().to_string()
        } else {
            String::new()
        }
    }
}

/// A logged-in IMAP session over one mailbox, read-only.
pub struct ImapSource {
    wire: Wire,
    mailbox: String,
    key: String,
    idle: bool,
    /// What the server announced after login (CAPABILITY), sanitized.
    capabilities: Vec<String>,
    /// Whether the server keeps its UIDs (see [`super::unstable`]).
    watch: super::unstable::ValidityWatch,
}

/// Compresses sorted UIDs into an IMAP sequence set (`1:5,9,12:14`).
pub fn uid_set(uids: &[u32]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < uids.len() {
        let start = uids[i];
        let mut end = start;
        while i + 1 < uids.len() && uids[i + 1] == end + 1 {
            i += 1;
            end = uids[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    out
}

fn wire_err(cfg: &ConnCfg, e: WireError) -> ImapError {
    match e {
        WireError::Io(e) => ImapError::Transport {
            host: cfg.host.clone(),
            message: clean(e),
        },
        WireError::Bye(t) => ImapError::Transport {
            host: cfg.host.clone(),
            message: format!("the server closed the session: {t}"),
        },
        other => ImapError::Fatal {
            host: cfg.host.clone(),
            message: clean(other),
        },
    }
}

fn capability_names(responses: &[imap_proto::Response<'_>]) -> Vec<String> {
    let mut out = Vec::new();
    for r in responses {
        let caps = match r {
            imap_proto::Response::Capabilities(c) => c,
            imap_proto::Response::Done {
                code: Some(imap_proto::ResponseCode::Capabilities(c)),
                ..
            } => c,
            _ => continue,
        };
        for c in caps {
            let name = match c {
                imap_proto::Capability::Imap4rev1 => "IMAP4rev1".to_string(),
                imap_proto::Capability::Atom(a) => a.to_string(),
                imap_proto::Capability::Auth(a) => format!("AUTH={a}"),
            };
            out.push(clean(name));
        }
    }
    out
}

fn has_capability(responses: &[imap_proto::Response<'_>], name: &str) -> bool {
    responses.iter().any(|r| {
        let caps = match r {
            imap_proto::Response::Capabilities(c) => c,
            imap_proto::Response::Done {
                code: Some(imap_proto::ResponseCode::Capabilities(c)),
                ..
            } => c,
            imap_proto::Response::Data {
                code: Some(imap_proto::ResponseCode::Capabilities(c)),
                ..
            } => c,
            _ => return false,
        };
        caps.iter().any(|c| match c {
            imap_proto::Capability::Atom(a) => a.eq_ignore_ascii_case(name),
            imap_proto::Capability::Auth(a) => name
                .strip_prefix("AUTH=")
                .is_some_and(|m| a.eq_ignore_ascii_case(m)),
            _ => false,
        })
    })
}

/// OAuth 2.0 login: OAUTHBEARER when offered, else XOAUTH2. NOTE: a token
/// may expire between `token_command` printing it and the server checking it:
/// on a refusal the command runs once more and the login is tried once more
/// (issue 10), never in a loop.
fn oauth_login(cfg: &ConnCfg, wire: &mut Wire, first: &Secret) -> Result<(), ImapError> {
    let caps = wire
        .run("CAPABILITY", "CAPABILITY")
        .map_err(|e| wire_err(cfg, e))?;
    let caps = caps.responses().map_err(|e| wire_err(cfg, e))?;
    let mechanism = if has_capability(&caps, "AUTH=OAUTHBEARER") {
        OauthMechanism::Oauthbearer
    } else if has_capability(&caps, "AUTH=XOAUTH2") {
        OauthMechanism::Xoauth2
    } else {
        return Err(ImapError::Fatal {
            host: cfg.host.clone(),
            message: "the server offers neither AUTH=OAUTHBEARER nor AUTH=XOAUTH2: use auth = \"password\"".into(),
        });
    };
    let mut try_token = |token: &Secret| {
        wire.authenticate_oauth(
            mechanism,
            &cfg.username,
            &cfg.host,
            cfg.port,
            token.expose(),
        )
    };
    match try_token(first) {
        Ok(()) => return Ok(()),
        Err(WireError::Refused { .. }) => {}
        Err(e) => return Err(wire_err(cfg, e)),
    }
    let fresh = cfg.password().map_err(|e| ImapError::Fatal {
        host: cfg.host.clone(),
        message: clean(format!("{e:#}")),
    })?;
    match try_token(&fresh) {
        Ok(()) => Ok(()),
        Err(WireError::Refused { .. }) => Err(ImapError::OauthRefused {
            user: clean(&cfg.username),
            host: cfg.host.clone(),
        }),
        Err(e) => Err(wire_err(cfg, e)),
    }
}

impl ImapSource {
    pub fn connect(cfg: &ConnCfg, password: &Secret) -> std::result::Result<Self, ImapError> {
        if cfg.security == Security::None && !is_loopback(&cfg.host) {
            return Err(ImapError::Fatal {
                host: cfg.host.clone(),
                message: "plaintext IMAP is allowed only to a loopback address; use security = \"tls\" or \"starttls\"".into(),
            });
        }
        // Names outside ASCII go as modified UTF-7 (RFC 3501 §5.1.3).
        let mailbox =
            quoted(&super::mutf7::encode(&cfg.mailbox)).ok_or_else(|| ImapError::Fatal {
                host: cfg.host.clone(),
                message: clean(format!(
                    "mailbox name {:?} holds a line break or NUL",
                    cfg.mailbox
                )),
            })?;
        let stream = tcp(cfg)?;
        let stream: Box<dyn Stream> = match cfg.security {
            Security::Tls => Box::new(handshake(cfg, stream)?),
            Security::Starttls => Box::new(handshake(cfg, starttls(cfg, stream)?)?),
            Security::None => Box::new(stream),
        };
        let mut wire = Wire::new(stream);
        if cfg.security != Security::Starttls {
            wire.greeting().map_err(|e| wire_err(cfg, e))?;
        }
        if cfg.auth == AuthKind::Oauth2 {
            oauth_login(cfg, &mut wire, password)?;
        } else {
            match wire.login(&cfg.username, password.expose()) {
                Ok(()) => {}
                Err(WireError::Refused { .. }) => {
                    return Err(ImapError::Auth {
                        user: clean(&cfg.username),
                        host: cfg.host.clone(),
                    })
                }
                Err(e) => return Err(wire_err(cfg, e)),
            }
        }
        let caps = wire
            .run("CAPABILITY", "CAPABILITY")
            .map_err(|e| wire_err(cfg, e))?;
        let responses = caps.responses().map_err(|e| wire_err(cfg, e))?;
        let idle = has_capability(&responses, "IDLE");
        let capabilities = capability_names(&responses);
        Ok(ImapSource {
            wire,
            mailbox,
            key: format!(
                "imap://{}@{}:{}/{}",
                cfg.username, cfg.host, cfg.port, cfg.mailbox
            ),
            idle,
            capabilities,
            watch: Default::default(),
        })
    }

    pub fn supports_idle(&self) -> bool {
        self.idle
    }

    /// The server's capabilities after login (for `concierge check`): e.g.
    /// `IMAP4rev1`, `IDLE`, `SPECIAL-USE`, `AUTH=PLAIN`.
    pub fn capabilities(&self) -> &[String] {
        &self.capabilities
    }

    /// The personal namespace's prefix (RFC 2342), e.g. `INBOX.` on Cyrus and
    /// Courier; "" when the server has no NAMESPACE (RFC 2342 §1) or no
    /// personal namespace. imap-proto cannot parse the answer, so it is read
    /// from the raw bytes.
    pub fn personal_namespace(&mut self) -> Result<String> {
        if !self.capabilities.iter().any(|c| c == "NAMESPACE") {
            return Ok(String::new());
        }
        let reply = self.wire.run_unparsed("NAMESPACE", "NAMESPACE")?;
        Ok(super::namespace::namespace_data(reply.bytes())
            .and_then(|d| super::namespace::personal_prefix(&d))
            .unwrap_or_default())
    }

    /// The connection, for the IDLE delay probe.
    pub(super) fn wire(&mut self) -> &mut Wire {
        &mut self.wire
    }

    /// Waits in IDLE until the mailbox changes or `timeout` passes.
    /// Returns true when something changed.
    pub fn idle(&mut self, timeout: Duration) -> Result<bool> {
        Ok(self.wire.idle(timeout, IO_TIMEOUT)?)
    }

    pub fn logout(mut self) {
        let _ = self.wire.run("LOGOUT", "LOGOUT");
    }
}

impl Source for ImapSource {
    fn mailbox_key(&self) -> String {
        self.key.clone()
    }

    fn list_new(&mut self, cursor: Option<Cursor>) -> Result<Listing> {
        use imap_proto::{MailboxDatum, Response, ResponseCode};
        // EXAMINE: read-only, so nothing (not even \Recent) changes.
        let reply = self
            .wire
            .run(&format!("EXAMINE {}", self.mailbox), "EXAMINE")?;
        let (mut uidvalidity, mut uid_next, mut exists) = (None, None, 0u32);
        for r in reply.responses()? {
            match r {
                Response::Data {
                    code: Some(ResponseCode::UidValidity(v)),
                    ..
                } => uidvalidity = Some(v),
                Response::Data {
                    code: Some(ResponseCode::UidNext(n)),
                    ..
                } => uid_next = Some(n),
                Response::MailboxData(MailboxDatum::Exists(n)) => exists = n,
                _ => {}
            }
        }
        let uidvalidity = uidvalidity
            .ok_or_else(|| anyhow!("the server reports no UIDVALIDITY for the mailbox"))?;
        let was_unstable = self.watch.is_unstable();
        if self
            .watch
            .observe(cursor.map(|c| c.uidvalidity), uidvalidity, uid_next)
        {
            if !was_unstable {
                tracing::warn!(
                    mailbox = %self.key,
                    "the server does not keep UIDs (no UIDNEXT, or a new UIDVALIDITY on every \
                     poll): listing by Message-ID from now on"
                );
            }
            let listed = super::unstable::list_message_ids(&mut self.wire)?;
            return Ok(Listing {
                uidvalidity: Some(uidvalidity),
                refs: listed.iter().map(|(u, _)| MsgRef::Uid(*u)).collect(),
                message_ids: listed
                    .into_iter()
                    .filter_map(|(u, id)| id.map(|id| (u, id)))
                    .collect(),
            });
        }
        let last = match cursor {
            Some(c) if c.uidvalidity == uidvalidity => c.last_uid,
            _ => 0,
        };
        let nothing_new = exists == 0 || uid_next.is_some_and(|next| next <= last + 1);
        if nothing_new {
            return Ok(Listing {
                uidvalidity: Some(uidvalidity),
                refs: Vec::new(),
                message_ids: Vec::new(),
            });
        }
        // NOTE: `UID n:*` also returns the highest UID when it is below n.
        let reply = self
            .wire
            .run(&format!("UID SEARCH UID {}:*", last + 1), "UID SEARCH")?;
        let mut uids: Vec<u32> = Vec::new();
        for r in reply.responses()? {
            if let Response::MailboxData(MailboxDatum::Search(found)) = r {
                uids.extend(found.into_iter().filter(|&u| u > last));
            }
        }
        uids.sort_unstable();
        uids.dedup();
        Ok(Listing {
            uidvalidity: Some(uidvalidity),
            refs: uids.into_iter().map(MsgRef::Uid).collect(),
            message_ids: Vec::new(),
        })
    }

    fn fetch(&mut self, refs: &[MsgRef]) -> Result<Vec<Fetched>> {
        let mut out = Vec::with_capacity(refs.len());
        for chunk in refs.chunks(BATCH) {
            let uids: Vec<u32> = chunk
                .iter()
                .filter_map(|r| match r {
                    MsgRef::Uid(u) => Some(*u),
                    MsgRef::File(_) => None,
                })
                .collect();
            if uids.is_empty() {
                continue;
            }
            let command = format!(
                "UID FETCH {} (UID RFC822.SIZE BODY.PEEK[]<0.{FETCH_PREFIX}>)",
                uid_set(&uids)
            );
            let reply = self.wire.run(&command, "UID FETCH")?;
            let mut got: Vec<Fetched> = parse_fetch(&reply)?
                .into_iter()
                .filter_map(|p| p.first_read())
                .collect();
            // The rule of `prefix`: a first read without an end of header is
            // read again as the whole header plus the start of the text.
            let again: Vec<u32> = got
                .iter()
                .filter(|f| needs_whole_header(&f.raw, f.truncated))
                .filter_map(|f| match f.r#ref {
                    MsgRef::Uid(u) => Some(u),
                    MsgRef::File(_) => None,
                })
                .collect();
            // NOTE: the first read already holds the header's first
            // FETCH_PREFIX bytes: only the rest of it is asked for (RFC 3501
            // §6.4.5 partial, origin FETCH_PREFIX), then the text. Asking for
            // the whole header again fetched 16 KiB twice per such message:
            // 41 of the 155 MB of the big-headers bench (docs/perf-sync.md).
            // 50 per round trip bounds one response to ~50 MiB even when
            // every header is at MAX_HEADER.
            for part in again.chunks(50) {
                let command = format!(
                    "UID FETCH {} (UID RFC822.SIZE BODY.PEEK[HEADER]<{FETCH_PREFIX}.{}> BODY.PEEK[TEXT]<0.{FETCH_PREFIX}>)",
                    uid_set(part),
                    MAX_HEADER - FETCH_PREFIX
                );
                let reply = self.wire.run(&command, "UID FETCH")?;
                for rest in parse_fetch(&reply)? {
                    if let Some(f) = got.iter_mut().find(|f| f.r#ref == MsgRef::Uid(rest.uid)) {
                        if let Some(whole) = rest.after_first_read(&f.raw) {
                            *f = whole;
                        }
                    }
                }
            }
            got.sort_by_key(|f| match f.r#ref {
                MsgRef::Uid(u) => u,
                MsgRef::File(_) => 0,
            });
            out.extend(got);
        }
        Ok(out)
    }
}

/// One message of a `UID FETCH` reply, as the server sent it.
struct FetchedParts {
    uid: u32,
    size: Option<usize>,
    /// `BODY[]<0>`: the first read.
    full: Option<Vec<u8>>,
    /// `BODY[HEADER]<origin>`: the header from `origin` on.
    header: Option<Vec<u8>>,
    /// `BODY[TEXT]<0>`.
    text: Option<Vec<u8>>,
}

impl FetchedParts {
    fn fetched(&self, raw: Vec<u8>) -> Fetched {
        let truncated = self.size.is_some_and(|s| s > raw.len());
        Fetched {
            r#ref: MsgRef::Uid(self.uid),
            file: None,
            raw,
            truncated,
        }
    }

    /// The first read (`BODY[]<0.FETCH_PREFIX>`).
    fn first_read(mut self) -> Option<Fetched> {
        let full = self.full.take()?;
        Some(self.fetched(full))
    }

    /// The second read after `first` (the header's first FETCH_PREFIX
    /// bytes): the whole header, then the start of the text — the same
    /// bytes `prefix::read_prefix` keeps. `None` when the reply lacks the
    /// header, or `first` is not a full first read.
    fn after_first_read(mut self, first: &[u8]) -> Option<Fetched> {
        let rest = self.header.take()?;
        if first.len() != FETCH_PREFIX {
            return None;
        }
        let mut raw = Vec::with_capacity(first.len() + rest.len() + FETCH_PREFIX);
        raw.extend_from_slice(first);
        raw.extend_from_slice(&rest);
        // A header cut at MAX_HEADER has no end: the text does not follow
        // it (the same bytes `prefix::read_prefix` keeps).
        if raw.len() < MAX_HEADER {
            raw.extend(self.text.take().unwrap_or_default());
        }
        Some(self.fetched(raw))
    }
}

/// The messages in a `UID FETCH` reply, each with the sections it carries.
fn parse_fetch(reply: &super::wire::Reply) -> Result<Vec<FetchedParts>> {
    use imap_proto::{AttributeValue, MessageSection, Response, SectionPath};
    let mut got = Vec::new();
    for r in reply.responses()? {
        let Response::Fetch(_, attrs) = r else {
            continue;
        };
        let (mut uid, mut size) = (None, None);
        let (mut full, mut header, mut text) = (None, None, None);
        for a in attrs {
            let AttributeValue::BodySection { section, data, .. } = a else {
                match a {
                    AttributeValue::Uid(u) => uid = Some(u),
                    AttributeValue::Rfc822Size(n) => size = Some(n as usize),
                    _ => {}
                }
                continue;
            };
            let data = data.map(|d| d.into_owned()).unwrap_or_default();
            match section {
                None => full = Some(data),
                Some(SectionPath::Full(MessageSection::Header)) => header = Some(data),
                Some(SectionPath::Full(MessageSection::Text)) => text = Some(data),
                Some(_) => {}
            }
        }
        // A FETCH without our body is an unsolicited flag update: skip it.
        let Some(uid) = uid else { continue };
        if full.is_none() && header.is_none() {
            continue;
        }
        got.push(FetchedParts {
            uid,
            size,
            full,
            header,
            text,
        });
    }
    Ok(got)
}

/// After a reply was accepted: flags the answered message `\Answered`
/// (found by its Message-ID, so a UIDVALIDITY change does not matter) and
/// appends a copy of the reply, `\Seen`, to the Sent mailbox (the configured
/// one, created when missing, or the one [`super::namespace::find_sent`]
/// finds). Returns (flagged, copied).
pub fn file_reply(
    cfg: &ConnCfg,
    password: &Secret,
    answered_message_id: &str,
    reply: &[u8],
) -> Result<(bool, bool)> {
    let mut session = connect(cfg, password)?;
    // NOTE: the Sent mailbox is settled before anything is flagged: a reply
    // marked \Answered with no copy filed would hide that the copy is missing.
    let (sent, may_create) = match cfg.sent_mailbox.as_deref() {
        Some(name) => (super::mutf7::encode(name), true),
        None => (
            super::namespace::find_sent(&mut session, cfg, password)?,
            false,
        ),
    };
    session.select(super::mutf7::encode(&cfg.mailbox))?;
    // NOTE: the id is sanitized text from the message; quote it as an IMAP
    // quoted string (RFC 3501 §4.3), refusing what cannot be quoted. HEADER
    // search matches substrings, so the hits are checked for the exact id
    // before anything is flagged.
    let quotable = answered_message_id
        .chars()
        .all(|c| c.is_ascii_graphic() && !matches!(c, '"' | '\\' | '<' | '>'));
    let flagged = if quotable && answered_message_id.len() >= 3 {
        let wanted = format!("<{answered_message_id}>");
        let mut hits: Vec<u32> = session
            .uid_search(format!("HEADER Message-ID \"{wanted}\""))?
            .into_iter()
            .collect();
        hits.sort_unstable();
        let mut exact = Vec::new();
        if !hits.is_empty() {
            let fetches = session.uid_fetch(uid_set(&hits), "(UID ENVELOPE)")?;
            for f in fetches.iter() {
                let id = f
                    .envelope()
                    .and_then(|e| e.message_id.as_deref())
                    .map(|b| String::from_utf8_lossy(b).trim().to_string());
                if let (Some(uid), Some(id)) = (f.uid, id) {
                    if id == wanted {
                        exact.push(uid);
                    }
                }
            }
        }
        if !exact.is_empty() {
            session.uid_store(uid_set(&exact), "+FLAGS.SILENT (\\Answered)")?;
        }
        !exact.is_empty()
    } else {
        false
    };
    let appended = session
        .append(&sent, reply)
        .flag(imap::types::Flag::Seen)
        .finish();
    let copied = match appended {
        Ok(_) => true,
        Err(e) if !may_create => return Err(e.into()),
        Err(_) => {
            // Most likely [TRYCREATE]: the mailbox does not exist yet.
            session.create(&sent)?;
            session
                .append(&sent, reply)
                .flag(imap::types::Flag::Seen)
                .finish()?;
            true
        }
    };
    let _ = session.logout();
    Ok((flagged, copied))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uids_are_compressed_into_a_sequence_set() {
        assert_eq!(uid_set(&[1, 2, 3, 7, 9, 10]), "1:3,7,9:10");
    }
}

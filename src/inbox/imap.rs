//! IMAP: the support inbox, read without ever changing it.
//!
//! - The connection (TLS by default, STARTTLS, or plaintext to a loopback
//!   address only) is [`super::transport`]'s; filing a sent reply, the one
//!   write, is [`super::filing`]'s.
//! - Incremental sync keyed on UIDVALIDITY and the last stored UID
//!   (RFC 3501 §2.3.1.1). The mailbox is opened with EXAMINE (read-only) and
//!   fetched with `BODY.PEEK[]<0.N>` (and, for a header block longer than
//!   that, `BODY.PEEK[HEADER]` + `BODY.PEEK[TEXT]<0.N>`: see `prefix`), so
//!   `\Seen` is never set (RFC 3501 §6.4.5). A poll with nothing new costs
//!   one round trip (EXAMINE reports UIDNEXT); with new mail, one more for
//!   `UID SEARCH`, then one per batch.
//! - [`crate::sync::Poller`]: a thread that syncs, then waits in IDLE (RFC 2177, re-issued
//!   well before the 29-minute limit) or sleeps when the server has no IDLE;
//!   after a drop it reconnects with capped, jittered backoff. A refused login
//!   is fatal, never retried in a loop. Asked to stop, it stops at once,
//!   even in the middle of a read ([`super::shutdown`]).
//! - A server that does not keep UIDs (Courier) is listed by Message-ID
//!   instead: see [`super::unstable`].

use super::prefix::needs_whole_header;
use super::shutdown::Shutdown;
use super::transport::IO_TIMEOUT;
use super::wire::{quoted, OauthMechanism, Wire, WireError};
use super::{Fetched, Listing, MsgRef, Source, BATCH, FETCH_PREFIX, MAX_HEADER};
use crate::config::{AuthKind, Connection as ConnCfg, Security};
use crate::secret::Secret;
use crate::store::Cursor;
use anyhow::{anyhow, Result};
use std::time::Duration;

pub(super) use super::filing::Session;
pub use super::filing::{connect, file_reply};
pub use super::namespace::sent_mailbox;
pub use super::transport::{clean, ImapError};

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
        Self::connect_watched(cfg, password, None)
    }

    /// [`ImapSource::connect`], with the connection's socket handed to
    /// `watch` as soon as it exists, so that a stop asked from another
    /// thread ends any read at once, even during the login.
    pub fn connect_watched(
        cfg: &ConnCfg,
        password: &Secret,
        watch: Option<&Shutdown>,
    ) -> std::result::Result<Self, ImapError> {
        super::transport::check_plaintext(cfg)?;
        // Names outside ASCII go as modified UTF-7 (RFC 3501 §5.1.3).
        let mailbox =
            quoted(&super::mutf7::encode(&cfg.mailbox)).ok_or_else(|| ImapError::Fatal {
                host: cfg.host.clone(),
                message: clean(format!(
                    "mailbox name {:?} holds a line break or NUL",
                    cfg.mailbox
                )),
            })?;
        let mut wire = Wire::new(super::transport::open(cfg, watch)?);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uids_are_compressed_into_a_sequence_set() {
        assert_eq!(uid_set(&[1, 2, 3, 7, 9, 10]), "1:3,7,9:10");
    }
}

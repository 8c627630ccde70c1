//! IMAP: the support inbox, read without ever changing it.
//!
//! - The connection (TLS by default, STARTTLS, or plaintext to a loopback
//!   address only) is [`super::transport`]'s; filing a sent reply, the one
//!   write, is [`super::filing`]'s.
//! - Incremental sync keyed on UIDVALIDITY and the last stored UID
//!   (RFC 3501 §2.3.1.1). The mailbox is opened with EXAMINE (read-only) and
//!   fetched with `BODY.PEEK[]<0.N>` (and, for a header block longer than
//!   that, further raw pieces `BODY.PEEK[]<origin.len>`: see `fetch` and
//!   `prefix`), so `\Seen` is never set (RFC 3501 §6.4.5). A poll with nothing new costs
//!   one round trip (EXAMINE reports UIDNEXT); with new mail, one more for
//!   `UID SEARCH`, then one per batch.
//! - [`crate::sync::Poller`]: a thread that syncs, then waits in IDLE (RFC 2177, re-issued
//!   well before the 29-minute limit) or sleeps when the server has no IDLE;
//!   after a drop it reconnects with capped, jittered backoff. A refused login
//!   is fatal, never retried in a loop. Asked to stop, it stops at once,
//!   even in the middle of a read ([`super::shutdown`]).
//! - A server that does not keep UIDs (Courier) is listed by Message-ID
//!   instead: see [`super::unstable`].

use super::shutdown::Shutdown;
use super::transport::IO_TIMEOUT;
use super::wire::{quoted, OauthMechanism, Wire, WireError};
use super::{Fetched, Listing, MsgRef, Source, BATCH};
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
    /// How to open a second session on the same mailbox (see
    /// [`ImapSource::second_session`]).
    again: Again,
    /// The UIDVALIDITY the last listing saw, when the server keeps UIDs.
    validity: Option<u32>,
}

/// What [`ImapSource::connect_watched`] was given.
struct Again {
    cfg: ConnCfg,
    password: Secret,
    watch: Option<Shutdown>,
}

/// A fetch of at least this many messages (a first sync, or a large
/// catch-up) goes over two sessions at once (see [`ImapSource::fetch_each`]).
pub const TWO_SESSIONS_FROM: usize = 2_000;

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
            again: Again {
                cfg: cfg.clone(),
                password: password.clone(),
                watch: watch.cloned(),
            },
            validity: None,
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

    /// EXAMINE the mailbox (read-only, so nothing, not even \\Recent,
    /// changes): its UIDVALIDITY, UIDNEXT and message count.
    fn examine(&mut self) -> Result<(Option<u32>, Option<u32>, u32)> {
        use imap_proto::{MailboxDatum, Response, ResponseCode};
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
        Ok((uidvalidity, uid_next, exists))
    }

    /// A second session on the same mailbox, for a large fetch: logged in
    /// as this one was, the mailbox examined, and the same UIDVALIDITY (so
    /// the UIDs listed here name the same messages there). `None` when any
    /// of that fails (a server that limits sessions, one that does not
    /// keep UIDs): then this session fetches alone, as always.
    fn second_session(&self) -> Option<ImapSource> {
        let want = self.validity?;
        let a = &self.again;
        let mut other = match ImapSource::connect_watched(&a.cfg, &a.password, a.watch.as_ref()) {
            Ok(s) => s,
            Err(e) => {
                tracing::debug!(error = %e, "no second session: fetching over one");
                return None;
            }
        };
        match other.examine() {
            Ok((Some(v), _, _)) if v == want => Some(other),
            _ => {
                other.logout();
                None
            }
        }
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
        use imap_proto::{MailboxDatum, Response};
        let (uidvalidity, uid_next, exists) = self.examine()?;
        let uidvalidity = uidvalidity
            .ok_or_else(|| anyhow!("the server reports no UIDVALIDITY for the mailbox"))?;
        let was_unstable = self.watch.is_unstable();
        self.validity = None;
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
        self.validity = Some(uidvalidity);
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
        let mut failed = None;
        let chunks: Vec<&[MsgRef]> = refs.chunks(BATCH).collect();
        self.fetch_each(&chunks, &mut |batch| match batch {
            Ok(b) => {
                out.extend(b);
                true
            }
            Err(e) => {
                failed = Some(e);
                false
            }
        });
        match failed {
            Some(e) => Err(e),
            None => Ok(out),
        }
    }

    /// The batches by [`super::fetch::Fetcher`]: read by hand, the next
    /// batch's command sent before this one's answer is read.
    fn fetch_each(
        &mut self,
        chunks: &[&[MsgRef]],
        sink: &mut dyn FnMut(Result<Vec<Fetched>>) -> bool,
    ) {
        let uids: Vec<Vec<u32>> = chunks
            .iter()
            .map(|c| {
                c.iter()
                    .filter_map(|r| match r {
                        MsgRef::Uid(u) => Some(*u),
                        MsgRef::File(_) => None,
                    })
                    .collect()
            })
            .collect();
        let sink = &mut |batch: std::result::Result<Vec<Fetched>, WireError>| {
            sink(batch.map_err(anyhow::Error::from))
        };
        // NOTE: a large fetch goes over two sessions at once. With inspect
        // cheap, a big-headers first sync was bound by the server's one
        // process per session: Dovecot's `imap` used 0.44 s of CPU, the
        // whole sync 0.49 s of wall time, while our own threads needed
        // 0.38 s (`sync_bench --cpu`, docs/perf-sync.md, fourth round).
        // Batches alternate between the sessions and reach `sink` in order,
        // so the sync stores them as it would from one.
        if uids.iter().map(Vec::len).sum::<usize>() >= TWO_SESSIONS_FROM {
            if let Some(mut other) = self.second_session() {
                if super::fetch::two_sessions(&mut self.wire, &mut other.wire, &uids, sink) {
                    other.logout();
                }
                return;
            }
        }
        super::fetch::Fetcher::new(&mut self.wire).run(&uids, sink);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uids_are_compressed_into_a_sequence_set() {
        assert_eq!(uid_set(&[1, 2, 3, 7, 9, 10]), "1:3,7,9:10");
    }
}

//! The rare read-write IMAP work, through the `imap` crate: filing a sent
//! reply (`\Answered` on the request, a copy in Sent), and the session the
//! Sent-mailbox lookup and `concierge check` use. The sync itself reads
//! through [`super::wire`] (see its note on why).

use super::imap::uid_set;
use super::transport::{clean, handshake, starttls, tcp, ImapError};
use crate::config::{AuthKind, Connection as ConnCfg, Security};
use crate::secret::Secret;
use anyhow::Result;

pub(super) type Session = imap::Session<imap::Connection>;

fn io_err(cfg: &ConnCfg, e: imap::Error) -> ImapError {
    ImapError::Transport {
        host: cfg.host.clone(),
        message: clean(e),
    }
}

/// Connects and logs in as `[imap]` says.
pub fn connect(cfg: &ConnCfg, password: &Secret) -> std::result::Result<Session, ImapError> {
    super::transport::check_plaintext(cfg)?;
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

/// After a reply was accepted: flags the answered message `\Answered`
/// (found by its Message-ID, so a UIDVALIDITY change does not matter) and
/// appends a copy of the reply, `\Seen`, to the Sent mailbox (the configured
/// one, created when missing, or the one [`super::namespace::find_sent`]
/// finds), unless Sent holds it already. Returns (flagged, copied).
pub fn file_reply(
    cfg: &ConnCfg,
    password: &Secret,
    answered_message_id: &str,
    reply_message_id: &str,
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
    // NOTE: a filing cut after its APPEND and before the store recorded it
    // (the screen quit, the connection died) is done again at the next
    // start: a copy already in Sent is not appended twice. (A Sent that
    // does not exist yet cannot be examined: no copy there.)
    let filed_before =
        session.examine(&sent).is_ok() && !exact_ids(&mut session, reply_message_id)?.is_empty();
    session.select(super::mutf7::encode(&cfg.mailbox))?;
    let exact = exact_ids(&mut session, answered_message_id)?;
    if !exact.is_empty() {
        session.uid_store(uid_set(&exact), "+FLAGS.SILENT (\\Answered)")?;
    }
    let flagged = !exact.is_empty();
    if filed_before {
        let _ = session.logout();
        return Ok((flagged, true));
    }
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

/// The UIDs of the selected mailbox's messages whose Message-ID is exactly
/// `message_id` (no angle brackets).
///
/// NOTE: the id is sanitized text from a message; it is quoted as an IMAP
/// quoted string (RFC 3501 §4.3), and what cannot be quoted matches
/// nothing. HEADER search matches substrings, so the hits are checked for
/// the exact id.
fn exact_ids(session: &mut Session, message_id: &str) -> Result<Vec<u32>> {
    let quotable = message_id
        .chars()
        .all(|c| c.is_ascii_graphic() && !matches!(c, '"' | '\\' | '<' | '>'));
    if !quotable || message_id.len() < 3 {
        return Ok(Vec::new());
    }
    let wanted = format!("<{message_id}>");
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
    Ok(exact)
}

//! Replies in the request's thread, to the right address.
//!
//! - Threading (RFC 5322 §3.6.4): `In-Reply-To` the message answered,
//!   `References` its references plus its id; the subject keeps the thread
//!   (`Re: ` once). A fresh `Message-ID` on the sending domain.
//! - Names are RFC 2047-encoded by lettre; the body is UTF-8 text.
//! - The reply goes to the requester's *account* email once the backend has
//!   resolved one, and says so when that differs from the From of the request.
//! - Sent over SMTP ([`super::smtp`]: one deadline for the whole send, a typed
//!   outcome) or into a Maildir outbox (the demo).

pub use super::smtp::SendError;
use crate::config::Connection as ConnCfg;
use anyhow::{anyhow, Context, Result};
use lettre::message::{header::ContentType, Mailbox};
use lettre::Message;
use std::path::PathBuf;

/// The message being answered.
#[derive(Debug, Clone)]
pub struct Answered {
    pub message_id: String,
    pub references: Vec<String>,
    pub subject: String,
    /// The From address of the request (lowercased).
    pub from: Option<String>,
}

/// A built reply, ready to send (and to send again, byte for byte, on retry).
#[derive(Debug, Clone)]
pub struct Reply {
    pub message_id: String,
    pub to: String,
    pub subject: String,
    pub bytes: Vec<u8>,
}

/// The subject that keeps the thread: one `Re: ` in front of the base subject.
pub fn reply_subject(subject: &str) -> String {
    let base = crate::intake::classify::base_subject(subject);
    if base.is_empty() {
        "Re: your data export request".into()
    } else {
        format!("Re: {base}")
    }
}

/// RFC 5322 §3.6.4: the parent's References (or In-Reply-To) plus its id.
/// Long chains keep the first and the last ones.
pub fn references(answered: &Answered) -> Vec<String> {
    let mut refs: Vec<String> = Vec::new();
    for r in answered
        .references
        .iter()
        .chain(std::iter::once(&answered.message_id))
    {
        if !r.is_empty() && !refs.contains(r) {
            refs.push(r.clone());
        }
    }
    if refs.len() > 20 {
        let tail = refs.split_off(refs.len() - 19);
        refs.truncate(1);
        refs.extend(tail);
    }
    refs
}

/// Builds the reply. `to` is the account email (or the From address when no
/// account has been resolved).
pub fn build_reply(
    from: &str,
    answered: &Answered,
    to: &str,
    to_name: Option<&str>,
    body: &str,
) -> Result<Reply> {
    let from: Mailbox = from
        .parse()
        .map_err(|e| anyhow!("[smtp] from: {from:?} is not an address ({e})"))?;
    let to_addr: lettre::Address = to
        .parse()
        .map_err(|e| anyhow!("recipient {to:?} is not an address ({e})"))?;
    let to_box = Mailbox::new(to_name.map(str::to_string), to_addr);
    let domain = from.email.domain().to_string();
    let message_id = format!("{}@{domain}", uuid::Uuid::new_v4());
    let mut text = String::new();
    if let Some(orig) = &answered.from {
        if !orig.eq_ignore_ascii_case(to) {
            text.push_str(&format!(
                "(We are replying to {to}, the email address of the Ochre account on file, and not to {orig}, the address your request came from.)\n\n"
            ));
        }
    }
    text.push_str(body);
    let refs = references(answered);
    let subject = reply_subject(&answered.subject);
    let msg = Message::builder()
        .from(from)
        .to(to_box)
        .subject(subject.clone())
        .message_id(Some(format!("<{message_id}>")))
        .in_reply_to(format!("<{}>", answered.message_id))
        .references(
            refs.iter()
                .map(|r| format!("<{r}>"))
                .collect::<Vec<_>>()
                .join(" "),
        )
        .header(ContentType::TEXT_PLAIN)
        .body(text)
        .context("cannot build the reply")?;
    Ok(Reply {
        message_id,
        to: to.to_string(),
        subject,
        bytes: msg.formatted(),
    })
}

/// The Message-ID a reply of ours answers: its `In-Reply-To` (RFC 5322
/// §3.6.4), written by [`build_reply`], without angle brackets. Filing a
/// reply later flags that message, not whichever is newest in the thread
/// by then.
pub fn answered_id(reply: &[u8]) -> Option<String> {
    let parsed = mail_parser::MessageParser::default().parse_headers(reply)?;
    let id = parsed.in_reply_to().as_text()?.trim();
    (!id.is_empty()).then(|| id.to_string())
}

/// Where replies go.
pub enum Sender {
    Smtp(super::smtp::SmtpSender),
    Maildir(PathBuf),
}

impl Sender {
    /// An SMTP sender from `[smtp]`.
    pub fn smtp(cfg: &ConnCfg) -> Result<Sender> {
        let from = cfg.from.as_deref().ok_or_else(|| {
            anyhow!("[smtp] from: missing (e.g. \"Ochre Concierge <hello@ochrehq.com>\")")
        })?;
        let from: Mailbox = from
            .parse()
            .map_err(|e| anyhow!("[smtp] from: not an address ({e})"))?;
        Ok(Sender::Smtp(super::smtp::SmtpSender::new(cfg, from.email)?))
    }

    /// Sends `reply`; `Ok` only once the server accepted it (or the file is
    /// in the outbox's `new/`). Whether a failure left the outcome unknown
    /// is [`SendError::is_unknown`]; the whole send takes at most
    /// [`super::smtp::SEND_TIMEOUT`].
    pub async fn send(&self, reply: &Reply) -> Result<(), SendError> {
        match self {
            Sender::Smtp(smtp) => {
                let to: lettre::Address = reply.to.parse().map_err(|e| SendError::NotSent {
                    host: "-".into(),
                    text: format!("recipient: {e}"),
                })?;
                smtp.send(&to, &reply.bytes).await
            }
            Sender::Maildir(dir) => {
                deliver_maildir(dir, &reply.message_id, &reply.bytes).map_err(|e| {
                    SendError::NotSent {
                        host: dir.display().to_string(),
                        text: format!("{e:#}"),
                    }
                })
            }
        }
    }
}

/// Writes a reply into a Maildir outbox through the one Maildir writer
/// ([`super::maildir::write`]: tmp/, fsync, rename into new/).
pub fn deliver_maildir(dir: &std::path::Path, unique: &str, bytes: &[u8]) -> Result<()> {
    let safe: String = unique
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let name = format!(
        "{}.{}.concierge",
        chrono::Utc::now().timestamp_micros(),
        safe
    );
    super::maildir::write(dir, &name, bytes)
        .with_context(|| format!("cannot write into the outbox {}", dir.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answered() -> Answered {
        Answered {
            message_id: "req-2@acme.example".into(),
            references: vec!["req-1@acme.example".into()],
            subject: "RE: Re: Data export request: Acme Support".into(),
            from: Some("ada.personal@gmail.example".into()),
        }
    }

    #[test]
    fn threading_headers_and_account_note() {
        let r = build_reply(
            "Ochre Concierge <hello@ochrehq.com>",
            &answered(),
            "owner@acme.example",
            Some("Ada Öwner"),
            "Hello",
        )
        .unwrap();
        let text = String::from_utf8(r.bytes.clone()).unwrap();
        assert!(text.contains("In-Reply-To: <req-2@acme.example>"), "{text}");
        assert!(
            text.contains("References: <req-1@acme.example> <req-2@acme.example>"),
            "{text}"
        );
        assert!(
            text.contains("Subject: Re: Data export request: Acme Support"),
            "{text}"
        );
        assert!(
            text.contains(&format!("Message-ID: <{}>", r.message_id))
                && r.message_id.ends_with("@ochrehq.com")
        );
        assert!(
            text.contains("=?utf-8?"),
            "name not RFC 2047 encoded: {text}"
        );
        assert!(
            text.contains("ada.personal@gmail.example"),
            "no note about the address"
        );
    }

    #[test]
    fn a_sent_reply_names_the_message_it_answers() {
        let r = build_reply(
            "hello@ochrehq.com",
            &answered(),
            "owner@acme.example",
            None,
            "Hi",
        )
        .unwrap();
        assert_eq!(answered_id(&r.bytes).as_deref(), Some("req-2@acme.example"));
        assert_eq!(answered_id(b"Subject: no thread\r\n\r\nhi\r\n"), None);
        assert_eq!(answered_id(b""), None);
    }

    #[test]
    fn no_note_when_writing_to_the_same_address() {
        let mut a = answered();
        a.from = Some("owner@acme.example".into());
        let r = build_reply("hello@ochrehq.com", &a, "owner@acme.example", None, "Hello").unwrap();
        assert!(!String::from_utf8(r.bytes)
            .unwrap()
            .contains("We are replying to"));
    }

    #[test]
    fn long_reference_chains_keep_first_and_last() {
        let mut a = answered();
        a.references = (0..40).map(|i| format!("r{i}@x")).collect();
        let refs = references(&a);
        assert_eq!(refs.len(), 20);
        assert_eq!(refs[0], "r0@x");
        assert_eq!(refs.last().unwrap(), "req-2@acme.example");
    }

    #[test]
    fn hostile_recipient_is_refused() {
        assert!(build_reply(
            "hello@ochrehq.com",
            &answered(),
            "a@b.example\r\nBcc: x@evil.example",
            None,
            "x"
        )
        .is_err());
    }
}

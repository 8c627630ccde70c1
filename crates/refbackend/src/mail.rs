//! The link email: composed here, delivered over SMTP (`--smtp`) or into a
//! Maildir outbox (`--outbox`).
//!
//! The message is plain text, 7-bit, with Date, Message-ID, From, To and
//! Subject; it says what the export includes and excludes and when the link
//! expires. Its Message-ID is derived from the job id, so a resend after a
//! crash (see [`super::store::JobStore::begin_email`]) is recognizably the
//! same message.

use super::seed::Ts;
use anyhow::{bail, Context, Result};
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Body, Mailbox};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use ochre_api::secret::Secret;
use ochre_api::text::thousands as n;
use ochre_api::WorkspaceSize;
use std::path::{Path, PathBuf};
use std::time::Duration;
use uuid::Uuid;

/// The environment variable holding the SMTP password (with a user in `--smtp`).
pub const SMTP_PASSWORD_ENV: &str = "CONCIERGE_BACKEND_SMTP_PASSWORD";

/// Where link emails go.
pub enum Mailer {
    Smtp {
        transport: AsyncSmtpTransport<Tokio1Executor>,
        describe: String,
    },
    /// A Maildir: each message written to `tmp/`, then renamed into `new/`.
    Outbox(PathBuf),
}

impl Mailer {
    /// An SMTP mailer from a URL: `smtp://host[:port]` (plaintext, loopback
    /// only), `smtps://[user@]host[:465]` (TLS) or
    /// `smtp+starttls://[user@]host[:587]`. The password of `user` comes from
    /// [`SMTP_PASSWORD_ENV`].
    pub fn smtp(url: &str) -> Result<Mailer> {
        let u = url::Url::parse(url)
            .with_context(|| format!("--smtp {url:?} is not a URL like smtp://127.0.0.1:2525"))?;
        let host = u
            .host_str()
            .with_context(|| format!("--smtp {url:?} has no host"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        if u.password().is_some() {
            bail!("--smtp must not carry a password; set {SMTP_PASSWORD_ENV} instead");
        }
        let mut b = match u.scheme() {
            "smtp" => {
                let loopback = ochre_api::net::is_loopback(&host);
                if !loopback {
                    bail!(
                        "--smtp {url:?}: plaintext smtp:// is allowed only to a loopback address; use smtps:// or smtp+starttls://"
                    );
                }
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.as_str())
                    .port(u.port().unwrap_or(25))
            }
            "smtps" => AsyncSmtpTransport::<Tokio1Executor>::relay(&host)
                .with_context(|| format!("--smtp {url:?}: could not set up TLS"))?
                .port(u.port().unwrap_or(465)),
            "smtp+starttls" => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&host)
                .with_context(|| format!("--smtp {url:?}: could not set up STARTTLS"))?
                .port(u.port().unwrap_or(587)),
            other => bail!("--smtp scheme {other:?} is not one of smtp, smtps, smtp+starttls"),
        };
        if !u.username().is_empty() {
            let user = percent_decode(u.username());
            let password: Secret = ochre_api::secret::from_env(SMTP_PASSWORD_ENV)
                .with_context(|| format!("--smtp names the user {user:?}"))?;
            b = b.credentials(Credentials::new(user, password.expose().to_string()));
        }
        let transport = b.timeout(Some(Duration::from_secs(30))).build();
        let mut shown = u.clone();
        let _ = shown.set_password(None);
        Ok(Mailer::Smtp {
            transport,
            describe: shown.to_string(),
        })
    }

    /// A Maildir outbox at `dir` (created if missing).
    pub fn outbox(dir: &Path) -> Result<Mailer> {
        for sub in ["tmp", "new", "cur"] {
            super::private::create_dir(&dir.join(sub))
                .with_context(|| format!("could not create the outbox {}", dir.display()))?;
        }
        Ok(Mailer::Outbox(dir.to_path_buf()))
    }

    pub fn describe(&self) -> String {
        match self {
            Mailer::Smtp { describe, .. } => describe.clone(),
            Mailer::Outbox(d) => format!("Maildir {}", d.display()),
        }
    }

    /// Delivers `msg`. `name` is a stable, unique name for the message (the
    /// Maildir file name): a message already in the outbox is not written again.
    pub async fn deliver(&self, msg: &Message, name: &str) -> Result<(), String> {
        match self {
            Mailer::Smtp { transport, .. } => transport
                .send(msg.clone())
                .await
                .map(|_| ())
                .map_err(|e| format!("SMTP: {e}")),
            Mailer::Outbox(dir) => {
                let bytes = msg.formatted();
                let dir = dir.clone();
                let name = name.to_string();
                tokio::task::spawn_blocking(move || write_maildir(&dir, &name, &bytes))
                    .await
                    .map_err(|e| format!("outbox: {e}"))?
                    .map_err(|e| format!("outbox: {e}"))
            }
        }
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Writes into `dir/tmp/NAME`, syncs, then renames into `dir/new/NAME`
/// (the Maildir delivery protocol). Idempotent by name.
fn write_maildir(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    ochre_api::maildir::write(dir, name, bytes).map(|_| ())
}

/// What the link email says.
pub struct LinkEmail<'a> {
    pub job_id: Uuid,
    pub to_email: &'a str,
    pub to_name: &'a str,
    pub workspace: &'a str,
    pub url: &'a str,
    pub expires_at: i64,
    pub size: WorkspaceSize,
}

/// The Maildir file name of a job's link email.
pub fn outbox_name(job_id: Uuid) -> String {
    format!("export-link-{job_id}.eml")
}

/// Composes the link email.
pub fn compose(from: &Mailbox, e: &LinkEmail<'_>) -> Result<Message> {
    let to: Mailbox = Mailbox::new(
        Some(ascii_name(e.to_name)),
        e.to_email
            .parse()
            .with_context(|| format!("the account email {:?} is not an address", e.to_email))?,
    );
    let domain = from.email.domain().to_string();
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(format!(
            "Your Ochre data export of {} is ready",
            ascii_name(e.workspace)
        ))
        .message_id(Some(format!("<export-{}@{}>", e.job_id, domain)))
        .header(ContentType::TEXT_PLAIN)
        .body(seven_bit(&body(e))?)
        .context("could not build the link email")
}

/// The text as a 7-bit body with CRLF line ends.
///
/// NOTE: 7bit, not quoted-printable, so that the download link (longer than
/// 76 characters) stays on one line, unbroken, in every mail client; RFC 5322
/// (section 2.1.1) allows lines up to 998 characters.
fn seven_bit(text: &str) -> Result<Body> {
    if !text.is_ascii() || text.lines().any(|l| l.len() > 998) {
        bail!("the link email is not 7-bit text");
    }
    let crlf = text.replace("\r\n", "\n").replace('\n', "\r\n");
    Ok(Body::dangerous_pre_encoded(
        crlf.into_bytes(),
        ContentTransferEncoding::SevenBit,
    ))
}

fn ascii_name(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() {
                c
            } else {
                '?'
            }
        })
        .collect()
}

fn body(e: &LinkEmail<'_>) -> String {
    let s = e.size;
    let expires = chrono::DateTime::from_timestamp(e.expires_at, 0)
        .map(|d| d.format("%A %-d %B %Y at %H:%M UTC").to_string())
        .unwrap_or_else(|| Ts(e.expires_at).to_string());
    let small = s.attachments - s.large_attachments;
    let mut t = String::new();
    t.push_str(&format!("Hello {},\n\n", ascii_name(e.to_name)));
    t.push_str(&format!(
        "the data export of your Ochre workspace \"{}\" is ready.\n\n",
        ascii_name(e.workspace)
    ));
    t.push_str("Download it here:\n\n");
    t.push_str(e.url);
    t.push_str("\n\n");
    t.push_str(&format!(
        "The link works until {expires} ({}). After that, request a new export.\n\n",
        Ts(e.expires_at)
    ));
    t.push_str("What the ZIP contains\n---------------------\n");
    t.push_str(&format!(
        "- conversations.json: {} conversations with status, timestamps,\n  assignee and tags\n",
        n(s.conversations)
    ));
    t.push_str(&format!(
        "- messages.json: {} messages, of which {} are internal notes\n  (marked \"visibility\": \"internal\")\n",
        n(s.messages),
        n(s.internal_notes)
    ));
    t.push_str(&format!(
        "- customers.json: {} customers with their custom fields\n",
        n(s.customers)
    ));
    t.push_str(&format!(
        "- articles.json: {} help-center articles, drafts included\n",
        n(s.articles)
    ));
    t.push_str(&format!(
        "- categories.json: {} categories with their ordering\n",
        n(s.categories)
    ));
    t.push_str(&format!(
        "- routing_rules.json: {} routing rules\n",
        n(s.routing_rules)
    ));
    t.push_str(&format!(
        "- team.json: {} team members with their roles\n",
        n(s.members)
    ));
    t.push_str(&format!("- attachments/: {} files under 50 MB\n", n(small)));
    if s.large_attachments > 0 {
        t.push_str(&format!(
            "- {} attachment(s) of 50 MB or more are not inside the ZIP: each is\n  listed in messages.json with its own download URL, valid as long\n  as this link\n",
            n(s.large_attachments)
        ));
    }
    t.push_str(
        "\nEvery .json file has one JSON record per line; its first line describes\n\
         the fields. Dates are ISO 8601 in UTC; ids are UUIDs that refer to each\n\
         other across the files.\n\n",
    );
    t.push_str("What is not included\n--------------------\n");
    t.push_str(
        "- billing data\n\
         - passwords and OAuth tokens of connected integrations\n\
         - your own API keys (BYOK): only each key's name and last 4 characters\n\n",
    );
    t.push_str(
        "We sent this link to the account email of the workspace member who\n\
         asked for the export. If that was not you, reply to this email.\n\n\
         Ochre Support\n",
    );
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_email_is_plain_well_formed_and_complete() {
        let from: Mailbox = "Ochre Exports <exports@ochrehq.com>".parse().unwrap();
        let job = Uuid::new_v4();
        let url = format!("http://127.0.0.1:1/downloads/{}", "A".repeat(90));
        let m = compose(
            &from,
            &LinkEmail {
                job_id: job,
                to_email: "owner@acme.example",
                to_name: "Ada Owner",
                workspace: "Acme Support",
                url: &url,
                expires_at: 1_790_000_000,
                size: WorkspaceSize {
                    messages: 12_000,
                    attachments: 3,
                    large_attachments: 1,
                    ..Default::default()
                },
            },
        )
        .unwrap();
        let text = String::from_utf8(m.formatted()).unwrap();
        assert!(
            text.contains(&format!("Message-ID: <export-{job}@ochrehq.com>")),
            "{text}"
        );
        assert!(text.contains("Date: "));
        assert!(
            text.contains("To: \"Ada Owner\" <owner@acme.example>"),
            "{text}"
        );
        assert!(text.contains("Content-Type: text/plain"));
        assert!(text.contains("Content-Transfer-Encoding: 7bit"), "{text}");
        assert!(text.contains(&format!("\r\n{url}\r\n")), "{text}");
        assert!(text.contains("12,000 messages"));
        assert!(text.contains("Not included") || text.contains("not included"));
        assert!(text.contains("2026-09-21T"), "{text}");
        assert!(text.is_ascii());
    }

    #[test]
    fn plaintext_smtp_only_to_loopback() {
        assert!(Mailer::smtp("smtp://127.0.0.1:2525").is_ok());
        assert!(Mailer::smtp("smtp://mail.example.com:25").is_err());
        assert!(Mailer::smtp("smtps://user:pw@mail.example.com").is_err());
        assert!(Mailer::smtp("http://x").is_err());
    }

    #[test]
    fn outbox_is_exactly_once() {
        let dir = tempfile::tempdir().unwrap();
        Mailer::outbox(dir.path()).unwrap();
        write_maildir(dir.path(), "x.eml", b"a").unwrap();
        write_maildir(dir.path(), "x.eml", b"b").unwrap();
        assert_eq!(std::fs::read(dir.path().join("new/x.eml")).unwrap(), b"a");
        assert_eq!(
            std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
            0
        );
    }
}

//! Sending one message over SMTP (RFC 5321) with a typed outcome.
//!
//! - One deadline bounds the WHOLE send — connect, TLS, EHLO, AUTH, MAIL,
//!   RCPT, DATA, the body and the server's final answer. NOTE: lettre's
//!   `timeout` is per read/write; a server that stalled after the body held a
//!   reply for 300 s. Now [`SEND_TIMEOUT`] (30 s) is the most a send takes.
//! - A failed send says which of three things happened, because the reply
//!   layer records them differently:
//!   - [`SendError::Refused`]: the server answered 4xx/5xx — not accepted;
//!   - [`SendError::NotSent`]: the body was never handed over — not sent;
//!   - [`SendError::Unknown`]: the body went out and no final answer came
//!     (connection dropped, deadline passed) — the server may have accepted
//!     it (RFC 5321 §4.1.1.4: only the reply to the end of data says so), so
//!     the reply is recorded as `sending`, never blindly sent again.
//! - Login with the password (PLAIN/LOGIN) or, with `auth = "oauth2"`, SASL
//!   XOAUTH2 with a token from `token_command`, fetched once per send and
//!   once more after a refusal.
//! - Implicit TLS (RFC 8314, `security = "tls"`), STARTTLS (RFC 3207,
//!   required, never opportunistic) or plaintext to loopback only.

use crate::config::{is_loopback, AuthKind, Connection as ConnCfg, Security};
use anyhow::{anyhow, bail, Context, Result};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, Certificate, Tls, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

/// The most one send may take, start to finish.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a send failed. The text is the server's, sanitized; never a secret.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The server answered with a 4xx/5xx code: it did not take the message.
    #[error("the SMTP server {host} did not accept the message: {text}")]
    Refused {
        host: String,
        code: Option<u16>,
        text: String,
    },
    /// Connection, TLS, login or envelope failed before the body was sent.
    #[error("the message was not sent: SMTP server {host}: {text}")]
    NotSent { host: String, text: String },
    /// The body was sent, then no final answer came: it may be delivered.
    #[error(
        "the SMTP server {host} did not confirm the message after it was sent ({text}); \
         it may have been delivered"
    )]
    Unknown { host: String, text: String },
}

impl SendError {
    /// True when the message may have been accepted (record it as `sending`).
    pub fn is_unknown(&self) -> bool {
        matches!(self, SendError::Unknown { .. })
    }
}

/// How far a send got; read after the deadline to name the outcome.
const CONNECTING: u8 = 0;
const AUTHENTICATING: u8 = 1;
const ENVELOPE: u8 = 2;
const BODY_SENT: u8 = 3;
const ACCEPTED: u8 = 4;

/// An SMTP server from `[smtp]`, ready to send.
pub struct SmtpSender {
    host: String,
    port: u16,
    tls: Tls,
    credentials: Option<Credentials>,
    /// With `auth = "oauth2"`: the settings to run `token_command` from,
    /// once per send (tokens live about an hour).
    oauth: Option<Box<ConnCfg>>,
    envelope_from: lettre::Address,
    timeout: Duration,
}

fn tls_for(cfg: &ConnCfg) -> Result<Tls> {
    if cfg.security == Security::None {
        if !is_loopback(&cfg.host) {
            bail!("[smtp] security = \"none\" is allowed only to a loopback address");
        }
        return Ok(Tls::None);
    }
    let mut params = TlsParameters::builder(cfg.host.clone());
    if let Some(ca) = &cfg.ca_file {
        let path = crate::config::expand_home(ca);
        let pem = std::fs::read(&path)
            .with_context(|| format!("cannot read [smtp] ca_file {}", path.display()))?;
        let cert = Certificate::from_pem(&pem)
            .map_err(|e| anyhow!("[smtp] ca_file {}: {e}", path.display()))?;
        params = params.add_root_certificate(cert);
    }
    let params = params.build_rustls().context("[smtp] TLS setup")?;
    Ok(if cfg.security == Security::Tls {
        Tls::Wrapper(params)
    } else {
        Tls::Required(params)
    })
}

fn clean(s: impl std::fmt::Display) -> String {
    let s = crate::intake::sanitize::single_line(&s.to_string()).text;
    crate::intake::classify::truncate_chars(&s, 300)
}

impl SmtpSender {
    /// From `[smtp]`: the connection, the password, and `from` as the
    /// envelope sender.
    pub fn new(cfg: &ConnCfg, envelope_from: lettre::Address) -> Result<SmtpSender> {
        let tls = tls_for(cfg)?;
        let oauth = (cfg.auth == AuthKind::Oauth2).then(|| Box::new(cfg.clone()));
        let credentials = if cfg.username.is_empty() || oauth.is_some() {
            None
        } else {
            let password = cfg.password().context("[smtp] password")?;
            Some(Credentials::new(
                cfg.username.clone(),
                password.expose().to_string(),
            ))
        };
        Ok(SmtpSender {
            host: cfg.host.clone(),
            port: cfg.port,
            tls,
            credentials,
            oauth,
            envelope_from,
            timeout: SEND_TIMEOUT,
        })
    }

    /// The same sender with another deadline for the whole send.
    pub fn with_timeout(mut self, timeout: Duration) -> SmtpSender {
        self.timeout = timeout;
        self
    }

    /// Sends `bytes` to `to`. `Ok` only once the server accepted the body.
    /// With OAuth, a refused token is fetched again and tried once more.
    pub async fn send(&self, to: &lettre::Address, bytes: &[u8]) -> Result<(), SendError> {
        let Some(cfg) = &self.oauth else {
            let login = self.credentials.as_ref().map(|c| (c, Mechanism::Plain));
            return self.attempt(to, bytes, login).await.0;
        };
        let token = |cfg: &ConnCfg| {
            cfg.password()
                .map(|t| Credentials::new(cfg.username.clone(), t.expose().to_string()))
                .map_err(|e| SendError::NotSent {
                    host: self.host.clone(),
                    text: clean(format!("{e:#}")),
                })
        };
        let first = token(cfg)?;
        match self
            .attempt(to, bytes, Some((&first, Mechanism::Xoauth2)))
            .await
        {
            // A refused token: 535, or an error challenge lettre gives up on.
            (Err(_), AUTHENTICATING) => {
                let fresh = token(cfg)?;
                let (result, stage) = self
                    .attempt(to, bytes, Some((&fresh, Mechanism::Xoauth2)))
                    .await;
                match result {
                    Err(_) if stage == AUTHENTICATING => Err(SendError::NotSent {
                        host: self.host.clone(),
                        text: "the access token from token_command was refused twice \
                               (expired, revoked, or without SMTP access)"
                            .into(),
                    }),
                    other => other,
                }
            }
            (result, _) => result,
        }
    }

    /// One connection and one try; also says how far it got.
    async fn attempt(
        &self,
        to: &lettre::Address,
        bytes: &[u8],
        login: Option<(&Credentials, Mechanism)>,
    ) -> (Result<(), SendError>, u8) {
        let stage = AtomicU8::new(CONNECTING);
        let outcome =
            tokio::time::timeout(self.timeout, self.converse(to, bytes, login, &stage)).await;
        let host = self.host.clone();
        let reached = stage.load(Ordering::SeqCst);
        let text = match outcome {
            Ok(Ok(())) => return (Ok(()), reached),
            Ok(Err(Fail::Refused(code, text))) => {
                return (Err(SendError::Refused { host, code, text }), reached)
            }
            Ok(Err(Fail::Other(text))) => text,
            Err(_) => format!("no answer within {} s", self.timeout.as_secs()),
        };
        let result = match reached {
            ACCEPTED => Ok(()),
            BODY_SENT => Err(SendError::Unknown { host, text }),
            _ => Err(SendError::NotSent { host, text }),
        };
        (result, reached)
    }

    /// The conversation; [`Self::send`] names a failure by `stage`.
    async fn converse(
        &self,
        to: &lettre::Address,
        bytes: &[u8],
        login: Option<(&Credentials, Mechanism)>,
        stage: &AtomicU8,
    ) -> Result<(), Fail> {
        let hello = ClientId::default();
        let wrapper = match &self.tls {
            Tls::Wrapper(p) => Some(p.clone()),
            _ => None,
        };
        let mut conn = AsyncSmtpConnection::connect_tokio1(
            (self.host.as_str(), self.port),
            Some(self.timeout),
            &hello,
            wrapper,
            None,
        )
        .await
        .map_err(|e| self.describe(e))?;
        if let Tls::Required(p) = &self.tls {
            if !conn.can_starttls() {
                return Err(Fail::Other("the server offers no STARTTLS".into()));
            }
            conn.starttls(p.clone(), &hello)
                .await
                .map_err(|e| self.describe(e))?;
        }
        if let Some((c, mechanism)) = login {
            stage.store(AUTHENTICATING, Ordering::SeqCst);
            let mechanisms: &[Mechanism] = match mechanism {
                Mechanism::Xoauth2 => &[Mechanism::Xoauth2],
                _ => &[Mechanism::Plain, Mechanism::Login],
            };
            conn.auth(mechanisms, c)
                .await
                .map_err(|e| self.describe(e))?;
        }
        stage.store(ENVELOPE, Ordering::SeqCst);
        let mut params = Vec::new();
        // RFC 6152: an 8-bit body needs BODY=8BITMIME where offered.
        if !bytes.is_ascii() && conn.server_info().supports_feature(Extension::EightBitMime) {
            params.push(MailParameter::Body(MailBodyParameter::EightBitMime));
        }
        let from = Some(self.envelope_from.clone());
        conn.command(Mail::new(from, params))
            .await
            .map_err(|e| self.describe(e))?;
        conn.command(Rcpt::new(to.clone(), Vec::new()))
            .await
            .map_err(|e| self.describe(e))?;
        conn.command(Data).await.map_err(|e| self.describe(e))?;
        stage.store(BODY_SENT, Ordering::SeqCst);
        conn.message(bytes).await.map_err(|e| self.describe(e))?;
        stage.store(ACCEPTED, Ordering::SeqCst);
        conn.abort().await; // QUIT; its answer changes nothing
        Ok(())
    }

    /// A 4xx/5xx answer is a refusal; anything else is a broken exchange.
    fn describe(&self, e: lettre::transport::smtp::Error) -> Fail {
        if e.is_permanent() || e.is_transient() {
            Fail::Refused(e.status().map(u16::from), clean(e))
        } else {
            Fail::Other(clean(e))
        }
    }
}

/// What went wrong inside the conversation.
enum Fail {
    Refused(Option<u16>, String),
    Other(String),
}

//! The IMAP connection under both clients: TCP with timeouts, TLS
//! (rustls; web PKI roots, the system's roots and an optional `ca_file`),
//! STARTTLS (RFC 3501 §6.2.1), or plaintext to a loopback address only;
//! and [`ImapError`], the one error type callers branch on (only
//! `Transport` is retried).

use super::shutdown::Shutdown;
use super::wire::Stream;
use crate::config::{is_loopback, Connection as ConnCfg, Security};
use crate::intake::sanitize;
use anyhow::{anyhow, Result};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

pub(super) const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
pub(super) const IO_TIMEOUT: Duration = Duration::from_secs(60);

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
pub fn clean(s: impl std::fmt::Display) -> String {
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

pub(super) fn tcp(cfg: &ConnCfg) -> std::result::Result<TcpStream, ImapError> {
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

pub(super) fn handshake(
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
pub(super) fn starttls(
    cfg: &ConnCfg,
    mut stream: TcpStream,
) -> std::result::Result<TcpStream, ImapError> {
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

/// Refuses plaintext to anything but a loopback address.
pub(super) fn check_plaintext(cfg: &ConnCfg) -> std::result::Result<(), ImapError> {
    if cfg.security == Security::None && !is_loopback(&cfg.host) {
        return Err(ImapError::Fatal {
            host: cfg.host.clone(),
            message: "plaintext IMAP is allowed only to a loopback address; use security = \"tls\" or \"starttls\"".into(),
        });
    }
    Ok(())
}

/// The connection as `[imap] security` says, ready for the greeting (after
/// STARTTLS the greeting was read already). With `watch`, its socket can be
/// shut down from another thread ([`Shutdown`]) from the moment it exists.
pub(super) fn open(
    cfg: &ConnCfg,
    watch: Option<&Shutdown>,
) -> std::result::Result<Box<dyn Stream>, ImapError> {
    check_plaintext(cfg)?;
    let stream = tcp(cfg)?;
    if let Some(w) = watch {
        w.watch(&stream);
    }
    Ok(match cfg.security {
        Security::Tls => Box::new(handshake(cfg, stream)?),
        Security::Starttls => Box::new(handshake(cfg, starttls(cfg, stream)?)?),
        Security::None => Box::new(stream),
    })
}

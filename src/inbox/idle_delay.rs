//! How long the server takes to announce new mail in IDLE (RFC 2177).
//!
//! The delay is the server's: Dovecot announces a message about 0.5 s after
//! it was appended; Cyrus without `idled` and Courier without enhanced IDLE
//! only every `imapidlepoll` seconds (60 by default). `concierge check`
//! measures it, so that a slow announcement is known rather than suspected.
//!
//! The probe never touches the support mailbox: it creates a scratch mailbox
//! ([`PROBE_MAILBOX`], in the personal namespace), waits in IDLE on it on one
//! connection, APPENDs one small message on another, times the announcement
//! and deletes the scratch mailbox again.

use super::imap::{connect, ImapSource};
use super::wire::quoted;
use crate::config::Connection as ConnCfg;
use crate::secret::Secret;
use anyhow::{anyhow, Context, Result};
use std::time::{Duration, Instant};

/// The scratch mailbox's name inside the personal namespace.
pub const PROBE_MAILBOX: &str = "Concierge IDLE probe";

/// What the probe found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum IdleDelay {
    /// The server has no IDLE: new mail is seen at the next poll.
    NoIdle,
    /// New mail was announced this long after the APPEND completed.
    Announced(Duration),
    /// Nothing was announced within the waiting time.
    Silent(Duration),
}

impl IdleDelay {
    /// One line for `concierge check`.
    pub fn describe(&self) -> String {
        match self {
            IdleDelay::NoIdle => {
                "the server has no IDLE: new mail is seen at the next poll".to_string()
            }
            IdleDelay::Announced(d) => format!(
                "new mail announced after {:.1} s (IDLE; measured with a scratch mailbox)",
                d.as_secs_f64()
            ),
            IdleDelay::Silent(d) => format!(
                "no announcement within {} s: the server announces new mail only \
                 every few minutes (e.g. Cyrus without idled); polls still find it",
                d.as_secs()
            ),
        }
    }
}

/// Measures the server's IDLE announcement delay, waiting at most `within`.
pub fn measure(cfg: &ConnCfg, password: &Secret, within: Duration) -> Result<IdleDelay> {
    let mut watcher = ImapSource::connect(cfg, password)?;
    if !watcher.supports_idle() {
        watcher.logout();
        return Ok(IdleDelay::NoIdle);
    }
    let name = format!("{}{PROBE_MAILBOX}", watcher.personal_namespace()?);
    let encoded = super::mutf7::encode(&name);
    let q = quoted(&encoded).ok_or_else(|| anyhow!("cannot quote the probe mailbox name"))?;
    let mut writer = connect(cfg, password)?;
    // A probe left behind by an interrupted run is reused.
    let _ = writer.create(&encoded);
    let result = (|| -> Result<IdleDelay> {
        let wire = watcher.wire();
        wire.run(&format!("EXAMINE {q}"), "EXAMINE")?;
        let (tag, early) = wire.idle_start()?;
        writer
            .append(&encoded, PROBE_MESSAGE)
            .finish()
            .context("APPEND to the probe mailbox")?;
        let appended = Instant::now();
        let announced = early || wire.idle_wait(within, within + Duration::from_secs(15))?;
        let waited = appended.elapsed();
        wire.idle_done(&tag)?;
        Ok(if announced {
            IdleDelay::Announced(waited)
        } else {
            IdleDelay::Silent(within)
        })
    })();
    watcher.logout();
    let deleted = writer.delete(&encoded);
    let _ = writer.logout();
    let delay = result?;
    deleted.with_context(|| format!("delete the probe mailbox {name:?}"))?;
    Ok(delay)
}

const PROBE_MESSAGE: &[u8] = b"From: Concierge <concierge@localhost>\r\n\
Subject: Concierge IDLE probe\r\nMessage-ID: <idle-probe@concierge.invalid>\r\n\r\n\
This message measures how fast the server announces new mail. It is \
deleted with its mailbox.\r\n";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delay_is_said_in_seconds_with_one_decimal() {
        assert_eq!(
            IdleDelay::Announced(Duration::from_millis(540)).describe(),
            "new mail announced after 0.5 s (IDLE; measured with a scratch mailbox)"
        );
        assert!(IdleDelay::Silent(Duration::from_secs(90))
            .describe()
            .contains("within 90 s"));
        assert!(IdleDelay::NoIdle.describe().contains("no IDLE"));
    }
}

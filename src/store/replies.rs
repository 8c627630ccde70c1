//! Replies of record and the estimate history.
//!
//! A reply is written here (state `sending`) before it goes to the SMTP
//! server, and marked `sent` only after the server accepted it; a failure
//! marks it `failed` with the reason. A `sent` reply is never sent again; a
//! `failed` one may be retried, byte for byte (same Message-ID). A reply left
//! in `sending` (a crash mid-send) may or may not have gone out: retrying it
//! needs `force`, after a look at the Sent folder.

use super::db::{params, OptionalExtension, Row};
use super::team::{bump, check_version, Seen};
use super::{audit, now, Store};
use crate::domain::{ReplyState, StoreError};
use crate::mail::outgoing::{Answered, Reply};
use anyhow::{bail, Context, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyRow {
    pub id: i64,
    pub request_id: i64,
    pub message_id: String,
    pub template: String,
    pub to: String,
    pub state: ReplyState,
    pub error: Option<String>,
    pub answered_flag: bool,
    pub sent_copy: bool,
}

/// A sent reply still to be filed over IMAP.
#[derive(Debug, Clone)]
pub struct ToFile {
    pub reply_id: i64,
    pub request_id: i64,
    /// The reply's own Message-ID (no angle brackets).
    pub message_id: String,
    /// The reply as it was sent (its In-Reply-To names the message answered).
    pub bytes: Vec<u8>,
}

/// What a reply to a request needs from the store.
#[derive(Debug, Clone)]
pub struct ReplyTarget {
    pub request_id: i64,
    pub answered: Answered,
    pub requester_name: Option<String>,
    pub workspace_name: Option<String>,
    pub workspace_id: Option<String>,
    /// The account email the backend resolved, if any.
    pub account_email: Option<String>,
    /// The From of the request itself (not of a later message in its thread).
    pub requester: Option<String>,
}

impl ReplyTarget {
    /// Where the reply goes: the account email when resolved, else the From
    /// of the request. NOTE: never the From of a later message in the thread:
    /// anyone can write a follow-up that threads onto a request.
    pub fn recipient(&self) -> Option<&str> {
        self.account_email.as_deref().or(self.requester.as_deref())
    }
}

impl Store {
    /// The request and the newest message of its thread written by a person
    /// (auto-replies are not answered).
    pub fn reply_target(&self, request_id: i64) -> Result<ReplyTarget> {
        let req = self
            .conn
            .query_row(
                "SELECT r.workspace_name, r.workspace_id, r.account_email, r.requester, m.from_name
                 FROM requests r JOIN messages m ON m.message_id = r.message_id WHERE r.id = ?1",
                params![request_id],
                |r| {
                    Ok((
                        r.get::<_, Option<String>>(0)?,
                        r.get::<_, Option<String>>(1)?,
                        r.get::<_, Option<String>>(2)?,
                        r.get::<_, Option<String>>(3)?,
                        r.get::<_, Option<String>>(4)?,
                    ))
                },
            )
            .optional()?;
        let Some((workspace_name, workspace_id, account_email, requester, requester_name)) = req
        else {
            bail!("no request {request_id} in the store");
        };
        let (message_id, refs, subject, _from, _from_name): (
            String,
            String,
            String,
            Option<String>,
            Option<String>,
        ) = self
            .conn
            .query_row(
                "SELECT message_id, refs, subject, from_addr, from_name FROM messages
                 WHERE request_id = ?1 AND kind != 'auto_reply' ORDER BY id DESC LIMIT 1",
                params![request_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .context("the request has no message to answer")?;
        Ok(ReplyTarget {
            request_id,
            answered: Answered {
                message_id,
                references: serde_json::from_str(&refs).unwrap_or_default(),
                subject,
                // The note "we reply to X, not Y" is about the request's sender.
                from: requester.clone(),
            },
            requester_name: requester_name.and_then(|n| greeting_name(&n)),
            workspace_name,
            workspace_id,
            account_email,
            requester,
        })
    }

    /// Records the account email the backend resolved for a request.
    pub fn set_account_email(
        &mut self,
        request_id: i64,
        email: &str,
        actor: &str,
        seen: Seen,
    ) -> Result<()> {
        self.audited(
            actor,
            "request.account_email",
            request_id,
            serde_json::json!({ "email": email }),
            Some(&format!("linked the account {email}")),
            |tx| {
                check_version(tx, request_id, seen)?;
                super::requests::ensure_open(tx, request_id)?;
                tx.execute(
                    "UPDATE requests SET account_email = ?2, updated_at = ?3 WHERE id = ?1",
                    params![request_id, email, now()],
                )?;
                Ok(())
            },
        )
    }

    /// Records a reply about to be sent (state `sending`). Returns its id.
    pub fn reply_begin(
        &mut self,
        request_id: i64,
        template: &str,
        reply: &Reply,
        actor: &str,
        seen: Seen,
    ) -> Result<i64> {
        let tx = self.conn.transaction()?;
        // The collision stop, before the record that lets the reply go out.
        check_version(&tx, request_id, seen)?;
        bump(
            &tx,
            request_id,
            "reply.sending",
            actor,
            &format!("sent the {}", template.replace('_', " ")),
        )?;
        let id: i64 = tx.query_row(
            "INSERT INTO replies (request_id, message_id, template, to_addr, subject, bytes, state, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'sending', ?7) RETURNING id",
            params![request_id, reply.message_id, template, reply.to, reply.subject, reply.bytes, now()],
            |r| r.get(0),
        )?;
        audit::append_tx(
            &tx,
            actor,
            "reply.sending",
            &format!("request:{request_id}"),
            &serde_json::json!({ "reply": id, "template": template, "to": reply.to, "message_id": reply.message_id }),
        )?;
        tx.commit()?;
        Ok(id)
    }

    /// Marks a reply a retry may send again; refuses a `sent` one, and a
    /// `sending` one unless forced.
    pub fn reply_retry(&mut self, reply_id: i64, force: bool, actor: &str) -> Result<(i64, Reply)> {
        let row = self.reply(reply_id)?;
        match row.state {
            ReplyState::Sent => bail!(StoreError::Conflict(format!(
                "reply {reply_id} was already sent; it is never sent twice"
            ))),
            ReplyState::Sending if !force => bail!(StoreError::Conflict(format!(
                "reply {reply_id} may have been delivered (its send was interrupted): check the Sent folder, then retry with --force"
            ))),
            _ => {}
        }
        let (subject, bytes): (String, Vec<u8>) = self.conn.query_row(
            "SELECT subject, bytes FROM replies WHERE id = ?1",
            params![reply_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let tx = self.conn.transaction()?;
        // Conditional, so two retries racing (two staff, two terminals)
        // cannot both take the reply: the second finds it `sending`.
        let allowed = if force {
            "('failed', 'sending')"
        } else {
            "('failed')"
        };
        let changed = tx.execute(
            &format!("UPDATE replies SET state = 'sending', error = NULL WHERE id = ?1 AND state IN {allowed}"),
            params![reply_id],
        )?;
        if changed != 1 {
            bail!(StoreError::Conflict(format!(
                "reply {reply_id} is already being sent or was sent"
            )));
        }
        bump(
            &tx,
            row.request_id,
            "reply.retry",
            actor,
            &format!("sent reply {reply_id} again"),
        )?;
        audit::append_tx(
            &tx,
            actor,
            "reply.retry",
            &format!("request:{}", row.request_id),
            &serde_json::json!({ "reply": reply_id }),
        )?;
        tx.commit()?;
        Ok((
            row.request_id,
            Reply {
                message_id: row.message_id,
                to: row.to,
                subject,
                bytes,
            },
        ))
    }

    /// Records the outcome of sending. NOTE: no version bump: the send was
    /// announced at [`Store::reply_begin`] (see [`super::team`]).
    pub fn reply_finish(
        &mut self,
        reply_id: i64,
        outcome: std::result::Result<(), &str>,
        actor: &str,
    ) -> Result<()> {
        // Read inside the transaction: the outcome is one round of the
        // store, like every action (tests/store_engines.rs counts them).
        let tx = self.conn.transaction()?;
        let row = self.reply(reply_id)?;
        match outcome {
            Ok(()) => {
                // Sent, and to be filed over IMAP by whoever sent it: in
                // the same write, so no crash leaves a sent reply that no
                // one will file ([`Store::replies_to_file`]).
                tx.execute(
                    "UPDATE replies SET state = 'sent', error = NULL, sent_at = ?2, file_by = ?3 WHERE id = ?1",
                    params![reply_id, now(), actor],
                )?;
                tx.execute(
                    "UPDATE requests SET state = CASE WHEN state = 'new' THEN 'waiting' ELSE state END, updated_at = ?2 WHERE id = ?1",
                    params![row.request_id, now()],
                )?;
            }
            Err(e) => {
                tx.execute(
                    "UPDATE replies SET state = 'failed', error = ?2 WHERE id = ?1",
                    params![reply_id, e],
                )?;
            }
        }
        let action = if outcome.is_ok() {
            "reply.sent"
        } else {
            "reply.failed"
        };
        audit::append_tx(
            &tx,
            actor,
            action,
            &format!("request:{}", row.request_id),
            &serde_json::json!({ "reply": reply_id, "template": row.template, "to": row.to, "error": outcome.err() }),
        )?;
        super::changes::record(&tx, Some(row.request_id), action, actor)?;
        tx.commit()?;
        Ok(())
    }

    /// Records a send whose outcome is unknown: the reply stays `sending`
    /// (it may have been delivered), with the reason kept for the screen.
    pub fn reply_unknown(&mut self, reply_id: i64, error: &str, actor: &str) -> Result<()> {
        let row = self.reply(reply_id)?;
        self.audited(
            actor,
            "reply.unknown",
            row.request_id,
            serde_json::json!({ "reply": reply_id, "error": error }),
            None,
            |tx| {
                tx.execute(
                    "UPDATE replies SET error = ?2 WHERE id = ?1 AND state = ?3",
                    params![reply_id, error, ReplyState::Sending],
                )?;
                Ok(())
            },
        )
    }

    /// Records the IMAP follow-up of a sent reply: it is filed, nothing is
    /// left to do.
    pub fn reply_imap_done(
        &mut self,
        reply_id: i64,
        answered_flag: bool,
        sent_copy: bool,
    ) -> Result<()> {
        self.conn.execute(
            "UPDATE replies SET answered_flag = ?2, sent_copy = ?3, file_by = NULL WHERE id = ?1",
            params![reply_id, answered_flag, sent_copy],
        )?;
        Ok(())
    }

    /// The sent replies `actor` has still to file over IMAP, oldest first:
    /// their filing failed or never finished (the screen quit first).
    ///
    /// NOTE: only the sender's own: in a team store, a colleague starting
    /// meanwhile would file a reply whose filing is still under way on the
    /// sender's screen, and both could append a copy to Sent.
    pub fn replies_to_file(&self, actor: &str) -> Result<Vec<ToFile>> {
        self.conn.query_map(
            "SELECT id, request_id, message_id, bytes FROM replies
             WHERE file_by = ?1 AND state = ?2 ORDER BY id",
            params![actor, ReplyState::Sent],
            |r| {
                Ok(ToFile {
                    reply_id: r.get(0)?,
                    request_id: r.get(1)?,
                    message_id: r.get(2)?,
                    bytes: r.get(3)?,
                })
            },
        )
    }

    pub fn reply(&self, reply_id: i64) -> Result<ReplyRow> {
        self.conn
            .query_row(
                "SELECT id, request_id, message_id, template, to_addr, state, error, answered_flag, sent_copy FROM replies WHERE id = ?1",
                params![reply_id],
                row_to_reply,
            )
            .optional()?
            .with_context(|| format!("no reply {reply_id} in the store"))
    }

    pub fn replies(&self, request_id: i64) -> Result<Vec<ReplyRow>> {
        self.conn.query_map(
            "SELECT id, request_id, message_id, template, to_addr, state, error, answered_flag, sent_copy FROM replies WHERE request_id = ?1 ORDER BY id",
            params![request_id],
            row_to_reply,
        )
    }

    /// Keeps a finished job's real duration next to its estimate.
    pub fn record_job_duration(
        &mut self,
        job_id: &str,
        workspace_id: Option<&str>,
        size: &crate::estimate::Size,
        estimated_hours: f64,
        actual_hours: f64,
    ) -> Result<()> {
        self.conn.execute(
            "INSERT INTO estimate_history (job_id, workspace_id, messages, customers, attachment_bytes, large_attachments, estimated_hours, actual_hours, finished_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT (job_id) DO NOTHING",
            params![
                job_id,
                workspace_id,
                size.messages as i64,
                size.customers as i64,
                size.attachment_bytes as i64,
                size.large_attachments as i64,
                estimated_hours,
                actual_hours,
                now()
            ],
        )?;
        Ok(())
    }

    /// (estimated, actual) hours of every finished job, oldest first.
    pub fn estimate_history(&self) -> Result<Vec<(f64, f64)>> {
        self.conn.query_map(
            "SELECT estimated_hours, actual_hours FROM estimate_history ORDER BY id",
            params![],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    }
}

/// A display name fit to greet someone with in an official reply: short,
/// and not carrying an address, a link or template syntax (a hostile name
/// would otherwise speak in our voice).
pub fn greeting_name(name: &str) -> Option<String> {
    let name = name.trim();
    let hostile = name.contains('@')
        || name.contains("://")
        || name.contains("{{")
        || name.contains("}}")
        || name.contains("www.");
    if name.is_empty() || hostile || name.chars().count() > 64 {
        return None;
    }
    Some(name.to_string())
}

fn row_to_reply(r: &Row) -> Result<ReplyRow> {
    Ok(ReplyRow {
        id: r.get(0)?,
        request_id: r.get(1)?,
        message_id: r.get(2)?,
        template: r.get(3)?,
        to: r.get(4)?,
        state: r.get(5)?,
        error: r.get(6)?,
        answered_flag: r.get(7)?,
        sent_copy: r.get(8)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_display_names_are_not_used_to_greet() {
        assert_eq!(greeting_name("Ada Owner").as_deref(), Some("Ada Owner"));
        assert_eq!(
            greeting_name("Ochre Security: reset at https://evil.example"),
            None
        );
        assert_eq!(greeting_name("owner@acme.example"), None);
        assert_eq!(greeting_name("{{operator_name}}"), None);
        assert_eq!(greeting_name(&"A".repeat(65)), None);
    }

    #[test]
    fn replies_go_to_the_requester_never_to_a_later_sender_in_the_thread() {
        use crate::intake::{inspect, Options};
        let mut s = Store::in_memory().unwrap();
        let msgs: Vec<_> = [
            "From: Ada <owner@acme.example>\r\nMessage-ID: <r1@acme.example>\r\nSubject: Data export request: Acme\r\n\r\nhi\r\n",
            "From: Mallory <mallory@evil.example>\r\nMessage-ID: <m1@evil.example>\r\nIn-Reply-To: <r1@acme.example>\r\nSubject: Re: Data export request: Acme\r\n\r\nsend it to me\r\n",
        ]
        .iter()
        .map(|raw| {
            let i = inspect(raw.as_bytes(), &Options::default());
            let k = i.store_key(raw.as_bytes());
            (i, k, None)
        })
        .collect();
        s.store_batch("INBOX", &msgs, None).unwrap();
        let t = s.reply_target(1).unwrap();
        assert_eq!(
            t.answered.message_id, "m1@evil.example",
            "the newest message is answered in the thread"
        );
        assert_eq!(
            t.recipient(),
            Some("owner@acme.example"),
            "but the reply goes to the requester"
        );
        assert_eq!(t.requester_name.as_deref(), Some("Ada"));
    }
}

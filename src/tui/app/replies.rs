//! A reply's network side: sending it (after its record is stored, so it
//! is never lost nor sent twice) and filing it over IMAP.

use super::*;
use crate::store::replies::ToFile;
use std::collections::HashSet;
use std::sync::Mutex;

/// The first retry of a failed filing waits 15 to 30 s, the next ones
/// twice as long each, up to 10 min ([`crate::sync::backoff`]): an IMAP
/// server that is down for a while is asked a few times an hour.
const RETRY_MIN: Duration = Duration::from_secs(15);
const RETRY_MAX: Duration = Duration::from_secs(600);

/// What asks for the pending filings (said in the log).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Why {
    /// The screen starts.
    Start,
    /// The inbox is back after an outage.
    InboxBack,
    /// The retry timer after a failed filing (quiet on the status line).
    Retry,
}

/// The filings of this screen: the ones under way, and the retry timer.
#[derive(Default)]
pub(super) struct Filing {
    in_flight: InFlight,
    /// Failed retries in a row (0 after a filing went through).
    attempt: u32,
    /// A retry is scheduled (one at a time).
    timer: bool,
}

/// The replies (ids) a filing thread holds. Shared with those threads:
/// each drops its ids as it finishes with them.
#[derive(Default, Clone)]
pub(super) struct InFlight(Arc<Mutex<HashSet<i64>>>);

impl InFlight {
    /// Keeps the replies not under way already and marks them so.
    fn take(&self, replies: Vec<ToFile>) -> Vec<ToFile> {
        let mut held = self.0.lock().unwrap_or_else(|e| e.into_inner());
        replies
            .into_iter()
            .filter(|r| held.insert(r.reply_id))
            .collect()
    }

    fn done(&self, reply_id: i64) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&reply_id);
    }
}

impl Runtime {
    /// Stores the reply's record, then sends it on a task.
    pub(super) fn send_reply(
        &mut self,
        id: i64,
        template: Template,
        body: &str,
        again: bool,
        seen: Option<i64>,
    ) -> Vec<Msg> {
        let Some(sender) = self.sender.clone() else {
            return Self::failed(id, "sending the reply", "no [smtp] configured");
        };
        let reply = match self
            .store
            .reply_target(id)
            .and_then(|t| crate::reply::build(&self.from, &t, body))
        {
            Ok(r) => r,
            Err(e) => return Self::failed(id, "building the reply", format!("{e:#}")),
        };
        let reply_id = match crate::ops::reply::begin(
            &mut self.store,
            id,
            template,
            &reply,
            again,
            &self.actor,
            seen,
        ) {
            Ok(r) => r,
            Err(e)
                if crate::domain::StoreError::of(&e)
                    .is_some_and(|s| matches!(s, crate::domain::StoreError::Stale { .. })) =>
            {
                return self.refused(id, "sending the reply", e)
            }
            Err(e) => return Self::failed(id, "recording the reply", format!("{e:#}")),
        };
        let tx = self.tx.clone();
        tokio::spawn(async move {
            let sent = crate::ops::reply::outcome_of(
                &sender.send(&reply).await.map_err(anyhow::Error::from),
            );
            let _ = tx.send(outcome(Outcome::ReplySent {
                id,
                reply_id,
                template,
                reply,
                outcome: sent,
            }));
        });
        vec![]
    }

    /// `\Answered` and the Sent copy of sent replies, one after another,
    /// on a thread of their own.
    ///
    /// NOTE: not on the runtime's blocking pool, which the quit waits for:
    /// a silent IMAP server held the quit for the 60 s read timeout. The
    /// process ends without waiting for this thread; a reply whose filing
    /// was cut so is still marked to file in the store (`file_by`), and the
    /// next start files it ([`Runtime::file_pending`]), once: a copy already
    /// in Sent is not appended again. A filing that failed is tried again
    /// when the inbox is back (`Command::FilePending`) and, with backoff,
    /// while the screen runs ([`Runtime::filing_failed`]): a screen that
    /// does not poll (a colleague holds the lease) never sees the inbox
    /// come back. A reply already being filed here is skipped: two filings
    /// at once could both find no copy in Sent and both append one.
    /// `announce`: a failure is said on the status line (not for the
    /// timer's quiet retries, which only log).
    pub(super) fn file_replies(&self, replies: Vec<ToFile>, announce: bool) {
        let Some(cfg) = self.config.clone() else {
            return;
        };
        let (Some(imap), crate::config::SourceKind::Imap) = (cfg.imap.clone(), cfg.intake.source)
        else {
            return;
        };
        let replies = self.filing.in_flight.take(replies);
        if replies.is_empty() {
            return;
        }
        // The message each one answers, read here: the store stays on the loop.
        let replies: Vec<(ToFile, Option<String>)> = replies
            .into_iter()
            .map(|r| {
                let answered = crate::mail::outgoing::answered_id(&r.bytes).or_else(|| {
                    let target = self.store.reply_target(r.request_id).ok()?;
                    Some(target.answered.message_id)
                });
                (r, answered)
            })
            .collect();
        let (tx, filing) = (self.tx.clone(), self.filing.in_flight.clone());
        workers::detached("reply-filing", move || {
            let mut failed = false;
            for (r, answered) in replies {
                let result = answered
                    .context("the reply names no message it answers")
                    .and_then(|a| {
                        let pw = imap.password()?;
                        crate::inbox::imap::file_reply(&imap, &pw, &a, &r.message_id, &r.bytes)
                    });
                let ev = match result {
                    Ok((flagged, copied)) => Some(outcome(Outcome::ReplyFiled {
                        reply_id: r.reply_id,
                        flagged,
                        copied,
                    })),
                    Err(e) => {
                        failed = true;
                        tracing::warn!(reply = r.reply_id, "filing the reply over IMAP: {e:#}");
                        announce.then(|| {
                            msg(Msg::Failed {
                                id: r.request_id,
                                what: "filing the reply over IMAP (tried again shortly)".into(),
                                error: format!("{e:#}"),
                            })
                        })
                    }
                };
                // Released once its outcome is on its way: a later filing
                // of the same reply runs after this one, never beside it
                // (and finds the Sent copy this one appended).
                let gone = ev.is_some_and(|ev| tx.send(ev).is_err());
                filing.done(r.reply_id);
                if gone {
                    return;
                }
            }
            if failed {
                let _ = tx.send(outcome(Outcome::FilingFailed));
            }
        });
    }

    /// A filing failed: files this operator's pending replies again after
    /// the backoff (one timer at a time).
    pub(super) fn filing_failed(&mut self) {
        if self.filing.timer {
            return;
        }
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let wait = crate::sync::backoff(self.filing.attempt, RETRY_MIN, RETRY_MAX);
        self.filing.attempt = self.filing.attempt.saturating_add(1);
        self.filing.timer = true;
        let tx = self.tx.clone();
        handle.spawn(async move {
            tokio::time::sleep(wait).await;
            let _ = tx.send(outcome(Outcome::FilingDue));
        });
    }

    /// The retry timer fired: quietly, the pending filings again.
    pub(super) fn filing_due(&mut self) {
        self.filing.timer = false;
        self.file_pending(Why::Retry);
    }

    /// A filing went through: the next failure starts the backoff afresh.
    pub(super) fn filing_done(&mut self) {
        self.filing.attempt = 0;
    }

    /// At start, when the inbox is back after an outage, and on the retry
    /// timer: files the replies this operator sent whose filing did not
    /// finish (the screen quit first, the IMAP server did not answer).
    pub(super) fn file_pending(&self, why: Why) {
        match self.store.replies_to_file(&self.actor) {
            Ok(pending) => {
                if !pending.is_empty() {
                    tracing::info!(
                        replies = pending.len(),
                        "filing the replies left to file: {why:?}"
                    );
                }
                self.file_replies(pending, why != Why::Retry)
            }
            Err(e) => tracing::warn!("reading the replies to file: {e:#}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn to_file(reply_id: i64) -> ToFile {
        ToFile {
            reply_id,
            request_id: 1,
            message_id: format!("r{reply_id}@ochrehq.com"),
            bytes: b"x".to_vec(),
        }
    }

    #[test]
    fn a_reply_being_filed_is_not_handed_out_again_until_its_filing_is_done() {
        let filing = InFlight::default();
        let first = filing.take(vec![to_file(1), to_file(2)]);
        assert_eq!(first.len(), 2);
        // The inbox is back while both are under way, and a third is new.
        let again = filing
            .clone()
            .take(vec![to_file(1), to_file(2), to_file(3)]);
        assert_eq!(
            again.iter().map(|r| r.reply_id).collect::<Vec<_>>(),
            vec![3]
        );
        filing.done(1);
        let later = filing.take(vec![to_file(1), to_file(2)]);
        assert_eq!(
            later.iter().map(|r| r.reply_id).collect::<Vec<_>>(),
            vec![1]
        );
    }
}

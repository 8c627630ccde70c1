//! What the workers' network work came to, as plain data.
//!
//! A worker never touches the store or the state: it sends an [`Outcome`]
//! (or a [`Msg`]) through the channel, and [`Runtime::apply`] records it in
//! the store, in one place, and answers with the messages for `update`.
//! Being data, an outcome can be logged, recorded and replayed.

use super::*;

/// A worker's result that the store must record.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// The backend started the export (or found it again by its key).
    ExportStarted { id: i64, job: JobSnap },
    /// The backend already had an export of the workspace: adopted, followed.
    ExportAdopted { id: i64, job: JobSnap },
    /// The backend refused the start for good; `job` records the failure.
    ExportRefused {
        id: i64,
        job: JobSnap,
        error: String,
    },
    /// The backend cancelled the job.
    JobCancelled { id: i64, job: JobSnap },
    /// No export of the workspace is live any more: the retry may start one.
    RetryCleared { id: i64, seen: Option<i64> },
    /// The job follower stopped (the job ended, or the backend lost it).
    FollowEnded { id: i64 },
    /// The mail server's answer about a reply: accepted, refused or unknown.
    ReplySent {
        id: i64,
        reply_id: i64,
        template: Template,
        reply: Reply,
        outcome: crate::ops::reply::Outcome,
    },
    /// The reply was flagged `\Answered` and copied to Sent over IMAP.
    ReplyFiled {
        reply_id: i64,
        flagged: bool,
        copied: bool,
    },
    /// The presence timer fired: a selection that rested is written now.
    PresenceDue,
    /// Filing a reply over IMAP failed: retried after a backoff.
    FilingFailed,
    /// The filing retry's timer fired.
    FilingDue,
}

pub(super) fn outcome(o: Outcome) -> Event {
    Event::Outcome(o)
}

impl Runtime {
    /// Records a worker's outcome; returns the messages for `update`.
    pub fn apply(&mut self, o: Outcome) -> Vec<Msg> {
        tracing::debug!("{}", outcome_name(&o));
        match o {
            Outcome::ExportStarted { id, job } => {
                let out = self.save_job(id, &job);
                self.follow_stored(id);
                out
            }
            Outcome::ExportAdopted { id, job } => {
                let mut out = self.save_job(id, &job);
                self.follow_stored(id);
                out.push(Msg::Done {
                    id,
                    what: format!("the backend already had export {}: following it", job.id),
                });
                out
            }
            Outcome::ExportRefused { id, job, error } => {
                let mut out = self.save_job(id, &job);
                out.extend(Self::failed(id, "starting the export", error));
                out
            }
            Outcome::JobCancelled { id, job } => {
                let mut out = self.save_job(id, &job);
                out.push(Msg::Done {
                    id,
                    what: "export cancelled".into(),
                });
                out
            }
            Outcome::RetryCleared { id, seen } => self.retry_now(id, seen),
            Outcome::FollowEnded { id } => {
                self.following.remove(&id);
                vec![]
            }
            Outcome::ReplySent {
                id,
                reply_id,
                template,
                reply,
                outcome,
            } => self.reply_sent(id, reply_id, template, reply, outcome),
            Outcome::ReplyFiled {
                reply_id,
                flagged,
                copied,
            } => {
                if let Err(e) = self.store.reply_imap_done(reply_id, flagged, copied) {
                    tracing::warn!(reply = reply_id, "recording the IMAP filing failed: {e:#}");
                }
                self.filing_done();
                vec![]
            }
            Outcome::FilingFailed => {
                self.filing_failed();
                vec![]
            }
            Outcome::FilingDue => {
                self.filing_due();
                vec![]
            }
            Outcome::PresenceDue => {
                self.presence_due();
                vec![]
            }
        }
    }

    fn follow_stored(&mut self, id: i64) {
        if let Ok(req) = self.store.load_request(id) {
            self.follow(id, &req);
        }
    }

    fn reply_sent(
        &mut self,
        id: i64,
        reply_id: i64,
        template: Template,
        reply: Reply,
        outcome: crate::ops::reply::Outcome,
    ) -> Vec<Msg> {
        use crate::ops::reply::Outcome as Sent;
        if let Err(e) = crate::ops::reply::finish(&mut self.store, reply_id, &outcome, &self.actor)
        {
            return Self::failed(id, "recording the reply", e);
        }
        let mut out = self.reload(id);
        match outcome {
            Sent::Accepted => {
                let words = template.file_stem().replace('_', " ");
                // "the "not owner or admin" rejection", not "the "reject
                // not owner or admin" reply".
                let what = match words.strip_prefix("reject ") {
                    Some(why) => format!("the \"{why}\" rejection was sent to {}", reply.to),
                    None => format!("the \"{words}\" reply was sent to {}", reply.to),
                };
                out.push(Msg::Done { id, what });
                self.file_replies(vec![crate::store::replies::ToFile {
                    reply_id,
                    request_id: id,
                    message_id: reply.message_id,
                    bytes: reply.bytes,
                }], true);
            }
            Sent::Refused(e) => out.extend(Self::failed(
                id,
                "sending the reply (it is kept; retry with `concierge reply --retry`)",
                e,
            )),
            Sent::Unknown(e) => out.extend(Self::failed(
                id,
                "sending the reply: it may have been delivered (check Sent; resend only with `concierge reply --retry N --force`)",
                e,
            )),
        }
        out
    }
}

/// The outcome's name and request, for the log (never a reply's bytes).
fn outcome_name(o: &Outcome) -> String {
    match o {
        Outcome::ExportStarted { id, .. } => format!("export started for #{id}"),
        Outcome::ExportAdopted { id, .. } => format!("export adopted for #{id}"),
        Outcome::ExportRefused { id, .. } => format!("export refused for #{id}"),
        Outcome::JobCancelled { id, .. } => format!("job cancelled for #{id}"),
        Outcome::RetryCleared { id, .. } => format!("retry cleared for #{id}"),
        Outcome::FollowEnded { id } => format!("following ended for #{id}"),
        Outcome::ReplySent { id, reply_id, .. } => format!("reply {reply_id} of #{id} answered"),
        Outcome::ReplyFiled { reply_id, .. } => format!("reply {reply_id} filed"),
        Outcome::PresenceDue => "presence due".into(),
        Outcome::FilingFailed => "a filing failed".into(),
        Outcome::FilingDue => "filing retry due".into(),
    }
}

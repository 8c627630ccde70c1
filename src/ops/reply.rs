//! Replying to a request: the checks, the composition, and the store
//! protocol around the send.
//!
//! The order is what keeps replies from being lost or sent twice: the reply
//! is in the store (`sending`, with its audit entry) before the SMTP server
//! sees it; `sent` only once the server accepted it; `failed` only when the
//! server refused it or was never reached. When the outcome is unknown (the
//! connection died after the message body went out, RFC 5321 §4.1.1.4), the
//! reply stays `sending`: it may have been delivered, so resending it needs
//! `--force` (or an explicit confirm on screen).

use crate::domain::{Action, ReplyState};
use crate::estimate::{Rates, Size};
use crate::mail::outgoing::Reply;
use crate::mail::templates::{Template, Templates};
use crate::store::requests::RequestView;
use crate::store::team::Seen;
use crate::store::Store;
use anyhow::Result;
use chrono::{DateTime, Utc};

/// Why a reply is not sent as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// "We are preparing your export" after an approval or a rejection.
    #[error("request {id} is {state}: an acknowledgement would contradict that decision")]
    AfterDecision {
        id: i64,
        state: crate::domain::RequestState,
    },
    /// The same template went out before (or may have: `sending`).
    #[error("{} was already sent to request {id}; send it again only on purpose (--force, or confirm)", template.file_stem())]
    Repeat { id: i64, template: Template },
}

/// Whether `template` may go to the request as it stands. `again` is the
/// operator's explicit "yes, the same template once more".
pub fn check(req: &RequestView, template: Template, again: bool) -> Result<(), Refusal> {
    if template == Template::Acknowledgement && !req.state.allows(Action::Acknowledge) {
        return Err(Refusal::AfterDecision {
            id: req.id,
            state: req.state,
        });
    }
    let before = req.replies.iter().any(|r| {
        r.template == template.file_stem()
            && matches!(r.state, ReplyState::Sent | ReplyState::Sending)
    });
    if before && !again {
        return Err(Refusal::Repeat {
            id: req.id,
            template,
        });
    }
    Ok(())
}

/// What a composition needs besides the store.
pub struct Compose<'a> {
    pub templates: &'a Templates,
    pub rates: &'a Rates,
    pub operator: &'a str,
    /// The workspace's size, when known (the screen keeps it in the store;
    /// the command line asks the backend).
    pub size: Option<Size>,
    /// For `reject_duplicate`: the request already in progress.
    pub existing_request: Option<String>,
    /// NOTE: the moment the reply is written. A date promised in a reply is
    /// counted from here, never from when the request arrived: a request
    /// read on Sunday must not be promised for last Friday (the SLA clock,
    /// which does start at receipt, is the screen's due column, not this).
    pub now: DateTime<Utc>,
}

/// The body of `template` for request `id`.
pub fn compose(store: &Store, id: i64, template: Template, c: &Compose<'_>) -> Result<String> {
    let mut target = store.reply_target(id)?;
    if target.workspace_name.is_none() && template.is_rejection() {
        target.workspace_name = Some("your workspace".into());
    }
    let facts = crate::reply::Facts {
        size: c.size,
        existing_request: c.existing_request.clone(),
        link_ttl_days: None,
    };
    crate::reply::compose(
        &target,
        c.templates,
        c.rates,
        c.operator,
        template,
        &facts,
        c.now,
    )
}

/// Records a new reply as `sending`, after checking it may go; returns its id.
pub fn begin(
    store: &mut Store,
    id: i64,
    template: Template,
    reply: &Reply,
    again: bool,
    actor: &str,
    seen: Seen,
) -> Result<i64> {
    let req = store.load_request(id)?;
    // A colleague's reply would also trip the repeat check below; the
    // collision stop goes first because it says who did what.
    if let Some(seen) = seen.filter(|&v| v != req.version) {
        return Err(crate::domain::StoreError::Stale {
            id,
            seen,
            now: req.version,
            changes: store.changes_since(id, seen)?,
        }
        .into());
    }
    check(&req, template, again)?;
    // Checked against what was just read when the caller saw nothing
    // itself (the command line reads, then acts): a change between this
    // check and the record still stops it.
    let seen = Some(seen.unwrap_or(req.version));
    store.reply_begin(id, template.file_stem(), reply, actor, seen)
}

/// What the SMTP server (or the outbox) did with a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Accepted,
    /// Refused, or never reached: nothing was delivered; a retry is safe.
    Refused(String),
    /// It may have been delivered: the reply stays `sending`.
    Unknown(String),
}

/// Marks a send error whose outcome is unknown (the connection was lost
/// after the message body was sent). A sender wraps its error in this, and
/// [`outcome_of`] keeps such a reply `sending` instead of `failed`.
#[derive(Debug, thiserror::Error)]
#[error("the connection was lost after the reply was sent; it may have been delivered: {0}")]
pub struct OutcomeUnknown(pub String);

/// The outcome of a send result.
pub fn outcome_of(result: &Result<()>) -> Outcome {
    match result {
        Ok(()) => Outcome::Accepted,
        Err(e)
            if e.chain().any(|c| {
                c.is::<OutcomeUnknown>()
                    || c.downcast_ref::<crate::mail::outgoing::SendError>()
                        .is_some_and(|s| s.is_unknown())
            }) =>
        {
            Outcome::Unknown(format!("{e:#}"))
        }
        Err(e) => Outcome::Refused(format!("{e:#}")),
    }
}

/// Records the outcome of sending reply `reply_id`.
pub fn finish(store: &mut Store, reply_id: i64, outcome: &Outcome, actor: &str) -> Result<()> {
    match outcome {
        Outcome::Accepted => store.reply_finish(reply_id, Ok(()), actor),
        Outcome::Refused(e) => store.reply_finish(reply_id, Err(e), actor),
        Outcome::Unknown(e) => store.reply_unknown(reply_id, e, actor),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{RequestState, StoreError};
    use crate::intake::{inspect, Options};
    use chrono::TimeZone;

    /// A store with one request that arrived on Friday 20 November 2026.
    fn store() -> Store {
        let mut s = Store::in_memory().unwrap();
        let raw = "From: Ada <owner@acme.example>\r\nDate: Fri, 20 Nov 2026 09:00:00 +0000\r\nMessage-ID: <r1@acme.example>\r\nSubject: Data export request: Acme Support\r\n\r\nhi\r\n";
        let i = inspect(raw.as_bytes(), &Options::default());
        let key = i.store_key(raw.as_bytes());
        s.store_batch("INBOX", &[(i, key, None)], None).unwrap();
        s
    }

    fn reply(n: u32) -> Reply {
        Reply {
            message_id: format!("reply-{n}@ochrehq.com"),
            to: "owner@acme.example".into(),
            subject: "Re: Data export request: Acme Support".into(),
            bytes: format!("reply {n}").into_bytes(),
        }
    }

    fn small() -> Size {
        Size {
            messages: 12_000,
            customers: 900,
            attachment_bytes: 80_000_000,
            large_attachments: 1,
        }
    }

    #[test]
    fn a_promised_date_counts_from_now_not_from_receipt() {
        let s = store();
        let (templates, rates) = (Templates::load(None).unwrap(), Rates::default());
        // Read on Sunday 29 November, nine days after the mail arrived.
        let now = Utc.with_ymd_and_hms(2026, 11, 29, 10, 0, 0).unwrap();
        let c = Compose {
            templates: &templates,
            rates: &rates,
            operator: "Sam",
            size: Some(small()),
            existing_request: None,
            now,
        };
        let body = compose(&s, 1, Template::Acknowledgement, &c).unwrap();
        let from_now = rates.estimate(&small(), now);
        let promised = from_now.due;
        assert!(promised > now, "{promised}");
        let expected = crate::reply::human_due(&rates, from_now.due);
        assert!(
            body.contains(&expected),
            "expected {expected:?} in:\n{body}"
        );
        let received = Utc.with_ymd_and_hms(2026, 11, 20, 9, 0, 0).unwrap();
        let from_receipt = rates.estimate(&small(), received);
        let stale = crate::reply::human_due(&rates, from_receipt.due);
        assert!(
            !body.contains(&stale),
            "a date from receipt ({stale}):\n{body}"
        );
    }

    #[test]
    fn an_acknowledgement_without_a_size_says_so_in_words() {
        let s = store();
        let (templates, rates) = (Templates::load(None).unwrap(), Rates::default());
        let mut c = Compose {
            templates: &templates,
            rates: &rates,
            operator: "Sam",
            size: None,
            existing_request: None,
            now: Utc::now(),
        };
        let body = compose(&s, 1, Template::Acknowledgement, &c).unwrap();
        assert!(body.contains(crate::reply::UNKNOWN_DUE), "{body}");
        assert!(!body.contains("{{"), "{body}");
        // The specific estimate cannot be written without a size: a clear
        // refusal, not a template error.
        let e = compose(&s, 1, Template::EstimateOver48h, &c).unwrap_err();
        assert!(
            format!("{e:#}").contains("size of the workspace is unknown"),
            "{e:#}"
        );
        c.size = Some(small());
        assert!(compose(&s, 1, Template::EstimateOver48h, &c).is_ok());
    }

    #[test]
    fn no_acknowledgement_after_a_decision_and_no_template_twice_unasked() {
        let mut s = store();
        let id = begin(
            &mut s,
            1,
            Template::Acknowledgement,
            &reply(1),
            false,
            "sam",
            None,
        )
        .unwrap();
        finish(&mut s, id, &Outcome::Accepted, "sam").unwrap();
        let e = begin(
            &mut s,
            1,
            Template::Acknowledgement,
            &reply(2),
            false,
            "sam",
            None,
        )
        .unwrap_err();
        assert!(
            matches!(e.downcast_ref::<Refusal>(), Some(Refusal::Repeat { .. })),
            "{e:#}"
        );
        // Asked for: it goes.
        begin(
            &mut s,
            1,
            Template::Acknowledgement,
            &reply(3),
            true,
            "sam",
            None,
        )
        .unwrap();
        // Another template is no repeat.
        begin(
            &mut s,
            1,
            Template::ScopeQuestion,
            &reply(4),
            false,
            "sam",
            None,
        )
        .unwrap();

        s.reject(1, "not an owner", "sam", None).unwrap();
        let v = s.load_request(1).unwrap();
        assert_eq!(v.state, RequestState::Rejected);
        for again in [false, true] {
            assert_eq!(
                check(&v, Template::Acknowledgement, again),
                Err(Refusal::AfterDecision {
                    id: 1,
                    state: RequestState::Rejected
                })
            );
        }
        assert!(check(&v, Template::RejectNotOwnerOrAdmin, false).is_ok());
    }

    #[test]
    fn an_unknown_outcome_stays_sending_and_only_force_resends_it_once() {
        let mut s = store();
        let id = begin(
            &mut s,
            1,
            Template::Acknowledgement,
            &reply(1),
            false,
            "sam",
            None,
        )
        .unwrap();
        let lost: Result<()> = Err(anyhow::Error::new(OutcomeUnknown(
            "connection reset after DATA".into(),
        )));
        let outcome = outcome_of(&lost);
        assert!(matches!(outcome, Outcome::Unknown(_)), "{outcome:?}");
        finish(&mut s, id, &outcome, "sam").unwrap();
        let row = s.reply(id).unwrap();
        assert_eq!(row.state, ReplyState::Sending, "it may have been delivered");
        assert!(row.error.is_some());
        // A plain retry is refused; --force takes it, once.
        let e = s.reply_retry(id, false, "sam").unwrap_err();
        assert!(
            matches!(StoreError::of(&e), Some(StoreError::Conflict(_))),
            "{e:#}"
        );
        let (_, again) = s.reply_retry(id, true, "sam").unwrap();
        assert_eq!(again.bytes, reply(1).bytes);
        // A refused send is `failed`, and a plain retry takes it.
        let refused: Result<()> = Err(anyhow::anyhow!("550 no such user"));
        finish(&mut s, id, &outcome_of(&refused), "sam").unwrap();
        assert_eq!(s.reply(id).unwrap().state, ReplyState::Failed);
        s.reply_retry(id, false, "sam").unwrap();
        // Two retries racing: the second finds it taken.
        assert!(s.reply_retry(id, false, "sam").is_err());
    }

    #[test]
    fn a_reply_written_before_the_customer_wrote_again_stops_and_nothing_is_recorded() {
        let mut s = store();
        let seen = s.load_request(1).unwrap().version;
        let follow = "From: owner@acme.example\r\nMessage-ID: <f1@acme.example>\r\nIn-Reply-To: <r1@acme.example>\r\nSubject: Re: Data export request: Acme Support\r\n\r\nPlease only export March.\r\n";
        let i = inspect(follow.as_bytes(), &Options::default());
        let key = i.store_key(follow.as_bytes());
        s.store_batch("INBOX", &[(i, key, None)], None).unwrap();
        let e = begin(
            &mut s,
            1,
            Template::Acknowledgement,
            &reply(1),
            false,
            "sam",
            Some(seen),
        )
        .unwrap_err();
        assert!(
            matches!(StoreError::of(&e), Some(StoreError::Stale { .. })),
            "{e:#}"
        );
        assert!(
            e.to_string()
                .contains("the customer replied: “Please only export March.”"),
            "{e}"
        );
        assert!(
            s.replies(1).unwrap().is_empty(),
            "nothing recorded, nothing sent"
        );
        // Read again (what `concierge reply` does): it goes.
        begin(
            &mut s,
            1,
            Template::Acknowledgement,
            &reply(1),
            false,
            "sam",
            None,
        )
        .unwrap();
    }
}

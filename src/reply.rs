//! Answering a request: template → reply in the thread → sent → filed.
//!
//! The store protocol around the send (record, send, outcome) is
//! [`crate::ops::reply`]'s, shared with the screen; this module renders
//! templates, builds the message, and files a sent reply over IMAP (the
//! original flagged `\Answered`, a copy appended to Sent).

use crate::config::Config;
use crate::estimate::{Rates, Size};
use crate::mail::outgoing::{build_reply, Reply, Sender};
use crate::mail::templates::{Template, Templates};
use crate::store::replies::ReplyTarget;
use crate::store::Store;
use anyhow::{anyhow, Result};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// What a template may need beyond the store.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// The workspace's size, for the estimate placeholders.
    pub size: Option<Size>,
    /// For `reject_duplicate`: the request already in progress.
    pub existing_request: Option<String>,
    pub link_ttl_days: Option<u32>,
}

/// What an acknowledgement promises when the workspace's size is unknown.
pub const UNKNOWN_DUE: &str =
    "a date we will confirm by email as soon as we have measured the workspace";

/// "Monday 30 November 2026, 18:00 CET", in the team's time zone.
pub fn human_due(rates: &Rates, due: DateTime<Utc>) -> String {
    due.with_timezone(&rates.calendar().tz())
        .format("%A %-d %B %Y, %H:%M %Z")
        .to_string()
}

/// Renders `template` for the request.
pub fn compose(
    target: &ReplyTarget,
    templates: &Templates,
    rates: &Rates,
    operator: &str,
    template: Template,
    facts: &Facts,
    now: DateTime<Utc>,
) -> Result<String> {
    let mut vars: BTreeMap<&str, String> = BTreeMap::new();
    vars.insert(
        "requester_name",
        target
            .requester_name
            .clone()
            .unwrap_or_else(|| "there".into()),
    );
    if let Some(ws) = &target.workspace_name {
        vars.insert("workspace_name", ws.clone());
    }
    vars.insert("operator_name", operator.to_string());
    vars.insert(
        "link_ttl_days",
        facts.link_ttl_days.unwrap_or(7).to_string(),
    );
    if let Some(size) = &facts.size {
        let e = rates.estimate(size, now);
        vars.insert("due_date", human_due(rates, e.due));
        vars.insert("business_days", e.business_days.to_string());
        vars.insert("hours", format!("{:.0}", e.hours.ceil()));
    } else if template == Template::Acknowledgement {
        // Size unknown: the acknowledgement still goes out, and says so in
        // words ("ready by a date we will confirm …") instead of a date.
        vars.insert("due_date", UNKNOWN_DUE.to_string());
    } else if template == Template::EstimateOver48h {
        return Err(anyhow!(
            "the size of the workspace is unknown: look it up on the backend before sending the specific estimate"
        ));
    }
    if let Some(x) = &facts.existing_request {
        vars.insert("existing_request", x.clone());
    }
    templates.render(template, &vars)
}

/// Builds the reply for the request (to the account email when resolved).
pub fn build(cfg_from: &str, target: &ReplyTarget, body: &str) -> Result<Reply> {
    let to = target
        .recipient()
        .ok_or_else(|| anyhow!("request {} has no address to reply to", target.request_id))?;
    build_reply(
        cfg_from,
        &target.answered,
        to,
        target.requester_name.as_deref(),
        body,
    )
}

/// Sends and files a reply already recorded as `sending` (by
/// [`crate::ops::reply::begin`] or a retry); returns the reply id. A refused
/// send leaves it `failed`, an unknown outcome `sending`; both return the error.
pub async fn send(
    store: &mut Store,
    sender: &Sender,
    cfg: &Config,
    reply_id: i64,
    reply: &Reply,
) -> Result<i64> {
    let operator = cfg.operator.id();
    let result = sender.send(reply).await.map_err(anyhow::Error::from);
    let outcome = crate::ops::reply::outcome_of(&result);
    crate::ops::reply::finish(store, reply_id, &outcome, &operator)?;
    result?;
    file(store, cfg, reply_id, reply)?;
    Ok(reply_id)
}

/// The IMAP part: `\Answered` and the Sent copy, when the inbox is IMAP.
/// A failure here is reported but does not undo the sent reply.
fn file(store: &mut Store, cfg: &Config, reply_id: i64, reply: &Reply) -> Result<()> {
    let (Some(imap), crate::config::SourceKind::Imap) = (&cfg.imap, cfg.intake.source) else {
        return Ok(());
    };
    let row = store.reply(reply_id)?;
    let answered = match crate::mail::outgoing::answered_id(&reply.bytes) {
        Some(id) => id,
        None => store.reply_target(row.request_id)?.answered.message_id,
    };
    let password = imap.password()?;
    // A failure leaves the reply to file (`file_by`): the screen's next
    // start files it.
    let (flagged, copied) = crate::inbox::imap::file_reply(
        imap,
        &password,
        &answered,
        &reply.message_id,
        &reply.bytes,
    )
    .map_err(|e| anyhow!("the reply was sent, but filing it over IMAP failed (the screen's next start files it): {e:#}"))?;
    store.reply_imap_done(reply_id, flagged, copied)
}

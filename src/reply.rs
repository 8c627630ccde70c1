//! Answering a request: template → reply in the thread → sent → filed.
//!
//! The order is what keeps replies from being lost or sent twice: the reply
//! is in the store (`sending`, with the audit entry) before the SMTP server
//! sees it; `sent` only after the server accepted it; then the original is
//! flagged `\Answered` and a copy appended to Sent. A failure leaves a
//! `failed` reply that the user retries, byte for byte.

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

/// "Monday 30 November 2026, 18:00 CET", in the team's time zone.
pub fn human_due(rates: &Rates, due_rfc3339: &str) -> Result<String> {
    let cal = rates.validate()?;
    let due = DateTime::parse_from_rfc3339(due_rfc3339)?.with_timezone(&cal.tz());
    Ok(due.format("%A %-d %B %Y, %H:%M %Z").to_string())
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
        let e = rates.estimate(size, now)?;
        vars.insert("due_date", human_due(rates, &e.due)?);
        vars.insert("business_days", e.business_days.to_string());
        vars.insert("hours", format!("{:.0}", e.hours.ceil()));
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

/// Records, sends and files a reply; returns the reply id. On a send
/// failure the reply is `failed` in the store and the error returned.
pub async fn send(
    store: &mut Store,
    sender: &Sender,
    cfg: &Config,
    request_id: i64,
    template: &str,
    reply: &Reply,
    existing_reply: Option<i64>,
) -> Result<i64> {
    let operator = cfg.operator.name.clone();
    let id = match existing_reply {
        Some(id) => id,
        None => store.reply_begin(request_id, template, reply, &operator)?,
    };
    if let Err(e) = sender.send(reply).await {
        let msg = format!("{e:#}");
        store.reply_finish(id, Err(&msg), &operator)?;
        return Err(e.into());
    }
    store.reply_finish(id, Ok(()), &operator)?;
    file(store, cfg, id, reply)?;
    Ok(id)
}

/// The IMAP part: `\Answered` and the Sent copy, when the inbox is IMAP.
/// A failure here is reported but does not undo the sent reply.
fn file(store: &mut Store, cfg: &Config, reply_id: i64, reply: &Reply) -> Result<()> {
    let (Some(imap), crate::config::SourceKind::Imap) = (&cfg.imap, cfg.intake.source) else {
        return Ok(());
    };
    let row = store.reply(reply_id)?;
    let answered = store.reply_target(row.request_id)?.answered.message_id;
    let password = imap.password()?;
    let (flagged, copied) =
        crate::inbox::imap::file_reply(imap, &password, &answered, &reply.bytes)
            .map_err(|e| anyhow!("the reply was sent, but filing it over IMAP failed: {e:#}"))?;
    store.reply_imap_done(reply_id, flagged, copied)
}

//! Writes [`Rows`] into a real store (its SQLite schema, its stored
//! strings), so tests and the benchmark read them back through [`super::load`]
//! exactly as they would read a store the screen wrote.
//!
//! NOTE: the audit entries written here carry placeholder hashes (their
//! times are chosen by the caller, which `audit::append_tx` cannot do):
//! `audit verify` fails on such a store. Only the figures read it.

use super::Rows;
use crate::store::db::params;
use crate::store::Store;
use anyhow::Result;
use chrono::{DateTime, SecondsFormat, Utc};

fn t(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Inserts `rows` (request ids as given) in one transaction. A request's
/// `rejected_at` without a matching `request.rejected` activity row gets
/// one by the actor `fixture`.
pub fn write(store: &Store, rows: &Rows) -> Result<()> {
    let tx = store.conn().transaction()?;
    let mut audit = Vec::new();
    for r in &rows.requests {
        let msg_id = format!("fixture-{}@stats.example", r.id);
        let size = r.size.map(|s| {
            serde_json::json!({
                "conversations": 0, "messages": s.messages, "internal_notes": 0,
                "customers": s.customers, "articles": 0, "categories": 0,
                "routing_rules": 0, "members": 0, "attachments": 0,
                "attachment_bytes": s.attachment_bytes, "large_attachments": s.large_attachments,
            })
            .to_string()
        });
        let job = r.emailed_at.map(|e| {
            serde_json::json!({
                "id": format!("job-{}", r.id), "status": "emailed", "phase": null,
                "progress": 1.0, "created_at": null, "finished_at": null,
                "emailed_at": t(e), "deliver_to": null, "link_expires_at": null, "error": null,
            })
            .to_string()
        });
        tx.execute(
            "INSERT INTO requests (id, message_id, state, workspace_name, requester, subject, received_at, updated_at, size, job)
             VALUES (?1, ?2, ?3, ?4, ?5, 'Data export request', ?6, ?6, ?7, ?8)",
            params![r.id, msg_id, r.state, r.workspace, r.requester, t(r.received_at), size, job],
        )?;
        tx.execute(
            "INSERT INTO messages (message_id, request_id, mailbox, kind, date, from_addr, subject, refs, dkim, spf, dmarc, warnings, body, stored_at)
             VALUES (?1, ?2, 'INBOX', 'export_request', ?3, ?4, 'Data export request', '[]', 'pass', 'pass', 'pass', '[]', '', ?3)",
            params![msg_id, r.id, t(r.received_at), r.requester],
        )?;
        if let Some(at) = r.first_reply_at {
            tx.execute(
                "INSERT INTO replies (request_id, message_id, template, to_addr, subject, bytes, state, created_at, sent_at)
                 VALUES (?1, ?2, 'acknowledgement', 'x@example', 'Re', x'', 'sent', ?3, ?3)",
                params![r.id, format!("reply-{}@stats.example", r.id), t(at)],
            )?;
        }
        let covered = rows
            .activity
            .iter()
            .any(|a| a.action == "request.rejected" && a.request_id == Some(r.id));
        if let (Some(at), false) = (r.rejected_at, covered) {
            audit.push(("fixture".to_string(), "request.rejected", r.id, at));
        }
    }
    for a in &rows.activity {
        audit.push((
            a.actor.clone(),
            a.action.as_str(),
            a.request_id.unwrap_or(0),
            a.at,
        ));
    }
    // A real chain (with the fixture's own times), so that a store written
    // here verifies and can be copied into a team store (`store copy`).
    let (mut seq, mut prev) = crate::store::db::OptionalExtension::optional(tx.query_row(
        "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
        params![],
        |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)),
    ))?
    .unwrap_or((0, crate::store::audit::GENESIS.to_string()));
    for (actor, action, id, at) in audit {
        seq += 1;
        let (at, subject) = (t(at), format!("request:{id}"));
        let hash = crate::store::audit::entry_hash(seq, &at, &actor, action, &subject, "{}", &prev);
        tx.execute(
            "INSERT INTO audit (seq, at, actor, action, subject, detail, prev_hash, hash)
             VALUES (?1, ?2, ?3, ?4, ?5, '{}', ?6, ?7)",
            params![seq, at, actor, action, subject, prev, hash],
        )?;
        prev = hash;
    }
    for (i, h) in rows.history.iter().enumerate() {
        tx.execute(
            "INSERT INTO estimate_history (job_id, messages, customers, attachment_bytes, large_attachments, estimated_hours, actual_hours, finished_at)
             VALUES (?1, 0, 0, 0, 0, ?2, ?3, ?4)",
            params![format!("history-{i}"), h.estimated_hours, h.actual_hours, t(h.finished_at)],
        )?;
    }
    tx.commit()?;
    Ok(())
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.with_timezone(&Utc))
        .unwrap_or_default()
}

/// The rates of [`scenario`]: Berlin (UTC+1 in November), Friday
/// 2026-11-20 a holiday.
pub fn scenario_rates() -> crate::estimate::Rates {
    crate::estimate::RatesConfig {
        timezone: "Europe/Berlin".into(),
        holidays: vec!["2026-11-20".into()],
        ..crate::estimate::RatesConfig::default()
    }
    .validate()
    .expect("the scenario's rates are valid")
}

/// "Now" for [`scenario`]: Monday 2026-11-30 10:00 UTC.
pub fn scenario_now() -> DateTime<Utc> {
    at("2026-11-30T10:00:00Z")
}

/// A small history with known timestamps (UTC; Berlin is UTC+1), the
/// figures of which the tests work out by hand:
/// - 1: Mon 16 Nov 08:00, small; replied 10:00, link 20:00 (kept).
/// - 8: Mon 16 Nov 12:00, 60.5 h of work (3 business days, due Thu 19
///   12:00); replied 13:00, link Thu 19 10:00 (kept).
/// - 2: Thu 19 Nov 15:00, before the Friday holiday and a weekend; due
///   Mon 23 15:00; replied Mon 14:00 (in time), link Mon 16:00 (late).
/// - 3: Sat 21 Nov 12:00 (weekend: counts from Mon 09:00 Berlin, due Tue 24
///   08:00); rejected with a reply Mon 23 09:00.
/// - 4: Tue 24 Nov 09:30, waiting; replied Wed 25 10:00 (late), still open:
///   overdue since Wed 25 09:30.
/// - 5: Fri 27 Nov 23:30 (already Saturday in Berlin), new: due Tue 1 Dec
///   08:00, not yet due.
/// - 6: Tue 10 Nov, emailed: before the two weeks from Mon 16 Nov.
/// - 7: Thu 5 Nov 10:00, approved and still open: overdue since Fri 6 10:00.
pub fn scenario() -> Rows {
    use super::{ActivityRow, HistoryRow, RequestRow};
    let req = |id: i64, received: &str, state: &str| RequestRow {
        id,
        received_at: at(received),
        workspace: Some(format!("Workspace {id}")),
        requester: Some(format!("owner{id}@example.com")),
        state: state.into(),
        first_reply_at: None,
        emailed_at: None,
        rejected_at: None,
        size: None,
    };
    let small = crate::estimate::Size {
        messages: 12_000,
        ..Default::default()
    };
    let big = crate::estimate::Size {
        // 0.5 h base + 2,400,000 / 40,000 = 60.5 h.
        messages: 2_400_000,
        ..Default::default()
    };
    let requests = vec![
        RequestRow {
            first_reply_at: Some(at("2026-11-16T10:00:00Z")),
            emailed_at: Some(at("2026-11-16T20:00:00Z")),
            size: Some(small),
            ..req(1, "2026-11-16T08:00:00Z", "done")
        },
        RequestRow {
            first_reply_at: Some(at("2026-11-23T14:00:00Z")),
            emailed_at: Some(at("2026-11-23T16:00:00Z")),
            ..req(2, "2026-11-19T15:00:00Z", "done")
        },
        RequestRow {
            first_reply_at: Some(at("2026-11-23T09:00:00Z")),
            rejected_at: Some(at("2026-11-23T09:00:00Z")),
            ..req(3, "2026-11-21T12:00:00Z", "rejected")
        },
        RequestRow {
            first_reply_at: Some(at("2026-11-25T10:00:00Z")),
            ..req(4, "2026-11-24T09:30:00Z", "waiting")
        },
        req(5, "2026-11-27T23:30:00Z", "new"),
        RequestRow {
            first_reply_at: Some(at("2026-11-10T10:00:00Z")),
            emailed_at: Some(at("2026-11-10T12:00:00Z")),
            ..req(6, "2026-11-10T09:00:00Z", "done")
        },
        req(7, "2026-11-05T10:00:00Z", "approved"),
        RequestRow {
            first_reply_at: Some(at("2026-11-16T13:00:00Z")),
            emailed_at: Some(at("2026-11-19T10:00:00Z")),
            size: Some(big),
            ..req(8, "2026-11-16T12:00:00Z", "done")
        },
    ];
    let act = |actor: &str, action: &str, id: i64, when: &str| ActivityRow {
        actor: actor.into(),
        action: action.into(),
        request_id: Some(id),
        at: at(when),
    };
    let activity = vec![
        act("sam", "reply.sent", 1, "2026-11-16T10:00:00Z"),
        act("sam", "note.added", 1, "2026-11-16T10:05:00Z"),
        act("sam", "request.approved", 1, "2026-11-16T10:10:00Z"),
        act("sam", "reply.sent", 8, "2026-11-16T13:00:00Z"),
        act("sam", "reply.sent", 2, "2026-11-23T14:00:00Z"),
        act("kim", "note.added", 2, "2026-11-23T14:30:00Z"),
        act("kim", "request.rejected", 3, "2026-11-23T09:00:00Z"),
        act("kim", "reply.sent", 3, "2026-11-23T09:00:00Z"),
        act("kim", "reply.sent", 4, "2026-11-25T10:00:00Z"),
        // Before the period: not counted in it.
        act("kim", "reply.sent", 6, "2026-11-10T10:00:00Z"),
    ];
    let hist = |e: f64, a: f64, when: &str| HistoryRow {
        estimated_hours: e,
        actual_hours: a,
        finished_at: at(when),
    };
    let history = vec![
        hist(2.0, 2.0, "2026-11-16T20:00:00Z"),
        hist(10.0, 25.0, "2026-11-18T12:00:00Z"),
        hist(4.0, 1.6, "2026-11-20T12:00:00Z"),
        hist(60.5, 70.0, "2026-11-19T10:00:00Z"),
        // Before the period.
        hist(1.0, 100.0, "2026-11-01T12:00:00Z"),
    ];
    Rows {
        requests,
        activity,
        history,
        unreadable: 0,
    }
}

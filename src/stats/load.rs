//! Reads the rows the figures need from the SQLite store, read-only, with
//! its own SQL (the store's schema and stored strings are the contract; the
//! store's Rust types are not needed here).
//!
//! Four queries, none of them per request, so 10,000 requests load in a few
//! milliseconds (see the README's benchmark):
//! 1. requests received in the period or still open, with the first sent
//!    reply (indexed by `replies_request`) and the job's `emailed_at`;
//! 2. when each rejected request was rejected (its audit entry);
//! 3. the people's audit entries in the period;
//! 4. the finished exports of the period (`estimate_history`).

use super::{ActivityRow, HistoryRow, Period, RequestRow, Rows};
use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OpenFlags};
use std::collections::HashMap;
use std::path::Path;

/// The schema version (`PRAGMA user_version`) that has every table read here.
const NEEDS_SCHEMA: i64 = 3;

/// Opens the store read-only: the figures never write, and never migrate.
pub fn open_read_only(path: &Path) -> Result<Connection> {
    if !path.is_file() {
        anyhow::bail!("no store at {}", path.display());
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_context(|| format!("cannot open the store {}", path.display()))?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version < NEEDS_SCHEMA {
        anyhow::bail!(
            "the store {} has schema {version}; open it once with this Concierge to bring it up to date",
            path.display()
        );
    }
    Ok(conn)
}

/// The store's timestamp format (`store::now`: RFC 3339, milliseconds, `Z`),
/// so that string comparison in SQL is time order.
fn sql_time(t: DateTime<Utc>) -> String {
    crate::time::store_text(t)
}

fn parse(s: Option<String>) -> Option<DateTime<Utc>> {
    s.and_then(|s| crate::time::parse(&s).ok())
}

/// Every row the figures of `period` need.
pub fn load(conn: &Connection, period: &Period) -> Result<Rows> {
    let (since, until) = (sql_time(period.since), sql_time(period.until));
    let mut rows = Rows::default();

    let mut rejected: HashMap<String, String> = HashMap::new();
    let mut st = conn.prepare(
        "SELECT subject, MIN(at) FROM audit WHERE action = 'request.rejected' GROUP BY subject",
    )?;
    let mut q = st.query([])?;
    while let Some(r) = q.next()? {
        rejected.insert(r.get(0)?, r.get(1)?);
    }

    // NOTE: `json_valid` first: one malformed job blob must not fail the
    // whole load (it then reads as "no emailed_at").
    let mut st = conn.prepare(
        "SELECT r.id, r.received_at, r.workspace_name, r.requester, r.state, r.size,
           (SELECT MIN(p.sent_at) FROM replies p WHERE p.request_id = r.id AND p.state = 'sent'),
           CASE WHEN json_valid(r.job) THEN json_extract(r.job, '$.emailed_at') END
         FROM requests r
         WHERE (r.received_at >= ?1 AND r.received_at < ?2) OR r.state NOT IN ('done', 'rejected')
         ORDER BY r.id",
    )?;
    let mut q = st.query([&since, &until])?;
    while let Some(r) = q.next()? {
        let id: i64 = r.get(0)?;
        let Some(received_at) = parse(r.get(1)?) else {
            rows.unreadable += 1;
            continue;
        };
        let size: Option<String> = r.get(5)?;
        let size = size
            .and_then(|s| serde_json::from_str::<crate::backend::WorkspaceSize>(&s).ok())
            .map(crate::estimate::Size::from);
        rows.requests.push(RequestRow {
            id,
            received_at,
            workspace: r.get(2)?,
            requester: r.get(3)?,
            state: r.get(4)?,
            first_reply_at: parse(r.get(6)?),
            emailed_at: parse(r.get(7)?),
            rejected_at: parse(rejected.get(&format!("request:{id}")).cloned()),
            size,
        });
    }

    let mut st = conn.prepare(
        "SELECT actor, action, subject, at FROM audit
         WHERE at >= ?1 AND at < ?2 AND actor != 'intake'
           AND action IN ('reply.sent', 'request.approved', 'request.rejected', 'note.added')
         ORDER BY seq",
    )?;
    let mut q = st.query([&since, &until])?;
    while let Some(r) = q.next()? {
        let Some(at) = parse(r.get(3)?) else {
            rows.unreadable += 1;
            continue;
        };
        let subject: String = r.get(2)?;
        rows.activity.push(ActivityRow {
            actor: r.get(0)?,
            action: r.get(1)?,
            request_id: subject
                .strip_prefix("request:")
                .and_then(|n| n.parse().ok()),
            at,
        });
    }

    let mut st = conn.prepare(
        "SELECT estimated_hours, actual_hours, finished_at FROM estimate_history
         WHERE finished_at >= ?1 AND finished_at < ?2 ORDER BY id",
    )?;
    let mut q = st.query([&since, &until])?;
    while let Some(r) = q.next()? {
        let Some(finished_at) = parse(r.get(2)?) else {
            rows.unreadable += 1;
            continue;
        };
        rows.history.push(HistoryRow {
            estimated_hours: r.get(0)?,
            actual_hours: r.get(1)?,
            finished_at,
        });
    }
    Ok(rows)
}

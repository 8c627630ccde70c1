//! Reads the rows the figures need from the store, read-only, through the
//! store's database interface ([`Conn`]), so the same SQL reads the solo
//! SQLite file and a team's PostgreSQL store. Its own SQL: the store's
//! schema and stored strings are the contract; the store's Rust types are
//! not needed here.
//!
//! Four queries, none of them per request, so 10,000 requests load in a few
//! milliseconds (see the README's benchmark):
//! 1. requests received in the period or still open, with the first sent
//!    reply (indexed by `replies_request`) and the job (its `emailed_at`
//!    read in Rust: SQLite's `json_extract` is not PostgreSQL's `->>`);
//! 2. when each rejected request was rejected (its audit entry);
//! 3. the people's audit entries in the period;
//! 4. the finished exports of the period (`estimate_history`).

use super::{ActivityRow, HistoryRow, Period, RequestRow, Rows};
use crate::store::db::{params, Conn};
use crate::store::Location;
use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use rusqlite::OpenFlags;
use std::collections::HashMap;
use std::path::Path;

/// The schema version that has every table read here.
const NEEDS_SCHEMA: i64 = 3;

/// Opens the store wherever it is, read-only: the figures never write,
/// and never migrate.
pub fn open(at: &Location) -> Result<Conn> {
    match at {
        Location::Sqlite(path) => open_read_only(path),
        Location::Postgres(target) => {
            let conn = Conn::pg(crate::store::pg::PgConn::connect(target)?);
            // Every transaction of this session is read-only: a bug here
            // cannot change the team's store.
            conn.execute_batch("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")?;
            let version: Option<i64> = crate::store::db::OptionalExtension::optional(
                conn.query_row("SELECT version FROM schema_version", params![], |r| {
                    r.get(0)
                }),
            )
            .context("the team store has no schema yet: run `concierge store migrate`")?;
            check_schema(version.unwrap_or(0), "the team store")?;
            Ok(conn)
        }
    }
}

/// Opens the SQLite store at `path` read-only.
pub fn open_read_only(path: &Path) -> Result<Conn> {
    if !path.is_file() {
        anyhow::bail!("no store at {}", path.display());
    }
    let conn = rusqlite::Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_context(|| format!("cannot open the store {}", path.display()))?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    check_schema(version, &format!("the store {}", path.display()))?;
    Ok(Conn::sqlite(conn))
}

fn check_schema(version: i64, what: &str) -> Result<()> {
    if version < NEEDS_SCHEMA {
        anyhow::bail!(
            "{what} has schema {version}; open it once with this Concierge to bring it up to date"
        );
    }
    Ok(())
}

/// The store's timestamp format (`store::now`: RFC 3339, milliseconds, `Z`),
/// so that string comparison in SQL is time order.
fn sql_time(t: DateTime<Utc>) -> String {
    crate::time::store_text(t)
}

fn parse(s: Option<String>) -> Option<DateTime<Utc>> {
    s.and_then(|s| crate::time::parse(&s).ok())
}

/// The job's `emailed_at`; none when the job's JSON is malformed: one bad
/// job must not fail the whole load.
fn emailed_at(job: Option<String>) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(&job?).ok()?;
    v.get("emailed_at")?.as_str().map(str::to_string)
}

/// Operators' display names by id (`[operator] email`): the audit log
/// keeps ids, the figures show names. Two operators with one name keep
/// their ids beside it, so their figures stay apart. A store from before
/// the `operators` table (schema 6) has none: its ids are shown.
fn display_names(conn: &Conn) -> HashMap<String, String> {
    let names = crate::store::operators::names(conn).unwrap_or_default();
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for n in names.values() {
        *seen.entry(n.as_str()).or_default() += 1;
    }
    names
        .iter()
        .map(|(id, n)| {
            let shown = if seen.get(n.as_str()) == Some(&1) {
                n.clone()
            } else {
                format!("{n} ({id})")
            };
            (id.clone(), shown)
        })
        .collect()
}

/// Every row the figures of `period` need.
pub fn load(conn: &Conn, period: &Period) -> Result<Rows> {
    let (since, until) = (sql_time(period.since), sql_time(period.until));
    let mut rows = Rows::default();

    let mut rejected: HashMap<String, String> = HashMap::new();
    for r in &conn.query(
        "SELECT subject, MIN(at) FROM audit WHERE action = 'request.rejected' GROUP BY subject",
        params![],
    )? {
        rejected.insert(r.get(0)?, r.get(1)?);
    }

    for r in &conn.query(
        "SELECT r.id, r.received_at, r.workspace_name, r.requester, r.state, r.size,
           (SELECT MIN(p.sent_at) FROM replies p WHERE p.request_id = r.id AND p.state = 'sent'),
           r.job
         FROM requests r
         WHERE (r.received_at >= ?1 AND r.received_at < ?2) OR r.state NOT IN ('done', 'rejected')
         ORDER BY r.id",
        params![since, until],
    )? {
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
            emailed_at: parse(emailed_at(r.get(7)?)),
            rejected_at: parse(rejected.get(&format!("request:{id}")).cloned()),
            size,
        });
    }

    let names = display_names(conn);
    for r in &conn.query(
        "SELECT actor, action, subject, at FROM audit
         WHERE at >= ?1 AND at < ?2 AND actor <> 'intake'
           AND action IN ('reply.sent', 'request.approved', 'request.rejected', 'note.added')
         ORDER BY seq",
        params![since, until],
    )? {
        let Some(at) = parse(r.get(3)?) else {
            rows.unreadable += 1;
            continue;
        };
        let subject: String = r.get(2)?;
        let actor: String = r.get(0)?;
        rows.activity.push(ActivityRow {
            actor: names.get(&actor).cloned().unwrap_or(actor),
            action: r.get(1)?,
            request_id: subject
                .strip_prefix("request:")
                .and_then(|n| n.parse().ok()),
            at,
        });
    }

    for r in &conn.query(
        "SELECT estimated_hours, actual_hours, finished_at FROM estimate_history
         WHERE finished_at >= ?1 AND finished_at < ?2 ORDER BY id",
        params![since, until],
    )? {
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

//! Presence and the inbox poller's lease: who has which request open and
//! what they are writing, and which running Concierge polls the inbox.
//!
//! Both are rows kept alive by a heartbeat ([`BEAT`]); a row whose
//! heartbeat is older than [`STALE`] belongs to a process that died (kill
//! -9, a closed laptop) and is ignored, then swept. Times are RFC 3339 UTC
//! text written from Rust with one format, so they compare as text.
//! Changes a screen must see are recorded in the change feed.

use super::changes;
use super::db::{params, Conn, Engine, OptionalExtension};
use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use std::time::Duration;

/// How often a screen (and the poller) renews its row.
pub const BEAT: Duration = Duration::from_secs(5);
/// A row older than this is a dead process's. With a 5 s beat and a 5 s
/// sweep, an entry is gone from every screen within 20 + 5 = 25 s of its
/// process dying (the issue asks for 30 s).
pub const STALE: chrono::TimeDelta = chrono::TimeDelta::seconds(20);
/// The poller's lease lasts this long after its last renewal; renewed
/// every 5 s, so another Concierge (asking every 5 s) takes over within
/// 25 + 5 = 30 s of the holder dying.
pub const LEASE: chrono::TimeDelta = chrono::TimeDelta::seconds(25);

/// What an operator is doing with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activity {
    Viewing,
    WritingNote,
    WritingReply,
    WritingRejection,
}

impl Activity {
    pub fn as_str(self) -> &'static str {
        match self {
            Activity::Viewing => "viewing",
            Activity::WritingNote => "writing a note",
            Activity::WritingReply => "writing a reply",
            Activity::WritingRejection => "writing a rejection",
        }
    }

    fn parse(s: &str) -> Activity {
        match s {
            "writing a note" => Activity::WritingNote,
            "writing a reply" => Activity::WritingReply,
            "writing a rejection" => Activity::WritingRejection,
            _ => Activity::Viewing,
        }
    }
}

/// One running screen's entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presence {
    /// Unique per running screen ([`session_id`]).
    pub session: String,
    pub operator: String,
    pub request_id: Option<i64>,
    pub activity: Activity,
}

/// A fresh id for this process's screen: host, pid and start time, so a
/// restarted process (same pid later) is another session.
pub fn session_id() -> String {
    format!(
        "{}/{}/{}",
        hostname(),
        std::process::id(),
        Utc::now().timestamp_nanos_opt().unwrap_or_default()
    )
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default()
}

/// Whether `session` is a process of this machine that no longer runs
/// (Linux: no `/proc/PID`). A solo operator restarting after a crash then
/// polls at once instead of waiting out the dead process's lease; a
/// session of another machine, or of an unknown form, is never judged.
pub fn is_dead_here(session: &str) -> bool {
    let mut parts = session.split('/');
    let (Some(host), Some(pid), Some(_)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let here = hostname();
    !here.is_empty()
        && host == here
        && pid.parse::<u32>().is_ok()
        && std::path::Path::new("/proc/self").exists()
        && !std::path::Path::new("/proc").join(pid).exists()
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Says where this screen is and what it does; records a change for the
/// request it left and the one it is on, when either differs.
pub fn set(conn: &Conn, me: &Presence, now: DateTime<Utc>) -> Result<()> {
    let tx = conn.transaction()?;
    let old: Option<(Option<i64>, String)> = tx
        .query_row(
            "SELECT request_id, activity FROM presence WHERE session = ?1",
            params![me.session],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    tx.execute(
        "INSERT INTO presence (session, operator, request_id, activity, heartbeat_at)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (session) DO UPDATE SET operator = excluded.operator,
           request_id = excluded.request_id, activity = excluded.activity,
           heartbeat_at = excluded.heartbeat_at",
        params![
            me.session,
            me.operator,
            me.request_id,
            me.activity.as_str(),
            ts(now)
        ],
    )?;
    let (old_id, old_activity) = match &old {
        Some((id, a)) => (*id, Some(a.as_str())),
        None => (None, None),
    };
    if old.is_none() || old_id != me.request_id || old_activity != Some(me.activity.as_str()) {
        if old_id != me.request_id {
            if let Some(id) = old_id {
                changes::record(&tx, Some(id), "presence", &me.operator)?;
            }
        }
        changes::record(&tx, me.request_id, "presence", &me.operator)?;
    }
    tx.commit()?;
    Ok(())
}

/// Renews this screen's heartbeat (no change: nothing moved) and sweeps
/// dead screens' entries, announcing the requests they had open.
pub fn beat(conn: &Conn, session: &str, now: DateTime<Utc>) -> Result<()> {
    let tx = conn.transaction()?;
    tx.execute(
        "UPDATE presence SET heartbeat_at = ?2 WHERE session = ?1",
        params![session, ts(now)],
    )?;
    let dead: Vec<(String, Option<i64>)> = tx.query_map(
        "DELETE FROM presence WHERE heartbeat_at < ?1 RETURNING operator, request_id",
        params![ts(now - STALE)],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    for (operator, id) in dead {
        changes::record(&tx, id, "presence", &operator)?;
    }
    tx.commit()?;
    Ok(())
}

/// Removes this screen's entry (on quit).
pub fn leave(conn: &Conn, session: &str) -> Result<()> {
    let tx = conn.transaction()?;
    let gone: Option<(String, Option<i64>)> = tx
        .query_row(
            "DELETE FROM presence WHERE session = ?1 RETURNING operator, request_id",
            params![session],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    if let Some((operator, id)) = gone {
        changes::record(&tx, id, "presence", &operator)?;
    }
    tx.commit()?;
    Ok(())
}

/// Every live entry but `session`'s own (the table holds one row per open
/// screen: reading it whole is cheaper than choosing).
pub fn others(conn: &Conn, session: &str, now: DateTime<Utc>) -> Result<Vec<Presence>> {
    conn.query_map(
        "SELECT session, operator, request_id, activity FROM presence
         WHERE session <> ?1 AND heartbeat_at >= ?2 ORDER BY operator, session",
        params![session, ts(now - STALE)],
        |r| {
            Ok(Presence {
                session: r.get(0)?,
                operator: r.get(1)?,
                request_id: r.get(2)?,
                activity: Activity::parse(&r.get::<_, String>(3)?),
            })
        },
    )
}

/// Who holds the inbox poller's lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub holder: String,
    pub session: String,
    pub expires_at: chrono::DateTime<chrono::Utc>,
    /// PostgreSQL: the holder's connection (`pid@backend_start`), gone
    /// from `pg_stat_activity` as soon as the connection dies.
    pub conn: Option<String>,
}

/// Takes or renews the inbox poller's lease for `session`: granted when
/// nobody holds it, this session does, the holder's lease expired (it
/// died), or the holder is gone at once: a dead process of this machine,
/// or (PostgreSQL) a holder whose store connection has closed — the server
/// knows, whichever machine it ran on. One transaction (the store's writer
/// lock on both engines), so two Concierges never both get it. Returns the
/// lease as it stands (compare its session with yours).
pub fn take_lease(conn: &Conn, session: &str, holder: &str, now: DateTime<Utc>) -> Result<Lease> {
    let tx = conn.transaction()?;
    let before = lease_tx(&tx)?;
    if let Some(b) = &before {
        if b.session != session && holder_is_gone(&tx, b)? {
            tx.execute(
                "DELETE FROM poller_lease WHERE name = 'inbox' AND session = ?1",
                params![b.session],
            )?;
        }
    }
    let before = before.map(|l| l.session);
    let me = my_connection(&tx)?;
    tx.execute(
        "INSERT INTO poller_lease (name, holder, session, heartbeat_at, expires_at, conn)
         VALUES ('inbox', ?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, session = excluded.session,
           heartbeat_at = excluded.heartbeat_at, expires_at = excluded.expires_at,
           conn = excluded.conn
         WHERE poller_lease.session = excluded.session OR poller_lease.expires_at < excluded.heartbeat_at",
        params![holder, session, ts(now), ts(now + LEASE), me],
    )?;
    let lease = lease_tx(&tx)?.context("the lease row exists after the upsert")?;
    // A new holder is a change every screen's status bar shows.
    if lease.session == session && before.as_deref() != Some(session) {
        changes::record(&tx, None, "poller", holder)?;
    }
    tx.commit()?;
    Ok(lease)
}

/// Gives the lease up (on quit), so another takes over at its next try.
pub fn release_lease(conn: &Conn, session: &str) -> Result<()> {
    conn.execute(
        "DELETE FROM poller_lease WHERE name = 'inbox' AND session = ?1",
        params![session],
    )?;
    Ok(())
}

/// PostgreSQL: this connection as the server names it, `pid@backend_start`
/// (a pid alone may be reused by a later connection). None on SQLite.
fn my_connection(conn: &Conn) -> Result<Option<String>> {
    if conn.engine() != Engine::Postgres {
        return Ok(None);
    }
    conn.query_row(
        "SELECT CAST(pid AS TEXT) || '@' || CAST(backend_start AS TEXT)
         FROM pg_stat_activity WHERE pid = pg_backend_pid()",
        params![],
        |r| r.get(0),
    )
    .map(Some)
}

/// Whether the lease's holder is certainly gone (see [`take_lease`]).
fn holder_is_gone(conn: &Conn, lease: &Lease) -> Result<bool> {
    if is_dead_here(&lease.session) {
        return Ok(true);
    }
    let Some(held_by) = lease.conn.as_deref() else {
        return Ok(false);
    };
    if conn.engine() != Engine::Postgres {
        return Ok(false);
    }
    let alive: i64 = conn.query_row(
        "SELECT COUNT(*) FROM pg_stat_activity
         WHERE CAST(pid AS TEXT) || '@' || CAST(backend_start AS TEXT) = ?1",
        params![held_by],
        |r| r.get(0),
    )?;
    Ok(alive == 0)
}

/// The lease as it stands, expired or not.
pub fn lease(conn: &Conn) -> Result<Option<Lease>> {
    lease_tx(conn)
}

fn lease_tx(conn: &Conn) -> Result<Option<Lease>> {
    conn.query_row(
        "SELECT holder, session, expires_at, conn FROM poller_lease WHERE name = 'inbox'",
        params![],
        |r| {
            Ok(Lease {
                holder: r.get(0)?,
                session: r.get(1)?,
                expires_at: r.get(2)?,
                conn: r.get(3)?,
            })
        },
    )
    .optional()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{changes, Store};

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_790_000_000 + secs, 0).unwrap()
    }

    fn me(session: &str, operator: &str, id: Option<i64>, activity: Activity) -> Presence {
        Presence {
            session: session.into(),
            operator: operator.into(),
            request_id: id,
            activity,
        }
    }

    #[test]
    fn moves_are_announced_heartbeats_are_not_and_the_dead_are_swept() {
        let s = Store::in_memory().unwrap();
        let c = s.conn();
        set(c, &me("a", "Kim", Some(1), Activity::Viewing), at(0)).unwrap();
        set(c, &me("b", "Sam", Some(1), Activity::WritingReply), at(0)).unwrap();
        let seq = changes::last_seq(c).unwrap();
        // Kim moves on to request 2: both requests change.
        set(c, &me("a", "Kim", Some(2), Activity::Viewing), at(1)).unwrap();
        let moved: Vec<_> = changes::after(c, seq, 10)
            .unwrap()
            .into_iter()
            .map(|ch| ch.request_id)
            .collect();
        assert_eq!(moved, vec![Some(1), Some(2)]);
        // Heartbeats move nothing.
        let seq = changes::last_seq(c).unwrap();
        beat(c, "a", at(15)).unwrap();
        assert_eq!(changes::last_seq(c).unwrap(), seq);
        assert_eq!(
            others(c, "a", at(15)).unwrap(),
            vec![me("b", "Sam", Some(1), Activity::WritingReply)]
        );
        // Sam's process died at 0: ignored after 20 s, swept by Kim's beat.
        assert!(others(c, "a", at(21)).unwrap().is_empty());
        beat(c, "a", at(21)).unwrap();
        let swept = changes::after(c, seq, 10).unwrap();
        assert_eq!(swept.len(), 1);
        assert_eq!(
            (swept[0].request_id, swept[0].actor.as_str()),
            (Some(1), "Sam")
        );
        assert_eq!(others(c, "b", at(21)).unwrap().len(), 1, "Kim is alive");
        leave(c, "a").unwrap();
        assert!(others(c, "b", at(21)).unwrap().is_empty());
    }

    #[test]
    fn one_lease_holder_until_it_stops_renewing() {
        let s = Store::in_memory().unwrap();
        let c = s.conn();
        assert_eq!(take_lease(c, "kim-1", "Kim", at(0)).unwrap().holder, "Kim");
        // Sam asks while Kim renews: Kim keeps it.
        assert_eq!(take_lease(c, "sam-1", "Sam", at(10)).unwrap().holder, "Kim");
        assert_eq!(take_lease(c, "kim-1", "Kim", at(20)).unwrap().holder, "Kim");
        assert_eq!(take_lease(c, "sam-1", "Sam", at(44)).unwrap().holder, "Kim");
        // Kim stopped at 20: the lease expires at 45, and Sam takes over.
        let l = take_lease(c, "sam-1", "Sam", at(46)).unwrap();
        assert_eq!((l.holder.as_str(), l.session.as_str()), ("Sam", "sam-1"));
        assert_eq!(take_lease(c, "kim-1", "Kim", at(52)).unwrap().holder, "Sam");
        // Each new holder is announced once.
        let pollers: Vec<_> = changes::after(c, 0, 10)
            .unwrap()
            .into_iter()
            .filter(|ch| ch.kind == "poller")
            .map(|ch| ch.actor)
            .collect();
        assert_eq!(pollers, vec!["Kim", "Sam"]);
        release_lease(c, "sam-1").unwrap();
        assert_eq!(take_lease(c, "kim-1", "Kim", at(53)).unwrap().holder, "Kim");
    }

    #[test]
    fn a_dead_process_of_this_machine_loses_the_lease_at_once() {
        let s = Store::in_memory().unwrap();
        let c = s.conn();
        let mine = session_id();
        assert!(!is_dead_here(&mine), "this process runs");
        // A pid above the kernel's limit (4194304) never runs.
        let dead = format!("{}/4194305/1", hostname());
        assert!(is_dead_here(&dead));
        assert!(
            !is_dead_here("other-host/4194305/1"),
            "not judged from here"
        );
        take_lease(c, &dead, "Kim", at(0)).unwrap();
        let l = take_lease(c, &mine, "Sam", at(1)).unwrap();
        assert_eq!(l.session, mine, "no 25 s wait after a crash");
    }
}

//! The change feed: every store write a screen must see appends one row to
//! `changes` (seq, request, kind, actor, at) in the SAME transaction, so a
//! change is announced exactly when it is committed.
//!
//! The same table is the request's version history (the collision stop's
//! "what changed since your version", `team.rs`): a change that bumps a
//! request's version writes its row with `version`, `who` and `what` set
//! ([`record_version`], called by `team::bump`), so each change of a
//! request is ONE row, written once. Rows without a version (notes,
//! claims, presence, job progress) are pruned after [`KEEP`]; versioned
//! rows are the history and stay.
//!
//! A screen remembers the last `seq` it has read; when the store wakes it
//! ([`Wakeup`]), it reads the rows after that seq ([`Store::changes_after`])
//! and reloads only the requests they name. Only the wake-up differs per
//! engine: SQLite has no notifications between processes, so
//! [`DataVersion`] checks `PRAGMA data_version` on its own connection (it
//! changes whenever another connection commits) when the store's files
//! change (inotify, through `notify`); on PostgreSQL [`record`]
//! NOTIFYs and [`Listen`] waits on LISTEN. Reading the feed is the same SQL
//! on both ([`watch`] picks the wake-up).
//!
//! # Recipe for a new write path
//!
//! ```text
//! let tx = conn.transaction()?;
//! tx.execute("UPDATE requests SET … WHERE id = ?1", params![id, …])?;
//! audit::append_tx(&tx, actor, "claim.taken", &format!("request:{id}"), &detail)?;
//! changes::record(&tx, Some(id), "claim.taken", actor)?;   // ← one line
//! tx.commit()?;
//! ```
//!
//! A change an operator's next action depends on calls
//! `team::bump(&tx, id, kind, actor, what)` instead of `record`: it moves
//! the version and writes the one row.
//!
//! `kind` is the audit action when there is one (`note.added`,
//! `request.approved`, `job.status`, `reply.sent`, …), else a short word
//! (`message.attached`, `presence`). Writes made through
//! `Store::audited` record their change already.

use super::db::{params, Conn, Engine};
use super::location::Location;
use anyhow::{Context, Result};
use std::time::{Duration, Instant};

/// How long `changes` rows are kept: a screen that was asleep longer than
/// this reloads everything instead (a day: far beyond any laptop lid).
pub const KEEP: chrono::TimeDelta = chrono::TimeDelta::days(1);

/// The PostgreSQL channel a commit with changes notifies.
pub const CHANNEL: &str = "concierge_changes";

/// One committed change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub seq: i64,
    /// The request it concerns (none for store-wide changes).
    pub request_id: Option<i64>,
    pub kind: String,
    pub actor: String,
    /// Written from Rust as RFC 3339 UTC text; read once, here. None when
    /// the stored text cannot be read: the change still reaches every
    /// screen (one unreadable time used to stop the feed at that row, and
    /// every later change with it).
    pub at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Appends a change inside the caller's transaction. On PostgreSQL it also
/// notifies [`CHANNEL`]: the notification is delivered at COMMIT and never
/// for a rolled-back transaction, and identical notifications of one
/// transaction are folded into one (PostgreSQL docs, NOTIFY).
///
/// NOTE: seq comes from an identity column on PostgreSQL, which hands out
/// numbers at INSERT, not at COMMIT. Readers never skip a row because every
/// write transaction holds the store's writer lock (`db::Conn::transaction`),
/// so seqs commit in order. Callers record only inside such a transaction.
pub fn record(conn: &Conn, request_id: Option<i64>, kind: &str, actor: &str) -> Result<()> {
    insert(conn, request_id, kind, actor, None)
}

/// What a version bump changed: the row's `version`, `who`, `what`.
pub(crate) struct Versioned<'a> {
    pub version: i64,
    /// Who, in words ("the customer"); `None`: the actor's registered
    /// name (`operators`), else the actor id itself, looked up by the
    /// INSERT itself (one statement fewer per action).
    pub who: Option<&'a str>,
    pub what: &'a str,
}

/// [`record`] for a change that moved request `id` to a new version (see
/// `team::bump`, its only caller): the feed's row and the history's row
/// are the same row.
pub(crate) fn record_version(
    conn: &Conn,
    id: i64,
    kind: &str,
    actor: &str,
    v: Versioned<'_>,
) -> Result<()> {
    insert(conn, Some(id), kind, actor, Some(v))
}

fn insert(
    conn: &Conn,
    request_id: Option<i64>,
    kind: &str,
    actor: &str,
    v: Option<Versioned<'_>>,
) -> Result<()> {
    let pg = conn.engine() == Engine::Postgres;
    let mut p = params![request_id, kind, actor, super::now()].to_vec();
    let mut sql = match &v {
        None => {
            "INSERT INTO changes (request_id, kind, actor, at) VALUES (?1, ?2, ?3, ?4)".to_string()
        }
        Some(v) => {
            let fallback = super::team::one_line(actor, super::team::WHAT_MAX);
            p.extend_from_slice(params![v.version, v.who, fallback, v.what]);
            "INSERT INTO changes (request_id, kind, actor, at, version, who, what)
             VALUES (?1, ?2, ?3, ?4, ?5, COALESCE(?6, (SELECT name FROM operators WHERE id = ?3), ?7), ?8)"
                .to_string()
        }
    };
    // NOTE: on PostgreSQL the NOTIFY rides on the INSERT (`RETURNING
    // pg_notify(..)`, evaluated once for the one row): one round trip per
    // change instead of two (the round-trip counts in the README).
    if pg {
        p.push(super::db::Value::Text(CHANNEL.into()));
        sql.push_str(&format!(" RETURNING pg_notify(?{}, '')", p.len()));
    }
    conn.execute(&sql, &p)?;
    Ok(())
}

/// The newest seq (0 for an empty feed): where a screen starts reading.
pub fn last_seq(conn: &Conn) -> Result<i64> {
    conn.query_row(
        "SELECT CAST(COALESCE(MAX(seq), 0) AS BIGINT) FROM changes",
        params![],
        |r| r.get(0),
    )
}

/// The changes committed after `seq`, oldest first (at most `limit`).
pub fn after(conn: &Conn, seq: i64, limit: i64) -> Result<Vec<Change>> {
    conn.query_map(
        "SELECT seq, request_id, kind, actor, at FROM changes WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        params![seq, limit],
        |r| {
            Ok(Change {
                seq: r.get(0)?,
                request_id: r.get(1)?,
                kind: r.get(2)?,
                actor: r.get(3)?,
                at: r.get(4).ok().flatten(),
            })
        },
    )
}

/// Deletes changes older than `before`, always keeping the newest row so
/// that seq never restarts below what a screen has read (SQLite reuses
/// `MAX(rowid) + 1` once the table is empty), and every versioned row: the
/// collision stop names what changed since any version a screen may hold.
pub fn prune(conn: &Conn, before: chrono::DateTime<chrono::Utc>) -> Result<usize> {
    let before = before.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    conn.execute(
        "DELETE FROM changes WHERE at < ?1 AND version IS NULL AND seq < (SELECT MAX(seq) FROM changes)",
        params![before],
    )
}

/// What tells a reader that the store may have changed. Per engine.
pub trait Wakeup: Send {
    /// Returns `true` as soon as the store may have changed, `false` after
    /// `max` without a change.
    fn wait(&mut self, max: Duration) -> Result<bool>;
    /// The connection to read the feed with after a wake-up.
    fn conn(&self) -> &Conn;
}

/// The wake-up for the store at `at`: [`DataVersion`] on SQLite,
/// [`Listen`] on PostgreSQL. Open it BEFORE reading the feed once, so a
/// commit in between is either read or wakes it.
pub fn watch(at: &Location) -> Result<Box<dyn Wakeup>> {
    Ok(match at {
        Location::Sqlite(path) => Box::new(DataVersion::open(path, CHECK_EVERY)?),
        Location::Postgres(target) => Box::new(Listen::open(target)?),
    })
}

/// SQLite's wake-up: `PRAGMA data_version` on a connection of its own,
/// which changes whenever any other connection (in any process) commits.
/// It is checked when the store's files change ([`FileWake`]: inotify on
/// Linux), and polled every `every` only where that cannot be had.
pub struct DataVersion {
    conn: Conn,
    last: i64,
    every: Duration,
    files: Option<FileWake>,
}

/// How often [`DataVersion`] looks without file notifications (and while
/// a write settles, see [`SETTLE`]): 50 ms keeps propagation under 0.1 s.
pub const CHECK_EVERY: Duration = Duration::from_millis(50);

/// After the store's files change, `data_version` is checked again for this
/// long (after 2 ms, then doubling up to [`CHECK_EVERY`]). NOTE: the write
/// that wakes the watcher (a WAL frame) comes before the commit is visible
/// (SQLite publishes it in the `-shm` index through mmap, which notifies
/// nothing), so one check on the event alone could miss the commit until
/// the next write. Measured: p50 2.2 ms, p95 15.7 ms (README).
pub const SETTLE: Duration = Duration::from_millis(500);

impl DataVersion {
    pub fn open(path: &std::path::Path, every: Duration) -> Result<DataVersion> {
        let raw = rusqlite::Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        raw.busy_timeout(Duration::from_secs(5))?;
        let conn = Conn::sqlite(raw);
        // Watch before the baseline: a commit in between is then seen.
        let files = FileWake::open(path)
            .map_err(|e| tracing::warn!("the store's files cannot be watched, polling: {e:#}"))
            .ok();
        let last = data_version(&conn)?;
        Ok(DataVersion {
            conn,
            last,
            every,
            files,
        })
    }
}

/// SQLite only: PostgreSQL has no such pragma (it wakes on NOTIFY).
fn data_version(conn: &Conn) -> Result<i64> {
    conn.query_row("PRAGMA data_version", params![], |r| r.get(0))
}

impl Wakeup for DataVersion {
    fn wait(&mut self, max: Duration) -> Result<bool> {
        let until = Instant::now() + max;
        // While a write settles: the next look's delay, and until when.
        let mut settling: Option<(Duration, Instant)> = None;
        loop {
            let v = data_version(&self.conn)?;
            if v != self.last {
                self.last = v;
                return Ok(true);
            }
            let now = Instant::now();
            let left = until.saturating_duration_since(now);
            if left.is_zero() {
                return Ok(false);
            }
            match (&self.files, settling) {
                (Some(_), Some((delay, end))) if now < end => {
                    std::thread::sleep(delay.min(left));
                    settling = Some(((delay * 2).min(self.every), end));
                }
                (Some(files), _) => match files.wait(left) {
                    // 2 ms, then doubling up to `every`: a commit usually
                    // shows within milliseconds of its WAL write.
                    Some(true) => settling = Some((Duration::from_millis(2), now + SETTLE)),
                    Some(false) => {}
                    None => {
                        tracing::warn!("the store's file watch stopped, polling");
                        self.files = None;
                    }
                },
                (None, _) => std::thread::sleep(self.every.min(left)),
            }
        }
    }

    fn conn(&self) -> &Conn {
        &self.conn
    }
}

/// Tells when the store's file or its WAL changes: a watch on their
/// directory (the WAL may not exist yet), through `notify` (inotify on
/// Linux). An idle screen then costs a blocked read instead of 20 looks a
/// second (README, "Live screens").
struct FileWake {
    _watcher: notify::RecommendedWatcher,
    events: std::sync::mpsc::Receiver<()>,
}

impl FileWake {
    fn open(path: &std::path::Path) -> Result<FileWake> {
        use notify::Watcher;
        let name = path
            .file_name()
            .context("the store's path names no file")?
            .to_os_string();
        let mut wal = name.clone();
        wal.push("-wal");
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => std::path::PathBuf::from("."),
        };
        let (tx, events) = std::sync::mpsc::channel();
        let mut watcher = notify::recommended_watcher(move |ev: notify::Result<notify::Event>| {
            let ours = match ev {
                // Reads (opens, closes without writing) change nothing.
                Ok(ev) if matches!(ev.kind, notify::EventKind::Access(_)) => false,
                Ok(ev) => ev
                    .paths
                    .iter()
                    .any(|p| p.file_name().is_some_and(|n| n == name || n == wal)),
                // An overflowed queue may have dropped ours: look.
                Err(_) => true,
            };
            if ours {
                let _ = tx.send(());
            }
        })?;
        watcher.watch(&dir, notify::RecursiveMode::NonRecursive)?;
        Ok(FileWake {
            _watcher: watcher,
            events,
        })
    }

    /// Waits at most `max` for a change: whether one came, or `None` when
    /// the watch has stopped.
    fn wait(&self, max: Duration) -> Option<bool> {
        use std::sync::mpsc::RecvTimeoutError;
        let woken = match self.events.recv_timeout(max) {
            Ok(()) => true,
            Err(RecvTimeoutError::Timeout) => false,
            Err(RecvTimeoutError::Disconnected) => return None,
        };
        // One look covers every event already queued.
        while self.events.try_recv().is_ok() {}
        Some(woken)
    }
}

/// PostgreSQL's wake-up: `LISTEN` on a client of its own (the `postgres`
/// crate's notifications, waited on with a timeout so the thread can
/// stop), plus a store connection to read the feed with. No polling: an
/// idle screen costs one blocked socket read.
///
/// A lost LISTEN session (server restart, `pg_terminate_backend`) is
/// noticed at the next wait and listened again, with
/// [`super::pg::RECONNECT`]'s backoff between failed attempts; the wait
/// after it says "changed", since notifications sent meanwhile are lost
/// (the feed table is not: the reader catches up from its seq).
pub struct Listen {
    target: super::pg::PgTarget,
    client: Option<postgres::Client>,
    conn: Conn,
    failures: u32,
    next_try: Option<Instant>,
}

fn listen_client(target: &super::pg::PgTarget) -> Result<postgres::Client> {
    let mut client = super::pg::client(target)?;
    client
        .batch_execute(&format!("LISTEN {CHANNEL}"))
        .map_err(super::pg::pg_err)
        .context("listening for the store's changes")?;
    Ok(client)
}

impl Listen {
    /// Must not run on a tokio runtime's thread (the sync client blocks on
    /// its own runtime): the feed watcher is a plain thread.
    pub fn open(target: &super::pg::PgTarget) -> Result<Listen> {
        let client = listen_client(target)?;
        let conn = Conn::pg(super::pg::PgConn::connect(target)?);
        Ok(Listen {
            target: target.clone(),
            client: Some(client),
            conn,
            failures: 0,
            next_try: None,
        })
    }
}

impl Wakeup for Listen {
    fn wait(&mut self, max: Duration) -> Result<bool> {
        use postgres::fallible_iterator::FallibleIterator;
        let Some(client) = self.client.as_mut() else {
            // The listening connection broke: listen again, then say
            // "changed", since notifications sent meanwhile are lost.
            let now = Instant::now();
            if let Some(at) = self.next_try.filter(|at| *at > now) {
                std::thread::sleep((at - now).min(max));
                return Ok(false);
            }
            return match listen_client(&self.target) {
                Ok(c) => {
                    self.client = Some(c);
                    (self.failures, self.next_try) = (0, None);
                    Ok(true)
                }
                Err(e) => {
                    self.failures += 1;
                    self.next_try = Some(now + super::pg::RECONNECT.delay(self.failures));
                    Err(e)
                }
            };
        };
        let woken = {
            let mut notes = client.notifications();
            let first = notes.timeout_iter(max).next();
            if let Ok(Some(_)) = first {
                // Drain what else is buffered: one read covers them all.
                while let Ok(Some(_)) = notes.iter().next() {}
            }
            first.map(|n| n.is_some())
        };
        match woken {
            // A session the server ended reads as "nothing yet" once its
            // error was seen: the client knows it is closed.
            Ok(false) if client.is_closed() => {
                self.client = None;
                Err(anyhow::anyhow!("the store's LISTEN connection was closed"))
            }
            Ok(w) => Ok(w),
            Err(e) => {
                self.client = None;
                Err(super::pg::pg_err(e).context("waiting for the store's changes"))
            }
        }
    }

    fn conn(&self) -> &Conn {
        &self.conn
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    fn request(store: &mut Store, n: u32) -> i64 {
        let raw = format!(
            "From: owner@acme.example\r\nMessage-ID: <c{n}@acme.example>\r\nSubject: Data export request: Acme Support\r\n\r\nhi\r\n"
        );
        let i = crate::intake::inspect(raw.as_bytes(), &Default::default());
        let key = i.store_key(raw.as_bytes());
        match store.store_batch("INBOX", &[(i, key, None)], None).unwrap()[0] {
            crate::store::Stored::NewRequest(id) => id,
            ref other => panic!("{other:?}"),
        }
    }

    #[test]
    fn each_write_a_screen_must_see_is_in_the_feed_in_order() {
        let mut s = Store::in_memory().unwrap();
        let id = request(&mut s, 1);
        s.add_note(id, "Kim", "scope: all").unwrap();
        s.override_auth(id, "called them", "Sam", None).unwrap();
        let feed = after(s.conn(), 0, 100).unwrap();
        let seen: Vec<_> = feed
            .iter()
            .map(|c| (c.request_id, c.kind.as_str(), c.actor.as_str()))
            .collect();
        assert_eq!(
            seen,
            vec![
                (Some(id), "request.received", "intake"),
                (Some(id), "note.added", "Kim"),
                (Some(id), "auth.override", "Sam"),
            ]
        );
        assert_eq!(last_seq(s.conn()).unwrap(), feed[2].seq);
        assert_eq!(after(s.conn(), feed[0].seq, 100).unwrap(), feed[1..]);
    }

    #[test]
    fn a_refused_write_announces_nothing() {
        let mut s = Store::in_memory().unwrap();
        let id = request(&mut s, 1);
        let before = last_seq(s.conn()).unwrap();
        assert!(s.add_note(id, "Kim", "  ").is_err());
        s.reject(id, "not an owner", "Kim", None).unwrap();
        let seq = last_seq(s.conn()).unwrap();
        // Rejecting twice is refused inside the transaction: no change row.
        assert!(s.reject(id, "again", "Kim", None).is_err());
        assert_eq!(last_seq(s.conn()).unwrap(), seq);
        assert_eq!(seq, before + 1);
    }

    #[test]
    fn pruning_keeps_the_newest_row_so_seq_never_restarts() {
        let mut s = Store::in_memory().unwrap();
        let id = request(&mut s, 1);
        s.add_note(id, "Kim", "one").unwrap();
        let newest = last_seq(s.conn()).unwrap();
        let removed = prune(s.conn(), chrono::Utc::now() + chrono::TimeDelta::hours(1)).unwrap();
        assert_eq!(removed, 1);
        assert_eq!(last_seq(s.conn()).unwrap(), newest);
        s.add_note(id, "Kim", "two").unwrap();
        assert_eq!(last_seq(s.conn()).unwrap(), newest + 1);
    }

    #[test]
    fn a_commit_wakes_the_file_watch_and_other_files_beside_it_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let mut s = Store::open(&path).unwrap();
        let id = request(&mut s, 1);
        let files = FileWake::open(&path).unwrap();
        // The demo writes its log next to the store.
        std::fs::write(dir.path().join("concierge.log"), "a log line\n").unwrap();
        assert_eq!(
            files.wait(Duration::from_millis(300)),
            Some(false),
            "a log line is not a change of the store"
        );
        // A commit writes the WAL only (the file is written at checkpoints).
        s.add_note(id, "Kim", "hello").unwrap();
        assert_eq!(files.wait(Duration::from_secs(10)), Some(true));
    }

    #[test]
    fn another_connections_commit_wakes_the_data_version_watcher() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let mut s = Store::open(&path).unwrap();
        let id = request(&mut s, 1);
        let mut w = DataVersion::open(&path, Duration::from_millis(5)).unwrap();
        assert!(
            !w.wait(Duration::from_millis(20)).unwrap(),
            "nothing changed"
        );
        s.add_note(id, "Kim", "hello").unwrap();
        assert!(w.wait(Duration::from_secs(5)).unwrap());
        let feed = after(w.conn(), 0, 10).unwrap();
        assert_eq!(feed.last().unwrap().kind, "note.added");
    }
}

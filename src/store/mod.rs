//! The local store: one SQLite file (WAL) holding the export requests and
//! every message of their threads, the sync state per mailbox, and the
//! hash-chained audit log ([`audit`]).
//!
//! Messages are keyed by Message-ID, so the same mail seen twice (a resync
//! after UIDVALIDITY changed, two pollers, a Maildir re-read) is one row.
//! A message and the sync cursor that covers it are written in one
//! transaction: a crash never advances the cursor past an unstored message.

pub mod audit;
pub mod changes;
pub mod cmd;
pub mod copy;
pub mod damage;
pub mod db;
pub mod decisions;
pub mod jobs;
pub mod location;
pub mod operators;
pub mod pg;
pub mod presence;
pub mod replies;
pub mod requests;
pub mod seen;
pub mod team;
#[cfg(any(test, feature = "test-support"))]
pub mod testing;

use crate::intake::{Inspected, Kind};
use anyhow::{Context, Result};
use db::{params, Conn, Engine, OptionalExtension, Tx};
pub use location::Location;
use std::path::Path;

/// The schema version this build writes (SQLite: `PRAGMA user_version`;
/// PostgreSQL: the `schema_version` table).
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Schema migrations, applied in order and counted by the schema version.
/// Written in SQLite's DDL; PostgreSQL gets them through [`db::pg_ddl`].
const MIGRATIONS: &[&str] = &[
    // 1: requests, messages, sync state, audit log.
    r#"
    CREATE TABLE requests (
        id             INTEGER PRIMARY KEY,
        message_id     TEXT NOT NULL UNIQUE,
        state          TEXT NOT NULL DEFAULT 'new',
        workspace_name TEXT,
        workspace_id   TEXT,
        requester      TEXT,
        subject        TEXT NOT NULL,
        received_at    TEXT NOT NULL,
        updated_at     TEXT NOT NULL
    );
    CREATE TABLE messages (
        id          INTEGER PRIMARY KEY,
        message_id  TEXT NOT NULL UNIQUE,
        request_id  INTEGER REFERENCES requests(id),
        mailbox     TEXT NOT NULL,
        uid         INTEGER,
        kind        TEXT NOT NULL,
        date        TEXT,
        from_addr   TEXT,
        from_name   TEXT,
        reply_to    TEXT,
        subject     TEXT NOT NULL,
        workspace_name TEXT,
        workspace_id   TEXT,
        in_reply_to TEXT,
        refs        TEXT NOT NULL,
        dkim        TEXT NOT NULL,
        spf         TEXT NOT NULL,
        dmarc       TEXT NOT NULL,
        warnings    TEXT NOT NULL,
        body        TEXT NOT NULL,
        stored_at   TEXT NOT NULL
    );
    CREATE INDEX messages_request ON messages(request_id);
    CREATE TABLE sync_state (
        mailbox     TEXT PRIMARY KEY,
        uidvalidity INTEGER NOT NULL,
        last_uid    INTEGER NOT NULL,
        updated_at  TEXT NOT NULL
    );
    CREATE TABLE maildir_seen (
        mailbox TEXT NOT NULL,
        name    TEXT NOT NULL,
        PRIMARY KEY (mailbox, name)
    ) WITHOUT ROWID;
    CREATE TABLE audit (
        seq       INTEGER PRIMARY KEY,
        at        TEXT NOT NULL,
        actor     TEXT NOT NULL,
        action    TEXT NOT NULL,
        subject   TEXT NOT NULL,
        detail    TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash      TEXT NOT NULL
    );
    "#,
    // 2: replies (the outbox of record), account emails, estimate history.
    r#"
    CREATE TABLE replies (
        id            INTEGER PRIMARY KEY,
        request_id    INTEGER NOT NULL REFERENCES requests(id),
        message_id    TEXT NOT NULL UNIQUE,
        template      TEXT NOT NULL,
        to_addr       TEXT NOT NULL,
        subject       TEXT NOT NULL,
        bytes         BLOB NOT NULL,
        state         TEXT NOT NULL,
        error         TEXT,
        answered_flag INTEGER NOT NULL DEFAULT 0,
        sent_copy     INTEGER NOT NULL DEFAULT 0,
        created_at    TEXT NOT NULL,
        sent_at       TEXT
    );
    CREATE INDEX replies_request ON replies(request_id);
    ALTER TABLE requests ADD COLUMN account_email TEXT;
    CREATE TABLE estimate_history (
        id                INTEGER PRIMARY KEY,
        job_id            TEXT NOT NULL UNIQUE,
        workspace_id      TEXT,
        messages          INTEGER NOT NULL,
        customers         INTEGER NOT NULL,
        attachment_bytes  INTEGER NOT NULL,
        large_attachments INTEGER NOT NULL,
        estimated_hours   REAL NOT NULL,
        actual_hours      REAL NOT NULL,
        finished_at       TEXT NOT NULL
    );
    "#,
    // 3: what the screen tracks per request: the backend's view, notes,
    // decisions, the export job.
    r#"
    ALTER TABLE requests ADD COLUMN workspace_verified INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE requests ADD COLUMN member_id TEXT;
    ALTER TABLE requests ADD COLUMN role TEXT;
    ALTER TABLE requests ADD COLUMN memberships TEXT;
    ALTER TABLE requests ADD COLUMN size TEXT;
    ALTER TABLE requests ADD COLUMN auth_override TEXT;
    ALTER TABLE requests ADD COLUMN decision_reason TEXT;
    ALTER TABLE requests ADD COLUMN approval_override TEXT;
    ALTER TABLE requests ADD COLUMN idempotency_key TEXT;
    ALTER TABLE requests ADD COLUMN job_id TEXT;
    ALTER TABLE requests ADD COLUMN job TEXT;
    CREATE TABLE notes (
        id         INTEGER PRIMARY KEY,
        request_id INTEGER NOT NULL REFERENCES requests(id),
        author     TEXT NOT NULL,
        text       TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE INDEX notes_request ON notes(request_id);
    CREATE INDEX requests_state ON requests(state);
    "#,
    // 4: the body of the export start, frozen at approval: a retry with the
    // same Idempotency-Key sends the same bytes (a different body with the
    // same key is a 409 `idempotency_conflict`).
    r#"
    ALTER TABLE requests ADD COLUMN export_body TEXT;
    "#,
    // 5: unread follow-ups: what each operator had seen of a request's
    // thread when they last opened it (store/seen.rs).
    r#"
    CREATE TABLE seen (
        request_id   INTEGER NOT NULL REFERENCES requests(id),
        operator     TEXT NOT NULL,
        last_message INTEGER NOT NULL,
        seen_at      TEXT NOT NULL,
        PRIMARY KEY (request_id, operator)
    );
    "#,
    // 6: team mode (see `team`): the request version every collision-checked
    // action carries, the change log that says what a version changed, the
    // operators' display names, and claims.
    r#"
    ALTER TABLE requests ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE requests ADD COLUMN claimed_by TEXT;
    ALTER TABLE requests ADD COLUMN claimed_at TEXT;
    CREATE TABLE request_changes (
        id         INTEGER PRIMARY KEY,
        request_id INTEGER NOT NULL REFERENCES requests(id),
        version    INTEGER NOT NULL,
        at         TEXT NOT NULL,
        who        TEXT NOT NULL,
        what       TEXT NOT NULL,
        UNIQUE (request_id, version)
    );
    CREATE TABLE operators (
        id         TEXT PRIMARY KEY,
        name       TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    "#,
    // 7: the change feed (`changes.rs`): what open screens reload.
    r#"
    CREATE TABLE changes (
        seq        INTEGER PRIMARY KEY,
        request_id INTEGER,
        kind       TEXT NOT NULL,
        actor      TEXT NOT NULL,
        at         TEXT NOT NULL
    );
    CREATE INDEX changes_at ON changes(at);
    "#,
    // 8: presence (who has which request open, writing what) and the inbox
    // poller's lease (`presence.rs`).
    r#"
    CREATE TABLE presence (
        session      TEXT PRIMARY KEY,
        operator     TEXT NOT NULL,
        request_id   INTEGER,
        activity     TEXT NOT NULL,
        heartbeat_at TEXT NOT NULL
    );
    CREATE TABLE poller_lease (
        name         TEXT PRIMARY KEY,
        holder       TEXT NOT NULL,
        session      TEXT NOT NULL,
        heartbeat_at TEXT NOT NULL,
        expires_at   TEXT NOT NULL,
        conn         TEXT
    );
    "#,
    // 9: one change table. `request_changes` (6, the collision stop's
    // history) and `changes` (7, the feed) each got a row per change of a
    // request, in the same transactions. Now `changes` is both: a change
    // that bumps the version carries it, with who and what (`team::bump`).
    // The history moves over (kind `request.changed`: which audit action it
    // came from was not kept); its seqs come after every feed row, so an
    // open screen at most reloads those requests once.
    r#"
    ALTER TABLE changes ADD COLUMN version INTEGER;
    ALTER TABLE changes ADD COLUMN who TEXT;
    ALTER TABLE changes ADD COLUMN what TEXT;
    INSERT INTO changes (request_id, kind, actor, at, version, who, what)
      SELECT request_id, 'request.changed', who, at, version, who, what
      FROM request_changes ORDER BY id;
    DROP TABLE request_changes;
    CREATE UNIQUE INDEX changes_version ON changes(request_id, version);
    "#,
    // 10: a sent reply that is still to be filed over IMAP (`\Answered`,
    // the Sent copy), and by whom: the operator whose screen or command
    // sent it files it at its next start when the filing did not finish
    // (the screen quit mid-way, the IMAP server was silent). NULL: nothing
    // to file. Replies sent before this column were not marked.
    r#"
    ALTER TABLE replies ADD COLUMN file_by TEXT;
    "#,
    // 11: a `Re:` without thread headers is matched to its sender's
    // requests (`RE_CANDIDATES`). Without this index each such follow-up
    // read the whole requests table: 82,000 instructions per follow-up
    // with 300 requests stored (2,924 of them in a big-headers first sync,
    // 240 M instructions, 62 % of the storing thread's work), growing with
    // every request the store keeps.
    r#"
    CREATE INDEX requests_requester ON requests(requester);
    "#,
];

/// Where a mailbox's incremental sync stands (RFC 3501 §2.3.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub uidvalidity: u32,
    pub last_uid: u32,
}

/// What storing one message did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    /// A new export request.
    NewRequest(i64),
    /// A message attached to the thread of request `0`.
    Attached(i64),
    /// Already in the store (same Message-ID).
    Duplicate,
    /// Not export-related: not kept.
    Ignored,
}

pub struct Store {
    conn: Conn,
}

/// The advisory lock key (any fixed 64-bit number) that serializes schema
/// migrations of a PostgreSQL store: two operators starting at once do not
/// both migrate.
const PG_MIGRATE_LOCK: i64 = 0x636f_6e63_6d69_6731;

pub(crate) fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl Store {
    /// Opens (creating if needed) the SQLite store at `path` and migrates it.
    pub fn open(path: &Path) -> Result<Store> {
        Self::open_with(path, true)
    }

    /// Opens the store wherever it is — the SQLite file or a team store —
    /// and migrates it.
    pub fn open_at(at: &Location) -> Result<Store> {
        match at {
            Location::Sqlite(path) => Self::open_with(path, true),
            Location::Postgres(target) => Self::connect_pg(target),
        }
    }

    /// Opens the store without migrating it (`concierge store migrate`
    /// reports the version it found, then migrates).
    pub fn open_unmigrated(path: &Path) -> Result<Store> {
        Self::open_with(path, false)
    }

    fn open_with(path: &Path, migrate: bool) -> Result<Store> {
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).with_context(|| {
                    format!("cannot create the store directory {}", dir.display())
                })?;
            }
        }
        let conn = rusqlite::Connection::open(path)
            .with_context(|| format!("cannot open the store {}", path.display()))?;
        Self::init(conn, migrate)
            .with_context(|| format!("cannot prepare the store {}", path.display()))
    }

    /// An in-memory store, for tests.
    pub fn in_memory() -> Result<Store> {
        Self::init(rusqlite::Connection::open_in_memory()?, true)
    }

    /// Connects to a team store on PostgreSQL and migrates it.
    pub fn connect_pg(target: &pg::PgTarget) -> Result<Store> {
        let mut store = Self::connect_pg_unmigrated(target)?;
        store.migrate().context("cannot prepare the team store")?;
        Ok(store)
    }

    /// Connects to a team store without migrating it.
    pub fn connect_pg_unmigrated(target: &pg::PgTarget) -> Result<Store> {
        let conn = pg::PgConn::connect(target).context("cannot connect to the team store")?;
        Ok(Store {
            conn: Conn::pg(conn),
        })
    }

    fn init(conn: rusqlite::Connection, migrate: bool) -> Result<Store> {
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // FULL: a committed reply record or decision survives a power loss too.
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        let mut store = Store {
            conn: Conn::sqlite(conn),
        };
        if migrate {
            store.migrate()?;
        }
        Ok(store)
    }

    /// The schema version the store is at.
    pub fn schema_version(&self) -> Result<i64> {
        match self.conn.engine() {
            Engine::Sqlite => self
                .conn
                .query_row("PRAGMA user_version", params![], |r| r.get(0)),
            Engine::Postgres => Ok(self
                .conn
                .query_row("SELECT version FROM schema_version", params![], |r| {
                    r.get(0)
                })
                .optional()?
                .unwrap_or(0)),
        }
    }

    /// Applies the pending migrations, all in one transaction that also
    /// sets the version they bring. Returns (from, to).
    pub fn migrate(&mut self) -> Result<(i64, i64)> {
        self.migrate_to(MIGRATIONS.len() as i64)
    }

    /// [`Store::migrate`], up to schema `target` only (tests of a
    /// migration start from the schema before it).
    pub fn migrate_to(&mut self, target: i64) -> Result<(i64, i64)> {
        let pg = self.conn.engine() == Engine::Postgres;
        // NOTE: a store already at this version (every start but the first)
        // needs no writer lock and no DDL: one read instead of seven round
        // trips to a team store (README, "The team store"). A store without
        // the version table yet is an error here, and migrated below.
        let current = MIGRATIONS.len() as i64;
        if self.schema_version().ok() == Some(current) {
            return Ok((current, current));
        }
        let tx = self.conn.transaction()?;
        if pg {
            tx.execute("SELECT pg_advisory_xact_lock(?1)", params![PG_MIGRATE_LOCK])?;
            tx.execute_batch(
                "CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL);
                 INSERT INTO schema_version (version)
                   SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM schema_version);",
            )?;
        }
        let version = if pg {
            tx.query_row("SELECT version FROM schema_version", params![], |r| {
                r.get(0)
            })?
        } else {
            tx.query_row("PRAGMA user_version", params![], |r| r.get::<_, i64>(0))?
        };
        if version > MIGRATIONS.len() as i64 {
            anyhow::bail!(
                "the store was written by a newer Concierge (schema {version}, this one knows {})",
                MIGRATIONS.len()
            );
        }
        let target = target.clamp(version, MIGRATIONS.len() as i64);
        for (i, sql) in MIGRATIONS
            .iter()
            .enumerate()
            .take(target as usize)
            .skip(version as usize)
        {
            let v = (i + 1) as i64;
            if pg {
                tx.execute_batch(&db::pg_ddl(sql))?;
                tx.execute("UPDATE schema_version SET version = ?1", params![v])?;
            } else {
                tx.execute_batch(sql)?;
                // A pragma takes no parameter; `v` is our own number.
                tx.execute_batch(&format!("PRAGMA user_version = {v}"))?;
            }
        }
        tx.commit()?;
        Ok((version, target))
    }

    pub fn conn(&self) -> &Conn {
        &self.conn
    }

    pub fn cursor(&self, mailbox: &str) -> Result<Option<Cursor>> {
        self.conn
            .query_row(
                "SELECT uidvalidity, last_uid FROM sync_state WHERE mailbox = ?1",
                params![mailbox],
                |r| {
                    Ok(Cursor {
                        uidvalidity: r.get(0)?,
                        last_uid: r.get(1)?,
                    })
                },
            )
            .optional()
    }

    /// Stores a batch of inspected messages and, in the same transaction,
    /// the cursor that covers them (IMAP) or their Maildir names.
    pub fn store_batch(
        &mut self,
        mailbox: &str,
        items: &[(Inspected, String, Option<String>)],
        cursor: Option<Cursor>,
    ) -> Result<Vec<Stored>> {
        let tx = self.conn.transaction()?;
        let mut out = Vec::with_capacity(items.len());
        for (msg, key, maildir_name) in items {
            out.push(store_one(&tx, mailbox, msg, key)?);
            if let Some(name) = maildir_name {
                tx.execute(
                    "INSERT INTO maildir_seen (mailbox, name) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                    params![mailbox, name],
                )?;
            }
        }
        if let Some(c) = cursor {
            tx.execute(
                "INSERT INTO sync_state (mailbox, uidvalidity, last_uid, updated_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(mailbox) DO UPDATE SET uidvalidity = excluded.uidvalidity,
                   last_uid = excluded.last_uid, updated_at = excluded.updated_at",
                params![mailbox, c.uidvalidity, c.last_uid, now()],
            )?;
        }
        tx.commit()?;
        Ok(out)
    }

    pub fn maildir_seen(&self, mailbox: &str, name: &str) -> Result<bool> {
        Ok(self
            .conn
            .query_opt(
                "SELECT 1 FROM maildir_seen WHERE mailbox = ?1 AND name = ?2",
                params![mailbox, name],
                |_| Ok(()),
            )?
            .is_some())
    }

    /// Number of requests in the store.
    pub fn request_count(&self) -> Result<i64> {
        self.conn
            .query_row("SELECT COUNT(*) FROM requests", params![], |r| r.get(0))
    }

    /// Message-IDs of the messages in a request's thread, oldest first.
    pub fn thread(&self, request_id: i64) -> Result<Vec<(String, String)>> {
        self.conn.query_map(
            "SELECT message_id, kind FROM messages WHERE request_id = ?1 ORDER BY id",
            params![request_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    }
}

/// A sender's requests for one workspace (or, without a workspace, one
/// subject), oldest first: the requests a `Re:` without thread headers may
/// answer.
const RE_CANDIDATES: &str = "SELECT id, state FROM requests WHERE requester = ?1
           AND (workspace_id = ?2 OR lower(workspace_name) = lower(CAST(?3 AS TEXT))
                OR (?2 IS NULL AND ?3 IS NULL AND subject = ?4))
         ORDER BY id";

/// Finds the request a reply belongs to: by In-Reply-To/References, else
/// (a `Re:` without thread headers) by sender AND workspace.
fn find_thread(tx: &Tx<'_>, msg: &Inspected) -> Result<Option<i64>> {
    for id in msg.in_reply_to.iter().chain(msg.references.iter().rev()) {
        let found: Option<Option<i64>> = tx.query_opt(
            // Every stored message carries its request (a request's own
            // message included).
            "SELECT request_id FROM messages WHERE message_id = ?1",
            params![id],
            |r| r.get(0),
        )?;
        if let Some(Some(req)) = found {
            return Ok(Some(req));
        }
    }
    let base = crate::intake::classify::base_subject(&msg.subject);
    if base.is_empty() || base == msg.subject {
        return Ok(None);
    }
    // NOTE: the subject alone is not enough: one owner's requests for two
    // workspaces, or three for one, share senders or subjects. The
    // follow-up names its workspace (the pre-filled subject, a
    // `Workspace:` line) and must come from the requester; without a
    // workspace, the subject stands in for it.
    let ws = &msg.workspace;
    // NOTE: CAST gives PostgreSQL the parameter's type (`lower` is
    // overloaded there); SQLite takes it as written.
    let candidates = tx.query_map(
        RE_CANDIDATES,
        params![msg.from, ws.id, ws.name, base],
        |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, crate::domain::RequestState>(1)?,
            ))
        },
    )?;
    Ok(thread_for_re(&candidates))
}

/// Of a sender's requests for one workspace (oldest first), the one a `Re:`
/// answers: the oldest still undecided (the original, when duplicates
/// followed it), else the oldest being exported, else the newest.
fn thread_for_re(candidates: &[(i64, crate::domain::RequestState)]) -> Option<i64> {
    let first = |f: fn(crate::domain::RequestState) -> bool| {
        candidates.iter().find(|(_, s)| f(*s)).map(|(id, _)| *id)
    };
    first(|s| s.is_open())
        .or_else(|| first(|s| s.is_in_flight()))
        .or_else(|| candidates.last().map(|(id, _)| *id))
}

/// A follow-up or automatic reply joins request `id`'s thread: the
/// request is touched and its version moves.
fn attach(tx: &Tx<'_>, id: i64, kind: Kind, msg: &Inspected, now: &str) -> Result<()> {
    tx.execute(
        "UPDATE requests SET updated_at = ?2 WHERE id = ?1",
        params![id, now],
    )?;
    // The customer wrote again: an action decided on the thread as it was
    // must stop (the collision stop, `team`). One change row: the feed's
    // and the version history's.
    let (who, what) = if kind == Kind::AutoReply {
        ("an automatic reply", "arrived".to_string())
    } else {
        (
            "the customer",
            format!("replied: {}", team::customer_said(&msg.body)),
        )
    };
    team::bump_as(tx, id, "message.attached", "intake", who, &what)?;
    Ok(())
}

fn store_one(tx: &Tx<'_>, mailbox: &str, msg: &Inspected, key: &str) -> Result<Stored> {
    // Most mail is not about exports: nothing to look up or keep.
    if msg.kind == Kind::Other {
        return Ok(Stored::Ignored);
    }
    let exists = tx
        .query_opt(
            "SELECT 1 FROM messages WHERE message_id = ?1",
            params![key],
            |_| Ok(()),
        )?
        .is_some();
    if exists {
        return Ok(Stored::Duplicate);
    }
    let now = now();
    let thread = match msg.kind {
        Kind::FollowUp | Kind::AutoReply => find_thread(tx, msg)?,
        _ => None,
    };
    // A reply to a thread we never saw that is itself a request (its
    // original predates the store) is a new request, not lost.
    let kind = match (msg.kind, thread) {
        (Kind::FollowUp, None) if msg.unthreaded_kind == Kind::ExportRequest => Kind::ExportRequest,
        (k, _) => k,
    };
    let (request_id, stored) = match kind {
        Kind::ExportRequest => {
            // The promise counts from when the customer wrote (the Date
            // header), unless that claims to be in the future.
            let received = msg
                .date
                .filter(|d| *d <= chrono::Utc::now())
                .map(crate::time::store_text)
                .unwrap_or_else(|| now.clone());
            let id: i64 = tx.query_row(
                "INSERT INTO requests (message_id, state, workspace_name, workspace_id, requester, subject, received_at, updated_at)
                 VALUES (?1, 'new', ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id",
                params![key, msg.workspace.name, msg.workspace.id, msg.from, msg.subject, received, now],
                |r| r.get(0),
            )?;
            (Some(id), Stored::NewRequest(id))
        }
        Kind::FollowUp | Kind::AutoReply => match thread {
            Some(id) => {
                attach(tx, id, kind, msg, &now)?;
                (Some(id), Stored::Attached(id))
            }
            None => return Ok(Stored::Ignored),
        },
        Kind::Other => return Ok(Stored::Ignored),
    };
    tx.execute(
        "INSERT INTO messages (message_id, request_id, mailbox, uid, kind, date, from_addr, from_name, reply_to,
           subject, workspace_name, workspace_id, in_reply_to, refs, dkim, spf, dmarc, warnings, body, stored_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)",
        params![
            key,
            request_id,
            mailbox,
            msg.uid,
            kind.as_str(),
            // The inspect line's form (whole seconds), as stored since v1.
            msg.date.map(crate::time::secs_text),
            msg.from,
            msg.from_name,
            msg.reply_to,
            msg.subject,
            msg.workspace.name,
            msg.workspace.id,
            msg.in_reply_to,
            serde_json::to_string(&msg.references)?,
            msg.auth.dkim,
            msg.auth.spf,
            msg.auth.dmarc,
            serde_json::to_string(&msg.warnings)?,
            msg.body,
            now,
        ],
    )?;
    if let Stored::NewRequest(id) = stored {
        changes::record(tx, Some(id), "request.received", "intake")?;
        audit::append_tx(
            tx,
            "intake",
            "request.received",
            &format!("request:{id}"),
            &serde_json::json!({
                "message_id": key,
                "from": msg.from,
                "workspace": msg.workspace.name,
                "warnings": msg.warnings,
            }),
        )?;
    }
    Ok(stored)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intake::{inspect, Options};

    fn msg(raw: &str) -> (Inspected, String, Option<String>) {
        let i = inspect(raw.as_bytes(), &Options::default());
        let key = i.store_key(raw.as_bytes());
        (i, key, None)
    }

    #[test]
    fn the_re_lookup_is_prepared_once_not_again_on_every_run() {
        let mut s = Store::in_memory().unwrap();
        let mut batch = Vec::new();
        for ws in ["Acme Support", "Globex"] {
            batch.push(msg(&format!("From: owner@acme.example\r\nMessage-ID: <{ws}@acme.example>\r\nSubject: Data export request: {ws}\r\n\r\nhi\r\n")));
        }
        for i in 0..6 {
            let ws = ["Acme Support", "Globex"][i % 2];
            batch.push(msg(&format!("From: owner@acme.example\r\nMessage-ID: <re{i}@acme.example>\r\nSubject: Re: Data export request: {ws}\r\n\r\nmore {i}\r\n")));
        }
        let r = s.store_batch("INBOX", &batch, None).unwrap();
        let attached: Vec<_> = r[2..].to_vec();
        assert_eq!(
            attached,
            (0..6)
                .map(|i| Stored::Attached(1 + (i % 2) as i64))
                .collect::<Vec<_>>(),
            "each Re: found its request by sender and workspace"
        );
        assert_eq!(s.conn.sqlite_reprepares(RE_CANDIDATES), Some(0));
    }

    #[test]
    fn the_re_lookup_searches_the_senders_requests_by_index() {
        let s = Store::in_memory().unwrap();
        let plan: Vec<String> = s
            .conn
            .query_map(
                &format!("EXPLAIN QUERY PLAN {RE_CANDIDATES}"),
                params!["owner@acme.example", None::<String>, None::<String>, "s"],
                |r| r.get(3),
            )
            .unwrap();
        assert!(
            plan.iter()
                .any(|l| l.starts_with("SEARCH requests USING INDEX requests_requester"))
                && !plan.iter().any(|l| l.starts_with("SCAN")),
            "{plan:?}"
        );
    }

    #[test]
    fn same_mail_twice_is_one_request_and_replies_attach() {
        let mut s = Store::in_memory().unwrap();
        let req = msg("From: owner@acme.example\r\nMessage-ID: <r1@acme.example>\r\nSubject: Data export request: Acme Support\r\n\r\nhi\r\n");
        let r = s.store_batch("INBOX", &[req.clone(), req], None).unwrap();
        assert_eq!(r[0], Stored::NewRequest(1));
        assert_eq!(r[1], Stored::Duplicate);
        let reply = msg("From: owner@acme.example\r\nMessage-ID: <r2@acme.example>\r\nIn-Reply-To: <r1@acme.example>\r\nSubject: Re: Data export request: Acme Support\r\n\r\nthanks\r\n");
        let ooo = msg("From: owner@acme.example\r\nMessage-ID: <r3@acme.example>\r\nAuto-Submitted: auto-replied\r\nReferences: <x@y> <r2@acme.example>\r\nSubject: Out of office\r\n\r\naway\r\n");
        let subj = msg("From: owner@acme.example\r\nMessage-ID: <r4@acme.example>\r\nSubject: RE: Data export request: Acme Support\r\n\r\nmore\r\n");
        let stray = msg("From: x@other.example\r\nMessage-ID: <r5@other.example>\r\nIn-Reply-To: <unknown@x>\r\nSubject: Re: hello\r\n\r\n?\r\n");
        let r = s
            .store_batch(
                "INBOX",
                &[reply, ooo, subj, stray],
                Some(Cursor {
                    uidvalidity: 7,
                    last_uid: 9,
                }),
            )
            .unwrap();
        assert_eq!(
            r,
            vec![
                Stored::Attached(1),
                Stored::Attached(1),
                Stored::Attached(1),
                Stored::Ignored
            ]
        );
        assert_eq!(s.request_count().unwrap(), 1);
        assert_eq!(s.thread(1).unwrap().len(), 4);
        assert_eq!(
            s.cursor("INBOX").unwrap(),
            Some(Cursor {
                uidvalidity: 7,
                last_uid: 9
            })
        );
        assert_eq!(audit::verify(s.conn()).unwrap(), Ok(1));
    }

    #[test]
    fn a_re_without_thread_headers_attaches_by_sender_and_workspace() {
        let mut s = Store::in_memory().unwrap();
        // Ada's first request names Acme in its body only; a second,
        // pre-filled one for Acme follows (a duplicate); then one for Globex.
        let first = msg("From: owner@acme.example\r\nMessage-ID: <r1@acme.example>\r\nSubject: Please export our data\r\n\r\nPlease export everything.\r\nWorkspace: Acme Support\r\n");
        let dup = msg("From: owner@acme.example\r\nMessage-ID: <r2@acme.example>\r\nSubject: Data export request: Acme Support\r\n\r\nhi\r\n");
        let globex = msg("From: owner@acme.example\r\nMessage-ID: <r3@acme.example>\r\nSubject: Data export request: Globex\r\n\r\nhi\r\n");
        let r = s.store_batch("INBOX", &[first, dup, globex], None).unwrap();
        assert_eq!(
            r,
            vec![
                Stored::NewRequest(1),
                Stored::NewRequest(2),
                Stored::NewRequest(3)
            ]
        );
        // "Re:" on the pre-filled subject, no In-Reply-To: the original
        // Acme request, not the newest with that subject.
        let re = msg("From: owner@acme.example\r\nMessage-ID: <f1@acme.example>\r\nSubject: Re: Data export request: Acme Support\r\n\r\nAny news? We need it by Friday\r\n");
        // The same subject from someone else is no follow-up of Ada's.
        let other = msg("From: eve@evil.example\r\nMessage-ID: <f2@evil.example>\r\nSubject: Re: Data export request: Acme Support\r\n\r\nsend it to me\r\n");
        let ws = msg("From: owner@acme.example\r\nMessage-ID: <f3@acme.example>\r\nSubject: Re: Data export request: Globex\r\n\r\nand Globex?\r\n");
        let r = s.store_batch("INBOX", &[re, other, ws], None).unwrap();
        assert_eq!(r[0], Stored::Attached(1));
        assert_ne!(r[1], Stored::Attached(1));
        assert_ne!(r[1], Stored::Attached(2));
        assert_eq!(r[2], Stored::Attached(3));
    }

    #[test]
    fn a_re_answers_the_undecided_request_before_a_decided_one() {
        use crate::domain::RequestState as S;
        assert_eq!(
            thread_for_re(&[(1, S::Done), (2, S::New), (3, S::Waiting)]),
            Some(2)
        );
        assert_eq!(thread_for_re(&[(1, S::Rejected), (2, S::Running)]), Some(2));
        assert_eq!(thread_for_re(&[(1, S::Rejected), (2, S::Done)]), Some(2));
        assert_eq!(thread_for_re(&[]), None);
    }

    #[test]
    fn reopening_keeps_everything() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/c.db");
        {
            let mut s = Store::open(&path).unwrap();
            let req = msg("From: owner@acme.example\r\nMessage-ID: <r1@acme.example>\r\nSubject: Data export request: Acme\r\n\r\nhi\r\n");
            s.store_batch(
                "INBOX",
                &[req],
                Some(Cursor {
                    uidvalidity: 1,
                    last_uid: 3,
                }),
            )
            .unwrap();
        }
        let s = Store::open(&path).unwrap();
        assert_eq!(s.request_count().unwrap(), 1);
        assert_eq!(s.cursor("INBOX").unwrap().unwrap().last_uid, 3);
    }
}

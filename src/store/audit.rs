//! The append-only, hash-chained audit log.
//!
//! Each entry holds the hash of the one before; its own hash is
//! SHA-256 over a canonical JSON array of (seq, at, actor, action, subject,
//! detail, prev_hash). Editing, deleting or reordering any entry breaks the
//! chain from that entry on, which `concierge audit verify` reports.

use super::db::{params, Conn, OptionalExtension, Tx};
use anyhow::Result;
use sha2::{Digest, Sha256};

/// The `prev_hash` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

pub(crate) fn entry_hash(
    seq: i64,
    at: &str,
    actor: &str,
    action: &str,
    subject: &str,
    detail: &str,
    prev: &str,
) -> String {
    let canonical = serde_json::json!([seq, at, actor, action, subject, detail, prev]).to_string();
    hex::encode(Sha256::digest(canonical.as_bytes()))
}

/// Appends an entry inside the caller's transaction (so the entry and the
/// change it records commit together). Returns its sequence number.
///
/// Appends are serialized, so the chain never forks: every [`Tx`] holds
/// the store's writer lock (`db::Conn::transaction`: `BEGIN IMMEDIATE` on
/// SQLite, a transaction-scoped advisory lock on PostgreSQL, taken at
/// BEGIN and held until COMMIT), so a concurrent appender reads the head
/// this one writes. NOTE: a second, audit-only advisory lock here used to
/// cost every action one more round trip on PostgreSQL for nothing: no
/// `Tx` exists without the writer lock
/// (tests/store_engines.rs `concurrent_appends_make_one_chain_on_postgres`).
pub fn append_tx(
    tx: &Tx<'_>,
    actor: &str,
    action: &str,
    subject: &str,
    detail: &serde_json::Value,
) -> Result<i64> {
    let last: Option<(i64, String)> = tx
        .query_row(
            "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
            params![],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let (seq, prev) = match last {
        Some((s, h)) => (s + 1, h),
        None => (1, GENESIS.to_string()),
    };
    let at = super::now();
    let detail = detail.to_string();
    let hash = entry_hash(seq, &at, actor, action, subject, &detail, &prev);
    tx.execute(
        "INSERT INTO audit (seq, at, actor, action, subject, detail, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![seq, at, actor, action, subject, detail, prev, hash],
    )?;
    Ok(seq)
}

/// Why the chain is broken, naming the first bad entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Broken {
    #[error("audit entry {seq}: its hash does not match its contents (the entry was altered)")]
    Altered { seq: i64 },
    #[error("audit entry {seq}: it does not follow entry {prev_seq} (an entry was removed or reordered)")]
    Unlinked { seq: i64, prev_seq: i64 },
    #[error("audit entry {seq}: expected sequence number {expected} (an entry was removed)")]
    Gap { seq: i64, expected: i64 },
}

/// Walks the whole chain. `Ok(n)`: intact with `n` entries.
pub fn verify(conn: &Conn) -> Result<std::result::Result<i64, Broken>> {
    // Read in pages of 5,000 entries (~1.5 MB): a long chain never sits in
    // memory whole.
    const PAGE: i64 = 5_000;
    let mut prev_hash = GENESIS.to_string();
    let mut count = 0i64;
    loop {
        let rows = conn.query(
            "SELECT seq, at, actor, action, subject, detail, prev_hash, hash FROM audit
             WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            params![count, PAGE],
        )?;
        for r in &rows {
            let seq: i64 = r.get(0)?;
            let expected = count + 1;
            if seq != expected {
                return Ok(Err(Broken::Gap { seq, expected }));
            }
            let text = |i: usize| r.get::<_, String>(i);
            let (prev, hash) = (text(6)?, text(7)?);
            let (at, actor, action, subject, detail) =
                (text(1)?, text(2)?, text(3)?, text(4)?, text(5)?);
            if entry_hash(seq, &at, &actor, &action, &subject, &detail, &prev) != hash {
                return Ok(Err(Broken::Altered { seq }));
            }
            if prev != prev_hash {
                return Ok(Err(Broken::Unlinked {
                    seq,
                    prev_seq: seq - 1,
                }));
            }
            prev_hash = hash;
            count = seq;
        }
        if (rows.len() as i64) < PAGE {
            break;
        }
    }
    Ok(Ok(count))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    fn store_with(n: usize) -> Store {
        let s = Store::in_memory().unwrap();
        for i in 0..n {
            let tx = s.conn.transaction().unwrap();
            append_tx(
                &tx,
                "sam",
                "note.added",
                &format!("request:{i}"),
                &serde_json::json!({"text": i}),
            )
            .unwrap();
            tx.commit().unwrap();
        }
        s
    }

    #[test]
    fn intact_chain_verifies() {
        let s = store_with(5);
        assert_eq!(verify(s.conn()).unwrap(), Ok(5));
    }

    #[test]
    fn altered_entry_is_named() {
        let s = store_with(5);
        s.conn()
            .execute(
                "UPDATE audit SET detail = '{\"text\":99}' WHERE seq = 3",
                params![],
            )
            .unwrap();
        assert_eq!(verify(s.conn()).unwrap(), Err(Broken::Altered { seq: 3 }));
    }

    #[test]
    fn removed_entry_is_named() {
        let s = store_with(5);
        s.conn()
            .execute("DELETE FROM audit WHERE seq = 2", params![])
            .unwrap();
        assert_eq!(
            verify(s.conn()).unwrap(),
            Err(Broken::Gap {
                seq: 3,
                expected: 2
            })
        );
    }

    #[test]
    fn rewritten_tail_with_recomputed_hash_is_unlinked() {
        let s = store_with(3);
        // An attacker who recomputes entry 2's own hash still breaks the link to entry 3.
        let (at, prev): (String, String) = s
            .conn()
            .query_row(
                "SELECT at, prev_hash FROM audit WHERE seq = 2",
                params![],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        let h = entry_hash(2, &at, "mallory", "note.added", "request:1", "{}", &prev);
        s.conn()
            .execute(
                "UPDATE audit SET actor='mallory', detail='{}', hash=?1 WHERE seq=2",
                params![h],
            )
            .unwrap();
        assert_eq!(
            verify(s.conn()).unwrap(),
            Err(Broken::Unlinked {
                seq: 3,
                prev_seq: 2
            })
        );
    }
}

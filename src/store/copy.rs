//! `concierge store copy --to URL`: a solo store moved into a new team
//! store, every row of every table (requests, messages, notes, replies,
//! jobs, estimate history, sync cursors, the audit chain) with its id.
//!
//! The source's audit chain is verified before anything is written, the
//! copy is one transaction on the target (all or nothing), and the target's
//! chain is verified again before it commits. A target that holds any row
//! is refused: merging two chains would fork the audit log.
//!
//! Tables and their columns are read from the source's schema, so tables
//! other modules add by migration are copied without a list to keep up.

use super::db::{params, Conn, Engine};
use super::{audit, Store};
use anyhow::{bail, Context, Result};

/// Rows copied, per table, in copy order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copied {
    pub tables: Vec<(String, i64)>,
    pub audit_entries: i64,
}

/// The tables of a store (not the engine's own bookkeeping), parents first:
/// `requests` before the tables that refer to it, `audit` last.
fn tables(conn: &Conn) -> Result<Vec<String>> {
    let sql = match conn.engine() {
        Engine::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        }
        Engine::Postgres => {
            "SELECT CAST(table_name AS TEXT) FROM information_schema.tables
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'
               AND table_name != 'schema_version' ORDER BY table_name"
        }
    };
    let mut names: Vec<String> = conn.query_map(sql, params![], |r| r.get(0))?;
    let rank = |n: &str| match n {
        "requests" => 0,
        "audit" => 2,
        _ => 1,
    };
    names.sort_by_key(|n| rank(n));
    Ok(names)
}

fn columns(conn: &Conn, table: &str) -> Result<Vec<String>> {
    let sql = match conn.engine() {
        Engine::Sqlite => "SELECT name FROM pragma_table_info(?1) ORDER BY cid",
        Engine::Postgres => {
            "SELECT CAST(column_name AS TEXT) FROM information_schema.columns
             WHERE table_schema = current_schema() AND table_name = ?1 ORDER BY ordinal_position"
        }
    };
    conn.query_map(sql, params![table], |r| r.get(0))
}

/// A name from the schema, quoted for SQL (both engines use `"…"`).
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn count(conn: &Conn, table: &str) -> Result<i64> {
    conn.query_row(
        &format!("SELECT COUNT(*) FROM {}", ident(table)),
        params![],
        |r| r.get(0),
    )
}

/// Copies everything in `src` into the empty store `dst`.
pub fn copy(src: &Store, dst: &Store) -> Result<Copied> {
    let entries = match audit::verify(src.conn())? {
        Ok(n) => n,
        Err(b) => bail!("the source store's audit log is broken ({b}): nothing copied"),
    };
    let (s, d) = (src.conn(), dst.conn());
    let names = tables(s)?;
    for t in &names {
        let n = count(d, t).with_context(|| {
            format!("the target store has no table {t}: is it older than the source?")
        })?;
        if n > 0 {
            bail!(
                "the target store is not empty ({n} rows in {t}): copy only into a new team store"
            );
        }
    }
    let tx = d.transaction()?;
    let mut copied = Vec::new();
    for t in &names {
        let cols = columns(s, t)?;
        let list = cols.iter().map(|c| ident(c)).collect::<Vec<_>>().join(", ");
        let marks = (1..=cols.len())
            .map(|i| format!("?{i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let insert = format!("INSERT INTO {} ({list}) VALUES ({marks})", ident(t));
        // Pages of 1,000 rows keep memory flat for a large store.
        let mut n = 0i64;
        loop {
            let rows = s.query(
                &format!(
                    "SELECT {list} FROM {} ORDER BY 1 LIMIT 1000 OFFSET ?1",
                    ident(t)
                ),
                params![n],
            )?;
            for r in &rows {
                tx.execute(&insert, &r.to_values()?)
                    .with_context(|| format!("copying a row of {t}"))?;
            }
            n += rows.len() as i64;
            if rows.len() < 1000 {
                break;
            }
        }
        if d.engine() == Engine::Postgres {
            // Explicit ids do not move an identity's sequence: the next
            // INSERT would collide with a copied row.
            for key in ["id", "seq"]
                .iter()
                .filter(|k| cols.iter().any(|c| c == *k))
            {
                // Only an identity has a sequence to move: the `operators`
                // table's `id` is an e-mail address (TEXT).
                let seq: Option<String> = tx.query_row(
                    "SELECT pg_get_serial_sequence(?1, ?2)",
                    params![t.as_str(), *key],
                    |r| r.get(0),
                )?;
                if seq.is_none() {
                    continue;
                }
                tx.execute(
                    &format!(
                        "SELECT setval(pg_get_serial_sequence(?1, ?2), GREATEST(MAX({k}), 1), MAX({k}) IS NOT NULL) FROM {}",
                        ident(t),
                        k = ident(key)
                    ),
                    params![t.as_str(), *key],
                )?;
            }
        }
        let written = count(&tx, t)?;
        if written != n {
            bail!("{t}: {n} rows read, {written} written: nothing copied");
        }
        copied.push((t.clone(), n));
    }
    match audit::verify(&tx)? {
        Ok(m) if m == entries => {}
        Ok(m) => {
            bail!("the copied audit log has {m} entries, the source {entries}: nothing copied")
        }
        Err(b) => bail!("the copied audit log does not verify ({b}): nothing copied"),
    }
    tx.commit()?;
    // NOTE: a team store just filled has no planner statistics until
    // autovacuum's analyze gets to it (a minute or more); until then
    // PostgreSQL plans the screen's load on guesses: the requests join ran
    // 25–28 ms of server time on a fresh 10,000-request copy, 18–20 ms
    // once analyzed. So the copy ends with one ANALYZE.
    if dst.conn().engine() == Engine::Postgres {
        dst.conn()
            .execute("ANALYZE", params![])
            .context("updating the team store's planner statistics")?;
    }
    Ok(Copied {
        tables: copied,
        audit_entries: entries,
    })
}

//! One database interface over two engines: the embedded SQLite file (solo
//! operator, demo) and PostgreSQL (a team's shared store).
//!
//! SQL is written once, in the dialect both engines share: `?1`-style
//! placeholders (rewritten to `$1` for PostgreSQL by [`pg_sql`]), `INSERT
//! ... ON CONFLICT`, `RETURNING id`, 64-bit integers, RFC 3339 UTC text for
//! times. Parameters are [`Value`]s (built with [`params!`](crate::db_params)),
//! and rows are read as [`Row`]s with typed getters, in place on both
//! engines (no column is copied before the getter converts it), so no
//! engine type leaks out of this module.
//!
//! Both engines keep their prepared statements: SQLite through rusqlite's
//! statement cache, PostgreSQL in a per-connection map (see [`super::pg`]).
//! A [`Tx`] is `BEGIN IMMEDIATE` on SQLite (writers queue up instead of
//! failing with SQLITE_BUSY at commit) and `BEGIN` plus a transaction-scoped
//! advisory lock on PostgreSQL, so write transactions are serialized on both
//! engines and code written for one behaves the same on the other; dropping
//! it without [`Tx::commit`] rolls back.
//!
//! Porting rusqlite code to this interface:
//! - `use rusqlite::{params, OptionalExtension}` → `use
//!   crate::store::db::{params, OptionalExtension, Row, Tx}`;
//! - `[x]` / `[]` as parameters → `params![x]` / `params![]`;
//! - `conn.transaction_with_behavior(Immediate)?` → `conn.transaction()?`;
//!   `&rusqlite::Transaction<'_>` → `&Tx<'_>` (it derefs to [`Conn`]);
//! - `prepare(..)?.query_map(p, f)?.collect::<rusqlite::Result<_>>()?` →
//!   `conn.query_map(sql, p, f)?` (rows come back as a `Vec`); a
//!   `rows.next()?` loop → `for r in &conn.query(sql, p)?`;
//! - closures take `&Row` and return `anyhow::Result`; `r.get(0)?` and
//!   `r.get::<_, T>(0)?` keep their shape;
//! - `last_insert_rowid()` → `INSERT ... RETURNING id` read with `query_row`;
//! - a parameter PostgreSQL cannot type from its use (only `?1 IS NULL`)
//!   needs a cast: `CAST(?1 AS BIGINT) IS NULL`; `SUM(bigint)` is NUMERIC
//!   there: `CAST(SUM(x) AS BIGINT)`; booleans are stored as 0/1 integers;
//! - domain enums bind and read as their words (`ToValue`/`FromValue`).
//!
//! Every connection counts what it sends to the engine ([`Conn::counts`]):
//! statements (each `execute`/`query*`/batch, BEGIN and COMMIT included:
//! one network round trip each on PostgreSQL once the statement is
//! prepared) and transactions. Always on: two integer additions per call.

use super::pg::PgConn;
use anyhow::{anyhow, Result};
use rusqlite::types::ToSqlOutput;

/// One SQL value, as both engines store it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

/// Builds the `&[Value]` a query takes: `params![id, name, now()]`.
#[macro_export]
macro_rules! db_params {
    () => { &[] as &[$crate::store::db::Value] };
    ($($x:expr),+ $(,)?) => {
        &[$($crate::store::db::ToValue::to_value(&$x)),+] as &[$crate::store::db::Value]
    };
}
pub use crate::db_params as params;

/// A Rust value that can be bound as a parameter.
pub trait ToValue {
    fn to_value(&self) -> Value;
}

impl ToValue for Value {
    fn to_value(&self) -> Value {
        self.clone()
    }
}
impl<T: ToValue + ?Sized> ToValue for &T {
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}
impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value {
        self.as_ref().map_or(Value::Null, ToValue::to_value)
    }
}
macro_rules! int_to_value {
    ($($t:ty),*) => {$(
        impl ToValue for $t {
            fn to_value(&self) -> Value {
                // NOTE: u64/usize above i64::MAX never occur here (counts,
                // UIDs of 32 bits); they would wrap, as in rusqlite's i64.
                Value::Int(*self as i64)
            }
        }
    )*};
}
int_to_value!(i8, i16, i32, i64, u8, u16, u32, u64, usize);
impl ToValue for bool {
    fn to_value(&self) -> Value {
        Value::Int(i64::from(*self))
    }
}
impl ToValue for f64 {
    fn to_value(&self) -> Value {
        Value::Real(*self)
    }
}
impl ToValue for str {
    fn to_value(&self) -> Value {
        Value::Text(self.to_string())
    }
}
impl ToValue for String {
    fn to_value(&self) -> Value {
        Value::Text(self.clone())
    }
}
/// A time binds as the store's RFC 3339 text ([`crate::time::store_text`]).
impl ToValue for chrono::DateTime<chrono::Utc> {
    fn to_value(&self) -> Value {
        Value::Text(crate::time::store_text(*self))
    }
}
impl ToValue for [u8] {
    fn to_value(&self) -> Value {
        Value::Blob(self.to_vec())
    }
}
impl ToValue for Vec<u8> {
    fn to_value(&self) -> Value {
        Value::Blob(self.clone())
    }
}

/// A borrowed column value: what [`FromValue`] reads from, so SQLite rows
/// are converted straight from the engine's buffer (one copy, as with
/// rusqlite itself).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ValueRef<'a> {
    Null,
    Int(i64),
    Real(f64),
    Text(&'a str),
    Blob(&'a [u8]),
}

impl Value {
    pub fn as_ref(&self) -> ValueRef<'_> {
        match self {
            Value::Null => ValueRef::Null,
            Value::Int(i) => ValueRef::Int(*i),
            Value::Real(f) => ValueRef::Real(*f),
            Value::Text(t) => ValueRef::Text(t),
            Value::Blob(b) => ValueRef::Blob(b),
        }
    }
}

impl ValueRef<'_> {
    pub fn to_owned_value(self) -> Value {
        match self {
            ValueRef::Null => Value::Null,
            ValueRef::Int(i) => Value::Int(i),
            ValueRef::Real(f) => Value::Real(f),
            ValueRef::Text(t) => Value::Text(t.to_string()),
            ValueRef::Blob(b) => Value::Blob(b.to_vec()),
        }
    }
}

/// A Rust value a column can be read as.
pub trait FromValue: Sized {
    /// `Err` names what was expected; the caller adds the column.
    fn from_value(v: ValueRef<'_>) -> std::result::Result<Self, String>;
}

fn mismatch<T>(want: &str, v: ValueRef<'_>) -> std::result::Result<T, String> {
    let got = match v {
        ValueRef::Null => "NULL",
        ValueRef::Int(_) => "an integer",
        ValueRef::Real(_) => "a real",
        ValueRef::Text(_) => "text",
        ValueRef::Blob(_) => "a blob",
    };
    Err(format!("expected {want}, found {got}"))
}

impl FromValue for Value {
    fn from_value(v: ValueRef<'_>) -> std::result::Result<Self, String> {
        Ok(v.to_owned_value())
    }
}
impl<T: FromValue> FromValue for Option<T> {
    fn from_value(v: ValueRef<'_>) -> std::result::Result<Self, String> {
        match v {
            ValueRef::Null => Ok(None),
            v => T::from_value(v).map(Some),
        }
    }
}
macro_rules! int_from_value {
    ($($t:ty),*) => {$(
        impl FromValue for $t {
            fn from_value(v: ValueRef<'_>) -> std::result::Result<Self, String> {
                match v {
                    ValueRef::Int(i) => <$t>::try_from(i)
                        .map_err(|_| format!("{i} does not fit in {}", stringify!($t))),
                    v => mismatch("an integer", v),
                }
            }
        }
    )*};
}
int_from_value!(i32, i64, u32, u64, usize);
impl FromValue for bool {
    fn from_value(v: ValueRef<'_>) -> std::result::Result<Self, String> {
        match v {
            ValueRef::Int(i) => Ok(i != 0),
            v => mismatch("a boolean (0 or 1)", v),
        }
    }
}
impl FromValue for f64 {
    fn from_value(v: ValueRef<'_>) -> std::result::Result<Self, String> {
        match v {
            ValueRef::Real(f) => Ok(f),
            ValueRef::Int(i) => Ok(i as f64),
            v => mismatch("a number", v),
        }
    }
}
impl FromValue for String {
    fn from_value(v: ValueRef<'_>) -> std::result::Result<Self, String> {
        match v {
            ValueRef::Text(s) => Ok(s.to_string()),
            v => mismatch("text", v),
        }
    }
}
/// RFC 3339 text, read once here: past the store a time is never a string.
/// Text that is not RFC 3339 is an error naming the column ([`Row::get`]).
impl FromValue for chrono::DateTime<chrono::Utc> {
    fn from_value(v: ValueRef<'_>) -> std::result::Result<Self, String> {
        match v {
            ValueRef::Text(s) => crate::time::parse(s),
            v => mismatch("an RFC 3339 time", v),
        }
    }
}
impl FromValue for Vec<u8> {
    fn from_value(v: ValueRef<'_>) -> std::result::Result<Self, String> {
        match v {
            ValueRef::Blob(b) => Ok(b.to_vec()),
            ValueRef::Text(s) => Ok(s.as_bytes().to_vec()),
            v => mismatch("a blob", v),
        }
    }
}

/// A column index (rusqlite's `r.get(0)` keeps its shape).
pub trait RowIndex {
    fn index(self) -> usize;
}
impl RowIndex for usize {
    fn index(self) -> usize {
        self
    }
}

/// One result row: read in place while a query runs (from SQLite's buffer,
/// or from the PostgreSQL row as it came off the wire), or owned
/// ([`Conn::query`]).
pub struct Row<'a> {
    inner: RowInner<'a>,
}

enum RowInner<'a> {
    Owned(Vec<Value>),
    Sqlite(&'a rusqlite::Row<'a>),
    Pg(&'a postgres::Row),
}

impl std::fmt::Debug for Row<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Row").field(&self.to_values()).finish()
    }
}

fn from_sqlite(v: rusqlite::types::ValueRef<'_>) -> std::result::Result<ValueRef<'_>, String> {
    Ok(match v {
        rusqlite::types::ValueRef::Null => ValueRef::Null,
        rusqlite::types::ValueRef::Integer(i) => ValueRef::Int(i),
        rusqlite::types::ValueRef::Real(f) => ValueRef::Real(f),
        rusqlite::types::ValueRef::Text(t) => ValueRef::Text(
            std::str::from_utf8(t).map_err(|_| "text that is not UTF-8".to_string())?,
        ),
        rusqlite::types::ValueRef::Blob(b) => ValueRef::Blob(b),
    })
}

impl Row<'static> {
    pub fn new(values: Vec<Value>) -> Row<'static> {
        Row {
            inner: RowInner::Owned(values),
        }
    }
}

impl Row<'_> {
    pub fn len(&self) -> usize {
        match &self.inner {
            RowInner::Owned(v) => v.len(),
            RowInner::Sqlite(r) => r.as_ref().column_count(),
            RowInner::Pg(r) => r.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Column `i` as `T`; a missing column or a wrong type is an error
    /// naming the column (never a panic).
    pub fn get<I: RowIndex, T: FromValue>(&self, i: I) -> Result<T> {
        let i = i.index();
        let missing = || anyhow!("column {i} is not in the result ({} columns)", self.len());
        let got = match &self.inner {
            RowInner::Owned(v) => T::from_value(v.get(i).ok_or_else(missing)?.as_ref()),
            RowInner::Sqlite(r) => {
                let v = r.get_ref(i).map_err(|_| missing())?;
                from_sqlite(v).and_then(T::from_value)
            }
            RowInner::Pg(r) => {
                if i >= r.len() {
                    return Err(missing());
                }
                r.try_get::<_, super::pg::PgRef<'_>>(i)
                    .map_err(|e| e.to_string())
                    .and_then(|v| T::from_value(v.0))
            }
        };
        got.map_err(|e| anyhow!("column {i}: {e}"))
    }

    /// Every column, owned.
    pub fn to_values(&self) -> Result<Vec<Value>> {
        (0..self.len()).map(|i| self.get(i)).collect()
    }
}

/// `query_row` found no row; [`OptionalExtension::optional`] turns it into `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the query returned no row")]
pub struct NoRows;

/// rusqlite's `.optional()`, for this module's results.
pub trait OptionalExtension<T> {
    fn optional(self) -> Result<Option<T>>;
}
impl<T> OptionalExtension<T> for Result<T> {
    fn optional(self) -> Result<Option<T>> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is::<NoRows>() => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// Which engine a connection runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

pub(crate) enum Inner {
    Sqlite(rusqlite::Connection),
    Pg(PgConn),
}

/// A connection to either engine.
pub struct Conn {
    pub(crate) inner: Inner,
    counts: std::cell::Cell<Counts>,
}

/// What a connection sent to its engine (see the module doc).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Statements sent, BEGIN and COMMIT/ROLLBACK included.
    pub statements: u64,
    /// Transactions begun.
    pub transactions: u64,
}

impl std::ops::Sub for Counts {
    type Output = Counts;
    fn sub(self, earlier: Counts) -> Counts {
        Counts {
            statements: self.statements - earlier.statements,
            transactions: self.transactions - earlier.transactions,
        }
    }
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        use rusqlite::types::ValueRef as R;
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null => R::Null,
            Value::Int(i) => R::Integer(*i),
            Value::Real(f) => R::Real(*f),
            Value::Text(s) => R::Text(s.as_bytes()),
            Value::Blob(b) => R::Blob(b),
        }))
    }
}

impl Conn {
    pub(crate) fn sqlite(conn: rusqlite::Connection) -> Conn {
        // Every statement the store runs is cached: more than the default 16
        // distinct statements run in one screen session.
        conn.set_prepared_statement_cache_capacity(128);
        // NOTE: the query planner stability guarantee. Without it SQLite
        // marks a parameter whose value might change the plan (for one,
        // `col = ?N` on a column no index serves, in a query with ORDER BY:
        // the planner's truth-probability guess), and `clear_bindings`,
        // which rusqlite calls on every statement it puts back in its
        // cache, then expires the statement: it was prepared again on each
        // run (`find_thread`'s `Re:` lookup: 284 re-prepares in 285 runs,
        // 26,000 instructions each; docs/perf-sync.md, third round). The
        // store never runs ANALYZE and binds no LIKE pattern, so no plan
        // ever depended on a bound value anyway.
        if let Err(e) = conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
            true,
        ) {
            tracing::warn!("SQLite refused the query planner stability guarantee: {e}");
        }
        Conn {
            inner: Inner::Sqlite(conn),
            counts: Default::default(),
        }
    }

    pub(crate) fn pg(conn: PgConn) -> Conn {
        Conn {
            inner: Inner::Pg(conn),
            counts: Default::default(),
        }
    }

    /// Statements and transactions sent so far on this connection.
    pub fn counts(&self) -> Counts {
        self.counts.get()
    }

    fn count(&self, transactions: u64) {
        let c = self.counts.get();
        self.counts.set(Counts {
            statements: c.statements + 1,
            transactions: c.transactions + transactions,
        });
    }

    pub fn engine(&self) -> Engine {
        match self.inner {
            Inner::Sqlite(_) => Engine::Sqlite,
            Inner::Pg(_) => Engine::Postgres,
        }
    }

    /// The SQLite file, when the store is one (not in memory, not PostgreSQL).
    pub fn sqlite_path(&self) -> Option<std::path::PathBuf> {
        match &self.inner {
            Inner::Sqlite(c) => c
                .path()
                .filter(|p| !p.is_empty())
                .map(std::path::PathBuf::from),
            Inner::Pg(_) => None,
        }
    }

    /// Runs one statement; returns the number of rows it changed.
    pub fn execute(&self, sql: &str, params: &[Value]) -> Result<usize> {
        self.count(0);
        match &self.inner {
            Inner::Sqlite(c) => {
                let mut st = c.prepare_cached(sql)?;
                Ok(st.execute(rusqlite::params_from_iter(params.iter()))?)
            }
            Inner::Pg(p) => p.execute(sql, params),
        }
    }

    /// Runs several `;`-separated statements without parameters.
    pub fn execute_batch(&self, sql: &str) -> Result<()> {
        self.count(0);
        match &self.inner {
            Inner::Sqlite(c) => Ok(c.execute_batch(sql)?),
            Inner::Pg(p) => p.batch(sql),
        }
    }

    /// Runs `f` on each row (at most `limit`), in place on SQLite.
    fn each<T>(
        &self,
        sql: &str,
        params: &[Value],
        limit: Option<usize>,
        mut f: impl FnMut(&Row<'_>) -> Result<T>,
    ) -> Result<Vec<T>> {
        self.count(0);
        match &self.inner {
            Inner::Sqlite(c) => {
                let mut st = c.prepare_cached(sql)?;
                let mut rows = st.query(rusqlite::params_from_iter(params.iter()))?;
                let mut out = Vec::new();
                while let Some(r) = rows.next()? {
                    out.push(f(&Row {
                        inner: RowInner::Sqlite(r),
                    })?);
                    if limit.is_some_and(|l| out.len() >= l) {
                        break;
                    }
                }
                Ok(out)
            }
            Inner::Pg(p) => {
                let mut out = Vec::new();
                p.each(sql, params, limit, |r| {
                    out.push(f(&Row {
                        inner: RowInner::Pg(r),
                    })?);
                    Ok(())
                })?;
                Ok(out)
            }
        }
    }

    /// Every row of a query, read out.
    pub fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row<'static>>> {
        self.each(sql, params, None, |r| r.to_values().map(Row::new))
    }

    /// Every row, mapped.
    pub fn query_map<T>(
        &self,
        sql: &str,
        params: &[Value],
        f: impl FnMut(&Row<'_>) -> Result<T>,
    ) -> Result<Vec<T>> {
        self.each(sql, params, None, f)
    }

    /// The first row, mapped, or `None` when there is none.
    ///
    /// NOTE: for lookups that often find nothing (the sync asks for every
    /// follow-up's thread): `query_row(..).optional()` builds a [`NoRows`]
    /// error first, and with `RUST_BACKTRACE=1` set every anyhow error
    /// captures a backtrace — measured at ~150,000 instructions per missing
    /// row, 45 % of the sync's store step (docs/perf-sync.md).
    pub fn query_opt<T>(
        &self,
        sql: &str,
        params: &[Value],
        f: impl FnOnce(&Row<'_>) -> Result<T>,
    ) -> Result<Option<T>> {
        let mut f = Some(f);
        let mut out = self.each(sql, params, Some(1), |r| {
            // `each` stops after one row: `f` runs at most once.
            f.take()
                .map_or_else(|| Err(anyhow!("a second row")), |f| f(r))
        })?;
        Ok(out.pop())
    }

    /// The first row, mapped; [`NoRows`] when there is none (see
    /// [`OptionalExtension::optional`]).
    pub fn query_row<T>(
        &self,
        sql: &str,
        params: &[Value],
        f: impl FnOnce(&Row<'_>) -> Result<T>,
    ) -> Result<T> {
        let mut f = Some(f);
        let mut out = self.each(sql, params, Some(1), |r| {
            // `each` stops after one row: `f` runs at most once.
            f.take()
                .map_or_else(|| Err(anyhow!("a second row")), |f| f(r))
        })?;
        out.pop().ok_or_else(|| NoRows.into())
    }

    /// Starts a transaction (see the module doc).
    pub fn transaction(&self) -> Result<Tx<'_>> {
        self.count(1);
        match &self.inner {
            Inner::Sqlite(c) => c.execute_batch("BEGIN IMMEDIATE")?,
            // One writer at a time, as on SQLite: a read-check-write (is the
            // request still `new`? then approve) cannot interleave with
            // another operator's. The lock is the transaction's, released at
            // COMMIT/ROLLBACK or when the session dies. The PostgreSQL
            // connection knows where its transactions begin and end: a
            // session lost inside one is never silently replaced (pg.rs).
            Inner::Pg(p) => p.begin(PG_BEGIN)?,
        }
        Ok(Tx {
            conn: self,
            done: false,
        })
    }

    fn end(&self, commit: bool) -> Result<()> {
        self.count(0);
        match (&self.inner, commit) {
            (Inner::Sqlite(c), true) => Ok(c.execute_batch("COMMIT")?),
            (Inner::Sqlite(c), false) => Ok(c.execute_batch("ROLLBACK")?),
            (Inner::Pg(p), true) => p.commit(),
            (Inner::Pg(p), false) => p.rollback(),
        }
    }
}

/// The store's writer lock on PostgreSQL (any fixed 64-bit key).
const PG_BEGIN: &str = "BEGIN; SELECT pg_advisory_xact_lock(7163782623765329001)";

/// An open transaction; rolls back when dropped uncommitted.
pub struct Tx<'a> {
    conn: &'a Conn,
    done: bool,
}

impl Tx<'_> {
    pub fn commit(mut self) -> Result<()> {
        // NOTE: after a failed COMMIT, Drop still rolls back: SQLite keeps
        // the transaction open on SQLITE_BUSY; PostgreSQL's has ended, and
        // its connection makes that ROLLBACK a no-op.
        self.conn.end(true)?;
        self.done = true;
        Ok(())
    }
}

impl std::ops::Deref for Tx<'_> {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        self.conn
    }
}

impl Drop for Tx<'_> {
    fn drop(&mut self) {
        if !self.done {
            // Nothing to report to: the caller's own error is on its way.
            let _ = self.conn.end(false);
        }
    }
}

/// Rewrites `?N` placeholders to PostgreSQL's `$N`, leaving string
/// literals, quoted identifiers and comments alone. A bare `?` (SQLite's
/// positional form) is refused: the common dialect numbers every parameter.
pub fn pg_sql(sql: &str) -> Result<String> {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' => {
                out.push(c);
                for d in chars.by_ref() {
                    out.push(d);
                    // A doubled quote ('') closes and reopens: same result.
                    if d == c {
                        break;
                    }
                }
            }
            '-' if chars.peek() == Some(&'-') => {
                out.push(c);
                for d in chars.by_ref() {
                    out.push(d);
                    if d == '\n' {
                        break;
                    }
                }
            }
            '?' => {
                if !chars.peek().is_some_and(|d| d.is_ascii_digit()) {
                    anyhow::bail!("a bare `?` placeholder in SQL: number it (`?1`)");
                }
                out.push('$');
            }
            c => out.push(c),
        }
    }
    Ok(out)
}

/// The PostgreSQL form of a schema migration written for SQLite: 64-bit
/// identity keys, BYTEA, DOUBLE PRECISION; `WITHOUT ROWID` dropped.
pub fn pg_ddl(sql: &str) -> String {
    use std::sync::OnceLock;
    static RULES: OnceLock<Vec<(regex::Regex, &'static str)>> = OnceLock::new();
    let rules = RULES.get_or_init(|| {
        [
            (
                r"\bINTEGER\s+PRIMARY\s+KEY\b",
                "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
            ),
            (r"\bINTEGER\b", "BIGINT"),
            (r"\bBLOB\b", "BYTEA"),
            (r"\bREAL\b", "DOUBLE PRECISION"),
            (r"\)\s*WITHOUT\s+ROWID", ")"),
        ]
        .into_iter()
        .map(|(p, r)| (regex::Regex::new(p).expect("a fixed pattern"), r))
        .collect()
    });
    let mut s = sql.to_string();
    for (re, with) in rules {
        s = re.replace_all(&s, *with).into_owned();
    }
    s
}

impl Conn {
    /// How many times SQLite prepared the cached statement `sql` again
    /// since it was first prepared (`None` on PostgreSQL).
    #[cfg(test)]
    pub(crate) fn sqlite_reprepares(&self, sql: &str) -> Option<i32> {
        match &self.inner {
            Inner::Sqlite(c) => Some(
                c.prepare_cached(sql)
                    .ok()?
                    .get_status(rusqlite::StatementStatus::RePrepare),
            ),
            Inner::Pg(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_renumbered_outside_literals_only() {
        assert_eq!(
            pg_sql(
                "SELECT a FROM t WHERE b = ?1 AND c = '?2' AND \"d?3\" = ?12 -- ?4\n AND e = ?2"
            )
            .unwrap(),
            "SELECT a FROM t WHERE b = $1 AND c = '?2' AND \"d?3\" = $12 -- ?4\n AND e = $2"
        );
        assert_eq!(
            pg_sql("SELECT 'it''s ?1', ?1").unwrap(),
            "SELECT 'it''s ?1', $1"
        );
        assert!(pg_sql("SELECT ? FROM t").is_err());
    }

    #[test]
    fn ddl_gets_postgres_types() {
        let s = pg_ddl("CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER NOT NULL, b BLOB, r REAL, big_integer_text TEXT) WITHOUT ROWID;");
        assert_eq!(
            s,
            "CREATE TABLE t (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, n BIGINT NOT NULL, b BYTEA, r DOUBLE PRECISION, big_integer_text TEXT);"
        );
    }

    #[test]
    fn typed_getters_refuse_the_wrong_type_without_panicking() {
        let r = Row::new(vec![Value::Int(3), Value::Null, Value::Text("x".into())]);
        assert_eq!(r.get::<_, i64>(0).unwrap(), 3);
        assert!(r.get::<_, bool>(0).unwrap());
        assert_eq!(r.get::<_, Option<String>>(1).unwrap(), None);
        assert!(r.get::<_, String>(1).is_err());
        assert!(r.get::<_, i64>(2).is_err());
        assert!(r.get::<_, i64>(9).is_err());
        assert_eq!(r.get::<_, u32>(0).unwrap(), 3);
        assert!(Row::new(vec![Value::Int(-1)]).get::<_, u32>(0).is_err());
    }

    #[test]
    fn times_read_once_as_utc_and_a_bad_one_names_its_column() {
        use chrono::{DateTime, Utc};
        let r = Row::new(vec![
            Value::Text("2026-11-23T10:14:05.000+01:00".into()),
            Value::Null,
            Value::Text("yesterday".into()),
            Value::Int(5),
        ]);
        let t: DateTime<Utc> = r.get(0).unwrap();
        assert_eq!(t.to_value(), Value::Text("2026-11-23T09:14:05.000Z".into()));
        assert_eq!(r.get::<_, Option<DateTime<Utc>>>(1).unwrap(), None);
        let e = format!("{:#}", r.get::<_, DateTime<Utc>>(2).unwrap_err());
        assert!(e.contains("column 2") && e.contains("\"yesterday\""), "{e}");
        assert!(r.get::<_, Option<DateTime<Utc>>>(2).is_err());
        assert!(r.get::<_, DateTime<Utc>>(3).is_err());
    }
}

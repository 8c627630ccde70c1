//! Reading a request's row without letting one bad value hide the others.
//!
//! Times are read once, as RFC 3339 ([`crate::time::parse`]); a value that
//! is not (an old version's `2026-11-23 09:14:05`, a hand edit, a disk
//! error) used to make the whole load fail, and the queue came up empty.
//! Now each field the screen can do without is read softly: a value that
//! cannot be read becomes "unknown" (`None`, never a made-up time) and a
//! [`Damage`] on the request says which field and what was found, in
//! words. The row's identity (id, Message-ID, state, version) stays a hard
//! error: without it there is nothing to show or act on safely.
//!
//! Nothing is rewritten: the stored text stays as it was, so nothing is
//! lost and a repair can read it.

use super::db::{FromValue, Row};
use serde::de::DeserializeOwned;

/// One field of a request that could not be read from the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// The field in words ("the time it arrived").
    pub field: &'static str,
    /// Where it is stored (`requests.received_at`).
    pub column: &'static str,
    /// What is wrong with it (already cut to a screen's width: stored text
    /// may be anything).
    pub problem: String,
}

impl std::fmt::Display for Damage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.field, self.column, self.problem)
    }
}

/// At most this many characters of a problem are kept: a stored value of
/// a megabyte must not become a megabyte of status line.
const PROBLEM_CHARS: usize = 120;

/// Reads one row, collecting what could not be read instead of failing.
pub(crate) struct SoftRow<'r, 'a> {
    row: &'r Row<'a>,
    pub damage: Vec<Damage>,
}

impl<'r, 'a> SoftRow<'r, 'a> {
    pub(crate) fn new(row: &'r Row<'a>) -> Self {
        SoftRow {
            row,
            damage: Vec::new(),
        }
    }

    fn note(&mut self, field: &'static str, column: &'static str, problem: String) {
        let problem = crate::intake::sanitize::single_line(&problem).text;
        let mut shown: String = problem.chars().take(PROBLEM_CHARS).collect();
        if shown.len() < problem.len() {
            shown.push('…');
        }
        self.damage.push(Damage {
            field,
            column,
            problem: shown,
        });
    }

    /// Column `i`, or `None` (and a [`Damage`]) when it cannot be read as `T`.
    pub(crate) fn get<T: FromValue>(
        &mut self,
        i: usize,
        field: &'static str,
        column: &'static str,
    ) -> Option<T> {
        match self.row.get::<_, T>(i) {
            Ok(v) => Some(v),
            Err(e) => {
                // Row::get says "column N: …"; the field's name says it better.
                let e = format!("{e:#}");
                let what = e.split_once(": ").map_or(e.as_str(), |(_, w)| w);
                self.note(field, column, what.to_string());
                None
            }
        }
    }

    /// Column `i` as `T`, or `T`'s default (and a [`Damage`]).
    pub(crate) fn or_default<T: FromValue + Default>(
        &mut self,
        i: usize,
        field: &'static str,
        column: &'static str,
    ) -> T {
        self.get(i, field, column).unwrap_or_default()
    }

    /// A JSON text column: `None` when NULL; `None` and a [`Damage`] when
    /// it is not text or not the JSON expected.
    pub(crate) fn json<T: DeserializeOwned>(
        &mut self,
        i: usize,
        field: &'static str,
        column: &'static str,
    ) -> Option<T> {
        let text: String = self.get::<Option<String>>(i, field, column)??;
        match serde_json::from_str(&text) {
            Ok(v) => Some(v),
            Err(e) => {
                self.note(field, column, format!("not the JSON expected ({e})"));
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::db::Value;

    #[test]
    fn a_bad_value_is_named_in_words_and_the_rest_still_reads() {
        let row = Row::new(vec![
            Value::Text("last Tuesday".into()),
            Value::Text("2026-11-23T09:14:05Z".into()),
            Value::Text("{not json".into()),
            Value::Null,
            Value::Text("x".repeat(10_000)),
        ]);
        let mut r = SoftRow::new(&row);
        let bad: Option<chrono::DateTime<chrono::Utc>> =
            r.get(0, "the time it arrived", "requests.received_at");
        assert_eq!(bad, None);
        assert!(r
            .get::<chrono::DateTime<chrono::Utc>>(1, "x", "t.x")
            .is_some());
        assert_eq!(
            r.json::<Vec<String>>(2, "the memberships", "requests.memberships"),
            None
        );
        assert_eq!(
            r.json::<Vec<String>>(3, "y", "t.y"),
            None,
            "NULL is no damage"
        );
        assert_eq!(r.get::<chrono::DateTime<chrono::Utc>>(4, "z", "t.z"), None);
        let said: Vec<String> = r.damage.iter().map(|d| d.to_string()).collect();
        assert_eq!(said.len(), 3, "{said:?}");
        assert!(
            said[0].starts_with("the time it arrived (requests.received_at): expected an RFC 3339 time, found \"last Tuesday\""),
            "{said:?}"
        );
        assert!(said[1].contains("not the JSON expected"), "{said:?}");
        assert!(said[2].chars().count() < 200, "cut: {}", said[2].len());
    }
}

//! Times as the project writes and reads them: `DateTime<Utc>` inside,
//! RFC 3339 text at the edges (the store's columns, JSON lines, the CLI).
//!
//! A time is parsed once, where it comes in: the store's row reading
//! ([`crate::store::db::FromValue`] for `DateTime<Utc>`), serde on the wire,
//! a command-line argument. Past that, nothing holds a time as a string.
//!
//! Two text forms are written, both UTC with a `Z` (RFC 3339 §5.6):
//! - [`store_text`]: milliseconds (`2026-11-23T09:14:05.000Z`), every time
//!   column the store writes itself; one width for every row, so that text
//!   order in SQL (`at < ?1`, `ORDER BY at`) is time order;
//! - [`secs_text`]: whole seconds (`2026-11-23T09:14:05Z`), the inspect /
//!   sync JSON line's `date` and the estimate's `due` (the CLI contract).

use chrono::{DateTime, SecondsFormat, Utc};

/// RFC 3339 text (any offset) as a UTC time; `Err` says what was found
/// (quoted, cut to 40 characters: stored text may be anything).
pub fn parse(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            let shown: String = s.chars().take(40).collect();
            format!("expected an RFC 3339 time, found {shown:?}")
        })
}

/// The store's form: RFC 3339, milliseconds, `Z`.
pub fn store_text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The CLI's form: RFC 3339, whole seconds (truncated), `Z`.
pub fn secs_text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// serde: a time written as [`secs_text`] (`#[serde(serialize_with)]`).
pub fn ser_secs<S: serde::Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&secs_text(*t))
}

/// serde: an optional time written as [`secs_text`], or null.
pub fn ser_opt_secs<S: serde::Serializer>(
    t: &Option<DateTime<Utc>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&secs_text(*t)),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_offset_reads_as_utc_and_bad_text_is_named_not_a_panic() {
        let t = parse("2026-11-23T10:14:05.5+01:00").unwrap();
        assert_eq!(store_text(t), "2026-11-23T09:14:05.500Z");
        assert_eq!(secs_text(t), "2026-11-23T09:14:05Z");
        let e = parse("next Tuesday").unwrap_err();
        assert!(e.contains("RFC 3339") && e.contains("next Tuesday"), "{e}");
        let long = "x".repeat(500);
        assert!(parse(&long).unwrap_err().len() < 100);
    }

    #[test]
    fn serde_writes_whole_seconds() {
        #[derive(serde::Serialize)]
        struct T {
            #[serde(serialize_with = "ser_secs")]
            a: DateTime<Utc>,
            #[serde(serialize_with = "ser_opt_secs")]
            b: Option<DateTime<Utc>>,
        }
        let a = parse("2026-11-23T09:14:05.999Z").unwrap();
        let json = serde_json::to_string(&T { a, b: None }).unwrap();
        assert_eq!(json, r#"{"a":"2026-11-23T09:14:05Z","b":null}"#);
    }
}

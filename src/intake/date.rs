//! The `Date:` header, read to RFC 5322 §3.3 with the obsolete forms of §4.3
//! and the deviations real mailers write.
//!
//! mail-parser's reader loses three common cases (issue 10): a time without
//! seconds (`19:59 CST` gave no date), a three-digit zone (`-600` was read
//! as minutes, 12 h off), and a lowercase zone name (`cst` was read as UTC).
//! This reader takes those and answers `None` for anything it cannot place,
//! so the caller can fall back or report `malformed`.

use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone, Utc};

/// Parses a raw (unfolded) Date value to UTC; `None` when it is not a date.
pub fn parse(raw: &str) -> Option<DateTime<Utc>> {
    // NOTE: nearly every Date is a short ASCII line: its comments dropped,
    // lowercased and its commas made spaces byte by byte in a buffer on the
    // stack, it reads as the general path reads it (three `String`s and a
    // `char` walk each: 1,800 of 3,600 instructions a date). For ASCII the
    // two give the same text; `tokens` then splits both the same way.
    let mut buf = [0u8; SHORT];
    if raw.len() <= SHORT && raw.is_ascii() {
        let mut n = 0;
        let mut depth = 0usize;
        for &b in raw.as_bytes() {
            match b {
                b'(' => depth += 1,
                b')' if depth > 0 => depth -= 1,
                _ if depth == 0 => {
                    buf[n] = if b == b',' {
                        b' '
                    } else {
                        b.to_ascii_lowercase()
                    };
                    n += 1;
                }
                _ => {}
            }
        }
        return from_text(std::str::from_utf8(&buf[..n]).ok()?);
    }
    from_text(&strip_comments(raw).to_ascii_lowercase().replace(',', " "))
}

/// The longest Date read on the stack; RFC 5322's form is at most 31 bytes
/// without its comment, and real ones with a comment stay under 64.
const SHORT: usize = 128;

/// [`parse`] on the value without comments, lowercased, commas as spaces.
fn from_text(text: &str) -> Option<DateTime<Utc>> {
    let mut toks = text.split_whitespace().peekable();
    // Optional day of week (§3.3 `day-of-week`); its value is not checked,
    // the date itself says which day it was.
    if toks
        .peek()
        .is_some_and(|t| t.chars().all(|c| c.is_ascii_alphabetic()))
    {
        toks.next();
    }
    let day: u32 = small_number(toks.next()?, 2)?;
    let month = month(toks.next()?)?;
    let year = year(toks.next()?)?;
    let (h, m, s) = time(toks.next()?)?;
    let offset = match toks.next() {
        Some(z) => zone(z)?,
        None => 0,
    };
    let date = NaiveDate::from_ymd_opt(year, month, day)?;
    let local = date.and_hms_opt(h, m, s)?;
    let zone = FixedOffset::east_opt(offset)?;
    Some(
        zone.from_local_datetime(&local)
            .single()?
            .with_timezone(&Utc),
    )
}

fn small_number(t: &str, max_digits: usize) -> Option<u32> {
    (!t.is_empty() && t.len() <= max_digits && t.bytes().all(|b| b.is_ascii_digit()))
        .then(|| t.parse().ok())
        .flatten()
}

fn month(t: &str) -> Option<u32> {
    const NAMES: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let head = t.get(..3)?;
    NAMES.iter().position(|n| *n == head).map(|i| i as u32 + 1)
}

/// §4.3: a two-digit year below 50 is 20xx, otherwise 19xx; three digits
/// add 1900.
fn year(t: &str) -> Option<i32> {
    let y = small_number(t, 4)? as i32;
    Some(match t.len() {
        1 | 2 if y < 50 => 2000 + y,
        1..=3 => 1900 + y,
        _ => y,
    })
}

/// `hh:mm[:ss]`; a leap second (60) is read as 59.
fn time(t: &str) -> Option<(u32, u32, u32)> {
    let mut parts = t.split(':');
    let h = small_number(parts.next()?, 2)?;
    let m = small_number(parts.next()?, 2)?;
    let s = match parts.next() {
        Some(s) => small_number(s, 2)?,
        None => 0,
    };
    if parts.next().is_some() || h > 23 || m > 59 || s > 60 {
        return None;
    }
    Some((h, m, s.min(59)))
}

/// The zone as seconds east of UTC: `+hhmm` (§3.3), a three-digit `-hmm`
/// (`-600` is six hours, not six hundred minutes), a one- or two-digit hour,
/// or a name of §4.3, in any case. Military single letters and unknown
/// names mean "no zone information" (§4.3: as `-0000`).
fn zone(t: &str) -> Option<i32> {
    let (sign, digits) = match t.as_bytes().first()? {
        b'+' => (1, &t[1..]),
        b'-' => (-1, &t[1..]),
        _ => {
            let hours = match t {
                "ut" | "utc" | "gmt" | "z" => 0,
                "edt" => -4,
                "est" | "cdt" => -5,
                "cst" | "mdt" => -6,
                "mst" | "pdt" => -7,
                "pst" => -8,
                _ if t.chars().all(|c| c.is_ascii_alphabetic()) => 0,
                _ => return None,
            };
            return Some(hours * 3600);
        }
    };
    if digits.is_empty() || digits.len() > 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: i32 = digits.parse().ok()?;
    let (h, m) = match digits.len() {
        1 | 2 => (n, 0),
        _ => (n / 100, n % 100),
    };
    if h > 23 || m > 59 {
        return None;
    }
    Some(sign * (h * 3600 + m * 60))
}

/// Drops RFC 5322 comments (`(CET)`), which may nest.
fn strip_comments(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut depth = 0usize;
    for c in raw.chars() {
        match c {
            '(' => depth += 1,
            ')' if depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iso(raw: &str) -> Option<String> {
        parse(raw).map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
    }

    #[test]
    fn the_rfc_form() {
        assert_eq!(
            iso("Mon, 23 Nov 2026 10:14:05 +0100").as_deref(),
            Some("2026-11-23T09:14:05Z")
        );
        assert_eq!(
            iso("Tue, 1 Dec 2026 10:20:00 +0100 (CET)").as_deref(),
            Some("2026-12-01T09:20:00Z")
        );
    }

    #[test]
    fn a_time_without_seconds() {
        assert_eq!(
            iso("Mon, 23 Nov 2026 19:59 CST").as_deref(),
            Some("2026-11-24T01:59:00Z")
        );
    }

    #[test]
    fn a_three_digit_zone_is_hours_and_minutes() {
        assert_eq!(
            iso("Mon, 23 Nov 2026 10:00:00 -600").as_deref(),
            Some("2026-11-23T16:00:00Z")
        );
        assert_eq!(
            iso("Mon, 23 Nov 2026 10:00:00 +530").as_deref(),
            Some("2026-11-23T04:30:00Z")
        );
    }

    #[test]
    fn zone_names_in_any_case() {
        for z in ["cst", "CST", "Cst"] {
            assert_eq!(
                iso(&format!("23 Nov 2026 10:00:00 {z}")).as_deref(),
                Some("2026-11-23T16:00:00Z"),
                "{z}"
            );
        }
        assert_eq!(
            iso("23 Nov 2026 10:00:00 pdt").as_deref(),
            Some("2026-11-23T17:00:00Z")
        );
        assert_eq!(
            iso("23 Nov 2026 10:00:00 gmt").as_deref(),
            Some("2026-11-23T10:00:00Z")
        );
    }

    #[test]
    fn obsolete_years() {
        assert_eq!(
            iso("Fri, 15 Feb 02 17:19:07 -0800").as_deref(),
            Some("2002-02-16T01:19:07Z")
        );
        assert_eq!(
            iso("15 Feb 99 17:19:07 +0000").as_deref(),
            Some("1999-02-15T17:19:07Z")
        );
    }

    /// [`parse`] as it was (commit fcc29e6), every Date on the general path.
    fn parse_before(raw: &str) -> Option<DateTime<Utc>> {
        from_text(&strip_comments(raw).to_ascii_lowercase().replace(',', " "))
    }

    /// Date-like text: the pieces of real and broken dates, comments (nested,
    /// unclosed, stray `)`), every ASCII white space (VT and FF are white
    /// space to `split_whitespace`), Unicode spaces, U+212A KELVIN SIGN,
    /// controls and any character.
    fn datish() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let piece = prop_oneof![
            proptest::sample::select(vec![
                "Mon", "mon,", "TUE", "1", "23", "023", "Nov", "nOV", "novem", "Feb", "2026", "02",
                "99", "199", "10:14:05", "19:59", "23:59:60", "24:00", "1:2:3", "+0100", "-600",
                "+530", "-0000", "+12345", "CST", "cst", "GMT", "ut", "z", "Zulu", "(CET)",
                "((a)b)", "(", ")", ",", " ", "  ", "\t", "\x0b", "\x0c", "\r\n ", "\u{a0}",
                "\u{2003}", "\u{85}", "\u{212a}", "\0", "\x1b", "é",
            ])
            .prop_map(str::to_string),
            "[ -~]{0,6}",
            any::<char>().prop_map(String::from),
        ];
        proptest::collection::vec(piece, 0..14).prop_map(|v| v.concat())
    }

    /// Dates in slots (most of them readable), each slot and separator
    /// drawn from real forms, broken ones and hostile characters.
    fn dates() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        use proptest::sample::select;
        let sep = || {
            select(vec![
                " ", ", ", ",", "\t", "  ", " (x) ", "(a(b))", "\x0b", "\u{a0}", "\r\n ",
            ])
        };
        (
            select(vec!["", "Mon", "mon", "THU", "Xyz", "M\u{212a}n", "(Mon)"]),
            sep(),
            select(vec!["1", "23", "07", "31", "30", "123", "x"]),
            sep(),
            select(vec![
                "Nov",
                "nov",
                "FEB",
                "Dec",
                "Septembre",
                "N\u{212a}v",
                "Foo",
            ]),
            sep(),
            select(vec!["2026", "02", "99", "199", "12345", "1970"]),
            sep(),
            select(vec![
                "10:14:05",
                "19:59",
                "23:59:60",
                "24:00",
                "7:5",
                "10:14:05:00",
            ]),
            sep(),
            select(vec![
                "", "+0100", "-600", "+530", "CST", "pdt", "GMT", "Z", "+2400", "(CET)", "+01(x)00",
            ]),
        )
            .prop_map(|t| [t.0, t.1, t.2, t.3, t.4, t.5, t.6, t.7, t.8, t.9, t.10].concat())
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4000))]

        #[test]
        fn dates_read_as_the_oracle_reads_them(raw in dates()) {
            proptest::prop_assert_eq!(parse(&raw), parse_before(&raw));
        }

        #[test]
        fn parse_is_the_oracles(raw in datish()) {
            proptest::prop_assert_eq!(parse(&raw), parse_before(&raw));
        }

        #[test]
        fn long_or_any_text_too(raw in proptest::prelude::any::<String>(), pad in 0usize..140) {
            let raw = format!("{}{raw}", " ".repeat(pad));
            proptest::prop_assert_eq!(parse(&raw), parse_before(&raw));
        }
    }

    #[test]
    fn the_fast_path_and_the_general_one_meet_at_the_limit() {
        for pad in SHORT - 40..SHORT + 2 {
            let raw = format!(
                "{}Mon, 23 Nov 2026 10:14:05 +0100 (CET)",
                " ".repeat(pad - 30)
            );
            assert_eq!(parse(&raw), parse_before(&raw), "{pad}");
            assert!(parse(&raw).is_some());
        }
    }

    #[test]
    fn not_dates() {
        for s in [
            "",
            "yesterday",
            "32 Nov 2026 10:00 +0000",
            "23 Foo 2026 10:00 +0000",
            "23 Nov 2026 24:00 +0000",
            "23 Nov 2026 10:00 +2400",
            "23 Nov 2026 10:00 +12345",
            "23 Nov 2026",
            "30 Feb 2026 10:00 +0000",
            "23 Nov 2026 10:00:00:00 +0000",
        ] {
            assert_eq!(iso(s), None, "{s}");
        }
    }
}

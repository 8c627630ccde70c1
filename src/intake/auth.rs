//! Authentication-Results (RFC 8601): which verdicts to believe.
//!
//! Anyone on the path can add an `Authentication-Results` header, so only
//! those whose authserv-id is ours count (RFC 8601 §5, §7.1). NOTE: of those,
//! only the topmost one is read: it is the one our own MTA added last, and a
//! lower one with our id can only have come from outside (an MTA that failed
//! to strip a forgery). Within that header a method can appear more than once
//! (one DKIM result per signature): `pass` if any passes, else the first.

use serde::Serialize;

/// The RFC 8601 result words; anything else is read as `permerror`.
const RESULTS: [&str; 8] = [
    "pass",
    "fail",
    "softfail",
    "neutral",
    "none",
    "temperror",
    "permerror",
    "policy",
];

/// The trusted verdict per method.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Auth {
    pub dkim: String,
    pub spf: String,
    pub dmarc: String,
    /// The domain DMARC evaluated (`header.from=`), when the result says.
    #[serde(skip)]
    pub dmarc_domain: Option<String>,
}

impl Default for Auth {
    fn default() -> Self {
        Auth {
            dkim: "none".into(),
            spf: "none".into(),
            dmarc: "none".into(),
            dmarc_domain: None,
        }
    }
}

/// The verdict from the raw values of every `Authentication-Results` header,
/// topmost first; `None` when no header carries the trusted authserv-id.
pub fn evaluate<'a>(headers: impl IntoIterator<Item = &'a str>, trusted_id: &str) -> Option<Auth> {
    let trusted = headers.into_iter().find(|raw| {
        let clean = strip_comments(raw);
        authserv_id(&clean).is_some_and(|id| id.eq_ignore_ascii_case(trusted_id))
    })?;
    let clean = strip_comments(trusted);
    let mut auth = Auth::default();
    let mut seen = [false; 3];
    for resinfo in split_unquoted(&clean).into_iter().skip(1) {
        let Some(first) = resinfo.split_whitespace().next() else {
            continue;
        };
        let Some((method, result)) = first.split_once('=') else {
            continue;
        };
        // A method may carry a version: `dkim/1=pass`.
        let method = method
            .split('/')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        let result = result.trim().to_ascii_lowercase();
        let result = if RESULTS.contains(&result.as_str()) {
            result
        } else {
            "permerror".to_string()
        };
        let (slot, idx) = match method.as_str() {
            "dkim" => (&mut auth.dkim, 0),
            "spf" => (&mut auth.spf, 1),
            "dmarc" => (&mut auth.dmarc, 2),
            _ => continue,
        };
        // NOTE: only DKIM may carry several results (one per signature),
        // where any passing signature counts; SPF and DMARC take the first.
        if !seen[idx] || (idx == 0 && result == "pass") {
            *slot = result;
            seen[idx] = true;
            if idx == 2 {
                auth.dmarc_domain = resinfo.split_whitespace().find_map(|p| {
                    let (k, v) = p.split_once('=')?;
                    k.eq_ignore_ascii_case("header.from")
                        .then(|| v.trim_matches('"').to_ascii_lowercase())
                });
            }
        }
    }
    Some(auth)
}

/// Splits on `;` outside quoted strings (RFC 8601 property values may be
/// quoted, and a quoted `;` must not start a new result).
fn split_unquoted(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ';' if !quoted => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

/// The authserv-id: the first token of the value (a version number may follow).
fn authserv_id(clean: &str) -> Option<&str> {
    let head = clean.split(';').next()?;
    head.split_whitespace().next().filter(|s| !s.is_empty())
}

/// Removes RFC 5322 comments (nested parentheses), leaving quoted strings alone.
fn strip_comments(raw: &str) -> String {
    if !raw.contains('(') {
        return raw.to_string();
    }
    let mut out = String::with_capacity(raw.len());
    let mut depth = 0usize;
    let mut quoted = false;
    let mut escaped = false;
    for c in raw.chars() {
        if escaped {
            if depth == 0 {
                out.push(c);
            }
            escaped = false;
            continue;
        }
        match c {
            '\\' => {
                escaped = true;
                if depth == 0 {
                    out.push(c);
                }
            }
            '"' if depth == 0 => {
                quoted = !quoted;
                out.push(c);
            }
            '(' if !quoted => depth += 1,
            ')' if !quoted && depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "mx.ochrehq.com";

    #[test]
    fn trusted_header_is_read() {
        let a = evaluate(
            ["mx.ochrehq.com; dkim=pass header.d=acme.example; spf=pass smtp.mailfrom=acme.example; dmarc=pass (p=reject) header.from=acme.example"],
            ID,
        )
        .unwrap();
        assert_eq!(
            (a.dkim.as_str(), a.spf.as_str(), a.dmarc.as_str()),
            ("pass", "pass", "pass")
        );
    }

    #[test]
    fn untrusted_headers_are_ignored() {
        assert_eq!(
            evaluate(["evil.example; dkim=pass; spf=pass; dmarc=pass"], ID),
            None
        );
        let a = evaluate(
            [
                "evil.example; dkim=pass; spf=pass; dmarc=pass",
                "MX.OchreHQ.com 1; dkim=fail; spf=softfail; dmarc=fail",
            ],
            ID,
        )
        .unwrap();
        assert_eq!(a.dmarc, "fail");
        assert_eq!(a.spf, "softfail");
    }

    #[test]
    fn only_topmost_trusted_header_counts() {
        let a = evaluate(
            [
                "mx.ochrehq.com; dkim=fail; spf=fail; dmarc=fail",
                "mx.ochrehq.com; dkim=pass; spf=pass; dmarc=pass",
            ],
            ID,
        )
        .unwrap();
        assert_eq!(a.dmarc, "fail");
    }

    #[test]
    fn comments_versions_and_multiple_signatures() {
        let a = evaluate(
            ["mx.ochrehq.com (our mx; dkim=pass) 1; dkim=fail header.d=x.example; dkim/1=pass header.d=acme.example; spf=TempError; dmarc=bogus"],
            ID,
        )
        .unwrap();
        assert_eq!(a.dkim, "pass");
        assert_eq!(a.spf, "temperror");
        assert_eq!(a.dmarc, "permerror");
    }

    #[test]
    fn a_quoted_semicolon_cannot_forge_a_result() {
        let a = evaluate(
            [r#"mx.ochrehq.com; spf=fail smtp.mailfrom="x; dmarc=pass y"@evil.example; dmarc=fail header.from=acme.example"#],
            ID,
        )
        .unwrap();
        assert_eq!(a.dmarc, "fail");
        assert_eq!(a.dmarc_domain.as_deref(), Some("acme.example"));
    }

    #[test]
    fn only_dkim_lets_a_later_pass_win() {
        let a = evaluate(
            ["mx.ochrehq.com; spf=fail; spf=pass; dmarc=fail; dmarc=pass; dkim=fail; dkim=pass"],
            ID,
        )
        .unwrap();
        assert_eq!(
            (a.spf.as_str(), a.dmarc.as_str(), a.dkim.as_str()),
            ("fail", "fail", "pass")
        );
    }

    #[test]
    fn none_result() {
        let a = evaluate(["mx.ochrehq.com; none"], ID).unwrap();
        assert_eq!(a, Auth::default());
    }
}

//! The readings `auth` had before the fourth speed round (docs/perf-sync.md),
//! kept as oracles: each rewritten function must answer exactly as its old
//! self on generated input, hostile bytes included.

use super::*;
use proptest::prelude::*;

/// The old `is_ours`: a lowercased copy of the host.
fn is_ours_old(host: &str, authserv_id: &str, domain: &str) -> bool {
    let h = host.trim_end_matches('.').to_ascii_lowercase();
    h == domain
        || h.eq_ignore_ascii_case(authserv_id)
        || h == "localhost"
        || h.strip_suffix(domain).is_some_and(|p| p.ends_with('.'))
}

/// The old `received`: the value lowercased, its words collected.
fn received_old(value: &str, authserv_id: &str, domain: &str) -> (bool, bool) {
    let lower = value.to_ascii_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| c.is_whitespace() || c == '(' || c == ')' || c == ';')
        .filter(|w| !w.is_empty())
        .collect();
    let by_at = words.iter().position(|w| *w == "by");
    let by_ours = by_at
        .and_then(|i| words.get(i + 1))
        .is_some_and(|h| is_ours_old(h, authserv_id, domain));
    let from_ours = match words.iter().position(|w| *w == "from") {
        Some(f) if by_at.is_none_or(|b| f < b) => {
            let end = by_at.unwrap_or(words.len());
            words[f + 1..end]
                .iter()
                .filter(|w| !(w.starts_with('[') || w.parse::<std::net::IpAddr>().is_ok()))
                .all(|w| is_ours_old(w, authserv_id, domain))
        }
        _ => true,
    };
    (by_ours, from_ours)
}

/// The old `is_border_field`: a lowercased copy of the name.
fn is_border_field_old(name: &str) -> bool {
    const EXACT: [&str; 10] = [
        "return-path",
        "delivered-to",
        "x-original-to",
        "received-spf",
        "arc-seal",
        "arc-message-signature",
        "arc-authentication-results",
        "dkim-filter",
        "x-greylist",
        "x-envelope-from",
    ];
    const PREFIX: [&str; 4] = ["x-spam-", "x-virus-", "x-rspamd-", "x-amavis-"];
    let n = name.to_ascii_lowercase();
    EXACT.contains(&n.as_str()) || PREFIX.iter().any(|p| n.starts_with(p))
}

/// Words a `Received` value or a host is made of: the keywords in odd
/// cases, our hosts and others, IP literals and addresses (hex in both
/// cases), separators, and hostile text (controls, escapes, non-ASCII
/// white space, U+212A KELVIN SIGN, which lowercases to `k` outside ASCII).
fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::sample::select(vec![
            "from",
            "FROM",
            "From",
            "by",
            "BY",
            "bY",
            "with",
            "id",
            "for",
            "mx.ochrehq.com",
            "MX.OchreHQ.com.",
            "ochrehq.com",
            "OCHREHQ.COM",
            "a.b.ochrehq.com",
            "xochrehq.com",
            "ochrehq.com.evil.example",
            "localhost",
            "LocalHost.",
            "relay.example",
            "[192.0.2.1]",
            "192.0.2.1",
            "2001:DB8::1",
            "2001:db8::1",
            "::ffff:192.0.2.1",
            "fe80::1%eth0",
            "mx.ochrehq.\u{212a}om",
            "ochrehq.co\u{212a}",
            "\u{212a}",
            "(",
            ")",
            ";",
            " ",
            "\t",
            "\r\n\t",
            "\u{a0}",
            "\u{2003}",
            "\u{1b}[31m",
            "\0",
            "é",
            ".",
            "..",
            "ß.ochrehq.com",
            "",
        ])
        .prop_map(str::to_string),
        "\\PC{0,12}",
        any::<String>(),
    ]
}

fn value() -> impl Strategy<Value = String> {
    proptest::collection::vec(piece(), 0..14).prop_map(|ps| ps.join(" "))
}

fn joined() -> impl Strategy<Value = String> {
    proptest::collection::vec(piece(), 0..8).prop_map(|ps| ps.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn received_reads_as_before(v in prop_oneof![value(), joined()], id in prop_oneof![
        Just("mx.ochrehq.com".to_string()),
        Just("MX.OCHREHQ.COM".to_string()),
        Just("localhost".to_string()),
        piece(),
    ]) {
        let domain = our_domain(&id);
        prop_assert_eq!(received(&v, &id, &domain), received_old(&v, &id, &domain));
    }

    #[test]
    fn is_ours_reads_as_before(host in prop_oneof![piece(), joined()], id in piece()) {
        let domain = our_domain(&id);
        prop_assert_eq!(is_ours(&host, &id, &domain), is_ours_old(&host, &id, &domain));
    }

    #[test]
    fn border_fields_read_as_before(name in prop_oneof![
        proptest::sample::select(vec![
            "Return-Path", "DELIVERED-TO", "x-original-to", "Received-SPF", "ARC-Seal",
            "ARC-Message-Signature", "ARC-Authentication-Results", "DKIM-Filter",
            "X-Greylist", "X-Envelope-From", "X-Spam-Status", "x-spam-", "X-Spam",
            "X-Virus-Scanned", "X-Rspamd-Score", "X-Amavis-Alert", "X-Amavis", "From",
            "Received", "ARC-Sea\u{212a}", "x-spam\u{212a}", "",
        ]).prop_map(str::to_string),
        "[!-9;-~]{0,30}",
        any::<String>(),
    ]) {
        prop_assert_eq!(is_border_field(name.as_bytes()), is_border_field_old(&name));
    }
}

/// The old `Verdict::add`: on the whole parsed `Header`.
fn add_old(v: &mut Verdict, h: &Header) {
    for r in &h.results {
        let idx = match r.method.as_str() {
            "dkim" => 0,
            "spf" => 1,
            "dmarc" => 2,
            _ => continue,
        };
        let result = if RESULTS.contains(&r.result.as_str()) {
            r.result.clone()
        } else {
            "permerror".to_string()
        };
        if v.seen[idx] && !(idx == 0 && result == "pass") {
            continue;
        }
        v.seen[idx] = true;
        match idx {
            0 => v.auth.dkim = result,
            1 => v.auth.spf = result,
            _ => {
                v.auth.dmarc = result;
                v.auth.dmarc_domain = r.prop("header", "from").map(|v| {
                    let d = v.rsplit_once('@').map_or(v, |(_, d)| d);
                    d.trim_end_matches('.').to_ascii_lowercase()
                });
            }
        }
    }
}

/// The verdict of a run of `Authentication-Results` values, the old way:
/// each parsed whole, kept when its authserv-id is `id`.
fn verdict_old(values: &[String], id: &str) -> Option<Auth> {
    let mut verdict: Option<Verdict> = None;
    for value in values {
        if let Some(h) = parse(value).filter(|h| h.authserv_id.eq_ignore_ascii_case(id)) {
            add_old(verdict.get_or_insert_with(Verdict::default), &h);
        }
    }
    verdict.map(|v| v.auth)
}

fn verdict_new(values: &[String], id: &str) -> Option<Auth> {
    let mut verdict: Option<Verdict> = None;
    for value in values {
        Verdict::add_value(&mut verdict, value, id);
    }
    verdict.map(|v| v.auth)
}

/// Tokens of an `Authentication-Results` value, the grammar's and hostile
/// ones (unbalanced comments and quotes, escapes, U+212A KELVIN SIGN).
fn ar_piece() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(vec![
            "mx.ochrehq.com", "MX.OchreHQ.com", "\"mx.ochrehq.com\"", "mx . ochrehq.com",
            "evil.example", "1", ";", ";", "dkim", "DKIM", "spf", "Spf", "dmarc", "DMARC",
            "x-tls", "/", "/1", "=", "=", "pass", "PASS", "fail", "softfail", "neutral",
            "none", "temperror", "permerror", "policy", "bogus", "pa\u{212a}s", "reason",
            "\"quoted ; (x) \\\" y\"", "header", "HEADER", ".", "from", "From", "d", "i",
            "smtp", "mailfrom", "acme.example", "Acme.Example.", "a@b.example", "@", "@x",
            "(comment)", "(a (nested) one)", "(", ")", "\"", "\\", " ", "\r\n\t", "é",
            "\u{212a}", "\u{1b}[0m", "\0",
        ])
        .prop_map(str::to_string),
        1 => "\\PC{0,6}",
        1 => any::<String>(),
    ]
}

fn ar_value() -> impl Strategy<Value = String> {
    proptest::collection::vec((ar_piece(), proptest::bool::ANY), 0..24).prop_map(|ps| {
        ps.into_iter()
            .map(|(p, space)| if space { p + " " } else { p })
            .collect()
    })
}

/// One token of a well-formed value, or now and then a hostile one.
fn pick(xs: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop_oneof![
        6 => proptest::sample::select(xs).prop_map(str::to_string),
        1 => ar_piece(),
    ]
}

/// `method[/version]=result [reason=…] [ptype.property=value…]`, nearly.
fn ar_resinfo() -> impl Strategy<Value = String> {
    let prop = (
        pick(&["header", "HEADER", "smtp", "reason", "policy"]),
        pick(&[".", ". ", " (c) ."]),
        pick(&["from", "From", "d", "mailfrom", "i"]),
        pick(&["=", " = ", "=(c)"]),
        pick(&[
            "acme.example",
            "a@Acme.Example.",
            "\"x;y\"",
            "b . example",
            "@c.example",
        ]),
    )
        .prop_map(|(a, b, c, d, e)| format!(" {a}{b}{c}{d}{e}"));
    // A reason's value is read (and passed over) as a pvalue.
    let reason = (
        pick(&["reason", "REASON"]),
        pick(&["=", " = ", ""]),
        pick(&["\"bad ; sig\"", "header", "header.from=evil.example", "a@b"]),
    )
        .prop_map(|(a, b, c)| format!(" {a}{b}{c}"));
    let prop = prop_oneof![3 => prop, 1 => reason];
    (
        pick(&["dkim", "DKIM", "spf", "dmarc", "DMarc", "x-tls", "auth"]),
        pick(&["", "", "/1", "/", " / 2"]),
        pick(&["=", " = ", "", "=(c)"]),
        pick(&["pass", "FAIL", "softfail", "none", "policy", "bogus", ""]),
        proptest::collection::vec(prop, 0..4),
    )
        .prop_map(|(m, v, e, r, props)| format!("{m}{v}{e}{r}{}", props.concat()))
}

/// `authserv-id [version] ; resinfo ; …`, nearly.
fn ar_structured() -> impl Strategy<Value = String> {
    (
        pick(&[
            "mx.ochrehq.com",
            "\"MX.OchreHQ.com\"",
            "mx . ochrehq.com",
            "evil.example",
        ]),
        pick(&["", " 1", " x"]),
        proptest::collection::vec(ar_resinfo(), 0..5),
    )
        .prop_map(|(id, v, rs)| {
            let mut out = format!("{id}{v}");
            for r in rs {
                out.push_str(";\r\n\t");
                out.push_str(&r);
            }
            out
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(6000))]

    #[test]
    fn the_verdict_reads_as_parse_then_add(
        values in proptest::collection::vec(prop_oneof![ar_value(), ar_structured()], 0..4),
        id in prop_oneof![Just("mx.ochrehq.com"), Just("MX.OCHREHQ.COM")],
    ) {
        prop_assert_eq!(verdict_new(&values, id), verdict_old(&values, id));
    }
}

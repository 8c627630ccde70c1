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

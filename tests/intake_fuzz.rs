//! Property tests: arbitrary bytes through the whole intake pipeline.
//! Nothing panics; the output is always valid JSON without control
//! characters or bidi controls; the same input always gives the same answer.
//!
//! The sharper oracles (issue 14):
//! - escape sequences are removed whole: text interleaved with generated
//!   sequences comes out as exactly the text, so no `[31m` debris survives;
//! - metamorphic: adding an `Authentication-Results` header with another
//!   authserv-id, at any field boundary, never changes `auth`.

use concierge::intake::sanitize::{is_bidi_control, single_line};
use concierge::intake::{inspect, Options};
use proptest::prelude::*;

fn assert_clean_json(raw: &[u8]) {
    let msg = inspect(raw, &Options::default());
    let line = serde_json::to_string(&msg).expect("serializes");
    let value: serde_json::Value = serde_json::from_str(&line).expect("valid JSON");
    fn walk(v: &serde_json::Value) {
        match v {
            serde_json::Value::String(s) => {
                assert!(
                    !s.chars().any(|c| c.is_control() || is_bidi_control(c)),
                    "control or bidi character in output string {s:?}"
                );
            }
            serde_json::Value::Array(a) => a.iter().for_each(walk),
            serde_json::Value::Object(o) => o.values().for_each(walk),
            _ => {}
        }
    }
    walk(&value);
    // The body is stored, not printed: it may keep newlines and tabs, nothing else.
    assert!(!msg
        .body
        .chars()
        .any(|c| (c.is_control() && c != '\n' && c != '\t') || is_bidi_control(c)));
    assert_eq!(msg, inspect(raw, &Options::default()), "not deterministic");
}

/// Header-ish building blocks, so the generator reaches deep parser paths.
fn mailish() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b"From: ".to_vec()),
        Just(b"Subject: ".to_vec()),
        Just(b"Reply-To: ".to_vec()),
        Just(b"Return-Path: <".to_vec()),
        Just(b"Authentication-Results: mx.ochrehq.com; dkim=".to_vec()),
        Just(b"Content-Type: multipart/mixed; boundary=\"b\"\r\n".to_vec()),
        Just(b"Content-Transfer-Encoding: base64\r\n".to_vec()),
        Just(b"Content-Transfer-Encoding: quoted-printable\r\n".to_vec()),
        Just(b"=?utf-8?B?".to_vec()),
        Just(b"=?iso-8859-1?Q?".to_vec()),
        Just(b"?=".to_vec()),
        Just(b"\r\n--b\r\n".to_vec()),
        Just(b"\r\n\r\n".to_vec()),
        Just(b"\x1b[31m".to_vec()),
        Just(b"\x1b]8;;http://x\x07".to_vec()),
        Just("\u{9b}".as_bytes().to_vec()),
        Just(
            "\u{200e}\u{200f}\u{061c}\u{202e}\u{2066}"
                .as_bytes()
                .to_vec()
        ),
        Just(b"Workspace: ".to_vec()),
        Just(b"Data export request: ".to_vec()),
        Just(b"<a@b.c>".to_vec()),
        Just(b"In-Reply-To: <".to_vec()),
        prop::collection::vec(any::<u8>(), 0..40),
    ];
    prop::collection::vec(piece, 0..40).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_never_panic(raw in prop::collection::vec(any::<u8>(), 0..4096)) {
        assert_clean_json(&raw);
    }

    #[test]
    fn mail_shaped_bytes_never_panic(raw in mailish()) {
        assert_clean_json(&raw);
    }
}

#[test]
fn pathological_inputs() {
    let cases: Vec<Vec<u8>> = vec![
        Vec::new(),
        b"\r\n\r\n".to_vec(),
        vec![b'A'; 1 << 20],
        format!("Subject: {}\r\n\r\nx", "=?utf-8?B?".repeat(20_000)).into_bytes(),
        format!(
            "Content-Type: multipart/mixed; boundary=b\r\n\r\n{}",
            "--b\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n".repeat(5_000)
        )
        .into_bytes(),
        format!("From: {}\r\n\r\n", "<".repeat(100_000)).into_bytes(),
        format!("References: {}\r\n\r\n", "<a@b> ".repeat(50_000)).into_bytes(),
        b"Subject: \x1b]8;;"
            .iter()
            .copied()
            .chain(std::iter::repeat_n(b'x', 200_000))
            .collect(),
    ];
    for raw in cases {
        assert_clean_json(&raw);
    }
}

/// One piece of hostile text: plain text (with the characters escape
/// debris is made of), a whole escape sequence, or a bidi control.
#[derive(Debug, Clone)]
enum Piece {
    Text(String),
    Removed(String),
}

fn escape_sequence() -> impl Strategy<Value = String> {
    let params = "[0-9;:<=>?]{0,8}";
    let payload = "[ -~&&[^\\x1b]]{0,20}";
    prop_oneof![
        // CSI: ESC [ params intermediates final (ECMA-48 §5.4).
        (params, "[ -/]{0,2}", "[@-~]").prop_map(|(p, i, f)| format!("\x1b[{p}{i}{f}")),
        (params, "[@-~]").prop_map(|(p, f)| format!("\u{9b}{p}{f}")),
        // OSC / DCS / APC with payload, ended by BEL or ST.
        (payload, prop::bool::ANY)
            .prop_map(|(p, bel)| format!("\x1b]8;;{p}{}", if bel { "\x07" } else { "\x1b\\" })),
        payload.prop_map(|p| format!("\x1bP{p}\x1b\\")),
        payload.prop_map(|p| format!("\x1b_{p}\u{9c}")),
        payload.prop_map(|p| format!("\u{9d}{p}\x07")),
        // Two-byte and charset sequences.
        "[0-~&&[^\\[\\]P_X^]]".prop_map(|c| format!("\x1b{c}")),
        Just("\x1b(B".to_string()),
        // Bidi controls and other controls.
        prop::sample::select(vec![
            '\u{200e}', '\u{200f}', '\u{061c}', '\u{202a}', '\u{202e}', '\u{2066}', '\u{2069}',
            '\u{7}', '\u{7f}', '\u{85}'
        ])
        .prop_map(|c| c.to_string()),
    ]
}

fn hostile_text() -> impl Strategy<Value = Vec<Piece>> {
    let piece = prop_oneof![
        "[A-Za-z0-9\\[\\];m]{1,12}".prop_map(Piece::Text),
        escape_sequence().prop_map(Piece::Removed),
    ];
    prop::collection::vec(piece, 0..12)
}

fn split(pieces: &[Piece]) -> (String, String) {
    let mut input = String::new();
    let mut want = String::new();
    for p in pieces {
        match p {
            Piece::Text(t) => {
                input.push_str(t);
                want.push_str(t);
            }
            Piece::Removed(r) => input.push_str(r),
        }
    }
    (input, want)
}

/// A header section with fields our border writes, fields an outsider
/// writes, and the fields the classifier reads.
fn header_fields() -> impl Strategy<Value = Vec<String>> {
    let result = prop::sample::select(vec![
        "pass",
        "fail",
        "softfail",
        "none",
        "temperror",
        "bogus",
    ]);
    let field = prop_oneof![
        (result.clone(), result.clone(), result.clone()).prop_map(|(a, b, c)| format!(
            "Authentication-Results: mx.ochrehq.com; dkim={a} header.d=acme.example;\r\n\tspf = {b} smtp.mailfrom=acme.example; dmarc=\r\n {c} header.from=acme.example"
        )),
        result.clone().prop_map(|r| format!("Authentication-Results: mx.ochrehq.com (milter); spf={r}")),
        Just("Received: from mail.acme.example (mail.acme.example [192.0.2.25])\r\n\tby mx.ochrehq.com (Postfix) with ESMTPS id 1".to_string()),
        Just("Received: from mx1.ochrehq.com by mx2.ochrehq.com".to_string()),
        Just("Received: from x by relay.evil.example".to_string()),
        Just("DKIM-Signature: v=1; d=ochrehq.com; s=s; b=x".to_string()),
        Just("DKIM-Signature: v=1; d=evil.example; s=s; b=x".to_string()),
        Just("X-Spam-Status: No".to_string()),
        Just("Return-Path: <a@acme.example>".to_string()),
        Just("From: Ada <owner@acme.example>".to_string()),
        Just("Subject: Data export request: Acme".to_string()),
        "[A-Za-z-]{1,10}: [ -~]{0,30}".prop_map(|s| s),
    ];
    prop::collection::vec(field, 0..10)
}

fn foreign_id() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("relay.acme.example".to_string()),
        Just("ochrehq.com".to_string()),
        Just("mx.ochrehq.com.evil.example".to_string()),
        Just("\"mx.ochrehq.com \"".to_string()),
        "[a-z]{1,8}\\.[a-z]{2,4}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn escape_sequences_leave_no_debris(pieces in hostile_text()) {
        let (input, want) = split(&pieces);
        let got = single_line(&input);
        prop_assert_eq!(&got.text, &want);
        let removed_any = pieces.iter().any(|p| matches!(p, Piece::Removed(_)));
        prop_assert_eq!(got.removed, removed_any);
    }

    #[test]
    fn escape_sequences_leave_no_debris_through_inspect(pieces in hostile_text()) {
        let (input, want) = split(&pieces);
        let raw = format!("From: Ada <owner@acme.example>\r\nSubject: {input}\r\n\r\nbody {input} end\r\n");
        let msg = inspect(raw.as_bytes(), &Options::default());
        prop_assert_eq!(&msg.subject, want.trim());
        prop_assert_eq!(&msg.body, &format!("body {want} end\n"));
    }

    #[test]
    fn a_foreign_authentication_results_never_changes_auth(
        fields in header_fields(),
        at in any::<prop::sample::Index>(),
        id in foreign_id(),
        body in "[ -~]{0,40}",
    ) {
        let raw = format!("{}\r\n\r\n{body}\r\n", fields.join("\r\n"));
        let before = inspect(raw.as_bytes(), &Options::default());
        let mut with = fields.clone();
        with.insert(
            at.index(fields.len() + 1),
            format!("Authentication-Results: {id}; dkim=pass header.d=acme.example; spf=pass; dmarc=pass header.from=acme.example"),
        );
        let raw2 = format!("{}\r\n\r\n{body}\r\n", with.join("\r\n"));
        let after = inspect(raw2.as_bytes(), &Options::default());
        prop_assert_eq!(&before.auth, &after.auth, "inserted at {} into {:?}", at.index(fields.len() + 1), raw);
    }
}

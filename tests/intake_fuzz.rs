//! Property tests: arbitrary bytes through the whole intake pipeline.
//! Nothing panics; the output is always valid JSON without control
//! characters; the same input always gives the same answer.

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
                    !s.chars().any(|c| c.is_control()),
                    "control character in output string {s:?}"
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
        .any(|c| c.is_control() && c != '\n' && c != '\t'));
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

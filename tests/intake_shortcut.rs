//! The sync's shortcut, `intake::inspect_export_mail`, against the full
//! `intake::inspect` (issue 10, "Never lose a request"): for every message
//! the sync keeps — a request, a follow-up, an automatic reply, or anything
//! `malformed` — both answer the same, field for field; for any other
//! message both say `other` without `malformed` (the sync drops it).
//!
//! Checked on the corpus, on requests hidden where only decoding finds them
//! (base64 and quoted-printable bodies, RFC 2047 subjects, HTML-only mail,
//! an escape sequence inside a word), on follow-ups found only by their
//! threading headers or a `Re:` subject, and on generated mail-like bytes.

use concierge::intake::{inspect, inspect_export_mail, Inspected, Kind, Options, Warning};
use proptest::prelude::*;

/// The property; returns the full answer.
fn same_for_what_the_sync_keeps(raw: &[u8], truncated: bool) -> Inspected {
    let opts = Options {
        truncated,
        ..Options::default()
    };
    let full = inspect(raw, &opts);
    let short = inspect_export_mail(raw, &opts);
    let kept = full.kind != Kind::Other || full.warnings.contains(&Warning::Malformed);
    if kept {
        assert_eq!(short, full, "{:?}", String::from_utf8_lossy(raw));
    } else {
        assert_eq!(short.kind, Kind::Other);
        assert!(!short.warnings.contains(&Warning::Malformed));
        assert_eq!(short.message_id, full.message_id);
    }
    full
}

fn b64(s: &str) -> String {
    use base64::Engine;
    let e = base64::engine::general_purpose::STANDARD.encode(s);
    e.as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join("\r\n")
}

const HEAD: &str = "From: Ada Owner <owner@acme.example>\r\nTo: hello@ochrehq.com\r\n\
    Message-ID: <x-1@acme.example>\r\nDate: Mon, 23 Nov 2026 09:14:05 +0000\r\n\
    Authentication-Results: mx.ochrehq.com; dkim=pass; spf=pass; dmarc=pass\r\n";

#[test]
fn requests_hidden_by_encodings_are_found_by_the_shortcut() {
    let ask = "Hello, we are leaving Ochre. Could you send us a complete export of all our workspace data?\r\n";
    let cases: Vec<(String, Kind)> = vec![
        (
            format!("{HEAD}Subject: Leaving\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n", b64(ask)),
            Kind::ExportRequest,
        ),
        (
            format!(
                "{HEAD}Subject: Leaving\r\nContent-Type: text/plain; charset=utf-8\r\n\
                 Content-Transfer-Encoding: quoted-printable\r\n\r\n\
                 Hello, could you send us a complete ex=\r\nport of all our works=\r\npace data?\r\n"
            ),
            Kind::ExportRequest,
        ),
        (
            format!(
                "{HEAD}Subject: Leaving\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
                 Workspace: Acme Support\r\nPlease =65xport it.\r\n"
            ),
            Kind::ExportRequest,
        ),
        (
            format!("{HEAD}Subject: =?utf-8?B?{}?=\r\n\r\nThanks\r\n", b64("Data export request: Acme Support")),
            Kind::ExportRequest,
        ),
        (
            format!("{HEAD}Subject: =?iso-8859-1?Q?Data_export_request=3A_Acme?=\r\n\r\nThanks\r\n"),
            Kind::ExportRequest,
        ),
        (
            format!(
                "{HEAD}Subject: Leaving\r\nContent-Type: text/html; charset=utf-8\r\n\r\n\
                 <html><body><p>Could you send us a <b>complete export</b> of all our workspace data?</p></body></html>\r\n"
            ),
            Kind::ExportRequest,
        ),
        (
            format!(
                "{HEAD}Subject: Leaving\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
                 --b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n--b--\r\n",
                b64(ask)
            ),
            Kind::ExportRequest,
        ),
        (
            // An escape sequence inside the word: sanitizing joins it.
            format!("{HEAD}Subject: Leaving\r\n\r\nWe need a complete ex\x1b[0mport of all our data.\r\n"),
            Kind::ExportRequest,
        ),
        (
            format!("{HEAD}Subject: Thanks\r\nIn-Reply-To: <req-1@acme.example>\r\n\r\nThanks!\r\n"),
            Kind::FollowUp,
        ),
        (
            format!("{HEAD}Subject: Thanks\r\nReferences: <a@x> <req-1@acme.example>\r\n\r\nok\r\n"),
            Kind::FollowUp,
        ),
        (
            format!("{HEAD}Subject: Re: Data export request: Acme\r\n\r\nAny news?\r\n"),
            Kind::FollowUp,
        ),
        (
            format!("{HEAD}Subject: Out of office\r\nAuto-Submitted: auto-replied\r\n\r\nAway.\r\n"),
            Kind::AutoReply,
        ),
        (
            format!("{HEAD}Subject: Question\r\n\r\nHow do I invite a colleague?\r\n"),
            Kind::Other,
        ),
    ];
    for (raw, kind) in &cases {
        let full = same_for_what_the_sync_keeps(raw.as_bytes(), false);
        assert_eq!(full.kind, *kind, "{raw:?}");
        let short = inspect_export_mail(raw.as_bytes(), &Options::default());
        assert_eq!(short.kind, *kind, "{raw:?}");
    }
}

#[test]
fn malformed_mail_takes_no_shortcut() {
    for raw in [
        // No sender.
        "Subject: hello\r\nMessage-ID: <m1@x>\r\n\r\nhi\r\n".to_string(),
        // Two senders, one folded before its colon.
        "From: a@acme.example\r\nFrom\r\n : b@evil.example\r\nSubject: hi\r\n\r\nhi\r\n".to_string(),
        // A date nobody can read.
        "From: a@acme.example\r\nDate: yesterday-ish\r\nSubject: hi\r\n\r\nhi\r\n".to_string(),
        // A multipart that never closes, read whole.
        "From: a@acme.example\r\nSubject: hi\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n\r\nhi\r\n".to_string(),
        // A boundary on a line of its own (repaired, guessed).
        "From: a@acme.example\r\nSubject: hi\r\nContent-Type: multipart/mixed;\r\nboundary=\"b\"\r\n\r\n--b\r\n\r\nhi\r\n--b--\r\n".to_string(),
        // Junk.
        "\u{0}\u{1}\u{2} no header\r\n\r\n\u{1b}[31m".to_string(),
    ] {
        let full = same_for_what_the_sync_keeps(raw.as_bytes(), false);
        assert!(full.warnings.contains(&Warning::Malformed), "{raw:?}");
        let short = inspect_export_mail(raw.as_bytes(), &Options::default());
        assert_eq!(short, full, "{raw:?}");
    }
}

#[test]
fn the_corpus_is_read_the_same_by_the_shortcut() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "eml") {
            let raw = std::fs::read(&path).unwrap();
            same_for_what_the_sync_keeps(&raw, false);
            same_for_what_the_sync_keeps(&raw[..raw.len().min(16 * 1024)], true);
            n += 1;
        }
    }
    assert!(n >= 34, "{n} corpus files");
}

/// Mail-like pieces, so generated bytes reach the classifier's rules.
fn mailish() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b"From: a@acme.example\r\n".to_vec()),
        Just(b"From: ".to_vec()),
        Just(b"Subject: ".to_vec()),
        Just(b"Subject: Re: Data export request: Acme\r\n".to_vec()),
        Just(b"Data export request: ".to_vec()),
        Just(b"In-Reply-To: <a@b>\r\n".to_vec()),
        Just(b"Auto-Submitted: auto-replied\r\n".to_vec()),
        Just(b"Precedence: bulk\r\n".to_vec()),
        Just(b"Date: Mon, 23 Nov 2026 09:14:05 +0000\r\n".to_vec()),
        Just(b"Date: soon\r\n".to_vec()),
        Just(b"Authentication-Results: mx.ochrehq.com; dkim=pass; dmarc=fail\r\n".to_vec()),
        Just(b"Content-Type: multipart/mixed; boundary=\"b\"\r\n".to_vec()),
        Just(b"Content-Transfer-Encoding: base64\r\n".to_vec()),
        Just(b"Content-Transfer-Encoding: quoted-printable\r\n".to_vec()),
        Just(b"=?utf-8?B?RGF0YSBleHBvcnQgcmVxdWVzdDogQWNtZQ==?=".to_vec()),
        Just(b"Workspace: Acme\r\n".to_vec()),
        Just(b"we need a complete export of all our data ".to_vec()),
        Just(b"ZXhwb3J0IGFsbCBvdXIgZGF0YQ==\r\n".to_vec()),
        Just(b"=65xport ".to_vec()),
        Just(b"\r\n--b\r\n".to_vec()),
        Just(b"\r\n--b--\r\n".to_vec()),
        Just(b"\r\n\r\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\x1b[31m".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..12),
        "[a-z ]{0,20}".prop_map(String::into_bytes),
    ];
    proptest::collection::vec(piece, 0..30).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    #[test]
    fn generated_mail_is_read_the_same_by_the_shortcut(raw in mailish(), truncated in any::<bool>()) {
        same_for_what_the_sync_keeps(&raw, truncated);
    }
}

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
//!
//! Every message here is also read the whole-header way
//! (`intake::inspect_whole_header`, mail-parser given the whole header
//! section) and must give the same answer as the split reading the sync
//! uses (mail-parser given only the fields it decodes), field for field,
//! warnings included: also on long relay headers (`Received`, DKIM and ARC
//! chains above and below our authentication block) and on generated
//! headers with folding, spacing and line ends of every kind.

use concierge::intake::{
    inspect, inspect_export_mail, inspect_whole_header, Inspected, Kind, Options, Warning,
};
use proptest::prelude::*;

/// The property; returns the full answer.
fn same_for_what_the_sync_keeps(raw: &[u8], truncated: bool) -> Inspected {
    let opts = Options {
        truncated,
        ..Options::default()
    };
    let full = inspect(raw, &opts);
    let short = inspect_export_mail(raw, &opts);
    same_as_the_whole_header_reading(raw, &opts, &full, &short);
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

/// The split reading's answers (`full`: `inspect`, `short`:
/// `inspect_export_mail`) against the whole-header reading's.
fn same_as_the_whole_header_reading(
    raw: &[u8],
    opts: &Options<'_>,
    full: &Inspected,
    short: &Inspected,
) {
    let whole = inspect_whole_header(raw, opts, false);
    assert_eq!(*full, whole, "inspect: {:?}", String::from_utf8_lossy(raw));
    let whole = inspect_whole_header(raw, opts, true);
    assert_eq!(
        *short,
        whole,
        "inspect_export_mail: {:?}",
        String::from_utf8_lossy(raw)
    );
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

/// A relay header of about `kb` KB like the bench's big-headers shape:
/// `Received` hops, DKIM and ARC signatures, spam-filter fields.
fn relay(seed: usize, kb: usize) -> String {
    let mut out = String::new();
    let mut i = seed;
    while out.len() < kb * 1024 {
        i = i
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407)
            >> 3;
        out.push_str(&match i % 5 {
            0 => format!(
                "Received: from relay{i}.example.net (relay{i}.example.net [192.0.2.{}])\r\n\tby mx{}.example.org with ESMTPS id {i:x}\r\n\tfor <hello@ochrehq.com>; Mon, 23 Nov 2026 09:14:05 +0000\r\n",
                i % 250,
                i % 7
            ),
            1 => format!(
                "DKIM-Signature: v=1; a=rsa-sha256; d=example{}.net; s=s1;\r\n\th=from:to:subject; bh={};\r\n\tb={}\r\n",
                i % 9,
                "A".repeat(44),
                "Zm9v".repeat(80)
            ),
            2 => format!(
                "ARC-Seal: i={}; a=rsa-sha256; cv=pass; d=example.net;\r\n b={}\r\n",
                i % 4,
                "YmFy".repeat(60)
            ),
            3 => format!("X-Spam-Score: {}\r\nX-Rspamd-Queue-Id: {i:x}\r\n", i % 10),
            _ => format!(
                "ARC-Authentication-Results: i={}; mx.example.net; dkim=pass header.d=example.net\r\n",
                i % 4
            ),
        });
    }
    out
}

#[test]
fn long_relay_headers_are_read_the_same_both_ways() {
    let ours = "Authentication-Results: mx.ochrehq.com; dkim=pass header.d=acme.example; spf=pass smtp.mailfrom=acme.example; dmarc=pass header.from=acme.example\r\n";
    let foreign = "Authentication-Results: mx.example.net; dkim=fail; dmarc=fail\r\n";
    let own_hop = "Received: from mx-in.ochrehq.com by mx.ochrehq.com with LMTP; Mon, 23 Nov 2026 09:14:06 +0000\r\n";
    let mut n = 0;
    for (k, kb) in [0usize, 2, 20, 40].into_iter().enumerate() {
        for layout in 0..6 {
            let relay = relay(k * 10 + layout, kb);
            let top = match layout {
                0 => format!("Return-Path: <owner@acme.example>\r\n{own_hop}{ours}{relay}"),
                1 => format!("{relay}{ours}"),
                2 => format!("{ours}{foreign}{relay}{ours}"),
                3 => format!("{own_hop}{relay}"),
                4 => format!("{ours}X-Spam-Status: No\r\n{relay}From: second@evil.example\r\n"),
                _ => format!("{own_hop}{ours}{relay}"),
            };
            for (subject, extra, body) in [
                (
                    "Data export request: Acme Support",
                    "",
                    "Workspace: Acme Support\r\n",
                ),
                (
                    "Re: Data export request: Acme Support",
                    "In-Reply-To: <r1@acme.example>\r\n",
                    "Any news?\r\n",
                ),
                ("Lunch", "", "See you at noon.\r\n"),
                (
                    "Out of office",
                    "Auto-Submitted: auto-replied\r\n",
                    "Away.\r\n",
                ),
            ] {
                let raw = format!(
                    "{top}From: Ada <owner@acme.example>\r\nTo: hello@ochrehq.com\r\nSubject: {subject}\r\n\
                     Date: Mon, 23 Nov 2026 09:14:05 +0000\r\nMessage-ID: <m{n}@acme.example>\r\n{extra}\
                     MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b{n}\"\r\n\r\n\
                     --b{n}\r\nContent-Type: text/plain\r\n\r\n{body}\r\n--b{n}\r\n\
                     Content-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n--b{n}--\r\n",
                    b64(&"%PDF-1.4 x".repeat(300))
                );
                let bytes = raw.as_bytes();
                same_for_what_the_sync_keeps(bytes, false);
                same_for_what_the_sync_keeps(&bytes[..bytes.len().min(16 * 1024)], true);
                n += 1;
            }
        }
    }
    assert_eq!(n, 96);
}

#[test]
fn where_readers_disagree_on_the_end_of_the_header_both_ways_agree() {
    // mail-parser ends the header at the first empty line, the `From`
    // count at the first `CRLF CRLF` or `LF LF`: a bare LF before the empty
    // line puts a second sender below one and above the other.
    for raw in [
        "From: a@acme.example\r\nX-Bare-LF: yes\n\r\nFrom: b@evil.example\r\n\r\nhi\r\n",
        "From: a@acme.example\nSubject: x\n\nFrom: b@evil.example\r\n\r\nhi\r\n",
        "From: a@acme.example\r\nSubject: x\r\n\n\r\nFrom: b@evil.example\r\n\r\nhi\r\n",
    ] {
        let full = same_for_what_the_sync_keeps(raw.as_bytes(), false);
        assert_eq!(full.from.as_deref(), Some("a@acme.example"), "{raw:?}");
    }
}

/// Header sections built from fields of every kind, well or badly formed,
/// then a body: what the split must either read as mail-parser does or
/// leave to it.
fn headerish() -> impl Strategy<Value = Vec<u8>> {
    let field = prop_oneof![
        Just(b"From: Ada <owner@acme.example>\r\n".to_vec()),
        Just(b"from: b@evil.example\r\n".to_vec()),
        Just(b"From\r\n : c@evil.example\r\n".to_vec()),
        Just(b"From : d@evil.example\r\n".to_vec()),
        Just(b"Reply-To: x@other.example\r\n".to_vec()),
        Just(b"Subject: Data export request: Acme\r\n".to_vec()),
        Just(b"Subject: =?utf-8?B?RGF0YSBleHBvcnQgcmVxdWVzdDogQWNtZQ==?=\r\n".to_vec()),
        Just(b"Subject: Re: Data export request: Acme\r\n\tfolded\r\n".to_vec()),
        Just(b"Date: Mon, 23 Nov 2026 09:14:05 +0000\r\n".to_vec()),
        Just(b"Date: 19:59 CST\r\n".to_vec()),
        Just(b"Message-ID: <m1@acme.example>\r\n".to_vec()),
        Just(b"In-Reply-To: <a@b>\r\n".to_vec()),
        Just(b"References: <a@b>\r\n <c@d>\r\n".to_vec()),
        Just(b"Return-Path: <bounce@evil.example>\r\n".to_vec()),
        Just(b"Auto-Submitted: auto-replied\r\n".to_vec()),
        Just(b"Precedence: bulk\r\n".to_vec()),
        Just(b"Authentication-Results: mx.ochrehq.com; dkim=pass; spf=pass; dmarc=pass header.from=acme.example\r\n".to_vec()),
        Just(b"Authentication-Results: mx.ochrehq.com;\r\n dmarc=fail\r\n".to_vec()),
        Just(b"Authentication-Results: other.example; dmarc=pass\r\n".to_vec()),
        Just(b"Received: from a.example by mx.ochrehq.com; Mon, 23 Nov 2026 09:14:05 +0000\r\n".to_vec()),
        Just(b"Received: from b.example\r\n\tby relay.example.net\r\n".to_vec()),
        Just(b"DKIM-Signature: v=1; d=acme.example;\r\n b=abc\r\n".to_vec()),
        Just(b"ARC-Seal: i=1; cv=none\r\n".to_vec()),
        Just(b"X-Spam-Status: No\r\n".to_vec()),
        Just(b"Content-Type: multipart/mixed; boundary=\"b\"\r\n".to_vec()),
        Just(b"Content-Type: multipart/mixed;\r\n boundary=\"b\"\r\n".to_vec()),
        Just(b"Content-Type: multipart/mixed;\r\nboundary=\"b\"\r\n".to_vec()),
        Just(b"Content-Type: text/html; charset=utf-8\r\n".to_vec()),
        Just(b"Content-Transfer-Encoding: base64\r\n".to_vec()),
        Just(b"X-Bare-LF: yes\n".to_vec()),
        Just(b" leading: space\r\n".to_vec()),
        Just(b"no colon at all\r\n".to_vec()),
        Just(b"Subject: unclosed \"quote\r\n".to_vec()),
        Just(b"From: \"Ada (comment <a@b>\r\n".to_vec()),
        Just(b"X-Esc: \x1b[31mred\r\n".to_vec()),
        Just(b"\xc2\xa0From: e@evil.example\r\n".to_vec()),
        "[A-Za-z-]{1,12}: [ -~]{0,30}\r\n".prop_map(String::into_bytes),
        proptest::collection::vec(any::<u8>(), 0..10),
    ];
    let body = prop_oneof![
        Just(b"hello\r\n".to_vec()),
        Just(b"Workspace: Acme\r\nwe need a complete export of all our data\r\n".to_vec()),
        Just(b"--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b--\r\n".to_vec()),
        Just(b"ZXhwb3J0IGFsbCBvdXIgZGF0YQ==\r\n".to_vec()),
        Just(Vec::new()),
    ];
    let end = || {
        prop_oneof![
            Just(b"\r\n".to_vec()),
            Just(b"\n".to_vec()),
            Just(Vec::new())
        ]
    };
    // More fields after the first end: where readers disagree on where the
    // header ends, the fields below it count for one and not the other.
    (
        proptest::collection::vec(field.clone(), 0..16),
        end(),
        proptest::collection::vec(field, 0..4),
        end(),
        body,
    )
        .prop_map(|(fields, end, more, end2, body)| {
            [fields.concat(), end, more.concat(), end2, body].concat()
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn generated_headers_are_read_the_same_both_ways(raw in headerish(), truncated in any::<bool>()) {
        same_for_what_the_sync_keeps(&raw, truncated);
    }
}

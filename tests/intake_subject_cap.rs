//! A subject longer than RFC 5322's line (§2.1.1: 998 characters) is kept
//! to its first 998 characters, whichever way it was written: plain, in
//! 8-bit UTF-8, or in encoded words that split a character (the repaired
//! path). Pure logic: `concierge::intake::inspect` on bytes.

use concierge::intake::{inspect, Options, FIELD_LIMIT};

fn subject_of(header_value: &str) -> String {
    let raw = format!(
        "From: Ada <ada@acme.example>\r\nTo: hello@ochrehq.com\r\n\
         Subject: {header_value}\r\nMessage-ID: <cap@acme.example>\r\n\r\nbody\r\n"
    );
    inspect(raw.as_bytes(), &Options::default()).subject
}

#[test]
fn a_subject_longer_than_a_line_is_cut_at_998_characters() {
    assert_eq!(FIELD_LIMIT, 998);
    let plain = subject_of(&"a".repeat(3000));
    assert_eq!(plain, "a".repeat(998));

    // Two bytes a character: the cap counts characters, not bytes.
    let wide = subject_of(&"é".repeat(1500));
    assert_eq!(wide, "é".repeat(998));

    // "éé" with the second split across encoded words (C3 A9 C3 | A9),
    // then "a", 600 times over: 1800 characters once repaired.
    let words: Vec<&str> = std::iter::repeat_n(["=?utf-8?B?w6nD?=", "=?utf-8?B?qWE=?="], 600)
        .flatten()
        .collect();
    let repaired = subject_of(&words.join("\r\n "));
    assert_eq!(repaired.chars().count(), 998, "{repaired}");
    assert!(repaired.starts_with("ééaééa"), "{repaired}");
    assert!(!repaired.contains('\u{fffd}'), "not repaired: {repaired}");

    let short = subject_of("Data export request: Acme Support");
    assert_eq!(short, "Data export request: Acme Support");
}

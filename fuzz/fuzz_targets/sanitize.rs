//! The sanitizer on arbitrary text: nothing a terminal interprets survives,
//! and sanitizing is idempotent (a second pass finds nothing to remove).
#![no_main]

use concierge::intake::sanitize::{is_bidi_control, multi_line, single_line};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|s: &str| {
    let one = single_line(s);
    assert!(!one.text.chars().any(|c| c.is_control() || is_bidi_control(c)));
    let again = single_line(&one.text);
    assert_eq!(again.text, one.text);
    assert!(!again.removed);
    let multi = multi_line(s);
    assert!(!multi
        .text
        .chars()
        .any(|c| (c.is_control() && c != '\n' && c != '\t') || is_bidi_control(c)));
});

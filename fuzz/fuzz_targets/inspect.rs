//! The whole intake parser on arbitrary bytes: never panics, every printed
//! string free of control and bidi characters, the same answer twice.
#![no_main]

use concierge::intake::sanitize::is_bidi_control;
use concierge::intake::{inspect, Options};
use libfuzzer_sys::fuzz_target;

fn walk(v: &serde_json::Value) {
    match v {
        serde_json::Value::String(s) => assert!(
            !s.chars().any(|c| c.is_control() || is_bidi_control(c)),
            "unsafe character in {s:?}"
        ),
        serde_json::Value::Array(a) => a.iter().for_each(walk),
        serde_json::Value::Object(o) => o.values().for_each(walk),
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let msg = inspect(data, &Options::default());
    let line = serde_json::to_string(&msg).expect("serializes");
    walk(&serde_json::from_str(&line).expect("valid JSON"));
    assert!(!msg
        .body
        .chars()
        .any(|c| (c.is_control() && c != '\n' && c != '\t') || is_bidi_control(c)));
    assert_eq!(msg, inspect(data, &Options::default()));
});

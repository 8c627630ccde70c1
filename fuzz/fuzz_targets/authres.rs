//! The RFC 8601 reader on arbitrary header values: never panics or hangs,
//! and a header with another authserv-id, added above or below, never
//! changes the verdict.
#![no_main]

use concierge::intake::auth::{evaluate, evaluate_headers, parse};
use libfuzzer_sys::fuzz_target;

const ID: &str = "mx.ochrehq.com";

fuzz_target!(|s: &str| {
    let _ = parse(s);
    let base = evaluate([s], ID);
    let foreign = "relay.evil.example; dkim=pass; spf=pass; dmarc=pass header.from=acme.example";
    assert_eq!(evaluate([foreign, s], ID), base);
    assert_eq!(evaluate([s, foreign], ID), base);
    let fields = [("Received", s), ("Authentication-Results", s), ("From", s)];
    let _ = evaluate_headers(fields, ID);
});

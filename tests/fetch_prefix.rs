//! The first sync's fetch reads, from a real server, exactly the bytes the
//! shared prefix rule (`inbox::prefix::read_prefix`) reads from a file, so
//! `inspect` and `sync` classify the same message the same way — around
//! every edge of the rule: a header that ends just before, on and just
//! after the first read's end, one split across it in the middle of its
//! empty line, headers of 20 and 40 KB with short and long texts, a
//! message that is all header. Run on Dovecot and Cyrus.

use concierge_test_support as support;
use concierge_test_support::on_both_servers;

use concierge::inbox::imap::ImapSource;
use concierge::inbox::prefix::read_prefix;
use concierge::inbox::{MsgRef, Source, FETCH_PREFIX};
use concierge::secret::Secret;
use support::imap_server::ImapServer;

use concierge_test_support::imap_server::plain;

/// A message whose header block (empty line included) is exactly
/// `header_len` bytes, with `eol` line ends, then `text_len` bytes of text.
fn message(n: usize, header_len: usize, text_len: usize, eol: &str) -> Vec<u8> {
    let mut m = format!("Message-ID: <edge-{n}@acme.example>{eol}From: a{n}@acme.example{eol}");
    let mut hop = 0;
    // Received lines until one more line and the empty line fit.
    loop {
        let line = format!("Received: from relay{hop}.example by mx.ochrehq.com{eol}");
        if m.len() + line.len() + 40 + 2 * eol.len() > header_len {
            break;
        }
        m.push_str(&line);
        hop += 1;
    }
    // One last field padded so that the block ends exactly at `header_len`.
    let pad = header_len - m.len() - "X-Pad: ".len() - 2 * eol.len();
    m.push_str("X-Pad: ");
    m.push_str(&"p".repeat(pad));
    m.push_str(eol);
    m.push_str(eol);
    assert_eq!(m.len(), header_len, "message {n}");
    let mut m = m.into_bytes();
    while m.len() < header_len + text_len {
        m.extend_from_slice(
            b"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n",
        );
    }
    m.truncate(header_len + text_len);
    // Never end on a bare CR (the server would turn it into CRLF).
    if m.len() > header_len && m.last() == Some(&b'\r') {
        *m.last_mut().unwrap() = b'x';
    }
    m
}

fn the_fetch_reads_what_the_prefix_rule_reads(d: &mut dyn ImapServer) {
    let fp = FETCH_PREFIX;
    let mut mails: Vec<Vec<u8>> = Vec::new();
    for (header_len, text_len) in [
        (1_000, 100),
        (1_000, 40_000),
        (fp - 1, 10),
        (fp, 10),
        (fp + 1, 10),
        (fp + 2, 5_000),
        (fp - 2, 30_000),
        (fp + 3, 30_000),
        (20 * 1024, 40 * 1024),
        (40 * 1024, 100),
        (40 * 1024, 0),
        // The second read ends at byte 64 KiB (`inbox::fetch`): headers
        // whose text runs past it, ends on it, or whose end straddles it.
        (48 * 1024, 16 * 1024),
        (48 * 1024, 16 * 1024 + 1),
        (64 * 1024 - 2, 100),
        (64 * 1024 + 1, 20_000),
        // Several further reads.
        (150 * 1024, 30_000),
    ] {
        let n = mails.len();
        mails.push(message(n, header_len, text_len, "\r\n"));
    }
    // All header, no empty line, longer than the first read.
    let mut all_header = Vec::new();
    while all_header.len() < 30 * 1024 {
        all_header.extend_from_slice(b"Received: from relay.example by mx.ochrehq.com\r\n");
    }
    mails.push(all_header);
    for m in &mails {
        d.seed("m", m);
    }
    let mut src = ImapSource::connect(&plain(d), &Secret::new(d.password())).unwrap();
    let listing = src.list_new(None).unwrap();
    assert_eq!(listing.refs.len(), mails.len());
    let fetched = src.fetch(&listing.refs).unwrap();
    assert_eq!(fetched.len(), mails.len());
    // The same in small batches, each batch's command sent before the last
    // one's answer is read: same bytes, batches in order.
    let chunks: Vec<&[MsgRef]> = listing.refs.chunks(4).collect();
    let mut batches = Vec::new();
    src.fetch_each(&chunks, &mut |b| {
        batches.push(b.unwrap());
        true
    });
    assert_eq!(batches.len(), chunks.len());
    for (chunk, batch) in chunks.iter().zip(&batches) {
        let refs: Vec<&MsgRef> = batch.iter().map(|f| &f.r#ref).collect();
        assert_eq!(refs, chunk.iter().collect::<Vec<_>>());
    }
    let piecewise: Vec<_> = batches.into_iter().flatten().collect();
    for (a, b) in fetched.iter().zip(&piecewise) {
        assert!(a.raw == b.raw && a.truncated == b.truncated);
    }
    // Stopped after the first batch, the connection is still usable.
    let mut n = 0;
    src.fetch_each(&chunks, &mut |_| {
        n += 1;
        false
    });
    assert_eq!(n, 1);
    assert_eq!(src.fetch(&listing.refs[..1]).unwrap().len(), 1);
    for (i, (m, f)) in mails.iter().zip(&fetched).enumerate() {
        let (want, truncated) = read_prefix(&m[..]).unwrap();
        assert!(
            f.raw == want,
            "message {i}: fetched {} bytes, the rule reads {} (header {:?})",
            f.raw.len(),
            want.len(),
            concierge::inbox::prefix::header_end(m)
        );
        assert_eq!(f.truncated, truncated, "message {i}");
    }
}

on_both_servers!(the_fetch_reads_what_the_prefix_rule_reads);

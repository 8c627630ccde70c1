//! The one rule for how much of a message is read, shared by every source
//! (IMAP, Maildir) and by `concierge inspect`, so that a file is classified
//! exactly as `sync` classifies the same message.
//!
//! The rule: the first [`FETCH_PREFIX`] bytes. When they hold no end of the
//! header block (the empty line of RFC 5322 §2.1), the whole header block —
//! at most [`MAX_HEADER`] bytes — followed by the first [`FETCH_PREFIX`] bytes
//! of the text. Attachments beyond that are never read.
//!
//! NOTE: long relay chains with ARC (RFC 8617) and DKIM (RFC 6376) signatures
//! make 20–40 KB header blocks ordinary; a prefix that ends inside
//! `Received:` lines parsed as a malformed non-request and lost the mail.
//! Over IMAP the message is read in raw pieces (`BODY.PEEK[]<origin.len>`,
//! RFC 3501 §6.4.5) until [`cut`] — the same rule for a reader that has
//! the first bytes and the size — has what it keeps (`inbox::fetch`); this
//! yields the same bytes as [`read_prefix`] on the same
//! message (tests/fetch_prefix.rs checks it against a real server).

use std::io::Read;

/// The first read: every header and the start of the text for nearly all
/// mail (measured: ~4 KB headers typical, 20–40 KB with long relay chains).
pub const FETCH_PREFIX: usize = 16 * 1024;

/// The largest header block read. RFC 5322 sets no limit; 1 MiB is ~25× the
/// largest real header block seen (40 KB) and keeps `inspect /dev/zero` and a
/// hostile server bounded.
pub const MAX_HEADER: usize = 1024 * 1024;

/// The offset just past the empty line that ends the header block (CRLF CRLF
/// or bare LF LF), or `None` when `bytes` hold no end of header.
pub fn header_end(bytes: &[u8]) -> Option<usize> {
    find_end(bytes, 0)
}

/// [`header_end`], looking only at line ends at or after `from` (the bytes
/// before it were searched already).
fn find_end(bytes: &[u8], from: usize) -> Option<usize> {
    // A message may start with the empty line (no header at all).
    if from == 0 {
        if bytes.starts_with(b"\r\n") {
            return Some(2);
        }
        if bytes.starts_with(b"\n") {
            return Some(1);
        }
    }
    // NOTE: two SIMD searches (memchr's memmem) in place of a byte loop
    // that stopped at every line end: 35 of the fetch thread's 194 samples
    // in a big-headers sync (docs/perf-sync.md, third round). The first
    // LF followed by CRLF or by LF ends the header; the LF LF search stops
    // where the first LF CRLF was found. One pass over the line feeds (an
    // SSE2 searcher, each LF's next bytes checked) was measured and
    // dropped: 5,600 → 15,800 instructions per message of big-headers,
    // 6 % → 11 % of the samples (docs/perf-sync.md, fifth round).
    let hay = bytes.get(from..)?;
    let crlf = memchr::memmem::find(hay, b"\n\r\n");
    let lf_hay = &hay[..crlf.map_or(hay.len(), |p| (p + 2).min(hay.len()))];
    match (crlf, memchr::memmem::find(lf_hay, b"\n\n")) {
        (_, Some(p)) => Some(from + p + 2),
        (Some(p), None) => Some(from + p + 3),
        (None, None) => None,
    }
}

/// What the rule of [`read_prefix`] makes of a message's first bytes, given
/// the message's whole size: enough to decide, or how many it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// The rule keeps the first `len` bytes (at most the bytes given);
    /// `truncated` when the message is longer.
    Keep { len: usize, truncated: bool },
    /// The rule needs at least the first `n` bytes (more than given).
    Need(usize),
}

/// The rule of [`read_prefix`] for a reader that reads a message in
/// pieces (the IMAP fetch: `BODY.PEEK[]<origin.len>`, RFC 3501 §6.4.5):
/// `have` are the first bytes of a message of `size` bytes. `Keep` gives
/// exactly the bytes and the flag [`read_prefix`] gives for the whole
/// message (a property test below checks it for every `have`).
pub fn cut(have: &[u8], size: usize) -> Cut {
    cut_scanned(have, size, &mut Scan::default())
}

/// How far a piecewise reader's search for the end of the header got
/// (bytes searched, the first end found), so that each byte is searched
/// once however many pieces come. NOTE: without it the big-headers sync
/// searched each long header three times: 132 M of the fetch thread's
/// 270 M instructions (docs/perf-sync.md, third round).
#[derive(Debug, Default, Clone, Copy)]
pub struct Scan {
    searched: usize,
    end: Option<usize>,
}

/// [`cut`] for a reader that calls it again as pieces come: `scan` (the
/// same one every time for the same message) remembers what was searched.
pub fn cut_scanned(have: &[u8], size: usize, scan: &mut Scan) -> Cut {
    let h = have.len();
    let upto = |n: usize, truncated: bool| {
        if h >= n {
            Cut::Keep { len: n, truncated }
        } else {
            Cut::Need(n)
        }
    };
    if size <= FETCH_PREFIX {
        return upto(size, false);
    }
    if h < FETCH_PREFIX {
        return Cut::Need(FETCH_PREFIX);
    }
    if scan.end.is_none() && h > scan.searched {
        // An LF in the last two bytes searched may start an empty line
        // that the new bytes complete (as in `read_prefix`).
        scan.end = find_end(have, scan.searched.saturating_sub(2));
        scan.searched = h;
    }
    match scan.end {
        // The first read holds the end: it is what the rule keeps.
        Some(e) if e <= FETCH_PREFIX => Cut::Keep {
            len: FETCH_PREFIX,
            truncated: true,
        },
        Some(e) if e <= MAX_HEADER => {
            let keep = e + FETCH_PREFIX;
            if size <= keep {
                upto(size, false)
            } else {
                upto(keep, true)
            }
        }
        // The first end lies past the bound: the bound is all the rule keeps.
        Some(_) => Cut::Keep {
            len: MAX_HEADER,
            truncated: true,
        },
        None if h >= MAX_HEADER && size > MAX_HEADER => Cut::Keep {
            len: MAX_HEADER,
            truncated: true,
        },
        None if h >= size => Cut::Keep {
            len: size,
            truncated: false,
        },
        None => Cut::Need(h + 1),
    }
}

/// Reads a message by the rule above; returns the bytes and whether the
/// message is longer than what was read. Reads at most
/// `MAX_HEADER + FETCH_PREFIX + 1` bytes from `r`, whatever `r` is.
pub fn read_prefix(r: impl Read) -> std::io::Result<(Vec<u8>, bool)> {
    let limit = MAX_HEADER + FETCH_PREFIX;
    let mut buf = Vec::with_capacity(FETCH_PREFIX + 1);
    // One byte more than kept tells whether anything follows.
    let mut r = r.take(limit as u64 + 1);
    (&mut r)
        .take(FETCH_PREFIX as u64 + 1)
        .read_to_end(&mut buf)?;
    if buf.len() <= FETCH_PREFIX {
        return Ok((buf, false));
    }
    if header_end(&buf[..FETCH_PREFIX]).is_some() {
        buf.truncate(FETCH_PREFIX);
        return Ok((buf, true));
    }
    // Second step: the header block, then the start of the text.
    let mut searched: usize = 0;
    let end = loop {
        // Look again only at what is new: an LF two bytes before the old end
        // may start an empty line that the new bytes complete.
        if let Some(e) = find_end(&buf, searched.saturating_sub(2)) {
            if e <= MAX_HEADER {
                break e;
            }
        }
        searched = buf.len();
        if buf.len() > MAX_HEADER {
            // No end of header within the bound: the bound is all we keep.
            buf.truncate(MAX_HEADER);
            return Ok((buf, true));
        }
        let want = (MAX_HEADER + 1 - buf.len()).min(64 * 1024);
        let got = (&mut r).take(want as u64).read_to_end(&mut buf)?;
        if got == 0 {
            // The whole message is a header block without an empty line.
            return Ok((buf, false));
        }
    };
    let keep = end + FETCH_PREFIX;
    if buf.len() <= keep {
        (&mut r)
            .take((keep + 1 - buf.len()) as u64)
            .read_to_end(&mut buf)?;
    }
    let truncated = buf.len() > keep;
    buf.truncate(keep);
    Ok((buf, truncated))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(header_bytes: usize, body_bytes: usize) -> Vec<u8> {
        let mut m = Vec::new();
        let mut i = 0;
        while m.len() < header_bytes {
            m.extend_from_slice(
                format!("Received: from relay{i}.example by mx.example; Mon, 23 Nov 2026\r\n")
                    .as_bytes(),
            );
            i += 1;
        }
        m.extend_from_slice(b"From: a@b.example\r\n\r\n");
        m.extend(std::iter::repeat_n(b'x', body_bytes));
        m
    }

    #[test]
    fn header_end_finds_crlf_and_lf_forms() {
        assert_eq!(header_end(b"A: b\r\n\r\nbody"), Some(8));
        assert_eq!(header_end(b"A: b\n\nbody"), Some(6));
        assert_eq!(header_end(b"\r\nbody"), Some(2));
        assert_eq!(header_end(b"A: b\r\nC: d\r\n"), None);
        assert_eq!(header_end(b""), None);
    }

    #[test]
    fn a_small_message_is_read_whole() {
        let m = message(100, 100);
        let (raw, truncated) = read_prefix(&m[..]).unwrap();
        assert_eq!((raw, truncated), (m, false));
    }

    #[test]
    fn a_normal_header_gives_the_first_prefix() {
        let m = message(2000, 100_000);
        let (raw, truncated) = read_prefix(&m[..]).unwrap();
        assert_eq!(raw.len(), FETCH_PREFIX);
        assert!(truncated);
    }

    #[test]
    fn a_large_header_is_read_whole_plus_the_start_of_the_text() {
        let m = message(40_000, 100_000);
        let end = header_end(&m).unwrap();
        assert!(end > FETCH_PREFIX);
        let (raw, truncated) = read_prefix(&m[..]).unwrap();
        assert_eq!(raw.len(), end + FETCH_PREFIX);
        assert_eq!(&raw[..], &m[..end + FETCH_PREFIX]);
        assert!(truncated);
        // The same with a short text: whole, not truncated.
        let m = message(40_000, 10);
        assert_eq!(read_prefix(&m[..]).unwrap(), (m, false));
    }

    #[test]
    fn an_endless_stream_is_read_to_a_bound() {
        let zeros = std::io::repeat(0).take(u64::MAX);
        let (raw, truncated) = read_prefix(zeros).unwrap();
        assert_eq!(raw.len(), MAX_HEADER);
        assert!(truncated);
    }

    /// Every way a message can be read in pieces: `cut` asks for more, or
    /// keeps exactly what `read_prefix` keeps from the whole message.
    fn cut_agrees_with_read_prefix(m: &[u8]) {
        let (want, truncated) = read_prefix(m).unwrap();
        let mut h = 0;
        let mut steps = 0;
        let mut scan = Scan::default();
        loop {
            match cut_scanned(&m[..h], m.len(), &mut scan) {
                Cut::Keep { len, truncated: t } => {
                    assert!(len <= h, "kept {len} of {h}");
                    assert_eq!((&m[..len], t), (&want[..], truncated), "size {}", m.len());
                    break;
                }
                Cut::Need(n) => {
                    assert!(n > h && n <= m.len(), "need {n} with {h} of {}", m.len());
                    // Read the least that was asked for, and sometimes more.
                    h = if steps % 2 == 0 {
                        n
                    } else {
                        (n + 997).min(m.len())
                    };
                }
            }
            steps += 1;
            assert!(steps < 100_000);
        }
        // And from any longer prefix at once (a larger first read).
        for h in [FETCH_PREFIX, want.len(), want.len() + 1, m.len()] {
            if let Cut::Keep { len, truncated: t } = cut(&m[..h.min(m.len())], m.len()) {
                assert_eq!((&m[..len], t), (&want[..], truncated));
            }
        }
    }

    #[test]
    fn cut_keeps_what_read_prefix_keeps() {
        let fp = FETCH_PREFIX;
        for (header, body) in [
            (100, 100),
            (100, 50_000),
            (fp - 3, 10),
            (fp - 1, 10),
            (fp, 0),
            (fp + 1, 30_000),
            (40_000, 0),
            (40_000, 20_000),
            (70_000, 5),
        ] {
            cut_agrees_with_read_prefix(&message(header, body));
        }
        // The empty line split across the first read's end, CRLF and LF.
        for at in [fp - 4, fp - 3, fp - 2, fp - 1, fp] {
            for end in [&b"\r\n\r\n"[..], b"\n\n", b"\n\r\n"] {
                let mut m = vec![b'a'; at];
                m.extend_from_slice(end);
                m.extend(std::iter::repeat_n(b'x', 2 * fp));
                cut_agrees_with_read_prefix(&m);
            }
        }
        // No end at all, below, on and above the bound; an end past it.
        for len in [30_000, MAX_HEADER, MAX_HEADER + 1, MAX_HEADER + 50] {
            cut_agrees_with_read_prefix(&vec![b'h'; len]);
        }
        let mut m = vec![b'h'; MAX_HEADER + 1];
        m.extend_from_slice(b"\r\n\r\nbody");
        cut_agrees_with_read_prefix(&m);
        let mut m = vec![b'h'; MAX_HEADER - 4];
        m.extend_from_slice(b"\r\n\r\nbody");
        cut_agrees_with_read_prefix(&m);
    }

    #[test]
    fn the_header_end_may_straddle_two_reads() {
        // Place CRLF CRLF across the FETCH_PREFIX boundary.
        let mut m = vec![b'a'; FETCH_PREFIX - 2];
        m.extend_from_slice(b"\r\n\r\n");
        m.extend(std::iter::repeat_n(b'x', 2 * FETCH_PREFIX));
        let (raw, truncated) = read_prefix(&m[..]).unwrap();
        assert_eq!(raw.len(), FETCH_PREFIX + 2 + FETCH_PREFIX);
        assert!(truncated);
    }
}

//! What mail-parser misreads in real mail, found by reading the raw header
//! section ourselves (issue 10, "Other defects found the same way"):
//! - a `From` field whose name is folded before its colon (`From\r\n : x`,
//!   RFC 5322 §4.5.3 `obs-optional` allows WSP there) is invisible to
//!   mail-parser, so a second sender could hide behind it;
//! - a `boundary=` parameter folded after its `=` or pushed onto a line of
//!   its own loses the boundary, and with it the whole body;
//! - a UTF-8 character split across two RFC 2047 encoded words (which §5
//!   forbids, and mailers do anyway) decodes as two U+FFFD.

use regex::Regex;
use std::sync::LazyLock;

/// The header section: everything before the first empty line (the first
/// `CRLF CRLF` or `LF LF`, whichever comes first).
///
/// NOTE: one pass over the line ends, stopping at the first empty line.
/// Searching for both patterns separately scanned the whole prefix for
/// `LF LF`, which CRLF mail never has (16 KiB per message for nothing).
fn header_section(raw: &[u8]) -> &[u8] {
    for at in memchr::memchr_iter(b'\n', raw) {
        let next = &raw[at + 1..];
        if next.starts_with(b"\n") {
            return &raw[..at];
        }
        if at > 0 && raw[at - 1] == b'\r' && next.starts_with(b"\r\n") {
            return &raw[..at - 1];
        }
    }
    raw
}

/// The fields of the header section as (start, end) byte ranges, each with
/// its continuation lines (RFC 5322 §2.2.3 folding).
fn field_ranges(head: &[u8]) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = Vec::new();
    let mut at = 0;
    while at < head.len() {
        let end = memchr::memchr(b'\n', &head[at..]).map_or(head.len(), |i| at + i + 1);
        match out.last_mut() {
            Some(last) if matches!(head[at], b' ' | b'\t') => last.1 = end,
            _ => out.push((at, end)),
        }
        at = end;
    }
    out
}

/// The field name of one field: what stands before its colon, folding and
/// surrounding whitespace removed.
fn field_name(field: &[u8]) -> Option<String> {
    let colon = memchr::memchr(b':', field)?;
    let name = String::from_utf8_lossy(&field[..colon]);
    let name: String = name.split_whitespace().collect::<Vec<_>>().join(" ");
    (!name.is_empty() && !name.contains(' ')).then_some(name)
}

/// Whether the field is named `name` (any case), as [`field_name`] reads
/// it. An ASCII name (nearly all) is compared in place; only a name with
/// other bytes takes [`field_name`]'s allocating path (Unicode whitespace
/// such as U+00A0 around a name is trimmed there).
fn field_is(field: &[u8], name: &str) -> bool {
    let Some(colon) = memchr::memchr(b':', field) else {
        return false;
    };
    let raw = &field[..colon];
    if !raw.is_ascii() {
        return field_name(field).is_some_and(|n| n.eq_ignore_ascii_case(name));
    }
    // `char::is_whitespace` on ASCII: space, TAB, LF, VT, FF, CR.
    let ws = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r');
    let start = raw.iter().position(|b| !ws(b)).unwrap_or(raw.len());
    let end = raw.iter().rposition(|b| !ws(b)).map_or(start, |i| i + 1);
    let trimmed = &raw[start..end];
    !trimmed.is_empty() && !trimmed.iter().any(ws) && trimmed.eq_ignore_ascii_case(name.as_bytes())
}

/// How many fields named `name` (any case, folded or not) the header holds.
pub fn count_fields(raw: &[u8], name: &str) -> usize {
    let head = header_section(raw);
    field_ranges(head)
        .into_iter()
        .filter(|&(s, e)| field_is(&head[s..e], name))
        .count()
}

static BOUNDARY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)(?:^|[;\s])boundary\s*=\s*(?:"([^"\r\n]{1,70})"|([^\s;"]{1,70}))"#).unwrap()
});

/// The message with its multipart `Content-Type` rewritten on one line,
/// when the boundary is there but folded where mail-parser cannot see it
/// (after the `=`, or on a line of its own); `None` when there is nothing
/// to repair. The flag says the parameter stood on a line of its own
/// (not folding, a broken header: the repair had to guess).
pub fn boundary(raw: &[u8]) -> Option<(Vec<u8>, bool)> {
    let head = header_section(raw);
    let fields = field_ranges(head);
    let ct = fields.iter().position(|&(s, e)| {
        field_name(&head[s..e]).is_some_and(|n| n.eq_ignore_ascii_case("Content-Type"))
    })?;
    let (s, e) = fields[ct];
    let value = String::from_utf8_lossy(&head[s..e]);
    let value = value.split_once(':').map_or("", |(_, v)| v);
    let mime = value.split(';').next()?.trim().to_ascii_lowercase();
    if !mime.starts_with("multipart/") || !mime.bytes().all(|b| b.is_ascii_graphic()) {
        return None;
    }
    // The parameter may sit on the next line, unfolded (no leading WSP).
    let stray = fields.get(ct + 1).filter(|&&(s2, e2)| {
        String::from_utf8_lossy(&head[s2..e2])
            .trim_start()
            .to_ascii_lowercase()
            .starts_with("boundary")
    });
    let mut text = value.to_string();
    if let Some(&(s2, e2)) = stray {
        text.push(' ');
        text.push_str(&String::from_utf8_lossy(&head[s2..e2]));
    }
    let caps = BOUNDARY.captures(&text)?;
    let b = caps.get(1).or(caps.get(2))?.as_str().trim_end();
    let mut out = Vec::with_capacity(raw.len() + 32);
    out.extend_from_slice(&raw[..s]);
    out.extend_from_slice(format!("Content-Type: {mime}; boundary=\"{b}\"\r\n").as_bytes());
    let skip_to = stray.map_or(e, |&(_, e2)| e2);
    out.extend_from_slice(&raw[skip_to..]);
    Some((out, stray.is_some()))
}

static ENCODED_WORD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"=\?([A-Za-z0-9_.:+-]{1,40})(?:\*[A-Za-z0-9-]*)?\?([BbQq])\?([^?\s]*)\?=").unwrap()
});

/// Decodes a raw header value whose RFC 2047 encoded words split a UTF-8
/// character: adjacent UTF-8 words (only whitespace between them, which
/// §6.2 says to drop) are joined as bytes before decoding. `None` unless
/// that is the case, so every other value keeps mail-parser's decoding.
pub fn split_utf8_words(raw: &str) -> Option<String> {
    if !raw.contains("=?") {
        return None;
    }
    let mut out = String::new();
    let mut pending: Vec<u8> = Vec::new();
    let mut last = 0;
    let mut split = false;
    for caps in ENCODED_WORD.captures_iter(raw) {
        let m = caps.get(0)?;
        let gap = &raw[last..m.start()];
        let charset = caps[1].to_ascii_lowercase();
        if !(charset == "utf-8" || charset == "utf8") {
            return None;
        }
        if !gap.trim().is_empty() || last == 0 {
            flush(&mut pending, &mut out);
            out.push_str(gap);
        }
        let bytes = decode_word(&caps[2], &caps[3])?;
        split |= std::str::from_utf8(&bytes).is_err();
        pending.extend(bytes);
        last = m.end();
    }
    flush(&mut pending, &mut out);
    out.push_str(&raw[last..]);
    split.then_some(out)
}

/// Appends the bytes of a run of adjacent words, decoded as one.
fn flush(pending: &mut Vec<u8>, out: &mut String) {
    out.push_str(&String::from_utf8_lossy(pending));
    pending.clear();
}

fn decode_word(encoding: &str, text: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    if encoding.eq_ignore_ascii_case("b") {
        let engine = base64::engine::general_purpose::GeneralPurpose::new(
            &base64::alphabet::STANDARD,
            base64::engine::GeneralPurposeConfig::new()
                .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
        );
        return engine.decode(text).ok();
    }
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'_' => out.push(b' '),
            b'=' => {
                let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_from_folded_before_its_colon_is_counted() {
        let raw = b"From: a@evil.example\r\nFrom\r\n : b@acme.example\r\nSubject: x\r\n\r\nFrom: c@body.example\r\n";
        assert_eq!(count_fields(raw, "from"), 2);
        assert_eq!(count_fields(b"From \t: a@x\nfrom:b@y\n\n", "From"), 2);
        assert_eq!(count_fields(b"From: a@x\r\nX-From: b@y\r\n\r\n", "from"), 1);
        assert_eq!(
            count_fields(
                b"From MAILER-DAEMON Fri Jul  8 12:08:34 2011\nFrom: a@x\n\n",
                "from"
            ),
            1
        );
    }

    /// The two-search form `header_section` replaced, as the oracle.
    fn header_section_by_two_searches(raw: &[u8]) -> &[u8] {
        let crlf = memchr::memmem::find(raw, b"\r\n\r\n");
        let lf = memchr::memmem::find(raw, b"\n\n");
        let end = match (crlf, lf) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a.or(b).unwrap_or(raw.len()),
        };
        &raw[..end]
    }

    proptest::proptest! {
        #[test]
        fn one_pass_header_section_and_name_test_agree_with_the_old_ones(
            raw in proptest::collection::vec(proptest::sample::select(
                vec![b'\r', b'\n', b' ', b'\t', b':', b'F', b'r', b'o', b'm', b'x', 0x0b, 0xc2, 0xa0]
            ), 0..40)
        ) {
            proptest::prop_assert_eq!(header_section(&raw), header_section_by_two_searches(&raw));
            for name in ["From", "from", "x"] {
                proptest::prop_assert_eq!(
                    field_is(&raw, name),
                    field_name(&raw).is_some_and(|n| n.eq_ignore_ascii_case(name))
                );
            }
        }
    }

    #[test]
    fn a_name_between_unicode_spaces_is_still_that_name() {
        assert!(field_is("\u{a0}From\u{a0}: x".as_bytes(), "from"));
        assert!(field_is(b" From \r\n : x", "From"));
        assert!(!field_is(b"Fr om: x", "From"));
        assert!(!field_is(b"X-From: x", "From"));
    }

    #[test]
    fn folded_boundaries_are_put_back_on_one_line() {
        for head in [
            "Content-Type: multipart/mixed;\r\n boundary=\r\n \"b1\"\r\n",
            "Content-Type: multipart/mixed; boundary=\r\n\tb1\r\n",
            "Content-Type: multipart/mixed;\r\nboundary=\"b1\"\r\n",
            "Content-Type: Multipart/Mixed;\r\nBoundary = b1\r\n",
        ] {
            let raw = format!("From: a@x\r\n{head}Subject: s\r\n\r\n--b1\r\n\r\nhi\r\n--b1--\r\n");
            let (fixed, guessed) = boundary(raw.as_bytes()).unwrap();
            let fixed = String::from_utf8(fixed).unwrap();
            assert_eq!(
                guessed,
                !head.contains(";\r\n ") && !head.contains("=\r\n"),
                "{head:?}"
            );
            assert_eq!(
                fixed,
                "From: a@x\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\nSubject: s\r\n\r\n--b1\r\n\r\nhi\r\n--b1--\r\n",
                "{head:?}"
            );
        }
        assert_eq!(
            boundary(b"Content-Type: text/plain; boundary=x\r\n\r\n"),
            None
        );
        assert_eq!(boundary(b"Content-Type: multipart/mixed\r\n\r\n"), None);
    }

    #[test]
    fn a_character_split_across_encoded_words_is_one_character() {
        assert_eq!(
            split_utf8_words("=?utf-8?Q?caf=C3?= =?utf-8?Q?=A9?=").as_deref(),
            Some("café")
        );
        assert_eq!(
            split_utf8_words("Re: =?UTF-8?B?w6k=?= =?utf-8?B?w6nD?=\r\n =?utf-8?B?qQ==?= ok")
                .as_deref(),
            Some("Re: ééé ok")
        );
        // Words that decode on their own are left to mail-parser.
        assert_eq!(split_utf8_words("=?utf-8?Q?caf=C3=A9?="), None);
        assert_eq!(split_utf8_words("=?iso-8859-1?Q?caf=E9?="), None);
        assert_eq!(split_utf8_words("plain"), None);
    }
}

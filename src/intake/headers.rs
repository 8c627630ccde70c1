//! The header section read once by us, so that mail-parser is handed only
//! the fields it decodes (issue 10, "Speed"; docs/perf-sync.md, third
//! round).
//!
//! mail-parser is told to decode 14 fields ([`DECODED`]) and to skip every
//! other one byte by byte; intake reads the others (relay `Received`
//! chains, `Authentication-Results`, `Return-Path`, …) raw, in order. A
//! 20–40 KB relay header made that skip the largest single cost of a first
//! sync: 87,000 instructions per message of the big-headers shape in
//! mail-parser's `parse_and_ignore`, and 40,000 more in a second pass that
//! counted the `From` fields. Here one pass with `memchr` splits the section
//! into fields, counts `From`, and builds a copy of the message holding the
//! decoded fields and the body only, which mail-parser then parses.
//!
//! NOTE: exactness. The pass takes only a header section that every reader
//! splits the same way ([`plain`]): every field a printable-ASCII name
//! directly followed by its colon, every line ending in CRLF, continuation
//! lines starting with SP or HTAB (RFC 5322 §2.2, §2.2.3), and an empty
//! line after it. Anything else (a folded or spaced name, a bare LF, a
//! header with no end in the bytes) is read the whole-header way. After
//! parsing, [`Plain::parsed_as_split`] checks that mail-parser found
//! exactly the fields handed to it, each ending where the split says; if
//! not, the caller reads the message the whole-header way too.

use mail_parser::Message;

/// One header field: the bytes of its name as written (ASCII) and of its
/// value (after the colon, to the end of its last line).
// NOTE: bytes, not `&str`: a `from_utf8` per field name was 23,000
// instructions per message of the big-headers shape; a name is made a
// `&str` only when a rule reads it.
pub(super) type Field<'a> = (&'a [u8], &'a [u8]);

/// The fields `PARSER` (in the parent module) decodes, by name, any case:
/// its `header_*` calls and what `with_mime_headers` and
/// `with_message_ids` add. mail-parser names a field by its whole name,
/// lowercased (`parse_header_name`), so no other spelling reaches these.
const DECODED: [&str; 14] = [
    "From",
    "Reply-To",
    "Subject",
    "Date",
    "Message-ID",
    "In-Reply-To",
    "References",
    "Resent-Message-ID",
    "Content-Type",
    "Content-Disposition",
    "Content-ID",
    "Content-Description",
    "Content-Location",
    "Content-Transfer-Encoding",
];

/// A header section split by [`plain`].
pub(super) struct Plain<'a> {
    /// Every field, in order.
    pub(super) fields: Vec<Field<'a>>,
    /// How many fields are named `From`.
    pub(super) from_count: usize,
    /// The decoded fields and the empty line: what mail-parser is given,
    /// followed by `body` ([`Plain::reduced`]) unless the message is one
    /// text part.
    head: Vec<u8>,
    /// Where each field in `head` starts and ends.
    kept: Vec<(u32, u32)>,
    /// The body, as it came.
    body: &'a [u8],
}

/// A byte that may stand in a field name: printable ASCII but the colon
/// (RFC 5322 §3.6.8 `ftext`).
const fn name_byte(b: u8) -> bool {
    b >= 0x21 && b <= 0x7e && b != b':'
}

/// [`name_byte`] as a table: one load per byte of each field name.
static NAME_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = name_byte(b as u8);
        b += 1;
    }
    table
};

/// The lengths of the [`DECODED`] names, one bit each, and their first
/// letters (lowercase, one bit each from `a`).
const DECODED_SHAPE: (u64, u32) = {
    let (mut lengths, mut firsts) = (0u64, 0u32);
    let mut i = 0;
    while i < DECODED.len() {
        let name = DECODED[i].as_bytes();
        lengths |= 1 << name.len();
        firsts |= 1 << ((name[0] | 0x20) - b'a');
        i += 1;
    }
    (lengths, firsts)
};

/// Whether mail-parser decodes the field `name` (any case).
// NOTE: most fields of a relay chain (`ARC-Seal`, `DKIM-Signature`,
// `ARC-Message-Signature`, …) have a length or a first letter no decoded
// name has, and are passed over without comparing names.
fn decoded(name: &[u8]) -> bool {
    let (lengths, firsts) = DECODED_SHAPE;
    let first = u32::from(name.first().map_or(0, |b| b | 0x20).wrapping_sub(b'a'));
    name.len() < 64
        && lengths >> name.len() & 1 == 1
        && first < 32
        && firsts >> first & 1 == 1
        && DECODED
            .iter()
            .any(|d| d.as_bytes().eq_ignore_ascii_case(name))
}

/// The `boundary` parameter of a Content-Type value, quoted or not (a
/// guess for [`Plain::first_part_cut`], not mail-parser's reading).
fn boundary_param(value: &[u8]) -> Option<&[u8]> {
    let lower = value.to_ascii_lowercase();
    let at = memchr::memmem::find(&lower, b"boundary=")? + b"boundary=".len();
    let rest = &value[at..];
    let b = match rest.strip_prefix(b"\"") {
        Some(quoted) => &quoted[..memchr::memchr(b'"', quoted)?],
        None => {
            let end = rest
                .iter()
                .position(|&c| matches!(c, b';' | b' ' | b'\t' | b'\r' | b'\n'))
                .unwrap_or(rest.len());
            &rest[..end]
        }
    };
    (!b.is_empty()).then_some(b)
}

/// The header section split into fields, when it is plain (see the module
/// doc) and holds at least one field mail-parser decodes; `None` otherwise.
// NOTE: one search over the section, by one SSE2 searcher built once, in
// place of a `memchr` call per line. A big-headers message has about 300
// lines of 70–100 bytes; per line, `memchr` went through its runtime
// dispatch (an atomic load, an indirect call into AVX2 code that cannot be
// inlined) and built its searcher again, and its AVX2 loop reads 128
// bytes past a line's start for a line feed 76 bytes on. The SSE2 one
// (x86_64's baseline, so always there) is inlined here and reads 16 + 64.
// Measured (docs/perf-sync.md, fifth round; `sync_bench --profile-intake
// --shape big-headers`): `plain` 28,000 → 25,700 instructions per message
// (callgrind, 2,000 messages), and 32.8 % → 20.8 % of the perf samples
// under `profile_inspect` (10,000 messages, 5 and 2 runs). Tried and
// dropped: an AVX2 searcher built once (25.5 K instructions, 25.7 % of the
// samples), and a portable eight-bytes-at-a-time scan (43.3 K, 39 %).
pub(super) fn plain(raw: &[u8]) -> Option<Plain<'_>> {
    #[cfg(target_arch = "x86_64")]
    if let Some(lf) = memchr::arch::x86_64::sse2::memchr::One::new(b'\n') {
        return split(raw, lf.iter(raw));
    }
    split(raw, memchr::memchr_iter(b'\n', raw))
}

/// [`plain`], given every line feed of `raw` from its start, in order
/// (`ends`; read only as far as the section goes).
fn split(raw: &[u8], mut ends: impl Iterator<Item = usize>) -> Option<Plain<'_>> {
    // Room for a typical header up front (growing the lists field by
    // field was a reallocation and copy at every doubling).
    let mut fields = Vec::with_capacity(64);
    let mut kept_ranges: Vec<(usize, usize)> = Vec::with_capacity(16);
    let mut from_count = 0;
    // Each line of the section takes the next line feed (a field name
    // holds none, so the first after a field's start is past its colon).
    let mut at = 0;
    let body = loop {
        if raw.get(at..at + 2)? == b"\r\n" {
            break at + 2;
        }
        let colon = at
            + raw[at..]
                .iter()
                .position(|&b| !NAME_BYTES[usize::from(b)])?;
        if colon == at || raw[colon] != b':' {
            return None;
        }
        let end = loop {
            let nl = ends.next()?;
            if raw[nl - 1] != b'\r' {
                return None;
            }
            if !matches!(raw.get(nl + 1), Some(b' ' | b'\t')) {
                break nl + 1;
            }
        };
        let name = &raw[at..colon];
        if name.eq_ignore_ascii_case(b"From") {
            from_count += 1;
        }
        if decoded(name) {
            kept_ranges.push((at, end));
        }
        fields.push((name, &raw[colon + 1..end]));
        at = end;
    };
    Plain::new(raw, fields, from_count, &kept_ranges, body)
}

impl<'a> Plain<'a> {
    /// The split's result: the decoded fields (`kept_ranges` of `raw`)
    /// copied into the head mail-parser is given; `None` when there are none.
    fn new(
        raw: &'a [u8],
        fields: Vec<Field<'a>>,
        from_count: usize,
        kept_ranges: &[(usize, usize)],
        body: usize,
    ) -> Option<Self> {
        if kept_ranges.is_empty() {
            return None;
        }
        let kept_len: usize = kept_ranges.iter().map(|(s, e)| e - s).sum();
        let mut head = Vec::with_capacity(kept_len + 2);
        let mut kept = Vec::with_capacity(kept_ranges.len());
        for &(s, e) in kept_ranges {
            let start = u32::try_from(head.len()).ok()?;
            head.extend_from_slice(&raw[s..e]);
            kept.push((start, u32::try_from(head.len()).ok()?));
        }
        head.extend_from_slice(b"\r\n");
        Some(Plain {
            fields,
            from_count,
            head,
            kept,
            body: &raw[body..],
        })
    }
}

impl Plain<'_> {
    /// The decoded fields and the empty line, without the body.
    pub(super) fn head(&self) -> &[u8] {
        &self.head
    }

    /// The body as it came.
    pub(super) fn body(&self) -> &[u8] {
        self.body
    }

    /// The decoded fields, the empty line and the body: the message
    /// mail-parser reads when it is not one text part.
    pub(super) fn reduced(&self) -> Vec<u8> {
        self.reduced_to(self.body.len())
    }

    /// [`Plain::reduced`] with only the first `cut` bytes of the body.
    pub(super) fn reduced_to(&self, cut: usize) -> Vec<u8> {
        [&self.head[..], &self.body[..cut]].concat()
    }

    /// For a multipart, where its body may be cut after the first part:
    /// just past the line of the second delimiter (`--` and the boundary,
    /// RFC 2046 §5.1.1) of the boundary its Content-Type names. `None`
    /// when there is no such place before the end.
    ///
    /// A guess that only saves work: mail-parser's reading of the cut
    /// message decides whether it gives the whole message's answer
    /// (`first_text_complete` in the parent module).
    pub(super) fn first_part_cut(&self) -> Option<usize> {
        let (_, value) = self
            .fields
            .iter()
            .rev()
            .find(|(name, _)| name.eq_ignore_ascii_case(b"Content-Type"))?;
        let boundary = boundary_param(value)?;
        let mut delimiter = Vec::with_capacity(boundary.len() + 2);
        delimiter.extend_from_slice(b"--");
        delimiter.extend_from_slice(boundary);
        let finder = memchr::memmem::Finder::new(&delimiter);
        let first = finder.find(self.body)?;
        let second_from = first + delimiter.len();
        let second = second_from + finder.find(&self.body[second_from..])?;
        let after = second + delimiter.len();
        let cut = after + memchr::memchr(b'\n', &self.body[after..])? + 1;
        (cut < self.body.len()).then_some(cut)
    }

    /// Whether the message may be one `text/plain` part (no Content-Type,
    /// or one naming `text/plain`): only then is its head parsed alone
    /// first (`steps::single_text` decides, from mail-parser's reading).
    /// A guess that only routes: a wrong "yes" costs a second parse, a
    /// wrong "no" the shortcut.
    pub(super) fn may_be_single_text(&self) -> bool {
        self.fields
            .iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case(b"Content-Type"))
            .all(|(_, value)| {
                let v = value.trim_ascii_start();
                v.len() >= 10 && v[..10].eq_ignore_ascii_case(b"text/plain")
            })
    }

    /// Whether mail-parser read the head (alone or in `reduced`) as split: the same fields, each
    /// starting and ending where the split put it.
    pub(super) fn parsed_as_split(&self, msg: &Message<'_>) -> bool {
        let found = msg.root_part().headers();
        found.len() == self.kept.len()
            && found
                .iter()
                .zip(&self.kept)
                .all(|(h, &(s, e))| h.offset_field() == s && h.offset_end() == e)
    }
}

/// The split as it was (a `memchr` call per line): the reference
/// [`plain`] is tested against.
#[cfg(test)]
mod oracle {
    use super::*;

    /// [`super::plain`] with a `memchr` call from each line's start.
    pub(super) fn plain(raw: &[u8]) -> Option<Plain<'_>> {
        // Room for a typical header up front (growing the lists field by
        // field was a reallocation and copy at every doubling).
        let mut fields = Vec::with_capacity(64);
        let mut kept_ranges: Vec<(usize, usize)> = Vec::with_capacity(16);
        let mut from_count = 0;
        let mut at = 0;
        let body = loop {
            if raw.get(at..at + 2)? == b"\r\n" {
                break at + 2;
            }
            let colon = at
                + raw[at..]
                    .iter()
                    .position(|&b| !NAME_BYTES[usize::from(b)])?;
            if colon == at || raw[colon] != b':' {
                return None;
            }
            let mut end = colon + 1;
            loop {
                let nl = end + memchr::memchr(b'\n', &raw[end..])?;
                if raw[nl - 1] != b'\r' {
                    return None;
                }
                end = nl + 1;
                if !matches!(raw.get(end), Some(b' ' | b'\t')) {
                    break;
                }
            }
            let name = &raw[at..colon];
            if name.eq_ignore_ascii_case(b"From") {
                from_count += 1;
            }
            if decoded(name) {
                kept_ranges.push((at, end));
            }
            fields.push((name, &raw[colon + 1..end]));
            at = end;
        };
        Plain::new(raw, fields, from_count, &kept_ranges, body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type SplitView<'a> = (Vec<Field<'a>>, usize, Vec<u8>, Vec<(u32, u32)>, &'a [u8]);

    /// The two splits' results, field for field (`None` alike).
    /// Both ways [`plain`] may find the line feeds (SSE2 on x86_64,
    /// `memchr_iter` elsewhere) are compared.
    fn same_split(raw: &[u8]) -> Result<(), String> {
        same_as_oracle(raw, plain(raw))?;
        same_as_oracle(raw, split(raw, memchr::memchr_iter(b'\n', raw)))
    }

    fn same_as_oracle(raw: &[u8], new: Option<Plain<'_>>) -> Result<(), String> {
        let old = oracle::plain(raw);
        fn show<'a>(p: &Option<Plain<'a>>) -> Option<SplitView<'a>> {
            p.as_ref().map(|p| {
                let fields = p.fields.clone();
                (fields, p.from_count, p.head.clone(), p.kept.clone(), p.body)
            })
        }
        if show(&new) == show(&old) {
            Ok(())
        } else {
            Err(format!("{:?}", String::from_utf8_lossy(raw)))
        }
    }

    /// Header-like pieces: names we decode and names we skip, colons,
    /// spaces, every kind of line end, and values of every length (so a
    /// line feed falls at every place in an eight-byte word).
    fn header_piece() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::prelude::*;
        prop_oneof![
            4 => prop::sample::select(vec![
                &b"From"[..], b"from", b"Subject", b"Received", b"DKIM-Signature",
                b"Content-Type", b"X-A", b"ARC-Seal", b"Date",
            ])
            .prop_map(<[u8]>::to_vec),
            4 => prop::sample::select(vec![
                &b": "[..], b":", b" :", b"\r\n", b"\r\n ", b"\r\n\t", b"\n",
                b"\r", b"\r\n\r\n", b"\n\n", b" ", b"\xc2\xa0", b"\0",
            ])
            .prop_map(<[u8]>::to_vec),
            3 => (0usize..40).prop_map(|n| b"abcdefghijklmnopqrstuvwxyz0123456789;=<>"[..n].to_vec()),
            1 => prop::collection::vec(any::<u8>(), 0..12),
        ]
    }

    /// Plain header sections: fields of any length, folded or not.
    fn plain_section() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::prelude::*;
        let field = (
            prop::sample::select(vec![
                "From",
                "Received",
                "Subject",
                "X-Long",
                "DKIM-Signature",
                "Content-Type",
            ]),
            prop::collection::vec(0usize..120, 1..5),
        );
        (prop::collection::vec(field, 0..30), 0usize..20).prop_map(|(fields, body)| {
            let mut raw = Vec::new();
            for (name, lines) in fields {
                raw.extend_from_slice(name.as_bytes());
                raw.push(b':');
                for (i, len) in lines.into_iter().enumerate() {
                    if i > 0 {
                        raw.push(if len % 2 == 0 { b' ' } else { b'\t' });
                    }
                    raw.extend(std::iter::repeat_n(b'v', len));
                    raw.extend_from_slice(b"\r\n");
                }
            }
            raw.extend_from_slice(b"\r\n");
            raw.extend(std::iter::repeat_n(b'\n', body));
            raw
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3000))]
        #[test]
        fn the_one_pass_split_is_the_line_by_line_one(
            pieces in proptest::collection::vec(header_piece(), 0..60)
        ) {
            let raw = pieces.concat();
            proptest::prop_assert_eq!(same_split(&raw), Ok(()));
            // And every prefix: a section cut anywhere.
            for cut in (0..raw.len()).step_by(7) {
                proptest::prop_assert_eq!(same_split(&raw[..cut]), Ok(()));
            }
        }

        #[test]
        fn plain_sections_split_the_same_both_ways(raw in plain_section()) {
            proptest::prop_assert_eq!(same_split(&raw), Ok(()));
            for cut in (0..raw.len()).step_by(5) {
                proptest::prop_assert_eq!(same_split(&raw[..cut]), Ok(()));
            }
        }
    }

    #[test]
    fn only_decoded_fields_are_handed_on_and_every_field_is_listed() {
        let raw = b"Received: from a\r\n\tby b\r\nFrom: x@y\r\nDKIM-Signature: v=1;\r\n b=abc\r\nsubject: hi\r\n\r\nbody\r\n";
        let p = plain(raw).unwrap();
        let names: Vec<&[u8]> = p.fields.iter().map(|f| f.0).collect();
        assert_eq!(
            names,
            [&b"Received"[..], b"From", b"DKIM-Signature", b"subject"]
        );
        assert_eq!(p.fields[2].1, b" v=1;\r\n b=abc\r\n");
        assert_eq!(p.from_count, 1);
        assert_eq!(p.reduced(), b"From: x@y\r\nsubject: hi\r\n\r\nbody\r\n");
    }

    /// What the split relies on, checked by [`Plain::parsed_as_split`] on
    /// every message anyway: mail-parser ends each decoded field at its
    /// line end not followed by SP/HTAB, even inside an open quote,
    /// comment, encoded word or angle bracket.
    #[test]
    fn mail_parser_ends_every_decoded_field_where_the_split_does() {
        let cases: &[&[u8]] = &[
            b"Content-Type: text/plain; name=\"a\r\nX-Foo: b\"\r\nSubject: s\r\n\r\nbody\r\n",
            b"From: \"Ada\r\nX-Foo: b\" <a@b>\r\nSubject: s\r\n\r\nbody\r\n",
            b"From: (Ada\r\nX-Foo: b) <a@b>\r\nSubject: s\r\n\r\nbody\r\n",
            b"Subject: =?utf-8?Q?a\r\nX-Foo: b?=\r\nFrom: a@b\r\n\r\nbody\r\n",
            b"Message-ID: <a\r\nX-Foo: b>\r\nFrom: a@b\r\n\r\nbody\r\n",
            b"Date: Mon, 23 Nov 2026\r\nX-Foo: b\r\nFrom: a@b\r\n\r\nbody\r\n",
            b"References: <a@b\r\nX-Foo: c>\r\nSubject: s\r\n\r\nbody\r\n",
            b"Content-Disposition: attachment; filename=\"a\r\nX-Foo: c\"\r\nSubject: s\r\n\r\nb\r\n",
        ];
        for raw in cases {
            let p = plain(raw).unwrap();
            let reduced = p.reduced();
            let msg = crate::intake::PARSER.parse(&reduced[..]).unwrap();
            assert!(
                p.parsed_as_split(&msg),
                "{:?}",
                String::from_utf8_lossy(raw)
            );
        }
    }

    #[test]
    fn the_decoded_test_agrees_with_the_list_for_every_name() {
        let mut names: Vec<Vec<u8>> = DECODED.iter().map(|d| d.as_bytes().to_vec()).collect();
        for d in DECODED {
            names.push(d.to_ascii_uppercase().into_bytes());
            names.push(d.to_ascii_lowercase().into_bytes());
            names.push(format!("{d}x").into_bytes());
            names.push(d.as_bytes()[1..].to_vec());
        }
        for n in [
            "Received",
            "ARC-Seal",
            "DKIM-Signature",
            "",
            "@",
            "[",
            "`",
            "{",
            "~",
        ] {
            names.push(n.as_bytes().to_vec());
        }
        names.push(vec![b'f'; 70]);
        names.push(b"\xc6rom".to_vec());
        for n in names {
            let want = DECODED
                .iter()
                .any(|d| d.as_bytes().eq_ignore_ascii_case(&n));
            assert_eq!(decoded(&n), want, "{:?}", String::from_utf8_lossy(&n));
        }
        for b in 0..=255u8 {
            assert_eq!(
                NAME_BYTES[usize::from(b)],
                (0x21..=0x7e).contains(&b) && b != b':'
            );
        }
    }

    #[test]
    fn anything_not_plain_is_left_to_the_whole_header_reading() {
        for raw in [
            &b"From: x@y\nSubject: bare LF\r\n\r\nb"[..],
            b"From : x@y\r\n\r\nb",
            b"From\r\n : x@y\r\n\r\nb",
            b" From: x@y\r\n\r\nb",
            b"From: x@y\r\nSubject: no end of header\r\n",
            b"Received: only skipped fields\r\n\r\nb",
            b"From: x@y\r\n\xc2\xa0Subject: hi\r\n\r\nb",
        ] {
            assert!(plain(raw).is_none(), "{:?}", String::from_utf8_lossy(raw));
        }
    }
}

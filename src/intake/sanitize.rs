//! Making hostile text safe to print on a terminal and store.
//!
//! Escape sequences are removed *whole* — CSI (`ESC [ … final`), OSC
//! (`ESC ] … BEL|ST`, payload included), DCS/SOS/PM/APC (`ESC P|X|^|_ … ST`),
//! their 8-bit C1 forms (U+009B, U+009D, U+0090, …) and two-byte `ESC x`
//! sequences — then every remaining C0/C1 control character and the Unicode
//! bidirectional overrides (which can make text display as something it is
//! not) are dropped. Dropping only the ESC byte would leave `]8;;http://…`
//! hyperlink payloads and `[31m` debris behind. (ECMA-48 §5.6–5.7, §8.3.)

/// The result of sanitizing: the clean text and whether anything was removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clean {
    pub text: String,
    pub removed: bool,
}

const ESC: char = '\u{1b}';
const BEL: char = '\u{07}';
const ST8: char = '\u{9c}';

/// Sanitizes multi-line text: keeps TAB and LF (CR LF and lone CR become LF).
pub fn multi_line(input: &str) -> Clean {
    // Fast path (nearly all mail): nothing to strip, so one pass that only
    // turns line ends into LF, instead of a copy and two `replace` passes.
    if let Some(text) = lf_only_if_clean(input) {
        return Clean {
            text,
            removed: false,
        };
    }
    Clean {
        text: lf_only(&strip_all(input)),
        removed: true,
    }
}

/// `input` with CR LF and lone CR turned into LF, in one pass: the same as
/// `input.replace("\r\n", "\n").replace('\r', "\n")`.
fn lf_only(input: &str) -> String {
    let b = input.as_bytes();
    let mut out = String::with_capacity(input.len());
    let mut last = 0;
    for at in memchr::memchr_iter(b'\r', b) {
        out.push_str(&input[last..at]);
        out.push('\n');
        last = if b.get(at + 1) == Some(&b'\n') {
            at + 2
        } else {
            at + 1
        };
    }
    out.push_str(&input[last..]);
    out
}

/// [`lf_only`] of `input` when it holds nothing to strip, else `None`: what
/// `needs_stripping` and `lf_only` say together, in one scan.
// NOTE: one scan of the text, not two: the scan for what to strip stops at
// each CR too, so the search for CRs (a `memchr` call per line, 17,000
// instructions per long-bodies message) is gone (docs/perf-sync.md, fourth
// round).
fn lf_only_if_clean(input: &str) -> Option<String> {
    let b = input.as_bytes();
    let mut out = String::with_capacity(input.len());
    let mut last = 0;
    let mut from = 0;
    while let Some(i) = next_marked(b, from, &SUSPECT_OR_CR) {
        from = i + 1;
        if b[i] == b'\r' {
            // CR is ASCII: `last` and `i` are character boundaries.
            out.push_str(&input[last..i]);
            out.push('\n');
            last = if b.get(i + 1) == Some(&b'\n') {
                i + 2
            } else {
                i + 1
            };
            // The LF of a CR LF is not marked: the scan goes on after it,
            // so its next word is not one looked at byte by byte.
            from = last;
        } else if strips_at(b, i) {
            return None;
        }
    }
    out.push_str(&input[last..]);
    Some(out)
}

/// Sanitizes a single-line field (a header value, a name): TAB, CR and LF
/// runs collapse to one space (folding is not hostile, so not reported),
/// and the result is trimmed.
pub fn single_line(input: &str) -> Clean {
    // NOTE: plain text (nearly every field) is trimmed and collapsed in one
    // copy; before, it was copied by `strip`, again while collapsing and a
    // third time by `trim().to_string()`: 1,400 instructions per field, a
    // dozen fields per message (docs/perf-sync.md, fourth round).
    if !needs_stripping(input) {
        return Clean {
            text: collapse_breaks(input),
            removed: false,
        };
    }
    Clean {
        text: collapse_breaks(&strip_all(input)),
        removed: true,
    }
}

/// `input` trimmed (Unicode white space), each run of TAB, CR and LF
/// inside it made one space. Trimming first gives the same text as
/// collapsing first: the three are white space, and so is the space.
fn collapse_breaks(input: &str) -> String {
    let t = input.trim();
    let b = t.as_bytes();
    let mut out = String::with_capacity(t.len());
    let mut last = 0;
    // The three are ASCII, so every cut is on a character boundary.
    for at in memchr::memchr3_iter(b'\t', b'\r', b'\n', b) {
        if at > last {
            out.push_str(&t[last..at]);
            out.push(' ');
        }
        last = at + 1;
    }
    out.push_str(&t[last..]);
    out
}

/// Whether `input` holds anything [`strip_all`] removes, decided on the UTF-8
/// bytes: C0 controls but TAB/LF/CR, DEL, C1 controls (`C2 80`–`C2 9F`) and
/// bidi controls (`D8 9C`; `E2 80 8E`–`8F`, `E2 80 AA`–`AE`, `E2 81 A6`–`A9`).
fn needs_stripping(input: &str) -> bool {
    let b = input.as_bytes();
    // NOTE: a table marks the few bytes that can start something to strip,
    // so the common byte costs one load and one test; only a marked byte is
    // looked at closely (the body of every message passes through here).
    let mut from = 0;
    while let Some(i) = next_marked(b, from, &SUSPECT) {
        if strips_at(b, i) {
            return true;
        }
        from = i + 1;
    }
    false
}

/// Whether the byte at `i`, one [`SUSPECT`] marks, starts something to strip.
fn strips_at(b: &[u8], i: usize) -> bool {
    match b[i] {
        0xc2 => matches!(b.get(i + 1), Some(0x80..=0x9f)),
        0xd8 => b.get(i + 1) == Some(&0x9c),
        0xe2 => matches!(
            (b.get(i + 1), b.get(i + 2)),
            (Some(0x80), Some(0x8e | 0x8f | 0xaa..=0xae)) | (Some(0x81), Some(0xa6..=0xa9))
        ),
        _ => true,
    }
}

/// The index of the first byte at or after `from` that `table` marks; it
/// marks no printable ASCII byte.
// NOTE: eight bytes at a time. A word of printable ASCII (0x20–0x7E) holds
// no marked byte, and two carry tricks ("Bit Twiddling Hacks", `hasless`
// and `hasmore`: any byte below 0x20, any byte above 0x7E) tell so with a
// few operations; only the other words (a line end, a non-ASCII letter)
// are looked at byte by byte. The body of every message passes through
// here: 97,600 instructions per message for the long-bodies shape's 16 KiB
// bodies before, a table lookup per byte (docs/perf-sync.md, third round).
fn next_marked(b: &[u8], from: usize, table: &[bool; 256]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let mut at = from;
    let mut words = b[from..].chunks_exact(8);
    for word in &mut words {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(word);
        let w = u64::from_le_bytes(bytes);
        let below_space = w.wrapping_sub(ONES * 0x20) & !w & HIGHS;
        // `hasmore(w, 0x7E)`: adding 0x7F − 0x7E = 1 to each byte sets the
        // high bit of 0x7F; a byte at 0x80 or above has it already.
        let above_tilde = (w.wrapping_add(ONES) | w) & HIGHS;
        if below_space | above_tilde != 0 {
            if let Some(i) = word.iter().position(|&c| table[c as usize]) {
                return Some(at + i);
            }
        }
        at += 8;
    }
    let tail = words.remainder();
    tail.iter().position(|&c| table[c as usize]).map(|i| at + i)
}

/// The bytes [`needs_stripping`] looks at: C0 controls but TAB/LF/CR, DEL,
/// and the lead bytes of the C1 and bidi controls' UTF-8 forms.
static SUSPECT: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 0x20 {
        t[c] = !matches!(c, 0x09 | 0x0a | 0x0d);
        c += 1;
    }
    t[0x7f] = true;
    t[0xc2] = true;
    t[0xd8] = true;
    t[0xe2] = true;
    t
};

/// [`SUSPECT`] and CR, for [`lf_only_if_clean`].
static SUSPECT_OR_CR: [bool; 256] = {
    let mut t = SUSPECT;
    t[b'\r' as usize] = true;
    t
};

/// The Unicode bidirectional formatting characters (UAX #9 §2): the marks
/// LRM, RLM and ALM (U+200E, U+200F, U+061C), the embeddings and overrides
/// (U+202A–U+202E) and the isolates (U+2066–U+2069). Any of them can make a
/// name or an address display as something it is not.
pub fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
    )
}

/// Removes escape sequences and control characters except TAB, LF and CR;
/// for text that [`needs_stripping`] (the callers ask first).
fn strip_all(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    let mut chars = input.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ESC => match chars.next() {
                Some('[') => skip_csi(&mut chars),
                Some(']') | Some('P') | Some('X') | Some('^') | Some('_') => {
                    skip_string(&mut chars)
                }
                // ESC with intermediates (e.g. `ESC ( B`): skip them and the final byte.
                Some(' '..='/') => {
                    while let Some(&n) = chars.peek() {
                        chars.next();
                        if !(' '..='/').contains(&n) {
                            break;
                        }
                    }
                }
                // Two-byte sequence `ESC x`, or a lone ESC at the end.
                _ => {}
            },
            '\u{9b}' => skip_csi(&mut chars),
            '\u{9d}' | '\u{90}' | '\u{98}' | '\u{9e}' | '\u{9f}' => skip_string(&mut chars),
            '\t' | '\n' | '\r' => out.push(c),
            c if c.is_control() || is_bidi_control(c) => {}
            c => out.push(c),
        }
    }
    out
}

/// CSI: parameter and intermediate bytes (0x20–0x3F), then one final byte
/// (0x40–0x7E). A control character in the middle aborts the sequence (as a
/// terminal would) and is itself dropped.
fn skip_csi(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    while let Some(&n) = chars.peek() {
        match n {
            ' '..='?' => {
                chars.next();
            }
            '@'..='~' => {
                chars.next();
                return;
            }
            _ => return,
        }
    }
}

/// OSC/DCS/SOS/PM/APC: everything up to BEL, ST (`ESC \`) or 8-bit ST.
fn skip_string(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    while let Some(n) = chars.next() {
        match n {
            BEL | ST8 => return,
            ESC => {
                if chars.peek() == Some(&'\\') {
                    chars.next();
                }
                return;
            }
            _ => {}
        }
    }
}

/// True when `s` holds nothing a terminal would interpret.
#[cfg(test)]
fn is_clean(s: &str) -> bool {
    !s.chars()
        .any(|c| (c.is_control() && !matches!(c, '\t' | '\n')) || is_bidi_control(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csi_removed_whole() {
        let c = single_line("Data export request: \x1b[31mAcme\x1b[0m Support");
        assert_eq!(c.text, "Data export request: Acme Support");
        assert!(c.removed);
    }

    #[test]
    fn osc_hyperlink_payload_removed() {
        let c = single_line("Hi \x1b]8;;http://evil\x07click\x1b]8;;\x07");
        assert_eq!(c.text, "Hi click");
        let c = single_line("a\x1b]0;title\x1b\\b");
        assert_eq!(c.text, "ab");
    }

    #[test]
    fn dcs_and_c1_forms_removed() {
        assert_eq!(single_line("x\x1bPq#0;2;0;0;0\x1b\\y").text, "xy");
        assert_eq!(single_line("x\u{9b}2Jy").text, "xy");
        assert_eq!(single_line("x\u{9d}0;t\u{9c}y").text, "xy");
        assert_eq!(single_line("x\x1b(By").text, "xy");
        assert_eq!(single_line("x\x1bcy").text, "xy");
        assert_eq!(single_line("a\u{0}b\u{7f}c\u{85}d").text, "abcd");
    }

    #[test]
    fn bidi_override_removed() {
        let c = single_line("invoice\u{202e}fdp.exe");
        assert_eq!(c.text, "invoicefdp.exe");
        assert!(c.removed);
    }

    #[test]
    fn every_bidi_control_removed() {
        for c in [
            '\u{200e}', '\u{200f}', '\u{061c}', '\u{202a}', '\u{202b}', '\u{202c}', '\u{202d}',
            '\u{202e}', '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}',
        ] {
            let c = single_line(&format!("ab{c}cd"));
            assert_eq!(c.text, "abcd");
            assert!(c.removed);
        }
        // Neighbours of the bidi ranges are ordinary text and stay.
        for s in [
            "\u{061b}", "\u{061d}", "\u{200d}", "\u{2010}", "\u{2065}", "\u{206a}",
        ] {
            assert_eq!(single_line(s).text, s);
        }
    }

    #[test]
    fn folding_is_not_reported() {
        let c = single_line("  a\r\n\tb  ");
        assert_eq!(c.text, "a b");
        assert!(!c.removed);
    }

    #[test]
    fn multi_line_keeps_lines() {
        let c = multi_line("a\r\nb\rc\n\x1b[2Jd");
        assert_eq!(c.text, "a\nb\nc\nd");
        assert!(c.removed);
    }

    #[test]
    fn byte_fast_path_agrees_with_chars() {
        let cases = [
            "plain",
            "tab\tnl\ncr\r",
            "é ü € 漢字",
            "\u{85}",
            "\u{9b}x",
            "\u{202e}",
            "\u{2066}",
            "\u{2069}",
            "\u{7f}",
            "\u{1b}",
            "\u{2028}",
            "\u{a0}",
            "\u{2030}",
            "\u{200e}",
            "\u{200f}",
            "\u{061c}",
            "\u{061b}",
            "\u{200d}",
            "\u{2010}",
        ];
        for s in cases {
            let by_chars = s.chars().any(|c| {
                (c.is_control() && !matches!(c, '\t' | '\n' | '\r')) || is_bidi_control(c)
            });
            assert_eq!(needs_stripping(s), by_chars, "{s:?}");
        }
    }

    proptest::proptest! {
        /// Long mostly-ASCII text with one character of any kind somewhere:
        /// the word-at-a-time scan finds what the char-by-char definition does.
        #[test]
        fn the_word_scan_misses_nothing_in_long_text(
            head in "[ -~\t\r\n]{0,80}",
            c in proptest::prop_oneof![
                proptest::prelude::any::<char>(),
                proptest::char::range('\0', '\u{a0}'),
                proptest::sample::select(vec![
                    '\u{61c}', '\u{61b}', '\u{200d}', '\u{200e}', '\u{200f}', '\u{2010}',
                    '\u{2028}', '\u{202a}', '\u{202e}', '\u{2030}', '\u{2066}', '\u{2069}',
                ]),
            ],
            tail in "[ -~\t\r\n]{0,40}",
        ) {
            let s = format!("{head}{c}{tail}");
            let by_chars = s.chars().any(|c| {
                (c.is_control() && !matches!(c, '\t' | '\n' | '\r')) || is_bidi_control(c)
            });
            proptest::prop_assert_eq!(needs_stripping(&s), by_chars, "{:?}", s);
        }

        /// The one-pass fast paths say what the char-by-char definitions say.
        #[test]
        fn fast_paths_agree_with_their_definitions(s in proptest::prelude::any::<String>()) {
            let by_chars = s.chars().any(|c| {
                (c.is_control() && !matches!(c, '\t' | '\n' | '\r')) || is_bidi_control(c)
            });
            proptest::prop_assert_eq!(needs_stripping(&s), by_chars);
            proptest::prop_assert_eq!(lf_only(&s), s.replace("\r\n", "\n").replace('\r', "\n"));
            proptest::prop_assert_eq!(multi_line(&s), oracle::multi_line(&s));
        }
    }

    #[test]
    fn line_ends_become_lf() {
        for s in ["", "\r", "\r\r\n", "\n\r", "a\r\nb\rc\nd\r", "é\r\nü\r"] {
            assert_eq!(
                lf_only(s),
                s.replace("\r\n", "\n").replace('\r', "\n"),
                "{s:?}"
            );
        }
        assert_eq!(multi_line("a\r\r\nb\r").text, "a\n\nb\n");
    }

    #[test]
    fn unterminated_sequences_do_not_panic() {
        for s in [
            "\x1b",
            "\x1b[",
            "\x1b[12;",
            "\x1b]8;;http",
            "\x1bP",
            "\u{9b}",
            "\x1b(",
        ] {
            let c = single_line(s);
            assert!(is_clean(&c.text), "{s:?}");
        }
    }
}

/// The sanitizers as they were before the fourth round of speed work
/// (commit fcc29e6), kept verbatim as the oracle the faster ones are held to.
#[cfg(test)]
mod oracle {
    use super::*;

    pub fn multi_line(input: &str) -> Clean {
        let stripped = strip(input);
        if !stripped.text.contains('\r') {
            return stripped;
        }
        Clean {
            text: stripped.text.replace("\r\n", "\n").replace('\r', "\n"),
            removed: stripped.removed,
        }
    }

    pub fn single_line(input: &str) -> Clean {
        let stripped = strip(input);
        let mut text = String::with_capacity(stripped.text.len());
        let mut in_break = false;
        for c in stripped.text.chars() {
            if matches!(c, '\t' | '\r' | '\n') {
                if !in_break {
                    text.push(' ');
                }
                in_break = true;
            } else {
                text.push(c);
                in_break = false;
            }
        }
        Clean {
            text: text.trim().to_string(),
            removed: stripped.removed,
        }
    }

    fn strip(input: &str) -> Clean {
        let needs = input
            .chars()
            .any(|c| (c.is_control() && !matches!(c, '\t' | '\n' | '\r')) || is_bidi_control(c));
        if !needs {
            return Clean {
                text: input.to_string(),
                removed: false,
            };
        }
        let mut out = String::with_capacity(input.len());
        let mut chars = input.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                ESC => match chars.next() {
                    Some('[') => skip_csi(&mut chars),
                    Some(']') | Some('P') | Some('X') | Some('^') | Some('_') => {
                        skip_string(&mut chars)
                    }
                    Some(' '..='/') => {
                        while let Some(&n) = chars.peek() {
                            chars.next();
                            if !(' '..='/').contains(&n) {
                                break;
                            }
                        }
                    }
                    _ => {}
                },
                '\u{9b}' => skip_csi(&mut chars),
                '\u{9d}' | '\u{90}' | '\u{98}' | '\u{9e}' | '\u{9f}' => skip_string(&mut chars),
                '\t' | '\n' | '\r' => out.push(c),
                c if c.is_control() || is_bidi_control(c) => {}
                c => out.push(c),
            }
        }
        Clean {
            text: out,
            removed: true,
        }
    }

    /// Hostile text: runs of pieces drawn mostly from what the sanitizers
    /// treat specially (escape sequences whole and cut, C0/C1 controls, bidi
    /// controls and their neighbours, Unicode white space, line ends,
    /// U+212A KELVIN SIGN), with plain words and any character between.
    pub fn hostile() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let piece = prop_oneof![
            "[ -~]{0,12}",
            proptest::sample::select(vec![
                "\x1b[31m",
                "\x1b[",
                "\x1b]8;;http://x\x07",
                "\x1b]0;t\x1b\\",
                "\x1bP",
                "\x1b(B",
                "\x1b",
                "\x1bc",
                "\u{9b}2J",
                "\u{9d}x\u{9c}",
                "\u{90}",
                "\u{98}",
                "\u{9e}",
                "\u{9f}",
                "\u{85}",
                "\u{7f}",
                "\0",
                "\x07",
                "\r\n",
                "\r",
                "\n",
                "\t",
                " \t ",
                "\r\n\t",
                "\u{a0}",
                "\u{2003}",
                "\u{3000}",
                "\u{2028}",
                "\u{200e}",
                "\u{200f}",
                "\u{61c}",
                "\u{61b}",
                "\u{202a}",
                "\u{202e}",
                "\u{2066}",
                "\u{2069}",
                "\u{206a}",
                "\u{200d}",
                "\u{2010}",
                "\u{212a}",
                "é",
                "漢字",
                "\u{feff}",
            ])
            .prop_map(str::to_string),
            any::<char>().prop_map(String::from),
            proptest::char::range('\0', '\u{a0}').prop_map(String::from),
        ];
        proptest::collection::vec(piece, 0..24).prop_map(|v| v.concat())
    }
}

#[cfg(test)]
mod against_the_oracle {
    use super::*;

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

        #[test]
        fn single_line_is_the_oracles(s in oracle::hostile()) {
            proptest::prop_assert_eq!(single_line(&s), oracle::single_line(&s));
        }

        #[test]
        fn multi_line_is_the_oracles(s in oracle::hostile()) {
            proptest::prop_assert_eq!(multi_line(&s), oracle::multi_line(&s));
        }

        /// Bodies: lines of any length (so line ends fall on every place in
        /// an eight-byte word), ended by CR LF, CR or LF, one of them maybe
        /// holding something to strip.
        #[test]
        fn bodies_read_as_the_oracle_reads_them(
            lines in proptest::collection::vec(("[ -~]{0,40}", 0usize..3), 0..40),
            bad in proptest::option::of((0usize..40, oracle::hostile())),
        ) {
            let mut body = String::new();
            for (n, (line, end)) in lines.iter().enumerate() {
                body.push_str(line);
                if let Some((at, junk)) = &bad {
                    if *at == n {
                        body.push_str(junk);
                    }
                }
                body.push_str(["\r\n", "\r", "\n"][*end]);
            }
            proptest::prop_assert_eq!(multi_line(&body), oracle::multi_line(&body));
        }

        #[test]
        fn any_string_reads_as_the_oracle_reads_it(s in proptest::prelude::any::<String>()) {
            proptest::prop_assert_eq!(single_line(&s), oracle::single_line(&s));
            proptest::prop_assert_eq!(multi_line(&s), oracle::multi_line(&s));
        }
    }
}

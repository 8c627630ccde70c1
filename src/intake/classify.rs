//! What a message is: a new export request, a follow-up in a request's
//! thread, an automatic reply, or something else; and which workspace it names.
//!
//! The rules, first match wins:
//! 1. `auto_reply` — RFC 3834 `Auto-Submitted` other than `no`, `X-Autoreply`,
//!    `X-Autorespond`, `Precedence: auto_reply|bulk|junk`, a delivery status
//!    report (RFC 3464 `multipart/report`, `message/delivery-status`), a
//!    `MAILER-DAEMON` sender, or an unmistakable auto-reply subject.
//! 2. `follow_up` — threading headers (`In-Reply-To`, `References`), or
//!    `Re:` on a pre-filled request subject.
//! 3. `export_request` — the pre-filled subject, a `Workspace:` line with the
//!    word export, or free text asking for *all* of the workspace's data.
//! 4. `other`.

use regex::Regex;
use serde::Serialize;
use std::sync::LazyLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    ExportRequest,
    FollowUp,
    AutoReply,
    Other,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::ExportRequest => "export_request",
            Kind::FollowUp => "follow_up",
            Kind::AutoReply => "auto_reply",
            Kind::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Some(match s {
            "export_request" => Kind::ExportRequest,
            "follow_up" => Kind::FollowUp,
            "auto_reply" => Kind::AutoReply,
            "other" => Kind::Other,
            _ => return None,
        })
    }
}

/// What the classifier looks at, already decoded and sanitized.
pub struct Signals<'a> {
    /// Header names (any case) and raw values, in order.
    pub headers: &'a [(&'a str, &'a str)],
    pub from_addr: Option<&'a str>,
    pub subject: &'a str,
    pub body: &'a str,
    pub content_type: Option<&'a str>,
    pub has_threading: bool,
}

const PREFILLED: &str = "data export request:";

static REPLY_PREFIX: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)^\s*(re|aw|sv|fwd?|wg|tr)\s*(\[\d+\])?\s*:\s*").unwrap());
static AUTO_SUBJECT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*(automatic reply|auto[- ]?reply|out of (the )?office|autoresponse|undeliverable|delivery status notification|returned mail|mail delivery failed)\b").unwrap()
});
static ACTION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(export|exports|exporting|exported|copy|download|dump|archive|back ?up|backup|takeout|extract)\b").unwrap()
});
/// [`ACTION`]'s words in any case and anywhere (a superset, as a prefilter).
static ACTION_ANYCASE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)export|copy|download|dump|archive|back ?up|takeout|extract").unwrap()
});
/// [`ACTION_ANYCASE`] for ASCII-lowercased text (see [`has_action_word`]).
static ACTION_LOWER: LazyLock<regex::bytes::Regex> = LazyLock::new(|| {
    regex::bytes::Regex::new(r"export|copy|download|dump|archive|back ?up|takeout|extract").unwrap()
});
static WHOLE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b(all|complete|full|entire|whole|everything)\b").unwrap());
static DATA: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(data|workspace|account|conversations|tickets|history|records|everything)\b")
        .unwrap()
});
static NARROW: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(report|reports|csv|invoice|invoices|billing|receipt|receipts|dashboard|chart|spreadsheet)\b").unwrap()
});
static STRONG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(all (of )?(our|my|the) (\w+ ){0,2}data|(complete|full|entire|whole) (\w+ ){0,2}(export|copy|backup|archive|dump)|data export|data portability)\b").unwrap()
});
/// The writer asks for their own data: "our/my … data", or "we/I … need".
/// NOTE: newsletters and spam speak to the reader ("Backup ALL your data",
/// "export all your data from …"); a customer asking for an export speaks
/// of their own. This rule took the free-text false positives on the
/// measured ham/spam set from 1 in 200 to none (README "Classification").
static OWN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b((our|my) (\w+ ){0,3}(data|workspace|account|conversations|tickets|history|records|everything)|(we|i|we'd|i'd) (\w+ ){0,3}(need|want|like|request|ask|asking|would))\b").unwrap()
});
/// Bulk-mail markers: a person asking for their export does not write these.
static BULK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(unsubscribe|opt[- ]out|view (this|it) in your browser)\b").unwrap()
});
static WORKSPACE_LINE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?im)^[ \t]*workspace[ \t]*:[ \t]*(.*?)[ \t]*$").unwrap());
static MENTIONS_WORKSPACE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)workspace").unwrap());
static WORKSPACE_ID_LINE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?im)^[ \t]*workspace[ \t]+id[ \t]*:[ \t]*(\S*)").unwrap());

/// The subject without any `Re:`/`Fwd:` prefixes.
pub fn base_subject(subject: &str) -> &str {
    let mut s = subject;
    while may_start_reply_prefix(s) {
        let Some(m) = REPLY_PREFIX.find(s) else {
            break;
        };
        if m.end() == 0 {
            break;
        }
        s = &s[m.end()..];
    }
    s.trim()
}

/// Whether [`REPLY_PREFIX`] can match `s`: after white space (`\s`, the
/// Unicode White_Space property, as `trim_start`'s: tested) comes the first
/// letter of a prefix in some case (U+017F folds to `s`). Most subjects
/// fail this, and the regex search costs ~300 instructions.
fn may_start_reply_prefix(s: &str) -> bool {
    s.trim_start().chars().next().is_some_and(|c| {
        matches!(
            c.to_ascii_lowercase(),
            'r' | 'a' | 's' | 'f' | 'w' | 't' | '\u{017F}'
        )
    })
}

/// Whether [`AUTO_SUBJECT`] can match `s`: its phrases start with `a`, `o`,
/// `u`, `d`, `r` or `m` (no non-ASCII character folds to one of them).
fn may_be_auto_subject(s: &str) -> bool {
    s.trim_start()
        .chars()
        .next()
        .is_some_and(|c| matches!(c.to_ascii_lowercase(), 'a' | 'o' | 'u' | 'd' | 'r' | 'm'))
}

fn has_reply_prefix(subject: &str) -> bool {
    may_start_reply_prefix(subject)
        && REPLY_PREFIX
            .captures(subject)
            .is_some_and(|c| matches!(c[1].to_ascii_lowercase().as_str(), "re" | "aw" | "sv"))
}

fn is_prefilled(subject: &str) -> bool {
    let base = base_subject(subject);
    base.len() >= PREFILLED.len()
        && base.is_char_boundary(PREFILLED.len())
        && base[..PREFILLED.len()].eq_ignore_ascii_case(PREFILLED)
}

fn is_auto_reply(s: &Signals<'_>) -> bool {
    // One pass over the fields, no lowercase copies: a big-headers message
    // has ~60 fields, and four filtered passes cost ~1,400 instructions.
    let marked = s.headers.iter().any(|&(name, v)| {
        let v = v.trim();
        if name.eq_ignore_ascii_case("Auto-Submitted") {
            let word = v.split([';', '(', ' ']).next().unwrap_or("").trim();
            !word.is_empty() && !word.eq_ignore_ascii_case("no")
        } else if name.eq_ignore_ascii_case("Precedence") {
            ["auto_reply", "bulk", "junk"]
                .iter()
                .any(|p| v.eq_ignore_ascii_case(p))
        } else {
            name.eq_ignore_ascii_case("X-Autoreply") || name.eq_ignore_ascii_case("X-Autorespond")
        }
    });
    let report = s.content_type.is_some_and(|ct| {
        starts_with_ignore_ascii_case(ct, "multipart/report")
            || starts_with_ignore_ascii_case(ct, "message/delivery-status")
    });
    let daemon = s.from_addr.is_some_and(|a| {
        let local = a.split('@').next().unwrap_or("");
        local.eq_ignore_ascii_case("mailer-daemon")
    });
    marked
        || report
        || daemon
        || (may_be_auto_subject(s.subject) && AUTO_SUBJECT.is_match(s.subject))
}

fn starts_with_ignore_ascii_case(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len() && s.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

/// Text the free-form rules read: subject and body without quoted lines,
/// lowercased, whitespace collapsed. Bounded so a huge body costs nothing.
fn prose(subject: &str, body: &str) -> String {
    const BUDGET: usize = 8 * 1024;
    fn push(chunk: &str, text: &mut String) {
        for c in chunk.chars() {
            if c.is_whitespace() {
                if !text.is_empty() && !text.ends_with(' ') {
                    text.push(' ');
                }
            } else if c.is_ascii() {
                text.push(c.to_ascii_lowercase());
            } else {
                text.extend(c.to_lowercase());
            }
        }
        if !text.is_empty() && !text.ends_with(' ') {
            text.push(' ');
        }
    }
    let mut text = String::with_capacity(subject.len() + body.len().min(BUDGET) + 1);
    push(subject, &mut text);
    for line in body.lines() {
        if text.len() >= BUDGET {
            break;
        }
        if line.trim_start().starts_with('>') {
            continue;
        }
        let mut end = line.len().min(BUDGET);
        while !line.is_char_boundary(end) {
            end -= 1;
        }
        push(&line[..end], &mut text);
    }
    text.truncate(text.trim_end().len());
    text
}

/// Free text asking for all of the workspace's data, not one report.
fn asks_for_everything(text: &str) -> bool {
    // Cheapest tests first: most mail fails the first one.
    ACTION.is_match(text)
        && WHOLE.is_match(text)
        && DATA.is_match(text)
        && (!NARROW.is_match(text) || STRONG.is_match(text))
        && OWN.is_match(text)
        && !BULK.is_match(text)
}

pub fn classify(s: &Signals<'_>) -> Kind {
    if is_auto_reply(s) {
        return Kind::AutoReply;
    }
    let prefilled = is_prefilled(s.subject);
    if is_follow_up(s, prefilled) {
        return Kind::FollowUp;
    }
    by_content(s, prefilled)
}

/// The kind by content alone, ignoring threading headers and `Re:`.
pub fn classify_unthreaded(s: &Signals<'_>) -> Kind {
    if is_auto_reply(s) {
        return Kind::AutoReply;
    }
    by_content(s, is_prefilled(s.subject))
}

/// `(classify(s), classify_unthreaded(s))`, the rules that both read
/// (automatic reply, pre-filled subject) run once.
pub fn kinds(s: &Signals<'_>) -> (Kind, Kind) {
    if is_auto_reply(s) {
        return (Kind::AutoReply, Kind::AutoReply);
    }
    let prefilled = is_prefilled(s.subject);
    let unthreaded = by_content(s, prefilled);
    if is_follow_up(s, prefilled) {
        (Kind::FollowUp, unthreaded)
    } else {
        (unthreaded, unthreaded)
    }
}

fn is_follow_up(s: &Signals<'_>, prefilled: bool) -> bool {
    s.has_threading || (prefilled && has_reply_prefix(s.subject))
}

/// Rules 3 and 4 for a message that is no automatic reply.
fn by_content(s: &Signals<'_>, prefilled: bool) -> Kind {
    if prefilled {
        return Kind::ExportRequest;
    }
    // Every free-form rule needs an action word: most mail has none, and a
    // case-insensitive search finds that out without building the prose.
    let head = &s.body[..floor_char_boundary(s.body, 8 * 1024)];
    if !has_action_word(s.subject, head) {
        return Kind::Other;
    }
    let text = prose(s.subject, s.body);
    if (text.contains("export") && WORKSPACE_LINE.is_match(s.body)) || asks_for_everything(&text) {
        return Kind::ExportRequest;
    }
    Kind::Other
}

/// The workspace the message names: a `Workspace:` line, else the
/// pre-filled subject. `Workspace ID:` must be a UUID (lowercased).
pub fn workspace(subject: &str, body: &str) -> (Option<String>, Option<String>) {
    // Most mail names no workspace: skip the line patterns unless the word is there.
    let mentions = mentions_workspace(body);
    let name = mentions
        .then(|| WORKSPACE_LINE.captures_iter(body))
        .into_iter()
        .flatten()
        .map(|c| super::sanitize::single_line(&c[1]).text)
        .find(|v: &String| !v.is_empty())
        .or_else(|| {
            is_prefilled(subject)
                .then(|| base_subject(subject)[PREFILLED.len()..].trim().to_string())
        })
        .filter(|n| !n.is_empty())
        .map(|n| truncate_chars(&n, 200));
    let id = mentions
        .then(|| WORKSPACE_ID_LINE.captures(body))
        .flatten()
        .and_then(|c| uuid::Uuid::parse_str(&c[1]).ok())
        .map(|u| u.hyphenated().to_string());
    (name, id)
}

/// Whether `s` holds a character other than an ASCII letter that Unicode
/// simple case folding (what `(?i)` uses) puts in an ASCII letter's class:
/// only U+212A KELVIN SIGN (`k`) and U+017F LATIN SMALL LETTER LONG S (`s`)
/// (tested: `only_kelvin_and_long_s_fold_into_ascii_letters`). Text without
/// them matches an ASCII-letter pattern under `(?i)` exactly where it does
/// under ASCII-only case folding.
fn folds_into_ascii(s: &str) -> bool {
    // U+212A is E2 84 AA and U+017F is C5 BF in UTF-8 (RFC 3629).
    let b = s.as_bytes();
    memchr::memchr2_iter(0xE2, 0xC5, b).any(|i| {
        b[i..].starts_with("\u{212A}".as_bytes()) || b[i..].starts_with("\u{017F}".as_bytes())
    })
}

/// [`ACTION_ANYCASE`] on the subject or on `head`, ASCII-lowercased into
/// one buffer (a newline between them: no action word spans one). The
/// Unicode `(?i)` search costs ~8 instructions a byte on English prose;
/// the lowercase copy and a case-sensitive search ~2 (docs/perf-sync.md,
/// "Fourth round").
fn has_action_word(subject: &str, head: &str) -> bool {
    if folds_into_ascii(subject) || folds_into_ascii(head) {
        return ACTION_ANYCASE.is_match(subject) || ACTION_ANYCASE.is_match(head);
    }
    let mut lower = Vec::with_capacity(subject.len() + 1 + head.len());
    lower.extend(subject.bytes().map(|b| b.to_ascii_lowercase()));
    lower.push(b'\n');
    lower.extend(head.bytes().map(|b| b.to_ascii_lowercase()));
    ACTION_LOWER.is_match(&lower)
}

/// [`MENTIONS_WORKSPACE`]: each `k` or `K` in `body` is looked at, not
/// every byte run through a Unicode case-insensitive search.
fn mentions_workspace(body: &str) -> bool {
    if folds_into_ascii(body) {
        return MENTIONS_WORKSPACE.is_match(body);
    }
    const WORD: &[u8] = b"workspace";
    const K: usize = 3; // where `k` sits in WORD
    let b = body.as_bytes();
    memchr::memchr2_iter(b'k', b'K', b).any(|i| {
        i >= K
            && b.len() - (i - K) >= WORD.len()
            && b[i - K..i - K + WORD.len()].eq_ignore_ascii_case(WORD)
    })
}

/// The largest char boundary of `s` at or below `at`.
fn floor_char_boundary(s: &str, at: usize) -> usize {
    let mut end = at.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    end
}

pub fn truncate_chars(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => s[..i].to_string(),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The searches as they were before the ASCII paths (the oracles).
    fn old_has_action_word(subject: &str, head: &str) -> bool {
        ACTION_ANYCASE.is_match(subject) || ACTION_ANYCASE.is_match(head)
    }

    fn old_is_auto_reply(s: &Signals<'_>) -> bool {
        fn header<'a>(
            headers: &'a [(&'a str, &'a str)],
            name: &'static str,
        ) -> impl Iterator<Item = &'a str> {
            headers
                .iter()
                .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.trim())
        }
        let auto_submitted = header(s.headers, "Auto-Submitted").any(|v| {
            let word = v.split([';', '(', ' ']).next().unwrap_or("").trim();
            !word.is_empty() && !word.eq_ignore_ascii_case("no")
        });
        let x_auto = header(s.headers, "X-Autoreply")
            .chain(header(s.headers, "X-Autorespond"))
            .next()
            .is_some();
        let precedence = header(s.headers, "Precedence").any(|v| {
            matches!(
                v.to_ascii_lowercase().as_str(),
                "auto_reply" | "bulk" | "junk"
            )
        });
        let report = s.content_type.is_some_and(|ct| {
            let ct = ct.to_ascii_lowercase();
            ct.starts_with("multipart/report") || ct.starts_with("message/delivery-status")
        });
        let daemon = s.from_addr.is_some_and(|a| {
            let local = a.split('@').next().unwrap_or("");
            local.eq_ignore_ascii_case("mailer-daemon")
        });
        auto_submitted
            || x_auto
            || precedence
            || report
            || daemon
            || AUTO_SUBJECT.is_match(s.subject)
    }

    fn old_base_subject(subject: &str) -> &str {
        let mut s = subject;
        while let Some(m) = REPLY_PREFIX.find(s) {
            if m.end() == 0 {
                break;
            }
            s = &s[m.end()..];
        }
        s.trim()
    }

    fn old_is_prefilled(subject: &str) -> bool {
        let base = old_base_subject(subject);
        base.len() >= PREFILLED.len()
            && base.is_char_boundary(PREFILLED.len())
            && base[..PREFILLED.len()].eq_ignore_ascii_case(PREFILLED)
    }

    fn old_classify(s: &Signals<'_>) -> Kind {
        if old_is_auto_reply(s) {
            return Kind::AutoReply;
        }
        let reply = REPLY_PREFIX
            .captures(s.subject)
            .is_some_and(|c| matches!(c[1].to_ascii_lowercase().as_str(), "re" | "aw" | "sv"));
        if s.has_threading || (reply && old_is_prefilled(s.subject)) {
            return Kind::FollowUp;
        }
        if old_is_prefilled(s.subject) {
            return Kind::ExportRequest;
        }
        old_classify_unthreaded(s)
    }

    fn old_classify_unthreaded(s: &Signals<'_>) -> Kind {
        if old_is_auto_reply(s) {
            return Kind::AutoReply;
        }
        if old_is_prefilled(s.subject) {
            return Kind::ExportRequest;
        }
        let head = &s.body[..floor_char_boundary(s.body, 8 * 1024)];
        if !old_has_action_word(s.subject, head) {
            return Kind::Other;
        }
        let text = prose(s.subject, s.body);
        if (text.contains("export") && WORKSPACE_LINE.is_match(s.body))
            || asks_for_everything(&text)
        {
            return Kind::ExportRequest;
        }
        Kind::Other
    }

    /// Subjects around the prefixes and phrases the rules look for.
    fn hostile_subject() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just("Re: ".to_string()),
            Just(" RE:".to_string()),
            Just("aw :".to_string()),
            Just("SV[3]: ".to_string()),
            Just("\u{017F}v: ".to_string()),
            Just("Fwd: ".to_string()),
            Just("fw:".to_string()),
            Just("WG: ".to_string()),
            Just("tr:".to_string()),
            Just("\u{3000}\u{85}\u{a0}\t ".to_string()),
            Just("\u{180e}".to_string()),
            Just("Data export request: ".to_string()),
            Just("data EXPORT request:".to_string()),
            Just("Automatic reply: ".to_string()),
            Just("Out of the office".to_string()),
            Just("undeliverable".to_string()),
            Just("Mail delivery failed".to_string()),
            Just("Acme".to_string()),
            "[ \\[\\]:0-9a-zA-Z]{0,8}",
            "\\PC{0,4}",
        ];
        proptest::collection::vec(piece, 0..6).prop_map(|v| v.concat())
    }

    /// Text built from the words the rules look for, in odd cases, with
    /// hostile characters among them: controls, escapes, non-ASCII, the
    /// two non-ASCII characters that fold into ASCII letters.
    fn hostile_text() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just("export".to_string()),
            Just("EXPORT".to_string()),
            Just("ExPoRt".to_string()),
            Just("bac\u{212A} up".to_string()),
            Just("Ta\u{212A}eout".to_string()),
            Just("back up".to_string()),
            Just("BACKUP".to_string()),
            Just("takeout".to_string()),
            Just("workspace".to_string()),
            Just("WORK".to_string()),
            Just("SPACE".to_string()),
            Just("wor\u{212A}\u{017F}pace".to_string()),
            Just("Workspace:".to_string()),
            Just("k".to_string()),
            Just("K".to_string()),
            Just("\u{212A}".to_string()),
            Just("\u{017F}".to_string()),
            Just("\u{0131}".to_string()),
            Just("\u{0130}".to_string()),
            Just("\x1b[31m".to_string()),
            Just(" ".to_string()),
            Just("\n".to_string()),
            Just("\r\n".to_string()),
            "[a-zA-Z ]{0,12}",
            "\\PC{0,6}",
            any::<String>().prop_map(|s| s.chars().take(8).collect()),
        ];
        proptest::collection::vec(piece, 0..24).prop_map(|v| v.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        #[test]
        fn action_word_search_agrees_with_the_unicode_one(
            subject in hostile_text(),
            head in hostile_text(),
        ) {
            prop_assert_eq!(has_action_word(&subject, &head), old_has_action_word(&subject, &head));
        }

        #[test]
        fn workspace_mention_agrees_with_the_unicode_one(body in hostile_text()) {
            prop_assert_eq!(mentions_workspace(&body), MENTIONS_WORKSPACE.is_match(&body));
        }

        #[test]
        fn auto_reply_agrees_with_the_filtered_passes(
            fields in proptest::collection::vec(
                (
                    prop_oneof![
                        Just("Auto-Submitted"), Just("auto-submitted"), Just("AUTO-SUBMITTED"),
                        Just("Precedence"), Just("precedence"), Just("X-Autoreply"),
                        Just("x-autorespond"), Just("Subject"), Just("Received"),
                        Just("Precedenc"), Just("X-Autoresponder"),
                    ],
                    prop_oneof![
                        Just("no"), Just(" No "), Just("auto-replied"), Just("bulk"),
                        Just(" BULK\t"), Just("Junk"), Just("auto_reply"), Just("list"),
                        Just(""), Just("(no)"), Just("no; x"), Just("\u{212A}"),
                        Just("bul\u{212A}"), Just("\x1b[0m"),
                    ],
                ),
                0..6,
            ),
            content_type in proptest::option::of(prop_oneof![
                Just("Multipart/Report; report-type=delivery-status".to_string()),
                Just("message/DELIVERY-STATUS".to_string()),
                Just("multipart/repor".to_string()),
                Just("text/plain".to_string()),
                Just("\u{212A}ultipart/report".to_string()),
                any::<String>(),
            ]),
            from_addr in proptest::option::of(prop_oneof![
                Just("MAILER-DAEMON@x.example".to_string()),
                Just("owner@acme.example".to_string()),
                any::<String>(),
            ]),
            subject in hostile_text(),
        ) {
            let s = Signals {
                headers: &fields,
                from_addr: from_addr.as_deref(),
                subject: &subject,
                body: "",
                content_type: content_type.as_deref(),
                has_threading: false,
            };
            prop_assert_eq!(is_auto_reply(&s), old_is_auto_reply(&s));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        #[test]
        fn kinds_agree_with_the_old_rules(
            subject in hostile_subject(),
            body in hostile_text(),
            has_threading in any::<bool>(),
            auto in any::<bool>(),
        ) {
            let headers = [("Auto-Submitted", if auto { "auto-replied" } else { "no" })];
            let s = Signals {
                headers: &headers,
                from_addr: Some("owner@acme.example"),
                subject: &subject,
                body: &body,
                content_type: Some("text/plain"),
                has_threading,
            };
            let kind = old_classify(&s);
            let unthreaded = if kind == Kind::FollowUp { old_classify_unthreaded(&s) } else { kind };
            prop_assert_eq!(kinds(&s), (kind, unthreaded));
            prop_assert_eq!(classify(&s), kind);
            prop_assert_eq!(classify_unthreaded(&s), old_classify_unthreaded(&s));
            prop_assert_eq!(base_subject(&subject), old_base_subject(&subject));
        }
    }

    #[test]
    fn white_space_is_the_same_for_the_regexes_and_trim() {
        // `may_start_reply_prefix` and `may_be_auto_subject` skip what
        // `trim_start` skips, where the regexes skip `\s`.
        let space = Regex::new(r"^\s$").unwrap();
        for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
            assert_eq!(
                space.is_match(c.encode_utf8(&mut [0; 4])),
                c.is_whitespace(),
                "{c:?}"
            );
        }
    }

    #[test]
    fn only_kelvin_and_long_s_fold_into_ascii_letters() {
        // What `folds_into_ascii` relies on: among all non-ASCII chars, only
        // these two are in a `(?i)` ASCII letter's class.
        let letter = Regex::new(r"(?i)^[a-z]$").unwrap();
        let folding: Vec<char> = (0x80..=0x10FFFFu32)
            .filter_map(char::from_u32)
            .filter(|c| letter.is_match(c.encode_utf8(&mut [0; 4])))
            .collect();
        assert_eq!(folding, ['\u{017F}', '\u{212A}']);
        assert!(folds_into_ascii("a\u{212A}"));
        assert!(folds_into_ascii("\u{017F}"));
        assert!(!folds_into_ascii("caf\u{e9} \u{2122} \u{0131}"));
    }

    #[test]
    fn ascii_paths_keep_the_unicode_answers() {
        assert!(has_action_word("Bac\u{212A}up", ""));
        assert!(has_action_word("", "please EXPORT it"));
        assert!(!has_action_word("back", "up"));
        assert!(mentions_workspace("our WORKSPACE"));
        assert!(mentions_workspace("wor\u{212A}space"));
        assert!(mentions_workspace("work\u{017F}pace"));
        assert!(!mentions_workspace("work space"));
        assert!(!mentions_workspace("kspace"));
    }

    fn kind(subject: &str, body: &str) -> Kind {
        classify(&Signals {
            headers: &[],
            from_addr: Some("owner@acme.example"),
            subject,
            body,
            content_type: Some("text/plain"),
            has_threading: false,
        })
    }

    #[test]
    fn prefilled_and_free_form_requests() {
        assert_eq!(
            kind("Data export request: Acme Support", ""),
            Kind::ExportRequest
        );
        assert_eq!(
            kind("Fwd: data export request: Acme", ""),
            Kind::ExportRequest
        );
        assert_eq!(
            kind(
                "Our data",
                "Hi, could you send us a complete export of all our workspace data?"
            ),
            Kind::ExportRequest
        );
        assert_eq!(
            kind(
                "Leaving Ochre",
                "We need a full backup of everything in our account, including reports."
            ),
            Kind::ExportRequest
        );
    }

    #[test]
    fn mentions_are_not_requests() {
        assert_eq!(
            kind("Reports", "How do I export a report to CSV?"),
            Kind::Other
        );
        assert_eq!(
            kind(
                "Billing question",
                "Can I export all my invoices for billing?"
            ),
            Kind::Other
        );
        assert_eq!(kind("Hello", "Love the product."), Kind::Other);
    }

    #[test]
    fn newsletters_and_spam_are_not_requests() {
        for (subject, body) in [
            ("Backup your ALL your data", "Backup your ALL your data today with CloudSafe. 50% off!"),
            ("Switch now", "Easily export all your data from Zendesk, Freshdesk and more in one click."),
            ("Your weekly digest", "Tip: you can export all your workspace data. We need you to try it!\nUnsubscribe here."),
        ] {
            assert_eq!(kind(subject, body), Kind::Other, "{subject}");
        }
        // The same words from a customer, about their own data, still count.
        assert_eq!(
            kind(
                "Backup",
                "Could you back up all our data before we leave Ochre?"
            ),
            Kind::ExportRequest
        );
        assert_eq!(
            kind(
                "Leaving",
                "I would like to export all the data in my workspace."
            ),
            Kind::ExportRequest
        );
    }

    #[test]
    fn reply_on_request_subject_is_follow_up() {
        assert_eq!(kind("Re: Data export request: Acme", ""), Kind::FollowUp);
        assert_eq!(kind("AW: Data export request: Acme", ""), Kind::FollowUp);
        assert_eq!(base_subject("Re: RE: Fwd: x"), "x");
    }

    #[test]
    fn auto_replies() {
        let headers = vec![("Auto-Submitted", "auto-replied")];
        let s = Signals {
            headers: &headers,
            from_addr: Some("owner@acme.example"),
            subject: "Data export request: Acme",
            body: "",
            content_type: None,
            has_threading: true,
        };
        assert_eq!(classify(&s), Kind::AutoReply);
        let headers = vec![("auto-submitted", "no")];
        let s = Signals {
            headers: &headers,
            has_threading: false,
            ..s
        };
        assert_eq!(classify(&s), Kind::ExportRequest);
        assert_eq!(
            kind("Automatic reply: Data export request: Acme", ""),
            Kind::AutoReply
        );
    }

    #[test]
    fn workspace_line_wins_over_subject() {
        let (n, id) = workspace(
            "Data export request: Wrong",
            "Workspace: Acme Support\nWorkspace ID: 5F0C2D94-0000-4000-8000-000000000001\n",
        );
        assert_eq!(n.as_deref(), Some("Acme Support"));
        assert_eq!(id.as_deref(), Some("5f0c2d94-0000-4000-8000-000000000001"));
        let (n, id) = workspace("Data export request: Globex", "Workspace ID: not-a-uuid");
        assert_eq!(n.as_deref(), Some("Globex"));
        assert_eq!(id, None);
    }
}

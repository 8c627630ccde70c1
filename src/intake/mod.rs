//! Intake: one raw email (hostile bytes) in, one [`Inspected`] out.
//!
//! `parse` here is the only place that touches mail-parser; everything it
//! returns is decoded (RFC 2047, quoted-printable, base64, legacy charsets,
//! HTML-only bodies as text) and sanitized ([`sanitize`]), so the store and
//! the screen never see a raw byte of the message.
//!
//! Never panics: the fuzz/property test in `tests/intake_fuzz.rs` feeds it
//! arbitrary bytes.

pub mod auth;
pub mod classify;
pub mod date;
mod headers;
pub mod repair;
pub mod sanitize;
mod steps;

pub use auth::Auth;
pub use classify::Kind;

use chrono::{DateTime, Timelike, Utc};
use mail_parser::{HeaderValue, MessageParser, MimeHeaders};
use serde::Serialize;
use std::sync::LazyLock;

/// The authserv-id trusted when neither `--authserv-id` nor the config names one.
pub const DEFAULT_AUTHSERV_ID: &str = "mx.ochrehq.com";

/// The longest single-line field kept, in characters: RFC 5322 §2.1.1's
/// line limit. Every printed string is capped (subject, names, ids, each
/// reference), so one hostile header cannot make a megabyte JSON line.
pub const FIELD_LIMIT: usize = 998;

/// RFC 5321 §4.5.3.1.3: a path is at most 256 octets, so an address (without
/// its angle brackets) is at most 254; a longer one is not an address.
const ADDRESS_LIMIT: usize = 254;

/// Body text kept per message (for the detail pane and the store); the rest
/// of a huge message is not needed to triage it.
pub const BODY_LIMIT: usize = 64 * 1024;

/// A warning about a message (README, "How it reads mail"); serialized in
/// snake_case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Warning {
    DkimFail,
    SpfFail,
    DmarcFail,
    AuthMissing,
    ReplyToMismatch,
    ReturnPathMismatch,
    DisplayNameMismatch,
    ControlCharsRemoved,
    Malformed,
}

impl Warning {
    /// In words, for the detail pane.
    pub fn describe(self) -> &'static str {
        match self {
            Warning::DkimFail => "DKIM signature did not verify",
            Warning::SpfFail => "SPF check did not pass",
            Warning::DmarcFail => "DMARC did not pass: the From address may be forged",
            Warning::AuthMissing => "no authentication results from our mail server",
            Warning::ReplyToMismatch => "Reply-To is on another domain than From",
            Warning::ReturnPathMismatch => "Return-Path is on another domain than From",
            Warning::DisplayNameMismatch => "display name shows a different address than From",
            Warning::ControlCharsRemoved => "control characters or escape sequences were removed",
            Warning::Malformed => "the message is malformed; some fields were guessed",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct WorkspaceRef {
    pub name: Option<String>,
    pub id: Option<String>,
}

/// One message, as `concierge inspect` prints it (one JSON line, as `sync`
/// logs it), plus the sanitized body text, which is stored but not printed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Inspected {
    pub file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    pub message_id: Option<String>,
    /// The `Date:` header in UTC; printed in whole seconds (`…:05Z`).
    #[serde(serialize_with = "crate::time::ser_opt_secs")]
    pub date: Option<DateTime<Utc>>,
    pub from: Option<String>,
    pub from_name: Option<String>,
    pub reply_to: Option<String>,
    pub subject: String,
    pub kind: Kind,
    pub workspace: WorkspaceRef,
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
    pub auth: Auth,
    pub warnings: Vec<Warning>,
    #[serde(skip)]
    pub body: String,
    /// What the message would be without its threading headers: a follow-up
    /// whose thread the store does not know becomes a new request when this
    /// says `ExportRequest` (the original may predate the store).
    #[serde(skip)]
    pub unthreaded_kind: Kind,
}

impl Inspected {
    /// The key a message is stored under: its Message-ID, or for a message
    /// without one a digest of its bytes (so the same mail seen twice is still
    /// one entry).
    pub fn store_key(&self, raw: &[u8]) -> String {
        match &self.message_id {
            Some(id) => id.clone(),
            None => {
                use sha2::{Digest, Sha256};
                let digest = Sha256::digest(raw);
                format!("sha256-{}@concierge.invalid", &hex::encode(digest)[..32])
            }
        }
    }
}

/// Options for [`inspect`].
#[derive(Debug, Clone)]
pub struct Options<'a> {
    pub authserv_id: &'a str,
    /// The bytes are a prefix of the message (IMAP partial fetch): a missing
    /// closing MIME boundary is then expected, not a sign of breakage.
    pub truncated: bool,
}

impl Default for Options<'_> {
    fn default() -> Self {
        Options {
            authserv_id: DEFAULT_AUTHSERV_ID,
            truncated: false,
        }
    }
}

/// Collects sanitized strings and remembers whether anything was removed.
#[derive(Default)]
struct Cleaner {
    removed: bool,
}

impl Cleaner {
    /// A single-line field, sanitized and capped at [`FIELD_LIMIT`] characters.
    fn line(&mut self, s: &str) -> String {
        let c = sanitize::single_line(s);
        self.removed |= c.removed;
        cap_chars(c.text, FIELD_LIMIT)
    }

    /// An address: sanitized first (an escape sequence inside it is removed
    /// and reported, not a reason to lose the address), then checked.
    fn address(&mut self, s: &str) -> Option<String> {
        let c = sanitize::single_line(s);
        let addr = bare_address(&c.text)?;
        self.removed |= c.removed;
        Some(addr)
    }

    fn opt_line(&mut self, s: Option<&str>) -> Option<String> {
        s.map(|s| self.line(s)).filter(|s| !s.is_empty())
    }

    fn text(&mut self, s: &str) -> String {
        let c = sanitize::multi_line(s);
        self.removed |= c.removed;
        c.text
    }
}

/// `s` cut to its first `max` characters: [`classify::truncate_chars`]
/// without a copy of the (nearly always short enough) string.
fn cap_chars(mut s: String, max: usize) -> String {
    // No more characters than bytes: a short string needs no count.
    if s.len() > max {
        if let Some((i, _)) = s.char_indices().nth(max) {
            s.truncate(i);
        }
    }
    s
}

/// A bare, lowercased address, or `None` when it does not look like one.
fn bare_address(s: &str) -> Option<String> {
    let s = s
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim();
    let (local, domain) = s.rsplit_once('@')?;
    if s.len() > ADDRESS_LIMIT
        || local.is_empty()
        || domain.is_empty()
        || s.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return None;
    }
    Some(s.to_lowercase())
}

fn domain_of(addr: &str) -> &str {
    addr.rsplit_once('@').map(|(_, d)| d).unwrap_or("")
}

/// Relaxed alignment (as DMARC's): the same domain, or one a subdomain of the other.
fn aligned(a: &str, b: &str) -> bool {
    let (a, b) = (a.trim_end_matches('.'), b.trim_end_matches('.'));
    a.eq_ignore_ascii_case(b)
        || a.to_ascii_lowercase()
            .ends_with(&format!(".{}", b.to_ascii_lowercase()))
        || b.to_ascii_lowercase()
            .ends_with(&format!(".{}", a.to_ascii_lowercase()))
}

/// The parser decodes only the headers Concierge reads; the others (Received
/// chains, DKIM signatures, …) are only skipped over; the few read raw are
/// taken from their byte offsets.
static PARSER: LazyLock<MessageParser> = LazyLock::new(|| {
    use mail_parser::HeaderName;
    MessageParser::new()
        .default_header_ignore()
        .with_mime_headers()
        .with_message_ids()
        .header_date(HeaderName::Date)
        .header_text(HeaderName::Subject)
        .header_address(HeaderName::From)
        .header_address(HeaderName::ReplyTo)
});

static ADDR_IN_TEXT: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)+").unwrap()
});

fn strip_brackets(s: &str) -> String {
    s.trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim()
        .to_string()
}

fn id_list(value: &HeaderValue<'_>) -> Vec<String> {
    match value {
        HeaderValue::Text(t) => vec![strip_brackets(t)],
        HeaderValue::TextList(l) => l.iter().map(|t| strip_brackets(t)).collect(),
        _ => Vec::new(),
    }
}

/// Unfolds and lossily decodes a raw header value: its lines, each trimmed,
/// the empty ones dropped, joined by one space (built in place, no list).
fn raw_value(raw: &[u8]) -> String {
    // NOTE: `from_utf8` checks a word at a time and `from_utf8_lossy` walks
    // `Utf8Chunks` (~5 instructions a byte); both give the same text for
    // valid UTF-8, nearly every value. The lines are cut at CR and LF bytes
    // with `memchr2` (ASCII, so always a character boundary), not by a
    // `char` pattern: 2,000 instructions per big-headers message together.
    let s = match std::str::from_utf8(raw) {
        Ok(s) => std::borrow::Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(raw),
    };
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut start = 0;
    loop {
        let end = memchr::memchr2(b'\r', b'\n', &b[start..]).map_or(b.len(), |i| start + i);
        let part = s[start..end].trim();
        if !part.is_empty() {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(part);
        }
        if end == b.len() {
            return out;
        }
        start = end + 1;
    }
}
/// Inspects one raw message. Total: every input gives an answer.
pub fn inspect(raw: &[u8], opts: &Options<'_>) -> Inspected {
    inspect_once(raw, opts, true, Depth::Full, Reading::Split)
}

/// [`inspect`] for the sync, which keeps only export mail (requests,
/// follow-ups, automatic replies) and unreadable mail (`malformed`): for
/// those the answer is [`inspect`]'s, field for field. Any other message
/// (`other` without `malformed`, nearly all mail) is dropped by the sync
/// unread, so its authentication, workspace and warnings are not worked out.
///
/// NOTE: nothing is skipped before the message is classified: the kind and
/// every `malformed` check come from the same code as [`inspect`]'s, so no
/// request, follow-up or unreadable message can take this shortcut.
pub fn inspect_export_mail(raw: &[u8], opts: &Options<'_>) -> Inspected {
    inspect_once(raw, opts, true, Depth::ExportMail, Reading::Split)
}

/// How far [`inspect_once`] goes with a message that is `other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Depth {
    Full,
    ExportMail,
}

/// One header field's value, unfolded when first read (the authentication
/// rule reads few of a long relay chain's `Received` values).
struct LazyValue<'m> {
    raw: &'m [u8],
    value: std::cell::OnceCell<String>,
}

impl AsRef<str> for LazyValue<'_> {
    fn as_ref(&self) -> &str {
        self.value.get_or_init(|| raw_value(self.raw))
    }
}

/// Whether the message is a multipart whose boundary mail-parser lost.
fn lost_boundary(msg: &mail_parser::Message<'_>) -> bool {
    msg.content_type().is_some_and(|ct| {
        ct.ctype().eq_ignore_ascii_case("multipart")
            && ct.attribute("boundary").is_none_or(|b| b.trim().is_empty())
    })
}

use steps::{
    body_of, date_of, field_bytes, mime_type, read_fields, sender, sender_warnings, subject_of,
    threading, unreadable,
};

/// How the header section reaches mail-parser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reading {
    /// Split by [`headers::plain`] first, when it can be: mail-parser gets
    /// only the fields it decodes.
    Split,
    /// mail-parser reads the whole message, as it came.
    Whole,
}

/// [`inspect`] (`export_mail`: [`inspect_export_mail`]) with mail-parser
/// reading the whole header section: the reference the split reading is
/// held to (`tests/intake_shortcut.rs`, `sync_bench --check-intake`).
#[doc(hidden)]
pub fn inspect_whole_header(raw: &[u8], opts: &Options<'_>, export_mail: bool) -> Inspected {
    let depth = if export_mail {
        Depth::ExportMail
    } else {
        Depth::Full
    };
    inspect_once(raw, opts, true, depth, Reading::Whole)
}

fn inspect_once(
    raw: &[u8],
    opts: &Options<'_>,
    may_repair: bool,
    depth: Depth,
    reading: Reading,
) -> Inspected {
    if reading == Reading::Split {
        if let Some(answer) = read_split(raw, opts, depth) {
            return answer;
        }
    }
    let parsed = PARSER
        .parse(raw)
        .filter(|m| !m.root_part().headers().is_empty());
    let Some(msg) = parsed else {
        return unreadable();
    };

    // A boundary folded where mail-parser cannot see it would lose the
    // body: read the message again with its Content-Type on one line.
    if may_repair && lost_boundary(&msg) {
        if let Some((fixed, guessed)) = repair::boundary(raw) {
            // A guessed repair is malformed: then the whole answer counts.
            let depth = if guessed { Depth::Full } else { depth };
            let mut i = inspect_once(&fixed, opts, false, depth, reading);
            if guessed {
                i.warnings.push(Warning::Malformed);
                i.warnings.sort();
                i.warnings.dedup();
            }
            return i;
        }
    }

    let raw_msg = msg.raw_message();
    let fields: Vec<headers::Field<'_>> = msg
        .root_part()
        .headers()
        .iter()
        .map(|h| (h.name().as_bytes(), field_bytes(raw_msg, h)))
        .collect();
    // NOTE: a From folded before its colon (`From\r\n : x`) is invisible
    // to mail-parser; the raw count catches it.
    let from_count = repair::count_fields(raw, "From");
    read_message(&msg, None, raw, (&fields, from_count), opts, depth)
}

/// [`inspect_once`]'s split reading (`headers::plain`), or `None` when the
/// message must be read the whole-header way.
///
/// mail-parser reads as little as gives the same answer: the head alone
/// for one text/plain part (`steps::single_text` makes the text); for a
/// multipart, the body up to the end of its first text part when that
/// settles the text (`first_text_complete`); else the whole body. Anything
/// unexpected (a field mail-parser read otherwise, a boundary to repair)
/// is read the whole-header way.
fn read_split(raw: &[u8], opts: &Options<'_>, depth: Depth) -> Option<Inspected> {
    let plain = headers::plain(raw)?;
    let fields = (&plain.fields[..], plain.from_count);
    let split_ok =
        |msg: &mail_parser::Message<'_>| plain.parsed_as_split(msg) && !lost_boundary(msg);
    if plain.may_be_single_text() {
        if let Some(msg) = PARSER.parse(plain.head()).filter(split_ok) {
            if let Some(text) = steps::single_text(&msg, plain.body()) {
                return Some(read_message(&msg, Some(text), raw, fields, opts, depth));
            }
        }
    }
    if let Some(cut) = plain.first_part_cut() {
        let short = plain.reduced_to(cut);
        if let Some(msg) = PARSER.parse(&short[..]).filter(split_ok) {
            if first_text_complete(&msg) {
                return Some(read_message(&msg, None, raw, fields, opts, depth));
            }
        }
    }
    let reduced = plain.reduced();
    let msg = PARSER.parse(&reduced[..]).filter(split_ok)?;
    Some(read_message(&msg, None, raw, fields, opts, depth))
}

/// Whether mail-parser's first text part (the body `body_of` reads) ended
/// at its boundary, so that no byte after it can change it.
///
/// NOTE: mail-parser reads a message front to back and only appends to
/// its list of text parts, so the first one it finished in a prefix of the
/// body is the first one of the whole body, byte for byte. A part whose
/// boundary it did not find is marked an encoding problem (and its text
/// runs to the end of what it was given): then the whole body is read. In
/// a big-headers sync this skips the HTML half of every
/// multipart/alternative and each attachment after the text (base64
/// mail-parser decodes and we drop).
fn first_text_complete(msg: &mail_parser::Message<'_>) -> bool {
    msg.text_body
        .first()
        .and_then(|&id| msg.parts.get(id as usize))
        .is_some_and(|p| !p.is_encoding_problem)
}

/// The answer from the parsed message `msg` (its body's text given apart
/// when mail-parser read only the head: `text`), the original bytes `raw`,
/// every header field in order and the number of `From` fields.
fn read_message(
    msg: &mail_parser::Message<'_>,
    text: Option<std::borrow::Cow<'_, str>>,
    raw: &[u8],
    (fields, from_count): (&[headers::Field<'_>], usize),
    opts: &Options<'_>,
    depth: Depth,
) -> Inspected {
    let mut clean = Cleaner::default();
    let mut warnings = Vec::new();
    let raw_msg = msg.raw_message();
    let read_values = read_fields(fields);
    let headers: Vec<(&str, &str)> = read_values.iter().map(|(n, v)| (*n, v.as_str())).collect();

    let sender = sender(msg, from_count, &mut clean, &mut warnings);
    let date = date_of(msg, &headers, &mut warnings);
    let (message_id, in_reply_to, references) = threading(msg, &mut clean);

    let subject = subject_of(msg, raw_msg, &mut clean);
    let body = body_of(msg, text, &mut clean);
    let ct_string = mime_type(msg, raw, opts, &mut warnings);

    let has_threading = in_reply_to.is_some() || !references.is_empty();
    let signals = classify::Signals {
        headers: &headers,
        from_addr: sender.from.as_deref(),
        subject: &subject,
        body: &body,
        content_type: ct_string.as_deref(),
        has_threading,
    };
    let (kind, unthreaded_kind) = classify::kinds(&signals);
    let mut out = Inspected {
        file: None,
        uid: None,
        message_id,
        date,
        from: None,
        from_name: None,
        reply_to: None,
        subject,
        kind,
        workspace: WorkspaceRef::default(),
        in_reply_to,
        references,
        auth: Auth::default(),
        warnings: Vec::new(),
        body,
        unthreaded_kind,
    };

    // The sync drops other mail unread unless it is malformed: stop here.
    if depth == Depth::ExportMail && kind == Kind::Other && !warnings.contains(&Warning::Malformed)
    {
        out.from = sender.from;
        out.from_name = sender.from_name;
        out.reply_to = sender.reply_to;
        return out;
    }

    // Authentication (RFC 8601): only our own server's verdict.
    // NOTE: names go as bytes: the rule compares them ASCII-case-blind.
    let all_fields = fields.iter().map(|&(name, raw)| {
        (
            name,
            LazyValue {
                raw,
                value: std::cell::OnceCell::new(),
            },
        )
    });
    out.auth = trusted_auth(
        all_fields,
        opts.authserv_id,
        sender.from.as_deref(),
        sender.several_from,
        &mut warnings,
    );
    sender_warnings(&sender, &headers, &mut warnings);

    // The workspace name comes from the already-sanitized subject or body.
    let (name, id) = classify::workspace(&out.subject, &out.body);
    out.workspace = WorkspaceRef { name, id };

    if clean.removed {
        warnings.push(Warning::ControlCharsRemoved);
    }
    warnings.sort();
    warnings.dedup();
    out.warnings = warnings;
    out.from = sender.from;
    out.from_name = sender.from_name;
    out.reply_to = sender.reply_to;
    out
}

/// The trusted verdict (see [`auth::evaluate_headers`]), with DMARC held to
/// the one From shown, and the warnings it calls for.
fn trusted_auth<N: AsRef<[u8]>, V: AsRef<str>>(
    all_fields: impl IntoIterator<Item = (N, V)>,
    authserv_id: &str,
    from: Option<&str>,
    several_from: bool,
    warnings: &mut Vec<Warning>,
) -> Auth {
    match auth::evaluate_headers(all_fields, authserv_id) {
        Some(mut a) => {
            // DMARC vouches for the domain it evaluated (RFC 7489 §3.1: the
            // RFC5322.From domain itself): it must be exactly the From domain
            // Concierge shows, and there must be only one From. NOTE: exact,
            // not aligned: `header.from=com` must not vouch for every .com.
            let domain_mismatch = match (&a.dmarc_domain, from) {
                (Some(d), Some(f)) => !d.eq_ignore_ascii_case(domain_of(f).trim_end_matches('.')),
                _ => false,
            };
            if a.dmarc == "pass" && (domain_mismatch || several_from) {
                a.dmarc = "fail".into();
            }
            for (result, w) in [
                (&a.dkim, Warning::DkimFail),
                (&a.spf, Warning::SpfFail),
                (&a.dmarc, Warning::DmarcFail),
            ] {
                if result != "pass" && result != "none" {
                    warnings.push(w);
                }
            }
            a
        }
        None => {
            warnings.push(Warning::AuthMissing);
            Auth::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(raw: &str) -> Inspected {
        inspect(raw.as_bytes(), &Options::default())
    }

    #[test]
    fn prefilled_request() {
        let i = run("From: Ada Owner <Owner@Acme.example>\r\nTo: hello@ochrehq.com\r\nSubject: Data export request: Acme Support\r\nMessage-ID: <req-1@acme.example>\r\nDate: Mon, 23 Nov 2026 10:14:05 +0100\r\nAuthentication-Results: mx.ochrehq.com; dkim=pass; spf=pass; dmarc=pass\r\n\r\nWorkspace: Acme Support\r\n");
        assert_eq!(i.kind, Kind::ExportRequest);
        assert_eq!(i.from.as_deref(), Some("owner@acme.example"));
        assert_eq!(i.from_name.as_deref(), Some("Ada Owner"));
        assert_eq!(i.message_id.as_deref(), Some("req-1@acme.example"));
        assert_eq!(
            i.date.map(crate::time::secs_text).as_deref(),
            Some("2026-11-23T09:14:05Z")
        );
        assert_eq!(i.workspace.name.as_deref(), Some("Acme Support"));
        assert!(i.warnings.is_empty(), "{:?}", i.warnings);
    }

    #[test]
    fn a_second_from_header_cannot_borrow_dmarc() {
        let i = run("From: attacker@evil.example\r\nFrom: Ada <owner@acme.example>\r\nAuthentication-Results: mx.ochrehq.com; dmarc=pass header.from=evil.example\r\nSubject: Data export request: Acme\r\n\r\nhi\r\n");
        assert_eq!(
            i.from.as_deref(),
            Some("attacker@evil.example"),
            "the first From is shown"
        );
        assert_eq!(i.auth.dmarc, "fail");
        assert!(
            i.warnings.contains(&Warning::Malformed) && i.warnings.contains(&Warning::DmarcFail)
        );
    }

    #[test]
    fn dmarc_for_another_domain_does_not_count() {
        let i = run("From: Ada <owner@acme.example>\r\nAuthentication-Results: mx.ochrehq.com; dmarc=pass header.from=evil.example\r\nSubject: x\r\n\r\nhi\r\n");
        assert_eq!(i.auth.dmarc, "fail");
        let i = run("From: Ada <owner@acme.example>\r\nAuthentication-Results: mx.ochrehq.com; dmarc=pass header.from=acme.example\r\nSubject: x\r\n\r\nhi\r\n");
        assert_eq!(i.auth.dmarc, "pass");
    }

    #[test]
    fn dmarc_header_from_is_compared_as_an_exact_domain() {
        let with = |hf: &str, from: &str| {
            run(&format!("Authentication-Results: mx.ochrehq.com; dmarc=pass header.from={hf}\r\nFrom: {from}\r\nSubject: x\r\n\r\nhi\r\n")).auth.dmarc
        };
        assert_eq!(
            with("com", "a@acme.com"),
            "fail",
            "a bare suffix vouches for nothing"
        );
        assert_eq!(with("example", "a@acme.example"), "fail");
        assert_eq!(with("mail.acme.example", "a@acme.example"), "fail");
        assert_eq!(with("acme.example", "a@mail.acme.example"), "fail");
        assert_eq!(with("Acme.Example", "a@acme.example"), "pass");
        assert_eq!(
            with("owner@acme.example", "Owner@acme.example"),
            "pass",
            "a full address is its domain"
        );
        assert_eq!(with("owner@evil.example", "a@acme.example"), "fail");
    }

    /// [`raw_value`] as it was (commit fcc29e6): the oracle.
    fn raw_value_before(raw: &[u8]) -> String {
        let s = String::from_utf8_lossy(raw);
        let mut out = String::with_capacity(s.len());
        for part in s.split(['\r', '\n']).map(str::trim) {
            if part.is_empty() {
                continue;
            }
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(part);
        }
        out
    }

    /// Header value bytes: folds, bare CR/LF, Unicode white space, controls,
    /// U+212A, invalid UTF-8 (a lone continuation, a cut sequence, 0xFF).
    fn hostile_bytes() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::prelude::*;
        let piece = prop_oneof![
            "[ -~]{0,10}".prop_map(String::into_bytes),
            proptest::sample::select(vec![
                &b"\r\n "[..],
                b"\r\n\t",
                b"\r",
                b"\n",
                b"\r\n",
                b"\t",
                b" ",
                b"\xc2\xa0",
                b"\xe2\x80\x83",
                b"\xe3\x80\x80",
                b"\xc2\x85",
                b"\xe2\x84\xaa",
                b"\x1b[31m",
                b"\x0b",
                b"\x0c",
                b"\0",
                b"\x80",
                b"\xc3",
                b"\xe2\x80",
                b"\xff",
                b"\xed\xa0\x80",
                b"\xc3\xa9",
            ])
            .prop_map(<[u8]>::to_vec),
            any::<u8>().prop_map(|b| vec![b]),
        ];
        proptest::collection::vec(piece, 0..20).prop_map(|v| v.concat())
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3000))]

        #[test]
        fn raw_value_is_the_oracles(raw in hostile_bytes()) {
            proptest::prop_assert_eq!(raw_value(&raw), raw_value_before(&raw));
        }

        #[test]
        fn cap_chars_is_truncate_chars(s in ".{0,40}", max in 0usize..30) {
            proptest::prop_assert_eq!(
                cap_chars(s.clone(), max),
                classify::truncate_chars(&s, max)
            );
        }
    }

    #[test]
    fn junk_is_malformed_other() {
        let i = inspect(&[0xff, 0x00, 0x1b, b'[', b'2', b'J'], &Options::default());
        assert_eq!(i.kind, Kind::Other);
        assert!(i.warnings.contains(&Warning::Malformed));
    }

    #[test]
    fn display_name_spoof_and_mismatches() {
        let i = run("From: \"ceo@globex.example\" <x@evil.example>\r\nReply-To: y@other.example\r\nReturn-Path: <b@bounce.evil.example>\r\nSubject: hi\r\n\r\nhello\r\n");
        assert!(i.warnings.contains(&Warning::DisplayNameMismatch));
        assert!(i.warnings.contains(&Warning::ReplyToMismatch));
        assert!(!i.warnings.contains(&Warning::ReturnPathMismatch));
        assert!(i.warnings.contains(&Warning::AuthMissing));
    }

    #[test]
    fn missing_closing_boundary_is_malformed_unless_truncated() {
        let raw = "From: a@acme.example\r\nSubject: x\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nhello\r\n";
        assert!(run(raw).warnings.contains(&Warning::Malformed));
        let t = inspect(
            raw.as_bytes(),
            &Options {
                truncated: true,
                ..Options::default()
            },
        );
        assert!(!t.warnings.contains(&Warning::Malformed));
    }
}

#[cfg(test)]
mod cut_tests {
    use super::*;

    /// Whether the split reading took the cut body (`read_split`'s second
    /// way) for `raw`.
    fn cut_taken(raw: &[u8]) -> bool {
        let Some(plain) = headers::plain(raw) else {
            return false;
        };
        let Some(cut) = plain.first_part_cut() else {
            return false;
        };
        let short = plain.reduced_to(cut);
        PARSER
            .parse(&short[..])
            .is_some_and(|m| plain.parsed_as_split(&m) && first_text_complete(&m))
    }

    #[test]
    fn a_multipart_read_up_to_its_first_text_answers_as_the_whole_message() {
        let head = "From: Ada <owner@acme.example>\r\nSubject: Data export request: Acme\r\nMessage-ID: <m@acme.example>\r\n";
        let text = "Workspace: Acme\r\nPlease send caf\u{e9} everything.\r\n";
        let html =
            "<html><body><p>Workspace: Globex</p><p>export all your data</p></body></html>\r\n";
        let b64 = "QUJD".repeat(400);
        // (Content-Type value, body, whether the cut is expected to be taken)
        let cases: Vec<(String, String, bool)> = vec![
            (
                "multipart/alternative; boundary=\"a1\"".into(),
                format!("--a1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}--a1\r\nContent-Type: text/html\r\n\r\n{html}--a1--\r\n"),
                true,
            ),
            (
                "multipart/mixed; boundary=m2".into(),
                format!("preamble\r\n--m2\r\nContent-Type: text/plain\r\n\r\n{text}--m2\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n{b64}\r\n--m2--\r\n"),
                true,
            ),
            (
                "multipart/mixed; boundary=\"outer\"".into(),
                format!("--outer\r\nContent-Type: multipart/alternative; boundary=\"inner\"\r\n\r\n--inner\r\nContent-Type: text/plain\r\n\r\n{text}--inner\r\nContent-Type: text/html\r\n\r\n{html}--inner--\r\n--outer\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\n{b64}\r\n--outer--\r\n"),
                true,
            ),
            // HTML first in an alternative: its text part comes after
            // the cut, so the whole body is read.
            (
                "multipart/alternative; boundary=h".into(),
                format!("--h\r\nContent-Type: text/html\r\n\r\n{html}--h\r\nContent-Type: text/plain\r\n\r\n{text}--h--\r\n"),
                false,
            ),
            // An attachment first: no text before the cut.
            (
                "multipart/mixed; boundary=z".into(),
                format!("--z\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n{b64}\r\n--z\r\nContent-Type: text/plain\r\n\r\n{text}--z--\r\n"),
                false,
            ),
            // The boundary inside a line, and a quoted-printable text.
            (
                "multipart/alternative; boundary=q".into(),
                format!("--q\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nsee --q there=\r\n and caf=C3=A9\r\n--q\r\nContent-Type: text/html\r\n\r\n{html}--q--\r\n"),
                true,
            ),
            // Base64 text, the boundary in another case in the header.
            (
                "Multipart/Alternative; BOUNDARY=\"b6\"".into(),
                format!("--b6\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\nV29ya3NwYWNlOiBBY21lCg==\r\n--b6\r\nContent-Type: text/html\r\n\r\n{html}--b6--\r\n"),
                true,
            ),
            // Never closed: the cut lands in the second part; still exact.
            (
                "multipart/alternative; boundary=u".into(),
                format!("--u\r\nContent-Type: text/plain\r\n\r\n{text}--u\r\nContent-Type: text/html\r\n\r\n{html}"),
                true,
            ),
            // Our guess of the boundary is wrong (two Content-Type fields).
            (
                "multipart/alternative; boundary=w1\r\nContent-Type: multipart/alternative; boundary=w2".into(),
                format!("--w2\r\nContent-Type: text/plain\r\n\r\n{text}--w2\r\nContent-Type: text/html\r\n\r\n{html}--w2--\r\n"),
                true,
            ),
        ];
        for (ct, body, taken) in cases {
            let raw = format!("{head}MIME-Version: 1.0\r\nContent-Type: {ct}\r\n\r\n{body}");
            let raw = raw.as_bytes();
            assert_eq!(cut_taken(raw), taken, "{ct}");
            for truncated in [false, true] {
                let opts = Options {
                    truncated,
                    ..Options::default()
                };
                assert_eq!(
                    inspect(raw, &opts),
                    inspect_whole_header(raw, &opts, false),
                    "{ct}"
                );
                assert_eq!(
                    inspect_export_mail(raw, &opts),
                    inspect_whole_header(raw, &opts, true),
                    "{ct}"
                );
            }
        }
    }
}

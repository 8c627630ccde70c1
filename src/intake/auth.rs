//! Authentication-Results (RFC 8601): which verdicts to believe.
//!
//! Two halves:
//! - [`parse`] reads one header value to the grammar of RFC 8601 §2.2:
//!   comments and folding whitespace (CFWS) may stand between any two
//!   tokens (`spf = fail`, `dkim (c) / 1 (c) = (c) fail`, a `dmarc=` folded
//!   before its result), quoted strings may hold `;` and `(`, and a broken
//!   result is skipped to the next `;` rather than taking its neighbours
//!   with it.
//! - [`evaluate_headers`] decides which headers count: anyone on the path
//!   can write an `Authentication-Results` header, so only those carrying
//!   our authserv-id count (RFC 8601 §5, §7.1), and of those only the
//!   contiguous block our own border added on top of the message. See
//!   [`evaluate_headers`] for the exact rule; README "How it reads mail"
//!   states it for operators.

use serde::Serialize;

/// The RFC 8601 result words (§2.7); anything else is read as `permerror`.
const RESULTS: [&str; 8] = [
    "pass",
    "fail",
    "softfail",
    "neutral",
    "none",
    "temperror",
    "permerror",
    "policy",
];

/// The trusted verdict per method.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Auth {
    pub dkim: String,
    pub spf: String,
    pub dmarc: String,
    /// The domain DMARC evaluated (`header.from=`, the domain part when it
    /// holds a full address), lowercased, when the result says.
    #[serde(skip)]
    pub dmarc_domain: Option<String>,
}

impl Default for Auth {
    fn default() -> Self {
        Auth {
            dkim: "none".into(),
            spf: "none".into(),
            dmarc: "none".into(),
            dmarc_domain: None,
        }
    }
}

/// One parsed `Authentication-Results` value.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Header {
    pub authserv_id: String,
    pub version: Option<String>,
    pub results: Vec<ResInfo>,
}

/// One `resinfo`: `method[/version]=result [reason=…] [ptype.property=value…]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResInfo {
    /// Lowercased method name (`dkim`, `spf`, `dmarc`, `x-tls`, …).
    pub method: String,
    pub method_version: Option<String>,
    /// Lowercased result word as written (may be outside [`RESULTS`]; empty
    /// when the result is missing).
    pub result: String,
    pub reason: Option<String>,
    pub props: Vec<Prop>,
}

/// A `propspec`: `ptype.property=value`, ptype and property lowercased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prop {
    pub ptype: String,
    pub property: String,
    pub value: String,
}

impl ResInfo {
    /// The value of `ptype.property`, if present.
    pub fn prop(&self, ptype: &str, property: &str) -> Option<&str> {
        self.props
            .iter()
            .find(|p| p.ptype == ptype && p.property == property)
            .map(|p| p.value.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok<'a> {
    Word(&'a str),
    Quoted(String),
    Semi,
    Eq,
    Dot,
    Slash,
    At,
}

/// Splits a value into tokens, dropping CFWS (RFC 5322 §3.2.2: comments nest
/// and take quoted-pairs). An unterminated comment or quoted string runs to
/// the end of the value.
fn lex(s: &str) -> Vec<Tok<'_>> {
    let mut toks = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            // NOTE: a stray `)` is skipped like whitespace; as a word
            // delimiter that starts no word it once looped forever (found
            // by the fuzz test, kept in `nothing_breaks_on_junk`).
            b' ' | b'\t' | b'\r' | b'\n' | b')' => i += 1,
            b'(' => {
                let mut depth = 0usize;
                while i < b.len() {
                    match b[i] {
                        b'\\' => i += 1,
                        b'(' => depth += 1,
                        b')' => {
                            depth -= 1;
                            if depth == 0 {
                                i += 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                    i += 1;
                }
            }
            b'"' => {
                let mut text = Vec::new();
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' && i + 1 < b.len() {
                        i += 1;
                    }
                    text.push(b[i]);
                    i += 1;
                }
                i += 1;
                toks.push(Tok::Quoted(String::from_utf8_lossy(&text).into_owned()));
            }
            b';' | b'=' | b'.' | b'/' | b'@' => {
                toks.push(match b[i] {
                    b';' => Tok::Semi,
                    b'=' => Tok::Eq,
                    b'.' => Tok::Dot,
                    b'/' => Tok::Slash,
                    _ => Tok::At,
                });
                i += 1;
            }
            _ => {
                let start = i;
                while i < b.len() && !b" \t\r\n()\";=./@".contains(&b[i]) {
                    i += 1;
                }
                // Only ASCII delimiters end a word, so `start..i` lies on
                // char boundaries.
                toks.push(Tok::Word(&s[start..i]));
            }
        }
    }
    toks
}

/// A cursor over one run of tokens.
struct Cursor<'t, 'a> {
    toks: &'t [Tok<'a>],
    at: usize,
}

impl<'a> Cursor<'_, 'a> {
    fn peek(&self) -> Option<&Tok<'a>> {
        self.toks.get(self.at)
    }

    fn peek_at(&self, n: usize) -> Option<&Tok<'a>> {
        self.toks.get(self.at + n)
    }

    fn word(&mut self) -> Option<&'a str> {
        match self.peek() {
            Some(Tok::Word(w)) => {
                let w = *w;
                self.at += 1;
                Some(w)
            }
            _ => None,
        }
    }

    fn eat(&mut self, t: &Tok<'_>) -> bool {
        let hit = self.peek() == Some(t);
        self.at += usize::from(hit);
        hit
    }

    /// `Word ("." Word)*`, joined back with dots.
    fn dotted(&mut self) -> Option<String> {
        let mut out = self.word()?.to_string();
        while self.peek() == Some(&Tok::Dot) && matches!(self.peek_at(1), Some(Tok::Word(_))) {
            self.at += 1;
            out.push('.');
            out.push_str(self.word().unwrap_or(""));
        }
        Some(out)
    }

    /// `value` (RFC 2045 token or quoted-string), or an address / domain
    /// (`pvalue`, RFC 8601 §2.2: `[[local-part] "@"] domain-name`).
    fn pvalue(&mut self) -> String {
        if let Some(Tok::Quoted(q)) = self.peek() {
            let q = q.clone();
            self.at += 1;
            return q;
        }
        let mut out = self.dotted().unwrap_or_default();
        if self.eat(&Tok::At) {
            out.push('@');
            out.push_str(&self.dotted().unwrap_or_default());
        }
        out
    }
}

/// Parses one `Authentication-Results` value; `None` when it has no
/// authserv-id. Tolerant: a result that breaks the grammar is skipped (to
/// the next `;`), the others still count.
pub fn parse(value: &str) -> Option<Header> {
    let toks = lex(value);
    let mut segments = toks.split(|t| *t == Tok::Semi);
    let head = segments.next()?;
    let mut c = Cursor { toks: head, at: 0 };
    let authserv_id = match c.peek()? {
        Tok::Quoted(q) => {
            let q = q.clone();
            c.at += 1;
            q
        }
        Tok::Word(_) => c.dotted()?,
        _ => return None,
    };
    let version = c
        .word()
        .filter(|w| w.bytes().all(|b| b.is_ascii_digit()))
        .map(str::to_string);
    let results = segments.filter_map(resinfo).collect();
    Some(Header {
        authserv_id,
        version,
        results,
    })
}

/// One `resinfo` between two `;`; `None` for `none` (no result) or junk.
fn resinfo(toks: &[Tok<'_>]) -> Option<ResInfo> {
    let mut c = Cursor { toks, at: 0 };
    let method = c.word()?.to_ascii_lowercase();
    let method_version = if c.eat(&Tok::Slash) {
        Some(c.word()?.to_string())
    } else {
        None
    };
    if !c.eat(&Tok::Eq) {
        return None;
    }
    let result = c.word().unwrap_or("").to_ascii_lowercase();
    let mut info = ResInfo {
        method,
        method_version,
        result,
        ..ResInfo::default()
    };
    while c.peek().is_some() {
        let Some(w) = c.word() else {
            c.at += 1; // a stray token: skip it
            continue;
        };
        if w.eq_ignore_ascii_case("reason") && c.eat(&Tok::Eq) {
            info.reason = Some(c.pvalue());
        } else if c.peek() == Some(&Tok::Dot) {
            c.at += 1;
            let Some(property) = c.word() else { continue };
            if c.eat(&Tok::Eq) {
                let value = c.pvalue();
                info.props.push(Prop {
                    ptype: w.to_ascii_lowercase(),
                    property: property.to_ascii_lowercase(),
                    value,
                });
            }
        }
    }
    Some(info)
}

/// The organisation domain our hosts live under: the authserv-id without
/// its first label when that leaves at least two (`mx.ochrehq.com` →
/// `ochrehq.com`), else the authserv-id itself.
fn our_domain(authserv_id: &str) -> String {
    let id = authserv_id.trim_end_matches('.').to_ascii_lowercase();
    match id.split_once('.') {
        Some((_, rest)) if rest.contains('.') => rest.to_string(),
        _ => id,
    }
}

/// Whether `host` is one of our hosts: under [`our_domain`] (`domain`,
/// lowercase), or the authserv-id itself (`localhost` too: a content
/// filter's re-injection).
// NOTE: compared in place, ASCII-case-blind (no lowercased copy per host):
// the same answer, since `domain` is ASCII-lowercase already.
fn is_ours(host: &str, authserv_id: &str, domain: &str) -> bool {
    let h = host.trim_end_matches('.').as_bytes();
    let d = domain.as_bytes();
    h.eq_ignore_ascii_case(d)
        || h.eq_ignore_ascii_case(authserv_id.as_bytes())
        || h.eq_ignore_ascii_case(b"localhost")
        || (h.len() > d.len()
            && h[h.len() - d.len()..].eq_ignore_ascii_case(d)
            && h[h.len() - d.len() - 1] == b'.')
}

/// A `Received` header (RFC 5321 §4.4): whether its `by` host is ours, and
/// whether every host named in its `from` clause (the HELO name and the
/// reverse-DNS name in the comment; IP literals aside) is ours. A missing
/// `from` clause (local submission) counts as ours.
///
/// The words are the value split at white space, `(`, `)` and `;`; the
/// `by` host is the word after the first `by`; the `from` clause is the
/// words after the first `from` up to the first `by`, when that `from`
/// comes first.
// NOTE: one pass over the words, none copied (it lowercased the value and
// collected its words: 8,300 instructions a message in a big-headers
// profile); `oracle` in the tests holds it to the old reading.
fn received(value: &str, authserv_id: &str, domain: &str) -> (bool, bool) {
    let mut words = value
        .split(|c: char| c.is_whitespace() || c == '(' || c == ')' || c == ';')
        .filter(|w| !w.is_empty());
    // `None` until the first `from`; then whether its hosts so far are ours.
    let mut from_ours: Option<bool> = None;
    let mut by_ours = false;
    while let Some(w) = words.next() {
        if w.eq_ignore_ascii_case("by") {
            by_ours = words
                .next()
                .is_some_and(|h| is_ours(h, authserv_id, domain));
            break;
        }
        match from_ours {
            None if w.eq_ignore_ascii_case("from") => from_ours = Some(true),
            Some(true) if !(w.starts_with('[') || w.parse::<std::net::IpAddr>().is_ok()) => {
                from_ours = Some(is_ours(w, authserv_id, domain));
            }
            _ => {}
        }
    }
    (by_ours, from_ours.unwrap_or(true))
}

/// The `d=` tag of a DKIM-Signature (RFC 6376 §3.5).
fn dkim_domain(value: &str) -> Option<&str> {
    value.split(';').find_map(|tag| {
        let (k, v) = tag.split_once('=')?;
        (k.trim() == "d").then(|| v.trim())
    })
}

/// Header fields a receiving border adds besides Received and
/// Authentication-Results (RFC 5322 §3.6.7 trace fields, RFC 7208 §9.1,
/// RFC 8617 ARC, common filters); they neither count nor end the block.
fn is_border_field(name: &[u8]) -> bool {
    const EXACT: [&str; 10] = [
        "return-path",
        "delivered-to",
        "x-original-to",
        "received-spf",
        "arc-seal",
        "arc-message-signature",
        "arc-authentication-results",
        "dkim-filter",
        "x-greylist",
        "x-envelope-from",
    ];
    const PREFIX: [&str; 4] = ["x-spam-", "x-virus-", "x-rspamd-", "x-amavis-"];
    // NOTE: compared in place (no lowercased copy): `eq_ignore_ascii_case`
    // rejects on length first, and all of these are ASCII.
    EXACT
        .iter()
        .any(|e| e.as_bytes().eq_ignore_ascii_case(name))
        || PREFIX.iter().any(|p| {
            name.get(..p.len())
                .is_some_and(|n| n.eq_ignore_ascii_case(p.as_bytes()))
        })
}

/// Folds results into one verdict: per method the topmost result, except
/// DKIM, where any passing signature counts (one result per signature).
#[derive(Default)]
struct Verdict {
    auth: Auth,
    seen: [bool; 3],
}

impl Verdict {
    /// One result of method `idx` (0 DKIM, 1 SPF, 2 DMARC): `result` one of
    /// [`RESULTS`], and for DMARC its `header.from` value.
    fn set(&mut self, idx: usize, result: &str, header_from: Option<&str>) {
        if self.seen[idx] && !(idx == 0 && result == "pass") {
            return;
        }
        self.seen[idx] = true;
        match idx {
            0 => self.auth.dkim = result.to_string(),
            1 => self.auth.spf = result.to_string(),
            _ => {
                self.auth.dmarc = result.to_string();
                self.auth.dmarc_domain = header_from.map(|v| {
                    let d = v.rsplit_once('@').map_or(v, |(_, d)| d);
                    d.trim_end_matches('.').to_ascii_lowercase()
                });
            }
        }
    }

    /// Adds one `Authentication-Results` value when it carries `trusted_id`
    /// (creating the verdict then): what `parse` and then the results of
    /// DKIM, SPF and DMARC would add, in order.
    // NOTE: read to the same grammar as [`parse`] (the same tokens, the same
    // `resinfo` steps) but nothing is kept that the verdict does not read:
    // no method, reason or property strings but DMARC's `header.from`.
    // Building the whole `Header` and dropping it was 15,500 instructions a
    // message in a big-headers profile. `oracle` in the tests holds it to
    // `parse` + the old `add`.
    fn add_value(verdict: &mut Option<Verdict>, value: &str, trusted_id: &str) {
        let toks = lex(value);
        let mut segments = toks.split(|t| *t == Tok::Semi);
        let Some(head) = segments.next() else { return };
        let mut c = Cursor { toks: head, at: 0 };
        let ours = match c.peek() {
            Some(Tok::Quoted(q)) => q.eq_ignore_ascii_case(trusted_id),
            Some(Tok::Word(_)) => c
                .dotted()
                .is_some_and(|id| id.eq_ignore_ascii_case(trusted_id)),
            _ => false,
        };
        if !ours {
            return;
        }
        let v = verdict.get_or_insert_with(Verdict::default);
        for seg in segments {
            let mut c = Cursor { toks: seg, at: 0 };
            let Some(method) = c.word() else { continue };
            let Some(idx) = ["dkim", "spf", "dmarc"]
                .iter()
                .position(|m| m.eq_ignore_ascii_case(method))
            else {
                continue;
            };
            if c.eat(&Tok::Slash) && c.word().is_none() {
                continue;
            }
            if !c.eat(&Tok::Eq) {
                continue;
            }
            let word = c.word().unwrap_or("");
            let result = RESULTS
                .iter()
                .find(|r| r.eq_ignore_ascii_case(word))
                .unwrap_or(&"permerror");
            let header_from = if idx == 2 { header_from(&mut c) } else { None };
            v.set(idx, result, header_from.as_deref());
        }
    }
}

/// The first `header.from` value of the rest of a `resinfo`, read as
/// [`resinfo`] reads its `reason` and properties.
fn header_from(c: &mut Cursor<'_, '_>) -> Option<String> {
    let mut found = None;
    while c.peek().is_some() {
        let Some(w) = c.word() else {
            c.at += 1;
            continue;
        };
        if w.eq_ignore_ascii_case("reason") && c.eat(&Tok::Eq) {
            c.pvalue();
        } else if c.peek() == Some(&Tok::Dot) {
            c.at += 1;
            let Some(property) = c.word() else { continue };
            if c.eat(&Tok::Eq) {
                let value = c.pvalue();
                if found.is_none()
                    && w.eq_ignore_ascii_case("header")
                    && property.eq_ignore_ascii_case("from")
                {
                    found = Some(value);
                }
            }
        }
    }
    found
}

/// The verdict from every header field of a message, topmost first (name,
/// unfolded value); `None` when no counted header carries `trusted_id`.
///
/// The rule (README "How it reads mail"):
/// 1. Only `Authentication-Results` with our authserv-id can count; every
///    other one is refused and passed over (it neither counts nor ends the
///    block, so adding one anywhere never changes the verdict).
/// 2. The block starts at the topmost header with our authserv-id: nothing
///    from outside can sit above what our border wrote.
/// 3. It runs down through what our border adds: more headers with our id
///    (separate DKIM/SPF/DMARC checkers), `Received` whose `by` host is ours,
///    a `DKIM-Signature` with `d=` ours, other trace fields
///    ([`is_border_field`]). It stops at the first other field, at a
///    `Received` by a host not ours, and at the first `Received` below the
///    one recording the hand-off from outside (its `from` not ours).
/// 4. Within the block: per method the topmost result; DKIM passes if any
///    signature passes.
// NOTE: a name is any `AsRef<[u8]>` (a `&str`, or the bytes the header
// split gives): making each name a `&str` first was a `from_utf8` per
// field, and a big-headers message has 329 fields a call here
// (docs/perf-sync.md, fourth round).
pub fn evaluate_headers<N: AsRef<[u8]>, V: AsRef<str>>(
    headers: impl IntoIterator<Item = (N, V)>,
    trusted_id: &str,
) -> Option<Auth> {
    let domain = our_domain(trusted_id);
    let mut verdict: Option<Verdict> = None;
    let mut handed_off = false;
    for (name, value) in headers {
        let name = name.as_ref();
        if name.eq_ignore_ascii_case(b"Authentication-Results") {
            Verdict::add_value(&mut verdict, value.as_ref(), trusted_id);
            continue;
        }
        let in_block = verdict.is_some();
        if name.eq_ignore_ascii_case(b"Received") {
            if handed_off && in_block {
                break;
            }
            // Above the block, once handed off, a `Received` changes
            // nothing: skip reading it (long relay chains are mostly these).
            if handed_off && !in_block {
                continue;
            }
            let (by_ours, from_ours) = received(value.as_ref(), trusted_id, &domain);
            if !by_ours && in_block {
                break;
            }
            handed_off |= !from_ours;
            continue;
        }
        if !in_block {
            continue;
        }
        let ours = if name.eq_ignore_ascii_case(b"DKIM-Signature") {
            dkim_domain(value.as_ref()).is_some_and(|d| is_ours(d, trusted_id, &domain))
        } else {
            is_border_field(name)
        };
        if !ours {
            break;
        }
    }
    verdict.map(|v| v.auth)
}

/// The verdict from the values of `Authentication-Results` headers alone,
/// topmost first (no other fields, so all of them form one block).
pub fn evaluate<'a>(headers: impl IntoIterator<Item = &'a str>, trusted_id: &str) -> Option<Auth> {
    evaluate_headers(
        headers.into_iter().map(|v| ("Authentication-Results", v)),
        trusted_id,
    )
}

#[cfg(test)]
#[path = "auth_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "auth_oracle.rs"]
mod oracle;

//! The steps of reading one message (see `inspect_once` in the parent):
//! the sender, the date, the threading headers, the subject, the body, the
//! MIME type and the sender warnings, each from mail-parser's view of the
//! message and sanitized on the way.

use super::*;
use std::borrow::Cow;

/// What a message that mail-parser cannot read at all comes out as.
pub(super) fn unreadable() -> Inspected {
    Inspected {
        file: None,
        uid: None,
        message_id: None,
        date: None,
        from: None,
        from_name: None,
        reply_to: None,
        subject: String::new(),
        kind: Kind::Other,
        workspace: WorkspaceRef::default(),
        in_reply_to: None,
        references: Vec::new(),
        auth: Auth::default(),
        warnings: vec![Warning::AuthMissing, Warning::Malformed],
        body: String::new(),
        unthreaded_kind: Kind::Other,
    }
}

/// The sender as shown: the first address of the first From header, its
/// name, the Reply-To, and whether there was more than one From.
pub(super) struct Sender {
    pub(super) from: Option<String>,
    pub(super) from_name: Option<String>,
    pub(super) reply_to: Option<String>,
    pub(super) several_from: bool,
}

/// From: the first address of the first From header. NOTE: mail-parser's
/// `from()` answers the *last* From header; a second From (or a second
/// address) is a classic spoof, so it is malformed and DMARC does not count.
/// `from_count` is the number of `From` fields in the raw header section.
pub(super) fn sender(
    msg: &mail_parser::Message<'_>,
    from_count: usize,
    clean: &mut Cleaner,
    warnings: &mut Vec<Warning>,
) -> Sender {
    let from_headers: Vec<&mail_parser::Address<'_>> = msg
        .header_values(mail_parser::HeaderName::From)
        .filter_map(|v| v.as_address())
        .collect();
    let several_from = from_headers.len() > 1
        || from_headers.first().is_some_and(|a| a.iter().count() > 1)
        || from_count > 1;
    if several_from {
        warnings.push(Warning::Malformed);
    }
    let from_addr = from_headers.first().and_then(|a| a.first());
    let from = from_addr
        .and_then(|a| a.address())
        .and_then(|a| clean.address(a));
    let from_name = clean.opt_line(from_addr.and_then(|a| a.name()));
    if from.is_none() {
        warnings.push(Warning::Malformed);
    }
    let reply_to = msg
        .reply_to()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .and_then(|a| clean.address(a));
    Sender {
        from,
        from_name,
        reply_to,
        several_from,
    }
}

/// The Date: our reader first (it knows `19:59 CST`, `-600`, `cst`), then
/// mail-parser's for whatever else it makes sense of; a Date nobody reads
/// is malformed.
pub(super) fn date_of(
    msg: &mail_parser::Message<'_>,
    headers: &[(&str, &str)],
    warnings: &mut Vec<Warning>,
) -> Option<DateTime<Utc>> {
    let date_raw = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("Date"))
        .map(|(_, v)| *v);
    let date = date_raw
        .and_then(date::parse)
        .or_else(|| {
            msg.date()
                .filter(|d| d.is_valid())
                .and_then(|d| DateTime::<Utc>::from_timestamp(d.to_timestamp(), 0))
        })
        .map(|t| t.with_nanosecond(0).unwrap_or(t));
    if date.is_none() && date_raw.is_some() {
        warnings.push(Warning::Malformed);
    }
    date
}

/// Message-ID, the first In-Reply-To and up to 100 References, sanitized.
pub(super) fn threading(
    msg: &mail_parser::Message<'_>,
    clean: &mut Cleaner,
) -> (Option<String>, Option<String>, Vec<String>) {
    let message_id = clean.opt_line(msg.message_id().map(strip_brackets).as_deref());
    let in_reply_to = id_list(msg.in_reply_to())
        .into_iter()
        .next()
        .map(|s| clean.line(&s))
        .filter(|s| !s.is_empty());
    let references: Vec<String> = id_list(msg.references())
        .iter()
        .map(|s| clean.line(s))
        .filter(|s| !s.is_empty())
        .take(100)
        .collect();
    (message_id, in_reply_to, references)
}

/// The body: the first text part (mail-parser renders HTML-only mail as
/// text), at most [`BODY_LIMIT`] bytes of it, sanitized.
// NOTE: mail-parser files a text part whose multipart never closes (a
// broken mail, or the prefix an IMAP partial fetch returns) under
// attachments; its text is still the body a person would read.
pub(super) fn body_of(
    msg: &mail_parser::Message<'_>,
    text: Option<Cow<'_, str>>,
    clean: &mut Cleaner,
) -> String {
    let body_raw = text.or_else(|| msg.body_text(0)).unwrap_or_else(|| {
        msg.parts
            .iter()
            .find_map(|p| match &p.body {
                mail_parser::PartType::Text(t) => Some(t.clone()),
                mail_parser::PartType::Html(h) => {
                    Some(mail_parser::decoders::html::html_to_text(h).into())
                }
                _ => None,
            })
            .unwrap_or_default()
    });
    let body_slice = if body_raw.len() > BODY_LIMIT {
        let mut end = BODY_LIMIT;
        while !body_raw.is_char_boundary(end) {
            end -= 1;
        }
        &body_raw[..end]
    } else {
        &body_raw[..]
    };
    clean.text(body_slice)
}

/// The text of a message that is one `text/plain` part, from its body's
/// bytes and mail-parser's reading of its head alone: what mail-parser's
/// `body_text(0)` gives for the whole message, or `None` when the message
/// is anything else.
///
/// NOTE: mail-parser reads such a part byte by byte to its end (no
/// boundary) and makes it text with `String::from_utf8_lossy`, whose
/// `Utf8Chunks` walk costs ~5 instructions a byte: 17,000 per message of
/// the big-headers shape, 10 % of inspect, with the walk to the end as much
/// again. `from_utf8` checks valid text a word at a time and gives the same
/// string. The rule is mail-parser 0.11's `parse_` for a top-level part:
/// no Content-Type, or type `text` and subtype `plain` as it reads them;
/// no base64 or quoted-printable transfer encoding; the charset's decoder
/// when mail-parser has one for it (it has none for UTF-8).
/// `tests/intake_shortcut.rs` holds this path to the whole-message reading.
pub(super) fn single_text<'b>(
    msg: &mail_parser::Message<'_>,
    body: &'b [u8],
) -> Option<Cow<'b, str>> {
    use mail_parser::{GetHeader, HeaderName};
    // The same lookups as `parse_`'s (the last field of a name counts).
    let headers = &msg.root_part().headers;
    let ct = headers
        .header_value(&HeaderName::ContentType)
        .and_then(|c| c.as_content_type());
    if ct.is_some_and(|c| c.ctype() != "text" || c.subtype() != Some("plain")) {
        return None;
    }
    if let Some(HeaderValue::Text(cte)) = headers.header_value(&HeaderName::ContentTransferEncoding)
    {
        if cte.eq_ignore_ascii_case("base64") || cte.eq_ignore_ascii_case("quoted-printable") {
            return None;
        }
    }
    let decoder = ct
        .and_then(|c| c.attribute("charset"))
        .and_then(|c| mail_parser::decoders::charsets::map::charset_decoder(c.as_bytes()));
    Some(match decoder {
        Some(decode) => Cow::Owned(decode(body)),
        None => match std::str::from_utf8(body) {
            Ok(s) => Cow::Borrowed(s),
            Err(_) => String::from_utf8_lossy(body),
        },
    })
}

/// The content type (`type/subtype`, lowercase); a multipart needs a
/// boundary, and (unless we only have a prefix of the message) its closing
/// delimiter (RFC 2046 §5.1.1).
// NOTE: the closing delimiter is searched for from the end, where RFC 2046
// puts it (only the epilogue follows it): `find` from the start walked the
// whole message, 7,600 instructions a multipart message of the big-headers
// shape. Either search answers whether it is there. The strings are built
// in place, not with `format!` (900 instructions a call).
pub(super) fn mime_type(
    msg: &mail_parser::Message<'_>,
    raw: &[u8],
    opts: &Options<'_>,
    warnings: &mut Vec<Warning>,
) -> Option<String> {
    let content_type = msg.content_type()?;
    if content_type.ctype().eq_ignore_ascii_case("multipart") {
        match content_type.attribute("boundary") {
            None => warnings.push(Warning::Malformed),
            Some(b) if !opts.truncated => {
                let mut closing = Vec::with_capacity(b.len() + 4);
                closing.extend_from_slice(b"--");
                closing.extend_from_slice(b.as_bytes());
                closing.extend_from_slice(b"--");
                if memchr::memmem::rfind(raw, &closing).is_none() {
                    warnings.push(Warning::Malformed);
                }
            }
            Some(_) => {}
        }
    }
    let (ctype, subtype) = (content_type.ctype(), content_type.subtype().unwrap_or(""));
    let mut out = String::with_capacity(ctype.len() + 1 + subtype.len());
    out.push_str(ctype);
    out.push('/');
    out.push_str(subtype);
    out.make_ascii_lowercase();
    Some(out)
}

/// Reply-To, Return-Path and a display name holding another address than
/// the sender's: each a warning when it points elsewhere.
pub(super) fn sender_warnings(
    sender: &Sender,
    headers: &[(&str, &str)],
    warnings: &mut Vec<Warning>,
) {
    let Some(from) = &sender.from else {
        return;
    };
    let fd = domain_of(from);
    if let Some(rt) = &sender.reply_to {
        if !aligned(domain_of(rt), fd) {
            warnings.push(Warning::ReplyToMismatch);
        }
    }
    let return_path = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("Return-Path"))
        .map(|(_, v)| *v);
    if let Some(rp) = return_path.and_then(bare_address) {
        if !aligned(domain_of(&rp), fd) {
            warnings.push(Warning::ReturnPathMismatch);
        }
    }
    if let Some(name) = &sender.from_name {
        if ADDR_IN_TEXT
            .find_iter(name)
            .any(|m| !m.as_str().eq_ignore_ascii_case(from))
        {
            warnings.push(Warning::DisplayNameMismatch);
        }
    }
}

/// The bytes of one header field in the parsed message.
pub(super) fn field_bytes<'a>(raw_msg: &'a [u8], h: &mail_parser::Header<'_>) -> &'a [u8] {
    let start = (h.offset_start() as usize).min(raw_msg.len());
    let end = (h.offset_end() as usize).clamp(start, raw_msg.len());
    &raw_msg[start..end]
}

/// The fields the classifier, the date and the sender warnings read, in
/// order, with their unfolded values.
// NOTE: only these are copied out, and their names are not (a 30 KB relay
// chain is a few hundred fields, most of them only passed over). The
// authentication rule reads all fields in order itself ([`trusted_auth`]),
// unfolding a value when it reads it: `Authentication-Results` is not
// among these (unfolding each here, for every message, was 4,400
// instructions per message of small-attachments, read by nothing).
pub(super) fn read_fields(fields: &[super::headers::Field<'_>]) -> Vec<(&'static str, String)> {
    const READ: [&str; 6] = [
        "Auto-Submitted",
        "X-Autoreply",
        "X-Autorespond",
        "Precedence",
        "Return-Path",
        "Date",
    ];
    // The rules compare names in any case: each is given in READ's spelling.
    fields
        .iter()
        .filter_map(|&(name, value)| {
            let n = READ
                .iter()
                .find(|n| n.as_bytes().eq_ignore_ascii_case(name))?;
            Some((*n, raw_value(value)))
        })
        .collect()
}

/// The subject, sanitized and capped at [`FIELD_LIMIT`] characters
/// (RFC 5322's line) by [`Cleaner::line`].
pub(super) fn subject_of(
    msg: &mail_parser::Message<'_>,
    raw_msg: &[u8],
    clean: &mut Cleaner,
) -> String {
    // A UTF-8 character split across two encoded words: join their bytes.
    let subject = match msg.subject() {
        Some(s) if s.contains('\u{fffd}') => msg
            .root_part()
            .headers()
            .iter()
            .find(|h| h.name().eq_ignore_ascii_case("Subject"))
            .and_then(|h| repair::split_utf8_words(&raw_value(field_bytes(raw_msg, h))))
            .unwrap_or_else(|| s.to_string()),
        s => s.unwrap_or("").to_string(),
    };
    clean.line(&subject)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// mail-parser's text for the whole message, as `body_of` reads it.
    fn whole(raw: &[u8]) -> Option<String> {
        let msg = PARSER.parse(raw)?;
        let found = msg.body_text(0).map(|t| t.into_owned());
        found.or_else(|| {
            msg.parts.iter().find_map(|p| match &p.body {
                mail_parser::PartType::Text(t) => Some(t.to_string()),
                _ => None,
            })
        })
    }

    /// `single_text` on the head parsed alone, when it takes the message.
    fn shortcut(raw: &[u8]) -> Option<String> {
        let plain = super::super::headers::plain(raw)?;
        let msg = PARSER.parse(plain.head())?;
        single_text(&msg, plain.body()).map(|t| t.into_owned())
    }

    /// `mime_type` on a whole message: the type and whether it was malformed.
    fn mime(raw: &str) -> (Option<String>, bool) {
        let msg = PARSER.parse(raw.as_bytes()).expect("parses");
        let mut warnings = Vec::new();
        let t = mime_type(&msg, raw.as_bytes(), &Options::default(), &mut warnings);
        (t, warnings.contains(&Warning::Malformed))
    }

    #[test]
    fn the_closing_delimiter_is_found_wherever_it_stands() {
        let head = "From: a@b.example\r\nContent-Type: Multipart/MIXED; boundary=\"b1\"\r\n\r\n";
        let part = "--b1\r\nContent-Type: text/plain\r\n\r\nhello\r\n";
        let ty = Some("multipart/mixed".to_string());
        // At the end, before an epilogue, only an opening one, none at all,
        // and a longer boundary's closing one (not ours).
        for (tail, malformed) in [
            ("--b1--\r\n", false),
            ("--b1--\r\nepilogue --b1 text\r\n--b1\r\n", false),
            ("--b1\r\n", true),
            ("", true),
            ("--b12--\r\n", true),
            ("--b1-\r\n-", true),
        ] {
            assert_eq!(
                mime(&format!("{head}{part}{tail}")),
                (ty.clone(), malformed),
                "{tail:?}"
            );
        }
        let plain = "From: a@b.example\r\nContent-Type: TEXT/Plain\u{212a}\r\n\r\nhi\r\n";
        assert_eq!(mime(plain), (Some("text/plain\u{212a}".to_string()), false));
        assert_eq!(mime("From: a@b.example\r\n\r\nhi\r\n"), (None, false));
    }

    #[test]
    fn a_single_text_part_reads_as_mail_parser_reads_the_whole_message() {
        let bodies: [&[u8]; 6] = [
            b"",
            b"plain words\r\n",
            b"caf\xc3\xa9 \xe2\x82\xac\r\nsecond line\r\n\r\n",
            b"broken \xc3( and \xff\xfe bytes\r\n",
            b"ends without CRLF",
            b"--b\r\nlooks like a part\r\n--b--\r\n",
        ];
        // (head, whether the shortcut takes it)
        let heads: [(&str, bool); 14] = [
            ("", true),
            ("Content-Type: text/plain\r\n", true),
            ("Content-Type: text/plain; charset=utf-8\r\n", true),
            ("Content-Type: text/plain; charset=\"UTF-8\"; format=flowed\r\n", true),
            ("Content-Type: text/plain; charset=iso-8859-1\r\n", true),
            ("Content-Type: text/plain; charset=koi8-r\r\n", true),
            ("Content-Type: text/plain; name=\"notes.txt\"\r\nContent-Disposition: attachment\r\n", true),
            ("Content-Type: text/plain\r\nContent-Transfer-Encoding: 8bit\r\n", true),
            ("Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n", false),
            ("Content-Transfer-Encoding: Quoted-Printable\r\n", false),
            ("Content-Type: text/html\r\n", false),
            ("Content-Type: TEXT/PLAIN\r\n", true),
            ("Content-Type: text/plainish\r\n", false),
            ("Content-Type: multipart/mixed; boundary=b\r\n", false),
        ];
        for (head, taken) in heads {
            for body in bodies {
                let mut raw = format!("From: a@b.example\r\nSubject: s\r\n{head}\r\n").into_bytes();
                raw.extend_from_slice(body);
                let got = shortcut(&raw);
                assert_eq!(got.is_some(), taken, "{head:?} {body:?}");
                if let Some(text) = got {
                    assert_eq!(Some(text), whole(&raw), "{head:?} {body:?}");
                }
            }
        }
    }
}

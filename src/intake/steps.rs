//! The steps of reading one message (see `inspect_once` in the parent):
//! the sender, the date, the threading headers, the subject, the body, the
//! MIME type and the sender warnings, each from mail-parser's view of the
//! message and sanitized on the way.

use super::*;

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
pub(super) fn body_of(msg: &mail_parser::Message<'_>, clean: &mut Cleaner) -> String {
    let body_raw = msg.body_text(0).unwrap_or_else(|| {
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

/// The content type (`type/subtype`, lowercase); a multipart needs a
/// boundary, and (unless we only have a prefix of the message) its closing
/// delimiter (RFC 2046 §5.1.1).
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
                let closing = format!("--{b}--");
                if !contains(raw, closing.as_bytes()) {
                    warnings.push(Warning::Malformed);
                }
            }
            Some(_) => {}
        }
    }
    Some(
        format!(
            "{}/{}",
            content_type.ctype(),
            content_type.subtype().unwrap_or("")
        )
        .to_ascii_lowercase(),
    )
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

/// The subject, sanitized and capped at 998 characters (RFC 5322's line).
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
    classify::truncate_chars(&clean.line(&subject), 998)
}

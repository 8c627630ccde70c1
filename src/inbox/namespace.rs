//! Finding the mailbox for copies of sent replies when `sent_mailbox` is not
//! configured: first the mailbox the server marks `\Sent` (SPECIAL-USE,
//! RFC 6154 §2), then a conventional name inside the personal namespace
//! (NAMESPACE, RFC 2342): Cyrus and Courier keep every personal mailbox
//! below `INBOX.` and refuse a top-level `Sent`, so theirs is `INBOX.Sent`.
//!
//! [`find_sent`] asks the server; the rest are pure functions over what it
//! answered.

use anyhow::{anyhow, Result};

/// The names tried inside the personal namespace, in order: what Thunderbird,
/// Outlook and Apple Mail create when the server marks none `\Sent`.
pub const CONVENTIONAL_SENT: [&str; 3] = ["Sent", "Sent Items", "Sent Messages"];

/// The sent mailbox (encoded name) of a logged-in session: the one marked
/// `\Sent`, else a [`CONVENTIONAL_SENT`] name in the personal namespace.
/// When neither exists, an error that says what was looked for — returned
/// before anything is flagged `\Answered`.
pub fn find_sent(
    session: &mut super::imap::Session,
    cfg: &crate::config::Connection,
    password: &crate::secret::Secret,
) -> Result<String> {
    let host = &cfg.host;
    let names = session.list(Some(""), Some("*"))?;
    let listed: Vec<(String, bool)> = names
        .iter()
        .map(|n| {
            let sent = n
                .attributes()
                .iter()
                .any(|a| matches!(a, imap_proto::NameAttribute::Sent));
            (n.name().to_string(), sent)
        })
        .collect();
    if let Some(found) = sent_mailbox(&listed) {
        return Ok(found);
    }
    // A second, short session: the `imap` crate cannot read a NAMESPACE
    // answer (imap-proto has no parser for it), the wire client can.
    let mut wire = super::imap::ImapSource::connect(cfg, password)?;
    let prefix = wire.personal_namespace()?;
    wire.logout();
    let all: Vec<String> = listed.into_iter().map(|(n, _)| n).collect();
    sent_in_namespace(&all, &prefix).ok_or_else(|| {
        let tried: Vec<String> = CONVENTIONAL_SENT
            .iter()
            .map(|n| format!("\"{}{n}\"", super::imap::clean(&prefix)))
            .collect();
        anyhow!(
            "IMAP server {host}: no mailbox for copies of replies: none is marked \\Sent \
             (RFC 6154 SPECIAL-USE) and none of {} exists in the personal namespace \
             (RFC 2342); nothing was flagged or filed. Set [imap] sent_mailbox",
            tried.join(", ")
        )
    })
}

/// The mailbox for copies of sent replies among LISTed (name, marked
/// `\Sent`) pairs: the one the server marks `\Sent` (RFC 6154 §2).
pub fn sent_mailbox(listed: &[(String, bool)]) -> Option<String> {
    listed
        .iter()
        .find(|(_, sent)| *sent)
        .map(|(name, _)| name.clone())
}

/// The first personal namespace's prefix from the data of a
/// `* NAMESPACE (("INBOX." ".")) NIL NIL` response (RFC 2342 §5), i.e. the
/// text after `NAMESPACE`. `None` when there is no personal namespace (NIL)
/// or the answer is not understood; the prefix of the form `""` is
/// `Some("")`. Literals (`{n}`) are not expected for a prefix and give
/// `None`.
pub fn personal_prefix(data: &str) -> Option<String> {
    let rest = data.trim_start();
    // personal = nil / "(" 1*( "(" string SP (quoted-char / nil) ")" ) ")"
    let rest = rest.strip_prefix('(')?.trim_start();
    let rest = rest.strip_prefix('(')?.trim_start();
    quoted(rest).map(|(s, _)| s)
}

/// Reads an IMAP quoted string (RFC 3501 §9 `quoted`) at the start of
/// `input`: its unescaped text and what follows it.
fn quoted(input: &str) -> Option<(String, &str)> {
    let mut chars = input.strip_prefix('"')?.char_indices();
    let mut out = String::new();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, &input[i + 2..])),
            '\\' => out.push(chars.next()?.1),
            '\r' | '\n' => return None,
            c => out.push(c),
        }
    }
    None
}

/// The sent mailbox inside the personal namespace `prefix` among the LISTed
/// (encoded) mailbox names: `{prefix}Sent`, then the other
/// [`CONVENTIONAL_SENT`] names. A name is compared exactly (mailbox names
/// are case-sensitive except INBOX, RFC 3501 §5.1).
pub fn sent_in_namespace(listed: &[String], prefix: &str) -> Option<String> {
    CONVENTIONAL_SENT.iter().find_map(|name| {
        let full = format!("{prefix}{}", super::mutf7::encode(name));
        listed.iter().find(|l| **l == full).cloned()
    })
}

/// The text of the NAMESPACE response line among a command's raw response
/// bytes (`* NAMESPACE …\r\n`), after the keyword.
pub fn namespace_data(raw: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(raw);
    text.lines().find_map(|l| {
        let l = l.trim_end_matches('\r');
        let rest = l.strip_prefix("* ")?;
        let (word, data) = rest.split_once(' ')?;
        word.eq_ignore_ascii_case("NAMESPACE")
            .then(|| data.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_personal_prefix_is_read_from_the_rfc_2342_examples() {
        // RFC 2342 §5, examples 5.1, 5.2 and 5.4 (and Cyrus's own answer).
        assert_eq!(
            personal_prefix(r#"(("" "/")) NIL NIL"#).as_deref(),
            Some("")
        );
        assert_eq!(personal_prefix(r#"NIL NIL (("" "."))"#), None);
        assert_eq!(
            personal_prefix(r#"(("" "/")) NIL (("Public Folders/" "/"))"#).as_deref(),
            Some("")
        );
        assert_eq!(
            personal_prefix(r#"(("INBOX." ".")) (("user." ".")) (("" "."))"#).as_deref(),
            Some("INBOX.")
        );
        // Several personal namespaces (example 5.6): the first one.
        assert_eq!(
            personal_prefix(r##"(("" "/")("#mh/" "/" "X-PARAM" ("FLAG1"))) NIL NIL"##).as_deref(),
            Some("")
        );
        // A quoted backslash and a NIL delimiter.
        assert_eq!(
            personal_prefix(r#"(("a\\b." NIL)) NIL NIL"#).as_deref(),
            Some("a\\b.")
        );
        for bad in ["", "(", "((", r#"(("INBOX."#, "((INBOX NIL))", "{5}"] {
            assert_eq!(personal_prefix(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_sent_mailbox_is_the_one_marked_sent_or_none() {
        let listed = vec![
            ("INBOX".to_string(), false),
            ("INBOX.Sent".to_string(), true),
            ("Sent".to_string(), false),
        ];
        assert_eq!(sent_mailbox(&listed).as_deref(), Some("INBOX.Sent"));
        // A folder merely called "Sent" is not taken for it.
        assert_eq!(sent_mailbox(&listed[2..]), None);
    }

    #[test]
    fn the_namespace_line_is_found_among_the_response_bytes() {
        let raw = b"* NAMESPACE ((\"INBOX.\" \".\")) NIL NIL\r\nA3 OK Completed\r\n";
        assert_eq!(
            namespace_data(raw).as_deref(),
            Some(r#"(("INBOX." ".")) NIL NIL"#)
        );
        assert_eq!(namespace_data(b"A3 NO not supported\r\n"), None);
    }

    #[test]
    fn the_sent_mailbox_is_a_conventional_name_inside_the_personal_namespace() {
        let listed: Vec<String> = ["INBOX", "INBOX.Drafts", "INBOX.Sent Items", "Sent"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            sent_in_namespace(&listed, "INBOX.").as_deref(),
            Some("INBOX.Sent Items")
        );
        // "Sent" comes first when both exist.
        let mut both = listed.clone();
        both.push("INBOX.Sent".into());
        assert_eq!(
            sent_in_namespace(&both, "INBOX.").as_deref(),
            Some("INBOX.Sent")
        );
        // Outside the namespace, or by another case: not taken.
        assert_eq!(sent_in_namespace(&listed[..2], "INBOX."), None);
        assert_eq!(sent_in_namespace(&["INBOX.sent".into()], "INBOX."), None);
        assert_eq!(sent_in_namespace(&listed, "").as_deref(), Some("Sent"));
    }
}

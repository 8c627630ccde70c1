//! Mailbox names outside ASCII: IMAP's modified UTF-7 (RFC 3501 §5.1.3).
//!
//! Printable ASCII stands for itself except `&`, which is `&-`; any other run
//! of characters is UTF-16BE in base64 with `,` for `/` and no padding,
//! between `&` and `-`. So `Anfragen/Überfällig` is `Anfragen/&ANw-berf&AOQ-llig`.
//! (No crate for this builds here without network; it is 40 lines.)

use base64::engine::{general_purpose::NO_PAD, GeneralPurpose};
use base64::{alphabet::Alphabet, Engine};

fn engine() -> GeneralPurpose {
    // RFC 3501 §5.1.3: RFC 2152's base64 with "," instead of "/".
    let alphabet =
        Alphabet::new("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,")
            .expect("a valid alphabet");
    GeneralPurpose::new(&alphabet, NO_PAD)
}

/// The name as the server wants it in a command.
pub fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut run: Vec<u16> = Vec::new();
    let flush = |run: &mut Vec<u16>, out: &mut String| {
        if run.is_empty() {
            return;
        }
        let bytes: Vec<u8> = run.iter().flat_map(|u| u.to_be_bytes()).collect();
        out.push('&');
        out.push_str(&engine().encode(bytes));
        out.push('-');
        run.clear();
    };
    for c in name.chars() {
        if (' '..='~').contains(&c) {
            flush(&mut run, &mut out);
            if c == '&' {
                out.push_str("&-");
            } else {
                out.push(c);
            }
        } else {
            let mut units = [0u16; 2];
            run.extend_from_slice(c.encode_utf16(&mut units));
        }
    }
    flush(&mut run, &mut out);
    out
}

/// A name the server sent (LIST), for people; `None` when it is not valid
/// modified UTF-7.
pub fn decode(name: &str) -> Option<String> {
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let end = after.find('-')?;
        if end == 0 {
            out.push('&');
        } else {
            let bytes = engine().decode(&after[..end]).ok()?;
            if bytes.len() % 2 != 0 {
                return None;
            }
            let units: Vec<u16> = bytes
                .chunks(2)
                .map(|p| u16::from_be_bytes([p[0], p[1]]))
                .collect();
            out.push_str(&String::from_utf16(&units).ok()?);
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_3501_examples() {
        // RFC 3501 §5.1.3's own example.
        assert_eq!(
            encode("~peter/mail/\u{53f0}\u{5317}/\u{65e5}\u{672c}\u{8a9e}"),
            "~peter/mail/&U,BTFw-/&ZeVnLIqe-"
        );
        assert_eq!(encode("INBOX"), "INBOX");
        assert_eq!(encode("R&D"), "R&-D");
        assert_eq!(encode("Anfragen/Überfällig"), "Anfragen/&ANw-berf&AOQ-llig");
        // Outside the BMP: a surrogate pair.
        assert_eq!(decode(&encode("Mail 📬")).as_deref(), Some("Mail 📬"));
    }

    #[test]
    fn decode_is_the_inverse_and_refuses_junk() {
        for name in ["INBOX", "R&D", "日本語/Entwürfe", "a&b&-c"] {
            assert_eq!(decode(&encode(name)).as_deref(), Some(name), "{name}");
        }
        assert_eq!(decode("&U,BTFw"), None); // no closing '-'
        assert_eq!(decode("&AA-"), None); // odd byte count
    }
}

//! Servers whose UIDVALIDITY is not stable: Courier-IMAP does not keep its
//! UID database on a read-only EXAMINE, so every poll sees a new UIDVALIDITY
//! and no UIDNEXT, and a UID-based sync would download the whole mailbox
//! each time (0.3 s and 5 MB per poll at 2,000 mails, growing).
//!
//! [`ValidityWatch`] detects it — no UIDNEXT in the EXAMINE answer (RFC 3501
//! §6.3.1 requires one), or a UIDVALIDITY that changed on two polls in a
//! row — and the source then lists the mailbox by Message-ID
//! ([`list_message_ids`], ~100 bytes a message); the sync fetches only the
//! messages whose Message-ID it has not seen (`seen` is kept in the store).

use super::wire::Wire;
use anyhow::Result;

/// What one EXAMINE told about UIDVALIDITY, remembered across polls of one
/// source.
#[derive(Debug, Default, Clone)]
pub struct ValidityWatch {
    changes_in_a_row: u32,
    unstable: bool,
}

impl ValidityWatch {
    /// Records one EXAMINE (`stored`: the UIDVALIDITY the sync position was
    /// taken under, if any). Returns true when the mailbox must be listed by
    /// Message-ID. Once unstable, the source stays so: a server that forgot
    /// its UIDs once will again.
    pub fn observe(&mut self, stored: Option<u32>, now: u32, uid_next: Option<u32>) -> bool {
        if stored.is_some_and(|s| s != now) {
            self.changes_in_a_row += 1;
        } else {
            self.changes_in_a_row = 0;
        }
        // NOTE: one change is legitimate (a mailbox rebuilt, RFC 3501
        // §2.3.1.1) and answered by one full listing; two in a row is a
        // server that does not keep UIDs.
        if uid_next.is_none() || self.changes_in_a_row >= 2 {
            self.unstable = true;
        }
        self.unstable
    }

    /// True once the fallback is in use.
    pub fn is_unstable(&self) -> bool {
        self.unstable
    }
}

/// Every message of the examined mailbox as (UID, Message-ID as the store
/// keys it), oldest first. A message without a readable Message-ID gets
/// `None` (it is fetched on every poll: rare, and never lost).
pub fn list_message_ids(wire: &mut Wire) -> Result<Vec<(u32, Option<String>)>> {
    use imap_proto::{AttributeValue, Response};
    let reply = wire.run(
        "UID FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])",
        "UID FETCH",
    )?;
    let mut out = Vec::new();
    for r in reply.responses()? {
        let Response::Fetch(_, attrs) = r else {
            continue;
        };
        let (mut uid, mut header) = (None, None);
        for a in attrs {
            match a {
                AttributeValue::Uid(u) => uid = Some(u),
                AttributeValue::BodySection { data, .. } => header = data,
                _ => {}
            }
        }
        if let Some(uid) = uid {
            out.push((uid, header.and_then(|h| message_id(&h))));
        }
    }
    out.sort_unstable_by_key(|(u, _)| *u);
    out.dedup_by_key(|(u, _)| *u);
    Ok(out)
}

/// The Message-ID of a header block, read exactly as intake reads it, so
/// that it matches the key the store keeps.
pub fn message_id(header: &[u8]) -> Option<String> {
    let mut raw = header.to_vec();
    raw.extend_from_slice(b"\r\n");
    let opts = crate::intake::Options {
        authserv_id: "",
        truncated: true,
    };
    crate::intake::inspect(&raw, &opts).message_id
}

/// The name under which a message listed by Message-ID is remembered as
/// seen (in the table that also holds Maildir names; the mailbox key keeps
/// the two apart).
pub fn seen_name(message_id: &str) -> String {
    format!("message-id:{message_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mailbox_without_uidnext_is_unstable_at_once() {
        let mut w = ValidityWatch::default();
        assert!(w.observe(None, 7, None));
        // …and stays so.
        assert!(w.observe(Some(7), 7, Some(3)));
    }

    #[test]
    fn one_uidvalidity_change_is_answered_by_a_full_listing_two_in_a_row_by_the_fallback() {
        let mut w = ValidityWatch::default();
        assert!(!w.observe(None, 1, Some(5)));
        assert!(!w.observe(Some(1), 1, Some(5)));
        assert!(!w.observe(Some(1), 2, Some(5)), "one change is legitimate");
        assert!(!w.observe(Some(2), 2, Some(6)));
        assert!(!w.observe(Some(2), 3, Some(6)), "not in a row");
        assert!(w.observe(Some(3), 4, Some(6)), "two in a row");
        assert!(w.is_unstable());
    }

    #[test]
    fn the_message_id_is_read_as_intake_reads_it() {
        assert_eq!(
            message_id(b"Message-ID: <a.b@example.com>\r\n").as_deref(),
            Some("a.b@example.com")
        );
        assert_eq!(
            message_id(b"message-id:\r\n  <folded@example.com>\r\n").as_deref(),
            Some("folded@example.com")
        );
        assert_eq!(message_id(b"\r\n"), None);
        assert_eq!(seen_name("x@y"), "message-id:x@y");
    }
}

//! Unread follow-ups: when each operator last opened a request, and when
//! the customer's follow-ups to it arrived.
//!
//! A follow-up is unread for an operator when it was stored after that
//! operator last opened the request (or the operator never opened it).
//! Auto-replies do not count: an out-of-office is not news to act on.
//!
//! NOTE: per operator, not per request: in a team store one operator
//! opening a request does not tell another that the customer wrote.
//! "After" is by the messages' row ids, not by time: a follow-up stored in
//! the same millisecond as the opening would otherwise count as read.

use super::db::params;
use super::Store;
use anyhow::Result;

/// What a request's view carries to tell which follow-ups are unread.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seen {
    /// The store's row ids of the customer's follow-ups, oldest first.
    pub follow_ups: Vec<i64>,
    /// (operator, the newest message row id of the thread when they last
    /// opened the request).
    pub by: Vec<(String, i64)>,
}

impl Seen {
    /// How many follow-ups `operator` has not seen.
    pub fn unread(&self, operator: &str) -> usize {
        let seen = self
            .by
            .iter()
            .find(|(o, _)| o == operator)
            .map(|(_, last)| *last);
        self.follow_ups
            .iter()
            .filter(|&&m| seen.is_none_or(|last| m > last))
            .count()
    }
}

impl Store {
    /// Records that `operator` opened request `id` now: its follow-ups so
    /// far are read.
    pub fn mark_seen(&mut self, id: i64, operator: &str) -> Result<()> {
        let last: i64 = self.conn.query_row(
            "SELECT COALESCE(MAX(id), 0) FROM messages WHERE request_id = ?1",
            params![id],
            |r| r.get(0),
        )?;
        self.conn.execute(
            "INSERT INTO seen (request_id, operator, last_message, seen_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (request_id, operator)
             DO UPDATE SET last_message = excluded.last_message, seen_at = excluded.seen_at",
            params![id, operator, last, super::now()],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intake::{inspect, Options};

    fn store(s: &mut Store, raw: &str) {
        let i = inspect(raw.as_bytes(), &Options::default());
        let key = i.store_key(raw.as_bytes());
        s.store_batch("INBOX", &[(i, key, None)], None).unwrap();
    }

    #[test]
    fn a_follow_up_is_unread_until_each_operator_opens_the_request() {
        let mut s = Store::in_memory().unwrap();
        store(&mut s, "From: owner@acme.example\r\nMessage-ID: <r1@acme.example>\r\nSubject: Data export request: Acme\r\n\r\nhi\r\n");
        assert_eq!(s.load_request(1).unwrap().seen.unread("sam"), 0);
        s.mark_seen(1, "sam").unwrap();
        store(&mut s, "From: owner@acme.example\r\nMessage-ID: <r2@acme.example>\r\nIn-Reply-To: <r1@acme.example>\r\nSubject: Re: Data export request: Acme\r\n\r\nAny news? We need it by Friday\r\n");
        // An out-of-office is not news.
        store(&mut s, "From: owner@acme.example\r\nMessage-ID: <r3@acme.example>\r\nIn-Reply-To: <r1@acme.example>\r\nAuto-Submitted: auto-replied\r\nSubject: Out of office\r\n\r\naway\r\n");
        let v = s.load_request(1).unwrap();
        assert_eq!(v.seen.unread("sam"), 1);
        assert_eq!(v.seen.unread("kim"), 1, "kim never opened it");
        s.mark_seen(1, "sam").unwrap();
        let v = s.load_requests().unwrap().pop().unwrap();
        assert_eq!(v.seen.unread("sam"), 0, "opened: read");
        assert_eq!(v.seen.unread("kim"), 1, "still unread for kim");
    }
}

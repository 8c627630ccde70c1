//! Mail sources: where export requests come from.
//!
//! A [`Source`] lists what is new since a [`Cursor`] and fetches it in
//! batches; the sync driver ([`crate::sync`]) inspects and stores. Two real
//! implementations: [`imap::ImapSource`] (incremental UID sync, read-only,
//! IDLE in [`crate::sync::Poller`]) and [`maildir::MaildirSource`] (the demo, and
//! anyone who mirrors the inbox with mbsync).

mod fetch;
pub mod filing;
pub mod idle_delay;
pub mod imap;
pub mod maildir;
pub mod mutf7;
pub mod namespace;
pub mod prefix;
pub mod shutdown;
pub mod transport;
pub mod unstable;
pub mod wire;

use crate::store::Cursor;
use anyhow::Result;

pub use prefix::{FETCH_PREFIX, MAX_HEADER};

/// Messages fetched per round trip (keeps memory flat for any mailbox size).
pub const BATCH: usize = 500;

/// One message to fetch: an IMAP UID or a Maildir file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MsgRef {
    Uid(u32),
    File(String),
}

/// What is new in the mailbox.
#[derive(Debug, Clone, Default)]
pub struct Listing {
    /// IMAP UIDVALIDITY, when the source has one.
    pub uidvalidity: Option<u32>,
    /// New messages, oldest first.
    pub refs: Vec<MsgRef>,
    /// (UID, Message-ID) of the listed messages when the server's UIDs
    /// cannot be trusted ([`unstable`]): the sync fetches only those whose
    /// Message-ID it has not seen. Empty otherwise.
    pub message_ids: Vec<(u32, String)>,
}

/// One fetched message, read by the rule in [`prefix`] (possibly only a
/// prefix of it).
#[derive(Debug, Clone)]
pub struct Fetched {
    pub r#ref: MsgRef,
    /// A path to show for Maildir messages.
    pub file: Option<String>,
    pub raw: Vec<u8>,
    pub truncated: bool,
}

/// `Send`, so a sync can fetch the next batch on one thread while the last
/// one is inspected and stored on another.
pub trait Source: Send {
    /// The key the sync state is stored under (e.g. `imap://user@host/INBOX`).
    fn mailbox_key(&self) -> String;
    /// Lists messages newer than `cursor`. An IMAP source whose UIDVALIDITY
    /// no longer matches the cursor lists everything (the store deduplicates).
    fn list_new(&mut self, cursor: Option<Cursor>) -> Result<Listing>;
    /// Fetches the given messages (at most [`BATCH`] at a time).
    fn fetch(&mut self, refs: &[MsgRef]) -> Result<Vec<Fetched>>;
    /// Fetches `chunks` in order, handing each batch to `sink` as soon as it
    /// is complete; stops after an error or when `sink` returns false. A
    /// source may overlap the batches (IMAP sends the next batch's command
    /// before reading this one's answer).
    fn fetch_each(
        &mut self,
        chunks: &[&[MsgRef]],
        sink: &mut dyn FnMut(Result<Vec<Fetched>>) -> bool,
    ) {
        for chunk in chunks {
            let batch = self.fetch(chunk);
            let failed = batch.is_err();
            if !sink(batch) || failed {
                return;
            }
        }
    }
}

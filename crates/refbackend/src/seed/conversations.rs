//! What the demo seeds per conversation: its messages (customer replies,
//! member answers, internal notes) and their attachments, small ones as
//! bytes and the large ones streamed by chunk.

use super::text::*;
use super::*;

impl Workspace {
    /// How many messages conversation `i` has.
    pub fn message_count(&self, i: u64) -> u32 {
        self.shape.msgs_min + (self.h(1, i, 0) % self.shape.msgs_span as u64) as u32
    }

    /// Who wrote message `j` of conversation `i`.
    pub fn message_kind(&self, i: u64, j: u32) -> MessageKind {
        if j == 0 {
            MessageKind::Customer
        } else if self.h(2, i, j as u64) % 10 == 0 {
            MessageKind::Note
        } else if j % 2 == 1 {
            MessageKind::Reply
        } else {
            MessageKind::Customer
        }
    }

    /// The attachment of message `j` of conversation `i`, if it has one.
    pub fn attachment(&self, i: u64, j: u32) -> Option<Attachment> {
        if let Some(k) = self
            .large_attachments
            .iter()
            .position(|l| l.conversation == i && l.message == j)
        {
            let l = &self.large_attachments[k];
            return Some(Attachment {
                id: l.id,
                filename: l.filename.clone(),
                content_type: l.content_type,
                size: l.size,
                large: Some(k),
                conversation: i,
                message: j,
            });
        }
        let h = self.h(3, i, j as u64);
        if h % self.shape.attachment_every != 0 {
            return None;
        }
        let size = 512 + (h >> 20) % 6_000;
        let (stem, ext, ct) =
            ATTACHMENT_KINDS[((h >> 40) % ATTACHMENT_KINDS.len() as u64) as usize];
        Some(Attachment {
            id: self.uuid("attachment", i, Some(j as u64)),
            filename: format!("{stem}-{i}-{j}.{ext}"),
            content_type: ct,
            size,
            large: None,
            conversation: i,
            message: j,
        })
    }

    /// Conversation `i` (`i < self.conversations()`).
    pub fn conversation(&self, i: u64) -> Conversation {
        let h = self.h(4, i, 0);
        let n = self.message_count(i);
        let span = (DATA_END - 40 * 86_400 - self.created_at).max(1) as u64;
        let created_at = self.created_at
            + ((i as u128 * span as u128) / self.shape.conversations as u128) as i64
            + (h % 1800) as i64;
        let mut t = created_at;
        for j in 1..n {
            t += self.message_gap(i, j);
        }
        let status = match h >> 8 & 0xff {
            0..=178 => "closed",
            179..=217 => "open",
            218..=242 => "pending",
            _ => "snoozed",
        };
        let assignee = if (h >> 16) % 10 == 0 {
            None
        } else {
            Some(((h >> 24) % self.members.len() as u64) as usize)
        };
        let mut tags = Vec::with_capacity(3);
        let tn = (h >> 32) % 4;
        for k in 0..tn {
            let tag = TAGS[((h >> (36 + 5 * k)) % TAGS.len() as u64) as usize];
            if !tags.contains(&tag) {
                tags.push(tag);
            }
        }
        let customer = self.h(5, i, 0) % self.shape.customers;
        Conversation {
            index: i,
            id: self.conversation_id(i),
            subject: subject(h),
            status,
            channel: CHANNELS[((h >> 48) % CHANNELS.len() as u64) as usize],
            priority: PRIORITIES[((h >> 52) % PRIORITIES.len() as u64) as usize],
            customer_id: self.customer_id(customer),
            assignee,
            tags,
            created_at,
            updated_at: t,
            closed_at: (status == "closed").then_some(t),
            message_count: n,
        }
    }

    fn message_gap(&self, i: u64, j: u32) -> i64 {
        60 + (self.h(6, i, j as u64) % 14_400) as i64
    }

    /// Calls `f` with every message of `conv`, in order. `body` is a scratch
    /// buffer the messages' texts are written into (no allocation per message).
    pub fn for_each_message(
        &self,
        conv: &Conversation,
        body: &mut String,
        mut f: impl FnMut(&Message<'_>),
    ) {
        let mut t = conv.created_at;
        let member_for = |j: u32| -> Uuid {
            match conv.assignee {
                Some(a) => self.members[a].id,
                None => {
                    let k = self.h(7, conv.index, j as u64) % self.members.len() as u64;
                    self.members[k as usize].id
                }
            }
        };
        for j in 0..conv.message_count {
            if j > 0 {
                t += self.message_gap(conv.index, j);
            }
            let kind = self.message_kind(conv.index, j);
            let author_id = match kind {
                MessageKind::Customer => conv.customer_id,
                MessageKind::Reply | MessageKind::Note => member_for(j),
            };
            body.clear();
            let mut rng = self.h(8, conv.index, j as u64);
            match kind {
                MessageKind::Customer => body.push_str("Hi, "),
                MessageKind::Reply => body.push_str("Hello, thanks for reaching out. "),
                MessageKind::Note => body.push_str("Internal: "),
            }
            let words = 14 + (rng % 40) as usize;
            write_text(body, &mut rng, words);
            f(&Message {
                id: self.uuid("message", conv.index, Some(j as u64)),
                conversation_id: conv.id,
                index: j,
                kind,
                author_id,
                body,
                created_at: t,
                attachment: self.attachment(conv.index, j),
            });
        }
    }

    /// The bytes of a small attachment (text, so that it compresses like real files).
    pub fn attachment_bytes(&self, a: &Attachment) -> Vec<u8> {
        let mut out = String::with_capacity(a.size as usize + 200);
        let mut rng = self.h(12, a.conversation, a.message as u64);
        let mut line = 1u32;
        while (out.len() as u64) < a.size {
            out.push_str(&format!("{line:05} "));
            write_text(&mut out, &mut rng, 10);
            out.push('\n');
            line += 1;
        }
        let mut b = out.into_bytes();
        b.truncate(a.size as usize);
        b
    }

    /// Fills `buf` with the bytes of large attachment `k` starting at
    /// `offset` (random-access, so a download can stream it).
    pub fn large_attachment_chunk(&self, k: usize, offset: u64, buf: &mut [u8]) {
        let l = &self.large_attachments[k];
        let key = u64::from_le_bytes(l.id.as_bytes()[..8].try_into().expect("16 bytes"));
        let mut pos = offset;
        let mut i = 0;
        while i < buf.len() {
            let word = mix(key ^ (pos / 8)).to_le_bytes();
            let start = (pos % 8) as usize;
            let n = (8 - start).min(buf.len() - i);
            buf[i..i + n].copy_from_slice(&word[start..start + n]);
            i += n;
            pos += n as u64;
        }
    }

    /// The SHA-256 (hex) of large attachment `k`, computed once.
    pub fn large_attachment_sha256(&self, k: usize) -> &str {
        let l = &self.large_attachments[k];
        l.sha256.get_or_init(|| {
            use sha2::{Digest, Sha256};
            let mut h = Sha256::new();
            let mut buf = vec![0u8; 1 << 16];
            let mut off = 0;
            while off < l.size {
                let n = (l.size - off).min(buf.len() as u64) as usize;
                self.large_attachment_chunk(k, off, &mut buf[..n]);
                h.update(&buf[..n]);
                off += n as u64;
            }
            hex::encode(h.finalize())
        })
    }
}

//! The sync's `UID FETCH`, read by hand: each message's bytes go straight
//! from the connection into that message's own buffer, the next batch's
//! command is sent before this batch's answer is read, and a message whose
//! header block outgrows the first read is read on in raw pieces until the
//! shared rule ([`super::prefix::cut`]) has what it keeps.
//!
//! NOTE: why by hand (the `imap` crate and `imap-proto` stay for every
//! other command): in a big-headers first sync (docs/perf-sync.md, third
//! round) the fetch thread spent 194 ms, of which 49 in memmove (a 30 MB
//! reply buffer grown by doubling, and each literal copied out of it), 13 in
//! memset (the buffer zero-filled before each literal was read into it)
//! and ~25 in imap-proto's parse of the whole reply. Here a literal is read
//! once into spare capacity, and only the short lines around it are parsed.
//!
//! The reads (RFC 3501 §6.4.5 partials, `BODY.PEEK`, so `\Seen` is never
//! set): first `BODY.PEEK[]<0.FETCH_PREFIX>` with `RFC822.SIZE` (64 KiB
//! while long headers are common: [`WIDE_READ`]); then, for a header block
//! longer than that, `BODY.PEEK[]<origin.len>` from where the last read
//! ended. NOTE: a raw partial costs Dovecot less than the header
//! section (`BODY.PEEK[HEADER]<…>` + `BODY.PEEK[TEXT]<…>` makes it parse the
//! header) — measured in docs/perf-sync.md, third round.

use super::prefix::{cut_scanned, Cut, Scan};
use super::wire::{Wire, WireError};
use super::{Fetched, MsgRef, FETCH_PREFIX, MAX_HEADER};
use std::collections::HashMap;

/// A read after the first: from where the last one ended, this many bytes
/// (at least). 48 KiB reaches byte 64 KiB: a 20–40 KB relay-chain header and
/// the 16 KiB of text after it, so one more read serves nearly every long
/// header (the bench's big-headers shape: all of them).
const NEXT_READ: usize = 48 * 1024;

/// The largest literal accepted for a body piece: no read asks for more.
const MAX_PIECE: usize = MAX_HEADER + FETCH_PREFIX;

/// The first read while long headers are common: what the first read and
/// one further read reach together, in one read.
///
/// NOTE: a further read from byte 16 KiB makes Dovecot count its way there
/// (`message_skip_virtual`, a byte loop converting LF to CRLF offsets):
/// 220 of its `imap` processes' 2,085 samples in a big-headers first sync,
/// and each long header cost one more command per batch. While at least
/// one message in [`WIDE_WHEN`] of the last batch had a long header, the
/// next batches read this much at once (docs/perf-sync.md, fifth round).
const WIDE_READ: usize = FETCH_PREFIX + NEXT_READ;

/// One message in this many with a header longer than the first read
/// (kept past [`FETCH_PREFIX`]) makes the next first reads wide.
const WIDE_WHEN: usize = 8;

/// One message being read.
#[derive(Default)]
struct Msg {
    /// RFC822.SIZE as the server reported it.
    size: Option<usize>,
    /// The message's first bytes, read so far.
    raw: Vec<u8>,
    /// Where the message ends, learnt from a read shorter than asked.
    end: Option<usize>,
    /// The read in flight: (origin, length).
    asked: Option<(usize, usize)>,
    /// Whether the first read came back (else the message is gone).
    seen: bool,
    /// The search for the end of the header so far.
    scan: Scan,
}

impl Msg {
    fn size(&self) -> usize {
        match (self.size, self.end) {
            (Some(s), Some(e)) => s.min(e),
            (s, e) => s.or(e).unwrap_or(usize::MAX),
        }
    }
}

/// [`Fetcher::run`] over two sessions of one mailbox at once: the even
/// batches on `a`, the odd ones on `b`, each session pipelined as alone;
/// `sink` gets every batch in order, and stops both by saying no (or on
/// the first error, which it gets in its place in the order). Whether
/// every batch went through (else `b` may be mid-answer: drop it).
pub(super) fn two_sessions(
    a: &mut Wire,
    b: &mut Wire,
    chunks: &[Vec<u32>],
    sink: &mut dyn FnMut(Result<Vec<Fetched>, WireError>) -> bool,
) -> bool {
    let take = |parity: usize| -> Vec<Vec<u32>> {
        chunks
            .iter()
            .enumerate()
            .filter(|(k, _)| k % 2 == parity)
            .map(|(_, c)| c.clone())
            .collect()
    };
    let (even, odd) = (take(0), take(1));
    std::thread::scope(|scope| {
        // One batch waiting per session bounds memory as with one session.
        let (tx_a, rx_a) = std::sync::mpsc::sync_channel(1);
        let (tx_b, rx_b) = std::sync::mpsc::sync_channel(1);
        scope.spawn(move || Fetcher::new(a).run(&even, &mut |batch| tx_a.send(batch).is_ok()));
        scope.spawn(move || Fetcher::new(b).run(&odd, &mut |batch| tx_b.send(batch).is_ok()));
        for k in 0..chunks.len() {
            let rx = if k % 2 == 0 { &rx_a } else { &rx_b };
            // A session ends early only after handing over its error.
            let Ok(batch) = rx.recv() else { return false };
            let failed = batch.is_err();
            if !sink(batch) || failed {
                return false;
            }
        }
        true
        // Dropping the receivers on the way out stops a session still
        // sending: its fetcher reads the answer in flight and returns.
    })
}

/// One command sent and not yet completed.
struct Sent {
    tag: String,
    uids: Vec<u32>,
    origin: usize,
}

/// The reader: messages in flight (at most two batches) by UID.
pub(super) struct Fetcher<'w> {
    wire: &'w mut Wire,
    msgs: HashMap<u32, Msg>,
    /// Tagged completions read but not yet waited for: tag → OK or the error.
    done: HashMap<String, Result<(), WireError>>,
    line: Vec<u8>,
    /// The first read's length: [`FETCH_PREFIX`], or [`WIDE_READ`] while
    /// long headers are common (learnt from each finished batch).
    first_len: usize,
}

impl<'w> Fetcher<'w> {
    pub(super) fn new(wire: &'w mut Wire) -> Self {
        Fetcher {
            wire,
            msgs: HashMap::new(),
            done: HashMap::new(),
            line: Vec::with_capacity(512),
            first_len: FETCH_PREFIX,
        }
    }

    /// Fetches `chunks` in order; each batch goes to `sink` as soon as it is
    /// complete, sorted by UID. Stops after an error or when `sink` says no.
    pub(super) fn run(
        &mut self,
        chunks: &[Vec<u32>],
        sink: &mut dyn FnMut(Result<Vec<Fetched>, WireError>) -> bool,
    ) {
        let mut next = match chunks.first() {
            Some(c) => self.first_read(c),
            None => return,
        };
        for (k, chunk) in chunks.iter().enumerate() {
            let batch = std::mem::replace(&mut next, Ok(None)).and_then(|cur| {
                // NOTE: the next batch's command goes out before this one's
                // answer is read, so the server never waits for a round trip.
                next = match chunks.get(k + 1) {
                    Some(c) => self.first_read(c),
                    None => Ok(None),
                };
                if let Some(cur) = cur {
                    self.wait(cur)?;
                }
                self.read_on(chunk)?;
                Ok(self.take(chunk))
            });
            if batch.is_err() {
                // The connection is in an unknown state: the caller drops it.
                sink(batch);
                return;
            }
            if !sink(batch) {
                // The next batch's command is in flight: read its answer, so
                // the connection is left between commands.
                if let Ok(Some(s)) = next {
                    let _ = self.wait(s);
                }
                return;
            }
        }
    }

    /// Sends the first read of `uids`.
    fn first_read(&mut self, uids: &[u32]) -> Result<Option<Sent>, WireError> {
        for &u in uids {
            self.msgs.insert(
                u,
                // NOTE: no buffer up front: the literal's size is known when
                // it comes, and a buffer of FETCH_PREFIX for every message
                // (most are a few KB) doubled the sync's peak RSS (mixed:
                // 19.6 → 41.9 MB).
                Msg {
                    asked: Some((0, self.first_len)),
                    ..Msg::default()
                },
            );
        }
        let len = self.first_len;
        self.send(uids, &format!("(UID RFC822.SIZE BODY.PEEK[]<0.{len}>)"), 0)
    }

    fn send(
        &mut self,
        uids: &[u32],
        items: &str,
        origin: usize,
    ) -> Result<Option<Sent>, WireError> {
        if uids.is_empty() {
            return Ok(None);
        }
        let command = format!("UID FETCH {} {items}", super::imap::uid_set(uids));
        let tag = self.wire.send_tagged(&command)?;
        Ok(Some(Sent {
            tag,
            uids: uids.to_vec(),
            origin,
        }))
    }

    /// Reads further pieces of the messages of `chunk` whose header the
    /// rule has not seen the end of, until none needs more.
    fn read_on(&mut self, chunk: &[u32]) -> Result<(), WireError> {
        // Each round reads at least NEXT_READ more bytes of each message
        // that needs more, and the rule needs at most MAX_PIECE: bounded.
        for _ in 0..=MAX_PIECE / NEXT_READ + 1 {
            let mut groups: HashMap<(usize, usize), Vec<u32>> = HashMap::new();
            for &u in chunk {
                let Some(m) = self.msgs.get_mut(&u) else {
                    continue;
                };
                let size = m.size();
                if let Cut::Need(n) = cut_scanned(&m.raw, size, &mut m.scan) {
                    let h = m.raw.len();
                    let len = (n - h).max(NEXT_READ).min(MAX_PIECE - h.min(MAX_PIECE));
                    m.asked = Some((h, len));
                    groups.entry((h, len)).or_default().push(u);
                }
            }
            if groups.is_empty() {
                return Ok(());
            }
            let mut sent = Vec::new();
            for ((origin, len), uids) in groups {
                let items = format!("(UID BODY.PEEK[]<{origin}.{len}>)");
                sent.extend(self.send(&uids, &items, origin)?);
            }
            for s in sent {
                self.wait(s)?;
            }
        }
        Err(WireError::Protocol(
            "a message's header kept growing".into(),
        ))
    }

    /// The finished batch: each message cut by the rule, sorted by UID.
    fn take(&mut self, chunk: &[u32]) -> Vec<Fetched> {
        let mut out = Vec::with_capacity(chunk.len());
        for u in chunk {
            let Some(mut m) = self.msgs.remove(u) else {
                continue;
            };
            if !m.seen {
                // Not returned by the server (expunged meanwhile): left out,
                // so the sync position stops before it.
                continue;
            }
            let size = m.size();
            let (len, truncated) = match cut_scanned(&m.raw, size, &mut m.scan) {
                Cut::Keep { len, truncated } => (len, truncated),
                // Only after a failed further read: what came, as it is.
                Cut::Need(_) => (m.raw.len(), true),
            };
            m.raw.truncate(len);
            // A further read may have brought more than the rule keeps.
            if m.raw.capacity() - len > 4096 {
                m.raw.shrink_to_fit();
            }
            let truncated = truncated || m.size.is_some_and(|s| s > len);
            out.push(Fetched {
                r#ref: MsgRef::Uid(*u),
                file: None,
                raw: m.raw,
                truncated,
            });
        }
        // Kept past the first 16 KiB only when the header ended past it.
        let long = out.iter().filter(|f| f.raw.len() > FETCH_PREFIX).count();
        self.first_len = if !out.is_empty() && long * WIDE_WHEN >= out.len() {
            WIDE_READ
        } else {
            FETCH_PREFIX
        };
        out.sort_by_key(|f| match f.r#ref {
            MsgRef::Uid(u) => u,
            MsgRef::File(_) => 0,
        });
        out
    }

    /// Reads responses until `sent` completes. A message it asked for that
    /// did not come back ends where it was (a further read) or is gone (a
    /// first read).
    fn wait(&mut self, sent: Sent) -> Result<(), WireError> {
        while !self.done.contains_key(&sent.tag) {
            self.read_response()?;
        }
        self.done.remove(&sent.tag).unwrap_or(Ok(()))?;
        for u in &sent.uids {
            if let Some(m) = self.msgs.get_mut(u) {
                if m.asked.is_some_and(|(o, _)| o == sent.origin) {
                    m.asked = None;
                    m.end = Some(m.raw.len());
                }
            }
        }
        Ok(())
    }

    /// Reads one response (with its literals) and files what it carries.
    fn read_response(&mut self) -> Result<(), WireError> {
        self.wire.next_line(&mut self.line)?;
        if self.line.starts_with(b"* ") {
            return self.untagged();
        }
        if self.line.starts_with(b"+") {
            return Err(WireError::Protocol("unexpected continuation".into()));
        }
        let line = String::from_utf8_lossy(&self.line).into_owned();
        let (tag, rest) = line.split_once(' ').unwrap_or((&line, ""));
        let word = rest.split([' ', '\r', '\n']).next().unwrap_or("");
        let status = if word.eq_ignore_ascii_case("OK") {
            Ok(())
        } else {
            let no = word.eq_ignore_ascii_case("NO");
            Err(WireError::Refused {
                command: "UID FETCH".into(),
                text: super::transport::clean(rest.trim_end()),
                no,
            })
        };
        self.done.insert(tag.to_string(), status);
        Ok(())
    }

    /// An untagged response: a FETCH is filed, BYE is an error, anything
    /// else is skipped (with its literals).
    fn untagged(&mut self) -> Result<(), WireError> {
        let mut p = Line::new(&self.line, 2);
        if p.atom().eq_ignore_ascii_case(b"BYE") {
            let text = String::from_utf8_lossy(&self.line[5..]).into_owned();
            return Err(WireError::Bye(super::transport::clean(text.trim_end())));
        }
        let is_fetch = p.space() && p.atom().eq_ignore_ascii_case(b"FETCH") && p.space();
        if is_fetch && p.eat(b'(') {
            let at = p.at;
            return self.fetch_items(at);
        }
        // Not ours: skip the literals the line announces.
        while let Some(n) = super::wire::literal_len(&self.line) {
            self.wire.skip_literal(n)?;
            self.wire.next_line(&mut self.line)?;
        }
        Ok(())
    }

    /// The items of `* n FETCH (…)`, from `at` in the current line.
    fn fetch_items(&mut self, mut at: usize) -> Result<(), WireError> {
        let (mut uid, mut size, mut body) = (None, None, None::<(usize, Vec<u8>)>);
        loop {
            let mut p = Line::new(&self.line, at);
            p.skip_spaces();
            if p.eat(b')') || p.rest().is_empty() {
                break;
            }
            let name = p.name().to_ascii_uppercase();
            p.skip_spaces();
            if name == b"UID" {
                uid = p.number().and_then(|n| u32::try_from(n).ok());
            } else if name == b"RFC822.SIZE" {
                size = p.number();
            } else if let Some(origin) = body_origin(&name) {
                // A literal at the end of the line, a quoted string or NIL.
                if let Some(n) = p.literal() {
                    if n > MAX_PIECE {
                        return Err(WireError::Protocol("a fetched piece is too large".into()));
                    }
                    let data = self.literal_into(uid, origin, n)?;
                    body = data.map(|d| (origin, d));
                    at = 0;
                    continue;
                }
                body = Some((origin, p.quoted_or_nil()));
            } else if !p.skip_value() {
                // A literal inside an item we do not read: skip it.
                match p.literal() {
                    Some(n) => {
                        self.wire.skip_literal(n)?;
                        self.wire.next_line(&mut self.line)?;
                        at = 0;
                        continue;
                    }
                    None => return Err(WireError::Protocol("unreadable FETCH item".into())),
                }
            }
            if p.at == at {
                return Err(WireError::Protocol("unreadable FETCH item".into()));
            }
            at = p.at;
        }
        let Some(uid) = uid else { return Ok(()) };
        if let Some(m) = self.msgs.get_mut(&uid) {
            if size.is_some() {
                m.size = size;
            }
            if let Some((origin, data)) = body {
                file_piece(m, origin, data);
            }
        }
        Ok(())
    }

    /// Reads a literal of `n` bytes: straight onto the end of its message's
    /// buffer when the UID came first and the piece continues the buffer
    /// (returns `None`), else into a buffer of its own.
    fn literal_into(
        &mut self,
        uid: Option<u32>,
        origin: usize,
        n: usize,
    ) -> Result<Option<Vec<u8>>, WireError> {
        let target = uid.and_then(|u| self.msgs.get_mut(&u));
        let out = match target {
            Some(m) if m.raw.len() == origin && m.asked.is_some_and(|(o, _)| o == origin) => {
                self.wire.read_literal(n, &mut m.raw)?;
                m.seen = true;
                let (_, len) = m.asked.take().unwrap_or((origin, n));
                if n < len {
                    m.end = Some(origin + n);
                }
                None
            }
            _ => {
                let mut v = Vec::new();
                self.wire.read_literal(n, &mut v)?;
                Some(v)
            }
        };
        self.wire.next_line(&mut self.line)?;
        Ok(out)
    }
}

/// Files a piece read apart from its message (UID after the data, or a
/// quoted string): appended when it continues the buffer.
fn file_piece(m: &mut Msg, origin: usize, data: Vec<u8>) {
    let Some((o, len)) = m.asked else { return };
    if o != origin || m.raw.len() != origin {
        return;
    }
    m.seen = true;
    m.asked = None;
    if data.len() < len {
        m.end = Some(origin + data.len());
    }
    if m.raw.is_empty() {
        m.raw = data;
    } else {
        m.raw.extend_from_slice(&data);
    }
}

/// The origin of a `BODY[]<origin>` item name (0 without one); `None` for
/// any other item, a section included (we ask for none).
fn body_origin(name: &[u8]) -> Option<usize> {
    let rest = name.strip_prefix(b"BODY[]")?;
    if rest.is_empty() {
        return Some(0);
    }
    let digits = rest.strip_prefix(b"<")?.strip_suffix(b">")?;
    if digits.is_empty() || digits.len() > 12 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// A cursor over one response line (RFC 3501 §9 syntax, what FETCH needs).
struct Line<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Line<'a> {
    fn new(b: &'a [u8], at: usize) -> Self {
        Line {
            b,
            at: at.min(b.len()),
        }
    }

    fn rest(&self) -> &'a [u8] {
        let r = &self.b[self.at..];
        r.strip_suffix(b"\r\n")
            .or_else(|| r.strip_suffix(b"\n"))
            .unwrap_or(r)
    }

    fn eat(&mut self, c: u8) -> bool {
        let hit = self.rest().first() == Some(&c);
        self.at += usize::from(hit);
        hit
    }

    fn space(&mut self) -> bool {
        self.eat(b' ')
    }

    fn skip_spaces(&mut self) {
        while self.eat(b' ') {}
    }

    /// An atom (up to a space, a bracket or a parenthesis).
    fn atom(&mut self) -> &'a [u8] {
        let r = self.rest();
        let n = r
            .iter()
            .position(|&c| matches!(c, b' ' | b'(' | b')' | b'[' | b']' | b'{' | b'"'))
            .unwrap_or(r.len());
        self.at += n;
        &r[..n]
    }

    /// An item name: an atom with its `[section]` (spaces allowed inside)
    /// and `<origin>`.
    fn name(&mut self) -> &'a [u8] {
        let r = self.rest();
        let mut depth = 0usize;
        let mut n = 0;
        while n < r.len() {
            match r[n] {
                b'[' => depth += 1,
                b']' => depth = depth.saturating_sub(1),
                b' ' | b'(' | b')' | b'{' | b'"' if depth == 0 => break,
                _ => {}
            }
            n += 1;
        }
        self.at += n;
        &r[..n]
    }

    fn number(&mut self) -> Option<usize> {
        let a = self.atom();
        if a.is_empty() || a.len() > 19 || !a.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(a).ok()?.parse().ok()
    }

    /// `{n}` (or `{n+}`) ending the line: its size.
    fn literal(&mut self) -> Option<usize> {
        let r = self.rest();
        if r.first() != Some(&b'{') || r.last() != Some(&b'}') {
            return None;
        }
        let digits = &r[1..r.len() - 1];
        let digits = digits.strip_suffix(b"+").unwrap_or(digits);
        if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.at = self.b.len();
        std::str::from_utf8(digits).ok()?.parse().ok()
    }

    /// A quoted string's bytes (RFC 3501 §4.3 escapes), or empty for NIL or
    /// anything else.
    fn quoted_or_nil(&mut self) -> Vec<u8> {
        if !self.eat(b'"') {
            self.atom();
            return Vec::new();
        }
        let r = self.rest();
        let mut out = Vec::new();
        let mut i = 0;
        while i < r.len() && r[i] != b'"' {
            if r[i] == b'\\' && i + 1 < r.len() {
                i += 1;
            }
            out.push(r[i]);
            i += 1;
        }
        self.at += (i + 1).min(r.len());
        out
    }

    /// Skips one value we do not read: an atom, a number, NIL, a quoted
    /// string or a parenthesized list. False at a literal.
    fn skip_value(&mut self) -> bool {
        let mut depth = 0usize;
        loop {
            match self.rest().first() {
                None => return depth == 0,
                Some(b'{') => return false,
                Some(b'(') => {
                    self.at += 1;
                    depth += 1;
                }
                Some(b')') if depth > 0 => {
                    self.at += 1;
                    depth -= 1;
                }
                Some(b')') => return true,
                Some(b' ') if depth > 0 => self.at += 1,
                Some(b'"') => {
                    self.quoted_or_nil();
                }
                Some(_) => {
                    self.name();
                }
            }
            if depth == 0 {
                return true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Server bytes fed to the reader (its parse, not a server: the real
    /// servers are tests/fetch_prefix.rs's); what it sends is kept.
    struct Scripted {
        input: std::io::Cursor<Vec<u8>>,
        sent: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
        read_yet: bool,
    }

    impl std::io::Read for Scripted {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            // Marks, among what was sent, when the first answer was read.
            if !self.read_yet {
                self.read_yet = true;
                self.sent.lock().unwrap().extend_from_slice(b"<read>");
            }
            self.input.read(buf)
        }
    }

    impl std::io::Write for Scripted {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.sent.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl super::super::wire::Stream for Scripted {
        fn set_read_timeout(&self, _: Option<std::time::Duration>) -> std::io::Result<()> {
            Ok(())
        }
    }

    type Batches = Vec<Result<Vec<Fetched>, WireError>>;

    fn fetch_scripted(server: &[u8], chunks: &[Vec<u32>]) -> (Batches, String) {
        let sent = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let stream = Scripted {
            input: std::io::Cursor::new(server.to_vec()),
            sent: sent.clone(),
            read_yet: false,
        };
        let mut wire = Wire::new(Box::new(stream));
        let mut out = Vec::new();
        Fetcher::new(&mut wire).run(chunks, &mut |b| {
            out.push(b);
            true
        });
        let sent = String::from_utf8(sent.lock().unwrap().clone()).unwrap();
        (out, sent)
    }

    #[test]
    fn answers_in_any_item_order_are_read() {
        let server = b"* 1 FETCH (BODY[]<0> {5}\r\nhello UID 1 RFC822.SIZE 5)\r\n\
* 2 FETCH (UID 2 FLAGS (\\Seen) RFC822.SIZE 3 BODY[]<0> \"a\\\"b\")\r\n\
* 7 EXISTS\r\n\
* 9 FETCH (FLAGS (\\Deleted))\r\n\
c1 OK done\r\n\
* 3 FETCH (UID 3 RFC822.SIZE 0 BODY[]<0> NIL)\r\n\
c2 OK done\r\n";
        let (batches, sent) = fetch_scripted(server, &[vec![1, 2], vec![3, 4]]);
        // Both commands went out before any answer was read.
        assert_eq!(
            sent,
            "c1 UID FETCH 1:2 (UID RFC822.SIZE BODY.PEEK[]<0.16384>)\r\n\
             c2 UID FETCH 3:4 (UID RFC822.SIZE BODY.PEEK[]<0.16384>)\r\n<read>"
        );
        let got: Vec<Vec<(u32, Vec<u8>, bool)>> = batches
            .into_iter()
            .map(|b| {
                b.unwrap()
                    .into_iter()
                    .map(|f| match f.r#ref {
                        MsgRef::Uid(u) => (u, f.raw, f.truncated),
                        MsgRef::File(_) => unreachable!(),
                    })
                    .collect()
            })
            .collect();
        // UID 4 never came back: left out (the sync position stops there).
        assert_eq!(
            got,
            vec![
                vec![(1, b"hello".to_vec(), false), (2, b"a\"b".to_vec(), false)],
                vec![(3, Vec::new(), false)],
            ]
        );
    }

    #[test]
    fn long_headers_make_the_next_first_reads_wide_and_short_ones_narrow() {
        // UID 1: a 18,000-byte header, past the first read.
        let mut long = Vec::new();
        while long.len() < 18_000 {
            long.extend_from_slice(b"Received: from relay.example by mx.example\r\n");
        }
        long.extend_from_slice(b"\r\nthe text\r\n");
        let (head, rest) = long.split_at(FETCH_PREFIX);
        let size = long.len();
        let mut server =
            format!("* 1 FETCH (UID 1 RFC822.SIZE {size} BODY[]<0> {{{FETCH_PREFIX}}}\r\n")
                .into_bytes();
        server.extend_from_slice(head);
        server.extend_from_slice(b")\r\nc1 OK done\r\n");
        // UID 2's answer (sent before UID 1's further read) comes first.
        server.extend_from_slice(
            b"* 2 FETCH (UID 2 RFC822.SIZE 2 BODY[]<0> {2}\r\nhi)\r\nc2 OK done\r\n",
        );
        server.extend_from_slice(
            format!("* 1 FETCH (UID 1 BODY[]<16384> {{{}}}\r\n", rest.len()).as_bytes(),
        );
        server.extend_from_slice(rest);
        server.extend_from_slice(b")\r\nc3 OK done\r\n");
        server.extend_from_slice(
            b"* 3 FETCH (UID 3 RFC822.SIZE 2 BODY[]<0> {2}\r\nho)\r\nc4 OK done\r\n",
        );
        server.extend_from_slice(
            b"* 4 FETCH (UID 4 RFC822.SIZE 2 BODY[]<0> {2}\r\nhu)\r\nc5 OK done\r\n",
        );
        let (batches, sent) = fetch_scripted(&server, &[vec![1], vec![2], vec![3], vec![4]]);
        let got: Vec<Vec<u8>> = batches
            .into_iter()
            .flat_map(|b| b.unwrap().into_iter().map(|f| f.raw))
            .collect();
        assert_eq!(
            got,
            vec![long.clone(), b"hi".to_vec(), b"ho".to_vec(), b"hu".to_vec()]
        );
        // Batch 2's read went out before batch 1 was read; batch 3's after
        // batch 1 (all long headers): wide; batch 4's after batch 2 (none):
        // narrow again.
        assert_eq!(
            sent,
            "c1 UID FETCH 1 (UID RFC822.SIZE BODY.PEEK[]<0.16384>)\r\n\
             c2 UID FETCH 2 (UID RFC822.SIZE BODY.PEEK[]<0.16384>)\r\n<read>\
             c3 UID FETCH 1 (UID BODY.PEEK[]<16384.49152>)\r\n\
             c4 UID FETCH 3 (UID RFC822.SIZE BODY.PEEK[]<0.65536>)\r\n\
             c5 UID FETCH 4 (UID RFC822.SIZE BODY.PEEK[]<0.16384>)\r\n"
        );
    }

    #[test]
    fn hostile_answers_are_errors_not_panics() {
        let huge = format!("* 1 FETCH (UID 1 BODY[]<0> {{{}}}\r\n", MAX_PIECE + 1);
        let cut_short = b"* 1 FETCH (UID 1 BODY[]<0> {50}\r\nonly this".to_vec();
        let no = b"c1 NO [SERVERBUG] internal error\r\n".to_vec();
        let bye = b"* BYE shutting down\r\n".to_vec();
        let junk = b"* 1 FETCH (UID 1 BODY[]<0> {5\r\n".to_vec();
        for server in [huge.into_bytes(), cut_short, no, bye, junk] {
            let (batches, _) = fetch_scripted(&server, &[vec![1]]);
            assert_eq!(batches.len(), 1);
            assert!(
                batches[0].is_err(),
                "{:?}",
                String::from_utf8_lossy(&server)
            );
        }
    }

    #[test]
    fn body_origins() {
        assert_eq!(body_origin(b"BODY[]"), Some(0));
        assert_eq!(body_origin(b"BODY[]<16384>"), Some(16384));
        assert_eq!(body_origin(b"BODY[HEADER]<0>"), None);
        assert_eq!(body_origin(b"BODY[]<>"), None);
        assert_eq!(body_origin(b"BODY[]<1x>"), None);
    }

    #[test]
    fn items_are_read_in_a_line() {
        let line =
            b"* 3 FETCH (FLAGS (\\Seen \\Answered) UID 17 RFC822.SIZE 42 BODY[]<0> \"a\\\"b\")\r\n";
        let mut p = Line::new(line, 2);
        assert_eq!(p.number(), Some(3));
        assert!(p.space());
        assert_eq!(p.atom(), b"FETCH");
        assert!(p.space() && p.eat(b'('));
        assert_eq!(p.name(), b"FLAGS");
        p.skip_spaces();
        assert!(p.skip_value());
        p.skip_spaces();
        assert_eq!(p.name(), b"UID");
        p.skip_spaces();
        assert_eq!(p.number(), Some(17));
        p.skip_spaces();
        assert_eq!(p.name(), b"RFC822.SIZE");
        p.skip_spaces();
        assert_eq!(p.number(), Some(42));
        p.skip_spaces();
        assert_eq!(p.name(), b"BODY[]<0>");
        p.skip_spaces();
        assert_eq!(p.quoted_or_nil(), b"a\"b");
        assert!(p.eat(b')'));
        let mut p = Line::new(b"BODY[HEADER.FIELDS (A B)]<0> {12}\r\n", 0);
        assert_eq!(p.name(), b"BODY[HEADER.FIELDS (A B)]<0>");
        p.skip_spaces();
        assert_eq!(p.literal(), Some(12));
    }
}

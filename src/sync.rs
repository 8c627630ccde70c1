//! Sync: poll a [`Source`], inspect what is new, store it, report it.
//!
//! [`sync_once`] is one poll (`concierge sync --once`); [`Poller`] runs it on
//! its own thread forever against IMAP, waiting in IDLE between polls, and
//! reports to the UI as [`PollerEvent`]s — the UI never waits on the network.

use crate::config::Connection as ConnCfg;
use crate::inbox::imap::ImapSource;
use crate::inbox::shutdown::Shutdown;
use crate::inbox::{Fetched, MsgRef, Source, BATCH};
use crate::intake::{self, Inspected};
use crate::secret::Secret;
use crate::store::{Cursor, Store, Stored};
use anyhow::Result;
use std::sync::mpsc;
use std::time::Duration;

/// What one poll found and stored.
#[derive(Debug, Default)]
pub struct SyncReport {
    /// Export-related messages (new requests and messages attached to a
    /// request's thread) that were not in the store before.
    pub stored: Vec<Inspected>,
    /// Messages looked at.
    pub seen: usize,
    /// The requests that are new or whose thread grew.
    pub request_ids: Vec<i64>,
}

impl SyncReport {
    /// Counts a stored batch, and keeps the line of each message that made
    /// or joined a request.
    fn add(
        &mut self,
        items: Vec<(Inspected, String, Option<String>)>,
        results: Vec<Stored>,
        unreadable: Vec<bool>,
    ) {
        self.seen += items.len();
        for (((mut msg, _, _), r), unreadable) in items.into_iter().zip(results).zip(unreadable) {
            let (Stored::NewRequest(id) | Stored::Attached(id)) = r else {
                continue;
            };
            // The body is in the store; the report keeps only the line.
            msg.body = String::new();
            // A reply to a thread never seen that is itself a request was
            // stored as one: say so.
            if matches!(r, Stored::NewRequest(_)) {
                msg.kind = intake::Kind::ExportRequest;
            }
            // The line says what intake read, as `inspect` does.
            if unreadable {
                msg.kind = intake::Kind::Other;
            }
            self.stored.push(msg);
            if !self.request_ids.contains(&id) {
                self.request_ids.push(id);
            }
        }
    }
}

/// One poll: list what is new, fetch in batches, inspect, store each batch
/// together with the cursor that covers it.
pub fn sync_once(
    source: &mut dyn Source,
    store: &mut Store,
    authserv_id: &str,
) -> Result<SyncReport> {
    let key = source.mailbox_key();
    let cursor = store.cursor(&key)?;
    let listing = source.list_new(cursor)?;
    let mut refs = listing.refs;
    // A server that does not keep UIDs lists by Message-ID
    // (inbox::unstable): those seen before are not fetched again.
    let ids: std::collections::HashMap<u32, String> = listing.message_ids.into_iter().collect();
    let seen = |name: &str| store.maildir_seen(&key, name).unwrap_or(false);
    // Maildir has no UIDs: skip names already stored.
    refs.retain(|r| match r {
        MsgRef::File(name) => !seen(name),
        MsgRef::Uid(u) => ids
            .get(u)
            .is_none_or(|id| !seen(&crate::inbox::unstable::seen_name(id))),
    });
    let mut report = SyncReport::default();
    let mut last_uid = match (cursor, listing.uidvalidity) {
        (Some(c), Some(v)) if c.uidvalidity == v => c.last_uid,
        _ => 0,
    };
    if refs.is_empty() {
        // Record a changed UIDVALIDITY even when the mailbox is empty.
        if let Some(v) = listing.uidvalidity {
            if cursor.map(|c| c.uidvalidity) != Some(v) {
                store.store_batch(
                    &key,
                    &[],
                    Some(Cursor {
                        uidvalidity: v,
                        last_uid,
                    }),
                )?;
            }
        }
        return Ok(report);
    }
    let opts_full = intake::Options {
        authserv_id,
        truncated: false,
    };
    // NOTE: three stages overlap, each on its own thread: fetching (a
    // scoped thread), inspecting (another), storing (this one). Channels of
    // one batch each bound memory to about five batches. Inspecting on
    // its own thread balances the work: with the fetch cheap (third round
    // of docs/perf-sync.md), this thread did inspect + store (0.6 + 0.15 s
    // of CPU in a big-headers sync), the critical path on two cores, while
    // the fetching thread mostly waited.
    let chunks = ramped(&refs);
    let mut blocked = false;
    std::thread::scope(|scope| -> Result<()> {
        let (tx, fetched_rx) = std::sync::mpsc::sync_channel::<Result<Vec<Fetched>>>(1);
        let fetcher = scope.spawn({
            let chunks = &chunks;
            move || source.fetch_each(chunks, &mut |batch| tx.send(batch).is_ok())
        });
        let (tx, rx) = std::sync::mpsc::sync_channel::<Result<InspectedBatch>>(1);
        let inspector = scope.spawn({
            let opts = &opts_full;
            move || {
                for batch in fetched_rx {
                    let batch = batch.map(|fetched| {
                        let got: Vec<MsgRef> = fetched.iter().map(|f| f.r#ref.clone()).collect();
                        (got, inspect_all(&fetched, opts))
                    });
                    if tx.send(batch).is_err() {
                        return;
                    }
                }
            }
        });
        for chunk in &chunks {
            let (fetched, mut items) = match rx.recv() {
                Ok(batch) => batch?,
                Err(_) => anyhow::bail!("the fetching thread stopped"),
            };
            remember_message_ids(&mut items, &ids);
            // NOTE: the cursor never passes a message that was not stored
            // (or read and found to be no export mail): it stops before the
            // first listed UID the FETCH did not return. A message expunged
            // meanwhile is not listed again, so the next poll moves on.
            if !blocked {
                (last_uid, blocked) = advance(last_uid, chunk, &fetched);
            }
            let cursor = listing.uidvalidity.map(|v| Cursor {
                uidvalidity: v,
                last_uid,
            });
            let unreadable = keep_unreadable(&mut items);
            let results = store.store_batch(&key, &items, cursor)?;
            report.add(items, results, unreadable);
        }
        drop(rx);
        inspector
            .join()
            .map_err(|_| anyhow::anyhow!("the inspecting thread panicked"))?;
        fetcher
            .join()
            .map_err(|_| anyhow::anyhow!("the fetching thread panicked"))?;
        Ok(())
    })?;
    Ok(report)
}

/// A batch as the fetching thread hands it over: the refs the fetch
/// returned, and each message inspected (message, store key, Maildir name).
type InspectedBatch = (Vec<MsgRef>, Vec<(Inspected, String, Option<String>)>);

/// The sizes of a sync's first batches, before [`BATCH`] each (see
/// `ramped`; public for the fault tests, which stall a sync just after).
pub const RAMP: [usize; 3] = [50, 100, 200];

/// The batches of a sync: small ones first ([`RAMP`]), then [`BATCH`] each.
///
/// NOTE: nothing is inspected before the first batch has come, and the
/// stages overlap only from then on; a 500-message first batch kept the
/// inspecting threads idle for its whole fetch (about 20 ms of a 0.5 s
/// first sync). Starting small fills the pipeline sooner; the store still
/// commits once per batch, and a sync of a few messages is one batch.
fn ramped(refs: &[MsgRef]) -> Vec<&[MsgRef]> {
    let mut out = Vec::with_capacity(refs.len() / BATCH + RAMP.len() + 1);
    let mut rest = refs;
    for size in RAMP.into_iter().chain(std::iter::repeat(BATCH)) {
        if rest.is_empty() {
            break;
        }
        let (head, tail) = rest.split_at(size.min(rest.len()));
        out.push(head);
        rest = tail;
    }
    out
}

/// The new sync position after a chunk: the last UID before the first one
/// of `chunk` that `fetched` lacks, and whether such a gap was met.
fn advance(mut last_uid: u32, chunk: &[MsgRef], fetched: &[MsgRef]) -> (u32, bool) {
    for r in chunk {
        let MsgRef::Uid(u) = r else { continue };
        if !fetched.contains(r) {
            return (last_uid, true);
        }
        last_uid = last_uid.max(*u);
    }
    (last_uid, false)
}

/// NOTE: a message that cannot be understood (no header, no sender, broken
/// MIME: `other` + `malformed`) may still be a customer's request: it is
/// stored as a request to review, never dropped, and the screen shows its
/// `malformed` warning. Returns which items were promoted so.
fn keep_unreadable(items: &mut [(Inspected, String, Option<String>)]) -> Vec<bool> {
    items
        .iter_mut()
        .map(|(msg, _, _)| {
            let unreadable = msg.kind == intake::Kind::Other
                && msg.warnings.contains(&intake::Warning::Malformed);
            if unreadable {
                msg.kind = intake::Kind::ExportRequest;
                msg.unthreaded_kind = intake::Kind::ExportRequest;
            }
            unreadable
        })
        .collect()
}

/// Listed by Message-ID: each fetched message is remembered as seen under
/// its Message-ID (in place of a Maildir name), so the next poll skips it.
fn remember_message_ids(
    items: &mut [(Inspected, String, Option<String>)],
    ids: &std::collections::HashMap<u32, String>,
) {
    for (msg, _, name) in items.iter_mut() {
        if let Some(id) = msg.uid.and_then(|u| ids.get(&u)) {
            *name = Some(crate::inbox::unstable::seen_name(id));
        }
    }
}

/// Inspects fetched messages: (message, store key, Maildir name).
fn inspect_all(
    fetched: &[Fetched],
    opts: &intake::Options<'_>,
) -> Vec<(Inspected, String, Option<String>)> {
    // NOTE: a batch is inspected in two halves at once. Once the fetch got
    // cheap, inspect was the first sync's critical path: one thread at
    // 0.37 s of CPU (small-attachments) while the whole sync, Dovecot
    // included, needed 0.78 s of CPU on two cores. Each message's answer
    // depends on that message alone, and the halves are joined in order.
    const SPLIT_FROM: usize = 64;
    if fetched.len() < SPLIT_FROM {
        return inspect_run(fetched, opts);
    }
    let (first, second) = fetched.split_at(fetched.len() / 2);
    std::thread::scope(|scope| {
        let other = scope.spawn(|| inspect_run(second, opts));
        let mut out = inspect_run(first, opts);
        match other.join() {
            Ok(rest) => out.extend(rest),
            // Inspect is total (it answers every input); should it panic
            // all the same, the panic goes on as it would on one thread.
            Err(panic) => std::panic::resume_unwind(panic),
        }
        out
    })
}

/// [`inspect_all`]'s work on one run of messages, in order.
fn inspect_run(
    fetched: &[Fetched],
    opts: &intake::Options<'_>,
) -> Vec<(Inspected, String, Option<String>)> {
    fetched
        .iter()
        .map(|f| {
            let opts = intake::Options {
                truncated: f.truncated,
                ..opts.clone()
            };
            // Other mail is dropped unread: only what the store keeps is
            // worked out in full (`inspect_export_mail`).
            let mut msg = intake::inspect_export_mail(&f.raw, &opts);
            let key = msg.store_key(&f.raw);
            msg.file = f.file.clone();
            let name = match &f.r#ref {
                MsgRef::Uid(u) => {
                    msg.uid = Some(*u);
                    None
                }
                MsgRef::File(n) => Some(n.clone()),
            };
            (msg, key, name)
        })
        .collect()
}

/// What the poller thread reports.
#[derive(Debug)]
pub enum PollerEvent {
    /// Connected (or reconnected) and in sync.
    Connected { idle: bool },
    /// A poll stored these export-related messages (possibly none), for
    /// these requests.
    Synced(Vec<Inspected>, Vec<i64>),
    /// The connection dropped or could not be made; retrying after `retry_in`.
    Down { error: String, retry_in: Duration },
    /// A failure that retrying cannot fix (wrong password, untrusted
    /// certificate); the poller has stopped.
    Fatal(String),
}

/// Poller settings.
#[derive(Debug, Clone)]
pub struct PollerOptions {
    pub authserv_id: String,
    /// How long one IDLE lasts before it is re-issued (RFC 2177: under 29 min).
    pub idle_timeout: Duration,
    /// Poll interval when the server has no IDLE.
    pub poll_interval: Duration,
    /// Backoff bounds for reconnecting.
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// Team mode: whether this process holds the poller's lease now (only
    /// the holder polls; the others wait without a connection).
    pub may_poll: Option<MayPoll>,
}

/// Asked before each poll in team mode: does this process hold the lease?
#[derive(Clone)]
pub struct MayPoll(pub std::sync::Arc<dyn Fn() -> bool + Send + Sync>);

impl std::fmt::Debug for MayPoll {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MayPoll")
    }
}

impl Default for PollerOptions {
    fn default() -> Self {
        PollerOptions {
            authserv_id: intake::DEFAULT_AUTHSERV_ID.into(),
            idle_timeout: Duration::from_secs(25 * 60),
            poll_interval: Duration::from_secs(60),
            backoff_min: Duration::from_secs(1),
            backoff_max: Duration::from_secs(300),
            may_poll: None,
        }
    }
}

/// The wait before reconnecting after `attempt` failures in a row (0: the
/// first retry): [`crate::net::Backoff`], never shorter than `min` (the
/// first retry waits `min ..= 2·min`) nor longer than `max`.
pub fn backoff(attempt: u32, min: Duration, max: Duration) -> Duration {
    crate::net::Backoff::new(min.saturating_mul(2), max)
        .delay(attempt.saturating_add(1))
        .max(min)
        .min(max)
}

/// The inbox worker: a thread that keeps the store in sync with IMAP.
/// When it has stopped, `events` is closed (its sender dropped).
pub struct Poller {
    stop: Shutdown,
    pub events: mpsc::Receiver<PollerEvent>,
}

impl Poller {
    /// Starts the worker. It opens its own store connection (SQLite WAL lets
    /// the UI read meanwhile).
    pub fn start(
        cfg: ConnCfg,
        password: Secret,
        store_path: impl Into<crate::store::Location>,
        opts: PollerOptions,
    ) -> Poller {
        let store_path = store_path.into();
        let (tx, rx) = mpsc::channel();
        let stop = Shutdown::new();
        let stop2 = stop.clone();
        std::thread::Builder::new()
            .name("imap-poller".into())
            .spawn(move || run_poller(cfg, password, store_path, opts, tx, stop2))
            .expect("spawning a thread");
        Poller { stop, events: rx }
    }

    /// Asks the worker to stop now: a read in progress (IDLE, a FETCH) is
    /// cut by shutting its socket down. A batch cut so is not stored (nor
    /// the cursor moved past it); the worker sends no event after that.
    pub fn stop(&self) {
        self.stop.ask();
    }

    /// A handle that stops the worker like [`Poller::stop`], for whoever
    /// outlives the `Poller` value (the screen, when it quits).
    pub fn stopper(&self) -> Shutdown {
        self.stop.clone()
    }
}

impl Drop for Poller {
    fn drop(&mut self) {
        self.stop();
    }
}

fn run_poller(
    cfg: ConnCfg,
    password: Secret,
    store_path: crate::store::Location,
    opts: PollerOptions,
    tx: mpsc::Sender<PollerEvent>,
    stop: Shutdown,
) {
    let mut attempt = 0u32;
    // A store that cannot be opened yet (a PostgreSQL restarting while the
    // screen starts) is an outage like the server's: said, and tried again
    // with the same backoff, never the end of intake for this session.
    let mut store = loop {
        match Store::open_at(&store_path) {
            Ok(s) => break s,
            Err(e) => {
                let wait = backoff(attempt, opts.backoff_min, opts.backoff_max);
                attempt = attempt.saturating_add(1);
                let down = PollerEvent::Down {
                    error: format!("the store: {e:#}"),
                    retry_in: wait,
                };
                if tx.send(down).is_err() || stop.sleep(wait) {
                    return;
                }
            }
        }
    };
    attempt = 0;
    let may_poll = || opts.may_poll.as_ref().is_none_or(|f| (f.0)());
    while !stop.is_asked() {
        if !may_poll() {
            // Another Concierge holds the lease; ask again shortly.
            stop.sleep(Duration::from_millis(500));
            continue;
        }
        let err = match ImapSource::connect_watched(&cfg, &password, Some(&stop)) {
            Ok(mut src) => {
                let idle = src.supports_idle();
                let _ = tx.send(PollerEvent::Connected { idle });
                match serve(&mut src, &mut store, &opts, &tx, &stop, &mut attempt) {
                    Ok(()) => {
                        if stop.is_asked() {
                            // NOTE: no LOGOUT: the socket may be shut down
                            // already, and the server ends the session anyway.
                            return;
                        }
                        src.logout();
                        continue;
                    }
                    // A read cut by the stop is no failure to report.
                    Err(_) if stop.is_asked() => return,
                    // The host, once: what dropped and where.
                    Err(e) => format!("IMAP server {}: {e:#}", cfg.host),
                }
            }
            Err(_) if stop.is_asked() => return,
            Err(e) if !e.is_retryable() => {
                let _ = tx.send(PollerEvent::Fatal(e.to_string()));
                return;
            }
            Err(e) => e.to_string(),
        };
        let wait = backoff(attempt, opts.backoff_min, opts.backoff_max);
        attempt = attempt.saturating_add(1);
        if tx
            .send(PollerEvent::Down {
                error: err,
                retry_in: wait,
            })
            .is_err()
        {
            return;
        }
        stop.sleep(wait);
    }
}

/// Sync, wait, repeat, on one connection. `Ok` means asked to stop.
fn serve(
    src: &mut ImapSource,
    store: &mut Store,
    opts: &PollerOptions,
    tx: &mpsc::Sender<PollerEvent>,
    stop: &Shutdown,
    attempt: &mut u32,
) -> Result<()> {
    loop {
        // The lease went to another Concierge: stop polling (Ok = leave).
        if opts.may_poll.as_ref().is_some_and(|f| !(f.0)()) {
            return Ok(());
        }
        let report = sync_once(src, store, &opts.authserv_id)?;
        *attempt = 0;
        if tx
            .send(PollerEvent::Synced(report.stored, report.request_ids))
            .is_err()
        {
            // Nobody listens any more: stop for good (`Ok` alone means
            // "reconnect later" when the lease went elsewhere).
            stop.ask();
            return Ok(());
        }
        if stop.is_asked() {
            return Ok(());
        }
        if src.supports_idle() {
            src.idle(opts.idle_timeout)?;
        } else {
            stop.sleep(opts.poll_interval);
        }
        if stop.is_asked() {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fetched(uids: &[u32]) -> Vec<MsgRef> {
        uids.iter().map(|&u| MsgRef::Uid(u)).collect()
    }

    #[test]
    fn batches_start_small_and_cover_every_message_once_in_order() {
        let refs: Vec<MsgRef> = (1..=1_234).map(MsgRef::Uid).collect();
        let chunks = ramped(&refs);
        let sizes: Vec<usize> = chunks.iter().map(|c| c.len()).collect();
        assert_eq!(sizes, [50, 100, 200, BATCH, 1_234 - 350 - BATCH]);
        assert_eq!(chunks.concat(), refs);
        let few: Vec<MsgRef> = (1..=3).map(MsgRef::Uid).collect();
        assert_eq!(ramped(&few), [&few[..]]);
        assert!(ramped(&[]).is_empty());
    }

    #[test]
    fn the_position_never_passes_a_message_that_was_not_fetched() {
        let chunk: Vec<MsgRef> = [5, 6, 9, 12].into_iter().map(MsgRef::Uid).collect();
        assert_eq!(advance(4, &chunk, &fetched(&[5, 6, 9, 12])), (12, false));
        // 9 did not come back: the position stays at 6, whatever followed.
        assert_eq!(advance(4, &chunk, &fetched(&[5, 6, 12])), (6, true));
        assert_eq!(advance(4, &chunk, &fetched(&[])), (4, true));
    }

    #[test]
    fn backoff_is_capped_and_jittered() {
        let (min, max) = (Duration::from_millis(100), Duration::from_secs(2));
        for attempt in 0..40 {
            let d = backoff(attempt, min, max);
            assert!(d >= min && d <= max, "{attempt}: {d:?}");
        }
        let samples: std::collections::HashSet<_> =
            (0..20).map(|_| backoff(10, min, max)).collect();
        assert!(samples.len() > 1, "no jitter");
    }
}

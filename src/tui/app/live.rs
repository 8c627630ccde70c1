//! Live screens: the change-feed watcher (its own thread, its own store
//! connection) and the runtime's side of what it reports.

use super::debounce::{self, Step};
use super::*;
use crate::store::changes;
use crate::store::presence;
use std::sync::atomic::{AtomicBool, Ordering};

/// At most this many changes per message (a burst is read in pages).
const PAGE: i64 = 500;

/// How often a screen asks whether the backend answers, and how long one
/// ask may take: a backend that stops answering shows `✗` within 10 s (5 s
/// when the connection is refused, as when the demo's first screen quits).
/// One small GET per screen every 5 s is nothing to a backend.
pub(super) const BACKEND_CHECK: Duration = Duration::from_secs(5);
pub(super) const BACKEND_PROBE: Duration = Duration::from_secs(5);

/// The health a probe's answer shows. `gone` is what to say when nothing
/// answers, when the screen knows why (a joined demo: its host quit).
pub(super) fn backend_health(
    answer: std::result::Result<std::result::Result<(), ApiError>, tokio::time::error::Elapsed>,
    gone: Option<&str>,
) -> Health {
    let unreachable = |detail: String| match gone {
        Some(why) => Health::Down(why.to_string()),
        None => Health::Down(format!("unreachable: {detail}")),
    };
    match answer {
        Err(_) => unreachable(format!("no answer in {} s", BACKEND_PROBE.as_secs())),
        Ok(Err(ApiError::Unreachable { detail })) => unreachable(detail),
        Ok(Err(ApiError::Unauthorized)) => Health::Down("token rejected".into()),
        // A gateway in front of a backend that is down (502, 503, 504).
        Ok(Err(ApiError::Server { status, .. })) if status >= 500 => {
            Health::Down(format!("answers {status}"))
        }
        // Any other answer is the backend answering.
        Ok(_) => Health::Up("backend".into()),
    }
}

/// Watches the store for changes committed after `seq` and sends them to
/// the loop as `Msg::Changed`. Stops when the loop has gone.
pub(super) fn start_feed(
    at: crate::store::Location,
    mut seq: i64,
    tx: mpsc::UnboundedSender<Event>,
) {
    let spawned = std::thread::Builder::new()
        .name("change-feed".into())
        .spawn(move || {
            // NOTE: the one engine-specific part: SQLite's data_version or
            // PostgreSQL's LISTEN; reading the feed after a wake-up is the
            // same query on both engines.
            // A store not openable yet (the heartbeat says so on the
            // status line) is tried every second: a feed that gave up
            // would leave this screen blind to colleagues' work.
            let mut said = false;
            let mut wake = loop {
                match changes::watch(&at) {
                    Ok(w) => break w,
                    Err(e) if !said => {
                        tracing::warn!("the change feed cannot start yet: {e:#}");
                        said = true;
                    }
                    Err(_) => {}
                }
                wait_or_closed(&tx, DOWN_BEAT);
                if tx.is_closed() {
                    return;
                }
            };
            // NOTE: a commit between `seq` being read and the wake-up's
            // baseline would never wake it: read the feed once before waiting.
            let mut catch_up = true;
            // Operators' names this feed has sent (the screen loaded them
            // at start); an id not among them is read from the store
            // before its change is sent, so the screen names its author.
            let mut named: std::collections::HashSet<String> = Default::default();
            let mut names_read = false;
            loop {
                if tx.is_closed() {
                    return;
                }
                let woken = std::mem::take(&mut catch_up)
                    || wake.wait(Duration::from_secs(1)).unwrap_or_else(|e| {
                        tracing::warn!("the change feed: {e:#}");
                        std::thread::sleep(Duration::from_secs(1));
                        false
                    });
                if !woken {
                    continue;
                }
                // Read every page: the wake-up fires once per commit burst.
                loop {
                    let page = match changes::after(wake.conn(), seq, PAGE) {
                        Ok(p) => p,
                        Err(e) => {
                            tracing::warn!("reading the change feed: {e:#}");
                            break;
                        }
                    };
                    let Some(last) = page.last() else { break };
                    seq = last.seq;
                    let full = page.len() as i64 == PAGE;
                    let unnamed = page.iter().any(|c| {
                        !named.contains(&c.actor) || c.kind == crate::store::team::OPERATOR_NAMED
                    });
                    if unnamed || !names_read {
                        if let Some(names) = read_names(wake.conn()) {
                            named.extend(names.keys().cloned());
                            names_read = true;
                            let _ = tx.send(Event::Msg(Msg::Operators(names)));
                        }
                        // An actor that is no operator ("intake", a gone
                        // row) is read again only with the next stranger.
                        named.extend(page.iter().map(|c| c.actor.clone()));
                    }
                    if tx.send(Event::Msg(Msg::Changed(page))).is_err() {
                        return;
                    }
                    if !full {
                        break;
                    }
                }
            }
        });
    if let Err(e) = spawned {
        tracing::warn!("the change feed cannot start: {e}");
    }
}

/// Every operator's name, or `None` (logged) when the store cannot say.
fn read_names(conn: &crate::store::db::Conn) -> Option<std::collections::HashMap<String, String>> {
    crate::store::operators::names(conn)
        .map_err(|e| tracing::warn!("reading operators' names: {e:#}"))
        .ok()
}

/// Whether another running Concierge holds the poller's lease (alive: not
/// expired), so a screen without an inbox leaves the lookups to it.
pub(super) fn someone_polls(store: &Store, session: &str) -> bool {
    let now = chrono::Utc::now();
    match presence::lease(store.conn()) {
        Ok(Some(l)) => l.session != session && l.expires_at > now,
        Ok(None) => false,
        Err(e) => {
            tracing::warn!("reading the poller lease: {e:#}");
            false
        }
    }
}

impl Runtime {
    /// Fresh copies of the requests another screen changed.
    pub(super) fn reload_all(&self, ids: &[i64]) -> Vec<Msg> {
        ids.iter().flat_map(|&id| self.reload(id)).collect()
    }
}

/// This screen's presence entry as last decided by the loop, shared with
/// the heartbeat (`None` until the first write).
pub(super) type Shown = Arc<std::sync::Mutex<Option<presence::Presence>>>;

/// Keeps this screen's presence entry alive and sweeps dead screens' ones
/// every [`presence::BEAT`]; with an inbox (`may_poll`), takes or renews
/// the poller's lease and says who polls when that changes. Own thread,
/// own connection: it beats while the loop waits on `$EDITOR`. Stops when
/// the loop has gone.
pub(super) fn start_heartbeat(
    at: crate::store::Location,
    session: String,
    operator: String,
    shown: Shown,
    may_poll: Option<Arc<AtomicBool>>,
    tx: mpsc::UnboundedSender<Event>,
) {
    let spawned = std::thread::Builder::new()
        .name("heartbeat".into())
        .spawn(move || {
            let mut down = false;
            // A store that went away between the screen's own open and
            // this one is down like any other: said on the status line and
            // tried every second, or this screen would never beat, never
            // take the poller's lease and never say the store is down.
            let store = loop {
                match Store::open_at(&at) {
                    Ok(s) => break s,
                    Err(e) if !down => {
                        tracing::warn!("presence cannot start yet: {e:#}");
                        down = true;
                        let h = Health::Down("down, reconnecting".into());
                        let _ = tx.send(Event::Msg(Msg::Store(h)));
                    }
                    Err(_) => {}
                }
                wait_or_closed(&tx, DOWN_BEAT);
                if tx.is_closed() {
                    return;
                }
            };
            let mut holder: Option<String> = None;
            let mut held = false;
            while !tx.is_closed() {
                let now = chrono::Utc::now();
                // NOTE: the entry itself is written again, not only its
                // time: after an outage of more than `STALE` (20 s) the
                // first screen back sweeps every other entry, live ones
                // included, and a write the loop tried during the outage
                // failed; a bare heartbeat UPDATE then matched no row and
                // the screen stayed absent (or shown on its old request).
                // `set` records a change only when the entry differs.
                let me = shown.lock().unwrap_or_else(|e| e.into_inner()).clone();
                if let Some(me) = me {
                    if let Err(e) = presence::set(store.conn(), &me, now) {
                        tracing::warn!("presence: {e:#}");
                    }
                    // The screen quit while this was written (it cleared
                    // `shown`, then left): leave again, or the entry would
                    // stay until swept.
                    if shown.lock().unwrap_or_else(|e| e.into_inner()).is_none() {
                        let _ = presence::leave(store.conn(), &session);
                    }
                }
                // The heartbeat is the store's health check: its
                // connection reconnects by itself (store/pg.rs), and the
                // status line says so while it cannot.
                let beat = presence::beat(store.conn(), &session, now);
                if let Err(e) = &beat {
                    tracing::warn!("presence heartbeat: {e:#}");
                }
                if beat.is_err() != down {
                    down = beat.is_err();
                    let h = match &beat {
                        // The reason is in the log; the line has 28 columns.
                        Err(_) => Health::Down("down, reconnecting".into()),
                        Ok(()) => Health::Up("store".into()),
                    };
                    let _ = tx.send(Event::Msg(Msg::Store(h)));
                }
                if let Some(flag) = &may_poll {
                    let lease = presence::take_lease(store.conn(), &session, &operator, now);
                    let (mine, who) = match &lease {
                        Ok(l) => (l.session == session, Some(l.holder.clone())),
                        Err(e) => {
                            tracing::warn!("the poller lease: {e:#}");
                            (false, None)
                        }
                    };
                    flag.store(mine, Ordering::SeqCst);
                    if mine != held {
                        held = mine;
                        let _ = tx.send(Event::Msg(Msg::Lease { mine }));
                    }
                    let said = if mine { None } else { who };
                    if said != holder {
                        if let Some(name) = &said {
                            let up = Health::Up(format!("polled by {name}"));
                            let _ = tx.send(Event::Msg(Msg::Inbox(up)));
                        }
                        holder = said;
                    }
                }
                // While down, look again every second: "back" shows soon.
                wait_or_closed(&tx, if down { DOWN_BEAT } else { presence::BEAT });
            }
            // The loop has gone: nobody polls here any more.
            let _ = presence::release_lease(store.conn(), &session);
        });
    if let Err(e) = spawned {
        tracing::warn!("presence cannot start: {e}");
    }
}

/// How often the heartbeat tries a store that is down.
const DOWN_BEAT: Duration = Duration::from_secs(1);

/// Sleeps `d`, waking early (within 100 ms) when the loop has gone.
fn wait_or_closed(tx: &mpsc::UnboundedSender<Event>, d: Duration) {
    let until = std::time::Instant::now() + d;
    while !tx.is_closed() {
        let left = until.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return;
        }
        std::thread::sleep(left.min(Duration::from_millis(100)));
    }
}

impl Runtime {
    /// Tells the store what this screen shows, when that changed: a new
    /// selection once it rested, an activity at once (see `debounce`).
    pub(super) fn publish_presence(&mut self, state: &State) {
        let shown = crate::tui::update::live::presence_of(state);
        match self.presence.offer(shown, std::time::Instant::now()) {
            Step::Idle => {}
            Step::Write(shown) => self.write_presence(shown),
            Step::WakeAt(at) => self.wake_presence_at(at),
        }
    }

    fn write_presence(&mut self, shown: debounce::Shown) {
        let me = presence::Presence {
            session: self.session.clone(),
            operator: self.operator.clone(),
            request_id: shown.0,
            activity: shown.1,
        };
        *self
            .presence_shown
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(me.clone());
        match presence::set(self.store.conn(), &me, chrono::Utc::now()) {
            Ok(()) => self.presence.written(shown),
            Err(e) => tracing::warn!("presence: {e:#}"),
        }
    }

    /// Has the loop woken at `at` ([`Outcome::PresenceDue`]), to write the
    /// selection if it rested by then. One timer at a time: an earlier one
    /// asks again when it fires.
    fn wake_presence_at(&mut self, at: std::time::Instant) {
        let now = std::time::Instant::now();
        if self.presence_wake.is_some_and(|w| w > now && w <= at) {
            return;
        }
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            // No runtime to wait on (a test driving the app by hand): the
            // selection is written now rather than never.
            if let Step::Write(shown) = self.presence.poll(at) {
                self.write_presence(shown);
            }
            return;
        };
        self.presence_wake = Some(at);
        let tx = self.tx.clone();
        handle.spawn(async move {
            tokio::time::sleep_until(at.into()).await;
            let _ = tx.send(outcome(Outcome::PresenceDue));
        });
    }

    /// The presence timer fired: `App::handle` publishes after this.
    pub(super) fn presence_due(&mut self) {
        self.presence_wake = None;
    }

    /// Watches whether the backend answers and takes the token: asks at
    /// once, then every [`BACKEND_CHECK`], and reports each answer as
    /// `Msg::Backend`. Ends when the loop has gone.
    ///
    /// NOTE: asked once at start only, a screen that looks nothing up (a
    /// colleague's, or one joined to the demo) kept showing `backend ●`
    /// after the backend had gone (the demo's first screen quit, and its
    /// backend with it); and one that saw it fail kept `✗` after it was
    /// back. Every answer is sent, not only changes: a lookup or a job
    /// poll may have set the health meanwhile, and this is the last word.
    pub(super) fn watch_backend(&self) {
        let Some(backend) = self.backend.clone() else {
            return;
        };
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        // One try per check, cut at BACKEND_PROBE: the next check is the retry.
        let backend = (*backend)
            .clone()
            .with_retry(crate::backend::RetryPolicy::none());
        let gone = self.backend_gone.clone();
        let follow = self.follow_demo.clone();
        let tx = self.tx.clone();
        handle.spawn(async move {
            loop {
                let answer = tokio::time::timeout(BACKEND_PROBE, backend.probe()).await;
                let health = backend_health(answer, gone.as_deref());
                // A joined screen: the host's demo may be back elsewhere
                // (`--resume`: a new port and token). `retarget` moves
                // every clone of the client, job followers too; the next
                // check, at once, says whether it answers there.
                if matches!(health, Health::Down(_)) {
                    if let Some(at) = follow
                        .as_deref()
                        .and_then(|d| crate::demo::rejoin(d, &backend))
                    {
                        if tx.send(msg(Msg::DemoResumed { at })).is_err() {
                            return;
                        }
                        continue;
                    }
                }
                if tx.send(msg(Msg::Backend(health))).is_err() {
                    return;
                }
                tokio::time::sleep(BACKEND_CHECK).await;
            }
        });
    }

    pub(super) fn load_presence(&self) -> Vec<Msg> {
        match presence::others(self.store.conn(), &self.session, chrono::Utc::now()) {
            Ok(others) => vec![Msg::Presence(others)],
            Err(e) => {
                tracing::warn!("reading presence: {e:#}");
                vec![]
            }
        }
    }
}

impl Drop for Runtime {
    /// Leaves at once (others would see the entry until it goes stale).
    fn drop(&mut self) {
        // First, so the heartbeat writes the entry no more (see there).
        *self
            .presence_shown
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = None;
        let _ = presence::leave(self.store.conn(), &self.session);
        let _ = presence::release_lease(self.store.conn(), &self.session);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::tui::app::tests::{blocked_store, next_msg};

    #[test]
    fn a_change_feed_whose_store_cannot_be_opened_yet_starts_when_it_can() {
        let dir = tempfile::tempdir().unwrap();
        let (blocker, at) = blocked_store(dir.path());
        let (tx, mut rx) = mpsc::unbounded_channel();
        start_feed(at.clone(), 0, tx);
        // Time for its first open to fail (nothing shows it; on a machine
        // too slow for that the test still holds, it only proves less).
        std::thread::sleep(Duration::from_millis(500));
        std::fs::remove_file(&blocker).unwrap();
        let mut store = Store::open_at(&at).unwrap();
        store.register_operator("sam", "Sam").unwrap();
        let changed = next_msg(&mut rx, |m| match m {
            Msg::Changed(page) if !page.is_empty() => Some(()),
            _ => None,
        });
        assert!(changed.is_some(), "the feed never sent the change");
    }

    #[test]
    fn a_store_the_heartbeat_cannot_open_yet_is_down_then_up_and_the_lease_taken() {
        let dir = tempfile::tempdir().unwrap();
        let (blocker, at) = blocked_store(dir.path());
        let (tx, mut rx) = mpsc::unbounded_channel();
        let may_poll = Arc::new(AtomicBool::new(false));
        let shown = Shown::default();
        start_heartbeat(
            at,
            "s1".into(),
            "sam".into(),
            shown,
            Some(may_poll.clone()),
            tx,
        );
        // The store's health and the lease, as the heartbeat says them.
        let said = |m| match m {
            Msg::Store(h) => Some(format!("store {h:?}")),
            Msg::Lease { mine } => Some(format!("lease {mine}")),
            _ => None,
        };
        let down = format!("store {:?}", Health::Down("down, reconnecting".into()));
        assert_eq!(next_msg(&mut rx, said), Some(down));
        std::fs::remove_file(&blocker).unwrap();
        let up = format!("store {:?}", Health::Up("store".into()));
        assert_eq!(next_msg(&mut rx, said), Some(up));
        assert_eq!(next_msg(&mut rx, said), Some("lease true".into()));
        assert!(may_poll.load(Ordering::SeqCst));
        drop(rx);
    }

    fn server(status: u16) -> ApiError {
        ApiError::Server {
            status,
            code: "x".into(),
            message: "x".into(),
        }
    }

    #[test]
    fn the_backend_is_up_when_it_answers_and_down_when_nothing_or_a_gateway_answers() {
        let why = "the demo's host screen quit";
        let gone = Some(why);
        let up = Health::Up("backend".into());
        assert_eq!(backend_health(Ok(Ok(())), None), up);
        // "No such workspace" is the backend answering.
        let not_found = ApiError::NotFound {
            code: "not_found".into(),
            message: "no".into(),
        };
        assert_eq!(backend_health(Ok(Err(not_found)), gone), up);
        assert_eq!(backend_health(Ok(Err(server(429))), None), up);
        assert_eq!(
            backend_health(Ok(Err(server(502))), None),
            Health::Down("answers 502".into())
        );
        assert_eq!(
            backend_health(Ok(Err(ApiError::Unauthorized)), gone),
            Health::Down("token rejected".into()),
            "a rejected token is not the host quitting"
        );
        let refused = || ApiError::Unreachable {
            detail: "connection refused".into(),
        };
        assert_eq!(
            backend_health(Ok(Err(refused())), None),
            Health::Down("unreachable: connection refused".into())
        );
        assert_eq!(
            backend_health(Ok(Err(refused())), gone),
            Health::Down(why.into())
        );
    }

    #[tokio::test]
    async fn a_probe_that_never_ends_is_down() {
        let never = std::future::pending::<()>();
        let elapsed = tokio::time::timeout(Duration::from_millis(1), never)
            .await
            .unwrap_err();
        assert_eq!(
            backend_health(Err(elapsed), None),
            Health::Down("unreachable: no answer in 5 s".into())
        );
    }
}

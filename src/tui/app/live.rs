//! Live screens: the change-feed watcher (its own thread, its own store
//! connection) and the runtime's side of what it reports.

use super::*;
use crate::store::changes::{self, Wakeup};

/// At most this many changes per message (a burst is read in pages).
const PAGE: i64 = 500;

/// Watches the store for changes committed after `seq` and sends them to
/// the loop as `Msg::Changed`. Stops when the loop has gone.
pub(super) fn start_feed(path: PathBuf, mut seq: i64, tx: mpsc::UnboundedSender<Event>) {
    let spawned = std::thread::Builder::new()
        .name("change-feed".into())
        .spawn(move || {
            let mut wake = match changes::DataVersion::open(&path, changes::CHECK_EVERY) {
                Ok(w) => w,
                Err(e) => {
                    tracing::warn!("the change feed cannot start: {e:#}");
                    return;
                }
            };
            // NOTE: a commit between `seq` being read and the wake-up's
            // baseline would never wake it: read the feed once before waiting.
            let mut catch_up = true;
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

impl Runtime {
    /// Fresh copies of the requests another screen changed.
    pub(super) fn reload_all(&self, ids: &[i64]) -> Vec<Msg> {
        ids.iter().flat_map(|&id| self.reload(id)).collect()
    }
}

//! When this screen tells the store where it is (presence), as pure logic.
//!
//! Every presence write is a transaction with a change-feed row (and an
//! fsync on SQLite, a NOTIFY on PostgreSQL) that wakes every other screen.
//! Holding `j` down through the queue moved the selection ~30 times a
//! second, and each move was such a write. Now a new selection is written
//! once it has rested for [`REST`], or at the latest [`MAX_WAIT`] after the
//! first unwritten move (the heartbeat's period: a colleague never sees a
//! selection older than one heartbeat). A change of activity ("writing a
//! note" and back) is written at once: the collision warning depends on it.

use crate::store::presence::Activity;
use std::time::{Duration, Instant};

/// How long a selection must stay put before it is written.
pub const REST: Duration = Duration::from_millis(300);
/// The longest an unwritten selection waits (the heartbeat, 5 s).
pub const MAX_WAIT: Duration = crate::store::presence::BEAT;

/// What the screen shows: the selected request and the activity.
pub type Shown = (Option<i64>, Activity);

/// What to do about presence now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Nothing to write (the store has it already).
    Idle,
    /// Write this now.
    Write(Shown),
    /// Not yet: ask again at this moment.
    WakeAt(Instant),
}

#[derive(Debug, Default)]
pub struct Debounce {
    /// What the store was last told.
    sent: Option<Shown>,
    /// An unwritten selection: (it, when the first unwritten move was,
    /// when it last moved).
    pending: Option<(Shown, Instant, Instant)>,
}

impl Debounce {
    /// The screen shows `now` at `at`.
    pub fn offer(&mut self, now: Shown, at: Instant) -> Step {
        let Some(sent) = self.sent else {
            // The first entry: colleagues see this screen at once.
            return Step::Write(now);
        };
        if sent == now {
            self.pending = None;
            return Step::Idle;
        }
        if sent.1 != now.1 {
            return Step::Write(now);
        }
        self.pending = Some(match self.pending {
            // Asked again without a move: the rest goes on.
            Some((p, first, moved)) if p == now => (p, first, moved),
            Some((_, first, _)) => (now, first, at),
            None => (now, at, at),
        });
        self.poll(at)
    }

    /// A wake-up asked for by [`Step::WakeAt`] (or any later moment).
    pub fn poll(&mut self, at: Instant) -> Step {
        let Some((shown, first, moved)) = self.pending else {
            return Step::Idle;
        };
        let due = (moved + REST).min(first + MAX_WAIT);
        if at >= due {
            Step::Write(shown)
        } else {
            Step::WakeAt(due)
        }
    }

    /// The store has `shown` now.
    pub fn written(&mut self, shown: Shown) {
        self.sent = Some(shown);
        if self.pending.is_some_and(|(p, _, _)| p == shown) {
            self.pending = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V: Activity = Activity::Viewing;
    const NOTE: Activity = Activity::WritingNote;

    fn ms(t0: Instant, n: u64) -> Instant {
        t0 + Duration::from_millis(n)
    }

    /// Offers and writes what is due, as the runtime does.
    fn offer(d: &mut Debounce, s: Shown, at: Instant) -> Step {
        let step = d.offer(s, at);
        if let Step::Write(w) = step {
            d.written(w);
        }
        step
    }

    #[test]
    fn the_first_entry_and_an_activity_change_are_written_at_once() {
        let t0 = Instant::now();
        let mut d = Debounce::default();
        assert_eq!(offer(&mut d, (Some(1), V), t0), Step::Write((Some(1), V)));
        assert_eq!(offer(&mut d, (Some(1), V), ms(t0, 1)), Step::Idle);
        assert_eq!(
            offer(&mut d, (Some(1), NOTE), ms(t0, 2)),
            Step::Write((Some(1), NOTE)),
            "writing a note is seen at once (the collision warning)"
        );
        assert_eq!(
            offer(&mut d, (Some(1), V), ms(t0, 3)),
            Step::Write((Some(1), V)),
            "and so is its end"
        );
    }

    #[test]
    fn a_moving_selection_is_written_once_it_rests() {
        let t0 = Instant::now();
        let mut d = Debounce::default();
        offer(&mut d, (Some(1), V), t0);
        // j held down: a move every 30 ms, nothing written.
        for i in 1..=5u64 {
            let step = offer(&mut d, (Some(1 + i as i64), V), ms(t0, 30 * i));
            assert_eq!(step, Step::WakeAt(ms(t0, 30 * i + 300)), "move {i}");
        }
        // Woken early (another event): still moving recently, wait on.
        assert_eq!(d.poll(ms(t0, 200)), Step::WakeAt(ms(t0, 450)));
        // Rested 300 ms since the last move: written, once.
        assert_eq!(d.poll(ms(t0, 450)), Step::Write((Some(6), V)));
        d.written((Some(6), V));
        assert_eq!(d.poll(ms(t0, 460)), Step::Idle);
        assert_eq!(offer(&mut d, (Some(6), V), ms(t0, 470)), Step::Idle);
    }

    #[test]
    fn moving_back_to_what_was_written_cancels_the_write() {
        let t0 = Instant::now();
        let mut d = Debounce::default();
        offer(&mut d, (Some(1), V), t0);
        assert!(matches!(
            offer(&mut d, (Some(2), V), ms(t0, 10)),
            Step::WakeAt(_)
        ));
        assert_eq!(offer(&mut d, (Some(1), V), ms(t0, 20)), Step::Idle);
        assert_eq!(d.poll(ms(t0, 1000)), Step::Idle);
    }

    #[test]
    fn a_selection_that_never_rests_is_written_within_a_heartbeat() {
        let t0 = Instant::now();
        let mut d = Debounce::default();
        offer(&mut d, (Some(0), V), t0);
        let mut writes = Vec::new();
        // A move every 100 ms for 12 s: never 300 ms at rest.
        for i in 1..=120u64 {
            let at = ms(t0, 100 * i);
            if let Step::Write(w) = offer(&mut d, (Some(i as i64), V), at) {
                writes.push((w.0, at - t0));
            }
        }
        assert_eq!(
            writes,
            vec![
                (Some(51), Duration::from_millis(5100)),
                (Some(102), Duration::from_millis(10200)),
            ]
        );
    }
}

//! The stats screen's model and keys, as plain values (the TUI draws it in
//! `tui::stats_view` and loads it off the UI thread with [`load_figures`]).
//!
//! Keys on the screen: `7` / `3` / `9` pick the last 7 / 30 / 90 days,
//! `Tab` / `←` `→` step through them, `Esc` (or `q`, or `S` again) goes back.

use super::{Figures, Period};
use crate::estimate::Rates;
use anyhow::Result;
use chrono::{DateTime, Utc};
use crossterm::event::KeyCode;

/// The periods the screen offers, in days.
pub const PERIODS: [u32; 3] = [7, 30, 90];

/// What the stats screen shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    /// The period asked for (last N days).
    pub days: u32,
    /// The figures of that period, once loaded.
    pub figures: Option<Figures>,
    /// Why they could not be loaded.
    pub error: Option<String>,
}

/// What a key on the stats screen asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOutcome {
    /// Nothing changes.
    Stay,
    /// Back to the queue.
    Close,
    /// Load the figures of the last N days.
    Load(u32),
}

impl Model {
    /// The screen while the figures of the last `days` days load.
    pub fn loading(days: u32) -> Model {
        Model {
            days,
            figures: None,
            error: None,
        }
    }

    /// Handles a key; a new period starts loading (the old figures stay on
    /// screen, marked as such, until the new ones arrive).
    pub fn on_key(&mut self, code: KeyCode) -> KeyOutcome {
        let i = PERIODS.iter().position(|d| *d == self.days).unwrap_or(1);
        let days = match code {
            KeyCode::Esc | KeyCode::Char('q') | KeyCode::Char('S') => return KeyOutcome::Close,
            KeyCode::Char('7') => 7,
            KeyCode::Char('3') => 30,
            KeyCode::Char('9') => 90,
            KeyCode::Tab | KeyCode::Right | KeyCode::Char('l') => PERIODS[(i + 1) % PERIODS.len()],
            KeyCode::BackTab | KeyCode::Left | KeyCode::Char('h') => {
                PERIODS[(i + PERIODS.len() - 1) % PERIODS.len()]
            }
            _ => return KeyOutcome::Stay,
        };
        if days == self.days && self.error.is_none() {
            return KeyOutcome::Stay;
        }
        self.days = days;
        self.error = None;
        KeyOutcome::Load(days)
    }

    /// The figures of the last `days` days arrived. An answer for a period
    /// no longer asked for (the operator switched meanwhile) is dropped.
    pub fn loaded(&mut self, days: u32, result: Result<Figures, String>) {
        if days != self.days {
            return;
        }
        match result {
            Ok(f) => {
                self.figures = Some(f);
                self.error = None;
            }
            Err(e) => self.error = Some(e),
        }
    }

    /// Whether the figures on screen are of another period than asked for.
    pub fn stale(&self) -> bool {
        self.figures
            .as_ref()
            .is_none_or(|f| f.period.label != Period::label_for_days(self.days))
    }
}

/// Everything the screen needs for the last `days` days: reads the store
/// (the SQLite file or a team store) read-only and computes the figures.
/// Blocking: the TUI runs it on a worker thread.
pub fn load_figures(
    at: &crate::store::Location,
    rates: &Rates,
    days: u32,
    now: DateTime<Utc>,
) -> Result<Figures> {
    let period = Period::last_days(days, now, rates.calendar());
    let conn = super::load::open(at)?;
    let rows = super::load(&conn, &period)?;
    super::compute(&rows, &period, rates, now)
}

/// [`load_figures`] as of now, for the screen, with a one-line error.
pub fn load_for_screen(
    at: &crate::store::Location,
    rates: &Rates,
    days: u32,
) -> Result<Figures, String> {
    if at.sqlite_path().is_some_and(|p| p.as_os_str().is_empty()) {
        return Err("this store is in memory: no figures to read".to_string());
    }
    load_figures(at, rates, days, Utc::now())
        .map_err(|e| crate::intake::sanitize::single_line(&format!("{e:#}")).text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_switch_the_period_and_esc_goes_back() {
        let mut m = Model::loading(30);
        assert_eq!(m.on_key(KeyCode::Char('7')), KeyOutcome::Load(7));
        assert_eq!(m.days, 7);
        assert_eq!(
            m.on_key(KeyCode::Char('7')),
            KeyOutcome::Stay,
            "already asked"
        );
        assert_eq!(m.on_key(KeyCode::Tab), KeyOutcome::Load(30));
        assert_eq!(m.on_key(KeyCode::Right), KeyOutcome::Load(90));
        assert_eq!(m.on_key(KeyCode::Right), KeyOutcome::Load(7), "wraps");
        assert_eq!(m.on_key(KeyCode::Left), KeyOutcome::Load(90));
        assert_eq!(m.on_key(KeyCode::Char('x')), KeyOutcome::Stay);
        assert_eq!(m.on_key(KeyCode::Esc), KeyOutcome::Close);
    }

    #[test]
    fn a_late_answer_for_another_period_is_dropped() {
        let rates = super::super::fixture::scenario_rates();
        let now = super::super::fixture::scenario_now();
        let cal = rates.calendar();
        let rows = super::super::fixture::scenario();
        let fig = |days| {
            let p = Period::last_days(days, now, cal);
            super::super::compute(&rows, &p, &rates, now).unwrap()
        };
        let mut m = Model::loading(30);
        assert!(m.stale());
        m.on_key(KeyCode::Char('7'));
        m.loaded(30, Ok(fig(30)));
        assert_eq!(m.figures, None, "the 30-day answer came after 7 was asked");
        m.loaded(7, Ok(fig(7)));
        assert!(!m.stale());
        m.loaded(7, Err("disk gone".into()));
        assert_eq!(m.error.as_deref(), Some("disk gone"));
        assert!(m.figures.is_some(), "the last figures stay on screen");
        assert_eq!(
            m.on_key(KeyCode::Char('7')),
            KeyOutcome::Load(7),
            "retry after an error"
        );
    }
}

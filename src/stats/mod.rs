//! The team's figures (issue 12): how many requests came in and how they
//! ended, how fast they were answered and exported against the promise, how
//! good the estimates were, and who did the work.
//!
//! The figures are pure: [`compute`] takes plain [`Rows`] (read from the
//! store by [`load`], with its own read-only SQL) and a `now`, and does no
//! I/O, so every figure is tested with hand-made rows. [`report`] prints
//! them for `concierge report`; the TUI draws them in `tui::stats_view`.
//!
//! What the promise is, exactly as the estimate computes it
//! (`crate::estimate`, the team's time zone, weekends and holidays):
//! - **first reply**: within one business day of arrival
//!   (`Calendar::add_business_days(received, 1)`);
//! - **link emailed** (the export promise, "due date met"): by the due date
//!   the estimate gives from the arrival time and the workspace's size (one
//!   business day for most; more when the size says so); one business day
//!   when the size was never known.
//!
//! Rejected requests promise no export: they count in the requests and the
//! time to first reply, not in the share kept within the promise.

#[doc(hidden)]
pub mod fixture;
pub mod load;
pub mod report;
pub mod screen;
#[cfg(test)]
mod tests;

use crate::estimate::{Calendar, Rates, Size};
use anyhow::Result;
use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

pub use load::load;

/// How a request ended (so far).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The export's link was emailed (request state `done`).
    Emailed,
    /// Rejected with a reason (state `rejected`).
    Rejected,
    /// Anything else: new, waiting, approved, running, failed.
    Open,
}

impl Outcome {
    pub fn from_state(state: &str) -> Outcome {
        match state {
            "done" => Outcome::Emailed,
            "rejected" => Outcome::Rejected,
            _ => Outcome::Open,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Emailed => "emailed",
            Outcome::Rejected => "rejected",
            Outcome::Open => "open",
        }
    }
}

/// One request with the moments the figures need.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestRow {
    pub id: i64,
    pub received_at: DateTime<Utc>,
    pub workspace: Option<String>,
    pub requester: Option<String>,
    /// The store's state string (new, waiting, approved, running, done,
    /// failed, rejected).
    pub state: String,
    /// The first reply that was actually sent.
    pub first_reply_at: Option<DateTime<Utc>>,
    /// When the backend emailed the link (the job's `emailed_at`).
    pub emailed_at: Option<DateTime<Utc>>,
    /// When the request was rejected (its audit entry).
    pub rejected_at: Option<DateTime<Utc>>,
    /// The workspace's size, when the backend reported it.
    pub size: Option<Size>,
}

/// One audit entry by a person (not `intake`).
#[derive(Debug, Clone, PartialEq)]
pub struct ActivityRow {
    pub actor: String,
    /// `reply.sent`, `request.approved`, `request.rejected`, `note.added`.
    pub action: String,
    pub request_id: Option<i64>,
    pub at: DateTime<Utc>,
}

/// One finished export with its estimate.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryRow {
    pub estimated_hours: f64,
    pub actual_hours: f64,
    pub finished_at: DateTime<Utc>,
}

/// What [`load`] reads: the period's requests plus every request still open
/// (for "overdue now"), the period's activity and finished exports.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rows {
    pub requests: Vec<RequestRow>,
    pub activity: Vec<ActivityRow>,
    pub history: Vec<HistoryRow>,
    /// Rows whose timestamps could not be read (left out, counted here).
    pub unreadable: usize,
}

/// Requests per day, or per week when a day each would not fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BucketSize {
    Day,
    Week,
}

/// The time span the figures cover: `[since, until)`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Period {
    pub label: String,
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub bucket: BucketSize,
}

/// Local midnight of `d` in `cal`'s time zone (the first instant of the day
/// when a DST change skips midnight).
fn local_midnight(cal: &Calendar, d: NaiveDate) -> DateTime<Utc> {
    let tz = cal.tz();
    let mut naive = d.and_hms_opt(0, 0, 0).unwrap_or_default();
    // A DST gap is at most an hour or two; step past it.
    for _ in 0..8 {
        if let Some(t) = tz.from_local_datetime(&naive).earliest() {
            return t.with_timezone(&Utc);
        }
        naive += Duration::minutes(30);
    }
    Utc.from_utc_datetime(&naive)
}

fn local_date(cal: &Calendar, t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&cal.tz()).date_naive()
}

impl Period {
    /// The last `days` local days, today included, up to `now`. Daily bars
    /// up to 31 days, weekly beyond (90 daily bars do not fit 80 columns).
    pub fn last_days(days: u32, now: DateTime<Utc>, cal: &Calendar) -> Period {
        let days = days.max(1);
        let first = local_date(cal, now) - Duration::days(i64::from(days) - 1);
        Period {
            label: Period::label_for_days(days),
            since: local_midnight(cal, first),
            until: now,
            bucket: if days <= 31 {
                BucketSize::Day
            } else {
                BucketSize::Week
            },
        }
    }

    /// The label of [`Period::last_days`].
    pub fn label_for_days(days: u32) -> String {
        format!("last {days} days")
    }

    /// From the start of `since` to the end of `until` (both local dates,
    /// inclusive).
    pub fn dates(since: NaiveDate, until: NaiveDate, cal: &Calendar) -> Result<Period> {
        if until < since {
            anyhow::bail!("--until {until} is before --since {since}");
        }
        let days = (until - since).num_days() + 1;
        Ok(Period {
            label: format!("{since} to {until}"),
            since: local_midnight(cal, since),
            until: local_midnight(cal, until + Duration::days(1)),
            bucket: if days <= 31 {
                BucketSize::Day
            } else {
                BucketSize::Week
            },
        })
    }

    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.since <= t && t < self.until
    }

    /// The first local date of the bucket holding `d`.
    fn bucket_start(&self, d: NaiveDate) -> NaiveDate {
        match self.bucket {
            BucketSize::Day => d,
            // ISO weeks start on Monday.
            BucketSize::Week => d - Duration::days(i64::from(d.weekday().num_days_from_monday())),
        }
    }
}

/// Requests of one day or week, by outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Bucket {
    /// The bucket's first local date.
    pub start: NaiveDate,
    pub emailed: usize,
    pub rejected: usize,
    pub open: usize,
}

impl Bucket {
    pub fn total(&self) -> usize {
        self.emailed + self.rejected + self.open
    }
}

/// How long something took, in wall-clock hours, against its promise.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Timing {
    /// Requests this was measured on.
    pub count: usize,
    /// The median (the mean of the middle two for an even count).
    pub median_hours: Option<f64>,
    /// The 90th percentile, nearest rank: the smallest value that at least
    /// 90 % of the measurements do not exceed.
    pub p90_hours: Option<f64>,
    /// How many were done by their promised time.
    pub within_promise: usize,
}

/// The export promise ("due date met") over the period's requests.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Promise {
    /// Link emailed by the due date.
    pub kept: usize,
    /// Link emailed late, or still open past the due date.
    pub missed: usize,
    /// Still open, not yet due.
    pub pending: usize,
    /// kept / (kept + missed); None when nothing was due yet.
    pub share_kept: Option<f64>,
}

/// An open request past its due date, right now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Overdue {
    pub id: i64,
    pub workspace: Option<String>,
    pub received_at: DateTime<Utc>,
    pub due: DateTime<Utc>,
    pub hours_overdue: f64,
}

/// How many finished exports fell into a band of actual / estimated hours.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RatioBand {
    pub label: &'static str,
    pub count: usize,
}

/// Estimated vs actual hours of the period's finished exports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Accuracy {
    pub jobs: usize,
    pub bands: Vec<RatioBand>,
    /// What `concierge estimate --calibration` computes, on this period's
    /// exports: the median ratio and the rates it suggests.
    pub calibration: Option<crate::estimate::Calibration>,
}

/// Bands of actual / estimated hours: upper bounds (exclusive) and labels.
pub const RATIO_BANDS: [(f64, &str); 5] = [
    (0.5, "<0.5x"),
    (0.8, "0.5-0.8x"),
    (1.25, "0.8-1.25x"),
    (2.0, "1.25-2x"),
    (f64::INFINITY, ">=2x"),
];

/// What one person did in the period, from the audit log: `handled` counts
/// the distinct requests they replied to, noted, approved or rejected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OperatorFigures {
    pub name: String,
    pub handled: usize,
    pub replies_sent: usize,
    pub approved: usize,
    pub rejected: usize,
    pub notes: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Counts {
    pub total: usize,
    pub emailed: usize,
    pub rejected: usize,
    pub open: usize,
}

/// Every figure of one period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figures {
    pub period: Period,
    pub now: DateTime<Utc>,
    pub timezone: String,
    pub requests: Counts,
    pub buckets: Vec<Bucket>,
    pub first_reply: Timing,
    pub link_emailed: Timing,
    pub promise: Promise,
    pub overdue_now: Vec<Overdue>,
    pub accuracy: Accuracy,
    pub operators: Vec<OperatorFigures>,
    pub unreadable_rows: usize,
}

/// A request's two promised moments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dues {
    /// First reply by: one business day after arrival.
    pub reply_by: DateTime<Utc>,
    /// Link emailed by: the estimate's due date from arrival.
    pub link_by: DateTime<Utc>,
}

/// The promised moments of `r`, computed as the estimate computes them.
pub fn dues(r: &RequestRow, rates: &Rates, cal: &Calendar) -> Dues {
    let reply_by = cal.add_business_days(r.received_at, 1);
    let link_by = r
        .size
        .map(|s| rates.estimate(&s, r.received_at).due)
        .unwrap_or(reply_by);
    Dues { reply_by, link_by }
}

/// Where one request stands against the export promise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PromiseState {
    Kept,
    Missed,
    Pending,
}

impl PromiseState {
    pub fn as_str(self) -> &'static str {
        match self {
            PromiseState::Kept => "kept",
            PromiseState::Missed => "missed",
            PromiseState::Pending => "pending",
        }
    }
}

/// `r` against its link due date `link_by`, as of `now`. None for a
/// rejected request (no export was promised) and for an emailed one whose
/// emailing time is unknown (nothing to measure).
pub fn promise_state(
    r: &RequestRow,
    link_by: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Option<PromiseState> {
    match (Outcome::from_state(&r.state), r.emailed_at) {
        (Outcome::Emailed, Some(t)) if t <= link_by => Some(PromiseState::Kept),
        (Outcome::Emailed, Some(_)) => Some(PromiseState::Missed),
        (Outcome::Open, _) if now > link_by => Some(PromiseState::Missed),
        (Outcome::Open, _) => Some(PromiseState::Pending),
        _ => None,
    }
}

fn hours(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    (to - from).num_seconds() as f64 / 3600.0
}

/// Median and nearest-rank 90th percentile of `v` (sorted here).
pub fn median_p90(v: &mut [f64]) -> (Option<f64>, Option<f64>) {
    if v.is_empty() {
        return (None, None);
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    // Nearest rank: the ⌈0.9·n⌉-th value (1-based).
    let rank = (n * 9).div_ceil(10).max(1);
    (Some(median), Some(v[rank - 1]))
}

fn timing(samples: Vec<(f64, bool)>) -> Timing {
    let within_promise = samples.iter().filter(|(_, ok)| *ok).count();
    let mut v: Vec<f64> = samples.into_iter().map(|(h, _)| h).collect();
    let (median_hours, p90_hours) = median_p90(&mut v);
    Timing {
        count: v.len(),
        median_hours,
        p90_hours,
        within_promise,
    }
}

/// Every figure of `period` from `rows`, as of `now`.
pub fn compute(rows: &Rows, period: &Period, rates: &Rates, now: DateTime<Utc>) -> Result<Figures> {
    let cal = rates.calendar();
    let in_period: Vec<&RequestRow> = rows
        .requests
        .iter()
        .filter(|r| period.contains(r.received_at))
        .collect();

    let mut buckets: BTreeMap<NaiveDate, Bucket> = BTreeMap::new();
    let last = local_date(cal, period.until - Duration::nanoseconds(1));
    let mut d = period.bucket_start(local_date(cal, period.since));
    while d <= last {
        buckets.insert(
            d,
            Bucket {
                start: d,
                emailed: 0,
                rejected: 0,
                open: 0,
            },
        );
        d = match period.bucket {
            BucketSize::Day => d + Duration::days(1),
            BucketSize::Week => d + Duration::days(7),
        };
    }
    let mut counts = Counts {
        total: in_period.len(),
        emailed: 0,
        rejected: 0,
        open: 0,
    };
    let (mut replies, mut links) = (Vec::new(), Vec::new());
    let mut promise = Promise {
        kept: 0,
        missed: 0,
        pending: 0,
        share_kept: None,
    };
    for r in &in_period {
        let outcome = Outcome::from_state(&r.state);
        let start = period.bucket_start(local_date(cal, r.received_at));
        let b = buckets.entry(start).or_insert(Bucket {
            start,
            emailed: 0,
            rejected: 0,
            open: 0,
        });
        let (slot, total) = match outcome {
            Outcome::Emailed => (&mut b.emailed, &mut counts.emailed),
            Outcome::Rejected => (&mut b.rejected, &mut counts.rejected),
            Outcome::Open => (&mut b.open, &mut counts.open),
        };
        *slot += 1;
        *total += 1;
        let due = dues(r, rates, cal);
        if let Some(t) = r.first_reply_at {
            replies.push((hours(r.received_at, t), t <= due.reply_by));
        }
        if let (Outcome::Emailed, Some(t)) = (outcome, r.emailed_at) {
            links.push((hours(r.received_at, t), t <= due.link_by));
        }
        match promise_state(r, due.link_by, now) {
            Some(PromiseState::Kept) => promise.kept += 1,
            Some(PromiseState::Missed) => promise.missed += 1,
            Some(PromiseState::Pending) => promise.pending += 1,
            None => {}
        }
    }
    let decided = promise.kept + promise.missed;
    if decided > 0 {
        promise.share_kept = Some(promise.kept as f64 / decided as f64);
    }

    let mut overdue_now: Vec<Overdue> = rows
        .requests
        .iter()
        .filter(|r| Outcome::from_state(&r.state) == Outcome::Open)
        .filter_map(|r| {
            let due = dues(r, rates, cal).link_by;
            (now > due).then(|| Overdue {
                id: r.id,
                workspace: r.workspace.clone(),
                received_at: r.received_at,
                due,
                hours_overdue: hours(due, now),
            })
        })
        .collect();
    overdue_now.sort_by(|a, b| a.due.cmp(&b.due).then(a.id.cmp(&b.id)));

    Ok(Figures {
        period: period.clone(),
        now,
        timezone: cal.tz().name().to_string(),
        requests: counts,
        buckets: buckets.into_values().collect(),
        first_reply: timing(replies),
        link_emailed: timing(links),
        promise,
        overdue_now,
        accuracy: accuracy(&rows.history, period, rates),
        operators: operators(&rows.activity, period),
        unreadable_rows: rows.unreadable,
    })
}

fn accuracy(history: &[HistoryRow], period: &Period, rates: &Rates) -> Accuracy {
    let pairs: Vec<(f64, f64)> = history
        .iter()
        .filter(|h| period.contains(h.finished_at))
        .map(|h| (h.estimated_hours, h.actual_hours))
        .collect();
    let mut bands: Vec<RatioBand> = RATIO_BANDS
        .iter()
        .map(|(_, label)| RatioBand { label, count: 0 })
        .collect();
    let mut jobs = 0;
    // The same filter `calibrate` applies: a ratio needs a positive estimate.
    for (e, a) in pairs
        .iter()
        .filter(|(e, a)| *e > 0.0 && a.is_finite() && *a >= 0.0)
    {
        let ratio = a / e;
        if let Some(i) = RATIO_BANDS.iter().position(|(upper, _)| ratio < *upper) {
            bands[i].count += 1;
            jobs += 1;
        }
    }
    Accuracy {
        jobs,
        bands,
        calibration: crate::estimate::calibrate(rates, &pairs),
    }
}

fn operators(activity: &[ActivityRow], period: &Period) -> Vec<OperatorFigures> {
    let mut by: BTreeMap<&str, (OperatorFigures, BTreeSet<i64>)> = BTreeMap::new();
    for a in activity.iter().filter(|a| period.contains(a.at)) {
        let kind = match a.action.as_str() {
            "reply.sent" => 0,
            "request.approved" => 1,
            "request.rejected" => 2,
            "note.added" => 3,
            _ => continue,
        };
        let (f, handled) = by.entry(a.actor.as_str()).or_insert_with(|| {
            (
                OperatorFigures {
                    name: a.actor.clone(),
                    handled: 0,
                    replies_sent: 0,
                    approved: 0,
                    rejected: 0,
                    notes: 0,
                },
                BTreeSet::new(),
            )
        });
        let counter = match kind {
            0 => &mut f.replies_sent,
            1 => &mut f.approved,
            2 => &mut f.rejected,
            _ => &mut f.notes,
        };
        *counter += 1;
        if let Some(id) = a.request_id {
            handled.insert(id);
        }
    }
    let mut out: Vec<OperatorFigures> = by
        .into_values()
        .map(|(mut f, handled)| {
            f.handled = handled.len();
            f
        })
        .collect();
    // Busiest first; the name breaks ties so the order is stable.
    out.sort_by(|a, b| b.handled.cmp(&a.handled).then(a.name.cmp(&b.name)));
    out
}

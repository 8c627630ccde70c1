//! Turnaround estimates: hours of export work from a workspace's size, laid
//! onto business days in the team's time zone.
//!
//! The promise (Ochre's help article): "For most workspaces, exports complete
//! within one business day. … we will email you with a more specific estimate
//! if it is going to take more than 48 hours."
//!
//! - hours = base + messages / messages_per_hour + customers /
//!   customers_per_hour + attachment GB / attachment_gb_per_hour +
//!   large attachments × hours_per_large_attachment (rates in `[estimate]`).
//! - business days = ⌈hours / 24⌉, at least 1 (exports run round the clock;
//!   the promise counts business days).
//! - due: from the request time (or, when it arrives on a weekend or holiday,
//!   from the start of the next business day), advance that many business
//!   days keeping the local time of day. Friday 18:00 + 1 → Monday 18:00;
//!   never a Saturday, Sunday or holiday.
//! - over_48h: hours > 48. Such a request needs the specific-estimate reply
//!   before it can be approved.

use anyhow::{bail, Result};
use chrono::{
    DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Timelike, Utc, Weekday,
};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// `[estimate]` as the config file writes it: rates and the calendar, not
/// yet checked. It exists only to be read; [`RatesConfig::validate`] turns it,
/// once, at config load, into the [`Rates`] everything else holds.
/// Defaults are documented in the README.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RatesConfig {
    pub base_hours: f64,
    pub messages_per_hour: f64,
    pub customers_per_hour: f64,
    pub attachment_gb_per_hour: f64,
    pub hours_per_large_attachment: f64,
    /// IANA time zone of the team, e.g. "Europe/Berlin".
    pub timezone: String,
    /// Local time a business day starts (a request on a weekend counts from
    /// the next business day at this time).
    pub day_start: String,
    /// Holidays, `YYYY-MM-DD`, in the team's time zone.
    pub holidays: Vec<String>,
}

impl Default for RatesConfig {
    fn default() -> Self {
        RatesConfig {
            base_hours: 0.5,
            messages_per_hour: 40_000.0,
            customers_per_hour: 20_000.0,
            attachment_gb_per_hour: 25.0,
            hours_per_large_attachment: 0.1,
            timezone: "UTC".into(),
            day_start: "09:00".into(),
            holidays: Vec::new(),
        }
    }
}

/// The size figures an estimate needs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Size {
    pub messages: u64,
    pub customers: u64,
    pub attachment_bytes: u64,
    pub large_attachments: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Estimate {
    pub hours: f64,
    pub business_days: u32,
    /// Whole seconds: the CLI prints it as `2026-11-30T16:00:00Z`.
    #[serde(serialize_with = "crate::time::ser_secs")]
    pub due: DateTime<Utc>,
    pub over_48h: bool,
}

/// A validated calendar: the team's zone, when its day starts, its holidays.
#[derive(Debug, Clone, PartialEq)]
pub struct Calendar {
    tz: Tz,
    day_start: NaiveTime,
    holidays: Vec<NaiveDate>,
}

/// Validated rates and their calendar, built once from [`RatesConfig`]:
/// every rate is a usable number, so an estimate cannot fail.
#[derive(Debug, Clone, PartialEq)]
pub struct Rates {
    base_hours: f64,
    messages_per_hour: f64,
    customers_per_hour: f64,
    attachment_gb_per_hour: f64,
    hours_per_large_attachment: f64,
    calendar: Calendar,
}

/// 09:00, the default start of a business day.
const NINE: NaiveTime = match NaiveTime::from_hms_opt(9, 0, 0) {
    Some(t) => t,
    None => panic!("09:00 is a time"),
};

impl Default for Rates {
    /// [`RatesConfig::default`], validated (`defaults_are_valid` checks that
    /// the two agree).
    fn default() -> Self {
        let c = RatesConfig::default();
        Rates {
            base_hours: c.base_hours,
            messages_per_hour: c.messages_per_hour,
            customers_per_hour: c.customers_per_hour,
            attachment_gb_per_hour: c.attachment_gb_per_hour,
            hours_per_large_attachment: c.hours_per_large_attachment,
            calendar: Calendar {
                tz: Tz::UTC,
                day_start: NINE,
                holidays: Vec::new(),
            },
        }
    }
}

impl RatesConfig {
    /// The validated rates; an error names the `[estimate]` key.
    pub fn validate(&self) -> Result<Rates> {
        for (name, v) in [
            ("messages_per_hour", self.messages_per_hour),
            ("customers_per_hour", self.customers_per_hour),
            ("attachment_gb_per_hour", self.attachment_gb_per_hour),
        ] {
            if !(v.is_finite() && v > 0.0) {
                bail!("[estimate] {name}: must be a positive number, got {v}");
            }
        }
        for (name, v) in [
            ("base_hours", self.base_hours),
            (
                "hours_per_large_attachment",
                self.hours_per_large_attachment,
            ),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                bail!("[estimate] {name}: must be zero or more, got {v}");
            }
        }
        let tz: Tz = self.timezone.parse().map_err(|_| {
            anyhow::anyhow!(
                "[estimate] timezone: {:?} is not an IANA time zone (e.g. \"Europe/Berlin\")",
                self.timezone
            )
        })?;
        let day_start = NaiveTime::parse_from_str(&self.day_start, "%H:%M").map_err(|_| {
            anyhow::anyhow!(
                "[estimate] day_start: expected HH:MM, got {:?}",
                self.day_start
            )
        })?;
        let holidays = self
            .holidays
            .iter()
            .map(|h| {
                NaiveDate::parse_from_str(h, "%Y-%m-%d").map_err(|_| {
                    anyhow::anyhow!("[estimate] holidays: expected YYYY-MM-DD, got {h:?}")
                })
            })
            .collect::<Result<_>>()?;
        Ok(Rates {
            base_hours: self.base_hours,
            messages_per_hour: self.messages_per_hour,
            customers_per_hour: self.customers_per_hour,
            attachment_gb_per_hour: self.attachment_gb_per_hour,
            hours_per_large_attachment: self.hours_per_large_attachment,
            calendar: Calendar {
                tz,
                day_start,
                holidays,
            },
        })
    }
}

impl Rates {
    /// The team's calendar (validated with the rates).
    pub fn calendar(&self) -> &Calendar {
        &self.calendar
    }

    /// Hours of export work for a workspace of this size.
    pub fn hours(&self, size: &Size) -> f64 {
        self.base_hours
            + size.messages as f64 / self.messages_per_hour
            + size.customers as f64 / self.customers_per_hour
            + size.attachment_bytes as f64 / 1e9 / self.attachment_gb_per_hour
            + size.large_attachments as f64 * self.hours_per_large_attachment
    }

    /// The estimate for a workspace of this size, counted from `at`. The due
    /// time is cut to whole seconds (what the CLI and replies show).
    pub fn estimate(&self, size: &Size, at: DateTime<Utc>) -> Estimate {
        let hours = self.hours(size);
        let business_days = ((hours / 24.0).ceil() as u32).max(1);
        let due = self.calendar.add_business_days(at, business_days);
        Estimate {
            hours: (hours * 10.0).round() / 10.0,
            business_days,
            // What `to_rfc3339_opts(Secs)` printed before: the same second.
            due: due.with_nanosecond(0).unwrap_or(due),
            over_48h: hours > 48.0,
        }
    }
}

impl Calendar {
    pub fn tz(&self) -> Tz {
        self.tz
    }

    pub fn is_business_day(&self, d: NaiveDate) -> bool {
        !matches!(d.weekday(), Weekday::Sat | Weekday::Sun) && !self.holidays.contains(&d)
    }

    fn next_business_day(&self, mut d: NaiveDate) -> NaiveDate {
        loop {
            d = d.succ_opt().unwrap_or(d);
            if self.is_business_day(d) {
                return d;
            }
        }
    }

    /// Local date and time → UTC, resolving DST gaps and folds forward.
    fn to_utc(&self, d: NaiveDate, t: NaiveTime) -> DateTime<Utc> {
        let mut naive = d.and_time(t);
        for _ in 0..4 {
            match self.tz.from_local_datetime(&naive) {
                chrono::LocalResult::Single(x) => return x.with_timezone(&Utc),
                chrono::LocalResult::Ambiguous(a, _) => return a.with_timezone(&Utc),
                chrono::LocalResult::None => naive += Duration::minutes(30),
            }
        }
        Utc.from_utc_datetime(&naive)
    }

    /// `at` advanced by `n` business days in the team's time zone.
    pub fn add_business_days(&self, at: DateTime<Utc>, n: u32) -> DateTime<Utc> {
        let local = at.with_timezone(&self.tz);
        let (mut date, time) = if self.is_business_day(local.date_naive()) {
            (local.date_naive(), local.time())
        } else {
            (self.next_business_day(local.date_naive()), self.day_start)
        };
        for _ in 0..n {
            date = self.next_business_day(date);
        }
        self.to_utc(date, time)
    }
}

/// How far past estimates were off, from finished jobs' real durations.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Calibration {
    pub jobs: usize,
    /// Median of actual / estimated hours (1.0: spot on; 2.0: took twice as long).
    pub median_ratio: f64,
    /// Mean of |actual − estimated| / estimated, in percent.
    pub mean_error_pct: f64,
    /// The rates scaled by the median ratio: what `[estimate]` would be if
    /// calibrated on this history.
    pub suggested_messages_per_hour: f64,
    pub suggested_customers_per_hour: f64,
    pub suggested_attachment_gb_per_hour: f64,
}

/// Calibrates `rates` from (estimated, actual) hours; `None` without history.
pub fn calibrate(rates: &Rates, history: &[(f64, f64)]) -> Option<Calibration> {
    let mut ratios: Vec<f64> = history
        .iter()
        .filter(|(e, a)| *e > 0.0 && a.is_finite() && *a >= 0.0)
        .map(|(e, a)| a / e)
        .collect();
    if ratios.is_empty() {
        return None;
    }
    ratios.sort_by(|a, b| a.total_cmp(b));
    let n = ratios.len();
    let median = if n % 2 == 1 {
        ratios[n / 2]
    } else {
        (ratios[n / 2 - 1] + ratios[n / 2]) / 2.0
    };
    let mean_error_pct = ratios.iter().map(|r| (r - 1.0).abs()).sum::<f64>() / n as f64 * 100.0;
    let scale = |v: f64| ((v / median) * 10.0).round() / 10.0;
    Some(Calibration {
        jobs: n,
        median_ratio: (median * 1000.0).round() / 1000.0,
        mean_error_pct: (mean_error_pct * 10.0).round() / 10.0,
        suggested_messages_per_hour: scale(rates.messages_per_hour),
        suggested_customers_per_hour: scale(rates.customers_per_hour),
        suggested_attachment_gb_per_hour: scale(rates.attachment_gb_per_hour),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn small() -> Size {
        Size {
            messages: 12_000,
            customers: 1_000,
            attachment_bytes: 200_000_000,
            large_attachments: 1,
        }
    }

    #[test]
    fn table() {
        let berlin = RatesConfig {
            timezone: "Europe/Berlin".into(),
            ..RatesConfig::default()
        }
        .validate()
        .unwrap();
        let xmas = RatesConfig {
            holidays: vec!["2026-12-25".into()],
            ..RatesConfig::default()
        }
        .validate()
        .unwrap();
        let plain = Rates::default();
        let no_base = RatesConfig {
            base_hours: 0.0,
            ..RatesConfig::default()
        }
        .validate()
        .unwrap();
        let cases: Vec<(&str, &Rates, Size, &str, &str, u32, bool)> = vec![
            (
                "Monday morning",
                &plain,
                small(),
                "2026-11-23T09:00:00Z",
                "2026-11-24T09:00:00Z",
                1,
                false,
            ),
            (
                "Friday evening → Monday",
                &plain,
                small(),
                "2026-11-27T18:00:00Z",
                "2026-11-30T18:00:00Z",
                1,
                false,
            ),
            (
                "Saturday → Tuesday day start",
                &plain,
                small(),
                "2026-11-28T12:00:00Z",
                "2026-12-01T09:00:00Z",
                1,
                false,
            ),
            (
                "Christmas Eve → skips the holiday",
                &xmas,
                small(),
                "2026-12-24T10:00:00Z",
                "2026-12-28T10:00:00Z",
                1,
                false,
            ),
            // 23:30 UTC on Friday is already Saturday in Berlin.
            (
                "time zone moves the day",
                &berlin,
                small(),
                "2026-11-27T23:30:00Z",
                "2026-12-01T08:00:00Z",
                1,
                false,
            ),
            (
                "48 hours exactly is not over",
                &no_base,
                Size {
                    messages: 1_920_000,
                    ..Size::default()
                },
                "2026-11-23T09:00:00Z",
                "2026-11-25T09:00:00Z",
                2,
                false,
            ),
            (
                "just over 48 hours",
                &no_base,
                Size {
                    messages: 1_920_040,
                    ..Size::default()
                },
                "2026-11-23T09:00:00Z",
                "2026-11-26T09:00:00Z",
                3,
                true,
            ),
        ];
        for (name, rates, size, from, due, days, over) in cases {
            let e = rates.estimate(&size, at(from));
            assert_eq!(
                (e.due, e.business_days, e.over_48h),
                (at(due), days, over),
                "{name}: {e:?}"
            );
        }
    }

    #[test]
    fn never_due_on_a_weekend() {
        let r = RatesConfig {
            holidays: vec!["2026-12-25".into(), "2026-12-28".into()],
            ..RatesConfig::default()
        }
        .validate()
        .unwrap();
        let cal = r.calendar();
        let mut t = at("2026-12-01T00:00:00Z");
        for _ in 0..24 * 40 {
            for n in 1..4 {
                let due = cal.add_business_days(t, n);
                assert!(cal.is_business_day(due.date_naive()), "{t} + {n} = {due}");
                assert!(due > t);
            }
            t += Duration::hours(1);
        }
    }

    #[test]
    fn demo_workspaces_keep_the_promise() {
        let demo = crate::refbackend::seed::Demo::new("demo");
        let size = |name: &str| Size::from(demo.workspace_by_name(name).unwrap().size());
        let friday = at("2026-11-27T16:00:00Z");
        for name in ["Acme Support", "Northwind Traders"] {
            let e = Rates::default().estimate(&size(name), friday);
            assert_eq!((e.business_days, e.over_48h), (1, false), "{name}: {e:?}");
            assert_eq!(e.due, at("2026-11-30T16:00:00Z"), "{name}");
        }
        let g = Rates::default().estimate(&size("Globex"), friday);
        assert!(g.over_48h && g.hours > 48.0, "{g:?}");
        assert!(g.business_days >= 3, "{g:?}");
    }

    #[test]
    fn calibration_from_history() {
        assert_eq!(calibrate(&Rates::default(), &[]), None);
        // Jobs took twice as long as estimated: rates halve.
        let c = calibrate(&Rates::default(), &[(1.0, 2.0), (10.0, 20.0), (4.0, 9.0)]).unwrap();
        assert_eq!(c.jobs, 3);
        assert_eq!(c.median_ratio, 2.0);
        assert_eq!(c.suggested_messages_per_hour, 20_000.0);
        assert!((c.mean_error_pct - 108.3).abs() < 0.1, "{c:?}");
    }

    #[test]
    fn bad_rates_are_named() {
        let e = RatesConfig {
            timezone: "Mars/Olympus".into(),
            ..RatesConfig::default()
        }
        .validate()
        .err()
        .unwrap();
        assert!(e.to_string().contains("[estimate] timezone"));
        let e = RatesConfig {
            messages_per_hour: 0.0,
            ..RatesConfig::default()
        }
        .validate()
        .err()
        .unwrap();
        assert!(e.to_string().contains("messages_per_hour"));
        let e = RatesConfig {
            holidays: vec!["25.12.2026".into()],
            ..RatesConfig::default()
        }
        .validate()
        .err()
        .unwrap();
        assert!(e.to_string().contains("holidays"));
    }

    #[test]
    fn defaults_are_valid() {
        assert_eq!(RatesConfig::default().validate().unwrap(), Rates::default());
    }

    #[test]
    fn the_due_time_is_whole_seconds_and_prints_as_before() {
        let e = Rates::default().estimate(&small(), at("2026-11-23T09:00:00.987654Z"));
        assert_eq!(e.due, at("2026-11-24T09:00:00Z"));
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json["due"], "2026-11-24T09:00:00Z");
    }
}

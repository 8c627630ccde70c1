//! `concierge report`: the figures as text (people), JSON (scripts) or CSV
//! (spreadsheets: one row per request with its timestamps).
//!
//! Workspace names and addresses come from email: they are sanitized at
//! intake, and in CSV a cell that a spreadsheet would run as a formula
//! (leading `=`, `+`, `-`, `@`, tab or CR; OWASP "CSV injection") is
//! prefixed with `'`.

use super::{dues, promise_state, Figures, Outcome, Period, RequestRow, Timing};
use crate::estimate::Rates;
use anyhow::Result;
use chrono::{DateTime, SecondsFormat, Utc};
use chrono_tz::Tz;
use std::fmt::Write as _;

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    Csv,
}

/// Hours with one decimal, or "-" when there is nothing to measure.
pub fn fmt_hours(h: Option<f64>) -> String {
    match h {
        Some(h) => format!("{h:.1} h"),
        None => "-".into(),
    }
}

/// A share as a percentage with one decimal, or "-".
pub fn fmt_share(s: Option<f64>) -> String {
    match s {
        Some(s) => format!("{:.1} %", s * 100.0),
        None => "-".into(),
    }
}

/// A name for the terminal: sanitized at intake already; again here, as
/// operator names come from config files.
fn one_line(s: &str) -> String {
    crate::intake::sanitize::single_line(s).text
}

fn local(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string()
}

fn timing_line(t: &Timing, promise: &str) -> String {
    format!(
        "median {}, 90th percentile {}; {} of {} {promise}",
        fmt_hours(t.median_hours),
        fmt_hours(t.p90_hours),
        t.within_promise,
        t.count
    )
}

/// The estimates' accuracy and the calibration it suggests.
fn estimates_text(s: &mut String, f: &Figures) {
    let a = &f.accuracy;
    let bands: Vec<String> = a
        .bands
        .iter()
        .map(|b| format!("{} {}", b.label, b.count))
        .collect();
    let _ = writeln!(
        s,
        "\nEstimates:       {} finished exports; actual/estimated: {}",
        a.jobs,
        bands.join(", ")
    );
    match &a.calibration {
        Some(c) => {
            let _ = writeln!(
                s,
                "                 median ratio {:.2}, mean error {:.1} %; suggested rates: messages_per_hour {}, customers_per_hour {}, attachment_gb_per_hour {}",
                c.median_ratio,
                c.mean_error_pct,
                c.suggested_messages_per_hour,
                c.suggested_customers_per_hour,
                c.suggested_attachment_gb_per_hour
            );
        }
        None => {
            let _ = writeln!(
                s,
                "                 no finished exports: nothing to calibrate from"
            );
        }
    }
}

/// What each operator did in the period (from the audit log).
fn operators_text(s: &mut String, f: &Figures) {
    let _ = writeln!(
        s,
        "\nPer operator (audit log: handled = requests they replied to, noted, approved or rejected)"
    );
    if f.operators.is_empty() {
        let _ = writeln!(s, "  nobody acted in this period");
    } else {
        let _ = writeln!(
            s,
            "  {:<24} {:>7} {:>7} {:>8} {:>8} {:>5}",
            "operator", "handled", "replies", "approved", "rejected", "notes"
        );
    }
    for o in &f.operators {
        let _ = writeln!(
            s,
            "  {:<24} {:>7} {:>7} {:>8} {:>8} {:>5}",
            one_line(&o.name),
            o.handled,
            o.replies_sent,
            o.approved,
            o.rejected,
            o.notes
        );
    }
}

/// The figures for a person reading a terminal.
pub fn text(f: &Figures, tz: Tz) -> String {
    let mut s = String::new();
    let p = &f.period;
    let _ = writeln!(
        s,
        "Concierge report: {} ({} to {}, {})\n",
        p.label,
        local(p.since, tz),
        local(p.until, tz),
        f.timezone
    );
    let r = &f.requests;
    let _ = writeln!(
        s,
        "Requests:        {} (emailed {}, rejected {}, open {})",
        r.total, r.emailed, r.rejected, r.open
    );
    let _ = writeln!(
        s,
        "First reply:     {}",
        timing_line(&f.first_reply, "within one business day")
    );
    let _ = writeln!(
        s,
        "Link emailed:    {}",
        timing_line(&f.link_emailed, "by the due date")
    );
    let pr = &f.promise;
    let _ = writeln!(
        s,
        "Promise kept:    {} ({} kept, {} missed, {} open and not yet due)",
        fmt_share(pr.share_kept),
        pr.kept,
        pr.missed,
        pr.pending
    );
    let _ = writeln!(s, "Overdue now:     {}", f.overdue_now.len());
    for o in &f.overdue_now {
        let _ = writeln!(
            s,
            "  #{} {}: due {}, {} overdue",
            o.id,
            o.workspace
                .as_deref()
                .map_or("(workspace unknown)".into(), one_line),
            local(o.due, tz),
            fmt_hours(Some(o.hours_overdue))
        );
    }
    estimates_text(&mut s, f);
    operators_text(&mut s, f);
    let unit = match p.bucket {
        super::BucketSize::Day => "day",
        super::BucketSize::Week => "week from",
    };
    let _ = writeln!(s, "\nPer {unit}:");
    for b in &f.buckets {
        let _ = writeln!(
            s,
            "  {}  {:>4} requests: emailed {}, rejected {}, open {}",
            b.start,
            b.total(),
            b.emailed,
            b.rejected,
            b.open
        );
    }
    if f.unreadable_rows > 0 {
        let _ = writeln!(
            s,
            "\n{} rows had unreadable timestamps and are left out.",
            f.unreadable_rows
        );
    }
    s
}

/// The CSV header: one row per request received in the period.
pub const CSV_HEADER: [&str; 14] = [
    "id",
    "received_at",
    "workspace",
    "requester",
    "state",
    "outcome",
    "first_reply_at",
    "hours_to_first_reply",
    "reply_due",
    "emailed_at",
    "hours_to_link",
    "link_due",
    "rejected_at",
    "promise",
];

/// A text cell a spreadsheet will not run as a formula.
fn cell(s: Option<&str>) -> String {
    match s {
        Some(s) if s.starts_with(['=', '+', '-', '@', '\t', '\r']) => format!("'{s}"),
        Some(s) => s.to_string(),
        None => String::new(),
    }
}

fn time(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_default()
}

fn span(from: DateTime<Utc>, to: Option<DateTime<Utc>>) -> String {
    to.map(|t| format!("{:.2}", (t - from).num_seconds() as f64 / 3600.0))
        .unwrap_or_default()
}

/// One row per request received in `period`, oldest first.
pub fn csv(
    requests: &[RequestRow],
    period: &Period,
    rates: &Rates,
    now: DateTime<Utc>,
) -> Result<String> {
    let cal = rates.calendar();
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(CSV_HEADER)?;
    let mut rows: Vec<&RequestRow> = requests
        .iter()
        .filter(|r| period.contains(r.received_at))
        .collect();
    rows.sort_by_key(|r| (r.received_at, r.id));
    for r in rows {
        let d = dues(r, rates, cal);
        let outcome = Outcome::from_state(&r.state);
        let promise = promise_state(r, d.link_by, now).map_or("", |p| p.as_str());
        w.write_record([
            r.id.to_string(),
            time(Some(r.received_at)),
            cell(r.workspace.as_deref()),
            cell(r.requester.as_deref()),
            cell(Some(&r.state)),
            outcome.as_str().to_string(),
            time(r.first_reply_at),
            span(r.received_at, r.first_reply_at),
            time(Some(d.reply_by)),
            time(r.emailed_at),
            span(r.received_at, r.emailed_at),
            time(Some(d.link_by)),
            time(r.rejected_at),
            promise.to_string(),
        ])?;
    }
    let bytes = w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(String::from_utf8(bytes)?)
}

/// `concierge report`.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// First day of the period (YYYY-MM-DD, the team's time zone; default:
    /// 29 days before --until).
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
    /// Last day of the period, included (YYYY-MM-DD; default: today).
    #[arg(long, value_name = "DATE")]
    pub until: Option<String>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// The figures as of this moment (RFC 3339; default: now): what counts
    /// as open and overdue.
    #[arg(long, value_name = "RFC3339")]
    pub at: Option<String>,
}

fn parse_date(flag: &str, s: &str) -> Result<chrono::NaiveDate> {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| anyhow::anyhow!("{flag} {s:?}: expected a date, YYYY-MM-DD"))
}

/// The period `args` name, in the team's calendar.
pub fn period(
    args: &ReportArgs,
    cal: &crate::estimate::Calendar,
    now: DateTime<Utc>,
) -> Result<Period> {
    let today = now.with_timezone(&cal.tz()).date_naive();
    let until = match &args.until {
        Some(s) => parse_date("--until", s)?,
        None => today,
    };
    let since = match &args.since {
        Some(s) => parse_date("--since", s)?,
        None => until - chrono::Duration::days(29),
    };
    if args.since.is_none() && args.until.is_none() {
        return Ok(Period::last_days(30, now, cal));
    }
    Period::dates(since, until, cal)
}

/// Runs `concierge report` on the configured store; returns the exit code.
pub fn run(cfg: &crate::config::Config, args: &ReportArgs) -> Result<i32> {
    use anyhow::Context;
    use std::io::Write;
    let rates = &cfg.estimate;
    let cal = rates.calendar();
    let now = match &args.at {
        Some(s) => DateTime::parse_from_rfc3339(s)
            .map_err(|e| anyhow::anyhow!("--at {s:?}: not an RFC 3339 time ({e})"))?
            .with_timezone(&Utc),
        None => Utc::now(),
    };
    let period = period(args, cal, now)?;
    // The team store when `[store] url` is set, else the SQLite file.
    let conn = super::load::open(&cfg.store_location()?)?;
    let rows = super::load(&conn, &period)?;
    let out = match args.format {
        Format::Text => text(&super::compute(&rows, &period, rates, now)?, cal.tz()),
        Format::Json => {
            serde_json::to_string_pretty(&super::compute(&rows, &period, rates, now)?)? + "\n"
        }
        Format::Csv => csv(&rows.requests, &period, rates, now)?,
    };
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => Ok(0),
        // `| head`: a closed pipe ends quietly.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(0),
        Err(e) => Err(e).context("cannot write to standard output"),
    }
}

//! Drawing the state: [`render`] turns a [`State`] into one frame and does
//! nothing else (no I/O, no decisions; those live in [`super::update`]).
//!
//! The screen, top to bottom: one line with the name, the tabs and their
//! counts, the sort and the filter; the queue and the detail pane side by
//! side (stacked under [`NARROW`] columns); one status line. The overlay of
//! the current [`Mode`] (help, input, pick, confirm) is drawn last, on top.
//!
//! NOTE: the queue builds ratatui rows only for the window that fits on
//! screen (from `state.offset`, which this module keeps so the selection
//! stays visible), never for all of `state.visible`: a 10,000-request store
//! costs the same per frame as ten. Column widths come from that window too.
//!
//! Every string that came from a mail is sanitized upstream; [`clean`] still
//! drops control characters, and [`fit`] cuts long fields with `…` by display
//! width, so a hostile subject can neither move the cursor nor push columns.

use super::keys::{Action, Scope, FIXED_KEYS};
use super::state::{CheckState, Confirm, Health, InputPurpose, Mode, Pick, Row, State, Tab};
use super::update::{REJECT_TEMPLATES, REPLY_TEMPLATES};
use crate::domain::{AuthResult, JobStatus, ReplyState, RequestState};
use crate::mail::templates::Template;
use crate::text::thousands;
use chrono::{DateTime, Datelike, Utc};
use chrono_tz::Tz;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols;
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{
    Block, BorderType, Borders, Cell, Clear, LineGauge, Paragraph, Row as TableRow, Table,
    TableState, Wrap,
};
use ratatui::Frame;

/// Below this width the detail pane goes under the queue instead of beside it.
/// NOTE: 110, not 100: side by side at 100 columns the queue had 50, too
/// few for state and role beside workspace and requester (issue 9).
pub const NARROW: u16 = 110;

const ACCENT: Color = Color::Cyan;
const OK: Color = Color::Green;
const WARN: Color = Color::Yellow;
const BAD: Color = Color::Red;
/// Labels and secondary text: the terminal's faint attribute, not a grey.
/// NOTE: colour 8 (DarkGray) is the background of Solarized Dark, and a
/// fixed grey reads on dark themes only; faint text holds on every theme.
const DIM: Style = Style::new().add_modifier(Modifier::DIM);
/// The selected queue row: reverse video keeps it visible on light and dark
/// themes alike (a fixed grey 237 band was dark on dark in a light theme),
/// and under NO_COLOR.
const SELECTED: Style = Style::new().add_modifier(Modifier::REVERSED);
const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/// Draws the whole screen.
pub fn render(f: &mut Frame<'_>, state: &mut State) {
    let area = f.area();
    if area.width < 24 || area.height < 6 {
        f.render_widget(
            Paragraph::new("concierge: the terminal is too small").wrap(Wrap { trim: true }),
            area,
        );
        return;
    }
    let [top, main, bottom] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(status_height(state, area.width)),
    ])
    .areas(area);
    if let Mode::Stats(m) = &state.mode {
        super::stats_view::render(f, top.union(main), m);
    } else if let Mode::Outbox { selected } = state.mode {
        draw_outbox(f, top, main, state, selected);
    } else {
        draw_top(f, top, state);
        let narrow = main.width < NARROW;
        if state.zoom {
            draw_detail(f, main, state, false);
        } else {
            let (queue, detail) = split_main(main, state, narrow);
            draw_queue(f, queue, state, narrow);
            draw_detail(f, detail, state, narrow);
        }
    }
    draw_status(f, bottom, state);
    draw_overlay(f, area, state);
    if no_color() {
        strip_colours(f.buffer_mut());
    }
}

/// Whether the user asked for no colour (<https://no-color.org>: `NO_COLOR`
/// set and not empty), read once.
fn no_color() -> bool {
    static NO_COLOR: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *NO_COLOR.get_or_init(|| std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()))
}

/// Removes every colour from a drawn frame, keeping bold, faint and
/// reverse; what was marked by a background colour (the selected tab)
/// becomes reverse video, so it still stands out.
fn strip_colours(buf: &mut ratatui::buffer::Buffer) {
    for cell in buf.content.iter_mut() {
        if cell.bg != Color::Reset {
            cell.modifier.insert(Modifier::REVERSED);
        }
        cell.fg = Color::Reset;
        cell.bg = Color::Reset;
    }
}

// ---------------------------------------------------------------- text helpers

/// Display width of a string (ratatui measures spans with unicode-width).
fn width(s: &str) -> usize {
    Span::raw(s).width()
}

fn char_width(c: char) -> usize {
    let mut b = [0u8; 4];
    width(c.encode_utf8(&mut b))
}

/// One line of text fit for the terminal: no control characters (tabs become spaces).
fn clean(s: &str) -> String {
    // Escape sequences go whole (CSI, OSC with its payload, …), not just
    // their ESC byte: `[31m` debris on screen is hostile text half-removed.
    let s = if s.contains('\u{1b}') || s.contains('\u{9b}') {
        std::borrow::Cow::Owned(crate::intake::sanitize::single_line(s).text)
    } else {
        std::borrow::Cow::Borrowed(s)
    };
    s.chars()
        .filter_map(|c| match c {
            '\t' | '\n' | '\r' => Some(' '),
            c if c.is_control() => None,
            c => Some(c),
        })
        .collect()
}

/// `s` cleaned and cut to `w` columns, ending in `…` when cut.
fn fit(s: &str, w: usize) -> String {
    let s = clean(s);
    if width(&s) <= w {
        return s;
    }
    if w == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let cw = char_width(c);
        if used + cw > w - 1 {
            break;
        }
        used += cw;
        out.push(c);
    }
    out.push('…');
    out
}

/// Greedy word wrap of one paragraph to `w` columns; a word longer than a
/// line is split where the line ends.
fn wrap(s: &str, w: usize) -> Vec<String> {
    let w = w.max(4);
    let mut lines = Vec::new();
    let mut cur = String::new();
    let mut cur_w = 0;
    for word in clean(s).split(' ').filter(|x| !x.is_empty()) {
        let ww = width(word);
        if cur_w > 0 && cur_w + 1 + ww <= w {
            cur.push(' ');
            cur.push_str(word);
            cur_w += 1 + ww;
            continue;
        }
        if cur_w > 0 {
            lines.push(std::mem::take(&mut cur));
            cur_w = 0;
        }
        for c in word.chars() {
            let cw = char_width(c);
            if cur_w + cw > w {
                lines.push(std::mem::take(&mut cur));
                cur_w = 0;
            }
            cur.push(c);
            cur_w += cw;
        }
    }
    if !cur.is_empty() || lines.is_empty() {
        lines.push(cur);
    }
    lines
}

/// Multi-paragraph text (notes, mail bodies) wrapped, keeping blank lines.
fn wrap_text(s: &str, w: usize) -> Vec<String> {
    if s.is_empty() {
        return vec![String::new()];
    }
    s.lines()
        .flat_map(|l| {
            if l.trim().is_empty() {
                vec![String::new()]
            } else {
                wrap(l, w)
            }
        })
        .collect()
}

/// Items joined with ` · `, packed into lines of at most `w` columns.
fn pack(items: &[String], w: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut cur = String::new();
    for item in items {
        if !cur.is_empty() && width(&cur) + 3 + width(item) > w {
            lines.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push_str(" · ");
        }
        cur.push_str(item);
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    lines
}

/// `snake_case` → words (`estimate_over_48h` → `estimate over 48h`).
fn words(stem: &str) -> String {
    stem.replace(['_', ':'], " ")
}

/// A template in words, without the `reject` prefix that the list's title says.
fn template_words(t: Template) -> String {
    let w = words(t.file_stem());
    w.strip_prefix("reject ").map(str::to_string).unwrap_or(w)
}

/// 12400 → `12k`, 2_050_000 → `2.1M`.
fn short_count(n: u64) -> String {
    match n {
        0..=999 => n.to_string(),
        1_000..=9_999 => format!("{:.1}k", n as f64 / 1e3).replace(".0k", "k"),
        10_000..=999_999 => format!("{}k", (n as f64 / 1e3).round() as u64),
        1_000_000..=9_999_999 => format!("{:.1}M", n as f64 / 1e6).replace(".0M", "M"),
        _ => format!("{}M", (n as f64 / 1e6).round() as u64),
    }
}

/// Bytes in SI units (the help article's "50 MB").
fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1000.0 && u < UNITS.len() - 1 {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} B")
    } else if v < 10.0 {
        format!("{v:.1} {}", UNITS[u])
    } else {
        format!("{v:.0} {}", UNITS[u])
    }
}

/// A span of time, coarse: `2d 4h`, `5h`, `45m`, `<1m`.
fn duration(secs: i64) -> String {
    let m = secs.max(0) / 60;
    let (d, h, m) = (m / 1440, m / 60 % 24, m % 60);
    match (d, h, m) {
        (0, 0, 0) => "<1m".into(),
        (0, 0, m) => format!("{m}m"),
        (0, h, _) => format!("{h}h"),
        (d, 0, _) => format!("{d}d"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

/// The team's time zone (`[estimate] timezone`, validated at config load).
fn team_tz(state: &State) -> Tz {
    state.rates.calendar().tz()
}

/// `Tue 24 Nov 14:05 UTC` in the team's zone, with the year when it is not this one.
fn when(t: DateTime<Utc>, state: &State) -> String {
    let local = t.with_timezone(&team_tz(state));
    if local.year() == state.now.with_timezone(&team_tz(state)).year() {
        local.format("%a %-d %b %H:%M %Z").to_string()
    } else {
        local.format("%a %-d %b %Y %H:%M %Z").to_string()
    }
}

/// [`when`], or words for a stored time that could not be read (the
/// detail's "Damaged" section says what was found).
fn when_known(t: Option<DateTime<Utc>>, state: &State) -> String {
    t.map_or_else(|| "time unreadable".to_string(), |t| when(t, state))
}

/// `25 Nov 10:58` in the team's zone, for lists.
fn short_when(t: DateTime<Utc>, state: &State) -> String {
    t.with_timezone(&team_tz(state))
        .format("%-d %b %H:%M")
        .to_string()
}

/// How long ago, coarse past a day (`13h ago`, `4d ago`): an age, not a deadline.
fn ago(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (now - t).num_seconds();
    let coarse = |s: i64| {
        if s >= 86_400 {
            format!("{}d", s / 86_400)
        } else {
            duration(s)
        }
    };
    if secs < 0 {
        format!("in {}", coarse(-secs))
    } else {
        format!("{} ago", coarse(secs))
    }
}

fn spinner(state: &State) -> &'static str {
    SPINNER[(state.now.timestamp_millis() / 100).rem_euclid(SPINNER.len() as i64) as usize]
}

fn auth_color(result: &str) -> Color {
    match AuthResult::of(result) {
        AuthResult::Pass => OK,
        AuthResult::None | AuthResult::Neutral => WARN,
        _ => BAD,
    }
}

// ------------------------------------------------------------- row summaries

fn is_closed(row: &Row) -> bool {
    matches!(row.req.state, RequestState::Done | RequestState::Rejected)
}

/// The queue's state word: the tab, or `failed`.
fn state_word(row: &Row) -> (&'static str, Style) {
    if row.req.state == RequestState::Failed {
        // A cancelled export is not a failure: staff chose it, and it retries.
        return match row.req.job.as_ref().map(|j| (j.status, j.phase.as_deref())) {
            Some((JobStatus::Cancelled, _)) => ("cancelled", Style::new().fg(WARN)),
            Some((_, Some(crate::ops::export::LOST))) => ("lost", Style::new().fg(BAD)),
            _ => ("failed", Style::new().fg(BAD)),
        };
    }
    match row.tab {
        Tab::All | Tab::Mine => ("", Style::new()),
        Tab::New => ("new", Style::new()),
        Tab::Waiting => ("waiting", Style::new()),
        Tab::Ready => ("ready", Style::new().fg(OK)),
        Tab::Running => ("running", Style::new().fg(ACCENT)),
        Tab::Done => ("done", DIM),
        Tab::Rejected => ("rejected", DIM),
    }
}

/// Time left until the promise falls due ("in 21h", "late 1d 2h"): green
/// over a day, yellow under, red late; a faint dash when there is no
/// estimate or the request is decided (no age: an unlabelled age in the due
/// column read like a due time).
fn sla(row: &Row, now: DateTime<Utc>) -> (String, Style) {
    match row.due {
        Some(due) if !is_closed(row) => {
            let left = (due - now).num_seconds();
            if left < 0 {
                (format!("late {}", due_span(-left)), Style::new().fg(BAD))
            } else if left < 24 * 3600 {
                (format!("in {}", due_span(left)), Style::new().fg(WARN))
            } else {
                (format!("in {}", due_span(left)), Style::new().fg(OK))
            }
        }
        // Decided, or no estimate yet (size unknown): no promise to count
        // down. The detail pane says when it arrived.
        _ => ("—".into(), DIM),
    }
}

/// A span for the due column, at most 7 characters ("1d 23h"): hours and
/// minutes matter within two days; beyond, days alone.
fn due_span(secs: i64) -> String {
    if secs >= 2 * 86_400 {
        format!("{}d", secs / 86_400)
    } else {
        duration(secs)
    }
}

fn requester(row: &Row) -> &str {
    row.req
        .from
        .as_deref()
        .or(row.req.account_email.as_deref())
        .unwrap_or("—")
}

fn role_cell(row: &Row) -> (&str, Style) {
    match row.req.role {
        Some(r) if r.may_request_export() => (r.as_str(), Style::new()),
        Some(r) => (r.as_str(), Style::new().fg(BAD)),
        None => ("—", DIM),
    }
}

fn estimate_cell(row: &Row) -> (String, Style) {
    match &row.estimate {
        Some(e) if e.over_48h => ("over 48h".into(), Style::new().fg(WARN)),
        Some(e) => (format!("{} bd", e.business_days), Style::new()),
        None => ("—".into(), DIM),
    }
}

fn dmarc_unaccepted(row: &Row) -> bool {
    AuthResult::of(&row.req.auth.dmarc) != AuthResult::Pass && row.req.auth_override.is_none()
}

// ------------------------------------------------------------------ top line

fn draw_top(f: &mut Frame<'_>, area: Rect, state: &State) {
    let right = |short: bool| -> Vec<Span<'static>> {
        let mut v = Vec::new();
        if !state.filter.is_empty() || matches!(state.mode, Mode::Filter) {
            v.push(Span::styled(
                format!("/{}", fit(&state.filter, 24)),
                Style::new().fg(WARN),
            ));
            v.push(Span::raw("  "));
        }
        let sort = if short {
            format!("↓{}", state.sort.title())
        } else {
            format!("sort: {}", state.sort.title())
        };
        v.push(Span::styled(sort, DIM));
        v.push(Span::raw(" "));
        v
    };
    // Variants from roomy to compact; the first that fits wins.
    let tabs = |pad: bool, short: bool, abbrev: bool| -> Vec<Span<'static>> {
        let mut v = Vec::new();
        for (i, tab) in Tab::ALL.iter().enumerate() {
            let title = if abbrev {
                ["All", "New", "Wait", "Rdy", "Run", "Done", "Rej", "Mine"][i]
            } else {
                tab.title()
            };
            let count = if short {
                short_count(state.tab_counts[i] as u64)
            } else {
                state.tab_counts[i].to_string()
            };
            let sel = *tab == state.tab;
            let pad = if pad { " " } else { "" };
            if sel {
                let s = Style::new()
                    .fg(Color::Black)
                    .bg(ACCENT)
                    .add_modifier(Modifier::BOLD);
                v.push(Span::styled(format!(" {title} {count} "), s));
            } else {
                v.push(Span::raw(format!("{pad}{title} ")));
                let cs = if state.tab_counts[i] == 0 {
                    DIM
                } else {
                    Style::new().fg(ACCENT)
                };
                v.push(Span::styled(format!("{count}{pad}"), cs));
            }
            if i + 1 < Tab::ALL.len() {
                v.push(Span::raw(" "));
            }
        }
        v
    };
    let name = || {
        vec![
            Span::styled(
                " concierge ",
                Style::new().fg(ACCENT).add_modifier(Modifier::BOLD),
            ),
            Span::raw(" "),
        ]
    };
    let w = area.width as usize;
    let mut chosen = None;
    // (name, padded tabs, short counts, abbreviated titles, short sort)
    for (with_name, pad, short, abbrev, short_sort) in [
        (true, true, false, false, false),
        (true, false, false, false, false),
        (false, false, false, false, false),
        (false, false, false, false, true),
        (false, false, true, false, true),
        (false, false, true, true, true),
    ] {
        let mut left = if with_name {
            name()
        } else {
            vec![Span::raw(" ")]
        };
        left.extend(tabs(pad, short, abbrev));
        let r = right(short_sort);
        let lw: usize = left.iter().map(Span::width).sum();
        let rw: usize = r.iter().map(Span::width).sum();
        if lw + 2 + rw <= w {
            chosen = Some((left, r));
            break;
        }
    }
    let (left, r) = chosen.unwrap_or_else(|| {
        let mut left = vec![Span::raw(" ")];
        left.extend(tabs(false, true, true));
        (left, right(true))
    });
    f.render_widget(Paragraph::new(Line::from(left)), area);
    f.render_widget(Paragraph::new(Line::from(r).right_aligned()), area);
}

// ------------------------------------------------------------------- layout

fn split_main(main: Rect, state: &State, narrow: bool) -> (Rect, Rect) {
    if !narrow {
        // The queue gets the larger share (it is what staff scan all day);
        // the detail pane 40%, between a readable 46 and 72 columns.
        let dw = (main.width * 2 / 5).clamp(46, 72).min(main.width);
        let [q, d] = Layout::horizontal([Constraint::Min(0), Constraint::Length(dw)]).areas(main);
        return (q, d);
    }
    // Stacked: the queue as tall as its rows (title + header + rows), up to
    // 40% of the height; the detail pane gets the rest.
    let want = if state.visible.is_empty() {
        4
    } else {
        state.visible.len() as u16 + 2
    };
    let cap = (main.height * 2 / 5).max(4);
    let qh = want.clamp(3, cap).min(main.height);
    let [q, d] = Layout::vertical([Constraint::Length(qh), Constraint::Min(0)]).areas(main);
    (q, d)
}

/// A pane: rounded box side by side, a titled rule when stacked (every column counts at 80).
fn pane<'a>(narrow: bool, title: Line<'a>) -> Block<'a> {
    let b = if narrow {
        Block::new().borders(Borders::TOP)
    } else {
        Block::bordered().border_type(BorderType::Rounded)
    };
    b.border_style(DIM).title(title)
}

mod detail;
mod editor;
mod export;
mod outbox;
mod overlays;
mod queue;
mod replies;
mod status;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_rows;

use detail::*;
use editor::*;
use export::*;
use outbox::*;
use overlays::*;
use queue::*;
use replies::*;
use status::*;

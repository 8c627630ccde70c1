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

use super::keys::Action;
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
pub const NARROW: u16 = 100;

const ACCENT: Color = Color::Cyan;
const OK: Color = Color::Green;
const WARN: Color = Color::Yellow;
const BAD: Color = Color::Red;
const DIM: Style = Style::new().fg(Color::DarkGray);
/// The selected queue row: a dark grey band that keeps the cells' colours readable.
const SELECTED: Style = Style::new().bg(Color::Indexed(237));
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
        Constraint::Length(1),
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

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .or_else(|_| DateTime::parse_from_rfc2822(s))
        .map(|d| d.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S")
                .ok()
                .map(|n| n.and_utc())
        })
}

/// The team's time zone (`[estimate] timezone`), UTC when it does not parse.
fn team_tz(state: &State) -> Tz {
    state.rates.timezone.parse().unwrap_or(Tz::UTC)
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

/// `25 Nov 10:58` in the team's zone, for lists.
fn short_when(t: DateTime<Utc>, state: &State) -> String {
    t.with_timezone(&team_tz(state))
        .format("%-d %b %H:%M")
        .to_string()
}

/// A stored timestamp, readable; the raw text when it does not parse.
fn when_str(s: &str, state: &State) -> String {
    parse_time(s)
        .map(|t| when(t, state))
        .unwrap_or_else(|| clean(s))
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
        Tab::All => ("", Style::new()),
        Tab::New => ("new", Style::new()),
        Tab::Waiting => ("waiting", Style::new()),
        Tab::Ready => ("ready", Style::new().fg(OK)),
        Tab::Running => ("running", Style::new().fg(ACCENT)),
        Tab::Done => ("done", DIM),
        Tab::Rejected => ("rejected", DIM),
    }
}

/// Time left until the promise falls due: green over a day, yellow under,
/// red overdue; grey age when there is no estimate or the request is closed.
fn sla(row: &Row, now: DateTime<Utc>) -> (String, Style) {
    let received = parse_time(&row.req.received_at);
    match row.due {
        Some(due) if !is_closed(row) => {
            let left = (due - now).num_seconds();
            if left < 0 {
                (format!("overdue {}", duration(-left)), Style::new().fg(BAD))
            } else if left < 24 * 3600 {
                (duration(left), Style::new().fg(WARN))
            } else {
                (duration(left), Style::new().fg(OK))
            }
        }
        _ => (
            received.map(|r| ago(r, now)).unwrap_or_else(|| "—".into()),
            DIM,
        ),
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
                ["All", "New", "Wait", "Rdy", "Run", "Done", "Rej"][i]
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

// -------------------------------------------------------------------- queue

// Columns, in order: id, due, state, workspace, requester, role, msgs, est, flags.
const C_STATE: usize = 2;
const C_WS: usize = 3;
const C_REQ: usize = 4;
const C_ROLE: usize = 5;
const C_SIZE: usize = 6;
const C_EST: usize = 7;
const C_FLAGS: usize = 8;
const NCOLS: usize = 9;
const HEADERS: [&str; NCOLS] = [
    "id",
    "due",
    "state",
    "workspace",
    "requester",
    "role",
    "msgs",
    "est",
    "",
];
const CAPS: [usize; NCOLS] = [7, 13, 8, 40, 40, 5, 5, 8, 6];
/// Columns given up, in this order, when the queue is too narrow.
const DROP_ORDER: [usize; 4] = [C_SIZE, C_ROLE, C_STATE, C_EST];
/// Space the flexible columns want at least before others are dropped.
const WS_MIN: usize = 10;
const REQ_MIN: usize = 14;

/// One cell: styled pieces of text.
type QCell = Vec<(String, Style)>;

fn queue_cells(row: &Row, state: &State) -> [QCell; NCOLS] {
    let r = &row.req;
    let one = |s: String, st: Style| vec![(s, st)];
    let (due, due_style) = sla(row, state.now);
    let (sw, ss) = state_word(row);
    let (role, rs) = role_cell(row);
    let (est, es) = estimate_cell(row);
    let mut flags = Vec::new();
    if state.is_pending(r.id) || row.resolving {
        flags.push((spinner(state).to_string(), Style::new().fg(ACCENT)));
    }
    if !r.warnings.is_empty() {
        flags.push((format!("⚠{}", r.warnings.len()), Style::new().fg(WARN)));
    }
    if dmarc_unaccepted(row) {
        flags.push(("✗".to_string(), Style::new().fg(BAD)));
    }
    [
        one(format!("#{}", r.id), Style::new().fg(ACCENT)),
        one(due, due_style),
        one(sw.to_string(), ss),
        one(
            clean(r.workspace_name.as_deref().unwrap_or("—")),
            if r.workspace_name.is_some() {
                Style::new()
            } else {
                DIM
            },
        ),
        one(clean(requester(row)), Style::new()),
        one(role.to_string(), rs),
        one(
            r.size
                .map(|s| short_count(s.messages))
                .unwrap_or_else(|| "—".into()),
            DIM,
        ),
        one(est, es),
        flags,
    ]
}

fn cell_width(c: &QCell) -> usize {
    c.iter().map(|(s, _)| width(s)).sum()
}

/// Column widths for the window's rows in `avail` columns; 0 = hidden.
fn column_widths(cells: &[[QCell; NCOLS]], avail: usize, tab: Tab) -> [usize; NCOLS] {
    let mut w = [0usize; NCOLS];
    for (c, wc) in w.iter_mut().enumerate() {
        let content = cells.iter().map(|r| cell_width(&r[c])).max().unwrap_or(0);
        *wc = content.max(width(HEADERS[c])).min(CAPS[c]);
    }
    if cells.iter().all(|r| r[C_FLAGS].is_empty()) {
        w[C_FLAGS] = 0;
    }
    // In a tab other than All and Running every row has the same state.
    if !matches!(tab, Tab::All | Tab::Running) {
        w[C_STATE] = 0;
    }
    let flex_min = w[C_WS].min(WS_MIN) + w[C_REQ].min(REQ_MIN);
    let fixed = |w: &[usize; NCOLS]| -> usize {
        let shown = w.iter().filter(|&&x| x > 0).count();
        let others: usize = w
            .iter()
            .enumerate()
            .filter(|(c, _)| *c != C_WS && *c != C_REQ)
            .map(|(_, x)| *x)
            .sum();
        others + shown.saturating_sub(1)
    };
    for c in DROP_ORDER {
        if fixed(&w) + flex_min <= avail {
            break;
        }
        w[c] = 0;
    }
    let flex = avail.saturating_sub(fixed(&w));
    let (ws_want, req_want) = (w[C_WS], w[C_REQ]);
    if ws_want + req_want <= flex {
        // Both fit; the rest stays empty on the right (dense, like gitui).
    } else {
        let ws = ws_want.min((flex * 2 / 5).max(WS_MIN)).min(flex);
        w[C_WS] = ws;
        w[C_REQ] = flex.saturating_sub(ws).min(req_want);
    }
    w
}

/// Keeps `state.offset` so that the selection is inside a window of `h` rows.
fn scroll_window(state: &mut State, h: usize) -> std::ops::Range<usize> {
    let n = state.visible.len();
    let h = h.max(1);
    // PgUp/PgDn move by what fits on screen.
    state.page = h;
    let sel = state.selected.min(n.saturating_sub(1));
    if sel < state.offset {
        state.offset = sel;
    }
    if sel >= state.offset + h {
        state.offset = sel + 1 - h;
    }
    state.offset = state.offset.min(n.saturating_sub(h));
    state.offset..(state.offset + h).min(n)
}

fn draw_queue(f: &mut Frame<'_>, area: Rect, state: &mut State, narrow: bool) {
    let n = state.visible.len();
    let mut title = vec![Span::styled(
        " Queue ",
        Style::new().add_modifier(Modifier::BOLD),
    )];
    if n > 0 {
        let pos = thousands((state.selected.min(n - 1) + 1) as u64);
        title.push(Span::styled(format!("{pos}/{} ", thousands(n as u64)), DIM));
    }
    let block = pane(narrow, Line::from(title));
    let inner = block.inner(area);
    f.render_widget(block, area);
    if inner.height == 0 || inner.width == 0 {
        return;
    }
    if n == 0 {
        let key =
            |a: Action, default: &str| first_key(state, a).unwrap_or_else(|| default.to_string());
        let (msg, hint) = if state.filter.is_empty() {
            let hint = format!(
                "{} / {}: other tabs",
                key(Action::NextTab, "Tab"),
                key(Action::PrevTab, "Shift-Tab")
            );
            ("No requests in this tab".to_string(), hint)
        } else {
            let hint = format!("{} then Esc clears the filter", key(Action::Filter, "/"));
            (format!("Nothing matches /{}", fit(&state.filter, 30)), hint)
        };
        let lines = vec![
            Line::from(msg).centered(),
            Line::styled(hint, DIM).centered(),
        ];
        let h = (lines.len() as u16).min(inner.height);
        let y = inner.y + (inner.height - h) / 2;
        f.render_widget(
            Paragraph::new(lines),
            Rect {
                y,
                height: h,
                ..inner
            },
        );
        return;
    }
    let body_h = inner.height.saturating_sub(1) as usize;
    let range = scroll_window(state, body_h);
    let cells: Vec<[QCell; NCOLS]> = state.visible[range.clone()]
        .iter()
        .map(|&i| queue_cells(&state.rows[i], state))
        .collect();
    let closed: Vec<bool> = state.visible[range.clone()]
        .iter()
        .map(|&i| is_closed(&state.rows[i]))
        .collect();
    const SYMBOL: &str = "› ";
    let avail = (inner.width as usize).saturating_sub(width(SYMBOL));
    let widths = column_widths(&cells, avail, state.tab);
    let shown: Vec<usize> = (0..NCOLS).filter(|&c| widths[c] > 0).collect();
    let header = TableRow::new(
        shown
            .iter()
            .map(|&c| Cell::from(fit(HEADERS[c], widths[c]))),
    )
    .style(DIM.add_modifier(Modifier::BOLD));
    let rows = cells.into_iter().zip(closed).map(|(row, closed)| {
        let cells = shown.iter().map(|&c| {
            let w = widths[c];
            let cell = &row[c];
            let line = if cell.len() == 1 {
                let (s, st) = &cell[0];
                let text = fit(s, w);
                if c == C_SIZE {
                    Line::from(Span::styled(format!("{text:>w$}"), *st))
                } else {
                    Line::from(Span::styled(text, *st))
                }
            } else {
                Line::from(
                    cell.iter()
                        .map(|(s, st)| Span::styled(s.clone(), *st))
                        .collect::<Vec<_>>(),
                )
            };
            Cell::from(line)
        });
        let r = TableRow::new(cells.collect::<Vec<_>>());
        if closed {
            r.style(DIM)
        } else {
            r
        }
    });
    let table = Table::new(
        rows,
        shown.iter().map(|&c| Constraint::Length(widths[c] as u16)),
    )
    .header(header)
    .column_spacing(1)
    .row_highlight_style(SELECTED)
    .highlight_symbol(Line::styled(
        SYMBOL,
        Style::new().fg(ACCENT).add_modifier(Modifier::BOLD),
    ));
    let mut ts = TableState::default().with_selected(Some(state.selected.min(n - 1) - range.start));
    f.render_stateful_widget(table, inner, &mut ts);
}

// ------------------------------------------------------------------- detail

const LABEL: usize = 10;

fn label(s: &str) -> Span<'static> {
    Span::styled(format!("{s:<LABEL$}"), DIM)
}

fn heading(s: &str) -> Line<'static> {
    Line::styled(
        s.to_string(),
        Style::new().fg(ACCENT).add_modifier(Modifier::BOLD),
    )
}

/// `label  value` with the value wrapped under itself.
fn kv(out: &mut Vec<Line<'static>>, name: &str, value: &str, style: Style, w: usize) {
    for (i, part) in wrap(value, w.saturating_sub(LABEL)).into_iter().enumerate() {
        let l = if i == 0 {
            label(name)
        } else {
            Span::raw(" ".repeat(LABEL))
        };
        out.push(Line::from(vec![l, Span::styled(part, style)]));
    }
}

/// A value already split into lines, each under the label column.
fn kv_lines(out: &mut Vec<Line<'static>>, name: &str, values: Vec<String>, style: Style) {
    for (i, part) in values.into_iter().enumerate() {
        let l = if i == 0 {
            label(name)
        } else {
            Span::raw(" ".repeat(LABEL))
        };
        out.push(Line::from(vec![l, Span::styled(part, style)]));
    }
}

/// A marked, wrapped line: `mark text`, continuation indented under the text.
fn marked(
    out: &mut Vec<Line<'static>>,
    indent: usize,
    mark: Span<'static>,
    text: &str,
    style: Style,
    w: usize,
) {
    let lead = indent + mark.width() + 1;
    for (i, part) in wrap(text, w.saturating_sub(lead)).into_iter().enumerate() {
        let mut spans = vec![Span::raw(" ".repeat(indent))];
        if i == 0 {
            spans.push(mark.clone());
            spans.push(Span::raw(" "));
        } else {
            spans.push(Span::raw(" ".repeat(mark.width() + 1)));
        }
        spans.push(Span::styled(part, style));
        out.push(Line::from(spans));
    }
}

fn detail_lines(row: &Row, state: &State, w: usize) -> Vec<Line<'static>> {
    let r = &row.req;
    let mut out: Vec<Line<'static>> = Vec::new();
    let bold = Style::new().add_modifier(Modifier::BOLD);

    // What is in flight for it.
    if let Some((_, what)) = state.pending.iter().find(|(p, _)| *p == r.id) {
        marked(
            &mut out,
            0,
            Span::styled(spinner(state), Style::new().fg(ACCENT)),
            &format!("{what}…"),
            Style::new().fg(ACCENT),
            w,
        );
    } else if row.resolving {
        let what = "looking up the requester and the workspace…";
        marked(
            &mut out,
            0,
            Span::styled(spinner(state), Style::new().fg(ACCENT)),
            what,
            Style::new().fg(ACCENT),
            w,
        );
    }

    // The mail.
    for part in wrap(&r.subject, w) {
        out.push(Line::styled(part, bold));
    }
    let from = match (&r.from_name, &r.from) {
        (Some(n), Some(a)) if !n.is_empty() && n != a => format!("{n} <{a}>"),
        (_, Some(a)) => a.clone(),
        (Some(n), None) => n.clone(),
        (None, None) => "(no From address)".into(),
    };
    kv(&mut out, "From", &from, Style::new(), w);
    if let Some(rt) = &r.reply_to {
        let mismatch = r
            .warnings
            .contains(&crate::intake::Warning::ReplyToMismatch);
        kv(
            &mut out,
            "Reply-To",
            rt,
            if mismatch {
                Style::new().fg(WARN)
            } else {
                Style::new()
            },
            w,
        );
    }
    let mut received = when_str(&r.received_at, state);
    if let Some(t) = parse_time(&r.received_at) {
        received.push_str(&format!(" · {}", ago(t, state.now)));
    }
    kv(&mut out, "Received", &received, Style::new(), w);
    if r.thread_len > 1 {
        kv(
            &mut out,
            "Thread",
            &format!("{} messages", r.thread_len),
            Style::new(),
            w,
        );
    }
    let mut auth = vec![label("Auth")];
    for (name, res) in [
        ("dkim", &r.auth.dkim),
        ("spf", &r.auth.spf),
        ("dmarc", &r.auth.dmarc),
    ] {
        auth.push(Span::styled(format!("{name} "), DIM));
        auth.push(Span::styled(
            fit(res, 10),
            Style::new()
                .fg(auth_color(res))
                .add_modifier(Modifier::BOLD),
        ));
        auth.push(Span::raw("  "));
    }
    out.push(Line::from(auth));
    if let Some(reason) = &r.auth_override {
        kv(
            &mut out,
            "",
            &format!("accepted by override: {reason}"),
            Style::new().fg(WARN),
            w,
        );
    }
    for warning in &r.warnings {
        let bad = matches!(
            warning,
            crate::intake::Warning::DmarcFail | crate::intake::Warning::DkimFail
        );
        let color = if bad { BAD } else { WARN };
        marked(
            &mut out,
            0,
            Span::styled("⚠", Style::new().fg(color)),
            warning.describe(),
            Style::new().fg(color),
            w,
        );
    }

    // The promise.
    out.push(Line::raw(""));
    match (&row.estimate, row.due) {
        (Some(e), due) => {
            let days = if e.business_days == 1 {
                "1 business day".to_string()
            } else {
                format!("{} business days", e.business_days)
            };
            let mut first = format!("{} h of work · {days}", e.hours);
            // Yellow says "over 48 h" already where the words would wrap.
            if e.over_48h && width(&first) + 12 <= w.saturating_sub(LABEL) {
                first.push_str(" · over 48 h");
            }
            kv(
                &mut out,
                "Estimate",
                &first,
                if e.over_48h {
                    Style::new().fg(WARN)
                } else {
                    Style::new()
                },
                w,
            );
            if let Some(due) = due {
                let (left, style) = sla(row, state.now);
                let rel = if is_closed(row) {
                    String::new()
                } else if left.starts_with("overdue") {
                    format!(" ({left})")
                } else {
                    format!(" (in {left})")
                };
                kv(
                    &mut out,
                    "Due",
                    &format!("{}{rel}", when(due, state)),
                    if is_closed(row) { Style::new() } else { style },
                    w,
                );
            }
        }
        (None, _) => kv(
            &mut out,
            "Estimate",
            "unknown until the backend reports the size",
            DIM,
            w,
        ),
    }

    // The checklist.
    out.push(Line::raw(""));
    out.push(heading("Checklist"));
    for (check, st) in row.checklist() {
        let (mark, color, extra) = match &st {
            CheckState::Met => ("✔", OK, String::new()),
            CheckState::Overridden(reason) => ("✔", WARN, format!(" — overridden: {reason}")),
            // The dim dash says it where the words would wrap.
            CheckState::NotNeeded if width(check.label()) + 16 <= w => {
                ("–", Color::DarkGray, " — not needed".to_string())
            }
            CheckState::NotNeeded => ("–", Color::DarkGray, String::new()),
            CheckState::Unmet(why) => ("✗", BAD, format!(" — {why}")),
        };
        let text_style = match st {
            CheckState::NotNeeded => DIM,
            CheckState::Unmet(_) => Style::new().fg(BAD),
            CheckState::Overridden(_) => Style::new().fg(WARN),
            CheckState::Met => Style::new(),
        };
        marked(
            &mut out,
            1,
            Span::styled(mark, Style::new().fg(color).add_modifier(Modifier::BOLD)),
            &format!("{}{extra}", check.label()),
            text_style,
            w,
        );
    }

    // The decision and the job.
    if r.decision_reason.is_some() || r.approval_override.is_some() {
        out.push(Line::raw(""));
        out.push(heading("Decision"));
        if let Some(reason) = &r.decision_reason {
            let what = if r.state == RequestState::Rejected {
                "Rejected: "
            } else {
                "Reason: "
            };
            marked(
                &mut out,
                1,
                Span::raw("·"),
                &format!("{what}{reason}"),
                Style::new(),
                w,
            );
        }
        if let Some(reason) = &r.approval_override {
            marked(
                &mut out,
                1,
                Span::styled("!", Style::new().fg(WARN)),
                &format!("Approved with an override: {reason}"),
                Style::new().fg(WARN),
                w,
            );
        }
    }
    if let Some(job) = &r.job {
        out.push(Line::raw(""));
        out.push(Line::from(vec![
            Span::styled(
                "Export job ",
                Style::new().fg(ACCENT).add_modifier(Modifier::BOLD),
            ),
            Span::styled(fit(&job.id, w.saturating_sub(11)), DIM),
        ]));
        let color = match job.status {
            JobStatus::Emailed => OK,
            JobStatus::Cancelled => WARN,
            JobStatus::Failed => BAD,
            _ => ACCENT,
        };
        let mut status = vec![
            Span::raw(" "),
            Span::styled(
                job.status.as_str(),
                Style::new().fg(color).add_modifier(Modifier::BOLD),
            ),
        ];
        if let Some(phase) = job.phase.as_deref().filter(|p| !p.is_empty()) {
            if !job.is_terminal() {
                status.push(Span::raw(format!(" · {}", fit(&words(phase), 30))));
            }
        }
        if !job.is_terminal() {
            status.push(Span::raw(format!(
                " · {:.0}%",
                (job.progress.clamp(0.0, 1.0) * 100.0)
            )));
        }
        out.push(Line::from(status));
        if let Some(t) = job.created_at.as_deref() {
            marked(
                &mut out,
                1,
                Span::styled("started ", DIM),
                &when_str(t, state),
                Style::new(),
                w,
            );
        }
        if let Some(t) = job.finished_at.as_deref() {
            marked(
                &mut out,
                1,
                Span::styled("finished", DIM),
                &when_str(t, state),
                Style::new(),
                w,
            );
        }
        if let Some(t) = job.emailed_at.as_deref() {
            let to = job
                .deliver_to
                .as_deref()
                .map(|d| format!(" to {d}"))
                .unwrap_or_default();
            marked(
                &mut out,
                1,
                Span::styled("emailed ", DIM),
                &format!("{}{to}", when_str(t, state)),
                Style::new(),
                w,
            );
        }
        if let Some(exp) = job.link_expires_at.as_deref().and_then(parse_time) {
            let left = (exp - state.now).num_seconds();
            let (text, color) = if left > 0 {
                (
                    format!("link expires in {}", duration(left)),
                    if left < 24 * 3600 { WARN } else { OK },
                )
            } else {
                (format!("link expired {} ago", duration(-left)), BAD)
            };
            marked(&mut out, 0, Span::raw(""), &text, Style::new().fg(color), w);
        }
        if let Some(e) = &job.error {
            marked(
                &mut out,
                1,
                Span::styled("error", Style::new().fg(BAD).add_modifier(Modifier::BOLD)),
                e,
                Style::new().fg(BAD),
                w,
            );
        }
        if r.state.allows(crate::domain::Action::Retry) {
            let key = first_key(state, Action::RetryJob).unwrap_or_else(|| "t".into());
            marked(
                &mut out,
                1,
                Span::styled("→", Style::new().fg(ACCENT)),
                &format!("{key}: start the export again (the backend is asked for a live export of the workspace first)"),
                Style::new(),
                w,
            );
        }
    }

    // The workspace and the requester, as the backend reports them.
    out.push(Line::raw(""));
    let ws_name = r
        .workspace_name
        .as_deref()
        .unwrap_or("(not named in the mail)");
    let verified = if r.workspace_verified {
        ""
    } else {
        " · not verified"
    };
    kv(
        &mut out,
        "Workspace",
        &format!("{ws_name}{verified}"),
        if r.workspace_verified {
            bold
        } else {
            Style::new().fg(WARN)
        },
        w,
    );
    if let Some(id) = &r.workspace_id {
        kv(&mut out, "", &fit(id, w.saturating_sub(LABEL)), DIM, w);
    }
    let others = state.same_workspace(r.id);
    if !others.is_empty() {
        let list: Vec<String> = others
            .iter()
            .map(|(id, what)| format!("#{id} {what}"))
            .collect();
        kv(
            &mut out,
            "Others",
            &format!("{} (same workspace)", list.join(", ")),
            Style::new().fg(WARN),
            w,
        );
    }
    if let Some(s) = &r.size {
        let mut items = vec![
            format!("{} messages", thousands(s.messages)),
            format!("{} conversations", thousands(s.conversations)),
            format!("{} internal notes", thousands(s.internal_notes)),
            format!("{} customers", thousands(s.customers)),
            format!("{} articles", thousands(s.articles)),
            format!("{} categories", thousands(s.categories)),
            format!("{} routing rules", thousands(s.routing_rules)),
            match s.members {
                1 => "1 member".to_string(),
                n => format!("{} members", thousands(n)),
            },
            format!(
                "{} attachments ({})",
                thousands(s.attachments),
                human_bytes(s.attachment_bytes)
            ),
        ];
        if s.large_attachments > 0 {
            items.push(format!(
                "{} large (≥ 50 MB)",
                thousands(s.large_attachments)
            ));
        }
        kv_lines(
            &mut out,
            "Size",
            pack(&items, w.saturating_sub(LABEL)),
            Style::new(),
        );
    }
    let account = r.account().unwrap_or("—");
    match r.role {
        Some(role) => {
            let ok = role.may_request_export();
            kv(
                &mut out,
                "Requester",
                &format!("{account} · {role}"),
                if ok {
                    Style::new()
                } else {
                    Style::new().fg(BAD)
                },
                w,
            );
        }
        None if row.resolving => kv(
            &mut out,
            "Requester",
            &format!("{account} · looking up…"),
            DIM,
            w,
        ),
        None => kv(
            &mut out,
            "Requester",
            &format!("{account} · not a member"),
            Style::new().fg(BAD),
            w,
        ),
    }
    let others: Vec<String> = r
        .memberships
        .iter()
        .filter(|m| Some(&m.workspace_id) != r.workspace_id.as_ref())
        .map(|m| format!("{} ({})", m.workspace_name, m.role))
        .collect();
    if !others.is_empty() {
        kv(
            &mut out,
            "",
            &format!("also: {}", others.join(", ")),
            DIM,
            w,
        );
    }
    // NOTE: only an owner or admin gets a link; for anyone else, naming an
    // address beside "link" would read as the very thing that never happens.
    const LINK: &str = "Export link goes to:";
    if !r.role.is_some_and(|role| role.may_request_export()) {
        kv(
            &mut out,
            "",
            "no export link: only an owner or admin of the workspace gets one",
            DIM,
            w,
        );
    } else if width(LINK) + 1 + width(account) <= w {
        // The address on the same line when it fits, else whole on the next.
        out.push(Line::from(vec![
            Span::raw(format!("{LINK} ")),
            Span::styled(clean(account), bold),
        ]));
    } else {
        out.push(Line::raw(LINK));
        out.push(Line::styled(
            format!("  {}", fit(account, w.saturating_sub(2))),
            bold,
        ));
    }
    if let (Some(acc), Some(from)) = (r.account_email.as_deref(), r.from.as_deref()) {
        if !acc.eq_ignore_ascii_case(from) {
            marked(
                &mut out,
                0,
                Span::styled("⚠", Style::new().fg(WARN)),
                &format!("not the From address ({from})"),
                Style::new().fg(WARN),
                w,
            );
        }
    }

    // Notes and replies.
    out.push(Line::raw(""));
    out.push(heading(&format!("Notes ({})", r.notes.len())));
    if r.notes.is_empty() {
        let key = first_key(state, Action::Note).unwrap_or_else(|| "n".into());
        let text = format!("none yet — {key} adds the scope-confirmation note");
        marked(&mut out, 0, Span::raw(""), &text, DIM, w);
    }
    for note in &r.notes {
        out.push(Line::from(vec![
            Span::raw(" "),
            Span::styled(clean(&note.author), bold),
            Span::styled(format!(" · {}", when_str(&note.at, state)), DIM),
        ]));
        for part in wrap_text(&note.text, w.saturating_sub(3)) {
            out.push(Line::raw(format!("   {part}")));
        }
    }
    if !r.replies.is_empty() {
        out.push(Line::raw(""));
        out.push(heading(&format!("Replies ({})", r.replies.len())));
        for reply in &r.replies {
            let color = match reply.state {
                ReplyState::Sent => OK,
                ReplyState::Failed => BAD,
                ReplyState::Sending => WARN,
            };
            let at = if reply.at.is_empty() {
                String::new()
            } else {
                format!(" · {}", when_str(&reply.at, state))
            };
            let mark = Span::styled("✉", Style::new().fg(color));
            marked(
                &mut out,
                1,
                mark,
                &format!(
                    "{} → {} · {}{at}",
                    words(&reply.template),
                    reply.to,
                    reply.state
                ),
                Style::new(),
                w,
            );
        }
    }
    // The mail itself, oldest first (already sanitized by intake).
    if let Some((id, messages)) = &state.thread {
        if *id == r.id && !messages.is_empty() {
            out.push(Line::default());
            out.push(heading(&format!("Mail ({})", messages.len())));
            for m in messages {
                let from = match (&m.from_name, &m.from) {
                    (Some(n), Some(a)) => format!("{} <{a}>", clean(n)),
                    (None, Some(a)) => a.clone(),
                    (Some(n), None) => clean(n),
                    (None, None) => "unknown sender".into(),
                };
                let date = m
                    .date
                    .as_deref()
                    .map(|d| when_str(d, state))
                    .unwrap_or_default();
                let kind = words(&m.kind);
                out.push(Line::from(vec![
                    Span::styled(format!("── {kind} · "), DIM),
                    Span::styled(fit(&from, w.saturating_sub(width(&kind) + 6)), bold),
                ]));
                if !date.is_empty() {
                    out.push(Line::styled(format!("   {date}"), DIM));
                }
                for line in wrap(&clean(&m.subject), w.saturating_sub(3)) {
                    out.push(Line::styled(format!("   {line}"), bold));
                }
                let body = m.body.trim_end();
                let shown: Vec<&str> = body.lines().take(200).collect();
                for line in shown.iter() {
                    let quoted = line.trim_start().starts_with('>');
                    for part in wrap_text(&clean(line), w.saturating_sub(3)) {
                        let style = if quoted { DIM } else { Style::new() };
                        out.push(Line::styled(format!("   {part}"), style));
                    }
                }
                if body.lines().count() > shown.len() {
                    out.push(Line::styled("   …", DIM));
                }
                out.push(Line::default());
            }
        }
    }
    out
}

fn draw_detail(f: &mut Frame<'_>, area: Rect, state: &mut State, narrow: bool) {
    let Some(row) = state.current() else {
        let block = pane(
            narrow,
            Line::styled(" Detail ", Style::new().add_modifier(Modifier::BOLD)),
        );
        let inner = block.inner(area);
        f.render_widget(block, area);
        let y = inner.y + inner.height / 2;
        let msg = Line::styled("No request selected", DIM).centered();
        f.render_widget(
            Paragraph::new(msg),
            Rect {
                y,
                height: inner.height.min(1),
                ..inner
            },
        );
        return;
    };
    let (sw, ss) = state_word(row);
    let mut title = vec![
        Span::styled(
            format!(" #{} ", row.req.id),
            Style::new().fg(ACCENT).add_modifier(Modifier::BOLD),
        ),
        Span::styled(format!("{sw} "), ss),
    ];
    if let Some(ws) = &row.req.workspace_name {
        let used: usize = title.iter().map(Span::width).sum();
        let room = (area.width as usize).saturating_sub(used + 6);
        title.push(Span::styled(
            format!("· {} ", fit(ws, room)),
            Style::new().add_modifier(Modifier::BOLD),
        ));
    }
    let gauge = row.req.job.as_ref().filter(|j| !j.is_terminal()).map(|j| {
        let pct = j.progress.clamp(0.0, 1.0);
        // The phase is in the job section above; the bar gets the width.
        let label = if j.status == JobStatus::Running {
            format!("{:.0}%", pct * 100.0)
        } else {
            j.status.to_string()
        };
        (pct, format!("export {label}"))
    });
    let block = pane(narrow, Line::from(title)).padding(ratatui::widgets::Padding::horizontal(1));
    let inner = block.inner(area);
    let (text_area, gauge_area) = match gauge {
        Some(_) if inner.height > 3 => {
            let [t, g] = Layout::vertical([Constraint::Min(0), Constraint::Length(1)]).areas(inner);
            (t, Some(g))
        }
        _ => (inner, None),
    };
    let w = text_area.width.saturating_sub(1).max(10) as usize;
    let lines = detail_lines(row, state, w);
    // Lines are wrapped here already, so their count is the height.
    let max_scroll = lines.len().saturating_sub(text_area.height as usize);
    state.detail_scroll = state.detail_scroll.min(max_scroll as u16);
    let scroll = state.detail_scroll;
    let block = if max_scroll > 0 {
        let hint = if scroll as usize >= max_scroll {
            " ↑ K "
        } else if scroll == 0 {
            " ↓ J more "
        } else {
            " ↑↓ J/K "
        };
        block.title_bottom(Line::styled(hint, DIM).right_aligned())
    } else {
        block
    };
    f.render_widget(block, area);
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((scroll, 0)),
        text_area,
    );
    if let (Some(g), Some((pct, text))) = (gauge_area, gauge) {
        let gauge = LineGauge::default()
            .ratio(pct)
            .label(Line::styled(text, Style::new().fg(ACCENT)))
            .filled_symbol(symbols::line::THICK_HORIZONTAL)
            .unfilled_symbol(symbols::line::HORIZONTAL)
            .filled_style(Style::new().fg(ACCENT))
            .unfilled_style(DIM);
        f.render_widget(gauge, g);
    }
}

// --------------------------------------------------------------- status bar

fn health(name: &str, h: &Health) -> Vec<Span<'static>> {
    let (mark, color, text) = match h {
        Health::Up(s) => ("●", OK, s.as_str()),
        Health::Down(s) => ("✗", BAD, s.as_str()),
        Health::Unknown => ("○", Color::DarkGray, "…"),
    };
    let mut v = vec![
        Span::styled(format!("{name} "), DIM),
        Span::styled(mark.to_string(), Style::new().fg(color)),
    ];
    if !text.is_empty() && text != name {
        let style = if matches!(h, Health::Down(_)) {
            Style::new().fg(BAD)
        } else {
            Style::new()
        };
        v.push(Span::styled(format!(" {}", fit(text, 28)), style));
    }
    v
}

fn first_key(state: &State, action: Action) -> Option<String> {
    state
        .keys
        .bindings()
        .into_iter()
        .find(|(a, _)| *a == action)
        .and_then(|(_, k)| k.into_iter().next())
}

fn draw_status(f: &mut Frame<'_>, area: Rect, state: &State) {
    let w = area.width as usize;
    if let Mode::Filter = state.mode {
        let text = format!("/{}", clean(&state.filter));
        let hint = Line::styled("Enter keep · Esc clear ", DIM).right_aligned();
        let shown = fit(&text, w.saturating_sub(24).max(8));
        f.render_widget(
            Paragraph::new(Line::styled(shown.clone(), Style::new().fg(WARN))),
            area,
        );
        if w > width(&shown) + 26 {
            f.render_widget(Paragraph::new(hint), area);
        }
        f.set_cursor_position((
            area.x + (width(&shown) as u16).min(area.width.saturating_sub(1)),
            area.y,
        ));
        return;
    }
    // Right: pending, inbox, backend, keys; dropped from the left end when the status needs room.
    let mut groups: Vec<Vec<Span<'static>>> = Vec::new();
    if !state.pending.is_empty() {
        groups.push(vec![Span::styled(
            format!("{} {} pending", spinner(state), state.pending.len()),
            Style::new().fg(ACCENT),
        )]);
    }
    groups.push(health("inbox", &state.inbox));
    groups.push(health("backend", &state.backend));
    let help = first_key(state, Action::Help).unwrap_or_else(|| "?".into());
    let quit = first_key(state, Action::Quit).unwrap_or_else(|| "q".into());
    groups.push(vec![
        Span::styled(help, Style::new().fg(ACCENT)),
        Span::styled(" help  ", DIM),
        Span::styled(quit, Style::new().fg(ACCENT)),
        Span::styled(" quit", DIM),
    ]);
    let status_w = state
        .status
        .as_ref()
        .map(|(s, _)| width(s) + 1)
        .unwrap_or(0);
    let group_w = |g: &Vec<Span<'static>>| g.iter().map(Span::width).sum::<usize>() + 3;
    // Keep the status readable: give up hints (keys first, then health) until it fits or has 40 columns.
    let mut total: usize = groups.iter().map(group_w).sum::<usize>() + 1;
    while total + status_w > w && groups.len() > 1 && w.saturating_sub(total) < 40.min(status_w) {
        let g = groups.pop().unwrap_or_default();
        total -= group_w(&g);
    }
    let mut right: Vec<Span<'static>> = Vec::new();
    for (i, g) in groups.into_iter().enumerate() {
        if i > 0 {
            right.push(Span::styled(" │ ", DIM));
        }
        right.extend(g);
    }
    right.push(Span::raw(" "));
    let rw: usize = right.iter().map(Span::width).sum();
    if let Some((text, error)) = &state.status {
        let style = if *error {
            Style::new().fg(BAD).add_modifier(Modifier::BOLD)
        } else {
            Style::new()
        };
        let room = w.saturating_sub(rw + 2);
        f.render_widget(
            Paragraph::new(Line::from(vec![
                Span::raw(" "),
                Span::styled(fit(text, room), style),
            ])),
            area,
        );
    }
    f.render_widget(Paragraph::new(Line::from(right).right_aligned()), area);
}

// ----------------------------------------------------------------- overlays

/// A centered rectangle of at most `w` × `h`, inside `area`.
fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

fn popup<'a>(title: &str, color: Color) -> Block<'a> {
    Block::bordered()
        .border_type(BorderType::Rounded)
        .border_style(Style::new().fg(color))
        .title(Line::styled(
            format!(" {} ", clean(title)),
            Style::new().fg(color).add_modifier(Modifier::BOLD),
        ))
}

fn draw_overlay(f: &mut Frame<'_>, area: Rect, state: &mut State) {
    match &state.mode {
        Mode::Normal | Mode::Filter | Mode::Outbox { .. } | Mode::Stats(_) => {}
        Mode::Help => draw_help(f, area, state),
        Mode::Confirm(c) => draw_confirm(f, area, state, c),
        Mode::Pick { pick, selected } => draw_pick(f, area, pick, *selected),
        Mode::Input { .. } => draw_input(f, area, state),
    }
}

/// Key names as the help shows them; compact (`^d`, `S-Tab`) on small screens.
fn keys_text(keys: &[String], compact: bool) -> String {
    let keys: Vec<String> = if compact {
        keys.iter()
            .map(|k| k.replace("Ctrl-", "^").replace("Shift-Tab", "S-Tab"))
            .collect()
    } else {
        keys.to_vec()
    };
    keys.join(" ")
}

/// A titled list of (keys, what they do); `true`: packed into a line or two.
type HelpSection = (&'static str, Vec<(String, String)>, bool);

/// Every binding (from the key map, so rebound keys show as bound), by section.
fn help_sections(state: &State, compact: bool) -> Vec<HelpSection> {
    let request_actions = [
        Action::Approve,
        Action::Reject,
        Action::Reply,
        Action::Note,
        Action::Resolve,
        Action::ChooseWorkspace,
        Action::AccountEmail,
        Action::OverrideAuth,
        Action::CancelJob,
        Action::RetryJob,
        Action::Outbox,
    ];
    let bindings = state.keys.bindings();
    let entry = |(a, k): &(Action, Vec<String>)| (keys_text(k, compact), a.describe().to_string());
    let mut queue: Vec<(String, String)> = bindings
        .iter()
        .filter(|(a, _)| !request_actions.contains(a))
        .map(entry)
        .collect();
    queue.push(("1…7".into(), "jump to a tab".into()));
    queue.push(("Esc".into(), "clear the status line".into()));
    let request = bindings
        .iter()
        .filter(|(a, _)| request_actions.contains(a))
        .map(entry)
        .collect();
    let ctrl = |k: &str| {
        if compact {
            format!("^{k}")
        } else {
            format!("Ctrl-{k}")
        }
    };
    // Each popup shows its own keys too, so these are packed tight.
    let popup = vec![
        (ctrl("S"), "send / save".into()),
        (ctrl("E"), "$EDITOR".into()),
        ("Enter".into(), "ok".into()),
        ("Esc".into(), "cancel".into()),
        ("y/n".into(), "confirm".into()),
        (ctrl("C"), "quit".into()),
    ];
    vec![
        ("Queue", queue, false),
        ("Request", request, false),
        ("In a popup", popup, true),
    ]
}

/// Sections laid out in `w` columns: heading, then `key  description`
/// with the description wrapped under itself; a blank line between sections.
fn help_lines(sections: &[HelpSection], w: usize) -> Vec<Line<'static>> {
    let key_w = sections
        .iter()
        .filter(|(_, _, flow)| !flow)
        .flat_map(|(_, e, _)| e.iter().map(|(k, _)| width(k)))
        .max()
        .unwrap_or(1)
        .min(14);
    let key_style = Style::new().fg(ACCENT).add_modifier(Modifier::BOLD);
    let desc_w = w.saturating_sub(key_w + 2).max(8);
    let mut out = Vec::new();
    for (i, (title, entries, flow)) in sections.iter().enumerate() {
        if i > 0 {
            out.push(Line::raw(""));
        }
        out.push(heading(title));
        if *flow {
            let mut line: Vec<Span<'static>> = Vec::new();
            let mut used = 0;
            for (k, d) in entries {
                let item = width(k) + 1 + width(d);
                if used > 0 && used + 3 + item > w {
                    out.push(Line::from(std::mem::take(&mut line)));
                    used = 0;
                }
                if used > 0 {
                    line.push(Span::styled(" · ", DIM));
                    used += 3;
                }
                line.push(Span::styled(k.clone(), key_style));
                line.push(Span::raw(format!(" {d}")));
                used += item;
            }
            out.push(Line::from(line));
            continue;
        }
        for (k, d) in entries {
            for (j, part) in wrap(d, desc_w).into_iter().enumerate() {
                let key = if j == 0 {
                    format!("{:<key_w$}", fit(k, key_w))
                } else {
                    " ".repeat(key_w)
                };
                out.push(Line::from(vec![
                    Span::styled(key, key_style),
                    Span::raw("  "),
                    Span::raw(part),
                ]));
            }
        }
    }
    out
}

fn draw_help(f: &mut Frame<'_>, area: Rect, state: &State) {
    let outer_w = area.width.min(104);
    let inner_w = outer_w.saturating_sub(4) as usize;
    let compact = area.width < NARROW;
    let sections = help_sections(state, compact);
    const GAP: usize = 3;
    // Two columns when there is room: navigation on the left, the request
    // actions and popup keys on the right, split where the taller is lowest.
    let columns = if inner_w >= 70 {
        let (left, right) = sections.split_at(1);
        (24..=inner_w - GAP - 30)
            .map(|lw| {
                let (l, r) = (help_lines(left, lw), help_lines(right, inner_w - GAP - lw));
                (l.len().max(r.len()), lw.abs_diff(inner_w / 2), lw, l, r)
            })
            .min_by_key(|(h, off, ..)| (*h, *off))
            .map(|(_, _, lw, l, r)| (lw, l, r))
    } else {
        None
    };
    let height = match &columns {
        Some((_, l, r)) => l.len().max(r.len()),
        None => help_lines(&sections, inner_w).len(),
    };
    let rect = centered(area, outer_w, height as u16 + 2);
    f.render_widget(Clear, rect);
    let block = popup("Keys", ACCENT)
        .padding(ratatui::widgets::Padding::horizontal(1))
        .title_bottom(Line::styled(" any key closes ", DIM).right_aligned());
    let inner = block.inner(rect);
    f.render_widget(block, rect);
    match columns {
        Some((lw, left, right)) => {
            let [l, _, r] = Layout::horizontal([
                Constraint::Length(lw as u16),
                Constraint::Length(GAP as u16),
                Constraint::Min(0),
            ])
            .areas(inner);
            f.render_widget(Paragraph::new(left), l);
            f.render_widget(Paragraph::new(right), r);
        }
        None => f.render_widget(Paragraph::new(help_lines(&sections, inner_w)), inner),
    }
}

fn draw_confirm(f: &mut Frame<'_>, area: Rect, state: &State, c: &Confirm) {
    let w = area.width.saturating_sub(4).min(64);
    let text_w = w.saturating_sub(4) as usize;
    let (id, color) = match c {
        Confirm::Approve {
            id,
            override_reason: None,
        } => (*id, OK),
        Confirm::Approve {
            id,
            override_reason: Some(_),
        } => (*id, WARN),
        Confirm::Reject { id, .. }
        | Confirm::Cancel { id }
        | Confirm::ApproveDuplicate { id, .. } => (*id, BAD),
        Confirm::SendReply { id, .. } | Confirm::Retry { id } => (*id, ACCENT),
        // Not about one request: no row matches id 0.
        Confirm::Quit { .. } => (0, WARN),
    };
    let row = state.current().filter(|r| r.req.id == id);
    let account = row
        .and_then(|r| r.req.account())
        .unwrap_or("the account email")
        .to_string();
    let mut lines: Vec<Line<'static>> = wrap(&c.question(), text_w)
        .into_iter()
        .map(|l| Line::styled(l, Style::new().add_modifier(Modifier::BOLD)))
        .collect();
    let mut detail: Vec<(String, Style)> = Vec::new();
    match c {
        Confirm::Approve {
            override_reason: None,
            ..
        } => {
            detail.push((format!("The backend emails the link to {account}."), DIM));
        }
        Confirm::Approve {
            override_reason: Some(reason),
            ..
        } => {
            if let Some(r) = row {
                for u in r.unmet() {
                    detail.push((format!("✗ {u}"), Style::new().fg(BAD)));
                }
            }
            detail.push((format!("Override: {reason}"), Style::new().fg(WARN)));
            detail.push((format!("The backend emails the link to {account}."), DIM));
        }
        Confirm::Quit { .. } => {}
        Confirm::ApproveDuplicate { other, .. } => {
            detail.push((
                format!(
                    "Two exports mean two link emails. #{other} already covers this workspace."
                ),
                Style::new().fg(WARN),
            ));
        }
        Confirm::Reject { reason, .. } => {
            detail.push((format!("Reason: {reason}"), Style::new()));
            detail.push((format!("The reply goes to {account}."), DIM));
        }
        Confirm::SendReply { body, .. } => {
            detail.push((format!("To: {account}"), DIM));
            detail.push((String::new(), DIM));
            let body_lines = wrap_text(body, text_w);
            let n = body_lines.len();
            for l in body_lines.into_iter().take(8) {
                detail.push((l, Style::new()));
            }
            if n > 8 {
                detail.push((format!("… {} more lines", n - 8), DIM));
            }
        }
        Confirm::Cancel { .. } | Confirm::Retry { .. } => {}
    }
    if !detail.is_empty() {
        lines.push(Line::raw(""));
        for (text, style) in detail {
            for part in wrap_text(&text, text_w) {
                lines.push(Line::styled(part, style));
            }
        }
    }
    lines.push(Line::raw(""));
    lines.push(
        Line::from(vec![
            Span::styled("y", Style::new().fg(OK).add_modifier(Modifier::BOLD)),
            Span::raw(" yes    "),
            Span::styled("n", Style::new().fg(BAD).add_modifier(Modifier::BOLD)),
            Span::raw(" / Esc no"),
        ])
        .centered(),
    );
    let rect = centered(area, w, lines.len() as u16 + 2);
    f.render_widget(Clear, rect);
    let block = popup("Confirm", color).padding(ratatui::widgets::Padding::horizontal(1));
    let inner = block.inner(rect);
    f.render_widget(block, rect);
    f.render_widget(Paragraph::new(lines), inner);
}

fn draw_pick(f: &mut Frame<'_>, area: Rect, pick: &Pick, selected: usize) {
    let (title, items): (&str, Vec<(String, String)>) = match pick {
        Pick::ReplyTemplate => (
            "Reply with",
            REPLY_TEMPLATES
                .iter()
                .map(|t| (template_words(*t), String::new()))
                .collect(),
        ),
        Pick::RejectTemplate => (
            "Reject: why",
            REJECT_TEMPLATES
                .iter()
                .map(|t| (template_words(*t), String::new()))
                .collect(),
        ),
        Pick::Workspace(list) => (
            "Workspace",
            list.iter()
                .map(|(id, name)| (clean(name), clean(id)))
                .collect(),
        ),
    };
    let name_w = items.iter().map(|(n, _)| width(n)).max().unwrap_or(0);
    let id_w = items.iter().map(|(_, i)| width(i)).max().unwrap_or(0);
    let footer = "↑↓ move · Enter pick · Esc cancel";
    let want = (4 + name_w + if id_w > 0 { 2 + id_w } else { 0 }).max(width(footer)) + 4;
    let w = (want as u16).min(area.width.saturating_sub(4)).max(20);
    let inner_w = w.saturating_sub(4) as usize;
    let visible = (area.height.saturating_sub(6) as usize).max(1);
    let start = selected
        .saturating_sub(visible - 1)
        .min(items.len().saturating_sub(visible));
    let mut lines: Vec<Line<'static>> = Vec::new();
    for (i, (name, id)) in items.iter().enumerate().skip(start).take(visible) {
        let num = if i < 9 {
            format!("{} ", i + 1)
        } else {
            "  ".to_string()
        };
        let mut spans = vec![
            Span::styled(
                if i == selected { "›" } else { " " },
                Style::new().fg(ACCENT).add_modifier(Modifier::BOLD),
            ),
            Span::styled(num, Style::new().fg(ACCENT)),
        ];
        let room = inner_w.saturating_sub(3);
        let nw = name_w.min(room);
        spans.push(Span::raw(format!("{:<nw$}", fit(name, nw))));
        if !id.is_empty() && room > nw + 2 {
            spans.push(Span::styled(format!("  {}", fit(id, room - nw - 2)), DIM));
        }
        let line = Line::from(spans);
        lines.push(if i == selected {
            line.style(SELECTED)
        } else {
            line
        });
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled(fit(footer, inner_w), DIM));
    let rect = centered(area, w, lines.len() as u16 + 2);
    f.render_widget(Clear, rect);
    let block = popup(title, ACCENT).padding(ratatui::widgets::Padding::horizontal(1));
    let inner = block.inner(rect);
    f.render_widget(block, rect);
    f.render_widget(Paragraph::new(lines), inner);
}

fn draw_input(f: &mut Frame<'_>, area: Rect, state: &mut State) {
    // What the box is about, from the selected request (read before borrowing the text area).
    let row = state.current();
    let account = row.and_then(|r| r.req.account()).unwrap_or("—").to_string();
    let mut context: Vec<(String, Style)> = Vec::new();
    if let Mode::Input { purpose, .. } = &state.mode {
        match purpose {
            InputPurpose::ReplyBody(_)
            | InputPurpose::RejectReason(_)
            | InputPurpose::RejectBody { .. } => context.push((format!("To: {account}"), DIM)),
            InputPurpose::ApproveOverride => {
                for u in row.map(|r| r.unmet()).unwrap_or_default() {
                    context.push((format!("✗ {u}"), Style::new().fg(BAD)));
                }
            }
            InputPurpose::AuthOverride => {
                if let Some(r) = row {
                    let a = &r.req.auth;
                    context.push((
                        format!("dkim {} · spf {} · dmarc {}", a.dkim, a.spf, a.dmarc),
                        Style::new().fg(BAD),
                    ));
                }
            }
            InputPurpose::AccountEmail => {
                context.push((
                    "The export link goes to this account's address.".into(),
                    DIM,
                ));
            }
            InputPurpose::Note => {}
        }
    }
    let Mode::Input {
        purpose,
        area: text,
        error,
    } = &mut state.mode
    else {
        return;
    };
    let multi = purpose.multi_line();
    let w = area
        .width
        .saturating_sub(4)
        .min(if multi { 84 } else { 64 });
    let inner_w = w.saturating_sub(4) as usize;
    let context: Vec<Line<'static>> = context
        .into_iter()
        .flat_map(|(t, s)| {
            wrap(&t, inner_w)
                .into_iter()
                .map(move |l| Line::styled(l, s))
        })
        .collect();
    // Room to write, while the request stays in view around the box.
    let text_h: u16 = if multi {
        (area.height * 2 / 5).clamp(3, 14)
    } else {
        1
    };
    let error_h = u16::from(error.is_some());
    let h = context.len() as u16 + u16::from(!context.is_empty()) + text_h + error_h + 2 + 2;
    let rect = centered(area, w, h);
    f.render_widget(Clear, rect);
    let color = match purpose {
        InputPurpose::ApproveOverride | InputPurpose::AuthOverride => WARN,
        InputPurpose::RejectReason(_) => BAD,
        _ => ACCENT,
    };
    let block = popup(&purpose.title(), color).padding(ratatui::widgets::Padding::horizontal(1));
    let inner = block.inner(rect);
    f.render_widget(block, rect);
    let ctx_h = context.len() as u16 + u16::from(!context.is_empty());
    let [ctx_area, text_area, error_area, _, footer_area] = Layout::vertical([
        Constraint::Length(ctx_h),
        Constraint::Min(1),
        Constraint::Length(error_h),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(inner);
    f.render_widget(Paragraph::new(context), ctx_area);
    // Long notes and replies wrap; the cursor line is not underlined (calmer).
    let wrap_mode = if multi {
        ratatui_textarea::WrapMode::WordOrGlyph
    } else {
        ratatui_textarea::WrapMode::None
    };
    if text.wrap_mode() != wrap_mode {
        text.set_wrap_mode(wrap_mode);
    }
    if text.cursor_line_style() != Style::new() {
        text.set_cursor_line_style(Style::new());
    }
    f.render_widget(&**text, text_area);
    if let Some(e) = error {
        f.render_widget(
            Paragraph::new(Line::styled(
                fit(&format!("✗ {e}"), inner_w),
                Style::new().fg(BAD).add_modifier(Modifier::BOLD),
            )),
            error_area,
        );
    }
    let keys: &[(&str, &str)] = if multi {
        &[
            ("Ctrl-S", " save"),
            ("Ctrl-E", " $EDITOR"),
            ("Esc", " cancel"),
        ]
    } else {
        &[("Enter", " ok"), ("Esc", " cancel")]
    };
    let mut spans = Vec::new();
    for (i, (k, d)) in keys.iter().enumerate() {
        if i > 0 {
            spans.push(Span::styled(" · ", DIM));
        }
        spans.push(Span::styled(
            *k,
            Style::new().fg(ACCENT).add_modifier(Modifier::BOLD),
        ));
        spans.push(Span::styled(*d, DIM));
    }
    f.render_widget(
        Paragraph::new(Line::from(spans).right_aligned()),
        footer_area,
    );
}

// ------------------------------------------------------------------- outbox

fn draw_outbox(f: &mut Frame<'_>, top: Rect, main: Rect, state: &State, selected: usize) {
    let n = state.outbox.len();
    let title = Line::from(vec![
        Span::styled(
            " concierge ",
            Style::new().fg(ACCENT).add_modifier(Modifier::BOLD),
        ),
        Span::raw(" Outbox "),
        Span::styled(format!("{n} mail{}", if n == 1 { "" } else { "s" }), DIM),
    ]);
    f.render_widget(Paragraph::new(title), top);
    f.render_widget(
        Paragraph::new(Line::styled("↑↓ move · Esc back ", DIM).right_aligned()),
        top,
    );
    if n == 0 {
        let block = Block::bordered()
            .border_type(BorderType::Rounded)
            .border_style(DIM);
        let inner = block.inner(main);
        f.render_widget(block, main);
        let y = inner.y + inner.height / 2;
        f.render_widget(
            Paragraph::new(Line::styled("The outbox is empty (or still loading).", DIM).centered()),
            Rect {
                y,
                height: 1,
                ..inner
            },
        );
        return;
    }
    let sel = selected.min(n - 1);
    let list_h = ((n as u16) + 2)
        .clamp(3, (main.height / 3).max(5))
        .min(main.height);
    let [list_area, body_area] =
        Layout::vertical([Constraint::Length(list_h), Constraint::Min(0)]).areas(main);
    let block = Block::bordered()
        .border_type(BorderType::Rounded)
        .border_style(DIM)
        .title(Line::styled(
            " Sent ",
            Style::new().add_modifier(Modifier::BOLD),
        ));
    let inner = block.inner(list_area);
    f.render_widget(block, list_area);
    let h = (inner.height as usize).max(1);
    let start = sel.saturating_sub(h - 1).min(n.saturating_sub(h));
    let iw = inner.width as usize;
    let date_w = 12.min(iw / 4);
    let to_w = 26.min(iw / 3);
    let subj_w = iw.saturating_sub(2 + date_w + to_w + 2);
    let lines: Vec<Line<'static>> = state.outbox[start..(start + h).min(n)]
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let i = start + i;
            let date = fit(
                &parse_time(&m.date)
                    .map(|t| short_when(t, state))
                    .unwrap_or_else(|| clean(&m.date)),
                date_w,
            );
            let line = Line::from(vec![
                Span::styled(
                    if i == sel { "› " } else { "  " },
                    Style::new().fg(ACCENT).add_modifier(Modifier::BOLD),
                ),
                Span::styled(format!("{date:<date_w$} "), DIM),
                Span::raw(format!("{:<to_w$} ", fit(&m.to, to_w))),
                Span::styled(
                    fit(&m.subject, subj_w),
                    Style::new().add_modifier(Modifier::BOLD),
                ),
            ]);
            if i == sel {
                line.style(SELECTED)
            } else {
                line
            }
        })
        .collect();
    f.render_widget(Paragraph::new(lines), inner);
    let m = &state.outbox[sel];
    let block = Block::bordered()
        .border_type(BorderType::Rounded)
        .border_style(DIM)
        .title(Line::styled(
            format!(
                " {} ",
                fit(&m.subject, (body_area.width as usize).saturating_sub(6))
            ),
            Style::new().add_modifier(Modifier::BOLD),
        ));
    let inner = block.inner(body_area);
    f.render_widget(block, body_area);
    let bw = (inner.width as usize).saturating_sub(1).max(10);
    let mut text: Vec<Line<'static>> = Vec::new();
    kv(&mut text, "To", &m.to, Style::new(), bw);
    kv(
        &mut text,
        "Date",
        &when_str(&m.date, state),
        Style::new(),
        bw,
    );
    text.push(Line::raw(""));
    text.extend(wrap_text(&m.body, bw).into_iter().map(Line::raw));
    f.render_widget(
        Paragraph::new(Text::from(text)).wrap(Wrap { trim: false }),
        inner,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::estimate::Rates;
    use crate::intake::{Auth, Warning};
    use crate::store::requests::{JobSnap, Membership, Note, ReplySnap, RequestView, SizeSnap};
    use crate::tui::state::OutboxMail;
    use ratatui::backend::TestBackend;
    use ratatui::buffer::Buffer;
    use ratatui::Terminal;

    const ACME_ID: &str = "6f1c2a9e-3b7d-4e21-9a55-0c8e4d7b1f32";
    const NORTHWIND_ID: &str = "b0e4d3c2-71a8-4f6e-8d19-5a2c7e9f0b44";
    const GLOBEX_ID: &str = "9d27f5e1-0c3b-4a86-b7e2-1f48a6c3d905";

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-25T11:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn acme_size() -> SizeSnap {
        SizeSnap {
            conversations: 3_120,
            messages: 12_480,
            internal_notes: 1_904,
            customers: 1_350,
            articles: 48,
            categories: 7,
            routing_rules: 12,
            members: 3,
            attachments: 612,
            attachment_bytes: 1_840_000_000,
            large_attachments: 1,
        }
    }

    fn member(ws_id: &str, ws: &str, email: &str, role: &str) -> Membership {
        Membership {
            member_id: format!("m-{}", email.split('@').next().unwrap()),
            workspace_id: ws_id.into(),
            workspace_name: ws.into(),
            email: email.into(),
            role: crate::domain::Role::parse(role).unwrap(),
        }
    }

    fn pass() -> Auth {
        Auth {
            dkim: "pass".into(),
            spf: "pass".into(),
            dmarc: "pass".into(),
            dmarc_domain: None,
        }
    }

    /// A request as the store hands it over, resolved against Acme by default.
    fn base(id: i64, from: &str, name: &str, received: &str) -> RequestView {
        RequestView {
            id,
            message_id: format!("req-{id:04}@example"),
            state: crate::domain::RequestState::New,
            subject: "Data export request: Acme Support".into(),
            from: Some(from.into()),
            from_name: Some(name.into()),
            reply_to: None,
            account_email: Some(from.into()),
            received_at: received.into(),
            workspace_name: Some("Acme Support".into()),
            workspace_id: Some(ACME_ID.into()),
            workspace_verified: true,
            member_id: Some(format!("m-{}", from.split('@').next().unwrap())),
            role: Some(crate::domain::Role::Owner),
            memberships: vec![member(ACME_ID, "Acme Support", from, "owner")],
            size: Some(acme_size()),
            auth: pass(),
            warnings: vec![],
            auth_override: None,
            decision_reason: None,
            approval_override: None,
            idempotency_key: None,
            export_body: None,
            job: None,
            notes: vec![],
            replies: vec![],
            thread_len: 1,
        }
    }

    fn note(text: &str, at: &str) -> Note {
        Note {
            author: "Sam".into(),
            text: text.into(),
            at: at.into(),
        }
    }

    fn ack(id: i64, to: &str, at: &str) -> ReplySnap {
        ReplySnap {
            id,
            template: "acknowledgement".into(),
            state: crate::domain::ReplyState::Sent,
            to: to.into(),
            at: at.into(),
        }
    }

    fn demo_requests() -> Vec<RequestView> {
        // 1: Acme's owner, resolved, sized, noted, acknowledged: ready to approve.
        let mut acme = base(1, "owner@acme.example", "Ada Owner", "2026-11-25T08:14:05Z");
        acme.state = crate::domain::RequestState::Waiting;
        acme.thread_len = 2;
        acme.notes = vec![note(
            "Called Ada: full workspace export, attachments included. She confirmed from her account email.",
            "2026-11-25T09:02:11Z",
        )];
        acme.replies = vec![ack(1, "owner@acme.example", "2026-11-25T08:31:40Z")];

        // 2: Northwind, approved and running at 40%.
        let mut northwind = base(
            2,
            "ops@northwind.example",
            "Nora Ops",
            "2026-11-23T10:02:40Z",
        );
        northwind.subject = "Data export request: Northwind Traders".into();
        northwind.state = crate::domain::RequestState::Running;
        northwind.workspace_name = Some("Northwind Traders".into());
        northwind.workspace_id = Some(NORTHWIND_ID.into());
        northwind.memberships = vec![member(
            NORTHWIND_ID,
            "Northwind Traders",
            "ops@northwind.example",
            "owner",
        )];
        northwind.size = Some(SizeSnap {
            conversations: 38_400,
            messages: 151_200,
            internal_notes: 22_310,
            customers: 8_420,
            articles: 210,
            categories: 18,
            routing_rules: 44,
            members: 14,
            attachments: 9_870,
            attachment_bytes: 12_400_000_000,
            large_attachments: 3,
        });
        northwind.notes = vec![note(
            "Scope: everything. Nora asked for the ZIP by Friday.",
            "2026-11-24T09:15:00Z",
        )];
        northwind.replies = vec![ack(2, "ops@northwind.example", "2026-11-23T10:30:00Z")];
        northwind.idempotency_key = Some("concierge-req-0002".into());
        northwind.job = Some(JobSnap {
            id: "3c9e0f7a-5d21-4b8e-a6f3-7e2d1c0b9a84".into(),
            status: crate::domain::JobStatus::Running,
            phase: Some("writing:messages".into()),
            progress: 0.4,
            created_at: Some("2026-11-25T10:41:00Z".into()),
            finished_at: None,
            emailed_at: None,
            deliver_to: Some("o***@northwind.example".into()),
            link_expires_at: None,
            error: None,
        });

        // 3: Globex's admin: over 48 hours, no specific estimate sent yet.
        let mut globex = base(3, "it@globex.example", "Globex IT", "2026-11-24T13:30:00Z");
        globex.subject = "Data export request: Globex".into();
        globex.state = crate::domain::RequestState::Waiting;
        globex.workspace_name = Some("Globex".into());
        globex.workspace_id = Some(GLOBEX_ID.into());
        globex.role = Some(crate::domain::Role::Admin);
        globex.memberships = vec![member(GLOBEX_ID, "Globex", "it@globex.example", "admin")];
        globex.size = Some(SizeSnap {
            conversations: 512_000,
            messages: 2_140_000,
            internal_notes: 301_500,
            customers: 41_200,
            articles: 930,
            categories: 41,
            routing_rules: 160,
            members: 85,
            attachments: 96_000,
            attachment_bytes: 148_000_000_000,
            large_attachments: 37,
        });
        globex.replies = vec![ack(3, "it@globex.example", "2026-11-24T14:02:00Z")];

        // 4: an agent of Acme: not allowed to ask.
        let mut agent = base(
            4,
            "agent@acme.example",
            "Andy Agent",
            "2026-11-24T10:45:12Z",
        );
        agent.role = Some(crate::domain::Role::Agent);
        agent.memberships = vec![member(
            ACME_ID,
            "Acme Support",
            "agent@acme.example",
            "agent",
        )];

        // 5: a stranger from a personal address, still being looked up.
        let mut stranger = base(
            5,
            "ada.lovelace@gmail.example",
            "Ada (personal)",
            "2026-11-24T21:03:44Z",
        );
        stranger.subject = "Export of all Acme data".into();
        stranger.account_email = None;
        stranger.workspace_name = None;
        stranger.workspace_id = None;
        stranger.workspace_verified = false;
        stranger.member_id = None;
        stranger.role = None;
        stranger.memberships = vec![];
        stranger.size = None;

        // 6: spoofed: From says Acme's owner, DMARC fails, Reply-To elsewhere.
        let mut spoofed = base(
            6,
            "owner@acme.example",
            "owner@acme.example",
            "2026-11-25T03:12:09Z",
        );
        spoofed.subject = "Data export request: Acme Support URGENT".into();
        spoofed.reply_to = Some("exports@evil.example".into());
        spoofed.auth = Auth {
            dkim: "fail".into(),
            spf: "fail".into(),
            dmarc: "fail".into(),
            dmarc_domain: None,
        };
        spoofed.warnings = vec![
            Warning::DkimFail,
            Warning::SpfFail,
            Warning::DmarcFail,
            Warning::ReplyToMismatch,
            Warning::ReturnPathMismatch,
            Warning::ControlCharsRemoved,
        ];

        // 7: Acme's admin: done, link emailed two minutes ago.
        let mut done = base(
            7,
            "admin@acme.example",
            "Alan Admin",
            "2026-11-23T09:14:05Z",
        );
        done.state = crate::domain::RequestState::Done;
        done.role = Some(crate::domain::Role::Admin);
        done.memberships = vec![member(
            ACME_ID,
            "Acme Support",
            "admin@acme.example",
            "admin",
        )];
        done.notes = vec![note(
            "Scope: all data. Confirmed by reply.",
            "2026-11-23T11:20:00Z",
        )];
        done.replies = vec![ack(7, "admin@acme.example", "2026-11-23T09:40:00Z")];
        done.idempotency_key = Some("concierge-req-0007".into());
        done.job = Some(JobSnap {
            id: "8a41d6b2-9f0c-4e37-b5a8-2d6c4e1f7a90".into(),
            status: crate::domain::JobStatus::Emailed,
            phase: Some("done".into()),
            progress: 1.0,
            created_at: Some("2026-11-25T09:40:00Z".into()),
            finished_at: Some("2026-11-25T10:52:30Z".into()),
            emailed_at: Some("2026-11-25T10:58:00Z".into()),
            deliver_to: Some("a***@acme.example".into()),
            link_expires_at: Some("2026-12-02T10:58:00Z".into()),
            error: None,
        });

        // 8: rejected: the workspace does not exist.
        let mut rejected = base(
            8,
            "bob@initech.example",
            "Bob Porter",
            "2026-11-20T15:40:00Z",
        );
        rejected.subject = "Data export request: Initech".into();
        rejected.state = crate::domain::RequestState::Rejected;
        rejected.workspace_name = Some("Initech".into());
        rejected.workspace_id = None;
        rejected.workspace_verified = false;
        rejected.member_id = None;
        rejected.role = None;
        rejected.memberships = vec![];
        rejected.size = None;
        rejected.decision_reason = Some("no workspace called Initech on the backend".into());

        vec![
            acme, northwind, globex, agent, stranger, spoofed, done, rejected,
        ]
    }

    fn demo_state() -> State {
        let mut s = State::new(demo_requests(), Rates::default(), "Sam".into(), now());
        if let Some(r) = s.row_mut(5) {
            r.resolving = true;
        }
        s.inbox = Health::Up("IDLE".into());
        s.backend = Health::Up("backend".into());
        s
    }

    fn select(s: &mut State, id: i64) {
        s.selected = s
            .visible
            .iter()
            .position(|&i| s.rows[i].req.id == id)
            .expect("visible");
    }

    fn draw(s: &mut State, w: u16, h: u16) -> Terminal<TestBackend> {
        let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
        t.draw(|f| render(f, s)).unwrap();
        t
    }

    /// The screen as text, one line per row, trailing blanks trimmed.
    fn text(t: &Terminal<TestBackend>) -> String {
        let buf = t.backend().buffer();
        let mut out = String::new();
        for y in 0..buf.area.height {
            let mut line = String::new();
            for x in 0..buf.area.width {
                line.push_str(buf[(x, y)].symbol());
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }

    /// Where `needle` starts on screen (first match, by rows).
    fn find(buf: &Buffer, needle: &str) -> Option<(u16, u16)> {
        for y in 0..buf.area.height {
            let mut line = String::new();
            let mut xs = Vec::new();
            for x in 0..buf.area.width {
                for _ in buf[(x, y)].symbol().chars() {
                    xs.push(x);
                }
                line.push_str(buf[(x, y)].symbol());
            }
            if let Some(i) = line.find(needle) {
                let ci = line[..i].chars().count();
                return Some((xs[ci], y));
            }
        }
        None
    }

    fn fg_at(t: &Terminal<TestBackend>, needle: &str) -> Color {
        let buf = t.backend().buffer();
        let (x, y) =
            find(buf, needle).unwrap_or_else(|| panic!("{needle:?} not on screen:\n{}", text(t)));
        buf[(x, y)].fg
    }

    #[test]
    fn main_120x40() {
        let mut s = demo_state();
        select(&mut s, 1);
        s.status = Some(("#1: note saved".into(), false));
        insta::assert_snapshot!(text(&draw(&mut s, 120, 40)));
    }

    #[test]
    fn main_80x24() {
        let mut s = demo_state();
        select(&mut s, 6);
        insta::assert_snapshot!(text(&draw(&mut s, 80, 24)));
    }

    #[test]
    fn running_job_120x40() {
        let mut s = demo_state();
        select(&mut s, 2);
        s.pending = vec![(2, "cancelling the export".into())];
        s.backend = Health::Down("unreachable: connection refused".into());
        insta::assert_snapshot!(text(&draw(&mut s, 120, 40)));
    }

    #[test]
    fn emailed_job_100x30() {
        let mut s = demo_state();
        select(&mut s, 7);
        insta::assert_snapshot!(text(&draw(&mut s, 100, 30)));
    }

    #[test]
    fn only_an_owner_or_admin_is_shown_a_link_address() {
        let mut s = demo_state();
        let mut detail = |id| {
            s.tab = Tab::All;
            s.refilter();
            select(&mut s, id);
            text(&draw(&mut s, 120, 60))
        };
        let owner = detail(1);
        assert!(
            owner.contains("Export link goes to: owner@acme.example"),
            "{owner}"
        );
        for id in [4, 5] {
            let t = detail(id);
            assert!(!t.contains("Export link goes to"), "#{id}:\n{t}");
            assert!(t.contains("no export link:"), "#{id}:\n{t}");
        }
    }

    #[test]
    fn over_48h_and_stranger_80x24() {
        let mut s = demo_state();
        s.tab = Tab::Waiting;
        s.refilter();
        select(&mut s, 3);
        let globex = text(&draw(&mut s, 80, 24));
        s.tab = Tab::New;
        s.refilter();
        select(&mut s, 5);
        let stranger = text(&draw(&mut s, 80, 24));
        insta::assert_snapshot!(format!("{globex}\n{stranger}"));
    }

    #[test]
    fn help_overlay() {
        let mut s = demo_state();
        s.mode = Mode::Help;
        let small = text(&draw(&mut s, 80, 24));
        let big = text(&draw(&mut s, 120, 40));
        insta::assert_snapshot!(format!("{small}\n{big}"));
    }

    #[test]
    fn input_overlay() {
        let mut s = demo_state();
        select(&mut s, 1);
        let mut area = ratatui_textarea::TextArea::new(vec![
            "Confirmed with Ada on the phone: the whole workspace, attachments included, no exceptions.".to_string(),
            "Link goes to owner@acme.example.".to_string(),
        ]);
        area.move_cursor(ratatui_textarea::CursorMove::Bottom);
        area.move_cursor(ratatui_textarea::CursorMove::End);
        s.mode = Mode::Input {
            purpose: InputPurpose::Note,
            area: Box::new(area),
            error: None,
        };
        let note = text(&draw(&mut s, 80, 24));
        select(&mut s, 5);
        let area = ratatui_textarea::TextArea::new(vec!["ada@".to_string()]);
        s.mode = Mode::Input {
            purpose: InputPurpose::AccountEmail,
            area: Box::new(area),
            error: Some("that is not an email address".into()),
        };
        let email = text(&draw(&mut s, 80, 24));
        insta::assert_snapshot!(format!("{note}\n{email}"));
    }

    #[test]
    fn confirm_overlay() {
        let mut s = demo_state();
        select(&mut s, 6);
        s.mode = Mode::Confirm(Confirm::Approve {
            id: 6,
            override_reason: Some("Ada confirmed by phone that she sent it".into()),
        });
        let approve = text(&draw(&mut s, 80, 24));
        select(&mut s, 4);
        s.mode = Mode::Confirm(Confirm::Reject {
            id: 4,
            template: Template::RejectNotOwnerOrAdmin,
            reason: "Andy is an agent; only owners and admins can export.".into(),
            body: "Hello Andy Agent,\n\nFor the safety of everyone's data…".into(),
        });
        let reject = text(&draw(&mut s, 80, 24));
        select(&mut s, 3);
        s.mode = Mode::Confirm(Confirm::SendReply {
            id: 3,
            template: Template::EstimateOver48h,
            again: false,
            body: "Hello,\n\nthe export of Globex is about 66 hours of work: we expect to email the link by Fri 27 Nov 13:30 UTC.\n\nOchre Concierge".into(),
        });
        let reply = text(&draw(&mut s, 120, 40));
        insta::assert_snapshot!(format!("{approve}\n{reject}\n{reply}"));
    }

    #[test]
    fn pick_overlay() {
        let mut s = demo_state();
        select(&mut s, 4);
        s.mode = Mode::Pick {
            pick: Pick::RejectTemplate,
            selected: 0,
        };
        let reject = text(&draw(&mut s, 80, 24));
        s.mode = Mode::Pick {
            pick: Pick::Workspace(vec![
                (ACME_ID.into(), "Acme Support".into()),
                (NORTHWIND_ID.into(), "Northwind Traders".into()),
            ]),
            selected: 1,
        };
        let ws = text(&draw(&mut s, 80, 24));
        s.mode = Mode::Pick {
            pick: Pick::ReplyTemplate,
            selected: 1,
        };
        let reply = text(&draw(&mut s, 80, 24));
        insta::assert_snapshot!(format!("{reject}\n{ws}\n{reply}"));
    }

    #[test]
    fn empty_queue() {
        let mut s = State::new(vec![], Rates::default(), "Sam".into(), now());
        let empty = text(&draw(&mut s, 80, 24));
        let mut s = demo_state();
        s.filter = "zzz".into();
        s.refilter();
        let nothing = text(&draw(&mut s, 120, 40));
        insta::assert_snapshot!(format!("{empty}\n{nothing}"));
    }

    #[test]
    fn filter_line() {
        let mut s = demo_state();
        s.filter = "acme".into();
        s.refilter();
        s.mode = Mode::Filter;
        let t = draw(&mut s, 80, 24);
        let screen = text(&t);
        assert!(
            screen.lines().last().unwrap().starts_with("/acme"),
            "{screen}"
        );
        assert!(screen.lines().next().unwrap().contains("/acme"), "{screen}");
        assert!(!screen.contains("Northwind"), "{screen}");
    }

    #[test]
    fn outbox() {
        let mut s = demo_state();
        s.has_outbox = true;
        s.outbox = vec![
            OutboxMail {
                to: "a***@acme.example".into(),
                subject: "Your Acme Support export is ready".into(),
                date: "2026-11-25T10:58:00+00:00".into(),
                body: "Hello,\n\nthe export of Acme Support is ready. Download it within 7 days:\n\nhttps://exports.example/downloads/eyJqb2IiOiI4YTQxIn0.sig\n\n— Ochre".into(),
            },
            OutboxMail {
                to: "it@globex.example".into(),
                subject: "Re: Data export request: Globex".into(),
                date: "2026-11-24T14:02:00+00:00".into(),
                body: "Hi,\n\nwe received your request.".into(),
            },
        ];
        s.mode = Mode::Outbox { selected: 0 };
        insta::assert_snapshot!(text(&draw(&mut s, 80, 24)));
    }

    #[test]
    fn colours() {
        let mut s = demo_state();
        select(&mut s, 1);
        s.status = Some(("#4: sending the reply failed: SMTP 451".into(), true));
        let t = draw(&mut s, 120, 40);
        // SLA: overdue red, under a day yellow, over a day green, no estimate grey.
        assert_eq!(fg_at(&t, "overdue 14m"), BAD);
        assert_eq!(fg_at(&t, "21h "), WARN);
        assert_eq!(fg_at(&t, "2d 2h"), OK);
        assert_eq!(fg_at(&t, "13h ago"), Color::DarkGray);
        // Checklist of #1: met items green.
        assert_eq!(fg_at(&t, "✔ Workspace identified"), OK);
        assert_eq!(fg_at(&t, "dmarc pass"), Color::DarkGray, "the label");
        assert_eq!(fg_at(&t, "#4: sending"), BAD);
        assert_eq!(fg_at(&t, "●"), OK);
        // Spoofed: the DMARC mark in the queue, the failed verdicts and unmet items.
        select(&mut s, 6);
        s.status = None;
        let t = draw(&mut s, 120, 40);
        assert_eq!(fg_at(&t, "✗"), BAD);
        assert_eq!(fg_at(&t, "⚠6"), WARN);
        let buf = t.backend().buffer();
        let (x, y) = find(buf, "dmarc fail").unwrap();
        assert_eq!(buf[(x + 6, y)].fg, BAD);
        assert_eq!(fg_at(&t, "✗ Sender authenticated"), BAD);
        // The selected row is highlighted.
        let (x, y) = find(buf, "› #6").unwrap();
        assert_eq!(buf[(x + 2, y)].bg, Color::Indexed(237));
        assert_eq!(buf[(x + 2, y)].fg, ACCENT);
        // The running job's gauge.
        select(&mut s, 2);
        let t = draw(&mut s, 120, 40);
        assert_eq!(fg_at(&t, "export 40%"), ACCENT);
        // The emailed job's link countdown: green with days left.
        select(&mut s, 7);
        let t = draw(&mut s, 120, 40);
        assert_eq!(fg_at(&t, "link expires in 6d 23h"), OK);
    }

    #[test]
    fn ten_thousand_rows_window() {
        let template = demo_requests();
        let reqs: Vec<RequestView> = (0..10_000)
            .map(|i| {
                let mut r = template[i % template.len()].clone();
                r.id = i as i64 + 1;
                r
            })
            .collect();
        let mut s = State::new(reqs, Rates::default(), "Sam".into(), now());
        for (w, h) in [(80, 24), (120, 40)] {
            s.selected = 9_999;
            let t = draw(&mut s, w, h);
            let id = s.rows[s.visible[9_999]].req.id;
            assert!(
                s.offset <= 9_999 && 9_999 < s.offset + h as usize,
                "offset {}",
                s.offset
            );
            let screen = text(&t);
            let line = screen
                .lines()
                .find(|l| l.contains(&format!("› #{id} ")))
                .unwrap_or_else(|| panic!("#{id} not selected on screen:\n{screen}"));
            assert!(!line.is_empty());
            assert!(screen.contains("10,000/10,000"), "{screen}");
            // Back to the top: the window follows.
            s.selected = 0;
            let screen = text(&draw(&mut s, w, h));
            assert_eq!(s.offset, 0);
            let first = s.rows[s.visible[0]].req.id;
            assert!(screen.contains(&format!("› #{first} ")), "{screen}");
            // A selection in the middle, reached by paging, stays on screen.
            s.selected = 5_000;
            draw(&mut s, w, h);
            assert!(s.offset <= 5_000 && 5_000 < s.offset + h as usize);
        }
    }

    #[test]
    fn any_size_any_mode_draws() {
        let modes = || -> Vec<Mode> {
            vec![
                Mode::Normal,
                Mode::Help,
                Mode::Filter,
                Mode::Input {
                    purpose: InputPurpose::Note,
                    area: Box::default(),
                    error: None,
                },
                Mode::Input {
                    purpose: InputPurpose::AccountEmail,
                    area: Box::default(),
                    error: Some("that is not an email address".into()),
                },
                Mode::Pick {
                    pick: Pick::Workspace(vec![(ACME_ID.into(), "Acme Support".into())]),
                    selected: 0,
                },
                Mode::Pick {
                    pick: Pick::RejectTemplate,
                    selected: 3,
                },
                Mode::Confirm(Confirm::SendReply {
                    id: 1,
                    template: Template::Acknowledgement,
                    again: true,
                    body: "Hi\n".repeat(40),
                }),
                Mode::Confirm(Confirm::Cancel { id: 2 }),
                Mode::Outbox { selected: 5 },
            ]
        };
        for (w, h) in [
            (1, 1),
            (23, 5),
            (24, 6),
            (30, 8),
            (50, 12),
            (99, 30),
            (100, 30),
            (200, 60),
        ] {
            for mode in modes() {
                let mut s = demo_state();
                s.filter = "a".into();
                s.refilter();
                s.selected = 3;
                s.detail_scroll = 500;
                s.status = Some(("x".repeat(300), true));
                s.mode = mode;
                draw(&mut s, w, h);
                assert!(s.visible.is_empty() || s.offset <= s.selected);
            }
        }
    }

    #[test]
    fn detail_scroll_is_clamped() {
        let mut s = demo_state();
        select(&mut s, 1);
        s.detail_scroll = 1_000;
        let screen = text(&draw(&mut s, 80, 24));
        assert!(
            s.detail_scroll > 0 && s.detail_scroll < 100,
            "{}",
            s.detail_scroll
        );
        assert!(screen.contains("Replies (1)"), "{screen}");
        assert!(screen.contains("↑ K"), "{screen}");
    }

    #[test]
    fn helpers() {
        assert_eq!(fit("Northwind Traders", 10), "Northwind…");
        assert_eq!(fit("a\u{1b}[31mb\tc", 10), "ab c");
        assert_eq!(fit("x\u{1b}]8;;https://evil.example\u{7}y", 10), "xy");
        assert_eq!(fit("日本語のテキスト", 7), "日本語…");
        assert_eq!(duration(3 * 86400 + 4 * 3600 + 59), "3d 4h");
        assert_eq!(duration(5 * 3600 + 59 * 60), "5h");
        assert_eq!(duration(86400), "1d");
        assert_eq!(duration(45 * 60), "45m");
        assert_eq!(short_count(12_480), "12k");
        assert_eq!(short_count(2_140_000), "2.1M");
        assert_eq!(short_count(1_000), "1k");
        assert_eq!(human_bytes(1_840_000_000), "1.8 GB");
        assert_eq!(human_bytes(148_000_000_000), "148 GB");
        assert_eq!(thousands(2_140_000), "2,140,000");
        assert_eq!(wrap("a bb ccc dddd", 6), vec!["a bb", "ccc", "dddd"]);
        assert_eq!(wrap("abcdefghij", 4), vec!["abcd", "efgh", "ij"]);
        assert_eq!(
            template_words(Template::RejectNotOwnerOrAdmin),
            "not owner or admin"
        );
    }
}

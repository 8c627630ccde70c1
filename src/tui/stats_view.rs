//! The stats screen (`S`): how the team keeps its promises, drawn from a
//! [`Model`] (rendering only; the figures come from `crate::stats`).
//!
//! Every figure is also written out as text, and the stacked bars tell their
//! parts apart by glyph (`█` emailed, `▒` rejected, `░` open) as well as by
//! colour, so nothing is only in colour and the screen reads on light and
//! dark terminals alike (no background colours; the palette's green,
//! magenta and blue keep contrast on both).
//!
//! NOTE: ratatui's `BarChart` (0.30) draws groups side by side but cannot
//! stack one bar from parts; [`StackedBars`] does that one thing. The ratio
//! distribution is a plain `BarChart`, the operators a `Table`.

use crate::stats::report::{fmt_hours, fmt_share};
use crate::stats::screen::{Model, PERIODS};
use crate::stats::{Bucket, BucketSize, Figures};
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Bar, BarChart, BarGroup, Block, BorderType, Borders, Cell, Paragraph, Row, Table, Widget, Wrap,
};
use ratatui::Frame;

const EMAILED: (char, Color) = ('█', Color::Green);
const REJECTED: (char, Color) = ('▒', Color::Magenta);
const OPEN: (char, Color) = ('░', Color::Blue);
const DIM: Style = Style::new().add_modifier(Modifier::DIM);
const BOLD: Style = Style::new().add_modifier(Modifier::BOLD);

/// Control characters out (names come from mail and config).
fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn block(title: &str) -> Block<'static> {
    Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .title(Line::styled(format!(" {title} "), BOLD))
}

/// Draws the stats screen into `area`.
pub fn render(frame: &mut Frame<'_>, area: Rect, model: &Model) {
    let [head, body] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
    frame.render_widget(Paragraph::new(header(model)), head);
    let Some(f) = &model.figures else {
        let text = match &model.error {
            Some(e) => format!("The figures could not be read: {}", clean(e)),
            None => "Reading the figures from the store…".into(),
        };
        frame.render_widget(
            Paragraph::new(text)
                .wrap(Wrap { trim: true })
                .block(block("Team stats")),
            body,
        );
        return;
    };
    let tall = body.height >= 30;
    let [chart, middle, people] = Layout::vertical([
        Constraint::Length(if tall { 14 } else { 8 }),
        Constraint::Length(if tall { 11 } else { 9 }),
        Constraint::Min(3),
    ])
    .areas(body);
    draw_requests(frame, chart, f);
    let [promise, accuracy] =
        Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(middle);
    draw_promise(frame, promise, f);
    draw_accuracy(frame, accuracy, f);
    draw_operators(frame, people, f, model.error.as_deref());
}

/// The title line: the period on screen and the keys that change it.
fn header(model: &Model) -> Line<'static> {
    let mut spans = vec![
        Span::styled(" Team stats · ", BOLD),
        Span::styled(crate::stats::Period::label_for_days(model.days), BOLD),
    ];
    if model.stale() && model.figures.is_some() {
        spans.push(Span::raw(" (loading…)"));
    }
    let keys: Vec<String> = PERIODS
        .iter()
        .map(|d| d.to_string().chars().next().unwrap_or(' ').to_string())
        .collect();
    let days: Vec<String> = PERIODS.iter().map(u32::to_string).collect();
    spans.push(Span::styled(
        format!(
            "   {}: last {} days · Esc back",
            keys.join(" "),
            days.join(", ")
        ),
        DIM,
    ));
    Line::from(spans)
}

fn draw_requests(frame: &mut Frame<'_>, area: Rect, f: &Figures) {
    let per = match f.period.bucket {
        BucketSize::Day => "day",
        BucketSize::Week => "week",
    };
    let r = &f.requests;
    let title = format!("Requests per {per}, {}", f.period.label);
    let b = block(&title);
    let inner = b.inner(area);
    frame.render_widget(b, area);
    if inner.height < 3 {
        return;
    }
    let [legend, bars] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(inner);
    let part = |(glyph, color): (char, Color), name: &str, n: usize| {
        vec![
            Span::styled(format!("{glyph}{glyph}"), Style::new().fg(color)),
            Span::raw(format!(" {name} {n}  ")),
        ]
    };
    let mut spans = vec![Span::styled(format!("{} requests  ", r.total), BOLD)];
    spans.extend(part(EMAILED, "emailed", r.emailed));
    spans.extend(part(REJECTED, "rejected", r.rejected));
    spans.extend(part(OPEN, "open", r.open));
    if let Some(b) = f
        .buckets
        .iter()
        .max_by_key(|b| (b.total(), std::cmp::Reverse(b.start)))
    {
        if b.total() > 0 {
            spans.push(Span::styled(
                format!("busiest {} ({})", b.start.format("%a %d %b"), b.total()),
                DIM,
            ));
        }
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), legend);
    frame.render_widget(StackedBars(&f.buckets), bars);
}

/// Bars of requests per bucket, each stacked emailed / rejected / open from
/// the bottom, with the scale on the left and dates below.
struct StackedBars<'a>(&'a [Bucket]);

impl Widget for StackedBars<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let buckets = self.0;
        if buckets.is_empty() || area.height < 2 || area.width < 8 {
            return;
        }
        let max = buckets.iter().map(Bucket::total).max().unwrap_or(0);
        let label_w = max.to_string().len() as u16 + 1;
        let plot_h = area.height - 1;
        let plot_w = area.width - label_w;
        let n = buckets.len() as u16;
        // One column of gap between bars while they fit; none when they do not.
        let (bar_w, gap) = match (plot_w / n).max(1) {
            1 => (1, 0),
            w => ((w - 1).min(9), 1),
        };
        buf.set_string(
            area.x,
            area.y,
            format!("{max:>w$}", w = label_w as usize - 1),
            DIM,
        );
        buf.set_string(
            area.x,
            area.y + plot_h - 1,
            format!("{:>w$}", 0, w = label_w as usize - 1),
            DIM,
        );
        for (i, b) in buckets.iter().enumerate() {
            let x = area.x + label_w + i as u16 * (bar_w + gap);
            if x + bar_w > area.right() {
                break;
            }
            // Rounded per part, from the bottom, so a single request shows.
            let scale = |v: usize| -> u16 {
                if max == 0 || v == 0 {
                    0
                } else {
                    ((v as f64 / max as f64 * f64::from(plot_h)).round() as u16).max(1)
                }
            };
            // Each part ends where the running total ends, so the bar is as
            // tall as its total; a part of one request still gets a row.
            let (mut cum, mut top) = (0, 0);
            let mut y = area.y + plot_h;
            for ((glyph, color), v) in
                [(EMAILED, b.emailed), (REJECTED, b.rejected), (OPEN, b.open)]
            {
                if v == 0 {
                    continue;
                }
                cum += v;
                let end = scale(cum).max(top + 1).min(plot_h);
                for _ in top..end {
                    y -= 1;
                    for dx in 0..bar_w {
                        buf[(x + dx, y)].set_char(glyph).set_fg(color);
                    }
                }
                top = end;
            }
            if bar_w >= 3 && b.total() > 0 && y > area.y {
                buf.set_string(
                    x,
                    y - 1,
                    format!("{:^w$}", b.total(), w = bar_w as usize),
                    BOLD,
                );
            }
        }
        // Dates under the first, middle and last bars (as many as fit).
        let y = area.y + plot_h;
        let step = bar_w + gap;
        let mut free_from = area.x + label_w;
        let picks: Vec<usize> = if bar_w >= 6 {
            (0..buckets.len()).collect()
        } else {
            vec![0, buckets.len() / 2, buckets.len() - 1]
        };
        for i in picks {
            let x = area.x + label_w + i as u16 * step;
            let text = buckets[i].start.format("%d %b").to_string();
            if x >= free_from && x + text.len() as u16 <= area.right() {
                buf.set_string(x, y, &text, DIM);
                free_from = x + text.len() as u16 + 1;
            }
        }
    }
}

fn draw_promise(frame: &mut Frame<'_>, area: Rect, f: &Figures) {
    let t = |name: &str, tm: &crate::stats::Timing, what: &str| {
        vec![
            Line::from(vec![
                Span::styled(format!("{name:<13}"), BOLD),
                Span::raw(format!(
                    "median {} · p90 {}",
                    fmt_hours(tm.median_hours),
                    fmt_hours(tm.p90_hours)
                )),
            ]),
            Line::raw(format!(
                "{:13}{} of {} {what}",
                "", tm.within_promise, tm.count
            )),
        ]
    };
    let mut lines = t("First reply", &f.first_reply, "in 1 business day");
    lines.extend(t("Link emailed", &f.link_emailed, "by the due date"));
    let p = &f.promise;
    let kept_style = match p.share_kept {
        Some(s) if s >= 0.9 => Style::new().fg(Color::Green),
        Some(_) => Style::new().fg(Color::Red),
        None => Style::new(),
    };
    lines.push(Line::from(vec![
        Span::styled(format!("{:<13}", "Promise kept"), BOLD),
        Span::styled(
            fmt_share(p.share_kept),
            kept_style.add_modifier(Modifier::BOLD),
        ),
        Span::raw(format!(
            " ({} of {}; {} not due)",
            p.kept,
            p.kept + p.missed,
            p.pending
        )),
    ]));
    let overdue: Vec<String> = f
        .overdue_now
        .iter()
        .map(|o| format!("#{} {:.0} h", o.id, o.hours_overdue))
        .collect();
    let overdue_style = if overdue.is_empty() {
        Style::new()
    } else {
        Style::new().fg(Color::Red).add_modifier(Modifier::BOLD)
    };
    lines.push(Line::from(vec![
        Span::styled(format!("{:<13}", "Overdue now"), BOLD),
        Span::styled(overdue.len().to_string(), overdue_style),
        Span::raw(if overdue.is_empty() {
            String::new()
        } else {
            format!(": {}", overdue.join(", "))
        }),
    ]));
    frame.render_widget(
        // No wrapping: each figure keeps its line; a long overdue list is
        // cut at the edge after its count.
        Paragraph::new(lines).block(block("Against the promise")),
        area,
    );
}

fn draw_accuracy(frame: &mut Frame<'_>, area: Rect, f: &Figures) {
    let a = &f.accuracy;
    let b = block("Estimates: actual / estimated");
    let inner = b.inner(area);
    frame.render_widget(b, area);
    let [chart, note] = Layout::vertical([Constraint::Min(0), Constraint::Length(2)]).areas(inner);
    let bars: Vec<Bar> = a
        .bands
        .iter()
        .map(|band| {
            Bar::default()
                .label(Line::from(band.label))
                .value(band.count as u64)
                .text_value(band.count.to_string())
        })
        .collect();
    frame.render_widget(
        BarChart::default()
            .direction(Direction::Horizontal)
            .bar_width(1)
            .bar_gap(0)
            .bar_set(ratatui::symbols::bar::NINE_LEVELS)
            .bar_style(Style::new().fg(Color::Blue))
            .value_style(BOLD)
            .data(BarGroup::default().bars(&bars)),
        chart,
    );
    let text = match &a.calibration {
        Some(c) => vec![
            Line::raw(format!(
                "median {:.2}x over {} job{}",
                c.median_ratio,
                a.jobs,
                if a.jobs == 1 { "" } else { "s" }
            )),
            // NOTE: one or two exports say little (the demo's finish in
            // seconds against an hour's estimate); a rate is suggested from 3.
            if a.jobs >= MIN_JOBS_TO_SUGGEST {
                Line::raw(format!(
                    "suggests {} messages/h",
                    crate::text::thousands(c.suggested_messages_per_hour.round() as u64)
                ))
            } else {
                Line::raw(format!(
                    "a rate is suggested from {MIN_JOBS_TO_SUGGEST} jobs"
                ))
            },
        ],
        None => vec![Line::raw("no finished exports yet")],
    };
    frame.render_widget(Paragraph::new(text), note);
}

/// Finished exports needed before a rate is suggested.
const MIN_JOBS_TO_SUGGEST: usize = 3;

fn draw_operators(frame: &mut Frame<'_>, area: Rect, f: &Figures, error: Option<&str>) {
    let title = match error {
        Some(_) => "Per operator (last load failed: showing the previous figures)",
        None => "Per operator (from the audit log)",
    };
    let b = block(title);
    if f.operators.is_empty() {
        frame.render_widget(
            Paragraph::new("Nobody replied, noted, approved or rejected in this period.").block(b),
            area,
        );
        return;
    }
    let num = |n: usize| Cell::from(Line::from(n.to_string()).right_aligned());
    let rows = f.operators.iter().map(|o| {
        Row::new(vec![
            Cell::from(clean(&o.name)),
            num(o.handled),
            num(o.replies_sent),
            num(o.approved),
            num(o.rejected),
            num(o.notes),
        ])
    });
    let head = [
        "operator", "handled", "replies", "approved", "rejected", "notes",
    ];
    let header = Row::new(head.iter().enumerate().map(|(i, h)| {
        let line = Line::from(*h);
        Cell::from(if i == 0 { line } else { line.right_aligned() })
    }))
    .style(BOLD);
    let widths = [
        Constraint::Min(12),
        Constraint::Length(8),
        Constraint::Length(8),
        Constraint::Length(9),
        Constraint::Length(9),
        Constraint::Length(6),
    ];
    frame.render_widget(Table::new(rows, widths).header(header).block(b), area);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::fixture::{scenario, scenario_now, scenario_rates};
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;

    fn model(days: u32) -> Model {
        let rates = scenario_rates();
        let now = scenario_now();
        let p = crate::stats::Period::last_days(days, now, rates.calendar());
        let mut m = Model::loading(days);
        m.loaded(
            days,
            Ok(crate::stats::compute(&scenario(), &p, &rates, now).unwrap()),
        );
        m
    }

    fn draw(m: &Model, w: u16, h: u16) -> Terminal<TestBackend> {
        let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
        t.draw(|f| render(f, f.area(), m)).unwrap();
        t
    }

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

    #[test]
    fn stats_80x24() {
        insta::assert_snapshot!(text(&draw(&model(30), 80, 24)));
    }

    #[test]
    fn stats_120x40() {
        insta::assert_snapshot!(text(&draw(&model(7), 120, 40)));
    }

    #[test]
    fn a_stacked_bar_is_as_tall_as_its_total() {
        let d = |day| chrono::NaiveDate::from_ymd_opt(2026, 11, day).unwrap();
        let bucket = |day, emailed, rejected, open| Bucket {
            start: d(day),
            emailed,
            rejected,
            open,
        };
        // Plot 4 rows high (a row of dates below), 3 at most.
        let area = Rect::new(0, 0, 12, 5);
        let mut buf = Buffer::empty(area);
        StackedBars(&[bucket(2, 1, 0, 1), bucket(3, 0, 1, 2)]).render(area, &mut buf);
        let column = |x: u16| -> String { (0..4).map(|y| buf[(x, y)].symbol()).collect() };
        // 2 of 3 → 2.67 → 3 rows: 1 emailed, then open up to the total.
        assert_eq!(column(2), " ░░█");
        // Bars 4 wide after a 2-column scale, a column apart. 3 of 3 → all
        // 4 rows: 1 rejected (1.33 → 1), then open.
        assert_eq!(column(7), "░░░▒");
    }

    #[test]
    fn one_or_two_finished_exports_suggest_no_rate() {
        let mut m = model(30);
        if let Some(f) = m.figures.as_mut() {
            f.accuracy.jobs = 2;
        }
        let s = text(&draw(&m, 80, 24));
        assert!(!s.contains("suggests"), "{s}");
        assert!(s.contains("a rate is suggested from 3 jobs"), "{s}");
    }

    #[test]
    fn loading_and_failing_say_so() {
        let mut m = Model::loading(90);
        let t = text(&draw(&m, 80, 24));
        assert!(t.contains("Reading the figures from the store"), "{t}");
        assert!(t.contains("Team stats · last 90 days"), "{t}");
        m.loaded(90, Err("no store at /x.db".into()));
        let t = text(&draw(&m, 80, 24));
        assert!(t.contains("could not be read: no store at /x.db"), "{t}");
    }

    #[test]
    fn every_figure_is_text_and_the_bars_are_not_only_colour() {
        let t = draw(&model(30), 80, 24);
        let s = text(&t);
        for needle in [
            "8 requests",
            "emailed 4",
            "rejected 1",
            "open 3",
            "median 13.2 h · p90 95.0 h",
            "5 of 6 in 1 business day",
            "median 41.0 h · p90 97.0 h",
            "3 of 4 by the due date",
            "Promise kept 50.0 % (3 of 6; 1 not due)",
            "Overdue now  2: #7 576 h, #4 120 h",
            ">=2x      2",
            "median 1.16x over 5 jobs",
            "suggests 34,571 messages/h",
            "kim                                      4        3         0         1      1",
        ] {
            assert!(s.contains(needle), "missing {needle:?} in\n{s}");
        }
        // The glyph tells the part; the colour only repeats it.
        let buf = t.backend().buffer();
        // The requests chart: rows 1 to 8 (the estimates' bars are below).
        let cells: Vec<(&str, Color)> = (1..9)
            .flat_map(|y| (0..80).map(move |x| (x, y)))
            .map(|p| &buf[p])
            .filter(|c| ["█", "▒", "░"].contains(&c.symbol()))
            .map(|c| (c.symbol(), c.fg))
            .collect();
        assert!(cells.contains(&("█", Color::Green)) && cells.contains(&("▒", Color::Magenta)));
        assert!(cells.iter().all(|(g, c)| match *g {
            "█" => *c == Color::Green,
            "▒" => *c == Color::Magenta,
            _ => *c == Color::Blue,
        }));
        // No background colours: readable on light and dark terminals.
        assert!(buf.content().iter().all(|c| c.bg == Color::Reset));
    }
}

/// The hooks into the queue screen: `S` opens, the loop's answer fills it,
/// `Esc` goes back (through the real `update`).
#[cfg(test)]
mod hook_tests {
    use crate::stats::screen::Model;
    use crate::tui::msg::{Command, Msg};
    use crate::tui::state::{Mode, State};
    use crate::tui::update::update;
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

    fn key(c: KeyCode) -> Msg {
        Msg::Key(KeyEvent::new(c, KeyModifiers::NONE))
    }

    fn model(s: &State) -> &Model {
        match &s.mode {
            Mode::Stats(m) => m,
            other => panic!("not on the stats screen: {other:?}"),
        }
    }

    #[test]
    fn s_opens_the_stats_the_answer_fills_them_and_esc_goes_back() {
        let rates = crate::stats::fixture::scenario_rates();
        let now = crate::stats::fixture::scenario_now();
        let mut s = State::new(Vec::new(), rates.clone(), "sam".into(), now);
        assert_eq!(
            update(&mut s, key(KeyCode::Char('S'))),
            vec![Command::LoadStats { days: 30 }]
        );
        assert_eq!(model(&s).days, 30);
        assert_eq!(
            update(&mut s, key(KeyCode::Char('7'))),
            vec![Command::LoadStats { days: 7 }]
        );
        let p = crate::stats::Period::last_days(7, now, rates.calendar());
        let fig = crate::stats::compute(&crate::stats::fixture::scenario(), &p, &rates, now);
        update(
            &mut s,
            Msg::Stats {
                days: 7,
                result: fig.map_err(|e| e.to_string()),
            },
        );
        assert_eq!(
            model(&s).figures.as_ref().map(|f| f.requests.total),
            Some(2)
        );
        // `j` means nothing here: the queue does not move behind the screen.
        assert!(update(&mut s, key(KeyCode::Char('j'))).is_empty());
        assert!(matches!(s.mode, Mode::Stats(_)));
        update(&mut s, key(KeyCode::Esc));
        assert!(s.mode.is_normal());
        // A late answer after leaving changes nothing.
        update(
            &mut s,
            Msg::Stats {
                days: 7,
                result: Err("late".into()),
            },
        );
        assert!(s.mode.is_normal());
    }
}

//! Buffer assertions on the queue's rows: the marks a row carries and the
//! columns every width keeps.

use super::tests::{base, draw, now, select, text};
use super::*;
use crate::domain::RequestState;
use crate::estimate::Rates;
use ratatui::style::{Color, Modifier};

/// The screen line that shows queue row `#id`.
fn row_line(screen: &str, id: i64) -> String {
    let tag = format!("#{id} ");
    screen
        .lines()
        .find(|l| l.contains(&tag) && l.find(&tag) < Some(8))
        .unwrap_or_else(|| panic!("no row #{id}:\n{screen}"))
        .to_string()
}

#[test]
fn rows_mark_other_requests_of_the_workspace_and_unread_follow_ups() {
    let a = base(1, "owner@acme.example", "Ada", "2026-11-25T08:00:00Z");
    let mut b = base(2, "admin@acme.example", "Bo", "2026-11-25T09:00:00Z");
    b.seen.follow_ups = vec![12];
    b.seen.by = vec![("Sam".into(), 10)];
    let mut rejected = base(3, "agent@acme.example", "Andy", "2026-11-25T07:00:00Z");
    rejected.state = RequestState::Rejected;
    let mut other = base(4, "it@globex.example", "IT", "2026-11-25T07:30:00Z");
    other.workspace_id = Some("9d27f5e1-0c3b-4a86-b7e2-1f48a6c3d905".into());
    other.workspace_name = Some("Globex".into());
    let mut s = State::new(
        vec![a, b, rejected, other],
        Rates::default(),
        "Sam".into(),
        now(),
    );
    select(&mut s, 4);
    let screen = text(&draw(&mut s, 120, 40));
    // #1 and #2 are both open for Acme: each names the other.
    assert!(row_line(&screen, 1).contains("+1"), "{screen}");
    assert!(row_line(&screen, 2).contains("+1"), "{screen}");
    // #2's customer wrote after Sam last opened it; #1 has no follow-up.
    assert!(row_line(&screen, 2).contains("✉1"), "{screen}");
    assert!(!row_line(&screen, 1).contains('✉'), "{screen}");
    // A decided request carries no mark; Globex has no other request.
    assert!(!row_line(&screen, 3).contains('+'), "{screen}");
    assert!(!row_line(&screen, 4).contains('+'), "{screen}");
    // Another operator's view of the same store: #2 is read for Kim.
    let mut s = State::new(
        s.rows.iter().map(|r| r.req.clone()).collect(),
        Rates::default(),
        "Kim".into(),
        now(),
    );
    if let Some(r) = s.row_mut(2) {
        r.req.seen.by.push(("Kim".into(), 12));
    }
    let screen = text(&draw(&mut s, 120, 40));
    assert!(!row_line(&screen, 2).contains('✉'), "{screen}");
}

#[test]
fn no_color_keeps_emphasis_and_turns_the_selected_tab_to_reverse() {
    let mut s = super::tests::demo_state();
    let t = draw(&mut s, 120, 40);
    let mut owned = t.backend().buffer().clone();
    let buf = &mut owned;
    let (x, y) = super::tests::find(buf, "All 8").unwrap();
    assert_ne!(
        buf[(x, y)].bg,
        Color::Reset,
        "the selected tab has a colour"
    );
    strip_colours(buf);
    assert!(buf
        .content
        .iter()
        .all(|c| c.fg == Color::Reset && c.bg == Color::Reset));
    assert!(buf[(x, y)].modifier.contains(Modifier::REVERSED));
    let (x, y) = super::tests::find(buf, "› #").unwrap();
    assert!(buf[(x + 2, y)].modifier.contains(Modifier::REVERSED));
}

#[test]
fn state_and_role_stay_and_columns_keep_their_width_at_every_width() {
    for w in [80u16, 100, 120, 160, 200] {
        let mut s = super::tests::demo_state();
        let screen = text(&draw(&mut s, w, 40));
        let header = screen
            .lines()
            .find(|l| l.contains(" id ") && l.contains("requester"))
            .unwrap_or_else(|| panic!("no header at {w}:\n{screen}"));
        for col in ["due", "state", "role"] {
            assert!(header.contains(col), "{col} missing at {w}:\n{screen}");
        }
        // Scrolling to other rows (here: another selection) moves no column.
        let at = |screen: &str| {
            let h = screen.lines().find(|l| l.contains(" id ")).unwrap();
            ["due", "state", "workspace", "requester", "role"].map(|c| h.find(c))
        };
        super::tests::select(&mut s, 5);
        let other = text(&draw(&mut s, w, 40));
        assert_eq!(at(&screen), at(&other), "at {w}");
    }
}

#[test]
fn the_due_column_is_labelled_and_never_cut() {
    let mut s = super::tests::demo_state();
    for w in [80u16, 120, 200] {
        let screen = text(&draw(&mut s, w, 40));
        let late = row_line(&screen, 2);
        assert!(late.contains("late 1d"), "{late}");
        assert!(!late.contains("late 1d…"), "{late}");
        assert!(row_line(&screen, 1).contains("in 21h"), "{screen}");
        for id in 1..=8 {
            let line = row_line(&screen, id);
            let queue_part = line.split("││").next().unwrap();
            assert!(!queue_part.contains(" ago"), "an unlabelled age:\n{screen}");
        }
    }
}

#[test]
fn long_advice_in_the_status_line_is_wrapped_not_cut() {
    let advice = "#4: starting the export failed: the backend already runs export 3c9e0f7a-5d21-4b8e-a6f3-7e2d1c0b9a84 of this workspace for another request; nothing was started: reject this one with reject_duplicate, or retry once that export is done";
    for (w, h) in [(80u16, 24u16), (120, 40)] {
        let mut s = super::tests::demo_state();
        s.status = Some((advice.into(), true));
        let screen = text(&draw(&mut s, w, h));
        let flat: String = screen.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(flat.contains("once that export is done"), "{screen}");
        assert!(flat.contains("reject_duplicate"), "{screen}");
        // The hints keep their own line: the bottom line.
        let last = screen.lines().rev().find(|l| !l.trim().is_empty()).unwrap();
        assert!(last.contains("help"), "{screen}");
        // The tab bar is still on the first line.
        assert!(screen.lines().next().unwrap().contains("All 8"), "{screen}");
    }
}

/// The help's entries (keys, what), legend left out.
fn help_entries(s: &State, compact: bool) -> Vec<(String, String)> {
    help_sections(s, compact)
        .into_iter()
        .filter(|(title, ..)| *title != "Marks")
        .flat_map(|(_, e, _)| e)
        .collect()
}

#[test]
fn the_help_shows_every_bound_key_of_every_mode_and_nothing_unbound() {
    use crate::tui::keys::{Action, KeyMap, KeySpec};
    let mut s = super::tests::demo_state();
    // Rebound keys show as bound, in the queue and in the editor alike.
    let mut o = std::collections::BTreeMap::new();
    o.insert(Action::Approve, KeySpec::One("A".into()));
    o.insert(Action::Save, KeySpec::One("ctrl-w".into()));
    s.keys = KeyMap::with_overrides(&o).unwrap();
    for compact in [false, true] {
        let entries = help_entries(&s, compact);
        let bindings = s.keys.bindings();
        let shown_keys = |a: Action| {
            let keys = &bindings.iter().find(|(b, _)| *b == a).unwrap().1;
            keys_text(keys, compact)
        };
        for (a, _) in &bindings {
            let k = shown_keys(*a);
            assert!(
                entries
                    .iter()
                    .any(|(e, _)| e == &k || e.split(" / ").any(|p| p == k)),
                "{a:?} ({k}) is bound but not in the help"
            );
        }
        assert!(entries
            .iter()
            .any(|(k, d)| k == "A" && d.contains("approve")));
        assert!(entries.iter().any(|(k, _)| k == "^W" || k == "Ctrl-W"));
        for (k, d) in &entries {
            let bound = k
                .split(" / ")
                .all(|p| bindings.iter().any(|(a, _)| shown_keys(*a) == p));
            let fixed = FIXED_KEYS
                .iter()
                .any(|(_, fk, fd)| keys_text(&[fk.to_string()], compact) == *k && fd == d);
            assert!(bound || fixed, "help line {k:?} {d:?} is bound to nothing");
        }
    }
    // Every line is on screen, under the tab bar, at 80×24 and 120×40.
    s.mode = Mode::Help;
    for (w, h) in [(80u16, 24u16), (120, 40)] {
        let screen = text(&draw(&mut s, w, h));
        assert!(screen.lines().next().unwrap().contains("All 8"), "{screen}");
        let flat: String = screen.split_whitespace().collect::<Vec<_>>().join(" ");
        for (k, d) in help_entries(&s, w < NARROW) {
            let first = d.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
            assert!(
                flat.contains(&first),
                "{k} {d:?} not on screen at {w}×{h}:\n{screen}"
            );
        }
    }
}

#[test]
fn the_mine_tab_shows_its_count_and_lists_ones_claims_with_their_states() {
    let mut a = base(1, "owner@acme.example", "Ada", "2026-11-25T08:00:00Z");
    a.claimed_by = Some("Sam".into());
    let mut b = base(2, "admin@acme.example", "Bo", "2026-11-25T09:00:00Z");
    b.claimed_by = Some("Sam".into());
    b.state = RequestState::Rejected;
    let mut c = base(3, "it@globex.example", "IT", "2026-11-25T07:30:00Z");
    c.claimed_by = Some("kim@ochrehq.com".into());
    c.claimed_by_name = Some("Kim".into());
    let mut s = State::new(vec![a, b, c], Rates::default(), "Sam".into(), now());
    for (w, h) in [(120, 40), (80, 24)] {
        let screen = text(&draw(&mut s, w, h));
        let top = screen.lines().next().unwrap_or_default().to_string();
        assert!(top.contains("Mine 2"), "{w}x{h}: {top}");
    }
    s.tab = Tab::Mine;
    s.refilter();
    // The holder shows first, so a narrow requester column keeps it.
    let screen = text(&draw(&mut s, 120, 40));
    assert!(row_line(&screen, 1).contains("◆you owner@"), "{screen}");
    // Mixed states: the state column stays (the tab does not say it).
    assert!(row_line(&screen, 2).contains("rejected"), "{screen}");
    assert!(
        !screen
            .lines()
            .any(|l| l.contains("│  #3 ") || l.contains("│› #3 ")),
        "Kim's claim is not mine:\n{screen}"
    );
    // A colleague's note names them as they chose, not by their address.
    s.names.insert("kim@ochrehq.com".into(), "Kim".into());
    if let Some(r) = s.row_mut(1) {
        r.req.notes.push(crate::store::requests::Note {
            author: "kim@ochrehq.com".into(),
            text: "Scope: all of it".into(),
            at: crate::time::parse("2026-11-25T10:00:00Z").ok(),
        });
    }
    let screen = text(&draw(&mut s, 200, 60));
    assert!(screen.contains("Kim · "), "{screen}");
    assert!(!screen.contains("kim@ochrehq.com"), "{screen}");
    // Nothing held: the empty tab says how to take one.
    let mut s = State::new(vec![], Rates::default(), "Sam".into(), now());
    s.tab = Tab::Mine;
    s.refilter();
    let screen = text(&draw(&mut s, 80, 24));
    assert!(screen.contains("You hold no request"), "{screen}");
    assert!(screen.contains("m on a request takes it"), "{screen}");
}

#[test]
fn a_request_with_a_field_the_store_could_not_read_is_marked_and_the_detail_says_which() {
    use crate::store::requests::Damage;
    let a = base(1, "owner@acme.example", "Ada", "2026-11-25T08:00:00Z");
    let mut b = base(2, "admin@acme.example", "Bo", "2026-11-25T09:00:00Z");
    b.received_at = None;
    b.damage = vec![Damage {
        field: "the time it arrived",
        column: "requests.received_at",
        problem: "expected an RFC 3339 time, found \"last Tuesday\"".into(),
    }];
    // The queue's half of the row's line (the detail pane is beside it).
    let queue_part = |screen: &str, id| {
        let l = row_line(screen, id);
        l.split("││").next().unwrap_or_default().to_string()
    };
    let mut s = State::new(vec![a, b], Rates::default(), "Sam".into(), now());
    select(&mut s, 2);
    let screen = text(&draw(&mut s, 120, 40));
    assert!(queue_part(&screen, 2).contains('!'), "{screen}");
    assert!(!queue_part(&screen, 1).contains('!'), "{screen}");
    assert!(screen.contains("Damaged in the store"), "{screen}");
    assert!(screen.contains("the time it arrived"), "{screen}");
    assert!(screen.contains("last Tuesday"), "{screen}");
    assert!(screen.contains("unreadable in the store"), "{screen}");
    assert!(screen.contains("unknown: the time it arrived"), "{screen}");
    // The 80×24 screen shows the mark too, and no promise is counted from
    // an unknown arrival.
    let screen = text(&draw(&mut s, 80, 24));
    assert!(queue_part(&screen, 2).contains('!'), "{screen}");
    assert!(!queue_part(&screen, 2).contains("late"), "{screen}");
}

#[test]
fn a_claimed_requester_cut_to_its_column_ends_in_an_ellipsis() {
    let mut a = base(1, "agent@acme.example", "Andy", "2026-11-25T08:00:00Z");
    a.claimed_by = Some("kim@ochrehq.com".into());
    a.claimed_by_name = Some("Kim".into());
    let mut s = State::new(vec![a], Rates::default(), "Sam".into(), now());
    let screen = text(&draw(&mut s, 80, 24));
    let line = row_line(&screen, 1);
    let from = line
        .find("◆Kim agent@")
        .unwrap_or_else(|| panic!("{screen}"));
    assert!(
        line[from..]
            .split_whitespace()
            .nth(1)
            .is_some_and(|r| r.ends_with('…')),
        "the requester is cut with an ellipsis: {line}"
    );
}

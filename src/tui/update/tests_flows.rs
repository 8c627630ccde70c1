//! Decisions as plain values, continued: exports (cancel, retry, a second
//! export of a workspace), team work (the version an action carries,
//! claims, unread follow-ups), lookups and the editor's keys.

use super::tests::{ctrl, key, now, ready, state, update};
use super::*;
use crate::store::requests::{JobSnap, Membership};

#[test]
fn cancel_and_retry_only_where_they_apply() {
    let mut r = ready(1);
    r.state = crate::domain::RequestState::Running;
    r.job = Some(JobSnap {
        id: "j".into(),
        status: crate::domain::JobStatus::Running,
        phase: None,
        progress: 0.4,
        created_at: None,
        finished_at: None,
        emailed_at: None,
        deliver_to: None,
        link_expires_at: None,
        error: None,
    });
    let mut s = state(vec![r]);
    assert!(update(&mut s, key('t')).is_empty());
    assert!(s.mode.is_normal());
    update(&mut s, key('c'));
    assert_eq!(
        update(&mut s, key('y')),
        vec![Command::CancelJob {
            id: 1,
            seen: Some(0)
        }]
    );

    let mut r = ready(2);
    r.state = crate::domain::RequestState::Failed;
    let mut s = state(vec![r]);
    assert!(update(&mut s, key('c')).is_empty());
    update(&mut s, key('t'));
    assert_eq!(
        update(&mut s, key('y')),
        vec![Command::RetryJob {
            id: 2,
            seen: Some(0)
        }]
    );
    assert_eq!(
        s.rows[0].tab,
        Tab::Running,
        "a failed export still needs staff"
    );
}

#[test]
fn a_second_export_for_a_workspace_needs_an_explicit_confirm() {
    // Request 2 of the same workspace is running: approving 1 asks first.
    let mut other = ready(2);
    other.state = crate::domain::RequestState::Running;
    let mut s = state(vec![ready(1), other.clone()]);
    let at = |s: &mut State, id: i64| {
        while s.current().map(|r| r.req.id) != Some(id) {
            update(s, key('j'));
        }
    };
    at(&mut s, 1);
    assert!(update(&mut s, key('a')).is_empty());
    assert!(
        matches!(
            s.mode,
            Mode::Confirm(Confirm::ApproveDuplicate {
                id: 1,
                other: 2,
                ..
            })
        ),
        "{:?}",
        s.mode
    );
    if let Mode::Confirm(c) = &s.mode {
        assert!(
            c.question().contains("reject_duplicate"),
            "{}",
            c.question()
        );
    }
    assert!(
        update(&mut s, key('n')).is_empty(),
        "declined: nothing starts"
    );
    assert!(s.mode.is_normal());
    update(&mut s, key('a'));
    assert!(
        update(&mut s, key('y')).is_empty(),
        "yes leads to the approval itself"
    );
    assert!(matches!(
        s.mode,
        Mode::Confirm(Confirm::Approve {
            id: 1,
            force: true,
            ..
        })
    ));
    assert!(matches!(
        &update(&mut s, key('y'))[..],
        [Command::Approve {
            id: 1,
            force: true,
            ..
        }]
    ));
    // Without the duplicate question, nothing is forced.
    let mut s = state(vec![ready(1)]);
    update(&mut s, key('a'));
    assert!(matches!(
        &update(&mut s, key('y'))[..],
        [Command::Approve {
            id: 1,
            force: false,
            ..
        }]
    ));

    // Emailed 3 days ago counts; 10 days ago (link expired) does not.
    for (days, asks) in [(3, true), (10, false)] {
        let mut done = ready(2);
        done.state = crate::domain::RequestState::Done;
        done.job = Some(JobSnap {
            id: "j".into(),
            status: crate::domain::JobStatus::Emailed,
            phase: None,
            progress: 1.0,
            created_at: None,
            finished_at: None,
            emailed_at: Some(now() - chrono::Duration::days(days)),
            deliver_to: None,
            link_expires_at: None,
            error: None,
        });
        let mut s = state(vec![ready(1), done]);
        at(&mut s, 1);
        update(&mut s, key('a'));
        let asked = matches!(s.mode, Mode::Confirm(Confirm::ApproveDuplicate { .. }));
        assert_eq!(asked, asks, "emailed {days} days ago");
    }
}

#[test]
fn a_cancelled_export_leaves_running_and_can_be_retried() {
    let mut r = ready(1);
    r.state = crate::domain::RequestState::Failed;
    r.job = Some(JobSnap {
        id: "j".into(),
        status: crate::domain::JobStatus::Cancelled,
        phase: None,
        progress: 0.4,
        created_at: None,
        finished_at: None,
        emailed_at: None,
        deliver_to: None,
        link_expires_at: None,
        error: None,
    });
    let mut s = state(vec![r]);
    assert_eq!(s.rows[0].tab, Tab::Done, "nothing runs any more");
    update(&mut s, key('t'));
    assert_eq!(
        update(&mut s, key('y')),
        vec![Command::RetryJob {
            id: 1,
            seen: Some(0)
        }]
    );
}

#[test]
fn an_action_carries_the_version_on_screen_when_it_began_and_a_stop_says_what_changed() {
    let mut r = ready(1);
    r.version = 4;
    let mut s = state(vec![r.clone()]);
    update(&mut s, key('a'));
    // While the question is open, a colleague's change arrives: the
    // approval still carries the version the operator decided on.
    let mut newer = r.clone();
    newer.version = 5;
    update(&mut s, Msg::RequestUpdated(newer));
    match update(&mut s, key('y')).as_slice() {
        [Command::Approve { seen, .. }] => assert_eq!(*seen, Some(4)),
        other => panic!("{other:?}"),
    }
    // The store stopped it: the screen says what changed and shows the
    // request as it is now (its thread is reloaded for review).
    let cmds = super::update(
        &mut s,
        Msg::Stale {
            id: 1,
            what: "approving".into(),
            text: "request 1 changed since you read it: Kim sent the acknowledgement 2 min ago. Nothing was sent or started: review it and redo".into(),
        },
    );
    assert_eq!(cmds, vec![Command::LoadThread { id: 1 }]);
    assert!(!s.is_pending(1));
    let (text, is_warning) = s.status.clone().unwrap();
    assert!(is_warning);
    assert!(text.contains("approving stopped"), "{text}");
    assert!(
        text.contains("Kim sent the acknowledgement 2 min ago"),
        "{text}"
    );
    // Redo: the next action carries the version now on screen.
    update(&mut s, key('a'));
    match update(&mut s, key('y')).as_slice() {
        [Command::Approve { seen, .. }] => assert_eq!(*seen, Some(5)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn m_takes_a_free_request_gives_ones_own_back_and_asks_before_taking_a_colleagues() {
    let mut free = ready(1);
    free.version = 2;
    let mut mine = ready(2);
    mine.claimed_by = Some("Sam".into());
    mine.claimed_by_name = Some("Sam".into());
    let mut kims = ready(3);
    kims.claimed_by = Some("kim@ochrehq.com".into());
    kims.claimed_by_name = Some("Kim".into());
    let mut s = state(vec![free, mine, kims]);
    let select = |s: &mut State, id: i64| {
        s.selected = s
            .visible
            .iter()
            .position(|&i| s.rows[i].req.id == id)
            .unwrap();
    };
    select(&mut s, 1);
    assert_eq!(
        update(&mut s, key('m')),
        vec![Command::Claim {
            id: 1,
            holder_seen: None
        }]
    );
    select(&mut s, 2);
    assert_eq!(update(&mut s, key('m')), vec![Command::Release { id: 2 }]);
    select(&mut s, 3);
    assert!(update(&mut s, key('m')).is_empty(), "asks first");
    match &s.mode {
        Mode::Confirm(c) => assert!(
            c.question().contains("Kim holds request #3"),
            "{}",
            c.question()
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        update(&mut s, key('y')),
        vec![Command::Claim {
            id: 3,
            holder_seen: Some("kim@ochrehq.com".into())
        }]
    );
}

#[test]
fn the_mine_tab_lists_what_this_operator_holds_with_its_count() {
    let mut mine = ready(2);
    mine.claimed_by = Some("Sam".into());
    mine.claimed_by_name = Some("Sam".into());
    let mut kims = ready(3);
    kims.claimed_by = Some("kim@ochrehq.com".into());
    kims.claimed_by_name = Some("Kim".into());
    let mut s = state(vec![ready(1), mine, kims]);
    let shown = |s: &State| -> Vec<i64> { s.visible.iter().map(|&i| s.rows[i].req.id).collect() };
    let mine_at = Tab::ALL.iter().position(|t| *t == Tab::Mine).unwrap();
    assert_eq!(s.tab_counts[mine_at], 1, "Kim's claim is not counted");
    // Reached by the tab keys like the others: it is the last tab.
    update(&mut s, key('3'));
    update(&mut s, key('h'));
    update(&mut s, key('h'));
    update(&mut s, key('h'));
    assert_eq!(s.tab, Tab::Mine);
    assert_eq!(shown(&s), vec![2]);
    update(&mut s, key('l'));
    assert_eq!(s.tab, Tab::All, "wraps");
    update(&mut s, key('8'));
    assert_eq!(s.tab, Tab::Mine, "8 jumps to it");
    // M jumps to it from anywhere, and back to where it was pressed.
    update(&mut s, key('2'));
    update(&mut s, key('M'));
    assert_eq!((s.tab, shown(&s)), (Tab::Mine, vec![2]));
    update(&mut s, key('M'));
    assert_eq!(s.tab, Tab::New);
    // A claim arriving (one's own, or a colleague taking it) moves the count.
    let mut taken = ready(1);
    taken.claimed_by = Some("Sam".into());
    update(&mut s, Msg::RequestUpdated(taken));
    let mut lost = ready(2);
    lost.claimed_by = Some("kim@ochrehq.com".into());
    update(&mut s, Msg::RequestUpdated(lost));
    update(&mut s, key('M'));
    assert_eq!(shown(&s), vec![1]);
    assert_eq!(s.tab_counts[mine_at], 1);
}

/// With `[operator] email` the store records "seen" under the id (the
/// email), not the display name: read by the id, a follow-up the operator
/// opened is read (by the name it stayed unread, ✉ for ever).
#[test]
fn follow_ups_are_read_by_the_operators_id_not_their_name() {
    let mut s = state(vec![ready(1)]);
    s.operator_id = "sam@ochrehq.com".into();
    let mut r = ready(1);
    r.seen.follow_ups = vec![7];
    r.seen.by = vec![("sam@ochrehq.com".into(), 7)];
    update(&mut s, Msg::Requests(vec![r]));
    assert!(
        s.status
            .as_ref()
            .is_none_or(|(t, _)| !t.contains("wrote again")),
        "{:?}",
        s.status
    );
    let thread = Msg::Thread {
        id: 1,
        messages: vec![],
    };
    assert!(update(&mut s, thread).is_empty(), "already read: no mark");
}

#[test]
fn a_follow_up_marks_the_row_says_so_and_opening_the_request_clears_it() {
    let mut s = state(vec![ready(1), ready(2)]);
    let op = s.operator.clone();
    // Request 2 (not selected) gets a follow-up its operator has not seen.
    let mut r2 = ready(2);
    r2.seen.follow_ups = vec![7];
    r2.seen.by = vec![(op.clone(), 5), ("someone else".into(), 9)];
    update(&mut s, Msg::Requests(vec![r2.clone()]));
    let (said, _) = s.status.clone().expect("the status line says nothing");
    assert!(said.contains("#2"), "{said}");
    assert_eq!(s.row_mut(2).unwrap().req.seen.unread(&op), 1);
    // Selecting it shows it in the detail pane: once its thread is there,
    // the follow-up is marked read.
    while s.current().map(|r| r.req.id) != Some(2) {
        update(&mut s, key('j'));
    }
    let thread = |id| Msg::Thread {
        id,
        messages: vec![],
    };
    assert_eq!(update(&mut s, thread(2)), vec![Command::MarkSeen { id: 2 }]);
    // A store that did not record it (still unread) is not asked again
    // for the same thread: no mark-reload loop.
    update(&mut s, Msg::RequestUpdated(r2.clone()));
    assert!(update(&mut s, thread(2)).is_empty());
    // A message more in the thread (the customer wrote again) is asked.
    let msg = crate::store::requests::ThreadMessage {
        kind: "follow_up".into(),
        from: Some("owner@acme.example".into()),
        from_name: None,
        date: None,
        subject: "Re: x".into(),
        body: "any news?".into(),
    };
    assert_eq!(
        update(
            &mut s,
            Msg::Thread {
                id: 2,
                messages: vec![msg]
            }
        ),
        vec![Command::MarkSeen { id: 2 }]
    );
    // The store's answer: read. Nothing more to mark.
    r2.seen.by[0].1 = 7;
    update(&mut s, Msg::RequestUpdated(r2));
    assert!(update(&mut s, thread(2)).is_empty());
    // A thread loaded for a row that is not selected marks nothing.
    let mut r1 = ready(1);
    r1.seen.follow_ups = vec![8];
    update(&mut s, Msg::RequestUpdated(r1));
    assert!(update(&mut s, thread(1)).is_empty());
}

#[test]
fn a_lookup_again_says_what_it_found_and_other_lookups_stay_quiet() {
    let mut s = state(vec![ready(1), ready(2)]);
    let id = s.current().unwrap().req.id;
    let other = if id == 1 { 2 } else { 1 };
    assert_eq!(update(&mut s, key('R')), vec![Command::Resolve { id }]);
    assert!(s.status.as_ref().unwrap().0.contains("looking up"));
    let resolution = |ws: Option<(String, String)>| crate::store::requests::Resolution {
        account_email: "owner@acme.example".into(),
        memberships: vec![Membership {
            member_id: "m".into(),
            workspace_id: "w1".into(),
            workspace_name: "Acme Support".into(),
            email: "owner@acme.example".into(),
            role: crate::domain::Role::Owner,
        }],
        workspace: ws,
        size: None,
    };
    update(
        &mut s,
        Msg::Resolved {
            id: other,
            result: Ok(resolution(None)),
        },
    );
    let said = s.status.clone().unwrap().0;
    assert!(
        said.contains("looking up"),
        "another request's lookup stays quiet: {said}"
    );
    update(
        &mut s,
        Msg::Resolved {
            id,
            result: Ok(resolution(Some(("w1".into(), "Acme Support".into())))),
        },
    );
    let said = s.status.clone().unwrap().0;
    assert!(
        said.contains("Acme Support") && said.contains("owner"),
        "{said}"
    );
}

#[test]
fn keys_in_the_editor_and_in_questions_come_from_the_key_map() {
    use crate::tui::keys::{Action as A, KeyMap, KeySpec};
    let mut s = state(vec![ready(1)]);
    let mut o = std::collections::BTreeMap::new();
    o.insert(A::Save, KeySpec::One("ctrl-w".into()));
    o.insert(A::Yes, KeySpec::One("o".into()));
    s.keys = KeyMap::with_overrides(&o).unwrap();
    update(&mut s, key('n'));
    for c in "scope ok".chars() {
        update(&mut s, key(c));
    }
    assert!(
        update(&mut s, ctrl('s')).is_empty(),
        "Ctrl-S is no longer save"
    );
    assert!(matches!(
        &update(&mut s, ctrl('w'))[..],
        [Command::AddNote { id: 1, .. }]
    ));
    s.mode = Mode::Normal;
    update(&mut s, key('a'));
    assert!(matches!(s.mode, Mode::Confirm(_)));
    assert!(update(&mut s, key('y')).is_empty());
    assert!(matches!(s.mode, Mode::Confirm(_)), "y is no longer yes");
    assert!(matches!(
        &update(&mut s, key('o'))[..],
        [Command::Approve { id: 1, .. }]
    ));
}

#[test]
fn a_lookup_nobody_asked_for_says_nothing() {
    let mut s = state(vec![ready(1)]);
    update(
        &mut s,
        Msg::Resolved {
            id: 1,
            result: Ok(crate::store::requests::Resolution {
                account_email: "owner@acme.example".into(),
                memberships: vec![],
                workspace: None,
                size: None,
            }),
        },
    );
    assert_eq!(s.status, None);
}

#[test]
fn a_reply_to_read_opens_at_its_greeting_and_a_note_at_its_end() {
    let mut s = state(vec![ready(1)]);
    let body = "Hello Ada,\n\nline\nline\nline\n\nBest regards,\nSam";
    update(
        &mut s,
        Msg::ReplyComposed {
            id: 1,
            template: Template::Acknowledgement,
            body: body.into(),
        },
    );
    let Mode::Input { area, .. } = &s.mode else {
        panic!("{:?}", s.mode)
    };
    assert_eq!(area.cursor(), (0, 0));
    s.mode = Mode::Normal;
    open_input(&mut s, InputPurpose::Note, "a\nb");
    let Mode::Input { area, .. } = &s.mode else {
        panic!()
    };
    assert_eq!(area.cursor(), (1, 1));
}

#[test]
fn a_note_longer_than_the_limit_stays_in_the_editor_with_the_reason() {
    let mut s = state(vec![ready(1)]);
    let long = "A".repeat(super::popups::NOTE_MAX_CHARS + 1);
    open_input(&mut s, InputPurpose::Note, &long);
    let cmds = update(&mut s, ctrl('s'));
    assert!(cmds.is_empty(), "{cmds:?}");
    let Mode::Input { error, area, .. } = &s.mode else {
        panic!("{:?}", s.mode)
    };
    let error = error.as_deref().unwrap_or_default();
    assert!(error.contains("at most 20000 characters"), "{error}");
    assert_eq!(area.lines().concat().len(), long.len(), "nothing is lost");
    // At the limit it is saved.
    open_input(&mut s, InputPurpose::Note, &long[1..]);
    let cmds = update(&mut s, ctrl('s'));
    assert!(
        matches!(cmds.as_slice(), [Command::AddNote { .. }]),
        "{cmds:?}"
    );
}

#[test]
fn the_question_before_sending_still_shows_as_writing_to_colleagues() {
    use crate::mail::templates::Template;
    use crate::store::presence::Activity;
    use crate::tui::update::live::presence_of;
    let mut s = state(vec![ready(1)]);
    s.mode = Mode::Confirm(Confirm::SendReply {
        id: 1,
        template: Template::Acknowledgement,
        body: "Hello".into(),
        again: false,
    });
    assert_eq!(presence_of(&s), (Some(1), Activity::WritingReply));
    s.mode = Mode::Confirm(Confirm::Reject {
        id: 1,
        template: Template::Acknowledgement,
        reason: "not an owner".into(),
        body: "Hello".into(),
    });
    assert_eq!(presence_of(&s), (Some(1), Activity::WritingRejection));
    s.mode = Mode::Confirm(Confirm::Approve {
        id: 1,
        override_reason: None,
        force: false,
    });
    assert_eq!(presence_of(&s), (Some(1), Activity::Viewing));
}

#[test]
fn the_rejection_reason_title_names_the_reason_once() {
    use crate::mail::templates::Template;
    let t = InputPurpose::RejectReason(Template::RejectNotOwnerOrAdmin).title();
    assert_eq!(t, "Reject (not owner or admin) — reason (required)");
}

#[test]
fn a_store_that_is_back_makes_the_screen_read_presence_again() {
    use crate::tui::state::Health;
    let mut s = state(vec![ready(1)]);
    s.store = Health::Up("store".into());
    let cmds = update(&mut s, Msg::Store(Health::Up("store".into())));
    assert!(cmds.is_empty(), "{cmds:?}");
    update(
        &mut s,
        Msg::Store(Health::Down("down, reconnecting".into())),
    );
    let cmds = update(&mut s, Msg::Store(Health::Up("store".into())));
    assert!(
        matches!(cmds.as_slice(), [Command::LoadPresence]),
        "{cmds:?}"
    );
}

#[test]
fn an_inbox_that_is_back_makes_the_screen_file_the_replies_left_to_file() {
    use crate::tui::state::Health;
    let mut s = state(vec![ready(1)]);
    // The first connection at start: the start files them already.
    let cmds = update(&mut s, Msg::Inbox(Health::Up("IDLE".into())));
    assert!(cmds.is_empty(), "{cmds:?}");
    let cmds = update(&mut s, Msg::Inbox(Health::Up("IDLE".into())));
    assert!(cmds.is_empty(), "{cmds:?}");
    let cmds = update(&mut s, Msg::Inbox(Health::Down("gone; retry in 2s".into())));
    assert!(cmds.is_empty(), "{cmds:?}");
    let cmds = update(&mut s, Msg::Inbox(Health::Down("gone; retry in 4s".into())));
    assert!(cmds.is_empty(), "{cmds:?}");
    let cmds = update(&mut s, Msg::Inbox(Health::Up("IDLE".into())));
    assert!(
        matches!(cmds.as_slice(), [Command::FilePending]),
        "{cmds:?}"
    );
}

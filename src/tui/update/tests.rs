//! Decisions as plain values: a message in, the state and commands out.

use super::*;
use crate::estimate::Rates;
use crate::intake::Auth;
use crate::store::requests::{JobSnap, Membership, Note, ReplySnap, RequestView, SizeSnap};
use chrono::TimeZone;

pub(super) fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc
        .with_ymd_and_hms(2026, 11, 24, 10, 0, 0)
        .unwrap()
}

/// A fully resolved owner's request that meets every checklist item.
pub(super) fn ready(id: i64) -> RequestView {
    RequestView {
        id,
        message_id: format!("req-{id}@acme.example"),
        state: crate::domain::RequestState::New,
        subject: "Data export request: Acme Support".into(),
        from: Some("owner@acme.example".into()),
        from_name: Some("Ada Owner".into()),
        reply_to: None,
        account_email: Some("owner@acme.example".into()),
        received_at: crate::time::parse("2026-11-23T09:14:05.000Z").ok(),
        workspace_name: Some("Acme Support".into()),
        workspace_id: Some("3c9e4a57-1b7d-5f0e-9a2b-6d8c1e4f7a90".into()),
        workspace_verified: true,
        member_id: Some("11111111-1b7d-5f0e-9a2b-6d8c1e4f7a90".into()),
        role: Some(crate::domain::Role::Owner),
        memberships: vec![Membership {
            member_id: "11111111-1b7d-5f0e-9a2b-6d8c1e4f7a90".into(),
            workspace_id: "3c9e4a57-1b7d-5f0e-9a2b-6d8c1e4f7a90".into(),
            workspace_name: "Acme Support".into(),
            email: "owner@acme.example".into(),
            role: crate::domain::Role::Owner,
        }],
        size: Some(SizeSnap {
            messages: 12_000,
            customers: 900,
            attachment_bytes: 50_000_000,
            large_attachments: 1,
            ..SizeSnap::default()
        }),
        auth: Auth {
            dkim: "pass".into(),
            spf: "pass".into(),
            dmarc: "pass".into(),
            dmarc_domain: None,
        },
        warnings: vec![],
        auth_override: None,
        decision_reason: None,
        approval_override: None,
        idempotency_key: None,
        export_body: None,
        job: None,
        notes: vec![Note {
            author: "Sam".into(),
            text: "Scope: everything".into(),
            at: crate::time::parse("2026-11-23T10:00:00Z").ok(),
        }],
        replies: vec![],
        thread_len: 1,
        version: 0,
        claimed_by: None,
        claimed_by_name: None,
        seen: Default::default(),
        damage: vec![],
    }
}

/// `update` without the thread loads that follow every selection (tested
/// on their own below), so the tests read as the decisions they check.
pub(super) fn update(s: &mut State, m: Msg) -> Vec<Command> {
    super::update(s, m)
        .into_iter()
        .filter(|c| !matches!(c, Command::LoadThread { .. }))
        .collect()
}

#[test]
fn the_selected_requests_thread_is_loaded_once_and_enter_zooms() {
    let mut s = state(vec![ready(1), ready(2)]);
    let cmds = super::update(&mut s, key('j'));
    let id = s.current().unwrap().req.id;
    assert_eq!(cmds, vec![Command::LoadThread { id }]);
    super::update(
        &mut s,
        Msg::Thread {
            id,
            messages: vec![],
        },
    );
    assert!(
        super::update(&mut s, Msg::Tick(now())).is_empty(),
        "loaded once"
    );
    assert!(!super::update(&mut s, code(KeyCode::Enter))
        .iter()
        .any(|c| matches!(c, Command::LoadThread { .. })));
    assert!(s.zoom);
    super::update(&mut s, code(KeyCode::Esc));
    assert!(!s.zoom);
}

pub(super) fn state(reqs: Vec<RequestView>) -> State {
    State::new(reqs, Rates::default(), "Sam".into(), now())
}

pub(super) fn key(c: char) -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}

pub(super) fn code(c: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(c, KeyModifiers::NONE))
}

pub(super) fn ctrl(c: char) -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL))
}

pub(super) fn typed(s: &mut State, text: &str) {
    for c in text.chars() {
        assert!(update(s, key(c)).is_empty());
    }
}

#[test]
fn a_complete_checklist_approves_after_confirmation() {
    let mut s = state(vec![ready(1)]);
    assert_eq!(s.rows[0].tab, Tab::Ready);
    assert!(update(&mut s, key('a')).is_empty());
    assert!(matches!(
        s.mode,
        Mode::Confirm(Confirm::Approve {
            id: 1,
            override_reason: None,
            force: false,
        })
    ));
    let cmds = update(&mut s, key('y'));
    assert_eq!(
        cmds,
        vec![Command::Approve {
            id: 1,
            seen: Some(0),
            override_reason: None,
            unmet: vec![],
            force: false,
        }]
    );
    assert!(s.is_pending(1));
    // While pending, a second approve is refused (never twice).
    assert!(update(&mut s, key('a')).is_empty());
    assert!(s.status.as_ref().unwrap().0.contains("busy"));
}

#[test]
fn declining_the_confirmation_does_nothing() {
    let mut s = state(vec![ready(1)]);
    update(&mut s, key('a'));
    assert!(update(&mut s, key('n')).is_empty());
    assert!(s.mode.is_normal() && !s.is_pending(1));
}

#[test]
fn each_unmet_gate_demands_a_typed_override() {
    type Change = Box<dyn Fn(&mut RequestView)>;
    let variants: Vec<(&str, Change)> = vec![
        (
            "Sender authenticated",
            Box::new(|r| r.auth.dmarc = "fail".into()),
        ),
        ("Scope-confirmation note", Box::new(|r| r.notes.clear())),
    ];
    for (label, change) in variants {
        let mut r = ready(1);
        change(&mut r);
        let mut s = state(vec![r]);
        assert_ne!(s.rows[0].tab, Tab::Ready, "{label}");
        update(&mut s, key('a'));
        assert!(
            matches!(
                &s.mode,
                Mode::Input {
                    purpose: InputPurpose::ApproveOverride { force: false },
                    ..
                }
            ),
            "{label}"
        );
        // An empty or token reason is refused.
        update(&mut s, code(KeyCode::Enter));
        assert!(
            matches!(&s.mode, Mode::Input { error: Some(_), .. }),
            "{label}"
        );
        typed(&mut s, "customer called, verified by phone");
        update(&mut s, code(KeyCode::Enter));
        assert!(
            matches!(
                &s.mode,
                Mode::Confirm(Confirm::Approve {
                    override_reason: Some(_),
                    ..
                })
            ),
            "{label}"
        );
        let cmds = update(&mut s, key('y'));
        match &cmds[..] {
            [Command::Approve {
                override_reason: Some(reason),
                unmet,
                ..
            }] => {
                assert_eq!(reason, "customer called, verified by phone");
                assert_eq!(unmet.len(), 1, "{label}: {unmet:?}");
                assert!(unmet[0].label().contains(label), "{label}: {unmet:?}");
            }
            other => panic!("{label}: {other:?}"),
        }
    }
}

#[test]
fn pasted_text_is_sanitised_before_it_reaches_a_note_or_the_filter() {
    let hostile = "scope: all\u{1b}[31m red\u{1b}[0m\u{1b}]0;pwned\u{7}\u{202e}!";
    let mut s = state(vec![ready(1)]);
    update(&mut s, key('n'));
    assert!(update(&mut s, Msg::Paste(hostile.into())).is_empty());
    let Mode::Input { area, .. } = &s.mode else {
        panic!("{:?}", s.mode)
    };
    let text = area.lines().join("\n");
    assert_eq!(text, "scope: all red!");
    assert!(!text.contains('\u{1b}') && !text.contains("[31m") && !text.contains("pwned"));

    let mut s = state(vec![ready(1)]);
    update(&mut s, key('/'));
    update(&mut s, Msg::Paste("acme\u{1b}[2J\nsupport".into()));
    assert!(
        !s.filter.contains('\u{1b}') && !s.filter.contains("[2J"),
        "{:?}",
        s.filter
    );
    assert!(!s.filter.contains('\n'), "{:?}", s.filter);
}

#[test]
fn no_typed_reason_lifts_the_owner_admin_or_specific_estimate_items() {
    type Change = Box<dyn Fn(&mut RequestView)>;
    let variants: Vec<(&str, Change)> = vec![
        (
            "Specific estimate sent",
            Box::new(|r| {
                r.size = Some(SizeSnap {
                    messages: 2_100_000,
                    customers: 40_000,
                    ..SizeSnap::default()
                })
            }),
        ),
        (
            "owner or admin",
            Box::new(|r| r.role = Some(crate::domain::Role::Agent)),
        ),
    ];
    for (label, change) in variants {
        let mut r = ready(1);
        change(&mut r);
        // Even with a fixable item open too, the hard one decides.
        r.notes.clear();
        let mut s = state(vec![r]);
        assert!(update(&mut s, key('a')).is_empty(), "{label}");
        assert!(s.mode.is_normal(), "{label}: {:?}", s.mode);
        let (said, is_error) = s.status.clone().unwrap();
        assert!(is_error && said.contains(label), "{label}: {said}");
    }
}

#[test]
fn no_override_can_start_an_export_without_workspace_or_member() {
    let mut r = ready(1);
    r.workspace_verified = false;
    let mut s = state(vec![r]);
    assert!(update(&mut s, key('a')).is_empty());
    assert!(s.mode.is_normal());
    assert!(s
        .status
        .as_ref()
        .unwrap()
        .0
        .contains("identify the workspace"));

    let mut r = ready(1);
    r.member_id = None;
    r.role = None;
    let mut s = state(vec![r]);
    update(&mut s, key('a'));
    assert!(s.mode.is_normal());
    assert!(s.status.as_ref().unwrap().0.contains("no member"));
}

#[test]
fn a_decided_request_cannot_be_approved_or_rejected_again() {
    use crate::domain::RequestState as S;
    for st in [S::Approved, S::Running, S::Done, S::Rejected] {
        let mut r = ready(1);
        r.state = st;
        let mut s = state(vec![r]);
        assert!(update(&mut s, key('a')).is_empty(), "{st}");
        assert!(s.mode.is_normal(), "{st}");
        assert!(update(&mut s, key('x')).is_empty(), "{st}");
        assert!(s.mode.is_normal(), "{st}");
    }
}

#[test]
fn reject_needs_a_template_a_reason_and_a_confirmation() {
    let mut r = ready(1);
    r.role = Some(crate::domain::Role::Agent);
    let mut s = state(vec![r]);
    update(&mut s, key('x'));
    // The agent's request suggests "not an owner or admin".
    assert!(matches!(
        s.mode,
        Mode::Pick {
            pick: Pick::RejectTemplate,
            selected: 0
        }
    ));
    update(&mut s, code(KeyCode::Enter));
    assert!(matches!(
        &s.mode,
        Mode::Input {
            purpose: InputPurpose::RejectReason(Template::RejectNotOwnerOrAdmin),
            ..
        }
    ));
    update(&mut s, code(KeyCode::Enter));
    assert!(
        matches!(&s.mode, Mode::Input { error: Some(_), .. }),
        "empty reason accepted"
    );
    typed(&mut s, "agent, not admin");
    // The reason given, the reply is composed to be read before it goes.
    assert_eq!(
        update(&mut s, code(KeyCode::Enter)),
        vec![Command::ComposeRejection {
            id: 1,
            template: Template::RejectNotOwnerOrAdmin,
            reason: "agent, not admin".into()
        }]
    );
    update(
        &mut s,
        Msg::RejectionComposed {
            id: 1,
            template: Template::RejectNotOwnerOrAdmin,
            reason: "agent, not admin".into(),
            body: "Hello".into(),
        },
    );
    assert!(matches!(
        &s.mode,
        Mode::Input {
            purpose: InputPurpose::RejectBody { .. },
            ..
        }
    ));
    update(&mut s, ctrl('s'));
    let cmds = update(&mut s, key('y'));
    assert_eq!(
        cmds,
        vec![Command::Reject {
            id: 1,
            seen: Some(0),
            template: Template::RejectNotOwnerOrAdmin,
            reason: "agent, not admin".into(),
            body: "Hello".into()
        }]
    );
}

#[test]
fn notes_are_multi_line_and_saved_with_ctrl_s() {
    let mut s = state(vec![ready(1)]);
    update(&mut s, key('n'));
    typed(&mut s, "Scope: all");
    update(&mut s, code(KeyCode::Enter));
    typed(&mut s, "incl. drafts");
    let cmds = update(&mut s, ctrl('s'));
    assert_eq!(
        cmds,
        vec![Command::AddNote {
            id: 1,
            text: "Scope: all\nincl. drafts".into()
        }]
    );
    // Esc asks once, a second Esc discards the draft.
    update(&mut s, key('n'));
    typed(&mut s, "oops");
    assert!(update(&mut s, code(KeyCode::Esc)).is_empty());
    assert!(!s.mode.is_normal());
    assert!(update(&mut s, code(KeyCode::Esc)).is_empty());
    assert!(s.mode.is_normal());
}

#[test]
fn reply_flow_composes_edits_and_confirms() {
    let mut r = ready(1);
    r.size = Some(SizeSnap {
        messages: 2_100_000,
        customers: 40_000,
        ..SizeSnap::default()
    });
    let mut s = state(vec![r]);
    update(&mut s, key('r'));
    // Over 48 h: the specific estimate is suggested.
    assert!(matches!(
        s.mode,
        Mode::Pick {
            pick: Pick::ReplyTemplate,
            selected: 1
        }
    ));
    let cmds = update(&mut s, code(KeyCode::Enter));
    assert_eq!(
        cmds,
        vec![Command::ComposeReply {
            id: 1,
            template: Template::EstimateOver48h
        }]
    );
    update(
        &mut s,
        Msg::ReplyComposed {
            id: 1,
            template: Template::EstimateOver48h,
            body: "Hello Ada".into(),
        },
    );
    assert!(matches!(
        &s.mode,
        Mode::Input {
            purpose: InputPurpose::ReplyBody(Template::EstimateOver48h),
            ..
        }
    ));
    // It opens at the greeting: End goes to the end of the line.
    update(&mut s, code(KeyCode::End));
    typed(&mut s, ", more");
    update(&mut s, ctrl('s'));
    let cmds = update(&mut s, key('y'));
    assert_eq!(
        cmds,
        vec![Command::SendReply {
            id: 1,
            seen: Some(0),
            template: Template::EstimateOver48h,
            body: "Hello Ada, more".into(),
            again: false,
        }]
    );
}

#[test]
fn a_reply_with_a_leftover_placeholder_is_refused() {
    let mut s = state(vec![ready(1)]);
    update(
        &mut s,
        Msg::ReplyComposed {
            id: 1,
            template: Template::Acknowledgement,
            body: "Hi {{requester_name}}".into(),
        },
    );
    assert!(update(&mut s, ctrl('s')).is_empty());
    assert!(matches!(&s.mode, Mode::Input { error: Some(e), .. } if e.contains("placeholder")));
}

#[test]
fn auth_override_needs_a_reason() {
    let mut r = ready(1);
    r.auth.dmarc = "fail".into();
    let mut s = state(vec![r]);
    update(&mut s, key('v'));
    typed(&mut s, "ok");
    assert!(update(&mut s, code(KeyCode::Enter)).is_empty());
    typed(&mut s, " - confirmed on a call");
    let cmds = update(&mut s, code(KeyCode::Enter));
    assert_eq!(
        cmds,
        vec![Command::OverrideAuth {
            id: 1,
            seen: Some(0),
            reason: "ok - confirmed on a call".into()
        }]
    );
}

#[test]
fn account_email_and_workspace_choice() {
    let mut r = ready(1);
    r.workspace_verified = false;
    r.workspace_name = None;
    r.workspace_id = None;
    let mut s = state(vec![r]);
    update(&mut s, key('w'));
    let cmds = update(&mut s, code(KeyCode::Enter));
    assert_eq!(
        cmds,
        vec![Command::ChooseWorkspace {
            id: 1,
            seen: Some(0),
            workspace_id: "3c9e4a57-1b7d-5f0e-9a2b-6d8c1e4f7a90".into(),
            workspace_name: "Acme Support".into()
        }]
    );
    update(&mut s, key('e'));
    // Prefilled with the current account email: clear it first.
    for _ in 0..40 {
        update(&mut s, code(KeyCode::Backspace));
    }
    typed(&mut s, "not an address");
    assert!(update(&mut s, code(KeyCode::Enter)).is_empty());
    for _ in 0..40 {
        update(&mut s, code(KeyCode::Backspace));
    }
    typed(&mut s, "Owner@Acme.example");
    assert_eq!(
        update(&mut s, code(KeyCode::Enter)),
        vec![Command::SetAccountEmail {
            id: 1,
            seen: Some(0),
            email: "owner@acme.example".into()
        }]
    );
}

#[test]
fn filter_tabs_and_sorting() {
    let mut a = ready(1);
    a.workspace_name = Some("Northwind".into());
    let mut b = ready(2);
    b.state = crate::domain::RequestState::Rejected;
    let mut c = ready(3);
    c.notes.clear();
    let mut s = state(vec![a, b, c]);
    assert_eq!(s.visible.len(), 3);
    assert_eq!(
        s.tab_counts[Tab::ALL.iter().position(|t| *t == Tab::Rejected).unwrap()],
        1
    );
    update(&mut s, key('/'));
    typed(&mut s, "north");
    assert_eq!(s.visible.len(), 1);
    assert_eq!(s.current().unwrap().req.id, 1);
    update(&mut s, code(KeyCode::Esc));
    assert_eq!(s.visible.len(), 3);
    update(&mut s, key('6'));
    assert_eq!(s.tab, Tab::Done);
    assert!(s.visible.is_empty());
    update(&mut s, key('7'));
    assert_eq!(s.current().unwrap().req.id, 2);
    update(&mut s, code(KeyCode::Tab));
    assert_eq!(s.tab, Tab::Mine, "the last tab");
    update(&mut s, code(KeyCode::Tab));
    assert_eq!(s.tab, Tab::All);
    update(&mut s, key('s'));
    assert_eq!(s.sort, super::super::state::Sort::Newest);
    update(&mut s, key('G'));
    assert_eq!(s.selected, 2);
    update(&mut s, key('k'));
    assert_eq!(s.selected, 1);
    update(&mut s, key('g'));
    assert_eq!(s.selected, 0);
}

#[test]
fn new_requests_from_the_inbox_are_looked_up() {
    let mut s = state(vec![]);
    let mut r = ready(5);
    r.workspace_verified = false;
    r.account_email = None;
    let cmds = update(&mut s, Msg::Requests(vec![r]));
    assert_eq!(cmds, vec![Command::Resolve { id: 5 }]);
    assert!(s.rows[0].resolving);
    let cmds = update(
        &mut s,
        Msg::Resolved {
            id: 5,
            result: Err("unreachable".into()),
        },
    );
    assert!(cmds.is_empty() && !s.rows[0].resolving);
    assert!(s.status.as_ref().unwrap().1);
    // The next tick tries again (the backend may be back), once.
    assert_eq!(
        update(&mut s, Msg::Tick(now())),
        vec![Command::Resolve { id: 5 }]
    );
    assert!(update(&mut s, Msg::Tick(now())).is_empty());
}

#[test]
fn job_updates_are_saved_and_the_specific_estimate_unlocks_approval() {
    let mut r = ready(1);
    r.size = Some(SizeSnap {
        messages: 2_100_000,
        customers: 40_000,
        ..SizeSnap::default()
    });
    let mut s = state(vec![r.clone()]);
    assert_ne!(s.rows[0].tab, Tab::Ready);
    r.replies.push(ReplySnap {
        id: 1,
        template: "estimate_over_48h".into(),
        state: crate::domain::ReplyState::Sent,
        to: "owner@acme.example".into(),
        at: Some(now()),
    });
    update(&mut s, Msg::RequestUpdated(r));
    assert_eq!(s.rows[0].tab, Tab::Ready);
    let job = JobSnap {
        id: "j".into(),
        status: crate::domain::JobStatus::Emailed,
        phase: None,
        progress: 1.0,
        created_at: None,
        finished_at: None,
        emailed_at: None,
        deliver_to: None,
        link_expires_at: None,
        error: None,
    };
    assert_eq!(
        update(
            &mut s,
            Msg::Job {
                id: 1,
                job: job.clone()
            }
        ),
        vec![Command::SaveJob { id: 1, job }]
    );
}

#[test]
fn esc_on_a_typed_note_asks_once_then_discards() {
    let mut s = state(vec![ready(1)]);
    update(&mut s, key('n'));
    assert!(matches!(s.mode, Mode::Input { .. }));
    // An empty note closes at once.
    update(&mut s, code(KeyCode::Esc));
    assert!(s.mode.is_normal());
    update(&mut s, key('n'));
    for c in "scope ok".chars() {
        update(&mut s, key(c));
    }
    update(&mut s, code(KeyCode::Esc));
    match &s.mode {
        Mode::Input { area, error, .. } => {
            assert_eq!(area.lines().join(""), "scope ok", "the text is kept");
            assert_eq!(error.as_deref(), Some(DISCARD_QUESTION));
        }
        other => panic!("the first Esc closed the note: {other:?}"),
    }
    update(&mut s, code(KeyCode::Esc));
    assert!(s.mode.is_normal(), "the second Esc discards");
}

#[test]
fn a_finished_job_is_announced_once_and_replaces_the_starting_message() {
    let mut s = state(vec![ready(1)]);
    say(&mut s, "#1: approved: the export is starting");
    let job = |status| JobSnap {
        id: "j".into(),
        status,
        phase: None,
        progress: 1.0,
        created_at: None,
        finished_at: None,
        emailed_at: None,
        deliver_to: Some("o***@acme.example".into()),
        link_expires_at: None,
        error: None,
    };
    update(
        &mut s,
        Msg::Job {
            id: 1,
            job: job(crate::domain::JobStatus::Running),
        },
    );
    assert_eq!(
        s.status.as_ref().unwrap().0,
        "#1: approved: the export is starting"
    );
    update(
        &mut s,
        Msg::Job {
            id: 1,
            job: job(crate::domain::JobStatus::Emailed),
        },
    );
    let (text, bad) = s.status.clone().unwrap();
    assert_eq!(
        text,
        "#1: export finished; the link was emailed to o***@acme.example"
    );
    assert!(!bad);
    // Once the row knows it, the same status again says nothing new.
    s.rows[0].req.job = Some(job(crate::domain::JobStatus::Emailed));
    say(&mut s, "something else");
    update(
        &mut s,
        Msg::Job {
            id: 1,
            job: job(crate::domain::JobStatus::Emailed),
        },
    );
    assert_eq!(s.status.as_ref().unwrap().0, "something else");
}

#[test]
fn page_keys_move_by_what_fits_on_screen() {
    let mut s = state((1..=30).map(ready).collect());
    s.page = 7; // as the renderer found it
    update(&mut s, code(KeyCode::PageDown));
    assert_eq!(s.selected, 7);
    update(&mut s, code(KeyCode::PageDown));
    update(&mut s, code(KeyCode::PageUp));
    assert_eq!(s.selected, 7);
}

#[test]
fn help_and_quit() {
    let mut s = state(vec![ready(1)]);
    update(&mut s, key('?'));
    assert!(matches!(s.mode, Mode::Help));
    update(&mut s, key('x'));
    assert!(s.mode.is_normal(), "any key closes the help");
    update(&mut s, key('q'));
    assert!(s.quit);
}

#[test]
fn quitting_while_an_export_runs_asks_first() {
    let mut r = ready(1);
    r.state = crate::domain::RequestState::Running;
    let mut s = state(vec![r]);
    update(&mut s, key('q'));
    assert!(!s.quit);
    assert!(matches!(
        s.mode,
        Mode::Confirm(Confirm::Quit { running: 1 })
    ));
    update(&mut s, key('n'));
    assert!(!s.quit && s.mode.is_normal());
    let ctrl_c = || Msg::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    update(&mut s, ctrl_c());
    assert!(!s.quit, "Ctrl-C asks too");
    update(&mut s, ctrl_c());
    assert!(s.quit, "a second Ctrl-C quits");
    let mut s = state(vec![ready(1)]);
    update(&mut s, key('q'));
    assert!(s.quit, "nothing running: no question");
}

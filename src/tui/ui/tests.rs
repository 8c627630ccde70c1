//! Snapshots and buffer assertions of the screen.

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

pub(super) fn now() -> DateTime<Utc> {
    t("2026-11-25T11:00:00Z")
}

/// An RFC 3339 literal as a time.
pub(super) fn t(s: &str) -> DateTime<Utc> {
    crate::time::parse(s).unwrap()
}

pub(super) fn acme_size() -> SizeSnap {
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

pub(super) fn member(ws_id: &str, ws: &str, email: &str, role: &str) -> Membership {
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
pub(super) fn base(id: i64, from: &str, name: &str, received: &str) -> RequestView {
    RequestView {
        id,
        message_id: format!("req-{id:04}@example"),
        state: crate::domain::RequestState::New,
        subject: "Data export request: Acme Support".into(),
        from: Some(from.into()),
        from_name: Some(name.into()),
        reply_to: None,
        account_email: Some(from.into()),
        received_at: Some(t(received)),
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
        version: 0,
        claimed_by: None,
        claimed_by_name: None,
        seen: Default::default(),
        damage: vec![],
    }
}

fn note(text: &str, at: &str) -> Note {
    Note {
        author: "Sam".into(),
        text: text.into(),
        at: Some(t(at)),
    }
}

fn ack(id: i64, to: &str, at: &str) -> ReplySnap {
    ReplySnap {
        id,
        template: "acknowledgement".into(),
        state: crate::domain::ReplyState::Sent,
        to: to.into(),
        at: Some(t(at)),
    }
}

pub(super) fn demo_requests() -> Vec<RequestView> {
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
        created_at: Some(t("2026-11-25T10:41:00Z")),
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
        created_at: Some(t("2026-11-25T09:40:00Z")),
        finished_at: Some(t("2026-11-25T10:52:30Z")),
        emailed_at: Some(t("2026-11-25T10:58:00Z")),
        deliver_to: Some("a***@acme.example".into()),
        link_expires_at: Some(t("2026-12-02T10:58:00Z")),
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

pub(super) fn demo_state() -> State {
    let mut s = State::new(demo_requests(), Rates::default(), "Sam".into(), now());
    if let Some(r) = s.row_mut(5) {
        r.resolving = true;
    }
    s.inbox = Health::Up("IDLE".into());
    s.backend = Health::Up("backend".into());
    s
}

pub(super) fn select(s: &mut State, id: i64) {
    s.selected = s
        .visible
        .iter()
        .position(|&i| s.rows[i].req.id == id)
        .expect("visible");
}

pub(super) fn draw(s: &mut State, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| render(f, s)).unwrap();
    t
}

/// The screen as text, one line per row, trailing blanks trimmed.
pub(super) fn text(t: &Terminal<TestBackend>) -> String {
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
pub(super) fn find(buf: &Buffer, needle: &str) -> Option<(u16, u16)> {
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

pub(super) fn fg_at(t: &Terminal<TestBackend>, needle: &str) -> Color {
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
        force: false,
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
            date: Some(t("2026-11-25T10:58:00+00:00")),
            body: "Hello,\n\nthe export of Acme Support is ready. Download it within 7 days:\n\nhttps://exports.example/downloads/eyJqb2IiOiI4YTQxIn0.sig\n\n— Ochre".into(),
        },
        OutboxMail {
            to: "it@globex.example".into(),
            subject: "Re: Data export request: Globex".into(),
            date: Some(t("2026-11-24T14:02:00+00:00")),
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
    // SLA: late red, under a day yellow, over a day green.
    assert_eq!(fg_at(&t, "late 14m"), BAD);
    assert_eq!(fg_at(&t, "in 21h"), WARN);
    assert_eq!(fg_at(&t, "in 2d"), OK);
    // Checklist of #1: met items green.
    assert_eq!(fg_at(&t, "✔ Workspace identified"), OK);
    // Labels are faint, not a fixed grey (colour 8 is Solarized Dark's
    // background).
    let buf = t.backend().buffer();
    let (x, y) = find(buf, "dmarc pass").unwrap();
    assert_eq!(buf[(x, y)].fg, Color::Reset, "the label");
    assert!(buf[(x, y)].modifier.contains(Modifier::DIM), "the label");
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
    // The selected row is in reverse video (no fixed grey band), its
    // cells keep their colours.
    let (x, y) = find(buf, "› #6").unwrap();
    assert_eq!(buf[(x + 2, y)].bg, Color::Reset);
    assert!(buf[(x + 2, y)].modifier.contains(Modifier::REVERSED));
    assert_eq!(buf[(x + 2, y)].fg, ACCENT);
    assert!(!buf.content.iter().any(|c| c.fg == Color::DarkGray
        || c.bg == Color::DarkGray
        || matches!(c.bg, Color::Indexed(_))));
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

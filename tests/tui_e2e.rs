//! The demo, end to end, through the app's own message channel: the real
//! reference backend (a child process), the demo Maildir inbox, the store,
//! the same `App` the terminal runs — driven by key presses.

use concierge::domain::{JobStatus, ReplyState, RequestState, Role};
use concierge::store::{audit, Store};
use concierge::tui::app::{App, Setup};
use concierge_test_support::app::{Demo, Driver};
use crossterm::event::KeyCode;
use std::path::Path;
use std::time::Duration;

/// The demo world: the reference backend, the demo inbox and outbox.
type Sandbox = Demo;

fn sandbox() -> Sandbox {
    Demo::start()
}

/// Sam's screen on the sandbox's SQLite file.
fn setup(sb: &Sandbox) -> Setup {
    sb.setup(sb.store_file().into())
}

fn outbox_to(dir: &Path, to: &str) -> Vec<concierge::tui::state::OutboxMail> {
    concierge::tui::app::read_outboxes(&[dir.join("outbox")])
        .into_iter()
        .filter(|m| m.to == to)
        .collect()
}

#[test]
fn approve_to_emailed_and_a_rejection() {
    let sb = sandbox();
    let rt = concierge_test_support::team::runtime();
    rt.block_on(async {
        let mut d = Driver::start(setup(&sb)).await;
        // The inbox worker stores the demo requests; the backend resolves them.
        d.until(
            "the owner's request resolved",
            Duration::from_secs(30),
            |a| {
                a.state.rows.iter().any(|r| {
                    r.req.from.as_deref() == Some("owner@acme.example")
                        && r.req.role == Some(Role::Owner)
                        && r.req.size.is_some()
                })
            },
        )
        .await;
        let acme = d.select_member("owner@acme.example");
        // The checklist lacks only the scope note: approve asks for an override...
        d.key(KeyCode::Char('a'));
        assert!(matches!(
            d.app.state.mode,
            concierge::tui::state::Mode::Input { .. }
        ));
        d.key(KeyCode::Esc);
        // ...so write the note, then approve for real.
        d.key(KeyCode::Char('n'));
        d.typed("Confirmed scope with Ada: everything, drafts included.");
        d.ctrl('s');
        assert_eq!(
            d.req(acme).notes.len(),
            1,
            "the note is in the store at once"
        );
        d.key(KeyCode::Char('a'));
        d.key(KeyCode::Char('y'));
        d.until("Acme exported and emailed", Duration::from_secs(60), |a| {
            a.state
                .rows
                .iter()
                .any(|r| r.req.id == acme && r.req.state == RequestState::Done)
        })
        .await;
        let job = d.req(acme).job.clone().unwrap();
        assert_eq!(job.status, JobStatus::Emailed);
        // Its real duration is kept beside the estimate, for calibration.
        let history = d.app.runtime.store.estimate_history().unwrap();
        assert_eq!(history.len(), 1);
        // The recorded duration is the job's own, from its created and
        // finished times (a fast export can take under the backend's
        // one-second resolution, so 0 h is a real answer; reading other
        // fields, or a clamp, would differ from this).
        let at = |t: Option<chrono::DateTime<chrono::Utc>>| t.expect("time");
        let took = (at(job.finished_at) - at(job.created_at)).num_milliseconds();
        assert!(took >= 0, "finished before created: {job:?}");
        assert!(history[0].0 > 0.0, "no estimate recorded: {history:?}");
        assert!(
            (history[0].1 - took as f64 / 3_600_000.0).abs() < 1e-9,
            "{history:?} vs {took} ms"
        );
        assert!(job.link_expires_at.is_some());
        // The backend emailed the link to the account email.
        let mails = outbox_to(sb.dir.path(), "owner@acme.example");
        assert!(
            mails.iter().any(|m| m.body.contains("/downloads/")),
            "{mails:?}"
        );

        // The agent's request: reject with the reason and its reply.
        d.clear_filter();
        let agent = d.select("agent@acme.example");
        assert_eq!(d.req(agent).role, Some(Role::Agent));
        d.app.state.status = None;
        d.key(KeyCode::Char('a'));
        // No typed reason stands in for an owner or admin (checklist item 2).
        assert!(d.app.state.mode.is_normal(), "{:?}", d.app.state.mode);
        let (said, is_error) = d.app.state.status.clone().expect("approve said nothing");
        assert!(is_error && said.contains("owner or admin"), "{said}");
        assert_eq!(d.req(agent).state, RequestState::New);
        d.key(KeyCode::Char('x'));
        d.key(KeyCode::Enter); // not an owner or admin
        d.typed("agent, not an owner or admin");
        d.key(KeyCode::Enter);
        // The reply is shown before it goes: read, then send.
        assert!(matches!(
            d.app.state.mode,
            concierge::tui::state::Mode::Input { .. }
        ));
        d.ctrl('s');
        d.key(KeyCode::Char('y'));
        d.until("the rejection reply sent", Duration::from_secs(20), |a| {
            a.state.rows.iter().any(|r| {
                r.req.id == agent
                    && r.req.state == RequestState::Rejected
                    && r.req.replies.iter().any(|x| x.state == ReplyState::Sent)
            })
        })
        .await;
        // Said as a rejection, its reason once.
        d.until(
            "the rejection's status line",
            Duration::from_secs(20),
            |a| {
                a.state.status.as_ref().is_some_and(|(s, _)| {
                    s.contains(
                        "the \"not owner or admin\" rejection was sent to agent@acme.example",
                    )
                })
            },
        )
        .await;
        let mails = outbox_to(sb.dir.path(), "agent@acme.example");
        assert_eq!(mails.len(), 1);
        assert!(
            mails[0].body.contains("owner or an admin"),
            "{}",
            mails[0].body
        );
        assert!(
            mails[0].subject.starts_with("Re: Data export request"),
            "{}",
            mails[0].subject
        );
    });
    let store = Store::open(&sb.dir.path().join("concierge.db")).unwrap();
    assert!(audit::verify(store.conn()).unwrap().is_ok());
}

#[test]
fn a_restart_mid_job_resumes_following_and_never_starts_a_second_export() {
    let sb = sandbox();
    let northwind_id;
    {
        let rt = concierge_test_support::team::runtime();
        northwind_id = rt.block_on(async {
            let mut d = Driver::start(setup(&sb)).await;
            d.until("Northwind resolved", Duration::from_secs(30), |a| {
                a.state.rows.iter().any(|r| {
                    r.req.from.as_deref() == Some("ops@northwind.example")
                        && r.req.role == Some(Role::Owner)
                })
            })
            .await;
            let id = d.select("ops@northwind.example");
            d.key(KeyCode::Char('n'));
            d.typed("Scope confirmed.");
            d.ctrl('s');
            d.key(KeyCode::Char('a'));
            d.key(KeyCode::Char('y'));
            d.until("the export started", Duration::from_secs(30), |a| {
                a.state
                    .rows
                    .iter()
                    .any(|r| r.req.id == id && r.req.job.as_ref().is_some_and(|j| !j.id.is_empty()))
            })
            .await;
            id
        });
        // The app goes away mid-job (its runtime and every task with it).
        rt.shutdown_background();
    }
    let rt = concierge_test_support::team::runtime();
    rt.block_on(async {
        let mut d = Driver::start(setup(&sb)).await;
        d.until(
            "Northwind emailed after the restart",
            Duration::from_secs(120),
            |a| {
                a.state
                    .rows
                    .iter()
                    .any(|r| r.req.id == northwind_id && r.req.state == RequestState::Done)
            },
        )
        .await;
        let ws =
            uuid::Uuid::parse_str(d.req(northwind_id).workspace_id.as_deref().unwrap()).unwrap();
        let client = concierge::backend::BackendClient::new(
            &sb.backend.url,
            concierge::secret::Secret::new(sb.backend.token.clone()),
            "e2e",
        )
        .unwrap();
        let jobs = client.jobs(ws).await.unwrap();
        assert_eq!(jobs.len(), 1, "a second export was started: {jobs:?}");
    });
    assert_eq!(
        outbox_to(sb.dir.path(), "ops@northwind.example")
            .iter()
            .filter(|m| m.body.contains("/downloads/"))
            .count(),
        1
    );
}

#[test]
fn a_confirmed_second_export_of_a_workspace_is_forced_and_runs() {
    let sb = sandbox();
    // Acme's admin asks too, an hour after the owner.
    let admin_mail = format!(
        "Return-Path: <admin@acme.example>\r\n\
         Authentication-Results: mx.ochrehq.com; dkim=pass header.d=acme.example; spf=pass smtp.mailfrom=acme.example; dmarc=pass header.from=acme.example\r\n\
         From: Bo Admin <admin@acme.example>\r\nTo: hello@ochrehq.com\r\n\
         Subject: Data export request: Acme Support\r\nDate: {}\r\n\
         Message-ID: <req-0100@acme.example>\r\n\r\n\
         Please export our workspace.\r\n\r\nWorkspace: Acme Support\r\n",
        chrono::Utc::now().to_rfc2822()
    );
    std::fs::write(
        sb.dir.path().join("inbox/new/1790000100.0100_admin.e2e"),
        admin_mail,
    )
    .unwrap();
    let rt = concierge_test_support::team::runtime();
    rt.block_on(async {
        let mut d = Driver::start(setup(&sb)).await;
        let resolved = |a: &App, from: &str| {
            a.state.rows.iter().any(|r| {
                r.req.from.as_deref() == Some(from) && r.req.role.is_some() && r.req.size.is_some()
            })
        };
        d.until(
            "both Acme requests resolved",
            Duration::from_secs(30),
            |a| resolved(a, "owner@acme.example") && resolved(a, "admin@acme.example"),
        )
        .await;
        let owner = d.select_member("owner@acme.example");
        d.key(KeyCode::Char('n'));
        d.typed("Scope confirmed with Ada.");
        d.ctrl('s');
        d.key(KeyCode::Char('a'));
        d.key(KeyCode::Char('y'));
        d.until("the owner's export started", Duration::from_secs(30), |a| {
            a.state
                .rows
                .iter()
                .any(|r| r.req.id == owner && r.req.job.as_ref().is_some_and(|j| !j.id.is_empty()))
        })
        .await;

        d.clear_filter();
        let admin = d.select("admin@acme.example");
        d.key(KeyCode::Char('n'));
        d.typed("Scope confirmed with the admin too.");
        d.ctrl('s');
        // Declined: nothing is approved or started.
        d.key(KeyCode::Char('a'));
        assert!(
            matches!(
                d.app.state.mode,
                concierge::tui::state::Mode::Confirm(
                    concierge::tui::state::Confirm::ApproveDuplicate { .. }
                )
            ),
            "{:?}",
            d.app.state.mode
        );
        d.key(KeyCode::Char('n'));
        assert!(d.req(admin).state.is_open(), "{:?}", d.req(admin).state);
        assert!(d.req(admin).export_body.is_none());
        // Confirmed twice (the duplicate, then the approval): forced.
        d.key(KeyCode::Char('a'));
        d.key(KeyCode::Char('y'));
        d.key(KeyCode::Char('y'));
        d.until("both Acme exports emailed", Duration::from_secs(120), |a| {
            let failed = a
                .state
                .rows
                .iter()
                .find(|r| r.req.id == admin && r.req.state == RequestState::Failed);
            assert!(failed.is_none(), "{:?}", failed.map(|r| &r.req.job));
            [owner, admin].iter().all(|id| {
                a.state
                    .rows
                    .iter()
                    .any(|r| r.req.id == *id && r.req.state == RequestState::Done)
            })
        })
        .await;
        let body = d.req(admin).export_body.clone().unwrap();
        assert!(body.contains(r#""force":true"#), "{body}");
        assert!(!d.req(owner).export_body.clone().unwrap().contains("force"));
        let ws = uuid::Uuid::parse_str(d.req(admin).workspace_id.as_deref().unwrap()).unwrap();
        let client = concierge::backend::BackendClient::new(
            &sb.backend.url,
            concierge::secret::Secret::new(sb.backend.token.clone()),
            "e2e",
        )
        .unwrap();
        let jobs = client.jobs(ws).await.unwrap();
        assert_eq!(jobs.len(), 2, "{jobs:?}");
    });
    for to in ["owner@acme.example", "admin@acme.example"] {
        let links = outbox_to(sb.dir.path(), to)
            .iter()
            .filter(|m| m.body.contains("/downloads/"))
            .count();
        assert_eq!(links, 1, "{to}");
    }
}

#[test]
fn a_follow_up_is_marked_until_the_request_is_opened_and_only_for_that_operator() {
    let sb = sandbox();
    let rt = concierge_test_support::team::runtime();
    let id = rt.block_on(async {
        let mut d = Driver::start(setup(&sb)).await;
        // The demo's "any news?" follow-up joins Ada's request, unread, and
        // the status line names it when the poller brings it. NOTE: checked
        // after every event, not once at the end: a later batch's "N new or
        // updated" may replace that line before the row shows unread here
        // (it failed that way once under load).
        let named = std::cell::Cell::new(false);
        let unread_id = |a: &App| {
            a.state
                .rows
                .iter()
                .find(|r| r.req.seen.unread("Sam") == 1)
                .map(|r| r.req.id)
        };
        d.until(
            "the follow-up marked and named",
            Duration::from_secs(30),
            |a| {
                let said = a.state.status.as_ref().map_or("", |(s, _)| s.as_str());
                if let Some(id) = unread_id(a) {
                    if said.starts_with("the customer wrote again on")
                        && said.contains(&format!("#{id}"))
                    {
                        named.set(true);
                    }
                }
                named.get() && unread_id(a).is_some()
            },
        )
        .await;
        let id = unread_id(&d.app).unwrap();
        // Opening it (selecting it shows it in the detail pane) reads it.
        d.select("owner@acme.example");
        d.key(KeyCode::Char('g'));
        for _ in 0..d.app.state.visible.len() {
            if d.app.state.current().map(|r| r.req.id) == Some(id) {
                break;
            }
            d.key(KeyCode::Char('j'));
        }
        assert_eq!(d.app.state.current().map(|r| r.req.id), Some(id));
        d.until("the follow-up read", Duration::from_secs(10), |a| {
            a.state
                .rows
                .iter()
                .any(|r| r.req.id == id && r.req.seen.unread("Sam") == 0)
        })
        .await;
        id
    });
    // In the store: read for Sam, still unread for another operator.
    let store = Store::open(&sb.dir.path().join("concierge.db")).unwrap();
    let req = store.load_request(id).unwrap();
    assert_eq!(req.seen.unread("Sam"), 0);
    assert_eq!(req.seen.unread("Kim"), 1);
}

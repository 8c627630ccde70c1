//! The screen on a team store: the same `App` the terminal runs, its
//! runtime's workers (the inbox on `spawn_blocking`, the async job
//! follower, the key handlers) all calling a PostgreSQL store. The sync
//! `postgres` client panics when called on a tokio runtime thread; the
//! store runs it on its own thread, and this test drives every such call
//! path on a multi-thread runtime, as the terminal does.
//!
//! (The driver is tests/tui_e2e.rs's, which drives the same screen on
//! SQLite: concierge_test_support::app.)

use concierge_test_support as support;
use concierge_test_support::app::{Demo, Driver};

use concierge::domain::{JobStatus, ReplyState, RequestState, Role};
use concierge::store::{audit, Location, Store};
use concierge::tui::app::Setup;
use crossterm::event::KeyCode;
use std::time::Duration;

/// Sam's screen on `store`, around the demo world.
fn setup(sb: &Demo, store: Location) -> Setup {
    sb.setup(store)
}

#[test]
fn the_screen_runs_on_a_team_store() {
    let sb = Demo::start();
    let url = support::postgres::server().fresh_database();
    let target = support::postgres::target(&url);
    let rt = support::team::runtime();
    rt.block_on(async {
        let mut d = Driver::start(setup(&sb, Location::Postgres(target.clone()))).await;
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
        d.key(KeyCode::Char('n'));
        d.typed("Confirmed scope with Ada: everything.");
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
        assert_eq!(d.req(acme).job.clone().unwrap().status, JobStatus::Emailed);
        assert_eq!(d.app.runtime.store.estimate_history().unwrap().len(), 1);

        d.clear_filter();
        let agent = d.select_member("agent@acme.example");
        d.key(KeyCode::Char('x'));
        d.key(KeyCode::Enter);
        d.typed("agent, not an owner or admin");
        d.key(KeyCode::Enter);
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
    });
    drop(rt);
    // What the screen did is in the team store, seen from another connection.
    let store = Store::open_at(&Location::Postgres(target)).unwrap();
    let all = store.load_requests().unwrap();
    let acme = all
        .iter()
        .find(|r| r.from.as_deref() == Some("owner@acme.example"))
        .unwrap();
    assert_eq!(acme.state, RequestState::Done);
    assert_eq!(acme.notes[0].text, "Confirmed scope with Ada: everything.");
    assert!(all.iter().any(|r| r.state == RequestState::Rejected));
    assert!(audit::verify(store.conn()).unwrap().unwrap() > 5);
}

//! Two screens on one store (the real `App` twice, through the app
//! driver; a SQLite file and a real PostgreSQL database) stay right about
//! each other: an operator who renames themselves is shown by the new name
//! on the colleague's open screen (claims and notes), and a screen's
//! presence entry comes back after the first beat after an outage of more
//! than 20 s swept every entry (live ones included), and goes when that
//! screen quits. No sleeps: every wait polls a condition with a deadline.

use concierge_test_support as support;

use concierge::store::{presence, testing, Location, Store};
use concierge::tui::app::Inbox;
use std::time::Duration;
use support::app::{setup, Driver};

const KIM: &str = "kim@ochrehq.com";
const WITHIN: Duration = Duration::from_secs(20);

fn screen_setup(at: &Location, name: &str, email: &str) -> concierge::tui::app::Setup {
    concierge::tui::app::Setup {
        operator_email: Some(email.into()),
        ..setup(at.clone(), name, Inbox::None)
    }
}

/// Two requests; Kim (as "Kim") holds the first and wrote a note on it.
fn seed(at: &Location) -> (i64, i64) {
    let mut s = Store::open_at(at).unwrap();
    let a = testing::request(&mut s, 1, "owner@acme.example");
    let b = testing::request(&mut s, 2, "admin@acme.example");
    s.register_operator(KIM, "Kim").unwrap();
    s.claim(a, KIM, None).unwrap();
    s.add_note(a, KIM, "Scope: everything").unwrap();
    (a, b)
}

async fn a_rename_reaches_the_open_screen(at: Location) {
    let (a, _) = seed(&at);
    let mut sam = Driver::start(screen_setup(&at, "Sam", "sam@ochrehq.com")).await;
    assert_eq!(sam.req(a).claimed_by_name.as_deref(), Some("Kim"));
    assert_eq!(sam.app.state.name_of(KIM), "Kim");
    // Kim starts Concierge under a new name (same [operator] email): the
    // registration her screen makes at start, and nothing else (a screen
    // of hers would also announce itself in presence).
    let mut kim = Store::open_at(&at).unwrap();
    // First a change of hers under the old name, which Sam's screen reads
    // (it knows her id from then on).
    kim.add_note(a, KIM, "Confirmed by phone").unwrap();
    sam.until("Kim's second note", WITHIN, |app| {
        app.state
            .rows
            .iter()
            .any(|r| r.req.id == a && r.req.notes.len() == 2)
    })
    .await;
    kim.register_operator(KIM, "Kim Lee").unwrap();
    sam.until("Kim's new name on Sam's screen", WITHIN, |app| {
        app.state.name_of(KIM) == "Kim Lee"
            && app
                .state
                .rows
                .iter()
                .any(|r| r.req.id == a && r.req.claimed_by_name.as_deref() == Some("Kim Lee"))
    })
    .await;
}

async fn presence_comes_back_after_a_long_outage_and_goes_on_quit(at: Location) {
    let (_, b) = seed(&at);
    let mut sam = Driver::start(screen_setup(&at, "Sam", "sam@ochrehq.com")).await;
    let mut kim = Driver::start(screen_setup(&at, "Kim", KIM)).await;
    kim.select("admin@acme.example");
    let other = Store::open_at(&at).unwrap();
    let kim_on_b_in_store = || {
        presence::others(other.conn(), "nobody", chrono::Utc::now())
            .unwrap()
            .iter()
            .any(|p| p.operator == "Kim" && p.request_id == Some(b))
    };
    let on_b = |app: &concierge::tui::app::App| {
        app.state
            .others
            .iter()
            .any(|p| p.operator == "Kim" && p.request_id == Some(b))
    };
    // Kim's selection is written once it rests (her loop's timer).
    kim.until("Kim's entry written", WITHIN, |_| kim_on_b_in_store())
        .await;
    sam.until("Sam sees Kim on the request", WITHIN, on_b).await;

    // The first beat after an outage of more than 20 s: every entry is
    // older than `STALE`, live ones too, and is swept.
    let later = chrono::Utc::now() + presence::STALE + chrono::TimeDelta::seconds(5);
    presence::beat(other.conn(), "a-screen-back-first", later).unwrap();
    // Kim's screen is alive (its loop is not even driven here): its
    // heartbeat writes her entry again, and Sam's screen shows it.
    assert!(
        support::wait_until(std::time::Instant::now() + WITHIN, kim_on_b_in_store),
        "Kim's live screen never wrote its entry again"
    );
    sam.until("Kim shown on Sam's screen", WITHIN, on_b).await;

    // Kim quits: her entry goes at once, and stays gone.
    drop(kim);
    sam.until("Kim gone after she quit", WITHIN, |app| {
        !app.state.others.iter().any(|p| p.operator == "Kim")
    })
    .await;
    let s = Store::open_at(&at).unwrap();
    let left = presence::others(s.conn(), "nobody", chrono::Utc::now()).unwrap();
    assert!(!left.iter().any(|p| p.operator == "Kim"), "{left:?}");
}

macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite {
            use super::support;
            $(#[test] fn $name() {
                let dir = tempfile::tempdir().unwrap();
                let at = concierge::store::Location::Sqlite(dir.path().join("c.db"));
                support::team::runtime().block_on(super::$name(at));
            })*
        }
        mod on_postgres {
            use super::support;
            $(#[test] fn $name() {
                let at = support::team::pg_location();
                support::team::runtime().block_on(super::$name(at));
            })*
        }
    };
}

both!(
    a_rename_reaches_the_open_screen,
    presence_comes_back_after_a_long_outage_and_goes_on_quit,
);

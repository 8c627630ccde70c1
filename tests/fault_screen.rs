//! The screen's never-twice guards, end to end (issue 14): the real binary
//! in a pty (tmux) with keys pressed the way a hurried operator presses
//! them, and the end state read from outside — jobs at the reference
//! backend, link emails in its outbox, messages at the SMTP sink.

use concierge_test_support as support;
use concierge_test_support::backend as backend_support;
use concierge_test_support::screen as screen_support;

use concierge::domain::{ReplyState, RequestState};
use concierge::store::Store;
use screen_support::{
    ask_to_send_suggested_reply, select_resolved, send_suggested_reply, tab_count,
    write_scope_note, Sandbox,
};
use std::time::{Duration, Instant};

const NORTHWIND_OWNER: &str = "ops@northwind.example";
const GLOBEX_ADMIN: &str = "it@globex.example";

/// True when the detail shows the export's progress bar ("export 10%"):
/// the backend's job is known and followed.
fn shows_progress(screen: &str) -> bool {
    screen.lines().any(|l| {
        l.split("export ").nth(1).is_some_and(|rest| {
            rest.split('%')
                .next()
                .is_some_and(|n| n.trim().parse::<u32>().is_ok())
        })
    })
}

#[test]
fn approving_twice_quickly_and_quitting_mid_export_start_one_export_and_one_email() {
    let sb = Sandbox::start();
    let mut pty = sb.pty();
    sb.screen(&mut pty, &[]);
    select_resolved(&pty, NORTHWIND_OWNER);
    write_scope_note(&pty);
    // Approve, confirm, and the same again before the first start was
    // answered: all four keys reach the screen in one write.
    pty.keys(&["a", "y", "a", "y"]);
    pty.wait_screen(
        "the export running",
        Duration::from_secs(60),
        shows_progress,
    );
    // Quit while it runs: the screen asks first, and leaves the job to the
    // backend.
    pty.keys(&["q"]);
    pty.wait_screen("the quit question", Duration::from_secs(10), |s| {
        s.contains("still running. Quit anyway?")
    });
    pty.keys(&["y"]);
    assert_eq!(
        pty.wait_exit(Duration::from_secs(30)),
        0,
        "{}",
        pty.stderr()
    );
    let live = sb.jobs_of(backend_support::NORTHWIND);
    assert_eq!(live.len(), 1, "jobs when the screen quit: {live:#?}");

    // Come back: the job is followed to its end, not started again.
    sb.screen(&mut pty, &[]);
    pty.wait_screen("Northwind emailed", Duration::from_secs(600), |s| {
        tab_count(s, "Done") == Some(1)
    });
    pty.keys(&["q"]);
    assert_eq!(
        pty.wait_exit(Duration::from_secs(30)),
        0,
        "{}",
        pty.stderr()
    );

    let jobs = sb.jobs_of(backend_support::NORTHWIND);
    assert_eq!(jobs.len(), 1, "a second export was started: {jobs:#?}");
    assert_eq!(jobs[0]["id"], live[0]["id"], "another job than the first");
    assert_eq!(jobs[0]["status"], "emailed");
    assert_eq!(sb.link_emails_to(NORTHWIND_OWNER), 1, "link emails");
    let store = Store::open(&sb.store_path()).unwrap();
    let done = store
        .load_requests()
        .unwrap()
        .into_iter()
        .filter(|r| r.state == RequestState::Done)
        .count();
    assert_eq!(done, 1);
}

#[test]
fn a_double_confirmed_reply_is_sent_once_and_the_same_template_again_asks_first() {
    let sb = Sandbox::start();
    let mut pty = sb.pty();
    sb.screen(&mut pty, &[]);
    select_resolved(&pty, GLOBEX_ADMIN);
    // The suggested template (over 48 hours: the specific estimate), sent
    // with the editor's Ctrl-S and confirmed with a double y.
    ask_to_send_suggested_reply(&pty);
    pty.keys(&["y", "y"]);
    // The one reply arrives at the sink and is recorded as sent.
    assert_eq!(sb.smtp.wait_for(1, Duration::from_secs(30)).len(), 1);
    pty.wait_screen("the reply sent", Duration::from_secs(30), |s| {
        s.contains("reply was sent")
    });
    // The same template again: the screen knows it went and asks whether
    // to send it AGAIN; the operator says no.
    pty.keys(&["r", "Enter"]);
    pty.wait_screen("the reply's text", Duration::from_secs(10), |s| {
        s.contains("Ctrl-S")
    });
    pty.keys(&["C-s"]);
    let asked = pty.wait_screen("the send question", Duration::from_secs(10), |s| {
        s.contains("already got the") || s.contains("Send the")
    });
    assert!(asked.contains("already got the"), "{asked}");
    pty.keys(&["n", "q"]);
    assert_eq!(
        pty.wait_exit(Duration::from_secs(30)),
        0,
        "{}",
        pty.stderr()
    );
    let store = Store::open(&sb.store_path()).unwrap();
    let replies: Vec<_> = store
        .load_requests()
        .unwrap()
        .into_iter()
        .flat_map(|r| r.replies)
        .collect();
    assert_eq!(replies.len(), 1, "{replies:#?}");
    assert_eq!(replies[0].state, ReplyState::Sent);
    assert_eq!(sb.smtp.messages().len(), 1, "the sink got a second reply");
}

/// The detail pane's text (right of the queue) from the line holding
/// `heading` to the next blank line, joined with spaces (the pane wraps).
fn detail_section(screen: &str, heading: &str) -> String {
    let rows: Vec<String> = screen
        .lines()
        .map(|l| {
            let right = l.rsplit("││").next().unwrap_or(l);
            right
                .trim_matches(|c: char| c == '│' || c.is_whitespace())
                .to_string()
        })
        .collect();
    let Some(start) = rows.iter().position(|r| r.contains(heading)) else {
        return String::new();
    };
    rows[start..]
        .iter()
        .take_while(|r| !r.is_empty())
        .cloned()
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn a_screen_killed_while_a_reply_is_sending_leaves_it_to_a_forced_retry_once() {
    // The sink takes the message and never confirms it: the reply stays
    // `sending`, its outcome unknown, when the screen is killed.
    let sb = Sandbox::start_with(
        support::smtp::SmtpSink::builder()
            .stall_after_data()
            .start(),
    );
    let mut pty = sb.pty();
    sb.screen(&mut pty, &[]);
    select_resolved(&pty, GLOBEX_ADMIN);
    send_suggested_reply(&pty);
    let stalled = support::wait_until(Instant::now() + Duration::from_secs(30), || {
        sb.smtp.log().contains("stalling after DATA")
    });
    assert!(
        stalled,
        "the reply never reached the sink: {}",
        sb.smtp.log()
    );
    pty.kill9();
    assert_eq!(
        pty.wait_exit(Duration::from_secs(30)),
        screen_support::KILLED
    );

    // Back again: still `sending` (never shown as sent), and the screen
    // asks before the same template goes again.
    sb.screen(&mut pty, &[]);
    select_resolved(&pty, GLOBEX_ADMIN);
    let s = pty.wait_screen("the reply listed", Duration::from_secs(30), |s| {
        s.contains("Replies (1)")
    });
    let replies = detail_section(&s, "Replies (1)");
    assert!(
        replies.contains("sending") && !replies.contains("· sent"),
        "{replies}\n{s}"
    );
    pty.keys(&["r", "Enter"]);
    pty.wait_screen("the reply's text", Duration::from_secs(10), |s| {
        s.contains("Ctrl-S")
    });
    pty.keys(&["C-s"]);
    pty.wait_screen("the again question", Duration::from_secs(10), |s| {
        s.contains("already got the")
    });
    pty.keys(&["n", "q"]);
    assert_eq!(
        pty.wait_exit(Duration::from_secs(30)),
        0,
        "{}",
        pty.stderr()
    );

    let reply_id = {
        let store = Store::open(&sb.store_path()).unwrap();
        let replies: Vec<_> = store
            .load_requests()
            .unwrap()
            .into_iter()
            .flat_map(|r| r.replies)
            .collect();
        assert_eq!(replies.len(), 1, "{replies:#?}");
        assert_eq!(replies[0].state, ReplyState::Sending);
        replies[0].id.to_string()
    };
    // A plain retry is refused and says how to go on; --force sends it,
    // once, to a sink that answers.
    let good = support::smtp::SmtpSink::start();
    let config = sb.config_with_smtp_port(good.port());
    let (code, err) = sb.cli(&config, &["reply", "--retry", &reply_id]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("--force"), "{err}");
    assert_eq!(good.messages().len(), 0);
    let (code, err) = sb.cli(&config, &["reply", "--retry", &reply_id, "--force"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(good.wait_for(1, Duration::from_secs(30)).len(), 1);
    let (code, err) = sb.cli(&config, &["reply", "--retry", &reply_id, "--force"]);
    assert_eq!(code, 1, "a sent reply was retried: {err}");
    assert_eq!(good.messages().len(), 1, "sent twice");
}

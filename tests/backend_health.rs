//! The screen's backend status follows the real backend: `●` while it
//! answers, `✗` within a bounded time once it stops (the screen asks every
//! 5 s, each ask cut at 5 s), `●` again once it answers again — on a screen
//! that does nothing meanwhile (no lookup, no job), like a colleague's or
//! one joined to the demo. The backend is the real reference backend over
//! HTTP, killed and started again on the same port; the joined demo is the
//! real `concierge demo` and `concierge demo --join` in two terminals.

use concierge_test_support as support;

use concierge::tui::app::Inbox;
use concierge::tui::state::Health;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use support::app::Driver;
use support::backend::{Server, TOKEN};
use support::screen::Pty;

/// Sam's screen on a store of its own, asking `url` and doing nothing else.
fn screen_setup(
    dir: &std::path::Path,
    url: &str,
    gone: Option<&str>,
) -> concierge::tui::app::Setup {
    let client = concierge::backend::BackendClient::new(
        url,
        concierge::secret::Secret::new(TOKEN.to_string()),
        "Sam",
    )
    .unwrap();
    concierge::tui::app::Setup {
        backend: Some(client),
        backend_gone: gone.map(Into::into),
        ..support::app::setup(dir.join("c.db").into(), "Sam", Inbox::None)
    }
}

fn is_up(h: &Health) -> bool {
    matches!(h, Health::Up(_))
}

fn is_down(h: &Health) -> bool {
    matches!(h, Health::Down(_))
}

#[test]
fn the_backend_status_goes_down_when_the_backend_stops_and_up_when_it_is_back() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("backend");
    let mut backend = Server::start(&data, &["--seed", "demo"]);
    let addr = backend.addr();
    let rt = support::team::runtime();
    rt.block_on(async {
        // Two screens: one that knows nothing of why, one joined to a demo.
        let plain = dir.path().join("plain");
        let joined = dir.path().join("joined");
        std::fs::create_dir_all(&plain).unwrap();
        std::fs::create_dir_all(&joined).unwrap();
        let mut a = Driver::start(screen_setup(&plain, &backend.url, None)).await;
        let mut b = Driver::start(screen_setup(
            &joined,
            &backend.url,
            Some(concierge::demo::HOST_GONE),
        ))
        .await;
        for d in [&mut a, &mut b] {
            d.until("the backend up", Duration::from_secs(20), |a| {
                is_up(&a.state.backend)
            })
            .await;
        }

        backend.kill9();
        // One check every 5 s, each cut at 5 s: down within 10 s; 20 s
        // leaves room for a loaded machine, and is well below the 30 s
        // a single request may take.
        let stopped = Instant::now();
        for d in [&mut a, &mut b] {
            d.until("the backend down", Duration::from_secs(20), |a| {
                is_down(&a.state.backend)
            })
            .await;
        }
        let Health::Down(said) = &a.app.state.backend else {
            unreachable!()
        };
        assert!(said.starts_with("unreachable"), "{said}");
        assert_eq!(
            b.app.state.backend,
            Health::Down(concierge::demo::HOST_GONE.into()),
            "the joined screen says why"
        );
        eprintln!("down after {:?}", stopped.elapsed());

        let _again = Server::start_at(&addr, &data, &["--seed", "demo"], &[]);
        for d in [&mut a, &mut b] {
            d.until("the backend up again", Duration::from_secs(20), |a| {
                is_up(&a.state.backend)
            })
            .await;
        }
    });
}

/// A terminal on `dir/NAME` running `concierge ARGS` with `env`.
fn pty(dir: &std::path::Path, name: &str, args: &[&str], env: &[(&str, &str)]) -> Pty {
    let d = dir.join(name);
    std::fs::create_dir_all(&d).unwrap();
    let mut p = Pty::new(&d);
    p.spawn(args, env);
    p
}

/// The demo in one terminal (`host`, operator Sam) and a second operator
/// (Kim) joined to it in another; the host quits, and the joined screen
/// says so. Returns both terminals, the demo's sandbox and the environment
/// they ran with (`TMPDIR` under `dir`: the demo makes its sandbox there).
fn joined_then_host_quit(dir: &Path) -> (Pty, Pty, PathBuf, [(&'static str, String); 3]) {
    // The demo makes its sandbox under the temp dir: this test's own.
    let tmp = dir.join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let owned = [
        ("TMPDIR", tmp.to_str().unwrap().to_string()),
        ("TERM", "xterm-256color".to_string()),
        ("USER", "Sam".to_string()),
    ];
    let env: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let host = pty(dir, "host", &["demo"], &env);
    host.wait_screen("the demo's queue", Duration::from_secs(60), |s| {
        s.contains("Queue")
    });
    let sandbox = std::fs::read_dir(&tmp)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.join("join.json").is_file())
        .expect("the demo's sandbox");
    let joined = pty(
        dir,
        "joined",
        &["demo", "--join", sandbox.to_str().unwrap(), "--as", "Kim"],
        &env,
    );
    joined.wait_screen(
        "the joined queue, backend up",
        Duration::from_secs(60),
        |s| s.contains("Queue") && s.contains("backend ●"),
    );

    host.keys(&["q"]);
    assert_eq!(
        host.wait_exit(Duration::from_secs(30)),
        0,
        "{}",
        host.stderr()
    );
    joined.wait_screen("the host's quit told", Duration::from_secs(20), |s| {
        s.contains(&format!("backend ✗ {}", concierge::demo::HOST_GONE))
    });
    (host, joined, sandbox, owned)
}

#[test]
fn a_screen_joined_to_the_demo_says_so_when_the_demo_host_quits() {
    let dir = tempfile::tempdir().unwrap();
    let (_host, joined, _sandbox, _env) = joined_then_host_quit(dir.path());
    joined.keys(&["q"]);
    assert_eq!(
        joined.wait_exit(Duration::from_secs(30)),
        0,
        "{}",
        joined.stderr()
    );
}

#[test]
fn a_screen_joined_to_the_demo_follows_the_demo_when_it_is_resumed() {
    let dir = tempfile::tempdir().unwrap();
    let (mut host, joined, sandbox, owned) = joined_then_host_quit(dir.path());
    let env: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();

    // The host resumes its demo: a new backend, on a new port, new token.
    host.spawn(&["demo", "--resume", sandbox.to_str().unwrap()], &env);
    host.wait_screen("the resumed demo's queue", Duration::from_secs(60), |s| {
        s.contains("Queue")
    });
    let join: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(sandbox.join("join.json")).unwrap()).unwrap();
    let (url, token) = (
        join["url"].as_str().unwrap(),
        join["token"].as_str().unwrap(),
    );
    let screen = joined.wait_screen(
        "the joined screen following the resumed demo",
        Duration::from_secs(30),
        |s| s.contains("backend ●") && s.contains("the demo was resumed"),
    );
    assert!(
        screen.contains(url),
        "the status line names the address: {screen}"
    );
    assert!(!screen.contains(token), "the token is on the screen");
    joined.keys(&["q"]);
    assert_eq!(
        joined.wait_exit(Duration::from_secs(30)),
        0,
        "{}",
        joined.stderr()
    );
    let log = std::fs::read_to_string(sandbox.join("concierge-Kim.log")).unwrap_or_default();
    assert!(log.contains("the demo was resumed"), "{log}");
    assert!(
        !log.contains(token),
        "the token is in the joined screen's log"
    );
    host.keys(&["q"]);
    assert_eq!(
        host.wait_exit(Duration::from_secs(30)),
        0,
        "{}",
        host.stderr()
    );
}

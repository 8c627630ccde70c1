//! TUI benchmark: frame time with 10,000 requests against 100, time to first
//! frame from a store of 10,000 requests, and CPU used by the real program
//! over 30 idle seconds.
//!
//! Run: `cargo run --release --example tui_bench` (add `-- --quick` for a
//! shorter idle window). The idle measurement runs `concierge demo` in a
//! detached tmux session (tmux must be installed) and reads the process's
//! user+system CPU time from /proc before and after.

use concierge::estimate::Rates;
use concierge::store::Location;
use concierge::tui::state::State;
use concierge_test_support::bench::{first_frame, median, seeded_store};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use std::time::{Duration, Instant};

fn frame_time(state: &mut State, frames: usize) -> Duration {
    let mut terminal = Terminal::new(TestBackend::new(120, 40)).unwrap();
    let mut times = Vec::with_capacity(frames);
    for i in 0..frames {
        // Move the selection like a person scrolling, so the window moves too.
        state.selected = (i * 7) % state.visible.len().max(1);
        let t = Instant::now();
        terminal
            .draw(|f| concierge::tui::ui::render(f, state))
            .unwrap();
        times.push(t.elapsed());
    }
    median(times)
}

fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

fn idle_cpu(window: Duration) -> Option<f64> {
    let exe = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/concierge");
    if !exe.exists() {
        eprintln!("(build the release binary first: cargo build --release)");
        return None;
    }
    let name = format!("concierge-bench-{}", std::process::id());
    let ok = std::process::Command::new("tmux")
        .args(["new-session", "-d", "-s", &name, "-x", "120", "-y", "40"])
        .arg(format!("{} demo", exe.display()))
        .status()
        .ok()?
        .success();
    if !ok {
        return None;
    }
    // Find the TUI process (the demo's, not its backend child).
    let mut pid = None;
    let deadline = Instant::now() + Duration::from_secs(10);
    while pid.is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        let out = std::process::Command::new("tmux")
            .args(["list-panes", "-t", &name, "-F", "#{pane_pid}"])
            .output()
            .ok()?;
        pid = String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse::<u32>()
            .ok();
    }
    let pid = pid?;
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    if comm.trim() != "concierge" {
        eprintln!("(the tmux pane runs {comm:?}, not concierge)");
        return None;
    }
    // Let the demo settle: inbox synced, requests looked up.
    std::thread::sleep(Duration::from_secs(5));
    let before = cpu_ticks(pid)?;
    std::thread::sleep(window);
    let after = cpu_ticks(pid)?;
    let _ = std::process::Command::new("tmux")
        .args(["send-keys", "-t", &name, "q"])
        .status();
    std::thread::sleep(Duration::from_millis(500));
    let _ = std::process::Command::new("tmux")
        .args(["kill-session", "-t", &name])
        .status();
    let hz = 100.0; // USER_HZ on Linux
    Some((after - before) as f64 / hz)
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let dir = tempfile::tempdir().unwrap();
    println!("Concierge TUI benchmark (120×40 TestBackend; medians)");

    // Frame time, 100 vs 10,000 requests.
    let mut results = Vec::new();
    for n in [100usize, 10_000] {
        let store = seeded_store(&dir.path().join(format!("s{n}.db")), n);
        let reqs = store.load_requests().unwrap();
        let mut state = State::new(reqs, Rates::default(), "bench".into(), chrono::Utc::now());
        let _ = frame_time(&mut state, 20); // warm up
        let t = frame_time(&mut state, 300);
        println!(
            "frame time, {n:>6} requests: {:>8.1} µs",
            t.as_secs_f64() * 1e6
        );
        results.push(t);
    }
    println!(
        "ratio 10,000 / 100: {:.2}× (goal ≤ 1.5×)",
        results[1].as_secs_f64() / results[0].as_secs_f64()
    );

    // Time to first frame from a store of 10,000 requests (store already on disk).
    let first = first_frame(&Location::Sqlite(dir.path().join("s10000.db")), 10_000).total;
    println!("time to first frame, 10,000 requests: {:.1} ms (open store, load, derive, draw; median of 7)", first.as_secs_f64() * 1e3);

    let window = if quick {
        Duration::from_secs(10)
    } else {
        Duration::from_secs(30)
    };
    match idle_cpu(window) {
        Some(cpu) => println!(
            "CPU over {}s idle (concierge demo in tmux): {cpu:.2} s (goal < 0.1 s)",
            window.as_secs()
        ),
        None => println!("CPU while idle: not measured (needs tmux and target/release/concierge)"),
    }
}

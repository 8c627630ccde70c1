//! Sync benchmark: Concierge's first IMAP sync against `mbsync`, plus the
//! cost of a poll with nothing new and the peak memory of a first sync.
//!
//! ```text
//! cargo run --release --example sync_bench [-- --messages 10000 --runs 5]
//! ```
//!
//! Options: `--messages N` (default 10000), `--runs R` (default 5),
//! `--polls P` (empty polls timed, default 50), `--small N` (the smaller
//! mailbox of the memory comparison, default 2000), `--shape NAME` (the
//! mailbox's shape, `mailbox::SHAPES`: mixed, small-attachments,
//! big-headers, long-bodies, relays-long-bodies; default mixed),
//! `--no-breakdown` (skip the where-does-the-time-go section), `--no-wait` (do not wait for idle CPUs
//! before each timed run). `--child-sync PORT USER PASS STORE` is
//! internal: the memory measurement re-runs this binary in that mode.
//! `--cpu`: after the warm-up, only CPU seconds per first sync, ours and
//! Dovecot's against mbsync's and Dovecot's (`cpu.rs`), `--runs` times.
//! `--profile-intake [--shape NAME] [--messages N]`: inspect and store a
//! shape's messages in memory, no network, for callgrind (`profile.rs`).
//!
//! What it does (docs/perf-sync.md has the method and the results):
//! 1. Puts every temp dir on tmpfs (`TMPDIR=/dev/shm` unless TMPDIR is set).
//! 2. Starts a private Dovecot (crates/test-support) and seeds a deterministic
//!    mailbox of the chosen shape (`mailbox.rs`).
//! 3. Per run, in alternating order: Concierge's first sync into a new SQLite
//!    store (connect + login + `sync_once`, checked: every request stored)
//!    and `mbsync` pulling INBOX into a new Maildir (a subprocess).
//! 4. Empty polls: `sync_once` again on a synced source, timed; and the IMAP
//!    commands it sends, counted by a loopback proxy (`tools.rs`).
//! 5. Peak RSS (VmHWM) of a first sync in a child process, for the small
//!    mailbox and for the full one.
//! 6. A breakdown of the first sync (fetch / inspect / store).

mod cpu;
mod mailbox;
mod profile;
use concierge_test_support as support;
mod tools;

use concierge::inbox::imap::ImapSource;
use concierge::inbox::{MsgRef, Source, BATCH, FETCH_PREFIX};
use concierge::intake;
use concierge::secret::Secret;
use concierge::store::{Cursor, Store};
use concierge::sync::sync_once;
use mailbox::*;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::dovecot::Dovecot;
use support::imap_server::plain_at;
use tools::*;

const AUTHSERV: &str = "mx.ochrehq.com";

// ---------------------------------------------------------------- options

struct Opts {
    messages: usize,
    runs: usize,
    polls: usize,
    small: usize,
    breakdown: bool,
    wait: bool,
    /// `--cpu`: only the CPU comparison (`cpu.rs`) after the warm-up.
    cpu: bool,
}

fn parse_args() -> Opts {
    let mut o = Opts {
        messages: 10_000,
        runs: 5,
        polls: 50,
        small: 2_000,
        breakdown: true,
        wait: true,
        cpu: false,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    let num = |i: usize| -> usize {
        args.get(i + 1)
            .and_then(|v| v.replace('_', "").parse().ok())
            .unwrap_or_else(|| panic!("{} needs a number", args[i]))
    };
    while i < args.len() {
        match args[i].as_str() {
            "--messages" => o.messages = num(i),
            "--runs" => o.runs = num(i),
            "--polls" => o.polls = num(i),
            "--small" => o.small = num(i),
            "--shape" => {
                let name = args.get(i + 1).map(String::as_str).unwrap_or("");
                let found = SHAPES.iter().find(|s| s.name == name).unwrap_or_else(|| {
                    let names: Vec<&str> = SHAPES.iter().map(|s| s.name).collect();
                    panic!("--shape must be one of {names:?}")
                });
                SHAPE.set(*found).expect("--shape given twice");
            }
            "--no-breakdown" => {
                o.breakdown = false;
                i += 1;
                continue;
            }
            "--no-wait" => {
                o.wait = false;
                i += 1;
                continue;
            }
            "--cpu" => {
                o.cpu = true;
                i += 1;
                continue;
            }
            "-h" | "--help" => {
                println!(
                    "sync_bench [--messages N] [--runs R] [--polls P] [--small N] [--shape NAME] [--no-breakdown] [--no-wait] [--cpu]"
                );
                std::process::exit(0);
            }
            other => panic!("unknown argument {other:?} (try --help)"),
        }
        i += 2;
    }
    assert!(o.runs >= 1 && o.polls >= 1 && o.messages >= 1);
    o.small = o.small.min(o.messages);
    o
}

// ---------------------------------------------------------------- Concierge

struct FirstSync {
    secs: f64,
    requests: i64,
    seen: usize,
}

/// Connect + login + `sync_once` into a new store at `store_path`.
fn concierge_first_sync(port: u16, user: &str, pass: &str, store_path: &Path) -> FirstSync {
    let cfg = plain_at(port, user);
    let secret = Secret::new(pass);
    let t = Instant::now();
    let mut store = Store::open(store_path).expect("open store");
    let mut src = ImapSource::connect(&cfg, &secret).expect("connect");
    let report = sync_once(&mut src, &mut store, AUTHSERV).expect("sync_once");
    let secs = secs(t.elapsed());
    src.logout();
    FirstSync {
        secs,
        requests: store.request_count().expect("count"),
        seen: report.seen,
    }
}

/// `--child-sync PORT USER PASS STORE`: one first sync, then the peak RSS.
fn child_sync(args: &[String]) -> ! {
    let port: u16 = args[0].parse().expect("port");
    let rss_start = proc_status_kb("VmRSS:");
    let r = concierge_first_sync(port, &args[1], &args[2], Path::new(&args[3]));
    println!(
        "CHILD vmhwm_kb={} vmrss_start_kb={} requests={} seen={} secs={:.4}",
        proc_status_kb("VmHWM:"),
        rss_start,
        r.requests,
        r.seen,
        r.secs
    );
    std::process::exit(0);
}

struct ChildResult {
    hwm_kb: u64,
    start_kb: u64,
    requests: i64,
    seen: usize,
}

fn measure_rss(dv: &Dovecot) -> ChildResult {
    let dir = tmp("sync-bench-rss-");
    let out = Command::new(std::env::current_exe().expect("current_exe"))
        .arg("--child-sync")
        .arg(dv.imap_port().to_string())
        .arg(dv.user())
        .arg(dv.password())
        .arg(dir.path().join("store.db"))
        .stderr(Stdio::inherit())
        .output()
        .expect("run child");
    assert!(out.status.success(), "child sync failed: {}", out.status);
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("CHILD "))
        .unwrap_or_else(|| panic!("child printed no result: {text}"));
    let get = |k: &str| -> String {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(&format!("{k}=")).map(String::from))
            .unwrap_or_default()
    };
    ChildResult {
        hwm_kb: get("vmhwm_kb").parse().unwrap(),
        start_kb: get("vmrss_start_kb").parse().unwrap(),
        requests: get("requests").parse().unwrap(),
        seen: get("seen").parse().unwrap(),
    }
}

// ---------------------------------------------------------------- breakdown

#[derive(Default)]
struct Breakdown {
    connect: f64,
    list: f64,
    fetch: f64,
    inspect: f64,
    store: f64,
    parse_only: f64,
    total: f64,
    fetched_bytes: u64,
    truncated: usize,
    requests: i64,
}

/// `sync_once`'s steps, each timed (same calls, same order; see src/sync.rs).
fn instrumented_sync(port: u16, user: &str, pass: &str) -> Breakdown {
    let dir = tmp("sync-bench-bd-");
    let mut b = Breakdown::default();
    let t0 = Instant::now();
    let mut store = Store::open(&dir.path().join("store.db")).unwrap();
    let mut src = ImapSource::connect(&plain_at(port, user), &Secret::new(pass)).unwrap();
    b.connect = secs(t0.elapsed());
    let key = src.mailbox_key();
    let t = Instant::now();
    let cursor = store.cursor(&key).unwrap();
    let listing = src.list_new(cursor).unwrap();
    b.list = secs(t.elapsed());
    let uidvalidity = listing.uidvalidity.unwrap();
    let mut last_uid = 0;
    let opts_full = intake::Options {
        authserv_id: AUTHSERV,
        truncated: false,
    };
    for chunk in listing.refs.chunks(BATCH) {
        let t = Instant::now();
        let fetched = src.fetch(chunk).unwrap();
        b.fetch += secs(t.elapsed());
        let t = Instant::now();
        let mut items = Vec::with_capacity(fetched.len());
        for f in &fetched {
            b.fetched_bytes += f.raw.len() as u64;
            b.truncated += f.truncated as usize;
            let opts = intake::Options {
                truncated: f.truncated,
                ..opts_full.clone()
            };
            let mut msg = intake::inspect_export_mail(&f.raw, &opts);
            let key = msg.store_key(&f.raw);
            if let MsgRef::Uid(u) = f.r#ref {
                msg.uid = Some(u);
                last_uid = last_uid.max(u);
            }
            items.push((msg, key, None));
        }
        b.inspect += secs(t.elapsed());
        // For comparison only (taken out of the total): mail-parser alone on
        // the same bytes.
        let t = Instant::now();
        for f in &fetched {
            std::hint::black_box(mail_parser::MessageParser::default().parse(f.raw.as_slice()));
        }
        b.parse_only += secs(t.elapsed());
        let t = Instant::now();
        store
            .store_batch(
                &key,
                &items,
                Some(Cursor {
                    uidvalidity,
                    last_uid,
                }),
            )
            .unwrap();
        b.store += secs(t.elapsed());
    }
    b.total = secs(t0.elapsed()) - b.parse_only;
    b.requests = store.request_count().unwrap();
    src.logout();
    b
}

// ---------------------------------------------------------------- main

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--child-sync") {
        child_sync(&args[2..]);
    }
    if args.get(1).map(String::as_str) == Some("--profile-intake") {
        profile::profile_intake(&args[2..]);
    }
    // Everything (Dovecot's mail, stores, mbsync mirrors) on tmpfs: disk
    // timings on this VM are noisy. Set before any temp dir is made.
    if std::env::var_os("TMPDIR").is_none() && Path::new("/dev/shm").is_dir() {
        std::env::set_var("TMPDIR", "/dev/shm");
    }
    let o = parse_args();
    let mbsync = mbsync_available();

    println!(
        "sync_bench: shape {}, {} messages, {} runs, {} empty polls",
        shape().name,
        o.messages,
        o.runs,
        o.polls
    );
    let t = Instant::now();
    let dv = Dovecot::start();
    let (port, user, pass) = (dv.imap_port(), dv.user(), dv.password());
    println!(
        "Dovecot on 127.0.0.1:{port} (plaintext IMAP), data in {} ({})",
        dv.dir().display(),
        fs_type(dv.dir())
    );
    let mut seeded = Seeded::default();
    seed(&dv, 0..o.small, &mut seeded);
    let small = seeded;

    // ---- peak RSS, small mailbox (after one warm-up pass over it).
    let warm = concierge_first_sync(
        port,
        user,
        pass,
        &tmp("sync-bench-warm-").path().join("s.db"),
    );
    assert_eq!(warm.requests as usize, small.requests);
    let rss_small = measure_rss(&dv);
    assert_eq!(rss_small.requests as usize, small.requests);
    assert_eq!(rss_small.seen, small.messages);

    // ---- the full mailbox.
    seed(&dv, o.small..o.messages, &mut seeded);
    println!(
        "seeded {} messages, {:.1} MB ({} bytes), {} export requests ({:.2} %), {} with attachments, in {:.1} s",
        seeded.messages,
        seeded.bytes as f64 / 1e6,
        seeded.bytes,
        seeded.requests,
        seeded.requests as f64 * 100.0 / seeded.messages as f64,
        seeded.with_attachment,
        t.elapsed().as_secs_f64()
    );
    // Warm-up: Dovecot indexes the new files on first access; one untimed
    // pass of each client so neither pays for it.
    let warm = concierge_first_sync(
        port,
        user,
        pass,
        &tmp("sync-bench-warm-").path().join("s.db"),
    );
    assert_eq!(warm.requests as usize, seeded.requests);
    if let Some(bin) = &mbsync {
        let m = mbsync_run(bin, port, user, pass);
        assert_eq!(
            m.files, seeded.messages,
            "mbsync mirrored {} files",
            m.files
        );
    }

    if o.cpu {
        cpu::compare(o.runs, mbsync.as_deref(), &dv, &seeded);
        return;
    }
    let (c_times, m_times) = first_syncs(&o, mbsync.as_deref(), &dv, &seeded);

    let polls = empty_polls(&o, mbsync.as_deref(), &dv, &seeded);

    // ---- peak RSS, full mailbox.
    let rss_full = measure_rss(&dv);
    assert_eq!(rss_full.requests as usize, seeded.requests);
    assert_eq!(rss_full.seen, seeded.messages);

    // ---- breakdown.
    let mut breakdown = Vec::new();
    if o.breakdown {
        for _ in 0..3 {
            quiet(&o);
            breakdown.push(instrumented_sync(port, user, pass));
        }
    }

    report(
        &o,
        &dv,
        &Run {
            seeded,
            small,
            rss_small,
            rss_full,
            c_times,
            m_times,
            polls,
            breakdown,
        },
    );
}

fn fmt_ratio(a: u64, b: u64) -> String {
    if a % b == 0 {
        format!("{}", a / b)
    } else {
        format!("{:.2}", a as f64 / b as f64)
    }
}

/// Concierge's first sync and `mbsync`, `o.runs` times each, alternating
/// which goes first. Returns (Concierge's times, mbsync's times).
fn first_syncs(
    o: &Opts,
    mbsync: Option<&Path>,
    dv: &Dovecot,
    seeded: &Seeded,
) -> (Vec<f64>, Vec<f64>) {
    let (port, user, pass) = (dv.imap_port(), dv.user(), dv.password());
    let mut c_times = Vec::new();
    let mut m_times = Vec::new();
    for run in 0..o.runs {
        let concierge_first = run % 2 == 0;
        for step in 0..2 {
            quiet(o);
            if (step == 0) == concierge_first {
                let dir = tmp("sync-bench-store-");
                let r = concierge_first_sync(port, user, pass, &dir.path().join("store.db"));
                assert_eq!(
                    r.requests as usize, seeded.requests,
                    "run {run}: stored {} requests, seeded {}",
                    r.requests, seeded.requests
                );
                assert_eq!(r.seen, seeded.messages);
                c_times.push(r.secs);
            } else if let Some(bin) = mbsync {
                let m = mbsync_run(bin, port, user, pass);
                assert_eq!(m.files, seeded.messages);
                m_times.push(m.secs);
            }
        }
        println!(
            "run {}: concierge {:.3} s{}",
            run + 1,
            c_times.last().unwrap(),
            m_times
                .last()
                .map(|m| format!(", mbsync {m:.3} s"))
                .unwrap_or_default()
        );
    }
    (c_times, m_times)
}

/// What a poll with nothing new costs, and what the first sync and mbsync
/// send, counted by the proxy.
struct Polls {
    times: Vec<f64>,
    first_cmds: u64,
    first_down: u64,
    poll_cmds: u64,
    poll_up: u64,
    poll_down: u64,
    verbs: Vec<String>,
    mbsync_proxy: Option<(u64, u64)>,
}

/// Empty polls: timed on a direct connection, then counted through the
/// proxy (and mbsync through the proxy once).
fn empty_polls(o: &Opts, mbsync: Option<&Path>, dv: &Dovecot, seeded: &Seeded) -> Polls {
    let (port, user, pass) = (dv.imap_port(), dv.user(), dv.password());
    // ---- empty poll: timed on a direct connection.
    let store_dir = tmp("sync-bench-poll-");
    let mut store = Store::open(&store_dir.path().join("store.db")).unwrap();
    let mut src = ImapSource::connect(&plain_at(port, user), &Secret::new(pass)).unwrap();
    let first = sync_once(&mut src, &mut store, AUTHSERV).unwrap();
    assert_eq!(first.seen, seeded.messages);
    let mut poll_times = Vec::new();
    for _ in 0..o.polls {
        let t = Instant::now();
        let r = sync_once(&mut src, &mut store, AUTHSERV).unwrap();
        poll_times.push(secs(t.elapsed()));
        assert_eq!(r.seen, 0);
    }
    src.logout();
    drop(store);

    // ---- empty poll: round trips, through the counting proxy.
    let proxy = Proxy::start(port);
    let proxy_store = tmp("sync-bench-proxy-");
    let mut store = Store::open(&proxy_store.path().join("store.db")).unwrap();
    let mut src = ImapSource::connect(&plain_at(proxy.port, user), &Secret::new(pass)).unwrap();
    proxy.reset();
    let first = sync_once(&mut src, &mut store, AUTHSERV).unwrap();
    assert_eq!(first.seen, seeded.messages);
    let first_cmds = proxy.commands.load(Ordering::SeqCst);
    let first_down = proxy.down.load(Ordering::SeqCst);
    proxy.reset();
    for _ in 0..o.polls {
        let r = sync_once(&mut src, &mut store, AUTHSERV).unwrap();
        assert_eq!(r.seen, 0);
    }
    let poll_cmds = proxy.commands.load(Ordering::SeqCst);
    let poll_up = proxy.up.load(Ordering::SeqCst);
    let poll_down = proxy.down.load(Ordering::SeqCst);
    let mut poll_verbs = proxy.verbs.lock().unwrap().clone();
    poll_verbs.dedup();
    src.logout();
    drop(store);
    // mbsync through the proxy once, for its bytes and commands.
    let mbsync_proxy = mbsync.map(|bin| {
        std::thread::sleep(Duration::from_millis(50));
        proxy.reset();
        let m = mbsync_run(bin, proxy.port, user, pass);
        assert_eq!(m.files, seeded.messages);
        (
            proxy.commands.load(Ordering::SeqCst),
            proxy.down.load(Ordering::SeqCst),
        )
    });
    Polls {
        times: poll_times,
        first_cmds,
        first_down,
        poll_cmds,
        poll_up,
        poll_down,
        verbs: poll_verbs,
        mbsync_proxy,
    }
}

/// Everything one benchmark run measured.
struct Run {
    seeded: Seeded,
    small: Seeded,
    rss_small: ChildResult,
    rss_full: ChildResult,
    c_times: Vec<f64>,
    m_times: Vec<f64>,
    polls: Polls,
    breakdown: Vec<Breakdown>,
}

/// Prints the results as Markdown tables (what the README quotes).
fn report(o: &Opts, dv: &Dovecot, r: &Run) {
    let c = stats(&r.c_times);
    println!();
    println!("## Results");
    println!();
    println!(
        "mailbox ({}): {} messages, {:.1} MB, {} export requests, {} with attachments; data on {}",
        shape().name,
        r.seeded.messages,
        r.seeded.bytes as f64 / 1e6,
        r.seeded.requests,
        r.seeded.with_attachment,
        fs_type(dv.dir())
    );
    println!();
    println!("| measurement | median | min | max | n |");
    println!("| --- | --- | --- | --- | --- |");
    println!(
        "| Concierge first sync (connect, login, sync_once, {} requests stored) | {:.3} s | {:.3} s | {:.3} s | {} |",
        r.seeded.requests, c.median, c.min, c.max, r.c_times.len()
    );
    if !r.m_times.is_empty() {
        let m = stats(&r.m_times);
        println!(
            "| mbsync mirroring INBOX to a Maildir | {:.3} s | {:.3} s | {:.3} s | {} |",
            m.median,
            m.min,
            m.max,
            r.m_times.len()
        );
        println!(
            "| ratio Concierge / mbsync (medians) | {:.2}× | | | goal ≤ 0.75× |",
            c.median / m.median
        );
    } else {
        println!("| mbsync | not installed (apt-get install isync) | | | |");
    }
    let p = stats(&r.polls.times);
    println!(
        "| empty poll (sync_once, nothing new) | {:.3} ms | {:.3} ms | {:.3} ms | {} |",
        p.median * 1e3,
        p.min * 1e3,
        p.max * 1e3,
        r.polls.times.len()
    );
    println!(
        "| round trips per empty poll | {} | | | {} r.polls; commands: {} |",
        fmt_ratio(r.polls.poll_cmds, o.polls as u64),
        o.polls,
        r.polls.verbs.join(", ")
    );
    println!(
        "| bytes per empty poll (client→server / server→client) | {} / {} | | | |",
        r.polls.poll_up / o.polls as u64,
        r.polls.poll_down / o.polls as u64
    );
    println!(
        "| peak RSS of a first sync, {} messages | {:.1} MB | | | at start {:.1} MB |",
        r.small.messages,
        r.rss_small.hwm_kb as f64 / 1024.0,
        r.rss_small.start_kb as f64 / 1024.0
    );
    println!(
        "| peak RSS of a first sync, {} messages | {:.1} MB | | | at start {:.1} MB |",
        r.seeded.messages,
        r.rss_full.hwm_kb as f64 / 1024.0,
        r.rss_full.start_kb as f64 / 1024.0
    );
    println!();
    println!(
        "timed steps that started while other processes kept the CPUs busy (after waiting 60 s for < 10 %): {}",
        BUSY_STEPS.load(Ordering::SeqCst)
    );
    println!(
        "first sync over the wire: {} IMAP commands, {:.1} MB server→client",
        r.polls.first_cmds,
        r.polls.first_down as f64 / 1e6
    );
    if let Some((cmds, down)) = r.polls.mbsync_proxy {
        println!(
            "mbsync over the wire:     {} IMAP commands, {:.1} MB server→client",
            cmds,
            down as f64 / 1e6
        );
    }
    if !r.breakdown.is_empty() {
        report_breakdown(r);
    }
}

/// The "where does the time go" section of [`report`].
fn report_breakdown(r: &Run) {
    let med =
        |f: fn(&Breakdown) -> f64| stats(&r.breakdown.iter().map(f).collect::<Vec<_>>()).median;
    println!();
    println!(
        "### Where the first sync's time goes (medians of {} instrumented runs)",
        r.breakdown.len()
    );
    println!();
    println!("| step | time |");
    println!("| --- | --- |");
    println!(
        "| store open + connect + login + CAPABILITY | {:.3} s |",
        med(|b| b.connect)
    );
    println!("| EXAMINE + UID SEARCH | {:.3} s |", med(|b| b.list));
    println!(
        "| UID FETCH `BODY.PEEK[]<0.{FETCH_PREFIX}>`, {} batches | {:.3} s |",
        r.seeded.messages.div_ceil(BATCH),
        med(|b| b.fetch)
    );
    println!(
        "| intake::inspect (parse, sanitize, classify) | {:.3} s |",
        med(|b| b.inspect)
    );
    println!(
        "| (of which mail-parser's parse alone, measured separately) | ({:.3} s) |",
        med(|b| b.parse_only)
    );
    println!(
        "| store_batch (SQLite, one transaction per batch) | {:.3} s |",
        med(|b| b.store)
    );
    println!("| total | {:.3} s |", med(|b| b.total));
    let b0 = &r.breakdown[0];
    println!();
    println!(
        "fetched {:.1} MB of message text ({} messages truncated at {} KB); {} requests stored",
        b0.fetched_bytes as f64 / 1e6,
        b0.truncated,
        FETCH_PREFIX / 1024,
        b0.requests
    );
}

//! Sync benchmark: Concierge's first IMAP sync against `mbsync`, plus the
//! cost of a poll with nothing new and the peak memory of a first sync.
//!
//! ```text
//! cargo run --release --example sync_bench [-- --messages 10000 --runs 5]
//! ```
//!
//! Options: `--messages N` (default 10000), `--runs R` (default 5),
//! `--polls P` (empty polls timed, default 50), `--small N` (the smaller
//! mailbox of the memory comparison, default 2000), `--no-breakdown` (skip
//! the where-does-the-time-go section), `--no-wait` (do not wait for idle
//! CPUs before each timed run). `--child-sync PORT USER PASS STORE`
//! is internal: the memory measurement re-runs this binary in that mode.
//!
//! What it does (docs/perf-sync.md has the method and the results):
//! 1. Puts every temp dir on tmpfs (`TMPDIR=/dev/shm` unless TMPDIR is set).
//! 2. Starts a private Dovecot (tests/support) and seeds a deterministic
//!    mailbox: ~58 MB for 10,000 messages, ~3 % of them pre-filled export
//!    requests, ~3 % with base64 attachments of tens to hundreds of KB.
//! 3. Per run, in alternating order: Concierge's first sync into a new SQLite
//!    store (connect + login + `sync_once`, checked: every request stored)
//!    and `mbsync` pulling INBOX into a new Maildir (a subprocess).
//! 4. Empty polls: `sync_once` again on a synced source, timed; and the IMAP
//!    commands it sends, counted by a loopback proxy.
//! 5. Peak RSS (VmHWM) of a first sync in a child process, for the small
//!    mailbox and for the full one.
//! 6. A breakdown of the first sync (fetch / inspect / store), other FETCH
//!    shapes, and prototypes of a faster first sync (not Concierge's code:
//!    a literal-aware response reader, a smaller prefix, inspect + store on
//!    a second thread), to show where the time goes.
//!
//! Diagnostics (environment variables): `SYNC_BENCH_IMAP_MICRO=1` times the
//! imap crate parsing canned FETCH responses of equal size and different
//! line lengths; `SYNC_BENCH_PROFILE_INSPECT=1` runs `intake::inspect` over
//! the fetched mailbox 10 times (for `perf record`).

#[path = "../tests/support/mod.rs"]
mod support;

use concierge::config::{Connection, Security};
use concierge::inbox::imap::ImapSource;
use concierge::inbox::{MsgRef, Source, BATCH, FETCH_PREFIX};
use concierge::intake::{self, Kind};
use concierge::secret::Secret;
use concierge::store::{Cursor, Store};
use concierge::sync::sync_once;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::dovecot::Dovecot;

const AUTHSERV: &str = "mx.ochrehq.com";

// ---------------------------------------------------------------- options

struct Opts {
    messages: usize,
    runs: usize,
    polls: usize,
    small: usize,
    breakdown: bool,
    wait: bool,
}

fn parse_args() -> Opts {
    let mut o = Opts {
        messages: 10_000,
        runs: 5,
        polls: 50,
        small: 2_000,
        breakdown: true,
        wait: true,
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
            "-h" | "--help" => {
                println!(
                    "sync_bench [--messages N] [--runs R] [--polls P] [--small N] [--no-breakdown] [--no-wait]"
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

// ---------------------------------------------------------------- the mailbox

/// splitmix64: a fixed, seedable stream (no `rand`, so the corpus never
/// changes between versions).
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03)
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len() as u64) as usize]
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Message `i` is an export request when `i % 33 == 16` (3.03 %).
fn is_request(i: usize) -> bool {
    i % 33 == 16
}

const FIRST: &[&str] = &[
    "Ada",
    "Grace",
    "Linus",
    "Margaret",
    "Ken",
    "Barbara",
    "Dennis",
    "Frances",
    "Alan",
    "Radia",
    "Edsger",
    "Hedy",
    "John",
    "Katherine",
    "Niklaus",
    "Sophie",
    "Tim",
    "Lena",
    "Omar",
    "Priya",
];
const LAST: &[&str] = &[
    "Lovelace", "Hopper", "Torvalds", "Hamilton", "Thompson", "Liskov", "Ritchie", "Allen",
    "Turing", "Perlman", "Dijkstra", "Lamarr", "Backus", "Johnson", "Wirth", "Wilson", "Berners",
    "Nowak", "Haddad", "Raman",
];
const DOMAINS: &[&str] = &[
    "acme.example",
    "globex.example",
    "initech.example",
    "umbrella.example",
    "hooli.example",
    "vandelay.example",
    "stark.example",
    "wayne.example",
    "cyberdyne.example",
    "soylent.example",
];
// No word here may trip the classifier's export rules (export/copy/download/
// archive/backup…, all/full/entire…, data/workspace/account…): the benchmark
// checks that exactly the seeded requests end up in the store.
const WORDS: &[&str] = &[
    "hello",
    "team",
    "thanks",
    "question",
    "about",
    "the",
    "new",
    "billing",
    "page",
    "when",
    "we",
    "try",
    "to",
    "invite",
    "a",
    "colleague",
    "it",
    "shows",
    "an",
    "error",
    "message",
    "could",
    "you",
    "please",
    "help",
    "us",
    "with",
    "this",
    "our",
    "project",
    "board",
    "looks",
    "slow",
    "since",
    "yesterday",
    "is",
    "there",
    "way",
    "rename",
    "labels",
    "in",
    "sidebar",
    "I",
    "think",
    "something",
    "changed",
    "after",
    "last",
    "update",
    "also",
    "mobile",
    "app",
    "crashes",
    "sometimes",
    "on",
    "login",
    "kind",
    "regards",
    "best",
    "cheers",
    "meeting",
    "notes",
    "for",
    "Tuesday",
    "agenda",
    "invoice",
    "number",
    "seems",
    "wrong",
    "price",
    "plan",
    "upgrade",
    "trial",
    "ends",
    "soon",
    "integration",
    "calendar",
    "sync",
    "works",
    "fine",
    "now",
];
const TOPICS: &[&str] = &[
    "Question about billing",
    "Invite not arriving",
    "Sidebar labels",
    "Mobile app crash",
    "Calendar integration",
    "Plan upgrade",
    "Slow board",
    "Login trouble",
    "Invoice number",
    "Meeting notes",
    "Feature idea",
    "Trial extension",
];

fn person(rng: &mut Rng) -> (String, String) {
    let first = rng.pick(FIRST);
    let last = rng.pick(LAST);
    let domain = rng.pick(DOMAINS);
    (
        format!("{first} {last}"),
        format!("{}.{}@{domain}", first.to_lowercase(), last.to_lowercase()),
    )
}

fn prose(rng: &mut Rng, bytes: usize) -> String {
    let mut out = String::with_capacity(bytes + 80);
    let mut line = 0;
    while out.len() < bytes {
        let w = rng.pick(WORDS);
        if line + w.len() + 1 > 72 {
            out.push_str("\r\n");
            line = 0;
            if rng.below(6) == 0 {
                out.push_str("\r\n");
            }
        } else if line > 0 {
            out.push(' ');
            line += 1;
        }
        out.push_str(w);
        line += w.len();
    }
    out.push_str("\r\n");
    out
}

fn b64_folded(bytes: &[u8]) -> String {
    use base64::Engine;
    let s = base64::engine::general_purpose::STANDARD.encode(bytes);
    let mut out = String::with_capacity(s.len() + s.len() / 76 * 2 + 2);
    for chunk in s.as_bytes().chunks(76) {
        out.push_str(std::str::from_utf8(chunk).unwrap());
        out.push_str("\r\n");
    }
    out
}

fn random_bytes(rng: &mut Rng, n: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(n + 8);
    while v.len() < n {
        v.extend_from_slice(&rng.next().to_le_bytes());
    }
    v.truncate(n);
    v
}

/// Message `i` of the benchmark mailbox. Deterministic in `i`.
fn message(i: usize) -> Vec<u8> {
    let mut rng = Rng::new(i as u64 + 1);
    let (name, addr) = person(&mut rng);
    let domain = addr.rsplit_once('@').unwrap().1.to_string();
    let date = chrono::DateTime::from_timestamp(1_793_000_000 + i as i64 * 263, 0)
        .unwrap()
        .to_rfc2822();
    let host = format!("mail-{}.{domain}", rng.below(90) + 10);
    let ip = format!("203.0.113.{}", rng.below(250) + 1);
    let qid = format!("{:012X}", rng.next() >> 16);
    let bh = b64_folded(&random_bytes(&mut rng, 32));
    let sig = b64_folded(&random_bytes(&mut rng, 256));
    let mut sig_folded = String::new();
    for l in sig.lines() {
        sig_folded.push_str("\r\n\t");
        sig_folded.push_str(l);
    }
    let request = is_request(i);
    let roll = rng.below(1000);
    // 3 % of ordinary mail and every 10th request carry an attachment.
    let attachment = if request {
        (i / 33) % 10 == 0
    } else {
        roll < 30
    };
    let reply = !request && (30..330).contains(&roll) && i > 0;
    let auto = !request && (330..350).contains(&roll);
    let html = !request && rng.below(4) == 0;

    let mut subject;
    let mut text;
    let mut extra_headers = String::new();
    if request {
        let ws = format!("{} {}", rng.pick(LAST), i);
        subject = format!("Data export request: {ws}");
        let id = rng.next();
        let notes_len = 200 + rng.below(400) as usize;
        text = format!(
            "This request was sent from the Ochre help center form.\r\n\r\n\
             Workspace: {ws}\r\n\
             Workspace ID: {:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}\r\n\
             Requested by: {name} <{addr}>\r\n\
             Role: owner\r\n\r\n\
             Notes:\r\n{}",
            id as u32,
            (id >> 32) as u16,
            (id >> 48) & 0xfff,
            (id >> 20) & 0xfff,
            rng.next() & 0xffff_ffff_ffff,
            prose(&mut rng, notes_len)
        );
    } else {
        let topic = rng.pick(TOPICS);
        subject = format!("{topic} #{}", 1000 + rng.below(9000));
        let body_len = 250 + rng.below(1400) as usize;
        text = format!(
            "Hi Ochre team,\r\n\r\n{}\r\n{}\r\n-- \r\n{name}\r\n",
            prose(&mut rng, body_len),
            rng.pick(&["Thanks!", "Best regards,", "Cheers,", "Kind regards,"])
        );
        if reply {
            let j = rng.below(i as u64);
            let parent = format!("<m{j}.{:x}@{}>", j * 7919, rng.pick(DOMAINS));
            subject = format!("Re: {subject}");
            extra_headers.push_str(&format!(
                "In-Reply-To: {parent}\r\nReferences: {parent}\r\n"
            ));
            text.push_str("\r\n");
            let quote_len = 200 + rng.below(800) as usize;
            for l in prose(&mut rng, quote_len).lines() {
                text.push_str("> ");
                text.push_str(l);
                text.push_str("\r\n");
            }
        }
        if auto {
            subject = format!("Automatic reply: {subject}");
            extra_headers.push_str("Auto-Submitted: auto-replied\r\n");
        }
    }

    let mut m = String::with_capacity(4096);
    m.push_str(&format!(
        "Return-Path: <{addr}>\r\n\
         Delivered-To: hello@ochrehq.com\r\n\
         Received: from {host} ({host} [{ip}])\r\n\
         \tby mx.ochrehq.com (Postfix) with ESMTPS id {qid}\r\n\
         \tfor <hello@ochrehq.com>; {date}\r\n\
         Received: by {host} with SMTP id {}; {date}\r\n\
         DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d={domain}; s=s2026;\r\n\
         \th=from:to:subject:date:message-id:mime-version; bh={};\r\n\
         \tb={}\r\n\
         Authentication-Results: mx.ochrehq.com;\r\n\
         \tdkim=pass header.d={domain};\r\n\
         \tspf=pass smtp.mailfrom={domain};\r\n\
         \tdmarc=pass header.from={domain}\r\n\
         From: {name} <{addr}>\r\n\
         To: Ochre Support <hello@ochrehq.com>\r\n\
         Subject: {subject}\r\n\
         Date: {date}\r\n\
         Message-ID: <m{i}.{:x}@{domain}>\r\n\
         {extra_headers}\
         MIME-Version: 1.0\r\n",
        rng.next() >> 20,
        bh.trim_end(),
        sig_folded.trim_start(),
        i as u64 * 7919,
    ));
    let boundary = format!("=_b{:016x}", rng.next());
    let alt = format!("=_a{:016x}", rng.next());
    let text_part = |m: &mut String| {
        m.push_str("Content-Type: text/plain; charset=\"UTF-8\"\r\nContent-Transfer-Encoding: 7bit\r\n\r\n");
        m.push_str(&text);
    };
    let html_part = |m: &mut String| {
        m.push_str("Content-Type: text/html; charset=\"UTF-8\"\r\nContent-Transfer-Encoding: 7bit\r\n\r\n<html><body>");
        for p in text.split("\r\n\r\n") {
            m.push_str("<p style=\"margin:0 0 12px 0;font-family:Helvetica,Arial,sans-serif\">");
            m.push_str(&p.replace("\r\n", "<br>\r\n"));
            m.push_str("</p>\r\n");
        }
        m.push_str("</body></html>\r\n");
    };
    let body_part = |m: &mut String| {
        if html {
            m.push_str(&format!(
                "Content-Type: multipart/alternative; boundary=\"{alt}\"\r\n\r\n--{alt}\r\n"
            ));
            text_part(m);
            m.push_str(&format!("--{alt}\r\n"));
            html_part(m);
            m.push_str(&format!("--{alt}--\r\n"));
        } else {
            text_part(m);
        }
    };
    if attachment {
        // Log-uniform 10 KB .. 200 KB (requests: 20 .. 60 KB, a signed form).
        let size = if request {
            20_000 + rng.below(40_000) as usize
        } else {
            (10_000f64 * 20f64.powf(rng.unit())) as usize
        };
        let (ctype, fname) = match rng.below(3) {
            0 => ("application/pdf", "document.pdf"),
            1 => ("image/png", "screenshot.png"),
            _ => ("image/jpeg", "photo.jpg"),
        };
        m.push_str(&format!(
            "Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n\
             This is a multi-part message in MIME format.\r\n\r\n--{boundary}\r\n"
        ));
        body_part(&mut m);
        m.push_str(&format!(
            "--{boundary}\r\nContent-Type: {ctype}; name=\"{fname}\"\r\n\
             Content-Disposition: attachment; filename=\"{fname}\"\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n"
        ));
        m.push_str(&b64_folded(&random_bytes(&mut rng, size)));
        m.push_str(&format!("--{boundary}--\r\n"));
    } else {
        body_part(&mut m);
    }
    m.into_bytes()
}

#[derive(Default, Clone, Copy)]
struct Seeded {
    messages: usize,
    bytes: u64,
    requests: usize,
    with_attachment: usize,
}

fn seed(dv: &Dovecot, range: std::ops::Range<usize>, acc: &mut Seeded) {
    for i in range {
        let m = message(i);
        acc.messages += 1;
        acc.bytes += m.len() as u64;
        acc.requests += is_request(i) as usize;
        acc.with_attachment += contains(&m, b"Content-Disposition: attachment") as usize;
        dv.seed("bench", &m);
    }
}

fn contains(h: &[u8], n: &[u8]) -> bool {
    h.windows(n.len()).any(|w| w == n)
}

// ---------------------------------------------------------------- helpers

fn conn(port: u16, user: &str) -> Connection {
    Connection {
        host: "127.0.0.1".into(),
        port,
        security: Security::None,
        username: user.into(),
        password_env: None,
        password_command: None,
        auth: concierge::config::AuthKind::Password,
        token_command: None,
        mailbox: "INBOX".into(),
        ca_file: None,
        from: None,
        sent_mailbox: None,
    }
}

fn tmp(prefix: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .expect("temp dir")
}

#[derive(Clone, Copy)]
struct Stats {
    median: f64,
    min: f64,
    max: f64,
}

fn stats(xs: &[f64]) -> Stats {
    let mut v = xs.to_vec();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    Stats {
        median,
        min: v[0],
        max: v[n - 1],
    }
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn fs_type(path: &Path) -> String {
    // Longest mount point that is a prefix of `path`.
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    let p = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    let mut best = (0usize, String::from("?"));
    for l in mounts.lines() {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.len() >= 3 && p.starts_with(f[1]) && f[1].len() >= best.0 {
            best = (f[1].len(), f[2].to_string());
        }
    }
    best.1
}

fn proc_status_kb(field: &str) -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Share of all CPUs busy over `window` (from /proc/stat).
fn cpu_busy(window: Duration) -> f64 {
    fn sample() -> (u64, u64) {
        let s = std::fs::read_to_string("/proc/stat").unwrap_or_default();
        let v: Vec<u64> = s
            .lines()
            .next()
            .unwrap_or("")
            .split_whitespace()
            .skip(1)
            .filter_map(|x| x.parse().ok())
            .collect();
        if v.len() < 5 {
            return (0, 0);
        }
        let idle = v[3] + v[4];
        (v.iter().sum(), idle)
    }
    let (t0, i0) = sample();
    std::thread::sleep(window);
    let (t1, i1) = sample();
    if t1 <= t0 {
        return 0.0;
    }
    1.0 - (i1 - i0) as f64 / (t1 - t0) as f64
}

/// Others share this machine (2 cores): before a timed run, wait up to
/// `max` for the CPUs to be quiet (< 10 % busy over 300 ms). Returns false
/// when they never were.
fn wait_quiet(max: Duration) -> bool {
    let end = Instant::now() + max;
    loop {
        if cpu_busy(Duration::from_millis(300)) < 0.10 {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
    }
}

static BUSY_STEPS: AtomicU64 = AtomicU64::new(0);

/// Before a timed step: wait for quiet CPUs unless `--no-wait`; counts the
/// steps that had to start on a busy machine.
fn quiet(o: &Opts) {
    if o.wait && !wait_quiet(Duration::from_secs(60)) {
        BUSY_STEPS.fetch_add(1, Ordering::SeqCst);
    }
}

// ---------------------------------------------------------------- Concierge

struct FirstSync {
    secs: f64,
    requests: i64,
    seen: usize,
}

/// Connect + login + `sync_once` into a new store at `store_path`.
fn concierge_first_sync(port: u16, user: &str, pass: &str, store_path: &Path) -> FirstSync {
    let cfg = conn(port, user);
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

// ---------------------------------------------------------------- mbsync

struct Mbsync {
    secs: f64,
    files: usize,
}

fn mbsync_available() -> Option<PathBuf> {
    for p in ["/usr/bin/mbsync", "/usr/local/bin/mbsync"] {
        if Path::new(p).exists() {
            return Some(PathBuf::from(p));
        }
    }
    None
}

/// `mbsync` pulling INBOX into a new Maildir (config, state and mirror all
/// in a fresh temp dir; HOME points there too).
fn mbsync_run(bin: &Path, port: u16, user: &str, pass: &str) -> Mbsync {
    let dir = tmp("sync-bench-mbsync-");
    let d = dir.path();
    std::fs::create_dir_all(d.join("mirror")).unwrap();
    let config = format!(
        "IMAPAccount bench\n\
         Host 127.0.0.1\n\
         Port {port}\n\
         User {user}\n\
         Pass {pass}\n\
         SSLType None\n\
         AuthMechs LOGIN PLAIN\n\
         \n\
         IMAPStore far\n\
         Account bench\n\
         \n\
         MaildirStore near\n\
         Path {m}/\n\
         Inbox {m}/INBOX\n\
         \n\
         Channel inbox\n\
         Far :far:INBOX\n\
         Near :near:INBOX\n\
         Sync Pull\n\
         Create Near\n\
         SyncState *\n",
        m = d.join("mirror").display()
    );
    let cfg_path = d.join("mbsyncrc");
    std::fs::write(&cfg_path, config).unwrap();
    let t = Instant::now();
    let out = Command::new(bin)
        .arg("-q")
        .arg("-c")
        .arg(&cfg_path)
        .arg("inbox")
        .env("HOME", d)
        .stdin(Stdio::null())
        .output()
        .expect("spawn mbsync");
    let secs = secs(t.elapsed());
    assert!(
        out.status.success(),
        "mbsync failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let inbox = d.join("mirror").join("INBOX");
    let files = ["cur", "new"]
        .iter()
        .map(|s| {
            std::fs::read_dir(inbox.join(s))
                .map(|r| r.count())
                .unwrap_or(0)
        })
        .sum();
    Mbsync { secs, files }
}

// ---------------------------------------------------------------- counting proxy

/// A loopback TCP proxy in front of Dovecot that counts the client's tagged
/// IMAP commands (one per round trip: neither client pipelines here, except
/// mbsync, for which the count is commands, not round trips) and the bytes
/// in each direction.
struct Proxy {
    port: u16,
    commands: Arc<AtomicU64>,
    up: Arc<AtomicU64>,
    down: Arc<AtomicU64>,
    verbs: Arc<Mutex<Vec<String>>>,
}

impl Proxy {
    fn start(upstream: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let port = listener.local_addr().unwrap().port();
        let p = Proxy {
            port,
            commands: Arc::default(),
            up: Arc::default(),
            down: Arc::default(),
            verbs: Arc::default(),
        };
        let (commands, up, down, verbs) = (
            p.commands.clone(),
            p.up.clone(),
            p.down.clone(),
            p.verbs.clone(),
        );
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let server = TcpStream::connect(("127.0.0.1", upstream)).expect("proxy upstream");
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                let down = down.clone();
                std::thread::spawn(move || pump_down(s2, c2, down));
                let (commands, up, verbs) = (commands.clone(), up.clone(), verbs.clone());
                std::thread::spawn(move || pump_up(client, server, commands, up, verbs));
            }
        });
        p
    }

    fn reset(&self) {
        self.commands.store(0, Ordering::SeqCst);
        self.up.store(0, Ordering::SeqCst);
        self.down.store(0, Ordering::SeqCst);
        self.verbs.lock().unwrap().clear();
    }
}

fn pump_down(mut from: TcpStream, mut to: TcpStream, bytes: Arc<AtomicU64>) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        bytes.fetch_add(n as u64, Ordering::SeqCst);
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Both);
}

/// Client → server. Counts a line as a command when it starts with a tag and
/// a command word (`a12 EXAMINE "INBOX"`); skips literals (`{n}` / `{n+}`).
/// Counted before it is forwarded, so the count is complete when the client
/// has its answer.
fn pump_up(
    mut from: TcpStream,
    mut to: TcpStream,
    commands: Arc<AtomicU64>,
    bytes: Arc<AtomicU64>,
    verbs: Arc<Mutex<Vec<String>>>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut line: Vec<u8> = Vec::new();
    let mut literal_left: usize = 0;
    let mut line_is_continuation = false;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        bytes.fetch_add(n as u64, Ordering::SeqCst);
        let mut data = &buf[..n];
        while !data.is_empty() {
            if literal_left > 0 {
                let k = literal_left.min(data.len());
                literal_left -= k;
                data = &data[k..];
                continue;
            }
            match data.iter().position(|&b| b == b'\n') {
                None => {
                    line.extend_from_slice(data);
                    data = &[];
                }
                Some(pos) => {
                    line.extend_from_slice(&data[..=pos]);
                    data = &data[pos + 1..];
                    let text = String::from_utf8_lossy(&line).trim_end().to_string();
                    if !line_is_continuation {
                        if let Some(verb) = tagged_verb(&text) {
                            commands.fetch_add(1, Ordering::SeqCst);
                            verbs.lock().unwrap().push(verb);
                        }
                    }
                    literal_left = literal_len(&text).unwrap_or(0);
                    line_is_continuation = literal_left > 0;
                    line.clear();
                }
            }
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Both);
}

/// `TAG VERB ...` → "VERB" (with the mailbox for SELECT/EXAMINE/STATUS, and
/// the UID subcommand); never the arguments of LOGIN/AUTHENTICATE.
fn tagged_verb(line: &str) -> Option<String> {
    let mut it = line.split(' ');
    let tag = it.next()?;
    if tag.is_empty() || !tag.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.') {
        return None;
    }
    let verb = it.next()?;
    if verb.is_empty() || !verb.bytes().all(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    let verb = verb.to_ascii_uppercase();
    Some(match verb.as_str() {
        "UID" => format!("UID {}", it.next().unwrap_or("").to_ascii_uppercase()),
        "SELECT" | "EXAMINE" | "STATUS" => format!("{verb} {}", it.next().unwrap_or("")),
        _ => verb,
    })
}

fn literal_len(line: &str) -> Option<usize> {
    let l = line.strip_suffix('}')?;
    let open = l.rfind('{')?;
    l[open + 1..].trim_end_matches('+').parse().ok()
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
    let mut src = ImapSource::connect(&conn(port, user), &Secret::new(pass)).unwrap();
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
            let mut msg = intake::inspect(&f.raw, &opts);
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

struct Variant {
    name: &'static str,
    query: String,
    /// How the bytes to inspect are put together from one FETCH response.
    join: fn(&imap::types::Fetch<'_>) -> Vec<u8>,
}

struct VariantResult {
    fetch: f64,
    inspect: f64,
    bytes: u64,
    requests: usize,
}

/// Header fields `intake::inspect` reads (mail-parser's From, Reply-To,
/// Date, Message-ID, In-Reply-To, References, Subject, MIME; the classifier's
/// auto-reply fields; Return-Path; Authentication-Results).
const NEEDED_FIELDS: &str = "FROM REPLY-TO RETURN-PATH SUBJECT DATE MESSAGE-ID IN-REPLY-TO \
     REFERENCES AUTHENTICATION-RESULTS MIME-VERSION CONTENT-TYPE CONTENT-TRANSFER-ENCODING \
     AUTO-SUBMITTED X-AUTOREPLY X-AUTORESPOND PRECEDENCE";

/// How a prototype reads FETCH responses.
#[derive(Clone, Copy, PartialEq)]
enum Reader {
    /// `imap::Session::uid_fetch` (what Concierge uses).
    ImapCrate,
    /// [`RawImap`]: each literal read in one piece, nothing re-parsed.
    LiteralAware,
}

type Msgs = Vec<(u32, Vec<u8>, bool)>;

/// A minimal IMAP client for the prototypes (plaintext, no pipelining):
/// reads each response line, reads a literal `{n}` in one `read_exact`,
/// and parses each response once. Sketch of the fix for the imap crate's
/// re-parsing (see [`RawImap::fetch`]).
struct RawImap {
    w: TcpStream,
    r: std::io::BufReader<TcpStream>,
    tag: u32,
}

/// One response: its text lines (literals replaced by their place) and its
/// literals, in order.
#[derive(Default)]
struct RawResponse {
    text: String,
    literals: Vec<Vec<u8>>,
}

impl RawImap {
    fn login(port: u16, user: &str, pass: &str) -> RawImap {
        use std::io::BufRead;
        let tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let w = tcp.try_clone().unwrap();
        let mut r = std::io::BufReader::with_capacity(64 * 1024, tcp);
        let mut greeting = Vec::new();
        r.read_until(b'\n', &mut greeting).unwrap();
        let mut c = RawImap { w, r, tag: 0 };
        c.run(&format!("LOGIN {user} {pass}"));
        c.run("CAPABILITY");
        c
    }

    /// Sends a command; returns its untagged responses.
    fn run(&mut self, cmd: &str) -> Vec<RawResponse> {
        use std::io::BufRead;
        self.tag += 1;
        let tag = format!("p{} ", self.tag);
        self.w
            .write_all(format!("{tag}{cmd}\r\n").as_bytes())
            .unwrap();
        let mut out: Vec<RawResponse> = Vec::new();
        let mut line = Vec::new();
        let mut in_response = false;
        loop {
            line.clear();
            let n = self.r.read_until(b'\n', &mut line).unwrap();
            assert!(n > 0, "connection closed");
            let text = String::from_utf8_lossy(&line);
            let text = text.trim_end();
            if !in_response {
                if text.starts_with(&tag) {
                    assert!(text[tag.len()..].starts_with("OK"), "{cmd}: {text}");
                    return out;
                }
                out.push(RawResponse::default());
            }
            let resp = out.last_mut().unwrap();
            resp.text.push_str(text);
            match literal_len(text) {
                Some(len) => {
                    let mut lit = vec![0u8; len];
                    self.r.read_exact(&mut lit).unwrap();
                    resp.literals.push(lit);
                    in_response = true; // the response goes on after it
                }
                None => in_response = false,
            }
        }
    }

    fn examine(&mut self) -> (u32, Vec<u32>) {
        let uidvalidity = self
            .run("EXAMINE INBOX")
            .iter()
            .find_map(|r| number_after(&r.text, "[UIDVALIDITY "))
            .unwrap();
        let mut uids: Vec<u32> = self
            .run("UID SEARCH UID 1:*")
            .iter()
            .filter_map(|r| r.text.strip_prefix("* SEARCH"))
            .flat_map(|s| s.split_whitespace().filter_map(|u| u.parse().ok()))
            .collect();
        uids.sort_unstable();
        (uidvalidity, uids)
    }

    /// `UID FETCH` of one batch; the message bytes are the response's
    /// literals joined (e.g. HEADER.FIELDS then TEXT).
    fn fetch(&mut self, uids: &[u32], query: &str) -> Msgs {
        let set = concierge::inbox::imap::uid_set(uids);
        self.run(&format!("UID FETCH {set} {query}"))
            .into_iter()
            .filter(|r| r.text.contains(" FETCH ("))
            .filter_map(|r| {
                let uid = number_after(&r.text, "UID ")?;
                let size = number_after(&r.text, "RFC822.SIZE ");
                let raw = r.literals.concat();
                let truncated = size.is_some_and(|s| s as usize > raw.len());
                Some((uid, raw, truncated))
            })
            .collect()
    }
}

fn number_after(text: &str, key: &str) -> Option<u32> {
    let at = text.find(key)? + key.len();
    let digits: String = text[at..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().ok()
}

/// A lower bound for `intake::inspect` (NOT a replacement): mail-parser's
/// parse, the decoded first text part, Message-ID and Subject, and the
/// pre-filled-subject rule only; no sanitizing, authentication results,
/// other rules or workspace extraction.
fn lean_inspect(raw: &[u8]) -> intake::Inspected {
    use std::sync::OnceLock;
    static TEMPLATE: OnceLock<intake::Inspected> = OnceLock::new();
    let template = TEMPLATE
        .get_or_init(|| intake::inspect(b"Subject: x\r\n\r\nx\r\n", &intake::Options::default()));
    let mut m = template.clone();
    let Some(msg) = mail_parser::MessageParser::default().parse(raw) else {
        return m;
    };
    m.subject = msg.subject().unwrap_or("").to_string();
    m.message_id = msg.message_id().map(String::from);
    m.body = msg.body_text(0).map(|b| b.into_owned()).unwrap_or_default();
    m.from = msg
        .from()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .map(String::from);
    if let Some(ws) = m.subject.strip_prefix("Data export request: ") {
        m.workspace.name = Some(ws.to_string());
        m.kind = Kind::ExportRequest;
    } else {
        m.kind = Kind::Other;
    }
    m
}

/// A prototype of a faster first sync (NOT Concierge's code): the same
/// steps as `sync_once` (login, EXAMINE, UID SEARCH, batches of [`BATCH`]
/// fetched, inspected, stored with the cursor in one transaction), with a
/// given FETCH shape and response reader, optionally with inspect + store
/// on a second thread while the next batch is fetched. Timed like
/// [`concierge_first_sync`] (store open to last commit).
/// One prototype: FETCH items, how to join a response into message bytes,
/// the reader, whether inspect + store run on a second thread, and whether
/// inspect is replaced by [`lean_inspect`].
struct Proto {
    name: &'static str,
    query: String,
    join: fn(&imap::types::Fetch<'_>) -> Vec<u8>,
    reader: Reader,
    pipelined: bool,
    lean: bool,
}

type Fetcher = Box<dyn FnMut(&[u32]) -> Msgs>;

fn prototype_sync(port: u16, user: &str, pass: &str, p: &Proto) -> (f64, i64) {
    let Proto {
        query,
        join,
        reader,
        pipelined,
        lean,
        ..
    } = p;
    let (query, join, reader, pipelined, lean) =
        (query.as_str(), *join, *reader, *pipelined, *lean);
    type Batch = (Msgs, Cursor);
    fn work(store: &mut Store, (msgs, cursor): Batch, lean: bool) {
        let opts = intake::Options {
            authserv_id: AUTHSERV,
            truncated: false,
        };
        let items: Vec<_> = msgs
            .into_iter()
            .map(|(uid, raw, truncated)| {
                if lean {
                    let mut m = lean_inspect(&raw);
                    m.uid = Some(uid);
                    let key = m.store_key(&raw);
                    return (m, key, None);
                }
                let mut m = intake::inspect(
                    &raw,
                    &intake::Options {
                        truncated,
                        ..opts.clone()
                    },
                );
                m.uid = Some(uid);
                let key = m.store_key(&raw);
                (m, key, None)
            })
            .collect();
        store.store_batch("proto", &items, Some(cursor)).unwrap();
    }
    let dir = tmp("sync-bench-proto-");
    let t = Instant::now();
    let mut store = Store::open(&dir.path().join("store.db")).unwrap();
    let (uidvalidity, uids, mut fetcher): (u32, Vec<u32>, Fetcher) = match reader {
        Reader::ImapCrate => {
            let tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
            let mut client = imap::Client::new(Box::new(tcp) as imap::Connection);
            client.read_greeting().unwrap();
            let mut s = client.login(user, pass).map_err(|(e, _)| e).unwrap();
            let _ = s.capabilities().unwrap();
            let mb = s.examine("INBOX").unwrap();
            let mut uids: Vec<u32> = s.uid_search("UID 1:*").unwrap().into_iter().collect();
            uids.sort_unstable();
            let query = query.to_string();
            let f = move |chunk: &[u32]| -> Msgs {
                let fetches = s
                    .uid_fetch(concierge::inbox::imap::uid_set(chunk), &query)
                    .unwrap();
                fetches
                    .iter()
                    .filter_map(|f| {
                        let raw = join(f);
                        let truncated = f.size.is_some_and(|sz| sz as usize > raw.len());
                        Some((f.uid?, raw, truncated))
                    })
                    .collect()
            };
            (mb.uid_validity.unwrap(), uids, Box::new(f))
        }
        Reader::LiteralAware => {
            let mut c = RawImap::login(port, user, pass);
            let (v, uids) = c.examine();
            let query = query.to_string();
            (
                v,
                uids,
                Box::new(move |chunk: &[u32]| c.fetch(chunk, &query)),
            )
        }
    };
    let mut fetch_all = |handle: &mut dyn FnMut(Batch)| {
        for chunk in uids.chunks(BATCH) {
            let msgs = fetcher(chunk);
            assert_eq!(msgs.len(), chunk.len());
            handle((
                msgs,
                Cursor {
                    uidvalidity,
                    last_uid: *chunk.last().unwrap(),
                },
            ));
        }
    };
    let store = if pipelined {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Batch>(1);
        let worker = std::thread::spawn(move || {
            for b in rx {
                work(&mut store, b, lean);
            }
            store
        });
        fetch_all(&mut |b| tx.send(b).unwrap());
        drop(tx);
        worker.join().unwrap()
    } else {
        fetch_all(&mut |b| work(&mut store, b, lean));
        store
    };
    let secs = secs(t.elapsed());
    (secs, store.request_count().unwrap())
}

/// One FETCH shape over the whole mailbox, batches of [`BATCH`] UIDs, on a
/// raw imap-crate session: the fetch timed alone, then `inspect` on what came
/// back, counting the export requests it finds.
fn run_variant(port: u16, user: &str, pass: &str, v: &Variant) -> VariantResult {
    let tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut client = imap::Client::new(Box::new(tcp) as imap::Connection);
    client.read_greeting().unwrap();
    let mut s = client.login(user, pass).map_err(|(e, _)| e).unwrap();
    s.examine("INBOX").unwrap();
    let mut uids: Vec<u32> = s.uid_search("ALL").unwrap().into_iter().collect();
    uids.sort_unstable();
    let mut r = VariantResult {
        fetch: 0.0,
        inspect: 0.0,
        bytes: 0,
        requests: 0,
    };
    for chunk in uids.chunks(BATCH) {
        let t = Instant::now();
        let fetches = s
            .uid_fetch(concierge::inbox::imap::uid_set(chunk), &v.query)
            .unwrap();
        r.fetch += secs(t.elapsed());
        let t = Instant::now();
        for f in fetches.iter() {
            let raw = (v.join)(f);
            r.bytes += raw.len() as u64;
            let truncated = f.size.is_some_and(|s| s as usize > raw.len());
            let i = intake::inspect(
                &raw,
                &intake::Options {
                    authserv_id: AUTHSERV,
                    truncated,
                },
            );
            r.requests += (i.kind == Kind::ExportRequest) as usize;
        }
        r.inspect += secs(t.elapsed());
    }
    let _ = s.logout();
    r
}

/// The server's side alone: the same UID FETCH batches on a bare socket,
/// reading the responses (lines and literals) without parsing them. A lower
/// bound for any client that fetches those items over one connection
/// without pipelining.
fn raw_fetch(port: u16, user: &str, pass: &str, query: &str, uids: &[u32]) -> (f64, u64) {
    use std::io::BufRead;
    let tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
    tcp.set_nodelay(true).unwrap();
    let mut w = tcp.try_clone().unwrap();
    let mut r = std::io::BufReader::with_capacity(64 * 1024, tcp);
    let mut tag = 0;
    let mut bytes = 0u64;
    let mut greeting = Vec::new();
    r.read_until(b'\n', &mut greeting).unwrap();
    let mut run = |cmd: &str, w: &mut TcpStream, r: &mut std::io::BufReader<TcpStream>| {
        tag += 1;
        raw_command(&format!("r{tag}"), cmd, w, r)
    };
    run(&format!("LOGIN {user} {pass}"), &mut w, &mut r);
    run("EXAMINE INBOX", &mut w, &mut r);
    let t = Instant::now();
    for chunk in uids.chunks(BATCH) {
        bytes += run(
            &format!(
                "UID FETCH {} {query}",
                concierge::inbox::imap::uid_set(chunk)
            ),
            &mut w,
            &mut r,
        );
    }
    let secs = secs(t.elapsed());
    run("LOGOUT", &mut w, &mut r);
    (secs, bytes)
}

/// Sends `TAG CMD` and reads up to the tagged answer (lines and literals,
/// unparsed); returns the bytes read.
fn raw_command(
    t: &str,
    cmd: &str,
    w: &mut TcpStream,
    r: &mut std::io::BufReader<TcpStream>,
) -> u64 {
    use std::io::BufRead;
    w.write_all(format!("{t} {cmd}\r\n").as_bytes()).unwrap();
    let mut got = 0u64;
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = r.read_until(b'\n', &mut line).unwrap();
        assert!(n > 0, "connection closed");
        got += n as u64;
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end();
        if let Some(len) = literal_len(text) {
            let mut left = len;
            while left > 0 {
                let buf = r.fill_buf().unwrap();
                assert!(!buf.is_empty(), "connection closed");
                let k = buf.len().min(left);
                r.consume(k);
                left -= k;
            }
            got += len as u64;
            continue;
        }
        if text.starts_with(&format!("{t} ")) {
            assert!(text.starts_with(&format!("{t} OK")), "{text}");
            return got;
        }
    }
}

fn join_body(f: &imap::types::Fetch<'_>) -> Vec<u8> {
    f.body().unwrap_or_default().to_vec()
}

fn join_header_text(f: &imap::types::Fetch<'_>) -> Vec<u8> {
    let mut v = f.header().unwrap_or_default().to_vec();
    v.extend_from_slice(f.text().unwrap_or_default());
    v
}

fn join_header(f: &imap::types::Fetch<'_>) -> Vec<u8> {
    f.header().unwrap_or_default().to_vec()
}

fn fields_query(text_prefix: usize) -> String {
    format!(
        "(UID RFC822.SIZE BODY.PEEK[HEADER.FIELDS ({NEEDED_FIELDS})] BODY.PEEK[TEXT]<0.{text_prefix}>)"
    )
}

fn variants() -> Vec<Variant> {
    let v = |name: &'static str, query: String, join: fn(&imap::types::Fetch<'_>) -> Vec<u8>| {
        Variant { name, query, join }
    };
    vec![
        v(
            "BODY.PEEK[] (whole message)",
            "(UID RFC822.SIZE BODY.PEEK[])".into(),
            join_body,
        ),
        v(
            "BODY.PEEK[]<0.65536> (current)",
            format!("(UID RFC822.SIZE BODY.PEEK[]<0.{FETCH_PREFIX}>)"),
            join_body,
        ),
        v(
            "BODY.PEEK[]<0.16384>",
            "(UID RFC822.SIZE BODY.PEEK[]<0.16384>)".into(),
            join_body,
        ),
        v(
            "BODY.PEEK[]<0.4096>",
            "(UID RFC822.SIZE BODY.PEEK[]<0.4096>)".into(),
            join_body,
        ),
        v(
            "BODY.PEEK[HEADER] + [TEXT]<0.4096>",
            "(UID RFC822.SIZE BODY.PEEK[HEADER] BODY.PEEK[TEXT]<0.4096>)".into(),
            join_header_text,
        ),
        v(
            "BODY.PEEK[HEADER.FIELDS (16 fields)] + [TEXT]<0.4096>",
            fields_query(4096),
            join_header_text,
        ),
        v(
            "BODY.PEEK[HEADER.FIELDS (16 fields)] + [TEXT]<0.2048>",
            fields_query(2048),
            join_header_text,
        ),
        v(
            "BODY.PEEK[HEADER] only",
            "(UID BODY.PEEK[HEADER])".into(),
            join_header,
        ),
    ]
}

/// `SYNC_BENCH_PROFILE_INSPECT=1`: fetch the mailbox as Concierge does, then
/// run `intake::inspect` over it 10 times (for `perf record`).
fn profile_inspect(o: &Opts) {
    let dv = Dovecot::start();
    seed(&dv, 0..o.messages, &mut Seeded::default());
    let mut src = ImapSource::connect(
        &conn(dv.imap_port(), dv.user()),
        &Secret::new(dv.password()),
    )
    .unwrap();
    let listing = src.list_new(None).unwrap();
    let mut all = Vec::new();
    for chunk in listing.refs.chunks(BATCH) {
        all.extend(src.fetch(chunk).unwrap());
    }
    let t = Instant::now();
    for _ in 0..10 {
        for f in &all {
            std::hint::black_box(intake::inspect(
                &f.raw,
                &intake::Options {
                    authserv_id: AUTHSERV,
                    truncated: f.truncated,
                },
            ));
        }
    }
    println!("inspect x10: {:.3} s", secs(t.elapsed()));
}

/// A canned stream: reads come from a buffer, writes are dropped.
struct Canned(std::io::Cursor<Vec<u8>>);

impl Read for Canned {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for Canned {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `SYNC_BENCH_IMAP_MICRO=1`: the imap crate parsing one canned UID FETCH
/// response of 500 messages, no server involved: how its cost depends on
/// the number of lines inside the literals (same bytes).
fn imap_micro() {
    println!("| literal size | line length | lines per batch | MB per batch | imap crate uid_fetch | per line |");
    println!("| --- | --- | --- | --- | --- | --- |");
    for (lit, line_len) in [
        (4096usize, 76usize),
        (4096, 1000),
        (4096, 4094),
        (65536, 76),
        (65536, 1000),
        (65536, 65534),
    ] {
        let mut resp = Vec::new();
        resp.extend_from_slice(b"* OK [CAPABILITY IMAP4rev1] ready\r\n");
        resp.extend_from_slice(b"a1 OK logged in\r\n");
        let mut body = Vec::with_capacity(lit);
        while body.len() < lit {
            let n = line_len.min(lit - body.len()).max(2);
            body.extend(std::iter::repeat_n(b'x', n - 2));
            body.extend_from_slice(b"\r\n");
        }
        body.truncate(lit);
        let lines = body.iter().filter(|&&b| b == b'\n').count() * 500;
        for uid in 1..=500 {
            resp.extend_from_slice(
                format!("* {uid} FETCH (UID {uid} RFC822.SIZE {lit} BODY[]<0> {{{lit}}}\r\n")
                    .as_bytes(),
            );
            resp.extend_from_slice(&body);
            resp.extend_from_slice(b")\r\n");
        }
        resp.extend_from_slice(b"a2 OK Fetch completed.\r\n");
        let mb = resp.len() as f64 / 1e6;
        let mut times = Vec::new();
        for _ in 0..5 {
            let mut c = imap::Client::new(Canned(std::io::Cursor::new(resp.clone())));
            c.read_greeting().unwrap();
            let mut s = c.login("u", "p").map_err(|(e, _)| e).unwrap();
            let t = Instant::now();
            let f = s
                .uid_fetch("1:500", "(UID RFC822.SIZE BODY.PEEK[]<0.65536>)")
                .unwrap();
            assert_eq!(f.len(), 500);
            times.push(secs(t.elapsed()));
        }
        let t = stats(&times).median;
        println!(
            "| {lit} | {line_len} | {lines} | {mb:.1} | {:.1} ms | {:.2} µs |",
            t * 1e3,
            t * 1e6 / lines.max(1) as f64
        );
    }
}

// ---------------------------------------------------------------- main

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--child-sync") {
        child_sync(&args[2..]);
    }
    // Everything (Dovecot's mail, stores, mbsync mirrors) on tmpfs: disk
    // timings on this VM are noisy. Set before any temp dir is made.
    if std::env::var_os("TMPDIR").is_none() && Path::new("/dev/shm").is_dir() {
        std::env::set_var("TMPDIR", "/dev/shm");
    }
    let o = parse_args();
    if std::env::var_os("SYNC_BENCH_IMAP_MICRO").is_some() {
        imap_micro();
        return;
    }
    if std::env::var_os("SYNC_BENCH_PROFILE_INSPECT").is_some() {
        profile_inspect(&o);
        return;
    }
    let mbsync = mbsync_available();

    println!(
        "sync_bench: {} messages, {} runs, {} empty polls",
        o.messages, o.runs, o.polls
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

    // ---- first sync vs mbsync, alternating which goes first.
    let mut c_times = Vec::new();
    let mut m_times = Vec::new();
    for run in 0..o.runs {
        let concierge_first = run % 2 == 0;
        for step in 0..2 {
            quiet(&o);
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
            } else if let Some(bin) = &mbsync {
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

    // ---- empty poll: timed on a direct connection.
    let store_dir = tmp("sync-bench-poll-");
    let mut store = Store::open(&store_dir.path().join("store.db")).unwrap();
    let mut src = ImapSource::connect(&conn(port, user), &Secret::new(pass)).unwrap();
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
    let mut src = ImapSource::connect(&conn(proxy.port, user), &Secret::new(pass)).unwrap();
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
    let mbsync_proxy = mbsync.as_ref().map(|bin| {
        std::thread::sleep(Duration::from_millis(50));
        proxy.reset();
        let m = mbsync_run(bin, proxy.port, user, pass);
        assert_eq!(m.files, seeded.messages);
        (
            proxy.commands.load(Ordering::SeqCst),
            proxy.down.load(Ordering::SeqCst),
        )
    });

    // ---- peak RSS, full mailbox.
    let rss_full = measure_rss(&dv);
    assert_eq!(rss_full.requests as usize, seeded.requests);
    assert_eq!(rss_full.seen, seeded.messages);

    // ---- breakdown.
    let mut breakdown = Vec::new();
    let mut variant_results = Vec::new();
    let mut proto_results = Vec::new();
    let all_uids: Vec<u32> = {
        let mut src = ImapSource::connect(&conn(port, user), &Secret::new(pass)).unwrap();
        let l = src.list_new(None).unwrap();
        src.logout();
        l.refs
            .iter()
            .filter_map(|r| match r {
                MsgRef::Uid(u) => Some(*u),
                MsgRef::File(_) => None,
            })
            .collect()
    };
    if o.breakdown {
        for _ in 0..3 {
            quiet(&o);
            breakdown.push(instrumented_sync(port, user, pass));
        }
        for v in variants() {
            let rs: Vec<VariantResult> = (0..3)
                .map(|_| {
                    quiet(&o);
                    run_variant(port, user, pass, &v)
                })
                .collect();
            let raw: Vec<(f64, u64)> = (0..3)
                .map(|_| {
                    quiet(&o);
                    raw_fetch(port, user, pass, &v.query, &all_uids)
                })
                .collect();
            variant_results.push((v.name, rs, raw));
        }
        let current = format!("(UID RFC822.SIZE BODY.PEEK[]<0.{FETCH_PREFIX}>)");
        let small = "(UID RFC822.SIZE BODY.PEEK[]<0.4096>)".to_string();
        let proto = |name, query: &String, reader, pipelined, lean| Proto {
            name,
            query: query.clone(),
            join: join_body,
            reader,
            pipelined,
            lean,
        };
        use Reader::*;
        let protos = vec![
            proto(
                "imap crate, BODY.PEEK[]<0.65536>, one thread (= today)",
                &current,
                ImapCrate,
                false,
                false,
            ),
            proto(
                "imap crate, BODY.PEEK[]<0.65536>, inspect+store on a 2nd thread",
                &current,
                ImapCrate,
                true,
                false,
            ),
            proto(
                "literal-aware reader, BODY.PEEK[]<0.65536>, one thread",
                &current,
                LiteralAware,
                false,
                false,
            ),
            proto(
                "literal-aware reader, BODY.PEEK[]<0.65536>, 2nd thread",
                &current,
                LiteralAware,
                true,
                false,
            ),
            proto(
                "literal-aware reader, BODY.PEEK[]<0.4096>, one thread",
                &small,
                LiteralAware,
                false,
                false,
            ),
            proto(
                "literal-aware reader, BODY.PEEK[]<0.4096>, 2nd thread",
                &small,
                LiteralAware,
                true,
                false,
            ),
            Proto {
                join: join_header_text,
                ..proto(
                    "literal-aware reader, [HEADER.FIELDS]+[TEXT]<0.4096>, 2nd thread",
                    &fields_query(4096),
                    LiteralAware,
                    true,
                    false,
                )
            },
            proto(
                "lower bound: literal-aware, BODY.PEEK[]<0.4096>, 2nd thread, inspect = parse only",
                &small,
                LiteralAware,
                true,
                true,
            ),
        ];
        for p in &protos {
            let rs: Vec<(f64, i64)> = (0..o.runs.max(3))
                .map(|_| {
                    quiet(&o);
                    prototype_sync(port, user, pass, p)
                })
                .collect();
            for r in &rs {
                assert_eq!(
                    r.1 as usize, seeded.requests,
                    "prototype {}: requests",
                    p.name
                );
            }
            proto_results.push((p.name, rs));
        }
    }

    // ---- report.
    let c = stats(&c_times);
    println!();
    println!("## Results");
    println!();
    println!(
        "mailbox: {} messages, {:.1} MB, {} export requests, {} with attachments; data on {}",
        seeded.messages,
        seeded.bytes as f64 / 1e6,
        seeded.requests,
        seeded.with_attachment,
        fs_type(dv.dir())
    );
    println!();
    println!("| measurement | median | min | max | n |");
    println!("| --- | --- | --- | --- | --- |");
    println!(
        "| Concierge first sync (connect, login, sync_once, {} requests stored) | {:.3} s | {:.3} s | {:.3} s | {} |",
        seeded.requests, c.median, c.min, c.max, c_times.len()
    );
    if !m_times.is_empty() {
        let m = stats(&m_times);
        println!(
            "| mbsync mirroring INBOX to a Maildir | {:.3} s | {:.3} s | {:.3} s | {} |",
            m.median,
            m.min,
            m.max,
            m_times.len()
        );
        println!(
            "| ratio Concierge / mbsync (medians) | {:.2}× | | | goal ≤ 0.75× |",
            c.median / m.median
        );
    } else {
        println!("| mbsync | not installed (apt-get install isync) | | | |");
    }
    let p = stats(&poll_times);
    println!(
        "| empty poll (sync_once, nothing new) | {:.3} ms | {:.3} ms | {:.3} ms | {} |",
        p.median * 1e3,
        p.min * 1e3,
        p.max * 1e3,
        poll_times.len()
    );
    println!(
        "| round trips per empty poll | {} | | | {} polls; commands: {} |",
        fmt_ratio(poll_cmds, o.polls as u64),
        o.polls,
        poll_verbs.join(", ")
    );
    println!(
        "| bytes per empty poll (client→server / server→client) | {} / {} | | | |",
        poll_up / o.polls as u64,
        poll_down / o.polls as u64
    );
    println!(
        "| peak RSS of a first sync, {} messages | {:.1} MB | | | at start {:.1} MB |",
        small.messages,
        rss_small.hwm_kb as f64 / 1024.0,
        rss_small.start_kb as f64 / 1024.0
    );
    println!(
        "| peak RSS of a first sync, {} messages | {:.1} MB | | | at start {:.1} MB |",
        seeded.messages,
        rss_full.hwm_kb as f64 / 1024.0,
        rss_full.start_kb as f64 / 1024.0
    );
    println!();
    println!(
        "timed steps that started while other processes kept the CPUs busy (after waiting 60 s for < 10 %): {}",
        BUSY_STEPS.load(Ordering::SeqCst)
    );
    println!(
        "first sync over the wire: {} IMAP commands, {:.1} MB server→client",
        first_cmds,
        first_down as f64 / 1e6
    );
    if let Some((cmds, down)) = mbsync_proxy {
        println!(
            "mbsync over the wire:     {} IMAP commands, {:.1} MB server→client",
            cmds,
            down as f64 / 1e6
        );
    }

    if !breakdown.is_empty() {
        let med =
            |f: fn(&Breakdown) -> f64| stats(&breakdown.iter().map(f).collect::<Vec<_>>()).median;
        println!();
        println!(
            "### Where the first sync's time goes (medians of {} instrumented runs)",
            breakdown.len()
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
            seeded.messages.div_ceil(BATCH),
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
        let b0 = &breakdown[0];
        println!();
        println!(
            "fetched {:.1} MB of message text ({} messages truncated at {} KB); {} requests stored",
            b0.fetched_bytes as f64 / 1e6,
            b0.truncated,
            FETCH_PREFIX / 1024,
            b0.requests
        );
        println!();
        println!("### FETCH shapes (raw imap session, batches of {BATCH}; medians of 3)");
        println!();
        println!("| FETCH items | server alone (bare socket) | fetch (imap crate) | inspect | fetch + inspect | bytes inspected | requests found |");
        println!("| --- | --- | --- | --- | --- | --- | --- |");
        for (name, rs, raw) in &variant_results {
            let server = stats(&raw.iter().map(|r| r.0).collect::<Vec<_>>()).median;
            let f = stats(&rs.iter().map(|r| r.fetch).collect::<Vec<_>>()).median;
            let i = stats(&rs.iter().map(|r| r.inspect).collect::<Vec<_>>()).median;
            let fi = stats(&rs.iter().map(|r| r.fetch + r.inspect).collect::<Vec<_>>()).median;
            println!(
                "| {name} | {server:.3} s | {f:.3} s | {i:.3} s | {fi:.3} s | {:.1} MB | {} / {} |",
                rs[0].bytes as f64 / 1e6,
                rs[0].requests,
                seeded.requests
            );
        }
        let m_median = (!m_times.is_empty()).then(|| stats(&m_times).median);
        println!();
        println!(
            "### Prototypes of a faster first sync (raw imap session, same steps as sync_once; medians of {})",
            proto_results.first().map(|p| p.1.len()).unwrap_or(0)
        );
        println!();
        println!("| prototype | median | min | max | / mbsync median |");
        println!("| --- | --- | --- | --- | --- |");
        for (name, rs) in &proto_results {
            let st = stats(&rs.iter().map(|r| r.0).collect::<Vec<_>>());
            println!(
                "| {name} | {:.3} s | {:.3} s | {:.3} s | {} |",
                st.median,
                st.min,
                st.max,
                m_median
                    .map(|m| format!("{:.2}×", st.median / m))
                    .unwrap_or_else(|| "-".into())
            );
        }
    }
}

fn fmt_ratio(a: u64, b: u64) -> String {
    if a % b == 0 {
        format!("{}", a / b)
    } else {
        format!("{:.2}", a as f64 / b as f64)
    }
}

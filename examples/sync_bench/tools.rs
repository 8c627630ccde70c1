//! Measuring helpers: statistics, CPU quiet, `mbsync`, and the counting
//! proxy in front of Dovecot.

use super::*;

pub(crate) fn tmp(prefix: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .expect("temp dir")
}

#[derive(Clone, Copy)]
pub(crate) struct Stats {
    pub(crate) median: f64,
    pub(crate) min: f64,
    pub(crate) max: f64,
}

pub(crate) fn stats(xs: &[f64]) -> Stats {
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

pub(crate) fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

pub(crate) fn fs_type(path: &Path) -> String {
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

pub(crate) fn proc_status_kb(field: &str) -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Share of all CPUs busy over `window` (from /proc/stat).
pub(crate) fn cpu_busy(window: Duration) -> f64 {
    pub(crate) fn sample() -> (u64, u64) {
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
pub(crate) fn wait_quiet(max: Duration) -> bool {
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

pub(crate) static BUSY_STEPS: AtomicU64 = AtomicU64::new(0);

/// Before a timed step: wait for quiet CPUs unless `--no-wait`; counts the
/// steps that had to start on a busy machine.
pub(crate) fn quiet(o: &Opts) {
    if o.wait && !wait_quiet(Duration::from_secs(60)) {
        BUSY_STEPS.fetch_add(1, Ordering::SeqCst);
    }
}

// ---------------------------------------------------------------- mbsync

pub(crate) struct Mbsync {
    pub(crate) secs: f64,
    pub(crate) files: usize,
}

pub(crate) fn mbsync_available() -> Option<PathBuf> {
    for p in ["/usr/bin/mbsync", "/usr/local/bin/mbsync"] {
        if Path::new(p).exists() {
            return Some(PathBuf::from(p));
        }
    }
    None
}

/// `mbsync` pulling INBOX into a new Maildir (config, state and mirror all
/// in a fresh temp dir; HOME points there too).
pub(crate) fn mbsync_run(bin: &Path, port: u16, user: &str, pass: &str) -> Mbsync {
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
pub(crate) struct Proxy {
    pub(crate) port: u16,
    pub(crate) commands: Arc<AtomicU64>,
    pub(crate) up: Arc<AtomicU64>,
    pub(crate) down: Arc<AtomicU64>,
    pub(crate) verbs: Arc<Mutex<Vec<String>>>,
}

impl Proxy {
    pub(crate) fn start(upstream: u16) -> Proxy {
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

    pub(crate) fn reset(&self) {
        self.commands.store(0, Ordering::SeqCst);
        self.up.store(0, Ordering::SeqCst);
        self.down.store(0, Ordering::SeqCst);
        self.verbs.lock().unwrap().clear();
    }
}

pub(crate) fn pump_down(mut from: TcpStream, mut to: TcpStream, bytes: Arc<AtomicU64>) {
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
pub(crate) fn pump_up(
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
pub(crate) fn tagged_verb(line: &str) -> Option<String> {
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

pub(crate) fn literal_len(line: &str) -> Option<usize> {
    let l = line.strip_suffix('}')?;
    let open = l.rfind('{')?;
    l[open + 1..].trim_end_matches('+').parse().ok()
}

//! `--cpu`: CPU seconds per first sync, ours and Dovecot's, against
//! `mbsync` and Dovecot's for it — a measure that holds on a busy machine,
//! where wall-clock times are noise.
//!
//! - Concierge: this process's utime + stime (`/proc/self/stat`; the fetch
//!   thread's time stays in it after the thread ends) over connect +
//!   `sync_once`; of it, the main thread's (`/proc/thread-self/stat`,
//!   store and the rest) and the other threads' (the difference: fetch
//!   and inspect): how the work is spread over the two cores.
//! - `mbsync`: the reaped children's cutime + cstime of this process.
//! - Dovecot: its master's cutime + cstime, i.e. the `imap` (and
//!   `imap-login`) processes it reaped, read once the client is gone and its
//!   `imap` process has been reaped.
//!
//! Clock ticks are 10 ms (USER_HZ 100): repeat (`--runs`) and sum.

use super::*;

/// (utime + stime, cutime + cstime) in ticks of a `/proc/PID/stat` file.
fn ticks(stat: &str) -> Option<(u64, u64)> {
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    // Fields 14–17 of proc(5), counted from the pid: here from the state (3).
    Some((f.get(11)? + f.get(12)?, f.get(13)? + f.get(14)?))
}

fn stat_of(pid: &str) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()
}

/// The Dovecot master serving `dir` (its config file lives there).
fn dovecot_master(dir: &Path) -> Option<String> {
    let want = dir.to_string_lossy().into_owned();
    for e in std::fs::read_dir("/proc").ok()?.flatten() {
        let pid = e.file_name().to_string_lossy().into_owned();
        if !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if comm.trim() == "dovecot" && cmd.contains(&want) {
            return Some(pid);
        }
    }
    None
}

/// Whether `master` still has an `imap` child (a session not yet reaped).
fn has_imap_child(master: &str) -> bool {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return false;
    };
    dir.flatten().any(|e| {
        let pid = e.file_name().to_string_lossy().into_owned();
        let Some(s) = stat_of(&pid) else { return false };
        let Some(close) = s.rfind(')') else {
            return false;
        };
        let comm = &s[s.find('(').map_or(0, |i| i + 1)..close];
        let ppid = s[close + 2..].split_whitespace().nth(1).unwrap_or("");
        comm == "imap" && ppid == master
    })
}

/// Dovecot's reaped CPU after every session ended (polled, 10 s deadline).
fn dovecot_ticks(master: &str) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(10);
    while has_imap_child(master) && Instant::now() < deadline {
        std::thread::yield_now();
    }
    stat_of(master).and_then(|s| ticks(&s)).map_or(0, |t| t.1)
}

/// This thread's utime + stime.
fn main_ticks() -> u64 {
    stat_of("thread-self")
        .and_then(|s| ticks(&s))
        .map_or(0, |t| t.0)
}

fn own_ticks() -> (u64, u64) {
    stat_of("self").and_then(|s| ticks(&s)).unwrap_or((0, 0))
}

/// `--cpu`: `runs` first syncs of each client, alternating; prints the CPU
/// of each side per run and the sums.
pub(crate) fn compare(runs: usize, mbsync: Option<&Path>, dv: &Dovecot, seeded: &Seeded) {
    let master = dovecot_master(dv.dir()).expect("Dovecot's master process");
    let (port, user, pass) = (dv.imap_port(), dv.user(), dv.password());
    // (ours, Dovecot's for us, mbsync's, Dovecot's for mbsync), in ticks.
    let mut sum = [0u64; 4];
    let mut main_thread = 0u64;
    for run in 0..runs {
        let mut row = [0u64; 4];
        for step in 0..2 {
            let d0 = dovecot_ticks(&master);
            if (step == 0) == (run % 2 == 0) {
                let (own0, main0) = (own_ticks().0, main_ticks());
                let dir = tmp("sync-bench-cpu-");
                let r = concierge_first_sync(port, user, pass, &dir.path().join("s.db"));
                row[0] = own_ticks().0 - own0;
                main_thread += main_ticks() - main0;
                assert_eq!(r.requests as usize, seeded.requests);
                row[1] = dovecot_ticks(&master) - d0;
            } else if let Some(bin) = mbsync {
                let c0 = own_ticks().1;
                let m = mbsync_run(bin, port, user, pass);
                assert_eq!(m.files, seeded.messages);
                row[2] = own_ticks().1 - c0;
                row[3] = dovecot_ticks(&master) - d0;
            }
        }
        println!(
            "cpu run {}: concierge {:.2} s + its Dovecot {:.2} s = {:.2} s; mbsync {:.2} s + its Dovecot {:.2} s = {:.2} s",
            run + 1,
            row[0] as f64 / 100.0,
            row[1] as f64 / 100.0,
            (row[0] + row[1]) as f64 / 100.0,
            row[2] as f64 / 100.0,
            row[3] as f64 / 100.0,
            (row[2] + row[3]) as f64 / 100.0,
        );
        for i in 0..4 {
            sum[i] += row[i];
        }
    }
    let per = |t: u64| t as f64 / 100.0 / runs as f64;
    println!(
        "cpu per first sync, concierge's threads: main (store) {:.3} s, the others (fetch, inspect) {:.3} s",
        per(main_thread),
        per(sum[0].saturating_sub(main_thread)),
    );
    println!(
        "cpu per first sync ({} runs, {}): concierge {:.3} s, its Dovecot {:.3} s, total {:.3} s; mbsync {:.3} s, its Dovecot {:.3} s, total {:.3} s; ratio of totals {:.2}",
        runs,
        shape().name,
        per(sum[0]),
        per(sum[1]),
        per(sum[0] + sum[1]),
        per(sum[2]),
        per(sum[3]),
        per(sum[2] + sum[3]),
        (sum[0] + sum[1]) as f64 / (sum[2] + sum[3]).max(1) as f64,
    );
}

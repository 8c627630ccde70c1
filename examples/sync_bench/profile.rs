//! `--profile-intake [--shape NAME] [--messages N] [--full-inspect]
//! [--check-intake]`: the
//! first sync's CPU work without the network, for `valgrind
//! --tool=callgrind` (instruction counts are repeatable whatever else the
//! machine does).
//!
//! The shape's messages are generated in memory and cut by the same rule
//! the IMAP fetch follows (`inbox::prefix::read_prefix`), then
//! [`profile_inspect`] inspects them as `sync` does and
//! [`profile_store`] stores them in batches of [`BATCH`] into a new SQLite
//! file. Both are `#[inline(never)]`, so callgrind's inclusive cost of each
//! is the cost of that step:
//!
//! ```text
//! valgrind --tool=callgrind --callgrind-out-file=cg.out \
//!   target/release/examples/sync_bench --profile-intake --shape mixed --messages 1000
//! callgrind_annotate --inclusive=yes cg.out | grep -E 'profile_(inspect|store) \['
//! ```
//!
//! `--check-intake` first reads every message both ways, split header and
//! whole header (`intake::inspect_whole_header`), `inspect` and
//! `inspect_export_mail`, and stops at the first answer that differs.

use super::*;
use concierge::inbox::prefix::read_prefix;
use concierge::intake::Inspected;

/// Runs the mode and exits.
pub(crate) fn profile_intake(args: &[String]) -> ! {
    let mut n = 2_000usize;
    let mut full = false;
    let mut check = false;
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--full-inspect" => {
                full = true;
                i += 1;
                continue;
            }
            "--check-intake" => {
                check = true;
                i += 1;
                continue;
            }
            "--messages" => n = args[i + 1].parse().expect("--messages N"),
            "--shape" => {
                let found = SHAPES
                    .iter()
                    .find(|s| s.name == args[i + 1])
                    .expect("unknown --shape");
                SHAPE.set(*found).expect("--shape given twice");
            }
            other => panic!("unknown argument {other:?}"),
        }
        i += 2;
    }
    let fetched: Vec<(u32, Vec<u8>, bool)> = (0..n)
        .map(|i| {
            let m = message(i);
            let (raw, truncated) = read_prefix(&m[..]).expect("reading from memory");
            (i as u32 + 1, raw, truncated)
        })
        .collect();
    let bytes: usize = fetched.iter().map(|f| f.1.len()).sum();
    if check {
        check_intake(&fetched);
    }
    let t = Instant::now();
    let items = profile_inspect(&fetched, full);
    let inspect_secs = secs(t.elapsed());
    let dir = tmp("sync-bench-profile-");
    let t = Instant::now();
    let requests = profile_store(&dir.path().join("store.db"), &items);
    let store_secs = secs(t.elapsed());
    let mut kinds = std::collections::BTreeMap::new();
    for (m, _, _) in &items {
        *kinds.entry(m.kind.as_str()).or_insert(0usize) += 1;
    }
    println!(
        "profile-intake: shape {}, {n} messages, {:.1} MB read by the prefix rule",
        shape().name,
        bytes as f64 / 1e6
    );
    println!("kinds: {kinds:?}; requests stored: {requests}");
    println!(
        "inspect {:.1} µs/message, store {:.1} µs/message (wall, not for comparison under load)",
        inspect_secs * 1e6 / n as f64,
        store_secs * 1e6 / n as f64
    );
    std::process::exit(0);
}

/// `intake::inspect_export_mail` over every message, as `sync::inspect_all`
/// does (`--full-inspect`: `intake::inspect`, as `concierge inspect` does).
#[inline(never)]
fn profile_inspect(
    fetched: &[(u32, Vec<u8>, bool)],
    full: bool,
) -> Vec<(Inspected, String, Option<String>)> {
    fetched
        .iter()
        .map(|(uid, raw, truncated)| {
            let opts = intake::Options {
                authserv_id: AUTHSERV,
                truncated: *truncated,
            };
            let mut msg = if full {
                intake::inspect(raw, &opts)
            } else {
                intake::inspect_export_mail(raw, &opts)
            };
            let key = msg.store_key(raw);
            msg.uid = Some(*uid);
            (msg, key, None)
        })
        .collect()
}

/// Every message read the split-header way and the whole-header way, by
/// `inspect` and by `inspect_export_mail`: the same answers, or a panic
/// naming the first message that differs.
fn check_intake(fetched: &[(u32, Vec<u8>, bool)]) {
    for (uid, raw, truncated) in fetched {
        let opts = intake::Options {
            authserv_id: AUTHSERV,
            truncated: *truncated,
        };
        assert_eq!(
            intake::inspect(raw, &opts),
            intake::inspect_whole_header(raw, &opts, false),
            "message {uid}, inspect"
        );
        assert_eq!(
            intake::inspect_export_mail(raw, &opts),
            intake::inspect_whole_header(raw, &opts, true),
            "message {uid}, inspect_export_mail"
        );
    }
    println!(
        "check-intake: {} messages read the same both ways",
        fetched.len()
    );
}

/// `Store::store_batch` over every batch; the number of requests stored.
#[inline(never)]
fn profile_store(path: &Path, items: &[(Inspected, String, Option<String>)]) -> i64 {
    let mut store = Store::open(path).expect("open store");
    for (k, chunk) in items.chunks(BATCH).enumerate() {
        let cursor = Cursor {
            uidvalidity: 1,
            last_uid: ((k + 1) * BATCH).min(items.len()) as u32,
        };
        store
            .store_batch("imap://bench@127.0.0.1/INBOX", chunk, Some(cursor))
            .expect("store_batch");
    }
    store.request_count().expect("count")
}

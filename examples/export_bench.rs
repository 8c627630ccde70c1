//! Benchmark of the reference backend's export writer.
//!
//! ```text
//! cargo run --release --example export_bench [-- --keep DIR]
//! ```
//!
//! For Acme Support (about 12,000 messages) and Globex (over 2,000,000), it
//! runs `concierge::refbackend::export::write_export` in a child process (this
//! same binary with `--child`) writing the ZIP to a file, and reports the
//! export's wall time, messages per second, and the child's peak resident
//! memory (VmHWM from `/proc/self/status`, read by the child just before it
//! exits). Then it unpacks Globex's ZIP and times Info-ZIP `zip -q -6 -r`
//! (/usr/bin/zip) compressing exactly that content from disk, deflate level 6
//! on both sides.
//!
//! Goals: Globex's peak memory at most 1.25 x Acme's (flat memory), and the
//! export no slower than the `zip -6` run.

use concierge::refbackend::export::{write_export, ExportOptions};
use concierge::refbackend::seed::{Attachment, Demo};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

fn vm_hwm_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The child: export one workspace into `out`, print one JSON line.
fn child(workspace: &str, out: &Path) {
    let demo = Demo::new("demo");
    let ws = demo
        .workspace_by_name(workspace)
        .unwrap_or_else(|| panic!("no demo workspace {workspace}"));
    let url = |a: &Attachment| format!("https://exports.example/attachments/{}", a.id);
    let opts = ExportOptions {
        exported_at: chrono::Utc::now().timestamp(),
        link_expires_at: chrono::Utc::now().timestamp() + 7 * 86_400,
        large_attachment_url: &url,
        scratch_dir: out.parent(),
    };
    let file = std::fs::File::create(out).expect("create the output file");
    let started = Instant::now();
    let (w, summary) = write_export(
        ws,
        std::io::BufWriter::with_capacity(1 << 20, file),
        &opts,
        &mut |_, _| true,
    )
    .expect("export");
    let f = w.into_inner().expect("flush");
    f.sync_all().expect("sync");
    let secs = started.elapsed().as_secs_f64();
    let zip_bytes = std::fs::metadata(out).map(|m| m.len()).unwrap_or(0);
    println!(
        "{}",
        serde_json::json!({
            "workspace": workspace,
            "messages": summary.counts.messages,
            "records": summary.counts.conversations + summary.counts.messages + summary.counts.customers
                + summary.counts.articles + summary.counts.categories + summary.counts.routing_rules
                + summary.counts.members,
            "json_bytes": summary.json_bytes,
            "attachment_bytes_in_zip": summary.counts.attachment_bytes
                - ws.large_attachments.iter().map(|l| l.size).sum::<u64>(),
            "zip_bytes": zip_bytes,
            "seconds": secs,
            "peak_rss_kib": vm_hwm_kib(),
        })
    );
}

fn run_child(workspace: &str, out: &Path) -> serde_json::Value {
    let me = std::env::current_exe().unwrap();
    let o = Command::new(me)
        .args(["--child", workspace])
        .arg(out)
        .output()
        .expect("run the child");
    assert!(
        o.status.success(),
        "child failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).expect("the child's JSON line")
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() == 4 && args[1] == "--child" {
        child(&args[2], Path::new(&args[3]));
        return;
    }
    let keep = args
        .iter()
        .position(|a| a == "--keep")
        .map(|i| PathBuf::from(&args[i + 1]));
    let base = match &keep {
        Some(d) => d.clone(),
        None => std::env::temp_dir().join(format!("export-bench-{}", std::process::id())),
    };
    std::fs::create_dir_all(&base).unwrap();
    println!("# export benchmark (release build, deflate level 6 everywhere)\n");
    println!(
        "machine: {} CPUs, {}",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(
                |s| s.lines().find(|l| l.starts_with("model name")).map(|l| l
                    .split(':')
                    .nth(1)
                    .unwrap_or("")
                    .trim()
                    .to_string())
            )
            .unwrap_or_default()
    );

    let acme = run_child("Acme Support", &base.join("acme.zip"));
    let globex = run_child("Globex", &base.join("globex.zip"));
    for r in [&acme, &globex] {
        let msgs = r["messages"].as_f64().unwrap();
        let secs = r["seconds"].as_f64().unwrap();
        println!(
            "{:<13} {:>9} messages  {:>7.2} s  {:>10.0} messages/s  {:>7.1} MiB JSON  {:>6.1} MiB attachments  {:>7.1} MiB ZIP  peak RSS {:>6.1} MiB",
            r["workspace"].as_str().unwrap(),
            msgs,
            secs,
            msgs / secs,
            r["json_bytes"].as_f64().unwrap() / 1048576.0,
            r["attachment_bytes_in_zip"].as_f64().unwrap() / 1048576.0,
            r["zip_bytes"].as_f64().unwrap() / 1048576.0,
            mib(r["peak_rss_kib"].as_u64().unwrap()),
        );
    }
    let ratio = globex["peak_rss_kib"].as_f64().unwrap() / acme["peak_rss_kib"].as_f64().unwrap();
    println!(
        "\npeak memory Globex / Acme: {ratio:.2}x (goal <= 1.25x): {}",
        if ratio <= 1.25 { "met" } else { "NOT met" }
    );

    // Info-ZIP on the same content, from disk
    let unpacked = base.join("globex-unpacked");
    let _ = std::fs::remove_dir_all(&unpacked);
    let st = Command::new("unzip")
        .args(["-q", "-o"])
        .arg(base.join("globex.zip"))
        .arg("-d")
        .arg(&unpacked)
        .status()
        .expect("unzip (to lay the content out on disk)");
    assert!(st.success());
    // warm the page cache so that zip is timed on compression, not on disk reads
    let _ = Command::new("cat")
        .args(["-"])
        .stdin(std::fs::File::open(unpacked.join("messages.json")).unwrap())
        .stdout(std::process::Stdio::null())
        .status();
    let out = base.join("infozip.zip");
    let _ = std::fs::remove_file(&out);
    let started = Instant::now();
    let st = Command::new("/usr/bin/zip")
        .args(["-q", "-6", "-r"])
        .arg(&out)
        .arg(".")
        .current_dir(&unpacked)
        .status()
        .expect("/usr/bin/zip (apt-get install zip)");
    let zip_secs = started.elapsed().as_secs_f64();
    assert!(st.success());
    let zsize = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
    let ours = globex["seconds"].as_f64().unwrap();
    println!(
        "Info-ZIP `zip -q -6 -r` of the same content from disk: {zip_secs:.2} s ({:.1} MiB ZIP)",
        zsize as f64 / 1048576.0
    );
    println!(
        "export / zip time: {:.2} (goal <= 1.00): {}",
        ours / zip_secs,
        if ours <= zip_secs { "met" } else { "NOT met" }
    );
    if keep.is_none() {
        let _ = std::fs::remove_dir_all(&base);
    }
}

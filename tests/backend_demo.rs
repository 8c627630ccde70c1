//! `concierge demo` and its backend child: a kill -9 of the demo must not
//! leave the backend running. The demo runs in a real terminal (a detached
//! tmux session on a private socket), since without one it only prints
//! JSON lines and starts no backend.

use concierge_test_support::backend as backend_support;

use backend_support::eventually;
use std::process::Command;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_concierge");

/// The parent pid and command line of a process, if it exists and is not a zombie.
fn proc_info(pid: u32) -> Option<(u32, String)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // pid (comm) state ppid …; comm may hold spaces, so split after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut f = rest.split(' ');
    let state = f.next()?;
    let ppid: u32 = f.next()?.parse().ok()?;
    if state == "Z" || state == "X" {
        return None;
    }
    let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    Some((ppid, String::from_utf8_lossy(&cmd).replace('\0', " ")))
}

/// The live children of `parent` whose command line contains `needle`.
fn children(parent: u32, needle: &str) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| {
            proc_info(pid).is_some_and(|(ppid, cmd)| ppid == parent && cmd.contains(needle))
        })
        .collect()
}

struct Tmux {
    socket: String,
}

impl Tmux {
    fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket]);
        c
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").output();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_the_demo_takes_its_backend_with_it() {
    let tmp = tempfile::tempdir().unwrap();
    let tmux = Tmux {
        socket: format!("concierge-demo-test-{}", std::process::id()),
    };
    let out = tmux
        .cmd()
        .args(["new-session", "-d", "-x", "120", "-y", "40", "-e"])
        .arg(format!("TMPDIR={}", tmp.path().display()))
        .args(["-e", "NO_COLOR=1", "sh", "-c"])
        // NOTE: a shell stays the session leader, as when a person runs the
        // demo from a terminal: were the demo itself the leader, its death
        // would SIGHUP the whole foreground group and hide the bug.
        .arg(format!("'{BIN}' demo; exec sleep 600"))
        .output()
        .expect("tmux is installed (scripts/test.sh installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pane = tmux
        .cmd()
        .args(["display-message", "-p", "#{pane_pid}"])
        .output()
        .unwrap();
    let pane: u32 = String::from_utf8_lossy(&pane.stdout)
        .trim()
        .parse()
        .unwrap();
    // the demo runs under the pane's shell
    let mut demo = 0;
    assert!(
        eventually(Duration::from_secs(60), || {
            let found = children(pane, &format!("{BIN} demo")).first().copied();
            if let Some(d) = found {
                demo = d;
            }
            async move { found.is_some() }
        })
        .await,
        "concierge demo did not start"
    );
    let mut backend = 0;
    assert!(
        eventually(Duration::from_secs(60), || {
            let found = children(demo, "backend serve").first().copied();
            if let Some(b) = found {
                backend = b;
            }
            async move { found.is_some() }
        })
        .await,
        "the demo started no backend"
    );

    // wait for the screen: the backend is up and the demo is past its start
    // (a backend killed while printing its address dies of the broken pipe)
    let screen = || {
        let out = tmux.cmd().args(["capture-pane", "-p"]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(
        eventually(Duration::from_secs(60), || {
            let s = screen();
            async move { s.contains("Queue") }
        })
        .await,
        "the demo screen did not appear:\n{}",
        screen()
    );
    assert!(proc_info(backend).is_some(), "the backend died on its own");

    // kill -9: no destructor, no signal handler runs in the demo
    let st = Command::new("kill")
        .args(["-9", &demo.to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let gone = eventually(Duration::from_secs(60), || async move {
        proc_info(backend).is_none()
    })
    .await;
    let left = proc_info(backend);
    if !gone {
        // do not leave it behind for the next test
        let _ = Command::new("kill")
            .args(["-9", &backend.to_string()])
            .status();
    }
    assert!(
        gone,
        "the backend (pid {backend}) outlived the demo: {left:?}"
    );
}

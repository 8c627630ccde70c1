//! The real `concierge` screen in a pseudo-terminal: tmux runs the binary,
//! the test types keys into it and reads the screen back, and the sandbox
//! around it is real (the reference backend as a child process, a Maildir
//! inbox with the demo mails, the aiosmtpd sink, a SQLite file).
//!
//! Use it with `use concierge_test_support::screen as screen_support;`.
//! Everything a test checks at the end is read from outside the screen:
//! the backend over HTTP, the SMTP sink's files, the Maildir outbox the
//! backend writes its link emails to, the store file after the screen quit.

use crate as support;
use crate::backend as backend_support;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Fails loudly when tmux is missing (scripts/test.sh installs it).
fn tmux_bin() -> &'static str {
    let ok = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "tmux is needed: apt-get install -y tmux (or run scripts/test.sh)"
    );
    "tmux"
}

/// One tmux server (its own socket) running one screen at a time; the
/// server lives as long as this value and is killed when it is dropped.
pub struct Pty {
    sock: PathBuf,
    dir: PathBuf,
    run: u32,
    /// The tmux server's pid, for [`Drop`] to wait on.
    server: u32,
}

impl Pty {
    /// A tmux server whose socket and scripts live in `dir`, started now
    /// and kept until this value is dropped.
    pub fn new(dir: &Path) -> Pty {
        tmux_bin();
        let mut pty = Pty {
            sock: dir.join("tmux.sock"),
            dir: dir.to_path_buf(),
            run: 0,
            server: 0,
        };
        // NOTE: a tmux server exits by default when its last session ends
        // (`exit-empty on`), and a new session that reaches it while it is
        // exiting fails with "server exited unexpectedly" (seen in CI right
        // after a test killed its screen). So the server is started once,
        // with no session and `exit-empty off`: every screen is a session
        // on it, and it ends only by `kill-server` in `Drop`.
        let o = pty.tmux(&["start-server", ";", "set-option", "-g", "exit-empty", "off"]);
        assert!(
            o.status.success(),
            "tmux start-server: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let o = pty.tmux(&["display-message", "-p", "#{pid}"]);
        pty.server = String::from_utf8_lossy(&o.stdout)
            .trim()
            .parse()
            .expect("the tmux server's pid");
        pty
    }

    fn tmux(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux")
            .arg("-S")
            .arg(&self.sock)
            .args(args)
            .output()
            .expect("run tmux")
    }

    fn exit_file(&self) -> PathBuf {
        self.dir.join(format!("exit.{}", self.run))
    }

    /// Starts `concierge ARGS` with `env` in a fresh 120×40 terminal; its
    /// exit status lands in a file [`Pty::wait_exit`] reads.
    pub fn spawn(&mut self, args: &[&str], env: &[(&str, &str)]) {
        self.spawn_sized(args, env, 120, 40);
    }

    /// [`Pty::spawn`] in a terminal of `cols`×`rows`.
    pub fn spawn_sized(&mut self, args: &[&str], env: &[(&str, &str)], cols: u16, rows: u16) {
        self.spawn_program(support::concierge_bin_str(), args, env, (cols, rows));
    }

    /// Starts `program ARGS` in a new session `r<run>` on this server.
    fn spawn_program(
        &mut self,
        program: &str,
        args: &[&str],
        env: &[(&str, &str)],
        (cols, rows): (u16, u16),
    ) {
        self.run += 1;
        let q = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
        let mut script = String::from("#!/bin/sh\n");
        for (k, v) in env {
            script.push_str(&format!("export {k}={}\n", q(v)));
        }
        script.push_str(&q(program));
        for a in args {
            script.push(' ');
            script.push_str(&q(a));
        }
        script.push_str(&format!(
            " 2>>{}\necho $? > {}.tmp && mv {}.tmp {}\n",
            q(&self.dir.join("stderr").display().to_string()),
            q(&self.exit_file().display().to_string()),
            q(&self.exit_file().display().to_string()),
            q(&self.exit_file().display().to_string()),
        ));
        let path = self.dir.join(format!("run.{}.sh", self.run));
        std::fs::write(&path, script).unwrap();
        let (cols, rows, cmd) = (
            cols.to_string(),
            rows.to_string(),
            format!("sh {}", path.display()),
        );
        let name = format!("r{}", self.run);
        let args = [
            "new-session",
            "-d",
            "-s",
            &name,
            "-x",
            &cols,
            "-y",
            &rows,
            &cmd,
        ];
        let o = self.tmux(&args);
        assert!(
            o.status.success(),
            "tmux new-session: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }

    fn target(&self) -> String {
        format!("r{}", self.run)
    }

    /// Presses keys by tmux name: "a", "Enter", "Escape", "C-s", "Up".
    pub fn keys(&self, keys: &[&str]) {
        let t = self.target();
        let mut args = vec!["send-keys", "-t", &t];
        args.extend_from_slice(keys);
        let o = self.tmux(&args);
        assert!(o.status.success(), "send-keys {keys:?}");
    }

    /// Types `text` literally.
    pub fn text(&self, text: &str) {
        let t = self.target();
        let o = self.tmux(&["send-keys", "-t", &t, "-l", text]);
        assert!(o.status.success(), "send-keys -l {text:?}");
    }

    /// The screen as text (empty once the program has exited).
    pub fn screen(&self) -> String {
        let t = self.target();
        String::from_utf8_lossy(&self.tmux(&["capture-pane", "-p", "-t", &t]).stdout).into_owned()
    }

    /// Polls the screen until `cond` holds; panics after `within` with the
    /// screen and the program's stderr. (`within` is kept exact: see the
    /// NOTE on [`crate::app::Driver::until`].)
    pub fn wait_screen(&self, what: &str, within: Duration, cond: impl Fn(&str) -> bool) -> String {
        let mut last = String::new();
        let ok = support::wait_until(Instant::now() + within, || {
            last = self.screen();
            cond(&last)
        });
        assert!(
            ok,
            "timed out waiting for {what}; screen:\n{last}\nstderr:\n{}",
            support::read_for_report(&self.dir.join("stderr"))
        );
        last
    }

    /// The exit status of the current run, once it ended.
    pub fn exit_code(&self) -> Option<i32> {
        std::fs::read_to_string(self.exit_file())
            .ok()
            .and_then(|s| s.trim().parse().ok())
    }

    /// Polls until the current run has ended; its exit status.
    pub fn wait_exit(&self, within: Duration) -> i32 {
        let mut code = None;
        let ok = support::wait_until(Instant::now() + within, || {
            code = self.exit_code();
            code.is_some()
        });
        assert!(
            ok,
            "the screen did not end; screen:\n{}\nstderr:\n{}",
            self.screen(),
            support::read_for_report(&self.dir.join("stderr"))
        );
        code.unwrap()
    }

    /// SIGKILL to the program of the current run (not to its shell, which
    /// then records 137).
    pub fn kill9(&self) {
        let t = self.target();
        let o = self.tmux(&["display-message", "-p", "-t", &t, "#{pane_pid}"]);
        let sh: u32 = String::from_utf8_lossy(&o.stdout)
            .trim()
            .parse()
            .expect("the pane's pid");
        let kids = support::descendants(sh);
        assert!(!kids.is_empty(), "the screen is not running");
        support::send_signal("KILL", &kids);
    }

    /// What the program wrote to stderr over all runs.
    pub fn stderr(&self) -> String {
        support::read_for_report(&self.dir.join("stderr"))
    }
}

impl Drop for Pty {
    /// Kills the server (and with it any screen still running) and waits
    /// until it is gone, so that no tmux server outlives its test.
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
        let _ = support::wait_until(Instant::now() + Duration::from_secs(5), || {
            support::pid_gone(self.server)
        });
    }
}

/// The exit status `sh` reports for a program killed by SIGABRT (128 + 6):
/// what a crash point ends in.
pub const ABORTED: i32 = 134;
/// The same for SIGKILL (128 + 9).
pub const KILLED: i32 = 137;

/// The world around the screen: the reference backend (link emails to a
/// Maildir outbox), the demo mails in a Maildir inbox, the SMTP sink for
/// replies, and a config file naming them and a store file.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
    pub backend: backend_support::Server,
    pub smtp: support::smtp::SmtpSink,
    pub config: PathBuf,
}

impl Sandbox {
    pub fn start() -> Sandbox {
        Self::start_with(support::smtp::SmtpSink::start())
    }

    /// With a particular SMTP sink (one that stalls, say).
    pub fn start_with(smtp: support::smtp::SmtpSink) -> Sandbox {
        let dir = tempfile::tempdir().unwrap();
        let outbox = dir.path().join("outbox");
        let backend = backend_support::Server::start(
            &dir.path().join("backend"),
            &["--seed", "demo", "--outbox", outbox.to_str().unwrap()],
        );
        concierge::demo::write_maildir(&dir.path().join("inbox")).unwrap();
        let config = dir.path().join("config.toml");
        std::fs::write(
            &config,
            format!(
                "[operator]\nname = \"Sam\"\n\
                 [intake]\nsource = \"maildir\"\nmaildir = \"{inbox}\"\n\
                 [smtp]\nhost = \"127.0.0.1\"\nport = {port}\nsecurity = \"none\"\nusername = \"\"\n\
                 from = \"Ochre Concierge <hello@ochrehq.com>\"\n\
                 [backend]\nurl = \"{url}\"\ntoken_env = \"SCREEN_TEST_TOKEN\"\n\
                 [store]\npath = \"{db}\"\n",
                inbox = dir.path().join("inbox").display(),
                port = smtp.port(),
                url = backend.url,
                db = dir.path().join("concierge.db").display(),
            ),
        )
        .unwrap();
        Sandbox {
            dir,
            backend,
            smtp,
            config,
        }
    }

    /// A terminal for this sandbox.
    pub fn pty(&self) -> Pty {
        let d = self.dir.path().join("pty");
        std::fs::create_dir_all(&d).unwrap();
        Pty::new(&d)
    }

    /// Starts the screen on this sandbox's config, with `env` added.
    pub fn screen(&self, pty: &mut Pty, env: &[(&str, &str)]) {
        let mut all = vec![
            ("SCREEN_TEST_TOKEN", backend_support::TOKEN),
            ("TERM", "xterm-256color"),
        ];
        let data = self.dir.path().join("xdg");
        let data = data.to_str().unwrap();
        all.push(("XDG_DATA_HOME", data));
        all.extend_from_slice(env);
        // Tall enough that the detail shows a request's replies unscrolled.
        pty.spawn_sized(&["--config", self.config.to_str().unwrap()], &all, 120, 60);
    }

    /// Runs `concierge ARGS` (no terminal) with `config`; (exit code, stderr).
    pub fn cli(&self, config: &Path, args: &[&str]) -> (i32, String) {
        let o = Command::new(support::concierge_bin())
            .args(args)
            .arg("--config")
            .arg(config)
            .env("SCREEN_TEST_TOKEN", backend_support::TOKEN)
            .env("XDG_DATA_HOME", self.dir.path().join("xdg"))
            .output()
            .unwrap();
        (
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    }

    /// A copy of the config with replies going to SMTP port `port`.
    pub fn config_with_smtp_port(&self, port: u16) -> PathBuf {
        let text = std::fs::read_to_string(&self.config).unwrap();
        let old = format!("port = {}", self.smtp.port());
        assert!(text.contains(&old));
        let path = self.dir.path().join(format!("config-{port}.toml"));
        std::fs::write(&path, text.replace(&old, &format!("port = {port}"))).unwrap();
        path
    }

    pub fn store_path(&self) -> PathBuf {
        self.dir.path().join("concierge.db")
    }

    /// The backend's link emails to `to` in the outbox (Maildir `new/`).
    pub fn link_emails_to(&self, to: &str) -> usize {
        let new = self.dir.path().join("outbox/new");
        let Ok(rd) = std::fs::read_dir(new) else {
            return 0;
        };
        rd.flatten()
            .filter(|e| {
                let text = std::fs::read_to_string(e.path()).unwrap_or_default();
                text.contains("/downloads/")
                    && text
                        .lines()
                        .any(|l| l.to_ascii_lowercase().starts_with("to:") && l.contains(to))
            })
            .count()
    }

    /// The backend's jobs for workspace `name`, asked over HTTP.
    pub fn jobs_of(&self, name: &str) -> Vec<serde_json::Value> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let http = self.backend.http();
            let ws = http.workspace_id(name).await;
            let r = http.get(&format!("/v1/exports?workspace_id={ws}")).await;
            r.json().as_array().cloned().unwrap_or_default()
        })
    }
}

/// In the queue, filters down to the request from `from` (the filter
/// matches the address) and waits until the detail shows it resolved as
/// an owner or admin of its workspace.
pub fn select_resolved(pty: &Pty, from: &str) {
    pty.wait_screen("the inbox read", Duration::from_secs(60), |s| {
        s.contains(from.split('@').next().unwrap())
    });
    pty.keys(&["/"]);
    pty.text(from);
    pty.keys(&["Enter"]);
    pty.wait_screen(
        &format!("{from} resolved as owner or admin"),
        Duration::from_secs(60),
        |s| s.contains("✔ Requester is an owner or admin") && s.contains(&format!("<{from}>")),
    );
}

/// Picks the suggested template, sends it with Ctrl-S and confirms.
pub fn send_suggested_reply(pty: &Pty) {
    ask_to_send_suggested_reply(pty);
    pty.keys(&["y"]);
}

/// Picks the suggested template and sends it with Ctrl-S, up to the
/// question that confirms the send (the caller answers it).
pub fn ask_to_send_suggested_reply(pty: &Pty) {
    pty.keys(&["r", "Enter"]);
    pty.wait_screen("the reply's text", Duration::from_secs(10), |s| {
        s.contains("Ctrl-S")
    });
    pty.keys(&["C-s"]);
    pty.wait_screen("the send question", Duration::from_secs(10), |s| {
        s.contains("Send the")
    });
}

/// Writes the scope note (Ctrl-S saves it) and waits until it is stored.
pub fn write_scope_note(pty: &Pty) {
    pty.keys(&["n"]);
    pty.text("Scope confirmed with the owner: everything.");
    pty.keys(&["C-s"]);
    pty.wait_screen("the note saved", Duration::from_secs(20), |s| {
        s.contains("note saved")
    });
}

/// The count in the header's tab `name` ("Done 1" → 1).
pub fn tab_count(screen: &str, name: &str) -> Option<u32> {
    let head = screen.lines().next()?;
    let rest = &head[head.find(&format!("{name} "))? + name.len() + 1..];
    rest.split_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// True while session `name` exists on `pty`'s server.
    fn has_session(pty: &Pty, name: &str) -> bool {
        pty.tmux(&["has-session", "-t", name]).status.success()
    }

    /// The situation that failed in CI: a screen is killed, its session
    /// (the server's only one) ends, and a new screen opens at once. With
    /// the server kept alive the new one runs, on the same server; the
    /// server is gone once the harness is dropped.
    #[test]
    fn a_screen_opened_right_after_the_last_one_was_killed_runs_on_the_same_server() {
        let dir = tempfile::tempdir().unwrap();
        let mut pty = Pty::new(dir.path());
        let server = pty.server;
        for round in 1..=3 {
            let word = format!("ping{round}");
            pty.spawn_program("cat", &[], &[], (80, 24));
            pty.text(&word);
            pty.keys(&["Enter"]);
            // The terminal's echo and cat's copy: the program runs.
            pty.wait_screen(&format!("{word} twice"), Duration::from_secs(10), |s| {
                s.matches(word.as_str()).count() == 2
            });
            pty.kill9();
            assert_eq!(pty.wait_exit(Duration::from_secs(10)), KILLED);
            let name = pty.target();
            assert!(
                support::wait_until(Instant::now() + Duration::from_secs(10), || {
                    !has_session(&pty, &name)
                }),
                "session {name} did not end"
            );
            assert!(!support::pid_gone(server), "the tmux server exited");
        }
        let o = pty.tmux(&["display-message", "-p", "#{pid}"]);
        assert_eq!(
            String::from_utf8_lossy(&o.stdout).trim(),
            server.to_string(),
            "a second tmux server"
        );
        drop(pty);
        assert!(
            support::pid_gone(server),
            "the tmux server outlived its Pty"
        );
    }
}

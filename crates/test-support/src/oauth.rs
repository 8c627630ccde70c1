//! A token introspection endpoint (RFC 7662) for Dovecot's oauth2 passdb:
//! `oauth_introspect.py` run with Debian's python3 on a loopback port the
//! kernel picks at its bind (`--port 0`; it prints the port).
//! The valid tokens are lines of a file the test rewrites (a removed line is
//! an expired token).

use super::{read_for_report, wait_until};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/oauth_introspect.py");

pub struct Introspection {
    dir: tempfile::TempDir,
    port: u16,
    child: Child,
}

impl Introspection {
    /// Starts the endpoint answering for `user`.
    pub fn start(user: &str) -> Introspection {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("tokens"), "").unwrap();
        let log = std::fs::File::create(dir.path().join("log")).unwrap();
        let child = Command::new(super::smtp::PYTHON)
            .arg("-u")
            .arg(SCRIPT)
            .args(["--port", "0", "--user", user, "--tokens"])
            .arg(dir.path().join("tokens"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start the introspection endpoint");
        let log_path = dir.path().join("log");
        // The port from the script's `listening on 127.0.0.1:PORT` line;
        // a poll that ends at the line (a Python start, ~0.1 s when idle),
        // with the margin for a loaded 2-vCPU CI machine.
        let listening = |log: &str| -> Option<u16> {
            let line = log.lines().find(|l| l.contains("listening on"))?;
            line.rsplit(':').next()?.trim().parse().ok()
        };
        let mut port = None;
        let ready = wait_until(Instant::now() + Duration::from_secs(60), || {
            port = listening(&read_for_report(&log_path));
            port.is_some()
        });
        let mut me = Introspection {
            dir,
            port: port.unwrap_or(0),
            child,
        };
        if !ready {
            let _ = me.child.kill();
            panic!("introspection endpoint: {}", read_for_report(&log_path));
        }
        me
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/introspect", self.port)
    }

    /// Only these tokens are valid from now on.
    pub fn set_valid(&self, tokens: &[&str]) {
        let tmp = self.dir.path().join("tokens.tmp");
        std::fs::write(&tmp, tokens.join("\n")).unwrap();
        std::fs::rename(tmp, self.dir.path().join("tokens")).unwrap();
    }

    /// A token_command that prints the lines of `dir/NAME` one per run (the
    /// last one again once they run out), counting runs in `dir/NAME.runs`.
    pub fn token_command(dir: &Path, name: &str, tokens: &[&str]) -> String {
        let list = dir.join(name);
        std::fs::write(&list, tokens.join("\n") + "\n").unwrap();
        let script = dir.join(format!("{name}.sh"));
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\nruns={l}.runs\nn=$(cat \"$runs\" 2>/dev/null || echo 0)\nn=$((n+1))\necho $n > \"$runs\"\n\
                 total=$(wc -l < {l})\n[ $n -gt $total ] && n=$total\nsed -n \"${{n}}p\" {l}\n",
                l = list.display()
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        script.display().to_string()
    }

    /// How often the token_command named `name` in `dir` ran.
    pub fn runs(dir: &Path, name: &str) -> usize {
        std::fs::read_to_string(dir.join(format!("{name}.runs")))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for Introspection {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

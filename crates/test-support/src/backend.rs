//! The reference backend for the tests (`tests/backend_*.rs`, the screens): the real
//! `concierge backend serve` binary on a free loopback port (killed on drop),
//! a reqwest client with the test token, and polling with deadlines.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const TOKEN: &str = "test-backend-token-6b1d0f2a9c";

/// The demo workspaces' fixed names and members (the reference backend's seed, `crates/refbackend/src/seed/`).
pub const ACME: &str = "Acme Support";
pub const NORTHWIND: &str = "Northwind Traders";
pub const GLOBEX: &str = "Globex";

/// A running `concierge backend serve`. Killed (SIGKILL) on drop.
pub struct Server {
    child: Option<Child>,
    pub url: String,
    pub data: PathBuf,
    stderr: PathBuf,
}

impl Server {
    /// Starts the server on `127.0.0.1:0` with `--data data` and `extra`
    /// arguments; waits for its `listening on` line.
    pub fn start(data: &Path, extra: &[&str]) -> Server {
        Self::start_with_env(data, extra, &[])
    }

    /// Like [`Server::start`], with extra environment variables.
    pub fn start_with_env(data: &Path, extra: &[&str], env: &[(&str, &str)]) -> Server {
        Self::start_at("127.0.0.1:0", data, extra, env)
    }

    /// Like [`Server::start_with_env`], listening on `listen` (a server
    /// started again where clients already point: [`Server::addr`] of one
    /// that was killed).
    pub fn start_at(listen: &str, data: &Path, extra: &[&str], env: &[(&str, &str)]) -> Server {
        std::fs::create_dir_all(data).unwrap();
        let stderr = data.join(format!(
            "server-{}.stderr",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        let mut child = Command::new(crate::concierge_bin())
            .args(["backend", "serve", "--listen", listen, "--data"])
            .arg(data)
            .args(extra)
            .env("CONCIERGE_BACKEND_TOKEN", TOKEN)
            .env("CONCIERGE_LOG", "info")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .expect("spawn concierge backend serve");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.strip_prefix("listening on ") {
                    let _ = tx.send(rest.trim().to_string());
                }
            }
        });
        let url = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(u) => u,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "the backend did not print `listening on` in time; stderr:\n{}",
                    std::fs::read_to_string(&stderr).unwrap_or_default()
                );
            }
        };
        Server {
            child: Some(child),
            url,
            data: data.to_path_buf(),
            stderr,
        }
    }

    /// `kill -9`, and wait for the process to be gone.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Polls until the process has exited on its own (e.g. at a crash
    /// point); None if it still runs after `within`.
    pub fn wait_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + within;
        let child = self.child.as_mut()?;
        loop {
            if let Ok(Some(st)) = child.try_wait() {
                self.child = None;
                return Some(st);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The server's process id (while it runs).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// The `host:port` it listens on.
    pub fn addr(&self) -> String {
        self.url.trim_start_matches("http://").to_string()
    }

    /// What the server wrote to stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    pub fn http(&self) -> Http {
        Http {
            base: self.url.clone(),
            c: reqwest::Client::builder()
                .timeout(Duration::from_secs(120))
                .build()
                .unwrap(),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Raw HTTP against the server, with or without the token.
#[derive(Clone)]
pub struct Http {
    pub base: String,
    pub c: reqwest::Client,
}

/// A response, read whole.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "status {} body is not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    /// The error code of an error body.
    pub fn code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or("")
            .to_string()
    }
}

impl Http {
    pub async fn send(&self, rb: reqwest::RequestBuilder) -> Resp {
        let r = rb.send().await.expect("request to the backend");
        let status = r.status().as_u16();
        let content_type = r
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let body = r.bytes().await.expect("response body").to_vec();
        Resp {
            status,
            content_type,
            body,
        }
    }

    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{}", self.base, path)
        }
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.send(
            self.c
                .get(self.url(path))
                .bearer_auth(TOKEN)
                .header("x-concierge-operator", "Test Operator"),
        )
        .await
    }

    pub async fn get_anon(&self, path: &str) -> Resp {
        self.send(self.c.get(self.url(path))).await
    }

    pub async fn post(&self, path: &str, key: Option<&str>, body: &Value) -> Resp {
        let mut rb = self
            .c
            .post(self.url(path))
            .bearer_auth(TOKEN)
            .header("x-concierge-operator", "Test Operator")
            .json(body);
        if let Some(k) = key {
            rb = rb.header("idempotency-key", k);
        }
        self.send(rb).await
    }

    /// The id of the workspace named `name`.
    pub async fn workspace_id(&self, name: &str) -> String {
        let r = self
            .get(&format!("/v1/workspaces?name={}", name.replace(' ', "%20")))
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()[0]["id"].as_str().unwrap().to_string()
    }

    /// The member id of `email` in the workspace `ws`.
    pub async fn member_id(&self, email: &str, ws: &str) -> String {
        let r = self.get(&format!("/v1/members?email={email}")).await;
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["workspace_id"] == ws)
            .unwrap_or_else(|| panic!("{email} is not a member of {ws}"))["member_id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Starts an export of `ws_name` requested by `email`; answers the response.
    pub async fn start_export(&self, ws_name: &str, email: &str, key: &str) -> Resp {
        let ws = self.workspace_id(ws_name).await;
        let member = self.member_id(email, &ws).await;
        let body = serde_json::json!({
            "workspace_id": ws,
            "requested_by": member,
            "request_message_id": format!("{key}@requests.example"),
            "note": "integration test",
        });
        self.post("/v1/exports", Some(key), &body).await
    }

    /// Polls the job until `done(job)` holds; panics with the last state at the deadline.
    pub async fn wait_job(
        &self,
        id: &str,
        within: Duration,
        mut done: impl FnMut(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let r = self.get(&format!("/v1/exports/{id}")).await;
            assert_eq!(r.status, 200, "{}", r.text());
            let j = r.json();
            if done(&j) {
                return j;
            }
            if Instant::now() >= deadline {
                panic!("job {id} did not reach the expected state in {within:?}; last: {j}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Polls an async condition every 20 ms until it holds or `within` passes.
pub async fn eventually<F, Fut>(within: Duration, mut f: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    loop {
        if f().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The first download link in an email's text.
pub fn link_in(text: &str) -> String {
    let start = text
        .find("http://")
        .unwrap_or_else(|| panic!("no link in the email:\n{text}"));
    let rest = &text[start..];
    let end = rest.find(|c: char| c.is_whitespace()).unwrap_or(rest.len());
    let link = rest[..end].to_string();
    assert!(link.contains("/downloads/"), "not a download link: {link}");
    link
}

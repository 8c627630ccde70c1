//! Every call of the export backend API v1 over real HTTP against the real
//! `concierge backend serve`: success and error answers, authentication
//! (401), authorization (403), idempotency (200 / 409), cancel, and the
//! error body `{"error": {"code", "message"}}`.

use concierge_test_support::backend as backend_support;

use backend_support::*;
use serde_json::{json, Value};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_concierge");

fn assert_error(r: &Resp, status: u16, code: &str) {
    assert_eq!(r.status, status, "{}", r.text());
    assert!(
        r.content_type.starts_with("application/json"),
        "{}",
        r.content_type
    );
    let v = r.json();
    assert_eq!(v["error"]["code"], code, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{v}"
    );
    assert!(!r.text().contains(TOKEN));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_v1_route_needs_the_bearer_token() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let http = server.http();
    let ws = http.workspace_id(ACME).await;
    let routes = [
        ("GET", "/v1/workspaces".to_string()),
        ("GET", format!("/v1/workspaces/{ws}")),
        ("GET", "/v1/members?email=owner@acme.example".to_string()),
        ("POST", "/v1/exports".to_string()),
        ("GET", format!("/v1/exports?workspace_id={ws}")),
        ("GET", format!("/v1/exports/{ws}")),
        ("POST", format!("/v1/exports/{ws}/cancel")),
    ];
    for (method, path) in &routes {
        let url = http.url(path);
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let cases = [
            ("none", http.c.request(m.clone(), &url)),
            (
                "wrong",
                http.c.request(m.clone(), &url).bearer_auth("wrong-token"),
            ),
            (
                "prefix",
                http.c
                    .request(m.clone(), &url)
                    .bearer_auth(&TOKEN[..TOKEN.len() - 1]),
            ),
            (
                "basic",
                http.c
                    .request(m.clone(), &url)
                    .header("authorization", format!("Basic {TOKEN}")),
            ),
        ];
        for (what, rb) in cases {
            let rb = rb.header("idempotency-key", "k").json(&json!({}));
            let r = http.send(rb).await;
            assert_error(&r, 401, "unauthorized");
            let _ = what;
        }
    }
    // the scheme is case-insensitive (RFC 7235)
    let r = http
        .send(
            http.c
                .get(http.url("/v1/workspaces"))
                .header("authorization", format!("bearer {TOKEN}")),
        )
        .await;
    assert_eq!(r.status, 200);
    // the links and the health check need no token
    assert_eq!(http.get_anon("/healthz").await.status, 200);
    // the token never reaches the log
    assert!(!server.log().contains(TOKEN));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workspaces_and_members() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let http = server.http();

    let all = http.get("/v1/workspaces").await;
    assert_eq!(all.status, 200);
    let all = all.json();
    let names: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec![ACME, NORTHWIND, GLOBEX]);
    for w in all.as_array().unwrap() {
        uuid::Uuid::parse_str(w["id"].as_str().unwrap()).unwrap();
        chrono::DateTime::parse_from_rfc3339(w["created_at"].as_str().unwrap()).unwrap();
        assert_eq!(w.as_object().unwrap().len(), 3);
    }
    // exact, case-insensitive name
    let one = http.get("/v1/workspaces?name=aCmE%20sUpPoRt").await.json();
    assert_eq!(one.as_array().unwrap().len(), 1);
    assert_eq!(one[0]["name"], ACME);
    assert_eq!(http.get("/v1/workspaces?name=Acme").await.json(), json!([]));

    // ids are stable across restarts (same seed): a second server agrees
    let dir2 = tempfile::tempdir().unwrap();
    let other = Server::start(dir2.path(), &[]);
    assert_eq!(other.http().get("/v1/workspaces").await.json(), all);
    drop(other);

    // a workspace with its size
    let ws = http.workspace_id(ACME).await;
    let r = http.get(&format!("/v1/workspaces/{ws}")).await;
    assert_eq!(r.status, 200);
    let d = r.json();
    assert_eq!(d["name"], ACME);
    let size = &d["size"];
    for k in [
        "conversations",
        "messages",
        "internal_notes",
        "customers",
        "articles",
        "categories",
        "routing_rules",
        "members",
        "attachments",
        "attachment_bytes",
        "large_attachments",
    ] {
        assert!(size[k].is_u64(), "{k} missing: {size}");
    }
    assert_eq!(size["large_attachments"], 1);
    assert_eq!(size["members"], 3);
    let g = http.workspace_id(GLOBEX).await;
    let gs = http.get(&format!("/v1/workspaces/{g}")).await.json()["size"].clone();
    assert!(gs["messages"].as_u64().unwrap() > 2_000_000, "{gs}");
    assert!(gs["customers"].as_u64().unwrap() >= 40_000, "{gs}");
    let n = http.workspace_id(NORTHWIND).await;
    let ns = http.get(&format!("/v1/workspaces/{n}")).await.json()["size"].clone();
    assert!(
        (100_000..200_000).contains(&ns["messages"].as_u64().unwrap()),
        "{ns}"
    );

    assert_error(
        &http
            .get(&format!("/v1/workspaces/{}", uuid::Uuid::new_v4()))
            .await,
        404,
        "workspace_not_found",
    );
    assert_error(
        &http.get("/v1/workspaces/not-a-uuid").await,
        404,
        "workspace_not_found",
    );

    // members by account email (case-insensitive)
    let m = http.get("/v1/members?email=OWNER@acme.example").await;
    assert_eq!(m.status, 200);
    let m = m.json();
    assert_eq!(m.as_array().unwrap().len(), 1);
    assert_eq!(m[0]["role"], "owner");
    assert_eq!(m[0]["workspace_id"], ws);
    assert_eq!(m[0]["workspace_name"], ACME);
    assert_eq!(m[0]["email"], "owner@acme.example");
    assert!(m[0]["name"].is_string());
    uuid::Uuid::parse_str(m[0]["member_id"].as_str().unwrap()).unwrap();
    for (email, role) in [
        ("admin@acme.example", "admin"),
        ("agent@acme.example", "agent"),
        ("ops@northwind.example", "owner"),
        ("it@globex.example", "admin"),
        ("ceo@globex.example", "owner"),
    ] {
        let r = http.get(&format!("/v1/members?email={email}")).await.json();
        assert_eq!(r[0]["role"], role, "{email}");
    }
    assert_eq!(
        http.get("/v1/members?email=nobody@acme.example")
            .await
            .json(),
        json!([])
    );
    assert_error(&http.get("/v1/members").await, 400, "invalid_request");

    // unknown routes and methods answer JSON errors too
    assert_error(&http.get("/v1/nothing-here").await, 404, "not_found");
    let r = http
        .send(http.c.delete(http.url("/v1/workspaces")).bearer_auth(TOKEN))
        .await;
    assert_error(&r, 405, "method_not_allowed");
}

/// A raw HTTP/1.1 POST with a chunked body of `chunks` × `size` spaces;
/// answers what the server sent back (up to when it closed or 64 KiB).
async fn raw_chunked_post(base: &str, path: &str, chunks: usize, size: usize) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {TOKEN}\r\n\
         Idempotency-Key: chunked-1\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let chunk = format!("{size:x}\r\n{}\r\n", " ".repeat(size));
    for _ in 0..chunks {
        // The server may answer 413 and close before the whole body is sent.
        if s.write_all(chunk.as_bytes()).await.is_err() {
            break;
        }
    }
    let _ = s.write_all(b"0\r\n\r\n").await;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while out.len() < 65_536 {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starting_exports_idempotency_and_authorization() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let http = server.http();
    let ws = http.workspace_id(ACME).await;
    let nw = http.workspace_id(NORTHWIND).await;
    let owner = http.member_id("owner@acme.example", &ws).await;
    let agent = http.member_id("agent@acme.example", &ws).await;
    let nw_owner = http.member_id("ops@northwind.example", &nw).await;
    let body = |member: &str, mid: &str| json!({"workspace_id": ws, "requested_by": member, "request_message_id": mid, "note": "scope confirmed"});

    // no Idempotency-Key → 400
    assert_error(
        &http.post("/v1/exports", None, &body(&owner, "a@x")).await,
        400,
        "idempotency_key_required",
    );
    // a key that is not ASCII is invalid, not missing
    let r = http
        .send(
            http.c
                .post(http.url("/v1/exports"))
                .bearer_auth(TOKEN)
                .header(
                    "idempotency-key",
                    reqwest::header::HeaderValue::from_bytes("clé-1".as_bytes()).unwrap(),
                )
                .json(&body(&owner, "a@x")),
        )
        .await;
    assert_error(&r, 400, "invalid_request");
    // a body over 64 KiB → 413 in the JSON error format, declared or chunked
    let mut big = body(&owner, "big@x");
    big["note"] = json!("x".repeat(70 * 1024));
    assert_error(
        &http.post("/v1/exports", Some("big-1"), &big).await,
        413,
        "payload_too_large",
    );
    // chunked, no Content-Length: counted as it arrives
    let raw = raw_chunked_post(&http.base, "/v1/exports", 65, 1024).await;
    assert!(raw.starts_with("HTTP/1.1 413"), "{raw}");
    assert!(raw.contains("application/json"), "{raw}");
    assert!(raw.contains("payload_too_large"), "{raw}");
    assert_error(
        &http
            .post("/v1/exports", Some(""), &body(&owner, "a@x"))
            .await,
        400,
        "idempotency_key_required",
    );
    // malformed bodies → 400
    for bad in [
        json!({"workspace_id": ws}),
        json!({"workspace_id": "nope", "requested_by": owner, "request_message_id": "m"}),
        json!({"workspace_id": ws, "requested_by": owner, "request_message_id": ""}),
        // the request never carries an address to send data to
        json!({"workspace_id": ws, "requested_by": owner, "request_message_id": "m", "deliver_to": "attacker@evil.example"}),
    ] {
        assert_error(
            &http.post("/v1/exports", Some("bad-body"), &bad).await,
            400,
            "invalid_request",
        );
    }
    // an agent may not export → 403; nor may a member of another workspace
    assert_error(
        &http
            .post("/v1/exports", Some("agent-1"), &body(&agent, "b@x"))
            .await,
        403,
        "not_owner_or_admin",
    );
    assert_error(
        &http
            .post("/v1/exports", Some("other-ws-1"), &body(&nw_owner, "b@x"))
            .await,
        403,
        "not_owner_or_admin",
    );
    // unknown workspace / member → 404
    assert_error(
        &http
            .post(
                "/v1/exports",
                Some("unknown-ws"),
                &json!({"workspace_id": uuid::Uuid::new_v4(), "requested_by": owner, "request_message_id": "m"}),
            )
            .await,
        404,
        "workspace_not_found",
    );
    assert_error(
        &http
            .post(
                "/v1/exports",
                Some("unknown-member"),
                &body(&uuid::Uuid::new_v4().to_string(), "m"),
            )
            .await,
        404,
        "member_not_found",
    );

    // 202 with a job; the address is the member's, masked
    let r = http
        .post(
            "/v1/exports",
            Some("key-1"),
            &body(&owner, "req-1@acme.example"),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.text());
    let job = r.json();
    assert_eq!(job["workspace_id"], ws);
    assert_eq!(job["deliver_to"], "o***@acme.example");
    assert!(["queued", "running"].contains(&job["status"].as_str().unwrap()));
    for k in [
        "started_at",
        "finished_at",
        "emailed_at",
        "link_expires_at",
        "error",
    ] {
        assert!(job.get(k).is_some(), "{k} missing");
    }
    // the same key and body → the same job (200), never a second export
    let again = http
        .post(
            "/v1/exports",
            Some("key-1"),
            &body(&owner, "req-1@acme.example"),
        )
        .await;
    assert_eq!(again.status, 200, "{}", again.text());
    assert_eq!(again.json()["id"], job["id"]);
    // the same key with another body → 409
    assert_error(
        &http
            .post(
                "/v1/exports",
                Some("key-1"),
                &body(&owner, "req-2@acme.example"),
            )
            .await,
        409,
        "idempotency_conflict",
    );
    // another key while that export is live → 409 naming it, nothing created
    let busy = http
        .post(
            "/v1/exports",
            Some("key-2"),
            &body(&owner, "req-2@acme.example"),
        )
        .await;
    assert_error(&busy, 409, "export_in_progress");
    assert_eq!(busy.json()["error"]["job_id"], job["id"]);
    // concurrent retries of one new key, forced → one job
    let mut race_body = body(&owner, "req-3@acme.example");
    race_body["force"] = json!(true);
    let futs: Vec<_> = (0..5)
        .map(|_| http.post("/v1/exports", Some("key-race"), &race_body))
        .collect();
    let results = futures_util::future::join_all(futs).await;
    let ids: std::collections::HashSet<String> = results
        .iter()
        .map(|r| {
            assert!(r.status == 202 || r.status == 200, "{}", r.text());
            r.json()["id"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(ids.len(), 1, "one key started {} exports", ids.len());
    assert_eq!(results.iter().filter(|r| r.status == 202).count(), 1);

    // GET the job; unknown job → 404
    let id = job["id"].as_str().unwrap();
    let r = http.get(&format!("/v1/exports/{id}")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["id"], job["id"]);
    assert_error(
        &http
            .get(&format!("/v1/exports/{}", uuid::Uuid::new_v4()))
            .await,
        404,
        "job_not_found",
    );
    assert_error(&http.get("/v1/exports/123").await, 404, "job_not_found");

    // the workspace's jobs, newest first
    let list = http.get(&format!("/v1/exports?workspace_id={ws}")).await;
    assert_eq!(list.status, 200);
    let list = list.json();
    let list_ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        list_ids.len(),
        2,
        "key-2 (refused as in progress) made no job"
    );
    assert_eq!(list_ids[1], id, "newest first");
    assert_eq!(
        http.get(&format!("/v1/exports?workspace_id={nw}"))
            .await
            .json(),
        json!([])
    );
    assert_error(
        &http
            .get(&format!(
                "/v1/exports?workspace_id={}",
                uuid::Uuid::new_v4()
            ))
            .await,
        404,
        "workspace_not_found",
    );

    // both jobs complete (into the default Maildir outbox under --data)
    for j in &list_ids {
        http.wait_job(j, Duration::from_secs(120), |j| {
            assert_ne!(j["status"], "failed", "{j}");
            j["status"] == "emailed"
        })
        .await;
    }
    let outbox = std::fs::read_dir(dir.path().join("outbox/new"))
        .unwrap()
        .count();
    assert_eq!(outbox, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let http = server.http();

    // a big export, cancelled while queued or running
    let r = http
        .start_export(GLOBEX, "ceo@globex.example", "cancel-1")
        .await;
    assert_eq!(r.status, 202, "{}", r.text());
    let id = r.json()["id"].as_str().unwrap().to_string();
    let c = http
        .post(&format!("/v1/exports/{id}/cancel"), None, &json!({}))
        .await;
    assert_eq!(c.status, 200, "{}", c.text());
    assert_eq!(c.json()["status"], "cancelled");
    assert!(c.json()["finished_at"].is_string());
    // cancelling again answers the cancelled job
    let c = http
        .post(&format!("/v1/exports/{id}/cancel"), None, &json!({}))
        .await;
    assert_eq!(c.status, 200);
    assert_eq!(c.json()["status"], "cancelled");

    // an emailed job can no longer be cancelled
    let r = http
        .start_export(ACME, "admin@acme.example", "cancel-2")
        .await;
    let done = r.json()["id"].as_str().unwrap().to_string();
    http.wait_job(&done, Duration::from_secs(120), |j| {
        j["status"] == "emailed"
    })
    .await;
    assert_error(
        &http
            .post(&format!("/v1/exports/{done}/cancel"), None, &json!({}))
            .await,
        409,
        "not_cancellable",
    );
    assert_error(
        &http
            .post(
                &format!("/v1/exports/{}/cancel", uuid::Uuid::new_v4()),
                None,
                &json!({}),
            )
            .await,
        404,
        "job_not_found",
    );

    // the cancelled job stayed cancelled while the other one ran to the end
    let j = http.get(&format!("/v1/exports/{id}")).await.json();
    assert_eq!(j["status"], "cancelled", "{j}");
    assert!(j["link_expires_at"].is_null());
    let outbox: Vec<Value> = std::fs::read_dir(dir.path().join("outbox/new"))
        .unwrap()
        .flatten()
        .map(|e| json!(e.file_name().to_string_lossy()))
        .collect();
    assert_eq!(outbox.len(), 1, "{outbox:?}");
}

#[test]
fn serve_without_a_token_is_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(BIN)
        .args(["backend", "serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(dir.path())
        .env_remove("CONCIERGE_BACKEND_TOKEN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("CONCIERGE_BACKEND_TOKEN"), "{err}");
    assert!(out.stdout.is_empty());

    // a malformed --link-ttl is a usage error
    let out = std::process::Command::new(BIN)
        .args(["backend", "serve", "--link-ttl", "7 weeks"])
        .env("CONCIERGE_BACKEND_TOKEN", TOKEN)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn the_link_key_is_created_once_with_mode_0600() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("link.key");
    let first = {
        let _s = Server::start(dir.path(), &[]);
        std::fs::read(&key).unwrap()
    };
    assert_eq!(first.len(), 32);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let _s = Server::start(dir.path(), &[]);
    assert_eq!(
        std::fs::read(&key).unwrap(),
        first,
        "the key changed on restart"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_starts_with_different_keys_create_one_export() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let http = server.http();
    let ws = http.workspace_id(NORTHWIND).await;
    let owner = http.member_id("ops@northwind.example", &ws).await;
    let body =
        |mid: String| json!({"workspace_id": ws, "requested_by": owner, "request_message_id": mid});

    // 16 operators approve 16 requests for one workspace at once (bounded: loopback, one round)
    const N: usize = 16;
    let futs: Vec<_> = (0..N)
        .map(|i| {
            let (http, b) = (http.clone(), body(format!("conc-{i}@northwind.example")));
            async move {
                http.post("/v1/exports", Some(&format!("conc-{i}")), &b)
                    .await
            }
        })
        .collect();
    let results = futures_util::future::join_all(futs).await;
    let created: Vec<&Resp> = results.iter().filter(|r| r.status == 202).collect();
    assert_eq!(
        created.len(),
        1,
        "{N} concurrent keys created {} jobs",
        created.len()
    );
    let winner = created[0].json()["id"].as_str().unwrap().to_string();
    for r in results.iter().filter(|r| r.status != 202) {
        assert_error(r, 409, "export_in_progress");
        assert_eq!(r.json()["error"]["job_id"], winner.as_str(), "{}", r.text());
    }
    let list = http
        .get(&format!("/v1/exports?workspace_id={ws}"))
        .await
        .json();
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");

    // the winner's key again: its job, not a refusal
    let i = results.iter().position(|r| r.status == 202).unwrap();
    let again = http
        .post(
            "/v1/exports",
            Some(&format!("conc-{i}")),
            &body(format!("conc-{i}@northwind.example")),
        )
        .await;
    assert_eq!(again.status, 200, "{}", again.text());
    assert_eq!(again.json()["id"], winner.as_str());

    // once emailed, its link is still valid: still refused …
    http.wait_job(&winner, Duration::from_secs(120), |j| {
        assert_ne!(j["status"], "failed", "{j}");
        j["status"] == "emailed"
    })
    .await;
    let r = http
        .post(
            "/v1/exports",
            Some("conc-late"),
            &body("late@northwind.example".into()),
        )
        .await;
    assert_error(&r, 409, "export_in_progress");
    assert_eq!(r.json()["error"]["job_id"], winner.as_str());
    // … unless forced
    let mut forced = body("forced@northwind.example".into());
    forced["force"] = json!(true);
    let r = http.post("/v1/exports", Some("conc-forced"), &forced).await;
    assert_eq!(r.status, 202, "{}", r.text());
    assert_ne!(r.json()["id"], winner.as_str());

    // what the export left behind is private: 0600 files, 0700 directories
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let d = dir.path();
    for p in ["jobs.db", "jobs.db-wal", "link.key", "lock"] {
        assert_eq!(mode(&d.join(p)), 0o600, "{p}");
    }
    for p in [
        "",
        "exports",
        "outbox",
        "outbox/new",
        "outbox/tmp",
        "outbox/cur",
    ] {
        assert_eq!(mode(&d.join(p)), 0o700, "{p:?}");
    }
    let zip = d.join(format!("exports/{winner}.zip"));
    assert_eq!(mode(&zip), 0o600);
    let mails: Vec<_> = std::fs::read_dir(d.join("outbox/new"))
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(mails.len(), 1);
    assert_eq!(mode(&mails[0].path()), 0o600);
}

/// Connections a process has accepted on `port` and still holds open
/// (Linux): its socket descriptors matched against the kernel's TCP table,
/// local port `port`, state ESTABLISHED or CLOSE_WAIT. Counting these, not
/// all descriptors, keeps the count free of whatever file the server opens
/// or closes meanwhile (a CI run once failed on a baseline taken while a
/// start-up file was still open).
///
/// Counted as distinct inodes, not lines: the kernel serves
/// `/proc/net/tcp` over several `read` calls and resumes each by position,
/// so while other sockets come and go a line can be served twice (seen
/// under load: 9 lines, 8 inodes, inode 7283090 twice, while the server
/// held 8). Each inode counted is in the server's descriptor table when
/// that is read and still connected when the table is read after it, so
/// all of them were open together at the moment in between: the count
/// never exceeds what the server really held.
fn accepted(pid: u32, port: u16) -> usize {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return 0;
    };
    let inodes: std::collections::HashSet<String> = dir
        .flatten()
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .filter_map(|l| {
            let l = l.to_string_lossy().into_owned();
            Some(l.strip_prefix("socket:[")?.strip_suffix(']')?.to_string())
        })
        .collect();
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    let local = format!(":{port:04X}");
    table
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|f| f.len() > 9 && f[1].ends_with(&local))
        // 01 ESTABLISHED, 08 CLOSE_WAIT (the client gave up, not yet closed)
        .filter(|f| f[3] == "01" || f[3] == "08")
        .filter(|f| inodes.contains(f[9]))
        .map(|f| f[9])
        .collect::<std::collections::HashSet<_>>()
        .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_idle_connections_neither_exhausts_nor_blocks_the_server() {
    const CAP: usize = 8;
    const IDLE: usize = 32;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        dir.path(),
        &["--max-connections", "8", "--header-timeout", "2s"],
    );
    let http = server.http();
    let pid = server.pid().unwrap();
    let port: u16 = server.addr().rsplit(':').next().unwrap().parse().unwrap();
    assert_eq!(accepted(pid, port), 0, "connections before any was made");

    // IDLE sockets that connect and never send a byte (bounded count, loopback)
    let mut idle = Vec::new();
    for _ in 0..IDLE {
        idle.push(tokio::net::TcpStream::connect(server.addr()).await.unwrap());
    }
    // the server holds CAP of them at once, never more; the rest wait in
    // the backlog until the header timeout frees a slot
    let mut most = 0;
    let reached = eventually(Duration::from_secs(30), || {
        let now = accepted(pid, port);
        most = most.max(now);
        async move { now >= CAP }
    })
    .await;
    assert!(
        reached,
        "the server never held {CAP} connections at once (at most {most})"
    );
    for _ in 0..20 {
        let now = accepted(pid, port);
        assert!(now <= CAP, "{now} connections held, the cap is {CAP}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // a normal request is still answered: the header timeout frees the slots
    let r = http.get("/v1/workspaces").await;
    assert_eq!(r.status, 200, "{}", r.text());

    // and the idle sockets were closed by the server, not left open
    use tokio::io::AsyncReadExt;
    let mut closed = 0;
    for s in idle.iter_mut() {
        let mut b = [0u8; 1];
        if let Ok(Ok(0)) = tokio::time::timeout(Duration::from_secs(30), s.read(&mut b)).await {
            closed += 1;
        }
    }
    assert_eq!(closed, IDLE, "idle connections left open");
}

#[test]
fn a_second_backend_on_the_same_data_directory_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let first = Server::start(dir.path(), &[]);
    let out = std::process::Command::new(BIN)
        .args(["backend", "serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(dir.path())
        .env("CONCIERGE_BACKEND_TOKEN", TOKEN)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("another backend is already using the data directory"),
        "{err}"
    );
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    drop(first);
}

//! The typed client (`concierge::backend::BackendClient`) against the real
//! reference backend over HTTP: one method per call, the project's own types
//! back, errors the UI can branch on, retries with the same Idempotency-Key,
//! and the token in no message.

mod backend_support;

use backend_support::*;
use concierge::backend::{
    idempotency_key, ApiError, BackendClient, ExportRequest, JobStatus, RetryPolicy, Role,
};
use concierge::secret::Secret;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        base: Duration::from_millis(20),
        cap: Duration::from_millis(100),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_calls_against_the_reference_backend() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let c = BackendClient::new(&server.url, Secret::new(TOKEN), "Zoë Operator").unwrap();

    let all = c.workspaces(None).await.unwrap();
    assert_eq!(all.len(), 3);
    let acme = c.workspaces(Some("ACME SUPPORT")).await.unwrap();
    assert_eq!(acme.len(), 1);
    let acme = &acme[0];
    assert_eq!(acme.name, ACME);
    let details = c.workspace(acme.id).await.unwrap();
    assert_eq!(details.workspace, *acme);
    assert!(details.size.messages > 10_000);
    assert_eq!(details.size.large_attachments, 1);

    let members = c.members("owner@acme.example").await.unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!(members[0].role, Role::Owner);
    assert!(members[0].role.may_request_export());
    let agent = &c.members("agent@acme.example").await.unwrap()[0];
    assert_eq!(agent.role, Role::Agent);

    // start, twice with the key derived from the request: one job
    let req = ExportRequest {
        workspace_id: acme.id,
        requested_by: members[0].member_id,
        request_message_id: "req-0001@acme.example".into(),
        note: Some("scope confirmed".into()),
    };
    let key = idempotency_key("<req-0001@acme.example>", acme.id);
    let job = c.start_export(&req, &key).await.unwrap();
    assert!(matches!(job.status, JobStatus::Queued | JobStatus::Running));
    assert_eq!(job.deliver_to.as_deref(), Some("o***@acme.example"));
    let again = c.start_export(&req, &key).await.unwrap();
    assert_eq!(again.id, job.id);

    // the same key with another request: a conflict
    let other = ExportRequest {
        note: Some("something else".into()),
        ..req.clone()
    };
    assert!(matches!(
        c.start_export(&other, &key).await,
        Err(ApiError::Conflict { .. })
    ));
    // an agent: not owner or admin
    let by_agent = ExportRequest {
        requested_by: agent.member_id,
        ..req.clone()
    };
    let e = c
        .start_export(&by_agent, &idempotency_key("req-9@acme.example", acme.id))
        .await
        .unwrap_err();
    assert!(matches!(e, ApiError::NotOwnerOrAdmin { .. }), "{e}");
    // unknown things: not found
    assert!(matches!(
        c.job(uuid::Uuid::new_v4()).await,
        Err(ApiError::NotFound { .. })
    ));
    assert!(matches!(
        c.workspace(uuid::Uuid::new_v4()).await,
        Err(ApiError::NotFound { .. })
    ));

    // follow the job to emailed
    let deadline = Instant::now() + Duration::from_secs(120);
    let done = loop {
        let j = c.job(job.id).await.unwrap();
        if j.status.is_terminal() {
            break j;
        }
        assert!(Instant::now() < deadline, "{j:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(done.status, JobStatus::Emailed, "{done:?}");
    assert!(done.emailed_at.is_some() && done.link_expires_at.is_some());
    let jobs = c.jobs(acme.id).await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].id, job.id);
    // too late to cancel
    assert!(matches!(
        c.cancel(job.id).await,
        Err(ApiError::Conflict { .. })
    ));

    // cancel a fresh one
    let g = &c.workspaces(Some(GLOBEX)).await.unwrap()[0];
    let ceo = c
        .members("ceo@globex.example")
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.workspace_id == g.id)
        .unwrap();
    let big = c
        .start_export(
            &ExportRequest {
                workspace_id: g.id,
                requested_by: ceo.member_id,
                request_message_id: "req-7@globex.example".into(),
                note: None,
            },
            &idempotency_key("req-7@globex.example", g.id),
        )
        .await
        .unwrap();
    let cancelled = c.cancel(big.id).await.unwrap();
    assert_eq!(cancelled.status, JobStatus::Cancelled);

    // a wrong token: Unauthorized, and the token is in no message
    let bad = BackendClient::new(&server.url, Secret::new("wrong-token-123456"), "op").unwrap();
    let e = bad.workspaces(None).await.unwrap_err();
    assert!(matches!(e, ApiError::Unauthorized));
    assert!(!format!("{e} {e:?}").contains("wrong-token-123456"));
    assert!(!format!("{c:?}").contains(TOKEN));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_after_capped_retries_without_the_token() {
    // a port nothing listens on
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let token = "secret-token-for-unreachable-test";
    let c = BackendClient::new(
        &format!("http://127.0.0.1:{port}"),
        Secret::new(token),
        "op",
    )
    .unwrap()
    .with_retry(fast_retry());
    let started = Instant::now();
    let e = c.workspaces(None).await.unwrap_err();
    assert!(matches!(e, ApiError::Unreachable { .. }), "{e}");
    assert!(e.is_transient());
    assert!(started.elapsed() < Duration::from_secs(5));
    let text = format!("{e} / {e:?}");
    assert!(!text.contains(token), "{text}");
}

/// A tiny HTTP server that answers 503 to the first `fail` requests and a
/// job to the rest, recording each request's Idempotency-Key.
fn flaky_server(fail: usize) -> (String, Arc<Mutex<Vec<String>>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let keys = Arc::new(Mutex::new(Vec::new()));
    let k2 = keys.clone();
    std::thread::spawn(move || {
        for (n, conn) in l.incoming().enumerate() {
            let Ok(mut s) = conn else { continue };
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut len = 0usize;
            let mut key = String::new();
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                let l = line.trim_end();
                if l.is_empty() {
                    break;
                }
                let lower = l.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
                if lower.starts_with("idempotency-key:") {
                    key = l["idempotency-key:".len()..].trim().to_string();
                }
            }
            let mut body = vec![0u8; len];
            let _ = r.read_exact(&mut body);
            k2.lock().unwrap().push(key);
            let (status, body) = if n < fail {
                (
                    "503 Service Unavailable",
                    r#"{"error":{"code":"internal","message":"busy"}}"#.to_string(),
                )
            } else {
                (
                    "202 Accepted",
                    serde_json::json!({
                        "id": "7f1c1a52-52a8-4bb0-9d62-2d4f6a1b0c11",
                        "workspace_id": "6f1c1a52-52a8-5bb0-9d62-2d4f6a1b0c11",
                        "status": "queued", "phase": "queued", "progress": 0.0,
                        "created_at": "2026-05-06T14:32:01Z", "started_at": null,
                        "finished_at": null, "emailed_at": null,
                        "deliver_to": "o***@acme.example", "link_expires_at": null, "error": null
                    })
                    .to_string(),
                )
            };
            let _ = write!(
                s,
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (url, keys)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_export_is_retried_with_the_same_idempotency_key() {
    let (url, keys) = flaky_server(2);
    let c = BackendClient::new(&url, Secret::new("t0ken-abcdefgh"), "op")
        .unwrap()
        .with_retry(fast_retry());
    let ws = uuid::Uuid::parse_str("6f1c1a52-52a8-5bb0-9d62-2d4f6a1b0c11").unwrap();
    let key = idempotency_key("req-1@acme.example", ws);
    let job = c
        .start_export(
            &ExportRequest {
                workspace_id: ws,
                requested_by: uuid::Uuid::new_v4(),
                request_message_id: "req-1@acme.example".into(),
                note: None,
            },
            &key,
        )
        .await
        .unwrap();
    assert_eq!(job.status, JobStatus::Queued);
    let seen = keys.lock().unwrap().clone();
    assert_eq!(seen.len(), 3, "two 503s, then success");
    assert!(seen.iter().all(|k| *k == key), "{seen:?}");

    // cancel is not retried
    let (url, keys) = flaky_server(1);
    let c = BackendClient::new(&url, Secret::new("t0ken-abcdefgh"), "op")
        .unwrap()
        .with_retry(fast_retry());
    let e = c.cancel(uuid::Uuid::new_v4()).await.unwrap_err();
    assert!(matches!(e, ApiError::Server { status: 503, .. }), "{e}");
    assert_eq!(keys.lock().unwrap().len(), 1);

    // retries are capped
    let (url, keys) = flaky_server(100);
    let c = BackendClient::new(&url, Secret::new("t0ken-abcdefgh"), "op")
        .unwrap()
        .with_retry(fast_retry());
    let e = c.workspaces(None).await.unwrap_err();
    assert!(matches!(e, ApiError::Server { status: 503, .. }), "{e}");
    assert_eq!(keys.lock().unwrap().len(), 3);
}

//! The typed client (`concierge::backend::BackendClient`) against the real
//! reference backend over HTTP: one method per call, the project's own types
//! back, errors the UI can branch on, retries with the same Idempotency-Key,
//! and the token in no message.

use concierge_test_support::backend as backend_support;
use concierge_test_support::proxy;

use backend_support::*;
use concierge::backend::{
    idempotency_key, ApiError, BackendClient, ExportRequest, JobStatus, RetryPolicy, Role,
};
use concierge::secret::Secret;
use proxy::{http_answer, Fault, Proxy};
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
        force: false,
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

    // another request for Acme while the link is valid: the live job is named
    let second = ExportRequest {
        request_message_id: "req-0002@acme.example".into(),
        ..req.clone()
    };
    let key2 = idempotency_key("req-0002@acme.example", acme.id);
    match c.start_export(&second, &key2).await {
        Err(ApiError::ExportInProgress { job_id, .. }) => assert_eq!(job_id, job.id),
        other => panic!("expected export_in_progress, got {other:?}"),
    }
    assert_eq!(c.jobs(acme.id).await.unwrap().len(), 1);
    // an operator's explicit confirm starts it
    let forced = c.start_export_with(&second, &key2, true).await.unwrap();
    assert_ne!(forced.id, job.id);
    assert_eq!(
        c.cancel(forced.id).await.unwrap().status,
        JobStatus::Cancelled
    );

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
                force: false,
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
    // a port nothing listens on, held so (no other test can bind it meanwhile)
    let closed = concierge_test_support::closed_port();
    let port = closed.port();
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
    // Said in words, as the status line shows it.
    assert!(
        e.to_string().ends_with(&format!(
            "nothing is listening on 127.0.0.1:{port} — is the server running? (check [backend] url)"
        )),
        "{e}"
    );
    assert!(!text.contains("os error"), "{text}");
}

/// The reference backend behind a fault-injecting proxy, a client through
/// the proxy, and an export request of Acme's owner.
struct Rig {
    _dir: tempfile::TempDir,
    server: Server,
    proxy: Proxy,
    direct: BackendClient,
    req: ExportRequest,
    key: String,
}

async fn rig() -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let proxy = Proxy::start(&server.addr()).await;
    let direct = BackendClient::new(&server.url, Secret::new(TOKEN), "op").unwrap();
    let acme = direct.workspaces(Some(ACME)).await.unwrap().remove(0);
    let owner = direct
        .members("owner@acme.example")
        .await
        .unwrap()
        .remove(0);
    let req = ExportRequest {
        workspace_id: acme.id,
        requested_by: owner.member_id,
        request_message_id: "req-fault@acme.example".into(),
        note: Some("scope confirmed".into()),
        force: false,
    };
    let key = idempotency_key(&req.request_message_id, acme.id);
    Rig {
        _dir: dir,
        server,
        proxy,
        direct,
        req,
        key,
    }
}

impl Rig {
    /// A client through the proxy: fresh connections, `timeout` per request.
    fn client(&self, timeout: Duration) -> BackendClient {
        BackendClient::with_timeouts(
            &self.proxy.url,
            Secret::new(TOKEN),
            "op",
            Duration::from_secs(5),
            timeout,
        )
        .unwrap()
        .with_retry(fast_retry())
    }

    /// The backend's jobs of the workspace, asked directly.
    async fn jobs(&self) -> Vec<uuid::Uuid> {
        self.direct
            .jobs(self.req.workspace_id)
            .await
            .unwrap()
            .into_iter()
            .map(|j| j.id)
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_whose_answer_is_lost_is_retried_into_the_same_job() {
    let r = rig().await;
    // the backend commits the job, the answer never arrives
    r.proxy.push(Fault::CutAfter(0));
    let job = r
        .client(Duration::from_secs(30))
        .start_export(&r.req, &r.key)
        .await
        .unwrap();
    assert_eq!(r.proxy.pending(), 0, "the fault was not hit");
    assert_eq!(r.proxy.connections(), 2, "one lost answer, one retry");
    assert_eq!(
        r.jobs().await,
        vec![job.id],
        "exactly the job the retry answered"
    );
    // an answer cut in the middle of its head: the same
    r.proxy.push(Fault::CutAfter(20));
    let again = r
        .client(Duration::from_secs(30))
        .start_export(&r.req, &r.key)
        .await
        .unwrap();
    assert_eq!(again.id, job.id);
    assert_eq!(r.jobs().await, vec![job.id]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_that_times_out_is_retried_into_the_same_job() {
    let r = rig().await;
    // the backend commits, the answer stalls until the client's timeout
    r.proxy.push(Fault::Stall);
    let job = r
        .client(Duration::from_secs(3))
        .start_export(&r.req, &r.key)
        .await
        .unwrap();
    assert_eq!(r.proxy.pending(), 0);
    assert!(r.proxy.connections() >= 2);
    assert_eq!(r.jobs().await, vec![job.id]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_after_the_backend_committed_is_retried_into_the_same_job() {
    let r = rig().await;
    let busy = r#"{"error":{"code":"rate_limited","message":"slow down"}}"#;
    r.proxy.push(Fault::Replace(http_answer(
        "429 Too Many Requests",
        "application/json",
        busy,
    )));
    let job = r
        .client(Duration::from_secs(30))
        .start_export(&r.req, &r.key)
        .await
        .unwrap();
    assert_eq!(r.proxy.connections(), 2);
    assert_eq!(r.jobs().await, vec![job.id]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_2xx_that_is_not_json_is_a_protocol_error_and_the_job_is_found_again() {
    let r = rig().await;
    r.proxy.push(Fault::Replace(http_answer(
        "200 OK",
        "text/html",
        "<html>\x1b[31mcaptive portal</html>",
    )));
    let c = r.client(Duration::from_secs(30));
    let e = c.start_export(&r.req, &r.key).await.unwrap_err();
    assert!(matches!(e, ApiError::Protocol { .. }), "{e}");
    assert!(!e.to_string().contains('\x1b'), "{e}");
    assert_eq!(
        r.proxy.connections(),
        1,
        "a protocol error is not retried blindly"
    );
    // the backend did create it; asking again with the same key finds it
    let live = r.jobs().await;
    assert_eq!(live.len(), 1);
    let again = c.start_export(&r.req, &r.key).await.unwrap();
    assert_eq!(again.id, live[0]);
    assert_eq!(r.jobs().await, live);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_is_not_retried_and_reads_are_retried_a_capped_number_of_times() {
    let r = rig().await;
    let job = r.direct.start_export(&r.req, &r.key).await.unwrap();
    let unavailable = http_answer(
        "503 Service Unavailable",
        "application/json",
        r#"{"error":{"code":"internal","message":"busy"}}"#,
    );
    // cancel: one attempt; the backend did cancel, the answer said 503
    r.proxy.push(Fault::Replace(unavailable.clone()));
    let e = r
        .client(Duration::from_secs(30))
        .cancel(job.id)
        .await
        .unwrap_err();
    assert!(matches!(e, ApiError::Server { status: 503, .. }), "{e}");
    assert_eq!(r.proxy.connections(), 1);
    assert_eq!(
        r.direct.job(job.id).await.unwrap().status,
        JobStatus::Cancelled
    );
    // reads: 3 attempts (fast_retry), then the last error
    for _ in 0..10 {
        r.proxy.push(Fault::Replace(unavailable.clone()));
    }
    let e = r
        .client(Duration::from_secs(30))
        .workspaces(None)
        .await
        .unwrap_err();
    assert!(matches!(e, ApiError::Server { status: 503, .. }), "{e}");
    assert_eq!(r.proxy.connections(), 1 + 3);
    drop(r.server);
}

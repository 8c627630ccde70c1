//! The reference backend's log at INFO (`CONCIERGE_LOG=info`) keeps the
//! requests that matter and leaves out the screens' health checks (one
//! every 5 s per screen): the real backend over HTTP, the real client.

use concierge_test_support::backend::{Server, TOKEN};

use concierge::backend::BackendClient;
use concierge::secret::Secret;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_checks_are_not_logged_at_info_and_other_calls_are() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let c = BackendClient::new(&server.url, Secret::new(TOKEN), "Zoë Operator").unwrap();
    for _ in 0..3 {
        c.probe().await.unwrap();
    }
    // A real lookup, after the checks: once it is logged, they would be too.
    assert_eq!(c.workspaces(Some("Acme Support")).await.unwrap().len(), 1);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut log = server.log();
    while !log.contains("api call") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        log = server.log();
    }
    let calls: Vec<&str> = log.lines().filter(|l| l.contains("/v1/")).collect();
    assert_eq!(
        calls.len(),
        1,
        "one line for the lookup, none for the health checks:\n{log}"
    );
    assert!(
        calls[0].contains("api call") && calls[0].contains("path=/v1/workspaces"),
        "{log}"
    );
    assert!(!log.contains(TOKEN), "the token is in the log");
}

//! The accept loop of the reference backend: axum's router served over
//! HTTP/1.1 by hyper, with the limits a server on a network needs.
//!
//! - A connection cap ([`Limits::max_connections`]): at the cap the loop
//!   stops accepting, so new connections wait in the kernel's backlog
//!   instead of each costing a file descriptor and a task. (About 20,000
//!   idle sockets exhausted the descriptors before this cap existed.)
//! - A header timeout ([`Limits::header_timeout`]): hyper closes a
//!   connection that has not sent a complete request head within it, both
//!   on a fresh connection and while idle between keep-alive requests
//!   (hyper 1.x starts the timer whenever it waits for a head). That frees
//!   the slots idle sockets hold, so a normal request is answered at the
//!   latest one timeout after a flood of idle connections.
//! - Bodies are bounded in size and time by the handlers that read them
//!   ([`super::server`]).
//!
//! Graceful shutdown: stop accepting, let open requests finish.

use axum::body::Body;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt as _;

/// The limits of the accept loop.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections served at once; more wait in the backlog.
    pub max_connections: usize,
    /// How long a connection may take to send a request head, and may stay
    /// idle between requests.
    pub header_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            // NOTE: far below the usual 1,024 soft descriptor limit less
            // what the store, the exports and the outbox need.
            max_connections: 512,
            // Long enough for a slow client on a bad link, short enough that
            // a flood of idle sockets drains in seconds.
            header_timeout: Duration::from_secs(10),
        }
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then waits for the
/// open connections to finish their current request.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            _ = &mut shutdown => break,
        };
        let stream = tokio::select! {
            r = listener.accept() => match r {
                Ok((s, _)) => s,
                Err(e) => {
                    // EMFILE and friends: back off briefly instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let svc = app
            .clone()
            .map_request(|r: hyper::Request<Incoming>| r.map(Body::new));
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout)
            .keep_alive(true);
        let conn = builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(svc));
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

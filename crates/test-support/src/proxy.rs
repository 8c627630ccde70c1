//! A fault-injection TCP proxy for tests: it sits between a client and a
//! real server on loopback and, per connection, passes traffic through or
//! injects one fault: drop the connection, stall the answer, cut the answer
//! after N bytes, or replace the answer.
//!
//! Faults are queued ([`Proxy::push`]) and consumed one per accepted
//! connection, in order; a connection with no fault queued passes through.
//! Every fault except [`Fault::Drop`] first forwards the client's bytes to
//! the server, so the server has acted on the request (e.g. committed a
//! job) when the fault hits: the "lost answer" case.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What to do to one connection.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Pass this connection through untouched (to let the first ones by
    /// before the faults that follow in the queue).
    Pass,
    /// Close the client's connection at once; nothing reaches the server.
    Drop,
    /// Forward the request; never forward the answer (hold the connection
    /// until the client gives up, or until [`Proxy::release`]).
    Stall,
    /// Forward the request; forward only the first `n` bytes of the answer,
    /// then close both sides (0: the answer is lost entirely).
    CutAfter(usize),
    /// Forward the request; when the server starts answering, send these
    /// bytes to the client instead and close.
    Replace(Vec<u8>),
    /// Forward the first `n` bytes of the answer, then nothing more, with
    /// the connection held open (a conversation such as IMAP stuck in the
    /// middle of a FETCH).
    StallAfter(usize),
}

/// A running proxy. Stops accepting when dropped.
pub struct Proxy {
    pub url: String,
    faults: Arc<Mutex<VecDeque<Fault>>>,
    connections: Arc<AtomicUsize>,
    stalled: Arc<AtomicUsize>,
    release: tokio::sync::watch::Sender<u64>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Proxy {
    /// A proxy on a free loopback port in front of `upstream` (`host:port`).
    pub async fn start(upstream: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let faults = Arc::new(Mutex::new(VecDeque::new()));
        let connections = Arc::new(AtomicUsize::new(0));
        let stalled = Arc::new(AtomicUsize::new(0));
        let (f, c, up) = (faults.clone(), connections.clone(), upstream.to_string());
        let st = stalled.clone();
        let (release, release_rx) = tokio::sync::watch::channel(0u64);
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                c.fetch_add(1, Ordering::SeqCst);
                let fault = f.lock().unwrap().pop_front();
                let stall = matches!(fault, Some(Fault::Stall | Fault::StallAfter(_)));
                let mut released = release_rx.clone();
                let conn = handle(client, up.clone(), fault, st.clone());
                tokio::spawn(async move {
                    if stall {
                        // a stalled connection ends (both sides closed) on release
                        tokio::select! {
                            _ = conn => {}
                            _ = released.changed() => {}
                        }
                    } else {
                        conn.await
                    }
                });
            }
        });
        Proxy {
            url,
            faults,
            connections,
            stalled,
            release,
            task,
        }
    }

    /// Queues a fault for the next connection that has none.
    pub fn push(&self, fault: Fault) {
        self.faults.lock().unwrap().push_back(fault);
    }

    /// Ends every stalled connection now (the client sees it closed).
    pub fn release(&self) {
        self.release.send_modify(|n| *n += 1);
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// Connections whose [`Fault::StallAfter`] limit has been reached: the
    /// answer stops there from now on.
    pub fn stalled(&self) -> usize {
        self.stalled.load(Ordering::SeqCst)
    }

    /// Faults not yet consumed.
    pub fn pending(&self) -> usize {
        self.faults.lock().unwrap().len()
    }
}

/// An HTTP/1.1 answer with a body, `Connection: close`.
pub fn http_answer(status: &str, content_type: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

async fn handle(
    mut client: TcpStream,
    upstream: String,
    fault: Option<Fault>,
    stalled: Arc<AtomicUsize>,
) {
    if matches!(fault, Some(Fault::Drop)) {
        return;
    }
    let Ok(mut server) = TcpStream::connect(&upstream).await else {
        return;
    };
    let (mut cr, mut cw) = client.split();
    let (mut sr, mut sw) = server.split();
    let up = async {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            match cr.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if sw.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            }
        }
        let _ = sw.shutdown().await;
    };
    let down = async {
        let mut buf = vec![0u8; 16 * 1024];
        let mut sent = 0usize;
        loop {
            let n = match sr.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            match &fault {
                None | Some(Fault::Drop | Fault::Pass) => {
                    if cw.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
                // Keep reading (so the server is not blocked) but send nothing.
                Some(Fault::Stall) => {}
                Some(Fault::CutAfter(limit)) => {
                    let take = n.min(limit.saturating_sub(sent));
                    let _ = cw.write_all(&buf[..take]).await;
                    sent += take;
                    if sent >= *limit {
                        return;
                    }
                }
                Some(Fault::Replace(bytes)) => {
                    let _ = cw.write_all(bytes).await;
                    return;
                }
                Some(Fault::StallAfter(limit)) => {
                    let take = n.min(limit.saturating_sub(sent));
                    if take > 0 && cw.write_all(&buf[..take]).await.is_err() {
                        break;
                    }
                    sent += take;
                    if take > 0 && sent >= *limit {
                        stalled.fetch_add(1, Ordering::SeqCst);
                    }
                }
            }
        }
        if matches!(fault, Some(Fault::Stall | Fault::StallAfter(_))) {
            // The server is done; hold the client until it gives up (the
            // other half ends when the client closes).
            std::future::pending::<()>().await
        }
        let _ = cw.shutdown().await;
    };
    // Either direction ending ends the connection: the client closed, or
    // the server answered and closed (or the fault is done).
    tokio::select! {
        _ = up => {}
        _ = down => {}
    }
}

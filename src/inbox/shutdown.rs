//! Stopping an inbox worker now, not after its current wait.
//!
//! The IMAP poller spends nearly all its life blocked in a socket read: in
//! IDLE (up to 25 minutes, RFC 2177) or in a FETCH answer (up to the 60 s
//! read timeout when the server stalls). A flag checked between reads is
//! seen only when that read returns, so quitting the screen used to wait
//! 15–60 s for it. [`Shutdown`] keeps a second handle on the connection's
//! TCP socket (`TcpStream::try_clone`, the same socket) and, when asked,
//! shuts it down: the blocked read returns at once (end of stream), the
//! worker sees that it was asked and leaves. It also wakes the worker's
//! sleeps (backoff, the poll interval, waiting for the lease).
//!
//! NOTE: nothing stored is lost by cutting a read: a batch is stored
//! together with the cursor that covers it in one transaction
//! (`Store::store_batch`), so a batch cut half-way is simply not stored, and
//! the next start fetches it again.

use std::net::TcpStream;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// A cloneable "stop now" for one worker; see the module doc.
#[derive(Clone, Default)]
pub struct Shutdown(Arc<Inner>);

#[derive(Default)]
struct Inner {
    state: Mutex<State>,
    wake: Condvar,
}

#[derive(Default)]
struct State {
    asked: bool,
    /// A second handle on the connection being used, if any.
    socket: Option<TcpStream>,
}

impl Shutdown {
    pub fn new() -> Shutdown {
        Shutdown::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere must not stop a quit: the state stays usable.
        self.0.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Asks the worker to stop: shuts the watched socket down (a blocked
    /// read returns) and wakes [`Shutdown::sleep`]. Returns at once.
    pub fn ask(&self) {
        let mut state = self.lock();
        state.asked = true;
        if let Some(socket) = state.socket.take() {
            let _ = socket.shutdown(std::net::Shutdown::Both);
        }
        self.0.wake.notify_all();
    }

    pub fn is_asked(&self) -> bool {
        self.lock().asked
    }

    /// Watches `socket` (the connection about to be used): an [`ask`] shuts
    /// it down. Asked already: it is shut down right away, so a connection
    /// made while the stop was asked never blocks either.
    ///
    /// [`ask`]: Shutdown::ask
    pub fn watch(&self, socket: &TcpStream) {
        let Ok(handle) = socket.try_clone() else {
            // Without a second handle the worker still stops, only later
            // (at its next read timeout).
            tracing::warn!("cannot watch the inbox connection for a prompt stop");
            return;
        };
        let mut state = self.lock();
        if state.asked {
            let _ = handle.shutdown(std::net::Shutdown::Both);
        } else {
            state.socket = Some(handle);
        }
    }

    /// Sleeps `d`, or less when asked to stop. Returns whether asked.
    pub fn sleep(&self, d: Duration) -> bool {
        let deadline = Instant::now() + d;
        let mut state = self.lock();
        while !state.asked {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                break;
            };
            state = match self.0.wake.wait_timeout(state, left) {
                Ok((s, _)) => s,
                Err(e) => e.into_inner().0,
            };
        }
        state.asked
    }
}

/// Asks its [`Shutdown`] when dropped: whoever owns it (the screen's
/// runtime) stops the worker by ending, however it ends.
#[derive(Debug, Default)]
pub struct AskOnDrop(pub Option<Shutdown>);

impl Drop for AskOnDrop {
    fn drop(&mut self) {
        if let Some(stop) = &self.0 {
            stop.ask();
        }
    }
}

impl std::fmt::Debug for Shutdown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shutdown")
            .field("asked", &self.is_asked())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::net::TcpListener;

    /// Only a guard against a hang; the awaited events take milliseconds.
    const GUARD: Duration = Duration::from_secs(20);

    /// A connected pair on loopback: (client, server side).
    fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        (client, server)
    }

    #[test]
    fn asking_ends_a_read_blocked_on_the_watched_socket() {
        let (mut client, _server) = pair();
        let stop = Shutdown::new();
        stop.watch(&client);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 16];
            let _ = tx.send(client.read(&mut buf).map_err(|e| e.kind()));
        });
        stop.ask();
        // The server never writes: only the shutdown can end the read. The
        // deadline only guards against a hang.
        let got = rx.recv_timeout(GUARD).expect("the read is still blocked");
        assert!(matches!(got, Ok(0) | Err(_)), "{got:?}");
        assert!(stop.is_asked());
    }

    #[test]
    fn a_socket_watched_after_the_ask_is_shut_down_at_once() {
        let (mut client, _server) = pair();
        let stop = Shutdown::new();
        stop.ask();
        stop.watch(&client);
        let mut buf = [0u8; 16];
        assert!(matches!(client.read(&mut buf), Ok(0) | Err(_)));
    }

    #[test]
    fn a_sleep_ends_when_asked_and_says_so() {
        let stop = Shutdown::new();
        assert!(!stop.sleep(Duration::from_millis(1)), "not asked yet");
        let other = stop.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || tx.send(other.sleep(Duration::from_secs(3600))));
        stop.ask();
        assert!(
            rx.recv_timeout(GUARD).expect("still asleep"),
            "woken by the ask"
        );
    }
}

//! A proxy in front of a real IMAP server (Dovecot here) that makes it
//! behave as Courier-IMAP does on a read-only EXAMINE: every
//! `* OK [UIDVALIDITY n]` gets a new value and `* OK [UIDNEXT n]` is dropped
//! (optionally kept, for a server that only renumbers). Everything else
//! passes through unchanged; the bytes sent to the client are counted.
//!
//! Courier itself needs its authdaemon and userdb to log anyone in; this
//! keeps the test on a real server and changes only the two answers that
//! matter.

use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

/// A running proxy on 127.0.0.1; stops accepting when dropped.
pub struct Forgetful {
    port: u16,
    bytes: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl Forgetful {
    /// A proxy in front of 127.0.0.1:`upstream`. With `keep_uidnext`, only
    /// UIDVALIDITY changes.
    pub fn start(upstream: u16, keep_uidnext: bool) -> Forgetful {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let port = listener.local_addr().expect("proxy addr").port();
        let bytes = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let validity = Arc::new(AtomicU32::new(1_000));
        let (b, s) = (bytes.clone(), stop.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                    continue;
                };
                let (b, v) = (b.clone(), validity.clone());
                std::thread::spawn(move || pipe(client, server, keep_uidnext, b, v));
            }
        });
        Forgetful { port, bytes, stop }
    }

    /// The proxy's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Bytes sent to clients so far.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::SeqCst)
    }
}

impl Drop for Forgetful {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so that it sees `stop`.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn pipe(
    client: TcpStream,
    server: TcpStream,
    keep_uidnext: bool,
    bytes: Arc<AtomicU64>,
    validity: Arc<AtomicU32>,
) {
    let (mut c_read, mut s_write) = (client.try_clone().unwrap(), server.try_clone().unwrap());
    let up = std::thread::spawn(move || {
        let _ = std::io::copy(&mut c_read, &mut s_write);
        let _ = s_write.shutdown(Shutdown::Write);
    });
    let mut reader = BufReader::new(server);
    let mut out = client;
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let text = String::from_utf8_lossy(&line);
        let send: Vec<u8> = if text.starts_with("* OK [UIDVALIDITY ") {
            let v = validity.fetch_add(1, Ordering::SeqCst);
            format!("* OK [UIDVALIDITY {v}] UIDs forgotten\r\n").into_bytes()
        } else if text.starts_with("* OK [UIDNEXT ") && !keep_uidnext {
            Vec::new()
        } else {
            line.clone()
        };
        bytes.fetch_add(send.len() as u64, Ordering::SeqCst);
        if out.write_all(&send).is_err() {
            break;
        }
    }
    let _ = out.shutdown(Shutdown::Both);
    let _ = up.join();
}

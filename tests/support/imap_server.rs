//! One face for the real IMAP servers the tests start (Dovecot and Cyrus),
//! so that a test body runs unchanged against both.
//!
//! ```ignore
//! fn body(s: &mut dyn ImapServer) { s.seed("m", b"Subject: hi\r\n\r\nx\r\n"); }
//! #[test] fn on_dovecot() { body(&mut *start(Server::Dovecot)) }
//! #[test] fn on_cyrus() { body(&mut *start(Server::Cyrus)) }
//! ```

use super::cyrus::Cyrus;
use super::dovecot::Dovecot;

/// Which implementation to start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Server {
    Dovecot,
    Cyrus,
}

/// What the shared test bodies need from a running server.
pub trait ImapServer {
    /// Which implementation this is.
    fn kind(&self) -> Server;
    /// Plaintext IMAP port on 127.0.0.1.
    fn imap_port(&self) -> u16;
    /// The test user's login name.
    fn user(&self) -> &'static str;
    /// The test user's password.
    fn password(&self) -> &'static str;
    /// Puts one message into INBOX; UIDs follow seeding order.
    fn seed(&self, name: &str, bytes: &[u8]);
    /// A logged-in session as the test user.
    fn imap_session(&self) -> imap::Session<imap::Connection>;
    /// Stops the server, keeping port and data.
    fn stop(&mut self);
    /// Starts a stopped server again.
    fn start_again(&mut self);
    /// The server's own name for the sent mailbox when Concierge has to find
    /// it (no `sent_mailbox` configured).
    fn sent_mailbox(&self) -> &'static str;
    /// The personal namespace's prefix (RFC 2342): where the test user may
    /// create mailboxes.
    fn personal_prefix(&self) -> &'static str;
}

/// Starts a fresh instance of `which`.
pub fn start(which: Server) -> Box<dyn ImapServer> {
    match which {
        Server::Dovecot => Box::new(Dovecot::start()),
        Server::Cyrus => Box::new(Cyrus::start()),
    }
}

impl ImapServer for Dovecot {
    fn kind(&self) -> Server {
        Server::Dovecot
    }
    fn imap_port(&self) -> u16 {
        Dovecot::imap_port(self)
    }
    fn user(&self) -> &'static str {
        Dovecot::user(self)
    }
    fn password(&self) -> &'static str {
        Dovecot::password(self)
    }
    fn seed(&self, name: &str, bytes: &[u8]) {
        Dovecot::seed(self, name, bytes);
    }
    fn imap_session(&self) -> imap::Session<imap::Connection> {
        Dovecot::imap_session(self)
    }
    fn stop(&mut self) {
        Dovecot::stop(self)
    }
    fn start_again(&mut self) {
        Dovecot::start_again(self)
    }
    fn sent_mailbox(&self) -> &'static str {
        // Marked \Sent by SPECIAL-USE in the harness's dovecot.conf.
        "Sent Items"
    }
    fn personal_prefix(&self) -> &'static str {
        ""
    }
}

impl ImapServer for Cyrus {
    fn kind(&self) -> Server {
        Server::Cyrus
    }
    fn imap_port(&self) -> u16 {
        Cyrus::imap_port(self)
    }
    fn user(&self) -> &'static str {
        super::cyrus::USER
    }
    fn password(&self) -> &'static str {
        super::cyrus::PASSWORD
    }
    fn seed(&self, name: &str, bytes: &[u8]) {
        Cyrus::seed(self, name, bytes)
    }
    fn imap_session(&self) -> imap::Session<imap::Connection> {
        Cyrus::imap_session(self)
    }
    fn stop(&mut self) {
        Cyrus::stop(self)
    }
    fn start_again(&mut self) {
        Cyrus::start_again(self)
    }
    fn sent_mailbox(&self) -> &'static str {
        // In the personal namespace "INBOX." (RFC 2342), no SPECIAL-USE flag.
        "INBOX.Sent"
    }
    fn personal_prefix(&self) -> &'static str {
        "INBOX."
    }
}

/// Runs each named test body (`fn name(server: &mut dyn ImapServer)`)
/// against Dovecot and against Cyrus: `dovecot::name` and `cyrus::name`.
#[macro_export]
macro_rules! on_both_servers {
    ($($name:ident),* $(,)?) => {
        mod dovecot {
            $(
                #[test]
                fn $name() {
                    let mut s = super::support::imap_server::start(
                        super::support::imap_server::Server::Dovecot,
                    );
                    super::$name(&mut *s);
                }
            )*
        }
        mod cyrus {
            $(
                #[test]
                fn $name() {
                    let mut s = super::support::imap_server::start(
                        super::support::imap_server::Server::Cyrus,
                    );
                    super::$name(&mut *s);
                }
            )*
        }
    };
}

//! The servers a new user's first day meets (`concierge init`, `check`):
//! Dovecot over IMAPS with the test CA, the SMTP sink requiring STARTTLS
//! with Dovecot's certificate (one CA for both), the reference backend;
//! one temp dir for everything the test writes.

use crate::backend::Server;
use crate::dovecot::Dovecot;
use crate::smtp::SmtpSink;

pub struct Servers {
    pub dir: tempfile::TempDir,
    pub dovecot: Dovecot,
    pub smtp: SmtpSink,
    pub backend: Server,
}

impl Servers {
    pub fn start() -> Servers {
        let dir = tempfile::tempdir().unwrap();
        let dovecot = Dovecot::start();
        let smtp = SmtpSink::builder()
            .require_starttls(
                &dovecot.dir().join("server.pem"),
                &dovecot.dir().join("server.key"),
            )
            .start();
        let backend = Server::start(&dir.path().join("backend"), &[]);
        Servers {
            dir,
            dovecot,
            smtp,
            backend,
        }
    }
}

//! Proves the integration-test harness (crates/test-support) works against the
//! real servers: Dovecot over IMAP and IMAPS, LMTP, and the SMTP sink.

use concierge_test_support as support;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use support::dovecot::Dovecot;
use support::smtp::SmtpSink;

fn message(subject: &str) -> Vec<u8> {
    format!(
        "From: Alice <alice@example.com>\r\n\
         To: Concierge <concierge@example.com>\r\n\
         Subject: {subject}\r\n\
         Message-ID: <{subject}@example.com>\r\n\
         Date: Mon, 2 Jun 2025 10:00:00 +0000\r\n\
         \r\n\
         Body of {subject}.\r\n"
    )
    .into_bytes()
}

/// Subjects of all messages in INBOX, in UID order.
fn subjects(session: &mut imap::Session<imap::Connection>) -> Vec<(u32, String)> {
    session.select("INBOX").expect("SELECT INBOX");
    let fetches = session
        .uid_fetch("1:*", "BODY.PEEK[HEADER]")
        .expect("UID FETCH");
    let mut out: Vec<(u32, String)> = fetches
        .iter()
        .map(|f| {
            let header = String::from_utf8_lossy(f.header().expect("header in FETCH"));
            let subject = header
                .lines()
                .find_map(|l| l.strip_prefix("Subject: "))
                .unwrap_or("<none>")
                .to_string();
            (f.uid.expect("UID in FETCH"), subject)
        })
        .collect();
    out.sort();
    out
}

#[test]
fn a_closed_port_refuses_connections_and_cannot_be_taken() {
    use std::os::fd::AsRawFd;
    let closed = support::closed_port();
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], closed.port()));
    let e = std::net::TcpStream::connect(addr).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused, "{e}");
    let taken = std::net::TcpListener::bind(addr).unwrap_err();
    assert_eq!(taken.kind(), std::io::ErrorKind::AddrInUse, "{taken}");
    // Freed on drop: its socket is closed. (Binding the port again right
    // after is no proof either way: tests run in parallel, and another
    // test's outgoing connection may get the freed port from the kernel at
    // once — CI once saw exactly that.)
    let fd = format!("/proc/self/fd/{}", closed.as_raw_fd());
    let socket = std::fs::read_link(&fd).expect("the socket's fd");
    assert!(
        socket.to_string_lossy().starts_with("socket:["),
        "{socket:?}"
    );
    drop(closed);
    assert_ne!(
        std::fs::read_link(&fd).ok().as_ref(),
        Some(&socket),
        "freed on drop"
    );
}

#[test]
fn free_port_and_wait_until() {
    let a = support::free_port();
    let b = support::free_port();
    assert_ne!(a, b);
    // A port it hands out is one nobody held: bindable, unless another
    // test's outgoing connection got it from the kernel in between (tests
    // run in parallel), which several fresh ports in a row cannot all meet.
    let bindable = |p: u16| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok();
    assert!(
        bindable(a) || bindable(b) || (0..5).any(|_| bindable(support::free_port())),
        "free_port handed out ports that were held"
    );

    // Back as soon as the condition holds: before the deadline, which a
    // wait for the deadline could not be (exact however slow the machine;
    // a fixed 2 s for two 10 ms polls was a guess at its speed).
    let start = Instant::now();
    let deadline = start + Duration::from_secs(60);
    let mut n = 0;
    assert!(support::wait_until(deadline, || {
        n += 1;
        n == 3
    }));
    assert!(
        Instant::now() < deadline,
        "wait_until waited for its deadline"
    );
    assert_eq!(n, 3);
    assert!(!support::wait_until(
        Instant::now() + Duration::from_millis(50),
        || false
    ));
}

#[test]
fn dovecot_plaintext_and_tls_see_seeded_messages() {
    let dv = Dovecot::start();
    assert_eq!((dv.user(), dv.password()), ("concierge", "secret"));
    for s in ["one", "two", "three"] {
        let path = dv.seed(s, &message(s));
        assert!(path.starts_with(dv.maildir().join("new")));
    }

    // Plaintext, via the helper.
    let mut plain = dv.imap_session();
    let mb = plain.select("INBOX").expect("SELECT");
    assert_eq!(mb.exists, 3);
    assert!(mb.uid_validity.is_some());
    // UIDs follow seeding order.
    assert_eq!(
        subjects(&mut plain),
        vec![
            (1, "one".to_string()),
            (2, "two".to_string()),
            (3, "three".to_string())
        ]
    );
    plain.logout().expect("LOGOUT");

    // Implicit TLS, built by hand the way the client under test will do it:
    // a rustls ClientConfig (rustls re-exported by rustls-connector, the
    // version imap uses) whose root store holds only the test CA.
    use rustls_connector::rustls;
    use rustls_connector::rustls::pki_types::pem::PemObject;
    use rustls_connector::rustls::pki_types::CertificateDer;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(dv.ca_file()).expect("read CA PEM"))
        .expect("add CA");
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = rustls_connector::RustlsConnector::from(config);
    for server_name in ["localhost", "127.0.0.1"] {
        let tcp = TcpStream::connect(("127.0.0.1", dv.imaps_port())).expect("connect IMAPS");
        let tls = connector
            .connect(server_name, tcp)
            .unwrap_or_else(|e| panic!("TLS handshake as {server_name}: {e:?}"));
        let mut client = imap::Client::new(Box::new(tls) as imap::Connection);
        let greeting = client.read_greeting().expect("greeting");
        assert!(
            String::from_utf8_lossy(&greeting).starts_with("* OK"),
            "greeting: {:?}",
            String::from_utf8_lossy(&greeting)
        );
        let mut tls_session = client
            .login(dv.user(), dv.password())
            .map_err(|(e, _)| e)
            .expect("LOGIN over TLS");
        assert_eq!(tls_session.select("INBOX").expect("SELECT").exists, 3);
        tls_session.logout().expect("LOGOUT");
    }

    // The helper does the same.
    let mut tls_helper = dv.imaps_session();
    assert_eq!(tls_helper.examine("INBOX").expect("EXAMINE").exists, 3);

    // Without the CA the certificate is rejected: verification is real.
    let untrusting: rustls_connector::RustlsConnector = rustls::ClientConfig::builder()
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth()
        .into();
    let tcp = TcpStream::connect(("127.0.0.1", dv.imaps_port())).expect("connect IMAPS");
    assert!(untrusting.connect("localhost", tcp).is_err());
}

#[test]
fn dovecot_seed_many_and_append() {
    let dv = Dovecot::start();
    let msgs: Vec<Vec<u8>> = (0..50).map(|i| message(&format!("bulk{i}"))).collect();
    assert_eq!(dv.seed_many(&msgs).len(), 50);
    let mut s = dv.imap_session();
    assert_eq!(s.select("INBOX").unwrap().exists, 50);
    let subj = subjects(&mut s);
    assert_eq!(subj.first().unwrap(), &(1, "bulk0".to_string()));
    assert_eq!(subj.last().unwrap(), &(50, "bulk49".to_string()));

    // APPEND and flags work through the session helper.
    s.append("INBOX", &message("appended"))
        .flag(imap::types::Flag::Seen)
        .finish()
        .expect("APPEND");
    let mb = s.select("INBOX").unwrap();
    assert_eq!(mb.exists, 51);
    let f = s.uid_fetch("51", "FLAGS").expect("FETCH FLAGS");
    assert!(f
        .iter()
        .next()
        .unwrap()
        .flags()
        .contains(&imap::types::Flag::Seen));
}

#[test]
fn dovecot_restart_keeps_data_and_ports() {
    let mut dv = Dovecot::start();
    for s in ["a", "b", "c"] {
        dv.seed(s, &message(s));
    }
    let ports = (dv.imap_port(), dv.imaps_port(), dv.lmtp_port());
    let mut before = dv.imap_session();
    let mb = before.select("INBOX").unwrap();
    assert_eq!(mb.exists, 3);
    let validity = mb.uid_validity;

    let t = Instant::now();
    dv.restart();
    eprintln!("restart took {:?}", t.elapsed());
    assert_eq!(ports, (dv.imap_port(), dv.imaps_port(), dv.lmtp_port()));

    // The old connection was cut by the restart.
    assert!(before.noop().is_err(), "old session survived the restart");

    let mut after = dv.imap_session();
    let mb = after.select("INBOX").unwrap();
    assert_eq!(mb.exists, 3);
    assert_eq!(mb.uid_validity, validity);

    // stop + start_again works too, and seeding while stopped is picked up.
    dv.stop();
    assert!(TcpStream::connect(("127.0.0.1", dv.imap_port())).is_err());
    dv.seed("d", &message("d"));
    dv.start_again();
    assert_eq!(dv.imap_session().select("INBOX").unwrap().exists, 4);
}

#[test]
fn dovecot_reset_uidvalidity_changes_it() {
    let mut dv = Dovecot::start();
    dv.seed("x", &message("x"));
    dv.seed("y", &message("y"));
    let old = dv.uidvalidity();
    let new = dv.reset_uidvalidity();
    assert_ne!(old, new);
    let mut s = dv.imap_session();
    let mb = s.select("INBOX").unwrap();
    assert_eq!(mb.uid_validity, Some(new));
    assert_eq!(mb.exists, 2);
    assert_eq!(
        subjects(&mut s),
        vec![(1, "x".to_string()), (2, "y".to_string())]
    );
}

#[test]
fn dovecot_drop_stops_promptly_and_cleans_up() {
    let dv = Dovecot::start();
    let port = dv.imap_port();
    let dir = dv.dir().to_path_buf();
    let _open = dv.imap_session(); // an open client must not delay shutdown
                                   // NOTE: no wall-clock budget (a loaded 2-core machine can take seconds
                                   // to stop Dovecot); the deadline only tells a hang from a slow stop.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        drop(dv);
        let _ = tx.send(());
    });
    assert!(
        rx.recv_timeout(Duration::from_secs(120)).is_ok(),
        "drop hung with a client connected"
    );
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
    assert!(!dir.exists(), "temp dir {} left behind", dir.display());
}

// ---- SMTP ----

/// A tiny raw SMTP client: sends a command, returns the full (multi-line)
/// reply.
struct RawSmtp {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl RawSmtp {
    fn connect(port: u16) -> (RawSmtp, String) {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect SMTP");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let writer = stream.try_clone().unwrap();
        let mut c = RawSmtp {
            reader: BufReader::new(stream),
            writer,
        };
        let banner = c.reply();
        (c, banner)
    }

    fn reply(&mut self) -> String {
        let mut all = String::new();
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line).expect("read SMTP reply");
            assert!(!line.is_empty(), "SMTP connection closed; so far: {all:?}");
            all.push_str(&line);
            // "250-..." continues, "250 ..." ends.
            if line.len() < 4 || line.as_bytes()[3] != b'-' {
                return all;
            }
        }
    }

    fn cmd(&mut self, line: &str) -> String {
        self.writer
            .write_all(format!("{line}\r\n").as_bytes())
            .unwrap();
        self.reply()
    }

    /// MAIL/RCPT/DATA for one message; returns the reply to the final ".".
    fn send(&mut self, from: &str, to: &[&str], data: &[u8]) -> String {
        assert!(self.cmd(&format!("MAIL FROM:<{from}>")).starts_with("250"));
        for rcpt in to {
            assert!(self.cmd(&format!("RCPT TO:<{rcpt}>")).starts_with("250"));
        }
        assert!(self.cmd("DATA").starts_with("354"));
        // Dot-stuff and terminate.
        let mut wire = Vec::new();
        for line in data.split_inclusive(|&b| b == b'\n') {
            if line.starts_with(b".") {
                wire.push(b'.');
            }
            wire.extend_from_slice(line);
        }
        wire.extend_from_slice(b".\r\n");
        self.writer.write_all(&wire).unwrap();
        self.reply()
    }
}

#[test]
fn smtp_sink_records_raw_dialog() {
    let sink = SmtpSink::start();
    let (mut c, banner) = RawSmtp::connect(sink.port());
    assert!(banner.starts_with("220"), "banner {banner:?}");
    assert!(c.cmd("HELO test.example").starts_with("250"));
    let data = b"From: a@example.com\r\nTo: b@example.com\r\nSubject: hi\r\n\r\n\
                 line one\r\n.a line starting with a dot\r\nlast\r\n";
    let reply = c.send(
        "sender@example.com",
        &["b@example.com", "c@example.org"],
        data,
    );
    assert!(reply.starts_with("250"), "end of DATA: {reply:?}");
    assert!(c.cmd("QUIT").starts_with("221"));

    let got = sink.wait_for(1, Duration::from_secs(10));
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].mail_from, "sender@example.com");
    assert_eq!(got[0].rcpt_to, vec!["b@example.com", "c@example.org"]);
    assert_eq!(got[0].data, data.to_vec(), "got {:?}", got[0].text());
    assert_eq!(sink.messages(), got);
    assert_eq!(sink.rejected_count(), 0);
}

#[test]
fn smtp_sink_start_failing_answers_451_first() {
    let sink = SmtpSink::start_failing(1);
    let (mut c, _) = RawSmtp::connect(sink.port());
    assert!(c.cmd("EHLO test.example").starts_with("250"));
    let first = c.send("s@example.com", &["r@example.com"], &message("retry"));
    assert!(first.starts_with("451"), "first attempt: {first:?}");
    assert_eq!(sink.rejected_count(), 1);
    assert!(sink.messages().is_empty());
    // Retry in the same session.
    let second = c.send("s@example.com", &["r@example.com"], &message("retry"));
    assert!(second.starts_with("250"), "second attempt: {second:?}");
    let got = sink.wait_for(1, Duration::from_secs(10));
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].data, message("retry"));
}

#[test]
#[should_panic(expected = "timed out")]
fn smtp_sink_wait_for_times_out_clearly() {
    let sink = SmtpSink::start();
    sink.wait_for(1, Duration::from_millis(100));
}

#[test]
fn smtp_sink_forwards_to_dovecot_over_lmtp() {
    let dv = Dovecot::start();
    let sink = SmtpSink::start_forwarding_to_lmtp(dv.lmtp_port());
    let (mut c, _) = RawSmtp::connect(sink.port());
    assert!(c.cmd("EHLO test.example").starts_with("250"));
    // Any envelope recipient ends up in the test user's INBOX.
    let reply = c.send(
        "concierge@example.com",
        &["customer@example.net"],
        &message("forwarded"),
    );
    assert!(reply.starts_with("250"), "{reply:?}");
    let got = sink.wait_for(1, Duration::from_secs(10));
    assert_eq!(got[0].rcpt_to, vec!["customer@example.net"]);
    assert!(sink.lmtp_errors().is_empty(), "{:?}", sink.lmtp_errors());

    let mut s = dv.imap_session();
    assert_eq!(s.select("INBOX").unwrap().exists, 1);
    let f = s.uid_fetch("1", "BODY.PEEK[]").unwrap();
    let body = String::from_utf8_lossy(f.iter().next().unwrap().body().unwrap()).into_owned();
    assert!(body.contains("Subject: forwarded"), "{body}");
    assert!(body.contains("Body of forwarded."), "{body}");
}

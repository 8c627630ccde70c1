//! Sending over SMTP against the real aiosmtpd sink: implicit TLS, and the
//! three ways a send can fail — refused, not sent, outcome unknown — with one
//! deadline bounding the whole send.

use concierge_test_support as support;

use concierge::config::{Connection, Security};
use concierge::mail::smtp::{SendError, SmtpSender};
use std::time::Duration;
use support::smtp::SmtpSink;

const MESSAGE: &[u8] = b"From: hello@ochrehq.com\r\nTo: owner@acme.example\r\n\
Subject: Re: Data export request\r\nMessage-ID: <r1@ochrehq.com>\r\n\r\nHello \xc3\xa9\r\n";

fn conn(port: u16, security: Security, ca_file: Option<std::path::PathBuf>) -> Connection {
    Connection {
        host: "127.0.0.1".into(),
        port,
        security,
        username: String::new(),
        password_env: None,
        password_command: None,
        auth: concierge::config::AuthKind::Password,
        token_command: None,
        mailbox: "INBOX".into(),
        ca_file,
        from: Some("hello@ochrehq.com".into()),
        sent_mailbox: None,
    }
}

fn sender(c: &Connection) -> SmtpSender {
    SmtpSender::new(c, "hello@ochrehq.com".parse().unwrap()).unwrap()
}

fn to() -> lettre::Address {
    "owner@acme.example".parse().unwrap()
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn implicit_tls_delivers_and_an_untrusted_certificate_is_not_sent() {
    let tls = tempfile::tempdir().unwrap();
    support::dovecot::write_tls_files(tls.path());
    let sink = SmtpSink::builder()
        .implicit_tls(
            &tls.path().join("server.pem"),
            &tls.path().join("server.key"),
        )
        .start();
    let ca = tls.path().join("ca.pem");
    let ok = sender(&conn(sink.port(), Security::Tls, Some(ca)));
    rt().block_on(ok.send(&to(), MESSAGE)).unwrap();
    let got = sink.wait_for(1, Duration::from_secs(10));
    assert_eq!(got[0].rcpt_to, vec!["owner@acme.example"]);
    assert!(got[0].text().contains("Message-ID: <r1@ochrehq.com>"));

    // Without the test CA the handshake fails before anything is sent.
    let untrusted = sender(&conn(sink.port(), Security::Tls, None));
    let err = rt().block_on(untrusted.send(&to(), MESSAGE)).unwrap_err();
    assert!(matches!(err, SendError::NotSent { .. }), "{err:?}");
    assert_eq!(sink.messages().len(), 1);
}

#[test]
fn a_server_that_stalls_after_the_body_gives_an_unknown_outcome_within_the_deadline() {
    let sink = SmtpSink::builder().stall_after_data().start();
    let s = sender(&conn(sink.port(), Security::None, None)).with_timeout(Duration::from_secs(2));
    let err = rt().block_on(s.send(&to(), MESSAGE)).unwrap_err();
    assert!(err.is_unknown(), "{err:?}");
    assert!(err.to_string().contains("may have been delivered"), "{err}");
}

#[test]
fn a_4xx_answer_is_a_definite_refusal() {
    let sink = SmtpSink::start_failing(1);
    let s = sender(&conn(sink.port(), Security::None, None));
    let err = rt().block_on(s.send(&to(), MESSAGE)).unwrap_err();
    match &err {
        SendError::Refused { code, .. } => assert_eq!(*code, Some(451)),
        other => panic!("{other:?}"),
    }
    assert!(!err.is_unknown());
    // The next one is accepted.
    rt().block_on(s.send(&to(), MESSAGE)).unwrap();
    assert_eq!(sink.wait_for(1, Duration::from_secs(10)).len(), 1);
}

#[test]
fn no_server_is_not_sent() {
    // held closed (no other test can bind it meanwhile)
    let closed = support::closed_port();
    let s = sender(&conn(closed.port(), Security::None, None));
    let err = rt().block_on(s.send(&to(), MESSAGE)).unwrap_err();
    assert!(matches!(err, SendError::NotSent { .. }), "{err:?}");
}

#[test]
fn oauth2_xoauth2_refreshes_a_refused_token_once() {
    use support::oauth::Introspection;
    let dir = tempfile::tempdir().unwrap();
    let valid = dir.path().join("valid-tokens");
    std::fs::write(&valid, "tok-smtp-valid\n").unwrap();
    let sink = SmtpSink::builder().oauth_tokens(&valid).start();
    let with_tokens = |name: &str, tokens: &[&str]| {
        let mut c = conn(sink.port(), Security::None, None);
        c.username = "hello@ochrehq.com".into();
        c.auth = concierge::config::AuthKind::Oauth2;
        c.token_command = Some(Introspection::token_command(dir.path(), name, tokens));
        sender(&c)
    };

    // The first token printed has expired: fetched again, sent once.
    let s = with_tokens("refresh", &["tok-smtp-expired", "tok-smtp-valid"]);
    rt().block_on(s.send(&to(), MESSAGE)).unwrap();
    assert_eq!(Introspection::runs(dir.path(), "refresh"), 2);
    assert_eq!(sink.wait_for(1, Duration::from_secs(10)).len(), 1);

    // Always refused: not sent, one clear line without the token.
    let s = with_tokens("expired", &["tok-smtp-expired-secret"]);
    let err = rt().block_on(s.send(&to(), MESSAGE)).unwrap_err();
    assert!(matches!(err, SendError::NotSent { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("token_command") && !msg.contains('\n'),
        "{msg}"
    );
    assert!(!format!("{err:?}").contains("tok-smtp-expired-secret"));
    assert_eq!(Introspection::runs(dir.path(), "expired"), 2);
    assert_eq!(sink.messages().len(), 1);
}

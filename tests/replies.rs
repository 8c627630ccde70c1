//! Replies against real servers: an SMTP sink started by the test receives
//! the reply (threading headers, encoding, recipients checked on the bytes),
//! and real IMAP servers (Dovecot and Cyrus) show the original flagged
//! `\Answered` and a copy in Sent. A temporary SMTP failure leaves a
//! `failed` reply that a retry sends exactly once.

use concierge_test_support as support;
use concierge_test_support::on_both_servers;

use concierge::config::Config;
use concierge::domain::ReplyState;
use concierge::estimate::Size;
use concierge::inbox::imap::ImapSource;
use concierge::mail::outgoing::Sender;
use concierge::mail::templates::{Template, Templates};
use concierge::ops;
use concierge::reply::{self, Facts};
use concierge::store::{audit, Store};
use concierge::sync::sync_once;
use std::time::Duration;
use support::dovecot::Dovecot;
use support::imap_server::{ImapServer, Server};
use support::smtp::SmtpSink;

const REQUEST: &str = "From: =?utf-8?Q?Ada_=C3=96wner?= <ada.personal@gmail.example>\r\n\
To: hello@ochrehq.com\r\nSubject: Data export request: Acme Support\r\n\
Message-ID: <req-1@gmail.example>\r\nReferences: <earlier@gmail.example>\r\n\
Date: Mon, 23 Nov 2026 09:14:05 +0000\r\n\
Authentication-Results: mx.ochrehq.com; dkim=pass; spf=pass; dmarc=pass\r\n\r\n\
Workspace: Acme Support\r\n";

fn config(dir: &std::path::Path, d: &dyn ImapServer, smtp_port: u16) -> Config {
    let text = format!(
        r#"
[operator]
name = "Sam Concierge"
[intake]
source = "imap"
[imap]
host = "127.0.0.1"
port = {imap}
security = "none"
username = "{user}"
password_env = "CONCIERGE_TEST_IMAP_PASSWORD"
sent_mailbox = "{sent}"
[smtp]
host = "127.0.0.1"
port = {smtp_port}
security = "none"
username = ""
from = "Ochre Concierge <hello@ochrehq.com>"
[store]
path = "{store}"
"#,
        imap = d.imap_port(),
        user = d.user(),
        sent = configured_sent(d),
        store = dir.join("c.db").display()
    );
    let path = dir.join("config.toml");
    std::fs::write(&path, text).unwrap();
    Config::load(Some(&path)).unwrap()
}

/// The `sent_mailbox` the config names: Cyrus refuses a top-level `Sent`,
/// its mailboxes live in the personal namespace `INBOX.` (RFC 2342).
fn configured_sent(d: &dyn ImapServer) -> &'static str {
    match d.kind() {
        Server::Dovecot => "Sent",
        Server::Cyrus => "INBOX.Sent",
    }
}

/// Seeds the request into the server and syncs it into the store.
fn setup(d: &dyn ImapServer, cfg: &Config) -> Store {
    std::env::set_var("CONCIERGE_TEST_IMAP_PASSWORD", d.password());
    d.seed("req", REQUEST.as_bytes());
    let mut store = Store::open(&cfg.store_path().unwrap()).unwrap();
    let imap = cfg.imap().unwrap();
    let mut src = ImapSource::connect(imap, &imap.password().unwrap()).unwrap();
    let r = sync_once(&mut src, &mut store, "mx.ochrehq.com").unwrap();
    assert_eq!(r.stored.len(), 1);
    store
}

fn header<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    text.lines()
        .find(|l| {
            l.to_ascii_lowercase()
                .starts_with(&format!("{}:", name.to_ascii_lowercase()))
        })
        .map(|l| l[name.len() + 1..].trim())
}

fn acknowledgement_goes_to_the_account_email_in_the_thread_and_is_filed(d: &mut dyn ImapServer) {
    let sink = SmtpSink::start();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), d, sink.port());
    let mut store = setup(d, &cfg);

    // The backend resolved the requester's account email: the reply goes there.
    store
        .set_account_email(1, "owner@acme.example", "Sam Concierge", None)
        .unwrap();
    let target = store.reply_target(1).unwrap();
    let templates = Templates::load(None).unwrap();
    let facts = Facts {
        size: Some(Size {
            messages: 12_000,
            customers: 900,
            attachment_bytes: 80_000_000,
            large_attachments: 1,
        }),
        ..Facts::default()
    };
    let body = reply::compose(
        &target,
        &templates,
        &cfg.estimate,
        "Sam Concierge",
        Template::Acknowledgement,
        &facts,
        chrono::Utc::now(),
    )
    .unwrap();
    let built = reply::build("Ochre Concierge <hello@ochrehq.com>", &target, &body).unwrap();
    let sender = Sender::smtp(cfg.smtp.as_ref().unwrap()).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let id = ops::reply::begin(
        &mut store,
        1,
        Template::Acknowledgement,
        &built,
        false,
        "Sam Concierge",
        None,
    )
    .unwrap();
    rt.block_on(reply::send(&mut store, &sender, &cfg, id, &built))
        .unwrap();

    let got = sink.wait_for(1, Duration::from_secs(10));
    assert_eq!(got[0].rcpt_to, vec!["owner@acme.example".to_string()]);
    assert_eq!(got[0].mail_from, "hello@ochrehq.com");
    let text = got[0].text();
    assert_eq!(header(&text, "In-Reply-To"), Some("<req-1@gmail.example>"));
    assert_eq!(
        header(&text, "References"),
        Some("<earlier@gmail.example> <req-1@gmail.example>")
    );
    assert_eq!(
        header(&text, "Subject"),
        Some("Re: Data export request: Acme Support")
    );
    let mid = header(&text, "Message-ID").unwrap();
    assert!(
        mid.starts_with('<') && mid.ends_with("@ochrehq.com>"),
        "{mid}"
    );
    // The display name is RFC 2047-encoded, never raw UTF-8 in a header.
    let to = header(&text, "To").unwrap();
    assert!(
        to.contains("=?utf-8?") && to.contains("<owner@acme.example>"),
        "{to}"
    );
    assert!(text.is_ascii(), "8-bit bytes in the message");
    // The body says where the reply goes and why, and has no placeholder left.
    let body_text = String::from_utf8(
        mail_parser::MessageParser::default()
            .parse(&got[0].data)
            .unwrap()
            .body_text(0)
            .unwrap()
            .as_bytes()
            .to_vec(),
    )
    .unwrap();
    assert!(
        body_text.contains("owner@acme.example")
            && body_text.contains("ada.personal@gmail.example"),
        "{body_text}"
    );
    assert!(body_text.contains("Sam Concierge") && !body_text.contains("{{"));

    // Store and audit log record it.
    let row = store.reply(id).unwrap();
    assert_eq!(row.state, ReplyState::Sent);
    assert!(row.answered_flag && row.sent_copy, "{row:?}");
    assert!(audit::verify(store.conn()).unwrap().is_ok());
    let actions: Vec<String> = store
        .conn()
        .query_map(
            "SELECT action FROM audit ORDER BY seq",
            concierge::store::db::params![],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        actions.ends_with(&["reply.sending".into(), "reply.sent".into()]),
        "{actions:?}"
    );

    // On the server: the original is \Answered (and still not \Seen), and Sent has the copy.
    let mut s = d.imap_session();
    s.examine("INBOX").unwrap();
    let f = s.fetch("1", "FLAGS").unwrap();
    let flags = f.iter().next().unwrap().flags().to_vec();
    assert!(flags.contains(&imap::types::Flag::Answered), "{flags:?}");
    assert!(!flags.contains(&imap::types::Flag::Seen), "{flags:?}");
    let mb = s.examine(configured_sent(d)).unwrap();
    assert_eq!(mb.exists, 1);
    let f = s
        .fetch("1", "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]")
        .unwrap();
    let hdr =
        String::from_utf8_lossy(f.iter().next().unwrap().header().unwrap_or_default()).to_string();
    assert!(hdr.contains(&row.message_id), "{hdr}");
}

fn a_failed_send_is_recorded_and_a_retry_sends_exactly_once(d: &mut dyn ImapServer) {
    let sink = SmtpSink::start_failing(1);
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), d, sink.port());
    let mut store = setup(d, &cfg);
    let target = store.reply_target(1).unwrap();
    let templates = Templates::load(None).unwrap();
    let body = reply::compose(
        &target,
        &templates,
        &cfg.estimate,
        "Sam",
        Template::RejectUseAccountEmail,
        &Facts::default(),
        chrono::Utc::now(),
    )
    .unwrap();
    let built = reply::build("hello@ochrehq.com", &target, &body).unwrap();
    // Without a resolved account the reply goes to the From address.
    assert_eq!(built.to, "ada.personal@gmail.example");
    let sender = Sender::smtp(cfg.smtp.as_ref().unwrap()).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    let id = ops::reply::begin(
        &mut store,
        1,
        Template::RejectUseAccountEmail,
        &built,
        false,
        "Sam",
        None,
    )
    .unwrap();
    let err = rt
        .block_on(reply::send(&mut store, &sender, &cfg, id, &built))
        .unwrap_err();
    assert!(format!("{err:#}").contains("did not accept"), "{err:#}");
    let row = store.reply(1).unwrap();
    assert_eq!(row.state, ReplyState::Failed);
    assert!(row.error.is_some());
    assert!(sink.messages().is_empty());

    // Retry: the same bytes, the same Message-ID, accepted once.
    let (req, again) = store.reply_retry(1, false, "Sam").unwrap();
    assert_eq!((req, &again.message_id), (1, &built.message_id));
    assert_eq!(again.bytes, built.bytes, "a retry sends the recorded bytes");
    rt.block_on(reply::send(&mut store, &sender, &cfg, 1, &again))
        .unwrap();
    let got = sink.wait_for(1, Duration::from_secs(10));
    assert_eq!(got.len(), 1);
    assert!(got[0].text().contains(&built.message_id));
    // Byte for byte: a retry that re-rendered the reply would differ here.
    // (The sink's DATA ends with the line break SMTP adds; RFC 5321 §4.1.1.4.)
    assert!(
        got[0].data.trim_ascii_end() == built.bytes.trim_ascii_end(),
        "the retry did not send the recorded bytes"
    );
    assert_eq!(store.reply(1).unwrap().state, ReplyState::Sent);

    // A sent reply is never sent again.
    let err = store.reply_retry(1, true, "Sam").unwrap_err();
    assert!(err.to_string().contains("never sent twice"), "{err}");
    assert_eq!(store.replies(1).unwrap().len(), 1);
}

#[test]
fn replies_go_over_starttls_with_auth_and_a_private_ca() {
    let d = &Dovecot::start();
    let sink = SmtpSink::builder()
        .require_starttls(&d.dir().join("server.pem"), &d.dir().join("server.key"))
        .start();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), d, sink.port());
    let store = setup(d, &cfg);
    let mut smtp = cfg.smtp.take().unwrap();
    smtp.host = "localhost".into();
    smtp.security = concierge::config::Security::Starttls;
    smtp.ca_file = Some(d.ca_file());
    smtp.username = "hello@ochrehq.com".into();
    smtp.password_env = Some("CONCIERGE_TEST_SMTP_PASSWORD".into());
    std::env::set_var("CONCIERGE_TEST_SMTP_PASSWORD", "smtp-secret");
    let target = store.reply_target(1).unwrap();
    let built = reply::build("hello@ochrehq.com", &target, "Hello").unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    // Trusting the private CA, the reply goes out (the sink refuses mail without STARTTLS).
    let sender = Sender::smtp(&smtp).unwrap();
    rt.block_on(sender.send(&built)).unwrap();
    let got = sink.wait_for(1, Duration::from_secs(10));
    assert_eq!(
        got[0].rcpt_to,
        vec!["ada.personal@gmail.example".to_string()]
    );

    // Without it, the certificate is not trusted and nothing is sent.
    smtp.ca_file = None;
    let err = rt
        .block_on(Sender::smtp(&smtp).unwrap().send(&built))
        .unwrap_err();
    let msg = format!("{err:#}");
    assert!(!msg.contains("smtp-secret"), "{msg}");
    assert_eq!(sink.messages().len(), 1);
}

on_both_servers!(
    acknowledgement_goes_to_the_account_email_in_the_thread_and_is_filed,
    a_failed_send_is_recorded_and_a_retry_sends_exactly_once,
);

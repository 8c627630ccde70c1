//! Concierge against the real Courier-IMAP 5.0 (crates/test-support's
//! `courier`), started by the test with Courier's own login path
//! (couriertcpd → imaplogin → authdaemond/authuserdb → imapd).

use concierge_test_support as support;

use support::courier::Courier;

#[test]
fn courier_logs_in_and_examines_inbox() {
    let c = Courier::start();
    c.seed("m", b"Subject: hi\r\nMessage-ID: <a@x>\r\n\r\nx\r\n");
    let mut s = c.imap_session();
    let mb = s.examine("INBOX").unwrap();
    eprintln!("{mb:?}");
    assert_eq!(mb.exists, 1);
}

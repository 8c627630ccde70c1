//! Mail the sync tests seed into their servers (Dovecot, Cyrus, Courier):
//! a pre-filled export request, a customer's question, and a request below
//! a long relay chain.

/// The pre-filled export request number `n` for `workspace`, with our
/// border's `Authentication-Results` (authserv-id `mx.ochrehq.com`).
pub fn request(n: usize, workspace: &str) -> Vec<u8> {
    format!(
        "From: Owner {n} <owner{n}@acme.example>\r\nTo: hello@ochrehq.com\r\n\
         Subject: Data export request: {workspace}\r\nMessage-ID: <req-{n}@acme.example>\r\n\
         Date: Mon, 23 Nov 2026 09:14:05 +0000\r\n\
         Authentication-Results: mx.ochrehq.com; dkim=pass; spf=pass; dmarc=pass\r\n\r\n\
         Workspace: {workspace}\r\n"
    )
    .into_bytes()
}

/// A customer's question number `n`: not an export request.
pub fn chatter(n: usize) -> Vec<u8> {
    format!(
        "From: someone{n}@customer.example\r\nTo: hello@ochrehq.com\r\nSubject: Question {n}\r\n\
         Message-ID: <q-{n}@customer.example>\r\n\r\nHow do I add a teammate?\r\n"
    )
    .into_bytes()
}

/// A request as it arrives through a long relay chain: ARC and DKIM
/// signatures and `Received:` lines make a header block of `header_kb` KB
/// before `From:` (past the 16 KiB first read); the body is `body_kb` KB.
pub fn relayed_request(n: usize, header_kb: usize, body_kb: usize) -> Vec<u8> {
    let mut m = String::new();
    let mut i = 0;
    while m.len() < header_kb * 1024 {
        m.push_str(&format!(
            "ARC-Seal: i={i}; a=rsa-sha256; t=1700000000; cv=pass; d=relay{i}.example; s=arc;\r\n\
             \tb={sig}\r\n\
             DKIM-Signature: v=1; a=rsa-sha256; d=relay{i}.example; s=k1; h=from:to:subject;\r\n\
             \tbh={sig}\r\n\
             Received: from relay{i}.example (relay{i}.example [192.0.2.{i}])\r\n\
             \tby mx{i}.example with ESMTPS; Mon, 23 Nov 2026 09:14:05 +0000\r\n",
            sig = "A".repeat(300),
        ));
        i = (i + 1) % 250;
    }
    m.push_str(&format!(
        "From: Owner {n} <owner{n}@acme.example>\r\nTo: hello@ochrehq.com\r\n\
         Subject: Data export request: Relayed {n}\r\nMessage-ID: <relayed-{n}@acme.example>\r\n\
         Date: Mon, 23 Nov 2026 09:14:05 +0000\r\n\
         Authentication-Results: mx.ochrehq.com; dkim=pass; spf=pass; dmarc=pass\r\n\r\n\
         Workspace: Relayed {n}\r\n"
    ));
    while m.len() < (header_kb + body_kb) * 1024 {
        m.push_str("Please export everything in our workspace, thank you.\r\n");
    }
    m.into_bytes()
}

/// Checks that `concierge inspect --authserv-id mx.ochrehq.com` of `mail`
/// (written to `dir/inspected.eml`) says what a sync stored for it
/// (`synced`, as JSON), field for field, but for what only one side has
/// (`file`, `uid`, `body`).
pub fn assert_inspect_agrees(
    dir: &std::path::Path,
    mail: &[u8],
    mut synced: serde_json::Value,
    what: &str,
) {
    let path = dir.join("inspected.eml");
    std::fs::write(&path, mail).unwrap();
    let out = std::process::Command::new(crate::concierge_bin())
        .args(["inspect", "--authserv-id", "mx.ochrehq.com"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{what}: {out:?}");
    let mut inspected: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for v in [&mut inspected, &mut synced] {
        let o = v.as_object_mut().unwrap();
        for volatile in ["file", "uid", "body"] {
            o.remove(volatile);
        }
    }
    assert_eq!(inspected, synced, "{what}");
}

//! Tests for `auth`: RFC 8601 Appendix B (the same examples as RFC 7601's
//! Appendix B), the test cases of the Python `authres` package 1.2.0
//! (`authres/tests`, rewritten here so the suite does not need Python), and
//! the block rule.

use super::*;

const ID: &str = "mx.ochrehq.com";

/// Splits a header block (CRLF or LF) into (name, unfolded value) pairs.
fn fields(block: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in block.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some(last) = out.last_mut() {
                last.1.push(' ');
                last.1.push_str(line.trim());
            }
        } else if let Some((n, v)) = line.split_once(':') {
            out.push((n.trim().to_string(), v.trim().to_string()));
        }
    }
    out
}

fn eval_block(block: &str, id: &str) -> Option<Auth> {
    let f = fields(block);
    evaluate_headers(f.iter().map(|(n, v)| (n.as_str(), v.as_str())), id)
}

fn triple(a: &Auth) -> (&str, &str, &str) {
    (a.dkim.as_str(), a.spf.as_str(), a.dmarc.as_str())
}

fn prop(r: &ResInfo, i: usize) -> (&str, &str, &str) {
    let p = &r.props[i];
    (p.ptype.as_str(), p.property.as_str(), p.value.as_str())
}

// ---- RFC 8601 / RFC 7601 Appendix B ----

#[test]
fn rfc8601_b2_nearly_trivial_none() {
    let h = parse("example.org 1; none").unwrap();
    assert_eq!(h.authserv_id, "example.org");
    assert_eq!(h.version.as_deref(), Some("1"));
    assert!(h.results.is_empty());
    assert_eq!(
        evaluate(["example.org 1; none"], "example.org"),
        Some(Auth::default())
    );
}

#[test]
fn rfc8601_b3_one_result() {
    let h = parse("example.com;\r\n          spf=pass smtp.mailfrom=example.net").unwrap();
    assert_eq!(h.authserv_id, "example.com");
    assert_eq!(h.results.len(), 1);
    assert_eq!(
        (h.results[0].method.as_str(), h.results[0].result.as_str()),
        ("spf", "pass")
    );
    assert_eq!(prop(&h.results[0], 0), ("smtp", "mailfrom", "example.net"));
}

#[test]
fn rfc8601_b4_several_results_single_mta() {
    let block = "Authentication-Results: example.com;\n          auth=pass (cram-md5) smtp.auth=sender@example.net;\n          spf=pass smtp.mailfrom=example.net\nAuthentication-Results: example.com; iprev=pass\n          policy.iprev=192.0.2.200\nReceived: from dialup-1-2-3-4.example.net\n          (dialup-1-2-3-4.example.net [192.0.2.200])\n          by mail-router.example.com (8.11.6/8.11.6)\n          with ESMTPA id g1G0r1kA003489;\n          Fri, Feb 15 2002 17:19:07 -0800\nDate: Fri, Feb 15 2002 16:54:30 -0800\n";
    let f = fields(block);
    let h = parse(&f[0].1).unwrap();
    assert_eq!(
        prop(&h.results[0], 0),
        ("smtp", "auth", "sender@example.net")
    );
    assert_eq!(h.results[1].method, "spf");
    let h2 = parse(&f[1].1).unwrap();
    assert_eq!(prop(&h2.results[0], 0), ("policy", "iprev", "192.0.2.200"));
    let a = eval_block(block, "example.com").unwrap();
    assert_eq!(triple(&a), ("none", "pass", "none"));
}

const B5: &str = "Authentication-Results: example.com;
          dkim=pass (good signature) header.d=example.com
Received: from mail-router.example.com
              (mail-router.example.com [192.0.2.1])
          by auth-checker.example.com (8.11.6/8.11.6)
              with ESMTP id i7PK0sH7021929;
          Fri, Feb 15 2002 17:19:22 -0800
DKIM-Signature:  v=1; a=rsa-sha256; s=gatsby; d=example.com;
          t=1188964191; c=simple/simple; h=From:Date:To:Subject:
          Message-Id:Authentication-Results;
          bh=sEuZGD/pSr7ANysbY3jtdaQ3Xv9xPQtS0m70;
          b=EToRSuvUfQVP3Bkz ... rTB0t0gYnBVCM=
Authentication-Results: example.com;
          auth=pass (cram-md5) smtp.auth=sender@example.com;
          spf=fail smtp.mailfrom=example.com
Received: from dialup-1-2-3-4.example.net
              (dialup-1-2-3-4.example.net [192.0.2.200])
          by mail-router.example.com (8.11.6/8.11.6)
              with ESMTPA id g1G0r1kA003489;
          Fri, Feb 15 2002 17:19:07 -0800
From: sender@example.com
Date: Fri, Feb 15 2002 16:54:30 -0800
To: receiver@example.net
Message-Id: <12345.abc@example.com>
Subject: here's a sample
";

#[test]
fn rfc8601_b5_different_mtas_keeps_the_lower_spf_fail() {
    let a = eval_block(B5, "example.com").unwrap();
    assert_eq!(triple(&a), ("pass", "fail", "none"));
}

const B6: &str = "Authentication-Results: example.com;
    dkim=pass reason=\"good signature\"
      header.i=@mail-router.example.net;
    dkim=fail reason=\"bad signature\"
      header.i=@newyork.example.com
Received: from mail-router.example.net
          (mail-router.example.net [192.0.2.250])
      by chicago.example.com (8.11.6/8.11.6)
          for <recipient@chicago.example.com>
          with ESMTP id i7PK0sH7021929;
      Fri, Feb 15 2002 17:19:22 -0800
DKIM-Signature: v=1; a=rsa-sha256; s=furble;
      d=mail-router.example.net; t=1188964198; c=relaxed/simple;
      h=From:Date:To:Message-Id:Subject:Authentication-Results;
      bh=ftA9J6GtX8OpwUECzHnCkRzKw1uk6FNiLfJl5Nmv49E=;
      b=oINEO8hgn/gnunsg ... 9n9ODSNFSDij3=
Authentication-Results: example.net;
    dkim=pass (good signature) header.i=@newyork.example.com
Received: from smtp.newyork.example.com
          (smtp.newyork.example.com [192.0.2.220])
      by mail-router.example.net (8.11.6/8.11.6)
          with ESMTP id g1G0r1kA003489;
      Fri, Feb 15 2002 17:19:07 -0800
DKIM-Signature: v=1; a=rsa-sha256; s=gatsby;
      d=newyork.example.com;
      t=1188964191; c=simple/simple;
      h=From:Date:To:Message-Id:Subject;
      bh=sEu28nfs9fuZGD/pSr7ANysbY3jtdaQ3Xv9xPQtS0m7=;
      b=EToRSuvUfQVP3Bkz ... rTB0t0gYnBVCM=
From: sender@newyork.example.com
Date: Fri, Feb 15 2002 16:54:30 -0800
";

#[test]
fn rfc8601_b6_multi_tiered() {
    let f = fields(B6);
    let h = parse(&f[0].1).unwrap();
    assert_eq!(h.results.len(), 2);
    assert_eq!(h.results[0].reason.as_deref(), Some("good signature"));
    assert_eq!(
        prop(&h.results[0], 0),
        ("header", "i", "@mail-router.example.net")
    );
    assert_eq!(h.results[1].result, "fail");
    assert_eq!(h.results[1].reason.as_deref(), Some("bad signature"));
    // Our view (example.com): one signature passed. The example.net header
    // below is another authserv-id and is refused.
    let a = eval_block(B6, "example.com").unwrap();
    assert_eq!(triple(&a), ("pass", "none", "none"));
    // Seen from example.net, the example.com header above is foreign: its
    // own result is read and the chain stops at the foreign DKIM-Signature.
    let a = eval_block(B6, "example.net").unwrap();
    assert_eq!(a.dkim, "pass");
}

#[test]
fn rfc8601_b7_comment_heavy() {
    let raw = "foo.example.net (foobar) 1 (baz);\r\n    dkim (Because I like it) / 1 (One yay) = (wait for it) fail\r\n      policy (A dot can go here) . (like that) expired\r\n      (this surprised me) = (as I wasn't expecting it) 1362471462";
    let h = parse(raw).unwrap();
    assert_eq!(h.authserv_id, "foo.example.net");
    assert_eq!(h.version.as_deref(), Some("1"));
    let r = &h.results[0];
    assert_eq!(
        (
            r.method.as_str(),
            r.method_version.as_deref(),
            r.result.as_str()
        ),
        ("dkim", Some("1"), "fail")
    );
    assert_eq!(prop(r, 0), ("policy", "expired", "1362471462"));
    assert_eq!(evaluate([raw], "foo.example.net").unwrap().dkim, "fail");
}

// ---- The issue's cases ----

#[test]
fn spaces_around_equals_and_a_folded_result_are_read() {
    let a = evaluate(
        ["mx.ochrehq.com; spf = fail smtp.mailfrom=acme.example"],
        ID,
    )
    .unwrap();
    assert_eq!(a.spf, "fail");
    let a = evaluate(
        ["mx.ochrehq.com; dkim=pass; dmarc=\r\n\tfail header.from=acme.example"],
        ID,
    )
    .unwrap();
    assert_eq!(a.dmarc, "fail");
    assert_eq!(a.dmarc_domain.as_deref(), Some("acme.example"));
    // The same, as `inspect` hands it over (unfolded with a space).
    let a = evaluate(["mx.ochrehq.com; dmarc= fail header.from=acme.example"], ID).unwrap();
    assert_eq!(a.dmarc, "fail");
}

#[test]
fn separate_checkers_each_add_their_own_header() {
    let block = "Authentication-Results: mx.ochrehq.com; dmarc=pass header.from=acme.example\nAuthentication-Results: mx.ochrehq.com; spf=pass smtp.mailfrom=acme.example\nAuthentication-Results: mx.ochrehq.com; dkim=pass header.d=acme.example\nReceived: from mail.acme.example (mail.acme.example [192.0.2.25]) by mx.ochrehq.com (Postfix)\nFrom: a@acme.example\n";
    assert_eq!(
        triple(&eval_block(block, ID).unwrap()),
        ("pass", "pass", "pass")
    );
}

#[test]
fn postfix_puts_milter_headers_below_its_received() {
    let block = "Received: from mail.acme.example (mail.acme.example [192.0.2.25]) by mx.ochrehq.com (Postfix) with ESMTPS\nAuthentication-Results: mx.ochrehq.com; dkim=pass header.d=acme.example\nAuthentication-Results: mx.ochrehq.com; spf=softfail smtp.mailfrom=acme.example\nReceived: from x by mail.acme.example\nAuthentication-Results: mx.ochrehq.com; dmarc=pass header.from=acme.example\n";
    // The dmarc=pass sits below the sender's own Received: it came from outside.
    assert_eq!(
        triple(&eval_block(block, ID).unwrap()),
        ("pass", "softfail", "none")
    );
}

#[test]
fn the_block_ends_at_the_first_field_our_border_did_not_add() {
    let block = "Return-Path: <a@acme.example>\nAuthentication-Results: mx.ochrehq.com; dkim=fail; spf=fail\nX-Spam-Status: No\nFrom: a@acme.example\nAuthentication-Results: mx.ochrehq.com; dmarc=pass\n";
    assert_eq!(
        triple(&eval_block(block, ID).unwrap()),
        ("fail", "fail", "none")
    );
    // A Received by a host that is not ours ends it too.
    let block = "Authentication-Results: mx.ochrehq.com; spf=fail\nReceived: from a by relay.evil.example\nAuthentication-Results: mx.ochrehq.com; dmarc=pass\n";
    assert_eq!(eval_block(block, ID).unwrap().dmarc, "none");
    // A forged HELO naming our host does not hide the hand-off.
    let block = "Received: from mx.ochrehq.com (evil.example [198.51.100.7]) by mx.ochrehq.com\nAuthentication-Results: mx.ochrehq.com; spf=fail\nReceived: from z by mx.ochrehq.com\nAuthentication-Results: mx.ochrehq.com; dmarc=pass\n";
    assert_eq!(eval_block(block, ID).unwrap().dmarc, "none");
}

#[test]
fn foreign_headers_anywhere_change_nothing() {
    let base = "Authentication-Results: mx.ochrehq.com; dkim=fail\nReceived: from mx1.ochrehq.com by mx2.ochrehq.com\nAuthentication-Results: mx.ochrehq.com; spf=pass; dmarc=fail header.from=acme.example\nReceived: from a.acme.example (a.acme.example [192.0.2.1]) by mx1.ochrehq.com\nFrom: a@acme.example\n";
    let want = eval_block(base, ID);
    assert_eq!(triple(want.as_ref().unwrap()), ("fail", "pass", "fail"));
    let lines: Vec<&str> = base.lines().collect();
    for at in 0..=lines.len() {
        let mut l = lines.clone();
        l.insert(
            at,
            "Authentication-Results: relay.acme.example; dkim=pass; spf=pass; dmarc=pass",
        );
        assert_eq!(eval_block(&l.join("\n"), ID), want, "inserted at {at}");
    }
}

#[test]
fn untrusted_headers_are_ignored() {
    assert_eq!(
        evaluate(["evil.example; dkim=pass; spf=pass; dmarc=pass"], ID),
        None
    );
    let a = evaluate(
        [
            "evil.example; dkim=pass; spf=pass; dmarc=pass",
            "MX.OchreHQ.com 1; dkim=fail; spf=softfail; dmarc=fail",
        ],
        ID,
    )
    .unwrap();
    assert_eq!(a.dmarc, "fail");
    assert_eq!(a.spf, "softfail");
    // A prefix or a suffix of our id is another id.
    assert_eq!(
        evaluate(["mx.ochrehq.com.evil.example; dmarc=pass"], ID),
        None
    );
    assert_eq!(evaluate(["ochrehq.com; dmarc=pass"], ID), None);
}

#[test]
fn topmost_result_per_method_wins_except_a_passing_dkim() {
    let a = evaluate(
        [
            "mx.ochrehq.com; dkim=fail; spf=fail; dmarc=fail",
            "mx.ochrehq.com; dkim=pass; spf=pass; dmarc=pass",
        ],
        ID,
    )
    .unwrap();
    assert_eq!(triple(&a), ("pass", "fail", "fail"));
    let a = evaluate(
        ["mx.ochrehq.com; spf=fail; spf=pass; dmarc=fail; dmarc=pass; dkim=fail; dkim=pass"],
        ID,
    )
    .unwrap();
    assert_eq!(triple(&a), ("pass", "fail", "fail"));
}

#[test]
fn comments_versions_and_unknown_results() {
    let a = evaluate(
        ["mx.ochrehq.com (our mx; dkim=pass) 1; dkim=fail header.d=x.example; dkim/1=pass header.d=acme.example; spf=TempError; dmarc=bogus"],
        ID,
    )
    .unwrap();
    assert_eq!(triple(&a), ("pass", "temperror", "permerror"));
    // A method without a result is an error, not a pass.
    assert_eq!(
        evaluate(["mx.ochrehq.com; dmarc=;"], ID).unwrap().dmarc,
        "permerror"
    );
}

#[test]
fn a_quoted_semicolon_or_comment_cannot_forge_a_result() {
    let a = evaluate(
        [r#"mx.ochrehq.com; spf=fail smtp.mailfrom="x; dmarc=pass y"@evil.example; dmarc=fail header.from=acme.example"#],
        ID,
    )
    .unwrap();
    assert_eq!(a.dmarc, "fail");
    assert_eq!(a.dmarc_domain.as_deref(), Some("acme.example"));
    let a = evaluate(["mx.ochrehq.com; spf=fail (x; dmarc=pass); dmarc=fail"], ID).unwrap();
    assert_eq!(a.dmarc, "fail");
    let a = evaluate(
        [r#"mx.ochrehq.com; spf=fail reason="a \" ; dmarc=pass"; dmarc=none"#],
        ID,
    )
    .unwrap();
    assert_eq!(a.dmarc, "none");
}

#[test]
fn header_from_with_a_full_address_gives_its_domain() {
    let a = evaluate(
        ["mx.ochrehq.com; dmarc=pass header.from=Owner@Acme.Example."],
        ID,
    )
    .unwrap();
    assert_eq!(a.dmarc_domain.as_deref(), Some("acme.example"));
    let a = evaluate(
        [r#"mx.ochrehq.com; dmarc=pass header.from="owner@acme.example""#],
        ID,
    )
    .unwrap();
    assert_eq!(a.dmarc_domain.as_deref(), Some("acme.example"));
}

#[test]
fn nothing_breaks_on_junk() {
    for s in [
        "",
        ";",
        "(",
        "\"",
        "mx.ochrehq.com; =",
        "mx.ochrehq.com; dkim/",
        "mx.ochrehq.com; a.b.c=",
        "((((",
        "\\",
        "mx.ochrehq.com;;;; dkim = = pass",
        "@.@;/=\"",
        ")",
        "mx.ochrehq.com; dkim=pass ) x",
        "a)b; c=d",
    ] {
        let _ = parse(s);
        let _ = evaluate([s], ID);
    }
    assert_eq!(parse(""), None);
    assert_eq!(parse("(only a comment)"), None);
    // A stray `)` once made the lexer loop forever (found by the fuzz test).
    assert_eq!(
        evaluate(["mx.ochrehq.com; dkim=pass ) x"], ID)
            .unwrap()
            .dkim,
        "pass"
    );
}

// ---- The Python `authres` 1.2.0 test cases ----

#[test]
fn authres_no_result_with_comment() {
    let h = parse("test.example.org; none (SPF not checked for localhost)").unwrap();
    assert_eq!(h.authserv_id, "test.example.org");
    assert!(h.results.is_empty());
}

#[test]
fn authres_auth_and_spf() {
    let h = parse("example.com; auth=pass (cram-md5) smtp.auth=sender@example.net; spf=pass smtp.mailfrom=example.net").unwrap();
    assert_eq!(h.results.len(), 2);
    assert_eq!(
        prop(&h.results[0], 0),
        ("smtp", "auth", "sender@example.net")
    );
    assert_eq!(prop(&h.results[1], 0), ("smtp", "mailfrom", "example.net"));
}

#[test]
fn authres_sender_id_and_dkim_with_i() {
    let h = parse("example.com; sender-id=fail header.from=example.com; dkim=pass (good signature) header.i=sender@example.com").unwrap();
    assert_eq!(
        (h.results[0].method.as_str(), h.results[0].result.as_str()),
        ("sender-id", "fail")
    );
    assert_eq!(
        prop(&h.results[1], 0),
        ("header", "i", "sender@example.com")
    );
    // sender-id is not DMARC: its header.from must not leak into ours.
    let a = evaluate(["example.com; sender-id=fail header.from=example.com; dkim=pass (good signature) header.i=sender@example.com"], "example.com").unwrap();
    assert_eq!(triple(&a), ("pass", "none", "none"));
    assert_eq!(a.dmarc_domain, None);
}

#[test]
fn authres_two_dkim_with_reason() {
    let h = parse(r#"example.com; dkim=pass reason="good signature" header.i=@mail-router.example.net; dkim=fail reason="bad signature" header.i=@newyork.example.com"#).unwrap();
    assert_eq!(h.results[0].reason.as_deref(), Some("good signature"));
    assert_eq!(
        prop(&h.results[1], 0),
        ("header", "i", "@newyork.example.com")
    );
}

#[test]
fn authres_dkim_header_b_and_vbr() {
    let h = parse("mail-router.example.net; dkim=pass (good signature) header.d=newyork.example.com header.b=oINEO8hg; vbr=pass (voucher.example.net) header.md=newyork.example.com header.mv=voucher.example.org").unwrap();
    assert_eq!(prop(&h.results[0], 1), ("header", "b", "oINEO8hg"));
    assert_eq!(
        prop(&h.results[1], 1),
        ("header", "mv", "voucher.example.org")
    );
}

#[test]
fn authres_dkim_adsp_and_dmarc() {
    let h = parse("example.com; dkim=fail (bad signature) header.d=bank.example.net; dkim-adsp=discard (From domain and d= domain match) header.from=phish@bank.example.com").unwrap();
    assert_eq!(h.results[1].method, "dkim-adsp");
    assert_eq!(
        prop(&h.results[1], 0),
        ("header", "from", "phish@bank.example.com")
    );
    let h = parse("mail-router.example.net; dmarc=pass header.from=example.com policy.dmarc=none")
        .unwrap();
    assert_eq!(prop(&h.results[0], 0), ("header", "from", "example.com"));
    assert_eq!(prop(&h.results[0], 1), ("policy", "dmarc", "none"));
}

#[test]
fn authres_spf_mailfrom_and_helo() {
    let h = parse("example.com; spf=pass smtp.mailfrom=authenticated@example.net; spf=none smtp.helo=mailserver.example.net").unwrap();
    assert_eq!(
        prop(&h.results[0], 0),
        ("smtp", "mailfrom", "authenticated@example.net")
    );
    assert_eq!(
        (h.results[1].result.as_str(), prop(&h.results[1], 0).2),
        ("none", "mailserver.example.net")
    );
    let a = evaluate(["example.com; spf=pass smtp.mailfrom=authenticated@example.net; spf=none smtp.helo=mailserver.example.net"], "example.com").unwrap();
    assert_eq!(a.spf, "pass");
}

#[test]
fn authres_quoted_ipv6_and_smime_and_rrvs() {
    let h = parse(r#"mail.bmsi.com; iprev=pass policy.iprev="2001:748:100:40::2:2" (mout0.freenet.de); spf=none smtp.mailfrom=markuslaudi@freenet.de"#).unwrap();
    assert_eq!(
        prop(&h.results[0], 0),
        ("policy", "iprev", "2001:748:100:40::2:2")
    );
    assert_eq!(h.results[1].result, "none");
    let h = parse("example.net; smime=fail (certificate is revoked by CRL) body.smime-identifier=aliceDss@example.com body.smime-part=2").unwrap();
    assert_eq!(
        prop(&h.results[0], 0),
        ("body", "smime-identifier", "aliceDss@example.com")
    );
    assert_eq!(prop(&h.results[0], 1), ("body", "smime-part", "2"));
    let h = parse("mx.example.com; rrvs=pass smtp.rcptto=user@example.com").unwrap();
    assert_eq!(
        prop(&h.results[0], 0),
        ("smtp", "rcptto", "user@example.com")
    );
}

#[test]
fn authres_unknown_methods_and_bad_ptypes() {
    let h = parse("mail.example.org; x-tls=pass smtp.TLSversion=TLSv1.2").unwrap();
    assert_eq!(prop(&h.results[0], 0), ("smtp", "tlsversion", "TLSv1.2"));
    // authres rejects `version=` (no ptype); we skip the bad properties and
    // keep every result of the header.
    let h = parse("mail.example.org; arc=none (no signatures found); dkim=pass (1024-bit rsa key sha256) header.d=example.net header.i=@example.net header.b=Qgi/FoC0; dmarc=none (p=none) header.from=example.net; spf=none smtp.mailfrom=test@example.net smtp.helo=mail-wm0-x232.example.com; x-tls=pass version=TLSv1.2 cipher=ECDHE-RSA-CHACHA20-POLY1305 bits=256").unwrap();
    let got: Vec<(&str, &str)> = h
        .results
        .iter()
        .map(|r| (r.method.as_str(), r.result.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("arc", "none"),
            ("dkim", "pass"),
            ("dmarc", "none"),
            ("spf", "none"),
            ("x-tls", "pass")
        ]
    );
    assert_eq!(prop(&h.results[1], 2), ("header", "b", "Qgi"));
    assert!(h.results[4].props.is_empty());
}

#[test]
fn authres_repeated_authserv_id_is_skipped_not_read() {
    // authres: a syntax error. Here the stray `thehesiod.com` result is
    // dropped and the well-formed ones around it still count.
    let a = evaluate(["thehesiod.com; dkim=none (message not signed) header.d=none;thehesiod.com; dmarc=none action=none header.from=hotmail.com;"], "thehesiod.com").unwrap();
    assert_eq!(triple(&a), ("none", "none", "none"));
    assert_eq!(a.dmarc_domain.as_deref(), Some("hotmail.com"));
}

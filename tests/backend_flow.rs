//! The whole export flow over real HTTP and real SMTP: the reference backend
//! (`concierge backend serve`, the real binary) builds the ZIP, emails the
//! signed link to an SMTP sink, and the test downloads the ZIP through the
//! link from the received email and checks it entry by entry against "The
//! export artifact" in DESIGN.md. Also: SMTP retries, link expiry (410),
//! forged links (404), and a `kill -9` in the middle of a job.

use concierge_test_support as support;
use concierge_test_support::backend as backend_support;
use concierge_test_support::proxy;

use backend_support::*;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::time::Duration;
use support::smtp::SmtpSink;

const SECRETS: [&str; 2] = ["sk-demo-acme-51f0c2d94e7a", "oauth-demo-acme-7d1e"];

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// One `.json` entry: its schema line and its records.
struct Ndjson {
    schema: Value,
    records: Vec<Value>,
}

fn read_entry(z: &mut zip::ZipArchive<std::io::Cursor<Vec<u8>>>, name: &str) -> Vec<u8> {
    let mut f = z.by_name(name).unwrap_or_else(|_| panic!("{name} missing"));
    let mut b = Vec::new();
    f.read_to_end(&mut b).unwrap();
    b
}

fn parse_ndjson(name: &str, bytes: &[u8]) -> Ndjson {
    let text = std::str::from_utf8(bytes).unwrap_or_else(|_| panic!("{name} is not UTF-8"));
    let mut lines = text.lines();
    let schema: Value = serde_json::from_str(lines.next().expect("a schema line"))
        .unwrap_or_else(|e| panic!("{name}: first line is not JSON: {e}"));
    let s = &schema["schema"];
    assert!(
        s["entity"].is_string(),
        "{name}: schema line without entity: {schema}"
    );
    assert_eq!(s["version"], 1, "{name}");
    assert!(s["fields"].is_object(), "{name}: schema without fields");
    let mut records = Vec::new();
    for (i, l) in lines.enumerate() {
        let v: Value = serde_json::from_str(l)
            .unwrap_or_else(|e| panic!("{name} line {}: not JSON: {e}", i + 2));
        assert!(v.is_object(), "{name} line {}: not an object", i + 2);
        // every field of a record is documented by the schema line
        for k in v.as_object().unwrap().keys() {
            assert!(
                s["fields"].get(k).is_some(),
                "{name}: field {k} is not in the schema line"
            );
        }
        records.push(v);
    }
    Ndjson { schema, records }
}

/// Walks every key/value: dates with a timezone, UUID ids, no secret-ish keys.
fn check_values(file: &str, v: &Value, key: &str) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let kl = k.to_lowercase();
                for banned in [
                    "password", "token", "secret", "billing", "invoice", "payment", "card",
                ] {
                    assert!(
                        !kl.contains(banned),
                        "{file}: key {k:?} looks like {banned} data"
                    );
                }
                check_values(file, x, k);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| check_values(file, x, key)),
        Value::String(s) => {
            if key.ends_with("_at") {
                let d = chrono::DateTime::parse_from_rfc3339(s)
                    .unwrap_or_else(|e| panic!("{file}: {key} = {s:?} is not ISO 8601: {e}"));
                assert!(
                    s.ends_with('Z') || s.contains('+') || s[19..].contains('-'),
                    "{file}: {key} = {s:?} has no timezone"
                );
                let _ = d;
            }
            if key == "id" || key.ends_with("_id") || key == "assign_to" {
                uuid::Uuid::parse_str(s)
                    .unwrap_or_else(|_| panic!("{file}: {key} = {s:?} is not a UUID"));
            }
        }
        _ => {}
    }
}

/// No secret-ish or billing field is even documented.
fn check_keys(file: &str, v: &Value) {
    if let Value::Object(m) = v {
        for (k, x) in m {
            let kl = k.to_lowercase();
            for banned in [
                "password", "token", "secret", "billing", "invoice", "payment", "card",
            ] {
                assert!(
                    !kl.contains(banned),
                    "{file}: schema field {k:?} looks like {banned} data"
                );
            }
            check_keys(file, x);
        }
    }
}

fn ids(n: &Ndjson) -> HashSet<String> {
    n.records
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

fn enum_values<'a>(n: &'a Ndjson, field: &str) -> HashSet<&'a str> {
    n.records
        .iter()
        .map(|r| {
            r[field]
                .as_str()
                .unwrap_or_else(|| panic!("{field} is not a string enum: {}", r[field]))
        })
        .collect()
}

fn subset(found: &HashSet<&str>, allowed: &[&str], what: &str) {
    for f in found {
        assert!(allowed.contains(f), "{what}: unexpected value {f:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_is_emailed_and_the_zip_follows_every_rule() {
    let sink = SmtpSink::start();
    let dir = tempfile::tempdir().unwrap();
    let smtp = format!("smtp://127.0.0.1:{}", sink.port());
    let server = Server::start(dir.path(), &["--smtp", &smtp]);
    let http = server.http();

    let r = http
        .start_export(ACME, "owner@acme.example", "flow-acme-1")
        .await;
    assert_eq!(r.status, 202, "{}", r.text());
    let job = r.json();
    assert_eq!(job["status"], "queued");
    assert_eq!(job["deliver_to"], "o***@acme.example");
    let id = job["id"].as_str().unwrap().to_string();

    // queued → running → ready → emailed; progress never goes back
    let mut seen = Vec::<String>::new();
    let mut last_progress = 0.0;
    let job = http
        .wait_job(&id, Duration::from_secs(120), |j| {
            let s = j["status"].as_str().unwrap().to_string();
            if seen.last() != Some(&s) {
                seen.push(s.clone());
            }
            let p = j["progress"].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&p));
            // every poll counts, `running` ones above all: that is where it moves
            assert!(p >= last_progress, "progress went back: {j}");
            last_progress = p;
            assert_ne!(s, "failed", "{j}\n{}", server.log());
            s == "emailed"
        })
        .await;
    assert_eq!(seen.last().unwrap(), "emailed");
    assert!(job["emailed_at"].is_string() && job["finished_at"].is_string());
    assert!(job["error"].is_null());
    let expires = chrono::DateTime::parse_from_rfc3339(job["link_expires_at"].as_str().unwrap())
        .unwrap()
        .with_timezone(&chrono::Utc);
    let week = chrono::Utc::now() + chrono::Duration::days(7);
    assert!(
        (week - expires).num_seconds().abs() < 300,
        "link expiry {expires} is not 7 days out"
    );

    // exactly one email, to the member's account email, well formed
    let mails = sink.wait_for(1, Duration::from_secs(30));
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    assert_eq!(mail.rcpt_to, vec!["owner@acme.example".to_string()]);
    let text = mail.text();
    let (head, body) = text.split_once("\r\n\r\n").expect("headers and body");
    for h in [
        "Message-ID: <",
        "Date: ",
        "From: ",
        "To: ",
        "Subject: ",
        "Content-Type: text/plain",
    ] {
        assert!(head.contains(h), "header {h:?} missing:\n{head}");
    }
    assert!(head.contains("exports@ochrehq.com"));
    assert!(head.contains("owner@acme.example"));
    assert!(body.contains("Acme Support"));
    assert!(body.contains("drafts included"));
    assert!(body.contains("internal notes"));
    assert!(body.to_lowercase().contains("not included"));
    assert!(body.contains("billing data"));
    assert!(
        body.contains(&expires.format("%Y-%m-%dT%H:%M").to_string()),
        "{body}"
    );
    for s in SECRETS {
        assert!(!text.contains(s));
    }

    // the ZIP, through the link in the email
    let link = link_in(body);
    let r = http.get_anon(&link).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.content_type, "application/zip");
    let zip_bytes = r.body;
    for s in SECRETS {
        assert!(!contains(&zip_bytes, s), "{s} is in the raw archive");
    }
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(zip_bytes)).expect("a ZIP");

    // the eight entries, and nothing else at the top level
    let names: Vec<String> = (0..z.len())
        .map(|i| z.by_index(i).unwrap().name().unwrap().to_string())
        .collect();
    let top: HashSet<&str> = names
        .iter()
        .map(|n| match n.find('/') {
            Some(i) => &n[..=i],
            None => n.as_str(),
        })
        .collect();
    let expected: HashSet<&str> = [
        "conversations.json",
        "messages.json",
        "customers.json",
        "articles.json",
        "categories.json",
        "routing_rules.json",
        "team.json",
        "attachments/",
    ]
    .into_iter()
    .collect();
    assert_eq!(top, expected);
    assert!(
        names.iter().any(|n| n == "attachments/"),
        "no attachments/ directory entry"
    );

    // every decompressed entry is free of secrets too
    let mut files: HashMap<String, Vec<u8>> = HashMap::new();
    for n in &names {
        if n.ends_with('/') {
            continue;
        }
        let b = read_entry(&mut z, n);
        for s in SECRETS {
            assert!(!contains(&b, s), "{s} is in {n}");
        }
        assert!(
            !contains(&b, "sk-demo") && !contains(&b, "oauth-demo"),
            "{n}"
        );
        files.insert(n.clone(), b);
    }
    let nd = |name: &str| parse_ndjson(name, &files[name]);
    let conversations = nd("conversations.json");
    let messages = nd("messages.json");
    let customers = nd("customers.json");
    let articles = nd("articles.json");
    let categories = nd("categories.json");
    let rules = nd("routing_rules.json");
    let team = nd("team.json");
    for (name, n) in [
        ("conversations.json", &conversations),
        ("messages.json", &messages),
        ("customers.json", &customers),
        ("articles.json", &articles),
        ("categories.json", &categories),
        ("routing_rules.json", &rules),
        ("team.json", &team),
    ] {
        check_keys(name, &n.schema["schema"]["fields"]);
        for r in &n.records {
            check_values(name, r, "");
        }
    }
    assert_eq!(messages.schema["schema"]["entity"], "message");

    // the counts the API reports are the records in the export
    let ws_id = job["workspace_id"].as_str().unwrap();
    let size = http.get(&format!("/v1/workspaces/{ws_id}")).await.json()["size"].clone();
    let n = |v: &Value| v.as_u64().unwrap() as usize;
    assert_eq!(conversations.records.len(), n(&size["conversations"]));
    assert_eq!(messages.records.len(), n(&size["messages"]));
    assert_eq!(customers.records.len(), n(&size["customers"]));
    assert_eq!(articles.records.len(), n(&size["articles"]));
    assert_eq!(categories.records.len(), n(&size["categories"]));
    assert_eq!(rules.records.len(), n(&size["routing_rules"]));
    assert_eq!(team.records.len(), n(&size["members"]));
    assert!((11_000..=13_000).contains(&messages.records.len()));

    // cross-references resolve
    let conv_ids = ids(&conversations);
    let cust_ids = ids(&customers);
    let team_ids = ids(&team);
    let cat_ids = ids(&categories);
    let mut per_conv: HashMap<&str, u64> = HashMap::new();
    for m in &messages.records {
        let c = m["conversation_id"].as_str().unwrap();
        assert!(
            conv_ids.contains(c),
            "message {} → unknown conversation {c}",
            m["id"]
        );
        *per_conv.entry(c).or_default() += 1;
        let author = m["author_id"].as_str().unwrap();
        match m["author_type"].as_str().unwrap() {
            "customer" => assert!(cust_ids.contains(author)),
            "member" => assert!(team_ids.contains(author)),
            other => panic!("author_type {other}"),
        }
    }
    for c in &conversations.records {
        assert!(cust_ids.contains(c["customer_id"].as_str().unwrap()));
        if let Some(a) = c["assignee_id"].as_str() {
            assert!(team_ids.contains(a));
        }
        assert!(c["tags"].is_array());
        assert_eq!(
            per_conv
                .get(c["id"].as_str().unwrap())
                .copied()
                .unwrap_or(0),
            c["message_count"].as_u64().unwrap()
        );
        assert!(c["created_at"].is_string() && c["updated_at"].is_string());
    }
    for a in &articles.records {
        assert!(cat_ids.contains(a["category_id"].as_str().unwrap()));
        assert!(team_ids.contains(a["author_id"].as_str().unwrap()));
    }
    for r in &rules.records {
        if let Some(m) = r["actions"]["assign_to"].as_str() {
            assert!(team_ids.contains(m));
        }
    }

    // enums are strings with the documented values
    subset(
        &enum_values(&conversations, "status"),
        &["open", "pending", "snoozed", "closed"],
        "status",
    );
    let vis = enum_values(&messages, "visibility");
    subset(&vis, &["public", "internal"], "visibility");
    assert!(vis.contains("internal"), "no internal notes");
    let internal = messages
        .records
        .iter()
        .filter(|m| m["visibility"] == "internal")
        .count();
    assert_eq!(internal, n(&size["internal_notes"]));
    let art = enum_values(&articles, "status");
    subset(&art, &["published", "draft"], "article status");
    assert!(art.contains("draft"), "drafts must be included");
    subset(
        &enum_values(&team, "role"),
        &["owner", "admin", "agent"],
        "role",
    );

    // categories with ordering, customers with custom fields
    let mut positions: Vec<u64> = categories
        .records
        .iter()
        .map(|c| c["position"].as_u64().unwrap())
        .collect();
    positions.sort();
    assert_eq!(
        positions,
        (0..categories.records.len() as u64).collect::<Vec<_>>()
    );
    for c in &customers.records {
        assert!(!c["custom_fields"].as_object().unwrap().is_empty());
    }

    // team: roles, BYOK key as name + last 4 only, no tokens or passwords
    let owner = team
        .records
        .iter()
        .find(|m| m["email"] == "owner@acme.example")
        .unwrap();
    assert_eq!(owner["role"], "owner");
    assert_eq!(
        owner["api_keys"],
        serde_json::json!([{"name": "OpenAI production", "last4": "4e7a"}])
    );

    // attachments: bytes under 50 MB, a URL for the large one
    let mut total = 0u64;
    let mut count = 0usize;
    let mut large = Vec::new();
    let mut in_zip = 0usize;
    for m in &messages.records {
        for a in m["attachments"].as_array().unwrap() {
            count += 1;
            let sz = a["size"].as_u64().unwrap();
            total += sz;
            match (a["path"].as_str(), a["url"].as_str()) {
                (Some(p), None) => {
                    assert!(sz < 50_000_000);
                    let b = files
                        .get(p)
                        .unwrap_or_else(|| panic!("{p} is not in the ZIP"));
                    assert_eq!(b.len() as u64, sz, "{p}");
                    assert_eq!(
                        hex::encode(Sha256::digest(b)),
                        a["sha256"].as_str().unwrap()
                    );
                    in_zip += 1;
                }
                (None, Some(u)) => {
                    assert!(sz >= 50_000_000);
                    assert_eq!(a["url_expires_at"], job["link_expires_at"]);
                    large.push((u.to_string(), sz, a["sha256"].as_str().unwrap().to_string()));
                }
                other => panic!("an attachment needs exactly one of path and url: {other:?}"),
            }
        }
    }
    let files_under_attachments = names
        .iter()
        .filter(|n| n.starts_with("attachments/") && !n.ends_with('/'))
        .count();
    assert_eq!(in_zip, files_under_attachments);
    assert_eq!(count, n(&size["attachments"]));
    assert_eq!(total, size["attachment_bytes"].as_u64().unwrap());
    assert_eq!(large.len(), n(&size["large_attachments"]));
    assert_eq!(large.len(), 1, "Acme has one attachment of 50 MB or more");

    // the large attachment, streamed through its URL
    let (url, sz, sha) = &large[0];
    let mut resp = http.c.get(url).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "video/mp4");
    let mut h = Sha256::new();
    let mut got = 0u64;
    while let Some(chunk) = resp.chunk().await.unwrap() {
        got += chunk.len() as u64;
        h.update(&chunk);
    }
    assert_eq!(got, *sz);
    assert_eq!(&hex::encode(h.finalize()), sha);

    // a download link is not an attachment URL and vice versa
    let token = link.rsplit('/').next().unwrap();
    let r = http.get_anon(&format!("/attachments/{token}")).await;
    assert_eq!(r.status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_failures_are_retried_and_shown_on_the_job() {
    let sink = SmtpSink::start_failing(2);
    let dir = tempfile::tempdir().unwrap();
    let smtp = format!("smtp://127.0.0.1:{}", sink.port());
    let server = Server::start(dir.path(), &["--smtp", &smtp]);
    let http = server.http();
    let r = http
        .start_export(ACME, "admin@acme.example", "flow-retry-1")
        .await;
    assert_eq!(r.status, 202, "{}", r.text());
    let id = r.json()["id"].as_str().unwrap().to_string();

    // while retrying: not emailed, and the error shows on the job
    let j = http
        .wait_job(&id, Duration::from_secs(120), |j| {
            assert_ne!(
                j["status"], "emailed",
                "emailed before the SMTP server accepted: {j}"
            );
            j["error"].is_string()
        })
        .await;
    assert_eq!(j["status"], "ready");
    assert!(j["error"].as_str().unwrap().contains("retrying"), "{j}");

    let j = http
        .wait_job(&id, Duration::from_secs(120), |j| {
            assert_ne!(j["status"], "failed", "{j}");
            j["status"] == "emailed"
        })
        .await;
    assert!(j["error"].is_null(), "{j}");
    let mails = sink.wait_for(1, Duration::from_secs(10));
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].rcpt_to, vec!["admin@acme.example".to_string()]);
    assert_eq!(sink.rejected_count(), 2);
    assert_eq!(sink.messages().len(), 1, "emailed once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_links_answer_410_and_forged_ones_404() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = dir.path().join("outbox");
    // NOTE: the default 7-day TTL: a short one raced the build on a loaded
    // machine. Expiry is shown below with a token the server's own key signs
    // for this job with an expiry in the past.
    let data = dir.path().join("data");
    let server = Server::start(&data, &["--outbox", outbox.to_str().unwrap()]);
    let http = server.http();
    let r = http
        .start_export(ACME, "owner@acme.example", "flow-expiry-1")
        .await;
    assert_eq!(r.status, 202, "{}", r.text());
    let id = r.json()["id"].as_str().unwrap().to_string();
    http.wait_job(&id, Duration::from_secs(60), |j| {
        assert_ne!(j["status"], "failed", "{j}");
        j["status"] == "emailed"
    })
    .await;

    // the Maildir outbox holds one well-formed message
    let new: Vec<_> = std::fs::read_dir(outbox.join("new"))
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(new.len(), 1);
    assert_eq!(std::fs::read_dir(outbox.join("tmp")).unwrap().count(), 0);
    let text = std::fs::read_to_string(new[0].path()).unwrap();
    let link = link_in(&text);

    // forged: any change to the token, or a made-up one → 404
    let token = link.rsplit('/').next().unwrap().to_string();
    let mut forged: Vec<char> = token.chars().collect();
    let k = forged.len() - 3;
    forged[k] = if forged[k] == 'A' { 'B' } else { 'A' };
    let forged: String = forged.into_iter().collect();
    for bad in [
        forged.as_str(),
        "AAAA",
        "not-a-token",
        &token[..token.len() - 1],
    ] {
        let r = http.get_anon(&format!("/downloads/{bad}")).await;
        assert_eq!(r.status, 404, "{bad}: {}", r.text());
        assert!(r.content_type.starts_with("text/html"));
    }

    // expired → 410 with a readable page: the same job's download, signed
    // by the server's key with an expiry in the past
    let key =
        concierge::refbackend::links::LinkKey::load_or_create(&data.join("link.key")).unwrap();
    let past = chrono::Utc::now().timestamp() - 60;
    let expired = format!(
        "{}/downloads/{}",
        http.base,
        key.sign_download(uuid::Uuid::parse_str(&id).unwrap(), past)
    );
    assert_eq!(
        http.get_anon(&link).await.status,
        200,
        "the real link still works"
    );
    let r = http.get_anon(&expired).await;
    assert_eq!(r.status, 410, "{}", r.text());
    assert!(r.content_type.starts_with("text/html"));
    let page = r.text();
    assert!(page.contains("expired"), "{page}");
    assert!(page.contains("request a new export"), "{page}");
    // still 404 for a forged one after expiry (the signature is checked first)
    assert_eq!(
        http.get_anon(&format!("/downloads/{forged}")).await.status,
        404
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_mid_job_finishes_it_exactly_once() {
    let sink = SmtpSink::start();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let smtp = format!("smtp://127.0.0.1:{}", sink.port());
    let mut server = Server::start(&data, &["--smtp", &smtp]);
    let http = server.http();
    let key = "flow-restart-1";
    let r = http
        .start_export(NORTHWIND, "ops@northwind.example", key)
        .await;
    assert_eq!(r.status, 202, "{}", r.text());
    let first = r.json();
    let id = first["id"].as_str().unwrap().to_string();

    // wait until it is really writing, then kill -9
    let j = http
        .wait_job(&id, Duration::from_secs(120), |j| {
            assert!(
                j["status"] == "queued" || j["status"] == "running",
                "finished before it could be interrupted: {j}"
            );
            j["status"] == "running" && j["progress"].as_f64().unwrap() > 0.0
        })
        .await;
    assert!(j["phase"].as_str().unwrap().starts_with("writing:"), "{j}");
    server.kill9();
    assert!(sink.messages().is_empty());

    // restart on the same data: the same job finishes, one email arrives
    let server = Server::start(&data, &["--smtp", &smtp]);
    let http = server.http();
    let j = http
        .wait_job(&id, Duration::from_secs(300), |j| {
            assert_ne!(j["status"], "failed", "{j}");
            j["status"] == "emailed"
        })
        .await;
    let mails = sink.wait_for(1, Duration::from_secs(30));
    assert_eq!(mails.len(), 1, "exactly one email");
    assert_eq!(mails[0].rcpt_to, vec!["ops@northwind.example".to_string()]);
    assert!(
        !std::fs::read_dir(data.join("exports"))
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().ends_with(".part")),
        "a partial ZIP was left behind"
    );

    // the same key after the restart answers the same job
    let r = http
        .start_export(NORTHWIND, "ops@northwind.example", key)
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["id"], j["id"]);
    let list = http
        .get(&format!(
            "/v1/exports?workspace_id={}",
            j["workspace_id"].as_str().unwrap()
        ))
        .await
        .json();
    assert_eq!(
        list.as_array().unwrap().len(),
        1,
        "a second export was started"
    );

    // and the rewritten ZIP is complete: its counts equal the size
    let link = link_in(&mails[0].text());
    let r = http.get_anon(&link).await;
    assert_eq!(r.status, 200);
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(r.body)).unwrap();
    let size = http
        .get(&format!(
            "/v1/workspaces/{}",
            j["workspace_id"].as_str().unwrap()
        ))
        .await
        .json()["size"]
        .clone();
    for (file, field) in [
        ("conversations.json", "conversations"),
        ("messages.json", "messages"),
        ("customers.json", "customers"),
        ("team.json", "members"),
    ] {
        let b = read_entry(&mut z, file);
        let lines = b.split(|c| *c == b'\n').filter(|l| !l.is_empty()).count() as u64;
        assert_eq!(lines - 1, size[field].as_u64().unwrap(), "{file}");
    }
    // a late duplicate would come from the same worker: let a second export
    // (another workspace) go all the way through first, then count
    let r = http
        .start_export(ACME, "owner@acme.example", "flow-restart-2")
        .await;
    assert_eq!(r.status, 202, "{}", r.text());
    let other = r.json()["id"].as_str().unwrap().to_string();
    http.wait_job(&other, Duration::from_secs(120), |j| {
        j["status"] == "emailed"
    })
    .await;
    let all = sink.wait_for(2, Duration::from_secs(30));
    let to_northwind = all
        .iter()
        .filter(|m| m.rcpt_to == vec!["ops@northwind.example".to_string()])
        .count();
    assert_eq!(to_northwind, 1, "still exactly one email to Northwind");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_between_delivery_and_its_record_never_emails_twice() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let outbox = dir.path().join("outbox");
    let out = ["--outbox", outbox.to_str().unwrap()];
    // the process dies right after the link email is in the outbox, before
    // `emailed` is recorded: the job stays `ready` with its sent-marker set
    let mut server = Server::start_with_env(
        &data,
        &out,
        &[("CONCIERGE_BACKEND_CRASH_AT", "after-email")],
    );
    let r = server
        .http()
        .start_export(ACME, "owner@acme.example", "flow-crash-email-1")
        .await;
    assert_eq!(r.status, 202, "{}", r.text());
    let id = r.json()["id"].as_str().unwrap().to_string();
    let st = server.wait_exit(Duration::from_secs(300));
    assert!(
        st.is_some_and(|s| !s.success()),
        "the crash point was not reached\n{}",
        server.log()
    );
    let mails = |outbox: &std::path::Path| -> usize {
        ["new", "cur"]
            .iter()
            .map(|d| std::fs::read_dir(outbox.join(d)).map_or(0, |r| r.count()))
            .sum()
    };
    assert_eq!(
        mails(&outbox),
        1,
        "the email was delivered before the crash"
    );

    // restart: recovery finds the `ready` job and finishes it without a second email
    let server = Server::start(&data, &out);
    let http = server.http();
    let j = http
        .wait_job(&id, Duration::from_secs(120), |j| {
            assert_ne!(j["status"], "failed", "{j}");
            j["status"] == "emailed"
        })
        .await;
    assert!(j["emailed_at"].is_string());
    // a late duplicate would come from the same worker: let a second export
    // (another workspace) go all the way through first, then count
    let r = http
        .start_export(NORTHWIND, "ops@northwind.example", "flow-crash-email-2")
        .await;
    let other = r.json()["id"].as_str().unwrap().to_string();
    http.wait_job(&other, Duration::from_secs(300), |j| {
        j["status"] == "emailed"
    })
    .await;
    assert_eq!(mails(&outbox), 2, "one email per job, none twice");
}

/// An SMTP URL where nothing listens: every delivery fails at once.
fn dead_smtp() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("smtp://{}", l.local_addr().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_attempts_exhausted_fail_the_job_and_say_why() {
    let dir = tempfile::tempdir().unwrap();
    let smtp = dead_smtp();
    let server = Server::start(dir.path(), &["--smtp", &smtp, "--email-attempts", "2"]);
    let http = server.http();
    let r = http
        .start_export(ACME, "owner@acme.example", "flow-attempts-1")
        .await;
    assert_eq!(r.status, 202, "{}", r.text());
    let id = r.json()["id"].as_str().unwrap().to_string();
    let j = http
        .wait_job(&id, Duration::from_secs(120), |j| {
            assert_ne!(j["status"], "emailed", "{j}");
            j["status"] == "failed"
        })
        .await;
    let e = j["error"].as_str().unwrap();
    assert!(e.contains("could not be delivered after 2 attempts"), "{e}");
    assert!(j["finished_at"].is_string());
    // a failed job is not live: a new export of the workspace may start
    let r = http
        .start_export(ACME, "owner@acme.example", "flow-attempts-2")
        .await;
    assert_eq!(r.status, 202, "{}", r.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_that_expires_before_delivery_fails_the_job_and_its_zip_is_swept() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let smtp = dead_smtp();
    // the email can never be delivered; the link lives 3 s
    let args = ["--smtp", smtp.as_str(), "--link-ttl", "3s"];
    let mut server = Server::start(&data, &args);
    let http = server.http();
    let r = http
        .start_export(ACME, "owner@acme.example", "flow-ttl-1")
        .await;
    assert_eq!(r.status, 202, "{}", r.text());
    let id = r.json()["id"].as_str().unwrap().to_string();
    let j = http
        .wait_job(&id, Duration::from_secs(120), |j| {
            assert_ne!(j["status"], "emailed", "{j}");
            j["status"] == "failed"
        })
        .await;
    let e = j["error"].as_str().unwrap();
    assert!(
        e.contains("the link expired before the email could be delivered"),
        "{e}"
    );
    assert!(
        j["link_expires_at"].is_null(),
        "a failed job shows no link: {j}"
    );

    // the ZIP nobody can download any more is deleted by the sweep (which
    // runs at start, then every minute)
    let zip = data.join(format!("exports/{id}.zip"));
    assert!(
        zip.exists()
            || server
                .log()
                .contains("deleted an export whose link expired"),
        "the export was never built"
    );
    server.kill9();
    let _server = Server::start(&data, &args);
    assert!(
        eventually(Duration::from_secs(60), || async { !zip.exists() }).await,
        "{} was not swept",
        zip.display()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_during_the_smtp_transaction_is_refused_and_the_link_goes_out_once() {
    let sink = SmtpSink::start();
    // the first SMTP connection stalls: the worker is inside its transaction
    let proxy = proxy::Proxy::start(&format!("127.0.0.1:{}", sink.port())).await;
    proxy.push(proxy::Fault::Stall);
    let smtp = proxy.url.replace("http://", "smtp://");
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--smtp", &smtp]);
    let http = server.http();
    let r = http
        .start_export(ACME, "owner@acme.example", "flow-cancel-smtp-1")
        .await;
    assert_eq!(r.status, 202, "{}", r.text());
    let id = r.json()["id"].as_str().unwrap().to_string();
    assert!(
        eventually(Duration::from_secs(120), || async {
            proxy.connections() >= 1
        })
        .await,
        "the worker never opened its SMTP connection\n{}",
        server.log()
    );
    // too late to cancel: the message may be accepted at any moment
    let c = http
        .post(
            &format!("/v1/exports/{id}/cancel"),
            None,
            &serde_json::json!({}),
        )
        .await;
    assert_eq!(c.status, 409, "{}", c.text());
    assert_eq!(c.code(), "not_cancellable");
    // the stalled transaction fails; the retry delivers the link, once
    proxy.release();
    http.wait_job(&id, Duration::from_secs(120), |j| {
        assert!(j["status"] != "failed" && j["status"] != "cancelled", "{j}");
        j["status"] == "emailed"
    })
    .await;
    let mails = sink.wait_for(1, Duration::from_secs(30));
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].rcpt_to, vec!["owner@acme.example".to_string()]);
}

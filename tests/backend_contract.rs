//! Holds the reference backend to `assets/openapi.yaml`: every operation and
//! every response status the spec names is exercised against a running
//! `concierge backend serve`, and each answer is validated against the
//! schema the spec gives for it (a small validator for the JSON Schema
//! subset the spec uses: $ref, type (with null), enum, format uuid and
//! date-time, properties, required, additionalProperties, items, minimum,
//! maximum, minLength).

use concierge_test_support::backend as backend_support;

use backend_support::*;
use concierge::refbackend::links::LinkKey;
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashSet};
use std::io::Read;
use std::time::Duration;

const SPEC: &str = include_str!("../assets/openapi.yaml");

fn spec() -> Value {
    serde_yaml_ng::from_str(SPEC).expect("assets/openapi.yaml is valid YAML")
}

fn resolve<'a>(spec: &'a Value, v: &'a Value) -> &'a Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let mut cur = spec;
            for part in r.trim_start_matches("#/").split('/') {
                cur = cur
                    .get(part)
                    .unwrap_or_else(|| panic!("unresolved $ref {r}"));
            }
            resolve(spec, cur)
        }
        None => v,
    }
}

fn type_ok(t: &str, v: &Value) -> bool {
    match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        other => panic!("the validator does not know type {other}"),
    }
}

fn validate(spec: &Value, schema: &Value, v: &Value, at: &str) -> Result<(), String> {
    let s = resolve(spec, schema);
    if let Some(t) = s.get("type") {
        let types: Vec<&str> = match t {
            Value::String(x) => vec![x.as_str()],
            Value::Array(a) => a.iter().map(|x| x.as_str().unwrap()).collect(),
            _ => panic!("bad type in spec at {at}"),
        };
        if !types.iter().any(|t| type_ok(t, v)) {
            return Err(format!("{at}: {v} is not of type {types:?}"));
        }
    }
    if v.is_null() {
        return Ok(());
    }
    if let Some(e) = s.get("enum").and_then(Value::as_array) {
        if !e.contains(v) {
            return Err(format!("{at}: {v} is not one of {e:?}"));
        }
    }
    if let (Some(f), Some(x)) = (s.get("format").and_then(Value::as_str), v.as_str()) {
        match f {
            "uuid" => {
                uuid::Uuid::parse_str(x).map_err(|_| format!("{at}: {x:?} is not a uuid"))?;
            }
            "date-time" => {
                chrono::DateTime::parse_from_rfc3339(x)
                    .map_err(|_| format!("{at}: {x:?} is not a date-time"))?;
            }
            _ => {}
        }
    }
    if let (Some(m), Some(x)) = (s.get("minLength").and_then(Value::as_u64), v.as_str()) {
        if (x.chars().count() as u64) < m {
            return Err(format!("{at}: shorter than {m}"));
        }
    }
    if let Some(x) = v.as_f64() {
        if let Some(m) = s.get("minimum").and_then(Value::as_f64) {
            if x < m {
                return Err(format!("{at}: {x} < minimum {m}"));
            }
        }
        if let Some(m) = s.get("maximum").and_then(Value::as_f64) {
            if x > m {
                return Err(format!("{at}: {x} > maximum {m}"));
            }
        }
    }
    if let Some(o) = v.as_object() {
        let props = s.get("properties").and_then(Value::as_object);
        if let Some(req) = s.get("required").and_then(Value::as_array) {
            for r in req {
                let r = r.as_str().unwrap();
                if !o.contains_key(r) {
                    return Err(format!("{at}: required field {r} missing"));
                }
            }
        }
        for (k, x) in o {
            match props.and_then(|p| p.get(k)) {
                Some(ps) => validate(spec, ps, x, &format!("{at}.{k}"))?,
                None => {
                    if s.get("additionalProperties") == Some(&Value::Bool(false)) {
                        return Err(format!("{at}: field {k} is not in the spec"));
                    }
                }
            }
        }
    }
    if let (Some(items), Some(a)) = (s.get("items"), v.as_array()) {
        for (i, x) in a.iter().enumerate() {
            validate(spec, items, x, &format!("{at}[{i}]"))?;
        }
    }
    Ok(())
}

/// One call and the operation it belongs to.
struct Call {
    method: &'static str,
    template: &'static str,
    path: String,
    key: Option<String>,
    body: Option<Value>,
    auth: bool,
}

fn call(method: &'static str, template: &'static str, path: impl Into<String>) -> Call {
    Call {
        method,
        template,
        path: path.into(),
        key: None,
        body: None,
        auth: !template.starts_with("/downloads") && !template.starts_with("/attachments"),
    }
}

impl Call {
    fn key(mut self, k: &str) -> Self {
        self.key = Some(k.to_string());
        self
    }
    fn body(mut self, b: Value) -> Self {
        self.body = Some(b);
        self
    }
    fn anon(mut self) -> Self {
        self.auth = false;
        self
    }
}

struct Checker {
    spec: Value,
    http: Http,
    covered: BTreeSet<(String, String, String)>,
}

impl Checker {
    /// Runs the call and checks its answer against the spec; returns it.
    async fn run(&mut self, c: Call) -> Resp {
        let m = reqwest::Method::from_bytes(c.method.as_bytes()).unwrap();
        let mut rb = self.http.c.request(m, self.http.url(&c.path));
        if c.auth {
            rb = rb
                .bearer_auth(TOKEN)
                .header("x-concierge-operator", "Contract Test");
        }
        if let Some(k) = &c.key {
            rb = rb.header("idempotency-key", k);
        }
        if let Some(b) = &c.body {
            rb = rb.json(b);
        }
        let r = self.http.send(rb).await;
        let op = self.spec["paths"][c.template][c.method.to_lowercase()].clone();
        assert!(
            op.is_object(),
            "{} {} is not in the spec",
            c.method,
            c.template
        );
        let status = r.status.to_string();
        let resp = op["responses"]
            .get(&status)
            .unwrap_or_else(|| {
                panic!(
                    "{} {} answered {} which the spec does not list: {}",
                    c.method,
                    c.path,
                    status,
                    r.text()
                )
            })
            .clone();
        let resp = resolve(&self.spec, &resp).clone();
        let content = resp["content"].as_object().expect("responses have content");
        let (media, media_obj) = content.iter().next().unwrap();
        match media.as_str() {
            "application/json" => {
                assert!(
                    r.content_type.starts_with("application/json"),
                    "{}",
                    r.content_type
                );
                let v = r.json();
                if let Err(e) = validate(&self.spec, &media_obj["schema"], &v, "$") {
                    panic!("{} {} → {}: {e}\n{v}", c.method, c.path, status);
                }
            }
            "text/html" => assert!(
                r.content_type.starts_with("text/html"),
                "{}",
                r.content_type
            ),
            "application/zip" => assert_eq!(r.content_type, "application/zip"),
            "application/octet-stream" => {
                assert!(!r.content_type.is_empty() && !r.content_type.contains("json"))
            }
            other => panic!("the checker does not know {other}"),
        }
        self.covered
            .insert((c.template.to_string(), c.method.to_lowercase(), status));
        r
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_keeps_the_openapi_contract() {
    let spec = spec();
    assert_eq!(spec["openapi"], "3.1.0");
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let http = server.http();
    let mut ck = Checker {
        spec: spec.clone(),
        http: http.clone(),
        covered: BTreeSet::new(),
    };

    // the spec is also served
    let r = http.get_anon("/openapi.yaml").await;
    assert_eq!(r.text(), SPEC);

    let ws = http.workspace_id(ACME).await;
    let owner = http.member_id("owner@acme.example", &ws).await;
    let agent = http.member_id("agent@acme.example", &ws).await;
    let nobody = uuid::Uuid::new_v4().to_string();
    let body = |mid: &str| json!({"workspace_id": ws, "requested_by": owner, "request_message_id": mid, "note": null});

    // workspaces
    ck.run(call("GET", "/v1/workspaces", "/v1/workspaces"))
        .await;
    ck.run(call("GET", "/v1/workspaces", "/v1/workspaces?name=Globex"))
        .await;
    ck.run(call("GET", "/v1/workspaces", "/v1/workspaces").anon())
        .await;
    ck.run(call(
        "GET",
        "/v1/workspaces/{id}",
        format!("/v1/workspaces/{ws}"),
    ))
    .await;
    ck.run(call(
        "GET",
        "/v1/workspaces/{id}",
        format!("/v1/workspaces/{nobody}"),
    ))
    .await;
    ck.run(call("GET", "/v1/workspaces/{id}", format!("/v1/workspaces/{ws}")).anon())
        .await;
    // members
    ck.run(call(
        "GET",
        "/v1/members",
        "/v1/members?email=owner@acme.example",
    ))
    .await;
    ck.run(call("GET", "/v1/members", "/v1/members")).await;
    ck.run(call("GET", "/v1/members", "/v1/members?email=x@y").anon())
        .await;
    // exports
    let created = ck
        .run(
            call("POST", "/v1/exports", "/v1/exports")
                .key("c-1")
                .body(body("c-1@x")),
        )
        .await;
    assert_eq!(created.status, 202);
    let job = created.json()["id"].as_str().unwrap().to_string();
    let again = ck
        .run(
            call("POST", "/v1/exports", "/v1/exports")
                .key("c-1")
                .body(body("c-1@x")),
        )
        .await;
    assert_eq!(again.status, 200);
    assert_eq!(
        ck.run(call("POST", "/v1/exports", "/v1/exports").body(body("c-2@x")))
            .await
            .status,
        400
    );
    assert_eq!(
        ck.run(
            call("POST", "/v1/exports", "/v1/exports")
                .key("c-1")
                .body(body("other@x"))
        )
        .await
        .status,
        409
    );
    let by_agent =
        json!({"workspace_id": ws, "requested_by": agent, "request_message_id": "c-3@x"});
    assert_eq!(
        ck.run(
            call("POST", "/v1/exports", "/v1/exports")
                .key("c-3")
                .body(by_agent)
        )
        .await
        .status,
        403
    );
    let unknown =
        json!({"workspace_id": nobody, "requested_by": owner, "request_message_id": "c-4@x"});
    assert_eq!(
        ck.run(
            call("POST", "/v1/exports", "/v1/exports")
                .key("c-4")
                .body(unknown)
        )
        .await
        .status,
        404
    );
    ck.run(
        call("POST", "/v1/exports", "/v1/exports")
            .key("c-5")
            .body(body("c-5@x"))
            .anon(),
    )
    .await;
    ck.run(call(
        "GET",
        "/v1/exports",
        format!("/v1/exports?workspace_id={ws}"),
    ))
    .await;
    ck.run(call("GET", "/v1/exports", "/v1/exports")).await;
    ck.run(call(
        "GET",
        "/v1/exports",
        format!("/v1/exports?workspace_id={nobody}"),
    ))
    .await;
    ck.run(call("GET", "/v1/exports", "/v1/exports").anon())
        .await;
    ck.run(call(
        "GET",
        "/v1/exports/{id}",
        format!("/v1/exports/{job}"),
    ))
    .await;
    ck.run(call(
        "GET",
        "/v1/exports/{id}",
        format!("/v1/exports/{nobody}"),
    ))
    .await;
    ck.run(call("GET", "/v1/exports/{id}", format!("/v1/exports/{job}")).anon())
        .await;

    // follow the job, checking each state against the schema
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let r = ck
            .run(call(
                "GET",
                "/v1/exports/{id}",
                format!("/v1/exports/{job}"),
            ))
            .await;
        let j = r.json();
        if j["status"] == "emailed" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{j}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // another key while c-1's link is valid: 409 naming it; 413 for a huge body
    let busy = ck
        .run(
            call("POST", "/v1/exports", "/v1/exports")
                .key("c-7")
                .body(body("c-7@x")),
        )
        .await;
    assert_eq!(busy.status, 409);
    assert_eq!(busy.code(), "export_in_progress");
    assert_eq!(busy.json()["error"]["job_id"], job.as_str());
    let mut huge = body("c-8@x");
    huge["note"] = json!("x".repeat(100_000));
    assert_eq!(
        ck.run(
            call("POST", "/v1/exports", "/v1/exports")
                .key("c-8")
                .body(huge)
        )
        .await
        .status,
        413
    );

    // cancel: 200 for a live job, 409 once emailed, 404, 401
    let mut forced = body("c-6@x");
    forced["force"] = json!(true);
    let live = ck
        .run(
            call("POST", "/v1/exports", "/v1/exports")
                .key("c-6")
                .body(forced),
        )
        .await
        .json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let c = ck
        .run(call(
            "POST",
            "/v1/exports/{id}/cancel",
            format!("/v1/exports/{live}/cancel"),
        ))
        .await;
    assert_eq!(c.status, 200);
    assert_eq!(c.json()["status"], "cancelled");
    assert_eq!(
        ck.run(call(
            "POST",
            "/v1/exports/{id}/cancel",
            format!("/v1/exports/{job}/cancel")
        ))
        .await
        .status,
        409
    );
    ck.run(call(
        "POST",
        "/v1/exports/{id}/cancel",
        format!("/v1/exports/{nobody}/cancel"),
    ))
    .await;
    ck.run(
        call(
            "POST",
            "/v1/exports/{id}/cancel",
            format!("/v1/exports/{job}/cancel"),
        )
        .anon(),
    )
    .await;

    // the links: the real one (from the outbox), forged, expired
    let outbox = dir.path().join("outbox/new");
    let mail = std::fs::read_dir(&outbox)
        .unwrap()
        .flatten()
        .next()
        .unwrap();
    let link = link_in(&std::fs::read_to_string(mail.path()).unwrap());
    let token = link.rsplit('/').next().unwrap().to_string();
    let zip = ck
        .run(call(
            "GET",
            "/downloads/{token}",
            format!("/downloads/{token}"),
        ))
        .await;
    assert_eq!(zip.status, 200);
    ck.run(call("GET", "/downloads/{token}", "/downloads/forged-token"))
        .await;
    // an expired token signed with the server's own key
    let key = LinkKey::load_or_create(&dir.path().join("link.key")).unwrap();
    let job_id = uuid::Uuid::parse_str(&job).unwrap();
    let past = chrono::Utc::now().timestamp() - 60;
    let r = ck
        .run(call(
            "GET",
            "/downloads/{token}",
            format!("/downloads/{}", key.sign_download(job_id, past)),
        ))
        .await;
    assert_eq!(r.status, 410);

    // the large attachment's URL, from messages.json
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(zip.body)).unwrap();
    let mut messages = String::new();
    z.by_name("messages.json")
        .unwrap()
        .read_to_string(&mut messages)
        .unwrap();
    let url = messages
        .lines()
        .skip(1)
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .flat_map(|m| m["attachments"].as_array().cloned().unwrap_or_default())
        .find_map(|a| a["url"].as_str().map(String::from))
        .expect("a large attachment URL");
    let att_token = url.rsplit('/').next().unwrap().to_string();
    let r = ck
        .run(call(
            "GET",
            "/attachments/{token}",
            format!("/attachments/{att_token}"),
        ))
        .await;
    assert_eq!(r.status, 200);
    assert!(r.body.len() >= 50_000_000);
    ck.run(call(
        "GET",
        "/attachments/{token}",
        "/attachments/forged-token",
    ))
    .await;
    let att_id = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, b"any");
    let r = ck
        .run(call(
            "GET",
            "/attachments/{token}",
            format!("/attachments/{}", key.sign_attachment(job_id, att_id, past)),
        ))
        .await;
    assert_eq!(r.status, 410);

    // every (operation, status) in the spec was exercised
    let mut documented = BTreeSet::new();
    for (path, ops) in spec["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            for status in op["responses"].as_object().unwrap().keys() {
                if status != "default" {
                    documented.insert((path.clone(), method.clone(), status.clone()));
                }
            }
        }
    }
    let missing: Vec<_> = documented.difference(&ck.covered).collect();
    assert!(
        missing.is_empty(),
        "documented but never exercised: {missing:?}"
    );
}

#[test]
fn the_spec_documents_every_error_code_and_field_the_server_uses() {
    let spec = spec();
    let codes: HashSet<String> = spec["components"]["schemas"]["Error"]["properties"]["error"]
        ["properties"]["code"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    use concierge::backend::api::codes::*;
    for c in [
        UNAUTHORIZED,
        NOT_OWNER_OR_ADMIN,
        NOT_FOUND,
        WORKSPACE_NOT_FOUND,
        MEMBER_NOT_FOUND,
        JOB_NOT_FOUND,
        IDEMPOTENCY_KEY_REQUIRED,
        IDEMPOTENCY_CONFLICT,
        EXPORT_IN_PROGRESS,
        PAYLOAD_TOO_LARGE,
        NOT_CANCELLABLE,
        INVALID_REQUEST,
        METHOD_NOT_ALLOWED,
        INTERNAL,
    ] {
        assert!(codes.contains(c), "error code {c} is not in the spec");
    }
    // the wire types serialize to exactly the fields the spec requires
    let job = concierge::backend::api::Job {
        id: uuid::Uuid::nil(),
        workspace_id: uuid::Uuid::nil(),
        status: concierge::backend::api::JobStatus::Queued,
        phase: None,
        progress: 0.0,
        created_at: chrono::Utc::now(),
        started_at: None,
        finished_at: None,
        emailed_at: None,
        deliver_to: None,
        link_expires_at: None,
        error: None,
    };
    validate(
        &spec,
        &spec["components"]["schemas"]["Job"],
        &serde_json::to_value(&job).unwrap(),
        "$",
    )
    .unwrap();
    let required: HashSet<&str> = spec["components"]["schemas"]["Job"]["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let actual: HashSet<String> = serde_json::to_value(&job)
        .unwrap()
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(
        required,
        actual.iter().map(String::as_str).collect::<HashSet<_>>()
    );
    // DESIGN.md's table of calls, all present
    for (path, method) in [
        ("/v1/workspaces", "get"),
        ("/v1/workspaces/{id}", "get"),
        ("/v1/members", "get"),
        ("/v1/exports", "post"),
        ("/v1/exports/{id}", "get"),
        ("/v1/exports", "get"),
        ("/v1/exports/{id}/cancel", "post"),
        ("/downloads/{token}", "get"),
    ] {
        assert!(spec["paths"][path][method].is_object(), "{method} {path}");
    }
}

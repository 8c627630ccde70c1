//! The HTTP side of the reference backend (axum): the routes of
//! `assets/openapi.yaml`, bearer authentication on `/v1`, and the error body
//! `{"error": {"code", "message"}}` on every failure.
//!
//! `/downloads/{token}` and `/attachments/{token}` are the emailed links and
//! need no bearer token: the HMAC signature is the authorization. Their
//! errors are short HTML pages, since a person opens them in a browser.

use super::links::{secret_eq, Grant};
use super::store::{Cancel, Insert, JobRow, KeyLookup, NewJob};
use super::worker::{now_ms, Backend};
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use ochre_api::{
    codes, ErrorBody, ErrorDetail, ExportRequest, Job, JobStatus, Member, Workspace,
    WorkspaceDetails, IDEMPOTENCY_HEADER, OPERATOR_HEADER,
};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Arc;
use uuid::Uuid;

type St = State<Arc<Backend>>;

/// The contract, served as documentation at `/openapi.yaml`.
pub const OPENAPI: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../assets/openapi.yaml"
));

/// All routes.
pub fn router(b: Arc<Backend>) -> Router {
    let v1 = Router::new()
        .route("/v1/workspaces", get(list_workspaces))
        .route("/v1/workspaces/{id}", get(get_workspace))
        .route("/v1/members", get(list_members))
        .route("/v1/exports", post(create_export).get(list_exports))
        .route("/v1/exports/{id}", get(get_export))
        .route("/v1/exports/{id}/cancel", post(cancel_export))
        .route_layer(middleware::from_fn_with_state(b.clone(), require_bearer));
    Router::new()
        .merge(v1)
        .route("/downloads/{token}", get(download))
        .route("/attachments/{token}", get(attachment))
        .route("/healthz", get(|| async { "ok\n" }))
        .route(
            "/openapi.yaml",
            get(|| async { ([(header::CONTENT_TYPE, "application/yaml")], OPENAPI) }),
        )
        .fallback(|| async { err(StatusCode::NOT_FOUND, codes::NOT_FOUND, "no such route") })
        .method_not_allowed_fallback(|| async {
            err(
                StatusCode::METHOD_NOT_ALLOWED,
                codes::METHOD_NOT_ALLOWED,
                "this method is not allowed on this route",
            )
        })
        .with_state(b)
}

/// An error answer.
pub fn err(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let body = ErrorBody {
        error: ErrorDetail {
            code: code.to_string(),
            message: message.into(),
            job_id: None,
        },
    };
    (status, Json(body)).into_response()
}

/// Most bytes a `POST /v1/exports` body may have: the request is four short
/// fields and a note, so 64 KiB is generous.
pub const MAX_BODY: usize = 64 * 1024;
/// The most of a too-large body read (and dropped) before answering 413.
const DRAIN_MAX: u64 = 1024 * 1024;
/// How long a client may take to send a body once its headers arrived.
const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// The Idempotency-Key header: printable ASCII (RFC 9110 field values may
/// carry other octets, but a key is compared byte for byte and logged), 1 to
/// 255 characters.
fn idempotency_key(headers: &HeaderMap) -> Result<String, Box<Response>> {
    let Some(raw) = headers.get(IDEMPOTENCY_HEADER) else {
        return Err(Box::new(missing_key()));
    };
    let Some(key) = raw
        .to_str()
        .ok()
        .filter(|k| k.bytes().all(|b| (0x21..0x7f).contains(&b) || b == b' '))
    else {
        return Err(Box::new(err(
            StatusCode::BAD_REQUEST,
            codes::INVALID_REQUEST,
            "the Idempotency-Key must be printable ASCII (Concierge sends a hex SHA-256)",
        )));
    };
    let key = key.trim();
    if key.is_empty() {
        return Err(Box::new(missing_key()));
    }
    if key.len() > 255 {
        return Err(Box::new(err(
            StatusCode::BAD_REQUEST,
            codes::INVALID_REQUEST,
            "the Idempotency-Key is longer than 255 characters",
        )));
    }
    Ok(key.to_string())
}

fn missing_key() -> Response {
    err(
        StatusCode::BAD_REQUEST,
        codes::IDEMPOTENCY_KEY_REQUIRED,
        "POST /v1/exports needs an Idempotency-Key header, derived from the request, so that a retry never starts a second export",
    )
}

fn too_large() -> Response {
    err(
        StatusCode::PAYLOAD_TOO_LARGE,
        codes::PAYLOAD_TOO_LARGE,
        format!("the body is larger than {MAX_BODY} bytes"),
    )
}

/// Reads a request body of at most [`MAX_BODY`] bytes within [`BODY_TIMEOUT`];
/// the refusals answer in the JSON error format.
async fn read_body(headers: &HeaderMap, body: Body) -> Result<Bytes, Response> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(n) = declared.filter(|n| *n > MAX_BODY as u64) {
        // NOTE: a client still writing its body when the answer comes and
        // the connection closes sees a reset instead of the 413; up to
        // 1 MiB is read and dropped first (never kept), so it gets the answer.
        if n <= DRAIN_MAX {
            let _ = tokio::time::timeout(BODY_TIMEOUT, drain(body)).await;
        }
        return Err(too_large());
    }
    match tokio::time::timeout(BODY_TIMEOUT, axum::body::to_bytes(body, MAX_BODY)).await {
        Ok(Ok(b)) => Ok(b),
        Ok(Err(e)) => {
            let too_big = std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
            Err(if too_big {
                too_large()
            } else {
                err(
                    StatusCode::BAD_REQUEST,
                    codes::INVALID_REQUEST,
                    "the body could not be read",
                )
            })
        }
        Err(_) => Err(err(
            StatusCode::REQUEST_TIMEOUT,
            codes::INVALID_REQUEST,
            "the body did not arrive in time",
        )),
    }
}

/// Reads a body to its end, keeping nothing.
async fn drain(mut body: Body) {
    use http_body_util::BodyExt;
    while let Some(Ok(_)) = body.frame().await {}
}

/// 409 `export_in_progress`, naming the live job.
fn in_progress(live: &JobRow, workspace: &str) -> Response {
    let body = ErrorBody {
        error: ErrorDetail {
            code: codes::EXPORT_IN_PROGRESS.to_string(),
            message: format!(
                "an export of {workspace} is already {} (job {}); send \"force\": true to start another",
                match live.status {
                    JobStatus::Emailed => "emailed with a valid link",
                    s => s.as_str(),
                },
                live.id
            ),
            job_id: Some(live.id),
        },
    };
    (StatusCode::CONFLICT, Json(body)).into_response()
}

fn internal(e: anyhow::Error) -> Response {
    tracing::error!(error = %format!("{e:#}"), "internal error");
    err(
        StatusCode::INTERNAL_SERVER_ERROR,
        codes::INTERNAL,
        "internal error; see the backend log",
    )
}

/// `Authorization: Bearer TOKEN`, compared in constant time.
async fn require_bearer(State(b): St, req: Request, next: Next) -> Response {
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim());
    let ok = match presented {
        Some(t) => secret_eq(t.as_bytes(), b.token.expose().as_bytes()),
        None => false,
    };
    if !ok {
        let mut r = err(
            StatusCode::UNAUTHORIZED,
            codes::UNAUTHORIZED,
            "a valid `Authorization: Bearer` token is required",
        );
        r.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return r;
    }
    let operator = req
        .headers()
        .get(OPERATOR_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_string();
    if is_health_probe(&req) {
        tracing::debug!(operator = %operator, method = %req.method(), path = %req.uri().path(), "health check");
    } else {
        tracing::info!(operator = %operator, method = %req.method(), path = %req.uri().path(), "api call");
    }
    next.run(req).await
}

/// Whether `req` is a screen's health check (`GET /v1/workspaces?name=`,
/// an exact name nobody has: Concierge's `BackendClient::probe`).
///
/// NOTE: logged at DEBUG: every open screen sends one every 5 s, which at
/// INFO was 720 lines an hour per screen around the few that matter.
pub fn is_health_probe(req: &Request) -> bool {
    req.method() == axum::http::Method::GET
        && req.uri().path() == "/v1/workspaces"
        && req.uri().query() == Some("name=")
}

fn parse_id(s: &str) -> Option<Uuid> {
    Uuid::parse_str(s).ok()
}

fn ts(secs: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(secs, 0).unwrap_or_default()
}

fn ts_ms(ms: i64) -> chrono::DateTime<chrono::Utc> {
    ts(ms.div_euclid(1000))
}

/// `owner@acme.example` → `o***@acme.example`.
pub fn mask_email(e: &str) -> String {
    match e.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".into(),
    }
}

fn wire_job(j: &JobRow) -> Job {
    let link_visible = matches!(j.status, JobStatus::Ready | JobStatus::Emailed);
    Job {
        id: j.id,
        workspace_id: j.workspace_id,
        status: j.status,
        phase: j.phase.clone(),
        progress: (j.progress * 1000.0).round() / 1000.0,
        created_at: ts_ms(j.created_at),
        started_at: j.started_at.map(ts_ms),
        finished_at: j.finished_at.map(ts_ms),
        emailed_at: j.emailed_at.map(ts_ms),
        deliver_to: Some(mask_email(&j.deliver_to)),
        link_expires_at: if link_visible {
            j.link_expires_at.map(ts)
        } else {
            None
        },
        error: j.error.clone(),
    }
}

async fn list_workspaces(State(b): St, Query(q): Query<HashMap<String, String>>) -> Response {
    let name = q.get("name").map(|n| n.trim().to_lowercase());
    let list: Vec<Workspace> = b
        .demo
        .workspaces()
        .iter()
        .filter(|w| name.as_ref().is_none_or(|n| w.name.to_lowercase() == *n))
        .map(|w| Workspace {
            id: w.id,
            name: w.name.clone(),
            created_at: ts(w.created_at),
        })
        .collect();
    Json(list).into_response()
}

async fn get_workspace(State(b): St, Path(id): Path<String>) -> Response {
    let Some(id) = parse_id(&id).filter(|id| b.demo.workspace(*id).is_some()) else {
        return err(
            StatusCode::NOT_FOUND,
            codes::WORKSPACE_NOT_FOUND,
            "no workspace with this id",
        );
    };
    // The first size of a large workspace walks every record: not on the reactor.
    let bb = b.clone();
    let size =
        match tokio::task::spawn_blocking(move || bb.demo.workspace(id).map(|w| w.size())).await {
            Ok(Some(s)) => s,
            _ => return internal(anyhow::anyhow!("could not size workspace {id}")),
        };
    let w = b.demo.workspace(id).expect("checked above");
    Json(WorkspaceDetails {
        workspace: Workspace {
            id: w.id,
            name: w.name.clone(),
            created_at: ts(w.created_at),
        },
        size,
    })
    .into_response()
}

async fn list_members(State(b): St, Query(q): Query<HashMap<String, String>>) -> Response {
    let Some(email) = q.get("email").filter(|e| !e.trim().is_empty()) else {
        return err(
            StatusCode::BAD_REQUEST,
            codes::INVALID_REQUEST,
            "the email query parameter is required",
        );
    };
    let list: Vec<Member> = b
        .demo
        .memberships(email)
        .into_iter()
        .map(|(w, m)| Member {
            member_id: m.id,
            workspace_id: w.id,
            workspace_name: w.name.clone(),
            email: m.email.clone(),
            name: m.name.clone(),
            role: m.role,
        })
        .collect();
    Json(list).into_response()
}

async fn create_export(State(b): St, headers: HeaderMap, body: Body) -> Response {
    let key = match idempotency_key(&headers) {
        Ok(k) => k,
        Err(r) => return *r,
    };
    let key = key.as_str();
    let body = match read_body(&headers, body).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let req: ExportRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return err(
                StatusCode::BAD_REQUEST,
                codes::INVALID_REQUEST,
                format!("the body is not an export request: {e}"),
            )
        }
    };
    let request_hash = hex::encode(Sha256::digest(
        serde_json::to_vec(&req).expect("a parsed request serializes"),
    ));
    match b.store.lookup_key(key, &request_hash) {
        Ok(KeyLookup::Free) => {}
        Ok(KeyLookup::Same(job)) => return (StatusCode::OK, Json(wire_job(&job))).into_response(),
        Ok(KeyLookup::Conflict) => return conflict_key(),
        Err(e) => return internal(e),
    }
    if req.request_message_id.trim().is_empty() {
        return err(
            StatusCode::BAD_REQUEST,
            codes::INVALID_REQUEST,
            "request_message_id must not be empty",
        );
    }
    let Some(ws) = b.demo.workspace(req.workspace_id) else {
        return err(
            StatusCode::NOT_FOUND,
            codes::WORKSPACE_NOT_FOUND,
            "no workspace with this id",
        );
    };
    let Some((member_ws, member)) = b.demo.member(req.requested_by) else {
        return err(
            StatusCode::NOT_FOUND,
            codes::MEMBER_NOT_FOUND,
            "no member with this id",
        );
    };
    if member_ws.id != ws.id || !member.role.may_request_export() {
        return err(
            StatusCode::FORBIDDEN,
            codes::NOT_OWNER_OR_ADMIN,
            format!(
                "the requester is not an owner or admin of {} (role: {})",
                ws.name,
                if member_ws.id == ws.id {
                    member.role.as_str()
                } else {
                    "not a member"
                }
            ),
        );
    }
    let operator = headers
        .get(OPERATOR_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let id = Uuid::new_v4();
    let new = NewJob {
        id,
        workspace_id: ws.id,
        requested_by: member.id,
        request_message_id: &req.request_message_id,
        note: req.note.as_deref(),
        operator: operator.as_deref(),
        // NOTE: the address comes from the member record, never from the request.
        deliver_to: &member.email,
        now_ms: now_ms(),
    };
    match b.store.insert(key, &request_hash, &new, req.force) {
        Ok(Insert::Created) => {}
        // Lost a race with the same key: answer what won.
        Ok(Insert::Same(job)) => return (StatusCode::OK, Json(wire_job(&job))).into_response(),
        Ok(Insert::KeyConflict) => return conflict_key(),
        Ok(Insert::InProgress(live)) => return in_progress(&live, &ws.name),
        Err(e) => return internal(e),
    }
    tracing::info!(job = %id, workspace = %ws.name, operator = ?operator, "export queued");
    b.enqueue(id);
    match b.store.get(id) {
        Ok(Some(job)) => (StatusCode::ACCEPTED, Json(wire_job(&job))).into_response(),
        Ok(None) => internal(anyhow::anyhow!("job {id} vanished")),
        Err(e) => internal(e),
    }
}

fn conflict_key() -> Response {
    err(
        StatusCode::CONFLICT,
        codes::IDEMPOTENCY_CONFLICT,
        "this Idempotency-Key was already used with a different request",
    )
}

async fn list_exports(State(b): St, Query(q): Query<HashMap<String, String>>) -> Response {
    let ws = match q.get("workspace_id") {
        None => None,
        Some(s) => match parse_id(s).filter(|id| b.demo.workspace(*id).is_some()) {
            Some(id) => Some(id),
            None => {
                return err(
                    StatusCode::NOT_FOUND,
                    codes::WORKSPACE_NOT_FOUND,
                    "no workspace with this id",
                )
            }
        },
    };
    match b.store.list(ws) {
        Ok(jobs) => Json(jobs.iter().map(wire_job).collect::<Vec<_>>()).into_response(),
        Err(e) => internal(e),
    }
}

async fn get_export(State(b): St, Path(id): Path<String>) -> Response {
    let Some(id) = parse_id(&id) else {
        return err(
            StatusCode::NOT_FOUND,
            codes::JOB_NOT_FOUND,
            "no export job with this id",
        );
    };
    match b.store.get(id) {
        Ok(Some(j)) => Json(wire_job(&j)).into_response(),
        Ok(None) => err(
            StatusCode::NOT_FOUND,
            codes::JOB_NOT_FOUND,
            "no export job with this id",
        ),
        Err(e) => internal(e),
    }
}

async fn cancel_export(State(b): St, Path(id): Path<String>) -> Response {
    let Some(id) = parse_id(&id) else {
        return err(
            StatusCode::NOT_FOUND,
            codes::JOB_NOT_FOUND,
            "no export job with this id",
        );
    };
    match b.cancel(id) {
        Ok(Cancel::Cancelled(j)) => Json(wire_job(&j)).into_response(),
        Ok(Cancel::TooLate(j)) => err(
            StatusCode::CONFLICT,
            codes::NOT_CANCELLABLE,
            format!(
                "the export is {} and can no longer be cancelled",
                match j.status {
                    JobStatus::Ready => "being emailed",
                    s => s.as_str(),
                }
            ),
        ),
        Ok(Cancel::NotFound) => err(
            StatusCode::NOT_FOUND,
            codes::JOB_NOT_FOUND,
            "no export job with this id",
        ),
        Err(e) => internal(e),
    }
}

// ---- the emailed links ----

fn page(status: StatusCode, title: &str, text: &str) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\"><title>{title}</title></head>\n\
         <body style=\"font-family: sans-serif; max-width: 36em; margin: 4em auto; line-height: 1.5\">\n\
         <h1>{title}</h1>\n<p>{text}</p>\n\
         <p>Questions? Write to <a href=\"mailto:hello@ochrehq.com\">hello@ochrehq.com</a>.</p>\n\
         </body></html>\n"
    );
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        html,
    )
        .into_response()
}

fn not_valid() -> Response {
    page(
        StatusCode::NOT_FOUND,
        "This link is not valid",
        "This download link does not exist. Check that the whole link was copied from the email.",
    )
}

fn expired(expires: i64) -> Response {
    page(
        StatusCode::GONE,
        "This download link has expired",
        &format!(
            "For your security, export links work for a limited time; this one expired on {}. \
             To get your data, request a new export from Settings &rarr; Danger zone &rarr; \
             Request data export.",
            ts(expires).format("%-d %B %Y at %H:%M UTC")
        ),
    )
}

/// Checks a token: its grant and the job it belongs to, or the page to answer.
fn check_link(b: &Backend, token: &str) -> Result<(Grant, JobRow), Box<Response>> {
    let Some(grant) = b.key.verify(token) else {
        return Err(Box::new(not_valid()));
    };
    if chrono::Utc::now().timestamp() >= grant.expires() {
        return Err(Box::new(expired(grant.expires())));
    }
    let job = match b.store.get(grant.job()) {
        Ok(Some(j)) => j,
        Ok(None) => return Err(Box::new(not_valid())),
        Err(e) => return Err(Box::new(internal(e))),
    };
    let live = matches!(job.status, JobStatus::Ready | JobStatus::Emailed)
        && job.link_expires_at == Some(grant.expires());
    if !live {
        return Err(Box::new(page(
            StatusCode::NOT_FOUND,
            "This export is not available",
            "This export was cancelled or replaced. Request a new export if you still need your data.",
        )));
    }
    Ok((grant, job))
}

fn no_store_headers(h: &mut HeaderMap) {
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
}

async fn download(State(b): St, Path(token): Path<String>) -> Response {
    let (grant, job) = match check_link(&b, &token) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    if !matches!(grant, Grant::Download { .. }) {
        return not_valid();
    }
    let path = b.zip_path(job.id);
    let file = match tokio::fs::File::open(&path).await {
        Ok(f) => f,
        Err(_) => return not_valid(),
    };
    let len = match file.metadata().await {
        Ok(m) => m.len(),
        Err(e) => return internal(e.into()),
    };
    let ws_name = b
        .demo
        .workspace(job.workspace_id)
        .map(|w| slug(&w.name))
        .unwrap_or_else(|| "workspace".into());
    let day = ts_ms(job.finished_at.unwrap_or(job.created_at)).format("%Y-%m-%d");
    let stream = futures_util::stream::unfold(Some(file), |state| async move {
        use tokio::io::AsyncReadExt;
        let mut f = state?;
        let mut buf = vec![0u8; 64 * 1024];
        match f.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::io::Error>(Bytes::from(buf)), Some(f)))
            }
            Err(e) => Some((Err(e), None)),
        }
    });
    let mut r = Response::new(Body::from_stream(stream));
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/zip"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"ochre-export-{ws_name}-{day}.zip\""
    )) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    no_store_headers(h);
    r
}

async fn attachment(State(b): St, Path(token): Path<String>) -> Response {
    let (grant, job) = match check_link(&b, &token) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let Grant::Attachment { attachment, .. } = grant else {
        return not_valid();
    };
    let Some(ws) = b.demo.workspace(job.workspace_id) else {
        return not_valid();
    };
    let Some(k) = ws.large_attachments.iter().position(|l| l.id == attachment) else {
        return not_valid();
    };
    let la = &ws.large_attachments[k];
    let (size, content_type, filename) = (la.size, la.content_type, la.filename.clone());
    let ws_id = ws.id;
    let bb = b.clone();
    let stream = futures_util::stream::unfold(0u64, move |off| {
        let bb = bb.clone();
        async move {
            if off >= size {
                return None;
            }
            let n = (size - off).min(256 * 1024) as usize;
            let mut buf = vec![0u8; n];
            if let Some(ws) = bb.demo.workspace(ws_id) {
                ws.large_attachment_chunk(k, off, &mut buf);
            }
            Some((Ok::<_, std::io::Error>(Bytes::from(buf)), off + n as u64))
        }
    });
    let mut r = Response::new(Body::from_stream(stream));
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(content_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    no_store_headers(h);
    r
}

fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_the_delivery_address() {
        assert_eq!(mask_email("owner@acme.example"), "o***@acme.example");
        assert_eq!(mask_email("x"), "***");
    }

    #[test]
    fn slugs() {
        assert_eq!(slug("Acme Support"), "acme-support");
        assert_eq!(slug("Northwind  Traders!"), "northwind-traders");
    }
}

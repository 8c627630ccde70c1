//! The typed client of the export backend API v1 (reqwest with rustls).
//!
//! One method per call of `assets/openapi.yaml`, answering with the project's
//! own types. Every request carries `Authorization: Bearer …` and
//! `X-Concierge-Operator`; each has a connect and a total timeout.
//!
//! Reads and `POST /v1/exports` are retried with capped, jittered exponential
//! backoff when the backend is unreachable or answers 429/5xx.
//! NOTE: retrying `POST /v1/exports` is safe only because it always carries
//! the same Idempotency-Key, so the backend returns the job it already
//! started instead of starting a second export. `cancel` is not retried.
//!
//! The token lives in a [`Secret`] and is redacted from every message an
//! [`ApiError`] can carry (including text that came from the server).

use super::api::{self, ErrorBody, IDEMPOTENCY_HEADER, OPERATOR_HEADER};
use super::{ExportRequest, Job, Member, Workspace, WorkspaceDetails};
use crate::secret::Secret;
use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use uuid::Uuid;

/// An error the UI can branch on. No variant ever contains the API token.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 401: no token, or the wrong one.
    #[error("the export backend rejected the API token (check the backend token setting)")]
    Unauthorized,
    /// 403 `not_owner_or_admin`: the requester may not export this workspace.
    #[error("the requester is not an owner or admin of the workspace: {message}")]
    NotOwnerOrAdmin { message: String },
    /// 404: the workspace, member or job does not exist.
    #[error("not found ({code}): {message}")]
    NotFound { code: String, message: String },
    /// 409: e.g. the Idempotency-Key was used with a different request, or
    /// the job can no longer be cancelled.
    #[error("conflict ({code}): {message}")]
    Conflict { code: String, message: String },
    /// 409 `export_in_progress`: another export of the workspace is live
    /// (queued, running, ready, or emailed with a valid link). Starting one
    /// anyway needs [`BackendClient::start_export_with`] and `force`.
    #[error("another export of this workspace is live (job {job_id}): {message}")]
    ExportInProgress { job_id: Uuid, message: String },
    /// 400/422: the backend refused the request as malformed.
    #[error("the export backend refused the request ({code}): {message}")]
    BadRequest { code: String, message: String },
    /// No answer: connection refused, DNS, TLS, or a timeout (after retries).
    #[error("the export backend is unreachable: {detail}")]
    Unreachable { detail: String },
    /// Any other status (5xx after retries, or an unexpected one).
    #[error("the export backend answered {status} ({code}): {message}")]
    Server {
        status: u16,
        code: String,
        message: String,
    },
    /// A 2xx answer that is not the documented JSON.
    #[error("unexpected answer from the export backend: {detail}")]
    Protocol { detail: String },
    /// The client was set up wrongly (bad URL, plaintext HTTP to a remote host).
    #[error("backend client configuration: {detail}")]
    Config { detail: String },
}

impl ApiError {
    /// Whether trying the same call again later may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            ApiError::Unreachable { .. } => true,
            ApiError::Server { status, .. } => *status == 429 || *status >= 500,
            _ => false,
        }
    }
}

/// Capped exponential backoff with jitter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total (1 = no retry).
    pub max_attempts: u32,
    /// The first delay; doubles per attempt.
    pub base: Duration,
    /// No delay exceeds this.
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            base: Duration::from_millis(250),
            cap: Duration::from_secs(4),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// The delay before attempt `attempt + 1` (`attempt` counts from 1):
    /// "equal jitter", half fixed and half random, so that retrying clients
    /// spread out without ever retrying immediately.
    pub fn delay(&self, attempt: u32) -> Duration {
        crate::net::Backoff::new(self.base, self.cap).delay(attempt)
    }
}

/// The client. Cheap to clone (the connection pool is shared, and so is
/// the target: [`BackendClient::retarget`] moves every clone).
#[derive(Clone)]
pub struct BackendClient {
    http: reqwest::Client,
    target: Arc<RwLock<Target>>,
    operator: String,
    retry: RetryPolicy,
}

/// Where the backend is and the token it takes.
struct Target {
    base: Url,
    token: Secret,
}

impl std::fmt::Debug for BackendClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let t = self.target();
        f.debug_struct("BackendClient")
            .field("base", &t.base.as_str())
            .field("token", &t.token)
            .field("operator", &self.operator)
            .finish()
    }
}

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

impl BackendClient {
    /// A client for the backend at `base_url` (e.g. `https://exports.internal`),
    /// authenticating with `token`, naming `operator` in every request.
    ///
    /// Plain `http://` is accepted only for a loopback host, so that the
    /// token never crosses a network in clear text.
    pub fn new(base_url: &str, token: Secret, operator: &str) -> Result<Self, ApiError> {
        Self::with_timeouts(base_url, token, operator, CONNECT_TIMEOUT, REQUEST_TIMEOUT)
    }

    /// Like [`BackendClient::new`] with explicit timeouts.
    pub fn with_timeouts(
        base_url: &str,
        token: Secret,
        operator: &str,
        connect: Duration,
        request: Duration,
    ) -> Result<Self, ApiError> {
        let base = parse_base(base_url)?;
        let http = reqwest::Client::builder()
            .connect_timeout(connect)
            .timeout(request)
            .user_agent(concat!("concierge/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ApiError::Config {
                detail: format!("could not set up the HTTP client: {e}"),
            })?;
        Ok(BackendClient {
            http,
            target: Arc::new(RwLock::new(Target { base, token })),
            operator: header_safe(operator),
            retry: RetryPolicy::default(),
        })
    }

    /// Points this client and every clone of it (workers following jobs,
    /// the health check) at another backend address and token: a resumed
    /// demo's backend comes back on a new port with a new token.
    pub fn retarget(&self, base_url: &str, token: Secret) -> Result<(), ApiError> {
        let base = parse_base(base_url)?;
        *self.target.write().unwrap_or_else(|e| e.into_inner()) = Target { base, token };
        Ok(())
    }

    /// The backend's base URL (no secret in it).
    pub fn base_url(&self) -> String {
        self.target().base.to_string()
    }

    /// Whether this client sends `token`.
    pub fn takes_token(&self, token: &str) -> bool {
        self.target().token.expose() == token
    }

    fn target(&self) -> std::sync::RwLockReadGuard<'_, Target> {
        self.target.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Replaces the retry policy (tests use [`RetryPolicy::none`] or short delays).
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// `GET /v1/workspaces[?name=N]`: every workspace, or those whose name
    /// equals `name` (case-insensitive).
    pub async fn workspaces(&self, name: Option<&str>) -> Result<Vec<Workspace>, ApiError> {
        let mut url = self.url(&["v1", "workspaces"]);
        if let Some(n) = name {
            url.query_pairs_mut().append_pair("name", n);
        }
        self.call(Method::GET, url, None, None, true).await
    }

    /// The screens' health check (every 5 s): `GET /v1/workspaces?name=`,
    /// an exact name nobody has, so one small answer that still proves the
    /// token. The reference backend logs it at DEBUG, not INFO
    /// (`ochre_refbackend::server::is_health_probe`).
    pub async fn probe(&self) -> Result<(), ApiError> {
        self.workspaces(Some("")).await.map(drop)
    }

    /// `GET /v1/workspaces/{id}`: the workspace with its size.
    pub async fn workspace(&self, id: Uuid) -> Result<WorkspaceDetails, ApiError> {
        let url = self.url(&["v1", "workspaces", &id.to_string()]);
        self.call(Method::GET, url, None, None, true).await
    }

    /// `GET /v1/members?email=E`: every membership of that account email.
    pub async fn members(&self, email: &str) -> Result<Vec<Member>, ApiError> {
        let mut url = self.url(&["v1", "members"]);
        url.query_pairs_mut().append_pair("email", email);
        self.call(Method::GET, url, None, None, true).await
    }

    /// `POST /v1/exports` with `Idempotency-Key: key` (see
    /// [`super::idempotency_key`]). The same key and request always answer
    /// the same job; the same key with a different request is a
    /// [`ApiError::Conflict`]. The body is `req` as it is, `force` included.
    pub async fn start_export(&self, req: &ExportRequest, key: &str) -> Result<Job, ApiError> {
        let url = self.url(&["v1", "exports"]);
        let body = serde_json::to_vec(req).map_err(|e| ApiError::Config {
            detail: format!("could not encode the export request: {e}"),
        })?;
        self.call(Method::POST, url, Some(body), Some(key), true)
            .await
    }

    /// [`BackendClient::start_export`] with `req.force` set to `force`: the
    /// backend starts the export even though another of the same workspace
    /// is live (else that is [`ApiError::ExportInProgress`]). `force` is part
    /// of the body, so a forced retry needs a key of its own.
    pub async fn start_export_with(
        &self,
        req: &ExportRequest,
        key: &str,
        force: bool,
    ) -> Result<Job, ApiError> {
        let req = ExportRequest {
            force,
            ..req.clone()
        };
        self.start_export(&req, key).await
    }

    /// `GET /v1/exports/{id}`.
    pub async fn job(&self, id: Uuid) -> Result<Job, ApiError> {
        let url = self.url(&["v1", "exports", &id.to_string()]);
        self.call(Method::GET, url, None, None, true).await
    }

    /// `GET /v1/exports?workspace_id=W`: that workspace's jobs, newest first.
    pub async fn jobs(&self, workspace_id: Uuid) -> Result<Vec<Job>, ApiError> {
        let mut url = self.url(&["v1", "exports"]);
        url.query_pairs_mut()
            .append_pair("workspace_id", &workspace_id.to_string());
        self.call(Method::GET, url, None, None, true).await
    }

    /// `POST /v1/exports/{id}/cancel`: the job, cancelled. Not retried.
    pub async fn cancel(&self, id: Uuid) -> Result<Job, ApiError> {
        let url = self.url(&["v1", "exports", &id.to_string(), "cancel"]);
        self.call(Method::POST, url, None, None, false).await
    }

    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.target().base.clone();
        {
            let mut s = url
                .path_segments_mut()
                .expect("an http(s) URL always has path segments");
            s.pop_if_empty();
            s.extend(segments);
        }
        url
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        url: Url,
        body: Option<Vec<u8>>,
        idempotency_key: Option<&str>,
        retryable: bool,
    ) -> Result<T, ApiError> {
        let attempts = if retryable {
            self.retry.max_attempts.max(1)
        } else {
            1
        };
        let mut attempt = 1;
        loop {
            match self
                .once(method.clone(), url.clone(), body.clone(), idempotency_key)
                .await
            {
                Err(e) if e.is_transient() && attempt < attempts => {
                    tracing::debug!(%url, attempt, error = %e, "backend call failed; retrying");
                    tokio::time::sleep(self.retry.delay(attempt)).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    async fn once<T: DeserializeOwned>(
        &self,
        method: Method,
        url: Url,
        body: Option<Vec<u8>>,
        idempotency_key: Option<&str>,
    ) -> Result<T, ApiError> {
        let mut rb = self
            .http
            .request(method, url)
            .bearer_auth(self.target().token.expose())
            .header(OPERATOR_HEADER, &self.operator)
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(k) = idempotency_key {
            rb = rb.header(IDEMPOTENCY_HEADER, k);
        }
        if let Some(b) = body {
            rb = rb
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(b);
        }
        let resp = rb.send().await.map_err(|e| ApiError::Unreachable {
            detail: self.redact(&describe_transport(&e)),
        })?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| ApiError::Unreachable {
            detail: self.redact(&describe_transport(&e)),
        })?;
        if status.is_success() {
            return serde_json::from_slice(&bytes).map_err(|e| ApiError::Protocol {
                detail: self.redact(&format!(
                    "status {status}, body is not the expected JSON: {e}"
                )),
            });
        }
        Err(self.error_for(status, &bytes))
    }

    fn error_for(&self, status: StatusCode, body: &[u8]) -> ApiError {
        let (code, message, job_id) = match serde_json::from_slice::<ErrorBody>(body) {
            Ok(b) => (b.error.code, b.error.message, b.error.job_id),
            Err(_) => {
                let text = String::from_utf8_lossy(&body[..body.len().min(200)]);
                ("unknown".to_string(), text.into_owned(), None)
            }
        };
        let code = printable(&code);
        let message = self.redact(&printable(&message));
        match status.as_u16() {
            401 => ApiError::Unauthorized,
            403 if code == api::codes::NOT_OWNER_OR_ADMIN => ApiError::NotOwnerOrAdmin { message },
            404 => ApiError::NotFound { code, message },
            409 => match job_id {
                Some(job_id) if code == api::codes::EXPORT_IN_PROGRESS => {
                    ApiError::ExportInProgress { job_id, message }
                }
                _ => ApiError::Conflict { code, message },
            },
            400 | 422 => ApiError::BadRequest { code, message },
            s => ApiError::Server {
                status: s,
                code,
                message,
            },
        }
    }

    fn redact(&self, s: &str) -> String {
        redact(s, &self.target().token)
    }
}

/// `base_url` checked (https, or plain http to a loopback host only, so
/// that the token never crosses a network in clear text; no credentials
/// in it) and ending in `/`.
fn parse_base(base_url: &str) -> Result<Url, ApiError> {
    let mut base = Url::parse(base_url.trim()).map_err(|e| ApiError::Config {
        detail: format!("backend url {base_url:?} is not a URL: {e}"),
    })?;
    match base.scheme() {
        "https" => {}
        "http" if is_loopback(&base) => {}
        "http" => {
            return Err(ApiError::Config {
                detail: format!(
                    "backend url {base_url:?} uses plain http to a host that is not loopback; use https"
                ),
            })
        }
        other => {
            return Err(ApiError::Config {
                detail: format!("backend url scheme {other:?} is not http or https"),
            })
        }
    }
    if !base.username().is_empty() || base.password().is_some() {
        return Err(ApiError::Config {
            detail: "backend url must not carry credentials; the token comes from token_env".into(),
        });
    }
    if !base.path().ends_with('/') {
        let p = format!("{}/", base.path());
        base.set_path(&p);
    }
    Ok(base)
}

/// Replaces every occurrence of the token in `s`.
fn redact(s: &str, token: &Secret) -> String {
    let t = token.expose();
    if t.is_empty() {
        s.to_string()
    } else {
        s.replace(t, "***")
    }
}

/// Control characters removed: a hostile server's message must not steer the terminal.
fn printable(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).collect()
}

fn describe_transport(e: &reqwest::Error) -> String {
    use std::error::Error as _;
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    let mut out = kind.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        out.push_str(": ");
        out.push_str(&s.to_string());
        src = s.source();
    }
    // In words where the cause is a common one ("nothing is listening on
    // 127.0.0.1:8080"), not "tcp connect error: … (os error 111)".
    let said = e.url().and_then(|u| {
        let (host, port) = (u.host_str()?, u.port_or_known_default()?);
        crate::setup::words::explain(&out, host, port, "[backend] url")
    });
    said.unwrap_or(out)
}

fn is_loopback(url: &Url) -> bool {
    url.host_str().is_some_and(crate::net::is_loopback)
}

/// A header value from a display name: printable ASCII kept, anything else
/// percent-encoded (UTF-8), so "Zoë" travels as "Zo%C3%AB".
fn header_safe(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.trim().bytes() {
        if (0x20..0x7f).contains(&b) && b != b'%' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plaintext_only_to_loopback() {
        let t = Secret::new("tok");
        assert!(BackendClient::new("http://127.0.0.1:8700", t.clone(), "op").is_ok());
        assert!(BackendClient::new("http://localhost:8700/", t.clone(), "op").is_ok());
        assert!(BackendClient::new("https://exports.example", t.clone(), "op").is_ok());
        let e = BackendClient::new("http://exports.example", t.clone(), "op").unwrap_err();
        assert!(matches!(e, ApiError::Config { .. }), "{e}");
        assert!(BackendClient::new("ftp://x", t.clone(), "op").is_err());
        assert!(BackendClient::new("https://u:p@x", t, "op").is_err());
    }

    #[test]
    fn urls_join_under_a_base_path() {
        let c = BackendClient::new("https://h.example/api", Secret::new("t"), "op").unwrap();
        assert_eq!(
            c.url(&["v1", "workspaces"]).as_str(),
            "https://h.example/api/v1/workspaces"
        );
        let c = BackendClient::new("https://h.example", Secret::new("t"), "op").unwrap();
        assert_eq!(
            c.url(&["v1", "exports", "x", "cancel"]).as_str(),
            "https://h.example/v1/exports/x/cancel"
        );
    }

    #[test]
    fn errors_never_carry_the_token() {
        let c = BackendClient::new("https://h.example", Secret::new("s3cr3t-tok"), "op").unwrap();
        let e = c.error_for(
            StatusCode::INTERNAL_SERVER_ERROR,
            br#"{"error":{"code":"internal","message":"bad token s3cr3t-tok"}}"#,
        );
        assert!(!e.to_string().contains("s3cr3t-tok"), "{e}");
        assert!(!format!("{e:?}").contains("s3cr3t-tok"));
        assert!(!format!("{c:?}").contains("s3cr3t-tok"));
    }

    #[test]
    fn status_mapping() {
        let c =
            BackendClient::new("https://h.example", Secret::new("tok-0123456789"), "op").unwrap();
        let body = |code: &str| format!(r#"{{"error":{{"code":"{code}","message":"m"}}}}"#);
        assert!(matches!(
            c.error_for(StatusCode::UNAUTHORIZED, body("unauthorized").as_bytes()),
            ApiError::Unauthorized
        ));
        assert!(matches!(
            c.error_for(StatusCode::FORBIDDEN, body("not_owner_or_admin").as_bytes()),
            ApiError::NotOwnerOrAdmin { .. }
        ));
        assert!(matches!(
            c.error_for(StatusCode::NOT_FOUND, body("job_not_found").as_bytes()),
            ApiError::NotFound { .. }
        ));
        assert!(matches!(
            c.error_for(
                StatusCode::CONFLICT,
                body("idempotency_conflict").as_bytes()
            ),
            ApiError::Conflict { .. }
        ));
        let live = Uuid::new_v4();
        let e = c.error_for(
            StatusCode::CONFLICT,
            format!(
                r#"{{"error":{{"code":"export_in_progress","message":"m","job_id":"{live}"}}}}"#
            )
            .as_bytes(),
        );
        assert!(
            matches!(e, ApiError::ExportInProgress { job_id, .. } if job_id == live),
            "{e:?}"
        );
        assert!(!e.is_transient());
        let e = c.error_for(StatusCode::BAD_GATEWAY, b"<html>\x1b[31mproxy</html>");
        assert!(e.is_transient());
        assert!(!e.to_string().contains('\x1b'));
    }

    #[test]
    fn backoff_is_capped_and_jittered() {
        let p = RetryPolicy {
            max_attempts: 10,
            base: Duration::from_millis(100),
            cap: Duration::from_millis(800),
        };
        for attempt in 1..12 {
            let d = p.delay(attempt);
            assert!(d <= Duration::from_millis(800), "{d:?}");
            let full = (Duration::from_millis(100) * (1 << (attempt - 1).min(20)))
                .min(Duration::from_millis(800));
            assert!(d >= full / 2, "{d:?}");
        }
    }

    #[test]
    fn operator_header_is_safe() {
        assert_eq!(header_safe("Zoë Ops"), "Zo%C3%AB Ops");
        assert_eq!(header_safe("a\r\nb"), "a%0D%0Ab");
    }
}

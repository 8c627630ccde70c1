//! The wire types of the export backend API v1: exactly the JSON that
//! `assets/openapi.yaml` documents, shared by the client ([`super::client`])
//! and the reference server ([`crate::refbackend`]).
//!
//! NOTE: these types stop at the edge. The client converts them into the
//! project's own types ([`super::Workspace`], [`super::Job`], …) so that a
//! change of wire format touches only this file and the conversions below.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The header that names the staff member for the backend's own log.
pub const OPERATOR_HEADER: &str = "x-concierge-operator";
/// The header that makes `POST /v1/exports` safe to retry.
pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";

/// Every error answer: `{"error": {"code", "message"}}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
    /// With `export_in_progress`: the live export of the workspace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<Uuid>,
}

/// The error codes the server uses (`error.code`).
pub mod codes {
    pub const UNAUTHORIZED: &str = "unauthorized";
    pub const NOT_OWNER_OR_ADMIN: &str = "not_owner_or_admin";
    pub const NOT_FOUND: &str = "not_found";
    pub const WORKSPACE_NOT_FOUND: &str = "workspace_not_found";
    pub const MEMBER_NOT_FOUND: &str = "member_not_found";
    pub const JOB_NOT_FOUND: &str = "job_not_found";
    pub const IDEMPOTENCY_KEY_REQUIRED: &str = "idempotency_key_required";
    pub const IDEMPOTENCY_CONFLICT: &str = "idempotency_conflict";
    /// 409: another export of the workspace is live; `error.job_id` names it.
    pub const EXPORT_IN_PROGRESS: &str = "export_in_progress";
    /// 413: the request body is larger than the backend accepts.
    pub const PAYLOAD_TOO_LARGE: &str = "payload_too_large";
    pub const NOT_CANCELLABLE: &str = "not_cancellable";
    pub const INVALID_REQUEST: &str = "invalid_request";
    pub const METHOD_NOT_ALLOWED: &str = "method_not_allowed";
    pub const INTERNAL: &str = "internal";
}

/// An item of `GET /v1/workspaces`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct WireWorkspace {
    pub id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

/// `GET /v1/workspaces/{id}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct WireWorkspaceDetail {
    pub id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub size: WireSize,
}

/// The size of a workspace: the number of records of each kind in its export.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct WireSize {
    pub conversations: u64,
    /// Every record of `messages.json`: customer-visible messages and internal notes.
    pub messages: u64,
    /// How many of `messages` are internal notes.
    pub internal_notes: u64,
    pub customers: u64,
    pub articles: u64,
    pub categories: u64,
    pub routing_rules: u64,
    pub members: u64,
    /// Every attachment, included as bytes or referenced by URL.
    pub attachments: u64,
    /// The bytes of all attachments together.
    pub attachment_bytes: u64,
    /// Attachments of 50 MB or more (referenced by URL).
    pub large_attachments: u64,
}

/// An item of `GET /v1/members?email=E`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct WireMember {
    pub member_id: Uuid,
    pub workspace_id: Uuid,
    pub workspace_name: String,
    pub email: String,
    pub name: String,
    pub role: WireRole,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum WireRole {
    Owner,
    Admin,
    Agent,
}

/// The body of `POST /v1/exports`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct WireExportRequest {
    pub workspace_id: Uuid,
    /// A member id (never an email address: the backend looks the address up).
    pub requested_by: Uuid,
    pub request_message_id: String,
    #[serde(default)]
    pub note: Option<String>,
    /// Start even when another export of the workspace is live (an
    /// operator's explicit confirm). Left out when false, so a body without
    /// it hashes as before.
    #[serde(default, skip_serializing_if = "is_false")]
    pub force: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// `{job}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct WireJob {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub status: WireJobStatus,
    pub phase: Option<String>,
    pub progress: f64,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub emailed_at: Option<DateTime<Utc>>,
    /// The masked delivery address: `o***@acme.example`.
    pub deliver_to: Option<String>,
    pub link_expires_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum WireJobStatus {
    Queued,
    Running,
    Ready,
    Emailed,
    Failed,
    Cancelled,
}

impl WireJobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            WireJobStatus::Queued => "queued",
            WireJobStatus::Running => "running",
            WireJobStatus::Ready => "ready",
            WireJobStatus::Emailed => "emailed",
            WireJobStatus::Failed => "failed",
            WireJobStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "queued" => WireJobStatus::Queued,
            "running" => WireJobStatus::Running,
            "ready" => WireJobStatus::Ready,
            "emailed" => WireJobStatus::Emailed,
            "failed" => WireJobStatus::Failed,
            "cancelled" => WireJobStatus::Cancelled,
            _ => return None,
        })
    }
}

impl WireRole {
    pub fn as_str(self) -> &'static str {
        match self {
            WireRole::Owner => "owner",
            WireRole::Admin => "admin",
            WireRole::Agent => "agent",
        }
    }
}

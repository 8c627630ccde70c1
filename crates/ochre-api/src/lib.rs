//! `ochre-api`: the contract between Concierge and the export backend, used
//! by both sides (the client in `concierge::backend`, the reference server
//! in `ochre-refbackend`), so each value has ONE definition.
//!
//! - The types of API v1: each is exactly the JSON that
//!   `assets/openapi.yaml` documents AND the value the rest of the code works
//!   with ([`Workspace`], [`WorkspaceDetails`], [`WorkspaceSize`], [`Member`],
//!   [`Role`], [`ExportRequest`], [`Job`], [`JobStatus`]), the error body
//!   ([`ErrorBody`], [`codes`]) and the headers.
//! - The few rules both sides must apply the same way: [`secret`] (values
//!   that cannot be printed by accident), [`net`] (the one retry backoff and
//!   the one loopback rule), [`maildir`] (the one Maildir writer, with
//!   fsync) and [`text`] (number formatting in the screen and the emails).
//!
//! NOTE: a change here is a change of the wire format. The JSON is pinned
//! byte for byte by this crate's tests and by concierge's
//! tests/backend_contract.rs (against the OpenAPI document).

pub mod maildir;
pub mod net;
pub mod secret;
pub mod text;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
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

/// Implements `ALL`, `as_str`, `parse` and `Display` for a fieldless enum
/// from one list of (variant, word). The words are the serde names too
/// (`rename_all = "snake_case"`), and the tests check that both agree.
macro_rules! words {
    ($ty:ident { $($var:ident => $word:literal),+ $(,)? }) => {
        impl $ty {
            /// Every value, in declaration order.
            pub const ALL: &'static [$ty] = &[$($ty::$var),+];

            /// The word on disk and on the wire.
            pub fn as_str(self) -> &'static str {
                match self { $($ty::$var => $word),+ }
            }

            /// The value for a word on disk or on the wire.
            pub fn parse(s: &str) -> Option<$ty> {
                match s { $($word => Some($ty::$var),)+ _ => None }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// A workspace of the backend (an item of `GET /v1/workspaces`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Workspace {
    pub id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

/// A workspace with its size (`GET /v1/workspaces/{id}`): on the wire the
/// workspace's fields and `size` side by side.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct WorkspaceDetails {
    #[serde(flatten)]
    pub workspace: Workspace,
    pub size: WorkspaceSize,
}

/// What an export of a workspace contains: each count equals the records of
/// that kind in the export. (Concierge also keeps it in its store, as JSON.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct WorkspaceSize {
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
    /// Every attachment, small (bytes in the ZIP) or large (URL).
    pub attachments: u64,
    /// The bytes of all attachments together.
    pub attachment_bytes: u64,
    /// Attachments of 50 MB or more, referenced by URL.
    pub large_attachments: u64,
}

/// One membership of an account email in a workspace (an item of
/// `GET /v1/members?email=E`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Member {
    pub member_id: Uuid,
    pub workspace_id: Uuid,
    pub workspace_name: String,
    pub email: String,
    pub name: String,
    pub role: Role,
}

/// A member's role in a workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Owner,
    Admin,
    Agent,
}

words!(Role {
    Owner => "owner",
    Admin => "admin",
    Agent => "agent",
});

impl Role {
    /// Owners and admins may request an export; agents may not.
    pub fn may_request_export(self) -> bool {
        matches!(self, Role::Owner | Role::Admin)
    }
}

/// The body of `POST /v1/exports`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ExportRequest {
    pub workspace_id: Uuid,
    /// The requester's member id (never an email address: the backend looks
    /// up the address to email).
    pub requested_by: Uuid,
    /// The Message-ID of the customer's request email (without angle brackets).
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

/// An export job (`{job}`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Job {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub status: JobStatus,
    /// What the job is doing now (`collecting`, `writing:messages`, `emailing`, …).
    pub phase: Option<String>,
    /// 0..=1.
    pub progress: f64,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub emailed_at: Option<DateTime<Utc>>,
    /// The masked account email the link goes to: `o***@acme.example`.
    pub deliver_to: Option<String>,
    pub link_expires_at: Option<DateTime<Utc>>,
    /// The last error (while retrying, or why the job failed).
    pub error: Option<String>,
}

/// Where an export job stands: `queued → running → ready → emailed`, or
/// `failed` / `cancelled`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Queued,
    Running,
    /// The ZIP is built and the link signed; the email is not yet accepted.
    Ready,
    /// The SMTP server accepted the email with the link.
    Emailed,
    Failed,
    Cancelled,
}

words!(JobStatus {
    Queued => "queued",
    Running => "running",
    Ready => "ready",
    Emailed => "emailed",
    Failed => "failed",
    Cancelled => "cancelled",
});

impl JobStatus {
    /// No further change will happen to a job in this state.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobStatus::Emailed | JobStatus::Failed | JobStatus::Cancelled
        )
    }

    /// How far along `queued → running → ready → emailed` a job is; the
    /// terminal failures rank with `emailed` (nothing follows them). A
    /// snapshot of lower rank than the stored one, for the same job, is stale.
    pub fn rank(self) -> u8 {
        match self {
            JobStatus::Queued => 0,
            JobStatus::Running => 1,
            JobStatus::Ready => 2,
            JobStatus::Emailed | JobStatus::Failed | JobStatus::Cancelled => 3,
        }
    }
}

#[cfg(test)]
mod tests;

//! The export backend, seen from Concierge: the typed client of API v1
//! ([`client::BackendClient`]) and the project's own types it answers with.
//!
//! - [`api`]: the wire types (the JSON of `assets/openapi.yaml`), shared with
//!   the reference server in [`crate::refbackend`].
//! - [`client`]: reqwest (rustls) with timeouts, capped jittered retries for
//!   the calls that are safe to repeat, and [`ApiError`] for the UI to branch on.
//!
//! Everything above this module speaks [`Workspace`], [`WorkspaceSize`],
//! [`Member`], [`Role`], [`Job`] and [`JobStatus`]; the wire types stop here.

pub mod api;
pub mod client;

pub use client::{ApiError, BackendClient, RetryPolicy};

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// A workspace of the backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workspace {
    pub id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

/// What an export of a workspace contains: each count equals the records of
/// that kind in the export. (Also kept in the store, as JSON.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct WorkspaceSize {
    pub conversations: u64,
    /// Every record of `messages.json` (customer-visible messages and internal notes).
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
    pub attachment_bytes: u64,
    /// Attachments of 50 MB or more, referenced by URL.
    pub large_attachments: u64,
}

/// A workspace with its size (`GET /v1/workspaces/{id}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkspaceDetails {
    pub workspace: Workspace,
    pub size: WorkspaceSize,
}

/// A member's role in a workspace (words: [`crate::domain`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Owner,
    Admin,
    Agent,
}

impl Role {
    /// Owners and admins may request an export; agents may not.
    pub fn may_request_export(self) -> bool {
        matches!(self, Role::Owner | Role::Admin)
    }
}

/// One membership of an account email in a workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub member_id: Uuid,
    pub workspace_id: Uuid,
    pub workspace_name: String,
    pub email: String,
    pub name: String,
    pub role: Role,
}

/// Where an export job stands: `queued → running → ready → emailed`, or
/// `failed` / `cancelled` (words: [`crate::domain`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
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

impl JobStatus {
    /// No further change will happen to a job in this state.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobStatus::Emailed | JobStatus::Failed | JobStatus::Cancelled
        )
    }
}

/// An export job.
#[derive(Debug, Clone, PartialEq)]
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
    /// The masked account email the link goes to (`o***@acme.example`).
    pub deliver_to: Option<String>,
    pub link_expires_at: Option<DateTime<Utc>>,
    /// The last error (while retrying, or why the job failed).
    pub error: Option<String>,
}

/// What `POST /v1/exports` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportRequest {
    pub workspace_id: Uuid,
    /// The requester's member id; the backend looks up the address to email.
    pub requested_by: Uuid,
    /// The Message-ID of the customer's request email (without angle brackets).
    pub request_message_id: String,
    pub note: Option<String>,
}

/// The Idempotency-Key for starting the export of `workspace_id` asked for by
/// the email `request_message_id`: the same request always gives the same key,
/// so retries, two staff members or a restart never start a second export.
///
/// It is the SHA-256 (hex) of a versioned, newline-separated string of the
/// Message-ID (angle brackets and surrounding whitespace removed) and the
/// workspace id.
pub fn idempotency_key(request_message_id: &str, workspace_id: Uuid) -> String {
    let mid = request_message_id.trim();
    let mid = mid.strip_prefix('<').unwrap_or(mid);
    let mid = mid.strip_suffix('>').unwrap_or(mid);
    let mut h = Sha256::new();
    h.update(b"concierge-export-v1\n");
    h.update(mid.as_bytes());
    h.update(b"\n");
    h.update(workspace_id.hyphenated().to_string().as_bytes());
    hex::encode(h.finalize())
}

// ---- conversions at the edge ----

impl From<api::WireRole> for Role {
    fn from(r: api::WireRole) -> Self {
        match r {
            api::WireRole::Owner => Role::Owner,
            api::WireRole::Admin => Role::Admin,
            api::WireRole::Agent => Role::Agent,
        }
    }
}

impl From<Role> for api::WireRole {
    fn from(r: Role) -> Self {
        match r {
            Role::Owner => api::WireRole::Owner,
            Role::Admin => api::WireRole::Admin,
            Role::Agent => api::WireRole::Agent,
        }
    }
}

impl From<api::WireJobStatus> for JobStatus {
    fn from(s: api::WireJobStatus) -> Self {
        match s {
            api::WireJobStatus::Queued => JobStatus::Queued,
            api::WireJobStatus::Running => JobStatus::Running,
            api::WireJobStatus::Ready => JobStatus::Ready,
            api::WireJobStatus::Emailed => JobStatus::Emailed,
            api::WireJobStatus::Failed => JobStatus::Failed,
            api::WireJobStatus::Cancelled => JobStatus::Cancelled,
        }
    }
}

impl From<JobStatus> for api::WireJobStatus {
    fn from(s: JobStatus) -> Self {
        match s {
            JobStatus::Queued => api::WireJobStatus::Queued,
            JobStatus::Running => api::WireJobStatus::Running,
            JobStatus::Ready => api::WireJobStatus::Ready,
            JobStatus::Emailed => api::WireJobStatus::Emailed,
            JobStatus::Failed => api::WireJobStatus::Failed,
            JobStatus::Cancelled => api::WireJobStatus::Cancelled,
        }
    }
}

impl WorkspaceSize {
    /// The figures the turnaround estimate needs.
    pub fn for_estimate(&self) -> crate::estimate::Size {
        crate::estimate::Size {
            messages: self.messages,
            customers: self.customers,
            attachment_bytes: self.attachment_bytes,
            large_attachments: self.large_attachments,
        }
    }
}

impl From<api::WireSize> for WorkspaceSize {
    fn from(s: api::WireSize) -> Self {
        WorkspaceSize {
            conversations: s.conversations,
            messages: s.messages,
            internal_notes: s.internal_notes,
            customers: s.customers,
            articles: s.articles,
            categories: s.categories,
            routing_rules: s.routing_rules,
            members: s.members,
            attachments: s.attachments,
            attachment_bytes: s.attachment_bytes,
            large_attachments: s.large_attachments,
        }
    }
}

impl From<WorkspaceSize> for api::WireSize {
    fn from(s: WorkspaceSize) -> Self {
        api::WireSize {
            conversations: s.conversations,
            messages: s.messages,
            internal_notes: s.internal_notes,
            customers: s.customers,
            articles: s.articles,
            categories: s.categories,
            routing_rules: s.routing_rules,
            members: s.members,
            attachments: s.attachments,
            attachment_bytes: s.attachment_bytes,
            large_attachments: s.large_attachments,
        }
    }
}

impl From<api::WireWorkspace> for Workspace {
    fn from(w: api::WireWorkspace) -> Self {
        Workspace {
            id: w.id,
            name: w.name,
            created_at: w.created_at,
        }
    }
}

impl From<api::WireWorkspaceDetail> for WorkspaceDetails {
    fn from(w: api::WireWorkspaceDetail) -> Self {
        WorkspaceDetails {
            workspace: Workspace {
                id: w.id,
                name: w.name,
                created_at: w.created_at,
            },
            size: w.size.into(),
        }
    }
}

impl From<api::WireMember> for Member {
    fn from(m: api::WireMember) -> Self {
        Member {
            member_id: m.member_id,
            workspace_id: m.workspace_id,
            workspace_name: m.workspace_name,
            email: m.email,
            name: m.name,
            role: m.role.into(),
        }
    }
}

impl From<api::WireJob> for Job {
    fn from(j: api::WireJob) -> Self {
        Job {
            id: j.id,
            workspace_id: j.workspace_id,
            status: j.status.into(),
            phase: j.phase,
            progress: j.progress,
            created_at: j.created_at,
            started_at: j.started_at,
            finished_at: j.finished_at,
            emailed_at: j.emailed_at,
            deliver_to: j.deliver_to,
            link_expires_at: j.link_expires_at,
            error: j.error,
        }
    }
}

impl From<&ExportRequest> for api::WireExportRequest {
    fn from(r: &ExportRequest) -> Self {
        api::WireExportRequest {
            workspace_id: r.workspace_id,
            requested_by: r.requested_by,
            request_message_id: r.request_message_id.clone(),
            note: r.note.clone(),
            force: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idempotency_key_is_stable_and_ignores_brackets() {
        let ws = Uuid::parse_str("6f1c1a52-52a8-5bb0-9d62-2d4f6a1b0c11").unwrap();
        let a = idempotency_key("req-0001@acme.example", ws);
        let b = idempotency_key(" <req-0001@acme.example> ", ws);
        assert_eq!(a, b);
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, idempotency_key("req-0002@acme.example", ws));
        assert_ne!(a, idempotency_key("req-0001@acme.example", Uuid::nil()));
    }

    #[test]
    fn only_owners_and_admins_may_request() {
        assert!(Role::Owner.may_request_export());
        assert!(Role::Admin.may_request_export());
        assert!(!Role::Agent.may_request_export());
    }

    #[test]
    fn terminal_states() {
        for s in [JobStatus::Emailed, JobStatus::Failed, JobStatus::Cancelled] {
            assert!(s.is_terminal());
        }
        for s in [JobStatus::Queued, JobStatus::Running, JobStatus::Ready] {
            assert!(!s.is_terminal());
        }
    }
}

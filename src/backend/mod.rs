//! The export backend, seen from Concierge: the typed client of API v1
//! ([`client::BackendClient`]) and the types it answers with.
//!
//! - [`api`]: the `ochre-api` crate, re-exported: the types of API v1, each
//!   exactly the JSON of `assets/openapi.yaml` and the value the rest of
//!   Concierge works with, defined once for this client and the reference
//!   server in [`crate::refbackend`].
//! - [`client`]: reqwest (rustls) with timeouts, capped jittered retries for
//!   the calls that are safe to repeat, and [`ApiError`] for the UI to branch on.
//!
//! Everything above this module speaks [`Workspace`], [`WorkspaceSize`],
//! [`Member`], [`Role`], [`Job`] and [`JobStatus`] (words: [`crate::domain`]).

pub use ochre_api as api;
pub mod client;

pub use client::{ApiError, BackendClient, RetryPolicy};
pub use ochre_api::{
    ExportRequest, Job, JobStatus, Member, Role, Workspace, WorkspaceDetails, WorkspaceSize,
};

use sha2::{Digest, Sha256};
use uuid::Uuid;

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

/// The figures the turnaround estimate needs.
impl From<WorkspaceSize> for crate::estimate::Size {
    fn from(s: WorkspaceSize) -> Self {
        crate::estimate::Size {
            messages: s.messages,
            customers: s.customers,
            attachment_bytes: s.attachment_bytes,
            large_attachments: s.large_attachments,
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
}

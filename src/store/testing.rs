//! Fixtures for the store's tests, one set for the unit tests in
//! `src/store/` and the integration tests on both engines
//! (tests/store_engines.rs): a mail as the poller stores it, a stored
//! request, a resolved owner, a job as the backend reports it.
//!
//! Compiled for tests only: `cfg(test)` here, and the `test-support`
//! feature that crates/test-support (the tests' dev-dependency) turns on;
//! never into the shipped binary.

use super::requests::{JobSnap, Membership, Resolution, SizeSnap};
use super::{Store, Stored};
use crate::domain::JobStatus;
use crate::intake::{inspect, Inspected, Options};

/// One mail as the poller hands it to `Store::store_batch`: inspected,
/// its store key, no Maildir name.
pub fn mail(raw: &str) -> (Inspected, String, Option<String>) {
    let i = inspect(raw.as_bytes(), &Options::default());
    let key = i.store_key(raw.as_bytes());
    (i, key, None)
}

/// Stores a pre-filled export request from `from` (a From header's value:
/// `owner@acme.example` or `Ada <owner@acme.example>`) with the Message-ID
/// `<rN@acme.example>`, and answers its id. Panics unless it is new.
pub fn request(s: &mut Store, n: u32, from: &str) -> i64 {
    let raw = format!("From: {from}\r\nMessage-ID: <r{n}@acme.example>\r\nSubject: Data export request: Acme\r\n\r\nhi\r\n");
    match s.store_batch("INBOX", &[mail(&raw)], None).unwrap()[0] {
        Stored::NewRequest(id) => id,
        ref other => panic!("{other:?}"),
    }
}

/// A job the backend reports as `status` (its wire word: "running",
/// "emailed", …), half done, with no times.
pub fn job(id: &str, status: &str) -> JobSnap {
    JobSnap {
        id: id.into(),
        status: JobStatus::parse(status).unwrap(),
        phase: None,
        progress: 0.5,
        created_at: None,
        finished_at: None,
        emailed_at: None,
        deliver_to: None,
        link_expires_at: None,
        error: None,
    }
}

/// What the backend's lookup leaves on a request from
/// `owner4@acme.example`: the owner (member `m-4`) of "Acme" (`ws-4`),
/// 12,000 messages and 40 customers.
pub fn owner4_resolution() -> Resolution {
    Resolution {
        account_email: "owner4@acme.example".into(),
        memberships: vec![Membership {
            member_id: "m-4".into(),
            workspace_id: "ws-4".into(),
            workspace_name: "Acme".into(),
            email: "owner4@acme.example".into(),
            role: crate::domain::Role::Owner,
        }],
        workspace: Some(("ws-4".into(), "Acme".into())),
        size: Some(SizeSnap {
            messages: 12_000,
            customers: 40,
            ..SizeSnap::default()
        }),
    }
}

//! The project's own values for what a request, a job, a member and a reply
//! can be, with the one table of which action is legal in which state.
//!
//! Each enum is written to SQLite and JSON as the same lowercase word the
//! store has always held (`new`, `running`, `owner`, `sent`, …), so existing
//! stores, the audit log and other modules' SQL keep working unchanged; the
//! words appear only in [`as_str`](RequestState::as_str) and the parsers
//! here. Everything above the store compares enums, never strings.
//!
//! Store refusals are a typed [`StoreError`] (carried inside `anyhow`), so
//! the screen and the command line can tell "someone else changed it" or
//! "not in this state" from a failing disk.

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use serde::{Deserialize, Serialize};
use std::fmt;

pub use crate::backend::{JobStatus, Role};

/// Implements `as_str`, `parse`, `Display`, `ToSql` and `FromSql` for a
/// fieldless enum from one list of (variant, word) pairs, and the store's
/// conversions (`db_words!`).
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

        impl ToSql for $ty {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                Ok(ToSqlOutput::from(self.as_str()))
            }
        }

        impl FromSql for $ty {
            fn column_result(v: ValueRef<'_>) -> FromSqlResult<Self> {
                let s = v.as_str()?;
                $ty::parse(s).ok_or_else(|| {
                    FromSqlError::Other(format!("unknown {} {s:?}", stringify!($ty)).into())
                })
            }
        }

        db_words!($ty);
    };
}

/// The store's conversions ([`crate::store::db`], both engines) for an enum
/// with `as_str` and `parse`: also for `ochre-api`'s [`Role`] and
/// [`JobStatus`], whose words are defined there.
macro_rules! db_words {
    ($ty:ident) => {
        impl $crate::store::db::ToValue for $ty {
            fn to_value(&self) -> $crate::store::db::Value {
                $crate::store::db::Value::Text(self.as_str().to_string())
            }
        }

        impl $crate::store::db::FromValue for $ty {
            fn from_value(v: $crate::store::db::ValueRef<'_>) -> Result<Self, String> {
                match v {
                    $crate::store::db::ValueRef::Text(s) => {
                        $ty::parse(s).ok_or_else(|| format!("unknown {} {s:?}", stringify!($ty)))
                    }
                    _ => Err(format!("expected a {} word", stringify!($ty))),
                }
            }
        }
    };
}

/// Where a request stands in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestState {
    /// Arrived; nothing sent yet.
    New,
    /// A reply was sent; waiting on the customer or on the checklist.
    Waiting,
    /// Approved, the idempotency key stored; the export is not confirmed started.
    Approved,
    /// The backend has a job for it that is not finished.
    Running,
    /// The link was emailed.
    Done,
    /// The export failed, was cancelled, or could not be started.
    Failed,
    Rejected,
}

words!(RequestState {
    New => "new",
    Waiting => "waiting",
    Approved => "approved",
    Running => "running",
    Done => "done",
    Failed => "failed",
    Rejected => "rejected",
});

/// What staff (or a worker acting for them) can do to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Change who or what would be exported: workspace, account email, the
    /// backend's resolution.
    EditTarget,
    Approve,
    Reject,
    /// Record the job the backend reports (start answer or a poll).
    RecordJob,
    /// Ask the backend to cancel the running export.
    Cancel,
    /// Start a failed export again.
    Retry,
    /// Send an acknowledgement ("we are preparing your export").
    Acknowledge,
}

impl Action {
    /// The verb a refusal names: "it cannot be {verb}".
    pub fn verb(self) -> &'static str {
        match self {
            Action::EditTarget => "changed",
            Action::Approve => "approved",
            Action::Reject => "rejected",
            Action::RecordJob => "given a job",
            Action::Cancel => "cancelled",
            Action::Retry => "retried",
            Action::Acknowledge => "acknowledged",
        }
    }
}

impl RequestState {
    /// Not decided yet: staff may still approve, reject, or change the target.
    pub fn is_open(self) -> bool {
        matches!(self, RequestState::New | RequestState::Waiting)
    }

    /// An export is started or being followed.
    pub fn is_in_flight(self) -> bool {
        matches!(self, RequestState::Approved | RequestState::Running)
    }

    /// THE transition table: whether `action` is legal in this state. The
    /// store checks it inside its transactions and the screen before it
    /// offers the action, so both refuse the same things.
    pub fn allows(self, action: Action) -> bool {
        use Action as A;
        use RequestState as S;
        match action {
            A::EditTarget | A::Approve | A::Reject | A::Acknowledge => self.is_open(),
            // A retry moves `failed` back to `approved`; the job then arrives.
            A::RecordJob => matches!(self, S::Approved | S::Running | S::Failed),
            A::Cancel => self.is_in_flight(),
            A::Retry => self == S::Failed,
        }
    }

    /// The state a job of this status puts the request in.
    pub fn for_job(status: JobStatus) -> RequestState {
        match status {
            JobStatus::Emailed => RequestState::Done,
            JobStatus::Failed | JobStatus::Cancelled => RequestState::Failed,
            JobStatus::Queued | JobStatus::Running | JobStatus::Ready => RequestState::Running,
        }
    }

    /// `Ok` when `action` is legal, else the typed refusal.
    pub fn check(self, id: i64, action: Action) -> Result<(), StoreError> {
        if self.allows(action) {
            Ok(())
        } else {
            Err(StoreError::IllegalTransition {
                id,
                state: self,
                action,
            })
        }
    }
}

// The words of roles and job statuses are `ochre-api`'s (`Role::as_str`,
// `JobStatus::parse`, also `JobStatus::rank`), shared with the backend.
db_words!(Role);
db_words!(JobStatus);

/// Where a reply of record stands (see [`crate::store::replies`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplyState {
    /// Written to the store; the SMTP outcome is not known (yet).
    Sending,
    /// The SMTP server accepted it.
    Sent,
    /// The SMTP server refused it, or it never reached one: safe to retry.
    Failed,
}

words!(ReplyState {
    Sending => "sending",
    Sent => "sent",
    Failed => "failed",
});

/// An RFC 8601 §2.7 result word, as the trusted `Authentication-Results`
/// reported it (`none` when there was none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthResult {
    Pass,
    Fail,
    Softfail,
    Neutral,
    None,
    Temperror,
    Permerror,
    Policy,
}

words!(AuthResult {
    Pass => "pass",
    Fail => "fail",
    Softfail => "softfail",
    Neutral => "neutral",
    None => "none",
    Temperror => "temperror",
    Permerror => "permerror",
    Policy => "policy",
});

impl AuthResult {
    /// The result for a word from intake; an unknown word counts as `none`
    /// (RFC 8601 §2.7: an unknown result is not a pass).
    pub fn of(word: &str) -> AuthResult {
        AuthResult::parse(word).unwrap_or(AuthResult::None)
    }
}

/// The request's checklist that gates approval, items 1 to 5 in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    WorkspaceIdentified,
    OwnerOrAdmin,
    SenderAuthenticated,
    SpecificEstimateSent,
    ScopeNoteWritten,
}

impl Check {
    pub const ALL: [Check; 5] = [
        Check::WorkspaceIdentified,
        Check::OwnerOrAdmin,
        Check::SenderAuthenticated,
        Check::SpecificEstimateSent,
        Check::ScopeNoteWritten,
    ];

    /// Whether a typed reason may stand in for this item. Items 1, 2 and 4
    /// never: the backend needs a workspace and an owner/admin, and the help
    /// article promises the specific estimate. 3 and 5 may.
    pub fn overridable(self) -> bool {
        matches!(self, Check::SenderAuthenticated | Check::ScopeNoteWritten)
    }

    pub fn label(self) -> &'static str {
        match self {
            Check::WorkspaceIdentified => "Workspace identified",
            Check::OwnerOrAdmin => "Requester is an owner or admin",
            Check::SenderAuthenticated => "Sender authenticated (DMARC pass)",
            Check::SpecificEstimateSent => "Specific estimate sent (over 48 h)",
            Check::ScopeNoteWritten => "Scope-confirmation note written",
        }
    }
}

/// Why the store refused a change. Carried inside `anyhow::Error`; callers
/// that branch use `err.downcast_ref::<StoreError>()`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("no {what} {id} in the store")]
    NotFound { what: &'static str, id: i64 },
    #[error("request {id} is {state}; it cannot be {} now", action.verb())]
    IllegalTransition {
        id: i64,
        state: RequestState,
        action: Action,
    },
    /// Someone else (another operator, a racing retry, a newer snapshot)
    /// changed it first.
    #[error("{0}")]
    Conflict(String),
    /// The collision stop: the request changed after the operator read it
    /// (version `seen`, now `now`); `changes` says what happened since.
    /// Nothing was recorded, sent or started.
    #[error("{}", stale_text(*id, changes, chrono::Utc::now()))]
    Stale {
        id: i64,
        seen: i64,
        now: i64,
        changes: Vec<Changed>,
    },
}

/// One change to a request, from its change log: who did what, when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changed {
    pub version: i64,
    pub at: chrono::DateTime<chrono::Utc>,
    /// A display name ("Kim"), or "the customer".
    pub who: String,
    /// Already sanitized, one line ("sent the acknowledgement").
    pub what: String,
}

impl Changed {
    /// "Kim sent the acknowledgement 2 min ago".
    pub fn describe(&self, now: chrono::DateTime<chrono::Utc>) -> String {
        let ago = ago(now.signed_duration_since(self.at));
        format!("{} {} {ago}", self.who, self.what)
            .trim_end()
            .to_string()
    }
}

/// "just now", "2 min ago", "3 h ago", "4 days ago".
fn ago(d: chrono::Duration) -> String {
    match d.num_seconds() {
        s if s < 60 => "just now".into(),
        s if s < 3600 => format!("{} min ago", s / 60),
        s if s < 86_400 => format!("{} h ago", s / 3600),
        s => format!("{} days ago", s / 86_400),
    }
}

/// The collision stop's message: what changed, and the way forward.
pub fn stale_text(id: i64, changes: &[Changed], now: chrono::DateTime<chrono::Utc>) -> String {
    // The newest few say enough (a long list would not fit the status
    // bar), told in the order they happened.
    const SHOWN: usize = 3;
    let changes = merge_job_progress(changes);
    let skipped = changes.len().saturating_sub(SHOWN);
    let mut said: Vec<String> = Vec::new();
    match skipped {
        0 => {}
        1 => said.push("1 earlier change".into()),
        n => said.push(format!("{n} earlier changes")),
    }
    said.extend(changes[skipped..].iter().map(|c| c.describe(now)));
    let what = if said.is_empty() {
        String::new()
    } else {
        format!(": {}", said.join("; "))
    };
    format!("request {id} changed since you read it{what}. Nothing was sent or started: review it and redo")
}

/// A job's steps in a row, followed by one screen, told as one change
/// ("saw the export become queued, then running, then emailed"): in the
/// demo the three steps filled the status line and pushed "approved it"
/// out of it.
fn merge_job_progress(changes: &[Changed]) -> Vec<Changed> {
    const JOB: &str = "saw the export become ";
    let mut merged: Vec<Changed> = Vec::new();
    for c in changes {
        if let (Some(last), Some(status)) = (merged.last_mut(), c.what.strip_prefix(JOB)) {
            if last.who == c.who && last.what.starts_with(JOB) {
                last.what.push_str(", then ");
                last.what.push_str(status);
                last.at = c.at;
                last.version = c.version;
                continue;
            }
        }
        merged.push(c.clone());
    }
    merged
}

impl StoreError {
    /// The refusal inside an `anyhow::Error`, if it is one.
    pub fn of(e: &anyhow::Error) -> Option<&StoreError> {
        e.downcast_ref::<StoreError>()
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn the_collision_stop_tells_the_newest_changes_in_the_order_they_happened() {
        let now = chrono::Utc::now();
        let change = |version: i64, what: &str| Changed {
            version,
            at: now,
            who: "Kim".into(),
            what: what.into(),
        };
        let three = [
            change(2, "approved it"),
            change(3, "saw the export become queued"),
            change(4, "saw the export become running"),
        ];
        let text = stale_text(2, &three, now);
        assert!(
            text.contains(": Kim approved it just now; Kim saw the export become queued, then running just now."),
            "{text}"
        );
        let mut five = vec![
            change(1, "sent the acknowledgement"),
            change(2, "claimed it"),
        ];
        five.extend(three.iter().map(|c| Changed {
            version: c.version + 2,
            ..c.clone()
        }));
        let text = stale_text(2, &five, now);
        assert!(
            text.contains(": 1 earlier change; Kim claimed it just now; Kim approved it just now;"),
            "{text}"
        );
        let mut six = five.clone();
        six.insert(0, change(0, "linked the workspace Acme"));
        let text = stale_text(2, &six, now);
        assert!(text.contains(": 2 earlier changes; Kim claimed"), "{text}");
    }

    use super::*;

    #[test]
    fn every_word_round_trips_through_sqlite_and_json() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        for &s in RequestState::ALL {
            let back: RequestState = conn.query_row("SELECT ?1", [s], |r| r.get(0)).unwrap();
            assert_eq!(back, s);
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{s}\""));
        }
        for &s in JobStatus::ALL {
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{s}\""));
            assert_eq!(JobStatus::parse(s.as_str()), Some(s));
        }
        for &r in Role::ALL {
            assert_eq!(
                serde_json::from_str::<Role>(&format!("\"{r}\"")).unwrap(),
                r
            );
        }
        let bad: rusqlite::Result<RequestState> =
            conn.query_row("SELECT 'exploded'", [], |r| r.get(0));
        assert!(bad.is_err(), "an unknown word is an error, not a default");
    }

    #[test]
    fn only_open_requests_can_be_decided_or_acknowledged() {
        for &s in RequestState::ALL {
            let open = matches!(s, RequestState::New | RequestState::Waiting);
            for a in [
                Action::Approve,
                Action::Reject,
                Action::EditTarget,
                Action::Acknowledge,
            ] {
                assert_eq!(s.allows(a), open, "{s} {a:?}");
            }
        }
    }

    #[test]
    fn only_failed_requests_are_retried_and_only_live_ones_cancelled() {
        for &s in RequestState::ALL {
            assert_eq!(s.allows(Action::Retry), s == RequestState::Failed, "{s}");
            assert_eq!(
                s.allows(Action::Cancel),
                matches!(s, RequestState::Approved | RequestState::Running),
                "{s}"
            );
        }
        let e = RequestState::Done.check(3, Action::Retry).unwrap_err();
        assert_eq!(e.to_string(), "request 3 is done; it cannot be retried now");
    }

    #[test]
    fn a_job_ranks_forward_and_unknown_auth_words_are_no_pass() {
        assert!(JobStatus::Queued.rank() < JobStatus::Running.rank());
        assert!(JobStatus::Running.rank() < JobStatus::Emailed.rank());
        assert_eq!(AuthResult::of("PASS\u{1b}"), AuthResult::None);
        assert_eq!(AuthResult::of("pass"), AuthResult::Pass);
    }
}

//! What happens ([`Msg`]) and what to do about it ([`Command`]).
//!
//! Workers and the terminal send `Msg`s; [`super::update::update`] turns
//! each into state changes and `Command`s; the runtime ([`super::app`])
//! carries the commands out (store writes first, then the network) and
//! reports back with more `Msg`s.

use super::state::{Health, OutboxMail};
use crate::mail::templates::Template;
use crate::store::requests::{JobSnap, RequestView, Resolution};
use chrono::{DateTime, Utc};
use crossterm::event::KeyEvent;

// NOTE: messages are moved once through a channel; boxing the big ones buys nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Msg {
    Key(KeyEvent),
    /// Pasted text (bracketed paste).
    Paste(String),
    Resize,
    /// The clock moved (only sent while something on screen depends on it).
    Tick(DateTime<Utc>),
    /// The store's fresh copy of a request after a change.
    RequestUpdated(RequestView),
    /// New requests (or threads that grew) from the inbox.
    Requests(Vec<RequestView>),
    Inbox(Health),
    Backend(Health),
    /// A screen joined to the demo follows the host's demo, `--resume`d:
    /// its backend answers again at this address (never the token).
    DemoResumed {
        at: String,
    },
    /// The team store's connection (the heartbeat's): `Down` while the
    /// server cannot be reached, `Up` once it answers again.
    Store(Health),
    /// The backend's answer about a request's requester and workspace.
    Resolved {
        id: i64,
        result: Result<Resolution, String>,
    },
    /// A template rendered for a request, ready to edit.
    ReplyComposed {
        id: i64,
        template: Template,
        body: String,
    },
    /// A rejection's reply rendered, to be read (and edited) before sending.
    RejectionComposed {
        id: i64,
        template: Template,
        reason: String,
        body: String,
    },
    /// The job's latest state from the backend.
    Job {
        id: i64,
        job: JobSnap,
    },
    /// An operation finished.
    Done {
        id: i64,
        what: String,
    },
    /// The collision stop: the request changed since the operator read it;
    /// nothing was recorded, sent or started. `text` says what changed.
    Stale {
        id: i64,
        what: String,
        text: String,
    },
    /// An operation failed; nothing was lost, it can be tried again.
    Failed {
        id: i64,
        what: String,
        error: String,
    },
    /// `$EDITOR` returned this text.
    Edited(String),
    /// `$EDITOR` could not run or failed; the text is kept as it was.
    EditorFailed(String),
    Outbox(Vec<OutboxMail>),
    /// A request's thread from the store.
    Thread {
        id: i64,
        messages: Vec<crate::store::requests::ThreadMessage>,
    },
    /// The stats screen's figures for the last `days` days.
    Stats {
        days: u32,
        result: Result<crate::stats::Figures, String>,
    },
    /// Changes committed to the store (by any screen or process), oldest
    /// first, from the change feed.
    Changed(Vec<crate::store::changes::Change>),
    /// The other screens' presence entries, as the store has them now.
    Presence(Vec<crate::store::presence::Presence>),
    /// Operators' display names (id → name), read from the store when the
    /// change feed names an operator this screen has not seen yet.
    Operators(std::collections::HashMap<String, String>),
    /// Whether this screen holds the inbox poller's lease, when that
    /// changes: its holder looks up the requests nobody has looked up yet.
    Lease {
        mine: bool,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Ask the backend about the requester (memberships) and the workspace.
    Resolve {
        id: i64,
    },
    SaveResolution {
        id: i64,
        resolution: Resolution,
    },
    SetAccountEmail {
        id: i64,
        email: String,
        /// The request version the operator saw (the collision stop).
        seen: Option<i64>,
    },
    ChooseWorkspace {
        id: i64,
        workspace_id: String,
        workspace_name: String,
        /// The request version the operator saw (the collision stop).
        seen: Option<i64>,
    },
    AddNote {
        id: i64,
        text: String,
    },
    OverrideAuth {
        id: i64,
        reason: String,
        /// The request version the operator saw (the collision stop).
        seen: Option<i64>,
    },
    ComposeReply {
        id: i64,
        template: Template,
    },
    SendReply {
        id: i64,
        template: Template,
        body: String,
        /// The operator confirmed sending a template the request already got.
        again: bool,
        /// The request version the operator saw (the collision stop).
        seen: Option<i64>,
    },
    ComposeRejection {
        id: i64,
        template: Template,
        reason: String,
    },
    Reject {
        id: i64,
        template: Template,
        reason: String,
        body: String,
        /// The request version the operator saw (the collision stop).
        seen: Option<i64>,
    },
    Approve {
        id: i64,
        override_reason: Option<String>,
        unmet: Vec<crate::domain::Check>,
        /// The request version the operator saw (the collision stop).
        seen: Option<i64>,
        /// The operator confirmed a second export of the workspace.
        force: bool,
    },
    SaveJob {
        id: i64,
        job: JobSnap,
    },
    CancelJob {
        id: i64,
        /// The request version the operator saw (the collision stop).
        seen: Option<i64>,
    },
    RetryJob {
        id: i64,
        /// The request version the operator saw (the collision stop).
        seen: Option<i64>,
    },
    /// Take request `id` for this operator; `holder_seen` is who held it on
    /// screen (a take-over was confirmed against that holder).
    Claim {
        id: i64,
        holder_seen: Option<String>,
    },
    /// Give request `id` back.
    Release {
        id: i64,
    },
    /// Open the text in `$EDITOR`.
    Edit(String),
    LoadOutbox,
    /// Read a request's thread (for the detail pane).
    LoadThread {
        id: i64,
    },
    /// The operator opened the request: its follow-ups so far are read.
    MarkSeen {
        id: i64,
    },
    /// Read the stats screen's figures for the last `days` days.
    LoadStats {
        days: u32,
    },
    /// Read these requests again from the store (another screen changed them).
    Reload {
        ids: Vec<i64>,
    },
    /// Read the other screens' presence entries again.
    LoadPresence,
    /// File (over IMAP) this operator's sent replies still to file: the
    /// inbox is back after an outage.
    FilePending,
}

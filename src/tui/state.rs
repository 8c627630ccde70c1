//! Everything the screen shows, as plain values: [`State`] is changed only
//! by [`super::update::update`] and drawn only by [`super::ui::render`].

use crate::domain::{AuthResult, JobStatus, ReplyState, RequestState};
use crate::estimate::{Estimate, Rates};
use crate::mail::templates::Template;
use crate::store::requests::RequestView;
use chrono::{DateTime, Utc};
use ratatui_textarea::TextArea;

/// Queue tabs, in display order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    All,
    New,
    Waiting,
    Ready,
    Running,
    Done,
    Rejected,
    /// The requests this operator holds (claims), whatever their state.
    /// Last, so the digits of the state tabs stay where they were.
    Mine,
}

impl Tab {
    pub const ALL: [Tab; 8] = [
        Tab::All,
        Tab::New,
        Tab::Waiting,
        Tab::Ready,
        Tab::Running,
        Tab::Done,
        Tab::Rejected,
        Tab::Mine,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Tab::All => "All",
            Tab::New => "New",
            Tab::Waiting => "Waiting",
            Tab::Ready => "Ready",
            Tab::Running => "Running",
            Tab::Done => "Done",
            Tab::Rejected => "Rejected",
            Tab::Mine => "Mine",
        }
    }
}

pub use crate::domain::Check;

/// A template as staff read it ("estimate over 48h"), never its internal id.
pub fn spoken(t: Template) -> String {
    t.file_stem().replace('_', " ")
}

/// One checklist item's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckState {
    Met,
    /// Met by an override with this typed reason.
    Overridden(String),
    /// Does not apply (e.g. the estimate is under 48 hours).
    NotNeeded,
    /// Not met, with why.
    Unmet(String),
}

impl CheckState {
    pub fn is_ok(&self) -> bool {
        !matches!(self, CheckState::Unmet(_))
    }
}

/// A request plus what the screen derives from it.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub req: RequestView,
    pub estimate: Option<Estimate>,
    /// When the promise falls due (from `estimate`).
    pub due: Option<DateTime<Utc>>,
    /// The state tab it belongs to (besides All and Mine), derived from the
    /// state and checklist.
    pub tab: Tab,
    /// Whether a backend lookup for it is in flight.
    pub resolving: bool,
    /// The last lookup failed (backend down): it is tried again on the
    /// next tick, so the queue catches up when the backend returns.
    pub lookup_failed: bool,
}

impl Row {
    pub fn new(req: RequestView, rates: &Rates) -> Row {
        let mut row = Row {
            req,
            estimate: None,
            due: None,
            tab: Tab::New,
            resolving: false,
            lookup_failed: false,
        };
        row.refresh(rates);
        row
    }

    /// Recomputes what is derived from the request.
    pub fn refresh(&mut self, rates: &Rates) {
        self.estimate = estimate_for(&self.req, rates);
        self.due = self.estimate.as_ref().map(|e| e.due);
        self.tab = self.compute_tab();
    }

    /// The checklist, item by item.
    pub fn checklist(&self) -> Vec<(Check, CheckState)> {
        let r = &self.req;
        Check::ALL
            .iter()
            .map(|&c| {
                let s = match c {
                    Check::WorkspaceIdentified => {
                        if r.workspace_verified && r.workspace_id.is_some() {
                            CheckState::Met
                        } else if r.workspace_name.is_some() {
                            CheckState::Unmet("not found on the backend yet".into())
                        } else {
                            CheckState::Unmet("the mail names no workspace".into())
                        }
                    }
                    Check::OwnerOrAdmin => match r.role {
                        Some(role) if role.may_request_export() => CheckState::Met,
                        Some(role) => CheckState::Unmet(format!(
                            "{} is {role}",
                            r.account().unwrap_or("requester")
                        )),
                        None => CheckState::Unmet(format!(
                            "{} is no member of this workspace",
                            r.account().unwrap_or("the sender")
                        )),
                    },
                    Check::SenderAuthenticated => {
                        if AuthResult::of(&r.auth.dmarc) == AuthResult::Pass {
                            CheckState::Met
                        } else if let Some(reason) = &r.auth_override {
                            CheckState::Overridden(reason.clone())
                        } else {
                            CheckState::Unmet(format!("DMARC {}", r.auth.dmarc))
                        }
                    }
                    Check::SpecificEstimateSent => match &self.estimate {
                        Some(e) if e.over_48h => {
                            if r.replies.iter().any(|x| {
                                x.template == Template::EstimateOver48h.file_stem()
                                    && x.state == ReplyState::Sent
                            }) {
                                CheckState::Met
                            } else {
                                CheckState::Unmet(format!(
                                    "{:.0} h of work: send the specific estimate",
                                    e.hours
                                ))
                            }
                        }
                        Some(_) => CheckState::NotNeeded,
                        None => CheckState::Unmet("size unknown".into()),
                    },
                    Check::ScopeNoteWritten => {
                        if r.notes.is_empty() {
                            CheckState::Unmet("no note yet".into())
                        } else {
                            CheckState::Met
                        }
                    }
                };
                (c, s)
            })
            .collect()
    }

    pub fn unmet(&self) -> Vec<String> {
        self.unmet_checks()
            .into_iter()
            .map(|c| c.label().to_string())
            .collect()
    }

    /// The checklist items not met (nor overridden, nor not needed).
    pub fn unmet_checks(&self) -> Vec<Check> {
        self.checklist()
            .into_iter()
            .filter(|(_, s)| !s.is_ok())
            .map(|(c, _)| c)
            .collect()
    }

    fn compute_tab(&self) -> Tab {
        use RequestState as S;
        match self.req.state {
            S::New | S::Waiting if self.unmet().is_empty() => Tab::Ready,
            S::New => Tab::New,
            S::Waiting => Tab::Waiting,
            // A cancelled export runs no more: staff chose to stop it.
            S::Failed if self.req.job.as_ref().map(|j| j.status) == Some(JobStatus::Cancelled) => {
                Tab::Done
            }
            S::Approved | S::Running | S::Failed => Tab::Running,
            S::Done => Tab::Done,
            S::Rejected => Tab::Rejected,
        }
    }

    /// Lowercased text the `/` filter matches against.
    pub fn haystack(&self) -> String {
        let r = &self.req;
        format!(
            "#{} {} {} {} {} {} {}",
            r.id,
            r.workspace_name.as_deref().unwrap_or(""),
            r.from.as_deref().unwrap_or(""),
            r.from_name.as_deref().unwrap_or(""),
            r.account_email.as_deref().unwrap_or(""),
            r.subject,
            r.state
        )
        .to_lowercase()
    }
}

/// The estimate from the size the backend reported, counted from when the
/// request arrived.
pub fn estimate_for(req: &RequestView, rates: &Rates) -> Option<Estimate> {
    let size = req.size?;
    Some(rates.estimate(&size.into(), req.received_at?))
}

/// How the queue is sorted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    /// Soonest due first (unknown last), then oldest.
    Due,
    /// Newest first.
    Newest,
    /// By workspace name.
    Workspace,
}

impl Sort {
    pub fn next(self) -> Sort {
        match self {
            Sort::Due => Sort::Newest,
            Sort::Newest => Sort::Workspace,
            Sort::Workspace => Sort::Due,
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Sort::Due => "due",
            Sort::Newest => "newest",
            Sort::Workspace => "workspace",
        }
    }
}

/// What kind of text the input box is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputPurpose {
    Note,
    /// A reason for approving with unmet checklist items; `force`: the
    /// operator already confirmed a second export of the workspace.
    ApproveOverride {
        force: bool,
    },
    /// A reason for accepting failed sender authentication.
    AuthOverride,
    /// The reason for a rejection, sent with the chosen template.
    RejectReason(Template),
    /// The body of a reply about to be sent.
    ReplyBody(Template),
    /// The body of the rejection's reply, read before it is sent.
    RejectBody {
        template: Template,
        reason: String,
    },
    /// The account email to link the request to.
    AccountEmail,
}

impl InputPurpose {
    pub fn title(&self) -> String {
        match self {
            InputPurpose::Note => "Scope-confirmation note".into(),
            InputPurpose::ApproveOverride { .. } => {
                "Approve despite unmet items — reason (required)".into()
            }
            InputPurpose::AuthOverride => {
                "Accept failed sender authentication — reason (required)".into()
            }
            InputPurpose::RejectReason(t) => {
                // "Reject (not owner or admin)", not "Reject (reject not …)".
                let why = spoken(*t);
                let why = why.strip_prefix("reject ").unwrap_or(&why);
                format!("Reject ({why}) — reason (required)")
            }
            InputPurpose::ReplyBody(t) => format!("Reply: {}", spoken(*t)),
            InputPurpose::RejectBody { template, .. } => {
                format!("Rejection reply: {}", spoken(*template))
            }
            InputPurpose::AccountEmail => "Account email the link goes to".into(),
        }
    }

    /// Multi-line (Enter inserts a newline; Ctrl-S submits).
    pub fn multi_line(&self) -> bool {
        matches!(
            self,
            InputPurpose::Note | InputPurpose::ReplyBody(_) | InputPurpose::RejectBody { .. }
        )
    }
}

/// An action that cannot be undone, waiting for y/n.
#[derive(Debug, Clone, PartialEq)]
pub enum Confirm {
    Approve {
        id: i64,
        override_reason: Option<String>,
        /// A second export of the workspace, confirmed by the operator
        /// (`ApproveDuplicate`): the export body says `"force": true`.
        force: bool,
    },
    Reject {
        id: i64,
        template: Template,
        reason: String,
        body: String,
    },
    SendReply {
        id: i64,
        template: Template,
        body: String,
        /// The request already got this template: the question says so.
        again: bool,
    },
    /// Approving while another request of the same workspace has an
    /// export running, or emailed with its link still valid.
    ApproveDuplicate {
        id: i64,
        other: i64,
        /// "running" or "emailed".
        what: &'static str,
    },
    Cancel {
        id: i64,
    },
    /// Taking a request someone else holds.
    TakeOver {
        id: i64,
        /// Their display name, and their id as the screen saw it.
        holder: String,
        holder_id: String,
    },
    Retry {
        id: i64,
    },
    /// Quitting while `running` exports are being started or followed.
    Quit {
        running: usize,
    },
}

impl Confirm {
    pub fn question(&self) -> String {
        match self {
            Confirm::Approve {
                id,
                override_reason,
                force,
            } => format!(
                "Approve request #{id}{} and start {}?",
                if override_reason.is_some() {
                    " WITH AN OVERRIDE"
                } else {
                    ""
                },
                if *force {
                    "a SECOND export of the workspace"
                } else {
                    "the export"
                }
            ),
            Confirm::Reject { id, template, .. } => {
                format!(
                    "Reject request #{id} and send the \"{}\" reply?",
                    spoken(*template).trim_start_matches("reject ")
                )
            }
            Confirm::SendReply {
                id,
                template,
                again: false,
                ..
            } => {
                format!("Send the {} reply to request #{id}?", spoken(*template))
            }
            Confirm::SendReply {
                id,
                template,
                again: true,
                ..
            } => format!(
                "Request #{id} already got the {} reply. Send it AGAIN?",
                spoken(*template)
            ),
            Confirm::TakeOver { id, holder, .. } => {
                format!("{holder} holds request #{id}. Take it over?")
            }
            Confirm::ApproveDuplicate { id, other, what } => format!(
                "Request #{other} of the same workspace has an export {what}. Approve a SECOND export for #{id}? (n, then x: reject_duplicate)"
            ),
            Confirm::Quit { running } => format!(
                "{running} export{} still running. Quit anyway? (they go on at the backend and are followed again on the next start)",
                if *running == 1 { " is" } else { "s are" }
            ),
            Confirm::Cancel { id } => format!("Cancel the running export of request #{id}?"),
            Confirm::Retry { id } => format!("Start the failed export of request #{id} again?"),
        }
    }
}

/// A list to pick from.
#[derive(Debug, Clone, PartialEq)]
pub enum Pick {
    ReplyTemplate,
    RejectTemplate,
    /// One of the requester's workspaces (id, name).
    Workspace(Vec<(String, String)>),
}

/// The screen's mode: what keys do.
#[derive(Debug)]
pub enum Mode {
    Normal,
    Filter,
    Input {
        purpose: InputPurpose,
        area: Box<TextArea<'static>>,
        error: Option<String>,
    },
    Pick {
        pick: Pick,
        selected: usize,
    },
    Confirm(Confirm),
    Help,
    /// The demo's outbox: mail Concierge and the backend sent.
    Outbox {
        selected: usize,
    },
    /// The team's stats (`S`).
    Stats(Box<crate::stats::screen::Model>),
}

impl Mode {
    pub fn is_normal(&self) -> bool {
        matches!(self, Mode::Normal)
    }
}

/// Connection health, shown in the status bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    Unknown,
    Up(String),
    Down(String),
}

/// A mail in the demo's outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxMail {
    pub to: String,
    pub subject: String,
    /// Its `Date:` header (none when missing or unreadable).
    pub date: Option<DateTime<Utc>>,
    pub body: String,
}

#[derive(Debug)]
pub struct State {
    pub rows: Vec<Row>,
    /// Requests per tab, in `Tab::ALL` order (kept by `refilter`).
    pub tab_counts: [usize; Tab::ALL.len()],
    /// Indices into `rows` that the tab and filter show, in sort order.
    pub visible: Vec<usize>,
    pub tab: Tab,
    pub sort: Sort,
    pub filter: String,
    /// Position in `visible`.
    pub selected: usize,
    /// First visible row of the queue list (kept by the renderer's height).
    pub offset: usize,
    /// Rows the queue shows at once (kept by the renderer; PgUp/PgDn).
    pub page: usize,
    pub detail_scroll: u16,
    /// The detail pane fills the screen (Enter), to read the thread.
    pub zoom: bool,
    /// The selected request's thread, as loaded from the store.
    pub thread: Option<(i64, Vec<crate::store::requests::ThreadMessage>)>,
    pub mode: Mode,
    pub status: Option<(String, bool)>,
    pub inbox: Health,
    pub backend: Health,
    /// The store's connection: shown only while it is down.
    pub store: Health,
    /// Operations in flight, by request id, in words.
    pub pending: Vec<(i64, String)>,
    pub rates: Rates,
    pub operator: String,
    pub now: DateTime<Utc>,
    pub outbox: Vec<OutboxMail>,
    pub has_outbox: bool,
    pub quit: bool,
    pub keys: super::keys::KeyMap,
    /// Other running screens on the store: who has which request open,
    /// writing what (team mode).
    pub others: Vec<crate::store::presence::Presence>,
    /// The request an action was started on and the version the screen
    /// showed then: the action carries it, and the store stops it when the
    /// request changed since (the collision stop, `store::team`).
    pub action_seen: Option<(i64, i64)>,
    /// The operator's id in the store (`[operator] email`, else the name):
    /// what claims are compared with (the Mine tab).
    pub operator_id: String,
    /// The tab `M` left for the Mine tab (`M` again goes back to it).
    pub before_mine: Option<Tab>,
    /// Operators' display names by id (the change feed names ids).
    pub names: std::collections::HashMap<String, String>,
}

impl State {
    pub fn new(
        requests: Vec<RequestView>,
        rates: Rates,
        operator: String,
        now: DateTime<Utc>,
    ) -> State {
        let rows = requests.into_iter().map(|r| Row::new(r, &rates)).collect();
        let mut s = State {
            rows,
            tab_counts: [0; Tab::ALL.len()],
            visible: Vec::new(),
            tab: Tab::All,
            sort: Sort::Due,
            filter: String::new(),
            selected: 0,
            offset: 0,
            page: 10,
            detail_scroll: 0,
            zoom: false,
            thread: None,
            mode: Mode::Normal,
            status: None,
            inbox: Health::Unknown,
            backend: Health::Unknown,
            store: Health::Unknown,
            pending: Vec::new(),
            rates,
            operator,
            now,
            outbox: Vec::new(),
            has_outbox: false,
            quit: false,
            keys: super::keys::KeyMap::default(),
            others: Vec::new(),
            action_seen: None,
            operator_id: String::new(),
            before_mine: None,
            names: Default::default(),
        };
        s.operator_id = s.operator.clone();
        s.refilter();
        s
    }

    /// The version of request `id` its pending action started from: the
    /// one captured when the operator began it, else the one on screen.
    pub fn seen(&self, id: i64) -> Option<i64> {
        match self.action_seen {
            Some((i, v)) if i == id => Some(v),
            _ => self
                .rows
                .iter()
                .find(|r| r.req.id == id)
                .map(|r| r.req.version),
        }
    }

    /// The selected request.
    pub fn current(&self) -> Option<&Row> {
        self.visible.get(self.selected).map(|&i| &self.rows[i])
    }

    /// The other open or recent requests of `id`'s workspace, as (id, what
    /// it is): open ones by state, exports running, and exports emailed in
    /// the last 7 days (link still valid). Oldest first.
    pub fn same_workspace(&self, id: i64) -> Vec<(i64, String)> {
        let Some(ws) = self
            .rows
            .iter()
            .find(|r| r.req.id == id)
            .and_then(|r| r.req.workspace_id.clone())
        else {
            return Vec::new();
        };
        let mut out: Vec<(i64, String)> = self
            .rows
            .iter()
            .filter(|r| r.req.id != id && r.req.workspace_id.as_deref() == Some(ws.as_str()))
            .filter_map(|r| self.open_or_recent(r).map(|what| (r.req.id, what)))
            .collect();
        out.sort_by_key(|(i, _)| *i);
        out
    }

    /// Whether `r` counts against a second export of its workspace, and as
    /// what: open (by state), its export running, or emailed in the last
    /// 7 days (the link still valid).
    pub fn open_or_recent(&self, r: &Row) -> Option<String> {
        let s = r.req.state;
        if s.is_open() || s.is_in_flight() {
            return Some(s.to_string());
        }
        let week_ago = self.now - chrono::Duration::days(7);
        let emailed = r.req.job.as_ref().and_then(|j| j.emailed_at);
        let recent = emailed.is_some_and(|t| t > week_ago);
        (s == RequestState::Done && recent).then(|| "emailed".to_string())
    }

    /// Another request of `id`'s workspace whose export is running, or was
    /// emailed in the last 7 days (its link still valid): (its id, "running"
    /// or "emailed").
    pub fn live_export_for_workspace(&self, id: i64) -> Option<(i64, &'static str)> {
        let ws = self
            .rows
            .iter()
            .find(|r| r.req.id == id)?
            .req
            .workspace_id
            .clone()?;
        let week_ago = self.now - chrono::Duration::days(7);
        self.rows
            .iter()
            .filter(|r| r.req.id != id && r.req.workspace_id.as_deref() == Some(ws.as_str()))
            .find_map(|r| {
                if r.req.state.is_in_flight() {
                    return Some((r.req.id, "running"));
                }
                let emailed = r.req.job.as_ref().and_then(|j| j.emailed_at);
                let recent = emailed.is_some_and(|t| t > week_ago);
                (r.req.state == RequestState::Done && recent).then_some((r.req.id, "emailed"))
            })
    }

    pub fn row_mut(&mut self, id: i64) -> Option<&mut Row> {
        self.rows.iter_mut().find(|r| r.req.id == id)
    }

    /// Whether request row `r` is listed in `tab`.
    pub fn in_tab(&self, r: &Row, tab: Tab) -> bool {
        match tab {
            Tab::All => true,
            Tab::Mine => self.is_mine(r),
            t => r.tab == t,
        }
    }

    /// Whether this operator holds `r` (a claim).
    pub fn is_mine(&self, r: &Row) -> bool {
        r.req.claimed_by.as_deref() == Some(self.operator_id.as_str())
    }

    /// How many requests each tab holds (for the tab titles).
    fn count_tabs(&self) -> [usize; Tab::ALL.len()] {
        // One pass: refilter runs on every key typed into the filter.
        let mut counts = [0usize; Tab::ALL.len()];
        let at = |t: Tab| Tab::ALL.iter().position(|x| *x == t).unwrap_or(0);
        counts[at(Tab::All)] = self.rows.len();
        for r in &self.rows {
            counts[at(r.tab)] += 1;
            if self.is_mine(r) {
                counts[at(Tab::Mine)] += 1;
            }
        }
        counts
    }

    /// Recomputes `visible` from the tab, the filter and the sort, keeping
    /// the selection on the same request when it is still shown.
    pub fn refilter(&mut self) {
        let keep = self.current().map(|r| r.req.id);
        let needle = self.filter.to_lowercase();
        let mut visible: Vec<usize> = self
            .rows
            .iter()
            .enumerate()
            .filter(|(_, r)| self.in_tab(r, self.tab))
            .filter(|(_, r)| needle.is_empty() || r.haystack().contains(&needle))
            .map(|(i, _)| i)
            .collect();
        let rows = &self.rows;
        match self.sort {
            Sort::Due => visible.sort_by(|&a, &b| {
                let (ra, rb) = (&rows[a], &rows[b]);
                match (ra.due, rb.due) {
                    (Some(x), Some(y)) => x.cmp(&y),
                    (Some(_), None) => std::cmp::Ordering::Less,
                    (None, Some(_)) => std::cmp::Ordering::Greater,
                    (None, None) => ra.req.received_at.cmp(&rb.req.received_at),
                }
                .then(ra.req.id.cmp(&rb.req.id))
            }),
            Sort::Newest => visible.sort_by(|&a, &b| {
                rows[b]
                    .req
                    .received_at
                    .cmp(&rows[a].req.received_at)
                    .then(rows[b].req.id.cmp(&rows[a].req.id))
            }),
            Sort::Workspace => visible.sort_by(|&a, &b| {
                let n = |i: usize| {
                    rows[i]
                        .req
                        .workspace_name
                        .clone()
                        .unwrap_or_default()
                        .to_lowercase()
                };
                n(a).cmp(&n(b)).then(rows[a].req.id.cmp(&rows[b].req.id))
            }),
        }
        self.visible = visible;
        self.tab_counts = self.count_tabs();
        self.selected = keep
            .and_then(|id| self.visible.iter().position(|&i| self.rows[i].req.id == id))
            .unwrap_or(0)
            .min(self.visible.len().saturating_sub(1));
    }

    /// Operator `id`'s display name, else the id itself (never seen yet).
    pub fn name_of<'a>(&'a self, id: &'a str) -> &'a str {
        self.names.get(id).map_or(id, String::as_str)
    }

    /// The other screens that have request `id` open.
    pub fn others_on(&self, id: i64) -> impl Iterator<Item = &crate::store::presence::Presence> {
        self.others.iter().filter(move |p| p.request_id == Some(id))
    }

    pub fn is_pending(&self, id: i64) -> bool {
        self.pending.iter().any(|(p, _)| *p == id)
    }
}

//! Concierge: the terminal tool Ochre's support concierge team uses to run
//! workspace data exports.
//!
//! The workspace (README.md, "Layout"): this crate (`concierge`, the one
//! binary) and, under `crates/`:
//! - `ochre-api`: the export backend API v1, one definition of each type
//!   for the client and the server ([`backend::api`]), plus the rules both
//!   sides share: [`secret::Secret`], [`net`], [`mail::maildir`], [`text`];
//! - `ochre-refbackend`: the reference export backend, re-exported as
//!   [`refbackend`].
//!
//! Crate map:
//! - [`cli`]: clap command line (the contract in README.md's Commands table)
//!   and dispatch.
//! - [`config`]: TOML configuration, XDG paths, validation with clear errors;
//!   [`secret`]: secrets from the environment or a command, never printable.
//! - [`intake`]: hostile email → [`intake::Inspected`]: parse, sanitize,
//!   RFC 8601 authentication results, classification.
//! - [`inbox`]: mail sources (IMAP with incremental UID sync and IDLE; Maildir).
//! - [`domain`]: the project's own values (request state, job status, role,
//!   reply state, authentication result, checklist) with the one transition
//!   table, and the store's typed refusals.
//! - [`ops`]: the operations core (synchronous checks and store protocol;
//!   callers own the network call), shared by the command line and the screen.
//! - [`keymap`]: actions and their keys (`[keys]` in the config, the `?` help).
//! - [`estimate`]: turnaround estimates on business days.
//! - [`mail`]: reply templates and sending (SMTP or a Maildir outbox).
//! - [`net`]: the one retry backoff and the one loopback rule (`ochre-api`).
//! - [`reply`]: rendering a reply, building the message, filing it over IMAP.
//! - [`stats`]: the team's figures (SLA, estimate accuracy, per operator) for
//!   `concierge report` and the stats screen.
//! - [`store`]: the SQLite store (requests, sync state) and the hash-chained
//!   audit log.
//! - [`backend`]: the typed client of the export backend API v1; its types
//!   are `ochre-api`'s ([`backend::api`]).
//! - [`refbackend`]: `concierge backend serve`, the reference export backend
//!   (the `ochre-refbackend` crate).
//! - [`sync`]: one poll of the configured inbox into the store; the IMAP poller.
//! - [`text`]: small formatting shared by the screen and the backend's
//!   emails (`ochre-api`).
//! - [`time`]: times as `DateTime<Utc>` inside, RFC 3339 text at the edges.
//! - [`tui`]: the screen: `state` (plain values), `update` (every decision,
//!   no I/O), `ui` (drawing), `app` (the loop and its workers), `keys`.
//! - [`demo`]: `concierge demo`, everything on an embedded sandbox.
//! - [`setup`]: `concierge init`, `check`, `completions`, `man`: the first day.
//! - `chaos` (debug builds only): a test hook, one operator's random
//!   session as a process (tests/team_chaos.rs).

pub mod backend;
#[cfg(debug_assertions)]
pub mod chaos;
pub mod cli;
pub mod config;
pub mod demo;
pub mod domain;
pub mod estimate;
pub mod inbox;
pub mod intake;
pub mod keymap;
pub mod mail;
pub use ochre_api::net;
pub mod ops;
pub use ochre_refbackend as refbackend;
pub mod reply;
pub mod secret;
pub mod setup;
pub mod stats;
pub mod store;
pub mod sync;
pub use ochre_api::text;
pub mod time;
pub mod tui;

//! Concierge: the terminal tool Ochre's support concierge team uses to run
//! workspace data exports.
//!
//! Crate map:
//! - [`cli`]: clap command line (the contract in DESIGN.md) and dispatch.
//! - [`config`]: TOML configuration, XDG paths, validation with clear errors;
//!   [`secret`]: secrets from the environment or a command, never printable.
//! - [`intake`]: hostile email → [`intake::Inspected`]: parse, sanitize,
//!   RFC 8601 authentication results, classification.
//! - [`inbox`]: mail sources (IMAP with incremental UID sync and IDLE; Maildir).
//! - [`estimate`]: turnaround estimates on business days.
//! - [`mail`]: reply templates and sending (SMTP or a Maildir outbox).
//! - [`reply`]: answering a request: compose, record, send, file.
//! - [`stats`]: the team's figures (SLA, estimate accuracy, per operator) for
//!   `concierge report` and the stats screen.
//! - [`store`]: the SQLite store (requests, sync state) and the hash-chained
//!   audit log.
//! - [`backend`]: the typed client of the export backend API v1.
//! - [`refbackend`]: `concierge backend serve`, the reference export backend.
//! - [`sync`]: one poll of the configured inbox into the store; the IMAP poller.
//! - [`text`]: small formatting shared by the screen and the backend's emails.
//! - [`demo`]: `concierge demo`, everything on an embedded sandbox.

pub mod backend;
pub mod cli;
pub mod config;
pub mod demo;
pub mod estimate;
pub mod inbox;
pub mod intake;
pub mod mail;
pub mod refbackend;
pub mod reply;
pub mod secret;
pub mod stats;
pub mod store;
pub mod sync;
pub mod text;
pub mod tui;

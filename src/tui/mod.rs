//! The screen the concierge team keeps open all day.
//!
//! The Elm shape (ratatui's TEA recipe): [`state`] holds plain values,
//! [`update`] turns a [`msg::Msg`] into state changes and [`msg::Command`]s
//! without I/O, [`ui`] draws the state, and [`app`] runs the loop and the
//! workers (inbox, backend, mailer) that do the I/O and report back.

pub mod app;
pub mod keys;
pub mod msg;
pub mod state;
pub mod stats_view;
pub mod ui;
pub mod update;

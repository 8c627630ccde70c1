//! Outgoing mail: reply templates ([`templates`]) and sending them in the
//! request's thread ([`outgoing`]).

pub mod maildir;
pub mod outgoing;
pub mod smtp;
pub mod templates;

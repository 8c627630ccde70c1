//! Outgoing mail: reply templates ([`templates`]) and sending them in the
//! request's thread ([`outgoing`]).

pub mod outgoing;
pub mod templates;

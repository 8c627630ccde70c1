//! Outgoing mail: reply templates ([`templates`]) and sending them in the
//! request's thread ([`outgoing`]).

pub use ochre_api::maildir;
pub mod outgoing;
pub mod smtp;
pub mod templates;

//! The operations core: what an action on a request does, decided and
//! recorded in one place, for the command line and the screen alike.
//!
//! The shape is gitui's asyncgit: each operation is synchronous code over
//! the [`crate::store::Store`] (checks, the record before the effect, the
//! outcome after it), and the callers own the only asynchronous part, the
//! network call between `begin` and `finish`. `concierge reply` runs it on
//! a small runtime; the screen runs the network part in a worker and feeds
//! the outcome back as a message. Neither repeats the protocol.
//!
//! - [`export`]: the export start body frozen at approval; which existing
//!   job to adopt when a start was answered 409 or not at all.
//! - [`reply`]: may this reply go out (state, earlier replies), compose it
//!   with dates from now, record → send → record the outcome.

pub mod export;
pub mod reply;

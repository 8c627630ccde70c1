//! A new team member's first day: `concierge init`, `concierge check`,
//! shell completions and the manual page.
//!
//! - [`probe`]: one function per service (IMAP, SMTP, backend, store) that
//!   tries it the way the app will and returns one [`Line`] per step, each
//!   with the cause and the fix in words. `check` and `init` share them.
//! - [`check`]: `concierge check [--json]`, every probe for the config.
//! - [`init`]: `concierge init`, the prompts (or flags) and the config file
//!   it writes ([`template`] renders it, with a comment on every key).
//! - [`docs`]: `concierge completions SHELL` and `concierge man`, generated
//!   from the clap definitions so that they never drift from the real flags.

pub mod check;
pub mod docs;
pub mod init;
pub mod probe;
pub mod template;
pub mod words;

use serde::Serialize;

/// One checked thing: ✓ or ✗, and what was found or how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Line {
    /// Short and stable, for monitoring: `imap.login`, `backend.token`, …
    pub check: &'static str,
    pub ok: bool,
    /// One line of words: what was found (✓) or what is wrong and the fix (✗).
    pub detail: String,
}

impl Line {
    pub fn ok(check: &'static str, detail: impl Into<String>) -> Line {
        Line {
            check,
            ok: true,
            detail: one_line(&detail.into()),
        }
    }

    pub fn fail(check: &'static str, detail: impl Into<String>) -> Line {
        Line {
            check,
            ok: false,
            detail: one_line(&detail.into()),
        }
    }

    /// `✓ imap.login: …` — what `check` and `init` print.
    pub fn render(&self) -> String {
        let mark = if self.ok { '✓' } else { '✗' };
        format!("{mark} {}: {}", self.check, self.detail)
    }
}

/// Server and error text is hostile too: one sanitized line, at most 400
/// characters (a screen width or two; the cause is always at the start).
pub fn one_line(s: &str) -> String {
    let s = crate::intake::sanitize::single_line(s).text;
    crate::intake::classify::truncate_chars(&s, 400)
}

//! Secrets (passwords, tokens, keys) that cannot be printed by accident,
//! and reading one from the environment. Concierge's own `secret` module
//! adds reading one from a command.
//!
//! NOTE: `Secret` implements neither `Display` nor a revealing `Debug`; the
//! only way to the bytes is [`Secret::expose`], so a `{:?}` in a log line or a
//! panic message prints `Secret(***)`.

use anyhow::{bail, Result};
use std::fmt;

/// A secret value. `Debug` prints `Secret(***)`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself: call only where it is handed to a protocol.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Reads a secret from the environment variable `name`.
/// The error names the variable, never a value.
pub fn from_env(name: &str) -> Result<Secret> {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => Ok(Secret(v)),
        Ok(_) => bail!("environment variable {name} is empty"),
        Err(std::env::VarError::NotPresent) => bail!("environment variable {name} is not set"),
        Err(std::env::VarError::NotUnicode(_)) => {
            bail!("environment variable {name} is not valid UTF-8")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "Secret(***)");
        assert!(!format!("{:?}", Some(&s)).contains("hunter2"));
    }

    #[test]
    fn missing_env_names_the_variable() {
        let err = from_env("CONCIERGE_TEST_SURELY_UNSET_VAR").unwrap_err();
        assert!(err.to_string().contains("CONCIERGE_TEST_SURELY_UNSET_VAR"));
    }
}

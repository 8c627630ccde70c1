//! Secrets (passwords, tokens, keys): read from the environment or a command,
//! never from a config file, and impossible to print by accident.
//!
//! NOTE: `Secret` implements neither `Display` nor a revealing `Debug`; the
//! only way to the bytes is [`Secret::expose`], so a `{:?}` in a log line or a
//! panic message prints `Secret(***)`.

use anyhow::{bail, Context, Result};
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

/// Runs `command` (split like a shell would, but not run through a shell) and
/// takes the first line of its standard output as the secret. Its stderr and
/// stdout never reach an error message.
pub fn from_command(command: &str) -> Result<Secret> {
    from_named_command(command, "password_command")
}

/// [`from_command`] for a setting named `key` (`password_command`,
/// `token_command`): errors name the setting and the program, never output.
pub fn from_named_command(command: &str, key: &str) -> Result<Secret> {
    let argv = shell_words::split(command)
        .with_context(|| format!("{key} is not a valid command line"))?;
    let Some((prog, args)) = argv.split_first() else {
        bail!("{key} is empty");
    };
    let out = std::process::Command::new(prog)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .with_context(|| format!("could not run {key} program {prog:?}"))?;
    if !out.status.success() {
        bail!("{key} program {prog:?} failed ({})", out.status);
    }
    let text = String::from_utf8(out.stdout)
        .map_err(|_| anyhow::anyhow!("{key} program {prog:?} printed non-UTF-8"))?;
    let line = text.lines().next().unwrap_or("").trim_end_matches('\r');
    if line.is_empty() {
        bail!("{key} program {prog:?} printed nothing");
    }
    Ok(Secret(line.to_string()))
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
    fn command_first_line_is_the_secret() {
        let s = from_command("printf 'pw1\\nsecond\\n'").unwrap();
        assert_eq!(s.expose(), "pw1");
    }

    #[test]
    fn failing_command_error_has_no_output() {
        let err = from_command("sh -c 'echo leaked; exit 3'").unwrap_err();
        assert!(!format!("{err:#}").contains("leaked"));
    }

    #[test]
    fn missing_env_names_the_variable() {
        let err = from_env("CONCIERGE_TEST_SURELY_UNSET_VAR").unwrap_err();
        assert!(err.to_string().contains("CONCIERGE_TEST_SURELY_UNSET_VAR"));
    }
}

//! Secrets (passwords, tokens, keys): read from the environment or a command,
//! never from a config file, and impossible to print by accident.
//!
//! [`Secret`] and [`from_env`] live in the `ochre-api` crate (the reference
//! backend reads its token with them too) and are re-exported here; a
//! secret from a command is Concierge's alone.

use anyhow::{bail, Context, Result};

pub use ochre_api::secret::{from_env, Secret};

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
    Ok(Secret::new(line))
}

#[cfg(test)]
mod tests {
    use super::*;

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
}

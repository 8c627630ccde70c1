//! `concierge completions SHELL` and `concierge man`: generated at run time
//! from the clap definitions in [`crate::cli`], so they cannot drift from the
//! real subcommands and flags.

use anyhow::{Context, Result};
use clap::CommandFactory;

/// Writes the completion script for `shell` (bash, zsh, fish, …).
pub fn completions(shell: clap_complete::Shell, out: &mut impl std::io::Write) -> Result<()> {
    let mut cmd = crate::cli::Cli::command();
    clap_complete::generate(shell, &mut cmd, "concierge", out);
    Ok(())
}

/// Writes the manual page (roff, section 1): the top command, then one
/// section per subcommand with its own options.
pub fn man(out: &mut impl std::io::Write) -> Result<()> {
    let cmd = crate::cli::Cli::command();
    let man = clap_mangen::Man::new(cmd.clone());
    man.render(out).context("cannot write the manual page")?;
    // NOTE: clap_mangen lists subcommands by name and summary only; their
    // flags are what people look up, so each gets a section of its own.
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        render_sub(out, sub, "concierge")?;
    }
    Ok(())
}

fn render_sub(out: &mut impl std::io::Write, sub: &clap::Command, parent: &str) -> Result<()> {
    let name = format!("{parent} {}", sub.get_name());
    writeln!(out, ".SH \"{}\"", name.to_uppercase())?;
    if let Some(about) = sub.get_long_about().or(sub.get_about()) {
        writeln!(out, "{}", roff_escape(&about.to_string()))?;
    }
    let args: Vec<&clap::Arg> = sub
        .get_arguments()
        .filter(|a| !a.is_hide_set() && a.get_id() != "help" && a.get_id() != "version")
        .filter(|a| !a.is_global_set())
        .collect();
    for a in args {
        let flag = match (a.get_long(), a.get_short()) {
            (Some(l), Some(s)) => format!("\\-{s}, \\-\\-{l}"),
            (Some(l), None) => format!("\\-\\-{l}"),
            (None, Some(s)) => format!("\\-{s}"),
            (None, None) => format!("<{}>", a.get_id().as_str().to_uppercase()),
        };
        writeln!(out, ".TP\n\\fB{flag}\\fR")?;
        if let Some(help) = a.get_help() {
            writeln!(out, "{}", roff_escape(&help.to_string()))?;
        }
    }
    for s in sub.get_subcommands().filter(|s| !s.is_hide_set()) {
        render_sub(out, s, &name)?;
    }
    Ok(())
}

/// Roff treats a leading `.` or `'` as a request and `\` as an escape.
fn roff_escape(s: &str) -> String {
    s.lines()
        .map(|l| {
            let l = l.replace('\\', "\\\\").replace('-', "\\-");
            if l.starts_with('.') || l.starts_with('\'') {
                format!("\\&{l}")
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The subcommands a user sees (not the hidden test hooks).
    fn subcommands() -> Vec<String> {
        crate::cli::Cli::command()
            .get_subcommands()
            .filter(|s| !s.is_hide_set())
            .map(|s| s.get_name().to_string())
            .collect()
    }

    #[test]
    fn every_shell_completes_every_subcommand() {
        let subs = subcommands();
        assert!(subs.len() >= 10, "{subs:?}");
        for shell in [
            clap_complete::Shell::Bash,
            clap_complete::Shell::Zsh,
            clap_complete::Shell::Fish,
        ] {
            let mut out = Vec::new();
            completions(shell, &mut out).unwrap();
            let text = String::from_utf8(out).unwrap();
            for s in &subs {
                assert!(text.contains(s.as_str()), "{shell}: no {s}");
            }
            // A flag of a subcommand, not only the names.
            assert!(text.contains("non-interactive"), "{shell}: no init flags");
        }
    }

    #[test]
    fn man_page_names_every_subcommand_and_its_flags() {
        let mut out = Vec::new();
        man(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with(".ie") || text.contains(".TH concierge"),
            "{}",
            &text[..200]
        );
        for s in subcommands() {
            assert!(
                text.contains(&format!(".SH \"CONCIERGE {}\"", s.to_uppercase())),
                "no section for {s}"
            );
        }
        assert!(
            text.contains("\\-\\-non\\-interactive"),
            "init flags missing"
        );
        assert!(text.contains("\\-\\-json"), "check flags missing");
    }

    #[test]
    fn roff_requests_in_help_text_are_neutralised() {
        assert_eq!(roff_escape(".SH evil\n'x"), "\\&.SH evil\n\\&'x");
    }
}

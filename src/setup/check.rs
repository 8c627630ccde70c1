//! `concierge check [--json]`: is this machine ready? One line per check,
//! ✓ or ✗ with the cause and the fix in words; exit 0 when all pass, 1
//! otherwise. `--json` prints one object for monitoring:
//! `{"ok": bool, "checks": [{"check", "ok", "detail"}]}`.

use super::{probe, Line};
use crate::config::{Config, SourceKind};
use anyhow::{Context, Result};
use serde::Serialize;
use std::path::Path;

/// Every check for the config at `path` (or the default path), in order.
pub fn run_checks(path: Option<&Path>) -> Result<Vec<Line>> {
    let cfg = match Config::load(path) {
        Ok(c) => c,
        Err(e) => return Ok(vec![Line::fail("config", format!("{e:#}"))]),
    };
    let mut lines = vec![Line::ok("config", format!("{} parses", cfg.path.display()))];
    lines.extend(secrets_and_inbox(&cfg));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    if let Some(smtp) = &cfg.smtp {
        let (line, password) = if smtp.username.is_empty() {
            (None, None)
        } else {
            let (l, p) = probe::password("smtp.secret", "smtp", smtp);
            (Some(l), p)
        };
        lines.extend(line);
        lines.extend(rt.block_on(probe::smtp(smtp, password.as_ref())));
    } else {
        lines.push(Line::fail(
            "smtp",
            "no [smtp] section: replies cannot be sent; run `concierge init` or add [smtp]",
        ));
    }
    if let Some(b) = &cfg.backend {
        let (line, token) = probe::token(b);
        lines.push(line);
        lines.extend(rt.block_on(probe::backend(b, token, &cfg.operator.name)));
    } else {
        lines.push(Line::fail(
            "backend",
            "no [backend] section: workspaces cannot be looked up or exported; add [backend] url and token_env",
        ));
    }
    match cfg.store_target() {
        Ok(Some(t)) => lines.extend(probe::team_store(&t)),
        Ok(None) => match cfg.store_path() {
            Ok(p) => lines.extend(probe::store(&p)),
            Err(e) => lines.push(Line::fail("store.open", format!("{e:#}"))),
        },
        Err(e) => lines.push(Line::fail(
            "store.open",
            format!("{e:#}: set the team store's password there"),
        )),
    }
    Ok(lines)
}

/// The inbox: the IMAP password and server, or the Maildir folder.
fn secrets_and_inbox(cfg: &Config) -> Vec<Line> {
    match cfg.intake.source {
        SourceKind::Maildir => {
            let dir = cfg
                .intake
                .maildir
                .as_deref()
                .map(crate::config::expand_home)
                .unwrap_or_default();
            if dir.join("new").is_dir() && dir.join("cur").is_dir() {
                vec![Line::ok("inbox.maildir", format!("{} is a Maildir", dir.display()))]
            } else {
                vec![Line::fail(
                    "inbox.maildir",
                    format!("{} is not a Maildir (no cur/ and new/): check [intake] maildir", dir.display()),
                )]
            }
        }
        SourceKind::Imap => match &cfg.imap {
            None => vec![Line::fail(
                "imap",
                "no [imap] section but [intake] source = \"imap\": run `concierge init` or add [imap]",
            )],
            Some(imap) => {
                let (line, password) = probe::password("imap.secret", "imap", imap);
                let mut lines = vec![line];
                lines.extend(probe::imap(imap, password.as_ref()));
                lines
            }
        },
    }
}

#[derive(Serialize)]
struct Report<'a> {
    ok: bool,
    checks: &'a [Line],
}

/// Prints the lines (text or one JSON object) and returns the exit code.
pub fn report(lines: &[Line], json: bool, out: &mut impl std::io::Write) -> Result<i32> {
    let ok = lines.iter().all(|l| l.ok);
    if json {
        writeln!(
            out,
            "{}",
            serde_json::to_string(&Report { ok, checks: lines })?
        )?;
    } else {
        for l in lines {
            writeln!(out, "{}", l.render())?;
        }
        let failed = lines.iter().filter(|l| !l.ok).count();
        if failed == 0 {
            writeln!(out, "all {} checks passed", lines.len())?;
        } else {
            writeln!(out, "{failed} of {} checks failed", lines.len())?;
        }
    }
    Ok(if ok { 0 } else { 1 })
}

/// `concierge check`.
pub fn run(path: Option<&Path>, json: bool) -> Result<i32> {
    let lines = run_checks(path)?;
    let stdout = std::io::stdout();
    report(&lines, json, &mut stdout.lock())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_code_is_one_when_any_check_fails() {
        let mut out = Vec::new();
        let all_ok = [Line::ok("a", "fine"), Line::ok("b", "fine")];
        assert_eq!(report(&all_ok, false, &mut out).unwrap(), 0);
        let one_bad = [Line::ok("a", "fine"), Line::fail("b", "broken")];
        let mut out = Vec::new();
        assert_eq!(report(&one_bad, false, &mut out).unwrap(), 1);
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains("✓ a: fine\n✗ b: broken\n1 of 2 checks failed"),
            "{text}"
        );
    }

    #[test]
    fn json_is_one_object_with_every_check() {
        let mut out = Vec::new();
        let lines = [Line::ok("a", "fine"), Line::fail("b", "broken")];
        report(&lines, true, &mut out).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["ok"], false);
        assert_eq!(v["checks"][1]["check"], "b");
        assert_eq!(v["checks"][1]["ok"], false);
        assert_eq!(String::from_utf8(out).unwrap().lines().count(), 1);
    }

    #[test]
    fn details_are_one_sanitized_line() {
        let l = Line::fail("x", "first\nsecond\x1b[31mred");
        assert!(
            !l.detail.contains('\n') && !l.detail.contains('\x1b'),
            "{:?}",
            l.detail
        );
    }
}

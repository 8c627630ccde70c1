//! The config file `concierge init` writes: every key with a comment saying
//! what it is for. Values are written with the `toml` crate's own quoting, so
//! a quote or backslash in an answer cannot break the file.

use crate::config::{Backend, Connection, Security};
use std::fmt::Write;
use std::path::PathBuf;

/// What `init` collected: exactly what the file will hold.
#[derive(Debug, Clone)]
pub struct Answers {
    pub operator_name: String,
    pub operator_email: Option<String>,
    pub authserv_id: String,
    pub imap: Connection,
    pub smtp: Connection,
    pub backend: Backend,
    /// `None`: the XDG data directory (the loader's default).
    pub store_path: Option<PathBuf>,
    /// A team store instead of the solo file.
    pub team: Option<TeamStore>,
}

/// A team store (PostgreSQL) as `init` writes it: never with a password.
#[derive(Debug, Clone)]
pub struct TeamStore {
    pub url: String,
    pub password_env: String,
    pub ca_file: Option<PathBuf>,
}

/// A TOML string literal.
fn q(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn security(s: Security) -> &'static str {
    match s {
        Security::Tls => "tls",
        Security::Starttls => "starttls",
        Security::None => "none",
    }
}

/// `key = value` padded so that the comments line up.
fn kv(out: &mut String, key: &str, value: &str, comment: &str) {
    let left = format!("{key} = {value}");
    let _ = writeln!(out, "{left:<40} # {comment}");
}

fn connection(out: &mut String, section: &str, c: &Connection) {
    let _ = writeln!(out, "\n[{section}]");
    kv(
        out,
        "host",
        &q(&c.host),
        "the server's name, as on its certificate",
    );
    kv(
        out,
        "port",
        &c.port.to_string(),
        match section {
            "imap" => "993 with tls, 143 with starttls",
            _ => "587 with starttls, 465 with tls",
        },
    );
    kv(
        out,
        "security",
        &q(security(c.security)),
        "\"tls\" | \"starttls\" | \"none\" (none: loopback only)",
    );
    kv(
        out,
        "username",
        &q(&c.username),
        match section {
            "smtp" => "empty: send without AUTH (a local relay)",
            _ => "the login name",
        },
    );
    if let Some(var) = &c.password_env {
        kv(
            out,
            "password_env",
            &q(var),
            "the environment variable holding the password (never the password itself)",
        );
    }
    if let Some(cmd) = &c.password_command {
        kv(
            out,
            "password_command",
            &q(cmd),
            "a command printing the password on its first line",
        );
    }
    if let Some(ca) = &c.ca_file {
        kv(
            out,
            "ca_file",
            &q(&ca.display().to_string()),
            "an extra CA to trust (PEM), for a private CA",
        );
    } else {
        let _ = writeln!(
            out,
            "{:<40} # an extra CA to trust (PEM), for a private CA",
            "# ca_file = \"/etc/ssl/private-ca.pem\""
        );
    }
    if section == "imap" {
        kv(
            out,
            "mailbox",
            &q(&c.mailbox),
            "where export requests arrive (opened read-only)",
        );
        match &c.sent_mailbox {
            Some(s) => kv(out, "sent_mailbox", &q(s), "where copies of replies go"),
            None => {
                let _ = writeln!(
                    out,
                    "{:<40} # where copies of replies go (default \"Sent\")",
                    "# sent_mailbox = \"Sent\""
                );
            }
        }
    }
    if let Some(from) = &c.from {
        kv(out, "from", &q(from), "the From of every reply");
    }
}

/// The file's text.
pub fn render(a: &Answers, written_at: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Concierge configuration, written by `concierge init` on {written_at}."
    );
    let _ = writeln!(
        out,
        "# Secrets never live here: only the variable or command that gives them."
    );
    let _ = writeln!(
        out,
        "# `concierge check` tries every setting below; the README explains each key."
    );
    let _ = writeln!(out, "\n[operator]");
    kv(
        &mut out,
        "name",
        &q(&a.operator_name),
        "shown on notes and in the audit log",
    );
    if let Some(email) = &a.operator_email {
        kv(
            &mut out,
            "email",
            &q(email),
            "your identity in a team store",
        );
    }
    let _ = writeln!(out, "\n[intake]");
    kv(
        &mut out,
        "authserv_id",
        &q(&a.authserv_id),
        "the only Authentication-Results to trust (your MX)",
    );
    kv(
        &mut out,
        "source",
        &q("imap"),
        "\"imap\", or \"maildir\" with maildir = \"/path\"",
    );
    connection(&mut out, "imap", &a.imap);
    connection(&mut out, "smtp", &a.smtp);
    let _ = writeln!(out, "\n[backend]");
    kv(
        &mut out,
        "url",
        &q(&a.backend.url),
        "the export backend (https; http to loopback only)",
    );
    kv(
        &mut out,
        "token_env",
        &q(&a.backend.token_env),
        "the environment variable holding its API token",
    );
    let _ = writeln!(out, "\n[store]");
    match &a.store_path {
        Some(p) => kv(
            &mut out,
            "path",
            &q(&p.display().to_string()),
            "the solo store (SQLite file)",
        ),
        None => {
            let _ = writeln!(
                out,
                "{:<40} # the solo store; default: $XDG_DATA_HOME/concierge/concierge.db",
                "# path = \"~/.local/share/concierge/concierge.db\""
            );
        }
    }
    if let Some(t) = &a.team {
        kv(
            &mut out,
            "url",
            &q(&t.url),
            "the team store every operator shares (PostgreSQL)",
        );
        kv(
            &mut out,
            "password_env",
            &q(&t.password_env),
            "the environment variable holding its password",
        );
        if let Some(ca) = &t.ca_file {
            kv(
                &mut out,
                "ca_file",
                &q(&ca.display().to_string()),
                "an extra CA for its TLS certificate",
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use std::path::Path;

    pub(crate) fn sample() -> Answers {
        let conn = |host: &str, port, security| Connection {
            host: host.into(),
            port,
            security,
            username: "hello@ochrehq.com".into(),
            password_env: Some("CONCIERGE_IMAP_PASSWORD".into()),
            password_command: None,
            auth: Default::default(),
            token_command: None,
            mailbox: "INBOX".into(),
            ca_file: None,
            from: None,
            sent_mailbox: None,
        };
        let mut smtp = conn("smtp.example.com", 587, Security::Starttls);
        smtp.from = Some("Ochre \"Concierge\" <hello@ochrehq.com>".into());
        smtp.password_env = None;
        smtp.password_command = Some("pass show ochre/smtp".into());
        Answers {
            operator_name: "Zoë \\ \"Sam\"".into(),
            operator_email: Some("sam@ochrehq.com".into()),
            authserv_id: "mx.ochrehq.com".into(),
            imap: conn("imap.example.com", 993, Security::Tls),
            smtp,
            backend: Backend {
                url: "https://exports.internal.example".into(),
                token_env: "CONCIERGE_BACKEND_TOKEN".into(),
            },
            store_path: Some("/var/lib/c.db".into()),
            team: None,
        }
    }

    #[test]
    fn the_file_parses_with_the_real_loader_and_keeps_every_answer() {
        let text = render(&sample(), "2026-11-29");
        let c = Config::parse(&text, Path::new("/x/config.toml"))
            .unwrap_or_else(|e| panic!("{e:#}\n{text}"));
        assert_eq!(c.operator.name, "Zoë \\ \"Sam\"");
        assert_eq!(c.operator.email.as_deref(), Some("sam@ochrehq.com"));
        let imap = c.imap().unwrap();
        assert_eq!(
            (imap.host.as_str(), imap.port, imap.security),
            ("imap.example.com", 993, Security::Tls)
        );
        let smtp = c.smtp.as_ref().unwrap();
        assert_eq!(
            smtp.password_command.as_deref(),
            Some("pass show ochre/smtp")
        );
        assert_eq!(
            smtp.from.as_deref(),
            Some("Ochre \"Concierge\" <hello@ochrehq.com>")
        );
        assert_eq!(c.backend.unwrap().token_env, "CONCIERGE_BACKEND_TOKEN");
        assert_eq!(c.store.path.unwrap(), Path::new("/var/lib/c.db"));
    }

    #[test]
    fn every_key_has_a_comment() {
        let text = render(&sample(), "2026-11-29");
        for line in text
            .lines()
            .filter(|l| l.contains(" = ") && !l.starts_with('#'))
        {
            assert!(line.contains(" # "), "no comment: {line}");
        }
    }
}

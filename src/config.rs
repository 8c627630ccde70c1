//! Configuration: `$XDG_CONFIG_HOME/concierge/config.toml` or `--config FILE`.
//!
//! Every mistake is one error naming the file, the key and what was expected.
//! Connection settings have no silent defaults; secrets never live in the
//! file (only the name of an environment variable or a command that prints
//! them).

use crate::secret::{self, Secret};
use anyhow::{anyhow, bail, Context, Result};
use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub operator: Operator,
    #[serde(default)]
    pub intake: Intake,
    pub imap: Option<Connection>,
    pub smtp: Option<Connection>,
    pub backend: Option<Backend>,
    #[serde(default)]
    pub store: Store,
    /// `[estimate]` as written; read only by [`Config::parse`], which
    /// validates it into `estimate`.
    #[serde(default, rename = "estimate")]
    estimate_config: crate::estimate::RatesConfig,
    /// The rates and calendar of `[estimate]`, validated once at load.
    #[serde(skip)]
    pub estimate: crate::estimate::Rates,
    /// Key bindings: action → key or keys (see `concierge --help` and `?`).
    #[serde(default)]
    pub keys: std::collections::BTreeMap<crate::keymap::Action, crate::keymap::KeySpec>,
    /// The file this was read from (for error messages).
    #[serde(skip)]
    pub path: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Operator {
    pub name: String,
    /// The operator's email: their identity in a team store.
    pub email: Option<String>,
}

impl Operator {
    /// The operator's identity in the store (audit actor, notes' author,
    /// claims): the email when set, else the name. Screens show the name.
    pub fn id(&self) -> String {
        match self.email.as_deref().map(str::trim) {
            Some(e) if !e.is_empty() => e.to_lowercase(),
            _ => self.name.clone(),
        }
    }
}

impl Default for Operator {
    fn default() -> Self {
        let name = std::env::var("USER").unwrap_or_else(|_| "operator".into());
        Operator { name, email: None }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    #[default]
    Imap,
    Maildir,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Intake {
    #[serde(default = "default_authserv_id")]
    pub authserv_id: String,
    #[serde(default)]
    pub source: SourceKind,
    pub maildir: Option<PathBuf>,
    /// Seconds between polls when the server has no IDLE.
    #[serde(default = "default_poll")]
    pub poll_seconds: u64,
}

impl Default for Intake {
    fn default() -> Self {
        Intake {
            authserv_id: default_authserv_id(),
            source: SourceKind::Imap,
            maildir: None,
            poll_seconds: default_poll(),
        }
    }
}

fn default_authserv_id() -> String {
    crate::intake::DEFAULT_AUTHSERV_ID.to_string()
}

fn default_poll() -> u64 {
    60
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    Tls,
    Starttls,
    None,
}

/// How `[imap]`/`[smtp]` log in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum AuthKind {
    /// LOGIN / AUTH PLAIN with the password.
    #[default]
    Password,
    /// OAuth 2.0 bearer token (RFC 7628 OAUTHBEARER, or Google's XOAUTH2).
    Oauth2,
}

/// An IMAP or SMTP connection (`[imap]`, `[smtp]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Connection {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub username: String,
    pub password_env: Option<String>,
    pub password_command: Option<String>,
    /// `password` (default) or `oauth2` (SASL OAUTHBEARER / XOAUTH2 with the
    /// access token `token_command` prints).
    #[serde(default)]
    pub auth: AuthKind,
    pub token_command: Option<String>,
    #[serde(default = "default_mailbox")]
    pub mailbox: String,
    pub ca_file: Option<PathBuf>,
    /// `[smtp]` only: the From of replies.
    pub from: Option<String>,
    /// `[imap]` only: where copies of sent replies go.
    pub sent_mailbox: Option<String>,
}

fn default_mailbox() -> String {
    "INBOX".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Backend {
    pub url: String,
    pub token_env: String,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Store {
    /// The solo store's SQLite file.
    pub path: Option<PathBuf>,
    /// A team store: `postgres://user@host/db?sslmode=verify-full`. The
    /// password never goes here: `password_env` or `password_command`.
    pub url: Option<String>,
    pub password_env: Option<String>,
    pub password_command: Option<String>,
    /// An extra trust anchor for the team store's TLS certificate.
    pub ca_file: Option<PathBuf>,
}

/// True for a loopback host name or address: the only place plaintext may go.
pub use crate::net::is_loopback;

/// Expands a leading `~/`.
pub fn expand_home(p: &Path) -> PathBuf {
    if let Ok(rest) = p.strip_prefix("~") {
        if let Some(home) = std::env::var_os("HOME") {
            return PathBuf::from(home).join(rest);
        }
    }
    p.to_path_buf()
}

/// The default config file: `$XDG_CONFIG_HOME/concierge/config.toml`.
pub fn default_path() -> Option<PathBuf> {
    directories::BaseDirs::new().map(|d| d.config_dir().join("concierge").join("config.toml"))
}

/// The default store: `$XDG_DATA_HOME/concierge/concierge.db`.
pub fn default_store_path() -> Option<PathBuf> {
    directories::BaseDirs::new().map(|d| d.data_dir().join("concierge").join("concierge.db"))
}

/// The key a toml error at byte `at` is about, as `[section] key` (or the
/// `[section]` alone when the error is about the whole table, e.g. a
/// missing key). `None` when the place is not a key or a table header.
fn key_at(text: &str, at: usize) -> Option<String> {
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let line = text[line_start..].lines().next().unwrap_or("").trim();
    let header = |l: &str| {
        l.strip_prefix('[')
            .and_then(|h| h.split(']').next())
            .map(|h| format!("[{}]", h.trim_matches(['[', ' '])))
    };
    if line.starts_with('[') {
        return header(line);
    }
    let key = line.split('=').next()?.trim().trim_matches('"');
    if key.is_empty() || !line.contains('=') {
        return None;
    }
    let section = text[..line_start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .and_then(header);
    Some(match section {
        Some(s) => format!("{s} {key}"),
        None => key.to_string(),
    })
}

/// toml's (serde's) wording, said for people: `expected u16` is a port.
fn plain_toml_message(msg: &str) -> String {
    let msg = msg
        .replace("expected u16", "expected a number from 1 to 65535")
        .replace("missing field", "missing key");
    ["u8", "u32", "u64", "i64", "usize"]
        .iter()
        .fold(msg, |m, t| {
            m.replace(&format!("expected {t}"), "expected a whole number")
        })
        .replace("expected f64", "expected a number")
        .replace(
            "missing key `security`",
            "missing key `security` (\"tls\", \"starttls\", or \"none\" to a loopback address)",
        )
}

impl Config {
    /// Loads `path`, or the default path; errors name the file.
    pub fn load(path: Option<&Path>) -> Result<Config> {
        let path = match path {
            Some(p) => p.to_path_buf(),
            None => default_path().ok_or_else(|| {
                anyhow!(
                    "cannot find the config directory: set XDG_CONFIG_HOME or pass --config FILE"
                )
            })?,
        };
        let text = std::fs::read_to_string(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                anyhow!(
                    "config file {} does not exist: run `concierge init` to write one (or pass --config FILE, or try `concierge demo`)",
                    path.display()
                )
            } else {
                anyhow!("cannot read config file {}: {e}", path.display())
            }
        })?;
        Self::parse(&text, &path)
    }

    /// Parses and validates config text read from `path`.
    pub fn parse(text: &str, path: &Path) -> Result<Config> {
        let mut cfg: Config = toml::from_str(text).map_err(|e| {
            // One line: the file, the line, the key, what was expected.
            let msg = plain_toml_message(e.message().trim());
            let Some(start) = e.span().map(|s| s.start.min(text.len())) else {
                return anyhow!("config file {}: {msg}", path.display());
            };
            let line = text[..start].matches('\n').count() + 1;
            match key_at(text, start) {
                Some(key) => anyhow!("config file {} (line {line}): {key}: {msg}", path.display()),
                None => anyhow!("config file {} (line {line}): {msg}", path.display()),
            }
        })?;
        cfg.path = path.to_path_buf();
        cfg.validate()?;
        Ok(cfg)
    }

    fn err(&self, key: &str, what: impl std::fmt::Display) -> anyhow::Error {
        anyhow!("config file {}: {key}: {what}", self.path.display())
    }

    fn validate(&mut self) -> Result<()> {
        if self.intake.authserv_id.trim().is_empty() {
            return Err(self.err("[intake] authserv_id", "must not be empty"));
        }
        if self.intake.source == SourceKind::Maildir && self.intake.maildir.is_none() {
            return Err(self.err(
                "[intake] maildir",
                "is required when source = \"maildir\" (a path to a Maildir folder)",
            ));
        }
        for (section, conn) in [("imap", &self.imap), ("smtp", &self.smtp)] {
            let Some(c) = conn else { continue };
            if c.host.trim().is_empty() {
                return Err(self.err(&format!("[{section}] host"), "must not be empty"));
            }
            if c.port == 0 {
                return Err(self.err(
                    &format!("[{section}] port"),
                    "must be a port number from 1 to 65535",
                ));
            }
            if c.security == Security::None && !is_loopback(&c.host) {
                return Err(self.err(
                    &format!("[{section}] security"),
                    format!("\"none\" (plaintext) is allowed only to a loopback address, not to {:?}; use \"tls\" or \"starttls\"", c.host),
                ));
            }
            if c.auth == AuthKind::Oauth2 {
                if c.token_command.is_none() {
                    return Err(self.err(&format!("[{section}] token_command"), "missing: auth = \"oauth2\" needs a command that prints a fresh access token (e.g. \"oama access you@example.com\")"));
                }
                if c.password_env.is_some() || c.password_command.is_some() {
                    return Err(self.err(&format!("[{section}] auth"), "\"oauth2\" logs in with token_command: remove password_env and password_command"));
                }
                if c.username.is_empty() {
                    return Err(self.err(
                        &format!("[{section}] username"),
                        "must not be empty with auth = \"oauth2\"",
                    ));
                }
                continue;
            }
            if c.token_command.is_some() {
                return Err(self.err(
                    &format!("[{section}] token_command"),
                    "is used only with auth = \"oauth2\"",
                ));
            }
            // SMTP without a username sends without AUTH (a local relay).
            let needs_password = section == "imap" || !c.username.is_empty();
            match (&c.password_env, &c.password_command) {
                (None, None) if !needs_password => {}
                (None, None) => {
                    let relay = if section == "smtp" {
                        "; for a relay without AUTH, set username = \"\""
                    } else {
                        ""
                    };
                    return Err(self.err(&format!("[{section}] password_env"), format!("missing: name an environment variable (password_env) or a command (password_command) that gives the password{relay}")));
                }
                (Some(_), Some(_)) => {
                    return Err(self.err(
                        &format!("[{section}] password_command"),
                        "set either password_env or password_command, not both",
                    ));
                }
                _ => {}
            }
        }
        self.validate_store()?;
        crate::keymap::KeyMap::with_overrides(&self.keys)
            .map_err(|e| anyhow!("config file {}: {e}", self.path.display()))?;
        self.estimate = self
            .estimate_config
            .validate()
            .map_err(|e| anyhow!("config file {}: {e}", self.path.display()))?;
        if let Some(b) = &self.backend {
            if !(b.url.starts_with("http://") || b.url.starts_with("https://")) {
                return Err(self.err(
                    "[backend] url",
                    format!("expected an http:// or https:// URL, got {:?}", b.url),
                ));
            }
        }
        Ok(())
    }

    /// The `[imap]` section, required when the inbox is IMAP.
    pub fn imap(&self) -> Result<&Connection> {
        self.imap.as_ref().ok_or_else(|| {
            self.err(
                "[imap]",
                "section missing (needed because [intake] source = \"imap\")",
            )
        })
    }

    fn validate_store(&self) -> Result<()> {
        let st = &self.store;
        let Some(url) = &st.url else {
            for (key, set) in [
                ("password_env", st.password_env.is_some()),
                ("password_command", st.password_command.is_some()),
                ("ca_file", st.ca_file.is_some()),
            ] {
                if set {
                    return Err(self.err(
                        &format!("[store] {key}"),
                        "is used only with [store] url (a team store on PostgreSQL)",
                    ));
                }
            }
            return Ok(());
        };
        // NOTE: the URL itself is never echoed: it might hold a password.
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(self.err("[store] url", "must start with postgres:// (e.g. postgres://concierge@db.internal/concierge?sslmode=verify-full)"));
        }
        if crate::store::pg::url_has_password(url) {
            return Err(self.err(
                "[store] url",
                "must not contain a password: use password_env or password_command",
            ));
        }
        if st.password_env.is_some() && st.password_command.is_some() {
            return Err(self.err(
                "[store] password_command",
                "set either password_env or password_command, not both",
            ));
        }
        Ok(())
    }

    /// The team store's connection, when `[store] url` is set; the password
    /// is read now, from `password_env` or `password_command`.
    pub fn store_target(&self) -> Result<Option<crate::store::pg::PgTarget>> {
        let st = &self.store;
        let Some(url) = &st.url else {
            return Ok(None);
        };
        let password = match (&st.password_env, &st.password_command) {
            (Some(var), _) => Some(secret::from_env(var).context("[store] password_env")?),
            (None, Some(cmd)) => {
                Some(secret::from_command(cmd).context("[store] password_command")?)
            }
            (None, None) => None,
        };
        Ok(Some(crate::store::pg::PgTarget {
            url: url.clone(),
            password,
            ca_file: st.ca_file.clone(),
        }))
    }

    /// Opens the configured store (team store when `[store] url` is set,
    /// else the SQLite file), migrated.
    pub fn open_store(&self) -> Result<crate::store::Store> {
        crate::store::Store::open_at(&self.store_location()?)
    }

    /// Where the store is: `[store] url` (a team store), else the file.
    pub fn store_location(&self) -> Result<crate::store::Location> {
        Ok(match self.store_target()? {
            Some(t) => crate::store::Location::Postgres(t),
            None => crate::store::Location::Sqlite(self.store_path()?),
        })
    }

    /// The store path: `[store] path` or the XDG data dir.
    pub fn store_path(&self) -> Result<PathBuf> {
        match &self.store.path {
            Some(p) => Ok(expand_home(p)),
            None => {
                default_store_path().context("cannot find the data directory: set [store] path")
            }
        }
    }
}

impl Connection {
    /// The password, from the environment or the command.
    /// The password, or with `auth = "oauth2"` a fresh access token (run
    /// `token_command` again for a new one).
    pub fn password(&self) -> Result<Secret> {
        if self.auth == AuthKind::Oauth2 {
            let cmd = self
                .token_command
                .as_deref()
                .ok_or_else(|| anyhow!("token_command is not set"))?;
            return secret::from_named_command(cmd, "token_command");
        }
        match (&self.password_env, &self.password_command) {
            (Some(var), _) => secret::from_env(var),
            (None, Some(cmd)) => secret::from_command(cmd),
            (None, None) => bail!("no password source configured"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config> {
        Config::parse(text, Path::new("/etc/c.toml"))
    }

    fn imap_with(login: &str) -> Result<Config> {
        parse(&format!(
            "[operator]\nname = \"Sam\"\n[intake]\nauthserv_id = \"mx.ochrehq.com\"\nsource = \"imap\"\n\
             [imap]\nhost = \"imap.example.com\"\nport = 993\nsecurity = \"tls\"\n\
             username = \"hello@ochrehq.com\"\n{login}\n"
        ))
    }

    #[test]
    fn oauth2_needs_a_token_command_and_no_password() {
        let ok = imap_with("auth = \"oauth2\"\ntoken_command = \"oama access hello@ochrehq.com\"")
            .unwrap();
        assert_eq!(ok.imap().unwrap().auth, AuthKind::Oauth2);
        let err = imap_with("auth = \"oauth2\"").unwrap_err().to_string();
        assert!(err.contains("[imap] token_command: missing"), "{err}");
        let err = imap_with("auth = \"oauth2\"\ntoken_command = \"x\"\npassword_env = \"P\"")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("[imap] auth") && err.contains("remove password_env"),
            "{err}"
        );
        let err = imap_with("password_env = \"P\"\ntoken_command = \"x\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("only with auth = \"oauth2\""), "{err}");
        let err = imap_with("auth = \"kerberos\"").unwrap_err().to_string();
        assert!(
            err.contains("kerberos") || err.contains("unknown variant"),
            "{err}"
        );
    }

    #[test]
    fn full_example_parses() {
        let c = parse(
            r#"
[operator]
name = "Sam"
[intake]
authserv_id = "mx.ochrehq.com"
source = "imap"
[imap]
host = "imap.example.com"
port = 993
security = "tls"
username = "hello@ochrehq.com"
password_env = "CONCIERGE_IMAP_PASSWORD"
mailbox = "INBOX"
[backend]
url = "https://exports.internal.example"
token_env = "CONCIERGE_BACKEND_TOKEN"
[store]
path = "~/x.db"
"#,
        )
        .unwrap();
        assert_eq!(c.operator.name, "Sam");
        assert_eq!(c.imap().unwrap().port, 993);
        assert!(!c.store_path().unwrap().starts_with("~"));
    }

    #[test]
    fn the_operator_is_known_by_email_and_falls_back_to_the_name() {
        let c = parse("[operator]\nname = \"Kim\"\nemail = \" Kim@OchreHQ.com \"\n").unwrap();
        assert_eq!(c.operator.id(), "kim@ochrehq.com");
        assert_eq!(c.operator.name, "Kim");
        let c = parse("[operator]\nname = \"Kim\"\n").unwrap();
        assert_eq!(c.operator.id(), "Kim");
    }

    #[test]
    fn plaintext_to_remote_host_is_refused() {
        let e = parse("[imap]\nhost = \"imap.example.com\"\nport = 143\nsecurity = \"none\"\nusername = \"u\"\npassword_env = \"P\"\n").unwrap_err();
        let m = e.to_string();
        assert!(
            m.contains("/etc/c.toml") && m.contains("[imap] security") && m.contains("loopback"),
            "{m}"
        );
    }

    #[test]
    fn unknown_key_names_the_key_and_line() {
        let m = parse("[imap]\nhots = \"x\"\n").unwrap_err().to_string();
        assert!(
            m.contains("hots") && m.contains("line 2") && m.contains("/etc/c.toml"),
            "{m}"
        );
    }

    #[test]
    fn wrong_type_and_missing_key() {
        let m = parse("[imap]\nhost = \"h\"\nport = \"993\"\nsecurity = \"tls\"\nusername = \"u\"\npassword_env = \"P\"\n").unwrap_err().to_string();
        assert!(m.contains("line 3"), "{m}");
        // The key by its table, and what it should be, in words.
        assert!(
            m.contains("[imap] port: ") && m.contains("expected a number from 1 to 65535"),
            "{m}"
        );
        let m = parse("[operator]\nname = \"Sam\"\n[smtp]\nhost = \"h\"\nport = 587\n")
            .unwrap_err()
            .to_string();
        assert!(
            m.contains("line 3") && m.contains("[smtp]: missing key `security`"),
            "{m}"
        );
        let m = parse(
            "[imap]\nhost = \"h\"\nsecurity = \"tls\"\nusername = \"u\"\npassword_env = \"P\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(m.contains("port"), "{m}");
        let m = parse("[imap]\nhost = \"h\"\nport = 993\nsecurity = \"ssl\"\nusername = \"u\"\npassword_env = \"P\"\n").unwrap_err().to_string();
        assert!(m.contains("security") || m.contains("ssl"), "{m}");
        let m = parse("[imap]\nhost = \"h\"\nport = 993\nsecurity = \"tls\"\nusername = \"u\"\n")
            .unwrap_err()
            .to_string();
        assert!(m.contains("password_env"), "{m}");
    }

    #[test]
    fn the_calendar_is_validated_once_at_load_and_a_bad_one_names_its_key() {
        let c = parse("[estimate]\ntimezone = \"Europe/Berlin\"\nholidays = [\"2026-12-25\"]\n")
            .unwrap();
        let cal = c.estimate.calendar();
        assert_eq!(cal.tz(), chrono_tz::Tz::Europe__Berlin);
        let xmas = chrono::NaiveDate::from_ymd_opt(2026, 12, 25).unwrap();
        assert!(!cal.is_business_day(xmas));
        let m = parse("[estimate]\nday_start = \"9am\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            m.contains("/etc/c.toml") && m.contains("[estimate] day_start"),
            "{m}"
        );
    }

    #[test]
    fn maildir_source_needs_a_path() {
        let m = parse("[intake]\nsource = \"maildir\"\n")
            .unwrap_err()
            .to_string();
        assert!(m.contains("[intake] maildir"), "{m}");
    }

    #[test]
    fn loopback_detection() {
        assert!(is_loopback("127.0.0.1") && is_loopback("localhost") && is_loopback("[::1]"));
        assert!(!is_loopback("10.0.0.1") && !is_loopback("imap.example.com"));
    }
}

//! `concierge init`: writes a first config by asking, in the terminal, for
//! what it needs (or, with `--non-interactive`, from flags and
//! `CONCIERGE_INIT_*` environment variables), trying each connection as it
//! goes with the same probes as `concierge check`.
//!
//! - The file goes to `--config FILE` or `$XDG_CONFIG_HOME/concierge/config.toml`,
//!   created with mode 0600 (it names where secrets come from, and later
//!   edits may add more) in a directory created 0700.
//! - An existing file is never replaced without a "yes" (or `--force`); the
//!   new text is written to a temporary file beside it and renamed over it,
//!   so an interrupted init leaves the old file whole.
//! - Secrets are never asked for: only the environment variable name or the
//!   command that prints them.

use super::template::{self, Answers, TeamStore};
use super::{probe, Line};
use crate::config::{Backend, Connection, Security};
use anyhow::{anyhow, bail, Context, Result};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

/// `concierge init` flags. Every one can also come from the environment
/// variable named in its help, for scripted set-up.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct InitArgs {
    /// Ask nothing: take every answer from flags or CONCIERGE_INIT_* variables.
    #[arg(long)]
    pub non_interactive: bool,
    /// Replace an existing config without asking.
    #[arg(long)]
    pub force: bool,
    /// Do not try the connections.
    #[arg(long)]
    pub skip_checks: bool,
    #[arg(long, env = "CONCIERGE_INIT_OPERATOR_NAME", value_name = "NAME")]
    pub operator_name: Option<String>,
    #[arg(long, env = "CONCIERGE_INIT_OPERATOR_EMAIL", value_name = "EMAIL")]
    pub operator_email: Option<String>,
    /// The only Authentication-Results authserv-id to trust (your MX).
    #[arg(long, env = "CONCIERGE_INIT_AUTHSERV_ID", value_name = "ID")]
    pub authserv_id: Option<String>,
    #[arg(long, env = "CONCIERGE_INIT_IMAP_HOST", value_name = "HOST")]
    pub imap_host: Option<String>,
    /// Default: 993 with tls, 143 with starttls.
    #[arg(long, env = "CONCIERGE_INIT_IMAP_PORT", value_name = "PORT")]
    pub imap_port: Option<u16>,
    /// tls (default), starttls, or none (loopback only).
    #[arg(long, env = "CONCIERGE_INIT_IMAP_SECURITY", value_name = "SECURITY")]
    pub imap_security: Option<String>,
    #[arg(long, env = "CONCIERGE_INIT_IMAP_USERNAME", value_name = "USER")]
    pub imap_username: Option<String>,
    /// The environment variable holding the IMAP password (default CONCIERGE_IMAP_PASSWORD).
    #[arg(long, env = "CONCIERGE_INIT_IMAP_PASSWORD_ENV", value_name = "VAR")]
    pub imap_password_env: Option<String>,
    /// A command printing the IMAP password (instead of --imap-password-env).
    #[arg(
        long,
        env = "CONCIERGE_INIT_IMAP_PASSWORD_COMMAND",
        value_name = "CMD",
        conflicts_with = "imap_password_env"
    )]
    pub imap_password_command: Option<String>,
    #[arg(long, env = "CONCIERGE_INIT_IMAP_MAILBOX", value_name = "MAILBOX")]
    pub imap_mailbox: Option<String>,
    /// An extra CA (PEM) to trust for IMAP and SMTP, for a private CA.
    #[arg(long, env = "CONCIERGE_INIT_CA_FILE", value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// Default: the IMAP host.
    #[arg(long, env = "CONCIERGE_INIT_SMTP_HOST", value_name = "HOST")]
    pub smtp_host: Option<String>,
    /// Default: 587 with starttls, 465 with tls.
    #[arg(long, env = "CONCIERGE_INIT_SMTP_PORT", value_name = "PORT")]
    pub smtp_port: Option<u16>,
    /// starttls (default), tls, or none (loopback only).
    #[arg(long, env = "CONCIERGE_INIT_SMTP_SECURITY", value_name = "SECURITY")]
    pub smtp_security: Option<String>,
    /// Default: the IMAP username; empty sends without AUTH.
    #[arg(long, env = "CONCIERGE_INIT_SMTP_USERNAME", value_name = "USER")]
    pub smtp_username: Option<String>,
    /// Default: the IMAP password's variable.
    #[arg(long, env = "CONCIERGE_INIT_SMTP_PASSWORD_ENV", value_name = "VAR")]
    pub smtp_password_env: Option<String>,
    #[arg(
        long,
        env = "CONCIERGE_INIT_SMTP_PASSWORD_COMMAND",
        value_name = "CMD",
        conflicts_with = "smtp_password_env"
    )]
    pub smtp_password_command: Option<String>,
    /// The From of replies (default: Ochre Concierge <IMAP username>).
    #[arg(long, env = "CONCIERGE_INIT_SMTP_FROM", value_name = "ADDRESS")]
    pub smtp_from: Option<String>,
    #[arg(long, env = "CONCIERGE_INIT_BACKEND_URL", value_name = "URL")]
    pub backend_url: Option<String>,
    /// Default: CONCIERGE_BACKEND_TOKEN.
    #[arg(long, env = "CONCIERGE_INIT_BACKEND_TOKEN_ENV", value_name = "VAR")]
    pub backend_token_env: Option<String>,
    /// The solo store's file (default: $XDG_DATA_HOME/concierge/concierge.db).
    #[arg(long, env = "CONCIERGE_INIT_STORE_PATH", value_name = "FILE")]
    pub store_path: Option<PathBuf>,
    /// A team store shared by every operator: postgres://user@host/db
    /// (no password in it). Empty: the solo store above.
    #[arg(long, env = "CONCIERGE_INIT_STORE_URL", value_name = "URL")]
    pub store_url: Option<String>,
    /// The variable holding the team store's password
    /// (default: CONCIERGE_STORE_PASSWORD).
    #[arg(long, env = "CONCIERGE_INIT_STORE_PASSWORD_ENV", value_name = "VAR")]
    pub store_password_env: Option<String>,
    /// An extra CA (PEM) for the team store's TLS certificate.
    #[arg(long, env = "CONCIERGE_INIT_STORE_CA_FILE", value_name = "FILE")]
    pub store_ca_file: Option<PathBuf>,
}

/// Where the answers come from: the terminal, or nowhere (flags only).
pub struct Prompter<'a> {
    input: Option<&'a mut dyn BufRead>,
    out: &'a mut dyn Write,
}

impl<'a> Prompter<'a> {
    pub fn new(input: Option<&'a mut dyn BufRead>, out: &'a mut dyn Write) -> Self {
        Prompter { input, out }
    }

    fn say(&mut self, text: &str) -> Result<()> {
        writeln!(self.out, "{text}")?;
        Ok(())
    }

    /// Asks `label`; an empty answer takes `default`. Without a terminal,
    /// the flag's value (`given`) or the default is taken, and a missing
    /// required one is an error naming the flag.
    fn ask(
        &mut self,
        label: &str,
        given: Option<String>,
        default: Option<&str>,
        flag: &str,
    ) -> Result<String> {
        let Some(input) = self.input.as_mut() else {
            return given
                .or_else(|| default.map(str::to_string))
                .ok_or_else(|| {
                    anyhow!(
                        "--{flag} is required with --non-interactive (or set CONCIERGE_INIT_{})",
                        flag.to_uppercase().replace('-', "_")
                    )
                });
        };
        let default = given.as_deref().or(default);
        loop {
            match default {
                Some(d) if !d.is_empty() => write!(self.out, "{label} [{d}]: ")?,
                _ => write!(self.out, "{label}: ")?,
            }
            self.out.flush()?;
            let mut line = String::new();
            if input.read_line(&mut line)? == 0 {
                bail!("the input ended before init was done; nothing was written");
            }
            let answer = line.trim();
            if !answer.is_empty() {
                return Ok(answer.to_string());
            }
            if let Some(d) = default {
                return Ok(d.to_string());
            }
            writeln!(self.out, "  (an answer is needed)")?;
        }
    }

    /// A yes/no question; without a terminal, `otherwise`.
    fn confirm(&mut self, question: &str, default_yes: bool, otherwise: bool) -> Result<bool> {
        if self.input.is_none() {
            return Ok(otherwise);
        }
        let hint = if default_yes { "Y/n" } else { "y/N" };
        let a = self.ask(&format!("{question} ({hint})"), None, Some(""), "")?;
        Ok(match a.to_ascii_lowercase().as_str() {
            "" => default_yes,
            a => a.starts_with('y'),
        })
    }

    fn interactive(&self) -> bool {
        self.input.is_some()
    }
}

fn parse_security(s: &str, section: &str) -> Result<Security> {
    match s.trim().to_ascii_lowercase().as_str() {
        "tls" | "ssl" => Ok(Security::Tls),
        "starttls" => Ok(Security::Starttls),
        "none" | "plain" => Ok(Security::None),
        other => bail!("{section} security {other:?}: answer tls, starttls or none"),
    }
}

fn parse_port(s: &str, section: &str) -> Result<u16> {
    s.trim()
        .parse::<u16>()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| anyhow!("{section} port {s:?}: a number from 1 to 65535"))
}

/// Asks again until `parse` accepts the answer (interactive), or fails.
fn ask_parsed<T>(
    p: &mut Prompter,
    label: &str,
    given: Option<String>,
    default: Option<&str>,
    flag: &str,
    parse: impl Fn(&str) -> Result<T>,
) -> Result<T> {
    let mut given = given;
    loop {
        let a = p.ask(label, given.take(), default, flag)?;
        match parse(&a) {
            Ok(v) => return Ok(v),
            Err(e) if p.interactive() => p.say(&format!("  {e}"))?,
            Err(e) => return Err(e),
        }
    }
}

/// How a password is obtained: `(password_env, password_command)`.
fn ask_secret(
    p: &mut Prompter,
    what: &str,
    env: Option<String>,
    command: Option<String>,
    default_env: &str,
    flag: &str,
) -> Result<(Option<String>, Option<String>)> {
    if let Some(cmd) = command {
        return Ok((None, Some(cmd)));
    }
    let a = p.ask(
        &format!("{what}: an environment variable's name, or a command starting with `!` (never the password)"),
        env,
        Some(default_env),
        flag,
    )?;
    match a.strip_prefix('!') {
        Some(cmd) if !cmd.trim().is_empty() => Ok((None, Some(cmd.trim().to_string()))),
        _ if a.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => Ok((Some(a), None)),
        _ => bail!(
            "{what}: {a:?} is not a variable name (letters, digits, _); start a command with `!`"
        ),
    }
}

/// Prints probe lines; true when all passed.
fn show(p: &mut Prompter, lines: &[Line]) -> Result<bool> {
    for l in lines {
        p.say(&format!("  {}", l.render()))?;
    }
    Ok(lines.iter().all(|l| l.ok))
}

fn ask_imap(p: &mut Prompter, a: &InitArgs, prev: Option<&Connection>) -> Result<Connection> {
    let host = p.ask(
        "IMAP server",
        a.imap_host.clone().or(prev.map(|c| c.host.clone())),
        None,
        "imap-host",
    )?;
    let security = ask_parsed(
        p,
        "IMAP security: tls, starttls or none",
        a.imap_security.clone(),
        Some(prev.map_or("tls", |c| sec_word(c.security))),
        "imap-security",
        |s| parse_security(s, "IMAP"),
    )?;
    // RFC 8314: 993 is implicit TLS; 143 is STARTTLS (or plaintext, loopback only).
    let default_port = if security == Security::Tls {
        "993"
    } else {
        "143"
    };
    let port = ask_parsed(
        p,
        "IMAP port",
        a.imap_port.map(|x| x.to_string()),
        Some(default_port),
        "imap-port",
        |s| parse_port(s, "IMAP"),
    )?;
    let username = p.ask(
        "IMAP username",
        a.imap_username.clone().or(prev.map(|c| c.username.clone())),
        None,
        "imap-username",
    )?;
    let (password_env, password_command) = ask_secret(
        p,
        "IMAP password",
        a.imap_password_env.clone(),
        a.imap_password_command.clone(),
        "CONCIERGE_IMAP_PASSWORD",
        "imap-password-env",
    )?;
    let mailbox = p.ask(
        "Mailbox where requests arrive",
        a.imap_mailbox.clone(),
        Some("INBOX"),
        "imap-mailbox",
    )?;
    let ca_file = if security == Security::None {
        None
    } else {
        ask_ca(
            p,
            a.ca_file.clone().or(prev.and_then(|c| c.ca_file.clone())),
        )?
    };
    Ok(Connection {
        host,
        port,
        security,
        username,
        password_env,
        password_command,
        auth: Default::default(),
        token_command: None,
        mailbox,
        ca_file,
        from: None,
        sent_mailbox: None,
    })
}

/// An extra CA to trust; it must be a readable file.
fn ask_ca(p: &mut Prompter, given: Option<PathBuf>) -> Result<Option<PathBuf>> {
    let given = given.map(|c| c.display().to_string());
    let path = ask_parsed(
        p,
        "Extra CA certificate to trust, for a private CA (PEM file; Enter for none)",
        given,
        Some(""),
        "ca-file",
        |s| match s {
            "" => Ok(None),
            s if crate::config::expand_home(Path::new(s)).is_file() => Ok(Some(PathBuf::from(s))),
            s => bail!("{s} is not a readable file"),
        },
    )?;
    Ok(path)
}

fn sec_word(s: Security) -> &'static str {
    match s {
        Security::Tls => "tls",
        Security::Starttls => "starttls",
        Security::None => "none",
    }
}

fn ask_smtp(p: &mut Prompter, a: &InitArgs, imap: &Connection) -> Result<Connection> {
    let host = p.ask(
        "SMTP server",
        a.smtp_host.clone(),
        Some(&imap.host),
        "smtp-host",
    )?;
    let security = ask_parsed(
        p,
        "SMTP security: starttls, tls or none",
        a.smtp_security.clone(),
        Some("starttls"),
        "smtp-security",
        |s| parse_security(s, "SMTP"),
    )?;
    let default_port = match security {
        Security::Tls => "465",
        Security::Starttls => "587",
        Security::None => "25",
    };
    let port = ask_parsed(
        p,
        "SMTP port",
        a.smtp_port.map(|x| x.to_string()),
        Some(default_port),
        "smtp-port",
        |s| parse_port(s, "SMTP"),
    )?;
    let username = p.ask(
        "SMTP username (`-` for none: a relay without AUTH)",
        a.smtp_username.clone(),
        Some(&imap.username),
        "smtp-username",
    )?;
    let username = if username == "-" {
        String::new()
    } else {
        username
    };
    let (password_env, password_command) = if username.is_empty() {
        (None, None)
    } else if a.smtp_password_env.is_none() && a.smtp_password_command.is_none() && !p.interactive()
    {
        (imap.password_env.clone(), imap.password_command.clone())
    } else {
        let default = imap
            .password_env
            .clone()
            .unwrap_or_else(|| "CONCIERGE_SMTP_PASSWORD".into());
        ask_secret(
            p,
            "SMTP password",
            a.smtp_password_env.clone(),
            a.smtp_password_command.clone(),
            &default,
            "smtp-password-env",
        )?
    };
    // The IMAP login is often the support address itself.
    let default_from = imap
        .username
        .contains('@')
        .then(|| format!("Ochre Concierge <{}>", imap.username));
    let from = ask_parsed(
        p,
        "From address of replies, e.g. Ochre Concierge <hello@ochrehq.com>",
        a.smtp_from.clone(),
        default_from.as_deref(),
        "smtp-from",
        |s| {
            s.parse::<lettre::message::Mailbox>()
                .map(|_| s.to_string())
                .map_err(|e| anyhow!("{s:?} is not an address ({e})"))
        },
    )?;
    Ok(Connection {
        host,
        port,
        security,
        username,
        password_env,
        password_command,
        auth: Default::default(),
        token_command: None,
        mailbox: "INBOX".into(),
        ca_file: a.ca_file.clone().or(imap.ca_file.clone()),
        from: Some(from),
        sent_mailbox: None,
    })
}

/// Asks for one section until its probes pass or the person moves on.
fn section<T>(
    p: &mut Prompter,
    checks: bool,
    mut ask: impl FnMut(&mut Prompter, Option<&T>) -> Result<T>,
    probe: impl Fn(&T) -> Vec<Line>,
) -> Result<T> {
    let mut prev: Option<T> = None;
    loop {
        let value = ask(p, prev.as_ref())?;
        if !checks {
            return Ok(value);
        }
        p.say("  trying it…")?;
        let passed = show(p, &probe(&value))?;
        if passed || !p.confirm("  Change these settings?", true, false)? {
            return Ok(value);
        }
        prev = Some(value);
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Collects every answer (asking where there is a terminal).
pub fn collect(p: &mut Prompter, a: &InitArgs) -> Result<Answers> {
    let checks = !a.skip_checks;
    let user = std::env::var("USER").ok();
    p.say("You")?;
    let operator_name = p.ask(
        "Your name (shown on notes and in the audit log)",
        a.operator_name.clone(),
        user.as_deref(),
        "operator-name",
    )?;
    let operator_email = p.ask(
        "Your email",
        a.operator_email.clone(),
        Some(""),
        "operator-email",
    )?;
    let authserv_id = p.ask(
        "Your mail server's authserv-id (the Authentication-Results to trust)",
        a.authserv_id.clone(),
        Some(crate::intake::DEFAULT_AUTHSERV_ID),
        "authserv-id",
    )?;
    p.say("\nInbox (IMAP)")?;
    let imap = section(
        p,
        checks,
        |p, prev| ask_imap(p, a, prev),
        |c| {
            let (line, pw) = probe::password("imap.secret", "imap", c);
            let mut lines = vec![line];
            lines.extend(probe::imap(c, pw.as_ref()));
            lines
        },
    )?;
    p.say("\nSending replies (SMTP)")?;
    let rt = runtime()?;
    let smtp = section(
        p,
        checks,
        |p, _| ask_smtp(p, a, &imap),
        |c| {
            let mut lines = Vec::new();
            let pw = if c.username.is_empty() {
                None
            } else {
                let (line, pw) = probe::password("smtp.secret", "smtp", c);
                lines.push(line);
                pw
            };
            lines.extend(rt.block_on(probe::smtp(c, pw.as_ref())));
            lines
        },
    )?;
    p.say("\nExport backend")?;
    let backend = section(
        p,
        checks,
        |p, prev: Option<&Backend>| {
            let url = p.ask(
                "Backend URL",
                a.backend_url.clone().or(prev.map(|b| b.url.clone())),
                None,
                "backend-url",
            )?;
            let token_env = p.ask(
                "Environment variable holding its API token",
                a.backend_token_env.clone(),
                Some("CONCIERGE_BACKEND_TOKEN"),
                "backend-token-env",
            )?;
            Ok(Backend { url, token_env })
        },
        |b| {
            let (line, token) = probe::token(b);
            let mut lines = vec![line];
            lines.extend(rt.block_on(probe::backend(b, token, &operator_name)));
            lines
        },
    )?;
    p.say("\nStore")?;
    let default_store = crate::config::default_store_path().map(|p| p.display().to_string());
    let store = p.ask(
        "Solo store file (SQLite)",
        a.store_path.as_ref().map(|p| p.display().to_string()),
        default_store.as_deref(),
        "store-path",
    )?;
    let store_path = match &default_store {
        Some(d) if *d == store => None,
        _ => Some(PathBuf::from(store)),
    };
    let team = ask_team(p, a, checks)?;
    Ok(Answers {
        operator_name,
        operator_email: Some(operator_email).filter(|e| !e.is_empty()),
        authserv_id,
        imap,
        smtp,
        backend,
        store_path,
        team,
    })
}

/// The team store (PostgreSQL), when the operator joins one: its URL, the
/// variable holding its password, tried on the way like the other sections.
fn ask_team(p: &mut Prompter, a: &InitArgs, checks: bool) -> Result<Option<TeamStore>> {
    section(
        p,
        checks,
        |p, prev: Option<&Option<TeamStore>>| {
            let prev = prev.and_then(|t| t.as_ref());
            let url = p.ask(
                "Team store URL (postgres://user@host/db; empty: the solo store)",
                a.store_url.clone().or_else(|| prev.map(|t| t.url.clone())),
                Some(""),
                "store-url",
            )?;
            if url.is_empty() {
                return Ok(None);
            }
            if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                bail!("--store-url: a team store URL starts with postgres://");
            }
            let password_env = p.ask(
                "Its password's environment variable",
                a.store_password_env
                    .clone()
                    .or_else(|| prev.map(|t| t.password_env.clone())),
                Some("CONCIERGE_STORE_PASSWORD"),
                "store-password-env",
            )?;
            Ok(Some(TeamStore {
                url,
                password_env,
                ca_file: a.store_ca_file.clone(),
            }))
        },
        |t| match t {
            None => vec![],
            Some(t) => vec![probe_team(t)],
        },
    )
}

/// Connects to the team store and brings its schema up to date: the same
/// path the screen takes when it starts.
fn probe_team(t: &TeamStore) -> Line {
    let password = match crate::secret::from_env(&t.password_env) {
        Ok(pw) => Some(pw),
        Err(_) => {
            return Line::fail(
                "store.team",
                format!(
                    "{} is not set: export the team store's password there",
                    t.password_env
                ),
            )
        }
    };
    let target = crate::store::pg::PgTarget {
        url: t.url.clone(),
        password,
        ca_file: t.ca_file.clone(),
    };
    let at = crate::store::Location::Postgres(target.clone());
    match crate::store::Store::open_at(&at) {
        Ok(s) => match s.request_count() {
            Ok(n) => Line::ok("store.team", format!("team store reached: {n} requests")),
            Err(e) => Line::fail("store.team", format!("team store: {e:#}")),
        },
        Err(e) => Line::fail("store.team", super::probe::team_store_failure(&target, &e)),
    }
}

/// Writes `text` to `path` with mode 0600: straight to a new file, or via a
/// temporary file renamed over an existing one.
pub fn write_private(path: &Path, text: &str, replace: bool) -> Result<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create {}", dir.display()))?;
    let target = if replace {
        dir.join(format!(
            ".{}.init-{}",
            path.file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("config"),
            std::process::id()
        ))
    } else {
        path.to_path_buf()
    };
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&target)
        .with_context(|| format!("cannot create {}", target.display()))?;
    f.write_all(text.as_bytes())
        .and_then(|_| f.sync_all())
        .with_context(|| format!("cannot write {}", target.display()))?;
    if replace {
        std::fs::rename(&target, path)
            .with_context(|| format!("cannot replace {}", path.display()))?;
    }
    Ok(())
}

/// `concierge init`: returns the exit code.
pub fn run<'a>(
    config: Option<&Path>,
    a: &InitArgs,
    input: Option<&'a mut dyn BufRead>,
    out: &'a mut dyn Write,
) -> Result<i32> {
    let path = match config {
        Some(p) => p.to_path_buf(),
        None => crate::config::default_path().context(
            "cannot find the config directory: set XDG_CONFIG_HOME or pass --config FILE",
        )?,
    };
    let mut p = Prompter::new(if a.non_interactive { None } else { input }, out);
    let exists = path.exists();
    if exists && !a.force {
        let replace = p.confirm(
            &format!("{} exists. Replace it?", path.display()),
            false,
            false,
        )?;
        if !replace {
            p.say(&format!(
                "kept {}; nothing written (`--force` replaces it)",
                path.display()
            ))?;
            return Ok(1);
        }
    }
    p.say(&format!(
        "Writing {}. Press Enter to take the value in [brackets].\n",
        path.display()
    ))?;
    let answers = collect(&mut p, a)?;
    let text = template::render(&answers, &chrono::Utc::now().format("%Y-%m-%d").to_string());
    // The loader is the judge: a file it would refuse is never written.
    crate::config::Config::parse(&text, &path)?;
    write_private(&path, &text, exists)?;
    p.say(&format!("\nwrote {} (mode 0600)", path.display()))?;
    p.say("next: `concierge check` tries every setting; then `concierge` opens the screen")?;
    Ok(0)
}

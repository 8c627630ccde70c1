//! `concierge init` in a real terminal (issue 13): tmux runs it, and each
//! answer is typed only once its prompt is on the screen, as a new team
//! member would. The servers are the real ones (Dovecot over IMAPS with the
//! test CA, the aiosmtpd sink with STARTTLS, the reference backend); the
//! file it writes is read back with the real config loader, and must be
//! private (mode 0600).

use concierge_test_support as support;
use concierge_test_support::backend as backend_support;
use concierge_test_support::screen as screen_support;

use concierge::config::{Config, Security};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

/// The last line of the screen with text on it, trailing blanks trimmed.
fn last_line(screen: &str) -> &str {
    screen
        .lines()
        .map(str::trim_end)
        .rfind(|l| !l.is_empty())
        .unwrap_or("")
}

/// Waits for the prompt that starts with `label` to be the last line (and
/// still unanswered: it ends with the `: ` of a question), then types
/// `answer` and Enter.
fn answer(pty: &screen_support::Pty, label: &str, answer: &str) {
    pty.wait_screen(
        &format!("the prompt {label:?}"),
        Duration::from_secs(60),
        |s| {
            let l = last_line(s);
            l.starts_with(label) && l.ends_with(':')
        },
    );
    if !answer.is_empty() {
        pty.text(answer);
    }
    pty.keys(&["Enter"]);
}

#[test]
fn init_typed_at_its_prompts_in_a_terminal_writes_a_private_config() {
    let servers = support::servers::Servers::start();
    let (home, dovecot, smtp, backend) = (
        &servers.dir,
        &servers.dovecot,
        &servers.smtp,
        &servers.backend,
    );
    let ca = dovecot.ca_file().display().to_string();
    let config_home = home.path().join("config");
    let data_home = home.path().join("data");
    let env = [
        ("XDG_CONFIG_HOME", config_home.to_str().unwrap()),
        ("XDG_DATA_HOME", data_home.to_str().unwrap()),
        ("INIT_PTY_IMAP_PASSWORD", dovecot.password()),
        ("CONCIERGE_BACKEND_TOKEN", backend_support::TOKEN),
        ("TERM", "xterm-256color"),
    ];
    let pty_dir = home.path().join("pty");
    std::fs::create_dir_all(&pty_dir).unwrap();
    let mut pty = screen_support::Pty::new(&pty_dir);
    // Wide enough that no prompt wraps.
    pty.spawn_sized(&["init"], &env, 250, 50);

    let (imaps, smtp_port) = (dovecot.imaps_port().to_string(), smtp.port().to_string());
    let answers: [(&str, &str); 19] = [
        ("Your name", "Tess Terminal"),
        ("Your email", "tess@ochrehq.com"),
        ("Your mail server's authserv-id", ""),
        ("IMAP server", "127.0.0.1"),
        ("IMAP security", ""),
        ("IMAP port [993]", &imaps),
        ("IMAP username", "concierge"),
        ("IMAP password", "INIT_PTY_IMAP_PASSWORD"),
        ("Mailbox where requests arrive [INBOX]", ""),
        ("Extra CA certificate", &ca),
        ("SMTP server [127.0.0.1]", ""),
        ("SMTP security", ""),
        ("SMTP port [587]", &smtp_port),
        ("SMTP username", "-"),
        (
            "From address of replies",
            "Tess at Ochre <hello@ochrehq.com>",
        ),
        ("Backend URL", &backend.url),
        (
            "Environment variable holding its API token [CONCIERGE_BACKEND_TOKEN]",
            "",
        ),
        ("Solo store file", ""),
        ("Team store URL", ""),
    ];
    for (label, a) in answers {
        answer(&pty, label, a);
    }
    let code = pty.wait_exit(Duration::from_secs(60));
    assert_eq!(code, 0, "init failed: {}", pty.stderr());

    let path = config_home.join("concierge/config.toml");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the config is readable by others");
    let cfg = Config::load(Some(&path)).unwrap();
    assert_eq!(cfg.operator.name, "Tess Terminal");
    assert_eq!(cfg.operator.email.as_deref(), Some("tess@ochrehq.com"));
    let imap = cfg.imap().unwrap();
    assert_eq!(
        (imap.host.as_str(), imap.port, imap.security),
        ("127.0.0.1", dovecot.imaps_port(), Security::Tls)
    );
    assert_eq!(imap.username, "concierge");
    assert_eq!(imap.password_env.as_deref(), Some("INIT_PTY_IMAP_PASSWORD"));
    assert_eq!(imap.ca_file.as_deref(), Some(Path::new(&ca)));
    let smtp_cfg = cfg.smtp.as_ref().unwrap();
    assert_eq!(
        (smtp_cfg.port, smtp_cfg.security),
        (smtp.port(), Security::Starttls)
    );
    assert_eq!(
        smtp_cfg.from.as_deref(),
        Some("Tess at Ochre <hello@ochrehq.com>")
    );
    let b = cfg.backend.as_ref().unwrap();
    assert_eq!(b.url, backend.url);
    assert_eq!(b.token_env, "CONCIERGE_BACKEND_TOKEN");
    // No secret in the file: only where to get it.
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains(dovecot.password()), "{text}");
    assert!(!text.contains(backend_support::TOKEN), "{text}");

    // Again in the same terminal: it asks before replacing, and "n" keeps
    // the file as it was.
    pty.spawn_sized(&["init"], &env, 250, 50);
    pty.wait_screen("the replace question", Duration::from_secs(30), |s| {
        last_line(s).contains("Replace it?")
    });
    pty.text("n");
    pty.keys(&["Enter"]);
    assert_eq!(pty.wait_exit(Duration::from_secs(30)), 1);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
}

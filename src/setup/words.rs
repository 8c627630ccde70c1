//! Why a connection failed, in words: what `check` and `init` say instead
//! of "(os error 111)".
//!
//! The cause is read from the error's kind where the error is ours
//! ([`std::io::ErrorKind`] of a connect), and from the text of an error
//! chain where a library wraps it (reqwest, the PostgreSQL client, lettre,
//! rustls): those keep the OS's words ("Connection refused (os error
//! 111)") or rustls' ("InvalidContentType") deep inside. An error whose
//! cause is not recognised keeps its own text: there the OS detail is all
//! there is to say.

use std::io::ErrorKind;

/// A connection failure a new user can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// ECONNREFUSED (os error 111): the host answered, no one listens.
    Refused,
    /// ETIMEDOUT (110), or our own connect timeout: no answer at all.
    TimedOut,
    /// EHOSTUNREACH (113) / ENETUNREACH (101).
    NoRoute,
    /// ECONNRESET (104): accepted, then closed at once.
    Reset,
    /// DNS answered: no such name (EAI_NONAME).
    NoSuchHost,
    /// DNS could not be asked (EAI_AGAIN: "Temporary failure in name resolution").
    NoDns,
    /// The TLS handshake read something that is not TLS (rustls
    /// `InvalidContentType`, OpenSSL "wrong version number"): the port
    /// speaks plaintext.
    NotTls,
}

/// The cause of a connect's I/O error, from its kind.
pub fn of_io(e: &std::io::Error) -> Option<Cause> {
    match e.kind() {
        ErrorKind::ConnectionRefused => Some(Cause::Refused),
        ErrorKind::TimedOut | ErrorKind::WouldBlock => Some(Cause::TimedOut),
        ErrorKind::HostUnreachable | ErrorKind::NetworkUnreachable => Some(Cause::NoRoute),
        ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted => Some(Cause::Reset),
        _ => in_text(&e.to_string()),
    }
}

/// The cause named somewhere in an error chain's text (`{e:#}`).
pub fn in_text(text: &str) -> Option<Cause> {
    // Most specific first: a DNS failure's text may also say "connect".
    const WORDS: [(&str, Cause); 14] = [
        ("Temporary failure in name resolution", Cause::NoDns),
        ("Name or service not known", Cause::NoSuchHost),
        ("No address associated with hostname", Cause::NoSuchHost),
        ("nodename nor servname provided", Cause::NoSuchHost),
        ("failed to lookup address", Cause::NoSuchHost),
        ("Connection refused", Cause::Refused),
        ("os error 111", Cause::Refused),
        ("No route to host", Cause::NoRoute),
        ("Network is unreachable", Cause::NoRoute),
        ("Connection reset", Cause::Reset),
        ("InvalidContentType", Cause::NotTls),
        ("wrong version number", Cause::NotTls),
        ("timed out", Cause::TimedOut),
        ("os error 110", Cause::TimedOut),
    ];
    WORDS
        .iter()
        .find(|(w, _)| text.contains(w))
        .map(|&(_, c)| c)
}

/// The sentence for `cause` reaching `host:port`; `keys`: the settings to
/// look at ("[imap] host and port", "[backend] url").
pub fn say(cause: Cause, host: &str, port: u16, keys: &str) -> String {
    match cause {
        Cause::Refused => format!(
            "nothing is listening on {host}:{port} — is the server running? (check {keys})"
        ),
        Cause::TimedOut => format!(
            "{host}:{port} did not answer — the host may be down, or a firewall drops the connection (check {keys})"
        ),
        Cause::NoRoute => format!(
            "there is no route to {host} from this machine — check the network (a VPN?) and {keys}"
        ),
        Cause::Reset => format!(
            "{host}:{port} closed the connection at once — the server may not accept this machine, or expects TLS (or plaintext) on this port"
        ),
        Cause::NoSuchHost => format!(
            "DNS knows no host {host:?} — check {keys} for a typo"
        ),
        Cause::NoDns => format!(
            "the name {host:?} cannot be looked up: DNS does not answer (is this machine online?)"
        ),
        Cause::NotTls => format!(
            "{host}:{port} did not answer with TLS — that port speaks plaintext (or STARTTLS); check {keys}"
        ),
    }
}

/// `say` for an error chain's text when its cause is known, else `None`.
pub fn explain(text: &str, host: &str, port: u16, keys: &str) -> Option<String> {
    in_text(text).map(|c| say(c, host, port, keys))
}

/// Host and port of a URL (`http://…`, `postgres://user@host:port/db`),
/// with the scheme's default port (or `default`).
pub fn host_port(url: &str, default: u16) -> Option<(String, u16)> {
    let u = reqwest::Url::parse(url).ok()?;
    let host = u.host_str()?.to_string();
    Some((host, u.port_or_known_default().unwrap_or(default)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_common_failures_are_said_in_words_without_os_numbers() {
        let refused = std::io::Error::from(ErrorKind::ConnectionRefused);
        assert_eq!(of_io(&refused), Some(Cause::Refused));
        assert_eq!(
            say(Cause::Refused, "127.0.0.1", 1143, "[imap] host and port"),
            "nothing is listening on 127.0.0.1:1143 — is the server running? (check [imap] host and port)"
        );
        let timed = std::io::Error::from(ErrorKind::TimedOut);
        assert_eq!(of_io(&timed), Some(Cause::TimedOut));
        for (text, cause) in [
            ("tcp connect error: Connection refused (os error 111)", Cause::Refused),
            ("error connecting to server: Connection refused (os error 111)", Cause::Refused),
            ("failed to lookup address information: Name or service not known", Cause::NoSuchHost),
            ("failed to lookup address information: Temporary failure in name resolution", Cause::NoDns),
            ("TLS handshake failed: Failure(Custom { kind: InvalidData, error: InvalidMessage(InvalidContentType) })", Cause::NotTls),
            ("error connecting to server: timed out", Cause::TimedOut),
            ("connect: No route to host (os error 113)", Cause::NoRoute),
        ] {
            assert_eq!(in_text(text), Some(cause), "{text}");
            let said = say(cause, "h.example", 1, "x");
            assert!(!said.contains("os error"), "{said}");
        }
        assert_eq!(
            in_text("permission denied"),
            None,
            "unknown: its own text stays"
        );
        assert_eq!(
            host_port("postgres://c@db.example:5433/c", 5432),
            Some(("db.example".into(), 5433))
        );
        assert_eq!(
            host_port("postgres://c@db.example/c", 5432),
            Some(("db.example".into(), 5432))
        );
        assert_eq!(
            host_port("https://exports.example", 0),
            Some(("exports.example".into(), 443))
        );
    }
}

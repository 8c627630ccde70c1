//! Keys → [`Action`]s. Every binding can be changed in `[keys]` of the
//! config, e.g. `approve = "A"` or `down = ["j", "down", "ctrl-n"]`.

use anyhow::{anyhow, bail, Result};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Quit,
    Help,
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    NextTab,
    PrevTab,
    Filter,
    Sort,
    Zoom,
    ScrollDetailUp,
    ScrollDetailDown,
    Approve,
    Reject,
    Reply,
    Note,
    Resolve,
    ChooseWorkspace,
    AccountEmail,
    OverrideAuth,
    CancelJob,
    RetryJob,
    Outbox,
    Stats,
    /// Take the request for oneself (again: give it back).
    Claim,
    /// Show only one's own claims ("Mine"), or everything again.
    Mine,
}

impl Action {
    /// What the action does, for the help screen.
    pub fn describe(self) -> &'static str {
        match self {
            Action::Quit => "quit",
            Action::Help => "this help",
            Action::Up => "previous request",
            Action::Down => "next request",
            Action::PageUp => "page up",
            Action::PageDown => "page down",
            Action::Top => "first request",
            Action::Bottom => "last request",
            Action::NextTab => "next tab",
            Action::PrevTab => "previous tab",
            Action::Filter => "filter the queue (Esc clears)",
            Action::Sort => "change the sort (due, newest, workspace)",
            Action::Zoom => "read the whole thread",
            Action::ScrollDetailUp => "scroll the detail up",
            Action::ScrollDetailDown => "scroll the detail down",
            Action::Approve => "approve and start the export",
            Action::Reject => "reject with a reason and its reply",
            Action::Reply => "reply from a template",
            Action::Note => "add a scope-confirmation note",
            Action::Resolve => "look the requester and workspace up again",
            Action::ChooseWorkspace => "choose the workspace from the requester's memberships",
            Action::AccountEmail => "link the request to an account email",
            Action::OverrideAuth => "accept failed sender authentication (reason)",
            Action::CancelJob => "cancel the running export",
            Action::RetryJob => "retry a failed export",
            Action::Outbox => "read the outbox (demo)",
            Action::Stats => "the team's stats",
            Action::Claim => "take it (again: give it back)",
            Action::Mine => "only yours (Mine), or all again",
        }
    }
}

/// A key as written in the config: `"a"`, `"A"`, `"enter"`, `"ctrl-n"`, `"pgdown"`.
pub fn parse_key(s: &str) -> Result<KeyEvent> {
    let mut mods = KeyModifiers::NONE;
    let mut rest = s;
    loop {
        if let Some(r) = rest.strip_prefix("ctrl-") {
            mods |= KeyModifiers::CONTROL;
            rest = r;
        } else if let Some(r) = rest.strip_prefix("alt-") {
            mods |= KeyModifiers::ALT;
            rest = r;
        } else {
            break;
        }
    }
    let code = match rest {
        "enter" => KeyCode::Enter,
        "esc" => KeyCode::Esc,
        "tab" => KeyCode::Tab,
        "backtab" | "shift-tab" => KeyCode::BackTab,
        "up" => KeyCode::Up,
        "down" => KeyCode::Down,
        "left" => KeyCode::Left,
        "right" => KeyCode::Right,
        "home" => KeyCode::Home,
        "end" => KeyCode::End,
        "pgup" | "pageup" => KeyCode::PageUp,
        "pgdown" | "pagedown" => KeyCode::PageDown,
        "space" => KeyCode::Char(' '),
        _ => {
            let mut chars = rest.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => KeyCode::Char(c),
                _ => bail!(
                    "unknown key {s:?} (e.g. \"a\", \"A\", \"enter\", \"ctrl-n\", \"pgdown\")"
                ),
            }
        }
    };
    Ok(KeyEvent::new(code, mods))
}

/// Normalizes a key event for lookup (shift is part of the character).
fn norm(k: KeyEvent) -> (KeyCode, KeyModifiers) {
    let mods = k.modifiers & (KeyModifiers::CONTROL | KeyModifiers::ALT);
    (k.code, mods)
}

/// The key bindings.
#[derive(Debug, Clone)]
pub struct KeyMap {
    map: Vec<((KeyCode, KeyModifiers), Action)>,
}

impl Default for KeyMap {
    fn default() -> Self {
        let defaults: &[(Action, &[&str])] = &[
            (Action::Quit, &["q"]),
            (Action::Help, &["?"]),
            (Action::Up, &["k", "up"]),
            (Action::Down, &["j", "down"]),
            (Action::PageUp, &["pgup", "ctrl-u"]),
            (Action::PageDown, &["pgdown", "ctrl-d"]),
            (Action::Top, &["g", "home"]),
            (Action::Bottom, &["G", "end"]),
            (Action::NextTab, &["tab", "l", "right"]),
            (Action::PrevTab, &["backtab", "h", "left"]),
            (Action::Filter, &["/"]),
            (Action::Sort, &["s"]),
            (Action::Zoom, &["enter"]),
            (Action::ScrollDetailUp, &["K"]),
            (Action::ScrollDetailDown, &["J"]),
            (Action::Approve, &["a"]),
            (Action::Reject, &["x"]),
            (Action::Reply, &["r"]),
            (Action::Note, &["n"]),
            (Action::Resolve, &["R"]),
            (Action::ChooseWorkspace, &["w"]),
            (Action::AccountEmail, &["e"]),
            (Action::OverrideAuth, &["v"]),
            (Action::CancelJob, &["c"]),
            (Action::RetryJob, &["t"]),
            (Action::Outbox, &["o"]),
            (Action::Stats, &["S"]),
            (Action::Claim, &["m"]),
            (Action::Mine, &["M"]),
        ];
        let mut map = Vec::new();
        for (action, keys) in defaults {
            for k in *keys {
                map.push((norm(parse_key(k).expect("default key")), *action));
            }
        }
        KeyMap { map }
    }
}

/// `[keys]`: an action name → one key or a list of keys.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum KeySpec {
    One(String),
    Many(Vec<String>),
}

impl KeyMap {
    /// The defaults with `[keys]` applied: a rebound action loses its
    /// default keys, and a key taken by another action moves to this one.
    pub fn with_overrides(overrides: &BTreeMap<Action, KeySpec>) -> Result<KeyMap> {
        let mut km = KeyMap::default();
        for (action, spec) in overrides {
            let keys = match spec {
                KeySpec::One(k) => vec![k.clone()],
                KeySpec::Many(ks) => ks.clone(),
            };
            if keys.is_empty() {
                bail!("[keys] {action:?}: give at least one key");
            }
            km.map.retain(|(_, a)| a != action);
            for k in keys {
                let key = norm(parse_key(&k).map_err(|e| anyhow!("[keys] {action:?}: {e}"))?);
                km.map.retain(|(kk, _)| *kk != key);
                km.map.push((key, *action));
            }
        }
        Ok(km)
    }

    pub fn action(&self, k: KeyEvent) -> Option<Action> {
        let key = norm(k);
        self.map.iter().find(|(kk, _)| *kk == key).map(|(_, a)| *a)
    }

    /// Every action with its keys, for the help screen.
    pub fn bindings(&self) -> Vec<(Action, Vec<String>)> {
        let mut out: BTreeMap<Action, Vec<String>> = BTreeMap::new();
        for ((code, mods), action) in &self.map {
            out.entry(*action).or_default().push(show_key(*code, *mods));
        }
        out.into_iter().collect()
    }
}

pub fn show_key(code: KeyCode, mods: KeyModifiers) -> String {
    let base = match code {
        KeyCode::Char(' ') => "space".to_string(),
        KeyCode::Char(c) => c.to_string(),
        KeyCode::Enter => "Enter".into(),
        KeyCode::Esc => "Esc".into(),
        KeyCode::Tab => "Tab".into(),
        KeyCode::BackTab => "Shift-Tab".into(),
        KeyCode::Up => "↑".into(),
        KeyCode::Down => "↓".into(),
        KeyCode::Left => "←".into(),
        KeyCode::Right => "→".into(),
        KeyCode::Home => "Home".into(),
        KeyCode::End => "End".into(),
        KeyCode::PageUp => "PgUp".into(),
        KeyCode::PageDown => "PgDn".into(),
        other => format!("{other:?}"),
    };
    let mut s = String::new();
    if mods.contains(KeyModifiers::CONTROL) {
        s.push_str("Ctrl-");
    }
    if mods.contains(KeyModifiers::ALT) {
        s.push_str("Alt-");
    }
    s + &base
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(c: char) -> KeyEvent {
        KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
    }

    #[test]
    fn defaults_cover_the_documented_keys() {
        let km = KeyMap::default();
        assert_eq!(km.action(key('a')), Some(Action::Approve));
        assert_eq!(km.action(key('x')), Some(Action::Reject));
        assert_eq!(km.action(key('r')), Some(Action::Reply));
        assert_eq!(km.action(key('n')), Some(Action::Note));
        assert_eq!(km.action(key('/')), Some(Action::Filter));
        assert_eq!(km.action(key('?')), Some(Action::Help));
        assert_eq!(km.action(key('q')), Some(Action::Quit));
        assert_eq!(km.action(key('j')), Some(Action::Down));
        assert_eq!(
            km.action(KeyEvent::new(KeyCode::Down, KeyModifiers::NONE)),
            Some(Action::Down)
        );
        assert_eq!(
            km.action(KeyEvent::new(KeyCode::Char('G'), KeyModifiers::SHIFT)),
            Some(Action::Bottom)
        );
        assert_eq!(
            km.action(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)),
            Some(Action::Zoom)
        );
    }

    #[test]
    fn rebinding_moves_keys() {
        let mut o = BTreeMap::new();
        o.insert(Action::Approve, KeySpec::One("A".into()));
        o.insert(
            Action::Quit,
            KeySpec::Many(vec!["ctrl-q".into(), "a".into()]),
        );
        let km = KeyMap::with_overrides(&o).unwrap();
        assert_eq!(km.action(key('A')), Some(Action::Approve));
        assert_eq!(km.action(key('a')), Some(Action::Quit));
        assert_eq!(km.action(key('q')), None);
        assert_eq!(
            km.action(KeyEvent::new(KeyCode::Char('q'), KeyModifiers::CONTROL)),
            Some(Action::Quit)
        );
    }

    #[test]
    fn bad_keys_are_named() {
        let mut o = BTreeMap::new();
        o.insert(Action::Approve, KeySpec::One("hyper-a".into()));
        let e = KeyMap::with_overrides(&o).unwrap_err().to_string();
        assert!(e.contains("[keys]") && e.contains("hyper-a"), "{e}");
    }
}

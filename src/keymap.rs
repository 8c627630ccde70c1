//! Keys → [`Action`]s, for every mode of the screen: the queue and the
//! detail pane, pop-ups (questions, pickers, the outbox), the text editor
//! and the stats screen. Every binding can be changed in `[keys]` of the
//! config, e.g. `approve = "A"`, `down = ["j", "down", "ctrl-n"]` or
//! `save = "ctrl-w"`; the help screen is generated from this map.
//!
//! Each action belongs to one [`Scope`] (the mode it acts in); one key can
//! mean one thing per scope (`j` is "next request" in the queue and "next
//! item" in a picker), never two things in one scope.

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
    /// To the Mine tab (one's own claims); again: back to the tab before.
    Mine,
    // Pop-ups: questions, pickers, the outbox.
    Yes,
    No,
    Choose,
    ItemUp,
    ItemDown,
    // The text editor (notes, reasons, reply bodies).
    Save,
    OpenEditor,
    CancelEdit,
    // The stats screen.
    NextPeriod,
    PrevPeriod,
    CloseStats,
}

/// Where an action applies: the mode whose keys it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// The queue and the detail pane (normal mode).
    Queue,
    /// Questions, pickers and the outbox.
    Popup,
    /// The text editor.
    Editor,
    /// The stats screen.
    Stats,
}

/// Keys that are not in the map, with what they do, by scope: digits,
/// typing, and Esc where it only backs out. The help shows them; they
/// cannot be rebound.
pub const FIXED_KEYS: &[(Scope, &str, &str)] = &[
    (Scope::Queue, "1…8", "jump to a tab"),
    (Scope::Queue, "Esc", "back / clear status"),
    (Scope::Queue, "Ctrl-C", "quit (not in editor)"),
    (Scope::Popup, "1…9", "choose that item"),
    (Scope::Editor, "Enter", "ok (one-line fields)"),
    (Scope::Stats, "7 3 9", "7, 30, 90 days"),
];

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
            Action::Filter => "filter the queue",
            Action::Sort => "sort (due, newest, …)",
            Action::Zoom => "the whole thread",
            Action::ScrollDetailUp => "scroll the detail up",
            Action::ScrollDetailDown => "scroll the detail down",
            Action::Approve => "approve, start the export",
            Action::Reject => "reject: reason, reply",
            Action::Reply => "reply from a template",
            Action::Note => "scope-confirmation note",
            Action::Resolve => "look it up again",
            Action::ChooseWorkspace => "choose the workspace",
            Action::AccountEmail => "link an account email",
            Action::OverrideAuth => "accept failed sender auth",
            Action::CancelJob => "cancel the running export",
            Action::RetryJob => "retry a failed export",
            Action::Outbox => "the outbox (demo)",
            Action::Stats => "the team's stats",
            Action::Claim => "take it (again: give it back)",
            Action::Mine => "the Mine tab (again: back)",
            Action::Yes => "yes",
            Action::No => "no / close",
            Action::Choose => "choose",
            Action::ItemUp => "previous item",
            Action::ItemDown => "next item",
            Action::Save => "save / send",
            Action::OpenEditor => "edit in $EDITOR",
            Action::CancelEdit => "cancel",
            Action::NextPeriod => "next period",
            Action::PrevPeriod => "previous period",
            Action::CloseStats => "close",
        }
    }

    /// The mode the action acts in.
    pub fn scope(self) -> Scope {
        use Action as A;
        match self {
            A::Yes | A::No | A::Choose | A::ItemUp | A::ItemDown => Scope::Popup,
            A::Save | A::OpenEditor | A::CancelEdit => Scope::Editor,
            A::NextPeriod | A::PrevPeriod | A::CloseStats => Scope::Stats,
            _ => Scope::Queue,
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
            (Action::Yes, &["y", "Y"]),
            (Action::No, &["n", "N", "esc", "q"]),
            (Action::Choose, &["enter"]),
            (Action::ItemUp, &["k", "up"]),
            (Action::ItemDown, &["j", "down"]),
            (Action::Save, &["ctrl-s"]),
            (Action::OpenEditor, &["ctrl-e"]),
            (Action::CancelEdit, &["esc"]),
            (Action::NextPeriod, &["tab", "l", "right"]),
            (Action::PrevPeriod, &["backtab", "h", "left"]),
            (Action::CloseStats, &["esc", "q", "S"]),
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
                // Taken from another action of the same mode only.
                km.map
                    .retain(|(kk, a)| *kk != key || a.scope() != action.scope());
                km.map.push((key, *action));
            }
        }
        Ok(km)
    }

    /// The queue's action for `k` (normal mode).
    pub fn action(&self, k: KeyEvent) -> Option<Action> {
        self.action_in(Scope::Queue, k)
    }

    /// The action `k` stands for in `scope`.
    pub fn action_in(&self, scope: Scope, k: KeyEvent) -> Option<Action> {
        let key = norm(k);
        self.map
            .iter()
            .find(|(kk, a)| *kk == key && a.scope() == scope)
            .map(|(_, a)| *a)
    }

    /// Every action with its keys, for the help screen.
    pub fn bindings(&self) -> Vec<(Action, Vec<String>)> {
        let mut out: BTreeMap<Action, Vec<String>> = BTreeMap::new();
        for ((code, mods), action) in &self.map {
            out.entry(*action).or_default().push(show_key(*code, *mods));
        }
        out.into_iter().collect()
    }

    /// The KeyEvent of `action`'s first key (for translating a rebound key
    /// into what a screen with its own key handling expects).
    pub fn first_key(&self, action: Action) -> Option<KeyEvent> {
        self.map
            .iter()
            .find(|(_, a)| *a == action)
            .map(|((code, mods), _)| KeyEvent::new(*code, *mods))
    }
}

pub fn show_key(code: KeyCode, mods: KeyModifiers) -> String {
    let base = match code {
        KeyCode::Char(' ') => "space".to_string(),
        // Ctrl-S, as terminals and manuals write it (Ctrl-s is the same key).
        KeyCode::Char(c) if mods.contains(KeyModifiers::CONTROL) => {
            c.to_ascii_uppercase().to_string()
        }
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
    fn one_key_means_one_thing_per_mode() {
        let km = KeyMap::default();
        assert_eq!(km.action_in(Scope::Popup, key('j')), Some(Action::ItemDown));
        assert_eq!(km.action(key('j')), Some(Action::Down));
        assert_eq!(km.action(key('y')), None, "y means nothing in the queue");
        let ctrl_s = KeyEvent::new(KeyCode::Char('s'), KeyModifiers::CONTROL);
        assert_eq!(km.action_in(Scope::Editor, ctrl_s), Some(Action::Save));
        // Rebinding in one mode leaves the other modes' keys alone.
        let mut o = BTreeMap::new();
        o.insert(Action::Yes, KeySpec::One("j".into()));
        let km = KeyMap::with_overrides(&o).unwrap();
        assert_eq!(km.action_in(Scope::Popup, key('j')), Some(Action::Yes));
        assert_eq!(km.action_in(Scope::Popup, key('y')), None);
        assert_eq!(km.action(key('j')), Some(Action::Down));
        assert_eq!(
            km.action_in(
                Scope::Popup,
                KeyEvent::new(KeyCode::Down, KeyModifiers::NONE)
            ),
            Some(Action::ItemDown)
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

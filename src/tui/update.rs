//! `update(state, msg) -> commands`: every decision the screen makes, with
//! no I/O, so each is tested with plain values.

use super::keys::{Action, Scope};
use super::msg::{Command, Msg};
use super::state::{Confirm, Health, InputPurpose, Mode, Pick, Row, State, Tab};
use crate::domain::{self, AuthResult, Role};
use crate::mail::templates::Template;
use crate::ops;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui_textarea::TextArea;

/// Reply templates offered by `r`, in order.
pub const REPLY_TEMPLATES: [Template; 3] = [
    Template::Acknowledgement,
    Template::EstimateOver48h,
    Template::ScopeQuestion,
];
/// Rejection templates offered by `x`, in order.
pub const REJECT_TEMPLATES: [Template; 4] = [
    Template::RejectNotOwnerOrAdmin,
    Template::RejectUseAccountEmail,
    Template::RejectWorkspaceNotFound,
    Template::RejectDuplicate,
];

fn say(state: &mut State, text: impl Into<String>) {
    state.status = Some((text.into(), false));
}

fn warn(state: &mut State, text: impl Into<String>) {
    state.status = Some((text.into(), true));
}

fn text_area(initial: &str) -> Box<TextArea<'static>> {
    let lines: Vec<String> = initial.lines().map(str::to_string).collect();
    let mut area = if lines.is_empty() {
        TextArea::default()
    } else {
        TextArea::new(lines)
    };
    area.move_cursor(ratatui_textarea::CursorMove::Bottom);
    area.move_cursor(ratatui_textarea::CursorMove::End);
    Box::new(area)
}

fn open_input(state: &mut State, purpose: InputPurpose, initial: &str) {
    let mut area = text_area(initial);
    // A reply to read before it goes opens at its greeting, not scrolled
    // to its signature (the greeting was out of sight at 80×24).
    if matches!(
        purpose,
        InputPurpose::ReplyBody(_) | InputPurpose::RejectBody { .. }
    ) {
        area.move_cursor(ratatui_textarea::CursorMove::Top);
        area.move_cursor(ratatui_textarea::CursorMove::Head);
    }
    state.mode = Mode::Input {
        purpose,
        area,
        error: None,
    };
}

fn set_pending(state: &mut State, id: i64, what: &str) {
    state.pending.retain(|(p, _)| *p != id);
    state.pending.push((id, what.to_string()));
}

fn clear_pending(state: &mut State, id: i64) {
    state.pending.retain(|(p, _)| *p != id);
}

/// Replaces (or adds) a request from the store and re-derives the view.
fn upsert(state: &mut State, req: crate::store::requests::RequestView) {
    let rates = state.rates.clone();
    match state.row_mut(req.id) {
        Some(row) => {
            let (resolving, lookup_failed) = (row.resolving, row.lookup_failed);
            *row = Row::new(req, &rates);
            row.resolving = resolving;
            row.lookup_failed = lookup_failed;
        }
        None => state.rows.push(Row::new(req, &rates)),
    }
}

pub fn update(state: &mut State, msg: Msg) -> Vec<Command> {
    match msg {
        Msg::Key(k) => on_key(state, k),
        Msg::Paste(text) => {
            match &mut state.mode {
                Mode::Input { area, .. } => {
                    area.insert_str(crate::intake::sanitize::multi_line(&text).text);
                }
                Mode::Filter => {
                    state
                        .filter
                        .push_str(&crate::intake::sanitize::single_line(&text).text);
                    state.refilter();
                }
                _ => {}
            }
            vec![]
        }
        Msg::Resize => vec![],
        Msg::Edited(text) => {
            if let Mode::Input { area, .. } = &mut state.mode {
                **area = *text_area(&text);
            }
            vec![]
        }
        Msg::Changed(changes) => live::changed(state, changes),
        Msg::Presence(others) => live::presence(state, others),
        Msg::Operators(names) => {
            // A claim's holder is shown by name: a rename reaches the rows.
            for row in &mut state.rows {
                if let Some(name) = row.req.claimed_by.as_ref().and_then(|id| names.get(id)) {
                    row.req.claimed_by_name = Some(name.clone());
                }
            }
            state.names.extend(names);
            vec![]
        }
        Msg::Lease { mine } => live::lease(state, mine),
        report => reports::on_report(state, report),
    }
}

fn on_key(state: &mut State, k: KeyEvent) -> Vec<Command> {
    // Ctrl-C quits from anywhere (asking first while an export runs; a
    // second Ctrl-C at that question quits).
    if k.code == KeyCode::Char('c')
        && k.modifiers.contains(KeyModifiers::CONTROL)
        && !matches!(state.mode, Mode::Input { .. })
    {
        if matches!(state.mode, Mode::Confirm(Confirm::Quit { .. })) {
            state.quit = true;
        } else {
            quit(state);
        }
        return vec![];
    }
    match std::mem::replace(&mut state.mode, Mode::Normal) {
        Mode::Normal => on_normal_key(state, k),
        Mode::Help => {
            // Any key closes the help.
            vec![]
        }
        Mode::Filter => {
            match k.code {
                KeyCode::Esc => {
                    state.filter.clear();
                    state.refilter();
                }
                KeyCode::Enter => {}
                KeyCode::Backspace => {
                    state.filter.pop();
                    state.refilter();
                    state.mode = Mode::Filter;
                }
                KeyCode::Char(c) if !k.modifiers.contains(KeyModifiers::CONTROL) => {
                    state.filter.push(c);
                    state.refilter();
                    state.mode = Mode::Filter;
                }
                _ => state.mode = Mode::Filter,
            }
            thread_for_selection(state)
        }
        Mode::Outbox { selected } => {
            let n = state.outbox.len();
            match state.keys.action_in(Scope::Popup, k) {
                Some(Action::No) => {}
                // The key that opened it closes it too.
                _ if state.keys.action(k) == Some(Action::Outbox) => {}
                Some(Action::ItemDown) => {
                    state.mode = Mode::Outbox {
                        selected: (selected + 1).min(n.saturating_sub(1)),
                    }
                }
                Some(Action::ItemUp) => {
                    state.mode = Mode::Outbox {
                        selected: selected.saturating_sub(1),
                    }
                }
                _ => state.mode = Mode::Outbox { selected },
            }
            vec![]
        }
        Mode::Stats(m) => on_stats_key(state, k, m),
        Mode::Pick { pick, selected } => on_pick_key(state, k, pick, selected),
        Mode::Confirm(c) => match state.keys.action_in(Scope::Popup, k) {
            Some(Action::Yes) => confirmed(state, c),
            Some(Action::No) => {
                say(state, "cancelled");
                vec![]
            }
            _ => {
                state.mode = Mode::Confirm(c);
                vec![]
            }
        },
        Mode::Input {
            purpose,
            area,
            error,
        } => on_input_key(state, k, purpose, area, error),
    }
}

/// The thread to load when the selection shows a request whose thread is not loaded.
fn thread_for_selection(state: &State) -> Vec<Command> {
    match state.current() {
        Some(r) if state.thread.as_ref().map(|(id, _)| *id) != Some(r.req.id) => {
            vec![Command::LoadThread { id: r.req.id }]
        }
        _ => vec![],
    }
}

fn move_to(state: &mut State, pos: usize) {
    state.selected = pos.min(state.visible.len().saturating_sub(1));
    state.detail_scroll = 0;
}

fn on_normal_key(state: &mut State, k: KeyEvent) -> Vec<Command> {
    let mut cmds = on_normal_key_inner(state, k);
    cmds.extend(thread_for_selection(state));
    cmds
}

fn on_normal_key_inner(state: &mut State, k: KeyEvent) -> Vec<Command> {
    if k.code == KeyCode::Esc {
        if state.zoom {
            state.zoom = false;
        } else {
            state.status = None;
        }
        return vec![];
    }
    if let KeyCode::Char(c @ '1'..='9') = k.code {
        if let Some(&tab) = Tab::ALL.get(c as usize - '1' as usize) {
            state.tab = tab;
            state.refilter();
        }
        return vec![];
    }
    let Some(action) = state.keys.action(k) else {
        return vec![];
    };
    let current = state.current().cloned();
    let busy = |state: &mut State, id: i64| {
        let what = state
            .pending
            .iter()
            .find(|(p, _)| *p == id)
            .map(|(_, w)| w.clone());
        if let Some(w) = &what {
            warn(state, format!("#{id} is busy: {w}"));
        }
        what.is_some()
    };
    match action {
        Action::Quit => quit(state),
        Action::Help => state.mode = Mode::Help,
        Action::Up => move_to(state, state.selected.saturating_sub(1)),
        Action::Down => move_to(state, state.selected + 1),
        Action::PageUp => move_to(state, state.selected.saturating_sub(state.page.max(1))),
        Action::PageDown => move_to(state, state.selected + state.page.max(1)),
        Action::Top => move_to(state, 0),
        Action::Bottom => move_to(state, usize::MAX),
        Action::NextTab | Action::PrevTab => {
            let i = Tab::ALL.iter().position(|t| *t == state.tab).unwrap_or(0);
            let n = Tab::ALL.len();
            let j = if action == Action::NextTab {
                (i + 1) % n
            } else {
                (i + n - 1) % n
            };
            state.tab = Tab::ALL[j];
            state.refilter();
        }
        Action::Filter => state.mode = Mode::Filter,
        Action::Sort => {
            state.sort = state.sort.next();
            state.refilter();
            say(state, format!("sorted by {}", state.sort.title()));
        }
        Action::Zoom => {
            state.zoom = !state.zoom;
            state.detail_scroll = 0;
        }
        Action::ScrollDetailUp => state.detail_scroll = state.detail_scroll.saturating_sub(5),
        Action::ScrollDetailDown => state.detail_scroll = state.detail_scroll.saturating_add(5),
        Action::Stats => {
            state.mode = Mode::Stats(Box::new(crate::stats::screen::Model::loading(30)));
            return vec![Command::LoadStats { days: 30 }];
        }
        Action::Mine => mine_tab(state),
        Action::Outbox => {
            if state.has_outbox {
                state.mode = Mode::Outbox { selected: 0 };
                return vec![Command::LoadOutbox];
            }
            warn(state, "no outbox here: replies go out over SMTP");
        }
        _ => {
            let Some(row) = current else {
                warn(state, "no request selected");
                return vec![];
            };
            let id = row.req.id;
            if busy(state, id) {
                return vec![];
            }
            return on_request_action(state, action, &row);
        }
    }
    vec![]
}

/// `M`: to the Mine tab, and from it back to the tab it was pressed on.
fn mine_tab(state: &mut State) {
    if state.tab == Tab::Mine {
        state.tab = state.before_mine.take().unwrap_or(Tab::All);
    } else {
        state.before_mine = Some(state.tab);
        state.tab = Tab::Mine;
    }
    state.refilter();
}

/// Quits, or asks first while an export is being started or followed (it
/// goes on at the backend and is followed again on the next start).
fn quit(state: &mut State) {
    let running = state
        .rows
        .iter()
        .filter(|r| r.req.state.is_in_flight())
        .count();
    if running == 0 {
        state.quit = true;
    } else {
        state.mode = Mode::Confirm(Confirm::Quit { running });
    }
}

mod actions;
pub(crate) mod live;
mod popups;
mod reports;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_flows;

use actions::*;
use popups::*;

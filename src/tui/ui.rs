//! Drawing the state (being written).

use super::state::State;
use ratatui::Frame;

/// Draws the whole screen.
pub fn render(f: &mut Frame<'_>, state: &mut State) {
    let _ = (f, state);
}

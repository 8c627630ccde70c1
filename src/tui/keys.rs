//! The screen's key bindings live in [`crate::keymap`] (crossterm types
//! only, no screen), so that [`crate::config`] can read `[keys]` without
//! depending on the screen; this module keeps the screen's paths.

pub use crate::keymap::*;

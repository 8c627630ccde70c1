//! The runtime's side of team mode: claims, and turning the store's
//! collision stop into what the screen shows (see `store::team`).

use super::*;

impl Runtime {
    /// A refused store change: the collision stop becomes the request as
    /// it is now plus [`Msg::Stale`] (what changed, to review and redo);
    /// anything else is [`Self::failed`].
    pub(super) fn refused(&self, id: i64, what: &str, e: anyhow::Error) -> Vec<Msg> {
        if let Some(crate::domain::StoreError::Stale { .. }) = crate::domain::StoreError::of(&e) {
            tracing::info!(request = id, "{what} stopped: the request changed");
            let mut out = self.reload(id);
            out.push(Msg::Stale {
                id,
                what: what.into(),
                text: e.to_string(),
            });
            return out;
        }
        Self::failed(id, what, e)
    }

    /// Takes request `id`; `holder_seen` is who held it on screen.
    pub(super) fn claim(&mut self, id: i64, holder_seen: Option<&str>) -> Vec<Msg> {
        let result = self.store.claim(id, &self.actor, holder_seen);
        // Either way the screen gets the holder as it is now.
        let mut out = self.reload(id);
        match result {
            Ok(_) => out.push(Msg::Done {
                id,
                what: "it is yours (m gives it back)".into(),
            }),
            Err(e) => out.extend(Self::failed(id, "taking it", e)),
        }
        out
    }

    /// Gives request `id` back.
    pub(super) fn release(&mut self, id: i64) -> Vec<Msg> {
        match self.store.release(id, &self.actor) {
            Ok(()) => {
                let mut out = self.reload(id);
                out.push(Msg::Done {
                    id,
                    what: "given back".into(),
                });
                out
            }
            Err(e) => Self::failed(id, "giving it back", e),
        }
    }
}

//! Where the store is: the solo SQLite file or a team's PostgreSQL
//! database. Workers that open their own connection (the inbox poller, the
//! screen's workers) are handed a [`Location`], so the same code runs on
//! either engine.

use super::pg::{url_has_password, PgTarget};
use std::path::{Path, PathBuf};

#[derive(Clone)]
pub enum Location {
    Sqlite(PathBuf),
    Postgres(PgTarget),
}

impl std::fmt::Debug for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Sqlite(p) => write!(f, "Sqlite({})", p.display()),
            // NOTE: never the password, wherever it came from.
            Location::Postgres(t) if url_has_password(&t.url) => f.write_str("Postgres(***)"),
            Location::Postgres(t) => write!(f, "Postgres({})", t.url),
        }
    }
}

impl From<&Path> for Location {
    fn from(p: &Path) -> Location {
        Location::Sqlite(p.to_path_buf())
    }
}
impl From<&PathBuf> for Location {
    fn from(p: &PathBuf) -> Location {
        Location::Sqlite(p.clone())
    }
}
impl From<PathBuf> for Location {
    fn from(p: PathBuf) -> Location {
        Location::Sqlite(p)
    }
}
impl From<&Location> for Location {
    fn from(l: &Location) -> Location {
        l.clone()
    }
}
impl From<PgTarget> for Location {
    fn from(t: PgTarget) -> Location {
        Location::Postgres(t)
    }
}

impl Location {
    /// The SQLite file, for what reads it directly (the stats screen).
    pub fn sqlite_path(&self) -> Option<&Path> {
        match self {
            Location::Sqlite(p) => Some(p),
            Location::Postgres(_) => None,
        }
    }
}

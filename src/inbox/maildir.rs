//! A Maildir folder as a mail source (`new/` and `cur/`), read-only.
//!
//! A message is known by its unique name (the part before `:2,`), so flag
//! changes by another client do not make it new again.

use super::{Fetched, Listing, MsgRef, Source, FETCH_PREFIX};
use crate::store::Cursor;
use anyhow::{Context, Result};
use std::io::Read;
use std::path::{Path, PathBuf};

pub struct MaildirSource {
    root: PathBuf,
}

impl MaildirSource {
    pub fn new(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        for sub in ["new", "cur"] {
            let dir = root.join(sub);
            if !dir.is_dir() {
                anyhow::bail!("{} is not a Maildir (no {sub}/ folder)", root.display());
            }
        }
        Ok(MaildirSource { root })
    }

    /// The unique part of a Maildir file name.
    pub fn unique_name(file_name: &str) -> &str {
        file_name.split(':').next().unwrap_or(file_name)
    }

    fn locate(&self, unique: &str) -> Option<PathBuf> {
        for sub in ["new", "cur"] {
            let dir = self.root.join(sub);
            let exact = dir.join(unique);
            if exact.is_file() {
                return Some(exact);
            }
            if let Ok(entries) = std::fs::read_dir(&dir) {
                for e in entries.flatten() {
                    let name = e.file_name();
                    let name = name.to_string_lossy();
                    if Self::unique_name(&name) == unique {
                        return Some(e.path());
                    }
                }
            }
        }
        None
    }
}

/// Reads at most `limit` bytes; reports whether the file was longer.
pub(crate) fn read_prefix(path: &Path, limit: usize) -> std::io::Result<(Vec<u8>, bool)> {
    let f = std::fs::File::open(path)?;
    let len = f.metadata()?.len() as usize;
    let mut buf = Vec::with_capacity(len.min(limit));
    f.take(limit as u64).read_to_end(&mut buf)?;
    Ok((buf, len > limit))
}

impl Source for MaildirSource {
    fn mailbox_key(&self) -> String {
        format!("maildir://{}", self.root.display())
    }

    fn list_new(&mut self, _cursor: Option<Cursor>) -> Result<Listing> {
        let mut names = Vec::new();
        for sub in ["new", "cur"] {
            let dir = self.root.join(sub);
            for e in
                std::fs::read_dir(&dir).with_context(|| format!("cannot read {}", dir.display()))?
            {
                let e = e?;
                if !e.file_type().map(|t| t.is_file()).unwrap_or(false) {
                    continue;
                }
                let name = e.file_name().to_string_lossy().into_owned();
                if name.starts_with('.') {
                    continue;
                }
                // Maildir names start with the delivery time: sorting by name
                // is close to arrival order.
                names.push(Self::unique_name(&name).to_string());
            }
        }
        names.sort();
        names.dedup();
        Ok(Listing {
            uidvalidity: None,
            refs: names.into_iter().map(MsgRef::File).collect(),
        })
    }

    fn fetch(&mut self, refs: &[MsgRef]) -> Result<Vec<Fetched>> {
        let mut out = Vec::with_capacity(refs.len());
        for r in refs {
            let MsgRef::File(name) = r else { continue };
            // A message moved or deleted meanwhile is simply gone.
            let Some(path) = self.locate(name) else {
                continue;
            };
            let (raw, truncated) = read_prefix(&path, FETCH_PREFIX)
                .with_context(|| format!("cannot read {}", path.display()))?;
            out.push(Fetched {
                r#ref: r.clone(),
                file: Some(path.display().to_string()),
                raw,
                truncated,
            });
        }
        Ok(out)
    }
}

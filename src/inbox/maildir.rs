//! A Maildir folder as a mail source (`new/` and `cur/`), read-only.
//!
//! A message is known by its unique name (the part before `:2,`), so flag
//! changes by another client do not make it new again.

use super::{prefix, Fetched, Listing, MsgRef, Source};
use crate::store::Cursor;
use anyhow::{Context, Result};
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

/// Reads a message file by the shared rule ([`prefix::read_prefix`]), so a
/// Maildir sync and `concierge inspect` read the same bytes.
pub fn read_file_prefix(path: &Path) -> std::io::Result<(Vec<u8>, bool)> {
    prefix::read_prefix(std::fs::File::open(path)?)
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
            message_ids: Vec::new(),
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
            let (raw, truncated) = read_file_prefix(&path)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    fn request(n: u32) -> String {
        format!(
            "From: owner{n}@acme.example\r\nSubject: Data export request: Acme {n}\r\nMessage-ID: <m{n}@acme.example>\r\n\r\nWorkspace: Acme {n}\r\n"
        )
    }

    #[test]
    fn new_and_cur_are_read_once_even_when_flags_change() {
        let dir = tempfile::tempdir().unwrap();
        let md = dir.path().join("inbox");
        for sub in ["new", "cur", "tmp"] {
            std::fs::create_dir_all(md.join(sub)).unwrap();
        }
        std::fs::write(md.join("new/1700000000.1.host"), request(1)).unwrap();
        std::fs::write(md.join("cur/1700000001.2.host:2,S"), request(2)).unwrap();
        std::fs::write(md.join("new/.hidden"), request(9)).unwrap();
        let mut store = Store::in_memory().unwrap();
        let mut src = MaildirSource::new(&md).unwrap();
        let r = crate::sync::sync_once(&mut src, &mut store, "mx.ochrehq.com").unwrap();
        assert_eq!(r.stored.len(), 2);
        assert!(r.stored[0]
            .file
            .as_deref()
            .unwrap()
            .ends_with("1700000000.1.host"));

        // Another client reads the first one: it moves to cur/ with a flag.
        std::fs::rename(
            md.join("new/1700000000.1.host"),
            md.join("cur/1700000000.1.host:2,S"),
        )
        .unwrap();
        std::fs::write(md.join("new/1700000002.3.host"), request(3)).unwrap();
        let r = crate::sync::sync_once(&mut src, &mut store, "mx.ochrehq.com").unwrap();
        assert_eq!(r.seen, 1, "only the new file is read");
        assert_eq!(r.stored[0].workspace.name.as_deref(), Some("Acme 3"));
        assert_eq!(store.request_count().unwrap(), 3);
    }

    #[test]
    fn a_folder_that_is_no_maildir_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let err = MaildirSource::new(dir.path()).err().unwrap().to_string();
        assert!(err.contains("not a Maildir"), "{err}");
    }

    #[test]
    fn big_files_are_read_as_a_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big");
        let mut m = b"From: a@b.example\r\n\r\n".to_vec();
        m.extend(vec![b'a'; prefix::FETCH_PREFIX * 3]);
        std::fs::write(&p, m).unwrap();
        let (raw, truncated) = read_file_prefix(&p).unwrap();
        assert_eq!(raw.len(), prefix::FETCH_PREFIX);
        assert!(truncated);
    }
}

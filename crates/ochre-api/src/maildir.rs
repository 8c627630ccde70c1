//! The one Maildir writer (replies into the demo outbox, the reference
//! backend's link emails): `tmp/NAME`, fsync, rename into `new/NAME`, fsync
//! the directory — the Maildir delivery protocol, so a crash leaves either
//! no message or the whole one. Idempotent by name.

use std::io::Write;
use std::path::Path;

/// Writes `bytes` as `dir/new/NAME` (creating `tmp/`, `new/`, `cur/` when
/// missing). A message already delivered under `name` (in `new/`, or moved
/// to `cur/` with flags) is not written again; returns whether it was
/// written now.
pub fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<bool> {
    // NOTE: 0700 directories and 0600 files: link emails carry a download
    // link to a customer's data.
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    for sub in ["tmp", "new", "cur"] {
        builder.create(dir.join(sub))?;
    }
    let new = dir.join("new").join(name);
    let already = new.exists()
        || std::fs::read_dir(dir.join("cur"))?.any(|e| {
            e.map(|e| e.file_name().to_string_lossy().starts_with(name))
                .unwrap_or(false)
        });
    if already {
        return Ok(false);
    }
    let tmp = dir.join("tmp").join(name);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(&tmp)?;
    f.write_all(bytes)?;
    // NOTE: data on disk before the name appears in new/: a reader never
    // sees a half-written message, and a power loss never leaves an empty one.
    f.sync_all()?;
    std::fs::rename(&tmp, &new)?;
    if let Ok(d) = std::fs::File::open(dir.join("new")) {
        let _ = d.sync_all();
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_is_written_once_by_name() {
        let dir = tempfile::tempdir().unwrap();
        assert!(write(dir.path(), "m1", b"first").unwrap());
        assert!(!write(dir.path(), "m1", b"second").unwrap());
        assert_eq!(std::fs::read(dir.path().join("new/m1")).unwrap(), b"first");
        // Moved to cur/ with flags by a reader: still delivered.
        std::fs::rename(dir.path().join("new/m1"), dir.path().join("cur/m1:2,S")).unwrap();
        assert!(!write(dir.path(), "m1", b"third").unwrap());
        assert_eq!(
            std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
            0
        );
    }
}

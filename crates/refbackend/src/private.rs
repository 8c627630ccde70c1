//! Files and directories only the backend's user may read: the job store,
//! the exports (customers' whole data sets), the outbox (signed links) and
//! the log are created 0600, their directories 0700, whatever the umask.
//!
//! And the lock on `--data`: two backends on one data directory once built
//! one export into the same `.zip.part` and emailed a corrupt ZIP, so the
//! second process refuses to start.

use anyhow::{bail, Context, Result};
use std::fs::{File, OpenOptions};
use std::path::Path;

/// `dir` and its missing parents, created 0700 (existing ones unchanged,
/// except `dir` itself, which is set to 0700).
pub fn create_dir(dir: &Path) -> std::io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        b.mode(0o700);
        b.create(dir)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
    }
    #[cfg(not(unix))]
    b.create(dir)
}

/// Options that create a file 0600.
pub fn options() -> OpenOptions {
    let mut o = OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o
}

/// Creates (truncating) `path` as a 0600 file for writing.
pub fn create(path: &Path) -> std::io::Result<File> {
    options().write(true).create(true).truncate(true).open(path)
}

/// Creates `path` empty and 0600 if it does not exist (e.g. the SQLite file,
/// whose `-wal` and `-shm` files SQLite then creates with the same mode).
pub fn touch(path: &Path) -> std::io::Result<()> {
    options()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)?;
    Ok(())
}

/// The exclusive lock on a data directory, held while the value lives.
#[derive(Debug)]
pub struct DataLock {
    _file: File,
}

/// Locks `dir` (through `dir/lock`), or fails with one clear line if
/// another process holds it.
pub fn lock_data_dir(dir: &Path) -> Result<DataLock> {
    let path = dir.join("lock");
    let file = options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .with_context(|| format!("could not open {}", path.display()))?;
    if try_lock(&file)? {
        Ok(DataLock { _file: file })
    } else {
        bail!(
            "another backend is already using the data directory {}; stop it or pass another --data",
            dir.display()
        )
    }
}

/// An exclusive, non-blocking `flock(2)` on `file`: true when taken, false
/// when another open file description holds it. Released when the file is
/// closed, also when the process dies (kill -9 included), so a crash never
/// leaves a stale lock behind.
#[cfg(unix)]
fn try_lock(file: &File) -> Result<bool> {
    use std::os::fd::AsRawFd;
    // SAFETY: flock only reads the descriptor, which `file` keeps open.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc == 0 {
        return Ok(true);
    }
    let e = std::io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Ok(false)
    } else {
        Err(e).context("could not lock the data directory")
    }
}

#[cfg(not(unix))]
fn try_lock(_file: &File) -> Result<bool> {
    Ok(true)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn modes_are_private() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("a/b");
        create_dir(&d).unwrap();
        assert_eq!(mode(&d), 0o700);
        assert_eq!(mode(&t.path().join("a")), 0o700);
        create(&d.join("f")).unwrap();
        assert_eq!(mode(&d.join("f")), 0o600);
        touch(&d.join("g")).unwrap();
        assert_eq!(mode(&d.join("g")), 0o600);
    }

    #[test]
    fn a_second_lock_is_refused_until_the_first_is_dropped() {
        let t = tempfile::tempdir().unwrap();
        let first = lock_data_dir(t.path()).unwrap();
        let e = lock_data_dir(t.path()).unwrap_err().to_string();
        assert!(e.contains("already using the data directory"), "{e}");
        drop(first);
        lock_data_dir(t.path()).unwrap();
    }
}

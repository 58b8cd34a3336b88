//! The data directory: created private, and held by exactly one [`crate::CitizenCore`] at a time.
//!
//! **One core per directory.** Two cores on one directory each keep in-memory state that the
//! other cannot see (the activity-log head, the refresh single-flight, the passcode
//! serialisation), so the second one silently lost activity entries, logged the first out by
//! rotating its refresh token, and raced its passcode failures. Rather than make every piece of
//! state multi-writer, the second open is refused with `storage.already_open`: a lock file
//! (`citizen-core.lock`) is held with an OS advisory lock (`flock`, exclusive, non-blocking) for
//! the life of the core. The OS drops the lock when the file is closed — when the core is
//! dropped, and when the process dies in any way, `kill -9` included — so a crash never leaves a
//! stale lock behind. `flock` locks belong to the open file description, so a second open in the
//! *same* process is refused too.
//!
//! **Permissions.** On Unix the directory is created `0700` and the files the core creates
//! (database, lock file) `0600`, whatever the process umask. SQLite gives its `-wal` and `-shm`
//! files the mode of the database file, so they are `0600` as well.

use std::fs::File;
use std::path::Path;

use crate::error::{Error, Msg, Result};

/// File name of the lock file inside the data directory.
pub const LOCK_FILE: &str = "citizen-core.lock";

/// Create `dir` (and missing parents) readable by the owner only (`0700` on Unix).
pub(crate) fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir)
}

/// Open (creating if needed) a file that only the owner may read or write (`0600` on Unix).
/// An existing file with group or other bits set (created by an older version) is tightened.
pub(crate) fn open_private_file(path: &Path) -> std::io::Result<File> {
    let mut o = std::fs::OpenOptions::new();
    o.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    let f = o.open(path)?;
    restrict(path)?;
    Ok(f)
}

/// Remove group and other permissions from an existing file (no-op where absent or not Unix).
pub(crate) fn restrict(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        match std::fs::metadata(path) {
            Ok(m) if m.permissions().mode() & 0o077 != 0 => {
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(m.permissions().mode() & 0o700))?
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// The exclusive hold on a data directory; released when dropped (the file is closed).
#[derive(Debug)]
pub(crate) struct DataDirLock {
    _file: File,
}

impl DataDirLock {
    /// Create the directory (private) if needed and take its lock, or fail with
    /// `storage.already_open` if another core holds it.
    pub(crate) fn acquire(dir: &Path) -> Result<DataDirLock> {
        create_private_dir(dir).map_err(|e| Error::io("create data dir", e))?;
        let file = open_private_file(&dir.join(LOCK_FILE)).map_err(|e| Error::io("open lock file", e))?;
        lock_exclusive(&file)?;
        Ok(DataDirLock { _file: file })
    }
}

#[cfg(unix)]
fn lock_exclusive(file: &File) -> Result<()> {
    use rustix::fs::{flock, FlockOperation};
    match flock(file, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(()),
        Err(e) if e == rustix::io::Errno::WOULDBLOCK => Err(Error::Domain(Msg::AlreadyOpen)),
        Err(e) => Err(Error::io("lock data dir", e.into())),
    }
}

#[cfg(not(unix))]
fn lock_exclusive(file: &File) -> Result<()> {
    // Windows (desktop only): std's advisory lock, same semantics.
    match file.try_lock() {
        Ok(()) => Ok(()),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::Domain(Msg::AlreadyOpen)),
        Err(std::fs::TryLockError::Error(e)) => Err(Error::io("lock data dir", e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_at_a_time_and_released_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("data");
        let first = DataDirLock::acquire(&d).unwrap();
        assert!(matches!(DataDirLock::acquire(&d), Err(Error::Domain(Msg::AlreadyOpen))));
        drop(first);
        let _again = DataDirLock::acquire(&d).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn directory_is_0700_and_files_0600_whatever_the_umask() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("a/b");
        let _l = DataDirLock::acquire(&d).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&d), 0o700);
        assert_eq!(mode(&d.join(LOCK_FILE)), 0o600);
        // An old file with wider permissions is tightened.
        let old = d.join("old");
        std::fs::write(&old, b"x").unwrap();
        std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o644)).unwrap();
        open_private_file(&old).unwrap();
        assert_eq!(mode(&old), 0o600);
    }
}

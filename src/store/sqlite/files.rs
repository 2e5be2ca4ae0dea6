//! The database files are private: 0600, or 0640 for a configured group,
//! whatever the umask.
//!
//! SQLite creates a new database with 0644 less the umask, so outside systemd
//! (umask 022) any local user could read the journal. It creates the `-wal`,
//! `-shm` and `-journal` files with the database file's own mode (and, as root,
//! its owner), so fixing the database file before SQLite opens it fixes them
//! all; files left by an earlier run are tightened here too.

use std::fs::{File, OpenOptions, Permissions};
use std::io;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Mode of the database files without a group.
pub const PRIVATE_MODE: u32 = 0o600;
/// Mode with `[database] file_group`: the group may read (backups, audits).
pub const GROUP_MODE: u32 = 0o640;

/// The database file and its SQLite companions.
fn companions(db: &Path) -> [PathBuf; 4] {
    let with = |suffix: &str| {
        let mut s = db.as_os_str().to_owned();
        s.push(suffix);
        PathBuf::from(s)
    };
    [
        db.to_path_buf(),
        with("-wal"),
        with("-shm"),
        with("-journal"),
    ]
}

/// Creates `db` if missing and gives it and its existing companions the
/// private mode, owned by `gid` when given.
pub fn make_private(db: &Path, gid: Option<u32>) -> io::Result<()> {
    let mode = if gid.is_some() {
        GROUP_MODE
    } else {
        PRIVATE_MODE
    };
    // Created with the final mode (the umask can only take bits away; set_permissions
    // below puts back any it took).
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(db)
    {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    for path in companions(db) {
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        if let Some(gid) = gid {
            std::os::unix::fs::fchown(&file, None, Some(gid))?;
        }
        file.set_permissions(Permissions::from_mode(mode))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::TestResult;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p)
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or(0)
    }

    #[test]
    fn new_and_existing_files_become_private() -> TestResult {
        let dir = tempfile::tempdir()?;
        let db = dir.path().join("c.db");
        make_private(&db, None)?;
        assert_eq!(mode(&db), 0o600);
        let wal = dir.path().join("c.db-wal");
        std::fs::write(&wal, b"")?;
        std::fs::set_permissions(&wal, Permissions::from_mode(0o666))?;
        // Our own primary group: chown to it is always allowed.
        // SAFETY: getegid has no preconditions.
        let gid = unsafe { libc::getegid() };
        make_private(&db, Some(gid))?;
        assert_eq!(mode(&db), 0o640);
        assert_eq!(mode(&wal), 0o640);
        Ok(())
    }
}

//! One daemon per SQLite database file.
//!
//! Why: the daemon keeps in-memory state beside the database (the dispatcher's
//! queues, the health index, staged statuses) and assumes it is the only writer of
//! LoxiLB objects it records as applied. Two processes on one file would each replay
//! the other's unfinished events and fight over LoxiLB. SQLite itself would let them
//! both in, so the daemon takes an exclusive lock on `<database>.lock` for its
//! lifetime and refuses to start when another process holds it, naming that process
//! (its pid, host and start time are written into the lock file).
//!
//! The lock is an advisory `flock`-style lock (`std::fs::File::try_lock`): the kernel
//! drops it when the process exits, even on `kill -9`, so a stale lock file never
//! blocks a restart.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use super::StoreError;

/// Held for as long as the process may write the database.
#[derive(Debug)]
pub struct InstanceLock {
    _file: File,
    path: PathBuf,
}

impl InstanceLock {
    /// The lock file of `database`: the database path with `.lock` appended.
    pub fn path_for(database: &Path) -> PathBuf {
        let mut p = database.as_os_str().to_owned();
        p.push(".lock");
        PathBuf::from(p)
    }

    /// Lock `database` for this process, or say which process holds it.
    pub fn acquire(database: &Path) -> Result<InstanceLock, StoreError> {
        let path = Self::path_for(database);
        let io = |source| StoreError::Io {
            path: path.display().to_string(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                return Err(StoreError::InUse {
                    file: database.display().to_string(),
                    holder: describe(holder.trim()),
                });
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        file.set_len(0).map_err(io)?;
        file.rewind().map_err(io)?;
        file.write_all(holder_line().as_bytes()).map_err(io)?;
        file.flush().map_err(io)?;
        Ok(InstanceLock { _file: file, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// What the lock file says about its holder, for the error message.
fn describe(line: &str) -> String {
    if line.is_empty() {
        "another process (it has not written its details yet)".to_string()
    } else {
        format!("another process ({line})")
    }
}

fn holder_line() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "unknown host".into());
    let started = crate::store::now_ms() / 1000;
    format!(
        "pid {} on {host}, started at unix time {started}\n",
        std::process::id()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::ok;

    #[test]
    fn a_second_holder_is_refused_with_the_file_and_the_first_holder() {
        let dir = ok(tempfile::tempdir());
        let db = dir.path().join("coordinator.db");
        let first = ok(InstanceLock::acquire(&db));
        assert_eq!(first.path(), dir.path().join("coordinator.db.lock"));
        let err = match InstanceLock::acquire(&db) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("a second lock on the same database was granted"),
        };
        assert!(err.contains(&db.display().to_string()), "{err}");
        assert!(
            err.contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
        drop(first);
        // Released with its holder: the next start gets it, stale file or not.
        ok(InstanceLock::acquire(&db));
    }
}

//! Binding the ingress Unix socket safely.
//!
//! A socket file left behind by a crashed daemon must not stop a restart, but a
//! socket that a running daemon still serves must never be stolen (two daemons
//! writing one journal would break ordering). So: connect first; only a refused
//! connection proves the file is stale.

use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tokio::net::{UnixListener, UnixStream};

/// Why the ingress socket could not be bound.
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    #[error("ingress socket {path} is in use by a running process; refusing to replace it")]
    InUse { path: String },
    #[error("ingress socket path {path} exists and is not a socket; refusing to remove it")]
    NotASocket { path: String },
    #[error("cannot bind ingress socket {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: io::Error,
    },
}

/// Bind `path` with permission bits `mode`, replacing a stale socket file.
pub async fn bind_unix(path: &Path, mode: u32) -> Result<UnixListener, ListenError> {
    let shown = path.display().to_string();
    let io_err = |source| ListenError::Io {
        path: shown.clone(),
        source,
    };
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => match UnixStream::connect(path).await {
            Ok(_) => return Err(ListenError::InUse { path: shown }),
            Err(_) => {
                tracing::warn!(path = %shown, "removing stale ingress socket left by an earlier run");
                std::fs::remove_file(path).map_err(io_err)?;
            }
        },
        Ok(_) => return Err(ListenError::NotASocket { path: shown }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err(e)),
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io_err)?;
    }
    let listener = {
        // The socket is created with its final mode: no moment with the umask's
        // looser default. The umask is per process; at start-up nothing else
        // creates files while this runs.
        let _umask = UmaskGuard::set(!mode & 0o777);
        UnixListener::bind(path).map_err(io_err)?
    };
    // umask only takes bits away; this also sets bits a stricter umask would drop.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(io_err)?;
    Ok(listener)
}

/// Sets the process umask; restores the previous one on drop.
struct UmaskGuard(libc::mode_t);

impl UmaskGuard {
    fn set(mask: u32) -> Self {
        // SAFETY: umask has no preconditions and cannot fail.
        UmaskGuard(unsafe { libc::umask(mask as libc::mode_t) })
    }
}

impl Drop for UmaskGuard {
    fn drop(&mut self) {
        // SAFETY: as above.
        unsafe { libc::umask(self.0) };
    }
}

/// The socket file a listener was bound to, remembered so a clean shutdown can
/// remove it: a file left behind would make the next start probe and replace
/// it as "stale", and clients would see "connection refused" instead of "no
/// such file" in between.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketFile {
    path: PathBuf,
    /// Device and inode at bind time: a file replaced since is not ours.
    id: (u64, u64),
}

impl SocketFile {
    /// The file `listener` is bound to; `None` for an unnamed socket or when
    /// the file is already gone.
    pub fn of(listener: &UnixListener) -> Option<SocketFile> {
        let addr = listener.local_addr().ok()?;
        let path = addr.as_pathname()?.to_path_buf();
        let id = file_id(&path)?;
        Some(SocketFile { path, id })
    }

    /// The socket's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Removes the file once nobody serves it: only when it is still the socket
    /// that was bound (same device and inode) and a connection is refused. The
    /// inode alone is not proof: a socket bound at the path since may reuse it.
    pub async fn remove(&self) {
        if file_id(&self.path) != Some(self.id) {
            return;
        }
        match UnixStream::connect(&self.path).await {
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => remove_socket(&self.path),
            _ => {
                tracing::debug!(path = %self.path.display(), "ingress socket served by another process; left")
            }
        }
    }
}

fn file_id(path: &Path) -> Option<(u64, u64)> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    meta.file_type()
        .is_socket()
        .then(|| (meta.dev(), meta.ino()))
}

/// Removes the socket file `bind_unix` created, after a start that failed.
pub fn remove_socket(path: &Path) {
    let is_socket = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket());
    if is_socket {
        if let Err(e) = std::fs::remove_file(path) {
            tracing::warn!(path = %path.display(), error = %e, "cannot remove the ingress socket");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::TestResult;

    #[tokio::test]
    async fn applies_mode_replaces_stale_and_refuses_live() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("sub/ingress.sock");
        let live = bind_unix(&path, 0o640).await?;
        let mode = std::fs::metadata(&path)?.permissions().mode();
        assert_eq!(mode & 0o777, 0o640);
        // A live listener is not stolen.
        let err = bind_unix(&path, 0o660)
            .await
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("in use"), "{err}");
        // Once its owner is gone, the file is stale and gets replaced.
        drop(live);
        let again = bind_unix(&path, 0o660).await;
        assert!(again.is_ok());
        Ok(())
    }

    #[tokio::test]
    async fn refuses_to_remove_a_regular_file() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("not-a-socket");
        std::fs::write(&path, b"data")?;
        let err = bind_unix(&path, 0o660)
            .await
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("not a socket"), "{err}");
        assert!(path.exists());
        Ok(())
    }

    /// The bound socket is removed; a socket bound at the same path by someone
    /// else afterwards is left alone.
    #[tokio::test]
    async fn socket_file_removes_only_the_socket_it_bound() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("ingress.sock");
        let first = bind_unix(&path, 0o600).await?;
        let file = SocketFile::of(&first).unwrap_or_else(|| panic!("no socket file"));
        assert_eq!(file.path(), path);
        drop(first);
        file.remove().await;
        assert!(!path.exists(), "socket file left behind");

        let first = bind_unix(&path, 0o600).await?;
        let file = SocketFile::of(&first).unwrap_or_else(|| panic!("no socket file"));
        drop(first);
        let _second = bind_unix(&path, 0o600).await?;
        file.remove().await;
        assert!(path.exists(), "removed a socket another listener bound");
        Ok(())
    }
}

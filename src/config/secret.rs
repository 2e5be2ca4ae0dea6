//! A string that must never end up in logs, `Debug` output or `check-config` output.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use subtle::ConstantTimeEq;

/// Text printed in place of a secret.
pub const REDACTED: &str = "***";

/// A password or token. `Debug`, `Display` and `Serialize` all print `***`, so a secret
/// cannot leak through `tracing` fields or the effective-configuration dump; only
/// [`Secret::expose`] gives the real value, which makes every use site easy to audit.
#[derive(Clone, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The real value. Call only where the secret is actually sent or compared.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Constant-time comparison with a presented credential (e.g. a bearer token), so
    /// response timing does not reveal how many leading bytes matched.
    pub fn matches(&self, candidate: &[u8]) -> bool {
        self.0.as_bytes().ct_eq(candidate).into()
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.matches(other.0.as_bytes())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret(s.to_owned()))
    }
}

/// Serializes as `***`: the only serialized form of a configuration is the redacted dump.
impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(REDACTED)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        crate::config::de::string(deserializer).map(Secret)
    }
}

/// Largest secret file accepted: a token or password is one short line.
pub(crate) const MAX_SECRET_FILE_BYTES: u64 = 4096;

/// The text of a file holding a secret (a token, a password), after the checks an SSH
/// private key gets: a regular file, no permission bit for group or others, owned by
/// the daemon's user or root (another owner could swap the secret or widen its mode),
/// at most [`MAX_SECRET_FILE_BYTES`]. The error is the reason, for the caller to put
/// next to the key that named the file.
pub(crate) fn read_private_file(path: &std::path::Path) -> Result<String, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read: {e}"))?;
    if !meta.is_file() {
        return Err("not a regular file".to_owned());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            return Err(format!(
                "mode {mode:04o} lets group or others read the secret; allowed: 0600 or 0400 (chmod 600)"
            ));
        }
        // SAFETY: geteuid has no preconditions.
        let me = unsafe { libc::geteuid() };
        if meta.uid() != me && meta.uid() != 0 {
            return Err(format!(
                "owned by uid {}; allowed: the daemon's user (uid {me}) or root",
                meta.uid()
            ));
        }
    }
    if meta.len() > MAX_SECRET_FILE_BYTES {
        return Err(format!(
            "{} bytes is too large for a secret file (at most {MAX_SECRET_FILE_BYTES})",
            meta.len()
        ));
    }
    std::fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_display_and_serialize_hide_the_value() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "***");
        assert_eq!(format!("{s}"), "***");
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"***\"");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn matches_compares_whole_value() {
        let s = Secret::new("abc");
        assert!(s.matches(b"abc"));
        assert!(!s.matches(b"ab"));
        assert!(!s.matches(b"abcd"));
        assert!(!s.matches(b"abd"));
        assert_eq!(s, Secret::new("abc"));
        assert_ne!(s, Secret::new("abd"));
    }
}

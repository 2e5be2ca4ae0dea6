//! `[database]`: where the coordinator keeps its ID mappings and pending work.

use serde::{Deserialize, Serialize};

use super::de;
use super::error::{quoted, Problems};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DatabaseConfig {
    /// sqlx URL. Only `sqlite:` is supported for now; PostgreSQL is planned.
    #[serde(deserialize_with = "de::string")]
    pub url: String,
    /// Connection pool size. 1..=64.
    #[serde(deserialize_with = "de::uint")]
    pub max_connections: u32,
    /// Group (name or number) given read access to the database files (mode 0640);
    /// unset, they are 0600.
    #[serde(deserialize_with = "de::opt_parse")]
    pub file_group: Option<String>,
    /// Finished (`done`) events are kept this many days, then pruned. Decimals are
    /// allowed (0.01 is about a quarter of an hour). Failed events are kept until an
    /// operator retries or clears them. 0 < days <= 3650.
    #[serde(deserialize_with = "de::number")]
    pub retention_days: f64,
    /// At most this many finished events are kept (the oldest go first), whatever
    /// their age. 1..=1,000,000,000.
    #[serde(deserialize_with = "de::uint")]
    pub retention_max_events: u64,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            url: "sqlite:///var/lib/loxilb-coordinator/coordinator.db".to_owned(),
            max_connections: 4,
            file_group: None,
            retention_days: 7.0,
            retention_max_events: 1_000_000,
        }
    }
}

impl DatabaseConfig {
    pub(crate) fn validate(&self, p: &mut Problems) {
        match self.url.strip_prefix("sqlite:") {
            Some(rest) if !rest.trim().is_empty() => {}
            Some(_) => p.push("database.url", quoted(&self.url), "must name a database file, e.g. sqlite:///var/lib/loxilb-coordinator/coordinator.db"),
            None => p.push(
                "database.url",
                quoted(&self.url),
                "only sqlite: URLs are supported for now (postgres support is planned)",
            ),
        }
        if let Some(Err(reason)) = self.file_gid() {
            p.push(
                "database.file_group",
                quoted(self.file_group.as_deref().unwrap_or_default()),
                reason,
            );
        }
        p.range(
            "database.max_connections",
            self.max_connections.into(),
            1,
            64,
        );
        if !(self.retention_days > 0.0 && self.retention_days <= 3650.0) {
            p.push(
                "database.retention_days",
                self.retention_days,
                "must be more than 0 and at most 3650 (decimals allowed, e.g. 0.5)",
            );
        }
        p.range(
            "database.retention_max_events",
            self.retention_max_events,
            1,
            1_000_000_000,
        );
    }

    /// How long finished events are kept.
    pub fn retention(&self) -> std::time::Duration {
        // validate() bounds the value; the clamp only keeps a bad value from panicking.
        std::time::Duration::from_secs_f64(self.retention_days.clamp(0.0, 3650.0) * 86_400.0)
    }
}

impl DatabaseConfig {
    /// `file_group` as a group id: `None` when unset.
    pub fn file_gid(&self) -> Option<Result<u32, String>> {
        self.file_group.as_deref().map(resolve_group)
    }
}

/// A group name or number as a gid, from the system's group database.
fn resolve_group(name: &str) -> Result<u32, String> {
    if let Ok(gid) = name.parse::<u32>() {
        return Ok(gid);
    }
    let c_name = std::ffi::CString::new(name).map_err(|_| "contains a NUL byte".to_owned())?;
    let mut group: libc::group = unsafe { std::mem::zeroed() };
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    let mut found: *mut libc::group = std::ptr::null_mut();
    // SAFETY: every pointer is to a live local of the right type and size;
    // getgrnam_r writes only into `group`, `buf` and `found`.
    let rc = unsafe {
        libc::getgrnam_r(
            c_name.as_ptr(),
            &mut group,
            buf.as_mut_ptr(),
            buf.len(),
            &mut found,
        )
    };
    if rc != 0 || found.is_null() {
        return Err("is not a group on this system (a group name or number)".to_owned());
    }
    Ok(group.gr_gid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_resolve_by_number_and_name() {
        assert_eq!(resolve_group("0"), Ok(0));
        assert_eq!(resolve_group("root"), Ok(0));
        assert!(resolve_group("no-such-group-loxilb").is_err());
    }
}

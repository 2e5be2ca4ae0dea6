//! `[database]`: where the coordinator keeps its ID mappings and pending work.
//!
//! The URL's scheme picks the backend and with it the deployment: `sqlite:` is one
//! instance on a local file; `mysql://` is cluster mode, any number of instances on one
//! shared MySQL/MariaDB (Galera) database. A MySQL password never sits in the URL (URLs
//! end up in logs, process lists and `check-config` output): it comes from
//! `password_file` or the environment variable [`PASSWORD_ENV`].

use std::fmt;
use std::path::{Path, PathBuf};

use reqwest::Url;
use serde::{Deserialize, Serialize};

use super::de;
use super::error::{quoted, ConfigError, Problems};
use super::secret::{Secret, REDACTED};

/// The environment variable that may carry the MySQL password instead of
/// `database.password_file` (containers often inject secrets this way).
pub const PASSWORD_ENV: &str = "LOXILB_COORDINATOR_DATABASE_PASSWORD";

/// Which storage backend a URL selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// One instance, one local file.
    Sqlite,
    /// Cluster mode: instances share the database and elect a leader.
    Mysql,
}

#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DatabaseConfig {
    /// sqlx URL: `sqlite://PATH`, or `mysql://USER@HOST:PORT/DATABASE` (cluster mode).
    #[serde(deserialize_with = "de::string")]
    pub url: String,
    /// Connection pool size. 1..=64.
    #[serde(deserialize_with = "de::uint")]
    pub max_connections: u32,
    /// Group (name or number) given read access to the database files (mode 0640);
    /// unset, they are 0600. SQLite only.
    #[serde(deserialize_with = "de::opt_parse")]
    pub file_group: Option<String>,
    /// File holding the MySQL password (mode 0600 or 0400). MySQL only; the
    /// environment variable [`PASSWORD_ENV`] is the alternative.
    #[serde(deserialize_with = "de::opt_parse")]
    pub password_file: Option<PathBuf>,
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
            password_file: None,
            retention_days: 7.0,
            retention_max_events: 1_000_000,
        }
    }
}

/// Written by hand so that a URL with an embedded password (refused by validation,
/// but it exists until then) never reaches a log through `{:?}`.
impl fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseConfig")
            .field("url", &redacted_url(&self.url))
            .field("max_connections", &self.max_connections)
            .field("file_group", &self.file_group)
            .field("password_file", &self.password_file)
            .field("retention_days", &self.retention_days)
            .field("retention_max_events", &self.retention_max_events)
            .finish()
    }
}

/// `url` with any password replaced by `***`, for messages and `Debug`.
pub fn redacted_url(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            // Cannot fail: a URL that has a password can have it replaced.
            let _ = u.set_password(Some(REDACTED));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

impl DatabaseConfig {
    pub(crate) fn validate(&self, p: &mut Problems) {
        match self.backend() {
            Some(Backend::Sqlite) => self.validate_sqlite(p),
            Some(Backend::Mysql) => validate_mysql_url(p, &self.url),
            None => p.push(
                "database.url",
                quoted(&redacted_url(&self.url)),
                "must be a sqlite: URL (one instance) or a mysql:// URL (cluster mode)",
            ),
        }
        if self.backend() == Some(Backend::Mysql) && self.file_group.is_some() {
            p.push(
                "database.file_group",
                quoted(self.file_group.as_deref().unwrap_or_default()),
                "applies to sqlite: databases only (a mysql:// database has no local files)",
            );
        }
        if let Some(Err(reason)) = self.file_gid() {
            p.push(
                "database.file_group",
                quoted(self.file_group.as_deref().unwrap_or_default()),
                reason,
            );
        }
        if let (Some(Backend::Sqlite), Some(path)) = (self.backend(), &self.password_file) {
            p.push(
                "database.password_file",
                quoted(&path.display().to_string()),
                "applies to mysql:// databases only",
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

    /// The backend the URL selects; `None` for an unsupported scheme.
    pub fn backend(&self) -> Option<Backend> {
        if self.url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else if self.url.starts_with("mysql://") {
            Some(Backend::Mysql)
        } else {
            None
        }
    }

    /// True for a `mysql://` database: instances share it and elect a leader.
    pub fn is_cluster(&self) -> bool {
        self.backend() == Some(Backend::Mysql)
    }

    fn validate_sqlite(&self, p: &mut Problems) {
        let rest = self.url.strip_prefix("sqlite:").unwrap_or_default();
        if rest.trim().is_empty() {
            p.push(
                "database.url",
                quoted(&self.url),
                "must name a database file, e.g. sqlite:///var/lib/loxilb-coordinator/coordinator.db",
            );
        }
    }

    /// The MySQL password: from `password_file`, or from [`PASSWORD_ENV`] (`env` is
    /// that variable's value; empty counts as unset). `Ok(None)` for SQLite or when
    /// neither is set (a passwordless account). Both set is refused, since which one
    /// wins would be a guess. The file gets the token file's checks (a regular file,
    /// mode 0600/0400, owned by us or root); one trailing newline is dropped.
    pub fn password(&self, env: Option<String>) -> Result<Option<Secret>, ConfigError> {
        if !self.is_cluster() {
            return Ok(None);
        }
        let env = env.filter(|v| !v.is_empty());
        match (&self.password_file, env) {
            (Some(path), Some(_)) => Err(ConfigError::DatabasePassword {
                source_name: format!("database.password_file = {}", path.display()),
                reason: format!("{PASSWORD_ENV} is set too; set only one of them"),
            }),
            (Some(path), None) => read_password_file(path).map(Some),
            (None, Some(v)) => Ok(Some(Secret::new(v))),
            (None, None) => Ok(None),
        }
    }

    /// How long finished events are kept.
    pub fn retention(&self) -> std::time::Duration {
        // validate() bounds the value; the clamp only keeps a bad value from panicking.
        std::time::Duration::from_secs_f64(self.retention_days.clamp(0.0, 3650.0) * 86_400.0)
    }
}

/// `mysql://USER@HOST[:PORT]/DATABASE[?options]`; no password in it.
fn validate_mysql_url(p: &mut Problems, url: &str) {
    const EXAMPLE: &str = "e.g. mysql://loxilb_coordinator@10.0.0.10:3306/loxilb_coordinator";
    let shown = quoted(&redacted_url(url));
    let u = match Url::parse(url) {
        Ok(u) => u,
        Err(e) => {
            p.push(
                "database.url",
                shown,
                format!("not a valid URL ({e}); {EXAMPLE}"),
            );
            return;
        }
    };
    if u.password().is_some() {
        p.push(
            "database.url",
            shown.clone(),
            format!("must not contain the password: put it in database.password_file or the environment variable {PASSWORD_ENV}"),
        );
    }
    if u.host_str().is_none_or(str::is_empty) {
        p.push(
            "database.url",
            shown.clone(),
            format!("must name the database host; {EXAMPLE}"),
        );
    }
    if u.username().is_empty() {
        p.push(
            "database.url",
            shown.clone(),
            format!("must name the database user; {EXAMPLE}"),
        );
    }
    let db = u.path().trim_start_matches('/');
    if db.is_empty() || db.contains('/') {
        p.push(
            "database.url",
            shown,
            format!("must name one database after the host; {EXAMPLE}"),
        );
    }
}

/// Reads `database.password_file` with the same checks as the TCP token file.
fn read_password_file(path: &Path) -> Result<Secret, ConfigError> {
    let err = |reason: String| ConfigError::DatabasePassword {
        source_name: format!("database.password_file = {}", path.display()),
        reason,
    };
    let text = super::secret::read_private_file(path).map_err(err)?;
    let password = text
        .strip_suffix('\n')
        .map(|t| t.strip_suffix('\r').unwrap_or(t))
        .unwrap_or(&text);
    if password.is_empty() {
        return Err(err("is empty; expected the password on one line".to_owned()));
    }
    Ok(Secret::new(password))
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

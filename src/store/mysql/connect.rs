//! Connecting: URL and password into options, a first connection that fails fast
//! with the host and the reason, and URLs redacted for every message.
//!
//! Why a first connection of its own: a sqlx pool retries a refused connection until
//! its acquire timeout and then reports only that it timed out, while the operator
//! needs "127.0.0.1:3306: connection refused" or "access denied" within seconds.

use std::str::FromStr;

use sqlx::mysql::{MySqlConnectOptions, MySqlConnection};
use sqlx::ConnectOptions;

use super::{StoreError, CONNECT_TIMEOUT};

/// `url` with any password replaced by `***`: `mysql://user:***@host/db`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let auth_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(auth_end);
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return url.to_string();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
        None => url.to_string(),
    }
}

/// Connect options from `url`; `password` (from a file or the environment) replaces
/// one in the URL. Errors name the URL redacted.
pub(super) fn options(
    url: &str,
    password: Option<&str>,
) -> Result<MySqlConnectOptions, StoreError> {
    let bad = |reason: String| StoreError::Url {
        url: redact_url(url),
        reason,
    };
    if !url.starts_with("mysql://") && !url.starts_with("mariadb://") {
        return Err(bad("a MySQL/MariaDB URL starts with mysql://".into()));
    }
    let url_for_sqlx = url.replacen("mariadb://", "mysql://", 1);
    let mut opts = MySqlConnectOptions::from_str(&url_for_sqlx)
        .map_err(|e| bad(scrub(&e.to_string(), password)))?;
    if opts.get_database().is_none_or(str::is_empty) {
        return Err(bad(
            "the URL names no database (mysql://user@host:port/DATABASE)".into(),
        ));
    }
    if let Some(pw) = password {
        opts = opts.password(pw);
    }
    // Statement logging would print bound values (bodies), at info level per query.
    Ok(opts.disable_statement_logging())
}

/// `host:port/database` of `opts`.
pub(super) fn target(opts: &MySqlConnectOptions) -> String {
    format!(
        "{}:{}/{}",
        opts.get_host(),
        opts.get_port(),
        opts.get_database().unwrap_or_default()
    )
}

/// One connection, within [`CONNECT_TIMEOUT`], or an error naming the server and why.
pub(super) async fn first_connection(
    opts: &MySqlConnectOptions,
    password: Option<&str>,
) -> Result<MySqlConnection, StoreError> {
    let host = format!("{}:{}", opts.get_host(), opts.get_port());
    match tokio::time::timeout(CONNECT_TIMEOUT, opts.connect()).await {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(e)) => Err(StoreError::Connect {
            host,
            reason: scrub(&e.to_string(), password),
        }),
        Err(_) => Err(StoreError::Connect {
            host,
            reason: format!("no answer within {CONNECT_TIMEOUT:?}"),
        }),
    }
}

/// `text` without `password` (a driver message should not echo it; be sure).
fn scrub(text: &str, password: Option<&str>) -> String {
    match password {
        Some(pw) if !pw.is_empty() => text.replace(pw, "***"),
        _ => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::TestResult;

    #[test]
    fn urls_are_redacted_in_every_shape() -> TestResult {
        assert_eq!(
            redact_url("mysql://u:hunter2@db:3306/x"),
            "mysql://u:***@db:3306/x"
        );
        assert_eq!(
            redact_url("mysql://u:p@ss:w@rd@db/x?ssl-mode=required"),
            "mysql://u:***@db/x?ssl-mode=required"
        );
        assert_eq!(redact_url("mysql://u@db/x"), "mysql://u@db/x");
        assert_eq!(redact_url("mysql://db/x"), "mysql://db/x");
        assert_eq!(redact_url("sqlite://a:b@c"), "sqlite://a:***@c");
        Ok(())
    }

    #[test]
    fn a_bad_url_error_never_shows_the_password() -> TestResult {
        for url in [
            "mysql://u:hunter2@db:notaport/x",
            "mysql://u:hunter2@db:3306",
            "postgres://u:hunter2@db/x",
        ] {
            let err = options(url, None).err().map(|e| format!("{e} {e:?}"));
            let msg = err.unwrap_or_else(|| panic!("{url} accepted"));
            assert!(!msg.contains("hunter2"), "{msg}");
            assert!(msg.contains("***"), "{msg}");
        }
        Ok(())
    }

    #[test]
    fn the_password_argument_replaces_the_urls() -> TestResult {
        let opts = options("mysql://u:old@127.0.0.1:3307/db", Some("new"))?;
        assert_eq!(target(&opts), "127.0.0.1:3307/db");
        assert!(!format!("{:?}", redact_url("mysql://u:new@h/db")).contains("new@"));
        Ok(())
    }
}

//! `[cluster]` and the MySQL side of `[database]`: every new validation error, and the
//! password never showing up in a message, `Debug` or the dump.

use std::path::Path;

use super::*;

const MYSQL: &str = "mysql://loxilb_coordinator@127.0.0.1:3306/loxilb_coordinator";

fn err_of(toml: &str) -> String {
    match Config::from_toml_str(toml) {
        Ok(c) => panic!("accepted {toml:?}: {c:?}"),
        Err(e) => e.to_string(),
    }
}

/// (TOML, key the message must name, detail it must contain)
const INVALID: &[(&str, &str, &str)] = &[
    (
        "[cluster]\nlease_seconds = 1",
        "cluster.lease_seconds",
        "= 1: must be between 2 and 300",
    ),
    (
        "[cluster]\nlease_seconds = 301",
        "cluster.lease_seconds",
        "= 301",
    ),
    (
        "[cluster]\nlease_seconds = 0",
        "cluster.lease_seconds",
        "= 0",
    ),
    (
        "[cluster]\nlease_seconds = 2.5",
        "cluster.lease_seconds",
        "non-negative integer",
    ),
    (
        "[cluster]\nlease_seconds = \"ten\"",
        "cluster.lease_seconds",
        "\"ten\"",
    ),
    (
        "[cluster]\nlease_seconds = -3",
        "cluster.lease_seconds",
        "-3",
    ),
    ("[cluster]\npoll_ms = 0", "cluster.poll_ms", "= 0"),
    ("[cluster]\npoll_ms = 10001", "cluster.poll_ms", "= 10001"),
    (
        "[cluster]\ninstance_id = \"\"",
        "cluster.instance_id",
        "must not be empty",
    ),
    (
        "[cluster]\ninstance_id = \" ctl-1\"",
        "cluster.instance_id",
        "leading/trailing spaces",
    ),
    (
        "[cluster]\ninstance_id = \"ctl\\n1\"",
        "cluster.instance_id",
        "control characters",
    ),
    (
        "[cluster]\ninstance_id = 7",
        "cluster.instance_id",
        "expected a string",
    ),
    (
        "[cluster]\nleader = true",
        "cluster.leader",
        "instance_id, lease_seconds, poll_ms",
    ),
    (
        "[database]\nurl = \"mysql://loxi:s3cret@db:3306/lc\"",
        "database.url",
        "password_file or the environment variable LOXILB_COORDINATOR_DATABASE_PASSWORD",
    ),
    (
        "[database]\nurl = \"mysql://db:3306/lc\"",
        "database.url",
        "must name the database user",
    ),
    (
        "[database]\nurl = \"mysql://u@db:3306/\"",
        "database.url",
        "must name one database",
    ),
    (
        "[database]\nurl = \"mysql://u@db:3306/a/b\"",
        "database.url",
        "must name one database",
    ),
    (
        "[database]\nurl = \"mysql://u@db:99999/lc\"",
        "database.url",
        "not a valid URL",
    ),
    (
        "[database]\nurl = \"mysql:///lc\"",
        "database.url",
        "must name the database host",
    ),
    (
        "[database]\nurl = \"mariadb://u@db/lc\"",
        "database.url",
        "mysql:// URL",
    ),
    (
        "[database]\npassword_file = \"/etc/pw\"",
        "database.password_file",
        "mysql:// databases only",
    ),
    (
        "[database]\nurl = \"mysql://u@db/lc\"\nfile_group = \"root\"",
        "database.file_group",
        "sqlite: databases only",
    ),
];

#[test]
fn invalid_cluster_and_mysql_values_are_rejected_naming_the_key() {
    for (toml, key, detail) in INVALID {
        let msg = err_of(toml);
        assert!(msg.contains(key), "{toml:?}: lacks {key}: {msg}");
        assert!(msg.contains(detail), "{toml:?}: lacks {detail:?}: {msg}");
    }
}

#[test]
fn a_password_in_the_url_is_never_shown() {
    let msg = err_of("[database]\nurl = \"mysql://loxi:hunter2-db@db:3306/lc\"");
    assert!(!msg.contains("hunter2-db"), "{msg}");
    assert!(msg.contains("mysql://loxi:***@db:3306/lc"), "{msg}");
    let c = Config {
        database: DatabaseConfig {
            url: "mysql://loxi:hunter2-db@db:3306/lc".to_owned(),
            ..DatabaseConfig::default()
        },
        ..Config::default()
    };
    let debug = format!("{c:?}");
    assert!(!debug.contains("hunter2-db"), "{debug}");
    assert!(debug.contains("***"), "{debug}");
}

#[test]
fn mysql_url_and_cluster_keys_are_accepted() {
    let c = Config::from_toml_str(&format!(
        "[database]\nurl = \"{MYSQL}?ssl-mode=required\"\nmax_connections = 8\n\
         [cluster]\ninstance_id = \"ctl-2\"\nlease_seconds = 2\npoll_ms = 20\n"
    ))
    .unwrap();
    assert!(c.database.is_cluster());
    assert_eq!(c.database.backend(), Some(Backend::Mysql));
    assert_eq!(c.cluster.instance_id, "ctl-2");
    assert_eq!(c.cluster.lease(), std::time::Duration::from_secs(2));
    assert_eq!(c.cluster.poll(), std::time::Duration::from_millis(20));
    let max = Config::from_toml_str("[cluster]\nlease_seconds = 300").unwrap();
    assert_eq!(max.cluster.lease_seconds, 300);
    assert!(!Config::default().database.is_cluster());
    let dumped = c.redacted_toml();
    assert!(
        dumped.contains("[cluster]\ninstance_id = \"ctl-2\""),
        "{dumped}"
    );
    assert_eq!(Config::from_toml_str(&dumped).unwrap(), c, "{dumped}");
}

#[test]
fn cluster_keys_come_from_the_environment_too() {
    let env = [
        ("LOXILB_COORDINATOR__CLUSTER__LEASE_SECONDS", "30"),
        ("LOXILB_COORDINATOR__CLUSTER__INSTANCE_ID", "ctl-3"),
        ("LOXILB_COORDINATOR__DATABASE__URL", MYSQL),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    let c = Config::load_with_env(None, env).unwrap();
    assert_eq!(
        (c.cluster.lease_seconds, c.cluster.instance_id.as_str()),
        (30, "ctl-3")
    );
    assert!(c.database.is_cluster());
}

fn mysql_with_file(path: Option<&Path>) -> DatabaseConfig {
    DatabaseConfig {
        url: MYSQL.to_owned(),
        password_file: path.map(Path::to_owned),
        ..DatabaseConfig::default()
    }
}

fn private_file(text: &str, mode: u32) -> (tempfile::TempDir, std::path::PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pw");
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    (dir, path)
}

#[test]
fn password_comes_from_the_file_or_the_environment() {
    let (_d, path) = private_file(" pass word \n", 0o600);
    let db = mysql_with_file(Some(&path));
    let pw = db.password(None).unwrap().unwrap();
    assert_eq!(pw.expose(), " pass word ", "only the line end is dropped");
    assert_eq!(format!("{pw:?} {pw}"), "*** ***");
    let env = mysql_with_file(None)
        .password(Some("from-env".to_owned()))
        .unwrap()
        .unwrap();
    assert_eq!(env.expose(), "from-env");
    assert!(mysql_with_file(None).password(None).unwrap().is_none());
    assert!(mysql_with_file(None)
        .password(Some(String::new()))
        .unwrap()
        .is_none());
    // SQLite has no password, whatever the environment says.
    let sqlite = DatabaseConfig::default()
        .password(Some("x".to_owned()))
        .unwrap();
    assert!(sqlite.is_none());
}

#[test]
fn bad_password_sources_are_refused_naming_them() {
    let (_d, path) = private_file("pw\n", 0o600);
    let both = mysql_with_file(Some(&path))
        .password(Some("env-secret".to_owned()))
        .unwrap_err()
        .to_string();
    assert!(
        both.contains("database.password_file") && both.contains(PASSWORD_ENV),
        "{both}"
    );
    assert!(
        !both.contains("env-secret") && !both.contains("pw\n"),
        "{both}"
    );

    let (_d2, open) = private_file("pw-open\n", 0o644);
    let msg = mysql_with_file(Some(&open))
        .password(None)
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("database.password_file") && msg.contains("0644"),
        "{msg}"
    );
    assert!(!msg.contains("pw-open"), "{msg}");

    let (_d3, empty) = private_file("\n", 0o400);
    let msg = mysql_with_file(Some(&empty))
        .password(None)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("is empty"), "{msg}");

    let missing = Path::new("/nonexistent/pw");
    let msg = mysql_with_file(Some(missing))
        .password(None)
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("database.password_file = /nonexistent/pw"),
        "{msg}"
    );
}

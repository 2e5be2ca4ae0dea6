//! A real MariaDB server for tests: Debian's `mariadbd` run as a plain process on a
//! temporary data directory, listening on a loopback port and a socket in that
//! directory. No system service, no root password, nothing left behind.
//!
//! Why a process per test binary rather than per test: `mariadb-install-db` and the
//! server's start take a few seconds, while a database takes milliseconds. Tests
//! share one server ([`MariaDb::shared`]) and each gets a database of its own
//! ([`MariaDb::fresh_database`]). Tests that stop or kill a server start their own
//! ([`MariaDb::start`]).
//!
//! The server never outlives the test process: it is launched through a small shell
//! watchdog that kills it (and removes its data directory) once the test process is
//! gone, however it ended. A server of [`MariaDb::start`] also goes when dropped.
//!
//! `LOXILB_TEST_MYSQL_URL` (an admin URL such as `mysql://root:pw@127.0.0.1:3306`)
//! points the shared server at an existing one instead; its pid is then unknown.
//!
//! In short:
//! - `MariaDb::shared()?.fresh_database("name").await?` -> `mysql://root@127.0.0.1:PORT/name_PID_N`;
//! - `fresh_database_with_password` -> (URL without the password, password) for a user
//!   with one ([`PASSWORD_USER`]);
//! - `MariaDb::start()?` -> a server of its own; `pid()` for SIGSTOP/SIGKILL,
//!   `terminate()` for a clean stop, dropped = killed;
//! - [`GaleraCluster::start(n)`](GaleraCluster::start) -> `n` nodes (`nodes()`, each a
//!   `MariaDb`), `fresh_database` -> its URL on every node.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use sqlx::Connection;

mod galera;
pub use galera::GaleraCluster;

/// Where Debian's mariadb-server puts the server and the bootstrap tool.
const MARIADBD: &str = "/usr/sbin/mariadbd";
const INSTALL_DB: &str = "/usr/bin/mariadb-install-db";

/// The message for a machine without the server (CI installs it in `.ci/run`).
pub const NOT_FOUND: &str =
    "MariaDB server not found: install Debian's mariadb-server (apt-get install mariadb-server)";

/// A user with a password, created on every harness server, for tests of the
/// password path (the root user has none).
pub const PASSWORD_USER: (&str, &str) = ("loxilb_test", "s3cret-pw");

/// How long a server may take to say it is ready.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a server could not be provided.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    #[error("{0}")]
    NotFound(&'static str),
    #[error("cannot run {what}: {source}")]
    Spawn {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Start(String),
    #[error("database error: {0}")]
    Sql(#[from] sqlx::Error),
}

/// A running MariaDB server (or, with `LOXILB_TEST_MYSQL_URL`, an existing one).
#[derive(Debug)]
pub struct MariaDb {
    /// Admin URL without a database: `mysql://root@127.0.0.1:PORT`.
    admin_url: String,
    /// Host and port of the admin URL.
    host: String,
    port: u16,
    pid: Option<u32>,
    socket: Option<PathBuf>,
    /// The watchdog shell (parent of mariadbd); killed on drop.
    watchdog: Mutex<Option<Child>>,
    _dir: Option<tempfile::TempDir>,
}

static SHARED: OnceLock<Result<MariaDb, String>> = OnceLock::new();
/// Server options added after the harness's own (a later option wins in mariadbd).
static EXTRA_ARGS: OnceLock<Vec<String>> = OnceLock::new();

/// Options for every server this process starts from now on, after the harness's
/// small test settings (so `--innodb-buffer-pool-size=128M` replaces its 32M): the
/// benchmarks measure with a deployment's settings this way. Call it before the
/// first server starts; false when options were already set.
pub fn set_server_options(options: Vec<String>) -> bool {
    EXTRA_ARGS.set(options).is_ok()
}
static NEXT_DB: AtomicU64 = AtomicU64::new(1);

impl MariaDb {
    /// The test process's shared server, started on first use. Panics are the
    /// caller's business: this returns the reason (never skips silently).
    pub fn shared() -> Result<&'static MariaDb, HarnessError> {
        let server = SHARED.get_or_init(|| match std::env::var("LOXILB_TEST_MYSQL_URL") {
            Ok(url) if !url.is_empty() => Ok(MariaDb::existing(&url)),
            _ => MariaDb::start().map_err(|e| e.to_string()),
        });
        server.as_ref().map_err(|e| HarnessError::Start(e.clone()))
    }

    fn existing(url: &str) -> MariaDb {
        let url = url.trim_end_matches('/').to_string();
        let authority = url.split_once("://").map_or(url.as_str(), |(_, rest)| rest);
        let authority = authority.split('/').next().unwrap_or_default();
        let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), p.parse().unwrap_or(3306)),
            None => (hostport.to_string(), 3306),
        };
        MariaDb {
            admin_url: url,
            host,
            port,
            pid: None,
            socket: None,
            watchdog: Mutex::new(None),
            _dir: None,
        }
    }

    /// A server of its own (for tests that stop or kill it), gone when dropped.
    pub fn start() -> Result<MariaDb, HarnessError> {
        if !Path::new(MARIADBD).exists() || !Path::new(INSTALL_DB).exists() {
            return Err(HarnessError::NotFound(NOT_FOUND));
        }
        let dir = tempfile::Builder::new()
            .prefix("mariadb-harness-")
            .tempdir()
            .map_err(|e| HarnessError::Start(format!("cannot create a data directory: {e}")))?;
        install(dir.path())?;
        let mut last = String::new();
        // A free port can be taken between our probe and the server's bind.
        for _ in 0..5 {
            let port = free_port()?;
            let mut args = server_args(dir.path(), port);
            args.push(format!(
                "--init-file={}",
                dir.path().join("init.sql").display()
            ));
            match launch(dir.path(), &args)? {
                Launched::Ready(child, pid) => {
                    return Ok(MariaDb {
                        admin_url: format!("mysql://root@127.0.0.1:{port}"),
                        host: "127.0.0.1".into(),
                        port,
                        pid: Some(pid),
                        socket: Some(dir.path().join("mysqld.sock")),
                        watchdog: Mutex::new(Some(child)),
                        _dir: Some(dir),
                    });
                }
                Launched::PortTaken(log) => last = log,
            }
        }
        Err(HarnessError::Start(format!(
            "mariadbd found no free port after 5 tries: {last}"
        )))
    }

    /// Admin URL (root, no database).
    pub fn admin_url(&self) -> &str {
        &self.admin_url
    }

    /// The server's host (127.0.0.1 for a harness server).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The server's TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// mariadbd's pid (for SIGSTOP/SIGKILL in HA tests); None for an existing server.
    pub fn pid(&self) -> Option<u32> {
        self.pid
    }

    /// Stop the server cleanly (SIGTERM) and wait until it is gone, at most 60 s.
    /// (Tests that need it stopped hard send SIGKILL or SIGSTOP to [`MariaDb::pid`].)
    pub fn terminate(&self) -> Result<(), HarnessError> {
        let Some(pid) = self.pid else {
            return Err(HarnessError::Start("not a harness server".into()));
        };
        let _ = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(60);
        while process_alive(pid) {
            if Instant::now() > deadline {
                return Err(HarnessError::Start(format!("mariadbd {pid} still running")));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    /// The server's unix socket; None for an existing server.
    pub fn socket(&self) -> Option<&Path> {
        self.socket.as_deref()
    }

    /// Create an empty database named after `name` (plus a unique suffix) and return
    /// its URL as the admin user: `mysql://root@127.0.0.1:PORT/name_PID_N`.
    pub async fn fresh_database(&self, name: &str) -> Result<String, HarnessError> {
        let db = self.create_database(name).await?;
        Ok(format!("{}/{db}", self.admin_url))
    }

    /// Like [`MariaDb::fresh_database`], reached as [`PASSWORD_USER`]: the URL has no
    /// password, which is returned beside it (as the daemon gets it from a file).
    pub async fn fresh_database_with_password(
        &self,
        name: &str,
    ) -> Result<(String, String), HarnessError> {
        let db = self.create_database(name).await?;
        let (user, password) = PASSWORD_USER;
        let mut conn = sqlx::MySqlConnection::connect(&self.admin_url).await?;
        // Any client host: an existing server (LOXILB_TEST_MYSQL_URL) may be remote.
        for sql in [
            format!("CREATE USER IF NOT EXISTS '{user}'@'%' IDENTIFIED BY '{password}'"),
            format!("GRANT ALL ON `{db}`.* TO '{user}'@'%'"),
        ] {
            sqlx::query(&sql).execute(&mut conn).await?;
        }
        conn.close().await?;
        let url = format!("mysql://{user}@{}:{}/{db}", self.host, self.port);
        Ok((url, password.to_string()))
    }

    async fn create_database(&self, name: &str) -> Result<String, HarnessError> {
        let clean: String = name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .take(40)
            .collect();
        let n = NEXT_DB.fetch_add(1, Ordering::Relaxed);
        let db = format!("{clean}_{}_{n}", std::process::id());
        let mut conn = sqlx::MySqlConnection::connect(&self.admin_url).await?;
        sqlx::query(&format!(
            "CREATE DATABASE `{db}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
        ))
        .execute(&mut conn)
        .await?;
        conn.close().await?;
        Ok(db)
    }
}

impl Drop for MariaDb {
    fn drop(&mut self) {
        if let Some(pid) = self.pid.filter(|p| process_alive(*p)) {
            // SIGKILL also ends a server a test left stopped (SIGSTOP).
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        }
        if let Ok(mut w) = self.watchdog.lock() {
            if let Some(mut child) = w.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// Whether `pid` runs (a zombie, reaped by the watchdog soon, does not).
fn process_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit(')')
            .next()
            .is_some_and(|r| !r.trim_start().starts_with('Z'))
    })
}

/// A port the kernel reports free on 127.0.0.1 right now.
fn free_port() -> Result<u16, HarnessError> {
    let l = TcpListener::bind("127.0.0.1:0")
        .map_err(|e| HarnessError::Start(format!("cannot find a free port: {e}")))?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|e| HarnessError::Start(format!("cannot find a free port: {e}")))
}

/// The system tables of a new server in `dir/data` (root without a password).
fn install(dir: &Path) -> Result<(), HarnessError> {
    let data = dir.join("data");
    // A temporary directory of its own: bootstraps running side by side in /tmp
    // lost each other's temporary tables ("Unknown table 'mysql.tmp_user_sys'").
    let tmp = dir.join("tmp");
    std::fs::create_dir_all(&tmp)
        .map_err(|e| HarnessError::Start(format!("cannot create {}: {e}", tmp.display())))?;
    let mut cmd = Command::new(INSTALL_DB);
    cmd.env("TMPDIR", &tmp);
    cmd.arg("--no-defaults")
        .arg(format!("--datadir={}", data.display()))
        .args(["--auth-root-authentication-method=normal", "--skip-test-db"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if is_root() {
        cmd.arg("--user=root");
    }
    let out = cmd.output().map_err(|e| HarnessError::Spawn {
        what: INSTALL_DB.into(),
        source: e,
    })?;
    if !out.status.success() {
        return Err(HarnessError::Start(format!(
            "mariadb-install-db failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    // Run at every start: root may also connect over loopback TCP.
    let init = "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1';\n\
                GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;\n";
    std::fs::write(dir.join("init.sql"), init)
        .map_err(|e| HarnessError::Start(format!("cannot write init.sql: {e}")))
}

fn is_root() -> bool {
    std::env::var("USER").is_ok_and(|u| u == "root")
        || std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
}

enum Launched {
    Ready(Child, u32),
    PortTaken(String),
}

/// The watchdog: starts mariadbd, prints its pid, and kills it and removes the data
/// directory when the test process (`$1`) is gone or mariadbd died.
const WATCHDOG: &str = r#"
parent="$1"; dir="$2"; shift 2
"$@" >"$dir/server.log" 2>&1 </dev/null &
m=$!
echo "$m"
while kill -0 "$parent" 2>/dev/null && kill -0 "$m" 2>/dev/null; do sleep 0.5; done
kill -9 "$m" 2>/dev/null
if ! kill -0 "$parent" 2>/dev/null; then rm -rf "$dir"; fi
"#;

/// Start mariadbd with `args` through the watchdog and wait
/// until it is ready.
fn launch(dir: &Path, args: &[String]) -> Result<Launched, HarnessError> {
    let log = dir.join("server.log");
    let _ = std::fs::remove_file(&log);
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(WATCHDOG)
        .arg("mariadb-harness")
        .arg(std::process::id().to_string())
        .arg(dir)
        .arg(MARIADBD)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = cmd.spawn().map_err(|e| HarnessError::Spawn {
        what: "sh (mariadbd watchdog)".into(),
        source: e,
    })?;
    let pid = read_pid(&mut child)?;
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("ready for connections") {
            return Ok(Launched::Ready(child, pid));
        }
        if let Ok(Some(_)) = child.try_wait() {
            if text.contains("Address already in use") || text.contains("Do you already have") {
                return Ok(Launched::PortTaken(text));
            }
            return Err(HarnessError::Start(format!("mariadbd exited: {text}")));
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            return Err(HarnessError::Start(format!(
                "mariadbd not ready after {READY_TIMEOUT:?}: {text}"
            )));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn read_pid(child: &mut Child) -> Result<u32, HarnessError> {
    let mut line = String::new();
    if let Some(out) = child.stdout.take() {
        let mut reader = BufReader::new(out);
        reader
            .read_line(&mut line)
            .map_err(|e| HarnessError::Start(format!("no pid from the watchdog: {e}")))?;
    }
    line.trim()
        .parse()
        .map_err(|_| HarnessError::Start(format!("no pid from the watchdog: {line:?}")))
}

/// Small memory settings: a test server holds a few databases of a few rows.
fn server_args(dir: &Path, port: u16) -> Vec<String> {
    let d = dir.display();
    let mut args = vec![
        "--no-defaults".to_string(),
        format!("--datadir={d}/data"),
        format!("--socket={d}/mysqld.sock"),
        format!("--pid-file={d}/mysqld.pid"),
        format!("--tmpdir={d}/tmp"),
        format!("--port={port}"),
        "--bind-address=127.0.0.1".into(),
        "--skip-name-resolve".into(),
        "--performance-schema=OFF".into(),
        "--innodb-buffer-pool-size=32M".into(),
        "--innodb-log-file-size=16M".into(),
        "--max-connections=500".into(),
        "--skip-log-bin".into(),
    ];
    if is_root() {
        args.push("--user=root".into());
    }
    args.extend(EXTRA_ARGS.get().into_iter().flatten().cloned());
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a test returns: `?` ends it with the failing step's error.
    type TestResult = Result<(), Box<dyn std::error::Error>>;

    #[tokio::test]
    async fn a_fresh_database_is_reachable_and_empty() -> TestResult {
        let server = MariaDb::shared()?;
        let url = server.fresh_database("harness").await?;
        let mut conn = sqlx::MySqlConnection::connect(&url)
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        let (n,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE()",
        )
        .fetch_one(&mut conn)
        .await?;
        assert_eq!(n, 0);
        Ok(())
    }

    #[test]
    fn an_existing_servers_url_gives_its_host_and_port() -> TestResult {
        let s = MariaDb::existing("mysql://root:pw@db.example:3307/");
        assert_eq!((s.host(), s.port(), s.pid()), ("db.example", 3307, None));
        assert_eq!(s.admin_url(), "mysql://root:pw@db.example:3307");
        let s = MariaDb::existing("mysql://root@10.0.0.1");
        assert_eq!((s.host(), s.port()), ("10.0.0.1", 3306));
        Ok(())
    }

    #[tokio::test]
    async fn a_separate_server_dies_with_its_handle() -> TestResult {
        let server = MariaDb::start()?;
        let pid = server.pid().ok_or("no pid")?;
        assert!(Path::new(&format!("/proc/{pid}")).exists());
        let (url, pw) = server.fresh_database_with_password("pw").await?;
        let opts: sqlx::mysql::MySqlConnectOptions = url.parse()?;
        let conn = sqlx::MySqlConnection::connect_with(&opts.password(&pw)).await;
        assert!(conn.is_ok(), "{:?}", conn.err());
        drop(server);
        std::thread::sleep(Duration::from_millis(300));
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        assert!(state.is_empty() || state.contains(" Z "), "{state}");
        Ok(())
    }
}

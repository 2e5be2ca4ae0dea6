//! TEMPORARY test helper: a throw-away MariaDB server for the lease tests, until the
//! shared harness (`crates/mariadb-harness`) lands; then these tests move onto it and
//! this file goes.
//!
//! `mariadb-install-db` on a temporary data directory, then `mariadbd` as a plain
//! child process on a free loopback port and a socket in the same directory; killed
//! (by its own pid) on drop. Needs the Debian `mariadb-server` package.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use sqlx::mysql::{MySqlPool, MySqlPoolOptions};

const MARIADBD: &str = "/usr/sbin/mariadbd";

/// A running server; the process and its directory go on drop.
pub struct TmpMariaDb {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
    l.local_addr()
        .unwrap_or_else(|e| panic!("local_addr: {e}"))
        .port()
}

/// `--user=root` is required when the tests run as root (CI containers).
fn user_args() -> Vec<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        vec!["--user=root".to_owned()]
    } else {
        Vec::new()
    }
}

/// Initialises `dir/data`. Each server gets its own `--tmpdir`: with the shared
/// /tmp, installs running in parallel (parallel tests) trip over each other's
/// temporary tables.
fn install(dir: &Path) {
    let out = Command::new("mariadb-install-db")
        .arg("--no-defaults")
        .arg(format!("--datadir={}", dir.join("data").display()))
        .arg(format!("--tmpdir={}", dir.join("tmp").display()))
        .arg("--auth-root-authentication-method=normal")
        .arg("--skip-test-db")
        .args(user_args())
        .output()
        .unwrap_or_else(|e| panic!("mariadb-install-db (package mariadb-server): {e}"));
    assert!(
        out.status.success(),
        "mariadb-install-db: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl TmpMariaDb {
    /// Installs and starts a server, and creates database `lc`.
    pub async fn start() -> TmpMariaDb {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let data = dir.path().join("data");
        std::fs::create_dir(dir.path().join("tmp")).unwrap_or_else(|e| panic!("tmpdir: {e}"));
        install(dir.path());
        let port = free_port();
        let child = Command::new(MARIADBD)
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--tmpdir={}", dir.path().join("tmp").display()))
            .arg(format!("--port={port}"))
            .arg("--bind-address=127.0.0.1")
            .arg(format!("--socket={}", dir.path().join("sock").display()))
            .arg(format!("--pid-file={}", dir.path().join("pid").display()))
            .args([
                "--skip-log-bin",
                "--skip-name-resolve",
                "--performance-schema=OFF",
                "--innodb-buffer-pool-size=16M",
            ])
            .args(user_args())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{MARIADBD}: {e}"));
        let db = TmpMariaDb {
            child,
            port,
            _dir: dir,
        };
        let root = db.wait_ready().await;
        sqlx::query("CREATE DATABASE lc")
            .execute(&root)
            .await
            .unwrap_or_else(|e| panic!("create database: {e}"));
        root.close().await;
        db
    }

    async fn wait_ready(&self) -> MySqlPool {
        let url = format!("mysql://root@127.0.0.1:{}/", self.port);
        for _ in 0..300 {
            if let Ok(pool) = MySqlPoolOptions::new()
                .max_connections(1)
                .connect(&url)
                .await
            {
                return pool;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("mariadbd on port {} did not answer in 15 s", self.port)
    }

    /// A pool on database `lc`.
    pub async fn pool(&self, max_connections: u32) -> MySqlPool {
        let url = format!("mysql://root@127.0.0.1:{}/lc", self.port);
        MySqlPoolOptions::new()
            .max_connections(max_connections)
            .connect(&url)
            .await
            .unwrap_or_else(|e| panic!("connect {url}: {e}"))
    }
}

impl Drop for TmpMariaDb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

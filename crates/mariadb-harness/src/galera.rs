//! A Galera cluster of harness servers on loopback ports, for tests of what only
//! Galera does: certification conflicts at COMMIT (error 1213) between writers on
//! different nodes.
//!
//! The first node bootstraps the cluster; the others join it and receive its data
//! by a mariabackup state transfer (Debian's mariadb-backup package: rsync's transfer
//! fails when run as root, because its daemon drops to "nobody").

use std::path::Path;
use std::sync::Mutex;

use super::{free_port, install, launch, server_args, HarnessError, Launched, MariaDb};

/// Where Debian's galera-4 package puts the provider.
const PROVIDER: &str = "/usr/lib/galera/libgalera_smm.so";

/// The state transfer tool joiners receive the data with.
const MARIABACKUP: &str = "/usr/bin/mariabackup";

/// Attempts at the whole cluster when a port was taken meanwhile.
const ATTEMPTS: usize = 3;

/// The nodes of one Galera cluster, each a [`MariaDb`] (pid, port, URLs); all go
/// when the cluster is dropped.
#[derive(Debug)]
pub struct GaleraCluster {
    nodes: Vec<MariaDb>,
}

/// The loopback ports of one node.
#[derive(Clone, Copy)]
struct Ports {
    sql: u16,
    gcomm: u16,
    ist: u16,
    sst: u16,
}

impl GaleraCluster {
    /// Start a cluster of `n` nodes (at least 2).
    pub fn start(n: usize) -> Result<GaleraCluster, HarnessError> {
        if !Path::new(PROVIDER).exists() || !Path::new(MARIABACKUP).exists() {
            return Err(HarnessError::NotFound(
                "Galera not found: install Debian's galera-4 and mariadb-backup \
                 (apt-get install galera-4 mariadb-backup)",
            ));
        }
        let mut last = None;
        for _ in 0..ATTEMPTS {
            match try_start(n.max(2)) {
                Ok(Some(cluster)) => return Ok(cluster),
                Ok(None) => last = Some("a port was taken while starting".to_string()),
                Err(e) => return Err(e),
            }
        }
        Err(HarnessError::Start(format!(
            "Galera cluster did not start after {ATTEMPTS} tries: {}",
            last.unwrap_or_default()
        )))
    }

    /// The nodes, the first being the one the cluster was bootstrapped from.
    pub fn nodes(&self) -> &[MariaDb] {
        &self.nodes
    }

    /// Create an empty database (on the first node; Galera replicates it) and return
    /// its URL on every node, in node order.
    pub async fn fresh_database(&self, name: &str) -> Result<Vec<String>, HarnessError> {
        let first = self
            .nodes
            .first()
            .ok_or_else(|| HarnessError::Start("no nodes".into()))?;
        let db = first.create_database(name).await?;
        Ok(self
            .nodes
            .iter()
            .map(|n| format!("{}/{db}", n.admin_url()))
            .collect())
    }
}

fn pick_ports() -> Result<Ports, HarnessError> {
    Ok(Ports {
        sql: free_port()?,
        gcomm: free_port()?,
        ist: free_port()?,
        sst: free_port()?,
    })
}

/// The configuration of node `i` of the cluster `address` (`gcomm://` alone
/// bootstraps a new one), as a defaults file: the state transfer scripts read the
/// server's settings (socket, user, directories) from it, and with `--no-defaults`
/// the donor's backup failed.
fn write_config(dir: &Path, i: usize, p: Ports, address: &str) -> Result<String, HarnessError> {
    let mut cnf = String::from("[mysqld]\n");
    // The harness's own settings, without --no-defaults.
    for arg in server_args(dir, p.sql).iter().skip(1) {
        cnf.push_str(arg.trim_start_matches("--"));
        cnf.push('\n');
    }
    let provider_options = format!(
        "\"gmcast.listen_addr=tcp://127.0.0.1:{};ist.recv_addr=127.0.0.1:{};gcache.size=32M\"",
        p.gcomm, p.ist
    );
    for (key, value) in [
        ("wsrep-on", "ON".to_string()),
        ("wsrep-provider", PROVIDER.to_string()),
        ("wsrep-cluster-address", address.to_string()),
        ("wsrep-cluster-name", "mariadb-harness".to_string()),
        ("wsrep-node-address", "127.0.0.1".to_string()),
        ("wsrep-node-name", format!("node{i}")),
        ("wsrep-sst-receive-address", format!("127.0.0.1:{}", p.sst)),
        ("wsrep-provider-options", provider_options),
        ("wsrep-sst-method", "mariabackup".to_string()),
        ("wsrep-sst-auth", "root:".to_string()),
        ("binlog-format", "ROW".to_string()),
        ("innodb-autoinc-lock-mode", "2".to_string()),
    ] {
        cnf.push_str(&format!("{key}={value}\n"));
    }
    // The transfer's own log goes to the server's log, not to syslog.
    cnf.push_str("[sst]\nsst-syslog=-1\n");
    let path = dir.join("my.cnf");
    std::fs::write(&path, cnf)
        .map_err(|e| HarnessError::Start(format!("cannot write {}: {e}", path.display())))?;
    Ok(format!("--defaults-file={}", path.display()))
}

/// One attempt; `None` when a port was taken meanwhile.
fn try_start(n: usize) -> Result<Option<GaleraCluster>, HarnessError> {
    let ports = (0..n)
        .map(|_| pick_ports())
        .collect::<Result<Vec<_>, _>>()?;
    let first = format!("gcomm://127.0.0.1:{}", ports[0].gcomm);
    let mut nodes = Vec::with_capacity(n);
    for (i, p) in ports.iter().enumerate() {
        let dir = tempfile::Builder::new()
            .prefix("mariadb-galera-")
            .tempdir()
            .map_err(|e| HarnessError::Start(format!("cannot create a data directory: {e}")))?;
        let args = if i == 0 {
            install(dir.path())?;
            vec![
                write_config(dir.path(), i, *p, "gcomm://")?,
                "--wsrep-new-cluster".into(),
                format!("--init-file={}", dir.path().join("init.sql").display()),
            ]
        } else {
            // Empty: the state transfer brings the first node's data.
            for sub in ["data", "tmp"] {
                std::fs::create_dir_all(dir.path().join(sub))
                    .map_err(|e| HarnessError::Start(format!("cannot create {sub}: {e}")))?;
            }
            vec![write_config(dir.path(), i, *p, &first)?]
        };
        match launch(dir.path(), &args)? {
            Launched::Ready(child, pid) => nodes.push(node(dir, p.sql, pid, child)),
            Launched::PortTaken(_) => return Ok(None),
        }
    }
    Ok(Some(GaleraCluster { nodes }))
}

fn node(dir: tempfile::TempDir, port: u16, pid: u32, child: std::process::Child) -> MariaDb {
    MariaDb {
        admin_url: format!("mysql://root@127.0.0.1:{port}"),
        host: "127.0.0.1".into(),
        port,
        pid: Some(pid),
        socket: Some(dir.path().join("mysqld.sock")),
        watchdog: Mutex::new(Some(child)),
        _dir: Some(dir),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::Connection;

    /// What a test returns: `?` ends it with the failing step's error.
    type TestResult = Result<(), Box<dyn std::error::Error>>;
    /// A row written on one node is read on the other: the nodes form one cluster.
    #[tokio::test]
    async fn two_nodes_replicate_each_others_writes() -> TestResult {
        let cluster = GaleraCluster::start(2)?;
        let urls = cluster.fresh_database("galera").await?;
        let mut a = sqlx::MySqlConnection::connect(&urls[0]).await?;
        sqlx::query("CREATE TABLE t (id INT PRIMARY KEY)")
            .execute(&mut a)
            .await?;
        sqlx::query("INSERT INTO t VALUES (7)")
            .execute(&mut a)
            .await?;
        let mut b = sqlx::MySqlConnection::connect(&urls[1]).await?;
        // Causal reads: wait until this node applied what the cluster committed.
        sqlx::query("SET SESSION wsrep_sync_wait = 1")
            .execute(&mut b)
            .await?;
        let (n,): (i32,) = sqlx::query_as("SELECT id FROM t").fetch_one(&mut b).await?;
        assert_eq!(n, 7);
        let (size,): (String,) = sqlx::query_as(
            "SELECT CAST(VARIABLE_VALUE AS CHAR) FROM information_schema.global_status \
             WHERE VARIABLE_NAME = 'wsrep_cluster_size'",
        )
        .fetch_one(&mut b)
        .await?;
        assert_eq!(size, "2");
        Ok(())
    }
}

//! Applied state: what we put on each LoxiLB node (rules, probes), the probe references
//! that explain why a probe exists, and the per-node catch-up backlog.
//!
//! The store keeps bodies as JSON text; the applier owns their meaning. Keeping these
//! records (rather than reading LoxiLB back on every event) makes an event cost only
//! the calls for what changed, and lets a replayed event find everything in place.

use crate::store::api::{self, *};

use std::collections::BTreeSet;

use sqlx::Row;

use super::stmt::Stmt;
use super::{direct, SqliteStore};
use crate::store::{now_ms, StoreError};

/// Keys per `IN (...)` list (SQLite allows 32766 parameters; stay far below).
const IN_CHUNK: usize = 500;

/// A probe reference from a row whose columns, from `first` on, are probe_key,
/// member_id, pool_id, healthmonitor_id, loadbalancer_id, options.
pub(super) fn ref_row(r: &rusqlite::Row<'_>, first: usize) -> rusqlite::Result<ProbeRefRow> {
    Ok(ProbeRefRow {
        probe_key: r.get(first)?,
        member_id: r.get(first + 1)?,
        pool_id: r.get(first + 2)?,
        healthmonitor_id: r.get::<_, Option<String>>(first + 3)?.unwrap_or_default(),
        loadbalancer_id: r.get(first + 4)?,
        options: r.get(first + 5)?,
    })
}

/// Longest `IN` list padded to a cached shape (see [`in_shape`]).
const CACHED_IN_MAX: usize = 64;

/// The `IN` list length to query `n` keys with, and whether its statement stays
/// compiled. Up to [`CACHED_IN_MAX`] keys the list is padded to the next power of two
/// (the last key repeated, which `IN` ignores), so the few shapes (1, 2, 4 .. 64) stay
/// in the statement cache: a sync of a 20-member pool compiled its 20-key query afresh
/// every time (2 % of the daemon's CPU in the soak benchmark). Longer lists are rare
/// and not cached, so they cannot evict the common shapes.
pub(crate) fn in_shape(n: usize) -> (usize, bool) {
    if n <= CACHED_IN_MAX {
        (n.max(1).next_power_of_two(), true)
    } else {
        (n, false)
    }
}

/// `chunk` as query parameters, padded to `len` by repeating its last key.
fn padded<'a>(chunk: &[&'a String], len: usize) -> Vec<&'a dyn rusqlite::ToSql> {
    let mut params: Vec<&dyn rusqlite::ToSql> =
        chunk.iter().map(|k| *k as &dyn rusqlite::ToSql).collect();
    if let Some(last) = chunk.last() {
        params.resize(len.max(chunk.len()), *last as &dyn rusqlite::ToSql);
    }
    params
}

/// "?, ?, ?" for `n` parameters.
fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

impl SqliteStore {
    /// (key, options) of `table` (`probes` or `probe_intents`) on `node` for `keys`,
    /// in key order, read on the calling thread in chunks of a few fixed shapes.
    fn probe_rows(
        &self,
        table: &str,
        node: &str,
        keys: &BTreeSet<String>,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let mut out = Vec::new();
        let keys: Vec<&String> = keys.iter().collect();
        for chunk in keys.chunks(IN_CHUNK) {
            let (len, cached) = in_shape(chunk.len());
            let sql = format!(
                "SELECT probe_key, options FROM {table} WHERE node = ? AND probe_key IN ({}) \
                 ORDER BY probe_key",
                placeholders(len)
            );
            let mut params: Vec<&dyn rusqlite::ToSql> = vec![&node];
            params.extend(padded(chunk, len));
            out.extend(self.readers.with(|c| {
                direct::query(c, &sql, cached, &params, |r| Ok((r.get(0)?, r.get(1)?)))
            })?);
        }
        Ok(out)
    }
}

impl api::AppliedRecords for SqliteStore {
    /// Rules applied on `node` for load balancer `lb`: (name, body).
    async fn applied_rules(
        &self,
        node: &str,
        lb: &str,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT name, body FROM applied_rules WHERE node = ? AND loadbalancer_id = ? ORDER BY name",
        )
        .bind(node)
        .bind(lb)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("name")?, r.try_get("body")?)))
            .collect()
    }

    /// Every applied rule on `node`, of any load balancer: (loadbalancer_id, name, body).
    async fn all_applied_rules(
        &self,
        node: &str,
    ) -> Result<Vec<(String, String, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT loadbalancer_id, name, body FROM applied_rules WHERE node = ? ORDER BY name",
        )
        .bind(node)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("loadbalancer_id")?,
                    r.try_get("name")?,
                    r.try_get("body")?,
                ))
            })
            .collect()
    }

    /// Every applied rule's (node, name, written at ms): what the applier believes each
    /// node holds, and since when. No bodies, so the health cycle can read it every poll.
    async fn applied_rule_names(&self) -> Result<Vec<(String, String, i64)>, StoreError> {
        let rows = sqlx::query("SELECT node, name, updated_at FROM applied_rules")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("node")?,
                    r.try_get("name")?,
                    r.try_get("updated_at")?,
                ))
            })
            .collect()
    }

    async fn put_applied_rule(
        &self,
        node: &str,
        name: &str,
        lb: &str,
        body: &str,
    ) -> Result<(), StoreError> {
        let stmt = Stmt::new(
            "INSERT INTO applied_rules (node, name, loadbalancer_id, body, updated_at) \
             VALUES (?, ?, ?, ?, ?) ON CONFLICT (node, name) DO UPDATE SET \
             loadbalancer_id = excluded.loadbalancer_id, body = excluded.body, \
             updated_at = excluded.updated_at",
        )
        .arg(node)
        .arg(name)
        .arg(lb)
        .arg(body)
        .arg(now_ms());
        self.writes.write(vec![stmt]).await
    }

    async fn delete_applied_rule(&self, node: &str, name: &str) -> Result<(), StoreError> {
        let stmt = Stmt::new("DELETE FROM applied_rules WHERE node = ? AND name = ?")
            .arg(node)
            .arg(name);
        self.writes.write(vec![stmt]).await
    }

    /// Replace load balancer `lb`'s probe references with `rows`, atomically.
    async fn replace_probe_refs(&self, lb: &str, rows: &[ProbeRefRow]) -> Result<(), StoreError> {
        let mut stmts = vec![Stmt::new("DELETE FROM probe_refs WHERE loadbalancer_id = ?").arg(lb)];
        let now = now_ms();
        // One statement per row, all of the same text, so it stays compiled on the
        // store's own connection (`direct`), where a statement costs no hand-off.
        stmts.extend(rows.iter().map(|r| {
            Stmt::new(
                "INSERT INTO probe_refs (probe_key, member_id, pool_id, healthmonitor_id, \
                 options, created_at, loadbalancer_id) VALUES (?, ?, ?, ?, ?, ?, ?) \
                 ON CONFLICT (probe_key, member_id) DO UPDATE SET pool_id = excluded.pool_id, \
                 healthmonitor_id = excluded.healthmonitor_id, options = excluded.options, \
                 loadbalancer_id = excluded.loadbalancer_id",
            )
            .arg(r.probe_key.as_str())
            .arg(r.member_id.as_str())
            .arg(r.pool_id.as_str())
            .arg(r.healthmonitor_id.as_str())
            .arg(r.options.as_str())
            .arg(now)
            .arg(lb)
        }));
        self.writes.write(stmts).await
    }

    /// Every reference to any of `keys`, from every load balancer.
    async fn probe_refs_for(
        &self,
        keys: &BTreeSet<String>,
    ) -> Result<Vec<ProbeRefRow>, StoreError> {
        let mut out = Vec::new();
        let keys: Vec<&String> = keys.iter().collect();
        // One query per chunk of keys (portable `IN` lists), not one per key: a sync
        // touches every probe key of its load balancer.
        for chunk in keys.chunks(IN_CHUNK) {
            let (len, cached) = in_shape(chunk.len());
            let sql = format!(
                "SELECT probe_key, member_id, pool_id, healthmonitor_id, loadbalancer_id, options \
                 FROM probe_refs WHERE probe_key IN ({}) ORDER BY probe_key, member_id",
                placeholders(len)
            );
            let params = padded(chunk, len);
            out.extend(
                self.readers
                    .with(|c| direct::query(c, &sql, cached, &params, |r| Ok(ref_row(r, 0)?)))?,
            );
        }
        Ok(out)
    }

    /// Probes we applied on `node` among `keys`: (key, options body).
    async fn applied_probes(
        &self,
        node: &str,
        keys: &BTreeSet<String>,
    ) -> Result<Vec<(String, String)>, StoreError> {
        self.probe_rows("probes", node, keys)
    }

    /// Every probe we applied on `node`: (key, options body).
    async fn all_applied_probes(&self, node: &str) -> Result<Vec<(String, String)>, StoreError> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT probe_key, options FROM probes WHERE node = ? ORDER BY probe_key",
        )
        .bind(node)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }

    async fn put_applied_probe(
        &self,
        node: &str,
        key: &str,
        host: &str,
        probe_type: &str,
        port: u16,
        options: &str,
    ) -> Result<(), StoreError> {
        let p = AppliedProbe {
            key: key.to_string(),
            host: host.to_string(),
            probe_type: probe_type.to_string(),
            port,
            options: options.to_string(),
        };
        self.put_applied_probes(node, std::slice::from_ref(&p))
            .await
    }

    /// Record several probes applied on `node` in one write (a rule creates the
    /// probes of all its endpoints at once).
    /// Probes about to be posted to `node`: (key, body). See migration 0008.
    async fn put_probe_intents(
        &self,
        node: &str,
        intents: &[(String, String)],
    ) -> Result<(), StoreError> {
        let stmts = intents
            .iter()
            .map(|(key, body)| {
                Stmt::new(
                    "INSERT INTO probe_intents (node, probe_key, options) VALUES (?, ?, ?) \
                     ON CONFLICT (node, probe_key) DO UPDATE SET options = excluded.options",
                )
                .arg(node)
                .arg(key.as_str())
                .arg(body.as_str())
            })
            .collect();
        self.writes.write(stmts).await
    }

    /// Intents left on `node` for `keys` (a POST whose outcome was never recorded):
    /// (key, body).
    async fn probe_intents(
        &self,
        node: &str,
        keys: &BTreeSet<String>,
    ) -> Result<Vec<(String, String)>, StoreError> {
        self.probe_rows("probe_intents", node, keys)
    }

    /// Record probes as applied on `node`; their intents (if any) go in the same write.
    async fn put_applied_probes(
        &self,
        node: &str,
        probes: &[AppliedProbe],
    ) -> Result<(), StoreError> {
        let now = now_ms();
        let mut stmts: Vec<Stmt> = probes
            .iter()
            .map(|p| {
                Stmt::new("DELETE FROM probe_intents WHERE node = ? AND probe_key = ?")
                    .arg(node)
                    .arg(p.key.as_str())
            })
            .collect();
        stmts.extend(probes.iter().map(|p| {
            Stmt::new(
                "INSERT INTO probes (node, probe_key, host, probe_type, port, options, \
                     created_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (node, probe_key) \
                     DO UPDATE SET host = excluded.host, probe_type = excluded.probe_type, \
                     port = excluded.port, options = excluded.options",
            )
            .arg(node)
            .arg(p.key.as_str())
            .arg(p.host.as_str())
            .arg(p.probe_type.as_str())
            .arg(i64::from(p.port))
            .arg(p.options.as_str())
            .arg(now)
        }));
        self.writes.write(stmts).await
    }

    async fn delete_applied_probe(&self, node: &str, key: &str) -> Result<(), StoreError> {
        self.delete_applied_probes(node, std::slice::from_ref(&key.to_string()))
            .await
    }

    /// Forget several applied probes of a node in one write.
    async fn delete_applied_probes(&self, node: &str, keys: &[String]) -> Result<(), StoreError> {
        let stmts = keys
            .iter()
            .flat_map(|key| {
                ["probes", "probe_intents"].map(|table| {
                    Stmt::new(format!(
                        "DELETE FROM {table} WHERE node = ? AND probe_key = ?"
                    ))
                    .arg(node)
                    .arg(key.as_str())
                })
            })
            .collect();
        self.writes.write(stmts).await
    }

    /// Forget what we applied for load balancer `lb` on every node (its rules and the
    /// probes it refers to), so the next sync re-applies all of it: failover.
    async fn forget_applied_lb(&self, lb: &str) -> Result<(), StoreError> {
        let _w = self.write_lock.lock().await;
        let mut tx = super::begin_write(&self.pool).await?;
        sqlx::query("DELETE FROM applied_rules WHERE loadbalancer_id = ?")
            .bind(lb)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "DELETE FROM probes WHERE probe_key IN \
             (SELECT probe_key FROM probe_refs WHERE loadbalancer_id = ?)",
        )
        .bind(lb)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every probe key some desired member still refers to.
    async fn referenced_probe_keys(&self) -> Result<BTreeSet<String>, StoreError> {
        let rows: Vec<(String,)> = sqlx::query_as("SELECT DISTINCT probe_key FROM probe_refs")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(|(k,)| k).collect())
    }

    /// Probe keys we applied on some node that no reference needs any more (their
    /// removal failed or was cut short): any sync may finish removing them.
    async fn unreferenced_probe_keys(&self) -> Result<BTreeSet<String>, StoreError> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT DISTINCT probe_key FROM probes \
             WHERE probe_key NOT IN (SELECT probe_key FROM probe_refs)",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|(k,)| k).collect())
    }

    /// Load balancers that refer to probe `key`.
    async fn lbs_of_probe_key(&self, key: &str) -> Result<BTreeSet<String>, StoreError> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT DISTINCT loadbalancer_id FROM probe_refs WHERE probe_key = ? AND loadbalancer_id <> ''",
        )
        .bind(key)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|(k,)| k).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_store;

    fn r(key: &str, member: &str, lb: &str) -> ProbeRefRow {
        ProbeRefRow {
            probe_key: key.into(),
            member_id: member.into(),
            pool_id: "p".into(),
            healthmonitor_id: "hm".into(),
            loadbalancer_id: lb.into(),
            options: "{}".into(),
        }
    }

    #[test]
    fn in_lists_are_padded_to_few_cached_shapes() {
        assert_eq!(in_shape(1), (1, true));
        assert_eq!(in_shape(3), (4, true));
        assert_eq!(in_shape(20), (32, true));
        assert_eq!(in_shape(64), (64, true));
        assert_eq!(in_shape(65), (65, false));
        let (a, b) = ("a".to_string(), "b".to_string());
        assert_eq!(padded(&[&a, &b], 4).len(), 4);
        assert!(padded(&[], 4).is_empty());
    }

    /// Padded lists (a repeated key) find each row once, at every size around the
    /// shape boundaries, for both queries that use them.
    #[tokio::test]
    async fn padded_in_lists_return_each_row_once() {
        let (s, _d) = test_store().await;
        let refs: Vec<ProbeRefRow> = (0..70)
            .map(|i| r(&format!("k{i:02}"), &format!("m{i}"), "lb1"))
            .collect();
        s.replace_probe_refs("lb1", &refs).await.unwrap();
        let probes: Vec<AppliedProbe> = (0..70)
            .map(|i| AppliedProbe {
                key: format!("k{i:02}"),
                host: "10.0.0.1".into(),
                probe_type: "http".into(),
                port: 80,
                options: "{}".into(),
            })
            .collect();
        s.put_applied_probes("n1", &probes).await.unwrap();
        for n in [1usize, 3, 5, 20, 33, 64, 65, 70] {
            let keys: BTreeSet<String> = (0..n).map(|i| format!("k{i:02}")).collect();
            let got: Vec<String> = s
                .probe_refs_for(&keys)
                .await
                .unwrap()
                .into_iter()
                .map(|r| r.probe_key)
                .collect();
            assert_eq!(got, keys.iter().cloned().collect::<Vec<_>>(), "{n} refs");
            let got: Vec<String> = s
                .applied_probes("n1", &keys)
                .await
                .unwrap()
                .into_iter()
                .map(|(k, _)| k)
                .collect();
            assert_eq!(got, keys.iter().cloned().collect::<Vec<_>>(), "{n} probes");
        }
    }
}

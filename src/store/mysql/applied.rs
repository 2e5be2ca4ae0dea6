//! Applied state on MySQL: rules, probes, probe intents and references per node
//! (see the SQLite `applied` for their meaning).

use std::collections::BTreeSet;

use sqlx::mysql::MySqlRow;
use sqlx::QueryBuilder;

use super::super::{now_ms, AppliedProbe, ProbeRefRow};
use super::rows::{int, opt_text, text};
use super::{retrying, MysqlStore, StoreError};
use crate::store::sqlite::applied::in_shape;

/// Keys per `IN (...)` list.
const IN_CHUNK: usize = 500;

/// A probe reference from a row of probe_key, member_id, pool_id, healthmonitor_id,
/// loadbalancer_id, options (from column `first` on).
pub(super) fn ref_row(r: &MySqlRow, first: usize) -> Result<ProbeRefRow, StoreError> {
    Ok(ProbeRefRow {
        probe_key: text(r, first)?,
        member_id: text(r, first + 1)?,
        pool_id: text(r, first + 2)?,
        healthmonitor_id: opt_text(r, first + 3)?.unwrap_or_default(),
        loadbalancer_id: text(r, first + 4)?,
        options: text(r, first + 5)?,
    })
}

/// `keys` as a bound list padded to one of a few lengths (the last key repeated,
/// which `IN` ignores), so a sync's reads reuse a few prepared statements instead of
/// preparing one per list length (see the SQLite `in_shape`); long lists are
/// prepared once and not kept.
fn push_keys(q: &mut QueryBuilder<'_, sqlx::MySql>, keys: &[&String]) {
    let (len, _) = in_shape(keys.len());
    let mut list = q.separated(", ");
    for i in 0..len.max(keys.len()) {
        if let Some(k) = keys.get(i).or(keys.last()) {
            list.push_bind(k.as_str().to_string());
        }
    }
}

fn pairs(rows: &[MySqlRow]) -> Result<Vec<(String, String)>, StoreError> {
    rows.iter()
        .map(|r| Ok((text(r, 0)?, text(r, 1)?)))
        .collect()
}

impl MysqlStore {
    /// Rules applied on `node` for load balancer `lb`: (name, body).
    pub async fn applied_rules(
        &self,
        node: &str,
        lb: &str,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT name, body FROM applied_rules WHERE node = ? AND loadbalancer_id = ? \
             ORDER BY name",
        )
        .bind(node)
        .bind(lb)
        .fetch_all(&self.pool)
        .await?;
        pairs(&rows)
    }

    /// Every applied rule on `node`: (loadbalancer_id, name, body).
    pub async fn all_applied_rules(
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
            .map(|r| Ok((text(r, 0)?, text(r, 1)?, text(r, 2)?)))
            .collect()
    }

    /// Every applied rule's (node, name, written at ms).
    pub async fn applied_rule_names(&self) -> Result<Vec<(String, String, i64)>, StoreError> {
        let rows = sqlx::query("SELECT node, name, updated_at FROM applied_rules")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((text(r, 0)?, text(r, 1)?, int(r, 2)?)))
            .collect()
    }

    pub async fn put_applied_rule(
        &self,
        node: &str,
        name: &str,
        lb: &str,
        body: &str,
    ) -> Result<(), StoreError> {
        let guard = self.guard()?;
        let sql = format!(
            "INSERT INTO applied_rules (node, name, loadbalancer_id, body, updated_at) \
             SELECT ?, ?, ?, ?, ? {} ON DUPLICATE KEY UPDATE \
             loadbalancer_id = VALUES(loadbalancer_id), body = VALUES(body), \
             updated_at = VALUES(updated_at)",
            super::Guard::from_clause(&guard)
        );
        let q = sqlx::query(&sql)
            .bind(node)
            .bind(name)
            .bind(lb)
            .bind(body)
            .bind(now_ms());
        self.guarded(&guard, q).await
    }

    pub async fn delete_applied_rule(&self, node: &str, name: &str) -> Result<(), StoreError> {
        let guard = self.guard()?;
        let sql = format!(
            "DELETE FROM applied_rules WHERE node = ? AND name = ? AND {}",
            super::Guard::condition(&guard)
        );
        let q = sqlx::query(&sql).bind(node).bind(name);
        self.guarded(&guard, q).await
    }

    /// Replace load balancer `lb`'s probe references with `rows`, atomically.
    pub async fn replace_probe_refs(
        &self,
        lb: &str,
        rows: &[ProbeRefRow],
    ) -> Result<(), StoreError> {
        let now = now_ms();
        retrying(|| async {
            let mut tx = self.begin_leader().await?;
            sqlx::query("DELETE FROM probe_refs WHERE loadbalancer_id = ?")
                .bind(lb)
                .execute(&mut *tx)
                .await?;
            for part in rows.chunks(IN_CHUNK) {
                let mut q = QueryBuilder::new(
                    "INSERT INTO probe_refs (probe_key, member_id, pool_id, healthmonitor_id, \
                     options, created_at, loadbalancer_id) ",
                );
                q.push_values(part, |mut b, r| {
                    b.push_bind(r.probe_key.as_str())
                        .push_bind(r.member_id.as_str())
                        .push_bind(r.pool_id.as_str())
                        .push_bind(r.healthmonitor_id.as_str())
                        .push_bind(r.options.as_str())
                        .push_bind(now)
                        .push_bind(lb);
                });
                q.push(
                    " ON DUPLICATE KEY UPDATE pool_id = VALUES(pool_id), \
                     healthmonitor_id = VALUES(healthmonitor_id), options = VALUES(options), \
                     loadbalancer_id = VALUES(loadbalancer_id)",
                );
                q.build().execute(&mut *tx).await?;
            }
            self.commit_leader(tx).await?;
            Ok(())
        })
        .await
    }

    /// Every reference to any of `keys`, from every load balancer.
    pub async fn probe_refs_for(
        &self,
        keys: &BTreeSet<String>,
    ) -> Result<Vec<ProbeRefRow>, StoreError> {
        let keys: Vec<&String> = keys.iter().collect();
        let mut out = Vec::new();
        for chunk in keys.chunks(IN_CHUNK) {
            let mut q = QueryBuilder::new(
                "SELECT probe_key, member_id, pool_id, healthmonitor_id, loadbalancer_id, \
                 options FROM probe_refs WHERE probe_key IN (",
            );
            push_keys(&mut q, chunk);
            q.push(") ORDER BY probe_key, member_id");
            let (_, cached) = in_shape(chunk.len());
            let rows = q.build().persistent(cached).fetch_all(&self.pool).await?;
            for r in &rows {
                out.push(ref_row(r, 0)?);
            }
        }
        Ok(out)
    }

    /// Probes we applied on `node` among `keys`: (key, options body).
    pub async fn applied_probes(
        &self,
        node: &str,
        keys: &BTreeSet<String>,
    ) -> Result<Vec<(String, String)>, StoreError> {
        self.probe_rows("probes", node, keys).await
    }

    /// (key, options) of `table` (`probes` or `probe_intents`) on `node` for `keys`,
    /// in key order.
    async fn probe_rows(
        &self,
        table: &str,
        node: &str,
        keys: &BTreeSet<String>,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let keys: Vec<&String> = keys.iter().collect();
        let mut out = Vec::new();
        for chunk in keys.chunks(IN_CHUNK) {
            let mut q = QueryBuilder::new(format!(
                "SELECT probe_key, options FROM {table} WHERE node = "
            ));
            q.push_bind(node).push(" AND probe_key IN (");
            push_keys(&mut q, chunk);
            q.push(") ORDER BY probe_key");
            let (_, cached) = in_shape(chunk.len());
            out.extend(pairs(
                &q.build().persistent(cached).fetch_all(&self.pool).await?,
            )?);
        }
        Ok(out)
    }

    /// Every probe we applied on `node`: (key, options body).
    pub async fn all_applied_probes(
        &self,
        node: &str,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let rows =
            sqlx::query("SELECT probe_key, options FROM probes WHERE node = ? ORDER BY probe_key")
                .bind(node)
                .fetch_all(&self.pool)
                .await?;
        pairs(&rows)
    }

    pub async fn put_applied_probe(
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

    /// Probes about to be posted to `node`: (key, body). See migration 0008.
    pub async fn put_probe_intents(
        &self,
        node: &str,
        intents: &[(String, String)],
    ) -> Result<(), StoreError> {
        for part in intents.chunks(IN_CHUNK) {
            let mut q = QueryBuilder::new("INSERT INTO probe_intents (node, probe_key, options) ");
            q.push_values(part, |mut b, (key, body)| {
                b.push_bind(node)
                    .push_bind(key.as_str())
                    .push_bind(body.as_str());
            });
            q.push(" ON DUPLICATE KEY UPDATE options = VALUES(options)");
            q.build().execute(&self.pool).await?;
        }
        Ok(())
    }

    /// Intents left on `node` for `keys`: (key, body).
    pub async fn probe_intents(
        &self,
        node: &str,
        keys: &BTreeSet<String>,
    ) -> Result<Vec<(String, String)>, StoreError> {
        self.probe_rows("probe_intents", node, keys).await
    }

    /// Record probes as applied on `node`; their intents go in the same transaction.
    pub async fn put_applied_probes(
        &self,
        node: &str,
        probes: &[AppliedProbe],
    ) -> Result<(), StoreError> {
        if probes.is_empty() {
            return Ok(());
        }
        let now = now_ms();
        retrying(|| async {
            let mut tx = self.begin_leader().await?;
            for part in probes.chunks(IN_CHUNK) {
                let mut q = QueryBuilder::new("DELETE FROM probe_intents WHERE node = ");
                q.push_bind(node).push(" AND probe_key IN (");
                let mut list = q.separated(", ");
                for p in part {
                    list.push_bind(p.key.as_str());
                }
                q.push(")");
                q.build().execute(&mut *tx).await?;
                let mut q = QueryBuilder::new(
                    "INSERT INTO probes (node, probe_key, host, probe_type, port, options, \
                     created_at) ",
                );
                q.push_values(part, |mut b, p| {
                    b.push_bind(node)
                        .push_bind(p.key.as_str())
                        .push_bind(p.host.as_str())
                        .push_bind(p.probe_type.as_str())
                        .push_bind(i64::from(p.port))
                        .push_bind(p.options.as_str())
                        .push_bind(now);
                });
                q.push(
                    " ON DUPLICATE KEY UPDATE host = VALUES(host), \
                     probe_type = VALUES(probe_type), port = VALUES(port), \
                     options = VALUES(options)",
                );
                q.build().execute(&mut *tx).await?;
            }
            self.commit_leader(tx).await?;
            Ok(())
        })
        .await
    }

    pub async fn delete_applied_probe(&self, node: &str, key: &str) -> Result<(), StoreError> {
        self.delete_applied_probes(node, std::slice::from_ref(&key.to_string()))
            .await
    }

    /// Forget several applied probes of a node (and their intents) in one transaction.
    pub async fn delete_applied_probes(
        &self,
        node: &str,
        keys: &[String],
    ) -> Result<(), StoreError> {
        if keys.is_empty() {
            return Ok(());
        }
        retrying(|| async {
            let mut tx = self.begin_leader().await?;
            for part in keys.chunks(IN_CHUNK) {
                for table in ["probes", "probe_intents"] {
                    let mut q = QueryBuilder::new(format!("DELETE FROM {table} WHERE node = "));
                    q.push_bind(node).push(" AND probe_key IN (");
                    let mut list = q.separated(", ");
                    for k in part {
                        list.push_bind(k.as_str());
                    }
                    q.push(")");
                    q.build().execute(&mut *tx).await?;
                }
            }
            self.commit_leader(tx).await?;
            Ok(())
        })
        .await
    }

    /// Forget what we applied for load balancer `lb` on every node (its rules and the
    /// probes it refers to), so the next sync re-applies all of it: failover.
    pub async fn forget_applied_lb(&self, lb: &str) -> Result<(), StoreError> {
        retrying(|| async {
            let mut tx = self.begin_leader().await?;
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
            self.commit_leader(tx).await?;
            Ok(())
        })
        .await
    }
}

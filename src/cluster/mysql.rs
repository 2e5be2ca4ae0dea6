//! The election's [`LeaseStore`] on MySQL/MariaDB: the statements of
//! [`super::lease_mysql`] on a shared pool.

use std::time::Duration;

use sqlx::mysql::MySqlPool;

use super::election::{Attempt, LeaseRow, LeaseStore, LeaseStoreError};
use super::lease_mysql::{self as sql, LeaseDbError, LeaseOutcome};

/// The leader lease of one database.
#[derive(Debug, Clone)]
pub struct MysqlLeases {
    pool: MySqlPool,
    name: String,
}

impl MysqlLeases {
    /// The leader lease ([`sql::LEADER_LEASE`]) on `pool`.
    pub fn new(pool: MySqlPool) -> Self {
        Self::named(pool, sql::LEADER_LEASE)
    }

    /// Another lease on `pool` (tests race several names on one database).
    pub fn named(pool: MySqlPool, name: &str) -> Self {
        MysqlLeases {
            pool,
            name: name.to_owned(),
        }
    }
}

fn attempt(o: LeaseOutcome) -> Attempt {
    Attempt {
        won: o.won,
        row: o.row.map(|r| LeaseRow {
            holder: r.holder,
            epoch: r.epoch,
            remaining: r.remaining,
        }),
    }
}

fn error(e: LeaseDbError) -> LeaseStoreError {
    let kind = if e.is_conflict() {
        "lost a write conflict (1213)"
    } else {
        "failed"
    };
    LeaseStoreError(format!("{kind}: {e}"))
}

#[async_trait::async_trait]
impl LeaseStore for MysqlLeases {
    async fn try_acquire(&self, me: &str, ttl: Duration) -> Result<Attempt, LeaseStoreError> {
        sql::try_acquire(&self.pool, &self.name, me, ttl)
            .await
            .map(attempt)
            .map_err(error)
    }

    async fn renew(&self, me: &str, epoch: u64, ttl: Duration) -> Result<Attempt, LeaseStoreError> {
        sql::renew(&self.pool, &self.name, me, epoch, ttl)
            .await
            .map(attempt)
            .map_err(error)
    }

    async fn release(&self, me: &str, epoch: u64) -> Result<(), LeaseStoreError> {
        sql::release(&self.pool, &self.name, me, epoch)
            .await
            .map_err(error)
    }
}

#[cfg(test)]
mod tests;

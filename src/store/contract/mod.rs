//! One contract suite for every store backend: the same test bodies (`cases/*.rs`)
//! run against the SQLite store and against the MySQL store on a real MariaDB
//! (`mariadb-harness`).
//!
//! How: each backend's module has a `fixture` that opens a `Store` (the facade) on
//! that backend, then `include!`s the cases, so every body runs once per backend
//! through the same interface the daemon uses.
//! The case files are formatted with `rustfmt src/store/contract/cases/*.rs`
//! (`cargo fmt` does not reach included files).

/// The SQLite backend: a database file in a temporary directory.
mod sqlite {
    type S = crate::store::Store;
    use super::ok;
    use crate::store::{
        now_ms, AcceptExtras, AppliedProbe, EventState, KeyHint, LbBodies, Limit, MemberChange,
        OwnerRef, PoolChanges, ProbeRefRow, Retention, StatusRecord, SyncInputs, Table,
        TooManyMembers,
    };
    use serde_json::{json, Value};
    use std::collections::BTreeSet;
    use std::time::Duration;

    async fn fixture(_name: &str) -> (S, tempfile::TempDir) {
        crate::store::test_store().await
    }

    include!("cases/journal.rs");
    include!("cases/member_count.rs");
    include!("cases/desired.rs");
    include!("cases/applied.rs");
    include!("cases/outbox.rs");
    include!("cases/retention.rs");
    include!("cases/reads.rs");
}

/// The MySQL backend: a fresh database on the test process's MariaDB server.
mod mysql {
    type S = crate::store::Store;
    use super::ok;
    use crate::store::{
        now_ms, AcceptExtras, AppliedProbe, EventState, KeyHint, LbBodies, Limit, MemberChange,
        OwnerRef, PoolChanges, ProbeRefRow, Retention, StatusRecord, SyncInputs, Table,
        TooManyMembers,
    };
    use serde_json::{json, Value};
    use std::collections::BTreeSet;
    use std::time::Duration;

    async fn fixture(name: &str) -> (S, ()) {
        (
            crate::store::Store::from(ok(super::mysql_store(name).await)),
            (),
        )
    }

    include!("cases/journal.rs");
    include!("cases/member_count.rs");
    include!("cases/desired.rs");
    include!("cases/applied.rs");
    include!("cases/outbox.rs");
    include!("cases/retention.rs");
    include!("cases/reads.rs");
}

/// A MySQL store on a fresh database of the shared test server.
pub(crate) async fn mysql_store(name: &str) -> TestResult<crate::store::mysql::MysqlStore> {
    let server = mariadb_harness::MariaDb::shared()?;
    let url = server.fresh_database(name).await?;
    crate::store::mysql::MysqlStore::open(&url, None, 4)
        .await
        .context(format!("open {url}"))
}

pub(crate) use crate::test_support::ok;
use crate::test_support::{Context, TestResult};

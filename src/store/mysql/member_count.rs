//! The member count at acceptance, on MySQL: the same reads and the same pure
//! counting as the SQLite `member_count` (shared: `apply`, `replay`,
//! `stored_flags`), inside the acceptance's transaction. Concurrent acceptances of
//! one pool hold the same ordering key's row lock (see `journal`), and read at READ
//! COMMITTED, so each sees the other's committed changes, as under SQLite's single
//! writer.

use std::collections::HashMap;

use sqlx::mysql::MySqlTransaction;

use super::super::{PoolChanges, TooManyMembers};
use super::rows::{int, opt_int, opt_text, text};
use super::StoreError;
use crate::store::sqlite::member_count::{apply, replay, stored_flags, Flags, PoolRows};

/// The pool's members as they will be once every unfinished event is applied: the
/// stored members, then the changes of unfinished events in order. One statement
/// (two took one more round trip inside the acceptance, which holds the key's lock),
/// unordered (an `ORDER BY` over a `UNION ALL` with a TEXT column is a temporary
/// table on disk, see `reads::TREE`): sorted here.
pub(super) const CURRENT: &str = "\
    SELECT 0 AS part, id, body, NULL AS admin_state_up, NULL AS weight, \
      0 AS event_id, 0 AS seq FROM members WHERE pool_id = ? \
    UNION ALL SELECT 1, c.member_id, NULL, c.admin_state_up, c.weight, c.event_id, c.seq \
      FROM member_changes c JOIN events e ON e.id = c.event_id \
      WHERE c.pool_id = ? AND e.state IN ('queued', 'applying')";

async fn current(
    tx: &mut MySqlTransaction<'_>,
    pool_id: &str,
) -> Result<HashMap<String, Flags>, StoreError> {
    let mut view = HashMap::new();
    let mut rows = sqlx::query(CURRENT)
        .bind(pool_id)
        .bind(pool_id)
        .fetch_all(&mut **tx)
        .await?;
    // Stored members first, then the changes in acceptance order.
    let mut order = Vec::with_capacity(rows.len());
    for row in &rows {
        order.push((int(row, 0)?, int(row, 5)?, int(row, 6)?));
    }
    let mut keyed: Vec<_> = order.into_iter().zip(rows.drain(..)).collect();
    keyed.sort_by_key(|(k, _)| *k);
    for (_, row) in &keyed {
        if int(row, 0)? == 0 {
            let id = text(row, 1)?;
            let flags = stored_flags(&id, &text(row, 2)?)?;
            view.insert(id, flags);
            continue;
        }
        let weight = opt_int(row, 4)?
            .map(|w| {
                u16::try_from(w).map_err(|_| StoreError::Corrupt(format!("member weight {w}")))
            })
            .transpose()?;
        replay(
            &mut view,
            (opt_text(row, 1)?, opt_int(row, 3)?.map(|a| a != 0), weight),
        );
    }
    Ok(view)
}

/// Checks every pool an event changes. Returns the rows to record with the event,
/// or the refusal.
pub(super) async fn check(
    tx: &mut MySqlTransaction<'_>,
    pools: &[PoolChanges],
) -> Result<Result<PoolRows, TooManyMembers>, StoreError> {
    let mut out = Vec::with_capacity(pools.len());
    for pc in pools {
        match apply(current(tx, &pc.pool_id).await?, pc) {
            Ok(rows) => out.push((pc.pool_id.clone(), rows)),
            Err(refused) => return Ok(Err(refused)),
        }
    }
    Ok(Ok(out))
}

/// Records an accepted event's rows (same transaction as the event), in one
/// statement (one round trip under the key's lock, however many members change).
pub(super) async fn record(
    tx: &mut MySqlTransaction<'_>,
    event_id: i64,
    pools: &PoolRows,
) -> Result<(), StoreError> {
    let rows: Vec<_> = pools
        .iter()
        .flat_map(|(pool_id, rows)| rows.iter().map(move |(m, f)| (pool_id, m, f)))
        .collect();
    // Bounded per statement (six placeholders a row, MySQL allows 65,535).
    for (chunk_no, chunk) in rows.chunks(1000).enumerate() {
        let mut q = sqlx::QueryBuilder::new(
            "INSERT INTO member_changes (event_id, seq, pool_id, member_id, \
             admin_state_up, weight) ",
        );
        q.push_values(
            chunk.iter().enumerate(),
            |mut b, (i, (pool_id, member_id, flags))| {
                let seq = i64::try_from(chunk_no * 1000 + i).unwrap_or(i64::MAX);
                b.push_bind(event_id)
                    .push_bind(seq)
                    .push_bind(pool_id.as_str())
                    .push_bind(member_id.as_deref())
                    .push_bind(flags.map(|f| i64::from(f.0)))
                    .push_bind(flags.map(|f| i64::from(f.1)));
            },
        );
        q.build().execute(&mut **tx).await?;
    }
    Ok(())
}

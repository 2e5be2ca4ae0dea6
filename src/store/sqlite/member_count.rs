//! Counting a pool's serving members at acceptance, inside the journal's transaction.
//!
//! Why here: LoxiLB serves at most 32 endpoints per rule, so an event that would make
//! a pool's 33rd serving member must be refused before it is journaled. The pool's
//! members as they will be are the desired state (applied events) plus what accepted,
//! not yet applied events do to it (`member_changes`, written with each event). Both
//! are read, the event's own change is applied, and the event is journaled or refused
//! in the journal's group-commit transaction: that writer handles one request after
//! the other on one connection under the store's write lock, so two concurrent
//! creates see each other and cannot both pass, and the dispatcher cannot apply an
//! event between the two reads (its writes wait for the same lock).
//!
//! Every row is an assignment (set a member's flags, remove it, clear the pool), so
//! replaying the rows of unfinished events over a desired state that already holds
//! some of them gives the same result: an applied event not yet marked done counts
//! once. A failed event's rows no longer count (its change was undone) unless it is
//! queued again. Reads are by index: the pool's desired members and its pending rows.

use crate::store::api::*;

use std::collections::HashMap;

use rusqlite::{params, Connection};
use serde::Deserialize;

use crate::store::StoreError;

/// A member's flags, as far as counting is concerned.
pub(crate) type Flags = (bool, u16);

fn serving(flags: Flags) -> bool {
    flags.0 && flags.1 > 0
}

#[derive(Deserialize)]
struct StoredMember {
    #[serde(default)]
    admin_state_up: Option<bool>,
    #[serde(default)]
    weight: Option<u16>,
}

/// The pool's members as they will be once every unfinished event is applied.
fn current(conn: &Connection, pool_id: &str) -> Result<HashMap<String, Flags>, StoreError> {
    let mut view = HashMap::new();
    let mut st = conn.prepare_cached("SELECT id, body FROM members WHERE pool_id = ?")?;
    let rows = st.query_map([pool_id], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })?;
    for row in rows {
        let (id, body) = row?;
        let flags = stored_flags(&id, &body)?;
        view.insert(id, flags);
    }
    let mut st = conn.prepare_cached(
        "SELECT c.member_id, c.admin_state_up, c.weight FROM member_changes c \
         JOIN events e ON e.id = c.event_id \
         WHERE c.pool_id = ? AND e.state IN ('queued', 'applying') ORDER BY c.event_id, c.seq",
    )?;
    let rows = st.query_map([pool_id], |r| {
        Ok((
            r.get::<_, Option<String>>(0)?,
            r.get::<_, Option<bool>>(1)?,
            r.get::<_, Option<u16>>(2)?,
        ))
    })?;
    for row in rows {
        replay(&mut view, row?);
    }
    Ok(view)
}

/// A desired member's flags from its stored body (Octavia's defaults: up, weight 1).
/// Shared with the MySQL store, which reads the same rows its own way.
pub(crate) fn stored_flags(id: &str, body: &str) -> Result<Flags, StoreError> {
    let m: StoredMember =
        serde_json::from_str(body).map_err(|e| StoreError::Corrupt(format!("member {id}: {e}")))?;
    Ok((m.admin_state_up.unwrap_or(true), m.weight.unwrap_or(1)))
}

/// One stored `member_changes` row (member, admin_state_up, weight) replayed onto `view`.
pub(crate) fn replay(
    view: &mut HashMap<String, Flags>,
    row: (Option<String>, Option<bool>, Option<u16>),
) {
    match row {
        (None, _, _) => view.clear(),
        (Some(id), Some(admin), weight) => {
            view.insert(id, (admin, weight.unwrap_or(1)));
        }
        (Some(id), None, _) => {
            view.remove(&id);
        }
    }
}

/// A change as it is stored: `None` member = clear, `None` flags = remove.
pub(crate) type Row = (Option<String>, Option<Flags>);

/// Applies `pc` to the pool's current members. Returns the rows to store, or the
/// refusal.
fn resolve(
    conn: &Connection,
    pc: &PoolChanges,
) -> Result<Result<Vec<Row>, TooManyMembers>, StoreError> {
    Ok(apply(current(conn, &pc.pool_id)?, pc))
}

/// Applies `pc` to `view` (the pool's members as they will be) and judges the result
/// against its limit. Pure, so both stores count the same way.
pub(crate) fn apply(
    mut view: HashMap<String, Flags>,
    pc: &PoolChanges,
) -> Result<Vec<Row>, TooManyMembers> {
    let count = |v: &HashMap<String, Flags>| v.values().filter(|f| serving(**f)).count();
    let before = count(&view);
    let mut rows = Vec::with_capacity(pc.changes.len());
    for change in &pc.changes {
        match change {
            MemberChange::Clear => {
                view.clear();
                rows.push((None, None));
            }
            MemberChange::Put {
                member_id,
                admin_state_up,
                weight,
            } => {
                let flags = (*admin_state_up, *weight);
                view.insert(member_id.clone(), flags);
                rows.push((Some(member_id.clone()), Some(flags)));
            }
            MemberChange::Update {
                member_id,
                admin_state_up,
                weight,
                base,
            } => {
                let (a, w) = view.get(member_id).copied().unwrap_or(*base);
                let flags = (admin_state_up.unwrap_or(a), weight.unwrap_or(w));
                view.insert(member_id.clone(), flags);
                rows.push((Some(member_id.clone()), Some(flags)));
            }
            MemberChange::Remove { member_id } => {
                view.remove(member_id);
                rows.push((Some(member_id.clone()), None));
            }
        }
    }
    let after = count(&view);
    let refused = after > pc.max_serving
        && match pc.limit {
            Limit::Whole => true,
            Limit::Growth => after > before,
        };
    if refused {
        return Err(TooManyMembers {
            field: pc.field.clone(),
            pool_id: pc.pool_id.clone(),
            serving: after,
        });
    }
    Ok(rows)
}

/// Each pool's rows to record with an accepted event.
pub(crate) type PoolRows = Vec<(String, Vec<Row>)>;

/// Checks every pool an event changes (inside the journal's transaction, before the
/// event is written). Returns the rows to record with the event, or the refusal.
pub(crate) fn check(
    conn: &Connection,
    pools: &[PoolChanges],
) -> Result<Result<PoolRows, TooManyMembers>, StoreError> {
    let mut out = Vec::with_capacity(pools.len());
    for pc in pools {
        match resolve(conn, pc)? {
            Ok(rows) => out.push((pc.pool_id.clone(), rows)),
            Err(refused) => return Ok(Err(refused)),
        }
    }
    Ok(Ok(out))
}

/// Records an accepted event's rows (same transaction as the event).
pub(crate) fn record(conn: &Connection, event_id: i64, pools: &PoolRows) -> Result<(), StoreError> {
    let mut st = conn.prepare_cached(
        "INSERT INTO member_changes (event_id, seq, pool_id, member_id, admin_state_up, weight) \
         VALUES (?, ?, ?, ?, ?, ?)",
    )?;
    let mut seq = 0i64;
    for (pool_id, rows) in pools {
        for (member_id, flags) in rows {
            st.execute(params![
                event_id,
                seq,
                pool_id,
                member_id,
                flags.map(|f| f.0),
                flags.map(|f| f.1)
            ])?;
            seq += 1;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;

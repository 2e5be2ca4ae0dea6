//! Finding the parents (and doomed children) of an event's object.
//!
//! Octavia locks the parents of the object it hands us, so their ids are needed
//! to unlock them afterwards. The event's own fields come first (Octavia fills
//! them in, and they work even for objects we never stored); desired state fills
//! the gaps: the pool of a member, the load balancer of a pool, the listeners
//! using a pool as default pool, and what a delete or batch update removes.
//! Call this BEFORE applying the event: a delete removes the rows it reads.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::model::{Event, ObjectKind};
use crate::store::{Store, StoreError, Table};

use super::provisioning::Lineage;

/// Parents and removed children of `event`'s object; unknown parents stay empty.
pub async fn lineage(store: &Store, event: &Event) -> Result<Lineage, StoreError> {
    match place(event) {
        Place::Loadbalancer { id, delete } => Ok(Lineage {
            loadbalancer_id: id.to_string(),
            removed: if delete {
                lb_tree(store, id).await?
            } else {
                Vec::new()
            },
            ..Lineage::default()
        }),
        Place::Listener { id, lb } => Ok(Lineage {
            loadbalancer_id: listener_lb(store, id, lb).await?,
            ..Lineage::default()
        }),
        Place::Pool {
            id,
            lb,
            listener,
            delete,
        } => {
            let (lb, listeners) = pool_parents(store, id, lb, listener).await?;
            let removed = if delete {
                pool_children(store, id).await?
            } else {
                Vec::new()
            };
            Ok(Lineage {
                loadbalancer_id: lb,
                listener_ids: listeners,
                pool_id: None,
                removed,
            })
        }
        Place::PoolChild { table, id, pool } => {
            let pool = child_pool(store, table, id, pool).await?;
            under_pool(store, pool).await
        }
        Place::Batch { pool, keep } => {
            let mut out = under_pool(store, Some(pool.to_string())).await?;
            out.removed = store
                .child_ids(Table::Members, pool)
                .await?
                .into_iter()
                .filter(|id| !keep.contains(id.as_str()))
                .map(|id| (ObjectKind::Member, id))
                .collect();
            Ok(out)
        }
    }
}

/// Where an event's object sits as far as the event's own fields tell; desired
/// state fills the gaps (`None` parents).
#[derive(Debug, PartialEq, Eq)]
enum Place<'a> {
    /// A load balancer event; a delete removes the load balancer's whole tree.
    Loadbalancer {
        id: &'a str,
        delete: bool,
    },
    Listener {
        id: &'a str,
        lb: Option<String>,
    },
    /// A pool event; a delete removes the pool's members and monitor.
    Pool {
        id: &'a str,
        lb: Option<String>,
        listener: Option<String>,
        delete: bool,
    },
    /// A member or health monitor (stored in `table`) under `pool`.
    PoolChild {
        table: Table,
        id: &'a str,
        pool: Option<String>,
    },
    /// A member batch update: the pool's members not in `keep` go.
    Batch {
        pool: &'a str,
        keep: BTreeSet<&'a str>,
    },
}

/// The event's own view of its object's place. An update's `new` body holds only
/// the fields that changed, so a parent comes from `old`, else from `new`; the
/// object's id always comes from `old`.
fn place(event: &Event) -> Place<'_> {
    let pick = |a: &Option<String>, b: &Option<String>| a.clone().or_else(|| b.clone());
    match event {
        Event::LoadbalancerCreate { .. }
        | Event::LoadbalancerUpdate { .. }
        | Event::LoadbalancerFailover { .. } => Place::Loadbalancer {
            id: event.object().1,
            delete: false,
        },
        Event::LoadbalancerDelete { loadbalancer, .. } => Place::Loadbalancer {
            id: &loadbalancer.loadbalancer_id,
            delete: true,
        },
        Event::ListenerCreate { listener: l } | Event::ListenerDelete { listener: l } => {
            Place::Listener {
                id: &l.listener_id,
                lb: l.loadbalancer_id.clone(),
            }
        }
        Event::ListenerUpdate { old, new } => Place::Listener {
            id: &old.listener_id,
            lb: pick(&old.loadbalancer_id, &new.loadbalancer_id),
        },
        Event::PoolCreate { pool: p } | Event::PoolDelete { pool: p } => Place::Pool {
            id: &p.pool_id,
            lb: p.loadbalancer_id.clone(),
            listener: p.listener_id.clone(),
            delete: matches!(event, Event::PoolDelete { .. }),
        },
        Event::PoolUpdate { old, new } => Place::Pool {
            id: &old.pool_id,
            lb: pick(&old.loadbalancer_id, &new.loadbalancer_id),
            listener: pick(&old.listener_id, &new.listener_id),
            delete: false,
        },
        Event::MemberCreate { member: m } | Event::MemberDelete { member: m } => Place::PoolChild {
            table: Table::Members,
            id: &m.member_id,
            pool: m.pool_id.clone(),
        },
        Event::MemberUpdate { old, new } => Place::PoolChild {
            table: Table::Members,
            id: &old.member_id,
            pool: pick(&old.pool_id, &new.pool_id),
        },
        Event::HealthMonitorCreate { healthmonitor: h }
        | Event::HealthMonitorDelete { healthmonitor: h } => Place::PoolChild {
            table: Table::HealthMonitors,
            id: &h.healthmonitor_id,
            pool: h.pool_id.clone(),
        },
        Event::HealthMonitorUpdate { old, new } => Place::PoolChild {
            table: Table::HealthMonitors,
            id: &old.healthmonitor_id,
            pool: pick(&old.pool_id, &new.pool_id),
        },
        Event::MemberBatchUpdate { pool_id, members } => Place::Batch {
            pool: pool_id,
            keep: members.iter().map(|m| m.member_id.as_str()).collect(),
        },
    }
}

async fn listener_lb(
    store: &Store,
    listener: &str,
    named: Option<String>,
) -> Result<String, StoreError> {
    if let Some(lb) = named {
        return Ok(lb);
    }
    // The parent column always holds the parent, even when the stored body lacks it.
    Ok(store
        .parent_of(Table::Listeners, listener)
        .await?
        .unwrap_or_default())
}

/// The load balancer and the listeners Octavia locks with a pool.
async fn pool_parents(
    store: &Store,
    pool: &str,
    named_lb: Option<String>,
    named_listener: Option<String>,
) -> Result<(String, Vec<String>), StoreError> {
    let mut listeners = BTreeSet::new();
    // The stored pool's body and parent column in one round trip.
    let (stored_body, stored_lb) = match store.get_with_parent(Table::Pools, pool).await? {
        Some((body, lb)) => (Some(body), lb),
        None => (None, None),
    };
    let stored_listener = stored_body
        .as_ref()
        .and_then(|b| str_field(b, "listener_id"))
        .map(str::to_string);
    listeners.extend(named_listener.clone().or(stored_listener));
    let mut lb = named_lb.or(stored_lb);
    if lb.is_none() {
        if let Some(l) = listeners.iter().next() {
            lb = Some(listener_lb(store, l, None).await?).filter(|s| !s.is_empty());
        }
    }
    let lb = lb.unwrap_or_default();
    if !lb.is_empty() {
        for body in store.children(Table::Listeners, &lb).await? {
            if str_field(&body, "default_pool_id") == Some(pool) {
                listeners.extend(str_field(&body, "listener_id").map(str::to_string));
            }
        }
    }
    Ok((lb, listeners.into_iter().collect()))
}

/// The pool of a member or health monitor: the event's field, else the store.
async fn child_pool(
    store: &Store,
    table: Table,
    id: &str,
    named: Option<String>,
) -> Result<Option<String>, StoreError> {
    if named.is_some() {
        return Ok(named);
    }
    store.parent_of(table, id).await
}

async fn under_pool(store: &Store, pool: Option<String>) -> Result<Lineage, StoreError> {
    let Some(pool) = pool else {
        return Ok(Lineage::default());
    };
    let (lb, listeners) = pool_parents(store, &pool, None, None).await?;
    Ok(Lineage {
        loadbalancer_id: lb,
        listener_ids: listeners,
        pool_id: Some(pool),
        removed: Vec::new(),
    })
}

async fn pool_children(store: &Store, pool: &str) -> Result<Vec<(ObjectKind, String)>, StoreError> {
    let mut out = Vec::new();
    for (kind, table) in [
        (ObjectKind::Member, Table::Members),
        (ObjectKind::HealthMonitor, Table::HealthMonitors),
    ] {
        out.extend(
            store
                .child_ids(table, pool)
                .await?
                .into_iter()
                .map(|id| (kind, id)),
        );
    }
    Ok(out)
}

/// Everything a cascade delete of `lb` removes from desired state.
async fn lb_tree(store: &Store, lb: &str) -> Result<Vec<(ObjectKind, String)>, StoreError> {
    let mut out = Vec::new();
    out.extend(
        store
            .child_ids(Table::Listeners, lb)
            .await?
            .into_iter()
            .map(|id| (ObjectKind::Listener, id)),
    );
    let pools = store.child_ids(Table::Pools, lb).await?;
    for pool in pools {
        out.extend(pool_children(store, &pool).await?);
        out.push((ObjectKind::Pool, pool));
    }
    Ok(out)
}

fn str_field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{HealthMonitor, Listener, LoadBalancer, Member, Pool};
    use crate::store::test_store;
    use crate::test_support::ok;
    use serde_json::json;

    /// lb ─ listeners l1, l3 (default pool p1), l2; pools p1 (created via
    /// listener l2, body without loadbalancer_id), p2; p1 ─ members m1, m2, monitor h1.
    async fn seeded() -> (Store, tempfile::TempDir) {
        let (s, d) = test_store().await;
        let put = |t, id: &'static str, parent: Option<&'static str>, body: Value| {
            let s = s.clone();
            async move { ok(s.put_object(t, id, parent, &body).await) }
        };
        put(
            Table::Loadbalancers,
            "lb",
            None,
            json!({"loadbalancer_id": "lb"}),
        )
        .await;
        for (l, pool) in [("l1", Some("p1")), ("l2", None), ("l3", Some("p1"))] {
            let body = json!({"listener_id": l, "loadbalancer_id": "lb", "default_pool_id": pool});
            put(Table::Listeners, l, Some("lb"), body).await;
        }
        put(
            Table::Pools,
            "p1",
            Some("lb"),
            json!({"pool_id": "p1", "listener_id": "l2"}),
        )
        .await;
        put(
            Table::Pools,
            "p2",
            Some("lb"),
            json!({"pool_id": "p2", "loadbalancer_id": "lb"}),
        )
        .await;
        for m in ["m1", "m2"] {
            put(Table::Members, m, Some("p1"), json!({"member_id": m})).await;
        }
        put(
            Table::HealthMonitors,
            "h1",
            Some("p1"),
            json!({"healthmonitor_id": "h1"}),
        )
        .await;
        (s, d)
    }

    fn member(id: &str, pool: Option<&str>) -> Member {
        Member {
            member_id: id.into(),
            pool_id: pool.map(Into::into),
            ..Default::default()
        }
    }

    fn p1_lineage() -> Lineage {
        Lineage {
            loadbalancer_id: "lb".into(),
            listener_ids: vec!["l1".into(), "l2".into(), "l3".into()],
            pool_id: Some("p1".into()),
            removed: vec![],
        }
    }

    #[tokio::test]
    async fn members_and_monitors_find_pool_listeners_and_lb() {
        let (s, _d) = seeded().await;
        let named = Event::MemberCreate {
            member: member("m9", Some("p1")),
        };
        assert_eq!(ok(lineage(&s, &named).await), p1_lineage());
        // A sparse delete names no pool: desired state knows it.
        let sparse = Event::MemberDelete {
            member: member("m1", None),
        };
        assert_eq!(ok(lineage(&s, &sparse).await), p1_lineage());
        let hm = Event::HealthMonitorUpdate {
            old: HealthMonitor {
                healthmonitor_id: "h1".into(),
                ..Default::default()
            },
            new: HealthMonitor {
                healthmonitor_id: "h1".into(),
                ..Default::default()
            },
        };
        assert_eq!(ok(lineage(&s, &hm).await), p1_lineage());
    }

    #[tokio::test]
    async fn unknown_pool_leaves_lb_empty_instead_of_failing() {
        let (s, _d) = seeded().await;
        let e = Event::MemberCreate {
            member: member("m9", Some("nope")),
        };
        let got = ok(lineage(&s, &e).await);
        assert_eq!(got.pool_id.as_deref(), Some("nope"));
        assert_eq!(got.loadbalancer_id, "");
        assert!(got.listener_ids.is_empty());
        let orphan = Event::MemberDelete {
            member: member("never", None),
        };
        assert_eq!(ok(lineage(&s, &orphan).await), Lineage::default());
    }

    #[tokio::test]
    async fn pools_and_listeners_find_their_lb() {
        let (s, _d) = seeded().await;
        let update = Event::PoolUpdate {
            old: Pool {
                pool_id: "p1".into(),
                ..Default::default()
            },
            new: Pool {
                pool_id: "p1".into(),
                ..Default::default()
            },
        };
        let want = Lineage {
            pool_id: None,
            ..p1_lineage()
        };
        assert_eq!(ok(lineage(&s, &update).await), want);
        // A new pool named only by its listener.
        let create = Event::PoolCreate {
            pool: Pool {
                pool_id: "p3".into(),
                listener_id: Some("l2".into()),
                ..Default::default()
            },
        };
        let got = ok(lineage(&s, &create).await);
        assert_eq!(
            (got.loadbalancer_id.as_str(), got.listener_ids),
            ("lb", vec!["l2".to_string()])
        );
        let listener = Event::ListenerDelete {
            listener: Listener {
                listener_id: "l1".into(),
                ..Default::default()
            },
        };
        assert_eq!(ok(lineage(&s, &listener).await).loadbalancer_id, "lb");
        let named = Event::ListenerCreate {
            listener: Listener {
                listener_id: "l9".into(),
                loadbalancer_id: Some("lb2".into()),
                ..Default::default()
            },
        };
        assert_eq!(ok(lineage(&s, &named).await).loadbalancer_id, "lb2");
    }

    #[tokio::test]
    async fn deletes_and_batches_list_what_goes_away() {
        let (s, _d) = seeded().await;
        let lb = Event::LoadbalancerDelete {
            loadbalancer: LoadBalancer {
                loadbalancer_id: "lb".into(),
                ..Default::default()
            },
            cascade: true,
        };
        let got = ok(lineage(&s, &lb).await);
        assert_eq!(got.loadbalancer_id, "lb");
        let k = |kind, id: &str| (kind, id.to_string());
        use ObjectKind::{HealthMonitor as H, Listener as L, Member as M, Pool as P};
        assert_eq!(
            got.removed,
            vec![
                k(L, "l1"),
                k(L, "l2"),
                k(L, "l3"),
                k(M, "m1"),
                k(M, "m2"),
                k(H, "h1"),
                k(P, "p1"),
                k(P, "p2"),
            ]
        );
        let pool = Event::PoolDelete {
            pool: Pool {
                pool_id: "p1".into(),
                ..Default::default()
            },
        };
        let got = ok(lineage(&s, &pool).await);
        assert_eq!(got.removed, vec![k(M, "m1"), k(M, "m2"), k(H, "h1")]);
        assert_eq!(got.listener_ids.len(), 3);
        let batch = Event::MemberBatchUpdate {
            pool_id: "p1".into(),
            members: vec![member("m2", None), member("m9", None)],
        };
        let got = ok(lineage(&s, &batch).await);
        assert_eq!(got.removed, vec![k(M, "m1")]);
        assert_eq!(got.pool_id.as_deref(), Some("p1"));
        assert_eq!(got.loadbalancer_id, "lb");
    }

    /// An update's `new` body holds only changed fields: a parent the old body names
    /// wins, the new body's fills in when the old has none, and the id is the old one.
    #[test]
    fn an_update_names_the_old_parent_else_the_new() {
        let update = |old: Option<&str>, new: Option<&str>| Event::MemberUpdate {
            old: member("m1", old),
            new: member("", new),
        };
        let child = |pool: Option<&str>| Place::PoolChild {
            table: Table::Members,
            id: "m1",
            pool: pool.map(Into::into),
        };
        let cases = [
            (Some("p1"), Some("p2"), Some("p1")),
            (None, Some("p2"), Some("p2")),
            (Some("p1"), None, Some("p1")),
            (None, None, None),
        ];
        for (old, new, want) in cases {
            assert_eq!(place(&update(old, new)), child(want), "{old:?} {new:?}");
        }
    }
}

//! What an event does to pool member sets, in the store's terms, so the journal can
//! count each pool's serving members against LoxiLB's 32 endpoints per rule in the
//! transaction that journals the event (see `store::member_count`).
//!
//! Every event that adds, removes, drains or un-drains a member, or replaces a pool's
//! member list, is described here; others change no member set.

use crate::model::limits::MAX_SERVING_MEMBERS;
use crate::model::{Event, LoadBalancer, Member, Pool};
use crate::store::{AcceptExtras, Limit, MemberChange, PoolChanges};

fn put(m: &Member) -> MemberChange {
    MemberChange::Put {
        member_id: m.member_id.clone(),
        admin_state_up: m.admin_state_up.unwrap_or(true),
        weight: m.weight.unwrap_or(1),
    }
}

/// A pool created with its members: whatever was known under its id is replaced.
fn new_pool(pool: &Pool, field: String) -> PoolChanges {
    let mut changes = vec![MemberChange::Clear];
    changes.extend(pool.members.iter().flatten().map(put));
    PoolChanges {
        pool_id: pool.pool_id.clone(),
        changes,
        limit: Limit::Whole,
        max_serving: MAX_SERVING_MEMBERS,
        field,
    }
}

fn cleared(pool_id: &str) -> PoolChanges {
    PoolChanges {
        pool_id: pool_id.to_owned(),
        changes: vec![MemberChange::Clear],
        limit: Limit::Growth,
        max_serving: MAX_SERVING_MEMBERS,
        field: "pool".into(),
    }
}

/// Every pool of a graph create, each once (a pool may be listed under the load
/// balancer and as a listener's default pool).
fn graph_pools(lb: &LoadBalancer) -> Vec<PoolChanges> {
    let mut out: Vec<PoolChanges> = Vec::new();
    let listed = lb
        .pools
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, p)| (p, format!("loadbalancer.pools[{i}].members")));
    let defaults = lb
        .listeners
        .iter()
        .flatten()
        .enumerate()
        .filter_map(|(i, l)| {
            l.default_pool.as_ref().map(|p| {
                (
                    p,
                    format!("loadbalancer.listeners[{i}].default_pool.members"),
                )
            })
        });
    for (pool, field) in listed.chain(defaults) {
        if !out.iter().any(|pc| pc.pool_id == pool.pool_id) {
            out.push(new_pool(pool, field));
        }
    }
    out
}

fn update(old: &Member, new: &Member) -> MemberChange {
    // A field reset to null takes Octavia's default (admin up, weight 1).
    let admin = new
        .admin_state_up
        .or(new.cleared.contains("admin_state_up").then_some(true));
    let weight = new.weight.or(new.cleared.contains("weight").then_some(1));
    MemberChange::Update {
        member_id: old.member_id.clone(),
        admin_state_up: admin,
        weight,
        base: (old.admin_state_up.unwrap_or(true), old.weight.unwrap_or(1)),
    }
}

/// The member-set changes and flavor note of `event`.
pub(super) fn extras(event: &Event) -> AcceptExtras {
    let one = |pool_id: Option<&String>, change: MemberChange, field: &str| {
        pool_id
            .map(|p| PoolChanges {
                pool_id: p.clone(),
                changes: vec![change],
                limit: Limit::Growth,
                max_serving: MAX_SERVING_MEMBERS,
                field: field.to_owned(),
            })
            .into_iter()
            .collect()
    };
    let mut flavor = None;
    let members = match event {
        Event::MemberCreate { member } => one(member.pool_id.as_ref(), put(member), "member"),
        Event::MemberUpdate { old, new } => {
            let field = if new.weight.is_some() {
                "new_member.weight"
            } else {
                "new_member.admin_state_up"
            };
            let pool = old.pool_id.as_ref().or(new.pool_id.as_ref());
            one(pool, update(old, new), field)
        }
        Event::MemberDelete { member } => one(
            member.pool_id.as_ref(),
            MemberChange::Remove {
                member_id: member.member_id.clone(),
            },
            "member",
        ),
        Event::MemberBatchUpdate { pool_id, members } => {
            let mut changes = vec![MemberChange::Clear];
            changes.extend(members.iter().map(put));
            vec![PoolChanges {
                pool_id: pool_id.clone(),
                changes,
                limit: Limit::Whole,
                max_serving: MAX_SERVING_MEMBERS,
                field: "members".into(),
            }]
        }
        Event::PoolCreate { pool } => vec![new_pool(pool, "pool.members".into())],
        Event::PoolDelete { pool } => vec![cleared(&pool.pool_id)],
        Event::ListenerCreate { listener } => listener
            .default_pool
            .iter()
            .map(|p| new_pool(p, "listener.default_pool.members".into()))
            .collect(),
        Event::LoadbalancerCreate { loadbalancer } => {
            let text = loadbalancer
                .flavor
                .as_ref()
                .map(|f| serde_json::Value::Object(f.clone()).to_string())
                .unwrap_or_else(|| "{}".into());
            flavor = Some((loadbalancer.loadbalancer_id.clone(), Some(text)));
            graph_pools(loadbalancer)
        }
        Event::LoadbalancerDelete { loadbalancer, .. } => {
            flavor = Some((loadbalancer.loadbalancer_id.clone(), None));
            let pools = loadbalancer.pools.iter().flatten();
            pools.map(|p| cleared(&p.pool_id)).collect()
        }
        _ => Vec::new(),
    };
    AcceptExtras { members, flavor }
}

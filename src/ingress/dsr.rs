//! DSR checks that need the load balancer's NAT mode and the objects around the event.
//!
//! Why at the ingress: in DSR mode LoxiLB refuses a rule whose selection is not hash
//! or whose endpoint ports differ from the service port, so such an event would only
//! end in ERROR after the user was answered 202. The mode is the load balancer's
//! flavor `nat_mode` (from the event, or as the store noted it at acceptance, or the
//! desired load balancer), else the configured `[loxilb] nat_mode`. The pool and
//! listeners around a member or pool event come from the desired state: Octavia
//! keeps a load balancer locked (PENDING_UPDATE) until the previous change is
//! reported, so the objects an event builds on are applied by then.

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::config::NatMode;
use crate::model::limits::{dsr_member_port, dsr_member_ports, dsr_selection};
use crate::model::{Event, EventError, LbAlgorithm, Listener, Member, Pool};
use crate::store::{Store, StoreError, Table};

use super::ApiError;

/// The mode and algorithm a load balancer's flavor selects.
fn flavor_of(flavor: Option<&Map<String, Value>>, default: NatMode) -> (bool, Option<LbAlgorithm>) {
    let mode = flavor
        .and_then(|f| f.get("nat_mode"))
        .and_then(Value::as_str)
        .and_then(|s| s.parse::<NatMode>().ok())
        .unwrap_or(default);
    let algorithm = flavor
        .and_then(|f| f.get("lb_algorithm"))
        .and_then(|v| LbAlgorithm::deserialize(v).ok());
    (mode == NatMode::Dsr, algorithm)
}

fn typed<T: serde::de::DeserializeOwned>(v: Value) -> Option<T> {
    serde_json::from_value(v).ok()
}

async fn desired_pool(store: &Store, id: &str) -> Result<Option<Pool>, StoreError> {
    Ok(store.get_object(Table::Pools, id).await?.and_then(typed))
}

async fn desired_members(store: &Store, pool_id: &str) -> Result<Vec<Member>, StoreError> {
    let rows = store.children(Table::Members, pool_id).await?;
    Ok(rows.into_iter().filter_map(typed).collect())
}

/// Ports of the load balancer's listeners whose default pool is `pool_id`.
async fn listener_ports(store: &Store, lb: &str, pool_id: &str) -> Result<Vec<u16>, StoreError> {
    let rows = store.children(Table::Listeners, lb).await?;
    Ok(rows
        .into_iter()
        .filter_map(typed::<Listener>)
        .filter(|l| l.default_pool_id.as_deref() == Some(pool_id))
        .filter_map(|l| l.protocol_port)
        .collect())
}

/// A pool's owner as its create was accepted (the journal's own look-up), kept so
/// that acceptance need not look it up again: `(pool id, load balancer id)`.
pub(super) type PoolOwner = Option<(String, String)>;

/// What the look-ups found: the load balancer, the pool owner on the way, and the
/// load balancer's flavor when it came with the owner (None: not read yet).
#[derive(Default)]
struct Found {
    lb: Option<String>,
    owner: PoolOwner,
    flavor: Option<Option<Map<String, Value>>>,
}

impl Found {
    fn lb(lb: Option<String>) -> Found {
        Found {
            lb,
            ..Found::default()
        }
    }
}

/// A pool's load balancer: as its create was accepted (with its flavor, in one
/// read), else (pools created inside a load balancer or listener create record no
/// owner) from the desired pool.
async fn pool_lb(store: &Store, pool_id: &str) -> Result<Found, StoreError> {
    if let Some((lb, flavor)) = store.pool_owner_flavor(pool_id).await? {
        return Ok(Found {
            lb: Some(lb.clone()),
            owner: Some((pool_id.to_string(), lb)),
            flavor: Some(flavor),
        });
    }
    let lb = desired_pool(store, pool_id)
        .await?
        .and_then(|p| p.loadbalancer_id);
    Ok(Found::lb(lb))
}

/// The load balancer an event belongs to, as far as the event and the store tell.
async fn lb_of(store: &Store, event: &Event) -> Result<Found, StoreError> {
    match event {
        Event::ListenerCreate { listener } | Event::ListenerUpdate { old: listener, .. } => {
            Ok(Found::lb(listener.loadbalancer_id.clone()))
        }
        Event::PoolCreate { pool } | Event::PoolUpdate { old: pool, .. } => {
            if let Some(lb) = &pool.loadbalancer_id {
                return Ok(Found::lb(Some(lb.clone())));
            }
            let lb = match &pool.listener_id {
                Some(l) => store.owner_of("listener", l).await?,
                None => store.owner_of("pool", &pool.pool_id).await?,
            };
            Ok(Found::lb(lb))
        }
        Event::MemberCreate { member } | Event::MemberUpdate { old: member, .. } => {
            match member.pool_id.as_ref() {
                Some(p) => pool_lb(store, p).await,
                None => Ok(Found::default()),
            }
        }
        Event::MemberBatchUpdate { pool_id, .. } => pool_lb(store, pool_id).await,
        _ => Ok(Found::default()),
    }
}

/// A pool update's result as far as selection goes.
fn merged_selection(old: &Pool, new: &Pool) -> Pool {
    let persistence = if new.cleared.contains("session_persistence") {
        None
    } else {
        new.session_persistence
            .clone()
            .or(old.session_persistence.clone())
    };
    Pool {
        pool_id: old.pool_id.clone(),
        lb_algorithm: new.lb_algorithm.or(old.lb_algorithm),
        session_persistence: persistence,
        ..Pool::default()
    }
}

/// A listener and its default pool (nested, or stored) in DSR mode.
async fn listener_with_pool(
    store: &Store,
    path: &str,
    listener: &Listener,
    port: Option<u16>,
    algorithm: Option<LbAlgorithm>,
) -> Result<(), ApiError> {
    let (pool, members, pool_path) = match &listener.default_pool {
        Some(p) => (
            Some(p.clone()),
            p.members.clone().unwrap_or_default(),
            format!("{path}.default_pool"),
        ),
        None => match &listener.default_pool_id {
            Some(id) => (
                desired_pool(store, id).await?,
                desired_members(store, id).await?,
                format!("{path}.default_pool_id"),
            ),
            None => (None, Vec::new(), String::new()),
        },
    };
    if let Some(pool) = &pool {
        dsr_selection(&pool_path, pool, algorithm)?;
    }
    if let Some(port) = port {
        dsr_member_ports(&format!("{pool_path}.members"), &members, port)?;
    }
    Ok(())
}

/// A whole load balancer create in DSR mode: every pool's selection, and the members
/// of each listener's default pool against the listener's port.
fn graph(
    lb: &crate::model::LoadBalancer,
    algorithm: Option<LbAlgorithm>,
) -> Result<(), EventError> {
    for (i, p) in lb.pools.iter().flatten().enumerate() {
        dsr_selection(&format!("loadbalancer.pools[{i}]"), p, algorithm)?;
    }
    for (i, l) in lb.listeners.iter().flatten().enumerate() {
        let path = format!("loadbalancer.listeners[{i}]");
        let (pool, pool_path) = match (&l.default_pool, &l.default_pool_id) {
            (Some(p), _) => (Some(p), format!("{path}.default_pool")),
            (None, Some(id)) => {
                let listed = lb
                    .pools
                    .iter()
                    .flatten()
                    .enumerate()
                    .find(|(_, p)| &p.pool_id == id);
                match listed {
                    Some((j, p)) => (Some(p), format!("loadbalancer.pools[{j}]")),
                    None => (None, String::new()),
                }
            }
            _ => (None, String::new()),
        };
        if let Some(pool) = pool {
            dsr_selection(&pool_path, pool, algorithm)?;
            if let Some(port) = l.protocol_port {
                let members = pool.members.iter().flatten();
                dsr_member_ports(&format!("{pool_path}.members"), members, port)?;
            }
        }
    }
    Ok(())
}

/// Refuses `event` when its load balancer is in DSR mode and LoxiLB would refuse
/// the rule it leads to. Returns the pool owner it looked up, if any.
pub(super) async fn check(
    store: &Store,
    default: NatMode,
    event: &Event,
) -> Result<PoolOwner, ApiError> {
    if let Event::LoadbalancerCreate { loadbalancer } = event {
        let (dsr, algorithm) = flavor_of(loadbalancer.flavor.as_ref(), default);
        if dsr {
            graph(loadbalancer, algorithm)?;
        }
        return Ok(None);
    }
    let found = lb_of(store, event).await?;
    let Some(lb) = found.lb else {
        // Unknown load balancer: the configured mode still applies to the event's
        // own content.
        own_content(store, None, default, None, event).await?;
        return Ok(None);
    };
    let owner = found.owner;
    let flavor = match found.flavor {
        Some(flavor) => flavor,
        None => store.lb_flavor(&lb).await?,
    };

    let (dsr, algorithm) = flavor_of(flavor.as_ref(), default);
    if dsr {
        own_content(store, Some(&lb), default, algorithm, event).await?;
    }
    Ok(owner)
}

async fn own_content(
    store: &Store,
    lb: Option<&str>,
    default: NatMode,
    algorithm: Option<LbAlgorithm>,
    event: &Event,
) -> Result<(), ApiError> {
    if lb.is_none() && default != NatMode::Dsr {
        return Ok(());
    }
    let ports = |pool_id: String| async move {
        match lb {
            Some(lb) => listener_ports(store, lb, &pool_id).await,
            None => Ok(Vec::new()),
        }
    };
    match event {
        Event::ListenerCreate { listener } => {
            listener_with_pool(
                store,
                "listener",
                listener,
                listener.protocol_port,
                algorithm,
            )
            .await
        }
        Event::ListenerUpdate { old, new } => {
            let mut merged = new.clone();
            merged.default_pool_id = new.default_pool_id.clone().or(old.default_pool_id.clone());
            let port = new.protocol_port.or(old.protocol_port);
            listener_with_pool(store, "new_listener", &merged, port, algorithm).await
        }
        Event::PoolCreate { pool } => {
            dsr_selection("pool", pool, algorithm)?;
            for port in ports(pool.pool_id.clone()).await? {
                dsr_member_ports("pool.members", pool.members.iter().flatten(), port)?;
            }
            Ok(())
        }
        Event::PoolUpdate { old, new } => Ok(dsr_selection(
            "new_pool",
            &merged_selection(old, new),
            algorithm,
        )?),
        Event::MemberCreate { member } => {
            let Some(pool) = member.pool_id.clone() else {
                return Ok(());
            };
            for port in ports(pool).await? {
                dsr_member_port("member", member.protocol_port, port)?;
            }
            Ok(())
        }
        Event::MemberUpdate { old, new } => {
            let Some(pool) = old.pool_id.clone() else {
                return Ok(());
            };
            if new.protocol_port.is_none() {
                return Ok(());
            }
            for port in ports(pool).await? {
                dsr_member_port("new_member", new.protocol_port, port)?;
            }
            Ok(())
        }
        Event::MemberBatchUpdate { pool_id, members } => {
            for port in ports(pool_id.clone()).await? {
                dsr_member_ports("members", members, port)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

//! A single-call ("graph") load balancer create, taken apart into the objects that
//! separate create events would have brought.
//!
//! Why: Octavia's `POST /v2/lbaas/loadbalancers` with nested listeners and pools
//! creates the whole tree in its database (every object PENDING_CREATE) and calls
//! the provider's `loadbalancer_create` once, with the tree nested inside. Desired
//! state is kept per object (the mapping reads the listeners, pools, members and
//! monitors tables), so the tree must be stored as its objects, each with its
//! parent's id filled in where the nesting implied it; otherwise the listeners get
//! no LoxiLB rule and stay PENDING_CREATE in Octavia.
//!
//! Pools appear twice in Octavia's graph (under the load balancer and as a
//! listener's `default_pool`): each is kept once, the first time it is seen.

use std::collections::HashSet;

use super::{HealthMonitor, Listener, LoadBalancer, Member, Pool};

/// The objects of a graph create, parents before children, without nesting.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GraphParts {
    pub loadbalancer: LoadBalancer,
    pub listeners: Vec<Listener>,
    pub pools: Vec<Pool>,
    pub members: Vec<Member>,
    pub monitors: Vec<HealthMonitor>,
}

/// Split `lb` (see the module doc). A load balancer without nested objects gives
/// itself and nothing else.
pub fn split_graph(lb: &LoadBalancer) -> GraphParts {
    let lb_id = &lb.loadbalancer_id;
    let mut parts = GraphParts {
        loadbalancer: LoadBalancer {
            listeners: None,
            pools: None,
            ..lb.clone()
        },
        ..GraphParts::default()
    };
    let mut seen = HashSet::new();
    for l in lb.listeners.iter().flatten() {
        let mut listener = l.clone();
        listener
            .loadbalancer_id
            .get_or_insert_with(|| lb_id.clone());
        if let Some(p) = listener.default_pool.take() {
            listener
                .default_pool_id
                .get_or_insert_with(|| p.pool_id.clone());
            let mut p = p;
            p.listener_id
                .get_or_insert_with(|| listener.listener_id.clone());
            add_pool(&mut parts, &mut seen, lb_id, p);
        }
        parts.listeners.push(listener);
    }
    for p in lb.pools.iter().flatten() {
        add_pool(&mut parts, &mut seen, lb_id, p.clone());
    }
    parts
}

fn add_pool(parts: &mut GraphParts, seen: &mut HashSet<String>, lb_id: &str, mut p: Pool) {
    if !seen.insert(p.pool_id.clone()) {
        return;
    }
    p.loadbalancer_id.get_or_insert_with(|| lb_id.to_string());
    for mut m in p.members.take().into_iter().flatten() {
        m.pool_id.get_or_insert_with(|| p.pool_id.clone());
        parts.members.push(m);
    }
    if let Some(mut h) = p.healthmonitor.take() {
        h.pool_id.get_or_insert_with(|| p.pool_id.clone());
        parts.monitors.push(h);
    }
    parts.pools.push(p);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: &str) -> Member {
        Member {
            member_id: id.into(),
            ..Default::default()
        }
    }

    fn pool(id: &str, members: &[&str], hm: Option<&str>) -> Pool {
        Pool {
            pool_id: id.into(),
            members: Some(members.iter().map(|m| member(m)).collect()),
            healthmonitor: hm.map(|h| HealthMonitor {
                healthmonitor_id: h.into(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    /// Octavia's shape: the default pool nested in its listener and listed again
    /// under the load balancer, plus a pool no listener uses yet.
    #[test]
    fn a_graph_becomes_its_objects_with_parents_filled_in_and_each_pool_once() {
        let lb = LoadBalancer {
            loadbalancer_id: "lb".into(),
            listeners: Some(vec![Listener {
                listener_id: "l".into(),
                default_pool: Some(pool("p", &["m1", "m2"], Some("hm"))),
                ..Default::default()
            }]),
            pools: Some(vec![
                pool("p", &["m1", "m2"], Some("hm")),
                pool("q", &["m3"], None),
            ]),
            ..Default::default()
        };
        let parts = split_graph(&lb);
        assert_eq!(parts.loadbalancer.listeners, None);
        assert_eq!(parts.loadbalancer.pools, None);
        let l = &parts.listeners[0];
        assert_eq!(l.loadbalancer_id.as_deref(), Some("lb"));
        assert_eq!(l.default_pool_id.as_deref(), Some("p"));
        assert_eq!(l.default_pool, None);
        let pools: Vec<(&str, Option<&str>, Option<&str>)> = parts
            .pools
            .iter()
            .map(|p| {
                (
                    p.pool_id.as_str(),
                    p.loadbalancer_id.as_deref(),
                    p.listener_id.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            pools,
            [("p", Some("lb"), Some("l")), ("q", Some("lb"), None)]
        );
        assert!(parts
            .pools
            .iter()
            .all(|p| p.members.is_none() && p.healthmonitor.is_none()));
        let members: Vec<(&str, Option<&str>)> = parts
            .members
            .iter()
            .map(|m| (m.member_id.as_str(), m.pool_id.as_deref()))
            .collect();
        assert_eq!(
            members,
            [("m1", Some("p")), ("m2", Some("p")), ("m3", Some("q"))]
        );
        assert_eq!(parts.monitors.len(), 1);
        assert_eq!(parts.monitors[0].pool_id.as_deref(), Some("p"));
    }

    #[test]
    fn ids_already_given_are_kept_and_a_plain_lb_is_alone() {
        let mut p = pool("p", &["m"], None);
        p.loadbalancer_id = Some("lb".into());
        p.listener_id = Some("other".into());
        let lb = LoadBalancer {
            loadbalancer_id: "lb".into(),
            listeners: Some(vec![Listener {
                listener_id: "l".into(),
                default_pool_id: Some("p".into()),
                default_pool: Some(p),
                ..Default::default()
            }]),
            ..Default::default()
        };
        let parts = split_graph(&lb);
        assert_eq!(parts.pools[0].listener_id.as_deref(), Some("other"));
        let plain = split_graph(&LoadBalancer {
            loadbalancer_id: "lb".into(),
            ..Default::default()
        });
        assert!(plain.listeners.is_empty() && plain.pools.is_empty() && plain.members.is_empty());
    }
}

//! Where an event is ordered, and what it teaches about lineage: one pure function,
//! [`ordering`], used by the ingress when it journals an event.
//!
//! Why here: the rules are facts about Octavia's events (which parent each one
//! names), not about storage. The store only finishes the job where the event
//! cannot: it resolves a [`KeyHint`] other than `Loadbalancer` to the owning load
//! balancer from the lineage it recorded (the [`OwnerFact`]s of earlier events).
//!
//! Rules: an event is ordered under the closest parent it names: its load balancer,
//! else its listener, else its pool; updates go by the old object (the one the
//! ordering already knows). An event naming no parent (a sparse delete) is ordered
//! with the other events of its own object. A created listener or pool names its
//! owner, which later events of its children resolve through.

use super::event::Event;

/// What an event says about the load balancer it belongs to. Anything but
/// `Loadbalancer` is resolved by the store from recorded lineage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyHint {
    Loadbalancer(String),
    /// The load balancer owning this listener.
    Listener(String),
    /// The load balancer owning this pool (member and health-monitor events).
    Pool(String),
    /// No parent known (a delete that names only its own id, as `kind:id`): the
    /// event is ordered with other events of the same object.
    Other(String),
}

/// How a newly created listener or pool names its owner.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OwnerRef {
    Loadbalancer(String),
    Listener(String),
}

/// A lineage fact an event teaches: object `kind`/`id` belongs to `owner`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnerFact {
    /// `"listener"` or `"pool"`.
    pub kind: &'static str,
    pub id: String,
    pub owner: OwnerRef,
}

/// An event's place in the ordering and the lineage fact it teaches, if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ordering {
    pub key: KeyHint,
    pub owner: Option<OwnerFact>,
}

impl Ordering {
    fn under(key: KeyHint) -> Ordering {
        Ordering { key, owner: None }
    }
}

/// `event`'s ordering key hint and owner fact (see the module doc for the rules).
pub fn ordering(event: &Event) -> Ordering {
    let lb = |id: &String| Ordering::under(KeyHint::Loadbalancer(id.clone()));
    match event {
        Event::LoadbalancerCreate { loadbalancer }
        | Event::LoadbalancerDelete { loadbalancer, .. }
        | Event::LoadbalancerUpdate {
            old: loadbalancer, ..
        } => lb(&loadbalancer.loadbalancer_id),
        Event::LoadbalancerFailover { loadbalancer_id } => lb(loadbalancer_id),
        Event::ListenerCreate { listener }
        | Event::ListenerDelete { listener }
        | Event::ListenerUpdate { old: listener, .. } => {
            let Some(owner) = &listener.loadbalancer_id else {
                return Ordering::under(KeyHint::Listener(listener.listener_id.clone()));
            };
            let fact = matches!(event, Event::ListenerCreate { .. }).then(|| OwnerFact {
                kind: "listener",
                id: listener.listener_id.clone(),
                owner: OwnerRef::Loadbalancer(owner.clone()),
            });
            Ordering {
                owner: fact,
                ..lb(owner)
            }
        }
        Event::PoolCreate { pool }
        | Event::PoolDelete { pool }
        | Event::PoolUpdate { old: pool, .. } => {
            let (key, owner) = match (&pool.loadbalancer_id, &pool.listener_id) {
                (Some(lb), _) => (
                    KeyHint::Loadbalancer(lb.clone()),
                    Some(OwnerRef::Loadbalancer(lb.clone())),
                ),
                (None, Some(l)) => (
                    KeyHint::Listener(l.clone()),
                    Some(OwnerRef::Listener(l.clone())),
                ),
                (None, None) => (KeyHint::Pool(pool.pool_id.clone()), None),
            };
            let owner = owner
                .filter(|_| matches!(event, Event::PoolCreate { .. }))
                .map(|owner| OwnerFact {
                    kind: "pool",
                    id: pool.pool_id.clone(),
                    owner,
                });
            Ordering { key, owner }
        }
        Event::MemberCreate { member }
        | Event::MemberDelete { member }
        | Event::MemberUpdate { old: member, .. } => {
            in_pool(member.pool_id.as_ref(), "member", &member.member_id)
        }
        Event::MemberBatchUpdate { pool_id, .. } => Ordering::under(KeyHint::Pool(pool_id.clone())),
        Event::HealthMonitorCreate { healthmonitor: h }
        | Event::HealthMonitorDelete { healthmonitor: h }
        | Event::HealthMonitorUpdate { old: h, .. } => {
            in_pool(h.pool_id.as_ref(), "healthmonitor", &h.healthmonitor_id)
        }
    }
}

/// A member or health monitor: under its pool, else with its own object's events.
fn in_pool(pool_id: Option<&String>, kind: &str, id: &str) -> Ordering {
    Ordering::under(match pool_id {
        Some(p) => KeyHint::Pool(p.clone()),
        None => KeyHint::Other(format!("{kind}:{id}")),
    })
}

#[cfg(test)]
mod tests;

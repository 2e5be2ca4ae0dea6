//! [`DesiredIndex`]: the desired state reduced to what status derivation needs.
//!
//! Built with five table scans (no per-object query) and then reused every cycle:
//! after a change only the load balancers the drivers name are read again
//! ([`DesiredIndex::reload`]), and the whole index once per cache TTL. (A full
//! rebuild after every change was a steady cost that grew with the deployment, not
//! with the change.) Entries are shared (`Arc`), so an updated index copies
//! pointers, not trees. Each member carries its probe key name precomputed — the same
//! `<ip>_<rule proto>_<port>` the applier gives LoxiLB ([`ProbeKey`]) — so a cycle
//! is one hash lookup per member.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use tracing::warn;

use super::presence::Names;
use super::rules::MemberFacts;
use crate::loxilb::types::LoadbalanceEntry;
use crate::mapping::{listener_expects_rule, listener_rule_key, rule_name, LbTree, ProbeKey};
use crate::store::{Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberEntry {
    pub id: Arc<str>,
    /// LoxiLB probe name; `None` without address or port.
    pub probe: Option<Arc<str>>,
    pub facts: MemberFacts,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolEntry {
    pub id: Arc<str>,
    /// Pool and load balancer admin up.
    pub admin_up: bool,
    /// Some listener forwards to it.
    pub served: bool,
    pub members: Vec<MemberEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerEntry {
    pub id: Arc<str>,
    /// Listener and load balancer admin up.
    pub admin_up: bool,
    /// The LoxiLB rule name serving it.
    pub rule: String,
    /// A rule is meant to exist ([`listener_expects_rule`]): admin up with a default
    /// pool that has a serving member. Only then is a missing rule an error.
    pub expects_rule: bool,
    /// That rule's LoxiLB key (VIP, port, protocol) when it is meant to exist: a rule
    /// found there under another name (taken over from another driver) serves it.
    pub rule_key: Option<(String, u16, &'static str)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LbEntry {
    pub id: Arc<str>,
    pub admin_up: bool,
    pub listeners: Vec<ListenerEntry>,
    pub pools: Vec<PoolEntry>,
}

/// A LoxiLB rule's key: VIP, port, protocol.
pub type RuleKey<'a> = (&'a str, u16, &'a str);

/// The key of a listed rule.
pub fn rule_key_of(r: &LoadbalanceEntry) -> RuleKey<'_> {
    let a = &r.service_arguments;
    (a.external_ip.as_str(), a.port, a.protocol.as_str())
}

/// Every load balancer we manage, ready for a poll cycle, in id order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DesiredIndex {
    pub lbs: Vec<Arc<LbEntry>>,
}

impl DesiredIndex {
    /// The names a node's rule listing shows as present: each rule's own name, and
    /// for a rule sitting at the key of one of our listeners' rules under another
    /// name, our rule's name as well (LoxiLB has one rule per key; an adopted rule
    /// keeps its creator's name and is the rule serving that listener).
    pub fn listed_rule_names(&self, rules: &[LoadbalanceEntry]) -> Names {
        let by_key = self.listeners_by_rule_key();
        let mut names = Names::with_capacity(rules.len());
        for r in rules {
            names.insert(r.service_arguments.name.clone());
            if let Some(l) = by_key.get(&rule_key_of(r)) {
                names.insert(l.rule.clone());
            }
        }
        names
    }

    /// Our listeners by the LoxiLB key of the rule each should have.
    pub fn listeners_by_rule_key(&self) -> HashMap<RuleKey<'_>, &ListenerEntry> {
        self.lbs
            .iter()
            .flat_map(|lb| &lb.listeners)
            .filter_map(|l| {
                let (ip, port, proto) = l.rule_key.as_ref()?;
                Some(((ip.as_str(), *port, *proto), l))
            })
            .collect()
    }

    pub fn member_count(&self) -> usize {
        self.lbs
            .iter()
            .flat_map(|l| &l.pools)
            .map(|p| p.members.len())
            .sum()
    }

    /// The index of parsed trees (pure).
    pub fn from_trees(trees: &[LbTree]) -> DesiredIndex {
        let mut lbs: Vec<Arc<LbEntry>> = trees.iter().map(|t| Arc::new(lb_entry(t))).collect();
        lbs.sort_by(|a, b| a.id.cmp(&b.id));
        DesiredIndex { lbs }
    }

    /// This index with some load balancers replaced (`Some`) or removed (`None`),
    /// still in id order (pure).
    pub fn with_changes(&self, changes: Vec<(String, Option<LbEntry>)>) -> DesiredIndex {
        let mut lbs = self.lbs.clone();
        for (id, entry) in changes {
            let at = lbs.binary_search_by(|e| (*e.id).cmp(id.as_str()));
            match (at, entry) {
                (Ok(i), Some(e)) => lbs[i] = Arc::new(e),
                (Err(i), Some(e)) => lbs.insert(i, Arc::new(e)),
                (Ok(i), None) => {
                    lbs.remove(i);
                }
                (Err(_), None) => {}
            }
        }
        DesiredIndex { lbs }
    }

    /// This index with the load balancers `ids` read again from the store.
    pub async fn reload(
        &self,
        store: &Store,
        ids: &BTreeSet<String>,
    ) -> Result<DesiredIndex, StoreError> {
        let mut changes = Vec::with_capacity(ids.len());
        for id in ids {
            let entry = store
                .lb_bodies(id)
                .await?
                .and_then(|b| entry_from_bodies(id, &b));
            changes.push((id.clone(), entry));
        }
        Ok(self.with_changes(changes))
    }

    /// Read the desired tables and build the index. A load balancer whose stored
    /// objects no longer parse is skipped with a warning (it cannot be reported on
    /// correctly, and one bad row must not stop status for all the others).
    pub async fn load(store: &Store) -> Result<DesiredIndex, StoreError> {
        let mut lbs = Vec::new();
        store
            .for_each_lb_tree(|id, b| {
                if let Some(e) = entry_from_bodies(id, &b) {
                    lbs.push(Arc::new(e));
                }
            })
            .await?;
        // The store reads in id order already; sorting keeps `with_changes` right
        // whatever the query does.
        lbs.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(DesiredIndex { lbs })
    }
}

/// The entry of one stored load balancer; `None` (with a warning) when its stored
/// objects no longer parse.
fn entry_from_bodies(id: &str, b: &crate::store::LbBodies) -> Option<LbEntry> {
    match LbTree::from_bodies(
        &b.loadbalancer,
        &b.listeners,
        &b.pools,
        &b.members,
        &b.monitors,
    ) {
        Ok(t) => Some(lb_entry(&t)),
        Err(e) => {
            warn!(loadbalancer_id = %id, error = %e, "no health status for this load balancer");
            None
        }
    }
}

fn lb_entry(tree: &LbTree) -> LbEntry {
    let lb_up = tree.lb_up();
    let served: Vec<&str> = tree
        .listeners
        .iter()
        .filter_map(|l| tree.default_pool_of(l).map(|p| p.pool_id.as_str()))
        .collect();
    // Members grouped once (O(members)), not scanned per pool.
    let mut members_by_pool: HashMap<&str, Vec<&crate::model::Member>> = HashMap::new();
    for m in &tree.members {
        if let Some(p) = m.pool_id.as_deref() {
            members_by_pool.entry(p).or_default().push(m);
        }
    }
    let pools = tree
        .pools
        .iter()
        .map(|pool| {
            let admin_up = lb_up && pool.admin_state_up.unwrap_or(true);
            let monitored = tree
                .monitor_of(pool)
                .is_some_and(|h| h.admin_state_up.unwrap_or(true));
            let proto = crate::mapping::pool_rule_proto(tree, pool);
            let members = members_by_pool
                .get(pool.pool_id.as_str())
                .into_iter()
                .flatten()
                .map(|m| MemberEntry {
                    id: Arc::from(m.member_id.as_str()),
                    probe: match (m.address, m.protocol_port, proto) {
                        (Some(a), Some(port), Some(proto)) => Some(Arc::from(
                            ProbeKey {
                                host: a.to_string(),
                                proto: proto.to_string(),
                                port,
                            }
                            .name(),
                        )),
                        _ => None,
                    },
                    facts: MemberFacts {
                        admin_up: admin_up && m.admin_state_up.unwrap_or(true),
                        monitored,
                        drained: m.weight == Some(0),
                    },
                })
                .collect();
            PoolEntry {
                id: Arc::from(pool.pool_id.as_str()),
                admin_up,
                served: served.contains(&pool.pool_id.as_str()),
                members,
            }
        })
        .collect();
    LbEntry {
        id: Arc::from(tree.lb.loadbalancer_id.as_str()),
        admin_up: lb_up,
        listeners: tree
            .listeners
            .iter()
            .map(|l| ListenerEntry {
                id: Arc::from(l.listener_id.as_str()),
                admin_up: lb_up && l.admin_state_up.unwrap_or(true),
                rule: rule_name(&l.listener_id),
                expects_rule: listener_expects_rule(tree, l),
                rule_key: listener_rule_key(tree, l),
            })
            .collect(),
        pools,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::TestResult;
    use serde_json::json;

    #[test]
    fn index_carries_probe_keys_and_admin_state() -> TestResult {
        let tree = LbTree::from_bodies(
            &json!({"loadbalancer_id": "lb", "vip_address": "10.1.1.1"}),
            &[json!({"listener_id": "l", "protocol": "TCP", "protocol_port": 80, "default_pool_id": "p"})],
            &[
                json!({"pool_id": "p", "protocol": "TCP", "admin_state_up": true}),
                json!({"pool_id": "idle", "protocol": "UDP"}),
            ],
            &[
                json!({"member_id": "m1", "pool_id": "p", "address": "10.0.0.1", "protocol_port": 8080}),
                json!({"member_id": "m2", "pool_id": "p", "address": "10.0.0.2", "protocol_port": 8080, "weight": 0, "admin_state_up": false}),
                json!({"member_id": "m3", "pool_id": "idle", "address": "10.0.0.3", "protocol_port": 53}),
            ],
            &[json!({"healthmonitor_id": "h", "pool_id": "p", "type": "TCP"})],
        )
        .unwrap();
        let idx = DesiredIndex::from_trees(&[tree]);
        let lb = &idx.lbs[0];
        assert_eq!(lb.listeners[0].rule, "octavia-l");
        assert!(lb.listeners[0].expects_rule);
        let p = &lb.pools[0];
        assert!(p.served);
        assert_eq!(p.members[0].probe.as_deref(), Some("10.0.0.1_tcp_8080"));
        assert!(p.members[0].facts.monitored && p.members[0].facts.admin_up);
        assert!(p.members[1].facts.drained && !p.members[1].facts.admin_up);
        let idle = &lb.pools[1];
        assert!(!idle.served);
        assert_eq!(idle.members[0].probe.as_deref(), Some("10.0.0.3_udp_53"));
        assert!(!idle.members[0].facts.monitored);
        assert_eq!(idx.member_count(), 3);
        assert_eq!(
            lb.listeners[0].rule_key,
            Some(("10.1.1.1".to_string(), 80, "tcp"))
        );
        Ok(())
    }

    /// A rule taken over from another driver keeps that driver's name; at our key it
    /// counts as our listener's rule. Another port or protocol is another key.
    #[test]
    fn a_rule_at_our_key_under_another_name_counts_as_ours() -> TestResult {
        use crate::loxilb::types::ServiceArguments;
        let tree = LbTree::from_bodies(
            &json!({"loadbalancer_id": "lb", "vip_address": "10.1.1.1"}),
            &[json!({"listener_id": "l", "protocol": "TCP", "protocol_port": 80, "default_pool_id": "p"})],
            &[json!({"pool_id": "p", "protocol": "TCP"})],
            &[json!({"member_id": "m1", "pool_id": "p", "address": "10.0.0.1", "protocol_port": 8080})],
            &[],
        )
        .unwrap();
        let idx = DesiredIndex::from_trees(&[tree]);
        let listed = |name: &str, port: u16, proto: &str| {
            let mut names: Vec<String> = idx
                .listed_rule_names(&[LoadbalanceEntry {
                    service_arguments: ServiceArguments {
                        external_ip: "10.1.1.1".into(),
                        port,
                        protocol: proto.into(),
                        name: name.into(),
                        ..Default::default()
                    },
                    ..Default::default()
                }])
                .into_iter()
                .collect();
            names.sort();
            names
        };
        assert_eq!(
            listed("octavia-listener-l", 80, "tcp"),
            ["octavia-l", "octavia-listener-l"]
        );
        assert_eq!(listed("octavia-l", 80, "tcp"), ["octavia-l"]);
        assert_eq!(listed("other", 81, "tcp"), ["other"]);
        assert_eq!(listed("other", 80, "udp"), ["other"]);
        Ok(())
    }
}

#[cfg(test)]
mod reload_tests {
    use super::*;
    use crate::test_support::TestResult;
    use serde_json::json;

    fn entry(lb: &str, members: usize) -> LbEntry {
        let ms: Vec<_> = (0..members)
            .map(|i| {
                json!({"member_id": format!("{lb}-m{i}"), "pool_id": format!("{lb}-p"),
                            "address": "10.0.0.1", "protocol_port": 8000 + i})
            })
            .collect();
        let tree = LbTree::from_bodies(
            &json!({"loadbalancer_id": lb, "vip_address": "10.1.1.1"}),
            &[],
            &[json!({"pool_id": format!("{lb}-p"), "protocol": "TCP"})],
            &ms,
            &[],
        )
        .unwrap();
        lb_entry(&tree)
    }

    fn ids(i: &DesiredIndex) -> Vec<&str> {
        i.lbs.iter().map(|e| &*e.id).collect()
    }

    /// Changing some load balancers replaces, adds and removes exactly those, keeps
    /// id order, and shares the untouched entries with the previous index.
    #[test]
    fn changes_touch_only_the_named_load_balancers() -> TestResult {
        let base = DesiredIndex::default().with_changes(vec![
            ("b".into(), Some(entry("b", 1))),
            ("d".into(), Some(entry("d", 1))),
            ("a".into(), Some(entry("a", 1))),
        ]);
        assert_eq!(ids(&base), ["a", "b", "d"]);
        let next = base.with_changes(vec![
            ("c".into(), Some(entry("c", 2))),
            ("b".into(), Some(entry("b", 3))),
            ("a".into(), None),
            ("zz".into(), None),
        ]);
        assert_eq!(ids(&next), ["b", "c", "d"]);
        assert_eq!(next.member_count(), 3 + 2 + 1);
        assert!(
            Arc::ptr_eq(&base.lbs[2], &next.lbs[2]),
            "d is shared, not rebuilt"
        );
        // The same result as building everything afresh.
        let fresh = DesiredIndex::default().with_changes(vec![
            ("d".into(), Some(entry("d", 1))),
            ("c".into(), Some(entry("c", 2))),
            ("b".into(), Some(entry("b", 3))),
        ]);
        assert_eq!(next, fresh);
        Ok(())
    }

    /// `reload` reads only the named load balancers, and agrees with a full load.
    #[tokio::test]
    async fn reload_reads_the_named_load_balancers_again() -> TestResult {
        use crate::store::Table;
        let (store, _dir) = crate::store::test_store().await;
        let put = |t: Table, id: &str, parent: Option<&str>, body: serde_json::Value| {
            let store = store.clone();
            let (id, parent) = (id.to_string(), parent.map(str::to_string));
            async move {
                crate::test_support::ok(store.put_object(t, &id, parent.as_deref(), &body).await)
            }
        };
        for lb in ["a", "b"] {
            put(
                Table::Loadbalancers,
                lb,
                None,
                json!({"loadbalancer_id": lb, "vip_address": "10.1.1.1"}),
            )
            .await;
            let pool = format!("{lb}-p");
            put(
                Table::Pools,
                &pool,
                Some(lb),
                json!({"pool_id": pool, "protocol": "TCP"}),
            )
            .await;
            put(Table::Members, &format!("{lb}-m0"), Some(&pool),
                json!({"member_id": format!("{lb}-m0"), "pool_id": pool, "address": "10.0.0.1", "protocol_port": 80})).await;
        }
        let first = DesiredIndex::load(&store).await?;
        assert_eq!(first.member_count(), 2);
        // b gains a member, a is deleted, c appears; only b and c are named.
        put(Table::Members, "b-m1", Some("b-p"),
            json!({"member_id": "b-m1", "pool_id": "b-p", "address": "10.0.0.2", "protocol_port": 80})).await;
        put(
            Table::Loadbalancers,
            "c",
            None,
            json!({"loadbalancer_id": "c", "vip_address": "10.1.1.2"}),
        )
        .await;
        store.delete_loadbalancer_tree("a").await?;
        let named: BTreeSet<String> = ["b".to_string(), "c".to_string()].into();
        let next = first.reload(&store, &named).await?;
        assert_eq!(ids(&next), ["a", "b", "c"], "a was not named, so it stays");
        assert!(Arc::ptr_eq(&first.lbs[0], &next.lbs[0]));
        assert_eq!(next.lbs[1].pools[0].members.len(), 2);
        let all: BTreeSet<String> = ["a".to_string(), "b".to_string(), "c".to_string()].into();
        let next = first.reload(&store, &all).await?;
        assert_eq!(next, DesiredIndex::load(&store).await?);
        Ok(())
    }
}

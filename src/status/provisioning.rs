//! Which final provisioning statuses an event produces, as a pure function.
//!
//! Octavia locks an object and its parents in `PENDING_*` before calling the
//! provider, and only the provider can unlock them: every event, success or
//! failure, must end with ACTIVE, DELETED or ERROR on the object *and* ACTIVE on
//! every parent Octavia locked (pool, its listeners, the load balancer), or the
//! whole tree stays immutable. Keeping the rules here, free of I/O, makes them
//! testable per event method and identical on every code path.
//!
//! Rules (see `shared/reference/octavia.md`):
//! * create/update/failover applied → object ACTIVE; failed → object ERROR. A
//!   graph create (load balancer with nested objects) does so for every nested
//!   object too, leaves first.
//! * delete applied → object DELETED, plus every child that goes with it
//!   (cascade load balancer delete: listeners, pools, members, monitors; pool
//!   delete: its members and monitor), so Octavia's quota counters stay right.
//!   A delete that fails → object ERROR; children are left alone because
//!   Octavia did not lock them.
//! * member_batch_update → every member in the batch ACTIVE (ERROR on failure),
//!   members the batch removes DELETED (ERROR on failure: Octavia set them
//!   PENDING_DELETE).
//! * Parents always go back to ACTIVE: a failed child does not break its parent.
//!
//! Order: children being deleted (leaves first), then the object, then parents
//! from the nearest up to the load balancer. Operating status is set for
//! DELETED objects (OFFLINE) and for a health monitor created or updated
//! (ONLINE when enabled, OFFLINE when disabled, as Octavia's amphora driver
//! marks it: nothing else ever sets a monitor's operating status, so without
//! it a monitor stays OFFLINE, the API's initial value, for ever). Member,
//! pool, listener and load balancer health is the status-sync task's business.

use std::collections::HashSet;

use crate::model::{
    split_graph, Event, HealthMonitor, Listener, LoadBalancer, Member, ObjectKind, Pool,
};
use crate::octavia::{OperatingStatus, ProvisioningStatus};
use crate::store::StatusRecord;

/// The objects above (and, for deletes and batch updates, below) an event's
/// object, resolved before the event is applied.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Lineage {
    /// Empty when no source named it (e.g. a member of a pool we never knew).
    pub loadbalancer_id: String,
    /// Listeners Octavia locked with the event's pool (those using it as default pool).
    pub listener_ids: Vec<String>,
    /// The pool of a member or health monitor event.
    pub pool_id: Option<String>,
    /// Objects that disappear with the event's object, known from desired state:
    /// load balancer/pool delete children, members a batch update removes.
    pub removed: Vec<(ObjectKind, String)>,
}

/// How applying the event ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome<'a> {
    Applied,
    /// The reason is for the caller's logs and journal; Octavia only sees ERROR.
    Failed(&'a str),
}

/// Final statuses for `event`, in the order described in the module docs: the
/// objects the event acted on, then the parents Octavia locked with them.
pub fn provisioning_statuses(
    event: &Event,
    lineage: &Lineage,
    outcome: Outcome<'_>,
) -> Vec<StatusRecord> {
    let ok = outcome == Outcome::Applied;
    let mut out = Statuses::default();
    object_statuses(&mut out, event, lineage, ok);
    parent_statuses(&mut out, event, lineage);
    out.records
}

/// The end state of the event's own object and of what goes with it: children a
/// delete removes (leaves first, only when it applied: Octavia did not lock them),
/// the nested objects of a graph create, the members of a batch update.
fn object_statuses(out: &mut Statuses, event: &Event, lineage: &Lineage, ok: bool) {
    let (kind, id) = event.object();
    match event {
        Event::LoadbalancerDelete { loadbalancer, .. } => {
            if ok {
                let mut children = Vec::new();
                lb_children(loadbalancer, &mut children);
                out.deleted_children(children, &lineage.removed);
            }
            out.finish(kind, id, ok, true);
        }
        Event::PoolDelete { pool } => {
            if ok {
                let mut children = Vec::new();
                pool_children(pool, &mut children);
                out.deleted_children(children, &lineage.removed);
            }
            out.finish(kind, id, ok, true);
        }
        Event::ListenerDelete { .. }
        | Event::MemberDelete { .. }
        | Event::HealthMonitorDelete { .. } => out.finish(kind, id, ok, true),
        Event::LoadbalancerCreate { loadbalancer } => {
            graph_create(out, loadbalancer, ok);
            out.finish(kind, id, ok, false);
        }
        Event::HealthMonitorCreate { healthmonitor } if ok => {
            out.monitor_active(id, monitor_enabled(None, healthmonitor));
        }
        Event::HealthMonitorUpdate { old, new } if ok => {
            out.monitor_active(id, monitor_enabled(Some(old), new));
        }
        Event::MemberBatchUpdate { members, .. } => {
            for m in members {
                out.finish(ObjectKind::Member, &m.member_id, ok, false);
            }
            for (k, removed) in &lineage.removed {
                out.finish(*k, removed, ok, true);
            }
        }
        _ => out.finish(kind, id, ok, false),
    }
}

/// A graph create: Octavia locked every nested object PENDING_CREATE, so each
/// ends like the load balancer, leaves first (the load balancer itself is the
/// caller's).
fn graph_create(out: &mut Statuses, loadbalancer: &LoadBalancer, ok: bool) {
    let parts = split_graph(loadbalancer);
    for h in &parts.monitors {
        if ok {
            out.monitor_active(&h.healthmonitor_id, monitor_enabled(None, h));
        } else {
            out.finish(ObjectKind::HealthMonitor, &h.healthmonitor_id, false, false);
        }
    }
    for m in &parts.members {
        out.finish(ObjectKind::Member, &m.member_id, ok, false);
    }
    for p in &parts.pools {
        out.finish(ObjectKind::Pool, &p.pool_id, ok, false);
    }
    for l in &parts.listeners {
        out.finish(ObjectKind::Listener, &l.listener_id, ok, false);
    }
}

/// Parents, nearest first, back to ACTIVE whatever the outcome: a failed child
/// does not break its parent, and a parent left PENDING_* locks the whole tree.
/// For a batch update the pool is the event's object but Octavia only locked it
/// as a parent, so it goes back to ACTIVE too.
fn parent_statuses(out: &mut Statuses, event: &Event, lineage: &Lineage) {
    let (kind, id) = event.object();
    if matches!(kind, ObjectKind::Member | ObjectKind::HealthMonitor) {
        if let Some(pool) = &lineage.pool_id {
            out.active(ObjectKind::Pool, pool);
        }
    }
    if matches!(event, Event::MemberBatchUpdate { .. }) {
        out.active(ObjectKind::Pool, id);
    }
    if matches!(
        kind,
        ObjectKind::Pool | ObjectKind::Member | ObjectKind::HealthMonitor
    ) {
        for l in &lineage.listener_ids {
            out.active(ObjectKind::Listener, l);
        }
    }
    if kind != ObjectKind::Loadbalancer {
        out.active(ObjectKind::Loadbalancer, &lineage.loadbalancer_id);
    }
}

/// Whether a monitor is enabled after a create (`old` None) or an update.
/// An update's `new` holds only changed fields, so an absent
/// `admin_state_up` keeps the old value; Octavia's default is enabled.
fn monitor_enabled(old: Option<&HealthMonitor>, new: &HealthMonitor) -> bool {
    new.admin_state_up
        .or_else(|| {
            old.filter(|_| !new.cleared.contains("admin_state_up"))
                .and_then(|o| o.admin_state_up)
        })
        .unwrap_or(true)
}

/// Status records that would be emitted for objects removed from desired state
/// outside an event's own dict (e.g. the ids `Store::delete_loadbalancer_tree`
/// returned), for callers that learn of children only while applying.
pub fn deleted_records(removed: &[(ObjectKind, String)]) -> Vec<StatusRecord> {
    let mut out = Statuses::default();
    for (k, id) in removed {
        out.finish(*k, id, true, true);
    }
    out.records
}

/// Ordered records without duplicates (the first status for an object wins) and
/// without empty ids (an unknown parent is simply not reported).
#[derive(Default)]
struct Statuses {
    records: Vec<StatusRecord>,
    seen: HashSet<(ObjectKind, String)>,
}

impl Statuses {
    fn push(
        &mut self,
        kind: ObjectKind,
        id: &str,
        p: ProvisioningStatus,
        o: Option<OperatingStatus>,
    ) {
        if id.is_empty() || !self.seen.insert((kind, id.to_string())) {
            return;
        }
        self.records.push(StatusRecord {
            collection: kind.status_key().to_string(),
            id: id.to_string(),
            provisioning_status: Some(p.as_str().to_string()),
            operating_status: o.map(|o| o.as_str().to_string()),
        });
    }

    fn active(&mut self, kind: ObjectKind, id: &str) {
        self.push(kind, id, ProvisioningStatus::Active, None);
    }

    /// A health monitor created or updated: ACTIVE, and ONLINE when enabled,
    /// OFFLINE when disabled.
    fn monitor_active(&mut self, id: &str, enabled: bool) {
        let oper = if enabled {
            OperatingStatus::Online
        } else {
            OperatingStatus::Offline
        };
        self.push(
            ObjectKind::HealthMonitor,
            id,
            ProvisioningStatus::Active,
            Some(oper),
        );
    }

    /// The end state of an object the event acted on.
    fn finish(&mut self, kind: ObjectKind, id: &str, ok: bool, delete: bool) {
        match (ok, delete) {
            (true, true) => self.push(
                kind,
                id,
                ProvisioningStatus::Deleted,
                Some(OperatingStatus::Offline),
            ),
            (true, false) => self.active(kind, id),
            (false, _) => self.push(kind, id, ProvisioningStatus::Error, None),
        }
    }

    /// Children from the event's dict, then those only desired state knew,
    /// leaves first so no child is reported after its parent is gone.
    fn deleted_children(
        &mut self,
        mut from_event: Vec<(ObjectKind, String)>,
        known: &[(ObjectKind, String)],
    ) {
        from_event.extend(known.iter().cloned());
        from_event.sort_by_key(|(k, _)| std::cmp::Reverse(depth(*k)));
        for (k, id) in from_event {
            self.finish(k, &id, true, true);
        }
    }
}

/// Distance from the load balancer; sorting by it puts leaves first.
fn depth(kind: ObjectKind) -> u8 {
    match kind {
        ObjectKind::Loadbalancer => 0,
        ObjectKind::Listener | ObjectKind::Pool => 1,
        ObjectKind::Member | ObjectKind::HealthMonitor => 2,
    }
}

fn lb_children(lb: &LoadBalancer, out: &mut Vec<(ObjectKind, String)>) {
    for l in lb.listeners.iter().flatten() {
        listener_children(l, out);
    }
    for p in lb.pools.iter().flatten() {
        out.push((ObjectKind::Pool, p.pool_id.clone()));
        pool_children(p, out);
    }
}

fn listener_children(l: &Listener, out: &mut Vec<(ObjectKind, String)>) {
    out.push((ObjectKind::Listener, l.listener_id.clone()));
    if let Some(p) = &l.default_pool {
        out.push((ObjectKind::Pool, p.pool_id.clone()));
        pool_children(p, out);
    }
}

fn pool_children(p: &Pool, out: &mut Vec<(ObjectKind, String)>) {
    let members: &[Member] = p.members.as_deref().unwrap_or_default();
    out.extend(
        members
            .iter()
            .map(|m| (ObjectKind::Member, m.member_id.clone())),
    );
    if let Some(HealthMonitor {
        healthmonitor_id, ..
    }) = &p.healthmonitor
    {
        out.push((ObjectKind::HealthMonitor, healthmonitor_id.clone()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Cleared, HealthMonitor, Listener, LoadBalancer, Member, Pool};

    fn lb(id: &str) -> LoadBalancer {
        LoadBalancer {
            loadbalancer_id: id.into(),
            ..Default::default()
        }
    }
    fn listener(id: &str) -> Listener {
        Listener {
            listener_id: id.into(),
            loadbalancer_id: Some("lb".into()),
            ..Default::default()
        }
    }
    fn pool(id: &str) -> Pool {
        Pool {
            pool_id: id.into(),
            loadbalancer_id: Some("lb".into()),
            ..Default::default()
        }
    }
    fn member(id: &str) -> Member {
        Member {
            member_id: id.into(),
            pool_id: Some("p".into()),
            ..Default::default()
        }
    }
    fn hm(id: &str) -> HealthMonitor {
        HealthMonitor {
            healthmonitor_id: id.into(),
            pool_id: Some("p".into()),
            ..Default::default()
        }
    }

    /// Lineage of an object under pool `p`, served by listener `l`, on `lb`.
    fn under_pool() -> Lineage {
        Lineage {
            loadbalancer_id: "lb".into(),
            listener_ids: vec!["l".into()],
            pool_id: Some("p".into()),
            removed: vec![],
        }
    }
    fn under_lb() -> Lineage {
        Lineage {
            loadbalancer_id: "lb".into(),
            ..Default::default()
        }
    }
    fn pool_lineage() -> Lineage {
        Lineage {
            pool_id: None,
            ..under_pool()
        }
    }

    /// Compact expected form: "collection/id=PROV[/OPER]".
    fn render(records: &[StatusRecord]) -> Vec<String> {
        records
            .iter()
            .map(|r| {
                let mut s = format!(
                    "{}/{}={}",
                    r.collection,
                    r.id,
                    r.provisioning_status.as_deref().unwrap_or("-")
                );
                if let Some(o) = &r.operating_status {
                    s.push('/');
                    s.push_str(o);
                }
                s
            })
            .collect()
    }

    const PARENTS_OF_POOL_CHILD: [&str; 3] = [
        "pools/p=ACTIVE",
        "listeners/l=ACTIVE",
        "loadbalancers/lb=ACTIVE",
    ];

    fn with(object: &str, parents: &[&str]) -> Vec<String> {
        std::iter::once(object)
            .chain(parents.iter().copied())
            .map(str::to_string)
            .collect()
    }

    /// One row of the table: an event with its lineage, and the statuses it must
    /// produce when it applied and when it failed.
    struct Case {
        event: Event,
        lineage: Lineage,
        applied: Vec<String>,
        failed: Vec<String>,
    }

    fn case(event: Event, lineage: Lineage, applied: Vec<String>, failed: Vec<String>) -> Case {
        Case {
            event,
            lineage,
            applied,
            failed,
        }
    }

    const LB_PARENT: [&str; 1] = ["loadbalancers/lb=ACTIVE"];
    const PARENTS_OF_POOL: [&str; 2] = ["listeners/l=ACTIVE", "loadbalancers/lb=ACTIVE"];

    fn loadbalancer_cases() -> Vec<Case> {
        let applied = || with("loadbalancers/lb=ACTIVE", &[]);
        let failed = || with("loadbalancers/lb=ERROR", &[]);
        vec![
            case(
                Event::LoadbalancerCreate {
                    loadbalancer: lb("lb"),
                },
                under_lb(),
                applied(),
                failed(),
            ),
            case(
                Event::LoadbalancerUpdate {
                    old: lb("lb"),
                    new: lb("lb"),
                },
                under_lb(),
                applied(),
                failed(),
            ),
            case(
                Event::LoadbalancerFailover {
                    loadbalancer_id: "lb".into(),
                },
                under_lb(),
                applied(),
                failed(),
            ),
            case(
                Event::LoadbalancerDelete {
                    loadbalancer: lb("lb"),
                    cascade: false,
                },
                under_lb(),
                with("loadbalancers/lb=DELETED/OFFLINE", &[]),
                failed(),
            ),
        ]
    }

    fn listener_cases() -> Vec<Case> {
        let failed = || with("listeners/l=ERROR", &LB_PARENT);
        vec![
            case(
                Event::ListenerCreate {
                    listener: listener("l"),
                },
                under_lb(),
                with("listeners/l=ACTIVE", &LB_PARENT),
                failed(),
            ),
            case(
                Event::ListenerUpdate {
                    old: listener("l"),
                    new: listener("l"),
                },
                under_lb(),
                with("listeners/l=ACTIVE", &LB_PARENT),
                failed(),
            ),
            case(
                Event::ListenerDelete {
                    listener: listener("l"),
                },
                under_lb(),
                with("listeners/l=DELETED/OFFLINE", &LB_PARENT),
                failed(),
            ),
        ]
    }

    fn pool_cases() -> Vec<Case> {
        let failed = || with("pools/p=ERROR", &PARENTS_OF_POOL);
        vec![
            case(
                Event::PoolCreate { pool: pool("p") },
                pool_lineage(),
                with("pools/p=ACTIVE", &PARENTS_OF_POOL),
                failed(),
            ),
            case(
                Event::PoolUpdate {
                    old: pool("p"),
                    new: pool("p"),
                },
                pool_lineage(),
                with("pools/p=ACTIVE", &PARENTS_OF_POOL),
                failed(),
            ),
            case(
                Event::PoolDelete { pool: pool("p") },
                pool_lineage(),
                with("pools/p=DELETED/OFFLINE", &PARENTS_OF_POOL),
                failed(),
            ),
        ]
    }

    fn member_cases() -> Vec<Case> {
        let failed = || with("members/m=ERROR", &PARENTS_OF_POOL_CHILD);
        let strings = |v: &[&str]| -> Vec<String> { v.iter().map(|s| s.to_string()).collect() };
        vec![
            case(
                Event::MemberCreate {
                    member: member("m"),
                },
                under_pool(),
                with("members/m=ACTIVE", &PARENTS_OF_POOL_CHILD),
                failed(),
            ),
            case(
                Event::MemberUpdate {
                    old: member("m"),
                    new: member("m"),
                },
                under_pool(),
                with("members/m=ACTIVE", &PARENTS_OF_POOL_CHILD),
                failed(),
            ),
            case(
                Event::MemberDelete {
                    member: member("m"),
                },
                under_pool(),
                with("members/m=DELETED/OFFLINE", &PARENTS_OF_POOL_CHILD),
                failed(),
            ),
            case(
                Event::MemberBatchUpdate {
                    pool_id: "p".into(),
                    members: vec![member("m1"), member("m2")],
                },
                Lineage {
                    removed: vec![(ObjectKind::Member, "m0".into())],
                    ..under_pool()
                },
                strings(&[
                    "members/m1=ACTIVE",
                    "members/m2=ACTIVE",
                    "members/m0=DELETED/OFFLINE",
                    "pools/p=ACTIVE",
                    "listeners/l=ACTIVE",
                    "loadbalancers/lb=ACTIVE",
                ]),
                strings(&[
                    "members/m1=ERROR",
                    "members/m2=ERROR",
                    "members/m0=ERROR",
                    "pools/p=ACTIVE",
                    "listeners/l=ACTIVE",
                    "loadbalancers/lb=ACTIVE",
                ]),
            ),
        ]
    }

    fn monitor_cases() -> Vec<Case> {
        let failed = || with("healthmonitors/h=ERROR", &PARENTS_OF_POOL_CHILD);
        vec![
            case(
                Event::HealthMonitorCreate {
                    healthmonitor: hm("h"),
                },
                under_pool(),
                with("healthmonitors/h=ACTIVE/ONLINE", &PARENTS_OF_POOL_CHILD),
                failed(),
            ),
            case(
                Event::HealthMonitorUpdate {
                    old: hm("h"),
                    new: hm("h"),
                },
                under_pool(),
                with("healthmonitors/h=ACTIVE/ONLINE", &PARENTS_OF_POOL_CHILD),
                failed(),
            ),
            case(
                Event::HealthMonitorDelete {
                    healthmonitor: hm("h"),
                },
                under_pool(),
                with("healthmonitors/h=DELETED/OFFLINE", &PARENTS_OF_POOL_CHILD),
                failed(),
            ),
        ]
    }

    /// The table's rows: the event's object ends applied or failed, every parent
    /// ends ACTIVE, and nothing is left in a PENDING_* status.
    fn check(cases: &[Case]) {
        for c in cases {
            let method = c.event.method();
            let applied = provisioning_statuses(&c.event, &c.lineage, Outcome::Applied);
            assert_eq!(render(&applied), c.applied, "{method} applied");
            let failed = provisioning_statuses(&c.event, &c.lineage, Outcome::Failed("boom"));
            assert_eq!(render(&failed), c.failed, "{method} failed");
            assert!(failed.iter().chain(applied.iter()).all(|r| r
                .provisioning_status
                .as_deref()
                .is_some_and(|p| ["ACTIVE", "DELETED", "ERROR"].contains(&p))));
        }
    }

    #[test]
    fn every_method_has_a_case() {
        let cases = [
            loadbalancer_cases(),
            listener_cases(),
            pool_cases(),
            member_cases(),
            monitor_cases(),
        ];
        let mut methods: Vec<&str> = cases.iter().flatten().map(|c| c.event.method()).collect();
        methods.sort_unstable();
        let mut all = crate::model::EVENT_METHODS.to_vec();
        all.sort_unstable();
        assert_eq!(methods, all, "one case per event method");
    }

    #[test]
    fn every_loadbalancer_method_ends_every_locked_object() {
        check(&loadbalancer_cases());
    }

    #[test]
    fn every_listener_method_ends_every_locked_object() {
        check(&listener_cases());
    }

    #[test]
    fn every_pool_method_ends_every_locked_object() {
        check(&pool_cases());
    }

    #[test]
    fn every_member_method_ends_every_locked_object() {
        check(&member_cases());
    }

    #[test]
    fn every_monitor_method_ends_every_locked_object() {
        check(&monitor_cases());
    }

    /// Octavia's amphora driver marks a monitor ONLINE when enabled and
    /// OFFLINE when disabled (MarkHealthMonitorActiveInDB); an update that
    /// leaves `admin_state_up` out keeps the old value.
    #[test]
    fn health_monitor_operating_status_follows_admin_state_up() {
        let with_admin = |up: Option<bool>| HealthMonitor {
            admin_state_up: up,
            ..hm("h")
        };
        let monitor = |event: &Event| {
            render(&provisioning_statuses(
                event,
                &under_pool(),
                Outcome::Applied,
            ))
            .into_iter()
            .find(|r| r.starts_with("healthmonitors/"))
            .unwrap_or_default()
        };
        let create = |up| Event::HealthMonitorCreate {
            healthmonitor: with_admin(up),
        };
        assert_eq!(
            monitor(&create(Some(true))),
            "healthmonitors/h=ACTIVE/ONLINE"
        );
        assert_eq!(
            monitor(&create(Some(false))),
            "healthmonitors/h=ACTIVE/OFFLINE"
        );
        assert_eq!(monitor(&create(None)), "healthmonitors/h=ACTIVE/ONLINE");
        let update = |old, new| Event::HealthMonitorUpdate {
            old: with_admin(old),
            new: with_admin(new),
        };
        let cases = [
            (Some(true), Some(false), "OFFLINE"),
            (Some(false), Some(true), "ONLINE"),
            (Some(false), None, "OFFLINE"),
            (Some(true), None, "ONLINE"),
        ];
        for (old, new, oper) in cases {
            let want = format!("healthmonitors/h=ACTIVE/{oper}");
            assert_eq!(monitor(&update(old, new)), want, "{old:?} -> {new:?}");
        }
        let mut cleared = with_admin(None);
        cleared.cleared = Cleared(vec!["admin_state_up".into()]);
        let reset = Event::HealthMonitorUpdate {
            old: with_admin(Some(false)),
            new: cleared,
        };
        assert_eq!(monitor(&reset), "healthmonitors/h=ACTIVE/ONLINE");
        let failed =
            provisioning_statuses(&create(Some(true)), &under_pool(), Outcome::Failed("x"));
        assert_eq!(render(&failed)[0], "healthmonitors/h=ERROR");
    }

    #[test]
    fn cascade_delete_reports_every_child_leaves_first() {
        let mut p1 = pool("p1");
        p1.members = Some(vec![member("m1")]);
        p1.healthmonitor = Some(hm("h1"));
        let mut l1 = listener("l1");
        let mut p2 = pool("p2");
        p2.members = Some(vec![member("m2")]);
        l1.default_pool = Some(p2);
        let mut root = lb("lb");
        root.listeners = Some(vec![l1]);
        root.pools = Some(vec![p1]);
        let event = Event::LoadbalancerDelete {
            loadbalancer: root,
            cascade: true,
        };
        // The store also knows a member the event's dict did not carry, and
        // repeats one it did: reported once.
        let lineage = Lineage {
            removed: vec![
                (ObjectKind::Member, "m3".into()),
                (ObjectKind::Member, "m1".into()),
                (ObjectKind::Pool, "p1".into()),
            ],
            ..under_lb()
        };
        let got = render(&provisioning_statuses(&event, &lineage, Outcome::Applied));
        assert_eq!(
            got,
            [
                "members/m2=DELETED/OFFLINE",
                "members/m1=DELETED/OFFLINE",
                "healthmonitors/h1=DELETED/OFFLINE",
                "members/m3=DELETED/OFFLINE",
                "listeners/l1=DELETED/OFFLINE",
                "pools/p2=DELETED/OFFLINE",
                "pools/p1=DELETED/OFFLINE",
                "loadbalancers/lb=DELETED/OFFLINE",
            ]
        );
        // A failed cascade touches only the load balancer Octavia locked.
        let failed = provisioning_statuses(&event, &lineage, Outcome::Failed("x"));
        assert_eq!(render(&failed), ["loadbalancers/lb=ERROR"]);
    }

    /// Octavia locks every object of a single-call create: each ends ACTIVE (the
    /// monitor also ONLINE), or ERROR when the create failed.
    #[test]
    fn graph_create_ends_every_nested_object() {
        let mut p = pool("p");
        p.members = Some(vec![member("m1")]);
        p.healthmonitor = Some(hm("h"));
        let mut l = listener("l");
        l.default_pool = Some(p.clone());
        let mut root = lb("lb");
        root.listeners = Some(vec![l]);
        root.pools = Some(vec![p]);
        let event = Event::LoadbalancerCreate { loadbalancer: root };
        let got = render(&provisioning_statuses(
            &event,
            &under_lb(),
            Outcome::Applied,
        ));
        assert_eq!(
            got,
            [
                "healthmonitors/h=ACTIVE/ONLINE",
                "members/m1=ACTIVE",
                "pools/p=ACTIVE",
                "listeners/l=ACTIVE",
                "loadbalancers/lb=ACTIVE",
            ]
        );
        let failed = render(&provisioning_statuses(
            &event,
            &under_lb(),
            Outcome::Failed("x"),
        ));
        assert_eq!(
            failed,
            [
                "healthmonitors/h=ERROR",
                "members/m1=ERROR",
                "pools/p=ERROR",
                "listeners/l=ERROR",
                "loadbalancers/lb=ERROR",
            ]
        );
    }

    #[test]
    fn pool_delete_takes_members_and_monitor_along() {
        let mut p = pool("p");
        p.members = Some(vec![member("m1")]);
        p.healthmonitor = Some(hm("h"));
        let lineage = Lineage {
            removed: vec![(ObjectKind::Member, "m2".into())],
            ..pool_lineage()
        };
        let got = provisioning_statuses(&Event::PoolDelete { pool: p }, &lineage, Outcome::Applied);
        assert_eq!(
            render(&got),
            [
                "members/m1=DELETED/OFFLINE",
                "healthmonitors/h=DELETED/OFFLINE",
                "members/m2=DELETED/OFFLINE",
                "pools/p=DELETED/OFFLINE",
                "listeners/l=ACTIVE",
                "loadbalancers/lb=ACTIVE",
            ]
        );
    }

    #[test]
    fn unknown_parents_are_skipped_not_sent_empty() {
        let lineage = Lineage {
            pool_id: Some("p".into()),
            ..Default::default()
        };
        let got = provisioning_statuses(
            &Event::MemberDelete {
                member: member("m"),
            },
            &lineage,
            Outcome::Applied,
        );
        assert_eq!(
            render(&got),
            ["members/m=DELETED/OFFLINE", "pools/p=ACTIVE"]
        );
    }

    #[test]
    fn deleted_records_cover_store_removals() {
        let got = deleted_records(&[
            (ObjectKind::Listener, "l".into()),
            (ObjectKind::Listener, "l".into()),
            (ObjectKind::Loadbalancer, "lb".into()),
        ]);
        assert_eq!(
            render(&got),
            [
                "listeners/l=DELETED/OFFLINE",
                "loadbalancers/lb=DELETED/OFFLINE"
            ]
        );
    }
}

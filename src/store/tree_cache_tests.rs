//! The tree cache against a model of the database: a table of rows and the join the
//! store's tree query makes.

use std::collections::BTreeMap;

use super::*;

/// The database as the cache must mirror it: (table, id) → (parent, body).
#[derive(Default)]
struct Model {
    rows: BTreeMap<(u8, String), (Table, String, String)>,
}

impl Model {
    fn put(&mut self, table: Table, id: &str, parent: Option<&str>, body: &str) {
        let parent = parent.unwrap_or(id).to_string();
        self.rows.insert(
            (rank(table), id.to_string()),
            (table, parent, body.to_string()),
        );
    }

    fn delete(&mut self, table: Table, id: &str) {
        self.rows.remove(&(rank(table), id.to_string()));
    }

    fn delete_tree(&mut self, lb: &str) {
        let tree: Vec<_> = self.tree(lb).into_iter().map(|r| (r.table, r.id)).collect();
        for (t, id) in tree {
            self.delete(t, &id);
        }
    }

    /// The store's tree query: the load balancer, its listeners and pools, and the
    /// members and monitors of those pools.
    fn tree(&self, lb: &str) -> Vec<TreeRow> {
        let pools: Vec<&String> = self
            .rows
            .iter()
            .filter(|((r, _), (_, p, _))| *r == 2 && p == lb)
            .map(|((_, id), _)| id)
            .collect();
        let mut out: Vec<TreeRow> = self
            .rows
            .iter()
            .filter(|((r, id), (_, p, _))| match r {
                0 => id == lb,
                1 | 2 => p == lb,
                _ => pools.contains(&p),
            })
            .map(|((_, id), (t, p, b))| TreeRow {
                table: *t,
                id: id.clone(),
                parent: p.clone(),
                body: b.clone(),
            })
            .collect();
        if out.first().map(|r| r.table) != Some(Table::Loadbalancers) {
            out.clear();
        }
        out
    }

    fn bodies(&self, lb: &str) -> Option<LbBodies> {
        let rows = self.tree(lb);
        if rows.is_empty() {
            return None;
        }
        bodies_of(rows.iter().map(|r| (r.table, r.body.as_str()))).ok()?
    }
}

const TERM: Option<i64> = Some(7);

/// A read of `lb` through the cache: kept copy, or the model and a fill.
fn read(c: &TreeCache, m: &Model, lb: &str) -> Option<LbBodies> {
    if let Some(kept) = c.bodies(TERM, lb) {
        return kept.ok()?;
    }
    let fill = c.begin_fill(TERM);
    let rows = m.tree(lb);
    if let Some(fill) = fill {
        if !rows.is_empty() {
            fill.finish(lb, &rows);
        }
    }
    m.bodies(lb)
}

fn put(c: &TreeCache, m: &mut Model, table: Table, id: &str, parent: Option<&str>, body: &str) {
    let op = Op::Put { table, id, parent };
    let w = c.begin_write(TERM, op);
    m.put(table, id, parent, body);
    w.finish(op, Some(body));
}

fn delete(c: &TreeCache, m: &mut Model, table: Table, id: &str) {
    let op = Op::Delete { table, id };
    let w = c.begin_write(TERM, op);
    m.delete(table, id);
    w.finish(op, Some(""));
}

fn base(c: &TreeCache, m: &mut Model) {
    put(c, m, Table::Loadbalancers, "lb", None, r#"{"lb":1}"#);
    put(c, m, Table::Listeners, "l1", Some("lb"), r#"{"l":1}"#);
    put(c, m, Table::Pools, "p1", Some("lb"), r#"{"p":1}"#);
    put(c, m, Table::Members, "m1", Some("p1"), r#"{"m":1}"#);
    put(c, m, Table::HealthMonitors, "h1", Some("p1"), r#"{"h":1}"#);
}

fn kept(c: &TreeCache, lb: &str) -> bool {
    c.lock().trees.contains_key(lb)
}

/// What the cache answers for `parent`'s children (when it answers) is the database's.
fn check_children(c: &TreeCache, m: &Model, table: Table, parent: &str, step: usize) {
    let Some(kept) = c.children(TERM, table, parent) else {
        return;
    };
    let stored: Vec<(String, String)> = m
        .rows
        .iter()
        .filter(|((r, _), (_, p, _))| *r == rank(table) && p == parent)
        .map(|((_, id), (_, _, b))| (id.clone(), b.clone()))
        .collect();
    assert_eq!(kept, stored, "step {step}: {table:?} of {parent}");
}

#[test]
fn random_writes_keep_every_kept_tree_equal_to_the_database() {
    let c = TreeCache::default();
    let mut m = Model::default();
    let lbs = ["a", "b", "c"];
    let pools = ["p1", "p2", "p3", "p4"];
    let members = ["m1", "m2", "m3", "m4", "m5"];
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        usize::try_from(state % n as u64).unwrap_or(0)
    };
    for step in 0..20_000 {
        let body = format!("{{\"v\":{step}}}");
        let lb = lbs[next(3)];
        match next(10) {
            0 => put(&c, &mut m, Table::Loadbalancers, lb, None, &body),
            1 => put(&c, &mut m, Table::Pools, pools[next(4)], Some(lb), &body),
            2 => put(&c, &mut m, Table::Listeners, "l1", Some(lb), &body),
            3 | 4 => {
                let (id, p) = (members[next(5)], pools[next(4)]);
                put(&c, &mut m, Table::Members, id, Some(p), &body)
            }
            5 => put(
                &c,
                &mut m,
                Table::HealthMonitors,
                "h1",
                Some(pools[next(4)]),
                &body,
            ),
            6 => delete(&c, &mut m, Table::Members, members[next(5)]),
            7 => delete(&c, &mut m, Table::Pools, pools[next(4)]),
            8 => {
                let op = Op::DeleteTree { lb };
                let w = c.begin_write(TERM, op);
                m.delete_tree(lb);
                w.finish(op, Some(""));
            }
            _ => delete(&c, &mut m, Table::Listeners, "l1"),
        }
        for lb in lbs {
            assert_eq!(read(&c, &m, lb), m.bodies(lb), "step {step}, {lb}");
            check_children(&c, &m, Table::Pools, lb, step);
            check_children(&c, &m, Table::Listeners, lb, step);
        }
        for p in pools {
            check_children(&c, &m, Table::Members, p, step);
            check_children(&c, &m, Table::HealthMonitors, p, step);
        }
        for id in members {
            let kept = c.object_with_parent(TERM, Table::Members, id);
            if let Some((body, parent)) = kept {
                let stored = m.rows.get(&(3, id.to_string()));
                assert_eq!(stored.map(|(_, p, b)| (b, p)), Some((&body, &parent)));
            }
        }
    }
}

#[test]
fn a_fill_that_a_write_of_its_tree_overlapped_is_not_kept() {
    let c = TreeCache::default();
    let mut m = Model::default();
    base(&c, &mut m);
    let fill = c.begin_fill(TERM).expect("caching on");
    let before = m.tree("lb");
    put(&c, &mut m, Table::Members, "m1", Some("p1"), r#"{"m":2}"#);
    fill.finish("lb", &before);
    assert!(!kept(&c, "lb"));
    assert_eq!(read(&c, &m, "lb"), m.bodies("lb"));
    assert!(kept(&c, "lb"));
    // A new member of a pool of the tree is a write of the tree too.
    c.lock().clear();
    let fill = c.begin_fill(TERM).expect("caching on");
    let before = m.tree("lb");
    put(&c, &mut m, Table::Members, "m9", Some("p1"), r#"{"m":9}"#);
    fill.finish("lb", &before);
    assert!(!kept(&c, "lb"));
}

#[test]
fn a_fill_overlapped_by_a_write_elsewhere_is_kept() {
    let c = TreeCache::default();
    let mut m = Model::default();
    base(&c, &mut m);
    put(&c, &mut m, Table::Loadbalancers, "other", None, "{}");
    let fill = c.begin_fill(TERM).expect("caching on");
    let rows = m.tree("lb");
    put(
        &c,
        &mut m,
        Table::Loadbalancers,
        "other",
        None,
        r#"{"x":1}"#,
    );
    fill.finish("lb", &rows);
    assert!(kept(&c, "lb"));
}

#[test]
fn overlapping_writes_to_one_tree_drop_it() {
    let c = TreeCache::default();
    let mut m = Model::default();
    base(&c, &mut m);
    read(&c, &m, "lb");
    let op1 = Op::Put {
        table: Table::Members,
        id: "m1",
        parent: Some("p1"),
    };
    let w1 = c.begin_write(TERM, op1);
    let w2 = c.begin_write(TERM, op1);
    // The database applied them as 2 then 1; the cache hears of them as 1 then 2.
    m.put(Table::Members, "m1", Some("p1"), r#"{"m":1}"#);
    w2.finish(op1, Some(r#"{"m":2}"#));
    w1.finish(op1, Some(r#"{"m":1}"#));
    assert!(!kept(&c, "lb"));
    assert_eq!(read(&c, &m, "lb"), m.bodies("lb"));
}

#[test]
fn a_failed_or_abandoned_write_turns_caching_off_for_the_term() {
    for abandon in [false, true] {
        let c = TreeCache::default();
        let mut m = Model::default();
        base(&c, &mut m);
        read(&c, &m, "lb");
        let op = Op::Delete {
            table: Table::Members,
            id: "m1",
        };
        let w = c.begin_write(TERM, op);
        if abandon {
            drop(w);
        } else {
            w.finish(op, None);
        }
        assert!(c.bodies(TERM, "lb").is_none());
        assert!(c.begin_fill(TERM).is_none(), "no fill in the same term");
        // The database applied it after all: the next reads must see that.
        m.delete(Table::Members, "m1");
        assert_eq!(read(&c, &m, "lb"), m.bodies("lb"));
        assert!(c.begin_fill(Some(8)).is_some(), "a new term starts afresh");
    }
}

#[test]
fn another_term_or_none_drops_every_tree() {
    let c = TreeCache::default();
    let mut m = Model::default();
    base(&c, &mut m);
    read(&c, &m, "lb");
    assert!(c.bodies(TERM, "lb").is_some());
    assert!(c.bodies(None, "lb").is_none());
    assert!(
        c.bodies(TERM, "lb").is_none(),
        "a follower's gap dropped it"
    );
    read(&c, &m, "lb");
    assert!(c.bodies(Some(8), "lb").is_none());
    assert!(c.begin_fill(None).is_none());
    // A write that began in one term and ends in another keeps nothing.
    read(&c, &m, "lb");
    let op = Op::Put {
        table: Table::Members,
        id: "m1",
        parent: Some("p1"),
    };
    let w = c.begin_write(TERM, op);
    let _ = c.bodies(Some(9), "lb");
    w.finish(op, Some("{}"));
    assert!(c.lock().trees.is_empty());
}

#[test]
fn a_new_pool_drops_its_tree_because_it_may_adopt_stored_members() {
    let c = TreeCache::default();
    let mut m = Model::default();
    base(&c, &mut m);
    put(
        &c,
        &mut m,
        Table::Members,
        "early",
        Some("p2"),
        r#"{"early":1}"#,
    );
    read(&c, &m, "lb");
    put(&c, &mut m, Table::Pools, "p2", Some("lb"), r#"{"p":2}"#);
    let tree = read(&c, &m, "lb").expect("stored");
    assert_eq!(tree.members.len(), 2);
    assert_eq!(tree, m.bodies("lb").expect("stored"));
}

#[test]
fn kept_text_stays_within_the_budget() {
    let c = TreeCache::default();
    let mut m = Model::default();
    let big = format!("\"{}\"", "x".repeat(BUDGET / 3));
    for lb in ["a", "b", "c", "d"] {
        put(&c, &mut m, Table::Loadbalancers, lb, None, &big);
        assert_eq!(read(&c, &m, lb), m.bodies(lb));
    }
    let inner = c.lock();
    assert!(inner.bytes <= BUDGET && !inner.trees.is_empty());
    let sum: usize = inner.trees.values().map(|t| t.bytes).sum();
    assert_eq!(sum, inner.bytes);
}

//! The desired-tree cache through `Store`, on both backends: a term must not trust
//! a copy from another term, and the leader's own writes show at once.

use std::time::Duration;

use serde_json::json;

use crate::store::contract::{mysql_store, ok};
use crate::store::lease_mysql::{try_acquire, LEADER_LEASE};
use crate::store::{Store, Table};

async fn put_tree(s: &Store, weight: u64) {
    ok(
        s.put_object(Table::Loadbalancers, "lb", None, &json!({"id": "lb"}))
            .await,
    );
    ok(
        s.put_object(Table::Pools, "p", Some("lb"), &json!({"id": "p"}))
            .await,
    );
    ok(
        s.put_object(Table::Members, "m", Some("p"), &json!({"w": weight}))
            .await,
    );
}

fn weight(tree: Option<crate::store::LbBodies>) -> Option<u64> {
    tree?.members.first()?.get("w")?.as_u64()
}

#[tokio::test]
async fn the_leaders_own_writes_show_in_its_next_reads() {
    let (s, _d) = crate::store::test_store().await;
    put_tree(&s, 1).await;
    assert_eq!(weight(ok(s.lb_bodies("lb").await)), Some(1));
    ok(
        s.put_object(Table::Members, "m", Some("p"), &json!({"w": 2}))
            .await,
    );
    assert_eq!(weight(ok(s.lb_bodies("lb").await)), Some(2));
    assert_eq!(
        ok(s.get_object(Table::Members, "m").await),
        Some(json!({"w": 2}))
    );
    assert!(ok(s.delete_object(Table::Members, "m").await));
    assert_eq!(
        ok(s.lb_bodies("lb").await).map(|t| t.members.len()),
        Some(0)
    );
    assert_eq!(ok(s.get_object(Table::Members, "m").await), None);
    ok(s.delete_loadbalancer_tree("lb").await);
    assert_eq!(ok(s.lb_bodies("lb").await), None);
}

/// Two instances lead one after the other; the first must not serve the tree it
/// kept in its earlier term once it leads again, nor any while it does not lead.
#[tokio::test]
async fn a_new_term_reads_what_the_leader_in_between_wrote() {
    let plain = ok(mysql_store("tree_cache_terms").await);
    let pool = plain.pool().clone();
    let (fence_a, fence_b) = (
        crate::fence::Fence::cluster(),
        crate::fence::Fence::cluster(),
    );
    let a = Store::from(plain.clone().with_fence("ctl-a", fence_a.clone()));
    let b = Store::from(plain.with_fence("ctl-b", fence_b.clone()));
    let lead = |fence: &crate::fence::Fence, epoch: u64| {
        let until = tokio::time::Instant::now() + Duration::from_secs(60);
        fence.open_until(i64::try_from(epoch).unwrap_or(0), until);
    };
    let ttl = Duration::from_millis(300);
    let won = ok(try_acquire(&pool, LEADER_LEASE, "ctl-a", ttl).await);
    lead(&fence_a, won.row.map_or(0, |r| r.epoch));
    put_tree(&a, 1).await;
    assert_eq!(weight(ok(a.lb_bodies("lb").await)), Some(1));

    // ctl-b leads next and changes the member; ctl-a never saw its fence close.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let won = ok(try_acquire(&pool, LEADER_LEASE, "ctl-b", ttl).await);
    assert!(won.won);
    lead(&fence_b, won.row.map_or(0, |r| r.epoch));
    ok(
        b.put_object(Table::Members, "m", Some("p"), &json!({"w": 2}))
            .await,
    );
    fence_b.close();

    // While ctl-a does not lead it reads the database.
    fence_a.close();
    assert_eq!(weight(ok(a.lb_bodies("lb").await)), Some(2));
    // ctl-a leads again under a new epoch: what it kept before is gone.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let won = ok(try_acquire(&pool, LEADER_LEASE, "ctl-a", ttl).await);
    assert!(won.won);
    lead(&fence_a, won.row.map_or(0, |r| r.epoch));
    assert_eq!(weight(ok(a.lb_bodies("lb").await)), Some(2));
    assert_eq!(
        ok(a.get_object(Table::Members, "m").await),
        Some(json!({"w": 2}))
    );
}

/// The same without a visible gap: the fence moves straight to a later epoch.
#[tokio::test]
async fn a_copy_from_an_earlier_epoch_is_never_served() {
    let plain = ok(mysql_store("tree_cache_epochs").await);
    let fence = crate::fence::Fence::cluster();
    let a = Store::from(plain.clone().with_fence("ctl-a", fence.clone()));
    let pool = plain.pool().clone();
    let ttl = Duration::from_secs(30);
    let won = ok(try_acquire(&pool, LEADER_LEASE, "ctl-a", ttl).await);
    let epoch = won.row.map_or(0, |r| r.epoch);
    let until = tokio::time::Instant::now() + Duration::from_secs(60);
    fence.open_until(i64::try_from(epoch).unwrap_or(0), until);
    put_tree(&a, 1).await;
    assert_eq!(weight(ok(a.lb_bodies("lb").await)), Some(1));
    // Another writer (as a leader of a later epoch would) changes the member.
    ok(plain
        .put_object(Table::Members, "m", Some("p"), &json!({"w": 3}))
        .await);
    assert_eq!(
        weight(ok(a.lb_bodies("lb").await)),
        Some(1),
        "the copy serves within its own term"
    );
    fence.open_until(i64::try_from(epoch + 1).unwrap_or(0), until);
    assert_eq!(weight(ok(a.lb_bodies("lb").await)), Some(3));
}

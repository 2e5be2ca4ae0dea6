//! Tests of the recovery queries: dead letters, probe keys, in-flight load balancers.

use crate::store::test_store;

#[tokio::test]
async fn dead_letters_leave_the_due_list_and_a_new_miss_revives_them() {
    let (s, _d) = test_store().await;
    s.mark_backlog("n1", "lb", "down").await.unwrap();
    s.mark_backlog("n1", "lb2", "down").await.unwrap();
    s.dead_letter_backlog("n1", "lb", "400 refused")
        .await
        .unwrap();
    let due = s.due_backlog(10).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].loadbalancer_id, "lb2");
    let dead = s.dead_letters().await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(
        (dead[0].node.as_str(), dead[0].loadbalancer_id.as_str()),
        ("n1", "lb")
    );
    assert_eq!(dead[0].reason, "400 refused");
    assert!(dead[0].dead_at >= dead[0].since);

    s.mark_backlog("n1", "lb", "missed again").await.unwrap();
    assert!(s.dead_letters().await.unwrap().is_empty());
    let due = s.due_backlog(10).await.unwrap();
    assert_eq!(due.len(), 2);
    assert!(due.iter().all(|e| e.attempts == 0));
    s.clear_backlog("n1", "lb").await.unwrap();
    assert_eq!(s.due_backlog(10).await.unwrap().len(), 1);
}

#[tokio::test]
async fn in_flight_lbs_come_from_unfinished_lb_keys() {
    let (s, _d) = test_store().await;
    let (lbs, max) = s.lbs_in_flight().await.unwrap();
    assert!(lbs.is_empty());
    assert_eq!(max, 0);
    assert!(!s.lb_has_events_after("x", 0).await.unwrap());
}

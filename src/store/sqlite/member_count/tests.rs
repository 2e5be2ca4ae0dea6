//! The count as the journal sees it: desired members plus unfinished events' changes.

use super::*;
use crate::store::{test_store, AcceptExtras, EventState, KeyHint, Store, Table};
use crate::test_support::{ok, TestResult};

fn put(id: &str, weight: u16) -> MemberChange {
    MemberChange::Put {
        member_id: id.into(),
        admin_state_up: true,
        weight,
    }
}

fn one(change: MemberChange, limit: Limit) -> AcceptExtras {
    AcceptExtras {
        members: vec![PoolChanges {
            pool_id: "p1".into(),
            changes: vec![change],
            limit,
            max_serving: 3,
            field: "member".into(),
        }],
        flavor: None,
    }
}

async fn accept(s: &Store, extras: AcceptExtras) -> Result<i64, TooManyMembers> {
    ok(s.accept_event_checked(
        "member_create",
        "{}",
        ("member", "m"),
        &KeyHint::Pool("p1".into()),
        None,
        extras,
    )
    .await)
    .map(|a| a.id)
}

#[tokio::test]
async fn pending_and_applied_members_count_once_and_refusals_store_nothing() -> TestResult {
    let (s, _d) = test_store().await;
    // m1 is applied (desired state) but its event is not marked done yet.
    let e1 = accept(&s, one(put("m1", 1), Limit::Growth)).await;
    let body = serde_json::json!({"member_id": "m1", "weight": 1});
    s.put_object(Table::Members, "m1", Some("p1"), &body)
        .await?;
    assert!(accept(&s, one(put("m2", 1), Limit::Growth)).await.is_ok());
    assert!(accept(&s, one(put("m3", 0), Limit::Growth)).await.is_ok());
    assert!(accept(&s, one(put("m4", 1), Limit::Growth)).await.is_ok());
    let before = s.event_count().await.unwrap_or_default();
    let refused = accept(&s, one(put("m5", 1), Limit::Growth)).await;
    assert_eq!(
        refused.err().map(|r| (r.pool_id, r.serving)),
        Some(("p1".into(), 4))
    );
    assert_eq!(s.event_count().await.unwrap_or_default(), before);
    // Un-draining m3 would be the fourth; draining m2 makes room.
    let undrain = MemberChange::Update {
        member_id: "m3".into(),
        admin_state_up: None,
        weight: Some(2),
        base: (true, 0),
    };
    assert!(accept(&s, one(undrain.clone(), Limit::Growth))
        .await
        .is_err());
    let drain = MemberChange::Update {
        member_id: "m2".into(),
        admin_state_up: None,
        weight: Some(0),
        base: (true, 1),
    };
    assert!(accept(&s, one(drain, Limit::Growth)).await.is_ok());
    assert!(accept(&s, one(undrain, Limit::Growth)).await.is_ok());
    // m1's event finishing done leaves it counted once, through the desired state.
    if let Ok(id) = e1 {
        s.finish_event(id, EventState::Done, None).await?;
    }
    assert!(accept(&s, one(put("m6", 1), Limit::Growth)).await.is_err());
    let remove = MemberChange::Remove {
        member_id: "m1".into(),
    };
    assert!(accept(&s, one(remove, Limit::Growth)).await.is_ok());
    assert!(accept(&s, one(put("m6", 1), Limit::Growth)).await.is_ok());
    Ok(())
}

#[tokio::test]
async fn a_failed_event_no_longer_counts_and_whole_sets_are_checked_whole() -> TestResult {
    let (s, _d) = test_store().await;
    let mut ids = Vec::new();
    for m in ["m1", "m2", "m3"] {
        ids.push(accept(&s, one(put(m, 1), Limit::Growth)).await);
    }
    assert!(accept(&s, one(put("m4", 1), Limit::Growth)).await.is_err());
    if let Some(Ok(id)) = ids.first() {
        s.finish_event(*id, EventState::Failed, Some("refused"))
            .await?;
    }
    assert!(accept(&s, one(put("m4", 1), Limit::Growth)).await.is_ok());
    // A batch of four is refused even though it removes members too.
    let mut batch = one(MemberChange::Clear, Limit::Whole);
    for m in ["a", "b", "c", "d"] {
        batch.members[0].changes.push(put(m, 1));
    }
    assert_eq!(accept(&s, batch).await.err().map(|r| r.serving), Some(4));
    Ok(())
}

#[tokio::test]
async fn concurrent_acceptances_never_pass_the_limit() -> TestResult {
    let (s, _d) = test_store().await;
    let tasks: Vec<_> = (0..12)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(
                async move { accept(&s, one(put(&format!("m{i}"), 1), Limit::Growth)).await },
            )
        })
        .collect();
    let mut accepted = 0;
    for t in tasks {
        if matches!(t.await, Ok(Ok(_))) {
            accepted += 1;
        }
    }
    assert_eq!(accepted, 3);
    assert_eq!(s.event_count().await.unwrap_or_default(), 3);
    Ok(())
}

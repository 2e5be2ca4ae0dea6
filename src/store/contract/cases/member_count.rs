// Contract cases: counting a pool's serving members at acceptance.

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

async fn accept_member(s: &S, extras: AcceptExtras) -> Result<i64, TooManyMembers> {
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
async fn pending_and_applied_members_count_once_and_refusals_store_nothing() {
    let (s, _d) = fixture("members_once").await;
    // m1 is applied (desired state) but its event is not marked done yet.
    let e1 = accept_member(&s, one(put("m1", 1), Limit::Growth)).await;
    let body = json!({"member_id": "m1", "weight": 1});
    ok(s.put_object(Table::Members, "m1", Some("p1"), &body).await);
    assert!(accept_member(&s, one(put("m2", 1), Limit::Growth))
        .await
        .is_ok());
    assert!(accept_member(&s, one(put("m3", 0), Limit::Growth))
        .await
        .is_ok());
    assert!(accept_member(&s, one(put("m4", 1), Limit::Growth))
        .await
        .is_ok());
    let before = ok(s.event_count().await);
    let refused = accept_member(&s, one(put("m5", 1), Limit::Growth)).await;
    assert_eq!(
        refused.err().map(|r| (r.pool_id, r.serving, r.field)),
        Some(("p1".into(), 4, "member".into()))
    );
    assert_eq!(ok(s.event_count().await), before);
    // Un-draining m3 would be the fourth; draining m2 makes room.
    let undrain = MemberChange::Update {
        member_id: "m3".into(),
        admin_state_up: None,
        weight: Some(2),
        base: (true, 0),
    };
    assert!(accept_member(&s, one(undrain.clone(), Limit::Growth))
        .await
        .is_err());
    let drain = MemberChange::Update {
        member_id: "m2".into(),
        admin_state_up: None,
        weight: Some(0),
        base: (true, 1),
    };
    assert!(accept_member(&s, one(drain, Limit::Growth)).await.is_ok());
    assert!(accept_member(&s, one(undrain, Limit::Growth)).await.is_ok());
    // m1's event finishing done leaves it counted once, through the desired state.
    ok(s.finish_event(
        e1.unwrap_or_else(|r| panic!("{r:?}")),
        EventState::Done,
        None,
    )
    .await);
    assert!(accept_member(&s, one(put("m6", 1), Limit::Growth))
        .await
        .is_err());
    let remove = MemberChange::Remove {
        member_id: "m1".into(),
    };
    assert!(accept_member(&s, one(remove, Limit::Growth)).await.is_ok());
    assert!(accept_member(&s, one(put("m6", 1), Limit::Growth))
        .await
        .is_ok());
}

#[tokio::test]
async fn a_failed_event_no_longer_counts_and_whole_sets_are_checked_whole() {
    let (s, _d) = fixture("members_failed").await;
    let mut ids = Vec::new();
    for m in ["m1", "m2", "m3"] {
        ids.push(accept_member(&s, one(put(m, 1), Limit::Growth)).await);
    }
    assert!(accept_member(&s, one(put("m4", 1), Limit::Growth))
        .await
        .is_err());
    let first = ids[0].clone().unwrap_or_else(|r| panic!("{r:?}"));
    ok(s.finish_event(first, EventState::Failed, Some("refused"))
        .await);
    assert!(accept_member(&s, one(put("m4", 1), Limit::Growth))
        .await
        .is_ok());
    // A batch of four is refused even though it removes members too.
    let mut batch = one(MemberChange::Clear, Limit::Whole);
    for m in ["a", "b", "c", "d"] {
        batch.members[0].changes.push(put(m, 1));
    }
    assert_eq!(
        accept_member(&s, batch).await.err().map(|r| r.serving),
        Some(4)
    );
    // Clearing the failed event's journal row drops its pending changes too.
    assert!(ok(s.clear_failed(first).await));
}

#[tokio::test]
async fn concurrent_acceptances_never_pass_the_limit() {
    let (s, _d) = fixture("members_concurrent").await;
    let tasks: Vec<_> = (0..12)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move {
                accept_member(&s, one(put(&format!("m{i}"), 1), Limit::Growth)).await
            })
        })
        .collect();
    let mut accepted = 0;
    for t in tasks {
        if matches!(t.await, Ok(Ok(_))) {
            accepted += 1;
        }
    }
    assert_eq!(accepted, 3);
    assert_eq!(ok(s.event_count().await), 3);
}

/// A created load balancer's flavor is noted with its event and read back before the
/// create is applied; its delete forgets it.
#[tokio::test]
async fn flavors_are_noted_at_acceptance() {
    let (s, _d) = fixture("flavors").await;
    let extras = AcceptExtras {
        members: Vec::new(),
        flavor: Some(("lb".into(), Some(r#"{"nat":"fullnat"}"#.into()))),
    };
    let hint = KeyHint::Loadbalancer("lb".into());
    ok(s.accept_event_checked(
        "loadbalancer_create",
        "{}",
        ("loadbalancer", "lb"),
        &hint,
        None,
        extras,
    )
    .await)
    .unwrap_or_else(|r| panic!("{r:?}"));
    let flavor = ok(s.lb_flavor("lb").await).unwrap_or_else(|| panic!("no flavor"));
    assert_eq!(flavor.get("nat"), Some(&json!("fullnat")));
    let gone = AcceptExtras {
        members: Vec::new(),
        flavor: Some(("lb".into(), None)),
    };
    ok(s.accept_event_checked(
        "loadbalancer_delete",
        "{}",
        ("loadbalancer", "lb"),
        &hint,
        None,
        gone,
    )
    .await)
    .unwrap_or_else(|r| panic!("{r:?}"));
    assert_eq!(ok(s.lb_flavor("lb").await), None);
    // Without a noted flavor, the desired load balancer's flavor is used.
    ok(s.put_object(
        Table::Loadbalancers,
        "lb2",
        None,
        &json!({"flavor": {"algo": "rr"}}),
    )
    .await);
    let flavor = ok(s.lb_flavor("lb2").await).unwrap_or_else(|| panic!("no flavor"));
    assert_eq!(flavor.get("algo"), Some(&json!("rr")));
    assert_eq!(ok(s.lb_flavor("unknown").await), None);
}

#[tokio::test]
async fn a_pools_owner_comes_with_its_flavor() {
    let (s, _d) = fixture("owner_flavor").await;
    let accept_pool = |pool: &'static str, lb: &'static str, flavor: Option<&'static str>| {
        let s = s.clone();
        async move {
            let extras = AcceptExtras {
                members: Vec::new(),
                flavor: flavor.map(|f| (lb.to_string(), Some(f.to_string()))),
            };
            let owner = OwnerRef::Loadbalancer(lb.into());
            ok(s.accept_event_checked(
                "pool_create",
                "{}",
                ("pool", pool),
                &KeyHint::Loadbalancer(lb.into()),
                Some(("pool", pool, &owner)),
                extras,
            )
            .await)
            .unwrap_or_else(|r| panic!("{r:?}"));
        }
    };
    accept_pool("p1", "lb", Some(r#"{"nat":"dsr"}"#)).await;
    let (lb, flavor) = ok(s.pool_owner_flavor("p1").await).unwrap_or_else(|| panic!("no owner"));
    assert_eq!(lb, "lb");
    assert_eq!(
        flavor.and_then(|f| f.get("nat").cloned()),
        Some(json!("dsr"))
    );
    // No noted flavor: the desired load balancer's, else none.
    accept_pool("p2", "lb2", None).await;
    assert_eq!(
        ok(s.pool_owner_flavor("p2").await),
        Some(("lb2".to_string(), None))
    );
    ok(s.put_object(
        Table::Loadbalancers,
        "lb2",
        None,
        &json!({"flavor": {"algo": "rr"}}),
    )
    .await);
    let (_, flavor) = ok(s.pool_owner_flavor("p2").await).unwrap_or_else(|| panic!("no owner"));
    assert_eq!(
        flavor.and_then(|f| f.get("algo").cloned()),
        Some(json!("rr"))
    );
    assert_eq!(ok(s.pool_owner_flavor("unknown").await), None);
}

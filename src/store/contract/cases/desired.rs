// Contract cases: desired state.

/// lb with listener l1 and pool p1; p1 with members m2, m1 and monitor h1.
async fn put_tree(s: &S) {
    let rows = [
        (
            Table::Loadbalancers,
            "lb",
            None,
            json!({"loadbalancer_id": "lb"}),
        ),
        (
            Table::Listeners,
            "l1",
            Some("lb"),
            json!({"listener_id": "l1"}),
        ),
        (Table::Pools, "p1", Some("lb"), json!({"pool_id": "p1"})),
        (Table::Members, "m2", Some("p1"), json!({"member_id": "m2"})),
        (Table::Members, "m1", Some("p1"), json!({"member_id": "m1"})),
        (
            Table::HealthMonitors,
            "h1",
            Some("p1"),
            json!({"healthmonitor_id": "h1"}),
        ),
    ];
    for (table, id, parent, body) in rows {
        ok(s.put_object(table, id, parent, &body).await);
    }
}

#[tokio::test]
async fn put_get_children_and_cascade() {
    let (s, _d) = fixture("desired_tree").await;
    put_tree(&s).await;
    let members = ok(s.children(Table::Members, "p1").await);
    assert_eq!(
        members,
        vec![json!({"member_id": "m1"}), json!({"member_id": "m2"})]
    );
    assert!(ok(s.children(Table::Loadbalancers, "lb").await).is_empty());
    // A put replaces the body and the parent.
    ok(s.put_object(
        Table::Members,
        "m2",
        Some("p1"),
        &json!({"member_id": "m2", "weight": 5}),
    )
    .await);
    assert_eq!(
        ok(s.get_object(Table::Members, "m2").await),
        Some(json!({"member_id": "m2", "weight": 5}))
    );
    let tree = ok(s.lb_bodies("lb").await);
    assert_eq!(
        tree,
        Some(LbBodies {
            loadbalancer: json!({"loadbalancer_id": "lb"}),
            listeners: vec![json!({"listener_id": "l1"})],
            pools: vec![json!({"pool_id": "p1"})],
            members: vec![
                json!({"member_id": "m1"}),
                json!({"member_id": "m2", "weight": 5})
            ],
            monitors: vec![json!({"healthmonitor_id": "h1"})],
        })
    );
    assert_eq!(ok(s.lb_bodies("other").await), None);
    assert!(s
        .put_object(Table::Members, "m3", None, &json!({}))
        .await
        .is_err());
    let (lbs, listeners) = ok(s.desired_ids().await);
    assert_eq!((lbs.len(), listeners.len()), (1, 1));
    let removed = ok(s.delete_loadbalancer_tree("lb").await);
    assert_eq!(removed.len(), 6);
    assert!(removed.contains(&(Table::HealthMonitors, "h1".to_string())));
    assert!(removed.contains(&(Table::Loadbalancers, "lb".to_string())));
    assert_eq!(ok(s.get_object(Table::Pools, "p1").await), None);
    assert!(ok(s.all_objects(Table::Members).await).is_empty());
    assert!(ok(s.delete_loadbalancer_tree("lb").await).is_empty());
}

#[tokio::test]
async fn objects_are_listed_by_id_and_deleted_one_by_one() {
    let (s, _d) = fixture("desired_objects").await;
    for id in ["b", "a", "B"] {
        ok(
            s.put_object(Table::Loadbalancers, id, None, &json!({"id": id}))
                .await,
        );
    }
    // Byte order, as SQLite compares text: upper case first.
    let ids: Vec<Value> = ok(s.all_objects(Table::Loadbalancers).await)
        .into_iter()
        .map(|v| v["id"].clone())
        .collect();
    assert_eq!(ids, vec![json!("B"), json!("a"), json!("b")]);
    assert!(ok(s.delete_object(Table::Loadbalancers, "a").await));
    assert!(!ok(s.delete_object(Table::Loadbalancers, "a").await));
    assert_eq!(
        ok(s.get_object(Table::Loadbalancers, "b").await),
        Some(json!({"id": "b"}))
    );
    assert_eq!(
        ok(s.get_object(Table::Loadbalancers, "A").await),
        None,
        "ids are case-sensitive"
    );
}

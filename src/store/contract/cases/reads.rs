// Contract cases: what a sync reads (tree, references, applied rules).

#[tokio::test]
async fn one_read_gives_tree_references_and_applied_rules() {
    let (s, _d) = fixture("sync_inputs").await;
    for (t, id, parent, body) in [
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
        (
            Table::Loadbalancers,
            "other",
            None,
            json!({"loadbalancer_id": "other"}),
        ),
    ] {
        ok(s.put_object(t, id, parent, &body).await);
    }
    let r = ProbeRefRow {
        probe_key: "10.0.0.1_tcp_80".into(),
        member_id: "m1".into(),
        pool_id: "p1".into(),
        healthmonitor_id: "h1".into(),
        loadbalancer_id: "lb".into(),
        options: "{}".into(),
    };
    ok(s.replace_probe_refs("lb", std::slice::from_ref(&r)).await);
    ok(s.put_applied_rule("http://n2", "r1", "lb", "{\"n\":2}")
        .await);
    ok(s.put_applied_rule("http://n1", "r1", "lb", "{\"n\":1}")
        .await);
    ok(s.put_applied_rule("http://n1", "r9", "other", "{}").await);

    let got = ok(s.sync_inputs("lb").await);
    let tree = LbBodies {
        loadbalancer: json!({"loadbalancer_id": "lb"}),
        listeners: vec![json!({"listener_id": "l1"})],
        pools: vec![json!({"pool_id": "p1"})],
        members: vec![json!({"member_id": "m1"}), json!({"member_id": "m2"})],
        monitors: vec![json!({"healthmonitor_id": "h1"})],
    };
    assert_eq!(got.tree.as_ref(), Some(&tree));
    assert_eq!(got.refs, vec![r]);
    let rules: Vec<(&str, usize)> = got
        .applied_rules
        .iter()
        .map(|(n, v)| (n.as_str(), v.len()))
        .collect();
    assert_eq!(rules, [("http://n1", 1), ("http://n2", 1)]);
    assert_eq!(ok(s.lb_bodies("lb").await), Some(tree.clone()));

    let mut all = Vec::new();
    ok(s.for_each_lb_tree(|id, b| all.push((id.to_string(), b)))
        .await);
    assert_eq!(all.len(), 2, "both load balancers, each once");
    assert_eq!(all[0], ("lb".to_string(), tree.clone()));
    assert_eq!(all[1].0, "other");
    assert!(all[1].1.members.is_empty());

    assert_eq!(ok(s.sync_inputs("missing").await), SyncInputs::default());
    assert_eq!(ok(s.lb_bodies("missing").await), None);
}

// Contract cases: applied rules, probes, intents and references; the node backlog.

fn probe_ref(key: &str, member: &str, lb: &str) -> ProbeRefRow {
    ProbeRefRow {
        probe_key: key.into(),
        member_id: member.into(),
        pool_id: "p".into(),
        healthmonitor_id: "hm".into(),
        loadbalancer_id: lb.into(),
        options: "{}".into(),
    }
}

fn key_set(keys: &[&str]) -> BTreeSet<String> {
    keys.iter().map(|k| k.to_string()).collect()
}

#[tokio::test]
async fn replacing_refs_replaces_one_lbs_rows_and_keeps_other_lbs() {
    let (s, _d) = fixture("refs_replace").await;
    ok(s.replace_probe_refs(
        "lb1",
        &[probe_ref("a", "m1", "lb1"), probe_ref("b", "m2", "lb1")],
    )
    .await);
    ok(s.replace_probe_refs("lb2", &[probe_ref("b", "m3", "lb2")])
        .await);
    ok(s.replace_probe_refs("lb1", &[probe_ref("c", "m1", "lb1")])
        .await);
    let keys: Vec<String> = ok(s.probe_refs_for(&key_set(&["a", "b", "c"])).await)
        .into_iter()
        .map(|r| format!("{}:{}", r.probe_key, r.loadbalancer_id))
        .collect();
    assert_eq!(keys, ["b:lb2", "c:lb1"]);
    let refs = ok(s.probe_refs_for(&key_set(&["b"])).await);
    assert_eq!(refs, vec![probe_ref("b", "m3", "lb2")]);
    assert_eq!(ok(s.referenced_probe_keys().await), key_set(&["b", "c"]));
    assert_eq!(ok(s.lbs_of_probe_key("b").await), key_set(&["lb2"]));
    ok(s.replace_probe_refs("lb1", &[]).await);
    assert_eq!(ok(s.referenced_probe_keys().await), key_set(&["b"]));
}

/// Long key lists (beyond any one statement's list) find each row once.
#[tokio::test]
async fn key_lists_of_every_size_return_each_row_once() {
    let (s, _d) = fixture("refs_sizes").await;
    let refs: Vec<ProbeRefRow> = (0..70)
        .map(|i| probe_ref(&format!("k{i:02}"), &format!("m{i}"), "lb1"))
        .collect();
    ok(s.replace_probe_refs("lb1", &refs).await);
    let probes: Vec<AppliedProbe> = (0..70)
        .map(|i| AppliedProbe {
            key: format!("k{i:02}"),
            host: "10.0.0.1".into(),
            probe_type: "http".into(),
            port: 80,
            options: "{}".into(),
        })
        .collect();
    ok(s.put_applied_probes("n1", &probes).await);
    for n in [1usize, 3, 33, 64, 65, 70] {
        let keys: BTreeSet<String> = (0..n).map(|i| format!("k{i:02}")).collect();
        let want: Vec<String> = keys.iter().cloned().collect();
        let got: Vec<String> = ok(s.probe_refs_for(&keys).await)
            .into_iter()
            .map(|r| r.probe_key)
            .collect();
        assert_eq!(got, want, "{n} refs");
        let got: Vec<String> = ok(s.applied_probes("n1", &keys).await)
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(got, want, "{n} probes");
    }
    assert!(ok(s.probe_refs_for(&BTreeSet::new()).await).is_empty());
}

#[tokio::test]
async fn applied_rules_and_probes_round_trip_per_node() {
    let (s, _d) = fixture("applied_round_trip").await;
    ok(s.put_applied_rule("n1", "r1", "lb", "{}").await);
    ok(s.put_applied_rule("n2", "r1", "lb", "{\"x\":1}").await);
    ok(s.put_applied_rule("n2", "r0", "lb", "{\"x\":0}").await);
    assert_eq!(
        ok(s.applied_rules("n1", "lb").await),
        vec![("r1".to_string(), "{}".to_string())]
    );
    ok(s.delete_applied_rule("n1", "r1").await);
    assert!(ok(s.applied_rules("n1", "lb").await).is_empty());
    let all = ok(s.all_applied_rules("n2").await);
    assert_eq!(
        all.iter().map(|r| r.1.as_str()).collect::<Vec<_>>(),
        ["r0", "r1"]
    );
    assert_eq!(
        all[1],
        ("lb".to_string(), "r1".to_string(), "{\"x\":1}".to_string())
    );
    let names = ok(s.applied_rule_names().await);
    assert_eq!(names.len(), 2);
    assert!(names.iter().all(|n| n.0 == "n2" && n.2 > 0));

    ok(s.put_applied_probe("n1", "k", "10.0.0.1", "http", 80, "{}")
        .await);
    ok(
        s.put_applied_probe("n1", "k", "10.0.0.1", "http", 80, "{\"v\":2}")
            .await,
    );
    let keys = key_set(&["k", "z"]);
    assert_eq!(
        ok(s.applied_probes("n1", &keys).await),
        vec![("k".to_string(), "{\"v\":2}".to_string())]
    );
    assert!(ok(s.applied_probes("n2", &keys).await).is_empty());
    assert_eq!(ok(s.unreferenced_probe_keys().await), key_set(&["k"]));
    ok(s.delete_applied_probe("n1", "k").await);
    assert!(ok(s.all_applied_probes("n1").await).is_empty());
}

/// An intent stays until its probe is recorded applied or deleted.
#[tokio::test]
async fn probe_intents_go_with_the_applied_record_or_the_deletion() {
    let (s, _d) = fixture("probe_intents").await;
    let intents = vec![
        ("a".to_string(), "{\"a\":1}".to_string()),
        ("b".to_string(), "{}".to_string()),
    ];
    ok(s.put_probe_intents("n1", &intents).await);
    ok(
        s.put_probe_intents("n1", &[("a".to_string(), "{\"a\":2}".to_string())])
            .await,
    );
    let keys = key_set(&["a", "b", "c"]);
    assert_eq!(
        ok(s.probe_intents("n1", &keys).await),
        vec![
            ("a".to_string(), "{\"a\":2}".to_string()),
            ("b".to_string(), "{}".to_string())
        ]
    );
    assert!(ok(s.probe_intents("n2", &keys).await).is_empty());
    let a = AppliedProbe {
        key: "a".into(),
        host: "10.0.0.1".into(),
        probe_type: "tcp".into(),
        port: 80,
        options: "{\"a\":2}".into(),
    };
    ok(s.put_applied_probes("n1", std::slice::from_ref(&a)).await);
    assert_eq!(
        ok(s.probe_intents("n1", &keys).await),
        vec![("b".to_string(), "{}".to_string())]
    );
    ok(s.delete_applied_probes("n1", &["b".to_string()]).await);
    assert!(ok(s.probe_intents("n1", &keys).await).is_empty());
    assert_eq!(
        ok(s.all_applied_probes("n1").await),
        vec![("a".to_string(), "{\"a\":2}".to_string())]
    );
}

/// Failover forgets a load balancer's rules and the probes it refers to, on every node.
#[tokio::test]
async fn forgetting_a_load_balancer_drops_its_rules_and_probes() {
    let (s, _d) = fixture("forget_lb").await;
    ok(s.put_applied_rule("n1", "r1", "lb1", "{}").await);
    ok(s.put_applied_rule("n2", "r2", "lb1", "{}").await);
    ok(s.put_applied_rule("n1", "r3", "lb2", "{}").await);
    ok(s.replace_probe_refs("lb1", &[probe_ref("k1", "m1", "lb1")])
        .await);
    ok(
        s.put_applied_probe("n1", "k1", "10.0.0.1", "http", 80, "{}")
            .await,
    );
    ok(
        s.put_applied_probe("n1", "k2", "10.0.0.2", "http", 80, "{}")
            .await,
    );
    ok(s.forget_applied_lb("lb1").await);
    let names: Vec<String> = ok(s.applied_rule_names().await)
        .into_iter()
        .map(|n| n.1)
        .collect();
    assert_eq!(names, ["r3"]);
    assert_eq!(
        ok(s.all_applied_probes("n1").await),
        vec![("k2".to_string(), "{}".to_string())]
    );
    assert_eq!(
        ok(s.referenced_probe_keys().await),
        key_set(&["k1"]),
        "references stay"
    );
}

#[tokio::test]
async fn backlog_is_due_until_deferred_and_cleared() {
    let (s, _d) = fixture("backlog").await;
    ok(s.mark_backlog("n1", "lb", "down").await);
    ok(s.mark_backlog("n1", "lb", "still down").await);
    let due = ok(s.due_backlog(10).await);
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].reason, "still down");
    ok(s.defer_backlog("n1", "lb", "again", now_ms() + 60_000)
        .await);
    assert!(ok(s.due_backlog(10).await).is_empty());
    assert_eq!(ok(s.backlog_len().await), 1);
    ok(s.clear_backlog("n1", "lb").await);
    assert_eq!(ok(s.backlog_len().await), 0);
}

#[tokio::test]
async fn dead_letters_leave_the_due_list_and_a_new_miss_revives_them() {
    let (s, _d) = fixture("dead_letters").await;
    ok(s.mark_backlog("n1", "lb", "down").await);
    ok(s.mark_backlog("n1", "lb2", "down").await);
    ok(s.defer_backlog("n1", "lb", "down", 0).await);
    ok(s.dead_letter_backlog("n1", "lb", "400 refused").await);
    let due = ok(s.due_backlog(10).await);
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].loadbalancer_id, "lb2");
    let dead = ok(s.dead_letters().await);
    assert_eq!(dead.len(), 1);
    assert_eq!(
        (dead[0].node.as_str(), dead[0].loadbalancer_id.as_str()),
        ("n1", "lb")
    );
    assert_eq!(
        (dead[0].reason.as_str(), dead[0].attempts),
        ("400 refused", 2)
    );
    assert!(dead[0].dead_at >= dead[0].since);

    ok(s.mark_backlog("n1", "lb", "missed again").await);
    assert!(ok(s.dead_letters().await).is_empty());
    let due = ok(s.due_backlog(10).await);
    assert_eq!(due.len(), 2);
    assert!(due.iter().all(|e| e.attempts == 0));
    ok(s.clear_backlog("n1", "lb").await);
    assert_eq!(ok(s.due_backlog(10).await).len(), 1);
    assert_eq!(ok(s.due_backlog(0).await).len(), 0);
}

// Contract cases: the event journal (included per backend; see `contract`).

#[tokio::test]
async fn member_events_are_keyed_by_the_pools_load_balancer() {
    let (s, _d) = fixture("journal_keys").await;
    let lb = KeyHint::Loadbalancer("lb1".into());
    ok(s.accept_event(
        "listener_create",
        "{}",
        ("listener", "l1"),
        &lb,
        Some(("listener", "l1", &OwnerRef::Loadbalancer("lb1".into()))),
    )
    .await);
    // A pool that only names its listener still resolves to the load balancer.
    let p = ok(s
        .accept_event(
            "pool_create",
            "{}",
            ("pool", "p1"),
            &KeyHint::Listener("l1".into()),
            Some(("pool", "p1", &OwnerRef::Listener("l1".into()))),
        )
        .await);
    assert_eq!(p.ordering_key, "lb:lb1");
    let m = ok(s
        .accept_event(
            "member_create",
            "{}",
            ("member", "m1"),
            &KeyHint::Pool("p1".into()),
            None,
        )
        .await);
    assert_eq!(m.ordering_key, "lb:lb1");
    let unknown = ok(s
        .accept_event(
            "member_create",
            "{}",
            ("member", "m2"),
            &KeyHint::Pool("px".into()),
            None,
        )
        .await);
    assert_eq!(unknown.ordering_key, "pool:px");
    let listener = ok(s
        .accept_event(
            "listener_delete",
            "{}",
            ("listener", "lx"),
            &KeyHint::Listener("lx".into()),
            None,
        )
        .await);
    assert_eq!(listener.ordering_key, "listener:lx");
    let other = ok(s
        .accept_event(
            "amphora_x",
            "{}",
            ("x", "1"),
            &KeyHint::Other("x:1".into()),
            None,
        )
        .await);
    assert_eq!(other.ordering_key, "x:1");
    assert!(m.id > p.id);
    assert_eq!(ok(s.owner_of("pool", "p1").await).as_deref(), Some("lb1"));
    assert_eq!(
        ok(s.owner_of("listener", "l1").await).as_deref(),
        Some("lb1")
    );
    assert_eq!(ok(s.owner_of("pool", "px").await), None);
}

#[tokio::test]
async fn lifecycle_and_replay_set() {
    let (s, _d) = fixture("journal_lifecycle").await;
    let hint = KeyHint::Loadbalancer("lb".into());
    let obj = ("loadbalancer", "lb");
    let a = ok(s
        .accept_event("loadbalancer_create", r#"{"x":1}"#, obj, &hint, None)
        .await);
    let b = ok(s
        .accept_event("loadbalancer_update", "{}", obj, &hint, None)
        .await);
    let c = ok(s
        .accept_event("loadbalancer_delete", "{}", obj, &hint, None)
        .await);
    assert!(ok(s.oldest_unfinished_at().await).is_some());
    // Attempts are counted by the outcome or the retry note.
    ok(s.finish_event(a.id, EventState::Done, None).await);
    ok(s.note_retry(b.id, "loxilb down").await);
    let pending = ok(s.unfinished_events().await);
    assert_eq!(
        pending.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![b.id, c.id]
    );
    assert_eq!(pending[0].state, EventState::Applying);
    assert_eq!(pending[0].attempts, 1);
    // The tail's reads: unfinished ids above a bound, then the bodies of some ids.
    assert_eq!(ok(s.unfinished_event_ids(0).await), vec![b.id, c.id]);
    assert_eq!(ok(s.unfinished_event_ids(b.id).await), vec![c.id]);
    let some = ok(s.events_by_ids(&[c.id, a.id, c.id + 1000]).await);
    assert_eq!(some.iter().map(|e| e.id).collect::<Vec<_>>(), vec![a.id, c.id]);
    assert_eq!(some[1], pending[1], "the same records as unfinished_events");
    assert!(ok(s.events_by_ids(&[]).await).is_empty());
    assert_eq!(pending[0].reason.as_deref(), Some("loxilb down"));
    assert_eq!(pending[1].method, "loadbalancer_delete");
    assert_eq!(
        (
            pending[1].object_kind.as_str(),
            pending[1].object_id.as_str()
        ),
        obj
    );
    ok(s.finish_event(c.id, EventState::Failed, Some("bad")).await);
    assert!(ok(s.requeue_failed(c.id).await));
    assert!(!ok(s.requeue_failed(a.id).await));
    let rec = ok(s.event(a.id).await).unwrap_or_else(|| panic!("missing"));
    assert_eq!(rec.args, r#"{"x":1}"#);
    assert_eq!(rec.state, EventState::Done);
    assert_eq!(rec.attempts, 1);
    assert!(rec.updated_at >= rec.accepted_at);
    assert_eq!(ok(s.event(c.id + 1000).await), None);
    assert_eq!(ok(s.count_events(EventState::Queued).await), 1);
    assert_eq!(ok(s.list_events(Some(EventState::Done), 10).await).len(), 1);
    let newest_first: Vec<i64> = ok(s.list_events(None, 2).await)
        .iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(newest_first, vec![c.id, b.id]);
    assert_eq!(ok(s.event_count().await), 3);
    let requeued = ok(s.event(c.id).await).unwrap_or_else(|| panic!("missing"));
    assert_eq!(
        (requeued.state, requeued.reason),
        (EventState::Queued, None)
    );
}

/// Concurrent acceptances each get their own id, in order per caller, and all are
/// journaled.
#[tokio::test]
async fn concurrent_acceptances_are_all_journaled_in_order_per_caller() {
    let (s, _d) = fixture("journal_concurrent").await;
    let mut tasks = Vec::new();
    for t in 0..8 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in 0..25 {
                let a = ok(s
                    .accept_event(
                        "member_create",
                        &format!("{{\"n\":{i}}}"),
                        ("member", &format!("m{t}-{i}")),
                        // Two callers per load balancer: one key, several writers.
                        &KeyHint::Loadbalancer(format!("lb{}", t % 4)),
                        None,
                    )
                    .await);
                ids.push(a.id);
            }
            ids
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        let ids = ok(t.await);
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "per-caller order");
        all.extend(ids);
    }
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), 200);
    assert_eq!(ok(s.unfinished_events().await).len(), 200);
}

/// Recovery look-ups: in-flight load balancers, the highest id, events after an id.
#[tokio::test]
async fn in_flight_lbs_come_from_unfinished_lb_keys() {
    let (s, _d) = fixture("journal_in_flight").await;
    let (lbs, max) = ok(s.lbs_in_flight().await);
    assert!(lbs.is_empty());
    assert_eq!(max, 0);
    assert!(!ok(s.lb_has_events_after("x", 0).await));
    let a = ok(s
        .accept_event(
            "lb_update",
            "{}",
            ("loadbalancer", "a"),
            &KeyHint::Loadbalancer("a".into()),
            None,
        )
        .await);
    let b = ok(s
        .accept_event(
            "lb_update",
            "{}",
            ("loadbalancer", "b"),
            &KeyHint::Loadbalancer("b".into()),
            None,
        )
        .await);
    ok(s.accept_event(
        "m_delete",
        "{}",
        ("member", "m"),
        &KeyHint::Pool("p".into()),
        None,
    )
    .await);
    ok(s.finish_event(b.id, EventState::Done, None).await);
    let (lbs, max) = ok(s.lbs_in_flight().await);
    assert_eq!(lbs.into_iter().collect::<Vec<_>>(), vec!["a".to_string()]);
    assert!(max > b.id);
    assert!(ok(s.lb_has_events_after("b", a.id).await));
    assert!(!ok(s.lb_has_events_after("b", b.id).await));
}

/// A dispatcher batch with several outcomes: each event gets its own state and
/// reason, and its attempt counted once.
#[tokio::test]
async fn a_batch_of_mixed_outcomes_finishes_each_event_as_told() {
    let (s, _d) = fixture("journal_batch").await;
    let hint = KeyHint::Loadbalancer("lb".into());
    let mut ids = Vec::new();
    for i in 0..4 {
        let obj = ("member", format!("m{i}"));
        ids.push(
            ok(
                s.accept_event("member_create", "{}", (obj.0, &obj.1), &hint, None)
                    .await,
            )
            .id,
        );
    }
    ok(s.finish_events(
        &[
            (ids[0], EventState::Done, None),
            (ids[1], EventState::Failed, Some("refused")),
            (ids[2], EventState::Done, None),
            (ids[3], EventState::Failed, Some("other")),
        ],
        &[],
    )
    .await);
    let got: Vec<(EventState, Option<String>, i64)> = ok(s.list_events(None, 10).await)
        .into_iter()
        .rev()
        .map(|e| (e.state, e.reason, e.attempts))
        .collect();
    assert_eq!(
        got,
        vec![
            (EventState::Done, None, 1),
            (EventState::Failed, Some("refused".into()), 1),
            (EventState::Done, None, 1),
            (EventState::Failed, Some("other".into()), 1),
        ]
    );
    assert!(ok(s.unfinished_events().await).is_empty());
}

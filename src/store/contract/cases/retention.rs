// Contract cases: journal retention.

async fn accept_n(store: &S, n: usize) -> Vec<i64> {
    let mut ids = Vec::new();
    for i in 0..n {
        let args = format!("{{\"i\": {i}}}");
        let member = format!("m{i}");
        let a = ok(store
            .accept_event(
                "member_update",
                &args,
                ("member", &member),
                &KeyHint::Loadbalancer("x".into()),
                None,
            )
            .await);
        ids.push(a.id);
    }
    ids
}

async fn states(store: &S) -> Vec<(i64, EventState)> {
    let mut v: Vec<_> = ok(store.list_events(None, 10_000).await)
        .into_iter()
        .map(|e| (e.id, e.state))
        .collect();
    v.sort_by_key(|(id, _)| *id);
    v
}

#[tokio::test]
async fn pruning_removes_only_finished_events_beyond_the_limits() {
    let (store, _d) = fixture("prune_limits").await;
    let ids = accept_n(&store, 10).await;
    // 0..6 done, 6 failed, 7 applying, 8..10 queued.
    for id in &ids[..6] {
        ok(store.finish_event(*id, EventState::Done, None).await);
    }
    ok(store
        .finish_event(ids[6], EventState::Failed, Some("x"))
        .await);
    ok(store.note_retry(ids[7], "attempted").await);
    let day = Duration::from_secs(86_400);
    let keep_three = Retention {
        max_age: day,
        max_events: 3,
    };
    let p = ok(store.prune_events(&keep_three, 2, Duration::ZERO).await);
    assert_eq!(p.events, 3, "the three oldest finished events go");
    let left: Vec<i64> = states(&store).await.into_iter().map(|(id, _)| id).collect();
    assert_eq!(left, ids[3..].to_vec());
    // Age zero: every finished event goes, nothing else.
    let by_age = Retention {
        max_age: Duration::ZERO,
        max_events: 1_000,
    };
    tokio::time::sleep(Duration::from_millis(5)).await;
    let p = ok(store.prune_events(&by_age, 2, Duration::ZERO).await);
    assert_eq!(p.events, 3);
    let left = states(&store).await;
    assert_eq!(
        left.iter().map(|(_, s)| *s).collect::<Vec<_>>(),
        [
            EventState::Failed,
            EventState::Applying,
            EventState::Queued,
            EventState::Queued
        ]
    );
    assert_eq!(
        ok(store.prune_events(&by_age, 2, Duration::ZERO).await).events,
        0
    );
    // The journal still accepts after its key's history was pruned.
    let more = accept_n(&store, 1).await;
    assert!(more[0] > ids[9]);
}

#[tokio::test]
async fn a_failed_event_stays_until_cleared() {
    let (store, _d) = fixture("prune_failed").await;
    let ids = accept_n(&store, 2).await;
    ok(store
        .finish_event(ids[0], EventState::Failed, Some("refused"))
        .await);
    ok(store.finish_event(ids[1], EventState::Done, None).await);
    let none = Retention {
        max_age: Duration::ZERO,
        max_events: 1,
    };
    tokio::time::sleep(Duration::from_millis(5)).await;
    ok(store.prune_events(&none, 10, Duration::ZERO).await);
    assert_eq!(states(&store).await, [(ids[0], EventState::Failed)]);
    // Only a failed event can be cleared.
    assert!(!ok(store.clear_failed(ids[1]).await));
    assert!(ok(store.clear_failed(ids[0]).await));
    assert!(!ok(store.clear_failed(ids[0]).await));
    assert_eq!(ok(store.event_count().await), 0);
    assert!(ok(store.file_bytes().await) > 0);
    let (pages, free) = ok(store.file_pages().await);
    assert!(free <= pages);
}

// Contract cases: the status outbox.

fn status(c: &str, id: &str, p: Option<&str>, o: Option<&str>) -> StatusRecord {
    StatusRecord {
        collection: c.into(),
        id: id.into(),
        provisioning_status: p.map(str::to_string),
        operating_status: o.map(str::to_string),
    }
}

#[tokio::test]
async fn latest_wins_per_object_and_order_follows_production() {
    let (s, _d) = fixture("outbox_latest").await;
    ok(s.enqueue_statuses(&[
        status("members", "m1", Some("ACTIVE"), None),
        status("pools", "p1", Some("ACTIVE"), None),
    ])
    .await);
    ok(
        s.enqueue_statuses(&[status("members", "m1", None, Some("ONLINE"))])
            .await,
    );
    ok(s.enqueue_statuses(&[]).await);
    let pending = ok(s.pending_statuses(10).await);
    assert_eq!(pending.len(), 2);
    assert_eq!(
        pending[0].record,
        status("pools", "p1", Some("ACTIVE"), None)
    );
    assert_eq!(
        pending[1].record,
        status("members", "m1", Some("ACTIVE"), Some("ONLINE"))
    );
    assert!(pending[0].queued_at > 0);
    assert_eq!(ok(s.pending_statuses(1).await).len(), 1);
}

/// One call larger than a statement: order and "latest wins" hold within a
/// statement and across them.
#[tokio::test]
async fn a_large_call_keeps_record_order_and_latest_wins() {
    let (s, _d) = fixture("outbox_large").await;
    let mut records: Vec<StatusRecord> = (0..650)
        .map(|i| status("members", &format!("m{i}"), Some("ACTIVE"), None))
        .collect();
    records.push(status("members", "m0", None, Some("ONLINE")));
    records.push(status("members", "m120", None, Some("ERROR")));
    ok(s.enqueue_statuses(&records).await);
    let pending = ok(s.pending_statuses(1000).await);
    let ids: Vec<&str> = pending.iter().map(|p| p.record.id.as_str()).collect();
    let mut want: Vec<String> = (1..650)
        .filter(|i| *i != 120)
        .map(|i| format!("m{i}"))
        .collect();
    want.push("m0".into());
    want.push("m120".into());
    assert_eq!(ids, want);
    assert!(pending.windows(2).all(|w| w[0].seq < w[1].seq));
    assert_eq!(
        pending[648].record,
        status("members", "m0", Some("ACTIVE"), Some("ONLINE"))
    );
    ok(s.ack_statuses(&pending).await);
    assert_eq!(ok(s.outbox_len().await), 0);
}

/// An event's outcome and the statuses it produced are one write.
#[tokio::test]
async fn an_outcome_and_its_statuses_are_stored_together() {
    let (s, _d) = fixture("outbox_outcome").await;
    let e = ok(s
        .accept_event(
            "member_create",
            "{}",
            ("member", "m1"),
            &KeyHint::Loadbalancer("lb".into()),
            None,
        )
        .await);
    let statuses = [status("members", "m1", Some("ACTIVE"), Some("ONLINE"))];
    ok(
        s.finish_events(&[(e.id, EventState::Done, None)], &statuses)
            .await,
    );
    let done = ok(s.event(e.id).await).unwrap_or_else(|| panic!("missing"));
    assert_eq!(done.state, EventState::Done);
    let pending = ok(s.pending_statuses(10).await);
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].record, statuses[0]);
}

#[tokio::test]
async fn ack_keeps_rows_replaced_during_delivery() {
    let (s, _d) = fixture("outbox_replaced").await;
    ok(s.enqueue_statuses(&[
        status("members", "m1", Some("ACTIVE"), None),
        status("pools", "p1", Some("ACTIVE"), None),
    ])
    .await);
    let taken = ok(s.pending_statuses(10).await);
    // While delivering, the member is deleted.
    ok(
        s.enqueue_statuses(&[status("members", "m1", Some("DELETED"), None)])
            .await,
    );
    ok(s.ack_statuses(&taken).await);
    let left = ok(s.pending_statuses(10).await);
    assert_eq!(left.len(), 1);
    assert_eq!(
        left[0].record.provisioning_status.as_deref(),
        Some("DELETED")
    );
    assert_eq!(ok(s.outbox_len().await), 1);
}

/// The delivered ACTIVE of a load balancer must not stay queued when an operating
/// status arrives during its delivery.
#[tokio::test]
async fn ack_does_not_send_a_delivered_provisioning_status_again() {
    let (s, _d) = fixture("outbox_fields").await;
    ok(
        s.enqueue_statuses(&[status("loadbalancers", "lb", Some("ACTIVE"), None)])
            .await,
    );
    let taken = ok(s.pending_statuses(10).await);
    ok(
        s.enqueue_statuses(&[status("loadbalancers", "lb", None, Some("ERROR"))])
            .await,
    );
    ok(s.ack_statuses(&taken).await);
    let left = ok(s.pending_statuses(10).await);
    assert_eq!(left.len(), 1);
    assert_eq!(
        left[0].record,
        status("loadbalancers", "lb", None, Some("ERROR"))
    );
    ok(s.ack_statuses(&left).await);
    assert_eq!(ok(s.outbox_len().await), 0);
}

/// A field set again during delivery is kept, even with the same value.
#[tokio::test]
async fn ack_keeps_a_field_set_again_during_delivery() {
    let (s, _d) = fixture("outbox_again").await;
    ok(s.enqueue_statuses(&[status(
        "loadbalancers",
        "lb",
        Some("ACTIVE"),
        Some("ONLINE"),
    )])
    .await);
    let taken = ok(s.pending_statuses(10).await);
    ok(
        s.enqueue_statuses(&[status("loadbalancers", "lb", Some("ACTIVE"), None)])
            .await,
    );
    ok(s.ack_statuses(&taken).await);
    let left = ok(s.pending_statuses(10).await);
    assert_eq!(left.len(), 1);
    assert_eq!(
        left[0].record,
        status("loadbalancers", "lb", Some("ACTIVE"), None)
    );
}

/// Concurrent writers never give two versions of a row the same seq, so an ack of
/// what was read never removes a newer version.
#[tokio::test]
async fn concurrent_enqueues_get_distinct_seqs() {
    let (s, _d) = fixture("outbox_concurrent").await;
    let tasks: Vec<_> = (0..6)
        .map(|t| {
            let s = s.clone();
            tokio::spawn(async move {
                for i in 0..20 {
                    let records = [
                        status("members", &format!("m{t}-{i}"), Some("ACTIVE"), None),
                        status("loadbalancers", "lb", Some("ACTIVE"), None),
                    ];
                    ok(s.enqueue_statuses(&records).await);
                }
            })
        })
        .collect();
    for t in tasks {
        ok(t.await);
    }
    let pending = ok(s.pending_statuses(1000).await);
    assert_eq!(pending.len(), 121);
    let mut seqs: Vec<i64> = pending.iter().map(|p| p.seq).collect();
    seqs.dedup();
    assert_eq!(seqs.len(), 121, "distinct, ordered seqs");
}

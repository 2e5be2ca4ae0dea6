//! The write-through cache agrees with the store after every kind of write, and is
//! really used until something else changes the records.

use std::collections::BTreeSet;

use super::*;
use crate::store::test_store;
use crate::test_support::ok;

fn r(key: &str, member: &str, lb: &str) -> ProbeRefRow {
    ProbeRefRow {
        probe_key: key.into(),
        member_id: member.into(),
        pool_id: format!("{lb}-p"),
        healthmonitor_id: format!("{lb}-hm"),
        loadbalancer_id: lb.into(),
        options: format!("{{\"{key}\":\"{member}\"}}"),
    }
}

fn keys(ks: &[&str]) -> BTreeSet<String> {
    ks.iter().map(|k| k.to_string()).collect()
}

fn probe(key: &str, options: &str) -> AppliedProbe {
    AppliedProbe {
        key: key.into(),
        host: "127.0.0.1".into(),
        probe_type: "tcp".into(),
        port: 80,
        options: options.into(),
    }
}

/// What the cache answers equals what the store answers.
async fn agree(rec: &Records, store: &Store, lbs: &[&str], ks: &BTreeSet<String>) {
    for lb in lbs {
        let cached = ok(rec.sync_inputs(lb).await);
        let stored = ok(store.sync_inputs(lb).await);
        assert_eq!(cached.refs, stored.refs, "refs of {lb}");
        assert_eq!(cached.applied_rules, stored.applied_rules, "rules of {lb}");
    }
    assert_eq!(
        ok(rec.probe_refs_for(ks).await),
        ok(store.probe_refs_for(ks).await)
    );
    for node in ["n1", "n2"] {
        assert_eq!(
            ok(rec.applied_probes(node, ks).await),
            ok(store.applied_probes(node, ks).await),
            "probes on {node}"
        );
    }
}

#[tokio::test]
async fn every_write_keeps_the_cache_equal_to_the_store() {
    let (store, _d) = test_store().await;
    let rec = Records::new(store.clone());
    let ks = keys(&["k1", "k2", "k3"]);
    // Fill every entry first, so each write below updates a cached entry.
    agree(&rec, &store, &["a", "b"], &ks).await;

    let a1 = vec![r("k1", "m1", "a"), r("k2", "m2", "a")];
    ok(rec.replace_probe_refs("a", &[], &a1).await);
    let b1 = vec![r("k2", "m9", "b"), r("k3", "m3", "b")];
    ok(rec.replace_probe_refs("b", &[], &b1).await);
    agree(&rec, &store, &["a", "b"], &ks).await;

    // A shared key loses one load balancer's reference and keeps the other's.
    let a2 = vec![r("k1", "m1", "a")];
    ok(rec.replace_probe_refs("a", &a1, &a2).await);
    agree(&rec, &store, &["a", "b"], &ks).await;

    ok(rec.put_applied_rule("n1", "r1", "a", "{\"v\":1}").await);
    ok(rec.put_applied_rule("n2", "r1", "a", "{\"v\":1}").await);
    ok(rec.put_applied_rule("n1", "r0", "a", "{\"v\":0}").await);
    ok(rec.put_applied_rule("n1", "r1", "a", "{\"v\":2}").await);
    agree(&rec, &store, &["a", "b"], &ks).await;
    // The same rule name recorded for another load balancer moves to it.
    ok(rec.put_applied_rule("n1", "r1", "b", "{\"v\":3}").await);
    ok(rec.delete_applied_rule("n2", "r1").await);
    agree(&rec, &store, &["a", "b"], &ks).await;

    ok(rec
        .put_applied_probes("n1", &[probe("k1", "{\"p\":1}"), probe("k2", "{}")])
        .await);
    ok(rec
        .put_applied_probes("n1", &[probe("k1", "{\"p\":2}")])
        .await);
    ok(rec.delete_applied_probes("n1", &["k2".to_string()]).await);
    ok(rec.put_applied_probes("n2", &[probe("k3", "{}")]).await);
    agree(&rec, &store, &["a", "b"], &ks).await;

    ok(rec.forget_applied_lb("a").await);
    agree(&rec, &store, &["a", "b"], &ks).await;
}

#[tokio::test]
async fn cached_records_are_used_until_changed_elsewhere() {
    let (store, _d) = test_store().await;
    let rec = Records::new(store.clone());
    let ks = keys(&["k1"]);
    ok(rec.sync_inputs("a").await);
    ok(rec.probe_refs_for(&ks).await);
    ok(rec.applied_probes("n1", &ks).await);

    // Written behind the cache's back: not seen...
    ok(store.replace_probe_refs("a", &[r("k1", "m1", "a")]).await);
    ok(store.put_applied_rule("n1", "r1", "a", "{}").await);
    ok(store.put_applied_probes("n1", &[probe("k1", "{}")]).await);
    let inputs = ok(rec.sync_inputs("a").await);
    assert!(inputs.refs.is_empty() && inputs.applied_rules.is_empty());
    assert!(ok(rec.probe_refs_for(&ks).await).is_empty());
    assert!(ok(rec.applied_probes("n1", &ks).await).is_empty());

    // ...until the writer says so.
    rec.changed_elsewhere();
    agree(&rec, &store, &["a"], &ks).await;
    assert_eq!(ok(rec.sync_inputs("a").await).refs.len(), 1);
    assert_eq!(ok(rec.applied_probes("n1", &ks).await).len(), 1);
}

use super::*;
use crate::health::rules::Observation;
use crate::health::snapshot::Snapshot;

fn online() -> Entry {
    Entry {
        status: OperatingStatus::Online,
        detail: Detail::Config,
    }
}

fn probe(stale: bool, status: OperatingStatus) -> Entry {
    Entry {
        status,
        detail: Detail::Probe {
            probe: Some(Arc::from("10.0.0.1:80")),
            nodes: Observation {
                ok: 1,
                nok: 0,
                red: 0,
            },
            stale,
        },
    }
}

fn snapshot(entries: &[(Kind, &str, Entry)]) -> Snapshot {
    let mut s = Snapshot::default();
    for (k, id, e) in entries {
        s.insert(*k, Arc::from(*id), e.clone());
    }
    s
}

const T0_WALL: i64 = 1_700_000_000_000_000;

/// The first publication writes every object as confirmed in the cycle; the same
/// cache again writes nothing.
#[test]
fn first_publication_writes_all_then_nothing_until_a_change() {
    let t0 = Instant::now();
    let mut cache = HealthStatusCache::new(Duration::from_secs(60));
    cache.refresh(
        &snapshot(&[
            (Kind::Member, "m1", probe(false, OperatingStatus::Online)),
            (Kind::Pool, "p1", online()),
            (Kind::Loadbalancer, "lb1", online()),
        ]),
        t0,
    );
    let first = plan(&Published::default(), &cache, (t0, T0_WALL));
    assert!(first.changed);
    assert_eq!(first.upserts.len(), 3);
    assert!(first.upserts.iter().all(|r| r.confirmed_at.is_none()));
    assert_eq!(first.cycle_at, T0_WALL);
    let again = plan(
        &first.next,
        &cache,
        (t0 + Duration::from_millis(900), T0_WALL + 900_000),
    );
    assert!(!again.changed, "nothing to write: {again:?}");
    assert!(again.upserts.is_empty() && again.deletes.is_empty());
    assert_eq!(
        again.cycle_at, T0_WALL,
        "the same cycle keeps its wall time"
    );
}

/// A new cycle with the same statuses moves only the cycle time; a member whose
/// poll reached no node keeps its own time; a member that changes is rewritten; a
/// deleted object is removed.
#[test]
fn later_cycles_write_only_changes() {
    let t0 = Instant::now();
    let mut cache = HealthStatusCache::new(Duration::from_secs(60));
    cache.refresh(
        &snapshot(&[
            (Kind::Member, "m1", probe(false, OperatingStatus::Online)),
            (Kind::Member, "m2", probe(false, OperatingStatus::Online)),
            (Kind::Member, "gone", probe(false, OperatingStatus::Online)),
            (Kind::Pool, "p1", online()),
        ]),
        t0,
    );
    let first = plan(&Published::default(), &cache, (t0, T0_WALL));
    let t1 = t0 + Duration::from_secs(5);
    cache.refresh(
        &snapshot(&[
            (Kind::Member, "m1", probe(true, OperatingStatus::Online)),
            (Kind::Member, "m2", probe(false, OperatingStatus::Error)),
            (Kind::Pool, "p1", online()),
        ]),
        t1,
    );
    let second = plan(&first.next, &cache, (t1, T0_WALL + 5_000_000));
    assert!(second.changed);
    assert_eq!(second.cycle_at, T0_WALL + 5_000_000);
    let mut ids: Vec<&str> = second.upserts.iter().map(|r| r.id.as_str()).collect();
    ids.sort_unstable();
    assert_eq!(ids, ["m1", "m2"], "p1 is unchanged");
    let m1 = second.upserts.iter().find(|r| r.id == "m1");
    assert_eq!(
        m1.and_then(|r| r.confirmed_at),
        Some(T0_WALL),
        "a stale member keeps the time it was last confirmed"
    );
    assert_eq!(second.deletes, [("member".to_string(), "gone".to_string())]);
    // Only the cycle moves next time.
    let t2 = t1 + Duration::from_secs(5);
    cache.refresh(
        &snapshot(&[
            (Kind::Member, "m1", probe(true, OperatingStatus::Online)),
            (Kind::Member, "m2", probe(false, OperatingStatus::Error)),
            (Kind::Pool, "p1", online()),
        ]),
        t2,
    );
    let third = plan(&second.next, &cache, (t2, T0_WALL + 10_000_000));
    assert!(third.changed && third.upserts.is_empty() && third.deletes.is_empty());
}

/// What a follower rebuilds from the rows has the leader's statuses, details and
/// ages; a row a reader cannot parse is skipped, not an error.
#[test]
fn a_follower_rebuilds_the_leaders_cache_from_the_rows() {
    let t0 = Instant::now();
    let mut cache = HealthStatusCache::new(Duration::from_secs(60));
    cache.refresh(
        &snapshot(&[
            (Kind::Member, "m1", probe(false, OperatingStatus::Online)),
            (Kind::Loadbalancer, "lb1", online()),
        ]),
        t0,
    );
    let first = plan(&Published::default(), &cache, (t0, T0_WALL));
    let t1 = t0 + Duration::from_secs(30);
    cache.refresh(
        &snapshot(&[
            (Kind::Member, "m1", probe(true, OperatingStatus::Online)),
            (Kind::Loadbalancer, "lb1", online()),
        ]),
        t1,
    );
    let second = plan(&first.next, &cache, (t1, T0_WALL + 30_000_000));
    // The board now holds the first rows updated by the second publication.
    let mut rows: HashMap<String, BoardRow> = first
        .upserts
        .into_iter()
        .map(|r| (r.id.clone(), r))
        .collect();
    for r in second.upserts {
        rows.insert(r.id.clone(), r);
    }
    let mut rows: Vec<BoardRow> = rows.into_values().collect();
    rows.push(BoardRow {
        kind: "gateway".into(),
        id: "x".into(),
        status: "ONLINE".into(),
        detail: "{}".into(),
        confirmed_at: None,
    });
    let meta = BoardMeta {
        holder: "ctl-1".into(),
        epoch: 3,
        cycle_at: second.cycle_at,
    };
    // The follower reads 40 s after the first cycle, 10 s after the second.
    let now = (Instant::now(), T0_WALL + 40_000_000);
    let got = load_rows(&meta, &rows, Duration::from_secs(20), now);
    assert_eq!(got.len(), 2, "the unparsable row is skipped");
    let m1 = got.peek(Kind::Member, "m1").cloned();
    let lb = got.peek(Kind::Loadbalancer, "lb1").cloned();
    let (Some(m1), Some(lb)) = (m1, lb) else {
        panic!("missing rows in {got:?}");
    };
    assert_eq!(m1.entry, probe(true, OperatingStatus::Online));
    assert_eq!(lb.entry, online());
    let age = |c: &crate::health::Cached| now.0.saturating_duration_since(c.at).as_secs();
    assert_eq!(
        age(&m1),
        40,
        "the member was last confirmed by the first cycle"
    );
    assert_eq!(age(&lb), 10);
    assert!(
        !got.is_fresh(&m1) && got.is_fresh(&lb),
        "status_cache_ttl applies"
    );
}

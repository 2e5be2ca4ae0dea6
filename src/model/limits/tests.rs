//! The pure limit checks: member count of a new pool, DSR selection and ports.

use super::*;
use crate::model::SessionPersistence;

fn member(id: usize, weight: Option<u16>, admin: Option<bool>) -> Member {
    Member {
        member_id: format!("m{id}"),
        weight,
        admin_state_up: admin,
        protocol_port: Some(80),
        ..Member::default()
    }
}

fn pool_with(members: Vec<Member>) -> Pool {
    Pool {
        pool_id: "p1".into(),
        members: Some(members),
        ..Pool::default()
    }
}

fn field(r: Result<(), EventError>) -> Option<String> {
    r.err().and_then(|e| e.field().map(str::to_owned))
}

fn user(r: Result<(), EventError>) -> String {
    match r {
        Err(EventError::Unsupported {
            user_fault_string, ..
        }) => user_fault_string,
        other => panic!("expected unsupported, got {other:?}"),
    }
}

#[test]
fn serving_is_admin_up_and_positive_weight_with_octavias_defaults() {
    assert!(serves(None, None));
    assert!(serves(Some(true), Some(1)));
    assert!(!serves(Some(true), Some(0)));
    assert!(!serves(Some(false), Some(5)));
}

#[test]
fn a_new_pool_holds_at_most_32_serving_members_drained_ones_do_not_count() {
    let mut members: Vec<Member> = (0..32).map(|i| member(i, None, None)).collect();
    assert_eq!(
        new_pool_members("pool", &pool_with(members.clone())),
        Ok(())
    );
    members.push(member(32, Some(0), None));
    members.push(member(33, Some(4), Some(false)));
    assert_eq!(
        new_pool_members("pool", &pool_with(members.clone())),
        Ok(())
    );
    members.push(member(34, Some(3), Some(true)));
    let r = new_pool_members("pool", &pool_with(members));
    assert_eq!(field(r.clone()), Some("pool.members".into()));
    let text = user(r);
    assert!(text.contains("32") && text.contains("33 serving"), "{text}");
}

#[test]
fn dsr_allows_only_hash_selection() {
    let pool = |alg: Option<LbAlgorithm>, sp: Option<SessionPersistenceType>| Pool {
        pool_id: "p1".into(),
        lb_algorithm: alg,
        session_persistence: sp.map(|t| SessionPersistence {
            r#type: t,
            cookie_name: None,
            persistence_timeout: None,
            persistence_granularity: None,
        }),
        ..Pool::default()
    };
    for ok in [LbAlgorithm::SourceIp, LbAlgorithm::SourceIpPort] {
        assert_eq!(dsr_selection("pool", &pool(Some(ok), None), None), Ok(()));
    }
    for bad in [
        None,
        Some(LbAlgorithm::RoundRobin),
        Some(LbAlgorithm::LeastConnections),
    ] {
        let r = dsr_selection("pool", &pool(bad, None), None);
        assert_eq!(
            field(r.clone()),
            Some("pool.lb_algorithm".into()),
            "{bad:?}"
        );
        assert!(user(r).contains("SOURCE_IP_PORT"));
    }
    // The flavor's algorithm replaces the pool's, either way.
    let rr = pool(Some(LbAlgorithm::RoundRobin), None);
    assert_eq!(
        dsr_selection("pool", &rr, Some(LbAlgorithm::SourceIp)),
        Ok(())
    );
    let hash = pool(Some(LbAlgorithm::SourceIp), None);
    let r = dsr_selection("pool", &hash, Some(LbAlgorithm::LeastConnections));
    assert!(user(r).contains("flavor"));
    // SOURCE_IP persistence becomes `persist`, whatever the algorithm.
    let sticky = pool(
        Some(LbAlgorithm::SourceIp),
        Some(SessionPersistenceType::SourceIp),
    );
    assert_eq!(
        field(dsr_selection("pool", &sticky, None)),
        Some("pool.session_persistence.type".into())
    );
}

#[test]
fn dsr_member_ports_must_equal_the_listener_port() {
    assert_eq!(dsr_member_port("member", Some(80), 80), Ok(()));
    assert_eq!(dsr_member_port("member", None, 80), Ok(()));
    let r = dsr_member_port("member", Some(8080), 80);
    assert_eq!(field(r.clone()), Some("member.protocol_port".into()));
    let text = user(r);
    assert!(text.contains("8080") && text.contains("80"), "{text}");
    let mut members: Vec<Member> = (0..3).map(|i| member(i, None, None)).collect();
    assert_eq!(dsr_member_ports("members", &members, 80), Ok(()));
    members[2].protocol_port = Some(81);
    assert_eq!(
        field(dsr_member_ports("members", &members, 80)),
        Some("members[2].protocol_port".into())
    );
}

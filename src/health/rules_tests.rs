use super::*;
use proptest::prelude::*;
use OperatingStatus::*;

const UP: MemberFacts = MemberFacts {
    admin_up: true,
    monitored: true,
    drained: false,
};

fn obs(ok: u8, nok: u8, red: u8) -> Observation {
    Observation { ok, nok, red }
}

#[test]
fn member_table() {
    let drained = MemberFacts {
        drained: true,
        ..UP
    };
    let down = MemberFacts {
        admin_up: false,
        ..UP
    };
    let unmonitored = MemberFacts {
        monitored: false,
        ..UP
    };
    #[rustfmt::skip]
    let cases: &[(MemberFacts, Observation, Option<OperatingStatus>, OperatingStatus)] = &[
        (UP, obs(1, 0, 0), None, Online),
        (UP, obs(0, 1, 0), None, Error),
        (UP, obs(0, 0, 1), None, Offline),
        (drained, obs(1, 0, 0), None, Draining),
        (drained, obs(0, 1, 0), None, Error),
        (down, obs(1, 0, 0), Some(Online), Offline),
        (down, obs(0, 0, 0), None, Offline),
        (unmonitored, obs(0, 1, 0), None, NoMonitor),
        (unmonitored, obs(0, 0, 0), None, NoMonitor),
        // Not reported: keep what we said before, else OFFLINE like amphora.
        (UP, obs(0, 0, 0), Some(Error), Error),
        (UP, obs(0, 0, 0), None, Offline),
        // Nodes disagree: ok anywhere wins over nok, red anywhere wins over all.
        (UP, obs(1, 1, 0), None, Online),
        (UP, obs(1, 1, 1), None, Offline),
        (UP, obs(0, 2, 0), Some(Online), Error),
    ];
    for (i, (facts, seen, prev, want)) in cases.iter().enumerate() {
        assert_eq!(member_status(*facts, *seen, *prev), *want, "case {i}");
    }
}

#[test]
fn loxilb_states_map_to_the_seed_vocabulary() {
    assert_eq!(probe_state("ok"), Some(HealthState::Active));
    assert_eq!(probe_state("nok"), Some(HealthState::Error));
    assert_eq!(probe_state("red"), Some(HealthState::Inactive));
    assert_eq!(probe_state(""), None);
    assert_eq!(rule_endpoint_state("active"), Some(HealthState::Active));
    assert_eq!(rule_endpoint_state("inactive"), Some(HealthState::Error));
    assert_eq!(rule_endpoint_state("?"), None);
    assert_eq!(HealthState::Maintenance.operating_status(), Draining);
    assert_eq!(HealthState::Inactive.operating_status(), Offline);
}

fn counts(list: &[OperatingStatus]) -> MemberCounts {
    let mut c = MemberCounts::default();
    for s in list {
        c.add(*s);
    }
    c
}

#[test]
fn pool_table() {
    #[rustfmt::skip]
    let cases: &[(bool, bool, &[OperatingStatus], OperatingStatus)] = &[
        (true, true, &[], Online),
        (true, true, &[Online, Online], Online),
        (true, true, &[Online, Error], Degraded),
        (true, true, &[Error, Error], Error),
        (true, true, &[Offline, Offline], Online),
        (true, true, &[Online, Offline], Online),
        (true, true, &[Error, Offline], Error),
        (true, true, &[Draining, Error], Degraded),
        (true, true, &[NoMonitor, NoMonitor], Online),
        (false, true, &[Online], Offline),
        (true, false, &[Online], Offline),
    ];
    for (i, (admin, served, members, want)) in cases.iter().enumerate() {
        assert_eq!(
            pool_status(*admin, *served, counts(members)),
            *want,
            "case {i}"
        );
    }
}

#[test]
fn lb_and_listener_table() {
    assert_eq!(lb_status(true, false, [Online, Degraded]), Degraded);
    assert_eq!(lb_status(true, false, [Degraded, Error, Online]), Error);
    assert_eq!(lb_status(true, false, [Offline, Online]), Online);
    assert_eq!(lb_status(true, false, []), Online);
    assert_eq!(lb_status(true, true, [Online]), Error);
    assert_eq!(lb_status(false, true, [Error]), Offline);
    assert_eq!(listener_status(true, false), Online);
    assert_eq!(listener_status(false, false), Offline);
    // A missing rule is ERROR, but admin down stays OFFLINE (no rule is intended).
    assert_eq!(listener_status(true, true), Error);
    assert_eq!(listener_status(false, true), Offline);
    // An ERROR listener among ONLINE pools and listeners makes the LB ERROR.
    assert_eq!(lb_status(true, false, [Online, Online, Error]), Error);
}

fn any_status() -> impl Strategy<Value = OperatingStatus> {
    prop_oneof![
        Just(Online),
        Just(Offline),
        Just(Error),
        Just(Draining),
        Just(NoMonitor)
    ]
}

proptest! {
    #[test]
    fn offline_members_never_change_a_pool(
        members in prop::collection::vec(any_status(), 0..20),
        extra in 0usize..5,
    ) {
        let mut with = members.clone();
        with.extend(std::iter::repeat_n(Offline, extra));
        prop_assert_eq!(
            pool_status(true, true, counts(&members)),
            pool_status(true, true, counts(&with))
        );
    }

    #[test]
    fn pool_is_online_iff_no_member_errors(members in prop::collection::vec(any_status(), 0..20)) {
        let s = pool_status(true, true, counts(&members));
        prop_assert_eq!(s == Online, !members.contains(&Error));
    }

    #[test]
    fn admin_down_member_is_offline_whatever_loxilb_says(
        ok in 0u8..3, nok in 0u8..3, red in 0u8..3, monitored: bool, drained: bool,
    ) {
        let facts = MemberFacts { admin_up: false, monitored, drained };
        prop_assert_eq!(member_status(facts, obs(ok, nok, red), Some(Error)), Offline);
    }

    #[test]
    fn a_reported_member_ignores_its_previous_status(
        ok in 0u8..3, nok in 0u8..3, red in 0u8..3, prev in any_status(),
    ) {
        prop_assume!(ok + nok + red > 0);
        prop_assert_eq!(
            member_status(UP, obs(ok, nok, red), Some(prev)),
            member_status(UP, obs(ok, nok, red), None)
        );
    }

    #[test]
    fn lb_is_never_better_than_its_worst_pool(
        pools in prop::collection::vec(prop_oneof![any_status(), Just(Degraded)], 0..10),
    ) {
        let s = lb_status(true, false, pools.clone());
        if pools.contains(&Error) {
            prop_assert_eq!(s, Error);
        } else if pools.contains(&Degraded) {
            prop_assert_eq!(s, Degraded);
        } else {
            prop_assert_eq!(s, Online);
        }
    }
}

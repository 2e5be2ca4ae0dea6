//! The outcome → action table, without any I/O.

use super::{action, Action};
use crate::apply::{NodeCalls, NodeError, NodeFailure, Phase, SyncOutcome};
use crate::loxilb::{ErrorKind, LoxilbError};

fn down(phase: Phase) -> Result<NodeCalls, NodeFailure> {
    Err(NodeFailure {
        phase,
        error: NodeError::from(LoxilbError {
            node: "http://127.0.0.1:1".into(),
            method: "POST".into(),
            path: "/netlox/v1/config/loadbalancer".into(),
            status: None,
            result: None,
            kind: ErrorKind::Transient,
            detail: "connection refused".into(),
        }),
    })
}

fn refused(phase: Phase) -> Result<NodeCalls, NodeFailure> {
    Err(NodeFailure {
        phase,
        error: NodeError::Refused {
            rule: "r".into(),
            reason: "bad".into(),
        },
    })
}

type NodeResult = Result<NodeCalls, NodeFailure>;

fn ok() -> Result<NodeCalls, NodeFailure> {
    Ok(NodeCalls {
        rules: 1,
        probes: 0,
    })
}

fn outcome(nodes: Vec<Result<NodeCalls, NodeFailure>>) -> SyncOutcome {
    SyncOutcome {
        nodes: nodes
            .into_iter()
            .enumerate()
            .map(|(i, r)| (format!("http://127.0.0.{}:11111", i + 1), r))
            .collect(),
    }
}

fn kind(a: &Action) -> &'static str {
    match a {
        Action::Done => "done",
        Action::CatchUp => "catch-up",
        Action::Requeue(_) => "requeue",
        Action::Refused(_) => "refused",
    }
}

#[test]
fn every_outcome_has_one_action() {
    use Phase::{Probes, Rules};
    let cases: Vec<(&str, Vec<NodeResult>, bool, &str)> = vec![
        ("all applied", vec![ok(), ok()], false, "done"),
        // Nothing took the change (the configuration always names a node).
        ("no node at all", vec![], false, "requeue"),
        ("one node down", vec![ok(), down(Rules)], false, "catch-up"),
        (
            "every node down",
            vec![down(Rules), down(Rules)],
            false,
            "requeue",
        ),
        (
            "one refusal wins over applied",
            vec![ok(), refused(Rules)],
            false,
            "refused",
        ),
        (
            "a refusal wins over down",
            vec![down(Rules), refused(Rules)],
            false,
            "refused",
        ),
        (
            "probe refusal is a refusal",
            vec![refused(Probes)],
            false,
            "refused",
        ),
        // The seed's member-delete rule: rules took the change, probes are retried.
        (
            "member delete, probes refused",
            vec![refused(Probes)],
            true,
            "catch-up",
        ),
        (
            "member delete, probes down",
            vec![down(Probes), ok()],
            true,
            "catch-up",
        ),
        (
            "member delete, rules refused",
            vec![refused(Rules)],
            true,
            "refused",
        ),
        (
            "member delete, all down",
            vec![down(Rules)],
            true,
            "requeue",
        ),
    ];
    for (name, nodes, deletes, want) in cases {
        let got = action(&outcome(nodes), deletes);
        assert_eq!(kind(&got), want, "{name}: {got:?}");
    }
}

#[test]
fn a_requeue_names_every_node_that_failed() {
    let got = action(
        &outcome(vec![down(Phase::Rules), down(Phase::Rules)]),
        false,
    );
    let Action::Requeue(reason) = got else {
        panic!("not a requeue: {got:?}");
    };
    assert_eq!(reason.matches("connection refused").count(), 2, "{reason}");
}

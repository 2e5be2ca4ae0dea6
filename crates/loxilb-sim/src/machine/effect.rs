//! What the state machine asks its runtime to do in the world.
//!
//! The machine decides *that* a probe must run, stop or trust a CA; only the runtime owns
//! tasks, sockets and TLS pools. Keeping the decision here and the doing there is what lets
//! the LoxiLB behaviour be tested without a network or a tokio runtime.

/// One instruction from the state machine to its runtime, in the order it was decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Effect {
    /// A probe was handed to LoxiLB's endpoint checkers: they must be running (started once,
    /// on first use, as LoxiLB starts them in RulesInit but idle until a probe exists).
    StartCheckers,
    /// The probe under this key was replaced or deleted: a check still in flight for it
    /// belongs to the old probe and must stop (its result would be dropped anyway).
    CancelCheck { key: String },
    /// AddEPHost appended a per-host CA (PEM) to the pool every https probe trusts.
    TrustCa { pem: Vec<u8> },
}

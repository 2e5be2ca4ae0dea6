//! Applier errors: a sync fails as a whole only when our own database does; LoxiLB
//! failures are per node, so one unreachable node does not stop the others.

use crate::loxilb::LoxilbError;
use crate::store::StoreError;

/// Why a whole sync could not run.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("database: {0}")]
    Store(#[from] StoreError),
    /// The stored desired objects cannot be mapped (a bug or a corrupt row).
    #[error("desired state cannot be mapped: {0}")]
    Desired(String),
}

impl SyncError {
    pub fn is_transient(&self) -> bool {
        match self {
            SyncError::Store(e) => e.is_transient(),
            SyncError::Desired(_) => false,
        }
    }
}

/// Why one node did not reach the desired state.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error(transparent)]
    Loxilb(Box<LoxilbError>),
    #[error("database: {0}")]
    Store(#[from] StoreError),
    /// A rule body LoxiLB is known to refuse (`mapping::known_refusal`), caught before
    /// any call so nothing was deleted.
    #[error("LoxiLB would refuse rule {rule}: {reason}; nothing was changed")]
    Refused { rule: String, reason: String },
}

impl From<LoxilbError> for NodeError {
    fn from(e: LoxilbError) -> Self {
        NodeError::Loxilb(Box::new(e))
    }
}

impl NodeError {
    /// Worth trying again later (node unreachable, 5xx, maintenance, busy database).
    pub fn is_transient(&self) -> bool {
        match self {
            NodeError::Loxilb(e) => e.is_transient(),
            NodeError::Store(e) => e.is_transient(),
            NodeError::Refused { .. } => false,
        }
    }
}

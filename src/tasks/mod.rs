//! Background tasks. Each is a struct with `run(self, shutdown)`: it works until
//! the shutdown is triggered, then returns, leaving unfinished work in the database.

pub mod catchup;
pub mod pruner;

pub use catchup::{DeadLetterPolicy, NodeCatchUp};
pub use pruner::JournalPruner;

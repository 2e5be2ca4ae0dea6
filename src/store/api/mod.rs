//! The storage interface: one trait per concern, with the records each one speaks in.
//!
//! Why traits: the daemon runs on an embedded SQLite file (one instance) or on the
//! operator's MySQL/MariaDB (a cluster of instances); each backend implements every
//! trait in the way fastest for it, and `Store` picks one at open. Callers use
//! `Store`'s methods of the same names and never see which backend answers. A
//! PostgreSQL backend would be one more implementation of these traits.
//!
//! The traits are used with static dispatch only (through `Store`'s backend enum),
//! so their `async fn`s need no boxing; the futures' `Send`-ness is that of each
//! implementation, checked where `Store`'s methods are awaited in spawned tasks.
#![allow(async_fn_in_trait)]

mod applied;
mod backlog;
mod desired;
mod journal;
mod members;
mod outbox;
mod retention;
mod sync;

pub use applied::{AppliedProbe, AppliedRecords, ProbeRefRow};
pub use backlog::{BacklogEntry, DeadLetter, NodeBacklog};
pub use desired::{merge_update, DesiredState, Table};
pub use journal::{AcceptExtras, Accepted, EventRecord, EventState, Journal, KeyHint, OwnerRef};
pub use members::{Limit, MemberChange, PoolChanges, TooManyMembers};
pub use outbox::{PendingStatus, StatusOutbox, StatusRecord};
pub use retention::{age_cutoff, plan, Maintenance, PrunePlan, Pruned, Retention, BATCH};
pub use sync::{bodies_of, rows_bodies, LbBodies, SyncInputs, SyncReads, TreeRow};

//! `Store`'s methods: each forwards to the same method of the open backend's
//! implementation of one `api` trait. Generated from one list so a method added to
//! a trait is one line here, and a backend missing it does not compile.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{Map, Value};

use super::api::{self, *};
use super::mysql::MysqlStore;
use super::{Backend, Store, StoreError};

/// For each method of each trait: `Store::name(args)` calls `Trait::name` on the
/// open backend, and the MySQL backend's trait implementation calls its inherent
/// method of the same name (its methods are grouped by statement shape rather than
/// by trait, so the trait impls are generated here).
///
/// A method marked `#[cached]` gets no generated `Store` method: `Store` writes its
/// own in `cached` (the desired-tree cache sits in front of the backend there), and
/// reaches the backend through `Backend::name`, generated for every method.
macro_rules! forward {
    ($($trait:ident { $( $(#[$mark:ident])? fn $name:ident(&self $(, $arg:ident : $ty:ty)*) -> $ret:ty; )* })*) => {
        impl Backend { $($(
            // A cached method's own `Store` version may not need every backend call.
            #[allow(dead_code)]
            pub(super) async fn $name(&self $(, $arg: $ty)*) -> $ret {
                match self {
                    Backend::Sqlite(b) => api::$trait::$name(b $(, $arg)*).await,
                    Backend::Mysql(b) => api::$trait::$name(b.as_ref() $(, $arg)*).await,
                }
            }
        )*)* }
        $($(
            store_method!([$($mark)?] $trait $name ($($arg : $ty),*) -> $ret);
        )*)*
        $(
            impl api::$trait for MysqlStore { $(
                async fn $name(&self $(, $arg: $ty)*) -> $ret {
                    MysqlStore::$name(self $(, $arg)*).await
                }
            )* }
        )*
    };
}

/// `Store`'s forwarding method for one unmarked trait method (see [`forward`]).
macro_rules! store_method {
    ([cached] $($rest:tt)*) => {};
    ([] $trait:ident $name:ident ($($arg:ident : $ty:ty),*) -> $ret:ty) => {
        impl Store {
            #[doc = concat!("See [`api::", stringify!($trait), "::", stringify!($name), "`].")]
            pub async fn $name(&self $(, $arg: $ty)*) -> $ret {
                self.backend.$name($($arg),*).await
            }
        }
    };
}

forward! {
    Journal {
        fn accept_event(&self, method: &str, args_json: &str, object: (&str, &str), hint: &KeyHint, owner: Option<(&str, &str, &OwnerRef)>) -> Result<Accepted, StoreError>;
        fn accept_event_checked(&self, method: &str, args_json: &str, object: (&str, &str), hint: &KeyHint, owner: Option<(&str, &str, &OwnerRef)>, extras: AcceptExtras) -> Result<Result<Accepted, TooManyMembers>, StoreError>;
        fn event(&self, id: i64) -> Result<Option<EventRecord>, StoreError>;
        fn unfinished_events(&self) -> Result<Vec<EventRecord>, StoreError>;
        fn unfinished_event_ids(&self, after: i64) -> Result<Vec<i64>, StoreError>;
        fn events_by_ids(&self, ids: &[i64]) -> Result<Vec<EventRecord>, StoreError>;
        fn oldest_unfinished_at(&self) -> Result<Option<i64>, StoreError>;
        fn list_events(&self, state: Option<EventState>, limit: i64) -> Result<Vec<EventRecord>, StoreError>;
        fn count_events(&self, state: EventState) -> Result<i64, StoreError>;
        fn note_retry(&self, id: i64, reason: &str) -> Result<(), StoreError>;
        fn finish_event(&self, id: i64, state: EventState, reason: Option<&str>) -> Result<(), StoreError>;
        fn finish_events(&self, events: &[(i64, EventState, Option<&str>)], statuses: &[StatusRecord]) -> Result<(), StoreError>;
        fn requeue_failed(&self, id: i64) -> Result<bool, StoreError>;
        fn event_count(&self) -> Result<i64, StoreError>;
        fn lbs_in_flight(&self) -> Result<(BTreeSet<String>, i64), StoreError>;
        fn lb_has_events_after(&self, lb: &str, after_id: i64) -> Result<bool, StoreError>;
        fn owner_of(&self, kind: &str, id: &str) -> Result<Option<String>, StoreError>;
        fn lb_flavor(&self, lb_id: &str) -> Result<Option<Map<String, Value>>, StoreError>;
        fn pool_owner_flavor(&self, pool_id: &str) -> Result<Option<(String, Option<Map<String, Value>>)>, StoreError>;
    }
    DesiredState {
        #[cached] fn put_object(&self, table: Table, id: &str, parent: Option<&str>, body: &Value) -> Result<(), StoreError>;
        #[cached] fn get_object(&self, table: Table, id: &str) -> Result<Option<Value>, StoreError>;
        #[cached] fn children(&self, table: Table, parent: &str) -> Result<Vec<Value>, StoreError>;
        #[cached] fn child_ids(&self, table: Table, parent: &str) -> Result<Vec<String>, StoreError>;
        #[cached] fn parent_of(&self, table: Table, id: &str) -> Result<Option<String>, StoreError>;
        #[cached] fn get_with_parent(&self, table: Table, id: &str) -> Result<Option<(Value, Option<String>)>, StoreError>;
        fn all_objects(&self, table: Table) -> Result<Vec<Value>, StoreError>;
        #[cached] fn delete_object(&self, table: Table, id: &str) -> Result<bool, StoreError>;
        #[cached] fn delete_loadbalancer_tree(&self, lb_id: &str) -> Result<Vec<(Table, String)>, StoreError>;
        fn desired_ids(&self) -> Result<(BTreeSet<String>, BTreeSet<String>), StoreError>;
    }
    SyncReads {
        fn for_each_lb_tree(&self, f: impl FnMut(&str, LbBodies)) -> Result<(), StoreError>;
        #[cached] fn lb_bodies(&self, lb: &str) -> Result<Option<LbBodies>, StoreError>;
        #[cached] fn lb_tree(&self, lb: &str) -> Result<Option<Vec<TreeRow>>, StoreError>;
        fn sync_inputs(&self, lb: &str) -> Result<SyncInputs, StoreError>;
    }
    AppliedRecords {
        fn applied_rules(&self, node: &str, lb: &str) -> Result<Vec<(String, String)>, StoreError>;
        fn all_applied_rules(&self, node: &str) -> Result<Vec<(String, String, String)>, StoreError>;
        fn applied_rule_names(&self) -> Result<Vec<(String, String, i64)>, StoreError>;
        fn put_applied_rule(&self, node: &str, name: &str, lb: &str, body: &str) -> Result<(), StoreError>;
        fn delete_applied_rule(&self, node: &str, name: &str) -> Result<(), StoreError>;
        fn replace_probe_refs(&self, lb: &str, rows: &[ProbeRefRow]) -> Result<(), StoreError>;
        fn probe_refs_for(&self, keys: &BTreeSet<String>) -> Result<Vec<ProbeRefRow>, StoreError>;
        fn applied_probes(&self, node: &str, keys: &BTreeSet<String>) -> Result<Vec<(String, String)>, StoreError>;
        fn all_applied_probes(&self, node: &str) -> Result<Vec<(String, String)>, StoreError>;
        fn put_applied_probe(&self, node: &str, key: &str, host: &str, probe_type: &str, port: u16, options: &str) -> Result<(), StoreError>;
        fn put_probe_intents(&self, node: &str, intents: &[(String, String)]) -> Result<(), StoreError>;
        fn probe_intents(&self, node: &str, keys: &BTreeSet<String>) -> Result<Vec<(String, String)>, StoreError>;
        fn put_applied_probes(&self, node: &str, probes: &[AppliedProbe]) -> Result<(), StoreError>;
        fn delete_applied_probe(&self, node: &str, key: &str) -> Result<(), StoreError>;
        fn delete_applied_probes(&self, node: &str, keys: &[String]) -> Result<(), StoreError>;
        fn forget_applied_lb(&self, lb: &str) -> Result<(), StoreError>;
        fn referenced_probe_keys(&self) -> Result<BTreeSet<String>, StoreError>;
        fn unreferenced_probe_keys(&self) -> Result<BTreeSet<String>, StoreError>;
        fn lbs_of_probe_key(&self, key: &str) -> Result<BTreeSet<String>, StoreError>;
    }
    NodeBacklog {
        fn mark_backlog(&self, node: &str, lb: &str, reason: &str) -> Result<(), StoreError>;
        fn defer_backlog(&self, node: &str, lb: &str, reason: &str, next_attempt_at: i64) -> Result<(), StoreError>;
        fn clear_backlog(&self, node: &str, lb: &str) -> Result<(), StoreError>;
        fn due_backlog(&self, limit: i64) -> Result<Vec<BacklogEntry>, StoreError>;
        fn backlog_len(&self) -> Result<i64, StoreError>;
        fn dead_letter_backlog(&self, node: &str, lb: &str, reason: &str) -> Result<(), StoreError>;
        fn dead_letters(&self) -> Result<Vec<DeadLetter>, StoreError>;
    }
    StatusOutbox {
        fn enqueue_statuses(&self, records: &[StatusRecord]) -> Result<(), StoreError>;
        fn pending_statuses(&self, limit: i64) -> Result<Vec<PendingStatus>, StoreError>;
        fn ack_statuses(&self, delivered: &[PendingStatus]) -> Result<(), StoreError>;
        fn outbox_len(&self) -> Result<i64, StoreError>;
    }
    Maintenance {
        fn prune_events(&self, retention: &Retention, batch: u64, pause: Duration) -> Result<Pruned, StoreError>;
        fn clear_failed(&self, id: i64) -> Result<bool, StoreError>;
        fn file_bytes(&self) -> Result<u64, StoreError>;
        fn file_pages(&self) -> Result<(u64, u64), StoreError>;
        fn ping(&self) -> Result<(), StoreError>;
        fn close(&self) -> ();
    }
}

//! The event journal: every accepted Octavia event, its ordering key and its outcome,
//! plus the ownership facts acceptance records (which load balancer a listener or
//! pool belongs to, a load balancer's flavor) so later events resolve at once.

use super::members::{PoolChanges, TooManyMembers};
use super::outbox::StatusRecord;
use crate::store::StoreError;
use serde_json::{Map, Value};
use std::collections::BTreeSet;

/// Life cycle of a journaled event, as reported by `GET /v1/events/{id}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventState {
    Queued,
    Applying,
    Done,
    Failed,
}

impl EventState {
    pub fn as_str(self) -> &'static str {
        match self {
            EventState::Queued => "queued",
            EventState::Applying => "applying",
            EventState::Done => "done",
            EventState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<EventState> {
        match s {
            "queued" => Some(EventState::Queued),
            "applying" => Some(EventState::Applying),
            "done" => Some(EventState::Done),
            "failed" => Some(EventState::Failed),
            _ => None,
        }
    }

    /// Done and failed events are never applied again.
    pub fn is_final(self) -> bool {
        matches!(self, EventState::Done | EventState::Failed)
    }
}

/// The ordering hint and owner an event names: the model's (see `model::ordering`);
/// the journal resolves them to an ordering key.
pub use crate::model::{KeyHint, OwnerRef};

/// Result of accepting an event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Accepted {
    pub id: i64,
    pub ordering_key: String,
}

/// One row of the journal.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct EventRecord {
    pub id: i64,
    pub method: String,
    /// The `args` object exactly as received (JSON text).
    #[serde(skip)]
    pub args: String,
    pub ordering_key: String,
    pub object_kind: String,
    pub object_id: String,
    pub state: EventState,
    pub reason: Option<String>,
    pub attempts: i64,
    pub accepted_at: i64,
    pub updated_at: i64,
}

/// What an event teaches the ingress checks besides its ordering.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AcceptExtras {
    /// Its changes to pool member sets, counted before it is journaled.
    pub members: Vec<PoolChanges>,
    /// A created load balancer's flavor (JSON), or a deleted one's id (`None`).
    pub flavor: Option<(String, Option<String>)>,
}

/// Writing and reading the journal.
pub trait Journal {
    /// Journal an event in one transaction. `owner` records which load balancer a
    /// new listener (`"listener"`) or pool (`"pool"`) belongs to.
    async fn accept_event(
        &self,
        method: &str,
        args_json: &str,
        object: (&str, &str),
        hint: &KeyHint,
        owner: Option<(&str, &str, &OwnerRef)>,
    ) -> Result<Accepted, StoreError>;

    /// [`Journal::accept_event`] with the acceptance checks of `extras` (pool member
    /// counts), done in the same transaction so concurrent events see each other.
    async fn accept_event_checked(
        &self,
        method: &str,
        args_json: &str,
        object: (&str, &str),
        hint: &KeyHint,
        owner: Option<(&str, &str, &OwnerRef)>,
        extras: AcceptExtras,
    ) -> Result<Result<Accepted, TooManyMembers>, StoreError>;

    async fn event(&self, id: i64) -> Result<Option<EventRecord>, StoreError>;
    /// Queued and applying events in acceptance order (replay).
    async fn unfinished_events(&self) -> Result<Vec<EventRecord>, StoreError>;
    /// The ids of queued and applying events above `after`, ascending: what a
    /// journal tail reads each poll (an index scan; no event bodies).
    async fn unfinished_event_ids(&self, after: i64) -> Result<Vec<i64>, StoreError>;
    /// The events of `ids` that exist, in id order.
    async fn events_by_ids(&self, ids: &[i64]) -> Result<Vec<EventRecord>, StoreError>;
    async fn oldest_unfinished_at(&self) -> Result<Option<i64>, StoreError>;
    async fn list_events(
        &self,
        state: Option<EventState>,
        limit: i64,
    ) -> Result<Vec<EventRecord>, StoreError>;
    async fn count_events(&self, state: EventState) -> Result<i64, StoreError>;
    /// An attempt failed transiently: counted, the reason kept, retried later.
    async fn note_retry(&self, id: i64, reason: &str) -> Result<(), StoreError>;
    async fn finish_event(
        &self,
        id: i64,
        state: EventState,
        reason: Option<&str>,
    ) -> Result<(), StoreError>;
    /// Outcomes and the statuses they produce, in one commit.
    async fn finish_events(
        &self,
        events: &[(i64, EventState, Option<&str>)],
        statuses: &[StatusRecord],
    ) -> Result<(), StoreError>;
    /// Queue a failed event again; false when it is not failed.
    async fn requeue_failed(&self, id: i64) -> Result<bool, StoreError>;
    async fn event_count(&self) -> Result<i64, StoreError>;
    /// Load balancers with unfinished events, and the newest event id.
    async fn lbs_in_flight(&self) -> Result<(BTreeSet<String>, i64), StoreError>;
    async fn lb_has_events_after(&self, lb: &str, after_id: i64) -> Result<bool, StoreError>;
    /// The load balancer a listener (`"listener"`) or pool (`"pool"`) was accepted under.
    async fn owner_of(&self, kind: &str, id: &str) -> Result<Option<String>, StoreError>;
    /// A load balancer's flavor metadata: as accepted with its create, else from the
    /// desired state; `None` when the load balancer is unknown or has no flavor.
    async fn lb_flavor(&self, lb_id: &str) -> Result<Option<Map<String, Value>>, StoreError>;
    /// The load balancer pool `pool_id` was accepted under and that load balancer's
    /// flavor ([`Journal::owner_of`] then [`Journal::lb_flavor`]): the ingress asks
    /// both for every member event, and a networked backend answers in one read.
    async fn pool_owner_flavor(
        &self,
        pool_id: &str,
    ) -> Result<Option<(String, Option<Map<String, Value>>)>, StoreError> {
        match self.owner_of("pool", pool_id).await? {
            Some(lb) => {
                let flavor = self.lb_flavor(&lb).await?;
                Ok(Some((lb, flavor)))
            }
            None => Ok(None),
        }
    }
}

//! Point reads the ingress needs to judge an event against what is already accepted:
//! which load balancer owns a listener or pool, and a load balancer's flavor.
//!
//! Why not from desired state alone: an event may arrive while the create it depends
//! on is accepted (202) but not applied, so the facts the journal recorded at
//! acceptance (`object_owners`, `lb_flavors`) are read first.

use serde_json::{Map, Value};

use super::desired::{parse, Table};
use super::{Store, StoreError};

impl Store {
    /// The load balancer a listener (`"listener"`) or pool (`"pool"`) was accepted under.
    pub async fn owner_of(&self, kind: &str, id: &str) -> Result<Option<String>, StoreError> {
        let sql =
            "SELECT loadbalancer_id FROM object_owners WHERE object_kind = ? AND object_id = ?";
        self.readers
            .with(|c| {
                super::direct::query(c, sql, true, &[&kind, &id], |r| Ok(r.get::<_, String>(0)?))
            })
            .map(|mut v| v.pop())
    }

    /// A load balancer's flavor metadata: as accepted with its create, else from the
    /// desired state; `None` when the load balancer is unknown or has no flavor.
    pub async fn lb_flavor(&self, lb_id: &str) -> Result<Option<Map<String, Value>>, StoreError> {
        let noted = self
            .read_strings(
                "SELECT flavor FROM lb_flavors WHERE loadbalancer_id = ?",
                lb_id,
            )
            .await?;
        let body = match noted.into_iter().next() {
            Some(flavor) => parse(&flavor)?,
            None => match self.get_object(Table::Loadbalancers, lb_id).await? {
                Some(lb) => lb.get("flavor").cloned().unwrap_or(Value::Null),
                None => Value::Null,
            },
        };
        Ok(match body {
            Value::Object(map) => Some(map),
            _ => None,
        })
    }
}

//! Pool and session persistence, as in octavia-lib's `Pool.to_dict()`.

use super::cleared::Cleared;
use super::enums::{LbAlgorithm, PoolProtocol, SessionPersistenceType};
use super::error::EventError;
use super::fields::Fields;
use super::healthmonitor::HealthMonitor;
use super::member::Member;
use super::serde_util::read_via_fields;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A pool's session persistence settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Value")]
pub struct SessionPersistence {
    #[serde(rename = "type")]
    pub r#type: SessionPersistenceType,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cookie_name: Option<String>,
    /// Seconds (UDP/SCTP pools).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub persistence_timeout: Option<u32>,
    /// Netmask grouping clients (UDP/SCTP pools).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub persistence_granularity: Option<String>,
}

impl SessionPersistence {
    /// Type-checks a session persistence dict.
    pub fn read(value: &Value, path: &str) -> Result<Self, EventError> {
        let mut f = Fields::new(value, path, false)?;
        Ok(SessionPersistence {
            r#type: f
                .opt("type")?
                .ok_or_else(|| EventError::invalid(f.path_of("type"), "is required"))?,
            cookie_name: f.opt("cookie_name")?,
            persistence_timeout: f.opt("persistence_timeout")?,
            persistence_granularity: f.opt("persistence_granularity")?,
        })
    }
}

impl TryFrom<Value> for SessionPersistence {
    type Error = EventError;
    fn try_from(v: Value) -> Result<Self, Self::Error> {
        SessionPersistence::read(&v, "")
    }
}

/// A group of members behind a listener (or a load balancer, for pools only
/// reachable through L7 policies).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Value")]
pub struct Pool {
    pub pool_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loadbalancer_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listener_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<PoolProtocol>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lb_algorithm: Option<LbAlgorithm>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_state_up: Option<bool>,
    /// Present when the pool is created together with its members.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub members: Option<Vec<Member>>,
    /// Present when the pool is created together with its monitor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthmonitor: Option<HealthMonitor>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_persistence: Option<SessionPersistence>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_container_ref: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_container_data: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_tls_container_ref: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_tls_container_data: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crl_container_ref: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crl_container_data: Option<Value>,
    /// Octavia fills defaults even for plain pools; only meaningful with TLS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_versions: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_ciphers: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alpn_protocols: Option<Vec<String>>,
    /// Fields an update's `new` object set to `null` (see `cleared.rs`).
    #[serde(flatten, skip_serializing_if = "Cleared::is_empty")]
    pub cleared: Cleared,
}

impl Pool {
    /// Type-checks a pool dict (and nested members/monitor).
    pub fn read(value: &Value, path: &str, record_nulls: bool) -> Result<Self, EventError> {
        let mut f = Fields::new(value, path, record_nulls)?;
        let mut p = Pool {
            pool_id: f.required_string("pool_id")?,
            loadbalancer_id: f.opt("loadbalancer_id")?,
            listener_id: f.opt("listener_id")?,
            name: f.opt("name")?,
            description: f.opt("description")?,
            project_id: f.opt("project_id")?,
            protocol: f.opt("protocol")?,
            lb_algorithm: f.opt("lb_algorithm")?,
            admin_state_up: f.opt("admin_state_up")?,
            members: f.nested_list("members", |v, p| Member::read(v, p, false))?,
            healthmonitor: f.nested("healthmonitor", |v, p| HealthMonitor::read(v, p, false))?,
            session_persistence: f.nested("session_persistence", SessionPersistence::read)?,
            tls_enabled: f.opt("tls_enabled")?,
            tls_container_ref: f.opt("tls_container_ref")?,
            tls_container_data: f.opt("tls_container_data")?,
            ca_tls_container_ref: f.opt("ca_tls_container_ref")?,
            ca_tls_container_data: f.opt("ca_tls_container_data")?,
            crl_container_ref: f.opt("crl_container_ref")?,
            crl_container_data: f.opt("crl_container_data")?,
            tls_versions: f.opt("tls_versions")?,
            tls_ciphers: f.opt("tls_ciphers")?,
            alpn_protocols: f.opt("alpn_protocols")?,
            cleared: Cleared::default(),
        };
        p.cleared = Cleared(f.finish());
        Ok(p)
    }
}

read_via_fields!(Pool);

//! Listener, as in octavia-lib's `Listener.to_dict()`.

use super::cleared::Cleared;
use super::enums::ListenerProtocol;
use super::error::EventError;
use super::fields::Fields;
use super::pool::Pool;
use super::serde_util::{read_via_fields, ser_cidrs};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A VIP port and protocol; maps to one LoxiLB load-balancer rule.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Value")]
pub struct Listener {
    pub listener_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loadbalancer_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<ListenerProtocol>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol_port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_state_up: Option<bool>,
    /// -1 (unlimited) or >= 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connection_limit: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_pool_id: Option<String>,
    /// Present when the listener is created together with its default pool.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_pool: Option<Pool>,
    #[serde(serialize_with = "ser_cidrs", skip_serializing_if = "Option::is_none")]
    pub allowed_cidrs: Option<Vec<IpNet>>,
    /// Milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_client_data: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_member_connect: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_member_data: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_tcp_inspect: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub insert_headers: Option<Map<String, Value>>,
    /// Kept only to reject non-empty values (LoxiLB has no L7).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub l7policies: Option<Vec<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_tls_container_ref: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_tls_container_data: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sni_container_refs: Option<Vec<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sni_container_data: Option<Vec<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_ca_tls_container_ref: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_ca_tls_container_data: Option<Value>,
    /// NONE, OPTIONAL or MANDATORY.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_authentication: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_crl_container_ref: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_crl_container_data: Option<Value>,
    /// Only meaningful for TERMINATED_HTTPS (which is rejected).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_versions: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_ciphers: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alpn_protocols: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hsts_max_age: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hsts_include_subdomains: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hsts_preload: Option<bool>,
    /// Fields an update's `new` object set to `null` (see `cleared.rs`).
    #[serde(flatten, skip_serializing_if = "Cleared::is_empty")]
    pub cleared: Cleared,
}

impl Listener {
    /// Type-checks a listener dict (and a nested default pool).
    pub fn read(value: &Value, path: &str, record_nulls: bool) -> Result<Self, EventError> {
        let mut f = Fields::new(value, path, record_nulls)?;
        let mut l = Listener {
            listener_id: f.required_string("listener_id")?,
            loadbalancer_id: f.opt("loadbalancer_id")?,
            name: f.opt("name")?,
            description: f.opt("description")?,
            project_id: f.opt("project_id")?,
            protocol: f.opt("protocol")?,
            protocol_port: f.opt("protocol_port")?,
            admin_state_up: f.opt("admin_state_up")?,
            connection_limit: f.opt("connection_limit")?,
            default_pool_id: f.opt("default_pool_id")?,
            default_pool: f.nested("default_pool", |v, p| Pool::read(v, p, false))?,
            allowed_cidrs: f.parsed_list("allowed_cidrs")?,
            timeout_client_data: f.opt("timeout_client_data")?,
            timeout_member_connect: f.opt("timeout_member_connect")?,
            timeout_member_data: f.opt("timeout_member_data")?,
            timeout_tcp_inspect: f.opt("timeout_tcp_inspect")?,
            insert_headers: f.opt("insert_headers")?,
            l7policies: f.opt("l7policies")?,
            default_tls_container_ref: f.opt("default_tls_container_ref")?,
            default_tls_container_data: f.opt("default_tls_container_data")?,
            sni_container_refs: f.opt("sni_container_refs")?,
            sni_container_data: f.opt("sni_container_data")?,
            client_ca_tls_container_ref: f.opt("client_ca_tls_container_ref")?,
            client_ca_tls_container_data: f.opt("client_ca_tls_container_data")?,
            client_authentication: f.opt("client_authentication")?,
            client_crl_container_ref: f.opt("client_crl_container_ref")?,
            client_crl_container_data: f.opt("client_crl_container_data")?,
            tls_versions: f.opt("tls_versions")?,
            tls_ciphers: f.opt("tls_ciphers")?,
            alpn_protocols: f.opt("alpn_protocols")?,
            hsts_max_age: f.opt("hsts_max_age")?,
            hsts_include_subdomains: f.opt("hsts_include_subdomains")?,
            hsts_preload: f.opt("hsts_preload")?,
            cleared: Cleared::default(),
        };
        l.cleared = Cleared(f.finish());
        Ok(l)
    }
}

read_via_fields!(Listener);

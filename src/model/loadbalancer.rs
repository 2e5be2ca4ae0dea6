//! Load balancer, as in octavia-lib's `LoadBalancer.to_dict()`.

use super::cleared::Cleared;
use super::error::EventError;
use super::fields::{type_name, Fields};
use super::listener::Listener;
use super::pool::Pool;
use super::serde_util::read_via_fields;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::net::IpAddr;

/// A VIP; its listeners become LoxiLB rules on `vip_address`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Value")]
pub struct LoadBalancer {
    pub loadbalancer_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_state_up: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vip_address: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vip_port_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vip_network_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vip_subnet_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vip_qos_policy_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vip_sg_ids: Option<Vec<String>>,
    /// Kept only to reject non-empty values.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub additional_vips: Option<Vec<Map<String, Value>>>,
    /// Present on single-call ("graph") creates and on cascade deletes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listeners: Option<Vec<Listener>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pools: Option<Vec<Pool>>,
    /// Flavor metadata (validated by the shim's `validate_flavor`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flavor: Option<Map<String, Value>>,
    /// Availability-zone metadata (an object), or its name (a string) in
    /// dicts Octavia builds from its database.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub availability_zone: Option<Value>,
    /// Fields an update's `new` object set to `null` (see `cleared.rs`).
    #[serde(flatten, skip_serializing_if = "Cleared::is_empty")]
    pub cleared: Cleared,
}

fn read_availability_zone(v: &Value, path: &str) -> Result<Value, EventError> {
    match v {
        Value::Object(_) | Value::String(_) => Ok(v.clone()),
        other => Err(EventError::invalid(
            path,
            format!("expected an object or a string, got {}", type_name(other)),
        )),
    }
}

impl LoadBalancer {
    /// Type-checks a load balancer dict (and nested listeners/pools).
    pub fn read(value: &Value, path: &str, record_nulls: bool) -> Result<Self, EventError> {
        let mut f = Fields::new(value, path, record_nulls)?;
        let mut lb = LoadBalancer {
            loadbalancer_id: f.required_string("loadbalancer_id")?,
            name: f.opt("name")?,
            description: f.opt("description")?,
            admin_state_up: f.opt("admin_state_up")?,
            project_id: f.opt("project_id")?,
            vip_address: f.parsed("vip_address")?,
            vip_port_id: f.opt("vip_port_id")?,
            vip_network_id: f.opt("vip_network_id")?,
            vip_subnet_id: f.opt("vip_subnet_id")?,
            vip_qos_policy_id: f.opt("vip_qos_policy_id")?,
            vip_sg_ids: f.opt("vip_sg_ids")?,
            additional_vips: f.opt("additional_vips")?,
            listeners: f.nested_list("listeners", |v, p| Listener::read(v, p, false))?,
            pools: f.nested_list("pools", |v, p| Pool::read(v, p, false))?,
            flavor: f.opt("flavor")?,
            availability_zone: f.nested("availability_zone", read_availability_zone)?,
            cleared: Cleared::default(),
        };
        lb.cleared = Cleared(f.finish());
        Ok(lb)
    }
}

read_via_fields!(LoadBalancer);

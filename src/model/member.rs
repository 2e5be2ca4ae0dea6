//! Pool member, as in octavia-lib's `Member.to_dict()`.

use super::cleared::Cleared;
use super::error::EventError;
use super::fields::Fields;
use super::serde_util::read_via_fields;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::net::IpAddr;

/// A backend server of a pool. Weight 0 means draining.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Value")]
pub struct Member {
    pub member_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pool_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol_port: Option<u16>,
    /// 0..=256.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub monitor_address: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub monitor_port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_state_up: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subnet_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vnic_type: Option<String>,
    /// Fields an update's `new` object set to `null` (see `cleared.rs`).
    #[serde(flatten, skip_serializing_if = "Cleared::is_empty")]
    pub cleared: Cleared,
}

impl Member {
    /// Type-checks a member dict; `path` prefixes error field names.
    pub fn read(value: &Value, path: &str, record_nulls: bool) -> Result<Self, EventError> {
        let mut f = Fields::new(value, path, record_nulls)?;
        let mut m = Member {
            member_id: f.required_string("member_id")?,
            pool_id: f.opt("pool_id")?,
            name: f.opt("name")?,
            project_id: f.opt("project_id")?,
            address: f.parsed("address")?,
            protocol_port: f.opt("protocol_port")?,
            weight: f.opt("weight")?,
            backup: f.opt("backup")?,
            monitor_address: f.parsed("monitor_address")?,
            monitor_port: f.opt("monitor_port")?,
            admin_state_up: f.opt("admin_state_up")?,
            subnet_id: f.opt("subnet_id")?,
            vnic_type: f.opt("vnic_type")?,
            cleared: Cleared::default(),
        };
        m.cleared = Cleared(f.finish());
        Ok(m)
    }
}

read_via_fields!(Member);

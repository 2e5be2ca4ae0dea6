//! Health monitor, as in octavia-lib's `HealthMonitor.to_dict()`.

use super::cleared::Cleared;
use super::enums::{HttpMethod, MonitorType};
use super::error::EventError;
use super::expected_codes::ExpectedCodes;
use super::fields::Fields;
use super::serde_util::read_via_fields;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A pool's health check; maps to LoxiLB endpoint probes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Value")]
pub struct HealthMonitor {
    pub healthmonitor_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pool_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub r#type: Option<MonitorType>,
    /// Seconds between probes, 1..=86400.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay: Option<u32>,
    /// Seconds to wait for a probe answer, 1..=86400 and <= delay.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u32>,
    /// Successes before ONLINE, 1..=10.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_retries: Option<u8>,
    /// Failures before ERROR, 1..=10.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_retries_down: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_method: Option<HttpMethod>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_codes: Option<ExpectedCodes>,
    /// 1.0 or 1.1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_version: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_state_up: Option<bool>,
    /// Fields an update's `new` object set to `null` (see `cleared.rs`).
    #[serde(flatten, skip_serializing_if = "Cleared::is_empty")]
    pub cleared: Cleared,
}

impl HealthMonitor {
    /// Type-checks a health monitor dict; `path` prefixes error field names.
    pub fn read(value: &Value, path: &str, record_nulls: bool) -> Result<Self, EventError> {
        let mut f = Fields::new(value, path, record_nulls)?;
        let mut hm = HealthMonitor {
            healthmonitor_id: f.required_string("healthmonitor_id")?,
            pool_id: f.opt("pool_id")?,
            name: f.opt("name")?,
            project_id: f.opt("project_id")?,
            r#type: f.opt("type")?,
            delay: f.opt("delay")?,
            timeout: f.opt("timeout")?,
            max_retries: f.opt("max_retries")?,
            max_retries_down: f.opt("max_retries_down")?,
            http_method: f.opt("http_method")?,
            url_path: f.opt("url_path")?,
            expected_codes: f.parsed("expected_codes")?,
            http_version: f.opt("http_version")?,
            domain_name: f.opt("domain_name")?,
            admin_state_up: f.opt("admin_state_up")?,
            cleared: Cleared::default(),
        };
        hm.cleared = Cleared(f.finish());
        Ok(hm)
    }
}

read_via_fields!(HealthMonitor);

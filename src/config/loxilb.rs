//! `[loxilb]`: the LoxiLB nodes the coordinator programs and how it authenticates.
//!
//! All nodes receive the same configuration (LoxiLB HA pairs/clusters are configured
//! identically), so they are one list rather than per-node sections.

use std::collections::HashSet;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use reqwest::Url;
use serde::{Deserialize, Serialize};

use super::de;
use super::error::{quoted, ConfigError, Problem, Problems};
use super::secret::Secret;

/// LoxiLB load-balancer mode (`serviceArguments.mode`) used for the rules we create.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NatMode {
    Dnat,
    Onearm,
    #[default]
    Fullnat,
    Dsr,
    Fullproxy,
    Hostonearm,
}

impl NatMode {
    const ALL: [NatMode; 6] = [
        NatMode::Dnat,
        NatMode::Onearm,
        NatMode::Fullnat,
        NatMode::Dsr,
        NatMode::Fullproxy,
        NatMode::Hostonearm,
    ];

    /// The name used in configuration files.
    pub fn as_str(self) -> &'static str {
        match self {
            NatMode::Dnat => "dnat",
            NatMode::Onearm => "onearm",
            NatMode::Fullnat => "fullnat",
            NatMode::Dsr => "dsr",
            NatMode::Fullproxy => "fullproxy",
            NatMode::Hostonearm => "hostonearm",
        }
    }

    /// The numeric `mode` LoxiLB's REST API expects (0 dnat .. 5 hostonearm).
    pub fn loxilb_mode(self) -> u8 {
        match self {
            NatMode::Dnat => 0,
            NatMode::Onearm => 1,
            NatMode::Fullnat => 2,
            NatMode::Dsr => 3,
            NatMode::Fullproxy => 4,
            NatMode::Hostonearm => 5,
        }
    }
}

impl fmt::Display for NatMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for NatMode {
    type Err = String;
    /// Case-insensitive, so "FullNAT" from a hand-written file still works.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        NatMode::ALL
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                "expected one of dnat, onearm, fullnat, dsr, fullproxy, hostonearm".to_owned()
            })
    }
}

impl<'a> Deserialize<'a> for NatMode {
    fn deserialize<D: serde::Deserializer<'a>>(d: D) -> Result<Self, D::Error> {
        de::parse(d)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LoxilbConfig {
    /// Base URLs (scheme, host, port) of every LoxiLB node; `/netlox/v1` is added by the client.
    #[serde(deserialize_with = "de::string_list")]
    pub nodes: Vec<String>,
    /// CA bundle for https nodes (system roots when unset).
    #[serde(deserialize_with = "de::opt_parse")]
    pub ca_file: Option<PathBuf>,
    /// Client certificate for mutual TLS; needs `client_key`.
    #[serde(deserialize_with = "de::opt_parse")]
    pub client_cert: Option<PathBuf>,
    #[serde(deserialize_with = "de::opt_parse")]
    pub client_key: Option<PathBuf>,
    /// LoxiLB API login (only when LoxiLB runs with authentication); needs `password`.
    #[serde(deserialize_with = "de::opt_parse")]
    pub username: Option<String>,
    #[serde(deserialize_with = "de::opt_parse")]
    pub password: Option<Secret>,
    /// Seconds per LoxiLB API request. 1..=300.
    #[serde(deserialize_with = "de::uint")]
    pub request_timeout: u64,
    pub nat_mode: NatMode,
}

impl Default for LoxilbConfig {
    fn default() -> Self {
        LoxilbConfig {
            nodes: vec!["http://127.0.0.1:11111".to_owned()],
            ca_file: None,
            client_cert: None,
            client_key: None,
            username: None,
            password: None,
            request_timeout: 10,
            nat_mode: NatMode::Fullnat,
        }
    }
}

/// Parses one node URL, explaining what is wrong in the words of the config file.
fn parse_node(raw: &str) -> Result<Url, String> {
    let url = Url::parse(raw)
        .map_err(|e| format!("not a URL ({e}); expected e.g. http://10.0.0.5:11111"))?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err("scheme must be http or https".to_owned());
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("must name a host".to_owned());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(
            "must not contain credentials; use loxilb.username and loxilb.password".to_owned(),
        );
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(
            "must be scheme://host[:port] only, without path, query or fragment".to_owned(),
        );
    }
    Ok(url)
}

impl LoxilbConfig {
    /// The node URLs, parsed. Always succeeds on a validated configuration.
    pub fn node_urls(&self) -> Result<Vec<Url>, ConfigError> {
        self.nodes
            .iter()
            .enumerate()
            .map(|(i, raw)| {
                parse_node(raw).map_err(|allowed| {
                    ConfigError::Invalid(vec![Problem {
                        key: format!("loxilb.nodes[{i}]"),
                        value: quoted(raw),
                        allowed,
                    }])
                })
            })
            .collect()
    }

    pub(crate) fn validate(&self, p: &mut Problems) {
        if self.nodes.is_empty() {
            p.push(
                "loxilb.nodes",
                "[]",
                "must list at least one LoxiLB node URL",
            );
        }
        let mut seen = HashSet::new();
        for (i, raw) in self.nodes.iter().enumerate() {
            match parse_node(raw) {
                Ok(url) => {
                    if !seen.insert(url.to_string()) {
                        p.push(
                            &format!("loxilb.nodes[{i}]"),
                            quoted(raw),
                            "duplicate node URL",
                        );
                    }
                }
                Err(why) => p.push(&format!("loxilb.nodes[{i}]"), quoted(raw), why),
            }
        }
        match (&self.username, &self.password) {
            (Some(u), None) => p.push(
                "loxilb.username",
                quoted(u),
                "set loxilb.password too, or neither",
            ),
            (None, Some(_)) => p.push(
                "loxilb.password",
                "\"***\"",
                "set loxilb.username too, or neither",
            ),
            _ => {}
        }
        match (&self.client_cert, &self.client_key) {
            (Some(c), None) => p.push(
                "loxilb.client_cert",
                quoted(&c.to_string_lossy()),
                "set loxilb.client_key too, or neither",
            ),
            (None, Some(k)) => p.push(
                "loxilb.client_key",
                quoted(&k.to_string_lossy()),
                "set loxilb.client_cert too, or neither",
            ),
            _ => {}
        }
        p.range("loxilb.request_timeout", self.request_timeout, 1, 300);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nat_mode_names_and_codes() {
        for (m, code) in NatMode::ALL.into_iter().zip(0u8..) {
            assert_eq!(m.loxilb_mode(), code);
            assert_eq!(m.as_str().parse::<NatMode>(), Ok(m));
            assert_eq!(serde_json::to_value(m).unwrap(), m.as_str());
        }
        assert_eq!("FullNAT".parse::<NatMode>(), Ok(NatMode::Fullnat));
        assert!("snat".parse::<NatMode>().unwrap_err().contains("fullnat"));
    }

    #[test]
    fn node_urls_parse_defaults() {
        let urls = LoxilbConfig::default().node_urls().unwrap();
        assert_eq!(urls[0].as_str(), "http://127.0.0.1:11111/");
    }

    #[test]
    fn node_url_rules() {
        assert!(parse_node("https://lb1.example:8091").is_ok());
        assert!(parse_node("https://lb1.example:8091/").is_ok());
        assert!(parse_node("http://[::1]:11111").is_ok());
        assert!(parse_node("ftp://a").unwrap_err().contains("http or https"));
        assert!(parse_node("127.0.0.1:11111").is_err());
        assert!(parse_node("http://u:p@a:1")
            .unwrap_err()
            .contains("credentials"));
        assert!(parse_node("http://a:1/netlox/v1")
            .unwrap_err()
            .contains("path"));
        assert!(parse_node("").is_err());
    }

    #[test]
    fn duplicate_nodes_are_detected_after_normalisation() {
        let mut c = LoxilbConfig {
            nodes: vec!["http://a:80".into(), "http://a/".into()],
            ..LoxilbConfig::default()
        };
        let mut p = Problems::default();
        c.validate(&mut p);
        let msg = p.into_result().unwrap_err().to_string();
        assert!(
            msg.contains("loxilb.nodes[1]") && msg.contains("duplicate"),
            "{msg}"
        );
        c.nodes = vec!["http://a:1".into(), "http://b:1".into()];
        let mut p = Problems::default();
        c.validate(&mut p);
        assert!(p.into_result().is_ok());
    }
}

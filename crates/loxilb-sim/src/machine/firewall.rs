//! The side effects of LB rules outside the rule table: rule numbers, firewall entries and
//! allowed-source prefixes (pkg/loxinet/rules.go and pkg/utils/marker.go, v0.9.8+).
//!
//! They matter to a client because they leak or limit: a rule created with a non-zero
//! `portMax` adds a firewall entry that only a delete passing the same non-zero `portMax`
//! removes, and `allowedSources` only work on rules whose number is at most 28.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::Serialize;

/// LoxiLB's RtMaximumLbs: how many rule numbers exist.
const MAX_RULES: u64 = 2 * 1024;
/// LoxiLB's MaxSrcLBMarkerNum: highest rule number that can carry allowed sources.
pub(crate) const MAX_SRC_RULE_NUM: u64 = 28;

/// LoxiLB's Marker: numbers from 1; a released number is handed out again before any
/// fresh one, most recently released first (a free list used as a stack).
#[derive(Debug, Default)]
pub(crate) struct Marker {
    fresh: u64,
    released: Vec<u64>,
}

impl Marker {
    /// The next number, or None when all are in use ("rule-hwm error").
    pub fn get(&mut self) -> Option<u64> {
        if let Some(n) = self.released.pop() {
            return Some(n);
        }
        if self.fresh >= MAX_RULES {
            return None;
        }
        self.fresh += 1;
        Some(self.fresh)
    }

    pub fn release(&mut self, n: u64) {
        if (1..=MAX_RULES).contains(&n) {
            self.released.push(n);
        }
    }
}

/// One firewall entry as GET /config/firewall/all would identify it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct FirewallEntry {
    #[serde(rename = "sourceIP")]
    pub source_ip: String,
    #[serde(rename = "destinationIP")]
    pub destination_ip: String,
    #[serde(rename = "minDestinationPort")]
    pub min_destination_port: u16,
    #[serde(rename = "maxDestinationPort")]
    pub max_destination_port: u16,
    /// IP protocol number (6 tcp, 17 udp, 1 icmp, 132 sctp).
    pub protocol: u8,
}

/// An allowed-source prefix shared by rules (LoxiLB's allowedSrcElem).
#[derive(Debug, Clone)]
struct SrcElem {
    /// The parsed prefix in canonical form (host bits cleared).
    canonical: String,
    refs: u32,
}

/// Firewall entries and allowed-source prefixes.
#[derive(Debug, Default)]
pub(crate) struct Firewall {
    pub entries: BTreeMap<FirewallEntry, ()>,
    /// Keyed by the prefix text as posted, like LoxiLB's lbSrcMap.
    sources: BTreeMap<String, SrcElem>,
}

/// The "any" source for a destination of this family.
fn any_of(ip: IpAddr) -> &'static str {
    if ip.is_ipv4() {
        "0.0.0.0/0"
    } else {
        "::/0"
    }
}

fn host_prefix(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(_) => format!("{ip}/32"),
        IpAddr::V6(_) => format!("{ip}/128"),
    }
}

/// Parse a CIDR like Go's net.ParseCIDR and return it with host bits cleared.
pub(crate) fn parse_cidr(text: &str) -> Option<String> {
    let (ip, len) = text.split_once('/')?;
    let ip: IpAddr = ip.parse().ok()?;
    if len.is_empty() || !len.bytes().all(|b| b.is_ascii_digit()) || len.len() > 3 {
        return None;
    }
    let len: u32 = len.parse().ok()?;
    match ip {
        IpAddr::V4(a) if len <= 32 => {
            let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
            Some(format!(
                "{}/{len}",
                std::net::Ipv4Addr::from(u32::from(a) & mask)
            ))
        }
        IpAddr::V6(a) if len <= 128 => {
            let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
            Some(format!(
                "{}/{len}",
                std::net::Ipv6Addr::from(u128::from(a) & mask)
            ))
        }
        _ => None,
    }
}

impl Firewall {
    /// addLbRuleWithFW: allow the rule's port range to its VIP (an existing entry is kept).
    pub fn add_lb_range(&mut self, vip: IpAddr, port: u16, port_max: u16, proto: u8) {
        self.entries
            .insert(lb_entry(vip, port, port_max, proto), ());
    }

    /// deleteLbRuleWithFW.
    pub fn delete_lb_range(&mut self, vip: IpAddr, port: u16, port_max: u16, proto: u8) {
        self.entries.remove(&lb_entry(vip, port, port_max, proto));
    }

    /// addAllowedLbSrc: the canonical prefix now used by rule `rule_num`, or None when the
    /// prefix does not parse or the rule number is above 28.
    pub fn add_source(&mut self, prefix: &str, rule_num: u64) -> Option<String> {
        let canonical = parse_cidr(prefix)?;
        if rule_num > MAX_SRC_RULE_NUM {
            return None;
        }
        let elem = self
            .sources
            .entry(prefix.to_string())
            .or_insert_with(|| SrcElem {
                canonical: canonical.clone(),
                refs: 0,
            });
        elem.refs += 1;
        self.entries.insert(src_entry(&canonical), ());
        Some(canonical)
    }

    /// deleteAllowedLbSrc. LoxiLB looks the prefix up by its canonical text although it was
    /// stored under the posted text, so a prefix posted with host bits set is never released.
    pub fn delete_source(&mut self, canonical: &str) {
        let Some(elem) = self.sources.get_mut(canonical) else {
            return;
        };
        elem.refs = elem.refs.saturating_sub(1);
        if elem.refs == 0 {
            let c = elem.canonical.clone();
            self.sources.remove(canonical);
            self.entries.remove(&src_entry(&c));
        }
    }
}

fn lb_entry(vip: IpAddr, port: u16, port_max: u16, proto: u8) -> FirewallEntry {
    FirewallEntry {
        source_ip: any_of(vip).to_string(),
        destination_ip: host_prefix(vip),
        min_destination_port: port,
        max_destination_port: port_max,
        protocol: proto,
    }
}

fn src_entry(canonical: &str) -> FirewallEntry {
    let v6 = canonical.contains(':');
    FirewallEntry {
        source_ip: canonical.to_string(),
        destination_ip: if v6 { "::/0" } else { "0.0.0.0/0" }.to_string(),
        min_destination_port: 0,
        max_destination_port: 0,
        protocol: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Mirrors pkg/utils/marker.go NewMarker/GetMarker/ReleaseMarker: the most recently
    /// released number comes back first.
    #[test]
    fn newmarker_reuses_last_released_number_first() {
        let mut m = Marker::default();
        assert_eq!((m.get(), m.get(), m.get()), (Some(1), Some(2), Some(3)));
        m.release(1);
        m.release(3);
        assert_eq!((m.get(), m.get(), m.get()), (Some(3), Some(1), Some(4)));
    }

    /// Mirrors rules.go RulesInit (`NewMarker(1, RtMaximumLbs)`) and AddLbRule's
    /// "rule-hwm error": one node holds at most 2048 rules; a deleted rule's number
    /// makes room again.
    #[test]
    fn newmarker_runs_out_after_rtmaximumlbs_rules() {
        let mut m = Marker::default();
        let all: Vec<Option<u64>> = (0..2048).map(|_| m.get()).collect();
        assert!(all.iter().all(Option::is_some));
        assert_eq!(all.last().copied().flatten(), Some(2048));
        assert_eq!(m.get(), None, "the 2049th rule gets rule-hwm error");
        m.release(7);
        assert_eq!(m.get(), Some(7));
    }

    /// Mirrors rules.go addAllowedLbSrc: net.ParseCIDR, host bits cleared, number <= 28.
    #[test]
    fn addallowedlbsrc_parses_cidrs_and_limits_rule_numbers() {
        assert_eq!(parse_cidr("10.1.2.3/8").as_deref(), Some("10.0.0.0/8"));
        assert_eq!(parse_cidr("fd00::1/64").as_deref(), Some("fd00::/64"));
        assert_eq!(parse_cidr("10.0.0.1"), None);
        assert_eq!(parse_cidr("10.0.0.1/33"), None);
        assert_eq!(parse_cidr("10.0.0.1/+8"), None);
        let mut f = Firewall::default();
        assert!(f.add_source("10.0.0.0/8", 28).is_some());
        assert!(f.add_source("10.0.0.0/8", 29).is_none());
        // Posted with host bits: stored under the posted text, released under the canonical.
        assert!(f.add_source("192.168.1.1/24", 1).is_some());
        f.delete_source("192.168.0.0/24");
        f.delete_source("192.168.1.0/24");
        assert_eq!(f.entries.len(), 2, "10/8 and the leaked 192.168.1.0/24");
    }
}

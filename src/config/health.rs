//! `[health_monitoring]`: the seed design's section, accepted key for key.
//!
//! Octavia health monitors carry their own delay/timeout/retries; the `default_*` values
//! only fill gaps. The other keys tune how the coordinator talks to LoxiLB and Octavia.
//! Intervals are whole seconds (as in the seed's INI); the `*_duration()` helpers turn them
//! into `Duration`s so callers never multiply by hand.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::de;
use super::error::Problems;

/// Upper bound for long intervals (a week): big enough for any sane setting, small enough
/// that `Instant + interval` can never overflow.
pub(crate) const MAX_INTERVAL_SECS: u64 = 7 * 86_400;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HealthMonitoring {
    /// Probe interval (s) when a monitor gives none. 1..=86400 (LoxiLB's probeDuration limit).
    #[serde(deserialize_with = "de::uint")]
    pub default_delay: u32,
    /// Probe timeout (s) when a monitor gives none; must stay below `default_delay`.
    #[serde(deserialize_with = "de::uint")]
    pub default_timeout: u32,
    /// Failed probes before a member is marked down. 1..=10 (Octavia's range).
    #[serde(deserialize_with = "de::uint")]
    pub default_max_retries: u32,
    /// Concurrent LoxiLB probe operations. 1..=10000.
    #[serde(deserialize_with = "de::uint")]
    pub max_concurrent_checks: usize,
    /// Clean up a member's probes when the member is deleted.
    #[serde(deserialize_with = "de::boolean")]
    pub enable_coordination: bool,
    /// Seconds one coordination step may take. 1..=3600.
    #[serde(deserialize_with = "de::uint")]
    pub coordination_timeout: u64,
    /// Retries of a failed coordination step. 0..=10.
    #[serde(deserialize_with = "de::uint")]
    pub coordination_retries: u32,
    /// Seconds between status polls of LoxiLB. 1..=86400.
    #[serde(deserialize_with = "de::uint")]
    pub status_update_interval: u64,
    /// Seconds a polled status stays valid; at least `status_update_interval`.
    #[serde(deserialize_with = "de::uint")]
    pub status_cache_ttl: u64,
    /// Run the periodic full reconciliation.
    #[serde(deserialize_with = "de::boolean")]
    pub enable_status_reconciliation: bool,
    /// Seconds between full reconciliations. 60..=604800.
    #[serde(deserialize_with = "de::uint")]
    pub reconciliation_interval: u64,
    /// Status updates sent to Octavia per batch. 1..=1000.
    #[serde(deserialize_with = "de::uint")]
    pub batch_size: usize,
    /// Answer ingress requests at once and work in the background (else wait for the result).
    #[serde(deserialize_with = "de::boolean")]
    pub async_processing: bool,
    /// LoxiLB API calls per second, one budget shared by all nodes. 1..=100000.
    #[serde(deserialize_with = "de::uint")]
    pub rate_limit_calls: u32,
    /// Seconds a missed change (a node that could not be caught up) is retried before it
    /// is dead-lettered and its load balancer reported ERROR. 60..=604800.
    #[serde(deserialize_with = "de::uint")]
    pub retry_max_age: u64,
    /// Consecutive status polls in which no LoxiLB node answered before the load
    /// balancers' operating status is reported ERROR. 1..=100. Members keep their last
    /// known status meanwhile: an unreachable LoxiLB says nothing about the backends.
    #[serde(deserialize_with = "de::uint")]
    pub stale_cycles_before_error: u32,
    /// Seconds between reads of every node's rule listing (`GET /config/loadbalancer/all`),
    /// which feeds listener statistics and tells whether each listener's rule is still
    /// on LoxiLB. 1..=3600. The listing reads datapath counters of every rule, so it is
    /// read less often than the probe listing that member statuses come from.
    #[serde(deserialize_with = "de::uint")]
    pub stats_interval: u64,
    /// Blast-radius limit of guarded deletions (orphan removal, start-up removal of
    /// load balancers Octavia no longer knows): a pass that would delete more than this
    /// fraction of the known load balancers deletes nothing and holds its candidates for
    /// an operator's `--confirm`. A wrong driver agent or a second daemon must not be
    /// able to wipe a node. 0.0..=1.0.
    #[serde(deserialize_with = "de::number")]
    pub orphan_max_fraction: f64,
    /// Same limit as an absolute number: more than this many deletions in one pass are
    /// held. 0..=100000.
    #[serde(deserialize_with = "de::uint")]
    pub orphan_max_count: u64,
}

impl Default for HealthMonitoring {
    fn default() -> Self {
        HealthMonitoring {
            default_delay: 30,
            default_timeout: 10,
            default_max_retries: 3,
            max_concurrent_checks: 50,
            enable_coordination: true,
            coordination_timeout: 30,
            coordination_retries: 3,
            status_update_interval: 60,
            status_cache_ttl: 300,
            enable_status_reconciliation: true,
            reconciliation_interval: 3600,
            batch_size: 10,
            async_processing: true,
            rate_limit_calls: 100,
            retry_max_age: 3600,
            stale_cycles_before_error: 3,
            stats_interval: 10,
            orphan_max_fraction: 0.10,
            orphan_max_count: 5,
        }
    }
}

impl HealthMonitoring {
    pub fn status_update_interval_duration(&self) -> Duration {
        Duration::from_secs(self.status_update_interval)
    }

    pub fn status_cache_ttl_duration(&self) -> Duration {
        Duration::from_secs(self.status_cache_ttl)
    }

    pub fn reconciliation_interval_duration(&self) -> Duration {
        Duration::from_secs(self.reconciliation_interval)
    }

    pub fn retry_max_age_duration(&self) -> Duration {
        Duration::from_secs(self.retry_max_age)
    }

    pub fn stats_interval_duration(&self) -> Duration {
        Duration::from_secs(self.stats_interval)
    }

    /// Every key's rule, in the order the file lists them (problems are reported
    /// in that order).
    pub(crate) fn validate(&self, p: &mut Problems) {
        self.validate_probe_defaults(p);
        ranges(
            p,
            &[
                (
                    "max_concurrent_checks",
                    self.max_concurrent_checks as u64,
                    1,
                    10_000,
                ),
                ("coordination_timeout", self.coordination_timeout, 1, 3600),
                (
                    "coordination_retries",
                    self.coordination_retries.into(),
                    0,
                    10,
                ),
                (
                    "status_update_interval",
                    self.status_update_interval,
                    1,
                    86_400,
                ),
            ],
        );
        let interval_ok = (1..=86_400).contains(&self.status_update_interval);
        if (interval_ok && self.status_cache_ttl < self.status_update_interval)
            || self.status_cache_ttl > MAX_INTERVAL_SECS
        {
            p.push(
                &format!("{S}.status_cache_ttl"),
                self.status_cache_ttl,
                format!(
                    "must be between {S}.status_update_interval ({}) and {MAX_INTERVAL_SECS}: a cached status must outlive one poll",
                    self.status_update_interval
                ),
            );
        }
        ranges(
            p,
            &[
                (
                    "reconciliation_interval",
                    self.reconciliation_interval,
                    60,
                    MAX_INTERVAL_SECS,
                ),
                ("batch_size", self.batch_size as u64, 1, 1000),
                ("retry_max_age", self.retry_max_age, 60, MAX_INTERVAL_SECS),
                ("rate_limit_calls", self.rate_limit_calls.into(), 1, 100_000),
                (
                    "stale_cycles_before_error",
                    self.stale_cycles_before_error.into(),
                    1,
                    100,
                ),
                ("stats_interval", self.stats_interval, 1, 3600),
            ],
        );
        if !(0.0..=1.0).contains(&self.orphan_max_fraction) {
            p.push(
                &format!("{S}.orphan_max_fraction"),
                self.orphan_max_fraction,
                "must be between 0.0 and 1.0 (0.1 is 10 %)",
            );
        }
        ranges(
            p,
            &[("orphan_max_count", self.orphan_max_count, 0, 100_000)],
        );
    }

    /// The probe defaults: delay, timeout below it, retries.
    fn validate_probe_defaults(&self, p: &mut Problems) {
        ranges(
            p,
            &[("default_delay", self.default_delay.into(), 1, 86_400)],
        );
        // Compare with default_delay only when that is itself valid, to avoid a
        // second, derived complaint about an unchanged default_timeout.
        let delay_ok = (1..=86_400).contains(&self.default_delay);
        if self.default_timeout < 1 || (delay_ok && self.default_timeout >= self.default_delay) {
            p.push(
                &format!("{S}.default_timeout"),
                self.default_timeout,
                format!(
                    "must be at least 1 and less than {S}.default_delay ({}): LoxiLB needs the probe timeout below the probe interval",
                    self.default_delay
                ),
            );
        }
        ranges(
            p,
            &[(
                "default_max_retries",
                self.default_max_retries.into(),
                1,
                10,
            )],
        );
    }
}

/// The section's name in the file.
const S: &str = "health_monitoring";

/// `(key, value, min, max)` rows checked in order.
fn ranges(p: &mut Problems, rows: &[(&str, u64, u64, u64)]) {
    for &(key, value, lo, hi) in rows {
        p.range(&format!("{S}.{key}"), value, lo, hi);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_follow_seconds() {
        let h = HealthMonitoring::default();
        assert_eq!(h.status_update_interval_duration(), Duration::from_secs(60));
        assert_eq!(h.status_cache_ttl_duration(), Duration::from_secs(300));
        assert_eq!(
            h.reconciliation_interval_duration(),
            Duration::from_secs(3600)
        );
        assert_eq!(h.retry_max_age_duration(), Duration::from_secs(3600));
        assert_eq!(h.stats_interval_duration(), Duration::from_secs(10));
    }

    #[test]
    fn retry_max_age_is_bounded() {
        for (v, ok) in [
            (59, false),
            (60, true),
            (MAX_INTERVAL_SECS, true),
            (MAX_INTERVAL_SECS + 1, false),
        ] {
            let mut p = Problems::default();
            HealthMonitoring {
                retry_max_age: v,
                ..HealthMonitoring::default()
            }
            .validate(&mut p);
            assert_eq!(p.into_result().is_ok(), ok, "{v}");
        }
    }

    #[test]
    fn stats_interval_is_bounded() {
        for (v, ok) in [(0, false), (1, true), (3600, true), (3601, false)] {
            let mut p = Problems::default();
            HealthMonitoring {
                stats_interval: v,
                ..HealthMonitoring::default()
            }
            .validate(&mut p);
            assert_eq!(p.into_result().is_ok(), ok, "{v}");
        }
    }

    #[test]
    fn defaults_are_valid() {
        let mut p = Problems::default();
        HealthMonitoring::default().validate(&mut p);
        assert!(p.into_result().is_ok());
    }
}

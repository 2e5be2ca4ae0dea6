//! Per-object validation: which fields an event needs, their ranges, and
//! what LoxiLB cannot serve.
//!
//! Order inside each function: ids, then required fields, then ranges
//! (`Invalid`), then unsupported features (`Unsupported`), so a malformed
//! request is always reported as malformed first.

use super::error::EventError;
use super::fields::{index, join};
use super::healthmonitor::HealthMonitor;
use super::limits;
use super::listener::Listener;
use super::loadbalancer::LoadBalancer;
use super::member::Member;
use super::pool::Pool;
use super::rules::*;
use super::unsupported;
use std::collections::HashSet;

/// How strictly an object is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A `*_create` object: everything a LoxiLB rule/probe needs is required.
    Create,
    /// A child inside a create (graph create, batch update): like `Create`,
    /// but the parent link may be omitted (the enclosing object gives it).
    Nested,
    /// An update's `new` object: only changed fields are present; present
    /// fields obey the create rules.
    UpdateNew,
    /// A delete's object or an update's `old` object: it already exists, so
    /// only the ids are checked (deleting must never be refused for content).
    Existing,
}

impl Mode {
    fn checks_content(self) -> bool {
        self != Mode::Existing
    }
    fn requires_fields(self) -> bool {
        matches!(self, Mode::Create | Mode::Nested)
    }
    fn requires_parent(self) -> bool {
        self == Mode::Create
    }
}

fn must_match(path: &str, child: Option<&str>, parent: &str) -> Result<(), EventError> {
    match child {
        Some(c) if c != parent => Err(EventError::invalid(
            path,
            format!("{c:?} does not match the enclosing object's id {parent:?}"),
        )),
        _ => Ok(()),
    }
}

/// Validates a load balancer; nested listeners/pools are checked as creates.
pub fn loadbalancer(lb: &LoadBalancer, path: &str, mode: Mode) -> Result<(), EventError> {
    check_id(&join(path, "loadbalancer_id"), &lb.loadbalancer_id)?;
    if !mode.checks_content() {
        return Ok(());
    }
    if mode.requires_fields() {
        require(&join(path, "vip_address"), &lb.vip_address)?;
    }
    check_host_address(&join(path, "vip_address"), lb.vip_address)?;
    let id = lb.loadbalancer_id.as_str();
    for (i, l) in lb.listeners.iter().flatten().enumerate() {
        let p = index(&join(path, "listeners"), i);
        must_match(
            &join(&p, "loadbalancer_id"),
            l.loadbalancer_id.as_deref(),
            id,
        )?;
        listener(l, &p, Mode::Nested)?;
    }
    for (i, pl) in lb.pools.iter().flatten().enumerate() {
        let p = index(&join(path, "pools"), i);
        must_match(
            &join(&p, "loadbalancer_id"),
            pl.loadbalancer_id.as_deref(),
            id,
        )?;
        pool(pl, &p, Mode::Nested)?;
    }
    unsupported::loadbalancer_vip(path, lb)
}

/// Validates a listener (and a nested default pool as a create).
pub fn listener(l: &Listener, path: &str, mode: Mode) -> Result<(), EventError> {
    check_id(&join(path, "listener_id"), &l.listener_id)?;
    check_opt_id(&join(path, "loadbalancer_id"), l.loadbalancer_id.as_deref())?;
    check_opt_id(&join(path, "default_pool_id"), l.default_pool_id.as_deref())?;
    if !mode.checks_content() {
        return Ok(());
    }
    if mode.requires_parent() {
        require(&join(path, "loadbalancer_id"), &l.loadbalancer_id)?;
    }
    if mode.requires_fields() {
        require(&join(path, "protocol"), &l.protocol)?;
        require(&join(path, "protocol_port"), &l.protocol_port)?;
    }
    check_port(&join(path, "protocol_port"), l.protocol_port)?;
    check_connection_limit(&join(path, "connection_limit"), l.connection_limit)?;
    if let Some(dp) = &l.default_pool {
        let p = join(path, "default_pool");
        must_match(
            &join(&p, "pool_id"),
            l.default_pool_id.as_deref(),
            &dp.pool_id,
        )?;
        must_match(
            &join(&p, "listener_id"),
            dp.listener_id.as_deref(),
            &l.listener_id,
        )?;
        pool(dp, &p, Mode::Nested)?;
    }
    unsupported::listener_protocol(path, l)?;
    unsupported::listener_tls(path, l)?;
    unsupported::listener_insert_headers(path, l)?;
    unsupported::listener_l7policies(path, l)
}

/// Validates a pool (and nested members/monitor as creates).
pub fn pool(p: &Pool, path: &str, mode: Mode) -> Result<(), EventError> {
    check_id(&join(path, "pool_id"), &p.pool_id)?;
    check_opt_id(&join(path, "loadbalancer_id"), p.loadbalancer_id.as_deref())?;
    check_opt_id(&join(path, "listener_id"), p.listener_id.as_deref())?;
    if !mode.checks_content() {
        return Ok(());
    }
    if mode.requires_parent() && p.loadbalancer_id.is_none() && p.listener_id.is_none() {
        return Err(EventError::invalid(
            join(path, "loadbalancer_id"),
            "loadbalancer_id or listener_id is required",
        ));
    }
    if mode.requires_fields() {
        require(&join(path, "protocol"), &p.protocol)?;
        require(&join(path, "lb_algorithm"), &p.lb_algorithm)?;
    }
    if let Some(members) = &p.members {
        let mp = join(path, "members");
        for (i, m) in members.iter().enumerate() {
            let item = index(&mp, i);
            must_match(&join(&item, "pool_id"), m.pool_id.as_deref(), &p.pool_id)?;
            member(m, &item, Mode::Nested)?;
        }
        unique_members(&mp, members)?;
    }
    if let Some(hm) = &p.healthmonitor {
        let hp = join(path, "healthmonitor");
        must_match(&join(&hp, "pool_id"), hm.pool_id.as_deref(), &p.pool_id)?;
        healthmonitor(hm, &hp, Mode::Nested, None)?;
    }
    unsupported::pool_protocol(path, p)?;
    unsupported::pool_tls(path, p)?;
    unsupported::session_persistence(path, p)?;
    // A created pool's member list is complete: its size is known here. Later
    // member events need the stored members and are counted at the journal.
    limits::new_pool_members(path, p)
}

/// Validates a member.
pub fn member(m: &Member, path: &str, mode: Mode) -> Result<(), EventError> {
    check_id(&join(path, "member_id"), &m.member_id)?;
    check_opt_id(&join(path, "pool_id"), m.pool_id.as_deref())?;
    if !mode.checks_content() {
        return Ok(());
    }
    if mode.requires_parent() {
        require(&join(path, "pool_id"), &m.pool_id)?;
    }
    if mode.requires_fields() {
        require(&join(path, "address"), &m.address)?;
        require(&join(path, "protocol_port"), &m.protocol_port)?;
    }
    check_host_address(&join(path, "address"), m.address)?;
    check_port(&join(path, "protocol_port"), m.protocol_port)?;
    check_weight(&join(path, "weight"), m.weight)?;
    check_host_address(&join(path, "monitor_address"), m.monitor_address)?;
    check_port(&join(path, "monitor_port"), m.monitor_port)?;
    unsupported::member_backup(path, m)
}

/// Validates a health monitor. For an update, `old` supplies the values
/// `new` leaves unchanged so `timeout <= delay` is checked on the result.
pub fn healthmonitor(
    hm: &HealthMonitor,
    path: &str,
    mode: Mode,
    old: Option<&HealthMonitor>,
) -> Result<(), EventError> {
    check_id(&join(path, "healthmonitor_id"), &hm.healthmonitor_id)?;
    check_opt_id(&join(path, "pool_id"), hm.pool_id.as_deref())?;
    if !mode.checks_content() {
        return Ok(());
    }
    if mode.requires_parent() {
        require(&join(path, "pool_id"), &hm.pool_id)?;
    }
    if mode.requires_fields() {
        require(&join(path, "type"), &hm.r#type)?;
        require(&join(path, "delay"), &hm.delay)?;
        require(&join(path, "timeout"), &hm.timeout)?;
        require(&join(path, "max_retries"), &hm.max_retries)?;
    }
    check_probe_seconds(&join(path, "delay"), hm.delay)?;
    check_probe_seconds(&join(path, "timeout"), hm.timeout)?;
    let effective = |new: Option<u32>, field: &str, old_v: Option<u32>| {
        new.or(if hm.cleared.contains(field) {
            None
        } else {
            old_v
        })
    };
    let timeout = effective(hm.timeout, "timeout", old.and_then(|o| o.timeout));
    let delay = effective(hm.delay, "delay", old.and_then(|o| o.delay));
    check_timeout_within_delay(&join(path, "timeout"), timeout, delay)?;
    check_retries(&join(path, "max_retries"), hm.max_retries)?;
    check_retries(&join(path, "max_retries_down"), hm.max_retries_down)?;
    check_url_path(&join(path, "url_path"), hm.url_path.as_deref())?;
    check_http_version(&join(path, "http_version"), hm.http_version)?;
    unsupported::monitor_type(path, hm)?;
    unsupported::monitor_http_method(path, hm)?;
    unsupported::monitor_expected_codes(path, hm)?;
    unsupported::monitor_domain_name(path, hm)
}

/// A pool cannot hold the same member id twice, nor two members on the
/// same (address, protocol_port): LoxiLB endpoints are keyed by that pair.
pub fn unique_members(path: &str, members: &[Member]) -> Result<(), EventError> {
    let mut ids = HashSet::new();
    let mut endpoints = HashSet::new();
    for (i, m) in members.iter().enumerate() {
        let item = index(path, i);
        if !ids.insert(m.member_id.as_str()) {
            return Err(EventError::invalid(
                join(&item, "member_id"),
                format!("duplicate member id {:?}", m.member_id),
            ));
        }
        if let (Some(addr), Some(port)) = (m.address, m.protocol_port) {
            if !endpoints.insert((addr, port)) {
                return Err(EventError::invalid(
                    join(&item, "address"),
                    format!("duplicate member endpoint {addr} port {port}"),
                ));
            }
        }
    }
    Ok(())
}

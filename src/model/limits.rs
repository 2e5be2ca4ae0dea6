//! LoxiLB rule limits that span several Octavia objects, refused up front as
//! `Unsupported` like the single-field ones in `unsupported.rs`.
//!
//! Why here and not in the applier: LoxiLB refuses such a rule as a whole
//! (`AddLbRule`: "endpoints-range error", "malformed-service dsr-port error";
//! the REST handler: "Only Hash Selection criteria allowed for DSR mode"), so
//! an accepted event would only end with its object in ERROR after the user
//! was told 202. These functions are pure: the ingress supplies the context
//! (the pool's other members, the listener port, the NAT mode) from the event
//! and the store, and gets the refusal to answer with.

use super::enums::{LbAlgorithm, SessionPersistenceType};
use super::error::EventError;
use super::fields::{index, join};
use super::member::Member;
use super::pool::Pool;

/// Most endpoints one LoxiLB rule holds (`MaxLBEndPoints` in LoxiLB's
/// `pkg/loxinet/rules.go`); a pool's serving members are its rule's endpoints.
pub const MAX_SERVING_MEMBERS: usize = 32;

const PROVIDER: &str = "The loxilb provider";

/// Whether a member with these settings is an endpoint of its pool's rules:
/// admin up and weight > 0 (0 = draining). The same rule as the mapping's
/// `member_serves`; Octavia's defaults (up, weight 1) apply when unset.
pub fn serves(admin_state_up: Option<bool>, weight: Option<u16>) -> bool {
    admin_state_up.unwrap_or(true) && weight.unwrap_or(1) > 0
}

/// Whether `m` would be an endpoint (see [`serves`]).
pub fn member_serves(m: &Member) -> bool {
    serves(m.admin_state_up, m.weight)
}

/// The refusal for a pool that would have `serving` (> 32) serving members;
/// `field` names what the user sent that causes it.
pub fn too_many_members(field: &str, pool_id: &str, serving: usize) -> EventError {
    EventError::unsupported(
        format!(
            "{PROVIDER} serves at most {MAX_SERVING_MEMBERS} members per pool: pool {pool_id} \
             would have {serving} serving members (admin_state_up true and weight above 0) \
             ({field}). Add further members with weight 0 (drained), or remove or drain one first."
        ),
        format!(
            "{field}: pool {pool_id} would have {serving} rule endpoints; LoxiLB AddLbRule \
             refuses more than {MAX_SERVING_MEMBERS} (MaxLBEndPoints, \"endpoints-range error\")"
        ),
    )
}

/// A pool created with its members (pool_create, graph creates): its member
/// list is complete, so it is checked on its own.
pub fn new_pool_members(path: &str, pool: &Pool) -> Result<(), EventError> {
    let serving = pool.members.iter().flatten().filter(|m| member_serves(m));
    match serving.count() {
        n if n > MAX_SERVING_MEMBERS => {
            Err(too_many_members(&join(path, "members"), &pool.pool_id, n))
        }
        _ => Ok(()),
    }
}

/// In DSR mode LoxiLB accepts only hash selection. SOURCE_IP persistence
/// maps to `persist`, and the algorithm (the flavor's, when it names one,
/// else the pool's) must be SOURCE_IP or SOURCE_IP_PORT (`hash`); an unset
/// algorithm maps to round robin. `pool` is the pool as it will be (an
/// update's old and new merged by the caller).
pub fn dsr_selection(
    path: &str,
    pool: &Pool,
    flavor_algorithm: Option<LbAlgorithm>,
) -> Result<(), EventError> {
    if let Some(sp) = pool
        .session_persistence
        .as_ref()
        .filter(|s| s.r#type == SessionPersistenceType::SourceIp)
    {
        return Err(EventError::unsupported(
            format!(
                "{PROVIDER} cannot combine {} session persistence with DSR mode: LoxiLB \
                 allows only hash selection in DSR; use lb_algorithm SOURCE_IP or \
                 SOURCE_IP_PORT without session persistence.",
                sp.r#type
            ),
            format!(
                "{path}.session_persistence.type: SOURCE_IP maps to sel persist; LoxiLB \
                 refuses non-hash selection in DSR mode"
            ),
        ));
    }
    let algorithm = flavor_algorithm.or(pool.lb_algorithm);
    match algorithm {
        Some(LbAlgorithm::SourceIp | LbAlgorithm::SourceIpPort) => Ok(()),
        other => {
            let name = other.map_or("ROUND_ROBIN (unset)", LbAlgorithm::as_str);
            let source = if flavor_algorithm.is_some() {
                "the flavor's lb_algorithm"
            } else {
                "lb_algorithm"
            };
            Err(EventError::unsupported(
                format!(
                    "{PROVIDER} supports only lb_algorithm SOURCE_IP or SOURCE_IP_PORT in DSR \
                     mode (LoxiLB allows only hash selection there); {source} is {name}."
                ),
                format!(
                    "{path}.lb_algorithm: {name} does not map to sel hash; LoxiLB: \"Only Hash \
                     Selection criteria allowed for DSR mode\""
                ),
            ))
        }
    }
}

/// In DSR mode the member answers the client directly, so LoxiLB requires
/// each endpoint's port to equal the service port.
pub fn dsr_member_port(
    path: &str,
    member_port: Option<u16>,
    listener_port: u16,
) -> Result<(), EventError> {
    match member_port {
        Some(port) if port != listener_port => Err(EventError::unsupported(
            format!(
                "{PROVIDER} needs member protocol_port equal to the listener's protocol_port \
                 ({listener_port}) in DSR mode; {port} is not supported."
            ),
            format!(
                "{path}.protocol_port: {port} != listener port {listener_port}; LoxiLB \
                 AddLbRule \"malformed-service dsr-port error\""
            ),
        )),
        _ => Ok(()),
    }
}

/// [`dsr_member_port`] for every member of a list (`path` is the list).
pub fn dsr_member_ports<'a>(
    path: &str,
    members: impl IntoIterator<Item = &'a Member>,
    listener_port: u16,
) -> Result<(), EventError> {
    for (i, m) in members.into_iter().enumerate() {
        dsr_member_port(&index(path, i), m.protocol_port, listener_port)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;

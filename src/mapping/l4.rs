//! The transport protocol (LoxiLB's rule protocol) of listeners and pools.
//!
//! Both the rule mapping and the probe mapping need it (a probe key names the protocol of
//! the rule its member serves), so it lives below both of them instead of in `rule`,
//! which imports `probe`: that keeps the two modules from importing each other.

use crate::model::{ListenerProtocol, Pool, PoolProtocol};

use super::tree::LbTree;

/// LoxiLB's rule protocol for a listener protocol. HTTP(S) are served at L4 as tcp.
pub(crate) fn listener_l4(p: ListenerProtocol) -> &'static str {
    match p {
        ListenerProtocol::Udp => "udp",
        ListenerProtocol::Sctp => "sctp",
        ListenerProtocol::Tcp
        | ListenerProtocol::Http
        | ListenerProtocol::Https
        | ListenerProtocol::TerminatedHttps
        | ListenerProtocol::Prometheus => "tcp",
    }
}

/// LoxiLB's protocol for a pool protocol (Octavia pairs pools only with listeners of the
/// same transport, so this agrees with [`listener_l4`]).
pub(crate) fn pool_l4(p: PoolProtocol) -> &'static str {
    match p {
        PoolProtocol::Udp => "udp",
        PoolProtocol::Sctp => "sctp",
        PoolProtocol::Tcp
        | PoolProtocol::Http
        | PoolProtocol::Https
        | PoolProtocol::Proxy
        | PoolProtocol::Proxyv2 => "tcp",
    }
}

/// The protocol of the rule(s) a pool serves, which is the protocol part of its members'
/// probe keys: the protocol of a listener using it as default pool (smallest listener id),
/// else the pool's own (they agree in any configuration Octavia accepts).
pub(crate) fn pool_rule_proto(tree: &LbTree, pool: &Pool) -> Option<&'static str> {
    tree.listeners
        .iter()
        .filter(|l| tree.default_pool_of(l).map(|p| p.pool_id.as_str()) == Some(&pool.pool_id))
        .filter_map(|l| l.protocol.map(|p| (&l.listener_id, listener_l4(p))))
        .min()
        .map(|(_, proto)| proto)
        .or(pool.protocol.map(pool_l4))
}

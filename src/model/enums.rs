//! Octavia constants as Rust enums, with Octavia's exact wire strings.
//!
//! Unknown strings are rejected when an event is parsed (a value we do not
//! know is a value we cannot map to LoxiLB); supported-ness is decided later
//! in `unsupported.rs`, so every Octavia constant is representable here.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! wire_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $(#[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// Every value, in Octavia's documentation order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// Octavia's string for this value.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

wire_enum!(
    /// Listener protocols (`octavia_lib.common.constants`).
    ListenerProtocol {
        Tcp => "TCP", Udp => "UDP", Http => "HTTP", Https => "HTTPS",
        TerminatedHttps => "TERMINATED_HTTPS", Sctp => "SCTP", Prometheus => "PROMETHEUS",
    }
);

wire_enum!(
    /// Pool protocols.
    PoolProtocol {
        Tcp => "TCP", Udp => "UDP", Http => "HTTP", Https => "HTTPS",
        Proxy => "PROXY", Proxyv2 => "PROXYV2", Sctp => "SCTP",
    }
);

wire_enum!(
    /// Pool load-balancing algorithms.
    LbAlgorithm {
        RoundRobin => "ROUND_ROBIN", LeastConnections => "LEAST_CONNECTIONS",
        SourceIp => "SOURCE_IP", SourceIpPort => "SOURCE_IP_PORT",
    }
);

wire_enum!(
    /// Health monitor types.
    MonitorType {
        Http => "HTTP", Https => "HTTPS", Ping => "PING", Tcp => "TCP",
        TlsHello => "TLS-HELLO", UdpConnect => "UDP-CONNECT", Sctp => "SCTP",
    }
);

wire_enum!(
    /// HTTP methods a health monitor may use.
    HttpMethod {
        Get => "GET", Head => "HEAD", Post => "POST", Put => "PUT", Delete => "DELETE",
        Trace => "TRACE", Options => "OPTIONS", Connect => "CONNECT", Patch => "PATCH",
    }
);

wire_enum!(
    /// Session persistence types.
    SessionPersistenceType {
        SourceIp => "SOURCE_IP", HttpCookie => "HTTP_COOKIE", AppCookie => "APP_COOKIE",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_strings_round_trip_through_serde() {
        for p in ListenerProtocol::ALL {
            let v = serde_json::to_value(p).unwrap_or_default();
            assert_eq!(v, serde_json::Value::String(p.as_str().to_owned()));
            let back: ListenerProtocol = serde_json::from_value(v).unwrap_or(ListenerProtocol::Tcp);
            assert_eq!(back, *p);
        }
        assert_eq!(MonitorType::TlsHello.as_str(), "TLS-HELLO");
        assert_eq!(MonitorType::UdpConnect.to_string(), "UDP-CONNECT");
        assert_eq!(PoolProtocol::Proxyv2.as_str(), "PROXYV2");
        assert_eq!(
            ListenerProtocol::TerminatedHttps.as_str(),
            "TERMINATED_HTTPS"
        );
        assert_eq!(LbAlgorithm::SourceIpPort.as_str(), "SOURCE_IP_PORT");
        assert!(serde_json::from_str::<MonitorType>("\"tcp\"").is_err());
        assert_eq!(HttpMethod::ALL.len(), 9);
    }
}

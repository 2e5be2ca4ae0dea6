//! What a case works with: the API, the expectations, its port and backends, and the
//! guard that remembers everything created so it can be removed.

use std::net::{IpAddr, SocketAddr};

use reqwest::Method;
use serde_json::{json, Value};

use super::api::{Api, Reply};
use super::checks::Expect;
use super::guard::{Guard, ProbeRef, RuleRef};
use super::{neighbour_port, ConformanceError};

/// Shorthand for a case's result.
pub type Res<T> = Result<T, ConformanceError>;

pub struct Ctx {
    pub api: Api,
    pub expect: Expect,
    /// Rule name of this run: `octavia-conformance-<run id>`.
    pub name: String,
    pub vip: IpAddr,
    /// The port of --port-range given to the running case (0 when it needs none).
    pub port: u16,
    pub backends: Vec<SocketAddr>,
    pub guard: Guard,
    /// Credentials the run logged in with, for the login case.
    pub credentials: Option<(String, String)>,
    /// `/version` as read at the start.
    pub version_reply: Option<Reply>,
}

/// One endpoint of a posted rule.
#[derive(Debug, Clone, Copy)]
pub struct Ep {
    pub ip: IpAddr,
    pub port: u16,
    pub weight: u16,
}

impl Ctx {
    pub fn vip_text(&self) -> String {
        self.vip.to_string()
    }

    /// The first backend (cases needing one run only when it is there).
    pub fn backend(&self) -> Res<SocketAddr> {
        self.backends
            .first()
            .copied()
            .ok_or_else(|| ConformanceError::Usage("case needs a --backend".into()))
    }

    /// The first backend as an endpoint of weight 1.
    pub fn ep(&self) -> Res<Ep> {
        let b = self.backend()?;
        Ok(Ep {
            ip: b.ip(),
            port: b.port(),
            weight: 1,
        })
    }

    /// The i-th extra endpoint of unmonitored rules: the first backend's address on a
    /// neighbouring port (no probe runs for it: the rule has no monitor and mode dnat).
    pub fn neighbour(&self, i: u16) -> Res<Ep> {
        let b = self.backend()?;
        Ok(Ep {
            ip: b.ip(),
            port: neighbour_port(b.port(), i),
            weight: 1,
        })
    }

    /// A rule body on this case's port: `args` is merged into serviceArguments.
    pub fn rule(&self, eps: &[Ep], args: Value) -> Value {
        let mut sa = json!({
            "externalIP": self.vip_text(),
            "port": self.port,
            "protocol": "tcp",
            "name": self.name,
        });
        if let (Some(base), Value::Object(extra)) = (sa.as_object_mut(), args) {
            base.extend(extra);
        }
        let eps: Vec<Value> = eps
            .iter()
            .map(|e| json!({"endpointIP": e.ip.to_string(), "targetPort": e.port, "weight": e.weight}))
            .collect();
        json!({"serviceArguments": sa, "endpoints": eps})
    }

    /// POST a rule; the guard learns it first so an interruption cannot leak it.
    pub async fn post_rule(&mut self, body: &Value) -> Res<Reply> {
        self.guard.rules.push(RuleRef {
            ip: self.vip_text(),
            port: self.port,
            protocol: "tcp".into(),
        });
        self.guard.touch_rule(body);
        self.api
            .call(Method::POST, "/config/loadbalancer", Some(body))
            .await
    }

    /// DELETE this case's rule by address.
    pub async fn delete_rule(&self) -> Res<Reply> {
        let r = RuleRef {
            ip: self.vip_text(),
            port: self.port,
            protocol: "tcp".into(),
        };
        self.api.call(Method::DELETE, &r.path(), None).await
    }

    /// POST a probe; the guard learns it first.
    pub async fn post_probe(&mut self, body: &Value) -> Res<Reply> {
        if let Some(p) = ProbeRef::of_body(body) {
            if p.name.is_none() && p.probe_type == "tcp" {
                self.guard.touched.insert((p.host.clone(), p.port));
            }
            self.guard.probes.push(p);
        }
        self.api
            .call(Method::POST, "/config/endpoint", Some(body))
            .await
    }

    pub async fn list_rules(&self) -> Res<Reply> {
        self.api
            .call(Method::GET, "/config/loadbalancer/all", None)
            .await
    }

    pub async fn list_probes(&self) -> Res<Reply> {
        self.api
            .call(Method::GET, "/config/endpoint/all", None)
            .await
    }
}

//! LoxiLB's behaviour as a pure, synchronous state machine.
//!
//! Everything the simulator knows about LoxiLB (rule and probe bookkeeping, validation
//! order, error texts, the firewall side effects, the probe schedule) lives here, with no
//! tokio, sockets, files or clocks: a call goes in as an [`apply::Request`] and comes back
//! as a [`apply::Response`] plus [`effect::Effect`]s for the runtime. That is why the
//! fidelity tests against LoxiLB's Go source can be plain unit tests, and why the server,
//! the probers and the control knobs cannot bend LoxiLB's rules by accident.
//!
//! Layers, bottom up (a module only uses those above it in this list):
//! - data: `ep_host` (one probe), `rules_eps`, `rules_check`, `firewall`, `rule_table`,
//!   `effect`, `answer`, then `sim` (the whole state);
//! - handlers, one per resource, each an `impl Sim` plus an op enum: `endpoints`,
//!   `rules` (with `rules_probes` and `rules_list`), `system` (auth, version, process),
//!   `control` (test knobs on the configuration), `schedule` (the probe checkers' decisions);
//! - `apply`, which routes a request to its handler.

mod answer;
mod apply;
mod control;
mod effect;
mod endpoints;
mod ep_host;
mod firewall;
mod rule_table;
mod rules;
mod rules_check;
mod rules_eps;
mod rules_list;
mod rules_probes;
mod schedule;
mod sim;
mod system;

#[cfg(test)]
mod tests;

pub(crate) use apply::{apply, Op, Request, Response};
pub use control::ScriptedEndpoint;
pub(crate) use effect::Effect;
pub(crate) use endpoints::EndpointOp;
pub(crate) use ep_host::{Outcome, ProbeOpts};
pub use firewall::FirewallEntry;
pub(crate) use rules::RuleOp;
pub use rules_list::RuleInfo;
pub(crate) use schedule::{select, CheckStart, Clock, Pick, CHECKER_SECS};
pub(crate) use sim::{Setup, Sim, CHECKERS};
pub(crate) use system::SystemOp;

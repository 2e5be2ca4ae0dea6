//! How a rule's endpoints hold their probe entries (modNatEpHost in pkg/loxinet/rules.go):
//! the rule side of the reference counting in [`super::endpoints`].

use super::ep_host::make_key;
use super::rules_eps::{entry_opts, key_proto, ProbeSource, RuleEp};
use super::sim::Sim;

impl Sim {
    /// modNatEpHost with doAddOp: endpoints not hidden and not yet holding a reference
    /// acquire one; hidden endpoints forget theirs.
    pub(crate) fn eps_acquire(&mut self, src: &ProbeSource<'_>, eps: &mut [RuleEp], live: bool) {
        for e in eps.iter_mut() {
            if e.hidden {
                e.ep_created = false;
                continue;
            }
            if e.ep_created {
                continue;
            }
            let Some(opts) = entry_opts(src, e.port) else {
                continue;
            };
            let (ptype, pport) = key_proto(src.protocol, e.port);
            let host = e.ip.to_string();
            self.ep_acquire(&make_key(&host, ptype, pport), &host, &opts, live);
            e.ep_created = true;
        }
    }

    /// modNatEpHost without doAddOp: endpoints holding a reference release it. As in
    /// LoxiLB, the endpoint keeps its mark when the entry survives (other references).
    pub(crate) fn eps_release(&mut self, protocol: &str, eps: &mut [RuleEp]) {
        for e in eps.iter_mut().filter(|e| e.ep_created) {
            let (ptype, pport) = key_proto(protocol, e.port);
            if self.ep_release(&make_key(&e.ip.to_string(), ptype, pport)) {
                e.ep_created = false;
            }
        }
    }
}

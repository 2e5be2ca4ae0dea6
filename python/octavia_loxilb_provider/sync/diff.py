"""What differs between Octavia's view of a load balancer and the daemon's.

Compared per object: presence, and the values of (a) every key the daemon
stored and (b) the keys the daemon turns into LoxiLB state (``LOXILB_INPUTS``).
Why not every key Octavia has: the daemon stores only the fields it models,
so a key it never keeps (Octavia's bookkeeping, fields newer than the daemon)
would show as a permanent false difference. (b) makes sure a value the daemon
is missing altogether is still caught when it matters for LoxiLB.

``null`` and an absent key are the same (the daemon does not store nulls);
addresses and CIDRs are compared in canonical form; lists of scalars
regardless of order. Nested child copies are never compared (see ``tree``).
"""

import ipaddress
from dataclasses import dataclass

from octavia_loxilb_provider.sync.tree import ID_KEY, NESTED

#: The fields the daemon maps onto LoxiLB rules and probes, per kind.
LOXILB_INPUTS = {
    "loadbalancer": ("vip_address", "admin_state_up", "flavor"),
    "listener": ("loadbalancer_id", "protocol", "protocol_port", "admin_state_up",
                 "connection_limit", "default_pool_id", "allowed_cidrs",
                 "timeout_client_data", "timeout_member_connect",
                 "timeout_member_data", "timeout_tcp_inspect"),
    "pool": ("loadbalancer_id", "listener_id", "protocol", "lb_algorithm",
             "admin_state_up", "session_persistence"),
    "member": ("pool_id", "address", "protocol_port", "weight", "admin_state_up",
               "backup", "monitor_address", "monitor_port"),
    "health_monitor": ("pool_id", "type", "delay", "timeout", "max_retries",
                       "max_retries_down", "http_method", "url_path",
                       "expected_codes", "admin_state_up"),
}

KINDS = ("loadbalancer", "listener", "pool", "member", "health_monitor")


@dataclass(frozen=True)
class Difference:
    """One difference; ``field`` is None for a whole object."""

    loadbalancer_id: str
    kind: str
    object_id: str
    field: object = None
    octavia: object = None
    daemon: object = None

    def text(self):
        where = f"loadbalancer {self.loadbalancer_id}"
        if self.kind != "loadbalancer":
            where += f" {self.kind} {self.object_id}"
        if self.field is None:
            side = "only in Octavia" if self.daemon is None else "only in the daemon"
            return f"{where}: {side}"
        return (f"{where}: {self.field}: Octavia {_show(self.octavia)}, "
                f"daemon {_show(self.daemon)}")


def _show(v):
    return "(none)" if v is None else repr(v)


def _canon(value):
    if isinstance(value, str):
        for parse in (ipaddress.ip_address, lambda s: ipaddress.ip_network(s, strict=False)):
            try:
                return str(parse(value))
            except ValueError:
                pass
        return value
    if isinstance(value, list):
        items = [_canon(v) for v in value]
        if all(not isinstance(v, (dict, list)) for v in items):
            return sorted(items, key=repr)
        return items
    if isinstance(value, dict):
        return {k: _canon(v) for k, v in value.items() if v is not None}
    return value


def object_differences(lb_id, kind, octavia, daemon):
    """Field differences of one object present on both sides."""
    keys = (set(daemon) | set(LOXILB_INPUTS[kind])) - set(NESTED[kind])
    found = []
    for key in sorted(keys):
        a, b = _canon(octavia.get(key)), _canon(daemon.get(key))
        if a != b:
            found.append(Difference(lb_id, kind, str(octavia[ID_KEY[kind]]),
                                    key, octavia.get(key), daemon.get(key)))
    return found


def tree_differences(octavia, daemon):
    """Every difference between two LbTrees of the same load balancer;
    ``daemon`` None means the daemon does not hold it at all."""
    lb_id = octavia.id
    if daemon is None:
        return [Difference(lb_id, "loadbalancer", lb_id, octavia=True)]
    found = []
    for kind in KINDS:
        key = ID_KEY[kind]
        ours = {str(o[key]): o for o in octavia.objects(kind)}
        theirs = {str(o[key]): o for o in daemon.objects(kind)}
        for oid in sorted(ours.keys() - theirs.keys()):
            found.append(Difference(lb_id, kind, oid, octavia=True))
        for oid in sorted(theirs.keys() - ours.keys()):
            found.append(Difference(lb_id, kind, oid, daemon=True))
        for oid in sorted(ours.keys() & theirs.keys()):
            found.extend(object_differences(lb_id, kind, ours[oid], theirs[oid]))
    return found

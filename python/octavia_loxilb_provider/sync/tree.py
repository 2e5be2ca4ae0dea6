"""One load balancer as flat wire objects, in the daemon's desired-state shape.

The daemon keeps one row per object and ignores nested copies (a listener's
``default_pool``, a pool's ``members`` and ``healthmonitor``, a load
balancer's ``listeners`` and ``pools``): they are snapshots that go stale as
soon as a child changes. So the tool splits Octavia's nested provider dict
into the same five flat lists the daemon answers with, and sends each object
with its own event.
"""

from dataclasses import dataclass, field
from typing import List

#: Keys holding nested child objects, per kind: never sent, never compared.
NESTED = {
    "loadbalancer": ("listeners", "pools"),
    "listener": ("default_pool",),
    "pool": ("members", "healthmonitor"),
    "member": (),
    "health_monitor": (),
}

#: Each kind's id key, as in octavia-lib's provider dicts.
ID_KEY = {
    "loadbalancer": "loadbalancer_id",
    "listener": "listener_id",
    "pool": "pool_id",
    "member": "member_id",
    "health_monitor": "healthmonitor_id",
}

#: Kind -> the list key of the daemon's ``GET /v1/desired/loadbalancers/{id}``.
LIST_KEY = {
    "listener": "listeners",
    "pool": "pools",
    "member": "members",
    "health_monitor": "health_monitors",
}


def flat(kind, obj):
    """``obj`` without its nested children."""
    return {k: v for k, v in obj.items() if k not in NESTED[kind]}


@dataclass
class LbTree:
    """A load balancer and every object below it, each a flat wire dict."""

    loadbalancer: dict
    listeners: List[dict] = field(default_factory=list)
    pools: List[dict] = field(default_factory=list)
    members: List[dict] = field(default_factory=list)
    health_monitors: List[dict] = field(default_factory=list)

    @property
    def id(self):
        return self.loadbalancer["loadbalancer_id"]

    def objects(self, kind):
        """The flat objects of one kind (a list; one element for the LB)."""
        if kind == "loadbalancer":
            return [self.loadbalancer]
        return getattr(self, LIST_KEY[kind])

    @classmethod
    def from_wire(cls, lb):
        """Splits a nested provider dict (``to_wire`` of a provider LoadBalancer)."""
        tree = cls(loadbalancer=flat("loadbalancer", lb))
        for listener in lb.get("listeners") or []:
            tree.listeners.append(flat("listener", listener))
        for pool in lb.get("pools") or []:
            tree.pools.append(flat("pool", pool))
            tree.members.extend(flat("member", m) for m in pool.get("members") or [])
            hm = pool.get("healthmonitor")
            if hm:
                tree.health_monitors.append(flat("health_monitor", hm))
        tree.sort()
        return tree

    @classmethod
    def from_daemon(cls, answer):
        """The daemon's ``GET /v1/desired/loadbalancers/{id}`` answer."""
        tree = cls(loadbalancer=answer["loadbalancer"])
        for kind, key in LIST_KEY.items():
            setattr(tree, key, list(answer.get(key) or []))
        tree.sort()
        return tree

    def sort(self):
        for kind, key in LIST_KEY.items():
            getattr(self, key).sort(key=lambda o, k=ID_KEY[kind]: str(o.get(k)))

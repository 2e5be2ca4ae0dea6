"""The provider events that make the daemon hold a load balancer as Octavia does.

The same methods and argument names the provider plugin forwards
(``driver.py``). Every one is idempotent against the daemon: creates are
upserts of desired state, a member batch is the pool's complete member list,
and the applier diffs desired state against what it applied, so replaying
the whole set changes nothing on LoxiLB.

Order: the load balancer, its listeners, its pools, the health monitors, and
last each pool's members (one batch, which also removes members Octavia no
longer has); then deletions of what only the daemon holds, children first.

Why members last: a listener has a rule only once its pool has a member that
can serve, so with everything else already there the first rule the daemon
computes is the final one, and LoxiLB gets one create. With members before
the monitor, the daemon would first apply a rule without a monitor; when the
monitor arrived it would have to re-create the rule (LoxiLB keeps an existing
rule's monitor flag), and a re-create deletes the rule for a moment: a gap on
a VIP port that was serving, and the end of a rule we are adopting.
"""

from octavia_loxilb_provider.sync.tree import ID_KEY


def event(method, **args):
    return {"method": method, "args": args}


def for_tree(tree):
    """Create/upsert events for every object of an Octavia LbTree."""
    out = [event("loadbalancer_create", loadbalancer=tree.loadbalancer)]
    out += [event("listener_create", listener=l) for l in tree.listeners]
    out += [event("pool_create", pool=p) for p in tree.pools]
    out += [event("health_monitor_create", healthmonitor=h)
            for h in tree.health_monitors]
    for pool in tree.pools:
        pid = pool["pool_id"]
        members = [m for m in tree.members if m.get("pool_id") == pid]
        out.append(event("member_batch_update", pool_id=pid, members=members))
    return out


def deletions(octavia, daemon):
    """Delete events for listeners, pools and health monitors that only the
    daemon holds (members go with their pool's batch, or with the pool)."""
    if daemon is None:
        return []
    out = []
    for kind, method, arg in (("health_monitor", "health_monitor_delete", "healthmonitor"),
                              ("pool", "pool_delete", "pool"),
                              ("listener", "listener_delete", "listener")):
        key = ID_KEY[kind]
        keep = {str(o[key]) for o in octavia.objects(kind)}
        for obj in daemon.objects(kind):
            if str(obj[key]) not in keep:
                out.append(event(method, **{arg: obj}))
    return out


def prune(daemon):
    """Deleting a load balancer that only the daemon holds (``--prune``)."""
    return [event("loadbalancer_delete", loadbalancer=daemon.loadbalancer, cascade=True)]

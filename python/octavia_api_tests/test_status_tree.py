"""The status tree (GET /loadbalancers/{id}/status) follows a backend down and up."""

import builders
from blame import step

TIMEOUT = 45.0


def _statuses(tree):
    """{"lb": s, "listener": s, "pool": s, member address: s} from a status tree."""
    out = {"lb": tree["operating_status"]}
    for li in tree["listeners"]:
        out["listener"] = li["operating_status"]
        for p in li["pools"]:
            out["pool"] = p["operating_status"]
            for m in p["members"]:
                out[m["address"]] = m["operating_status"]
    return out


def _wait_tree(api, lb_id, want):
    import time
    deadline = time.monotonic() + TIMEOUT
    while True:
        got = _statuses(api.status_tree(lb_id))
        if got == want:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"status tree {got}, expected {want} within {TIMEOUT}s")
        time.sleep(0.3)


def test_status_tree_follows_a_backend_down_and_up(world, api, vip):
    b1, b2 = world.backends
    lb, li, p, members, hm = builders.full_tree(world, api, vip, port=8084)
    online = {"lb": "ONLINE", "listener": "ONLINE", "pool": "ONLINE",
              b1.address: "ONLINE", b2.address: "ONLINE"}
    with step(world, "status tree all ONLINE with both backends up",
              objects=[m["id"] for m in members]):
        _wait_tree(api, lb["id"], online)
    b2.stop()
    try:
        # As Octavia's amphora driver reports it: the listener keeps the
        # frontend's state (ONLINE: it still accepts connections), while the
        # pool and the load balancer are DEGRADED.
        with step(world, "backend 2 stopped: member ERROR, pool and LB DEGRADED",
                  objects=[m["id"] for m in members]):
            _wait_tree(api, lb["id"], {**online, "pool": "DEGRADED", "lb": "DEGRADED",
                                       b2.address: "ERROR"})
    finally:
        b2.start()
    with step(world, "backend 2 back: status tree all ONLINE again",
              objects=[m["id"] for m in members]):
        _wait_tree(api, lb["id"], online)
    with step(world, "cascade delete", objects=[lb["id"]]):
        api.delete("loadbalancer", lb["id"], "?cascade=true")
        api.wait_gone("loadbalancer", lb["id"])

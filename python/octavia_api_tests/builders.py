"""Building blocks the scenarios share: each is one client action plus the wait
for ACTIVE that a client does after it, run as a named step."""

from blame import step

SUBNET = "0b6c3f0e-8d1f-4b7a-9e52-6a1d3c9f7e21"


def loadbalancer(world, api, vip, name="lb"):
    with step(world, f"create load balancer {name} on {vip} -> ACTIVE", suspect="daemon") as s:
        lb = api.create("loadbalancer", name=name, vip_address=vip, vip_subnet_id=SUBNET)
        s.objects.add(lb["id"])
        api.wait_active(lb["id"])
    return lb


def listener(world, api, lb, port=80, protocol="TCP", **fields):
    with step(world, f"create {protocol} listener :{port} -> ACTIVE") as s:
        li = api.create("listener", loadbalancer_id=lb["id"], protocol=protocol,
                        protocol_port=port, **fields)
        s.objects.add(li["id"])
        api.wait_active(lb["id"], ("listener", li["id"]))
    return li


def pool(world, api, lb, li, protocol="TCP", algorithm="ROUND_ROBIN", **fields):
    with step(world, f"create {protocol} pool {algorithm} -> ACTIVE") as s:
        p = api.create("pool", listener_id=li["id"], protocol=protocol,
                       lb_algorithm=algorithm, **fields)
        s.objects.add(p["id"])
        api.wait_active(lb["id"], ("pool", p["id"]))
    return p


def member(world, api, lb, p, backend, **fields):
    with step(world, f"create member {backend.address}:{backend.port} -> ACTIVE") as s:
        m = api.create_member(p["id"], **backend.member(**fields))
        s.objects.add(m["id"])
        api.wait_active(lb["id"], ("member", p["id"], m["id"]))
    return m


def health_monitor(world, api, lb, p, kind="HTTP", **fields):
    body = {"delay": 2, "timeout": 1, "max_retries": 1, **fields}
    if kind in ("HTTP", "HTTPS"):
        body.setdefault("url_path", "/")
    with step(world, f"create {kind} health monitor -> ACTIVE") as s:
        hm = api.create("healthmonitor", pool_id=p["id"], type=kind, **body)
        s.objects.add(hm["id"])
        api.wait_active(lb["id"], ("healthmonitor", hm["id"]))
    return hm


def full_tree(world, api, vip, port=80, monitor=True):
    """A load balancer with a TCP listener, a pool, both backends as members
    and (by default) an HTTP health monitor."""
    lb = loadbalancer(world, api, vip)
    li = listener(world, api, lb, port=port)
    p = pool(world, api, lb, li)
    members = [member(world, api, lb, p, b) for b in world.backends]
    hm = health_monitor(world, api, lb, p) if monitor else None
    return lb, li, p, members, hm

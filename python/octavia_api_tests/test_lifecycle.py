"""Every provider operation through Octavia's API, with the LoxiLB side checked."""

import builders
import loxilb_view
from blame import step


def test_loadbalancer_create_update_failover_delete(world, api, vip):
    lb = builders.loadbalancer(world, api, vip)
    with step(world, "load balancer goes ONLINE after create", objects=[lb["id"]]):
        api.wait_operating("loadbalancer", lb["id"], "ONLINE")
    with step(world, "update load balancer name and description -> ACTIVE", objects=[lb["id"]]):
        api.update("loadbalancer", lb["id"], name="lb-renamed", description="renamed")
        api.wait_active(lb["id"])
        assert api.show("loadbalancer", lb["id"])["name"] == "lb-renamed"
    li = builders.listener(world, api, lb, port=81)
    p = builders.pool(world, api, lb, li)
    builders.member(world, api, lb, p, world.backends[0])
    with step(world, "failover -> ACTIVE, rule kept on LoxiLB", objects=[lb["id"]]):
        api.ok("PUT", f"/loadbalancers/{lb['id']}/failover")
        api.wait_active(lb["id"])
        assert (81, "tcp") in loxilb_view.rules(world.sim_url, vip)
    with step(world, "delete pool, then listener -> rule gone from LoxiLB",
              objects=[p["id"], li["id"]]):
        api.delete_and_wait("pool", p["id"], lb["id"])
        api.delete_and_wait("listener", li["id"], lb["id"])
        assert loxilb_view.rules(world.sim_url, vip) == {}
    with step(world, "delete load balancer -> gone", objects=[lb["id"]]):
        api.delete_and_wait("loadbalancer", lb["id"])


def test_listener_pool_member_monitor_lifecycle(world, api, vip):
    b1, b2 = world.backends
    lb = builders.loadbalancer(world, api, vip)
    li = builders.listener(world, api, lb, port=8080)
    with step(world, "listener without members: no rule on LoxiLB (it refuses empty rules)"):
        assert loxilb_view.rules(world.sim_url, vip) == {}
    with step(world, "update listener (name, connection limit) -> ACTIVE", objects=[li["id"]]):
        api.update("listener", li["id"], name="web", connection_limit=1000)
        api.wait_active(lb["id"], ("listener", li["id"]))
    p = builders.pool(world, api, lb, li)
    m1 = builders.member(world, api, lb, p, b1)
    m2 = builders.member(world, api, lb, p, b2, weight=3)
    with step(world, "LoxiLB rule holds both members with their weights"):
        eps = loxilb_view.rules(world.sim_url, vip)[(8080, "tcp")]["endpoints"]
        assert set(eps) == {(b1.address, b1.port), (b2.address, b2.port)}, eps
    with step(world, "update pool algorithm to LEAST_CONNECTIONS -> ACTIVE", objects=[p["id"]]):
        before = loxilb_view.rules(world.sim_url, vip)[(8080, "tcp")]["sel"]
        api.update("pool", p["id"], lb_algorithm="LEAST_CONNECTIONS")
        api.wait_active(lb["id"], ("pool", p["id"]))
        after = loxilb_view.rules(world.sim_url, vip)[(8080, "tcp")]["sel"]
        assert after != before, f"LoxiLB selection still {before}"
    with step(world, "update member weight -> ACTIVE", objects=[m1["id"]]):
        api.ok("PUT", f"/pools/{p['id']}/members/{m1['id']}", {"member": {"weight": 5}})
        api.wait_active(lb["id"], ("member", p["id"], m1["id"]))
    hm = builders.health_monitor(world, api, lb, p)
    with step(world, "health monitor: LoxiLB probes both members over HTTP"):
        rule = loxilb_view.rules(world.sim_url, vip)[(8080, "tcp")]
        assert rule["monitor"], rule
        found = loxilb_view.probes(world.sim_url, {b1.address, b2.address})
        kinds = {h: sorted(p.get("probeType") for p in ps) for h, ps in found.items()}
        assert kinds == {b1.address: ["http"], b2.address: ["http"]}, kinds
    with step(world, "update health monitor delay and timeout -> ACTIVE", objects=[hm["id"]]):
        api.update("healthmonitor", hm["id"], delay=3, timeout=2)
        api.wait_active(lb["id"], ("healthmonitor", hm["id"]))
    with step(world, "delete health monitor -> gone, HTTP probes off", objects=[hm["id"]]):
        api.delete_and_wait("healthmonitor", hm["id"], lb["id"])
        assert not loxilb_view.rules(world.sim_url, vip)[(8080, "tcp")]["monitor"]
        found = loxilb_view.probes(world.sim_url, {b1.address, b2.address})
        http = [p for ps in found.values() for p in ps if p.get("probeType") == "http"]
        assert http == [], http
    with step(world, "delete member -> one endpoint left on LoxiLB", objects=[m2["id"]]):
        api.ok("DELETE", f"/pools/{p['id']}/members/{m2['id']}")
        api.wait_active(lb["id"], ("pool", p["id"]))
        eps = loxilb_view.rules(world.sim_url, vip)[(8080, "tcp")]["endpoints"]
        assert set(eps) == {(b1.address, b1.port)}, eps
    with step(world, "delete pool -> gone, no rule left on LoxiLB", objects=[p["id"]]):
        api.delete_and_wait("pool", p["id"], lb["id"])
        assert loxilb_view.rules(world.sim_url, vip) == {}
    with step(world, "delete listener -> gone", objects=[li["id"]]):
        api.delete_and_wait("listener", li["id"], lb["id"])
        assert loxilb_view.rules(world.sim_url, vip) == {}
    with step(world, "delete load balancer -> gone", objects=[lb["id"]]):
        api.delete_and_wait("loadbalancer", lb["id"])


def test_member_batch_update(world, api, vip):
    b1, b2 = world.backends
    lb = builders.loadbalancer(world, api, vip)
    li = builders.listener(world, api, lb, port=8081)
    p = builders.pool(world, api, lb, li)
    builders.member(world, api, lb, p, b1)
    with step(world, "batch update: replace member 1 by member 2 -> ACTIVE", objects=[p["id"]]):
        api.ok("PUT", f"/pools/{p['id']}/members", {"members": [b2.member(weight=2)]})
        api.wait_active(lb["id"], ("pool", p["id"]))
        addrs = {(m["address"], m["protocol_port"]) for m in api.members(p["id"])}
        assert addrs == {(b2.address, b2.port)}, addrs
    with step(world, "batch update reached LoxiLB: only member 2 in the rule"):
        eps = loxilb_view.rules(world.sim_url, vip)[(8081, "tcp")]["endpoints"]
        assert set(eps) == {(b2.address, b2.port)}, eps
    with step(world, "batch update: both members -> ACTIVE", objects=[p["id"]]):
        api.ok("PUT", f"/pools/{p['id']}/members",
               {"members": [b1.member(), b2.member(weight=2)]})
        api.wait_active(lb["id"], ("pool", p["id"]))
        eps = loxilb_view.rules(world.sim_url, vip)[(8081, "tcp")]["endpoints"]
        assert set(eps) == {(b1.address, b1.port), (b2.address, b2.port)}, eps
    _cascade_delete(world, api, lb, vip)


def test_cascade_delete(world, api, vip):
    lb, li, p, members, hm = builders.full_tree(world, api, vip, port=8082)
    _cascade_delete(world, api, lb, vip, children=[("listener", li["id"]), ("pool", p["id"]),
                                                    ("healthmonitor", hm["id"])])


def _cascade_delete(world, api, lb, vip, children=()):
    with step(world, "cascade delete -> load balancer and children gone, LoxiLB empty",
              objects=[lb["id"]]):
        api.delete("loadbalancer", lb["id"], "?cascade=true")
        api.wait_gone("loadbalancer", lb["id"])
        for kind, oid in children:
            assert not api.exists(kind, oid), f"{kind} {oid} survived the cascade"
        assert loxilb_view.rules(world.sim_url, vip) == {}


def test_health_monitor_operating_status_follows_admin_state(world, api, vip):
    """Octavia's amphora driver: an enabled monitor is ONLINE, a disabled one OFFLINE."""
    lb = builders.loadbalancer(world, api, vip)
    li = builders.listener(world, api, lb, port=8083)
    p = builders.pool(world, api, lb, li)
    builders.member(world, api, lb, p, world.backends[0])
    hm = builders.health_monitor(world, api, lb, p)
    with step(world, "enabled health monitor is ONLINE (Octavia amphora parity)",
              objects=[hm["id"]]):
        api.wait_operating("healthmonitor", hm["id"], "ONLINE", timeout=10)
    with step(world, "disabled health monitor is OFFLINE", objects=[hm["id"]]):
        api.update("healthmonitor", hm["id"], admin_state_up=False)
        api.wait_active(lb["id"], ("healthmonitor", hm["id"]))
        api.wait_operating("healthmonitor", hm["id"], "OFFLINE", timeout=10)
    with step(world, "re-enabled health monitor is ONLINE again", objects=[hm["id"]]):
        api.update("healthmonitor", hm["id"], admin_state_up=True)
        api.wait_active(lb["id"], ("healthmonitor", hm["id"]))
        api.wait_operating("healthmonitor", hm["id"], "ONLINE", timeout=10)
    _cascade_delete(world, api, lb, vip)


def test_admin_state_down_takes_the_rule_off_and_up_puts_it_back(world, api, vip):
    b1, b2 = world.backends
    lb = builders.loadbalancer(world, api, vip)
    li = builders.listener(world, api, lb, port=8087)
    p = builders.pool(world, api, lb, li)
    m1 = builders.member(world, api, lb, p, b1)
    builders.member(world, api, lb, p, b2)
    both = {(b1.address, b1.port), (b2.address, b2.port)}

    def endpoints():
        return set(loxilb_view.rules(world.sim_url, vip).get((8087, "tcp"), {})
                   .get("endpoints", {}))

    with step(world, "member admin down -> ACTIVE, OFFLINE, its endpoint off LoxiLB",
              objects=[m1["id"]]):
        api.ok("PUT", f"/pools/{p['id']}/members/{m1['id']}",
               {"member": {"admin_state_up": False}})
        api.wait_active(lb["id"], ("member", p["id"], m1["id"]))
        api.wait_operating("member", (p["id"], m1["id"]), "OFFLINE")
        assert endpoints() == {(b2.address, b2.port)}, endpoints()
    with step(world, "member admin up -> NO_MONITOR (no health monitor), endpoint back",
              objects=[m1["id"]]):
        api.ok("PUT", f"/pools/{p['id']}/members/{m1['id']}",
               {"member": {"admin_state_up": True}})
        api.wait_active(lb["id"], ("member", p["id"], m1["id"]))
        api.wait_operating("member", (p["id"], m1["id"]), "NO_MONITOR")
        assert endpoints() == both, endpoints()
    for kind, oid in (("listener", li["id"]), ("loadbalancer", lb["id"])):
        with step(world, f"{kind} admin down -> OFFLINE, rule off LoxiLB", objects=[oid]):
            api.update(kind, oid, admin_state_up=False)
            api.wait_active(lb["id"], (kind, oid))
            api.wait_operating(kind, oid, "OFFLINE")
            assert endpoints() == set(), endpoints()
        with step(world, f"{kind} admin up -> ONLINE, rule back on LoxiLB", objects=[oid]):
            api.update(kind, oid, admin_state_up=True)
            api.wait_active(lb["id"], (kind, oid))
            api.wait_operating(kind, oid, "ONLINE")
            assert endpoints() == both, endpoints()
    _cascade_delete(world, api, lb, vip)


def test_udp_listener_with_source_ip_pool(world, api, vip):
    b1 = world.backends[0]
    lb = builders.loadbalancer(world, api, vip)
    li = builders.listener(world, api, lb, port=5353, protocol="UDP")
    p = builders.pool(world, api, lb, li, protocol="UDP", algorithm="SOURCE_IP")
    builders.member(world, api, lb, p, b1)
    with step(world, "UDP rule on LoxiLB with the member"):
        rule = loxilb_view.rules(world.sim_url, vip)[(5353, "udp")]
        assert set(rule["endpoints"]) == {(b1.address, b1.port)}, rule
    _cascade_delete(world, api, lb, vip)

"""Outages: the daemon down (a clear, fast 500 and nothing half-created) and
LoxiLB down (the change waits in PENDING, then completes once LoxiLB is back)."""

import time

import builders
import loxilb_view
from blame import step
from octavia_client import PROJECT
from processes import wait_for

#: Octavia's answer to a provider that cannot be reached must come this fast.
FAST = 1.0


def test_daemon_down_gives_a_fast_500_and_creates_nothing(world, api, vip):
    lb = builders.loadbalancer(world, api, vip)
    daemon = world.procs["daemon"]
    daemon.stop()
    try:
        with step(world, "daemon down: listener create is a 500 within a second",
                  suspect="plugin"):
            answer = api.call("POST", "/listeners", {"listener": {
                "loadbalancer_id": lb["id"], "protocol": "TCP", "protocol_port": 8085,
                "project_id": PROJECT}})
            assert answer.status == 500, answer
            assert answer.seconds < FAST, answer
            assert "loxilb provider is temporarily unavailable" in answer.fault(), answer
        with step(world, "daemon down: no listener, load balancer still ACTIVE",
                  suspect="Octavia"):
            shown = api.show("loadbalancer", lb["id"])
            assert shown["listeners"] == [], shown["listeners"]
            assert shown["provisioning_status"] == "ACTIVE", shown
        with step(world, "daemon down: load balancer create is a 500, none created",
                  suspect="plugin"):
            answer = api.call("POST", "/loadbalancers", {"loadbalancer": {
                "name": "never", "vip_address": "127.0.2.99",
                "vip_subnet_id": builders.SUBNET, "project_id": PROJECT}})
            assert answer.status == 500 and answer.seconds < FAST, answer
            names = [x["name"] for x in api.ok("GET", "/loadbalancers")["loadbalancers"]]
            assert "never" not in names, names
        with step(world, "daemon down: cascade delete is a 500, load balancer kept ACTIVE",
                  suspect="plugin"):
            answer = api.call("DELETE", f"/loadbalancers/{lb['id']}?cascade=true")
            assert answer.status == 500 and answer.seconds < FAST, answer
            assert api.show("loadbalancer", lb["id"])["provisioning_status"] == "ACTIVE"
    finally:
        world.start_daemon()
    li = builders.listener(world, api, lb, port=8085)
    with step(world, "daemon back: cascade delete", objects=[lb["id"], li["id"]]):
        api.delete("loadbalancer", lb["id"], "?cascade=true")
        api.wait_gone("loadbalancer", lb["id"])


def test_loxilb_down_keeps_pending_then_goes_active(world, api, vip):
    """The simulator is stopped and started again empty, as a restarted LoxiLB
    node is: the rule made before the outage must come back with the change."""
    b1, b2 = world.backends
    lb = builders.loadbalancer(world, api, vip)
    li = builders.listener(world, api, lb, port=8086)
    p = builders.pool(world, api, lb, li)
    builders.member(world, api, lb, p, b2)
    sim = world.procs["simulator"]
    sim.stop()
    try:
        with step(world, "LoxiLB down: member create accepted, stays PENDING",
                  suspect="daemon") as s:
            m = api.create_member(p["id"], **b1.member())
            s.objects.add(m["id"])
            time.sleep(4)
            state = api.member(p["id"], m["id"])["provisioning_status"]
            lb_state = api.show("loadbalancer", lb["id"])["provisioning_status"]
            assert state == "PENDING_CREATE", state
            assert lb_state == "PENDING_UPDATE", lb_state
    finally:
        world.start_simulator()
    with step(world, "LoxiLB back: member ACTIVE", objects=[m["id"]]):
        api.wait_active(lb["id"], ("member", p["id"], m["id"]), timeout=60)
    with step(world, "LoxiLB back: its rule holds both members again", suspect="daemon"):
        want = {(b1.address, b1.port), (b2.address, b2.port)}
        wait_for("both members in LoxiLB's rule", lambda: set(loxilb_view.rules(
            world.sim_url, vip).get((8086, "tcp"), {}).get("endpoints", {})) == want, 60)
    with step(world, "cascade delete", objects=[lb["id"]]):
        api.delete("loadbalancer", lb["id"], "?cascade=true")
        api.wait_gone("loadbalancer", lb["id"])
        assert loxilb_view.rules(world.sim_url, vip) == {}

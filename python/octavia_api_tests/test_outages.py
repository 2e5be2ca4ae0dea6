"""Outages: the daemon down (a clear, fast 500 and nothing half-created) and
LoxiLB down (the change waits in PENDING, then completes once LoxiLB is back)."""

import time

import builders
import loxilb_view
from blame import step
from octavia_client import PROJECT

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
    finally:
        world.start_daemon()
    li = builders.listener(world, api, lb, port=8085)
    with step(world, "daemon back: cascade delete", objects=[lb["id"], li["id"]]):
        api.delete("loadbalancer", lb["id"], "?cascade=true")
        api.wait_gone("loadbalancer", lb["id"])


def test_loxilb_down_keeps_pending_then_goes_active(world, api, vip):
    b1 = world.backends[0]
    lb = builders.loadbalancer(world, api, vip)
    li = builders.listener(world, api, lb, port=8086)
    p = builders.pool(world, api, lb, li)
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
    with step(world, "LoxiLB back: member ACTIVE, rule on LoxiLB", objects=[m["id"]]):
        api.wait_active(lb["id"], ("member", p["id"], m["id"]), timeout=60)
        eps = loxilb_view.rules(world.sim_url, vip)[(8086, "tcp")]["endpoints"]
        assert set(eps) == {(b1.address, b1.port)}, eps
    with step(world, "cascade delete", objects=[lb["id"]]):
        api.delete("loadbalancer", lb["id"], "?cascade=true")
        api.wait_gone("loadbalancer", lb["id"])
        assert loxilb_view.rules(world.sim_url, vip) == {}

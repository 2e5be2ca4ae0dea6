"""Options LoxiLB cannot offer: Octavia answers 501 with our text, nothing is created."""

import pytest

import builders
from blame import step

#: name -> (request builder(lb, listener), words our fault text must hold).
CASES = {
    "L7 policy": (
        lambda lb, li: ("POST", "/l7policies", {"l7policy": {
            "listener_id": li["id"], "action": "REJECT"}}),
        "does not support L7 policies"),
    "APP_COOKIE session persistence": (
        lambda lb, li: ("POST", "/pools", {"pool": {
            "listener_id": li["id"], "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN",
            "session_persistence": {"type": "APP_COOKIE", "cookie_name": "sid"}}}),
        "does not support APP_COOKIE session persistence"),
    "TLS to members": (
        lambda lb, li: ("POST", "/pools", {"pool": {
            "listener_id": li["id"], "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN",
            "tls_enabled": True}}),
        "does not support TLS towards pool members"),
    "PROMETHEUS listener": (
        lambda lb, li: ("POST", "/listeners", {"listener": {
            "loadbalancer_id": lb["id"], "protocol": "PROMETHEUS", "protocol_port": 9100}}),
        "does not support PROMETHEUS listeners"),
}


@pytest.fixture(scope="module")
def http_lb(world, api):
    """One load balancer with an HTTP listener for every refused option."""
    lb = builders.loadbalancer(world, api, "127.0.2.10", name="unsupported")
    li = builders.listener(world, api, lb, port=80, protocol="HTTP")
    return lb, li


@pytest.mark.parametrize("case", sorted(CASES))
def test_unsupported_option_is_501_with_our_text(world, api, http_lb, case):
    lb, li = http_lb
    build, words = CASES[case]
    method, path, body = build(lb, li)
    for obj in body.values():
        obj["project_id"] = "5f0a1c2e-4b7d-4e8f-9a1b-2c3d4e5f6a7b"
    before = _children(api, lb["id"])
    with step(world, f"{case}: Octavia answers 501 with the provider's text", suspect="plugin"):
        answer = api.call(method, path, body)
        assert answer.status == 501, answer
        assert "The loxilb provider " + words in answer.fault(), answer.fault()
    with step(world, f"{case}: nothing created, load balancer still ACTIVE", suspect="Octavia"):
        assert _children(api, lb["id"]) == before
        assert api.show("loadbalancer", lb["id"])["provisioning_status"] == "ACTIVE"
        assert api.show("listener", li["id"])["provisioning_status"] == "ACTIVE"


def _children(api, lb_id):
    """Ids of the listeners, pools and L7 policies Octavia holds for the load balancer."""
    lb = api.show("loadbalancer", lb_id)
    ids = {li["id"] for li in lb["listeners"]} | {p["id"] for p in lb["pools"]}
    policies = api.ok("GET", "/l7policies")["l7policies"]
    return ids | {p["id"] for p in policies}

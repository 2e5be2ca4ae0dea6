"""octavia-lib objects to the daemon's JSON: Unset omitted, nesting kept,
secrets redacted."""

import json

from octavia_lib.api.drivers import data_models as dm
from octavia_lib.api.drivers.data_models import Unset

from octavia_loxilb_provider import LoxiLBProviderDriver
from octavia_loxilb_provider.convert import REDACTED, to_wire


def test_unset_fields_are_omitted_and_none_is_kept():
    wire = to_wire(dm.Member(member_id="m1", address="10.0.0.1", name=None))
    assert wire == {"member_id": "m1", "address": "10.0.0.1", "name": None}


def test_nested_objects_become_nested_dicts():
    pool = dm.Pool(pool_id="p1", members=[dm.Member(member_id="m1")],
                   healthmonitor=dm.HealthMonitor(healthmonitor_id="h1", delay=5))
    lb = dm.LoadBalancer(loadbalancer_id="lb1", pools=[pool],
                         flavor={"nat_mode": "dnat", "gone": Unset})
    wire = to_wire(lb)
    assert wire["pools"] == [{"pool_id": "p1", "members": [{"member_id": "m1"}],
                              "healthmonitor": {"healthmonitor_id": "h1", "delay": 5}}]
    assert wire["flavor"] == {"nat_mode": "dnat"}
    json.dumps(wire)  # plain JSON all the way down


def test_tls_container_data_is_redacted():
    listener = dm.Listener(listener_id="l1", protocol="TERMINATED_HTTPS",
                           default_tls_container_data=b"-----BEGIN PRIVATE KEY-----",
                           sni_container_data=[b"key-a", b"key-b"],
                           client_ca_tls_container_data=None,
                           default_tls_container_ref="barbican://ref")
    wire = to_wire(listener)
    assert wire["default_tls_container_data"] == REDACTED
    assert wire["sni_container_data"] == [REDACTED, REDACTED]
    assert wire["client_ca_tls_container_data"] is None
    assert wire["default_tls_container_ref"] == "barbican://ref"
    assert "PRIVATE KEY" not in json.dumps(wire)


def test_the_request_body_carries_no_secret(down_socket):
    driver = LoxiLBProviderDriver(socket_path=down_socket)
    sent = []

    def capture(method, path, body=None):
        sent.append((method, path, body))
        return 202, {"id": 1, "state": "queued"}

    driver._client.request = capture
    pool = dm.Pool(pool_id="p1", tls_enabled=True, tls_container_data=b"secret-key")
    driver.pool_create(pool)
    [(method, path, body)] = sent
    assert (method, path) == ("POST", "/v1/events")
    assert body["method"] == "pool_create"
    assert body["args"]["pool"]["tls_container_data"] == REDACTED
    assert "secret-key" not in json.dumps(body)

"""The driver against a real daemon: accepted events are journaled, refusals
become the octavia-lib exceptions Octavia's API layer understands."""

import socket
import uuid

import pytest
from octavia_lib.api.drivers import data_models as dm
from octavia_lib.api.drivers import exceptions

from octavia_loxilb_provider import LoxiLBProviderDriver


def uid():
    return str(uuid.uuid4())


@pytest.fixture
def driver(daemon):
    return LoxiLBProviderDriver(socket_path=daemon.socket_path, timeout=10)


def journaled(daemon, method, object_id):
    return [e for e in daemon.journal()
            if e["method"] == method and e["object_id"] == object_id]


def member(**overrides):
    fields = dict(member_id=uid(), pool_id=uid(), address="10.0.0.5",
                  protocol_port=8080, weight=1, admin_state_up=True,
                  project_id="project-a")
    fields.update(overrides)
    return dm.Member(**fields)


def test_member_create_is_accepted_and_journaled(daemon, driver):
    m = member()
    assert driver.member_create(m) is None
    [event] = journaled(daemon, "member_create", m.member_id)
    assert event["object_kind"] == "member"
    assert event["ordering_key"] == f"pool:{m.pool_id}"
    assert event["state"] in ("queued", "applying", "done", "failed")


def test_graph_loadbalancer_create_with_nested_objects_and_unsets(daemon, driver):
    lb_id, listener_id, pool_id = uid(), uid(), uid()
    hm = dm.HealthMonitor(healthmonitor_id=uid(), pool_id=pool_id, type="TCP",
                          delay=5, timeout=3, max_retries=3)
    pool = dm.Pool(pool_id=pool_id, loadbalancer_id=lb_id, listener_id=listener_id,
                   protocol="TCP", lb_algorithm="ROUND_ROBIN", admin_state_up=True,
                   members=[member(pool_id=pool_id), member(pool_id=pool_id,
                                                            address="10.0.0.6")],
                   healthmonitor=hm)
    listener = dm.Listener(listener_id=listener_id, loadbalancer_id=lb_id,
                           protocol="TCP", protocol_port=80, admin_state_up=True,
                           default_pool_id=pool_id)
    lb = dm.LoadBalancer(loadbalancer_id=lb_id, vip_address="192.0.2.10",
                         admin_state_up=True, project_id="project-a",
                         listeners=[listener], pools=[pool],
                         flavor={"nat_mode": "fullnat"})
    driver.loadbalancer_create(lb)
    assert len(journaled(daemon, "loadbalancer_create", lb_id)) == 1


def test_what_loxilb_cannot_honour_is_unsupported_and_not_journaled(daemon, driver):
    pool_id = uid()
    # DSR with round robin, and a member port other than the listener's.
    listener = dm.Listener(listener_id=uid(), loadbalancer_id=uid(), protocol="TCP",
                           protocol_port=80, default_pool_id=pool_id)
    for algorithm, port, words in [("ROUND_ROBIN", 80, ["DSR", "SOURCE_IP"]),
                                   ("SOURCE_IP", 8080, ["DSR", "protocol_port"])]:
        pool = dm.Pool(pool_id=pool_id, listener_id=listener.listener_id,
                       loadbalancer_id=listener.loadbalancer_id, protocol="TCP",
                       lb_algorithm=algorithm,
                       members=[member(pool_id=pool_id, protocol_port=port)])
        lb = dm.LoadBalancer(loadbalancer_id=listener.loadbalancer_id,
                             vip_address="192.0.2.11", listeners=[listener],
                             pools=[pool], flavor={"nat_mode": "dsr"})
        with pytest.raises(exceptions.UnsupportedOptionError) as raised:
            driver.loadbalancer_create(lb)
        assert all(w in raised.value.user_fault_string for w in words)
    assert not journaled(daemon, "loadbalancer_create", listener.loadbalancer_id)
    # Probes pass only on 200.
    hm = dm.HealthMonitor(healthmonitor_id=uid(), pool_id=pool_id, type="HTTP",
                          delay=10, timeout=5, max_retries=3, http_method="HEAD",
                          url_path="/health", expected_codes="200-204")
    with pytest.raises(exceptions.UnsupportedOptionError) as raised:
        driver.health_monitor_create(hm)
    assert "200" in raised.value.user_fault_string
    hm.expected_codes = "200"
    driver.health_monitor_create(hm)
    assert journaled(daemon, "health_monitor_create", hm.healthmonitor_id)
    # At most 32 serving members per pool.
    for i in range(32):
        driver.member_create(member(pool_id=pool_id, address=f"10.0.1.{i + 1}"))
    extra = member(pool_id=pool_id, address="10.0.2.1")
    with pytest.raises(exceptions.UnsupportedOptionError) as raised:
        driver.member_create(extra)
    assert "32" in raised.value.user_fault_string
    assert not journaled(daemon, "member_create", extra.member_id)


def test_update_delete_and_batch_calls_use_octavia_lib_argument_names(daemon, driver):
    m = member()
    driver.member_update(dm.Member(member_id=m.member_id, pool_id=m.pool_id),
                         dm.Member(member_id=m.member_id, weight=5))
    driver.member_delete(m)
    driver.member_batch_update(m.pool_id, [m, member(pool_id=m.pool_id,
                                                     address="10.0.0.9")])
    hm = dm.HealthMonitor(healthmonitor_id=uid(), pool_id=m.pool_id, type="HTTP",
                          delay=10, timeout=5, max_retries=3, http_method="GET",
                          url_path="/health", expected_codes="200")
    driver.health_monitor_create(hm)
    lb = dm.LoadBalancer(loadbalancer_id=uid())
    driver.loadbalancer_delete(lb, cascade=True)
    driver.loadbalancer_failover(lb.loadbalancer_id)
    assert journaled(daemon, "member_update", m.member_id)
    assert journaled(daemon, "member_delete", m.member_id)
    assert journaled(daemon, "health_monitor_create", hm.healthmonitor_id)
    assert journaled(daemon, "loadbalancer_delete", lb.loadbalancer_id)
    assert journaled(daemon, "loadbalancer_failover", lb.loadbalancer_id)
    batch = [e for e in daemon.journal() if e["method"] == "member_batch_update"
             and e["ordering_key"] == f"pool:{m.pool_id}"]
    assert len(batch) == 1


def daemon_answer(daemon, method, args):
    status, answer = daemon.client().request(
        "POST", "/v1/events", {"method": method, "args": args})
    assert status == 400, answer
    return answer


def test_l7_policy_is_unsupported_with_both_fault_strings(daemon, driver):
    policy = dm.L7Policy(l7policy_id=uid(), listener_id=uid(), action="REJECT")
    with pytest.raises(exceptions.UnsupportedOptionError) as raised:
        driver.l7policy_create(policy)
    expected = daemon_answer(daemon, "l7policy_create", {"l7policy": {}})
    assert raised.value.user_fault_string == expected["user_fault_string"]
    assert raised.value.operator_fault_string == expected["operator_fault_string"]
    assert "L7" in raised.value.user_fault_string
    assert raised.value.user_fault_string != raised.value.operator_fault_string


def test_l7_rule_and_failover_with_flavor_are_unsupported(driver):
    with pytest.raises(exceptions.UnsupportedOptionError):
        driver.l7rule_create(dm.L7Rule(l7rule_id=uid(), l7policy_id=uid(),
                                       type="PATH", compare_type="EQUAL_TO",
                                       value="/"))
    with pytest.raises(exceptions.UnsupportedOptionError) as raised:
        driver.loadbalancer_failover_with_flavor(uid(), uid())
    assert "failover" in raised.value.operator_fault_string


def test_terminated_https_listener_is_unsupported(driver):
    listener = dm.Listener(listener_id=uid(), loadbalancer_id=uid(),
                           protocol="TERMINATED_HTTPS", protocol_port=443,
                           default_tls_container_data=b"-----BEGIN PRIVATE KEY-----")
    with pytest.raises(exceptions.UnsupportedOptionError) as raised:
        driver.listener_create(listener)
    assert "TERMINATED_HTTPS" in raised.value.user_fault_string
    assert "listener.protocol" in raised.value.operator_fault_string


def test_invalid_member_is_a_driver_error_naming_the_field(daemon, driver):
    m = member(weight=1000)
    with pytest.raises(exceptions.DriverError) as raised:
        driver.member_create(m)
    assert "1000" in raised.value.user_fault_string
    assert "member.weight" in raised.value.operator_fault_string
    assert not journaled(daemon, "member_create", m.member_id)


def test_update_of_two_different_objects_is_a_driver_error(driver):
    with pytest.raises(exceptions.DriverError) as raised:
        driver.pool_update(dm.Pool(pool_id=uid()), dm.Pool(pool_id=uid()))
    assert "new_pool.pool_id" in raised.value.operator_fault_string


def test_unreachable_daemon_is_a_driver_error(down_socket):
    driver = LoxiLBProviderDriver(socket_path=down_socket, timeout=2)
    with pytest.raises(exceptions.DriverError) as raised:
        driver.member_create(member())
    assert "unavailable" in raised.value.user_fault_string
    assert down_socket in raised.value.operator_fault_string
    assert "member_create" in raised.value.operator_fault_string


def test_socket_file_without_listener_is_a_driver_error(down_socket):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.bind(down_socket)  # bound, never listening: connect() is refused
        driver = LoxiLBProviderDriver(socket_path=down_socket, timeout=2)
        with pytest.raises(exceptions.DriverError) as raised:
            driver.pool_delete(dm.Pool(pool_id=uid()))
    assert "ConnectionRefusedError" in raised.value.operator_fault_string


def test_create_vip_port_lets_octavia_allocate_the_port(down_socket):
    driver = LoxiLBProviderDriver(socket_path=down_socket)
    with pytest.raises(exceptions.NotImplementedError):
        driver.create_vip_port(uid(), "project-a", {"vip_network_id": uid()}, [])


def test_loadbalancer_with_bad_flavor_value_is_refused_before_the_daemon(down_socket):
    driver = LoxiLBProviderDriver(socket_path=down_socket)
    lb = dm.LoadBalancer(loadbalancer_id=uid(), flavor={"nat_mode": "bogus",
                                                        "flavor_id": uid()})
    with pytest.raises(exceptions.UnsupportedOptionError) as raised:
        driver.loadbalancer_create(lb)
    assert "nat_mode" in raised.value.user_fault_string

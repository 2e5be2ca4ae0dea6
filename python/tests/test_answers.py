"""How the driver reads the daemon's answers that a healthy daemon rarely
gives: other HTTP errors, unreadable bodies, synchronous outcomes."""

import pytest
from octavia_lib.api.drivers import data_models as dm
from octavia_lib.api.drivers import exceptions

from octavia_loxilb_provider import LoxiLBProviderDriver
from octavia_loxilb_provider.client import DaemonProtocolError


def driver_answering(down_socket, status, answer):
    driver = LoxiLBProviderDriver(socket_path=down_socket)

    def reply(method, path, body=None):
        if isinstance(answer, Exception):
            raise answer
        return status, answer

    driver._client.request = reply
    return driver


@pytest.mark.parametrize("status, answer", [
    (413, {"error": "too_large", "message": "body over 1048576 bytes"}),
    (400, {"error": "unknown_method", "field": "method", "message": "no such method"}),
    (503, {"error": "unavailable", "message": "journal unavailable"}),
    (500, {}),
])
def test_other_errors_are_driver_errors(down_socket, status, answer):
    driver = driver_answering(down_socket, status, answer)
    with pytest.raises(exceptions.DriverError) as raised:
        driver.member_delete(dm.Member(member_id="m1"))
    assert f"HTTP {status}" in raised.value.operator_fault_string
    assert "member_delete" in raised.value.operator_fault_string
    assert raised.value.user_fault_string


def test_unreadable_answer_is_a_driver_error(down_socket):
    driver = driver_answering(down_socket, 0, DaemonProtocolError("HTTP 200 with junk"))
    with pytest.raises(exceptions.DriverError) as raised:
        driver.member_delete(dm.Member(member_id="m1"))
    assert "junk" in raised.value.operator_fault_string


def test_unsupported_without_operator_string_reuses_the_user_string(down_socket):
    driver = driver_answering(down_socket, 400, {"error": "unsupported",
                                                 "user_fault_string": "no L7"})
    with pytest.raises(exceptions.UnsupportedOptionError) as raised:
        driver.l7policy_delete(dm.L7Policy(l7policy_id="x"))
    assert raised.value.user_fault_string == "no L7"
    assert raised.value.operator_fault_string == "no L7"


@pytest.mark.parametrize("answer", [
    {"id": 3, "state": "done", "reason": None},
    # The daemon has already reported ERROR through the driver agent.
    {"id": 4, "state": "failed", "reason": "LoxiLB refused the rule"},
])
def test_synchronous_outcomes_do_not_raise(down_socket, answer):
    driver = driver_answering(down_socket, 200, answer)
    assert driver.member_create(dm.Member(member_id="m1")) is None

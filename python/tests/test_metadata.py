"""Flavor and availability-zone metadata, answered without the daemon."""

import pytest
from octavia_lib.api.drivers import exceptions

from octavia_loxilb_provider import LoxiLBProviderDriver
from octavia_loxilb_provider.metadata import LB_ALGORITHMS, NAT_MODES


@pytest.fixture
def driver(down_socket):
    # Pointed at a socket nobody serves: metadata calls must not need the daemon.
    return LoxiLBProviderDriver(socket_path=down_socket)


def test_supported_flavor_metadata_describes_each_key(driver):
    supported = driver.get_supported_flavor_metadata()
    assert set(supported) == {"nat_mode", "lb_algorithm"}
    for mode in NAT_MODES:
        assert mode in supported["nat_mode"]
    assert all(isinstance(v, str) and v for v in supported.values())


@pytest.mark.parametrize("flavor", [
    {},
    {"nat_mode": "fullnat"},
    *({"nat_mode": m} for m in NAT_MODES),
    *({"lb_algorithm": a} for a in LB_ALGORITHMS),
    {"nat_mode": "dsr", "lb_algorithm": "SOURCE_IP"},
    {"nat_mode": "dsr", "lb_algorithm": "SOURCE_IP_PORT"},
])
def test_valid_flavors_are_accepted(driver, flavor):
    assert driver.validate_flavor(flavor) is None


@pytest.mark.parametrize("flavor, words", [
    ({"nat_mode": "snat"}, ["nat_mode", "snat", "fullnat"]),
    ({"nat_mode": "FULLNAT"}, ["nat_mode"]),
    ({"nat_mode": 1}, ["must be a string"]),
    ({"lb_algorithm": "RANDOM"}, ["lb_algorithm", "RANDOM"]),
    ({"nat_mode": "dsr", "lb_algorithm": "ROUND_ROBIN"},
     ["lb_algorithm", "ROUND_ROBIN", "dsr", "SOURCE_IP_PORT"]),
    ({"nat_mode": "dsr", "lb_algorithm": "LEAST_CONNECTIONS"}, ["hash selection"]),
    ({"loadbalancer_topology": "ACTIVE_STANDBY"}, ["loadbalancer_topology",
                                                   "not a supported key"]),
    (["nat_mode"], ["must be an object"]),
])
def test_invalid_flavors_are_refused_with_both_strings(driver, flavor, words):
    with pytest.raises(exceptions.UnsupportedOptionError) as raised:
        driver.validate_flavor(flavor)
    for word in words:
        assert word in raised.value.user_fault_string
        assert word in raised.value.operator_fault_string


def test_every_problem_is_reported_at_once(driver):
    with pytest.raises(exceptions.UnsupportedOptionError) as raised:
        driver.validate_flavor({"nat_mode": "x", "colour": "blue"})
    assert "nat_mode" in raised.value.user_fault_string
    assert "colour" in raised.value.user_fault_string


def test_supported_availability_zone_metadata(driver):
    assert set(driver.get_supported_availability_zone_metadata()) == {
        "loxilb_node_group"}


@pytest.mark.parametrize("zone", [{}, {"loxilb_node_group": "rack-1"},
                                  {"loxilb_node_group": "a" * 63}])
def test_valid_availability_zones_are_accepted(driver, zone):
    assert driver.validate_availability_zone(zone) is None


@pytest.mark.parametrize("zone", [
    {"loxilb_node_group": ""},
    {"loxilb_node_group": "a" * 64},
    {"loxilb_node_group": "rack 1"},
    {"loxilb_node_group": "rack-1\n"},
    {"loxilb_node_group": 7},
    {"compute_zone": "nova"},
    "rack-1",
])
def test_invalid_availability_zones_are_refused(driver, zone):
    with pytest.raises(exceptions.UnsupportedOptionError) as raised:
        driver.validate_availability_zone(zone)
    assert "availability zone" in raised.value.user_fault_string
    assert raised.value.operator_fault_string

"""Rows in Octavia's database, written through Octavia's repositories.

Each helper takes a session from ``octavia_schema.sessionmaker`` and returns
the new object's id. Values are what Octavia's API would store: ACTIVE and
ONLINE objects, UUID ids, loopback member addresses.
"""

from oslo_utils import uuidutils

from octavia.db import repositories

PROJECT = "a1b2c3d4e5f64a7b8c9d0e1f2a3b4c5d"


def _status(**kw):
    kw.setdefault("provisioning_status", "ACTIVE")
    kw.setdefault("operating_status", "ONLINE")
    kw.setdefault("enabled", True)
    kw.setdefault("project_id", PROJECT)
    kw.setdefault("id", uuidutils.generate_uuid())
    return kw


def flavor(session, metadata):
    """A flavor (and its profile) for provider loxilb with ``metadata``."""
    import json
    profile = repositories.FlavorProfileRepository().create(
        session, id=uuidutils.generate_uuid(), name="loxilb-profile",
        provider_name="loxilb", flavor_data=json.dumps(metadata))
    f = repositories.FlavorRepository().create(
        session, id=uuidutils.generate_uuid(), name="loxilb-flavor",
        flavor_profile_id=profile.id, enabled=True, description="")
    return f.id


def loadbalancer(session, vip, provider="loxilb", flavor_id=None, **kw):
    lb = _status(provider=provider, name="lb", topology="SINGLE", **kw)
    if flavor_id:
        lb["flavor_id"] = flavor_id
    created = repositories.Repositories().create_load_balancer_and_vip(
        session, lb, {"ip_address": vip, "network_id": uuidutils.generate_uuid(),
                      "port_id": uuidutils.generate_uuid()})
    return created.id


def pool(session, lb_id, protocol="TCP", algorithm="ROUND_ROBIN", **kw):
    p = repositories.PoolRepository().create(
        session, **_status(load_balancer_id=lb_id, protocol=protocol,
                           lb_algorithm=algorithm, name="pool", **kw))
    return p.id


def listener(session, lb_id, protocol, port, pool_id=None, **kw):
    listener = repositories.ListenerRepository().create(
        session, **_status(load_balancer_id=lb_id, protocol=protocol,
                           protocol_port=port, default_pool_id=pool_id,
                           name=f"{protocol.lower()}-{port}", **kw))
    return listener.id


def member(session, pool_id, address, port, weight=1, **kw):
    m = repositories.MemberRepository().create(
        session, **_status(pool_id=pool_id, ip_address=address, protocol_port=port,
                           weight=weight, backup=False, **kw))
    return m.id


def health_monitor(session, pool_id, type_="TCP", delay=5, timeout=3, retries=3):
    hm = repositories.HealthMonitorRepository().create(
        session, **_status(pool_id=pool_id, type=type_, delay=delay, timeout=timeout,
                           rise_threshold=retries, fall_threshold=retries,
                           name="hm"))
    return hm.id

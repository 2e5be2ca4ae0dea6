"""octavia-lib data model objects to the JSON the daemon's ingress expects.

The daemon reads octavia-lib ``to_dict()`` shapes: Unset fields absent,
nested objects (a load balancer's listeners and pools, a pool's members and
health monitor) as nested dicts. ``to_dict(recurse=True)`` does most of that;
this module also drops Unset values that hide in plain dicts and lists, and
redacts certificate and key material.
"""

from octavia_lib.api.drivers.data_models import BaseDataModel, UnsetType

#: Replaces TLS container data (certificates and private keys). The daemon
#: refuses TLS options anyway, and it journals every event's arguments, so
#: secrets must never reach it; the marker keeps the field visibly set so
#: the daemon still answers "unsupported" for it.
REDACTED = "<redacted by octavia-loxilb-provider>"


def _is_secret(key):
    return isinstance(key, str) and key.endswith("_container_data")


def _redact(value):
    if value is None or isinstance(value, UnsetType):
        return value
    if isinstance(value, (list, tuple)):
        return [REDACTED for _ in value]
    return REDACTED


def to_wire(value):
    """Returns ``value`` as plain JSON-ready data (dicts, lists, scalars)."""
    if isinstance(value, BaseDataModel):
        value = value.to_dict(recurse=True, render_unsets=False)
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if isinstance(item, UnsetType):
                continue
            out[key] = to_wire(_redact(item) if _is_secret(key) else item)
        return out
    if isinstance(value, (list, tuple)):
        return [to_wire(item) for item in value if not isinstance(item, UnsetType)]
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value

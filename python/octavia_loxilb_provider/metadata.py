"""Flavor and availability-zone metadata this provider understands.

Answered in the plugin, without the daemon: Octavia asks for capabilities and
validates flavor profiles at admin time, and those calls must work even while
the daemon is down. The schemas are JSON-schema (draft-07) documents so they
read like every other provider's; the validator below implements exactly the
subset they use (object, additionalProperties false, string, enum, pattern).
"""

import re

from octavia_lib.api.drivers import exceptions

#: LoxiLB modes the daemon maps a flavor's ``nat_mode`` onto; the same names
#: as the daemon's ``[loxilb] nat_mode`` option.
NAT_MODES = ("dnat", "onearm", "fullnat", "dsr", "fullproxy", "hostonearm")

#: Octavia's pool algorithms.
LB_ALGORITHMS = ("ROUND_ROBIN", "LEAST_CONNECTIONS", "SOURCE_IP", "SOURCE_IP_PORT")

#: The algorithms LoxiLB serves in DSR mode: it allows only hash selection
#: there, which is what SOURCE_IP and SOURCE_IP_PORT map to.
DSR_ALGORITHMS = ("SOURCE_IP", "SOURCE_IP_PORT")

FLAVOR_SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "loxilb provider flavor metadata",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "nat_mode": {
            "type": "string",
            "enum": list(NAT_MODES),
            "description": (
                "LoxiLB NAT mode for this load balancer's rules, overriding "
                "the coordinator's [loxilb] nat_mode. One of: "
                + ", ".join(NAT_MODES) + ". In dsr mode LoxiLB allows only "
                "lb_algorithm SOURCE_IP or SOURCE_IP_PORT (no SOURCE_IP session "
                "persistence) and member protocol_port equal to the listener's."
            ),
        },
        "lb_algorithm": {
            "type": "string",
            "enum": list(LB_ALGORITHMS),
            "description": (
                "Load balancing algorithm to use for this load balancer's "
                "pools instead of each pool's own. One of: "
                + ", ".join(LB_ALGORITHMS) + ". Member weights take effect "
                "only with ROUND_ROBIN and at most 16 serving members (LoxiLB's "
                "weighted selection, weights as percentages); otherwise only "
                "weight 0 (drain) has an effect."
            ),
        },
    },
}

AVAILABILITY_ZONE_SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "loxilb provider availability zone metadata",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "loxilb_node_group": {
            "type": "string",
            "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$",
            "description": (
                "Name of the LoxiLB node group that serves load balancers "
                "in this availability zone (letters, digits, '.', '_', '-'; "
                "at most 63 characters). Reserved: today every configured "
                "LoxiLB node serves every zone."
            ),
        },
    },
}


def descriptions(schema):
    """``{key: description}``, the shape get_supported_*_metadata returns."""
    return {k: v["description"] for k, v in schema["properties"].items()}


def problems(schema, metadata):
    """Every way ``metadata`` breaks ``schema``, as readable sentences."""
    if not isinstance(metadata, dict):
        return [f"metadata must be an object, got {type(metadata).__name__}"]
    found = []
    props = schema["properties"]
    for key in sorted(metadata, key=str):
        if key not in props:
            found.append(
                f"{key!r} is not a supported key (supported: {', '.join(sorted(props))})"
            )
            continue
        found.extend(_value_problems(key, props[key], metadata[key]))
    return found


def _value_problems(key, rule, value):
    if rule.get("type") == "string" and not isinstance(value, str):
        return [f"{key!r} must be a string, got {type(value).__name__}"]
    if "enum" in rule and value not in rule["enum"]:
        return [f"{key!r} is {value!r}, expected one of {', '.join(rule['enum'])}"]
    if "pattern" in rule and not re.fullmatch(rule["pattern"], value):
        return [f"{key!r} is {value!r}, which does not match {rule['pattern']}"]
    return []


def combination_problems(metadata):
    """Flavor keys that are valid alone but that LoxiLB refuses together."""
    if not isinstance(metadata, dict) or metadata.get("nat_mode") != "dsr":
        return []
    algorithm = metadata.get("lb_algorithm")
    if algorithm is None or algorithm in DSR_ALGORITHMS:
        return []
    return [
        f"'lb_algorithm' is {algorithm!r}, but nat_mode 'dsr' allows only "
        f"{' or '.join(DSR_ALGORITHMS)} (LoxiLB allows only hash selection in DSR mode)"
    ]


def validate(schema, metadata, what):
    """Raises UnsupportedOptionError naming every problem, as Octavia expects."""
    found = problems(schema, metadata)
    if schema is FLAVOR_SCHEMA and not found:
        found = combination_problems(metadata)
    if found:
        detail = "; ".join(found)
        raise exceptions.UnsupportedOptionError(
            user_fault_string=f"Invalid {what} metadata for provider loxilb: {detail}",
            operator_fault_string=(
                f"loxilb provider refused {what} metadata {metadata!r}: {detail}"
            ),
        )

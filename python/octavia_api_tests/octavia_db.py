"""Octavia's database for the suite: one SQLite file, schema from Octavia's models.

Octavia's migrations target MySQL/PostgreSQL; its SQLAlchemy models are the
schema the API and the driver agent actually read and write, so creating the
tables from them gives both processes what they expect. Octavia opens SQLite
with foreign keys enforced, so the lookup tables (statuses, protocols,
algorithms, ...) that other tables reference must hold their names: they are
seeded from the value lists Octavia and octavia-lib validate input against.

Run as ``python -m``-style script (``python octavia_db.py PATH``) inside the
venv where Octavia is installed, or import :func:`create`.
"""

import sys

import sqlalchemy as sa
from octavia.common import constants as c
from octavia.db import base_models
from octavia.db import models
from octavia_lib.common import constants as lib


def _lookup_rows():
    """Table class -> the names it must hold."""
    return {
        models.ProvisioningStatus: lib.SUPPORTED_PROVISIONING_STATUSES,
        models.OperatingStatus: lib.SUPPORTED_OPERATING_STATUSES,
        models.Protocol: lib.SUPPORTED_PROTOCOLS,
        models.Algorithm: lib.SUPPORTED_LB_ALGORITHMS,
        models.AmphoraRoles: c.SUPPORTED_AMPHORA_ROLES,
        models.LBTopology: c.SUPPORTED_LB_TOPOLOGIES,
        models.SessionPersistenceType: lib.SUPPORTED_SP_TYPES,
        models.HealthMonitorType: lib.SUPPORTED_HEALTH_MONITOR_TYPES,
        models.VRRPAuthMethod: c.SUPPORTED_VRRP_AUTH,
        models.L7RuleType: lib.SUPPORTED_L7RULE_TYPES,
        models.L7RuleCompareType: lib.SUPPORTED_L7RULE_COMPARE_TYPES,
        models.L7PolicyAction: lib.SUPPORTED_L7POLICY_ACTIONS,
        models.ClientAuthenticationMode: lib.SUPPORTED_CLIENT_AUTH_MODES,
    }


def create(path):
    """Creates every Octavia table in the SQLite file ``path`` and seeds the lookups."""
    engine = sa.create_engine(f"sqlite:///{path}")
    base_models.BASE.metadata.create_all(engine)
    with engine.begin() as conn:
        for model, names in _lookup_rows().items():
            table = model.__table__
            for name in sorted(set(names)):
                conn.execute(table.insert().values(name=name))
    engine.dispose()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: octavia_db.py SQLITE_FILE")
    create(sys.argv[1])

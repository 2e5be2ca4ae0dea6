"""Octavia's real database schema in a SQLite file, for tests.

The tables come from Octavia's own SQLAlchemy models (``octavia.db.models``
registers them on ``base_models.BASE.metadata``), and the lookup tables that
the models' foreign keys point at are filled from Octavia's own constants, so
rows written through ``octavia.db.repositories`` pass the same constraints
as in a deployed Octavia. No SQL is written by hand.

Shared helper: the sync tool's tests use it, and so can any suite that needs
Octavia's schema (e.g. one driving the real octavia-api on SQLite).
"""

import sqlalchemy as sa
from sqlalchemy import orm


def _lookups():
    """Lookup table name -> the values Octavia accepts in it."""
    from octavia.common import constants as c
    return {
        "provisioning_status": c.SUPPORTED_PROVISIONING_STATUSES,
        "operating_status": c.SUPPORTED_OPERATING_STATUSES,
        "protocol": c.SUPPORTED_PROTOCOLS,
        "algorithm": c.SUPPORTED_LB_ALGORITHMS,
        "lb_topology": c.SUPPORTED_LB_TOPOLOGIES,
        "session_persistence_type": c.SUPPORTED_SP_TYPES,
        "health_monitor_type": c.SUPPORTED_HEALTH_MONITOR_TYPES,
        "amphora_roles": c.SUPPORTED_AMPHORA_ROLES,
        "vrrp_auth_method": c.SUPPORTED_VRRP_AUTH,
        "l7rule_type": c.SUPPORTED_L7RULE_TYPES,
        "l7rule_compare_type": c.SUPPORTED_L7RULE_COMPARE_TYPES,
        "l7policy_action": c.SUPPORTED_L7POLICY_ACTIONS,
        "client_authentication_mode": c.SUPPORTED_CLIENT_AUTH_MODES,
    }


def _seed(conn, metadata):
    for table, values in _lookups().items():
        t = metadata.tables[table]
        # Only the name column is required; lookup tables differ in the rest.
        conn.execute(t.insert(), [{"name": v} for v in values])


def create(path):
    """Creates Octavia's schema, lookup rows included, in the SQLite file
    ``path``; returns the SQLAlchemy URL for octavia.conf's
    ``[database] connection``."""
    from octavia.db import base_models
    from octavia.db import models  # noqa: F401  (registers every table)

    url = f"sqlite:///{path}"
    engine = sa.create_engine(url)
    try:
        base_models.BASE.metadata.create_all(engine)
        with engine.begin() as conn:
            _seed(conn, base_models.BASE.metadata)
    finally:
        engine.dispose()
    return url


def database_section(url):
    """octavia.conf's ``[database]`` for ``url``.

    ``pool_timeout`` is emptied: Octavia sets its default to 10, and oslo.db
    passes it on to SQLAlchemy even for a SQLite file, whose pool (NullPool)
    refuses it ("Invalid argument(s) 'pool_timeout'"). MySQL is unaffected.
    """
    return f"[database]\nconnection = {url}\npool_timeout =\n"


def sessionmaker(url):
    """Sessions for writing rows through Octavia's repositories in a test
    (repositories take the session as an argument). Foreign keys are enforced,
    as Octavia's own engine facade does on SQLite."""
    engine = sa.create_engine(url)

    @sa.event.listens_for(engine, "connect")
    def _fk(dbapi_conn, _record):
        dbapi_conn.execute("PRAGMA foreign_keys = ON")

    return orm.sessionmaker(bind=engine)

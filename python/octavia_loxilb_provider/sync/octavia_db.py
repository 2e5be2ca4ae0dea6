"""Reads load balancers from Octavia's database with Octavia's own code.

Nothing here writes SQL: ``octavia.db.api`` opens the session from
``[database] connection`` in octavia.conf, ``octavia.db.repositories`` reads
the rows into Octavia's data models, and ``octavia.api.drivers.utils``
converts them into the provider data models Octavia hands to provider
drivers (flavor metadata, VIP fields, allowed CIDRs and timeouts included).
``convert.to_wire`` then makes the same JSON the provider plugin sends, so a
synced object is indistinguishable from one the plugin forwarded.
"""

from dataclasses import dataclass
from typing import List, Optional

from octavia_loxilb_provider.convert import to_wire
from octavia_loxilb_provider.sync.tree import LbTree


class OctaviaDbError(Exception):
    """Octavia's database could not be read; the text says what and where."""


@dataclass
class OctaviaLb:
    """One load balancer as Octavia has it."""

    id: str
    provisioning_status: str
    #: None when the provider conversion failed (see ``error``).
    tree: Optional[LbTree]
    error: Optional[str] = None

    @property
    def busy(self):
        """Octavia is changing it right now (PENDING_*): leave it alone."""
        return self.provisioning_status.startswith("PENDING_")


def _redacted(url):
    try:
        from sqlalchemy.engine import make_url
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL: say so without echoing it
        return "<unparsable URL>"


def _convert(db_lb):
    """Octavia's provider conversion, then the plugin's wire form."""
    from octavia.api.drivers import utils as driver_utils
    provider_lb = driver_utils.db_loadbalancer_to_provider_loadbalancer(db_lb)
    return LbTree.from_wire(to_wire(provider_lb))


def read_loadbalancers(conf, provider, only_ids=None) -> List[OctaviaLb]:
    """Every non-deleted load balancer of ``provider`` (or those in
    ``only_ids``), each with its tree; raises OctaviaDbError."""
    from octavia.common import constants
    from octavia.db import api as db_api
    from octavia.db import repositories

    url = conf.database.connection
    # Octavia's own default is "sqlite://", an empty in-memory database: a
    # tool run with it would report that Octavia has no load balancers.
    if not url or url == "sqlite://":
        raise OctaviaDbError(
            "octavia.conf [database] connection is not set: cannot read "
            "Octavia's database (pass --config-file /etc/octavia/octavia.conf)")
    where = f"Octavia's database at {_redacted(url)}"
    repo = repositories.LoadBalancerRepository()
    found = []
    try:
        session = db_api.get_session()
        with session.begin():
            lbs, _ = repo.get_all(session, provider=provider, show_deleted=False)
            for db_lb in sorted(lbs, key=lambda lb: lb.id):
                if only_ids and db_lb.id not in only_ids:
                    continue
                if db_lb.provisioning_status == constants.DELETED:
                    continue
                found.append(_one(db_lb))
    except OctaviaDbError:
        raise
    except Exception as e:  # oslo.db / SQLAlchemy errors of every kind
        raise OctaviaDbError(f"cannot read {where}: {type(e).__name__}: {e}") from e
    return found


def _one(db_lb):
    status = db_lb.provisioning_status or ""
    try:
        return OctaviaLb(db_lb.id, status, _convert(db_lb))
    except Exception as e:  # e.g. a TLS listener whose certificates are unreachable
        return OctaviaLb(db_lb.id, status, None,
                         error=f"cannot convert with Octavia's provider utils: "
                               f"{type(e).__name__}: {e}")

"""``loxilb-coordinator-sync``: options, what it prints, and its exit codes.

Modes (like Octavia's other controller tools, options come from octavia.conf
via ``--config-file``):

- ``--dry-run``: read both sides and print every difference; send nothing.
- default: send the provider events for every load balancer that differs
  (``--force``: for every load balancer), wait until the daemon applied them,
  and read the daemon back to check that nothing differs any more.

Exit codes: 0 in sync; 1 error (configuration, Octavia's database, the
daemon, a refused or failed event, or differences left after sending);
2 differences found by ``--dry-run``, or left on purpose (a load balancer
Octavia is busy with, or one only the daemon holds without ``--prune``);
3 a ``--loadbalancer`` that neither side has (nothing done), as the daemon's
own CLI answers an unknown object.
"""

import logging
import sys
import warnings

from oslo_config import cfg

from octavia_loxilb_provider.client import DaemonClient
from octavia_loxilb_provider.settings import Settings, SettingsError
from octavia_loxilb_provider.sync import events
from octavia_loxilb_provider.sync.daemon import Daemon, DaemonError
from octavia_loxilb_provider.sync.diff import Difference, tree_differences
from octavia_loxilb_provider.sync.octavia_db import OctaviaDbError, read_loadbalancers

OK, ERROR, DIFFERS, UNKNOWN = 0, 1, 2, 3

CLI_OPTS = [
    cfg.BoolOpt("dry-run", default=False,
                help="Print what differs between Octavia and the daemon; send nothing."),
    cfg.MultiStrOpt("loadbalancer", default=[],
                    help="Only this load balancer id (repeatable)."),
    cfg.StrOpt("provider", default="loxilb",
               help="Read load balancers of this Octavia provider."),
    cfg.BoolOpt("force", default=False,
                help="Send every load balancer's events, even those in sync."),
    cfg.BoolOpt("prune", default=False,
                help="Delete load balancers the daemon holds and Octavia does not."),
    cfg.FloatOpt("event-timeout", default=120.0, min=1,
                 help="Seconds to wait for the daemon to apply one load balancer's events."),
]


def _out(text):
    print(text, flush=True)


def _err(text):
    print(f"loxilb-coordinator-sync: error: {text}", file=sys.stderr, flush=True)


def _load_config(argv):
    """Parses the command line and octavia.conf the way Octavia's tools do."""
    from octavia.common import config as octavia_config
    cfg.CONF.register_cli_opts(CLI_OPTS)
    octavia_config.init(argv)
    return cfg.CONF


class Run:
    """One invocation: both sides read once, then compared or repaired."""

    def __init__(self, conf, daemon):
        self.conf = conf
        self.daemon = daemon
        self.errors = 0
        self.left = 0

    def octavia_side(self):
        only = set(self.conf.loadbalancer) or None
        return read_loadbalancers(self.conf, self.conf.provider, only)

    def daemon_only(self, octavia_lbs):
        known = {lb.id for lb in octavia_lbs}
        only = set(self.conf.loadbalancer)
        return [i for i in self.daemon.loadbalancer_ids()
                if i not in known and (not only or i in only)]

    def one(self, lb):
        """Compares (and unless dry-run, repairs) one Octavia load balancer."""
        if lb.error:
            _out(f"loadbalancer {lb.id}: {lb.error}")
            self.errors += 1
            return
        if lb.busy:
            _out(f"loadbalancer {lb.id}: skipped, Octavia has it in "
                 f"{lb.provisioning_status}; run again when it is settled")
            self.left += 1
            return
        theirs = self.daemon.tree(lb.id)
        found = tree_differences(lb.tree, theirs)
        for d in found:
            _out(d.text())
        if self.conf.dry_run:
            self.left += bool(found)
            if not found:
                _out(f"loadbalancer {lb.id}: in sync")
            return
        if found or self.conf.force:
            sent = events.for_tree(lb.tree) + events.deletions(lb.tree, theirs)
            self.send(lb.id, sent)
            self.verify(lb)
        else:
            _out(f"loadbalancer {lb.id}: in sync, nothing sent")

    def send(self, lb_id, evs):
        outcomes = [self.daemon.post(e, _object_id(e)) for e in evs]
        self.daemon.wait(outcomes, self.conf.event_timeout)
        bad = [o for o in outcomes if not o.ok]
        for o in bad:
            _out(f"loadbalancer {lb_id}: {o.method} {o.object_id}: {o.state}: {o.reason}")
        self.errors += len(bad)
        _out(f"loadbalancer {lb_id}: sent {len(outcomes)} events, "
             f"{len(outcomes) - len(bad)} applied")

    def verify(self, lb):
        left = tree_differences(lb.tree, self.daemon.tree(lb.id))
        for d in left:
            _out(f"still differs after sending: {d.text()}")
        self.errors += bool(left)

    def extra(self, lb_id):
        """A load balancer only the daemon holds."""
        _out(Difference(lb_id, "loadbalancer", lb_id, daemon=True).text())
        if self.conf.dry_run or not self.conf.prune:
            self.left += 1
            return
        tree = self.daemon.tree(lb_id)
        if tree is not None:
            self.send(lb_id, events.prune(tree))

    def exit_code(self):
        if self.errors:
            return ERROR
        return DIFFERS if self.left else OK


def _object_id(ev):
    args = ev["args"]
    if "pool_id" in args:
        return args["pool_id"]
    obj = next(iter(args.values()))
    for key in ("loadbalancer_id", "listener_id", "pool_id", "member_id", "healthmonitor_id"):
        if isinstance(obj, dict) and key in obj:
            return obj[key]
    return "?"


def run(conf):
    try:
        settings = Settings.load(conf)
    except SettingsError as e:
        _err(str(e))
        return ERROR
    r = Run(conf, Daemon(DaemonClient.from_settings(settings), settings.target))
    try:
        octavia_lbs = r.octavia_side()
        extras = r.daemon_only(octavia_lbs)
        unknown = set(conf.loadbalancer) - {lb.id for lb in octavia_lbs} - set(extras)
        for lb_id in sorted(unknown):
            _err(f"loadbalancer {lb_id}: neither Octavia (provider {conf.provider!r}) "
                 "nor the daemon has it")
        if unknown:
            return UNKNOWN
        for lb in octavia_lbs:
            r.one(lb)
        for lb_id in extras:
            r.extra(lb_id)
    except (OctaviaDbError, DaemonError) as e:
        _err(str(e))
        return ERROR
    _out(f"{len(octavia_lbs)} load balancers of provider {conf.provider!r} in "
         f"Octavia, {len(extras)} only in the daemon; "
         f"{r.errors} errors, {r.left} left different")
    return r.exit_code()


def main(argv=None):
    # Importing Octavia imports eventlet, which warns about itself on every run.
    warnings.filterwarnings("ignore", module="oslo_service")
    warnings.filterwarnings("ignore", message=".*[Ee]ventlet")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        conf = _load_config(sys.argv[1:] if argv is None else argv)
    except cfg.ConfigFilesNotFoundError as e:
        _err(f"configuration file not found: {', '.join(e.config_files)}")
        return ERROR
    except cfg.Error as e:
        _err(f"bad configuration: {e}")
        return ERROR
    return run(conf)


if __name__ == "__main__":
    sys.exit(main())

"""The suite's world: Octavia's API server and driver agent, the daemon, the
LoxiLB simulator and loopback backends, all on one machine, loopback only.

Binaries: the daemon and the simulator come from ``LOXILB_COORDINATOR_BIN`` /
``LOXILB_SIM_BIN`` or the repository's debug build (``cargo test --workspace``
builds both). Octavia's processes are the console scripts installed next to
the Python running the suite (``octavia-api`` serves the API with its own
built-in WSGI server, so no extra server is needed).
"""

import os
import pathlib
import shutil
import sys
import tempfile

import octavia_db
from backends import Backend
from processes import Proc, free_port, wait_for

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[1]
START_TIMEOUT = 60.0


def _binary(env, name):
    path = pathlib.Path(os.environ.get(env, REPO / "target" / "debug" / name))
    if not os.access(path, os.X_OK):
        raise AssertionError(
            f"{name} binary {path} not found; run `cargo build --bin {name}` or set {env}")
    return path


def _console_script(name):
    path = pathlib.Path(sys.executable).parent / name
    if not os.access(path, os.X_OK):
        raise AssertionError(
            f"{path} not found: install the suite's venv with "
            "`pip install './python[octavia-api-test]'`")
    return path


OCTAVIA_CONF = """
[DEFAULT]
debug = false

[api_settings]
bind_host = 127.0.0.1
bind_port = {api_port}
auth_strategy = noauth
enabled_provider_drivers = loxilb:LoxiLB through loxilb-coordinator
default_provider_driver = loxilb

[database]
connection = sqlite:///{db}
# Octavia defaults pool_timeout to 10; oslo.db opens SQLite files with a
# NullPool, which SQLAlchemy 2 refuses that argument for. Empty means unset.
pool_timeout =

[controller_worker]
network_driver = network_noop_driver

[driver_agent]
status_socket_path = {agent}/status.sock
stats_socket_path = {agent}/stats.sock
get_socket_path = {agent}/get.sock
enabled_provider_agents =

[loxilb_coordinator]
socket_path = {ingress}
timeout = 10
"""

DAEMON_CONF = """
[health_monitoring]
status_update_interval = 1
status_cache_ttl = 30
stats_interval = 2
coordination_timeout = 3
coordination_retries = 1

[loxilb]
nodes = ["http://127.0.0.1:{sim_port}"]
request_timeout = 2

[octavia]
status_socket = "{status_socket}"
stats_socket = "{agent}/stats.sock"
get_socket = "{agent}/get.sock"

[ingress]
socket_path = "{ingress}"

[database]
url = "sqlite://{work}/coordinator.db"

[logging]
level = "info"
"""


class World:
    """Starts and holds every component; ``close()`` stops them all."""

    def __init__(self, status_socket=None):
        # Short paths: Unix socket names are limited to about 108 bytes.
        self.work = pathlib.Path(tempfile.mkdtemp(prefix="octapi-"))
        self.agent_dir = self.work / "agent"
        self.agent_dir.mkdir()
        self.ingress = self.work / "ingress.sock"
        self.api_port = free_port()
        self.sim_port = free_port()
        self.api_url = f"http://127.0.0.1:{self.api_port}"
        self.sim_url = f"http://127.0.0.1:{self.sim_port}"
        self._status_socket = status_socket or f"{self.agent_dir}/status.sock"
        self.backends = [Backend("127.0.0.11"), Backend("127.0.0.12")]
        self.procs = {}
        self._write_configs()

    def _write_configs(self):
        db = self.work / "octavia.db"
        octavia_db.create(db)
        (self.work / "octavia.conf").write_text(OCTAVIA_CONF.format(
            api_port=self.api_port, db=db, agent=self.agent_dir, ingress=self.ingress))
        (self.work / "coordinator.toml").write_text(DAEMON_CONF.format(
            sim_port=self.sim_port, agent=self.agent_dir, ingress=self.ingress,
            status_socket=self._status_socket, work=self.work))
        env = dict(os.environ)
        env["PYTHONPATH"] = str(HERE / "sqlite_hook")
        env["OCTAVIA_TEST_SQLITE_DB"] = str(db)
        conf = ["--config-file", self.work / "octavia.conf"]
        self.procs = {
            "simulator": Proc("simulator", [
                _binary("LOXILB_SIM_BIN", "loxilb-sim"),
                "--listen", f"127.0.0.1:{self.sim_port}"], self.work / "simulator.log"),
            "daemon": Proc("daemon", [
                _binary("LOXILB_COORDINATOR_BIN", "loxilb-coordinator"),
                "--config", self.work / "coordinator.toml", "run"], self.work / "daemon.log"),
            "octavia-api": Proc("Octavia", [
                _console_script("octavia-api"), *conf,
                "--log-file", self.work / "octavia-api.log"],
                self.work / "octavia-api.out", env=env, cwd=self.work),
            "driver-agent": Proc("Octavia", [
                _console_script("octavia-driver-agent"), *conf,
                "--log-file", self.work / "driver-agent.log"],
                self.work / "driver-agent.out", env=env, cwd=self.work),
        }

    # -- starting -----------------------------------------------------------

    def start(self):
        for b in self.backends:
            b.start()
        self.start_simulator()
        self.start_driver_agent()
        self.start_daemon()
        self.start_api()

    def start_simulator(self):
        self.procs["simulator"].start()
        wait_for("the simulator's API", lambda: _http_ok(
            f"{self.sim_url}/netlox/v1/config/loadbalancer/all"), START_TIMEOUT,
            self.procs["simulator"])

    def start_driver_agent(self):
        self.procs["driver-agent"].start()
        wait_for("the driver agent's sockets", lambda: all(
            (self.agent_dir / s).exists() for s in ("status.sock", "get.sock")),
            START_TIMEOUT, self.procs["driver-agent"])

    def start_daemon(self):
        self.procs["daemon"].start()
        wait_for("the daemon's /healthz", self.daemon_healthy, START_TIMEOUT,
                 self.procs["daemon"])

    def start_api(self):
        self.procs["octavia-api"].start()
        wait_for("Octavia's API", lambda: _http_ok(f"{self.api_url}/v2/lbaas/providers"),
                 START_TIMEOUT, self.procs["octavia-api"])

    def daemon_healthy(self):
        from octavia_loxilb_provider.client import DaemonClient, DaemonUnavailable
        try:
            status, _ = DaemonClient(str(self.ingress), 2).request("GET", "/healthz")
        except DaemonUnavailable:
            return False
        return status == 200

    def daemon_events(self, limit=200):
        """The daemon's journal (newest first), or None when it cannot be read."""
        from octavia_loxilb_provider.client import DaemonClient, DaemonUnavailable
        try:
            status, answer = DaemonClient(str(self.ingress), 2).request(
                "GET", f"/v1/events?limit={limit}")
        except DaemonUnavailable:
            return None
        return answer.get("events") if status == 200 else None

    def log_paths(self):
        """Every log the suite keeps, by a short label."""
        names = ["octavia-api.log", "octavia-api.out", "driver-agent.log",
                 "driver-agent.out", "daemon.log", "simulator.log"]
        return {n: self.work / n for n in names}

    def close(self, keep=False):
        for name in ("octavia-api", "daemon", "driver-agent", "simulator"):
            self.procs[name].stop()
        for b in self.backends:
            b.stop()
        if not keep:
            shutil.rmtree(self.work, ignore_errors=True)


def _http_ok(url):
    import urllib.error
    import urllib.request
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status == 200
    except (urllib.error.URLError, OSError):
        return False

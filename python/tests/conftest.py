"""Fixtures: a real loxilb-coordinator process on a temporary socket.

The daemon binary comes from ``LOXILB_COORDINATOR_BIN`` or, by default, the
repository's debug build (``cargo build`` / ``cargo test`` produce it). Its
LoxiLB node is a closed loopback port and its driver agent sockets point into
an empty temporary directory: these tests exercise the ingress contract
(accept, journal, refuse), which needs neither.
"""

import os
import pathlib
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

from octavia_loxilb_provider.client import DaemonClient, DaemonUnavailable

REPO = pathlib.Path(__file__).resolve().parents[2]
BIN_ENV = "LOXILB_COORDINATOR_BIN"
DEFAULT_BIN = REPO / "target" / "debug" / "loxilb-coordinator"
START_TIMEOUT = 30.0


def _closed_loopback_port():
    """A loopback port nobody listens on (bound, read back, released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _config(workdir, loxilb_port, tcp_port):
    agent = workdir / "agent"
    agent.mkdir()
    token = workdir / "ingress.token"
    token.write_text("python-test-token\n")
    token.chmod(0o600)
    return f"""
[health_monitoring]
coordination_timeout = 2
coordination_retries = 1
status_update_interval = 1
status_cache_ttl = 30

[loxilb]
nodes = ["http://127.0.0.1:{loxilb_port}"]
request_timeout = 2

[octavia]
status_socket = "{agent}/status.sock"
stats_socket = "{agent}/stats.sock"
get_socket = "{agent}/get.sock"

[ingress]
socket_path = "{workdir}/ingress.sock"
tcp_address = "127.0.0.1:{tcp_port}"
tcp_token_file = "{token}"
# Plain TCP for the http:// tests; test_tls.py runs a TLS daemon.
insecure = true

[database]
url = "sqlite://{workdir}/coordinator.db"

[logging]
level = "info"
"""


class Daemon:
    def __init__(self, process, socket_path, log_path, url=None, token_file=None):
        self.process = process
        self.socket_path = socket_path
        self.log_path = log_path
        #: The TCP ingress (bearer token in ``token_file``).
        self.url = url
        self.token_file = token_file

    def client(self):
        return DaemonClient(self.socket_path, timeout=10)

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def journal(self, limit=1000):
        status, answer = self.client().request("GET", f"/v1/events?limit={limit}")
        assert status == 200, answer
        return answer["events"]

    def wait_healthy(self):
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"daemon exited with {self.process.returncode}; log:\n{self.log()}"
                )
            try:
                status, _ = self.client().request("GET", "/healthz")
                if status == 200:
                    return
            except DaemonUnavailable:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"daemon not healthy in time; log:\n{self.log()}")
            time.sleep(0.05)


@pytest.fixture(scope="session")
def daemon_binary():
    path = pathlib.Path(os.environ.get(BIN_ENV, DEFAULT_BIN))
    if not os.access(path, os.X_OK):
        raise AssertionError(
            f"daemon binary {path} not found; run `cargo build --bin "
            f"loxilb-coordinator` or set {BIN_ENV}"
        )
    return path


@pytest.fixture(scope="session")
def daemon(daemon_binary):
    # A short directory under /tmp: Unix socket paths are limited to ~108 bytes.
    workdir = pathlib.Path(tempfile.mkdtemp(prefix="lxcpy-"))
    config = workdir / "coordinator.toml"
    tcp_port = _closed_loopback_port()
    config.write_text(_config(workdir, _closed_loopback_port(), tcp_port))
    log_path = workdir / "daemon.log"
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [str(daemon_binary), "--config", str(config), "run"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    d = Daemon(process, str(workdir / "ingress.sock"), log_path,
               url=f"http://127.0.0.1:{tcp_port}",
               token_file=str(workdir / "ingress.token"))
    try:
        d.wait_healthy()
        yield d
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def down_socket():
    """A socket path where no daemon listens (the file does not exist)."""
    d = pathlib.Path(tempfile.mkdtemp(prefix="lxcdown-"))
    yield str(d / "ingress.sock")
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def world(daemon_binary):
    """The sync tool's world: a daemon, the LoxiLB simulator and the test driver
    agent, with an Octavia database (see sync_world)."""
    import sync_world

    w = sync_world.World(daemon_binary)
    try:
        yield w
    finally:
        w.close()

"""A world for the sync tool's tests: Octavia's schema in SQLite, the LoxiLB
simulator, the test driver agent and a real daemon, each a real process or
file, plus an octavia.conf pointing the tool at them.

Binaries: the daemon as in ``conftest.py`` (``LOXILB_COORDINATOR_BIN``); the
simulator and the driver agent from ``LOXILB_SIM_BIN`` / ``DRIVER_AGENT_SIM_BIN``,
by default next to the daemon binary (``cargo build --bins`` puts all three
in one directory).
"""

import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

import conftest
import octavia_schema

SIM_ENV = "LOXILB_SIM_BIN"
AGENT_ENV = "DRIVER_AGENT_SIM_BIN"


def sibling_binary(daemon_binary, env, name):
    path = pathlib.Path(os.environ.get(env) or pathlib.Path(daemon_binary).parent / name)
    if not os.access(path, os.X_OK):
        raise AssertionError(f"{name} binary {path} not found; run `cargo build --bins` "
                             f"or set {env}")
    return path


def sync_script():
    """The installed console script (next to the interpreter running pytest)."""
    path = pathlib.Path(sys.executable).parent / "loxilb-coordinator-sync"
    if not path.exists():
        raise AssertionError(f"{path} not found: install the package "
                             "(pip install './python[test,sync-test]')")
    return str(path)


def run_sync(conf, *args):
    """Runs the console script; returns (exit code, stdout, stderr)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOXILB_COORDINATOR_")}
    p = subprocess.run([sync_script(), "--config-file", str(conf), *args],
                       capture_output=True, text=True, timeout=300, env=env)
    return p.returncode, p.stdout, p.stderr


class Sim:
    """The LoxiLB simulator over HTTP on a loopback port."""

    def __init__(self, port):
        self.base = f"http://127.0.0.1:{port}"

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                raw = r.read()
                return r.status, json.loads(raw) if raw else {}
        except urllib.error.HTTPError as e:
            raw = e.read()
            return e.code, json.loads(raw) if raw else {}

    def rules(self):
        status, answer = self.call("GET", "/netlox/v1/config/loadbalancer/all")
        assert status == 200, answer
        return answer.get("lbAttr") or []

    def probes(self):
        status, answer = self.call("GET", "/netlox/v1/config/endpoint/all")
        assert status == 200, answer
        return answer.get("Attr") or []

    def writes(self):
        """Every changing request LoxiLB received (POST/DELETE on /config)."""
        status, log = self.call("GET", "/sim/v1/requests")
        assert status == 200, log
        return [r for r in log if r["method"] in ("POST", "DELETE", "PUT")]

    def clear_requests(self):
        self.call("DELETE", "/sim/v1/requests")


def wait_until(what, check, timeout=20.0):
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class World:
    def __init__(self, daemon_binary):
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="lxcsync-"))
        self.procs = []
        self.db_url = octavia_schema.create(self.dir / "octavia.db")
        self.session = octavia_schema.sessionmaker(self.db_url)
        sim_port = conftest._closed_loopback_port()
        self.sim = Sim(sim_port)
        self._start([sibling_binary(daemon_binary, SIM_ENV, "loxilb-sim"),
                     "--listen", f"127.0.0.1:{sim_port}", "--no-probing"], "sim.log")
        wait_until("the simulator", lambda: self._sim_up())
        config = self.dir / "coordinator.toml"
        config.write_text(conftest._config(self.dir, sim_port,
                                           conftest._closed_loopback_port()))
        self._start([sibling_binary(daemon_binary, AGENT_ENV, "driver-agent-sim"),
                     "--dir", str(self.dir / "agent")], "agent.log")
        wait_until("the driver agent", lambda: (self.dir / "agent" / "get.sock").exists())
        self._daemon_argv = [str(daemon_binary), "--config", str(config), "run"]
        self.start_daemon()
        self.octavia_conf = self.write_octavia_conf()

    def start_daemon(self):
        proc = self._start(self._daemon_argv, "daemon.log")
        self.daemon = conftest.Daemon(proc, str(self.dir / "ingress.sock"),
                                      self.dir / "daemon.log")
        self.daemon.wait_healthy()

    def lose_daemon_database(self):
        """Stops the daemon, deletes its database, starts it on an empty one."""
        p = self.daemon.process
        p.terminate()
        p.wait(timeout=15)
        self.procs.remove(p)
        for f in self.dir.glob("coordinator.db*"):
            f.unlink()
        self.start_daemon()

    def _sim_up(self):
        try:
            return self.sim.call("GET", "/sim/v1/rules")[0] == 200
        except OSError:
            return False

    def _start(self, argv, log_name):
        with open(self.dir / log_name, "ab") as log:
            p = subprocess.Popen([str(a) for a in argv], stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=log)
        self.procs.append(p)
        return p

    def write_octavia_conf(self, connection=None, socket_path=None, name="octavia.conf"):
        path = self.dir / name
        path.write_text(
            octavia_schema.database_section(connection or self.db_url) +
            "[loxilb_coordinator]\n"
            f"socket_path = {socket_path or self.daemon.socket_path}\n"
            "timeout = 30\n")
        return path

    def run_sync(self, *args, conf=None):
        return run_sync(conf or self.octavia_conf, *args)

    def journal_size(self):
        return len(self.daemon.journal())

    def close(self):
        for p in reversed(self.procs):
            p.terminate()
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

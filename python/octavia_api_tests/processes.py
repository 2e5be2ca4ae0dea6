"""One child process of the suite: started with its log in a file, stopped by its pid.

Every component runs as its own process (Octavia's API server and driver
agent, the daemon, the LoxiLB simulator), each in its own process group so a
stop also ends the driver agent's worker processes, and never by name.
"""

import os
import signal
import socket
import subprocess
import time


class Proc:
    """A named component process; ``start()`` may be called again after ``stop()``."""

    def __init__(self, component, argv, log_path, env=None, cwd=None):
        #: Octavia, daemon or simulator: what a failure is blamed on.
        self.component = component
        self.argv = [str(a) for a in argv]
        self.log_path = log_path
        self.env = env
        self.cwd = cwd
        self.process = None
        #: True while the suite itself holds it stopped (an outage step).
        self.stopped_on_purpose = False

    def start(self):
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.argv, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, env=self.env, cwd=self.cwd,
                start_new_session=True)
        self.stopped_on_purpose = False

    def running(self):
        return self.process is not None and self.process.poll() is None

    def died(self):
        """The exit code when the process ended without the suite stopping it."""
        if self.process is None or self.stopped_on_purpose:
            return None
        return self.process.poll()

    def stop(self, timeout=15):
        """SIGTERM to the process group, SIGKILL after ``timeout`` seconds."""
        self.stopped_on_purpose = True
        if not self.running():
            return
        pgid = os.getpgid(self.process.pid)
        os.killpg(pgid, signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(pgid, signal.SIGKILL)
            self.process.wait()
        # The driver agent's workers share the group; make sure none outlives it.
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def log_size(self):
        try:
            return os.path.getsize(self.log_path)
        except OSError:
            return 0

    def log_since(self, offset):
        try:
            with open(self.log_path, "rb") as f:
                f.seek(offset)
                return f.read().decode("utf-8", errors="replace")
        except OSError:
            return ""


def free_port(host="127.0.0.1"):
    """A port on ``host`` that nothing listens on now (bound, read back, released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_for(what, check, timeout, proc=None, interval=0.1):
    """Polls ``check()`` until it is truthy; fails naming ``what`` (and a dead ``proc``)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if proc is not None and proc.died() is not None:
            raise AssertionError(
                f"{proc.component} exited with {proc.died()} while waiting for "
                f"{what}; log {proc.log_path}:\n{proc.log_since(0)[-3000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)

"""Where the daemon is and how long to wait for it.

Read from the environment rather than oslo.config so the plugin adds no
options to octavia.conf and needs nothing beyond octavia-lib. Octavia's API
service (systemd unit, container or WSGI host) is where the variables are set.
"""

import math
import os
from dataclasses import dataclass

#: The daemon's default ``[ingress] socket_path``.
DEFAULT_SOCKET_PATH = "/run/loxilb-coordinator/ingress.sock"

#: Seconds to wait for an answer. Longer than the daemon's default
#: ``[ingress] sync_timeout`` (60 s) so that, with ``async_processing = false``,
#: the daemon's own timeout answers first and the plugin never gives up on an
#: event the daemon has already journaled.
DEFAULT_TIMEOUT = 75.0

SOCKET_ENV = "LOXILB_COORDINATOR_SOCKET"
TIMEOUT_ENV = "LOXILB_COORDINATOR_TIMEOUT"


@dataclass(frozen=True)
class Settings:
    socket_path: str
    timeout: float

    @classmethod
    def from_env(cls, environ=None):
        """Settings from ``environ`` (``os.environ`` by default).

        A malformed or non-positive timeout falls back to the default rather
        than failing: Octavia loads provider drivers lazily inside API
        requests, where a start-up error would surface as an opaque 500.
        """
        env = os.environ if environ is None else environ
        socket_path = env.get(SOCKET_ENV) or DEFAULT_SOCKET_PATH
        try:
            timeout = float(env.get(TIMEOUT_ENV, DEFAULT_TIMEOUT))
        except ValueError:
            timeout = DEFAULT_TIMEOUT
        if not (math.isfinite(timeout) and timeout > 0):
            timeout = DEFAULT_TIMEOUT
        return cls(socket_path=socket_path, timeout=timeout)

"""The daemon side: its desired state, and sending events until applied.

Uses the plugin's own ``DaemonClient`` (Unix socket by default, or the TCP
ingress with its token and TLS settings from octavia.conf
``[loxilb_coordinator]``). Events are accepted at once (202) and applied in
the background, so each accepted event is polled until ``done`` or
``failed``: the tool reports what the daemon really did, not what it queued.
"""

import time
from dataclasses import dataclass
from typing import Optional
from urllib.parse import quote

from octavia_loxilb_provider.client import DaemonProtocolError, DaemonUnavailable
from octavia_loxilb_provider.sync.tree import LbTree

DESIRED = "/v1/desired/loadbalancers"
EVENTS = "/v1/events"
#: Seconds between polls of an accepted event.
POLL = 0.1


class DaemonError(Exception):
    """The daemon is unreachable or answered something unusable."""


@dataclass
class Outcome:
    """What became of one event."""

    method: str
    object_id: str
    state: str
    event_id: Optional[int] = None
    reason: Optional[str] = None

    @property
    def ok(self):
        return self.state == "done"


class Daemon:
    def __init__(self, client, target):
        self._client = client
        self._target = target

    def _request(self, method, path, body=None):
        try:
            return self._client.request(method, path, body)
        except DaemonUnavailable as e:
            raise DaemonError(
                f"cannot reach loxilb-coordinator at {self._target} (octavia.conf "
                f"[loxilb_coordinator] socket_path or url): {e}") from e
        except DaemonProtocolError as e:
            raise DaemonError(f"loxilb-coordinator at {self._target}: {e}") from e

    def _get(self, path, allow_404=False):
        status, answer = self._request("GET", path)
        if status == 404 and allow_404 and answer.get("error") == "not_found":
            return None
        if status == 404 and answer.get("error") != "not_found":
            raise DaemonError(
                f"loxilb-coordinator at {self._target} has no {path} (HTTP 404): "
                "it predates the sync tool; upgrade the daemon")
        if status != 200:
            raise DaemonError(f"loxilb-coordinator at {self._target} answered "
                              f"HTTP {status} to GET {path}: {answer}")
        return answer

    def loadbalancer_ids(self):
        return [str(i) for i in self._get(DESIRED).get("loadbalancers", [])]

    def tree(self, lb_id):
        """The daemon's LbTree of ``lb_id``, or None when it does not hold it."""
        answer = self._get(f"{DESIRED}/{quote(lb_id, safe='')}", allow_404=True)
        return None if answer is None else LbTree.from_daemon(answer)

    def post(self, ev, object_id):
        """Posts one event; the Outcome so far (``refused`` when not accepted)."""
        status, answer = self._request("POST", EVENTS, ev)
        if status not in (200, 202):
            reason = answer.get("message") or answer.get("error") or f"HTTP {status}"
            return Outcome(ev["method"], object_id, "refused", reason=reason)
        return Outcome(ev["method"], object_id, answer.get("state", "queued"),
                       answer.get("id"), answer.get("reason"))

    def wait(self, outcomes, wait):
        """Polls accepted events until each is ``done`` or ``failed``, for at
        most ``wait`` seconds in all; the rest become ``timeout``."""
        deadline = time.monotonic() + wait
        for o in outcomes:
            while o.state not in ("done", "failed", "refused", "timeout"):
                if time.monotonic() > deadline:
                    o.state = "timeout"
                    o.reason = (f"event {o.event_id} not applied within {wait:g} s "
                                "(see `loxilb-coordinator events`)")
                    break
                status, rec = self._request("GET", f"{EVENTS}/{o.event_id}")
                if status == 200:
                    o.state = rec.get("state", o.state)
                    o.reason = rec.get("reason")
                if o.state not in ("done", "failed"):
                    time.sleep(POLL)
        return outcomes

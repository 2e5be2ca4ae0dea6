"""Octavia's REST API as a client sees it: plain HTTP/JSON with urllib, nothing else.

With ``auth_strategy = noauth`` Octavia takes the project from the request
body, so every create names ``PROJECT``. Waiting for ACTIVE is done the way
clients (openstacksdk, tempest) do it: poll the object and its load balancer.
"""

import json
import time
import urllib.error
import urllib.request

PROJECT = "5f0a1c2e-4b7d-4e8f-9a1b-2c3d4e5f6a7b"
ACTIVE_TIMEOUT = 30.0

#: Resource -> (collection path under /v2/lbaas, JSON key of one object).
KINDS = {
    "loadbalancer": ("loadbalancers", "loadbalancer"),
    "listener": ("listeners", "listener"),
    "pool": ("pools", "pool"),
    "healthmonitor": ("healthmonitors", "healthmonitor"),
    "l7policy": ("l7policies", "l7policy"),
}


class ApiAnswer:
    def __init__(self, status, body, seconds):
        self.status = status
        self.body = body
        self.seconds = seconds

    def fault(self):
        """Octavia's error text (``faultstring``), or the raw body."""
        if isinstance(self.body, dict):
            return self.body.get("faultstring") or json.dumps(self.body)
        return str(self.body)

    def __repr__(self):
        return f"HTTP {self.status} after {self.seconds:.2f}s: {self.body}"


class OctaviaApi:
    def __init__(self, base_url):
        self.base = f"{base_url}/v2/lbaas"

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"{self.base}{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json",
                                              "Accept": "application/json"})
        started = time.monotonic()
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                status, raw = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        seconds = time.monotonic() - started
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode(errors="replace")
        return ApiAnswer(status, parsed, seconds)

    def ok(self, method, path, body=None, expect=(200, 201, 202, 204)):
        """A call that must succeed; returns the parsed body."""
        answer = self.call(method, path, body)
        if answer.status not in expect:
            raise AssertionError(f"Octavia answered {method} {path} with {answer!r}")
        return answer.body

    # -- objects ------------------------------------------------------------

    def create(self, kind, **fields):
        collection, key = KINDS[kind]
        return self.ok("POST", f"/{collection}",
                       {key: {"project_id": PROJECT, **fields}})[key]

    def show(self, kind, oid):
        collection, key = KINDS[kind]
        return self.ok("GET", f"/{collection}/{oid}")[key]

    def update(self, kind, oid, **fields):
        collection, key = KINDS[kind]
        return self.ok("PUT", f"/{collection}/{oid}", {key: fields})[key]

    def delete(self, kind, oid, query=""):
        collection, _ = KINDS[kind]
        self.ok("DELETE", f"/{collection}/{oid}{query}")

    def exists(self, kind, oid):
        collection, key = KINDS[kind]
        answer = self.call("GET", f"/{collection}/{oid}")
        if answer.status == 404:
            return False
        # Octavia shows a deleted load balancer as DELETED for a while.
        return answer.body[key]["provisioning_status"] != "DELETED"

    def create_member(self, pool_id, **fields):
        return self.ok("POST", f"/pools/{pool_id}/members",
                       {"member": {"project_id": PROJECT, **fields}})["member"]

    def member(self, pool_id, member_id):
        return self.ok("GET", f"/pools/{pool_id}/members/{member_id}")["member"]

    def members(self, pool_id):
        return self.ok("GET", f"/pools/{pool_id}/members")["members"]

    def status_tree(self, lb_id):
        return self.ok("GET", f"/loadbalancers/{lb_id}/status")["statuses"]["loadbalancer"]

    # -- waiting ------------------------------------------------------------

    def wait_active(self, lb_id, obj=None, timeout=ACTIVE_TIMEOUT):
        """Waits until the load balancer (and ``obj`` = (kind, id) or a member
        ``("member", pool_id, id)``) are ACTIVE; fails at once on ERROR."""
        deadline = time.monotonic() + timeout
        while True:
            states = {"loadbalancer": self.show("loadbalancer", lb_id)["provisioning_status"]}
            if obj is not None:
                states[obj[0]] = self._object(obj)["provisioning_status"]
            if all(s == "ACTIVE" for s in states.values()):
                return
            if "ERROR" in states.values():
                raise AssertionError(f"provisioning_status went to ERROR: {states}")
            if time.monotonic() > deadline:
                raise AssertionError(f"not ACTIVE within {timeout}s: {states}")
            time.sleep(0.1)

    def _object(self, obj):
        if obj[0] == "member":
            return self.member(obj[1], obj[2])
        return self.show(obj[0], obj[1])

    def wait_gone(self, kind, oid, timeout=ACTIVE_TIMEOUT):
        deadline = time.monotonic() + timeout
        while self.exists(kind, oid):
            if time.monotonic() > deadline:
                state = self.show(kind, oid)["provisioning_status"]
                raise AssertionError(f"{kind} {oid} still {state} after {timeout}s")
            time.sleep(0.1)

    def delete_and_wait(self, kind, oid, lb_id=None, query=""):
        """Deletes, waits until the object is gone and, for a child, until its
        load balancer ``lb_id`` is ACTIVE again, as clients do."""
        self.delete(kind, oid, query)
        self.wait_gone(kind, oid)
        if lb_id is not None:
            self.wait_active(lb_id)

    def wait_operating(self, kind, oid, want, timeout=20.0):
        """Waits for ``operating_status == want`` (statuses arrive with the daemon's
        polls). A member's ``oid`` is ``(pool_id, member_id)``."""
        deadline = time.monotonic() + timeout
        while True:
            got = self._object((kind, *oid) if kind == "member" else (kind, oid))[
                "operating_status"]
            if got == want:
                return
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{kind} {oid} operating_status {got} after {timeout}s, expected {want}")
            time.sleep(0.2)

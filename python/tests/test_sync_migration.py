"""Migrating from another LoxiLB driver with loxilb-coordinator-sync: the other
driver's rule (``octavia-listener-<uuid>``, octavia-loxilb-driver's naming)
already serves the VIP, port and protocol our rule uses.

LoxiLB keys a rule by VIP, port and protocol, not by name (pkg/loxinet/rules.go,
``AddLbRule``: an existing ``ruleKey()`` takes the existing-rule branch), so
our create updates that rule in place and the rule keeps the name it was
created with. The test watches the simulator all along: there must never be a
moment without a rule for the key, and the daemon must never delete it."""

import threading
import time

import pytest

import octavia_rows as rows
import sync_world

VIP = "192.0.2.10"




class KeyWatch:
    """Reads LoxiLB's rule list in a loop; remembers every sample's names at the key."""

    def __init__(self, sim, key):
        self.sim, self.key = sim, key
        self.samples = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _names(self):
        return [r["serviceArguments"]["name"] for r in self.sim.rules()
                if (r["serviceArguments"]["externalIP"], r["serviceArguments"]["port"],
                    r["serviceArguments"]["protocol"]) == self.key]

    def _run(self):
        while not self._stop.is_set():
            self.samples.append(self._names())
            time.sleep(0.005)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=10)


def reconcile(world):
    status, answer = world.daemon.client().request("POST", "/v1/reconcile?dry_run=false")
    assert status == 200, answer
    return answer


def test_adopting_a_foreign_rule_with_the_same_key_leaves_no_gap(world):
    with world.session.begin() as s:
        lb = rows.loadbalancer(s, VIP)
        pool = rows.pool(s, lb)
        listener = rows.listener(s, lb, "TCP", 80, pool)
        rows.member(s, pool, "127.0.0.21", 8080)
        rows.member(s, pool, "127.0.0.22", 8080)
        rows.health_monitor(s, pool)
    foreign = f"octavia-listener-{listener}"
    status, answer = world.sim.call("POST", "/netlox/v1/config/loadbalancer", {
        "serviceArguments": {"externalIP": VIP, "port": 80, "protocol": "tcp",
                             "sel": 0, "mode": 2, "monitor": True, "name": foreign},
        "endpoints": [{"endpointIP": "127.0.0.21", "targetPort": 8080, "weight": 1}]})
    assert status == 200, answer

    with KeyWatch(world.sim, (VIP, 80, "tcp")) as watch:
        code, out, err = world.run_sync()
        assert code == 0, out + err
        first, second = reconcile(world), reconcile(world)
        code, out, err = world.run_sync("--dry-run")
        assert code == 0, out + err
    assert len(watch.samples) > 20
    gaps = [i for i, names in enumerate(watch.samples) if not names]
    assert gaps == [], f"no rule for {VIP}:80/tcp in {len(gaps)} of {len(watch.samples)} samples"

    # A delete and re-create can be too quick for the sampling: LoxiLB's log says.
    deletes = [r for r in world.sim.writes()
               if r["method"] == "DELETE" and r["path"].startswith("/config/loadbalancer")]
    assert deletes == [], "the daemon never deletes the rule at the key"
    # One rule at the key: the foreign one, updated in place with Octavia's members.
    [rule] = [r for r in world.sim.rules() if r["serviceArguments"]["externalIP"] == VIP]
    assert rule["serviceArguments"]["name"] == foreign
    assert sorted((e["endpointIP"], e["targetPort"]) for e in rule["endpoints"]) == [
        ("127.0.0.21", 8080), ("127.0.0.22", 8080)]
    ours = f"octavia-{listener}"
    for answer in (first, second):
        for node in answer.get("nodes", []):
            assert foreign not in [o.get("name") for o in node.get("orphans", [])], answer
            # The reconciler finds our record at its key under the old name: no
            # drift, nothing re-posted.
            assert ours not in [d["name"] for d in node.get("drift", [])], answer
    posts = [r["status"] for r in world.sim.writes() if r["method"] == "POST"
             and r["path"] == "/config/loadbalancer"
             and r["body"]["serviceArguments"]["name"] == ours]
    assert posts == [200], "one in-place update of the foreign rule, then nothing"
    # The health poll finds the listener's rule at its key too: ONLINE, not ERROR.
    def listener_status():
        status, tree = world.daemon.client().request("GET", f"/v1/status/loadbalancers/{lb}")
        assert status == 200, tree
        return [(l["id"], l["operating_status"]) for l in tree["listeners"]]
    sync_world.wait_until("the listener ONLINE",
                          lambda: listener_status() == [(listener, "ONLINE")])
    status, orphans = world.daemon.client().request("GET", "/v1/orphans")
    assert status == 200 and foreign not in str(orphans), orphans

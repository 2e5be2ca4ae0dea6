"""Unit tests of the sync tool's pure parts: splitting trees, comparing, events."""

from octavia_loxilb_provider.sync import events
from octavia_loxilb_provider.sync.diff import tree_differences
from octavia_loxilb_provider.sync.tree import LbTree


def octavia_tree(**member_overrides):
    member = {"member_id": "m1", "pool_id": "p1", "address": "10.0.0.1",
              "protocol_port": 80, "weight": 1, "admin_state_up": True,
              "vnic_type": None, **member_overrides}
    return LbTree.from_wire({
        "loadbalancer_id": "lb", "vip_address": "192.0.2.1", "admin_state_up": True,
        "flavor": None, "listeners": [{
            "listener_id": "l1", "loadbalancer_id": "lb", "protocol": "TCP",
            "protocol_port": 80, "allowed_cidrs": ["10.0.0.0/8", "192.168.0.0/16"],
            "default_pool": {"pool_id": "p1", "members": [member]}}],
        "pools": [{"pool_id": "p1", "loadbalancer_id": "lb", "listener_id": "l1",
                   "protocol": "TCP", "lb_algorithm": "ROUND_ROBIN",
                   "members": [member],
                   "healthmonitor": {"healthmonitor_id": "h1", "pool_id": "p1",
                                     "type": "TCP", "delay": 5}}]})


def daemon_answer(tree):
    """What the daemon stores: no nulls, no nested copies, its own order."""
    def stored(o):
        return {k: v for k, v in o.items() if v is not None}
    return {"loadbalancer": stored(tree.loadbalancer),
            "listeners": [dict(stored(l), allowed_cidrs=["192.168.0.0/16", "10.0.0.0/8"])
                          for l in tree.listeners],
            "pools": [stored(p) for p in tree.pools],
            "members": [stored(m) for m in tree.members],
            "health_monitors": [stored(h) for h in tree.health_monitors],
            "in_flight": False}


def test_nested_copies_are_split_into_flat_objects():
    t = octavia_tree()
    assert "default_pool" not in t.listeners[0]
    assert "members" not in t.pools[0] and "healthmonitor" not in t.pools[0]
    assert [m["member_id"] for m in t.members] == ["m1"]
    assert [h["healthmonitor_id"] for h in t.health_monitors] == ["h1"]


def test_nulls_order_and_unstored_keys_are_not_differences():
    t = octavia_tree()
    assert tree_differences(t, LbTree.from_daemon(daemon_answer(t))) == []


def test_a_changed_loxilb_input_and_missing_objects_are_reported():
    daemon = LbTree.from_daemon(daemon_answer(octavia_tree()))
    daemon.health_monitors = []
    daemon.members[0].pop("weight")
    texts = [d.text() for d in tree_differences(octavia_tree(weight=3), daemon)]
    assert texts == [
        "loadbalancer lb member m1: weight: Octavia 3, daemon (none)",
        "loadbalancer lb health_monitor h1: only in Octavia",
    ]
    assert [d.text() for d in tree_differences(octavia_tree(), None)] == [
        "loadbalancer lb: only in Octavia"]


def test_events_are_flat_in_order_and_delete_only_what_octavia_lacks():
    t = octavia_tree()
    sent = events.for_tree(t)
    assert [e["method"] for e in sent] == [
        "loadbalancer_create", "listener_create", "pool_create",
        "health_monitor_create", "member_batch_update"]
    assert "listeners" not in sent[0]["args"]["loadbalancer"]
    assert sent[4]["args"] == {"pool_id": "p1", "members": t.members}
    daemon = LbTree.from_daemon(daemon_answer(t))
    daemon.pools.append({"pool_id": "p-old", "loadbalancer_id": "lb"})
    assert events.deletions(t, daemon) == [
        {"method": "pool_delete", "args": {"pool": {"pool_id": "p-old", "loadbalancer_id": "lb"}}}]
    assert events.deletions(t, None) == []

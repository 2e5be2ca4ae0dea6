"""loxilb-coordinator-sync against Octavia's real schema, a real daemon and the
LoxiLB simulator: adoption, idempotent replays, --dry-run, drift repair,
--prune and the errors an operator can meet."""

from types import SimpleNamespace

import pytest

import octavia_rows as rows
import octavia_schema
import sync_world

VIP1, VIP2 = "192.0.2.10", "192.0.2.11"




def populate(world):
    """Two loxilb load balancers (TCP with a health monitor, flavor, allowed
    CIDRs and timeouts; UDP) and one of another provider."""
    ids = SimpleNamespace()
    with world.session.begin() as s:
        flavor = rows.flavor(s, {"nat_mode": "fullnat", "lb_algorithm": "ROUND_ROBIN"})
        ids.lb1 = rows.loadbalancer(s, VIP1, flavor_id=flavor)
        ids.pool1 = rows.pool(s, ids.lb1)
        ids.l1 = rows.listener(s, ids.lb1, "TCP", 80, ids.pool1,
                               allowed_cidrs=["10.0.0.0/8"], timeout_client_data=50000)
        ids.m1 = rows.member(s, ids.pool1, "127.0.0.21", 8080)
        ids.m2 = rows.member(s, ids.pool1, "127.0.0.22", 8080)
        ids.hm1 = rows.health_monitor(s, ids.pool1)
        ids.lb2 = rows.loadbalancer(s, VIP2)
        ids.pool2 = rows.pool(s, ids.lb2, protocol="UDP", algorithm="SOURCE_IP")
        ids.l2 = rows.listener(s, ids.lb2, "UDP", 53, ids.pool2)
        ids.m3 = rows.member(s, ids.pool2, "127.0.0.31", 5353)
        ids.amphora = rows.loadbalancer(s, "192.0.2.12", provider="amphora")
    return ids


def rules_by_name(world):
    return {r["serviceArguments"]["name"]: r for r in world.sim.rules()}


def endpoints(rule):
    return sorted((e["endpointIP"], e["targetPort"]) for e in rule.get("endpoints") or [])


def desired_ids(world):
    status, answer = world.daemon.client().request("GET", "/v1/desired/loadbalancers")
    assert status == 200, answer
    return set(answer["loadbalancers"])


def test_sync_adopts_every_loxilb_load_balancer_and_a_replay_changes_nothing(world):
    ids = populate(world)

    code, out, err = world.run_sync()
    assert code == 0, out + err
    assert desired_ids(world) == {ids.lb1, ids.lb2}, "the amphora load balancer is not ours"
    rules = rules_by_name(world)
    assert set(rules) == {f"octavia-{ids.l1}", f"octavia-{ids.l2}"}
    tcp = rules[f"octavia-{ids.l1}"]
    args = tcp["serviceArguments"]
    assert (args["externalIP"], args["port"], args["protocol"]) == (VIP1, 80, "tcp")
    assert endpoints(tcp) == [("127.0.0.21", 8080), ("127.0.0.22", 8080)]
    assert [a["prefix"] for a in tcp.get("allowedSources") or []] == ["10.0.0.0/8"]
    udp = rules[f"octavia-{ids.l2}"]["serviceArguments"]
    assert (udp["externalIP"], udp["port"], udp["protocol"]) == (VIP2, 53, "udp")
    probes = {p["name"] for p in world.sim.probes()}
    assert {"127.0.0.21_tcp_8080", "127.0.0.22_tcp_8080"} <= probes, probes

    # Second run: nothing differs, nothing is sent.
    journal, rules_before = world.journal_size(), world.sim.rules()
    world.sim.clear_requests()
    code, out, err = world.run_sync()
    assert code == 0, out + err
    assert f"loadbalancer {ids.lb1}: in sync, nothing sent" in out
    assert world.journal_size() == journal
    assert world.sim.writes() == []

    # A forced replay of every event is accepted and applied, and LoxiLB sees
    # no change at all: the daemon's apply is a diff against desired state.
    code, out, err = world.run_sync("--force")
    assert code == 0, out + err
    assert f"loadbalancer {ids.lb1}: sent 5 events, 5 applied" in out
    assert world.journal_size() == journal + 5 + 4
    assert world.sim.writes() == []
    assert world.sim.rules() == rules_before

    code, out, err = world.run_sync("--dry-run")
    assert code == 0, out + err
    assert "0 errors, 0 left different" in out


def test_rebuild_after_the_daemon_database_is_lost_keeps_every_rule(world):
    ids = populate(world)
    assert world.run_sync()[0] == 0
    rules, probes = world.sim.rules(), world.sim.probes()
    world.lose_daemon_database()
    assert desired_ids(world) == set()
    world.sim.clear_requests()

    code, out, err = world.run_sync()
    assert code == 0, out + err
    assert desired_ids(world) == {ids.lb1, ids.lb2}
    # LoxiLB kept serving: every create met its rule, identical (409
    # "lbrule-exists", taken as applied) or, for the rule with one allowed
    # source, updated in place (LoxiLB counts re-posting its only source as a
    # change: AddLbRule's allowed-sources comparison); nothing was deleted.
    writes = world.sim.writes()
    assert [w for w in writes if w["method"] == "DELETE"] == []
    statuses = {w["body"]["serviceArguments"]["port"]: w["status"]
                for w in writes if w["path"] == "/config/loadbalancer"}
    assert statuses == {53: 409, 80: 200}, statuses
    assert world.sim.rules() == rules
    assert world.sim.probes() == probes
    assert world.run_sync("--dry-run")[0] == 0


def test_dry_run_prints_drift_sends_nothing_and_sync_repairs_it(world):
    from octavia.db import repositories
    from octavia_loxilb_provider.driver import LoxiLBProviderDriver
    from octavia_lib.api.drivers import data_models

    ids = populate(world)
    assert world.run_sync()[0] == 0
    with world.session.begin() as s:
        repositories.MemberRepository().update(s, ids.m1, weight=5)
        m4 = rows.member(s, ids.pool1, "127.0.0.23", 8080)
        repositories.HealthMonitorRepository().delete(s, id=ids.hm1)
    # A load balancer only the daemon knows (Octavia lost it, or never had it).
    extra = "5e0f7a1c-9b2d-4c3e-8f4a-6b7c8d9e0f1a"
    LoxiLBProviderDriver(socket_path=world.daemon.socket_path).loadbalancer_create(
        data_models.LoadBalancer(loadbalancer_id=extra, vip_address="192.0.2.99",
                                 admin_state_up=True))
    sync_world.wait_until("the extra load balancer", lambda: extra in desired_ids(world))

    journal = world.journal_size()
    world.sim.clear_requests()
    code, out, err = world.run_sync("--dry-run")
    assert code == 2, out + err
    assert f"loadbalancer {ids.lb1} member {ids.m1}: weight: Octavia 5, daemon 1" in out
    assert f"loadbalancer {ids.lb1} member {m4}: only in Octavia" in out
    assert f"loadbalancer {ids.lb1} health_monitor {ids.hm1}: only in the daemon" in out
    assert f"loadbalancer {extra}: only in the daemon" in out
    assert f"loadbalancer {ids.lb2}: in sync" in out
    assert world.journal_size() == journal, "--dry-run sends no event"
    assert world.sim.writes() == []

    # Without --prune the extra load balancer stays (exit 2); everything else is repaired.
    code, out, err = world.run_sync()
    assert code == 2, out + err
    rule = rules_by_name(world)[f"octavia-{ids.l1}"]
    assert endpoints(rule) == [("127.0.0.21", 8080), ("127.0.0.22", 8080), ("127.0.0.23", 8080)]
    assert extra in desired_ids(world)

    code, out, err = world.run_sync("--prune")
    assert code == 0, out + err
    assert desired_ids(world) == {ids.lb1, ids.lb2}
    code, out, err = world.run_sync("--dry-run")
    assert code == 0, out + err


def test_a_busy_load_balancer_is_skipped_and_loadbalancer_selects(world):
    with world.session.begin() as s:
        busy = rows.loadbalancer(s, VIP1, provisioning_status="PENDING_UPDATE")
        idle = rows.loadbalancer(s, VIP2)
    code, out, err = world.run_sync("--loadbalancer", busy)
    assert code == 2, out + err
    assert f"loadbalancer {busy}: skipped, Octavia has it in PENDING_UPDATE" in out
    assert idle not in out, "--loadbalancer reads only the one named"
    assert world.journal_size() == 0
    assert desired_ids(world) == set()
    code, out, err = world.run_sync("--loadbalancer", idle)
    assert code == 0, out + err
    assert desired_ids(world) == {idle}
    nobody = "0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e"
    code, out, err = world.run_sync("--loadbalancer", nobody, "--loadbalancer", idle)
    assert code == 3, out + err
    assert f"loadbalancer {nobody}: neither Octavia" in err


def test_errors_name_what_is_wrong(tmp_path):
    code, _, err = sync_world.run_sync(tmp_path / "missing.conf")
    assert code == 1
    assert "configuration file not found" in err and "missing.conf" in err

    url = octavia_schema.create(tmp_path / "octavia.db")
    socket = tmp_path / "no-daemon.sock"
    conf = tmp_path / "octavia.conf"
    conf.write_text(octavia_schema.database_section(url)
                    + f"[loxilb_coordinator]\nsocket_path = {socket}\n")
    code, _, err = sync_world.run_sync(conf)
    assert code == 1
    assert f"cannot reach loxilb-coordinator at {socket}" in err

    bad = tmp_path / "bad-db.conf"
    bad.write_text(octavia_schema.database_section(f"sqlite:///{tmp_path}/no/such/dir/x.db")
                   + f"[loxilb_coordinator]\nsocket_path = {socket}\n")
    code, _, err = sync_world.run_sync(bad)
    assert code == 1
    assert "cannot read Octavia's database at sqlite:///" in err

    unset = tmp_path / "unset.conf"
    unset.write_text(f"[loxilb_coordinator]\nsocket_path = {socket}\n")
    code, _, err = sync_world.run_sync(unset)
    assert code == 1
    assert "[database] connection is not set" in err

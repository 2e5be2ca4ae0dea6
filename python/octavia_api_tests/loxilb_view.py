"""What LoxiLB (the simulator) holds, read through LoxiLB's own REST API.

The suite checks the LoxiLB side the way an operator would: the rule list
(``/config/loadbalancer/all``) and the endpoint probes (``/config/endpoint/all``).
"""

import json
import urllib.request


def _get(sim_url, path):
    with urllib.request.urlopen(f"{sim_url}/netlox/v1{path}", timeout=5) as r:
        return json.loads(r.read())


def rules(sim_url, vip):
    """{(port, protocol): {"sel", "probetype", "endpoints": {(ip, port): weight}}} for ``vip``."""
    out = {}
    for rule in _get(sim_url, "/config/loadbalancer/all").get("lbAttr") or []:
        svc = rule.get("serviceArguments") or {}
        if svc.get("externalIP") != vip:
            continue
        eps = {(e.get("endpointIP"), e.get("targetPort")): e.get("weight")
               for e in rule.get("endpoints") or []}
        out[(svc.get("port"), svc.get("protocol"))] = {
            "sel": svc.get("sel"),
            "monitor": svc.get("monitor"),
            "probetype": svc.get("probetype") or "",
            "endpoints": eps,
        }
    return out


def probes(sim_url, hosts):
    """The endpoint probes LoxiLB runs against ``hosts``: {host: [probe, ...]}."""
    out = {}
    for ep in _get(sim_url, "/config/endpoint/all").get("Attr") or []:
        host = ep.get("hostName")
        if host in hosts:
            out.setdefault(host, []).append(ep)
    return out

"""The plugin reaches a remote daemon over TLS: ``https://host:port`` with the
token file, the CA file and (for mutual TLS) a client certificate, all from
octavia.conf ``[loxilb_coordinator]``; the real daemon binary serves TLS.
"""

import pathlib
import shutil
import subprocess
import tempfile

import pytest
import trustme
from octavia_lib.api.drivers import data_models as dm
from oslo_config import cfg

from conftest import Daemon, _closed_loopback_port, _config
from octavia_loxilb_provider import LoxiLBProviderDriver
from octavia_loxilb_provider import settings as st
from octavia_loxilb_provider.client import DaemonClient, DaemonUnavailable
from octavia_loxilb_provider.settings import Settings


@pytest.fixture(scope="module")
def tls_daemon(daemon_binary):
    """A daemon whose TCP ingress is mutual TLS, and the PKI around it."""
    workdir = pathlib.Path(tempfile.mkdtemp(prefix="lxctls-"))
    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1")
    client = ca.issue_cert("octavia-api")
    files = {
        "server.pem": server.private_key_and_cert_chain_pem,
        "client.crt": client.cert_chain_pems[0],
        "client.key": client.private_key_pem,
        "ca.crt": ca.cert_pem,
    }
    for name, blob in files.items():
        blob.write_to_path(str(workdir / name))
        (workdir / name).chmod(0o600)
    tcp_port = _closed_loopback_port()
    tls = (f'tls_cert_file = "{workdir}/server.pem"\n'
           f'tls_key_file = "{workdir}/server.pem"\n'
           f'tls_client_ca_file = "{workdir}/ca.crt"')
    text = _config(workdir, _closed_loopback_port(), tcp_port)
    assert "insecure = true" in text
    config = workdir / "coordinator.toml"
    config.write_text(text.replace("insecure = true", tls))
    log_path = workdir / "daemon.log"
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [str(daemon_binary), "--config", str(config), "run"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log)
    d = Daemon(process, str(workdir / "ingress.sock"), log_path,
               url=f"https://127.0.0.1:{tcp_port}",
               token_file=str(workdir / "ingress.token"))
    d.workdir = workdir
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


def octavia_conf(tmp_path, body):
    path = tmp_path / "octavia.conf"
    path.write_text(body)
    conf = cfg.ConfigOpts()
    st.register(conf)
    conf(args=[], default_config_files=[str(path)])
    return conf


def tls_section(d, client_cert=True, url=None):
    w = d.workdir
    lines = ["[loxilb_coordinator]",
             f"url = {url or d.url}",
             f"token_file = {d.token_file}",
             f"ca_file = {w}/ca.crt"]
    if client_cert:
        lines += [f"cert_file = {w}/client.crt", f"key_file = {w}/client.key"]
    return "\n".join(lines) + "\n"


def test_plugin_posts_an_event_over_mutual_tls_from_octavia_conf(tls_daemon, tmp_path):
    conf = octavia_conf(tmp_path, tls_section(tls_daemon))
    client = DaemonClient.from_settings(Settings.load(conf=conf, environ={}))
    before = len(tls_daemon.journal())
    status, answer = client.request("POST", "/v1/events", {
        "method": "loadbalancer_create",
        "args": {"loadbalancer": {
            "loadbalancer_id": "7a2c6a3e-1f0b-4c9e-9a51-6e0f7d1a2b01",
            "vip_address": "127.0.0.79"}}})
    assert status == 202, answer
    assert len(tls_daemon.journal()) == before + 1


def test_the_driver_reaches_the_tls_daemon(tls_daemon, monkeypatch):
    w = tls_daemon.workdir
    monkeypatch.setenv(st.URL_ENV, tls_daemon.url)
    monkeypatch.setenv(st.TOKEN_FILE_ENV, tls_daemon.token_file)
    monkeypatch.setenv(st.CA_FILE_ENV, f"{w}/ca.crt")
    monkeypatch.setenv(st.CERT_FILE_ENV, f"{w}/client.crt")
    monkeypatch.setenv(st.KEY_FILE_ENV, f"{w}/client.key")
    before = len(tls_daemon.journal())
    LoxiLBProviderDriver().loadbalancer_create(dm.LoadBalancer(
        loadbalancer_id="7a2c6a3e-1f0b-4c9e-9a51-6e0f7d1a2b02",
        vip_address="127.0.0.80"))
    assert len(tls_daemon.journal()) == before + 1


def test_without_client_certificate_or_tls_the_daemon_is_not_reached(tls_daemon, tmp_path):
    no_cert = octavia_conf(tmp_path, tls_section(tls_daemon, client_cert=False))
    with pytest.raises(DaemonUnavailable):
        DaemonClient.from_settings(Settings.load(conf=no_cert, environ={})).request(
            "GET", "/healthz")
    plain_url = tls_daemon.url.replace("https://", "http://")
    plain = DaemonClient(None, 5, url=plain_url, token="x")
    with pytest.raises(DaemonUnavailable):
        plain.request("GET", "/healthz")

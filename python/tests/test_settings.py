"""Settings in octavia.conf ``[loxilb_coordinator]``, environment overrides,
clear refusals of bad values, the oslo-config-generator entry point, and the
TCP mode against the real daemon."""

import os
import subprocess
import sys
from importlib import metadata

import pytest
from octavia_lib.api.drivers import data_models as dm
from octavia_lib.api.drivers import exceptions
from oslo_config import cfg

from octavia_loxilb_provider import LoxiLBProviderDriver
from octavia_loxilb_provider import settings as st
from octavia_loxilb_provider.settings import Settings, SettingsError


def conf_with(tmp_path, body):
    """A fresh ConfigOpts that read an octavia.conf holding ``body``."""
    path = tmp_path / "octavia.conf"
    path.write_text(body)
    conf = cfg.ConfigOpts()
    st.register(conf)
    conf(args=[], default_config_files=[str(path)])
    return conf


def token_file(tmp_path, text="s3cret\n"):
    path = tmp_path / "token"
    path.write_text(text)
    return str(path)


def test_octavia_conf_is_read(tmp_path):
    conf = conf_with(tmp_path, f"""
[loxilb_coordinator]
socket_path = /run/x/ingress.sock
timeout = 12.5
""")
    s = Settings.load(conf=conf, environ={})
    assert (s.socket_path, s.timeout, s.url) == ("/run/x/ingress.sock", 12.5, None)


def test_environment_wins_over_octavia_conf_which_wins_over_defaults(tmp_path):
    conf = conf_with(tmp_path, """
[loxilb_coordinator]
socket_path = /from/conf.sock
timeout = 12
""")
    s = Settings.load(conf=conf, environ={st.SOCKET_ENV: "/from/env.sock"})
    assert s.socket_path == "/from/env.sock"
    assert s.timeout == 12.0, "timeout not in the environment: octavia.conf"
    s = Settings.load(conf=conf_with(tmp_path, ""), environ={})
    assert (s.socket_path, s.timeout) == (st.DEFAULT_SOCKET_PATH, st.DEFAULT_TIMEOUT)


def test_url_mode_reads_the_token_and_needs_it(tmp_path):
    tok = token_file(tmp_path)
    conf = conf_with(tmp_path, f"""
[loxilb_coordinator]
url = http://127.0.0.1:9443
token_file = {tok}
""")
    s = Settings.load(conf=conf, environ={})
    assert (s.url, s.token, s.target) == ("http://127.0.0.1:9443", "s3cret",
                                          "http://127.0.0.1:9443")
    conf = conf_with(tmp_path, """
[loxilb_coordinator]
url = http://127.0.0.1:9443
""")
    with pytest.raises(SettingsError, match=r"\[loxilb_coordinator\] url.*token_file"):
        Settings.load(conf=conf, environ={})


@pytest.mark.parametrize("setting, value, match", [
    ("timeout", "soon", r"\[loxilb_coordinator\] timeout: 'soon' is not a positive"),
    ("timeout", "-1", r"timeout: '-1'"),
    ("url", "ftp://host:1", r"url: 'ftp://host:1' is not an http\(s\)"),
    ("url", "http://host:99999", r"url: 'http://host:99999'"),
    ("ca_file", "/nonexistent/ca.pem", r"ca_file: no such file"),
    ("cert_file", "/nonexistent/c.pem", r"cert_file and key_file must be given together"),
])
def test_bad_values_are_refused_naming_the_option(tmp_path, setting, value, match):
    extra = f"token_file = {token_file(tmp_path)}\n" if setting == "url" else ""
    conf = conf_with(tmp_path, f"[loxilb_coordinator]\n{setting} = {value}\n{extra}")
    with pytest.raises(SettingsError, match=match):
        Settings.load(conf=conf, environ={})


def test_unreadable_or_empty_token_files_are_refused(tmp_path):
    env = {st.URL_ENV: "http://127.0.0.1:1", st.TOKEN_FILE_ENV: "/nonexistent/t"}
    with pytest.raises(SettingsError, match=st.TOKEN_FILE_ENV + ".*cannot read"):
        Settings.from_env(env)
    env[st.TOKEN_FILE_ENV] = token_file(tmp_path, "\n")
    with pytest.raises(SettingsError, match="is empty"):
        Settings.from_env(env)


def test_a_misconfigured_driver_loads_and_answers_with_a_clear_fault(monkeypatch):
    """Octavia loads drivers inside API requests: a bad setting must not be a 500
    at load time, and every call names the option for the operator."""
    monkeypatch.setenv(st.TIMEOUT_ENV, "later")
    driver = LoxiLBProviderDriver()
    with pytest.raises(exceptions.DriverError) as raised:
        driver.loadbalancer_create(dm.LoadBalancer(loadbalancer_id="x"))
    assert "misconfigured" in raised.value.user_fault_string
    assert st.TIMEOUT_ENV in raised.value.operator_fault_string


def test_oslo_config_generator_prints_the_section():
    found = [ep for ep in metadata.entry_points(group="oslo.config.opts")
             if ep.name == "loxilb_coordinator"]
    assert len(found) == 1
    assert found[0].load() is st.list_opts
    generator = os.path.join(os.path.dirname(sys.executable), "oslo-config-generator")
    out = subprocess.run([generator, "--namespace", "loxilb_coordinator"],
                         capture_output=True, text=True, check=True).stdout
    assert "[loxilb_coordinator]" in out
    for name in ("socket_path", "url", "timeout", "token_file", "ca_file",
                 "cert_file", "key_file"):
        assert f"#{name} =" in out, out


def test_url_mode_reaches_the_daemon_over_tcp_with_the_token(daemon, monkeypatch):
    monkeypatch.setenv(st.URL_ENV, daemon.url)
    monkeypatch.setenv(st.TOKEN_FILE_ENV, daemon.token_file)
    driver = LoxiLBProviderDriver()
    before = len(daemon.journal())
    driver.loadbalancer_create(dm.LoadBalancer(
        loadbalancer_id="5d2c6a3e-1f0b-4c9e-9a51-6e0f7d1a2b01",
        vip_address="127.0.0.77"))
    assert len(daemon.journal()) == before + 1
    # A wrong token is refused by the daemon, and reported as such.
    monkeypatch.setenv(st.TOKEN_FILE_ENV, token_file_of(daemon, "wrong"))
    with pytest.raises(exceptions.DriverError) as raised:
        LoxiLBProviderDriver().loadbalancer_create(dm.LoadBalancer(
            loadbalancer_id="5d2c6a3e-1f0b-4c9e-9a51-6e0f7d1a2b02",
            vip_address="127.0.0.78"))
    assert "401" in raised.value.operator_fault_string


def token_file_of(daemon, text):
    path = os.path.join(os.path.dirname(daemon.token_file), "wrong.token")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path

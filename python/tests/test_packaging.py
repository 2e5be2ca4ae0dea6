"""Octavia finds the driver through its entry point; the defaults match the
daemon's."""

from importlib import metadata

import pytest

from octavia_lib.api.drivers.provider_base import ProviderDriver

from octavia_loxilb_provider import LoxiLBProviderDriver
from octavia_loxilb_provider.settings import (
    DEFAULT_SOCKET_PATH,
    DEFAULT_TIMEOUT,
    SOCKET_ENV,
    TIMEOUT_ENV,
    Settings,
    SettingsError,
)


def test_entry_point_resolves_to_the_driver():
    found = [ep for ep in metadata.entry_points(group="octavia.api.drivers")
             if ep.name == "loxilb"]
    assert len(found) == 1
    cls = found[0].load()
    assert cls is LoxiLBProviderDriver
    assert issubclass(cls, ProviderDriver)
    # Octavia instantiates drivers without arguments.
    assert cls().socket_path


def test_defaults_match_the_daemon():
    s = Settings.from_env({})
    assert s.socket_path == DEFAULT_SOCKET_PATH == "/run/loxilb-coordinator/ingress.sock"
    assert s.timeout == DEFAULT_TIMEOUT


def test_environment_overrides(monkeypatch):
    monkeypatch.setenv(SOCKET_ENV, "/tmp/x.sock")
    monkeypatch.setenv(TIMEOUT_ENV, "2.5")
    driver = LoxiLBProviderDriver()
    assert driver.socket_path == "/tmp/x.sock"
    assert driver._client.timeout == 2.5


def test_bad_timeouts_are_refused_naming_the_variable():
    for bad in ("soon", "0", "-3", "nan", "inf"):
        with pytest.raises(SettingsError, match=TIMEOUT_ENV):
            Settings.from_env({TIMEOUT_ENV: bad})

"""Where the daemon is, how to reach it, and how long to wait for it.

Operators configure Octavia providers in ``octavia.conf``, so the plugin
registers its options there, in a section ``[loxilb_coordinator]`` (Octavia has
loaded its configuration before it loads provider drivers). Environment
variables stay as an override, for containers and tests. One precedence:
environment, then ``octavia.conf``, then the defaults below.

A bad setting is never an opaque 500: loading collects it as a
:class:`SettingsError` naming the option and the source it came from, the
driver logs it once, and every provider call answers with a user-facing fault
and that text as the operator fault (see ``driver.py``).
"""

import copy
import math
import os
from dataclasses import dataclass
from typing import Optional
from urllib.parse import urlsplit

from oslo_config import cfg

#: The daemon's default ``[ingress] socket_path``.
DEFAULT_SOCKET_PATH = "/run/loxilb-coordinator/ingress.sock"

#: Seconds to wait for an answer. Longer than the daemon's default
#: ``[ingress] sync_timeout`` (60 s) so that, with ``async_processing = false``,
#: the daemon's own timeout answers first and the plugin never gives up on an
#: event the daemon has already journaled.
DEFAULT_TIMEOUT = 75.0

GROUP = "loxilb_coordinator"

SOCKET_ENV = "LOXILB_COORDINATOR_SOCKET"
URL_ENV = "LOXILB_COORDINATOR_URL"
TIMEOUT_ENV = "LOXILB_COORDINATOR_TIMEOUT"
TOKEN_FILE_ENV = "LOXILB_COORDINATOR_TOKEN_FILE"
CA_FILE_ENV = "LOXILB_COORDINATOR_CA_FILE"
CERT_FILE_ENV = "LOXILB_COORDINATOR_CERT_FILE"
KEY_FILE_ENV = "LOXILB_COORDINATOR_KEY_FILE"

OPTS = [
    cfg.StrOpt("socket_path", default=DEFAULT_SOCKET_PATH,
               help="Unix socket of loxilb-coordinator's ingress API (the "
                    "daemon's [ingress] socket_path). Used unless url is set. "
                    f"Environment override: {SOCKET_ENV}."),
    cfg.StrOpt("url",
               help="https://host:port of the daemon's TCP ingress (its "
                    "[ingress] tcp_address with tls_cert_file), for a daemon "
                    "on another host; http:// only reaches a daemon set to "
                    "insecure = true. Needs token_file. Takes precedence over "
                    "socket_path. "
                    f"Environment override: {URL_ENV}."),
    cfg.StrOpt("timeout", default=str(DEFAULT_TIMEOUT),
               help="Seconds to wait for the daemon's answer (a positive "
                    "number; keep it above the daemon's [ingress] "
                    f"sync_timeout). Environment override: {TIMEOUT_ENV}."),
    cfg.StrOpt("token_file",
               help="File holding the bearer token of the daemon's TCP "
                    "ingress (its [ingress] tcp_token_file). Required with "
                    f"url. Environment override: {TOKEN_FILE_ENV}."),
    cfg.StrOpt("ca_file",
               help="PEM CA bundle to verify an https url with (default: "
                    f"the system roots). Environment override: {CA_FILE_ENV}."),
    cfg.StrOpt("cert_file",
               help="PEM client certificate for an https url (required "
                    "when the daemon sets tls_client_ca_file); needs "
                    f"key_file. Environment override: {CERT_FILE_ENV}."),
    cfg.StrOpt("key_file",
               help="PEM private key of cert_file. Environment override: "
                    f"{KEY_FILE_ENV}."),
]

#: Option name -> environment variable that overrides it.
ENV_OF = {
    "socket_path": SOCKET_ENV,
    "url": URL_ENV,
    "timeout": TIMEOUT_ENV,
    "token_file": TOKEN_FILE_ENV,
    "ca_file": CA_FILE_ENV,
    "cert_file": CERT_FILE_ENV,
    "key_file": KEY_FILE_ENV,
}


def list_opts():
    """The ``oslo.config.opts`` entry point: what oslo-config-generator prints."""
    return [(GROUP, copy.deepcopy(OPTS))]


def register(conf):
    """Registers the options on ``conf`` (a second call is harmless)."""
    conf.register_opts(OPTS, group=GROUP)


class SettingsError(Exception):
    """A setting that cannot be used; the text names the option and its source."""


@dataclass(frozen=True)
class Settings:
    socket_path: str
    timeout: float
    url: Optional[str] = None
    token: Optional[str] = None
    ca_file: Optional[str] = None
    cert_file: Optional[str] = None
    key_file: Optional[str] = None

    @property
    def target(self):
        """What the client connects to, for messages: the URL or the socket."""
        return self.url or self.socket_path

    @classmethod
    def load(cls, conf=None, environ=None):
        """Settings from the environment over ``conf`` (Octavia's
        ``cfg.CONF`` by default) over the defaults; raises SettingsError."""
        conf = cfg.CONF if conf is None else conf
        env = os.environ if environ is None else environ
        register(conf)
        raw = {}
        for name, var in ENV_OF.items():
            if env.get(var):
                raw[name] = (env[var], f"environment variable {var}")
                continue
            try:
                value = getattr(conf[GROUP], name)
            except (cfg.Error, ValueError) as e:
                raise SettingsError(
                    f"octavia.conf [{GROUP}] {name}: {e}") from e
            raw[name] = (value, f"octavia.conf [{GROUP}] {name}")
        return cls._validated(raw)

    @classmethod
    def from_env(cls, environ=None):
        """Settings from the environment and the defaults only."""
        return cls.load(conf=cfg.ConfigOpts(), environ=environ)

    @classmethod
    def _validated(cls, raw):
        def value(name):
            v = raw[name][0]
            return v if v not in ("", None) else None

        def where(name):
            return raw[name][1]

        text = value("timeout")
        try:
            timeout = float(text) if text is not None else DEFAULT_TIMEOUT
        except (TypeError, ValueError):
            timeout = math.nan
        if not (math.isfinite(timeout) and timeout > 0):
            raise SettingsError(
                f"{where('timeout')}: {text!r} is not a positive number of seconds")

        url = value("url")
        token = None
        if url is not None:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise SettingsError(
                    f"{where('url')}: {url!r} is not an http(s)://host:port URL")
            try:
                parts.port
            except ValueError as e:
                raise SettingsError(f"{where('url')}: {url!r}: {e}") from e
            token_file = value("token_file")
            if token_file is None:
                raise SettingsError(
                    f"{where('url')} is set but token_file is not: the daemon's "
                    "TCP ingress requires its bearer token")
            token = _read_token(token_file, where("token_file"))
        cert, key = value("cert_file"), value("key_file")
        if (cert is None) != (key is None):
            raise SettingsError(
                f"{where('cert_file' if cert is None else 'key_file')}: "
                "cert_file and key_file must be given together")
        for name in ("ca_file", "cert_file", "key_file"):
            path = value(name)
            if path is not None and not os.path.isfile(path):
                raise SettingsError(f"{where(name)}: no such file {path!r}")
        return cls(
            socket_path=value("socket_path") or DEFAULT_SOCKET_PATH,
            timeout=timeout,
            url=url,
            token=token,
            ca_file=value("ca_file"),
            cert_file=cert,
            key_file=key,
        )


def _read_token(path, where):
    try:
        with open(path, encoding="utf-8") as f:
            token = f.read().strip()
    except OSError as e:
        raise SettingsError(f"{where}: cannot read {path!r}: {e.strerror}") from e
    if not token:
        raise SettingsError(f"{where}: {path!r} is empty")
    return token

"""HTTP/JSON to the daemon, with the standard library only: over its Unix
socket (the default, same host), or over its TCP ingress (``url``) with the
bearer token and, for https, the CA bundle and client certificate from
``settings.py``.

One connection per request: provider calls are rare (an API request each),
and a fresh connection means no stale keep-alive state to get wrong.
"""

import http.client
import json
import socket
import ssl
from urllib.parse import urlsplit


class DaemonUnavailable(Exception):
    """The daemon could not be reached or did not answer in time."""


class DaemonProtocolError(Exception):
    """The daemon answered something that is not a JSON object."""


class _UnixHTTPConnection(http.client.HTTPConnection):
    """An HTTPConnection whose transport is a Unix stream socket."""

    def __init__(self, socket_path, timeout):
        # The host only fills the Host header; the daemon ignores it.
        super().__init__("localhost", timeout=timeout)
        self._socket_path = socket_path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._socket_path)
        except BaseException:
            sock.close()
            raise
        self.sock = sock


class DaemonClient:
    """Sends one request to the daemon and returns ``(status, json_object)``.

    With ``url`` the daemon's TCP ingress is used (``token`` is sent as
    ``Authorization: Bearer``); otherwise the Unix socket at ``socket_path``.
    """

    def __init__(self, socket_path, timeout, url=None, token=None,
                 ca_file=None, cert_file=None, key_file=None):
        self.socket_path = socket_path
        self.timeout = timeout
        self.url = url
        self._token = token
        self._tls = None
        if url is not None and urlsplit(url).scheme == "https":
            self._tls = ssl.create_default_context(cafile=ca_file)
            if cert_file is not None:
                self._tls.load_cert_chain(cert_file, key_file)

    @classmethod
    def from_settings(cls, s, timeout=None):
        return cls(s.socket_path, s.timeout if timeout is None else timeout,
                   url=s.url, token=s.token, ca_file=s.ca_file,
                   cert_file=s.cert_file, key_file=s.key_file)

    def _connection(self):
        if self.url is None:
            return _UnixHTTPConnection(self.socket_path, self.timeout)
        parts = urlsplit(self.url)
        if self._tls is not None:
            return http.client.HTTPSConnection(
                parts.hostname, parts.port or 443, timeout=self.timeout,
                context=self._tls)
        return http.client.HTTPConnection(
            parts.hostname, parts.port or 80, timeout=self.timeout)

    def request(self, method, path, body=None):
        payload = None
        headers = {"Accept": "application/json"}
        if self._token is not None:
            headers["Authorization"] = f"Bearer {self._token}"
        if body is not None:
            payload = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        conn = self._connection()
        try:
            conn.request(method, path, body=payload, headers=headers)
            response = conn.getresponse()
            status = response.status
            raw = response.read()
        except (OSError, http.client.HTTPException) as e:
            # OSError covers a missing socket file, refused connections,
            # permission problems and timeouts (socket.timeout is an OSError).
            raise DaemonUnavailable(
                f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
            ) from e
        finally:
            conn.close()
        try:
            answer = json.loads(raw.decode("utf-8")) if raw else {}
        except (UnicodeDecodeError, ValueError) as e:
            raise DaemonProtocolError(
                f"HTTP {status} with a body that is not JSON: {raw[:200]!r}"
            ) from e
        if not isinstance(answer, dict):
            raise DaemonProtocolError(
                f"HTTP {status} with a JSON {type(answer).__name__}, not an object"
            )
        return status, answer

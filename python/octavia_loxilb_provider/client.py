"""HTTP/JSON over the daemon's Unix socket, with the standard library only.

One connection per request: provider calls are rare (an API request each),
and a fresh connection means no stale keep-alive state to get wrong.
"""

import http.client
import json
import socket


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
    """Sends one request to the daemon and returns ``(status, json_object)``."""

    def __init__(self, socket_path, timeout):
        self.socket_path = socket_path
        self.timeout = timeout

    def request(self, method, path, body=None):
        payload = None
        headers = {"Accept": "application/json"}
        if body is not None:
            payload = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        conn = _UnixHTTPConnection(self.socket_path, self.timeout)
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

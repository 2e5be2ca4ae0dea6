"""Loopback backends: small HTTP servers on 127.0.0.x that the simulator probes.

They run as threads of the test process; ``stop()`` closes the listening
socket (probes then get connection refused, as from a crashed server) and
``start()`` binds the same address and port again.
"""

import http.server
import threading

from processes import free_port


class _Quiet(http.server.BaseHTTPRequestHandler):
    """200 to GET and HEAD (LoxiLB's HTTP probe sends HEAD)."""

    def do_HEAD(self):  # noqa: N802 - the handler's required name
        self._answer(with_body=False)

    def do_GET(self):  # noqa: N802
        self._answer(with_body=True)

    def _answer(self, with_body):
        body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if with_body:
            self.wfile.write(body)

    def log_message(self, *_args):
        pass


class _Server(http.server.ThreadingHTTPServer):
    allow_reuse_address = True
    daemon_threads = True


class Backend:
    def __init__(self, address):
        self.address = address
        self.port = free_port(address)
        self._server = None
        self._thread = None

    def start(self):
        self._server = _Server((self.address, self.port), _Quiet)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name=f"backend {self.address}", daemon=True)
        self._thread.start()

    def stop(self):
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        self._server = None

    def member(self, **extra):
        """The Octavia member body for this backend."""
        return {"address": self.address, "protocol_port": self.port, **extra}

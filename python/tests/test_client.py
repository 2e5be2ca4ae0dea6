"""The Unix socket client against a minimal stand-in server, for answers the
real daemon never gives (non-JSON, non-object) and for timeouts."""

import socket
import threading

import pytest

from octavia_loxilb_provider.client import (
    DaemonClient,
    DaemonProtocolError,
    DaemonUnavailable,
)


def serve_once(path, response):
    """Accepts one connection on ``path``, reads the request, writes ``response``
    (or nothing when None, holding the connection open until closed)."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    done = threading.Event()

    def run():
        conn, _ = server.accept()
        with conn:
            _read_request(conn)
            if response is not None:
                conn.sendall(response)
            else:
                done.wait(10)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return server, thread, done


def _read_request(conn):
    """Reads a whole request: headers, then Content-Length bytes of body.

    http.client may send the body in a second write; answering and closing
    after the first read made that write fail with a broken pipe now and then.
    """
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return
        body += chunk


def http(status, body):
    return (f"HTTP/1.1 {status} X\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n").encode() + body


@pytest.mark.parametrize("body", [b"<html>oops</html>", b"[1, 2]", b"\xff\xfe"])
def test_answers_that_are_not_json_objects(down_socket, body):
    server, thread, _ = serve_once(down_socket, http(200, body))
    try:
        with pytest.raises(DaemonProtocolError):
            DaemonClient(down_socket, timeout=5).request("GET", "/v1/events")
    finally:
        thread.join(5)
        server.close()


def test_json_object_answer_round_trips(down_socket):
    server, thread, _ = serve_once(down_socket, http(202, b'{"id": 9, "state": "queued"}'))
    try:
        status, answer = DaemonClient(down_socket, timeout=5).request(
            "POST", "/v1/events", {"method": "member_create", "args": {}})
        assert (status, answer) == (202, {"id": 9, "state": "queued"})
    finally:
        thread.join(5)
        server.close()


def test_a_silent_daemon_times_out(down_socket):
    server, thread, done = serve_once(down_socket, None)
    try:
        with pytest.raises(DaemonUnavailable) as raised:
            DaemonClient(down_socket, timeout=0.3).request("GET", "/healthz")
        assert "timed out" in str(raised.value)
    finally:
        done.set()
        thread.join(5)
        server.close()

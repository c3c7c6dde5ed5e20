"""local/loopback_http.py: a handler served on a free loopback port until stopped; a client that vanished
mid-request is not reported, other handler errors are."""

from __future__ import annotations

import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler

import pytest

from local.loopback_http import LoopbackServer


class _Hello(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"hi")


def test_serves_its_handler_on_a_loopback_port_until_stopped() -> None:
    server = LoopbackServer(_Hello)
    assert server.address.startswith("127.0.0.1:")
    server.start()
    with urllib.request.urlopen(f"http://{server.address}/", timeout=5) as reply:
        assert reply.read() == b"hi"
    server.stop()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"http://{server.address}/", timeout=5)


def test_servers_side_by_side_get_different_free_ports() -> None:
    first, second = LoopbackServer(_Hello), LoopbackServer(_Hello)
    first.start()
    second.start()
    try:
        assert first.address != second.address
        for server in (first, second):
            with urllib.request.urlopen(f"http://{server.address}/", timeout=5) as reply:
                assert reply.read() == b"hi"
    finally:
        first.stop()
        second.stop()


def test_vanished_peers_are_not_reported_but_other_errors_are(capsys: pytest.CaptureFixture[str]) -> None:
    server = LoopbackServer(_Hello)._server
    try:
        try:
            raise BrokenPipeError(32, "Broken pipe")
        except BrokenPipeError:
            server.handle_error(None, ("127.0.0.1", 1))
        assert capsys.readouterr().err == ""
        try:
            raise ValueError("a real bug")
        except ValueError:
            server.handle_error(None, ("127.0.0.1", 1))
        reported = capsys.readouterr().err
        assert "a real bug" in reported
        assert "from ('127.0.0.1', 1)" in reported  # which client's request failed
    finally:
        server.server_close()

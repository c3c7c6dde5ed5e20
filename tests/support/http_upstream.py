"""Upstreams for the proxy tests: an HTTP/1.1 handler that answers quietly, served on a free loopback port by
the servers' own plumbing (local/loopback_http.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler

from local.loopback_http import LoopbackServer


class QuietHandler(BaseHTTPRequestHandler):
    """Keep-alive, no access log; a POST is answered 200 with what `respond` makes of its body."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def respond(self, body: bytes) -> bytes:
        return b"ok"

    def do_POST(self) -> None:
        reply = self.respond(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
        self.send_response(200)
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """http://127.0.0.1:PORT of `handler`, served until the block ends."""
    server = LoopbackServer(handler)
    server.start()
    try:
        yield f"http://{server.address}"
    finally:
        server.stop()

"""A moto server on 127.0.0.1 for tests (local.emulator.MotoServer): a free port, stopped afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from local.emulator import MotoServer

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


@contextmanager
def moto_server(tls: tuple[Path, Path, Path] | None = None) -> Iterator[str]:
    """Yields the endpoint URL of a fresh moto server; over TLS with `tls` = (cert, key, its CA)."""
    with MotoServer(tls=tls) as server:
        yield server.url

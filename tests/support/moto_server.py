"""A moto server on 127.0.0.1 for tests (local.emulator.MotoServer): a free port, stopped afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

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


@contextmanager
def moto_environment(**extra: str) -> Iterator[str]:
    """A fresh moto server that this process's boto3 clients reach by default: credentials, region and
    AWS_ENDPOINT_URL (and `extra`) set in the environment until the block ends. Yields the endpoint URL."""
    with pytest.MonkeyPatch.context() as mp:
        for key, value in FAKE_CREDENTIALS.items():
            mp.setenv(key, value)
        with moto_server() as url:
            for key, value in {"AWS_ENDPOINT_URL": url, **extra}.items():
                mp.setenv(key, value)
            yield url

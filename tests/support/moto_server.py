"""A moto server on 127.0.0.1 for tests: started on a free port, stopped (by its own pid) afterwards."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def moto_server(tls: tuple[Path, Path, Path] | None = None) -> Iterator[str]:
    """Yields the endpoint URL of a fresh moto server; over TLS with `tls` = (cert, key, its CA)."""
    port = _free_port()
    exe = Path(sys.executable).with_name("moto_server")
    tls_args = ["-c", str(tls[0]), "-k", str(tls[1])] if tls else []
    context = ssl.create_default_context(cafile=str(tls[2])) if tls else None
    proc = subprocess.Popen(
        [str(exe), "-H", "127.0.0.1", "-p", str(port), *tls_args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(url + "/moto-api/", timeout=1, context=context).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("moto server did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)

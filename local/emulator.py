"""The local AWS emulator: moto in server mode on 127.0.0.1, on a free port.

As a context manager:  `with MotoServer() as moto: boto3.client("sqs", endpoint_url=moto.url, ...)`.
As a CLI (for make):   `python -m local.emulator start --state-file build/moto.json` prints the URL and
                       leaves the server running; `python -m local.emulator stop --state-file ...` ends it.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

HOST = "127.0.0.1"
# Credentials and region moto accepts; exported to clients of the emulator (terraform, boto3, the function).
LOCAL_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


class EmulatorError(RuntimeError):
    """moto server could not be started or reached."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


class MotoServer:
    """A moto server process owned by this object (started in __enter__/start, ended in stop); over TLS
    with `tls` = (certificate, its key, the CA that signed it)."""

    def __init__(
        self,
        port: int | None = None,
        start_timeout: float = 30.0,
        tls: tuple[Path, Path, Path] | None = None,
    ) -> None:
        self.port = port or free_port()
        self.start_timeout = start_timeout
        self.tls = tls
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{HOST}:{self.port}"

    def env(self) -> dict[str, str]:
        """Environment for a client process: local credentials and AWS_ENDPOINT_URL."""
        return {**LOCAL_ENV, "AWS_ENDPOINT_URL": self.url}

    def start(self, log: Path | None = None) -> MotoServer:
        out = log.open("ab") if log else subprocess.DEVNULL
        tls = ["--cert", str(self.tls[0]), "--key", str(self.tls[1])] if self.tls else []
        self.process = subprocess.Popen(
            # moto with DynamoDB requests serialised (local/moto_atomic.py: atomic conditional writes)
            [sys.executable, "-m", "local.moto_atomic", "-H", HOST, "-p", str(self.port), *tls],
            cwd=Path(__file__).resolve().parent.parent,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # so that `stop` from another process can end it by its own pid
        )
        deadline = time.monotonic() + self.start_timeout
        while not healthy(self.url, self.tls[2] if self.tls else None):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise EmulatorError(f"moto server did not come up on {self.url} (see {log or 'its output'})")
            time.sleep(0.1)
        return self

    def stop(self) -> None:
        if self.process is not None:
            if self.process.poll() is None:
                self.process.terminate()
                try:
                    self.process.wait(timeout=10)
                except subprocess.TimeoutExpired:  # moto ignores SIGTERM only when wedged
                    self.process.kill()
                    self.process.wait()
            self.process = None

    def reset(self) -> None:
        """Drop every resource (moto's own reset API)."""
        request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10):
            pass

    def __enter__(self) -> MotoServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def healthy(url: str, cafile: Path | None = None) -> bool:
    context = ssl.create_default_context(cafile=str(cafile)) if cafile else None
    try:
        with urllib.request.urlopen(f"{url}/moto-api/data.json", timeout=1, context=context) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Start or stop the local AWS emulator (moto server).")
    parser.add_argument("action", choices=("start", "stop"))
    parser.add_argument("--state-file", type=Path, required=True, help="where start records pid and URL")
    parser.add_argument("--log", type=Path, help="moto's output (start)")
    parser.add_argument("--port", type=int, help="default: a free port")
    args = parser.parse_args(argv)
    if args.action == "start":
        server = MotoServer(args.port).start(args.log)
        assert server.process is not None
        args.state_file.parent.mkdir(parents=True, exist_ok=True)
        args.state_file.write_text(json.dumps({"pid": server.process.pid, "url": server.url}))
        print(server.url)
        return 0
    if not args.state_file.exists():
        print(f"emulator: no state file {args.state_file}: nothing to stop", file=sys.stderr)
        return 0
    state = json.loads(args.state_file.read_text())
    try:
        os.killpg(state["pid"], signal.SIGTERM)  # its own session: only moto and its children
    except ProcessLookupError:
        print(f"emulator: pid {state['pid']} already gone", file=sys.stderr)
    args.state_file.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())

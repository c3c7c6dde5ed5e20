"""A loopback HTTPS test bed for the arm64 toolchain probe: a throwaway CA, a server certificate for
127.0.0.1/localhost signed by it, and a threaded HTTPS server that records when each request arrives.

Used by tests/unit/test_package.py (the probe under qemu-aarch64) and, run as a script, to measure the
probe's cold start (process start to the server receiving its first request) for the arm64 build under
qemu against the host build, the same way for both:

    .venv/bin/python scripts/tls_testbed.py coldstart [--runs 20] BINARY [BINARY...]
"""

from __future__ import annotations

import argparse
import datetime
import ipaddress
import json
import ssl
import statistics
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

TICK = {"symbol": "AAPL", "price": 189.25, "timestamp": "2026-11-25T14:30:00.123Z", "volume": 1200}
TICK_PATH = "/tick"


@dataclass(frozen=True)
class TestCa:
    """PEM files of a test CA and of a server certificate (127.0.0.1, localhost) it signed."""

    ca_cert: Path
    server_cert: Path
    server_key: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_ca(directory: Path, label: str = "tap-test", *, ip_san: bool = True) -> TestCa:
    """Creates a CA and a server certificate under `directory` (valid for one day, P-256 keys).

    The server certificate names localhost and, unless `ip_san` is false, 127.0.0.1 (which clients use).
    """
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    valid_from, valid_to = now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=1)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(_name(f"{label} CA"))
        .issuer_name(_name(f"{label} CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid_from)
        .not_valid_after(valid_to)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost"))
        .issuer_name(ca_cert.subject)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid_from)
        .not_valid_after(valid_to)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost")]
                + ([x509.IPAddress(ipaddress.IPv4Address("127.0.0.1"))] if ip_san else [])
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )

    files = TestCa(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    files.ca_cert.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    files.server_cert.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    files.server_key.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return files


@dataclass
class Requests:
    """What the server saw: (monotonic arrival time, path) per request, and a signal on each one."""

    seen: list[tuple[float, str]] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        arrival = time.monotonic()
        self.server.requests.seen.append((arrival, self.path))
        self.server.requests.arrived.set()
        if self.path != TICK_PATH:
            self.send_error(404)
            return
        body = json.dumps(TICK).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the tests assert on what the server recorded, not on its log."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    requests: Requests


@contextmanager
def https_server(ca: TestCa) -> Iterator[tuple[int, Requests]]:
    """Serves TICK at TICK_PATH over TLS on 127.0.0.1 (a free port); yields (port, requests)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(ca.server_cert, ca.server_key)
    server = _Server(("127.0.0.1", 0), _Handler)
    server.requests = Requests()
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], server.requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def probe_command(binary: Path, port: int, ca_bundle: Path, path: str = TICK_PATH) -> list[str]:
    """The probe's command line; an aarch64 binary runs under qemu-aarch64 (no binfmt here)."""
    args = [str(binary), "127.0.0.1", str(port), str(ca_bundle), path]
    with binary.open("rb") as elf:
        header = elf.read(20)
    if header[:4] == b"\x7fELF" and int.from_bytes(header[18:20], "little") == 183:  # EM_AARCH64
        return ["qemu-aarch64", *args]
    return args


def time_to_first_request(command: list[str], requests: Requests, timeout: float = 30.0) -> float:
    """Seconds from spawning `command` to the server receiving its request (the process must succeed)."""
    requests.seen.clear()
    requests.arrived.clear()
    start = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if not requests.arrived.wait(timeout):
        process.kill()
        raise TimeoutError(f"no request from {command[0]} within {timeout} s")
    arrival = requests.seen[0][0]
    _, stderr = process.communicate(timeout=timeout)
    if process.returncode != 0:
        raise RuntimeError(f"{command} failed: {stderr.decode(errors='replace')}")
    return arrival - start


def _coldstart(binaries: list[Path], runs: int, workdir: Path) -> None:
    ca = make_ca(workdir)
    with https_server(ca) as (port, requests):
        for binary in binaries:
            command = probe_command(binary, port, ca.ca_cert)
            time_to_first_request(command, requests)  # warm the page cache, not measured
            samples = sorted(time_to_first_request(command, requests) for _ in range(runs))
            print(
                f"{binary}: {' '.join(command[:1]) if command[0] == 'qemu-aarch64' else 'native'}, "
                f"median {statistics.median(samples) * 1000:.1f} ms, min {samples[0] * 1000:.1f} ms, "
                f"max {samples[-1] * 1000:.1f} ms over {runs} runs"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    cold = sub.add_parser("coldstart", help="time from process start to the first HTTPS request")
    cold.add_argument("--runs", type=int, default=20)
    cold.add_argument("--workdir", type=Path, default=Path("build/tls-testbed"))
    cold.add_argument("binaries", type=Path, nargs="+")
    args = parser.parse_args()
    _coldstart(args.binaries, args.runs, args.workdir)


if __name__ == "__main__":
    main()

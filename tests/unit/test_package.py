"""F10: lambda_function.zip and the arm64 toolchain.

- The zip (from `make package`): `bootstrap` (0755) alone at the root (no rules: they live in the rules
  table), deterministic.
- Every arm64 binary we build (the zip's bootstrap, the toolchain probe) is an aarch64 ELF that needs only
  glibc, with no symbol version above GLIBC_2.34 (Amazon Linux 2023), and the bootstrap is stripped.
- The toolchain probe (lib/lambda/tests/package) runs under qemu-aarch64: one HTTPS GET with verification
  against a loopback server whose certificate comes from a CA made here, then a simdjson parse.

`make test-package` builds what these tests need and sets TAP_REQUIRE_PROBE=1 and TAP_REQUIRE_ZIP=1,
which turns a missing artifact from a skip into a failure.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import package_zip  # noqa: E402 - scripts/ is not a package; these are the project's own helpers
import tls_testbed  # noqa: E402

ZIP = ROOT / "lambda_function.zip"
PROBE = ROOT / "build" / "probe-arm64" / "toolchain_probe"

EM_AARCH64 = 183
GLIBC_CEILING = (2, 34)
ALLOWED_NEEDED = {"libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2", "ld-linux-aarch64.so.1"}


def _require(path: Path, flag: str, how: str) -> Path:
    if path.exists():
        return path
    if os.environ.get(flag) == "1":
        pytest.fail(f"{path} is missing although {flag}=1 ({how})")
    pytest.skip(f"{path.name} not built yet: {how}")


@pytest.fixture(scope="module")
def package() -> Path:
    return _require(ZIP, "TAP_REQUIRE_ZIP", "`make package`")


@pytest.fixture(scope="module")
def bootstrap(package: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("zip") / "bootstrap"
    with zipfile.ZipFile(package) as archive:
        out.write_bytes(archive.read("bootstrap"))
    return out


@pytest.fixture(scope="module")
def probe() -> Path:
    return _require(PROBE, "TAP_REQUIRE_PROBE", "`make probe-arm64`")


@pytest.fixture(params=["bootstrap", "probe"])
def arm64_binary(request: pytest.FixtureRequest) -> Path:
    binary: Path = request.getfixturevalue(request.param)
    return binary


def _readelf(*args: str) -> str:
    if shutil.which("readelf") is None:
        pytest.fail("readelf not found (binutils)")
    return subprocess.run(["readelf", "-W", *args], check=True, capture_output=True, text=True).stdout


# --- the zip ---------------------------------------------------------------------------------------------


def test_zip_layout(package: Path) -> None:
    with zipfile.ZipFile(package) as archive:
        infos = {info.filename: info for info in archive.infolist()}
        assert sorted(infos) == ["bootstrap"]
        assert infos["bootstrap"].external_attr >> 16 == 0o100755
        assert {info.date_time for info in infos.values()} == {package_zip.FIXED_TIME}
        assert archive.testzip() is None
    size = package.stat().st_size
    # Lambda's limit for a directly uploaded zip; a C++ bootstrap should be far below it.
    assert size < 50 * 1024 * 1024
    print(f"\n{package.name}: {size} bytes, bootstrap {infos['bootstrap'].file_size} bytes uncompressed")


def test_bootstrap_is_stripped(bootstrap: Path) -> None:
    sections = _readelf("-S", str(bootstrap))
    assert ".symtab" not in sections
    assert ".debug_info" not in sections


def test_zip_is_deterministic(tmp_path: Path) -> None:
    """Same bytes in, same zip out, whatever the inputs' timestamps and the time of day."""
    bootstrap = tmp_path / "bootstrap"
    bootstrap.write_bytes(b"\x7fELF stand-in for the zip writer" * 100)
    first, second = tmp_path / "first.zip", tmp_path / "second.zip"
    package_zip.write_package(first, bootstrap)
    os.utime(bootstrap, (1_000_000_000, 1_000_000_000))
    package_zip.write_package(second, bootstrap)
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(second) as archive:
        assert archive.namelist() == ["bootstrap"]
        assert archive.read("bootstrap") == bootstrap.read_bytes()
    assert list(tmp_path.glob("*.tmp")) == []


def test_zip_writer_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert package_zip.main(["package_zip.py", "only-one-arg"]) == 2
    assert "Usage" in capsys.readouterr().err


# --- every arm64 binary: architecture, dependencies, glibc ceiling ------------------------------------------


def test_is_aarch64_elf(arm64_binary: Path) -> None:
    header = arm64_binary.read_bytes()[:20]
    assert header[:4] == b"\x7fELF"
    assert header[4] == 2, "ELFCLASS64"
    assert header[5] == 1, "little endian"
    assert int.from_bytes(header[18:20], "little") == EM_AARCH64


def test_needs_only_glibc(arm64_binary: Path) -> None:
    needed = set(re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", _readelf("-d", str(arm64_binary))))
    assert "libc.so.6" in needed
    assert needed <= ALLOWED_NEEDED, f"unexpected shared libraries: {sorted(needed - ALLOWED_NEEDED)}"


def test_glibc_symbol_versions_at_most_2_34(arm64_binary: Path) -> None:
    versions = {
        (int(major), int(minor))
        for major, minor in re.findall(r"GLIBC_(\d+)\.(\d+)", _readelf("-V", "--dyn-syms", str(arm64_binary)))
    }
    assert versions, "no GLIBC symbol versions found: not a dynamically linked glibc binary?"
    too_new = sorted(v for v in versions if v > GLIBC_CEILING)
    assert not too_new, f"symbols need glibc {too_new}, Amazon Linux 2023 has 2.34"


# --- the toolchain probe under qemu: HTTPS with verification + simdjson ------------------------------------


@pytest.fixture(scope="module")
def test_ca(tmp_path_factory: pytest.TempPathFactory) -> tls_testbed.TestCa:
    return tls_testbed.make_ca(tmp_path_factory.mktemp("ca"))


@pytest.fixture(scope="module")
def server(test_ca: tls_testbed.TestCa) -> Iterator[tuple[int, tls_testbed.Requests]]:
    with tls_testbed.https_server(test_ca) as running:
        yield running


def _run_probe(
    probe: Path, port: int, ca_bundle: Path, path: str = tls_testbed.TICK_PATH
) -> subprocess.CompletedProcess[str]:
    command = tls_testbed.probe_command(probe, port, ca_bundle, path)
    assert command[0] == "qemu-aarch64", "the probe must be the arm64 build"
    if shutil.which("qemu-aarch64") is None:
        pytest.fail("qemu-aarch64 not found (Debian package qemu-user)")
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def test_probe_https_get_and_parse_under_qemu(
    probe: Path, test_ca: tls_testbed.TestCa, server: tuple[int, tls_testbed.Requests]
) -> None:
    port, requests = server
    requests.seen.clear()
    result = _run_probe(probe, port, test_ca.ca_cert)
    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout)
    assert output["symbol"] == tls_testbed.TICK["symbol"]
    assert output["price"] == tls_testbed.TICK["price"]
    assert output["openssl"].startswith("OpenSSL 3.")
    assert [path for _, path in requests.seen] == [tls_testbed.TICK_PATH]


def test_probe_rejects_a_server_from_another_ca(
    probe: Path, server: tuple[int, tls_testbed.Requests], tmp_path: Path
) -> None:
    port, requests = server
    requests.seen.clear()
    stranger = tls_testbed.make_ca(tmp_path, "stranger")
    result = _run_probe(probe, port, stranger.ca_cert)
    assert result.returncode == 1
    assert "SSLServerVerification" in result.stderr
    assert requests.seen == [], "no request may reach an unverified server"


def test_probe_rejects_a_certificate_for_another_host(probe: Path, tmp_path: Path) -> None:
    other_host = tls_testbed.make_ca(tmp_path, "other-host", ip_san=False)  # valid for localhost only
    with tls_testbed.https_server(other_host) as (port, requests):
        result = _run_probe(probe, port, other_host.ca_cert)
    assert result.returncode == 1
    assert "SSLServerVerification" in result.stderr
    assert requests.seen == []


def test_probe_reports_http_errors(
    probe: Path, test_ca: tls_testbed.TestCa, server: tuple[int, tls_testbed.Requests]
) -> None:
    port, _ = server
    result = _run_probe(probe, port, test_ca.ca_cert, "/missing")
    assert result.returncode == 1
    assert "HTTP status 404" in result.stderr

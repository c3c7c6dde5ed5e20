"""local/function_host.py: how a build is started (arm64 through qemu elsewhere), and the runner seam."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import cast

import pytest

from local import function_host
from local.emf import emf_totals
from local.function_host import (
    RUNNERS,
    FunctionRunner,
    LocalFunction,
    function_command,
    invoke_settled,
    runner,
)
from local.function_resources import FunctionResources
from local.rie import RuntimeInterfaceEmulator
from local.runtime_api import FunctionProcess, InvocationResult, RuntimeApiEmulator, Status


def _elf(path: Path, machine: int) -> Path:
    """The first 20 bytes of an ELF header with e_machine `machine` (the rest does not matter here)."""
    path.write_bytes(b"\x7fELF" + bytes(14) + machine.to_bytes(2, "little"))
    return path


@pytest.mark.parametrize(
    ("host", "machine", "expected"),
    [
        ("x86_64", 183, ["qemu-aarch64"]),  # arm64 build elsewhere: through qemu
        ("aarch64", 183, []),  # arm64 build at home: directly
        ("arm64", 183, []),  # arm64 build on an arm64 Mac: directly
        ("x86_64", 62, []),  # the host build: directly
    ],
)
def test_function_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, host: str, machine: int, expected: list[str]
) -> None:
    monkeypatch.setattr(function_host.platform, "machine", lambda: host)
    bootstrap = _elf(tmp_path / "bootstrap", machine)
    assert function_command(bootstrap) == [*expected, str(bootstrap)]


def test_a_script_is_started_directly(tmp_path: Path) -> None:
    script = tmp_path / "bootstrap"
    script.write_text("#!/bin/sh\nexec true\n")
    assert function_command(script) == [str(script)]


def test_the_default_runner_is_the_projects_runtime_api_emulator() -> None:
    assert set(RUNNERS) == {"runtime-api", "rie"}
    with runner(["true"], {"X": "1"}) as emulator:
        assert isinstance(emulator, RuntimeApiEmulator)
        assert emulator.env == {"X": "1"}
        assert emulator.processes == []  # nothing runs before the first invocation


def test_the_rie_runner_is_aws_runtime_interface_emulator() -> None:
    emulator = runner(["true"], {"X": "1"}, "rie")
    assert isinstance(emulator, RuntimeInterfaceEmulator)
    assert (emulator.command, emulator.env) == (["true"], {"X": "1"})
    emulator.close()


def test_the_runtime_api_runner_gets_the_working_directory_and_the_echo_choice(tmp_path: Path) -> None:
    with runner(["true"], {}, cwd=tmp_path, echo=True) as emulator:
        assert isinstance(emulator, RuntimeApiEmulator)
        assert (emulator.command, emulator.cwd, emulator.echo_output) == (["true"], tmp_path, True)
    with runner(["true"], {}) as quiet:
        assert isinstance(quiet, RuntimeApiEmulator)
        assert (quiet.cwd, quiet.echo_output) == (function_host.ROOT, False)


def test_the_rie_runner_gets_the_working_directory_and_the_echo_choice(tmp_path: Path) -> None:
    emulator = runner(["true"], {}, "rie", cwd=tmp_path, echo=True)
    assert isinstance(emulator, RuntimeInterfaceEmulator)
    assert (emulator.cwd, emulator.echo_output) == (tmp_path, True)
    emulator.close()
    quiet = runner(["true"], {}, "rie")
    assert isinstance(quiet, RuntimeInterfaceEmulator)
    assert (quiet.cwd, quiet.echo_output) == (function_host.ROOT, False)
    quiet.close()


class _LateOutputRunner:
    """A runner whose invocation answers before its process's output has been read (as a reader thread
    may be late), which then arrives from another thread."""

    def __init__(self, status: Status, lines: list[str]) -> None:
        self.process = FunctionProcess(["true"], "127.0.0.1:9")
        self.processes = [self.process]
        self.status = status
        self.lines = lines

    def invoke(self, payload: bytes, timeout_s: float, trace_id: str | None = None) -> InvocationResult:
        self.invoked = (payload, timeout_s)

        def late() -> None:
            for line in self.lines:
                with self.process.output_read:
                    self.process.stdout.append(line)
                    self.process.output_read.notify_all()

        threading.Timer(0.2, late).start()
        return InvocationResult(self.status, b"{}", None, 0.0, "request-id")


EMF_LINE = '{"_aws":{"CloudWatchMetrics":[]},"Alerts":1}'


def test_an_invocation_returns_once_its_metrics_record_has_been_read() -> None:
    late = _LateOutputRunner("ok", ['{"level":"INFO","message":"alert stored"}', EMF_LINE])
    result = invoke_settled(cast(FunctionRunner, late), b"{}", 5.0)
    assert result.status == "ok"
    assert late.process.stdout[-1] == EMF_LINE  # the log line before it too
    assert emf_totals(late.process.stdout)["Alerts"] == 1


def test_a_failed_invocation_does_not_wait_for_a_metrics_record(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(function_host, "SETTLE_TIMEOUT_S", 3600.0)  # a wait would hang the test
    silent = _LateOutputRunner("error", [])
    assert invoke_settled(cast(FunctionRunner, silent), b"{}", 5.0).status == "error"


def test_the_invocation_carries_the_event_and_its_timeout() -> None:
    late = _LateOutputRunner("ok", [EMF_LINE])
    invoke_settled(cast(FunctionRunner, late), b'{"Records":[]}', 7.5)
    assert late.invoked == (b'{"Records":[]}', 7.5)


def test_an_ok_invocation_without_a_metrics_record_returns_after_the_settle_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(function_host, "SETTLE_TIMEOUT_S", 0.3)
    silent = _LateOutputRunner("ok", ['{"level":"INFO","message":"no metrics"}'])
    assert invoke_settled(cast(FunctionRunner, silent), b"{}", 5.0).status == "ok"


def test_the_default_bootstrap_is_the_host_build_unless_tap_bootstrap_names_another(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("TAP_BOOTSTRAP", raising=False)
    assert function_host.default_bootstrap() == function_host.ROOT / "build" / "cpp" / "src" / "bootstrap"
    monkeypatch.setenv("TAP_BOOTSTRAP", str(tmp_path / "asan" / "bootstrap"))
    assert function_host.default_bootstrap() == tmp_path / "asan" / "bootstrap"


def test_a_local_function_reads_its_output_and_sums_its_metrics() -> None:
    late = _LateOutputRunner("ok", ['{"level":"INFO","message":"stored"}', EMF_LINE])
    resources = FunctionResources("a", "s", "arn:t", "http://dlq", "http://cap")
    function = LocalFunction(cast(FunctionRunner, late), resources)
    assert function.invoke(b'{"Records":[]}', timeout_s=4.0).status == "ok"
    assert late.invoked == (b'{"Records":[]}', 4.0)
    assert function.stdout() == ['{"level":"INFO","message":"stored"}', EMF_LINE]
    assert function.invoke(b"{}").status == "ok"
    assert late.invoked == (b"{}", 30.0)  # the default timeout
    assert (function.metrics("Alerts"), function.metrics("Ticks"), function.metrics("NotEmitted")) == (
        2,
        0,
        0,
    )

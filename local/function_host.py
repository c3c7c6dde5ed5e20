"""The one way to run the function on this machine: a build of `bootstrap` (the host build, or the arm64
one through qemu-aarch64: `function_command`) behind a Lambda Runtime API, against the emulator (moto).
The tests, the demo, the benchmark and the chaos campaign all start it here.

The runner is a seam: `RUNNERS` maps a name to what serves the Runtime API to the function process --
"runtime-api", the project's emulator (local/runtime_api.py), and "rie", AWS's own Runtime Interface
Emulator (local/rie.py, `make rie`). Every runner has the emulator's interface (`FunctionRunner`).
"""

from __future__ import annotations

import os
import platform
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Protocol

from local.emf import emf_records, emf_totals
from local.emulator import MotoServer
from local.function_resources import ROOT, FunctionResources, resources_on
from local.rie import RuntimeInterfaceEmulator
from local.runtime_api import FunctionProcess, InvocationResult, RuntimeApiEmulator


class FunctionRunner(Protocol):
    """What serves the Runtime API to one execution environment and runs the function process in it."""

    @property
    def process(self) -> FunctionProcess | None: ...

    @property
    def processes(self) -> list[FunctionProcess]: ...

    def start_process(self) -> FunctionProcess: ...

    def invoke(self, payload: bytes, timeout_s: float, trace_id: str | None = None) -> InvocationResult: ...

    def close(self) -> None: ...

    def __enter__(self) -> FunctionRunner: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...


# (command, env, working directory, echo the function's output to stderr) -> a runner, not started
RunnerFactory = Callable[[Sequence[str], Mapping[str, str], Path, bool], FunctionRunner]


def _runtime_api(command: Sequence[str], env: Mapping[str, str], cwd: Path, echo: bool) -> FunctionRunner:
    return RuntimeApiEmulator(command, env=env, cwd=cwd, echo_output=echo)


def _rie(command: Sequence[str], env: Mapping[str, str], cwd: Path, echo: bool) -> FunctionRunner:
    return RuntimeInterfaceEmulator(command, env=env, cwd=cwd, echo_output=echo)


RUNNERS: dict[str, RunnerFactory] = {"runtime-api": _runtime_api, "rie": _rie}
DEFAULT_RUNNER = "runtime-api"
EM_AARCH64 = 183  # e_machine of an ELF header (bytes 18-19, little-endian) for arm64


def default_bootstrap() -> Path:
    """TAP_BOOTSTRAP (e.g. the coverage or a sanitizer build), else the host build."""
    return Path(os.environ.get("TAP_BOOTSTRAP", str(ROOT / "build" / "cpp" / "src" / "bootstrap")))


def function_command(bootstrap: Path) -> list[str]:
    """How to start `bootstrap` on this machine: directly, or -- an arm64 build on another architecture --
    through qemu-aarch64's user-mode emulation (no binfmt_misc needed)."""
    with bootstrap.open("rb") as elf:
        header = elf.read(20)
    arm64 = header[:4] == b"\x7fELF" and int.from_bytes(header[18:20], "little") == EM_AARCH64
    if arm64 and platform.machine() not in ("aarch64", "arm64"):
        return ["qemu-aarch64", str(bootstrap)]
    return [str(bootstrap)]


def runner(
    command: Sequence[str],
    env: Mapping[str, str],
    runner_name: str = DEFAULT_RUNNER,
    cwd: Path = ROOT,
    echo: bool = False,
) -> FunctionRunner:
    """A runner (not started) for the function process `command` with `env`."""
    return RUNNERS[runner_name](command, env, cwd, echo)


SETTLE_TIMEOUT_S = 10.0


def _stdout(emulator: FunctionRunner) -> list[str]:
    return [line for process in emulator.processes for line in list(process.stdout)]


def invoke_settled(emulator: FunctionRunner, event: bytes, timeout_s: float) -> InvocationResult:
    """One invocation whose output has been read when it returns. The function writes its log lines and
    then its metrics record to stdout before it answers, but a reader thread collects the pipe: without
    this wait, a check right after the answer can miss the invocation's last lines. A successful invocation
    emits exactly one metrics record, so the wait ends when that record has been read (bounded: a record
    that never comes fails the check that needs it, not this call)."""
    records = len(emf_records(_stdout(emulator)))
    result = emulator.invoke(event, timeout_s)
    process = emulator.process
    if result.status == "ok" and process is not None:
        with process.output_read:
            process.output_read.wait_for(
                lambda: len(emf_records(_stdout(emulator))) > records, SETTLE_TIMEOUT_S
            )
    return result


@dataclass
class LocalFunction:
    """The function behind its runner, with the resources it writes to."""

    emulator: FunctionRunner
    resources: FunctionResources

    def invoke(self, event: bytes, timeout_s: float = 30.0) -> InvocationResult:
        return invoke_settled(self.emulator, event, timeout_s)

    def stdout(self) -> list[str]:
        """Every stdout line of every function process so far."""
        return _stdout(self.emulator)

    def metrics(self, name: str) -> int:
        """Sum of an EMF metric over every invocation so far."""
        return int(emf_totals(self.stdout()).get(name, 0))


@contextmanager
def running_function(
    env: Mapping[str, str] | None = None,
    bootstrap: Path | None = None,
    runner_name: str = DEFAULT_RUNNER,
) -> Iterator[LocalFunction]:
    """moto + the function's resources + the function under its runner; everything stopped afterwards.
    `env` overrides the function's environment."""
    command = function_command(bootstrap or default_bootstrap())
    with MotoServer() as moto:
        resources = resources_on(moto.url, uuid.uuid4().hex[:8])
        function_env = {**resources.function_env(), **(env or {})}
        with runner(command, function_env, runner_name) as emulator:
            yield LocalFunction(emulator, resources)

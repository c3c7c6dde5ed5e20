"""AWS's Lambda Runtime Interface Emulator (RIE) as a runner of the function, with the interface of the
project's own emulator (local/runtime_api.py: `RuntimeApiEmulator`), so that the same scenario can run
under either and their answers be compared.

The RIE binaries are taken out of the aws-sam-cli wheel by `make rie` (mk/rie.mk). One RIE process is one
execution environment: it starts the function process at the first invocation, starts it again after an
init error, and SIGKILLs it when the RIE itself gets SIGTERM. Both of its addresses are free ports here
(not the default 127.0.0.1:9001 for the Runtime API), so that several RIEs on one machine never meet.
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import shutil
import signal
import socket
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType

from local.emulator import HOST, free_port
from local.runtime_api import FunctionProcess, InvocationResult, Status

RIE_DIR = Path(__file__).resolve().parent.parent / "build" / "rie"
# The host's own: the arm64 one under qemu cannot exec an arm64 function process (no binfmt_misc here).
RIE = RIE_DIR / f"aws-lambda-rie-{'arm64' if platform.machine() == 'aarch64' else 'x86_64'}"
INVOKE_PATH = "/2015-03-31/functions/function/invocations"
START_TIMEOUT_S = 10.0
FUNCTION_TIMEOUT_S = 60  # the function's timeout (the stack's), which the RIE enforces


class RuntimeInterfaceEmulator:
    """The RIE serving the Runtime API to the function process `command` (any command: the RIE execs one
    path, so a wrapper script execs the command), and its invoke endpoint. Invocations are serial."""

    def __init__(
        self,
        command: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        echo_output: bool = False,
        rie: Path = RIE,
    ) -> None:
        self.command = list(command)
        self.env = dict(env or {})
        self.cwd = cwd
        self.echo_output = echo_output
        self.rie = rie
        self.process: FunctionProcess | None = None  # the RIE, which runs the function: its output too
        self.processes: list[FunctionProcess] = []
        self._dir = Path(tempfile.mkdtemp(prefix="rie-"))
        self._invoke_url = ""

    def __enter__(self) -> RuntimeInterfaceEmulator:
        self.start_process()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def start_process(self) -> FunctionProcess:
        """Starts the RIE and waits until it accepts invocations (the function starts at the first one)."""
        wrapper = self._dir / "bootstrap"
        wrapper.write_text(f"#!/bin/sh\nexec {shlex.join(self.command)}\n")
        wrapper.chmod(0o755)
        runtime_api, invoke = f"{HOST}:{free_port()}", f"{HOST}:{free_port()}"
        rie_command = [str(self.rie), "--runtime-api-address", runtime_api]
        rie_command += ["--runtime-interface-emulator-address", invoke, str(wrapper)]
        lambda_env = {"AWS_LAMBDA_FUNCTION_TIMEOUT": str(FUNCTION_TIMEOUT_S)}
        process = FunctionProcess(
            rie_command, runtime_api, {**lambda_env, **self.env}, self.cwd, self.echo_output
        )
        process.start()
        self.process = process
        self.processes.append(process)
        self._invoke_url = f"http://{invoke}{INVOKE_PATH}"
        _wait_until(lambda: _listening(invoke) or not process.alive(), START_TIMEOUT_S)
        if not _listening(invoke):
            self.close()
            raise RuntimeError(f"the RIE did not listen on {invoke}: {process.stderr[-5:]}")
        return process

    def invoke(self, payload: bytes, timeout_s: float, trace_id: str | None = None) -> InvocationResult:
        """One invocation through the RIE's invoke endpoint. `timeout_s` bounds the wait here; the RIE
        enforces the function timeout (FUNCTION_TIMEOUT_S) itself."""
        headers = {"X-Amzn-Trace-Id": trace_id} if trace_id else {}
        request = urllib.request.Request(self._invoke_url, data=payload, headers=headers, method="POST")
        started = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as response:
                code, body = int(response.status), bytes(response.read())
        except urllib.error.HTTPError as error:  # 502: the init error (the function's own body)
            code, body = error.code, error.read()
        duration = time.monotonic() - started
        document = json.loads(body)
        # Unlike Lambda's Invoke API (X-Amz-Function-Error), the RIE answers a function error with 200 and
        # Lambda's error body: the body's shape is what tells.
        error_type = document.get("errorType") if isinstance(document, dict) else None
        status: Status = "init_error" if code == 502 else ("error" if error_type or code != 200 else "ok")
        return InvocationResult(status, body, error_type, duration, str(uuid.uuid4()))

    def close(self) -> None:
        """SIGTERM to the RIE, which then SIGKILLs the function process (in a process group of its own: a
        SIGKILL of the RIE would leave it running); SIGKILL only for a RIE that does not stop."""
        for process in self.processes:
            if process.alive():
                os.kill(process.pid, signal.SIGTERM)
                _wait_until(lambda: not process.alive(), START_TIMEOUT_S)  # noqa: B023 (called at once)
            process.kill()
        self.process = None
        shutil.rmtree(self._dir, ignore_errors=True)


def _listening(address: str) -> bool:
    host, port = address.rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=0.5).close()
    except OSError:
        return False
    return True


def _wait_until(condition: Callable[[], bool], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)

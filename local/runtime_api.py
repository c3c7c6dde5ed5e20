"""A local Lambda Runtime API (version 2018-06-01) with AWS's semantics, and the function process it drives.

What Lambda does and this emulator reproduces, for one execution environment:
- `GET /2018-06-01/runtime/invocation/next` blocks until an invocation is queued, then returns its payload
  with the headers `Lambda-Runtime-Aws-Request-Id`, `Lambda-Runtime-Deadline-Ms` (set when the invocation is
  handed out), `Lambda-Runtime-Invoked-Function-Arn` and `Lambda-Runtime-Trace-Id`.
- `POST .../invocation/{id}/response` and `.../{id}/error` complete it with 202; an unknown request id gets
  400 (`InvalidRequestID`), a second result for the same id 403 (`InvalidStateTransition`), a response above
  6 MB 413 and the invocation fails with `Function.ResponseSizeTooLarge`.
- `POST /2018-06-01/runtime/init/error` records the init error; the pending invocation fails with it.
- A function that misses its deadline is killed, like Lambda does; the next invocation starts a new process
  (cold start). A function process that dies mid-invocation fails it with `Runtime.ExitError`.

Used by the black-box tests of the function, the local event source and the benchmarks.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from types import TracebackType
from typing import IO, Literal

from local.loopback_http import LoopbackServer

API_PREFIX = "/2018-06-01/runtime"
MAX_RESPONSE_BYTES = 6 * 1024 * 1024  # Lambda's synchronous response payload limit
DEFAULT_FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:local-function"
INIT_TIMEOUT_S = 10.0  # Lambda's limit for the init phase of a function
_RESULT_PATH = re.compile(rf"^{API_PREFIX}/invocation/([^/]+)/(response|error)$")

Status = Literal["ok", "error", "timeout", "init_error"]


@dataclass(frozen=True)
class InvocationResult:
    status: Status
    payload: bytes
    error_type: str | None
    duration: float  # seconds from hand-out to the function (GET /next) to its result
    request_id: str


@dataclass
class _Invocation:
    request_id: str
    payload: bytes
    trace_id: str
    timeout_s: float
    done: threading.Event = field(default_factory=threading.Event)
    dispatched_at: float | None = None
    deadline_ms: int = 0
    status: Status | None = None
    result: bytes = b""
    error_type: str | None = None
    finished_at: float = 0.0


class FunctionProcess:
    """One function process (an execution environment): spawned with AWS_LAMBDA_RUNTIME_API set, its output
    captured line by line, the time of its first /next request recorded for cold-start measurement."""

    def __init__(
        self,
        command: Sequence[str],
        runtime_api: str,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        echo: bool = False,
    ) -> None:
        self.command = list(command)
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self.first_next_at: float | None = None
        self._echo = echo
        self._env = {**os.environ, **(env or {}), "AWS_LAMBDA_RUNTIME_API": runtime_api}
        self._cwd = cwd
        self.started_at = 0.0
        self._readers: list[threading.Thread] = []
        # Notified after each line read: what waits for the function's output waits on it.
        self.output_read = threading.Condition()

    def start(self) -> None:
        """Spawns the process (apart from __init__: the emulator must know it before its first /next)."""
        self.started_at = time.monotonic()
        self._proc = subprocess.Popen(
            self.command,
            env=self._env,
            cwd=self._cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert self._proc.stdout is not None  # PIPE above
        assert self._proc.stderr is not None
        self._readers = [
            threading.Thread(target=self._pump, args=(self._proc.stdout, self.stdout), daemon=True),
            threading.Thread(target=self._pump, args=(self._proc.stderr, self.stderr), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _pump(self, stream: IO[bytes], sink: list[str]) -> None:
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", errors="replace").rstrip("\n")
            with self.output_read:
                sink.append(line)
                self.output_read.notify_all()
            if self._echo:
                print(line, file=sys.stderr)

    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def cold_start(self) -> float | None:
        """Seconds from process start to its first GET /next (None until it asks)."""
        return None if self.first_next_at is None else self.first_next_at - self.started_at

    def alive(self) -> bool:
        return self._proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return self._proc.poll()

    def kill(self) -> None:
        """SIGKILL, as Lambda stops an environment after a timeout; waits for the output to be read."""
        if self.alive():
            self._proc.kill()
        self._proc.wait()
        for reader in self._readers:
            reader.join(timeout=5)


class RuntimeApiEmulator:
    """The Runtime API server plus (optionally) the function process behind it. Invocations are serial, as
    in one Lambda execution environment; run several emulators for concurrency."""

    def __init__(
        self,
        command: Sequence[str] | None = None,
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        function_arn: str = DEFAULT_FUNCTION_ARN,
        init_timeout_s: float = INIT_TIMEOUT_S,
        echo_output: bool = False,
    ) -> None:
        self.command = list(command) if command else None
        self.env = dict(env or {})
        self.cwd = cwd
        self.function_arn = function_arn
        self.init_timeout_s = init_timeout_s
        self.echo_output = echo_output
        self.process: FunctionProcess | None = None
        self.processes: list[FunctionProcess] = []  # every process started, oldest first
        self.init_errors: list[tuple[str, bytes]] = []  # (error type, body) as posted
        self.peers: set[tuple[str, int]] = set()  # client (host, port) of every request: one per connection
        self._cond = threading.Condition()
        self._queue: collections.deque[_Invocation] = collections.deque()
        self._inflight: dict[str, _Invocation] = {}
        self._completed: set[str] = set()
        self._generation = 0  # bumped whenever a process is killed: its pending /next must not take work
        self._init_error: bytes | None = None
        self._invoke_lock = threading.Lock()
        self._closed = False
        self._http = LoopbackServer(self._handler_class())

    # -- lifecycle ---------------------------------------------------------------------------------------
    @property
    def address(self) -> str:
        """host:port, the value of AWS_LAMBDA_RUNTIME_API."""
        return self._http.address

    def __enter__(self) -> RuntimeApiEmulator:
        self._http.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._stop_process()
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._http.stop()

    def start_process(self) -> FunctionProcess:
        """Starts the function process (a cold start); invoke() does this when none is running."""
        assert self.command is not None, "no function command configured"
        with self._cond:
            self._init_error = None
        # What Lambda sets for every function (the caller's env may override it).
        lambda_env = {
            "AWS_LAMBDA_FUNCTION_NAME": self.function_arn.rsplit(":", 1)[-1],
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        }
        process = FunctionProcess(
            self.command, self.address, {**lambda_env, **self.env}, self.cwd, self.echo_output
        )
        with self._cond:
            self.process = process
            self.processes.append(process)
        process.start()
        return process

    def _stop_process(self) -> None:
        if self.process is not None:
            self.process.kill()
            with self._cond:
                self._generation += 1
                self._cond.notify_all()
            self.process = None

    # -- invocations -------------------------------------------------------------------------------------
    def invoke(self, payload: bytes, timeout_s: float, trace_id: str | None = None) -> InvocationResult:
        """Runs one invocation with Lambda's function timeout `timeout_s` and returns how it ended."""
        with self._invoke_lock:
            if self.command is not None and (self.process is None or not self.process.alive()):
                self._stop_process()
                self.start_process()
            inv = _Invocation(
                request_id=str(uuid.uuid4()),
                payload=payload,
                trace_id=trace_id or _new_trace_id(),
                timeout_s=timeout_s,
            )
            with self._cond:
                self._queue.append(inv)
                self._cond.notify_all()
            self._wait(inv, timeout_s)
            if inv.status in ("timeout", "init_error") or (inv.status == "error" and not self._alive()):
                self._stop_process()  # the environment is reset: the next invocation cold-starts
            assert inv.status is not None
            started = inv.dispatched_at if inv.dispatched_at is not None else inv.finished_at
            return InvocationResult(
                inv.status, inv.result, inv.error_type, inv.finished_at - started, inv.request_id
            )

    def _alive(self) -> bool:
        return self.process is None or self.process.alive()

    def _wait(self, inv: _Invocation, timeout_s: float) -> None:
        init_deadline = time.monotonic() + self.init_timeout_s
        while True:
            now = time.monotonic()
            with self._cond:
                if inv.done.is_set():
                    return
                if self._init_error is not None:
                    self._finish(inv, "init_error", self._init_error, self._init_error_type())
                elif not self._alive():
                    assert self.process is not None  # only a process can die
                    message = json.dumps({"errorMessage": f"exited with status {self.process.returncode}"})
                    status: Status = "error" if inv.dispatched_at is not None else "init_error"
                    self._finish(inv, status, message.encode(), "Runtime.ExitError")
                elif inv.dispatched_at is None and now > init_deadline:
                    self._finish(inv, "init_error", b"", "Runtime.InitTimeout")
                elif inv.dispatched_at is not None and now > inv.dispatched_at + timeout_s:
                    message = f"Task timed out after {timeout_s:.2f} seconds"
                    self._finish(
                        inv, "timeout", json.dumps({"errorMessage": message}).encode(), "Sandbox.Timedout"
                    )
            inv.done.wait(0.02)

    def _init_error_type(self) -> str:
        return self.init_errors[-1][0]

    def _finish(self, inv: _Invocation, status: Status, result: bytes, error_type: str | None) -> None:
        """Completes an invocation; the caller holds self._cond."""
        inv.status, inv.result, inv.error_type = status, result, error_type
        inv.finished_at = time.monotonic()
        if inv in self._queue:
            self._queue.remove(inv)
        self._inflight.pop(inv.request_id, None)
        self._completed.add(inv.request_id)
        inv.done.set()

    # -- the HTTP side -----------------------------------------------------------------------------------
    def _next(self) -> _Invocation | None:
        """Blocks until an invocation is queued (None when the emulator closes or this caller's process was
        replaced meanwhile)."""
        with self._cond:
            generation = self._generation
            if self.process is not None and self.process.first_next_at is None:
                self.process.first_next_at = time.monotonic()
            while not self._queue:
                if self._closed or self._generation != generation:
                    return None
                self._cond.wait(0.1)
            inv = self._queue.popleft()
            # Lambda's clock starts when the function receives the event: that is when the deadline is set.
            inv.dispatched_at = time.monotonic()
            inv.deadline_ms = int((time.time() + inv.timeout_s) * 1000)
            self._inflight[inv.request_id] = inv
            return inv

    def _post_result(
        self, request_id: str, kind: str, body: bytes, error_type: str
    ) -> tuple[int, dict[str, str]]:
        with self._cond:
            inv = self._inflight.get(request_id)
            if inv is None:
                if request_id in self._completed:
                    return HTTPStatus.FORBIDDEN, _api_error(
                        "InvalidStateTransition", "Invocation already finished"
                    )
                return HTTPStatus.BAD_REQUEST, _api_error("InvalidRequestID", "Invalid request ID")
            if kind == "response" and len(body) > MAX_RESPONSE_BYTES:
                message = f"Response payload size ({len(body)} bytes) exceeded maximum allowed payload size"
                self._finish(
                    inv,
                    "error",
                    json.dumps({"errorMessage": message}).encode(),
                    "Function.ResponseSizeTooLarge",
                )
                return HTTPStatus.REQUEST_ENTITY_TOO_LARGE, _api_error("RequestEntityTooLarge", message)
            if kind == "response":
                self._finish(inv, "ok", body, None)
            else:
                self._finish(inv, "error", body, _error_type(body, error_type))
            return HTTPStatus.ACCEPTED, {"status": "OK"}

    def _post_init_error(self, body: bytes, error_type: str) -> tuple[int, dict[str, str]]:
        with self._cond:
            self.init_errors.append((_error_type(body, error_type), body))
            self._init_error = body
            self._cond.notify_all()
        return HTTPStatus.ACCEPTED, {"status": "OK"}

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the real Runtime API
            # Headers and body go out as separate small writes: without TCP_NODELAY, Nagle's algorithm and
            # the peer's delayed ACK add ~40 ms to every call.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: the function's own output is what matters."""

            def _reply(self, status: int, body: bytes, headers: Mapping[str, str] | None = None) -> None:
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length", "0")))

            def do_GET(self) -> None:
                emulator.peers.add(self.client_address[:2])
                if self.path != f"{API_PREFIX}/invocation/next":
                    self._reply(HTTPStatus.NOT_FOUND, json.dumps(_api_error("NotFound", self.path)).encode())
                    return
                inv = emulator._next()
                if inv is None:
                    self.close_connection = True
                    self._reply(
                        HTTPStatus.INTERNAL_SERVER_ERROR,
                        json.dumps(_api_error("Runtime.Shutdown", "environment shutting down")).encode(),
                    )
                    return
                headers = {
                    "Lambda-Runtime-Aws-Request-Id": inv.request_id,
                    "Lambda-Runtime-Deadline-Ms": str(inv.deadline_ms),
                    "Lambda-Runtime-Invoked-Function-Arn": emulator.function_arn,
                    "Lambda-Runtime-Trace-Id": inv.trace_id,
                }
                self._reply(HTTPStatus.OK, inv.payload, headers)

            def do_POST(self) -> None:
                emulator.peers.add(self.client_address[:2])
                body = self._body()
                error_type = self.headers.get("Lambda-Runtime-Function-Error-Type", "")
                match = _RESULT_PATH.match(self.path)
                if match:
                    status, reply = emulator._post_result(match.group(1), match.group(2), body, error_type)
                elif self.path == f"{API_PREFIX}/init/error":
                    status, reply = emulator._post_init_error(body, error_type)
                else:
                    status, reply = HTTPStatus.NOT_FOUND, _api_error("NotFound", self.path)
                self._reply(status, json.dumps(reply).encode())

        return Handler


def _api_error(error_type: str, message: str) -> dict[str, str]:
    return {"errorType": error_type, "errorMessage": message}


def _error_type(body: bytes, header: str) -> str:
    """The function's error type: errorType of the JSON body (what Lambda reports), else the header."""
    try:
        document = json.loads(body)
    except ValueError:
        document = None
    if isinstance(document, dict) and isinstance(document.get("errorType"), str) and document["errorType"]:
        return str(document["errorType"])
    return header or "Unhandled"


def _new_trace_id() -> str:
    """An X-Ray trace header as Lambda passes it: Root=1-<epoch hex>-<96-bit id>;Parent=<64-bit>;Sampled=0."""
    return f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Parent={uuid.uuid4().hex[:16]};Sampled=0"


def main(argv: Sequence[str] | None = None) -> int:
    """Runs a function once per payload given, printing each result as a JSON line."""
    parser = argparse.ArgumentParser(prog="python -m local.runtime_api", description=main.__doc__)
    parser.add_argument("--timeout", type=float, default=60.0, help="function timeout in seconds")
    parser.add_argument("--payload", action="append", default=[], help="an invocation payload (repeatable)")
    parser.add_argument("command", nargs="+", help="the function process, e.g. build/cpp/bootstrap")
    args = parser.parse_args(argv)
    failed = False
    with RuntimeApiEmulator(args.command, echo_output=True) as emulator:
        for payload in args.payload or ["{}"]:
            result = emulator.invoke(payload.encode(), args.timeout)
            failed |= result.status != "ok"
            print(
                json.dumps(
                    {
                        "status": result.status,
                        "requestId": result.request_id,
                        "errorType": result.error_type,
                        "durationMs": round(result.duration * 1000, 3),
                        "payload": result.payload.decode("utf-8", errors="replace"),
                    }
                )
            )
        cold = emulator.processes[0].cold_start if emulator.processes else None
        if cold is not None:
            print(json.dumps({"coldStartMs": round(cold * 1000, 3)}))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""The RIE runner's invoke mapping and helpers (local/rie.py) against a canned HTTP stand-in of the RIE's
invoke endpoint, without the RIE binary: the gaps a mutation run found (issue 18)."""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from local import rie
from local.loopback_http import LoopbackServer
from local.rie import INVOKE_PATH, RuntimeInterfaceEmulator

Seen = list[tuple[str, str, str | None, bytes]]


class Canned:
    """The invoke endpoint's stand-in: answers (status, body) in turn and records each request."""

    def __init__(self) -> None:
        self.answers: list[tuple[int, bytes]] = []
        self.seen: Seen = []
        self.stall = threading.Event()  # cleared: the endpoint does not answer until it is set
        self.stall.set()
        canned = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                """Quiet."""

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                canned.seen.append((self.command, self.path, self.headers.get("X-Amzn-Trace-Id"), body))
                if not canned.stall.wait(10):
                    return
                status, answer = canned.answers.pop(0)
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        self.server = LoopbackServer(Handler)


@pytest.fixture
def canned() -> Iterator[tuple[Canned, RuntimeInterfaceEmulator]]:
    stand_in = Canned()
    stand_in.server.start()
    runner = RuntimeInterfaceEmulator(["true"])
    runner._invoke_url = f"http://{stand_in.server.address}{INVOKE_PATH}"
    try:
        yield stand_in, runner
    finally:
        runner.close()
        stand_in.server.stop()


def test_the_rie_settings_are_lambdas() -> None:
    assert INVOKE_PATH == "/2015-03-31/functions/function/invocations"
    assert (rie.START_TIMEOUT_S, rie.FUNCTION_TIMEOUT_S) == (10.0, 60)
    assert rie.RIE.parent == rie.RIE_DIR
    assert re.fullmatch(r"aws-lambda-rie-(arm64|x86_64)", rie.RIE.name)


@pytest.mark.parametrize(
    ("code", "body", "status", "error_type"),
    [
        (200, b'{"ok": 1}', "ok", None),
        (200, b"[1]", "ok", None),
        (200, b'{"errorType": "Boom", "errorMessage": "m"}', "error", "Boom"),
        (500, b"{}", "error", None),
        (502, b'{"errorType": "Runtime.ExitError"}', "init_error", "Runtime.ExitError"),
    ],
)
def test_the_answer_of_the_invoke_endpoint_maps_to_lambdas_statuses(
    canned: tuple[Canned, RuntimeInterfaceEmulator],
    code: int,
    body: bytes,
    status: str,
    error_type: str | None,
) -> None:
    stand_in, runner = canned
    stand_in.answers.append((code, body))
    result = runner.invoke(b'{"in": 1}', 5.0, "Root=1-x")
    assert (result.status, result.payload, result.error_type) == (status, body, error_type)
    assert result.duration >= 0
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}", result.request_id)
    assert stand_in.seen == [("POST", INVOKE_PATH, "Root=1-x", b'{"in": 1}')]


def test_no_trace_header_is_sent_without_a_trace_id(canned: tuple[Canned, RuntimeInterfaceEmulator]) -> None:
    stand_in, runner = canned
    stand_in.answers += [(200, b"{}"), (200, b"{}")]
    first = runner.invoke(b"{}", 5.0)
    second = runner.invoke(b"{}", 5.0, "")
    assert [trace for _, _, trace, _ in stand_in.seen] == [None, None]
    assert first.request_id != second.request_id


def test_listening_tells_an_open_port_from_a_closed_one() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        address = f"127.0.0.1:{listener.getsockname()[1]}"
        assert rie._listening(address) is True
    assert rie._listening(address) is False


def test_wait_until_polls_every_20_ms_until_the_condition_holds_or_the_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        assert len(slept) < 5, "polled past the deadline"

    monkeypatch.setattr(rie.time, "sleep", sleep)
    monkeypatch.setattr(rie.time, "monotonic", lambda: 5.0)  # time stands still
    calls = [0]

    def third_time() -> bool:
        calls[0] += 1
        return calls[0] == 3

    rie._wait_until(third_time, 10.0)
    assert (calls[0], slept) == (3, [0.02, 0.02])
    slept.clear()
    rie._wait_until(lambda: False, 0.0)  # the deadline is now: one look, no wait
    assert slept == []


def test_an_invocation_lasts_from_the_request_to_the_answer(
    canned: tuple[Canned, RuntimeInterfaceEmulator], monkeypatch: pytest.MonkeyPatch
) -> None:
    stand_in, runner = canned
    stand_in.answers.append((200, b"{}"))
    readings = iter([100.0, 100.25])
    monkeypatch.setattr(
        rie.time, "monotonic", lambda: next(readings, 100.25)
    )  # later readings (if any) at the end
    assert runner.invoke(b"{}", 5.0).duration == 0.25


def test_an_endpoint_that_does_not_answer_within_the_timeout_fails_the_invoke(
    canned: tuple[Canned, RuntimeInterfaceEmulator],
) -> None:
    stand_in, runner = canned
    stand_in.answers.append((200, b"{}"))  # what the endpoint answers once it is let go
    stand_in.stall.clear()
    try:
        with pytest.raises(OSError, match="timed out"):
            runner.invoke(b"{}", 0.2)
    finally:
        stand_in.stall.set()


def test_a_runner_remembers_its_command_and_settings() -> None:
    runner = RuntimeInterfaceEmulator(("a", "b"), env={"K": "v"}, echo_output=True)
    try:
        assert (runner.command, runner.env, runner.echo_output, runner.rie) == (
            ["a", "b"],
            {"K": "v"},
            True,
            rie.RIE,
        )
        assert (runner.process, runner.processes, runner.cwd) == (None, [], None)
        assert runner._dir.name.startswith("rie-")
        assert runner._dir.is_dir()
    finally:
        runner.close()
    assert not runner._dir.exists()
    quiet = RuntimeInterfaceEmulator(["a"], cwd=Path("/tmp"))
    quiet.close()
    assert (quiet.echo_output, quiet.cwd, quiet.env) == (False, Path("/tmp"), {})

"""The local Lambda Runtime API emulator: against the C++ runtime client (echo_function), against AWS's own
Python runtime client (awslambdaric), and at the protocol level with a raw HTTP client."""

from __future__ import annotations

import http.client
import json
import os
import re
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from local.runtime_api import MAX_RESPONSE_BYTES, FunctionProcess, RuntimeApiEmulator, main

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def echo_function() -> str:
    path = Path(
        os.environ.get("TAP_ECHO_FUNCTION", ROOT / "build" / "cpp" / "tests" / "runtime" / "echo_function")
    )
    if not path.is_file():
        pytest.fail(f"{path} is missing: build it with `make cpp-build` (or set TAP_ECHO_FUNCTION)")
    return str(path)


def _json(payload: bytes) -> dict[str, object]:
    document = json.loads(payload)
    assert isinstance(document, dict)
    return document


# -- the C++ runtime client --
def test_cpp_success_propagates_request_id_deadline_arn_and_trace_id(echo_function: str) -> None:
    arn = "arn:aws:lambda:us-east-1:123456789012:function:data-processor-test"
    trace = "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1"
    with RuntimeApiEmulator([echo_function], function_arn=arn) as emulator:
        before_ms = time.time() * 1000
        result = emulator.invoke(b'{"symbol":"AAPL","price":189.25}', timeout_s=30, trace_id=trace)
        after_ms = time.time() * 1000
        second = emulator.invoke(b"[1,2,3]", timeout_s=30)
        assert emulator.process is not None
        assert emulator.process.alive()
        cold_start = emulator.process.cold_start
        peers = set(emulator.peers)
    assert result.status == "ok"
    assert result.error_type is None
    echoed = _json(result.payload)
    assert echoed["payload"] == '{"symbol":"AAPL","price":189.25}'
    assert echoed["request_id"] == result.request_id
    assert echoed["function_arn"] == arn
    assert echoed["trace_id"] == trace
    assert echoed["trace_env"] == trace  # exported as _X_AMZN_TRACE_ID
    deadline = echoed["deadline_ms"]
    assert isinstance(deadline, int)
    assert before_ms + 29_000 <= deadline <= after_ms + 30_000
    remaining = echoed["remaining_ms"]
    assert isinstance(remaining, int)
    assert 29_000 < remaining <= 30_000
    assert 0 <= result.duration < 5
    assert second.status == "ok"
    assert second.request_id != result.request_id
    assert _json(second.payload)["trace_id"] != trace  # a fresh trace header per invocation
    assert cold_start is not None
    assert 0 < cold_start < 5
    assert len(emulator.processes) == 1
    assert len(peers) == 1, "the runtime client must reuse one keep-alive connection"


def test_cpp_handled_and_unhandled_errors_keep_the_environment(echo_function: str) -> None:
    with RuntimeApiEmulator([echo_function]) as emulator:
        failed = emulator.invoke(b'{"fail":true}', timeout_s=10)
        thrown = emulator.invoke(b'{"throw":true}', timeout_s=10)
        fine = emulator.invoke(b"{}", timeout_s=10)
        assert len(emulator.processes) == 1
    assert failed.status == "error"
    assert failed.error_type == "EchoFailure"
    assert _json(failed.payload) == {
        "errorMessage": "asked to fail",
        "errorType": "EchoFailure",
        "stackTrace": [],
    }
    assert thrown.status == "error"
    assert thrown.error_type == "Runtime.UnhandledException"
    assert _json(thrown.payload)["errorMessage"] == "thrown on request"
    assert fine.status == "ok"


def test_cpp_timeout_kills_the_process_and_the_next_invocation_cold_starts(echo_function: str) -> None:
    with RuntimeApiEmulator([echo_function]) as emulator:
        timed_out = emulator.invoke(b'{"sleep_ms":3000}', timeout_s=0.5)
        first = emulator.processes[0]
        assert not first.alive()
        assert emulator.process is None
        after = emulator.invoke(b'{"sleep_ms":10}', timeout_s=5)
        assert len(emulator.processes) == 2
        assert emulator.processes[1].pid != first.pid
        assert emulator.processes[1].cold_start is not None
    assert timed_out.status == "timeout"
    assert timed_out.error_type == "Sandbox.Timedout"
    assert _json(timed_out.payload) == {"errorMessage": "Task timed out after 0.50 seconds"}
    assert 0.5 <= timed_out.duration < 2
    assert after.status == "ok"
    assert _json(after.payload)["payload"] == '{"sleep_ms":10}'


def test_cpp_init_error_is_reported_and_the_environment_restarts(echo_function: str) -> None:
    with RuntimeApiEmulator([echo_function], env={"ECHO_INIT_ERROR": 'rules: missing "id"'}) as emulator:
        first = emulator.invoke(b"{}", timeout_s=5)
        second = emulator.invoke(b"{}", timeout_s=5)
        assert len(emulator.processes) == 2
        assert emulator.processes[0].returncode in (2, -9)  # exited after reporting, or reset by the emulator
        error_type, body = emulator.init_errors[0]
        stderr = emulator.processes[0].stderr
    assert first.status == "init_error"
    assert first.error_type == "Runtime.EchoInitError"
    assert _json(first.payload) == {
        "errorMessage": 'rules: missing "id"',
        "errorType": "Runtime.EchoInitError",
        "stackTrace": [],
    }
    assert second.status == "init_error"
    assert error_type == "Runtime.EchoInitError"
    assert _json(body)["errorMessage"] == 'rules: missing "id"'
    logged = [json.loads(line) for line in stderr]
    assert logged[0]["level"] == "ERROR"
    assert logged[0]["reason"] == "Runtime.EchoInitError"


# -- AWS's own runtime client: the emulator speaks the real protocol --
HANDLER_MODULE = """
import time

def handler(event, context):
    time.sleep(event.get("sleep", 0))
    if event.get("fail"):
        raise ValueError("failing " + context.aws_request_id)
    return {
        "echo": event,
        "request_id": context.aws_request_id,
        "arn": context.invoked_function_arn,
        "name": context.function_name,
        "version": context.function_version,
        "remaining_ms": context.get_remaining_time_in_millis(),
    }
"""


def _awslambdaric(tmp_path: Path, handler: str) -> RuntimeApiEmulator:
    (tmp_path / "echo_handler.py").write_text(textwrap.dedent(HANDLER_MODULE))
    return RuntimeApiEmulator(
        [sys.executable, "-m", "awslambdaric", handler],
        env={"PYTHONPATH": str(tmp_path)},
        cwd=tmp_path,
        function_arn="arn:aws:lambda:us-east-1:123456789012:function:py",
    )


def test_awslambdaric_handler_success_and_error(tmp_path: Path) -> None:
    with _awslambdaric(tmp_path, "echo_handler.handler") as emulator:
        ok = emulator.invoke(b'{"symbol":"MSFT"}', timeout_s=20)
        failed = emulator.invoke(b'{"fail":true}', timeout_s=20)
        again = emulator.invoke(b'{"n":2}', timeout_s=20)
        assert len(emulator.processes) == 1
    assert ok.status == "ok", ok
    body = _json(ok.payload)
    assert body["echo"] == {"symbol": "MSFT"}
    assert body["request_id"] == ok.request_id
    assert body["arn"] == "arn:aws:lambda:us-east-1:123456789012:function:py"
    assert (body["name"], body["version"]) == ("py", "$LATEST")  # the environment Lambda gives a function
    remaining = body["remaining_ms"]
    assert isinstance(remaining, int)
    assert 15_000 < remaining <= 20_000
    assert failed.status == "error"
    assert failed.error_type == "ValueError"
    assert _json(failed.payload)["errorMessage"] == f"failing {failed.request_id}"
    assert again.status == "ok"


def test_a_timed_out_invocation_is_reported_as_lambda_does_and_the_environment_restarts(
    tmp_path: Path,
) -> None:
    with _awslambdaric(tmp_path, "echo_handler.handler") as emulator:
        slow = emulator.invoke(b'{"sleep": 30}', timeout_s=1)
        after = emulator.invoke(b'{"n": 1}', timeout_s=20)
        assert len(emulator.processes) == 2  # the timed-out environment was replaced
        assert not emulator.processes[0].alive()
    assert (slow.status, slow.error_type) == ("timeout", "Sandbox.Timedout")
    assert _json(slow.payload) == {"errorMessage": "Task timed out after 1.00 seconds"}
    assert 1.0 <= slow.duration < 10.0  # measured from the hand-out, so at least the timeout
    assert after.status == "ok"
    assert after.request_id != slow.request_id


def test_awslambdaric_missing_handler_is_an_init_error(tmp_path: Path) -> None:
    with _awslambdaric(tmp_path, "echo_handler.nope") as emulator:
        result = emulator.invoke(b"{}", timeout_s=20)
        assert emulator.init_errors
    assert result.status == "init_error"
    assert result.error_type == "Runtime.HandlerNotFound"


# -- function processes that misbehave --
def test_process_dying_at_start_or_mid_invocation_and_init_timeout(tmp_path: Path) -> None:
    crash_at_start = [sys.executable, "-c", "import sys; sys.exit(4)"]
    with RuntimeApiEmulator(crash_at_start) as emulator:
        result = emulator.invoke(b"{}", timeout_s=5)
    assert result.status == "init_error"
    assert result.error_type == "Runtime.ExitError"
    assert _json(result.payload) == {"errorMessage": "exited with status 4"}

    crash_mid = (
        "import http.client, os, sys\n"
        "c = http.client.HTTPConnection(os.environ['AWS_LAMBDA_RUNTIME_API'])\n"
        "c.request('GET', '/2018-06-01/runtime/invocation/next')\n"
        "c.getresponse().read()\n"
        "print('got it', flush=True)\n"
        "sys.exit(3)\n"
    )
    with RuntimeApiEmulator([sys.executable, "-c", crash_mid]) as emulator:
        result = emulator.invoke(b"{}", timeout_s=5)
        assert emulator.process is None  # reset: the next invocation cold-starts
        assert emulator.processes[0].stdout == ["got it"]
    assert result.status == "error"
    assert result.error_type == "Runtime.ExitError"

    with RuntimeApiEmulator(
        [sys.executable, "-c", "import time; time.sleep(30)"], init_timeout_s=0.3
    ) as emulator:
        result = emulator.invoke(b"{}", timeout_s=5)
    assert result.status == "init_error"
    assert result.error_type == "Runtime.InitTimeout"


# -- the protocol, with a raw HTTP client as the runtime --
class _Runtime:
    """A hand-driven runtime: one keep-alive connection, explicit calls."""

    def __init__(self, address: str) -> None:
        self.conn = http.client.HTTPConnection(address, timeout=10)

    def call(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        self.conn.request(method, "/2018-06-01/runtime" + path, body=body, headers=headers or {})
        response = self.conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()


def _invoke_in_background(
    emulator: RuntimeApiEmulator, payload: bytes, results: list[object]
) -> threading.Thread:
    thread = threading.Thread(target=lambda: results.append(emulator.invoke(payload, timeout_s=10)))
    thread.start()
    return thread


def test_protocol_status_codes_as_aws() -> None:
    with RuntimeApiEmulator() as emulator:
        runtime = _Runtime(emulator.address)
        results: list[object] = []
        thread = _invoke_in_background(emulator, b'{"a":1}', results)
        status, headers, body = runtime.call("GET", "/invocation/next")
        assert status == 200
        assert body == b'{"a":1}'
        request_id = headers["Lambda-Runtime-Aws-Request-Id"]
        assert int(headers["Lambda-Runtime-Deadline-Ms"]) > time.time() * 1000 + 9_000
        assert headers["Lambda-Runtime-Invoked-Function-Arn"].startswith("arn:aws:lambda:")
        assert headers["Lambda-Runtime-Trace-Id"].startswith("Root=1-")

        status, _, body = runtime.call("POST", "/invocation/not-a-request/response", b"{}")
        assert status == 400
        assert json.loads(body)["errorType"] == "InvalidRequestID"
        status, _, body = runtime.call("POST", f"/invocation/{request_id}/response", b'"done"')
        assert (status, json.loads(body)) == (202, {"status": "OK"})
        status, _, body = runtime.call("POST", f"/invocation/{request_id}/error", b"{}")
        assert status == 403
        assert json.loads(body)["errorType"] == "InvalidStateTransition"
        thread.join()

        status, _, _ = runtime.call("GET", "/invocation/elsewhere")
        assert status == 404
        status, _, _ = runtime.call("POST", "/invocation/x/other", b"")
        assert status == 404
    assert len(results) == 1
    assert results[0].status == "ok"  # type: ignore[attr-defined]
    assert results[0].payload == b'"done"'  # type: ignore[attr-defined]


def test_protocol_replies_are_json_documents_as_aws_writes_them() -> None:
    with RuntimeApiEmulator() as emulator:
        runtime = _Runtime(emulator.address)
        for method, path in (("GET", "/invocation/elsewhere"), ("POST", "/invocation/x/other")):
            status, _, body = runtime.call(method, path, b"")
            assert (status, json.loads(body)) == (
                404,
                {"errorType": "NotFound", "errorMessage": "/2018-06-01/runtime" + path},
            )
        status, headers, body = runtime.call("POST", "/invocation/nope/response", b"{}")
        assert (status, json.loads(body)) == (
            400,
            {"errorType": "InvalidRequestID", "errorMessage": "Invalid request ID"},
        )
        assert {k.lower(): v for k, v in headers.items()}["content-length"] == str(len(body))

        results: list[object] = []
        thread = _invoke_in_background(emulator, b"{}", results)
        _, headers, _ = runtime.call("GET", "/invocation/next")
        assert {k.lower(): v for k, v in headers.items()}["content-type"] == "application/json"
        # The X-Ray header format: Root=1-<8 hex time>-<24 hex>;Parent=<16 hex>;Sampled=0|1
        trace = headers["Lambda-Runtime-Trace-Id"]
        assert re.fullmatch(r"Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0", trace), trace
        request_id = headers["Lambda-Runtime-Aws-Request-Id"]
        status, _, body = runtime.call("POST", f"/invocation/{request_id}/error", b"{}")
        assert (status, json.loads(body)) == (202, {"status": "OK"})
        thread.join()
        status, _, body = runtime.call("POST", f"/invocation/{request_id}/response", b"{}")
        assert (status, json.loads(body)) == (
            403,
            {"errorType": "InvalidStateTransition", "errorMessage": "Invocation already finished"},
        )
        status, _, body = runtime.call("POST", "/init/error", b"oops")  # last: it fails what follows
        assert (status, json.loads(body)) == (202, {"status": "OK"})


def test_protocol_error_types_and_oversized_response() -> None:
    with RuntimeApiEmulator() as emulator:
        runtime = _Runtime(emulator.address)
        results: list[object] = []
        for body, header in (
            (b"not json", "Custom.Header"),
            (b"{}", ""),
            (b"x" * (MAX_RESPONSE_BYTES + 1), None),
        ):
            thread = _invoke_in_background(emulator, b"{}", results)
            _, headers, _ = runtime.call("GET", "/invocation/next")
            request_id = headers["Lambda-Runtime-Aws-Request-Id"]
            if header is None:
                status, _, reply = runtime.call("POST", f"/invocation/{request_id}/response", body)
                assert status == 413
                assert json.loads(reply)["errorType"] == "RequestEntityTooLarge"
            else:
                extra = {"Lambda-Runtime-Function-Error-Type": header} if header else {}
                status, _, _ = runtime.call("POST", f"/invocation/{request_id}/error", body, extra)
                assert status == 202
            thread.join()
        status, _, _ = runtime.call(
            "POST", "/init/error", b"oops", {"Lambda-Runtime-Function-Error-Type": "Runtime.Custom"}
        )
        assert status == 202
        assert emulator.init_errors == [("Runtime.Custom", b"oops")]
    assert [(r.status, r.error_type) for r in results] == [  # type: ignore[attr-defined]
        ("error", "Custom.Header"),
        ("error", "Unhandled"),
        ("error", "Function.ResponseSizeTooLarge"),
    ]


def test_pending_next_is_released_when_the_emulator_closes() -> None:
    emulator = RuntimeApiEmulator().__enter__()
    runtime = _Runtime(emulator.address)
    replies: list[int] = []
    thread = threading.Thread(target=lambda: replies.append(runtime.call("GET", "/invocation/next")[0]))
    thread.start()
    time.sleep(0.2)
    emulator.close()
    thread.join(timeout=5)
    assert replies == [500]


# -- the command line --
def test_cli_runs_payloads_and_reports_cold_start(
    echo_function: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--timeout", "5", "--payload", '{"x":1}', echo_function]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[0]["status"] == "ok"
    assert json.loads(lines[0]["payload"])["payload"] == '{"x":1}'
    assert lines[1]["coldStartMs"] > 0

    assert main(["--timeout", "5", "--payload", "{}", "--payload", '{"fail":true}', echo_function]) == 1
    statuses = [json.loads(line).get("status") for line in capsys.readouterr().out.splitlines()]
    assert statuses == ["ok", "error", None]

    crash = [sys.executable, "-c", "import sys; print('bye', file=sys.stderr); sys.exit(1)"]
    assert main(["--timeout", "5", "--", *crash]) == 1
    captured = capsys.readouterr()
    assert json.loads(captured.out.splitlines()[0])["status"] == "init_error"
    assert "bye" in captured.err  # the function's output is echoed
    assert "coldStartMs" not in captured.out


def _exited(process: FunctionProcess) -> FunctionProcess:
    deadline = time.monotonic() + 10
    while process.alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    process.kill()  # already gone: waits for its output to be read
    return process


def test_a_function_process_output_is_read_line_by_line_and_echoed_when_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = (
        'pwd; echo "$AWS_LAMBDA_RUNTIME_API $X"; printf "bad \\377\\n"; printf "kept  \\n"; echo oops >&2'
    )
    process = FunctionProcess(["sh", "-c", script], "127.0.0.1:9", {"X": "1"}, cwd=tmp_path, echo=True)
    process.start()
    _exited(process)
    assert process.stdout == [str(tmp_path), "127.0.0.1:9 1", "bad \ufffd", "kept  "]
    assert process.stderr == ["oops"]
    assert sorted(capsys.readouterr().err.splitlines()) == sorted(
        [str(tmp_path), "127.0.0.1:9 1", "bad \ufffd", "kept  ", "oops"]
    )
    quiet = FunctionProcess(["sh", "-c", "echo hi"], "127.0.0.1:9")  # echo off by default
    quiet.start()
    assert _exited(quiet).stdout == ["hi"]
    assert capsys.readouterr().err == ""


def test_the_emulator_starts_its_function_as_lambda_would(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = 'echo "$AWS_LAMBDA_FUNCTION_NAME $AWS_LAMBDA_FUNCTION_VERSION"; pwd'
    arn = "arn:aws:lambda:us-east-1:123456789012:function:data-processor-qa"
    with RuntimeApiEmulator(
        ["sh", "-c", script], cwd=tmp_path, function_arn=arn, echo_output=True
    ) as emulator:
        process = _exited(emulator.start_process())
    assert process.stdout == ["data-processor-qa $LATEST", str(tmp_path)]
    assert "data-processor-qa $LATEST" in capsys.readouterr().err

"""The Runtime API's result bookkeeping and error helpers (local/runtime_api.py) called directly, without a
function process: the gaps a mutation run found (issue 18)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest

from local import runtime_api
from local.runtime_api import MAX_RESPONSE_BYTES, RuntimeApiEmulator, _Invocation


@pytest.fixture
def emulator() -> Iterator[RuntimeApiEmulator]:
    with RuntimeApiEmulator() as made:  # serving, so that closing it returns
        yield made


def in_flight(emulator: RuntimeApiEmulator, request_id: str = "r1") -> _Invocation:
    inv = _Invocation(request_id=request_id, payload=b"{}", trace_id="t", timeout_s=1.0)
    emulator._inflight[request_id] = inv
    return inv


def test_the_limits_and_names_are_lambdas() -> None:
    assert MAX_RESPONSE_BYTES == 6 * 1024 * 1024
    assert runtime_api.API_PREFIX == "/2018-06-01/runtime"
    assert runtime_api.DEFAULT_FUNCTION_ARN == "arn:aws:lambda:us-east-1:123456789012:function:local-function"
    assert runtime_api.INIT_TIMEOUT_S == 10.0


@pytest.mark.parametrize(
    ("body", "header", "expected"),
    [
        (b'{"errorType": "Mine", "errorMessage": "m"}', "Header", "Mine"),
        (b'{"errorType": ""}', "Header", "Header"),
        (b'{"errorType": 5}', "Header", "Header"),
        (b'{"other": "x"}', "Header", "Header"),
        (b'["errorType"]', "Header", "Header"),
        (b"not json", "Header", "Header"),
        (b"not json", "", "Unhandled"),
        (b'{"errorType": ""}', "", "Unhandled"),
    ],
)
def test_the_error_type_is_the_bodys_else_the_headers_else_unhandled(
    body: bytes, header: str, expected: str
) -> None:
    assert runtime_api._error_type(body, header) == expected


def test_an_api_error_is_lambdas_error_document() -> None:
    assert runtime_api._api_error("T", "m") == {"errorType": "T", "errorMessage": "m"}


def test_a_trace_id_has_lambdas_shape_and_the_epoch_in_hex(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime_api.time, "time", lambda: 0x65000000 + 0.9)
    trace = runtime_api._new_trace_id()
    assert re.fullmatch(r"Root=1-65000000-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0", trace)
    assert runtime_api._new_trace_id() != trace


def test_a_result_for_an_unknown_or_finished_id_is_refused(emulator: RuntimeApiEmulator) -> None:
    assert emulator._post_result("nobody", "response", b"{}", "") == (
        400,
        {"errorType": "InvalidRequestID", "errorMessage": "Invalid request ID"},
    )
    inv = in_flight(emulator)
    assert emulator._post_result("r1", "response", b'{"a": 1}', "") == (202, {"status": "OK"})
    assert (inv.status, inv.result, inv.error_type, inv.done.is_set()) == ("ok", b'{"a": 1}', None, True)
    assert emulator._post_result("r1", "error", b"{}", "") == (
        403,
        {"errorType": "InvalidStateTransition", "errorMessage": "Invocation already finished"},
    )


def test_an_error_result_takes_the_functions_error_type(emulator: RuntimeApiEmulator) -> None:
    inv = in_flight(emulator)
    assert emulator._post_result("r1", "error", b'{"errorType": "Bad"}', "Header") == (202, {"status": "OK"})
    assert (inv.status, inv.result, inv.error_type) == ("error", b'{"errorType": "Bad"}', "Bad")


def test_a_response_over_6_mb_fails_the_invocation_and_one_at_the_limit_passes(
    emulator: RuntimeApiEmulator,
) -> None:
    at_limit = in_flight(emulator, "at")
    assert emulator._post_result("at", "response", b"x" * MAX_RESPONSE_BYTES, "")[0] == 202
    assert at_limit.status == "ok"
    over = in_flight(emulator, "over")
    size = MAX_RESPONSE_BYTES + 1
    message = f"Response payload size ({size} bytes) exceeded maximum allowed payload size"
    assert emulator._post_result("over", "response", b"x" * size, "") == (
        413,
        {"errorType": "RequestEntityTooLarge", "errorMessage": message},
    )
    assert (over.status, json.loads(over.result), over.error_type) == (
        "error",
        {"errorMessage": message},
        "Function.ResponseSizeTooLarge",
    )
    big_error = in_flight(emulator, "big-error")  # the limit is the response's only
    assert emulator._post_result("big-error", "error", b"x" * size, "E")[0] == 202
    assert (big_error.status, big_error.error_type) == ("error", "E")


def test_an_init_error_is_recorded_with_its_type(emulator: RuntimeApiEmulator) -> None:
    assert emulator._post_init_error(b'{"errorType": "Init.Bad"}', "Header") == (202, {"status": "OK"})
    assert emulator._post_init_error(b"oops", "") == (202, {"status": "OK"})
    assert emulator._post_init_error(b"no type", "Runtime.Header") == (202, {"status": "OK"})
    assert emulator.init_errors == [
        ("Init.Bad", b'{"errorType": "Init.Bad"}'),
        ("Unhandled", b"oops"),
        ("Runtime.Header", b"no type"),
    ]
    assert emulator._init_error == b"no type"
    assert emulator._init_error_type() == "Runtime.Header"


def test_finishing_an_invocation_takes_it_out_of_the_queue_and_the_flight(
    emulator: RuntimeApiEmulator,
) -> None:
    queued = _Invocation(request_id="q", payload=b"", trace_id="t", timeout_s=1.0)
    emulator._queue.append(queued)
    with emulator._cond:
        emulator._finish(queued, "timeout", b"r", "Sandbox.Timedout")
    assert (list(emulator._queue), emulator._completed) == ([], {"q"})
    assert (queued.status, queued.result, queued.error_type, queued.finished_at > 0) == (
        "timeout",
        b"r",
        "Sandbox.Timedout",
        True,
    )

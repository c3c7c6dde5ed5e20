"""Conformance with AWS's own Lambda Runtime Interface Emulator (RIE, `make rie`, runner local/rie.py): the
host bootstrap and the shipped arm64 one (through qemu-aarch64) under the RIE against moto, each scenario
compared with the same event under the project's Runtime API emulator (local/runtime_api.py): a batch
with alerts, a rejected body, an init error and an event that is not an SQS event.

One RIE at a time (the tests of this module run in turn), each on free ports of its own.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest

from lib.config import ROOT
from local.function_host import RUNNERS, runner
from local.function_resources import FunctionResources, resources_on
from local.rie import RIE, RuntimeInterfaceEmulator
from local.runtime_api import InvocationResult
from tests.support.function_harness import Record, arm64_command, built, sqs_event
from tests.support.moto_server import moto_server

HOST_BOOTSTRAP = ROOT / "build" / "cpp" / "src" / "bootstrap"  # make host-bootstrap
TIMEOUT_S = 60.0


@pytest.fixture(scope="module", params=["host", "arm64"])
def command(request: pytest.FixtureRequest) -> list[str]:
    """The function process: the host build, or the arm64 build under qemu-aarch64 (the x86-64 RIE execs
    it through its wrapper; the arm64 RIE under qemu could not exec an arm64 child here)."""
    built(RIE, "rie")
    if request.param == "host":
        return [str(built(HOST_BOOTSTRAP, "host-bootstrap"))]
    return arm64_command()


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with moto_server() as url:
        yield url


def run(
    runner_name: str,
    command: Sequence[str],
    endpoint: str,
    events: Sequence[bytes],
    env: Mapping[str, str | None] | None = None,
) -> tuple[list[InvocationResult], FunctionResources]:
    """The events invoked in turn under the runner `runner_name`, on resources of their own; `env`
    overrides the function's environment (a None value removes the setting)."""
    resources = resources_on(endpoint, uuid.uuid4().hex[:8])
    overridden = {**resources.function_env(), **(env or {})}
    function_env = {k: v for k, v in overridden.items() if v is not None}
    with runner(command, function_env, runner_name) as emulator:
        return [emulator.invoke(event, TIMEOUT_S) for event in events], resources


def tick(symbol: str, price: float, ts: str) -> str:
    return json.dumps({"symbol": symbol, "price": price, "timestamp": ts})


def outcome(result: InvocationResult) -> tuple[str, str | None, object]:
    return result.status, result.error_type, json.loads(result.payload)


def test_a_batch_with_alerts_stores_and_publishes_them(command: list[str], endpoint: str) -> None:
    event = sqs_event(
        [
            Record(tick("AAPL", 199.0, "2026-11-25T14:30:00Z")),
            Record(tick("AAPL", 201.0, "2026-11-25T14:30:01Z")),
            Record(tick("MSFT", 451.0, "2026-11-25T14:30:01Z")),
        ]
    )
    [result], resources = run("rie", command, endpoint, [event])
    assert outcome(result) == ("ok", None, {"batchItemFailures": []})
    alerts = {(a["symbol"], a["timestamp"]): a for a in resources.alerts()}
    assert set(alerts) == {
        ("AAPL", "2026-11-25T14:30:01.000000Z#aapl-breakout-200"),
        ("MSFT", "2026-11-25T14:30:01.000000Z#msft-above-450"),
    }
    assert {a["notification_state"] for a in alerts.values()} == {"sent"}
    published = {n["Message"]["alert_id"] for n in resources.notifications()}
    assert published == {a["alert_id"] for a in alerts.values()}
    assert resources.dead_letters() == []


def test_a_rejected_body_goes_to_the_dlq_with_its_reason_as_under_the_emulator(
    command: list[str], endpoint: str
) -> None:
    rejected = Record("{not json")
    event = sqs_event([rejected, Record(tick("MSFT", 420.0, "2026-11-25T14:30:00Z"))])
    reasons = {}
    for name in RUNNERS:
        [result], resources = run(name, command, endpoint, [event])
        assert outcome(result) == ("ok", None, {"batchItemFailures": []}), name  # acknowledged
        [dead] = resources.dead_letters()
        assert dead["Body"] == "{not json"
        assert dead["MessageAttributes"]["SourceMessageId"]["StringValue"] == rejected.message_id
        reasons[name] = dead["MessageAttributes"]["RejectionReason"]["StringValue"]
    assert "json" in reasons["rie"].lower()
    assert reasons["rie"] == reasons["runtime-api"]


def test_an_init_error_is_reported_by_the_rie_as_by_the_emulator(command: list[str], endpoint: str) -> None:
    event = sqs_event([Record(tick("AAPL", 201.0, "2026-11-25T14:30:01Z"))])
    outcomes = {}
    for name in RUNNERS:
        [result], resources = run(name, command, endpoint, [event], {"TOPIC_ARN": None})
        outcomes[name] = outcome(result)
        assert resources.alerts() == []
    status, error_type, payload = outcomes["rie"]
    assert (status, error_type) == ("init_error", "Runtime.InvalidConfiguration")
    assert isinstance(payload, dict)
    assert "TOPIC_ARN" in payload["errorMessage"]
    assert outcomes["rie"] == outcomes["runtime-api"]


def test_an_event_that_is_not_sqs_fails_the_invocation_as_under_the_emulator(
    command: list[str], endpoint: str
) -> None:
    events = [b'{"Records": 5}', b'{"detail-type": "Scheduled Event"}', sqs_event([])]
    outcomes = {name: [outcome(r) for r in run(name, command, endpoint, events)[0]] for name in RUNNERS}
    assert [(status, error_type) for status, error_type, _ in outcomes["rie"]] == [
        ("error", "InvalidEvent"),
        ("error", "InvalidEvent"),
        ("ok", None),  # still serving
    ]
    assert outcomes["rie"] == outcomes["runtime-api"]


def test_a_rie_that_does_not_come_up_fails_at_once() -> None:
    with pytest.raises(RuntimeError, match="did not listen"):
        RuntimeInterfaceEmulator(["true"], rie=Path("/bin/false")).__enter__()

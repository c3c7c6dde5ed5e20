"""Hostile input (issue 9 part 3, F2/F7): the real host bootstrap behind the Runtime API emulator, on
moto. Every corpus body goes out in a batch beside a good neighbour message; per case: the invocation
succeeds in bounded time, the same process keeps serving, the bad body is dead-lettered with exactly its
reason (RejectionReason), the good ticks of the same body and of the neighbour are stored and notified."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from local.function_host import LocalFunction
from tests.chaos.hostile import (
    BodyCase,
    EventCase,
    alert_id,
    body_cases,
    event_cases,
    file_cases,
    firing_tick,
)
from tests.support.function_harness import Record, running_function, sqs_event

BODY_CASES = body_cases()
BOUND_S = 10.0  # far above a healthy invocation (tens of ms); a hang hits the emulator's timeout first
TIMEOUT_S = 20.0


@pytest.fixture(scope="module")
def function() -> Iterator[LocalFunction]:
    with running_function() as f:
        yield f
        # One process served the whole corpus: nothing crashed it.
        assert len(f.emulator.processes) == 1
        assert f.emulator.processes[0].alive()
        assert not [line for line in f.emulator.processes[0].stderr if line.strip()]


@pytest.fixture(autouse=True)
def _empty_queues(function: LocalFunction) -> None:
    """Each test starts with an empty DLQ and notification queue (a failed test leaves messages behind)."""
    function.resources.dead_letters()
    function.resources.notifications()


def _neighbour(index: int) -> tuple[Record, str]:
    symbol = f"N{index:04d}"
    return Record(body=json.dumps(firing_tick(symbol))), alert_id(symbol)


def _invoke(function: LocalFunction, records: list[Record]) -> dict[str, Any]:
    started = time.monotonic()
    result = function.invoke(sqs_event(records), TIMEOUT_S)
    elapsed = time.monotonic() - started
    assert elapsed < BOUND_S, f"invocation took {elapsed:.1f} s"
    assert result.status == "ok", result.payload
    response: dict[str, Any] = json.loads(result.payload)
    return response


def _stored_ids(function: LocalFunction) -> set[str]:
    return {item["alert_id"] for item in function.resources.alerts()}


def test_corpus_is_large_and_named_uniquely() -> None:
    names = [c.name for c in BODY_CASES] + [c.name for c in event_cases()]
    assert len(names) == len(set(names))
    assert len(file_cases()) >= 60
    assert len(names) >= 80


@pytest.mark.parametrize("case", BODY_CASES, ids=[c.name for c in BODY_CASES])
def test_hostile_body_next_to_a_good_message(function: LocalFunction, case: BodyCase) -> None:
    index = BODY_CASES.index(case)
    record = Record(body=case.body)
    neighbour, neighbour_alert = _neighbour(index)
    before = _stored_ids(function)

    response = _invoke(function, [record, neighbour])

    # Bad input is never a transient failure: nothing goes back to the queue.
    assert response == {"batchItemFailures": []}
    dead = function.resources.dead_letters()
    if case.reason is None:
        assert dead == []
    else:
        assert len(dead) == 1
        attributes = {k: v["StringValue"] for k, v in dead[0]["MessageAttributes"].items()}
        assert attributes["SourceMessageId"] == record.message_id
        assert attributes["RejectionReason"] == case.reason
        assert dead[0]["Body"] == case.body  # the original body, byte for byte
    new = _stored_ids(function) - before
    assert new == {*case.alerts, neighbour_alert}
    notified = [n["Message"]["alert_id"] for n in function.resources.notifications()]
    assert sorted(notified) == sorted(new)


def test_batch_of_25_bad_records(function: LocalFunction) -> None:
    """A full batch where every record is bad: all 25 dead-lettered with their own reasons, none retried."""
    bad = [c for c in file_cases() if c.reason is not None and not c.alerts][:25]
    assert len(bad) == 25
    records = [Record(body=c.body) for c in bad]
    before = _stored_ids(function)

    assert _invoke(function, records) == {"batchItemFailures": []}

    dead = function.resources.dead_letters()
    reasons = {
        m["MessageAttributes"]["SourceMessageId"]["StringValue"]: m["MessageAttributes"]["RejectionReason"][
            "StringValue"
        ]
        for m in dead
    }
    assert reasons == {r.message_id: c.reason for r, c in zip(records, bad, strict=True)}
    assert _stored_ids(function) == before
    assert function.resources.notifications() == []


def test_every_case_in_full_batches(function: LocalFunction) -> None:
    """The whole corpus again, 25 records per invocation, redelivered (receive count 2): rejections are
    independent of their neighbours; alerts the per-case run stored already are neither stored nor notified
    again (the redelivery checks their notification state and finds them sent)."""
    cases = list(BODY_CASES)
    before = _stored_ids(function)
    expected_dead: dict[str, str] = {}
    for start in range(0, len(cases), 25):
        chunk = cases[start : start + 25]
        records = [Record(body=c.body, receive_count=2) for c in chunk]
        assert _invoke(function, records) == {"batchItemFailures": []}
        expected_dead.update(
            {r.message_id: c.reason for r, c in zip(records, chunk, strict=True) if c.reason}
        )
    dead = function.resources.dead_letters()
    assert {
        m["MessageAttributes"]["SourceMessageId"]["StringValue"]: m["MessageAttributes"]["RejectionReason"][
            "StringValue"
        ]
        for m in dead
    } == expected_dead
    corpus_alerts = {a for c in cases for a in c.alerts}
    after = _stored_ids(function)
    assert after == before | corpus_alerts
    notified = [n["Message"]["alert_id"] for n in function.resources.notifications()]
    assert sorted(notified) == sorted(after - before)


@pytest.mark.parametrize("case", event_cases(), ids=[c.name for c in event_cases()])
def test_bytes_sqs_refuses(function: LocalFunction, case: EventCase) -> None:
    """SQS refuses these bodies upstream (SendMessage fails: InvalidMessageContents), so a deployed function
    never sees them. Fed anyway: the function stays up and answers in bounded time; a body the event cannot
    decode is dead-lettered alone, as its escaped text (F2), beside a neighbour that fires."""
    record = Record(raw_body_json=case.literal)
    neighbour, neighbour_alert = _neighbour(5000 + event_cases().index(case))
    pid = function.emulator.processes[-1].pid
    started = time.monotonic()
    result = function.invoke(sqs_event([record, neighbour]), TIMEOUT_S)
    assert time.monotonic() - started < BOUND_S
    if case.reason is None:
        # Not valid JSON at the event level (RFC 8259 requires UTF-8; a lone surrogate is no character): no
        # message id can be trusted, so the invocation fails and Lambda retries the batch, then redrives it.
        assert result.status == "error"
        assert result.error_type == "InvalidEvent"
        assert function.resources.dead_letters() == []
    else:
        assert result.status == "ok"
        assert json.loads(result.payload) == {"batchItemFailures": []}
        dead = function.resources.dead_letters()
        assert [m["MessageAttributes"]["RejectionReason"]["StringValue"] for m in dead] == [case.reason]
        assert [m["Body"] for m in dead] == [case.dead_letter_body]
        assert neighbour_alert in _stored_ids(function)
        function.resources.notifications()
    assert function.emulator.processes[-1].pid == pid
    assert function.emulator.processes[-1].alive()
    # The same process goes on serving good input.
    good, good_alert = _neighbour(6000 + event_cases().index(case))
    assert _invoke(function, [good]) == {"batchItemFailures": []}
    assert good_alert in _stored_ids(function)
    function.resources.notifications()


def test_hostile_bodies_around_a_crossing_sequence(function: LocalFunction) -> None:
    """Crossing rules keep state across batches (compare-and-swap writes): hostile neighbours in the same
    batches change nothing in what they fire."""
    bad = [c.body for c in file_cases() if c.reason is not None and not c.alerts]

    def tick(price: float, second: int) -> Record:
        return Record(
            body=json.dumps({"symbol": "AAPL", "price": price, "timestamp": f"2026-11-25T15:00:0{second}Z"})
        )

    before = _stored_ids(function)
    batches = [
        [Record(body=bad[0]), tick(199.0, 0), Record(body=bad[1])],
        [Record(body=bad[2]), tick(201.0, 1), Record(body=bad[3]), Record(body=bad[4])],
        [tick(179.0, 2), Record(body=bad[5])],
    ]
    for records in batches:
        assert _invoke(function, records) == {"batchItemFailures": []}
    expected = {
        "AAPL|2026-11-25T15:00:01.000000Z#aapl-breakout-200",
        "AAPL|2026-11-25T15:00:02.000000Z#aapl-breakdown-180",
    }
    assert _stored_ids(function) - before == expected
    assert sorted(n["Message"]["alert_id"] for n in function.resources.notifications()) == sorted(expected)
    assert len(function.resources.dead_letters()) == 6

"""Black box over HTTP (issue 16): concurrent requests through the local front to the real API function,
up to PARALLEL execution environments at once. The owner's quota holds under parallel creates (exactly
QUOTA rules stored), an Idempotency-Key makes retries -- sequential or parallel -- one rule with one
answer, and parallel PATCHes naming one revision make exactly one change (no lost update)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.api.conftest import api_system

QUOTA = 3
PARALLEL = 10
DEFINITION = {"symbol": "AAPL", "condition": "price_above", "threshold": 200, "severity": "info"}


@pytest.fixture(scope="module")
def api() -> Iterator[Any]:
    """The module's own API system: a quota small enough to reach."""
    with api_system(settings={"RULE_QUOTA": str(QUOTA)}) as system:
        yield system


def in_parallel(calls: Sequence[Callable[[], Any]]) -> list[Any]:
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(lambda call: call(), calls))


def create(trader: Any, name: str, headers: dict[str, str] | None = None) -> Callable[[], Any]:
    return lambda: trader.request("POST", "/rules", body={**DEFINITION, "name": name}, headers=headers)


def names_of(trader: Any) -> list[str]:
    reply = trader.request("GET", "/rules")
    assert reply.status == 200, reply
    return sorted(rule["name"] for rule in reply.json["rules"])


def statuses(replies: Sequence[Any]) -> list[tuple[int, str | None]]:
    return sorted((r.status, r.json.get("type")) for r in replies)


def test_parallel_creates_from_zero_store_exactly_the_quota(client: Callable[..., Any]) -> None:
    trader = client("quota-from-zero")
    replies = in_parallel([create(trader, f"r{i}") for i in range(PARALLEL)])
    assert statuses(replies) == [(201, None)] * QUOTA + [(409, "quota-exceeded")] * (PARALLEL - QUOTA)
    assert names_of(trader) == sorted(r.json["rule"]["name"] for r in replies if r.status == 201)


def test_parallel_creates_one_below_the_quota_store_exactly_one(client: Callable[..., Any]) -> None:
    trader = client("quota-one-left")
    for i in range(QUOTA - 1):
        assert create(trader, f"before{i}")().status == 201
    replies = in_parallel([create(trader, f"r{i}") for i in range(PARALLEL)])
    assert statuses(replies) == [(201, None)] + [(409, "quota-exceeded")] * (PARALLEL - 1)
    winner = next(r.json["rule"]["name"] for r in replies if r.status == 201)
    assert names_of(trader) == sorted([*(f"before{i}" for i in range(QUOTA - 1)), winner])


def test_sequential_retries_with_an_idempotency_key_answer_the_first_answer(
    client: Callable[..., Any],
) -> None:
    trader = client("idempotent-sequential")
    first, *retries = [create(trader, "once", {"Idempotency-Key": "seq-1"})() for _ in range(3)]
    assert first.status == 201, first
    assert "idempotent-replayed" not in first.headers
    for retry in retries:
        assert (retry.status, retry.json) == (201, first.json)
        assert retry.headers["idempotent-replayed"] == "true"
        assert retry.headers["etag"] == first.headers["etag"]
        assert retry.headers["location"] == first.headers["location"]
    assert names_of(trader) == ["once"]


def test_parallel_retries_with_an_idempotency_key_make_one_rule_with_one_answer(
    client: Callable[..., Any],
) -> None:
    """A duplicate while the first is in flight is 409 `request-in-flight` (docs/openapi.yaml); retried
    once the first is done, it answers the first's answer."""
    trader = client("idempotent-parallel")
    call = create(trader, "once", {"Idempotency-Key": "par-1"})
    replies = in_parallel([call] * PARALLEL)
    assert {(r.status, r.json.get("type")) for r in replies} <= {(201, None), (409, "request-in-flight")}
    answers = [r for r in replies if r.status == 201]
    originals = [r for r in answers if "idempotent-replayed" not in r.headers]
    assert len(originals) == 1
    answers += [retry_until_answered(call) for reply in replies if reply.status == 409]
    assert all(r.json == originals[0].json for r in answers)
    assert len(answers) == PARALLEL
    assert names_of(trader) == ["once"]


def retry_until_answered(call: Callable[[], Any], timeout_s: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        reply = call()
        if reply.status != 409 or time.monotonic() > deadline:
            return reply
        time.sleep(0.05)


def test_parallel_patches_of_one_revision_make_exactly_one_change(client: Callable[..., Any]) -> None:
    trader = client("concurrent-editor")
    created = create(trader, "edited")()
    assert created.status == 201, created
    path = created.headers["location"]
    etag = created.headers["etag"]
    thresholds = [300 + i for i in range(PARALLEL)]

    def patch(threshold: int) -> Callable[[], Any]:
        return lambda: trader.request(
            "PATCH", path, body={"threshold": threshold}, headers={"If-Match": etag}
        )

    replies = in_parallel([patch(t) for t in thresholds])
    assert statuses(replies) == [(200, None)] + [(412, "precondition-failed")] * (PARALLEL - 1)
    winner = next(r for r in replies if r.status == 200).json["rule"]
    after = trader.request("GET", path)
    assert after.status == 200
    assert (after.json["revision"], after.json["threshold"]) == (2, winner["threshold"])
    assert after.json == winner
    assert after.headers["etag"] == '"2"'
    versions = trader.request("GET", f"{path}/versions").json["versions"]
    assert [v["threshold"] for v in versions] == [200, winner["threshold"]]

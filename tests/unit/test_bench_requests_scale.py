"""bench/requests_scale.py, its pure parts (fast): the rule sets and batches say what the measured run
claims of them (the same 4 alerts at every size, every burst rule holding), and the bookkeeping."""

from __future__ import annotations

import collections
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bench.requests_scale import (
    ALERT_SYMBOLS,
    BATCH_MESSAGES,
    BURST_PRICE,
    BURST_RULES,
    BURST_SYMBOL,
    RULE_SIZES,
    SYMBOLS,
    Batch,
    alert_bodies,
    all_once,
    burst_rules,
    merge_burst_case,
    merge_results,
    problem_lines,
    quiet_bodies,
    quiet_identical,
    request_delta,
    rules_document,
    scale_rules,
)

START = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def holds(rule: dict[str, Any], price: float) -> bool:
    return {
        "price_above": price > rule["threshold"],
        "price_below": price < rule["threshold"],
    }.get(rule["condition"], False)


def firing(rules: list[dict[str, Any]], bodies: list[str]) -> set[tuple[str, str]]:
    """(rule id, tick timestamp) of the level rules that hold at a tick of the batch; fails on a crossing
    rule whose threshold lies within the batch's price range (it could fire)."""
    ticks = [json.loads(b) for b in bodies]
    prices = [t["price"] for t in ticks]
    fired = set()
    for rule in rules:
        if rule["condition"].startswith("crosses_"):
            assert not min(prices) <= rule["threshold"] <= max(prices), rule
            continue
        for t in ticks:
            if rule["symbol"] in ("*", t["symbol"]) and holds(rule, t["price"]):
                fired.add((rule["id"], t["timestamp"]))
    return fired


@pytest.mark.parametrize("size", RULE_SIZES)
def test_every_size_fires_the_same_four_alerts_and_nothing_when_quiet(size: int) -> None:
    rules = scale_rules(size)
    assert len(rules) == size
    assert len({r["id"] for r in rules}) == size
    assert {r["symbol"] for r in rules} <= {*SYMBOLS, "*"}
    assert firing(rules, quiet_bodies(START)) == set()
    alerts = firing(rules, alert_bodies(START))
    assert sorted(rule for rule, _ in alerts) == [f"alert-{s}" for s in ALERT_SYMBOLS]


def test_batches_have_25_messages_on_the_five_symbols() -> None:
    for bodies in (quiet_bodies(START), alert_bodies(START)):
        assert len(bodies) == BATCH_MESSAGES
        assert {json.loads(b)["symbol"] for b in bodies} == set(SYMBOLS)
        stamps = [json.loads(b)["timestamp"] for b in bodies]
        assert len(set(stamps)) == len(stamps)


def test_every_burst_rule_holds_at_the_burst_tick() -> None:
    rules = burst_rules()
    assert len({r["id"] for r in rules}) == BURST_RULES
    assert all(r["symbol"] == BURST_SYMBOL and holds(r, BURST_PRICE) for r in rules)


def test_rules_document_shape() -> None:
    doc = rules_document(scale_rules(10), cooldown_s=5)
    assert doc["version"] == 1
    assert doc["default_cooldown_seconds"] == 5
    assert len(doc["rules"]) == 10


def test_a_redelivery_is_the_same_messages_with_a_higher_receive_count() -> None:
    batch = Batch.of(quiet_bodies(START), "q")
    first, again = (json.loads(batch.event(n))["Records"] for n in (1, 2))
    assert [r["messageId"] for r in first] == [r["messageId"] for r in again]
    assert [r["body"] for r in first] == [r["body"] for r in again] == list(batch.bodies)
    assert {r["attributes"]["ApproximateReceiveCount"] for r in again} == {"2"}


def test_request_delta_counts_only_the_new_requests() -> None:
    before = collections.Counter({("dynamodb", "BatchGetItem"): 2, ("sns", "Publish"): 1})
    after = before + collections.Counter(
        {("dynamodb", "BatchGetItem"): 1, ("dynamodb", "TransactWriteItems"): 3}
    )
    assert request_delta(before, after) == {"dynamodb:BatchGetItem": 1, "dynamodb:TransactWriteItems": 3}


def entry(*per_size: dict[str, int]) -> dict[str, Any]:
    return {
        "sizes": {str(i): {"batches": {"quiet": {"dynamodb_requests": r}}} for i, r in enumerate(per_size)}
    }


def test_quiet_identical() -> None:
    same = {"dynamodb:BatchGetItem": 1, "dynamodb:TransactWriteItems": 5}
    assert quiet_identical(entry(same, dict(same)))
    assert not quiet_identical(entry(same, {**same, "dynamodb:Query": 1}))


def test_merge_results_keeps_the_other_keys(tmp_path: Path) -> None:
    path = tmp_path / "latest.json"
    path.write_text(json.dumps({"rules_scale": {"x": 1}, "burst": {"old": True}}), encoding="utf-8")
    merge_results({"burst": {"new": True}}, path)
    assert json.loads(path.read_text(encoding="utf-8")) == {"rules_scale": {"x": 1}, "burst": {"new": True}}
    fresh = tmp_path / "fresh.json"
    merge_results({"requests_scale": {}}, fresh)
    assert json.loads(fresh.read_text(encoding="utf-8")) == {"requests_scale": {}}


def test_all_once() -> None:
    ids = {"a", "b"}
    assert all_once(collections.Counter({"a": 1, "b": 1}), ids, at_least=False)
    assert not all_once(collections.Counter({"a": 2, "b": 1}), ids, at_least=False)
    assert all_once(collections.Counter({"a": 2, "b": 1}), ids, at_least=True)
    assert not all_once(collections.Counter({"a": 1}), ids, at_least=True)
    assert not all_once(collections.Counter({"a": 1, "b": 1, "c": 1}), ids, at_least=True)


def test_problem_lines_keeps_warnings_and_errors_only() -> None:
    lines = ['{"level":"INFO","msg":"a"}', '{"level":"WARN","msg":"b"}', '{"level":"ERROR","msg":"c"}', "x"]
    assert problem_lines(lines) == lines[1:3]
    assert problem_lines(lines[1:3] * 3, keep=2) == [*lines[1:3], "... 4 more"]


def test_burst_cases_of_separate_runs_add_up(tmp_path: Path) -> None:
    path = tmp_path / "latest.json"
    path.write_text(json.dumps({"requests_scale": {"x": 1}}), encoding="utf-8")
    merge_burst_case({"case": "clean", "rules": 10_000, "n": 1}, path)
    merge_burst_case({"case": "killed", "rules": 2_000, "kill_at_commit": 7, "n": 2}, path)
    merge_burst_case({"case": "clean", "rules": 10_000, "n": 3}, path)
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc["requests_scale"] == {"x": 1}
    assert doc["burst"]["symbol"] == BURST_SYMBOL
    assert "moto" in doc["burst"]["moto_limit"]
    assert doc["burst"]["cases"] == {
        "clean-10000": {"case": "clean", "rules": 10_000, "n": 3},
        "killed-2000-at-commit-7": {"case": "killed", "rules": 2_000, "kill_at_commit": 7, "n": 2},
    }

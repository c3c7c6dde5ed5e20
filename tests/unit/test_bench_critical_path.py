"""bench/critical_path.py's report from recorded live runs (synthetic spans, no processes): the graphs per
batch kind, the replays side by side with the live cross-check, the issue's targets, capacity, cost and the
README's tables."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bench import cost_model
from bench.aws_model import Exceeded
from bench.critical_path import (
    CYCLE,
    KINDS,
    VARIANTS,
    Invocation,
    Recorded,
    alert25_batch,
    kind_of,
    report,
    text,
)
from local.fault_proxy import Span

GET, PUT, TX = "dynamodb/BatchGetItem", "dynamodb/PutItem", "dynamodb/TransactWriteItems"
PUB, MARK = "sns/PublishBatch", "dynamodb/UpdateItem"
# Per kind, the calls in stages: a stage's calls overlap, each stage waits for the one before.
CONCURRENT = {
    "quiet": [[GET], [PUT, PUT]],
    "alerts_4": [[GET], [TX, TX, TX, TX], [PUB], [MARK, MARK, MARK, MARK]],
    "alerts_25": [[GET], [TX] * 25, [PUB] * 3, [MARK] * 25],
}
THREADED = {
    "quiet": [[GET], [PUT], [PUT]],
    "alerts_4": [[GET], [TX, TX], [TX, TX], [PUB, PUB], [PUB, PUB], [MARK, MARK, MARK, MARK]],
    "alerts_25": [[GET], *[[TX] * 5] * 5, *[[PUB] * 5] * 5, *[[MARK] * 5] * 5],
}


def sequential(stages: list[list[str]]) -> list[list[str]]:
    return [[c] for stage in stages for c in stage]


def recorded(stages_of: dict[str, list[list[str]]], live_ms: float, repeat: int = 2) -> Recorded:
    """`repeat` cycles of the batch kinds, 1 s apart; each stage 10 ms; the first quiet invocation also
    refreshes its rules (a Query first): another graph, reported apart."""
    invocations, spans = [], []
    for i in range(repeat * len(CYCLE)):
        kind = kind_of(i)
        start = float(i)
        stages = ([["dynamodb/Query"]] if i == 1 else []) + stages_of[kind]
        for s, stage in enumerate(stages):
            for call in stage:
                service, operation = call.split("/")
                spans.append(Span(service, operation, start + 0.01 * s + 0.0001, start + 0.01 * (s + 1)))
        invocations.append(Invocation(kind, start, start + live_ms / 1000, 2.0))
    spans.append(Span("sqs", "SendMessage", 100.0, 100.1))  # outside every invocation: not counted
    return Recorded(invocations, spans, {"dynamodb/PutItem": Exceeded(100, 0, 0)})


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    runs = {
        "cpp": recorded(CONCURRENT, 60.0),
        "python_sequential": recorded({k: sequential(v) for k, v in CONCURRENT.items()}, 500.0),
        "python_threaded": recorded(THREADED, 150.0),
    }
    return report(runs, seed=17, workload=cost_model.Workload(9, 0.01, 4, 4), crossing_keys=4, replays=2000)


def test_each_kind_replays_its_modal_graph_and_reports_the_others_apart(doc: dict[str, Any]) -> None:
    cpp = doc["batches"]["cpp"]
    assert cpp["quiet"]["calls"] == 3
    assert cpp["quiet"]["graph"] == "0:dynamodb/BatchGetItem; 1:dynamodb/PutItem<-0; 2:dynamodb/PutItem<-0"
    assert (
        cpp["quiet"]["invocations"],
        cpp["quiet"]["with_these_calls"],
        cpp["quiet"]["with_this_graph"],
    ) == (
        8,
        7,
        7,
    )
    assert cpp["quiet"]["other_graphs"] == {"invocations": 1, "extra_calls": {"dynamodb/Query": 1}}
    assert cpp["alerts_4"]["chain"] == "BatchGetItem -> TransactWriteItems -> PublishBatch -> UpdateItem"
    assert cpp["alerts_4"]["cpu_ms"] == 2.0
    # the sequential baseline is its calls in one chain
    assert doc["batches"]["python_sequential"]["alerts_4"]["chain"] == (
        "BatchGetItem -> TransactWriteItems x4 -> PublishBatch -> UpdateItem x4"
    )


def test_the_replay_is_checked_against_the_live_run(doc: dict[str, Any]) -> None:
    live = doc["batches"]["cpp"]["alerts_4"]["live"]
    assert live["p50_ms"] == pytest.approx(60.0)
    assert live["within_15_percent"] is (abs(live["replay_vs_live"]) <= 0.15)
    assert live["counts"] is True  # the proxy's exceed share was 0


def test_the_targets_compare_cpp_with_its_floors_and_both_baselines(doc: dict[str, Any]) -> None:
    t = doc["targets"]
    assert t["quiet"]["k_parallel_writes"] == 2  # the state commits (puts, updates or transactions)
    assert t["quiet"]["bound_ms"] == pytest.approx(t["quiet"]["slowest_of_k_p50_ms"] + 3)
    assert t["quiet"]["slowest_of_k_p50_ms"] > 7.6  # the slower of two writes
    four = t["alerts_4"]
    assert four["chain"] == "BatchGetItem -> TransactWriteItems -> PublishBatch -> UpdateItem"
    assert four["bound_ms"] == pytest.approx(four["chain_p50_ms"] + 5)
    p50 = four["p50_ms"]
    assert p50["python_sequential"] > p50["python_threaded"] > p50["cpp"]
    assert four["sequential_over_cpp"] == pytest.approx(p50["python_sequential"] / p50["cpp"])
    assert four["met_3x_below_sequential"] is (four["sequential_over_cpp"] >= 3)
    assert four["met_0_8x_threaded"] is (four["cpp_over_threaded"] <= 0.8)
    assert t["alerts_25"]["met_3x_below_sequential"] is True


def test_capacity_and_tick_to_notification_per_event_source(doc: dict[str, Any]) -> None:
    cap = doc["capacity"]["cpp"]
    assert [r["ticks_per_message"] for r in cap["table"]] == [1, 10, 100]
    per_unit = [r["ticks_per_second_per_unit"] for r in cap["table"]]
    assert per_unit == sorted(per_unit)  # fuller messages, more ticks per batch
    assert cap["cpu_ms_per_tick"] == pytest.approx(2.0 / 25)
    latency = cap["tick_to_notification"]
    assert latency["low_latency"]["batch_size"] == 10
    assert latency["default"]["p50_ms"] == pytest.approx(latency["low_latency"]["p50_ms"] + 1000, rel=0.05)
    assert doc["capacity"]["python_sequential"]["alerts_per_second"] < cap["alerts_per_second"]


def test_the_cost_per_million_alerts_and_ticks(doc: dict[str, Any]) -> None:
    cost = doc["cost"]
    alerts = cost["per_million_alerts"]
    assert alerts["alerts_per_publish_request"] == pytest.approx(25 / 3)
    assert set(alerts["breakdown"]) == {
        "write_units_by_item",
        "index_writes",
        "mark",
        "publish",
        "lambda_time",
    }
    ticks = cost["per_million_ticks"]
    assert ticks["ticks_per_message"] == 100
    feed = ticks["benchmark_feed"]
    assert feed["target"] == 0.02
    assert feed["state_writes_per_batch"] == 4
    assert feed["alerts"] == pytest.approx(0.01 * alerts["total"])  # 10,000 alerts per million ticks
    assert feed["total"] == pytest.approx(feed["ticks_alone"]["total"] + feed["alerts"])
    assert feed["met"] is (feed["total"] <= 0.02)
    assert feed["met_without_alerts"] is (feed["ticks_alone"]["total"] <= 0.02)
    assert ticks["zipf_10000"]["state_writes_per_batch"] > 4
    assert ticks["zipf_10000"]["total"] > feed["total"]
    json.dumps(doc)  # the result file takes it as it is


def test_the_readme_tables_name_every_variant_kind_and_setting(doc: dict[str, Any]) -> None:
    tables = text(doc)
    for word in (*KINDS, "C++", "Python sequential", "Python threaded", "low_latency (batch 10, window 0 s)"):
        assert word in tables
    assert len(VARIANTS) == 3


def test_the_25_alert_batch_is_25_block_trades_on_25_symbols() -> None:
    ticks = [json.loads(b) for b in alert25_batch(2)]
    assert len({t["symbol"] for t in ticks}) == 25
    assert all(t["volume"] > 100_000 for t in ticks)
    assert ticks[0]["timestamp"] == "2026-11-25T14:40:00.000Z"

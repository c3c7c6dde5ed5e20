"""bench/capacity.py and the issue 17 additions to bench/cost_model.py: ticks per second at full batches,
alerts per second, tick-to-notification per event source setting, cost per million alerts, the Zipf feed's
distinct symbols. Pure, exact where the arithmetic is."""

from __future__ import annotations

import numpy as np
import pytest

from bench import capacity, cost_model
from bench.aws_model import TABLE, Assumption

FIXED = tuple(Assumption(r.name, r.p50_ms, r.p50_ms, r.source, r.requests) for r in TABLE)


def test_a_batch_is_its_calls_plus_its_cpu_per_tick() -> None:
    assert capacity.batch_ms(40.0, 0.01, 2500) == pytest.approx(65.0)
    for bad in ((-1.0, 0.0, 1), (1.0, -0.1, 1), (1.0, 0.0, 0)):
        with pytest.raises(ValueError, match="expected"):
            capacity.batch_ms(*bad)


def test_ticks_per_second_per_unit_and_at_the_reserved_concurrency() -> None:
    # 25 messages of 1, 10, 100 ticks; 40 ms of calls and 0.01 ms per tick
    table = capacity.capacity_table(40.0, 0.01, batch_size=25)
    assert [r["ticks_per_message"] for r in table] == [1, 10, 100]
    assert [r["batch_ms"] for r in table] == pytest.approx([40.25, 42.5, 65.0])
    assert table[2]["ticks_per_second_per_unit"] == pytest.approx(2500 / 0.065)
    assert table[2]["ticks_per_second"] == pytest.approx(5 * 2500 / 0.065)
    assert {r["concurrency"] for r in table} == {capacity.RESERVED_CONCURRENCY} == {5}
    assert capacity.ticks_per_second_per_unit(50.0, 0.0, 1, 10) == pytest.approx(200.0)


def test_alerts_per_second_at_the_reserved_concurrency() -> None:
    assert capacity.alerts_per_second(25, 250.0) == pytest.approx(500.0)
    assert capacity.alerts_per_second(25, 250.0, concurrency=1) == pytest.approx(100.0)
    for bad in ((-1, 1.0), (1, 0.0)):
        with pytest.raises(ValueError, match="expected"):
            capacity.alerts_per_second(*bad)


def test_tick_to_notification_adds_send_delivery_the_whole_window_the_publish_and_the_cpu() -> None:
    published = np.array([50.0, 60.0])
    default = capacity.Delivery("default", 25, 1)
    low = capacity.Delivery("low_latency", 10, 0)
    # send 10 + delivery 16 (the rows' p50s) + window + publish + CPU 2
    assert capacity.tick_to_notification_ms(published, 2.0, default, 1, FIXED).tolist() == pytest.approx(
        [1078.0, 1088.0]
    )
    assert capacity.tick_to_notification_ms(published, 2.0, low, 1, FIXED).tolist() == pytest.approx(
        [78.0, 88.0]
    )
    real = capacity.tick_to_notification_ms(np.full(10_000, 50.0), 0.0, low, 5)
    assert np.array_equal(
        real, capacity.tick_to_notification_ms(np.full(10_000, 50.0), 0.0, low, 5)
    )  # seeded
    shares = capacity.percentiles(real)
    assert 50 + 16 + 10 < shares["p50_ms"] < shares["p99_ms"]
    assert capacity.percentiles(np.array([1.0, 3.0])) == {"p50_ms": 2.0, "p99_ms": pytest.approx(2.98)}


def test_cost_per_million_alerts_breaks_down_by_what_an_alert_writes_and_sends() -> None:
    doc = cost_model.cost_per_million_alerts(10.0, 3072, alerts_per_publish_request=10)
    b = doc["breakdown"]
    assert b["write_units_by_item"] == {"alert_item": pytest.approx(1.25), "state_item": pytest.approx(1.25)}
    assert b["index_writes"] == pytest.approx(1.25)  # the alert's and the mark's index copies
    assert b["mark"] == pytest.approx(0.625)
    assert b["publish"] == pytest.approx(0.05)  # 100,000 PublishBatch requests
    assert b["lambda_time"] == pytest.approx(1e6 * 0.010 * 3 * cost_model.LAMBDA_ARM64_GB_SECOND_USD)
    assert doc["total"] == pytest.approx(1.25 * 3 + 0.625 + 0.05 + b["lambda_time"])
    assert doc["met"] is True
    assert doc["target"] == 5.0
    assert cost_model.cost_per_million_alerts(10.0, 3072, 1)["breakdown"]["publish"] == pytest.approx(0.5)
    assert cost_model.cost_per_million_alerts(1000.0, 3072, 1)["met"] is False  # 40 $ of Lambda time
    for bad in ((-1.0, 3072, 1), (1.0, 64, 1), (1.0, 3072, 0.5), (1.0, 3072, 11)):
        with pytest.raises(ValueError, match="expected"):
            cost_model.cost_per_million_alerts(*bad)


def test_the_replayed_wait_replaces_the_fixed_one_in_the_tick_cost() -> None:
    w = cost_model.Workload(100, 0.0, 4, 4)
    fixed = cost_model.cost_per_million_ticks(1.0, 3072, w)
    replayed = cost_model.cost_per_million_ticks(1.0, 3072, w, wait_ms_per_batch=100.0)
    assert fixed.billed_ms_per_batch == 21  # 20 ms fixed wait + 1 ms CPU
    assert replayed.billed_ms_per_batch == 101
    assert replayed.lambda_compute == pytest.approx(fixed.lambda_compute * 101 / 21)


def test_zipf_activity_and_the_distinct_symbols_a_batch_writes() -> None:
    weights = cost_model.zipf_weights(3, 1.0)
    assert weights == pytest.approx([6 / 11, 3 / 11, 2 / 11])
    assert cost_model.expected_distinct([1.0], 5) == 1.0
    assert cost_model.expected_distinct([0.5, 0.5], 1) == pytest.approx(1.0)
    assert cost_model.expected_distinct([0.5, 0.5], 2) == pytest.approx(1.5)
    many = cost_model.expected_distinct(cost_model.zipf_weights(10_000, 1.1), 2500)
    assert 100 < many < 2500
    for bad in ((0, 1.0), (3, 0.0)):
        with pytest.raises(ValueError, match="expected"):
            cost_model.zipf_weights(*bad)

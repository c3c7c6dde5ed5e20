"""bench/hot_symbol.py: the feed reaches the function whole and in delivery order, the figures say what the
run measured, and (through the function, ~10 s) a hot symbol's state item stays within its bound. The full
run with the figures is `make bench-hot`."""

from __future__ import annotations

import json
from typing import Any

from bench.hot_symbol import TARGET_BYTES, batches, describe, distribution, run_feed
from local.hot_feed import HotFeedConfig, generate
from tests.support.function_harness import ensure_bootstrap


def test_batches_keep_the_delivery_order_and_every_body() -> None:
    bodies = generate(HotFeedConfig(seconds=1, rate=300, others=False)).bodies
    cut = batches(bodies, 25, "hot")
    assert [len(b.bodies) for b in cut[:-1]] == [25] * (len(cut) - 1)
    assert 1 <= len(cut[-1].bodies) <= 25
    assert [body for b in cut for body in b.bodies] == bodies
    ids = [m for b in cut for m in b.ids]
    assert len(set(ids)) == len(ids) == len(bodies)  # one message id per body: none is a redelivery
    record = json.loads(cut[0].event())["Records"][0]
    assert record["body"] == bodies[0]


def test_distribution() -> None:
    assert distribution([4.0, 1.0, 2.0, 3.0]) == {"max": 4.0, "p99": 3.97, "p50": 2.5, "mean": 2.5}


def _run(worst: float) -> dict[str, Any]:
    return {
        "batches": 48,
        "ticks": 30_000,
        "late_ticks": 2_900,
        "ticks_beyond_window": 2_800,
        "bytes_per_symbol_per_batch": {"max": worst, "p99": worst - 10, "p50": worst - 100, "mean": 1.0},
        "bytes_per_batch": {"max": worst + 500},
    }


def test_the_description_names_the_figures_and_the_target() -> None:
    entry = {
        "feed": {"hot_symbol": "AAPL", "rate": 3_000, "seconds": 10},
        "batch_size": 25,
        "hot_alone": _run(4_321),
        "with_others": _run(4_000),
        "target": {"max_bytes_per_symbol_per_batch": TARGET_BYTES, "value": 4_321, "met": True},
    }
    text = describe(entry)
    assert text.splitlines()[0] == "AAPL at 3,000 ticks/s for 10 s, batches of 25:"
    assert "hot_alone: 48 batches, 30,000 ticks (2,900 late, 2,800 beyond W)" in text
    assert "bytes per symbol per batch max 4,321, p99 4,311, p50 4,221; per batch max 4,821" in text
    assert text.splitlines()[-1] == "target: 4,321 <= 8,192 bytes per symbol per batch met"
    entry["target"] = {"max_bytes_per_symbol_per_batch": TARGET_BYTES, "value": 9_000, "met": False}
    assert describe(entry).endswith("MISSED")


def test_a_hot_symbols_state_bytes_per_batch_stay_within_8_kb_through_the_function() -> None:
    """Issue 14: <= 8 KB written per symbol per batch with a symbol at 3,000 ticks/s. The function's own
    count (StateBytesWritten) on 3 s of the hot symbol alone; its late ticks meet W's count bound."""
    run = run_feed(ensure_bootstrap(), HotFeedConfig(seconds=3, others=False), 25)
    assert run["hot_ticks"] == run["ticks"] == 9_000
    assert run["max_writes_per_batch"] == 1  # one state write per symbol and batch
    assert run["batches_with_a_write"] == run["batches"]
    assert 0 < run["bytes_per_symbol_per_batch"]["max"] <= TARGET_BYTES
    assert run["ticks_beyond_window"] > 0  # 256 held ticks span 85 ms of this feed: late ones are beyond W

"""The hot symbol through the function (issue 14 item 2): the state bytes the function writes per symbol per
batch with one symbol printing 3,000 ticks per second of event time, against the 8 KB bound.

The feed is local/hot_feed.py's, delivered in its (unordered) delivery order in batches of 25 (the
stack's batch size) to the real host bootstrap (build/cpp) under the Runtime API emulator, against moto, one
invocation after the other. The bytes are the function's own: StateBytesWritten and StateWrites of each
invocation's metrics record (the bytes DynamoDB counts for the state items it committed).

- `hot_alone`: the hot symbol without the other symbols. A symbol's state item is written from its own ticks
  only, so each invocation's StateBytesWritten is the hot symbol's bytes for that batch (one state write per
  symbol and batch: StateWrites is 1, or 0 when the plan needs no write).
- `with_others`: the same hot ticks beside the other symbols of local/feed.py: per batch, the bytes of all its
  symbols and the mean per symbol written.
The reorder window's count bound (max_held_ticks, docs/design.md section 5.4) is the one a hot symbol meets:
its ticks later than the held ones are counted as TicksBeyondWindow.

`make bench-hot` writes `hot_symbol` into bench/results/latest.json (the other keys stay).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from bench.requests_scale import RESULTS, Batch, invoke_counted, merge_results, proxied_function
from bench.run import BATCH, percentile
from lib.config import ROOT
from local.emf import emf_totals
from local.hot_feed import HotFeedConfig, generate

TARGET_BYTES = 8 * 1024  # issue 14: <= 8 KB per symbol per batch with a hot symbol at 3,000 ticks/s
RULES = ROOT / "config" / "alert-rules.json"


def batches(bodies: Sequence[str], size: int, name: str) -> list[Batch]:
    """The feed's bodies in delivery order, `size` per batch."""
    return [Batch.of(bodies[i : i + size], f"{name}-{i // size}") for i in range(0, len(bodies), size)]


def distribution(values: Sequence[float]) -> dict[str, float]:
    return {
        "max": max(values),
        "p99": percentile(values, 99),
        "p50": percentile(values, 50),
        "mean": statistics.fmean(values),
    }


def run_feed(bootstrap: Path, cfg: HotFeedConfig, batch_size: int) -> dict[str, Any]:
    """The feed through the function; per batch the bytes and writes of its metrics record."""
    feed = generate(cfg)
    rules = json.loads(RULES.read_text(encoding="utf-8"))["rules"]
    with proxied_function(rules, bootstrap) as setup:
        runs = [invoke_counted(setup, b.event(), 30.0) for b in batches(feed.bodies, batch_size, "hot")]
        totals = emf_totals(setup.function.stdout())
    failed = [r for r in runs if r["status"] != "ok" or r["failed_messages"] or r["metrics"] is None]
    if failed:
        raise RuntimeError(f"hot symbol: {len(failed)} of {len(runs)} batches failed: {failed[:2]}")
    written = [r["metrics"] for r in runs if r["metrics"]["StateWrites"] > 0]
    return {
        "messages": len(feed.bodies),
        "ticks": feed.ticks,
        "hot_ticks": feed.hot_ticks,
        "delayed_in_feed": feed.delayed,
        "batches": len(runs),
        "batches_with_a_write": len(written),
        "state_writes": sum(m["StateWrites"] for m in written),
        "state_conflicts": int(totals["StateConflicts"]),
        "late_ticks": int(totals["LateTicks"]),
        "ticks_beyond_window": int(totals.get("TicksBeyondWindow", 0)),
        "alerts": int(totals["Alerts"]),
        "bytes_per_batch": distribution([m["StateBytesWritten"] for m in written]),
        "bytes_per_symbol_per_batch": distribution(
            [m["StateBytesWritten"] / m["StateWrites"] for m in written]
        ),
        "max_writes_per_batch": max(m["StateWrites"] for m in written),
    }


def measure(bootstrap: Path, cfg: HotFeedConfig, batch_size: int = BATCH) -> dict[str, Any]:
    alone = run_feed(bootstrap, replace(cfg, others=False), batch_size)
    if alone["max_writes_per_batch"] != 1:  # then a batch's bytes would not be the hot symbol's alone
        raise RuntimeError(f"hot symbol alone: {alone['max_writes_per_batch']} state writes in one batch")
    worst = alone["bytes_per_symbol_per_batch"]["max"]
    return {
        "method": (
            "local/hot_feed.py in delivery order, batches of 25 (the stack's batch size), one "
            "invocation after the other, real bootstrap (build/cpp) under the Runtime API emulator on "
            "moto; bytes from the function's metrics (StateBytesWritten / StateWrites per invocation); "
            "hot_alone: the hot symbol without the others, so each batch's bytes are its own"
        ),
        "feed": {k: v for k, v in asdict(cfg).items() if k != "others"},
        "batch_size": batch_size,
        "rules": str(RULES.relative_to(ROOT)),
        "hot_alone": alone,
        "with_others": run_feed(bootstrap, replace(cfg, others=True), batch_size),
        "target": {
            "max_bytes_per_symbol_per_batch": TARGET_BYTES,
            "value": worst,
            "met": worst <= TARGET_BYTES,
        },
    }


def describe(entry: dict[str, Any]) -> str:
    feed = entry["feed"]
    head = f"{feed['hot_symbol']} at {feed['rate']:,} ticks/s for {feed['seconds']} s"
    lines = [f"{head}, batches of {entry['batch_size']}:"]
    for name in ("hot_alone", "with_others"):
        run = entry[name]
        per_symbol = run["bytes_per_symbol_per_batch"]
        lines.append(
            f"  {name}: {run['batches']} batches, {run['ticks']:,} ticks ({run['late_ticks']:,} late, "
            f"{run['ticks_beyond_window']:,} beyond W); bytes per symbol per batch max "
            f"{per_symbol['max']:,.0f}, p99 {per_symbol['p99']:,.0f}, p50 {per_symbol['p50']:,.0f}; "
            f"per batch max {run['bytes_per_batch']['max']:,.0f}"
        )
    target = entry["target"]
    bound = target["max_bytes_per_symbol_per_batch"]
    verdict = "met" if target["met"] else "MISSED"
    lines.append(f"target: {target['value']:,.0f} <= {bound:,} bytes per symbol per batch {verdict}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.hot_symbol", description=__doc__.split("\n")[0])
    parser.add_argument("--bootstrap", type=Path, default=ROOT / "build" / "cpp" / "src" / "bootstrap")
    parser.add_argument("--seconds", type=int, default=HotFeedConfig.seconds, help="event time of the feed")
    parser.add_argument("--rate", type=int, default=HotFeedConfig.rate, help="hot ticks per second")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    entry = measure(args.bootstrap, HotFeedConfig(seconds=args.seconds, rate=args.rate))
    merge_results({"hot_symbol": entry}, args.out)
    print(describe(entry))
    print(f"wrote hot_symbol to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

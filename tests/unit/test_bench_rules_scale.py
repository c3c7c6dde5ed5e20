"""bench/rules_scale.py: the `rules_scale` entry of latest.json from a Google Benchmark report (fast)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench.rules_scale import SIZES, UPDATE_CHANGES, UPDATE_SIZES, describe, store, summarise


def quiet_row(n: int, cpu_ns: float, rss: float, aggregate: str = "median") -> dict[str, Any]:
    return {
        "name": f"BM_QuietTick/{n}/repeats:3_{aggregate}",
        "run_name": f"BM_QuietTick/{n}/repeats:3",
        "run_type": "aggregate",
        "aggregate_name": aggregate,
        "cpu_time": cpu_ns,
        "time_unit": "ns",
        "ticks": 25,
        "fires_per_event": 0,
        "hot_level_versions": n * 0.08,
        "held_suppressed_share": 0.6,
        "rss_bytes_per_version": rss,
        "heap_bytes_per_version": rss - 2,
        "index_heap_bytes_per_version": 17.0,
        "eligibility_bytes_per_fire": 80.0,
        "sizeof_rule": 224,
    }


def build_row(n: int, seconds_per_version: float) -> dict[str, Any]:
    return {
        "name": f"BM_IndexBuild/{n}",
        "run_name": f"BM_IndexBuild/{n}",
        "run_type": "iteration",
        "cpu_time": 1.0,
        "time_unit": "ms",
        "per_version": seconds_per_version,
    }


def report(large_cpu_ns: float = 15_000.0, large_rss: float = 250.0) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    for n, cpu in zip(SIZES, (10_000.0, 12_000.0, large_cpu_ns), strict=True):
        rows.append(quiet_row(n, cpu * 3, 999.0, "mean"))  # only the median counts
        rows.append(quiet_row(n, cpu, large_rss if n == SIZES[-1] else 400.0))
        rows.append(build_row(n, 8e-8))
    rows.append({"name": "BM_QuietLookup/1000000", "run_type": "iteration", "per_tick": 2.5e-7})
    return {"context": {}, "benchmarks": rows}


def test_per_tick_cpu_ratio_build_time_and_bytes_by_hand() -> None:
    entry = summarise(report())
    large = entry["sizes"]["1000000"]
    assert entry["sizes"]["10"]["quiet_tick_cpu_ns"] == pytest.approx(400.0)  # 10,000 ns / 25 ticks
    assert large["quiet_tick_cpu_ns"] == pytest.approx(600.0)
    assert entry["quiet_tick_ratio_1m_vs_10"] == pytest.approx(1.5)
    assert large["index_build_us_per_version"] == pytest.approx(0.08)
    assert large["resident_bytes_per_version"] == 250.0
    assert large["heap_bytes_per_version"] == 248.0
    assert large["index_lookup_ns_per_tick"] == pytest.approx(250.0)
    assert entry["sizes"]["10"]["index_lookup_ns_per_tick"] is None  # not in this report
    assert all(t["met"] for t in entry["targets"].values())


def test_missed_targets_are_reported() -> None:
    entry = summarise(report(large_cpu_ns=16_000.0, large_rss=300.0))
    assert entry["targets"]["quiet_tick_ratio"]["met"] is False  # 1.6x
    assert entry["targets"]["resident_bytes_per_version"]["met"] is False
    assert entry["targets"]["index_build_us_per_version"]["met"] is True
    text = describe(entry)
    assert "target quiet_tick_ratio: 1.600 (<= 1.5) MISSED" in text
    assert "1,000,000 versions:    640.0 ns CPU per quiet tick" in text


def test_a_report_without_every_size_or_in_other_units_is_refused() -> None:
    partial = report()
    partial["benchmarks"] = [r for r in partial["benchmarks"] if r["name"].split("/")[1] != "10000"]
    with pytest.raises(ValueError, match=r"lacks sizes \[10000\]"):
        summarise(partial)
    odd = report()
    for row in odd["benchmarks"]:
        row["time_unit"] = "us"
    with pytest.raises(ValueError, match="expected ns"):
        summarise(odd)


def test_store_replaces_only_rules_scale(tmp_path: Path) -> None:
    path = tmp_path / "latest.json"
    path.write_text(json.dumps({"figures": {"x": 1}, "rules_scale": {"old": True}}), encoding="utf-8")
    store({"new": True}, path)
    assert json.loads(path.read_text(encoding="utf-8")) == {"figures": {"x": 1}, "rules_scale": {"new": True}}
    fresh = tmp_path / "fresh.json"
    store({"new": True}, fresh)
    assert json.loads(fresh.read_text(encoding="utf-8")) == {"rules_scale": {"new": True}}


def with_updates(update_us: float = 20.0, skip: str = "") -> dict[str, Any]:
    """report() plus the index update rows (CPU per update in us) and the full build at 100,000."""
    full = report()
    full["benchmarks"].append(build_row(100_000, 1e-7))  # 10 ms
    for n in UPDATE_SIZES:
        for k in UPDATE_CHANGES:
            for hot in (0, 1):
                name = f"BM_IndexUpdate/{n}/{k}/{hot}"
                if name != skip:
                    cpu = update_us * k + hot * 1000.0
                    full["benchmarks"].append(
                        {"name": name, "run_type": "iteration", "cpu_time": cpu, "time_unit": "us"}
                    )
    if skip == "BM_IndexBuild/100000":
        full["benchmarks"] = [r for r in full["benchmarks"] if r["name"] != skip]
    return full


def test_the_index_update_against_the_full_build_of_the_same_run() -> None:
    entry = summarise(with_updates())
    small, large = entry["index_update"]["100000"], entry["index_update"]["1000000"]
    assert small["rebuild_ms"] == pytest.approx(10.0)
    assert large["rebuild_ms"] == pytest.approx(80.0)  # 8e-8 s per version
    assert small["changed_versions"]["1"] == {
        "update_us": 20.0,
        "rebuild_over_update": pytest.approx(500.0),
        "update_us_with_hot": 1020.0,
        "rebuild_over_update_with_hot": pytest.approx(10_000 / 1020),
    }
    assert large["changed_versions"]["1000"]["update_us"] == pytest.approx(20_000.0)
    assert large["changed_versions"]["1000"]["rebuild_over_update"] == pytest.approx(4.0)
    text = describe(entry)
    assert "index update at 1,000,000 versions (full build 80.0 ms): 1 changed 20.0 us (1/4,000; " in text
    assert "one on the hot symbol 1,020.0 us)" in text
    assert "index_update" not in summarise(report())  # a report without the update rows: no entry


def test_an_update_report_lacking_a_case_is_refused() -> None:
    with pytest.raises(ValueError, match=r"lacks BM_IndexUpdate/1000000/100/1"):
        summarise(with_updates(skip="BM_IndexUpdate/1000000/100/1"))
    with pytest.raises(ValueError, match=r"lacks BM_IndexBuild/100000"):
        summarise(with_updates(skip="BM_IndexBuild/100000"))

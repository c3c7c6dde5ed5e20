"""`rules_scale` (issue 14, R5): the pure path of one quiet event with 10, 10,000 and 1,000,000 rule versions,
the rule index's build time and the resident bytes per version, and (R4 refresh) the index's incremental
update with 1 .. 1,000 changed versions at 100,000 and 1,000,000 versions against its full build measured in
the same run, from one run of the Google Benchmark binary tap_rules_scale_bench
(lib/lambda/bench/rules_scale_bench.cpp says what the rule sets, the event and the changes are).

`make bench` stores the figures under `rules_scale` in bench/results/latest.json; `make bench-rules` runs only
this benchmark and replaces that key in the file (the other figures stay as they are).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "latest.json"
SIZES = (10, 10_000, 1_000_000)
UPDATE_SIZES = (100_000, 1_000_000)
UPDATE_CHANGES = (1, 10, 100, 1_000)
_MICROS_PER_UNIT = {"ns": 1e-3, "us": 1.0, "ms": 1e3, "s": 1e6}
# Issue 14's targets: CPU per quiet tick at 1,000,000 versions <= 1.5x the figure at 10; index build <= 1 us
# per version; <= 256 resident bytes per version.
MAX_QUIET_TICK_RATIO = 1.5
MAX_BUILD_US_PER_VERSION = 1.0
MAX_RESIDENT_BYTES_PER_VERSION = 256.0
MEMORY_METHOD = (
    "resident: /proc/self/statm delta over building the versions, the RuleSet and the index; heap: live "
    "bytes counted by the benchmark's operator new/delete (index alone in index_heap_bytes_per_version)"
)


def run_benchmark(exe: Path, min_time_s: float = 0.5) -> dict[str, Any]:
    """Runs the benchmark binary once (all sizes in one process) and returns its JSON report."""
    out = subprocess.run(
        [str(exe), "--benchmark_format=json", f"--benchmark_min_time={min_time_s}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    report: dict[str, Any] = json.loads(out)
    return report


def _per_size(report: dict[str, Any], name: str) -> dict[int, dict[str, Any]]:
    """The report's rows of benchmark `name` by size: the median row when repeated, else the single run."""
    rows: dict[int, dict[str, Any]] = {}
    for row in report["benchmarks"]:
        run_name = str(row.get("run_name", row["name"]))
        if not run_name.startswith(name + "/"):
            continue
        if row.get("run_type") == "aggregate" and row.get("aggregate_name") != "median":
            continue
        rows[int(run_name.split("/")[1])] = row
    return rows


def _updates(report: dict[str, Any], build: dict[int, dict[str, Any]]) -> dict[str, Any] | None:
    """The index update's figures by size and changed versions (CPU per update, and the full build's CPU at
    the same size over it), the k versions on ordinary symbols and, `_with_hot`, one of them on the hot
    symbol; None when the report has no BM_IndexUpdate rows."""
    rows: dict[tuple[int, int, int], dict[str, Any]] = {}
    for row in report["benchmarks"]:
        parts = str(row.get("run_name", row["name"])).split("/")
        if parts[0] == "BM_IndexUpdate":
            rows[(int(parts[1]), int(parts[2]), int(parts[3]))] = row
    if not rows:
        return None
    out: dict[str, Any] = {}
    for n in UPDATE_SIZES:
        if n not in build:
            raise ValueError(f"benchmark report lacks BM_IndexBuild/{n}")
        rebuild_us = float(build[n]["per_version"]) * n * 1e6
        changes: dict[str, Any] = {}
        for k in UPDATE_CHANGES:
            figures: dict[str, float] = {}
            for hot, suffix in ((0, ""), (1, "_with_hot")):
                if (n, k, hot) not in rows:
                    raise ValueError(f"benchmark report lacks BM_IndexUpdate/{n}/{k}/{hot}")
                row = rows[(n, k, hot)]
                update_us = float(row["cpu_time"]) * _MICROS_PER_UNIT[str(row["time_unit"])]
                figures["update_us" + suffix] = update_us
                figures["rebuild_over_update" + suffix] = rebuild_us / update_us
            changes[str(k)] = figures
        out[str(n)] = {"rebuild_ms": rebuild_us / 1e3, "changed_versions": changes}
    return out


def summarise(report: dict[str, Any]) -> dict[str, Any]:
    """The `rules_scale` entry of latest.json from a benchmark report."""
    quiet = _per_size(report, "BM_QuietTick")
    build = _per_size(report, "BM_IndexBuild")
    lookup = _per_size(report, "BM_QuietLookup")
    missing = [n for n in SIZES if n not in quiet or n not in build]
    if missing:
        raise ValueError(f"benchmark report lacks sizes {missing}")
    sizes: dict[str, dict[str, Any]] = {}
    for n in SIZES:
        q, b = quiet[n], build[n]
        if q["time_unit"] != "ns":
            raise ValueError(f"BM_QuietTick/{n}: time unit {q['time_unit']}, expected ns")
        sizes[str(n)] = {
            "quiet_tick_cpu_ns": float(q["cpu_time"]) / float(q["ticks"]),
            "fires_per_event": float(q["fires_per_event"]),
            "index_lookup_ns_per_tick": float(lookup[n]["per_tick"]) * 1e9 if n in lookup else None,
            "hot_level_versions": float(q["hot_level_versions"]),
            "held_suppressed_share": float(q["held_suppressed_share"]),
            "index_build_us_per_version": float(b["per_version"]) * 1e6,
            "resident_bytes_per_version": float(q["rss_bytes_per_version"]),
            "heap_bytes_per_version": float(q["heap_bytes_per_version"]),
            "index_heap_bytes_per_version": float(q["index_heap_bytes_per_version"]),
            "eligibility_bytes_per_fire": float(q["eligibility_bytes_per_fire"]),
            "sizeof_rule": float(q["sizeof_rule"]),
        }
    small, large = sizes[str(SIZES[0])], sizes[str(SIZES[-1])]
    ratio = large["quiet_tick_cpu_ns"] / small["quiet_tick_cpu_ns"]
    targets = {
        "quiet_tick_ratio": {"value": ratio, "max": MAX_QUIET_TICK_RATIO},
        "index_build_us_per_version": {
            "value": large["index_build_us_per_version"],
            "max": MAX_BUILD_US_PER_VERSION,
        },
        "resident_bytes_per_version": {
            "value": large["resident_bytes_per_version"],
            "max": MAX_RESIDENT_BYTES_PER_VERSION,
        },
    }
    for target in targets.values():
        target["met"] = target["value"] <= target["max"]
    entry: dict[str, Any] = {
        "sizes": sizes,
        "quiet_tick_ratio_1m_vs_10": ratio,
        "targets": targets,
        "memory_method": MEMORY_METHOD,
    }
    updates = _updates(report, build)
    if updates is not None:
        entry["index_update"] = updates
    return entry


def measure(exe: Path) -> dict[str, Any]:
    return summarise(run_benchmark(exe))


def store(entry: dict[str, Any], path: Path = RESULTS) -> None:
    """Replaces `rules_scale` in the result file, keeping every other figure."""
    doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    doc["rules_scale"] = entry
    path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")


def describe(entry: dict[str, Any]) -> str:
    lines = []
    for n, s in entry["sizes"].items():
        lines.append(
            f"{int(n):>9,} versions: {s['quiet_tick_cpu_ns']:8.1f} ns CPU per quiet tick "
            f"({s['fires_per_event']:.0f} fires, {s['held_suppressed_share']:.0%} of "
            f"{s['hot_level_versions']:.0f} hot level versions held+suppressed), build "
            f"{s['index_build_us_per_version']:.3f} us/version, "
            f"{s['resident_bytes_per_version']:.0f} resident B/version "
            f"({s['heap_bytes_per_version']:.0f} heap, index {s['index_heap_bytes_per_version']:.1f})"
        )
    for n, u in entry.get("index_update", {}).items():
        per_k = ", ".join(
            f"{k} changed {c['update_us']:,.1f} us (1/{c['rebuild_over_update']:,.0f}; "
            f"one on the hot symbol {c['update_us_with_hot']:,.1f} us)"
            for k, c in u["changed_versions"].items()
        )
        lines.append(f"index update at {int(n):,} versions (full build {u['rebuild_ms']:.1f} ms): {per_k}")
    for name, t in entry["targets"].items():
        lines.append(f"target {name}: {t['value']:.3f} (<= {t['max']}) " + ("met" if t["met"] else "MISSED"))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.rules_scale", description=__doc__.split("\n")[0])
    parser.add_argument("--build", type=Path, default=ROOT / "build" / "cpp-release")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    entry = measure(args.build / "bench" / "tap_rules_scale_bench")
    store(entry, args.out)
    print(describe(entry))
    print(f"wrote rules_scale to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

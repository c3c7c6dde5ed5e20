"""`make bench`: the C++ function against the comparison baseline (bench/baseline, Python 3.11 + boto3 +
Powertools), side by side in one run, on the same events, through the same local Runtime API emulator and
the same moto server. Every measurement alternates the two implementations (A B A B) to cancel drift.

Figures (bench/results/latest.json, one object per figure with cpp, python and ratio):
- cpu_per_tick_ns: the pure path (event parse + tick validation + rule evaluation) on one event file,
  C++ by Google Benchmark (tap_core_bench BM_ParseValidateEvaluateFile), Python by timeit (bench.pure_py);
- cold_start_ms: process start to its first GET /next of the Runtime API, median of N starts (the rules
  document, no AWS call: today's figure); cold_start_rules_loaded_ms: the same with RULES_TABLE named and
  the benchmark's rules imported in it (the C++ function loads them beside its first /next, the baseline
  before it); cold_start_to_rules_loaded_ms: process start to the `rules loaded` log line of those starts
  (with the count);
- peak_rss_mb: VmHWM of the function process after the warm run (1,000 batches by default);
- warm_batch_p50_ms / warm_batch_p99_ms: invocation latency of a 25-record batch without alerts (and
  warm_alert_batch_* with alerts) against moto, plus the function's own CPU per invocation from
  /proc/<pid>/stat (moto's CPU is not in it);
- ticks_per_second: feed -> SQS queue -> poller -> function -> table/topic on the benchmark feed;
- cost_per_million_ticks_usd: bench/cost_model.py at 3 GB, and the C++ at the memory it needs.
With --aws-model (or TAP_AWS_MODEL=1), the warm run once more with each implementation's AWS calls through a
latency proxy (local/fault_proxy.py) holding every answer by the model of bench/aws_model.py: its figures,
the share of calls moto alone answered later than the sample, and the table, under `aws_latency_model`.
Beside the figures, `rules_scale` (bench/rules_scale.py): the C++ pure path of a quiet event at 10 to
1,000,000 rule versions, the index build time and the resident bytes per version.
`ratio` is always the C++ advantage: python / cpp where lower is better, cpp / python where higher is.

Both implementations read their rules from their own rules table, RULES imported by `tap_rules` (R6:
mode every) under a clock before the feed, and run in a clock just after it (R7: the ticks' own time).
Before anything is timed, both implementations process the benchmark feed and must store the same alerts
(table keys) and send the same notifications (alert ids, each once); otherwise the run stops. That gate runs
on an in-order feed (checked: every symbol's positions increase) at concurrency 1, where the first version's
design (the baseline, which keeps its behaviour under reordering) and the event-time engine must agree.

`fidelity` (F3): the C++ function at concurrency 5 on the same feed (the sample feed of `make demo`), its
stored alerts judged per rule against the in-order replay of the same ticks by the test oracle
(tests/chaos/judge.py): replay, stored, matched, counted mode choices, missing with reasons, extra,
duplicates. `make bench-fidelity` (--only fidelity) measures it alone and replaces that key.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench import cost_model, rules_scale
from bench.aws_model import AwsLatencyModel, Exceeded, exceed_report
from bench.requests_scale import merge_results
from lib.config import REORDER_WINDOW
from local.clock import CLOCK_VARIABLE, feed_clock, real_micros, virtual_clock
from local.emf import emf_totals
from local.emulator import MotoServer
from local.event_source import EventSourceConfig, SqsEventSource
from local.fault_proxy import FaultProxy, LatencyStats
from local.feed import FeedConfig, generate_feed
from local.function_host import function_command, runner
from local.function_resources import FunctionResources, resources_on
from local.rules_import import RulesTool, default_tool
from local.runtime_api import FunctionProcess
from local.sqs_event import received_message, sqs_event
from local.sqs_queues import queue_arn
from ops.send_feed import send_feed
from tests.chaos import oracle
from tests.chaos.judge import fidelity_lines

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "build" / "bench"
RESULTS = ROOT / "bench" / "results"
RULES = ROOT / "config" / "alert-rules.json"
REGION = "us-east-1"
IMPLS = ("cpp", "python")
FIGURES = (
    "cpu_per_tick_ns",
    "cold_start_ms",
    "peak_rss_mb",
    "warm_batch_p50_ms",
    "warm_batch_p99_ms",
    "ticks_per_second",
    "cost_per_million_ticks_usd",
)
HIGHER_IS_BETTER = frozenset({"ticks_per_second"})
RULES_OWNER = "bench"  # the owner the benchmark's rules are imported for (R6: mode every, the cooldowns kept)
IMPORT_LEAD_S = 60.0  # the importer's clock shows the first tick minus this: every tick meets the rules
CLOCK_AFTER_S = 60.0  # the functions' clock shows the last tick plus this: every tick covered, none stale
# Issue 8's acceptance targets: (figure, minimum ratio, maximum C++ value or None).
TARGETS = (("cpu_per_tick_ns", 50.0, 1000.0), ("cold_start_ms", 20.0, None), ("peak_rss_mb", 5.0, None))
BATCH = 25
FIDELITY_CONCURRENCY = 5  # Lambda's SQS event source at its minimum maximum concurrency
FUNCTION_TIMEOUT_S = 60.0
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------ statistics and the result file
def percentile(values: Sequence[float], p: float) -> float:
    """Linear-interpolated percentile (p in 0..100) of a non-empty sample."""
    if not values:
        raise ValueError("percentile of an empty sample")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def figure(name: str, cpp: float, python: float, **extra: Any) -> dict[str, Any]:
    """One figure of the result file; ratio = the C++ advantage (> 1: C++ better)."""
    if name in HIGHER_IS_BETTER:
        ratio = cpp / python if python else float("inf")
    else:
        ratio = python / cpp if cpp else float("inf")
    better = "higher" if name in HIGHER_IS_BETTER else "lower"
    return {"cpp": cpp, "python": python, "ratio": ratio, "better": better, **extra}


def validate_results(doc: dict[str, Any]) -> list[str]:
    """The schema of bench/results/latest.json; returns the problems (empty when valid)."""
    problems = []
    for key in ("machine", "date", "figures", "targets"):
        if key not in doc:
            problems.append(f"missing {key}")
    machine = doc.get("machine", {})
    if not isinstance(machine.get("cpu_model"), str) or not isinstance(machine.get("cores"), int):
        problems.append("machine needs cpu_model (string) and cores (integer)")
    try:
        datetime.fromisoformat(str(doc.get("date")))
    except ValueError:
        problems.append("date is not ISO-8601")
    figures = doc.get("figures", {})
    for name in FIGURES:
        fig = figures.get(name)
        if not isinstance(fig, dict):
            problems.append(f"figure {name} missing")
            continue
        for part in ("cpp", "python", "ratio"):
            if not isinstance(fig.get(part), int | float) or isinstance(fig.get(part), bool):
                problems.append(f"{name}.{part} is not a number")
        if all(isinstance(fig.get(p), int | float) for p in ("cpp", "python", "ratio")) and fig["cpp"] > 0:
            expected = fig["cpp"] / fig["python"] if name in HIGHER_IS_BETTER else fig["python"] / fig["cpp"]
            if abs(expected - fig["ratio"]) > 1e-6 * max(1.0, abs(expected)):
                problems.append(f"{name}.ratio does not match cpp and python")
    return problems


def check_targets(figures: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out = {}
    for name, min_ratio, max_cpp in TARGETS:
        fig = figures[name]
        met = fig["ratio"] >= min_ratio and (max_cpp is None or fig["cpp"] <= max_cpp)
        out[name] = {"min_ratio": min_ratio, "max_cpp": max_cpp, "ratio": fig["ratio"], "met": met}
    return out


def machine() -> dict[str, Any]:
    model = "unknown"
    with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpu_model": model,
        "cores": os.cpu_count() or 1,
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


# ------------------------------------------------------------------ the process side
def proc_cpu_s(pid: int) -> float:
    """CPU time of the whole process (every thread), seconds: the sum of /proc/<pid>/task/*/schedstat
    (nanoseconds on a CPU), the precise form of utime + stime in /proc/<pid>/stat (10 ms ticks)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text(encoding="ascii").split()[0])
        except FileNotFoundError:  # a thread that ended between the listing and the read
            continue
    return total / 1e9


def proc_stat_cpu_s(pid: int) -> float:
    """utime + stime of the whole process from /proc/<pid>/stat (clock ticks), seconds."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # fields 14 and 15 of proc(5)


def proc_hwm_mb(pid: int) -> float:
    """Peak resident set size (VmHWM) in MiB."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for {pid}")


@dataclass
class Impl:
    name: str
    command: list[str]
    env: dict[str, str]


def implementations(bootstrap: Path) -> dict[str, Impl]:
    return {
        "cpp": Impl("cpp", function_command(bootstrap), {}),
        "python": Impl(
            "python",
            [sys.executable, "-m", "awslambdaric", "bench.baseline.handler.lambda_handler"],
            {"PYTHONPATH": str(ROOT)},
        ),
    }


@dataclass
class Stack:
    """The AWS resources one implementation writes to (local/function_resources.py) and its source queue."""

    resources: FunctionResources
    source_url: str
    source_arn: str

    def client(self, service: str) -> Any:
        return self.resources.client(service)

    def function_env(self) -> dict[str, str]:
        return self.resources.function_env(RULES)

    def import_rules(self, tool: Path, ticks_us: Sequence[int]) -> dict[str, str]:
        """RULES imported into this stack's rules table (R6) under a clock before the first of `ticks_us`;
        returns what points a function at them: RULES_TABLE, and a clock just after the last tick (R7: both
        run in the ticks' own time, so that every tick is covered by the fences and none is beyond the
        horizon). One import for both implementations: the rule ids, part of every alert key, are equal."""
        before = feed_clock(min(ticks_us), margin_seconds=IMPORT_LEAD_S, speed=1)
        importer = RulesTool(
            self.resources.rules_table, self.resources.endpoint, {CLOCK_VARIABLE: before}, tool
        )
        importer.import_rules(RULES_OWNER, RULES)
        after = virtual_clock(max(ticks_us) + round(CLOCK_AFTER_S * 1e6), 1, real_micros())
        return {"RULES_TABLE": self.resources.rules_table, CLOCK_VARIABLE: after}

    def table_env(self, rules: Mapping[str, str]) -> dict[str, str]:
        """The function's environment on these resources with the rules `rules` points at (import_rules)."""
        return {**self.resources.function_env(None), **rules}

    def alert_keys(self) -> list[tuple[str, str]]:
        return self.resources.alert_keys()

    def notifications(self) -> list[str]:
        """Alert ids of every notification published (drains the capture queue)."""
        return sorted(n["Message"]["alert_id"] for n in self.resources.notifications())


def create_stack(endpoint: str, tag: str) -> Stack:
    resources = resources_on(endpoint, tag)
    sqs = resources.client("sqs")
    source_url = sqs.create_queue(QueueName=f"market-data-{tag}", Attributes={"VisibilityTimeout": "120"})[
        "QueueUrl"
    ]
    return Stack(resources, source_url, queue_arn(sqs, source_url))


# ------------------------------------------------------------------ events
def bench_event(bodies: Sequence[str], key: str) -> bytes:
    """The event of `bodies`, message ids derived from `key` (the same for both implementations)."""
    sent_ms = int(time.time() * 1000)
    messages = [
        received_message(b, str(uuid.uuid5(uuid.NAMESPACE_URL, f"{key}-{i}")), 1, sent_ms)
        for i, b in enumerate(bodies)
    ]
    return sqs_event(messages, f"arn:aws:sqs:{REGION}:123456789012:market-data-bench", REGION)


def chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def ticks_us(bodies: Sequence[str]) -> list[int]:
    """The timestamps (micros) of the valid ticks of `bodies`."""
    return [t.ts_us for body in oracle.parse_feed(list(bodies)) for t in body.ticks]


def rule_count() -> int:
    """The versions an import of RULES gives (one per enabled rule)."""
    return sum(1 for r in json.loads(RULES.read_text(encoding="utf-8"))["rules"] if r.get("enabled", True))


def feed_ticks(body: str) -> list[dict[str, Any]]:
    """The tick objects of a feed body (malformed bodies hold none)."""
    try:
        doc = json.loads(body)
    except ValueError:
        return []
    return [t for t in (doc if isinstance(doc, list) else [doc]) if isinstance(t, dict)]


def workload_of(bodies: Sequence[str]) -> cost_model.Workload:
    """Ticks per message and the crossing keys per 25-message batch of the feed (reads, and at most one
    side_ts write per key and batch); alerts per tick are filled in from the equality run."""
    rules = json.loads(RULES.read_text(encoding="utf-8"))["rules"]
    crossing = [r for r in rules if r.get("enabled", True) and r["condition"].startswith("crosses_")]
    keys_per_batch = []
    for part in chunks(bodies, BATCH):
        symbols = {t.get("symbol") for b in part for t in feed_ticks(b)}
        keys_per_batch.append(sum(1 for r in crossing for s in symbols if r["symbol"] in ("*", s)))
    ticks = sum(len(feed_ticks(b)) for b in bodies)
    per_batch = statistics.fmean(keys_per_batch)
    return cost_model.Workload(ticks / len(bodies), 0.0, per_batch, per_batch)


def warm_batch(index: int, alerts: bool) -> list[str]:
    """25 one-tick messages 5 minutes after the previous batch (past every cooldown, and 1,000 batches within
    the rules' retention horizon of 4 days, R4). Quiet batches move
    no rule; alert batches cross AAPL above 200 and EUR/USD below 1.05, put MSFT above 450 and trade a
    block of NVDA: four alerts. Every crossing key still gets its side_ts write (F3)."""
    quiet = {"AAPL": 190.0, "MSFT": 420.0, "BTC-USD": 99_500.0, "EUR/USD": 1.06, "TSLA": 290.0, "NVDA": 140.0}
    loud = {**quiet, "AAPL": 201.0, "MSFT": 455.0, "EUR/USD": 1.04} if alerts else quiet
    start = datetime(2026, 11, 25, 14, 30, tzinfo=UTC) + timedelta(minutes=5 * index)
    symbols = list(quiet)
    bodies = []
    for j in range(BATCH):
        symbol = symbols[j % len(symbols)]
        price = loud[symbol]
        step = 0.0001 if symbol == "EUR/USD" else 0.01
        volume = 200_000 if alerts and symbol == "NVDA" and j < len(symbols) else 100
        tick = {
            "symbol": symbol,
            "price": price,
            "timestamp": (start + timedelta(seconds=j)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            "volume": volume,
            "bid": round(price - step, 4),
            "ask": round(price + step, 4),
        }
        bodies.append(json.dumps(tick, separators=(",", ":")))
    return bodies


# ------------------------------------------------------------------ driving the functions
class WarmFunction:
    """One warm execution environment of an implementation under its runner (local/function_host.py)."""

    def __init__(self, impl: Impl, env: dict[str, str]) -> None:
        self.impl = impl
        self.emulator = runner(impl.command, {**env, **impl.env})

    def __enter__(self) -> WarmFunction:
        self.emulator.__enter__()
        wait_first_next(self.emulator.start_process())
        return self

    def __exit__(self, *exc: object) -> None:
        self.emulator.close()

    @property
    def pid(self) -> int:
        assert self.emulator.process is not None
        return self.emulator.process.pid

    def invoke(self, payload: bytes) -> tuple[float, float]:
        """(wall seconds of the invocation, CPU seconds of the function process during it)."""
        cpu = proc_cpu_s(self.pid)
        result = self.emulator.invoke(payload, FUNCTION_TIMEOUT_S)
        cpu = proc_cpu_s(self.pid) - cpu
        if result.status != "ok":
            raise RuntimeError(f"{self.impl.name}: invocation {result.status}: {result.payload[:500]!r}")
        failures = json.loads(result.payload or b"{}").get("batchItemFailures", [])
        if failures:
            assert self.emulator.process is not None
            log_tail = "\n".join(self.emulator.process.stdout[-5:] + self.emulator.process.stderr[-5:])
            raise RuntimeError(f"{self.impl.name}: batchItemFailures {failures[:3]}; log:\n{log_tail}")
        return result.duration, cpu


def wait_first_next(process: FunctionProcess, timeout_s: float = 60.0) -> float:
    deadline = time.monotonic() + timeout_s
    while process.cold_start is None:
        if not process.alive() or time.monotonic() > deadline:
            raise RuntimeError(
                f"{process.command}: no /next (exit {process.returncode}): {process.stderr[-5:]}"
            )
        time.sleep(0.001)
    return process.cold_start


def interleaved(rounds: int, order: Sequence[str] = IMPLS) -> Iterator[tuple[int, str]]:
    """A B B A A B ...: each implementation goes first in half of the rounds."""
    for r in range(rounds):
        for name in order if r % 2 == 0 else tuple(reversed(order)):
            yield r, name


# ------------------------------------------------------------------ the measurements
def out_of_order(bodies: Sequence[str]) -> list[str]:
    """Ticks whose position (timestamp, seq) is not after their symbol's previous one in feed order."""
    last: dict[str, tuple[int, int]] = {}
    out = []
    for tick in (t for body in oracle.parse_feed(bodies) for t in body.ticks):
        position = (tick.ts_us, tick.seq)
        if tick.symbol in last and position <= last[tick.symbol]:
            out.append(f"{tick.symbol} {tick.ts}")
        last[tick.symbol] = max(position, last.get(tick.symbol, position))
    return out


def check_same_outputs(
    impls: dict[str, Impl], endpoint: str, bodies: Sequence[str], tool: Path | None = None
) -> dict[str, Any]:
    """Both implementations on the benchmark feed, in order and one batch after the other (concurrency 1),
    each reading its rules from its own rules table (RULES imported by `tool`): same alert keys, same
    notification ids (each once)."""
    late = out_of_order(bodies)
    if late:
        raise SystemExit(f"the same-outputs feed must be in order; out of order: {late[:5]}")
    seen: dict[str, tuple[list[tuple[str, str]], list[str]]] = {}
    rules = create_stack(endpoint, "eq-rules").import_rules(tool or default_tool(), ticks_us(bodies))
    for name, impl in impls.items():
        stack = create_stack(endpoint, f"eq-{name}")
        with WarmFunction(impl, stack.table_env(rules)) as fn:
            for i, part in enumerate(chunks(bodies, BATCH)):
                fn.invoke(bench_event(part, f"feed-{i}"))
        seen[name] = (stack.alert_keys(), stack.notifications())
    (cpp_keys, cpp_ids), (py_keys, py_ids) = seen["cpp"], seen["python"]
    if not cpp_keys or cpp_keys != py_keys:
        raise SystemExit(
            f"different alerts: only C++ {sorted(set(cpp_keys) - set(py_keys))[:5]}, only "
            f"Python {sorted(set(py_keys) - set(cpp_keys))[:5]} ({len(cpp_keys)} vs {len(py_keys)})"
        )
    if cpp_ids != py_ids or len(set(cpp_ids)) != len(cpp_ids):
        raise SystemExit(f"different notifications: {len(cpp_ids)} C++ vs {len(py_ids)} Python ids")
    expected = sorted(f"{s}|{ts}" for s, ts in cpp_keys)
    if cpp_ids != expected:
        raise SystemExit("notifications do not match the stored alerts one to one")
    return {
        "alerts": len(cpp_keys),
        "notifications": len(cpp_ids),
        "messages": len(bodies),
        "rules": "table",
        "rule_versions": rule_count(),
    }


def measure_cpu_per_tick(bench_exe: Path, event: Path, rounds: int) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {"cpp": [], "python": []}
    env = {**os.environ, "TAP_BENCH_EVENT": str(event), "TAP_BENCH_RULES": str(RULES)}
    for _, name in interleaved(rounds):
        if name == "cpp":
            out = subprocess.run(
                [
                    str(bench_exe),
                    "--benchmark_filter=BM_ParseValidateEvaluateFile$",
                    "--benchmark_min_time=0.5",
                    "--benchmark_format=json",
                ],
                env=env,
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            bench = json.loads(out)["benchmarks"][0]
            samples["cpp"].append(float(bench["per_tick"]) * 1e9)  # seconds per tick (inverted rate)
        else:
            out = subprocess.run(
                [sys.executable, "-m", "bench.pure_py", "--event", str(event), "--rules", str(RULES)],
                env={**env, "PYTHONPATH": str(ROOT)},
                cwd=ROOT,
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            samples["python"].append(float(json.loads(out)["ns_per_tick"]))
    return samples


def wait_rules_loaded(process: FunctionProcess, timeout_s: float = 120.0) -> float:
    """Seconds from process start to its `rules loaded` log line (both implementations log one)."""
    with process.output_read:
        if not process.output_read.wait_for(lambda: any(map(is_rules_loaded, process.stdout)), timeout_s):
            raise RuntimeError(f"{process.command}: no `rules loaded` line: {process.stdout[-5:]}")
        return time.monotonic() - process.started_at


def is_rules_loaded(line: str) -> bool:
    try:
        record = json.loads(line)
    except ValueError:
        return False
    return isinstance(record, dict) and record.get("message") == "rules loaded"


@dataclass
class ColdRun:
    """Per implementation, ms from process start to the first /next and (when asked for) to `rules loaded`."""

    first_next: dict[str, list[float]]
    rules_loaded: dict[str, list[float]]


def cold_samples(
    impls: dict[str, Impl], env: Mapping[str, str], starts: int, *, rules_loaded: bool = False
) -> ColdRun:
    """Process start to first /next in ms (and to `rules loaded` with `rules_loaded`), `starts` times each,
    interleaved, with `env`."""
    run = ColdRun({"cpp": [], "python": []}, {"cpp": [], "python": []})
    # One start each first, not counted: both then load their files from the page cache.
    for r, name in [(-1, n) for n in IMPLS] + list(interleaved(starts)):
        impl = impls[name]
        with runner(impl.command, {**env, **impl.env}) as emulator:
            process = emulator.start_process()
            cold_ms = wait_first_next(process) * 1000
            loaded_ms = wait_rules_loaded(process) * 1000 if rules_loaded else 0.0
        if r >= 0:
            run.first_next[name].append(cold_ms)
            run.rules_loaded[name].append(loaded_ms)
    return run


def measure_cold_starts(impls: dict[str, Impl], endpoint: str, starts: int) -> dict[str, list[float]]:
    # Names only: nothing is created, a cold start makes no AWS call.
    topic, dlq = f"arn:aws:sns:{REGION}:123456789012:t", f"{endpoint}/123456789012/dlq"
    env = FunctionResources("a", "s", topic, dlq, "", endpoint).function_env(RULES)
    return cold_samples(impls, env, starts).first_next


def measure_rules_loaded(
    impls: dict[str, Impl], endpoint: str, starts: int, tool: Path | None = None
) -> ColdRun:
    """Process start to first /next and to `rules loaded`, with the rules table named and RULES imported in
    it (rule_count() versions; the fences, the segmented scans): the C++ function loads them on a thread of
    its own beside its first /next, the baseline at import, before it."""
    stack = create_stack(endpoint, "cold-rules")
    env = stack.table_env(stack.import_rules(tool or default_tool(), [real_micros()]))
    return cold_samples(impls, env, starts, rules_loaded=True)


def cold_figures(cold: dict[str, list[float]], loaded: ColdRun, starts: int) -> dict[str, Any]:
    """The cold-start figures (issue 15): process start to first /next as today (the rules document, no AWS
    call); with the rules table named, process start to first /next and to `rules loaded` (with the rule
    count)."""
    med = statistics.median
    return {
        "cold_start_ms": figure(
            "cold_start_ms",
            med(cold["cpp"]),
            med(cold["python"]),
            starts=starts,
            p90={n: percentile(cold[n], 90) for n in IMPLS},
        ),
        "cold_start_rules_loaded_ms": figure(
            "cold_start_rules_loaded_ms",
            med(loaded.first_next["cpp"]),
            med(loaded.first_next["python"]),
            starts=starts,
            rules=rule_count(),
            p90={n: percentile(loaded.first_next[n], 90) for n in IMPLS},
            source="process start to first /next, RULES_TABLE named: the C++ load runs beside it",
        ),
        "cold_start_to_rules_loaded_ms": figure(
            "cold_start_to_rules_loaded_ms",
            med(loaded.rules_loaded["cpp"]),
            med(loaded.rules_loaded["python"]),
            starts=starts,
            rules=rule_count(),
            p90={n: percentile(loaded.rules_loaded[n], 90) for n in IMPLS},
            source="process start to the `rules loaded` log line, RULES_TABLE named",
        ),
    }


@dataclass
class WarmRun:
    wall_ms: dict[tuple[str, bool], list[float]]
    cpu_ms: dict[tuple[str, bool], list[float]]
    peak_rss_mb: dict[str, float]
    alerts: dict[str, int]


def measure_warm(
    impls: dict[str, Impl],
    endpoint: str,
    batches: int,
    alert_every: int,
    *,
    tag: str = "warm",
    function_endpoints: Mapping[str, str] | None = None,
    tool: Path | None = None,
) -> WarmRun:
    """`function_endpoints`: where each implementation sends its AWS calls (default: `endpoint`, where the
    stacks are created and read back). Each reads RULES from its rules table, imported by `tool` (mode
    every: the alert batches keep firing)."""
    wall: dict[tuple[str, bool], list[float]] = {(n, a): [] for n in IMPLS for a in (False, True)}
    cpu: dict[tuple[str, bool], list[float]] = {(n, a): [] for n in IMPLS for a in (False, True)}
    stacks = {name: create_stack(endpoint, f"{tag}-{name}") for name in IMPLS}
    via = function_endpoints or {}
    span = ticks_us([*warm_batch(0, alerts=False), *warm_batch(batches - 1, alerts=False)])
    rules = create_stack(endpoint, f"{tag}-rules").import_rules(tool or default_tool(), span)
    envs = {name: stacks[name].table_env(rules) for name in IMPLS}
    functions = {
        name: WarmFunction(
            impls[name], {**envs[name], **({"AWS_ENDPOINT_URL": via[name]} if name in via else {})}
        )
        for name in IMPLS
    }
    with functions["cpp"], functions["python"]:
        for i, name in interleaved(batches):
            alerts = i % alert_every == alert_every - 1
            seconds, cpu_s = functions[name].invoke(bench_event(warm_batch(i, alerts), f"warm-{i}"))
            wall[(name, alerts)].append(seconds * 1000)
            cpu[(name, alerts)].append(cpu_s * 1000)
            if i and i % 200 == 0 and name == "python":
                log(f"  warm: {i}/{batches} batches")
        rss = {name: proc_hwm_mb(functions[name].pid) for name in IMPLS}
    counts = {name: len(stacks[name].alert_keys()) for name in IMPLS}
    if counts["cpp"] != counts["python"] or counts["cpp"] == 0:
        raise SystemExit(f"warm run: different alert counts {counts}")
    return WarmRun(wall, cpu, rss, counts)


def measure_modelled(
    impls: dict[str, Impl],
    endpoint: str,
    batches: int,
    alert_every: int,
    seed: int,
    *,
    tool: Path | None = None,
) -> dict[str, Any]:
    """The warm run with each implementation's AWS calls through a latency proxy of its own (the same seed:
    the same calls in the same order get the same latencies), reported under `aws_latency_model`."""
    proxies = {name: FaultProxy(endpoint, latency=AwsLatencyModel(seed)) for name in IMPLS}
    with proxies["cpp"], proxies["python"]:
        warm = measure_warm(
            impls,
            endpoint,
            batches,
            alert_every,
            tag="modelled",
            function_endpoints={n: p.url for n, p in proxies.items()},
            tool=tool,
        )
    calls = {name: ProxiedCalls(p.latency_stats(), p.unmodelled()) for name, p in proxies.items()}
    return modelled_report(AwsLatencyModel(seed), batches, alert_every, warm, calls)


@dataclass(frozen=True)
class ProxiedCalls:
    """What one implementation's latency proxy saw."""

    held: Mapping[tuple[str, str], LatencyStats]
    unmodelled: Mapping[tuple[str, str], int]


def modelled_report(
    model: AwsLatencyModel, batches: int, alert_every: int, warm: WarmRun, calls: Mapping[str, ProxiedCalls]
) -> dict[str, Any]:
    """`aws_latency_model` of the result file: the table, the warm figures under it, and per implementation
    the exceed shares (the figures count only if every share is below the limit), the part of the sampled
    time the local path (proxy and moto) and moto alone used, and the calls the model has no figure for
    (answered at once)."""
    exceeded, used = {}, {}
    for name, seen in calls.items():
        exceeded[name] = exceed_report(
            {
                f"{s}/{o}": Exceeded(st.calls, st.exceeded, st.upstream_exceeded)
                for (s, o), st in seen.held.items()
            }
        )
        sampled = sum(st.sampled_s for st in seen.held.values())
        used[name] = {
            "local": 1 - sum(st.held_s for st in seen.held.values()) / sampled if sampled else 0.0,
            "moto": sum(st.upstream_s for st in seen.held.values()) / sampled if sampled else 0.0,
        }
    return {
        "seed": model.seed,
        "batches": batches,
        "alert_every": alert_every,
        "table": model.describe(),
        "figures": {
            f"warm{'_alert' if alerts else ''}_batch_p{p}_ms": figure(
                "warm_batch_ms",
                percentile(warm.wall_ms[("cpp", alerts)], p),
                percentile(warm.wall_ms[("python", alerts)], p),
                alerts=4 if alerts else 0,
            )
            for alerts in (False, True)
            for p in (50, 99)
        },
        "function_cpu_per_batch_ms": {
            f"{n}{'_alert' if a else ''}": statistics.fmean(warm.cpu_ms[(n, a)])
            for n in IMPLS
            for a in (False, True)
        },
        "exceeded": exceeded,
        "counts": all(report["counts"] for report in exceeded.values()),
        "share_of_sampled_time": used,
        "unmodelled_calls": {
            name: {f"{s}/{o}": n for (s, o), n in sorted(seen.unmodelled.items())}
            for name, seen in calls.items()
        },
    }


def measure_throughput(
    impls: dict[str, Impl], endpoint: str, bodies: Sequence[str], rounds: int
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Ticks per second from the first send to the last delete, and the function's CPU ms per message."""
    ticks = sum(len(feed_ticks(b)) for b in bodies)
    rates: dict[str, list[float]] = {"cpp": [], "python": []}
    cpu_per_message: dict[str, list[float]] = {"cpp": [], "python": []}
    for r, name in interleaved(rounds):
        stack = create_stack(endpoint, f"tp{r}-{name}")
        config = EventSourceConfig(stack.source_url, stack.source_arn, REGION, batch_size=BATCH)
        with WarmFunction(impls[name], stack.function_env()) as fn:
            cpu0 = proc_cpu_s(fn.pid)
            source = SqsEventSource(config, stack.client("sqs"), [fn.emulator])
            start = time.monotonic()
            sender = threading.Thread(
                target=send_feed, args=(bodies, stack.source_url), kwargs={"client": stack.client("sqs")}
            )
            sender.start()
            with source:
                deadline = start + 300
                while len(source.stats.deleted) < len(bodies):
                    if time.monotonic() > deadline or source.errors:
                        raise RuntimeError(
                            f"throughput {name}: {len(source.stats.deleted)} of "
                            f"{len(bodies)} done; errors {source.errors[:3]}"
                        )
                    time.sleep(0.01)
                elapsed = time.monotonic() - start
            sender.join()
            cpu_per_message[name].append((proc_cpu_s(fn.pid) - cpu0) * 1000 / len(bodies))
        rates[name].append(ticks / elapsed)
    return rates, cpu_per_message


def measure_fidelity(impl: Impl, endpoint: str, bodies: Sequence[str]) -> dict[str, Any]:
    """The feed through the local event source to FIDELITY_CONCURRENCY warm environments at once, as sent;
    the stored alerts judged per rule against the in-order replay of its valid ticks (the ticks the function
    counted beyond the reorder window may explain as many misses per rule)."""
    stack = create_stack(endpoint, "fidelity")
    config = EventSourceConfig(stack.source_url, stack.source_arn, REGION, batch_size=BATCH)
    env = stack.function_env()
    functions = [WarmFunction(impl, env) for _ in range(FIDELITY_CONCURRENCY)]
    with contextlib.ExitStack() as running:
        for fn in functions:
            running.enter_context(fn)
        source = SqsEventSource(config, stack.client("sqs"), [fn.emulator for fn in functions])
        sender = threading.Thread(
            target=send_feed, args=(bodies, stack.source_url), kwargs={"client": stack.client("sqs")}
        )
        with source:
            sender.start()
            deadline = time.monotonic() + 300
            while len(set(source.stats.deleted)) < len(bodies):
                if time.monotonic() > deadline or source.errors:
                    raise RuntimeError(f"fidelity: {len(source.stats.deleted)} of {len(bodies)} done")
                time.sleep(0.05)
        sender.join()
        metrics = emf_totals(line for fn in functions for p in fn.emulator.processes for line in p.stdout)
    rules = oracle.load_rules(json.loads(RULES.read_text(encoding="utf-8")))
    ticks = [t for body in oracle.parse_feed(bodies) for t in body.ticks]
    beyond = int(metrics.get("TicksBeyondWindow", 0))
    result = oracle.fidelity(ticks, rules, stack.resources.alerts(), beyond_w_count=beyond)
    return {
        "implementation": impl.name,
        "concurrency": FIDELITY_CONCURRENCY,
        # W by event time the function ran with (unset: the table's default); its count bound is 256 ticks
        "reorder_window_seconds": int(env.get(REORDER_WINDOW.name, REORDER_WINDOW.default)),
        "feed_messages": len(bodies),
        "feed_ticks": len(ticks),
        "late_ticks": int(metrics["LateTicks"]),
        "ticks_beyond_window": beyond,
        **result.as_dict(),
        "table": fidelity_lines(result),
    }


def outputs_and_fidelity(
    impls: dict[str, Impl], endpoint: str, bodies: Sequence[str], tool: Path | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The same-outputs gate (concurrency 1, in order), then the fidelity figure (concurrency 5)."""
    same = run_callable(
        "same outputs on the benchmark feed", lambda: check_same_outputs(impls, endpoint, bodies, tool)
    )
    log(f"  both: {same['alerts']} alerts, {same['notifications']} notifications")
    fidelity = run_callable(
        f"fidelity at concurrency {FIDELITY_CONCURRENCY}",
        lambda: measure_fidelity(impls["cpp"], endpoint, bodies),
    )
    log(f"  {fidelity['matched']} of {fidelity['replay']} alerts of the replay matched")
    return same, fidelity


def fidelity_text(fidelity: dict[str, Any]) -> str:
    head = (
        f"fidelity at concurrency {fidelity['concurrency']} (stored alerts against the in-order replay, F3):"
    )
    return "\n\n" + head + "\n" + "\n".join(fidelity["table"])


def run_callable(label: str, fn: Callable[[], Any]) -> Any:
    log(f"{label} ...")
    started = time.monotonic()
    value = fn()
    log(f"{label}: {time.monotonic() - started:.0f} s")
    return value


# ------------------------------------------------------------------ report
def chart(path: Path, cold: dict[str, list[float]], warm: WarmRun) -> None:
    """Empirical CDFs (log time axis) of cold starts and warm invocations, both implementations."""
    # Imported here: only the report needs it, and the Agg backend must be chosen before pyplot loads.
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415
    from matplotlib.ticker import FuncFormatter, NullFormatter  # noqa: PLC0415

    panels = [
        ("cold start (process start to first /next)", {n: cold[n] for n in IMPLS}),
        ("warm 25-record batch, no alerts (moto)", {n: warm.wall_ms[(n, False)] for n in IMPLS}),
        ("warm 25-record batch, 4 alerts (moto)", {n: warm.wall_ms[(n, True)] for n in IMPLS}),
        ("function CPU per batch, no alerts", {n: warm.cpu_ms[(n, False)] for n in IMPLS}),
    ]
    fig, axes = plt.subplots(2, 2, figsize=(11, 7))
    colors = {"cpp": "tab:blue", "python": "tab:orange"}
    labels = {"cpp": "C++ (provided.al2023)", "python": "Python 3.11 baseline"}
    for ax, (title, series) in zip(axes.flat, panels, strict=True):
        for name, values in series.items():
            ordered = sorted(max(v, 1e-3) for v in values)
            ys = [(i + 1) / len(ordered) for i in range(len(ordered))]
            ax.step(ordered, ys, where="post", color=colors[name], label=labels[name])
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("ms (log)")
        ax.set_ylabel("fraction <= x")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
    fig.suptitle("C++ function vs Python baseline: latency distributions (make bench)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def fmt(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 1:
        return f"{value:.2f}"
    return f"{value:.4g}"


def table(doc: dict[str, Any]) -> str:
    rows = [("figure", "C++", "Python", "C++ advantage")]
    for name, fig in doc["figures"].items():
        rows.append((name, fmt(fig["cpp"]), fmt(fig["python"]), f"{fig['ratio']:.1f}x"))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def modelled_summary(modelled: dict[str, Any]) -> str:
    """The warm figures under the AWS latency model and whether they count (exceed share < the limit)."""
    lines = [f"\nunder the AWS latency model (seed {modelled['seed']}, {modelled['batches']} batches each):"]
    for name, fig in modelled["figures"].items():
        lines.append(f"  {name}: C++ {fmt(fig['cpp'])}, Python {fmt(fig['python'])} ({fig['ratio']:.2f}x)")
    for impl, report in modelled["exceeded"].items():
        lines.append(
            f"  {impl}: answered later than the sample in {report['exceeded']} of {report['calls']} calls "
            f"({report['share']:.2%}; counts only below {report['limit']:.0%}); moto alone took longer in "
            f"{report['moto_alone_exceeded']} ({report['moto_alone_share']:.2%})"
        )
    lines.append("  the live figures " + ("count" if modelled["counts"] else "do NOT count"))
    return "\n".join(lines)


# ------------------------------------------------------------------ main
def arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--build",
        type=Path,
        default=ROOT / "build" / "cpp-release",
        help="CMake build with bootstrap and tap_core_bench (Release, TAP_BENCH=ON)",
    )
    parser.add_argument("--cold-starts", type=int, default=20)
    parser.add_argument("--batches", type=int, default=1000, help="warm batches per implementation")
    parser.add_argument("--alert-every", type=int, default=5, help="every Nth warm batch raises alerts")
    parser.add_argument("--feed-messages", type=int, default=300)
    parser.add_argument("--throughput-rounds", type=int, default=2)
    parser.add_argument("--cpu-rounds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--aws-model",
        action="store_true",
        default=os.environ.get("TAP_AWS_MODEL") == "1",
        help="also the warm run through the AWS latency model (bench/aws_model.py); env TAP_AWS_MODEL=1",
    )
    parser.add_argument("--aws-model-batches", type=int, default=300, help="warm batches under the model")
    parser.add_argument("--aws-model-seed", type=int, default=17)
    parser.add_argument(
        "--only",
        choices=("fidelity", "outputs", "cold"),
        help="measure only this part (needs only the bootstrap) and replace its key in the result file",
    )
    return parser


def fidelity_only(bootstrap: Path, feed_messages: int, out: Path) -> int:
    """`fidelity` alone (make bench-fidelity): the C++ function at FIDELITY_CONCURRENCY on the benchmark
    feed, merged into the result file with every other key kept. Any build of bootstrap will do: the figure
    counts alerts, not time."""
    if not os.access(bootstrap, os.X_OK):
        raise SystemExit(f"{bootstrap} missing: build it first (make bench-fidelity does)")
    bodies = generate_feed(FeedConfig(seed=7, messages=feed_messages))
    with MotoServer() as moto:
        fidelity = run_callable(
            f"fidelity at concurrency {FIDELITY_CONCURRENCY}",
            lambda: measure_fidelity(implementations(bootstrap)["cpp"], moto.url, bodies),
        )
    fidelity["measured"] = datetime.now(UTC).isoformat(timespec="seconds")
    merge_results({"fidelity": fidelity}, out / "latest.json")
    print(fidelity_text(fidelity).lstrip("\n"))
    print(f"wrote fidelity to {out / 'latest.json'}")
    return 0


def rules_tool_of(build: Path) -> Path:
    """The build's tap_rules, else the host build's (local/rules_import.py)."""
    tool = build / "src" / "tap_rules"
    return tool if tool.is_file() else default_tool()


def part_only(part: str, bootstrap: Path, args: argparse.Namespace) -> int:
    """`--only fidelity` (fidelity_only); `--only outputs`: the same-outputs gate on the rules table, its key
    replaced in the result file; `--only cold`: the cold-start figures, replaced under `figures`."""
    if part == "fidelity":
        return fidelity_only(bootstrap, args.feed_messages, args.out)
    tool = rules_tool_of(args.build)
    if not os.access(bootstrap, os.X_OK):
        raise SystemExit(f"{bootstrap} missing: build it first")
    impls = implementations(bootstrap)
    path = args.out / "latest.json"
    with MotoServer() as moto:
        if part == "outputs":
            bodies = generate_feed(FeedConfig(seed=7, messages=args.feed_messages))
            same = run_callable("same outputs", lambda: check_same_outputs(impls, moto.url, bodies, tool))
            merge_results({"same_outputs": same}, path)
            print(json.dumps(same))
            return 0
        cold = run_callable("cold starts", lambda: measure_cold_starts(impls, moto.url, args.cold_starts))
        loaded = run_callable(
            "cold starts, rules table", lambda: measure_rules_loaded(impls, moto.url, args.cold_starts, tool)
        )
    figures = cold_figures(cold, loaded, args.cold_starts)
    doc = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    merge_results({"figures": {**doc.get("figures", {}), **figures}}, path)
    for name, fig in figures.items():
        print(f"{name}: C++ {fig['cpp']:.1f} ms, Python {fig['python']:.1f} ms ({fig['ratio']:.1f}x)")
    return 0


def built_executables(build: Path) -> tuple[Path, Path]:
    """tap_core_bench and tap_rules_scale_bench of `build`, after checking that they and bootstrap exist."""
    bench_exe, scale_exe = (build / "bench" / name for name in ("tap_core_bench", "tap_rules_scale_bench"))
    for exe in (build / "src" / "bootstrap", bench_exe, scale_exe):
        if not os.access(exe, os.X_OK):
            raise SystemExit(f"{exe} missing: build it first (make bench does)")
    return bench_exe, scale_exe


def main(argv: Sequence[str] | None = None) -> int:
    parser = arguments()
    args = parser.parse_args(argv)
    bootstrap = args.build / "src" / "bootstrap"
    if args.only:
        return part_only(args.only, bootstrap, args)
    tool = rules_tool_of(args.build)
    bench_exe, scale_exe = built_executables(args.build)
    WORK.mkdir(parents=True, exist_ok=True)
    args.out.mkdir(parents=True, exist_ok=True)
    impls = implementations(bootstrap)
    began = time.monotonic()
    from bench.api import measure_default as api_bench  # noqa: PLC0415 (bench.api reads this module's helpers)

    bodies = generate_feed(FeedConfig(seed=7, messages=args.feed_messages))
    event_path = WORK / "event.json"
    clean = [b for b in bodies if feed_ticks(b)][:BATCH]
    event_path.write_bytes(bench_event(clean, "pure"))

    with MotoServer() as moto:
        endpoint = moto.url
        same, fidelity = outputs_and_fidelity(impls, endpoint, bodies, tool)
        cpu = run_callable(
            "cpu per tick (pure path)", lambda: measure_cpu_per_tick(bench_exe, event_path, args.cpu_rounds)
        )
        cold = run_callable(
            f"cold starts x{args.cold_starts}", lambda: measure_cold_starts(impls, endpoint, args.cold_starts)
        )
        loaded = run_callable(
            f"cold starts with the rules table x{args.cold_starts}",
            lambda: measure_rules_loaded(impls, endpoint, args.cold_starts, tool),
        )
        warm = run_callable(
            f"warm run, {args.batches} batches each",
            lambda: measure_warm(impls, endpoint, args.batches, args.alert_every, tool=tool),
        )
        modelled = (
            run_callable(
                f"warm run under the AWS latency model, {args.aws_model_batches} batches each",
                lambda: measure_modelled(
                    impls, endpoint, args.aws_model_batches, args.alert_every, args.aws_model_seed, tool=tool
                ),
            )
            if args.aws_model
            else None
        )
        rates, cpu_msg = run_callable(
            f"throughput x{args.throughput_rounds}",
            lambda: measure_throughput(impls, endpoint, bodies, args.throughput_rounds),
        )
        api_figures = run_callable(
            "the traders' API function (bench/api.py)", lambda: api_bench(bootstrap, endpoint)
        )

    feed_ticks_total = sum(len(feed_ticks(b)) for b in bodies)
    base = workload_of(bodies)
    workload = cost_model.Workload(
        base.ticks_per_message,
        same["alerts"] / feed_ticks_total,
        base.state_writes_per_batch,
        base.state_reads_per_batch,
    )
    cpu_ms_batch = {n: statistics.median(cpu_msg[n]) * BATCH for n in IMPLS}
    at_3gb = {n: cost_model.cost_per_million_ticks(cpu_ms_batch[n], 3072, workload) for n in IMPLS}
    memory = cost_model.recommended_memory_mb(warm.peak_rss_mb["cpp"])
    at_need = cost_model.cost_per_million_ticks(cpu_ms_batch["cpp"], memory, workload)

    med = statistics.median
    figures = {
        "cpu_per_tick_ns": figure(
            "cpu_per_tick_ns",
            med(cpu["cpp"]),
            med(cpu["python"]),
            samples=cpu,
            event=str(event_path.relative_to(ROOT)),
        ),
        **cold_figures(cold, loaded, args.cold_starts),
        "peak_rss_mb": figure(
            "peak_rss_mb", warm.peak_rss_mb["cpp"], warm.peak_rss_mb["python"], after_batches=args.batches
        ),
        "warm_batch_p50_ms": figure(
            "warm_batch_p50_ms",
            percentile(warm.wall_ms[("cpp", False)], 50),
            percentile(warm.wall_ms[("python", False)], 50),
            alerts=0,
        ),
        "warm_batch_p99_ms": figure(
            "warm_batch_p99_ms",
            percentile(warm.wall_ms[("cpp", False)], 99),
            percentile(warm.wall_ms[("python", False)], 99),
            alerts=0,
        ),
        "warm_alert_batch_p50_ms": figure(
            "warm_alert_batch_p50_ms",
            percentile(warm.wall_ms[("cpp", True)], 50),
            percentile(warm.wall_ms[("python", True)], 50),
            alerts=4,
        ),
        "warm_alert_batch_p99_ms": figure(
            "warm_alert_batch_p99_ms",
            percentile(warm.wall_ms[("cpp", True)], 99),
            percentile(warm.wall_ms[("python", True)], 99),
            alerts=4,
        ),
        "function_cpu_per_batch_ms": figure(
            "function_cpu_per_batch_ms",
            statistics.fmean(warm.cpu_ms[("cpp", False)]),
            statistics.fmean(warm.cpu_ms[("python", False)]),
            alerts=0,
            source="/proc/<pid>/stat utime+stime",
        ),
        "function_cpu_per_alert_batch_ms": figure(
            "function_cpu_per_alert_batch_ms",
            statistics.fmean(warm.cpu_ms[("cpp", True)]),
            statistics.fmean(warm.cpu_ms[("python", True)]),
            alerts=4,
        ),
        "ticks_per_second": figure(
            "ticks_per_second",
            med(rates["cpp"]),
            med(rates["python"]),
            samples=rates,
            feed_messages=len(bodies),
            feed_ticks=feed_ticks_total,
        ),
        "cost_per_million_ticks_usd": figure(
            "cost_per_million_ticks_usd",
            at_3gb["cpp"].total,
            at_3gb["python"].total,
            memory_mb=3072,
            cpu_ms_per_batch=cpu_ms_batch,
            breakdown={n: at_3gb[n].as_dict() for n in IMPLS},
            cpp_recommended={"memory_mb": memory, **at_need.as_dict()},
            workload=workload.__dict__,
            prices=cost_model.prices(),
        ),
    }
    doc = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "counts": {
            "cold_starts": args.cold_starts,
            "warm_batches": args.batches,
            "alert_every": args.alert_every,
            "feed_messages": len(bodies),
            "throughput_rounds": args.throughput_rounds,
            "cpu_rounds": args.cpu_rounds,
        },
        "same_outputs": same,
        "fidelity": fidelity,
        "warm_alerts_stored": warm.alerts,  # equal for both (checked); 4 per alert batch
        "figures": figures,
        "targets": check_targets(figures),
        "api": api_figures,
        "rules_scale": run_callable(
            "rules_scale (10 to 1,000,000 versions)", lambda: rules_scale.measure(scale_exe)
        ),
        "duration_s": round(time.monotonic() - began, 1),
    }
    if modelled is not None:
        doc["aws_latency_model"] = modelled
    problems = validate_results(doc)
    if problems:
        raise SystemExit(f"result file invalid: {problems}")
    (args.out / "latest.json").write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    chart(args.out / "latency.png", cold, warm)
    print(table(doc) + fidelity_text(fidelity))
    print(
        f"\nmachine: {doc['machine']['cpu_model']}, {doc['machine']['cores']} cores; {doc['date']}; "
        f"{doc['duration_s']:.0f} s"
    )
    print(f"C++ at its recommended {memory} MB: ${at_need.total:.4f} per million ticks")
    for name, target in doc["targets"].items():
        print(
            f"target {name}: ratio {target['ratio']:.1f}x (>= {target['min_ratio']:.0f}x"
            + (f", C++ <= {target['max_cpp']:.0f}" if target["max_cpp"] else "")
            + ") "
            + ("met" if target["met"] else "MISSED")
        )
    if modelled is not None:
        print(modelled_summary(modelled))
    print(f"wrote {args.out / 'latest.json'} and {args.out / 'latency.png'}")
    print(
        rules_scale.describe(doc["rules_scale"]),
        f"wrote {args.out / 'latest.json'} and {args.out / 'latency.png'}",
        sep="\n",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`make bench-aws-model`: each implementation's AWS call graphs recorded live under the latency model and
replayed (issue 17 item 4); writes `aws_model` into bench/results/latest.json and
bench/results/aws_model.png.

Three variants, each a warm function at concurrency 1 behind a latency proxy of its own (local/fault_proxy.py
holding each answer by bench/aws_model.py, the same seed) that records every call's span: the C++ function,
the Python baseline sequential (BASELINE_THREADS=1) and threaded (BASELINE_THREADS=8). Each gets the same
batches in turn: quiet (25 one-tick messages, no alert), 4 alerts, 25 alerts (bench/run.py's warm batches,
and 25 block trades on 25 symbols). Each invocation's spans (those between its start and end) give its
call graph (bench/call_graph.py); per variant and batch kind the most frequent graph is replayed 10,000
times with the variant's mean CPU per batch of that kind. The sequential baseline is replayed as its calls
in one chain. The live wall times are the cross-check (the replay within 15 % of them where the proxy's
exceed share counts). From the replays: the issue's targets, the capacity table and tick-to-notification
per event source setting (bench/capacity.py) and the cost per million alerts and ticks
(bench/cost_model.py).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from bench import capacity, cost_model
from bench.aws_model import AwsLatencyModel, Exceeded, exceed_report
from bench.call_graph import (
    REPLAYS,
    CallGraph,
    Replay,
    SpanLike,
    assign,
    calls_of,
    chain_replay,
    infer,
    modal_calls,
    p50_weights,
    replay,
    replay_pooled,
    short,
    slowest_of,
    summary,
)
from lib.config import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_BATCHING_WINDOW_SECONDS,
    LOW_LATENCY_BATCH_SIZE,
    LOW_LATENCY_BATCHING_WINDOW_SECONDS,
)

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
BATCH = 25
KINDS = ("quiet", "alerts_4", "alerts_25")
ALERTS = {"quiet": 0, "alerts_4": 4, "alerts_25": 25}
VARIANTS = ("cpp", "python_sequential", "python_threaded")
THREADS = 8  # the threaded baseline's pool (BASELINE_THREADS)
CROSS_CHECK = 0.15  # the replay's p50 within 15 % of the live p50
PUBLISHES = ("Publish", "PublishBatch")
WRITES = ("PutItem", "UpdateItem", "TransactWriteItems")  # a batch's conditional writes (the state commits)
DELIVERIES = (
    capacity.Delivery("default", DEFAULT_BATCH_SIZE, DEFAULT_BATCHING_WINDOW_SECONDS),
    capacity.Delivery("low_latency", LOW_LATENCY_BATCH_SIZE, LOW_LATENCY_BATCHING_WINDOW_SECONDS),
)
# Issue 17's targets.
QUIET_MARGIN_MS = 3.0
CHAIN_MARGIN_MS = 5.0
VS_SEQUENTIAL = 3.0
VS_THREADED = 0.8
LOW_LATENCY_P50_MS = 150.0
ZIPF_SYMBOLS, ZIPF_EXPONENT = 10_000, 1.1
TICKS_PER_MESSAGE_FOR_COST = 100


# The order of the batches: a quiet batch after an alert batch may also write the alert batch's "sent" marks
# (a mark may move to a later invocation); two of every four quiet batches follow a quiet one, so that the
# most frequent quiet graph is a quiet batch's own, and the others are reported apart.
CYCLE = ("alerts_4", "quiet", "quiet", "alerts_25", "quiet", "quiet")


def kind_of(i: int) -> str:
    return CYCLE[i % len(CYCLE)]


def alert25_batch(index: int) -> list[str]:
    """25 one-tick messages on 25 symbols, each a block trade (volume above the block-trade rule's 100,000):
    25 alerts. 5 minutes after the previous batch, as bench/run.py's warm batches (past every cooldown)."""
    start = datetime(2026, 11, 25, 14, 30, tzinfo=UTC) + timedelta(minutes=5 * index)
    bodies = []
    for j in range(BATCH):
        tick = {
            "symbol": f"BLK{chr(ord('A') + j)}",
            "price": 50.0,
            "timestamp": (start + timedelta(seconds=j)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            "volume": 200_000,
            "bid": 49.99,
            "ask": 50.01,
        }
        bodies.append(json.dumps(tick, separators=(",", ":")))
    return bodies


# ------------------------------------------------------------------ what one live run records
@dataclass(frozen=True)
class Invocation:
    kind: str
    start: float  # monotonic, the proxy's clock
    end: float
    cpu_ms: float


@dataclass(frozen=True)
class Recorded:
    """One variant's live run: its invocations, the proxy's spans and exceed counts."""

    invocations: Sequence[Invocation]
    spans: Sequence[SpanLike]
    exceeded: Mapping[str, Exceeded]


# ------------------------------------------------------------------ the report (pure)
def graphs_of(recorded: Recorded) -> dict[str, list[CallGraph]]:
    per_invocation = assign(recorded.spans, [(i.start, i.end) for i in recorded.invocations])
    out: dict[str, list[CallGraph]] = {k: [] for k in KINDS}
    for invocation, spans in zip(recorded.invocations, per_invocation, strict=True):
        out[invocation.kind].append(infer(spans))
    return out


def others(graphs: Sequence[CallGraph], chosen: CallGraph) -> dict[str, Any]:
    """The invocations whose calls differ from the replayed ones' (e.g. the periodic rules refresh, at most
    one a second, or the marks of the alert batch before): how many, and the calls they made beyond."""
    different = [g for g in graphs if calls_of(g) != calls_of(chosen)]
    extra: Counter[str] = Counter()
    base = Counter(chosen.calls)
    for g in different:
        extra.update(Counter(g.calls) - base)
    return {"invocations": len(different), "extra_calls": dict(sorted(extra.items()))}


@dataclass
class Variant:
    """One variant's replays per batch kind, with what they came from."""

    graphs: dict[str, CallGraph]
    replays: dict[str, Replay]
    cpu_ms: dict[str, float]
    live_ms: dict[str, list[float]]
    rows: dict[str, dict[str, Any]]


def replay_variant(name: str, recorded: Recorded, seed: int, replays: int) -> Variant:
    graphs, results, cpu, live, rows = {}, {}, {}, {}, {}
    by_kind = graphs_of(recorded)
    counts = exceed_report(recorded.exceeded)["counts"]
    for k in KINDS:
        invocations = [i for i in recorded.invocations if i.kind == k]
        same, graph = modal_calls(by_kind[k])
        cpu[k] = statistics.fmean(i.cpu_ms for i in invocations)
        live[k] = [(i.end - i.start) * 1000 for i in invocations]
        if name == "python_sequential":  # the same calls as one chain
            graphs[k] = CallGraph.chain(graph.calls)
            results[k] = replay(graphs[k], cpu[k], seed, replays)
        else:  # every invocation that made these calls, with its own waits
            graphs[k] = graph
            results[k] = replay_pooled(same, cpu[k], seed, replays)
        replayed = graphs[k]
        live_p50 = float(np.percentile(live[k], 50))
        row = summary(replayed, results[k])
        deviation = row["p50_ms"] / live_p50 - 1
        rows[k] = {
            **row,
            "cpu_ms": cpu[k],
            "invocations": len(invocations),
            "with_these_calls": len(same),
            "with_this_graph": sum(1 for g in same if g.signature() == graph.signature()),
            "other_graphs": others(by_kind[k], graph),
            "live": {
                "p50_ms": live_p50,
                "p99_ms": float(np.percentile(live[k], 99)),
                "replay_vs_live": deviation,
                "within_15_percent": abs(deviation) <= CROSS_CHECK,
                "counts": counts,
            },
        }
    return Variant(graphs, results, cpu, live, rows)


def targets(variants: Mapping[str, Variant], seed: int, replays: int) -> dict[str, Any]:
    cpp = variants["cpp"]
    quiet = cpp.graphs["quiet"]
    k = sum(1 for c in quiet.calls if short(c) in WRITES)
    from bench.capacity import row as model_row  # noqa: PLC0415 (one name for two modules' row)

    slowest = (
        float(np.percentile(slowest_of(k, model_row("dynamodb_write"), seed, replays), 50)) if k else 0.0
    )
    quiet_p50 = cpp.replays["quiet"].percentile(50)
    out: dict[str, Any] = {
        "quiet": {
            "p50_ms": quiet_p50,
            "k_parallel_writes": k,
            "slowest_of_k_p50_ms": slowest,
            "bound_ms": slowest + QUIET_MARGIN_MS,
            "met": quiet_p50 <= slowest + QUIET_MARGIN_MS,
        }
    }
    for kind in ("alerts_4", "alerts_25"):
        graph = cpp.graphs[kind]
        path = graph.longest_chain(p50_weights())
        chain_p50 = chain_replay(graph, path, seed, replays).percentile(50)
        p50 = {n: v.replays[kind].percentile(50) for n, v in variants.items()}
        out[kind] = {
            "chain": graph.describe_chain(path),
            "chain_p50_ms": chain_p50,
            "p50_ms": p50,
            "bound_ms": chain_p50 + CHAIN_MARGIN_MS,
            "met_chain": p50["cpp"] <= chain_p50 + CHAIN_MARGIN_MS,
            "sequential_over_cpp": p50["python_sequential"] / p50["cpp"],
            "met_3x_below_sequential": p50["python_sequential"] >= VS_SEQUENTIAL * p50["cpp"],
            "cpp_over_threaded": p50["cpp"] / p50["python_threaded"],
            "met_0_8x_threaded": p50["cpp"] <= VS_THREADED * p50["python_threaded"],
        }
    return out


def capacity_of(variant: Variant, seed: int) -> dict[str, Any]:
    """The capacity table, alerts per second and tick-to-notification of one variant."""
    quiet = variant.replays["quiet"]
    calls_ms = float(np.mean(quiet.wall_ms)) - variant.cpu_ms["quiet"]
    cpu_per_tick = variant.cpu_ms["quiet"] / BATCH
    alert_ms = float(np.mean(variant.replays["alerts_25"].wall_ms))
    published = variant.replays["alerts_4"].ends_of(PUBLISHES)
    latency = {
        d.name: {
            "batch_size": d.batch_size,
            "window_s": d.window_s,
            **capacity.percentiles(
                capacity.tick_to_notification_ms(published, variant.cpu_ms["alerts_4"], d, seed)
            ),
        }
        for d in DELIVERIES
    }
    return {
        "calls_ms_per_quiet_batch": calls_ms,
        "cpu_ms_per_tick": cpu_per_tick,
        "table": capacity.capacity_table(calls_ms, cpu_per_tick, DEFAULT_BATCH_SIZE),
        "alerts_per_second": capacity.alerts_per_second(ALERTS["alerts_25"], alert_ms),
        "tick_to_notification": latency,
    }


def cost_of(variant: Variant, workload: cost_model.Workload, crossing_keys: int) -> dict[str, Any]:
    """Per million alerts (the 25-alert batch's extra wall time per alert, billed) and per million ticks at
    100 ticks per message on the benchmark feed and on 10,000 Zipf(1.1) symbols: the ticks' own cost (the
    batches with their state reads and writes, no alert) plus the feed's alerts at the cost per alert."""
    quiet_ms = float(np.mean(variant.replays["quiet"].wall_ms))
    per_alert = (float(np.mean(variant.replays["alerts_25"].wall_ms)) - quiet_ms) / ALERTS["alerts_25"]
    publishes = sum(1 for c in variant.graphs["alerts_25"].calls if short(c) in PUBLISHES)
    per_request = min(10.0, max(1.0, ALERTS["alerts_25"] / max(publishes, 1)))
    alerts = cost_model.cost_per_million_alerts(
        max(per_alert, 0.0), cost_model.BASELINE_MEMORY_MB, per_request
    )
    calls_ms = quiet_ms - variant.cpu_ms["quiet"]
    cpu_per_tick = variant.cpu_ms["quiet"] / BATCH
    ticks_per_batch = DEFAULT_BATCH_SIZE * TICKS_PER_MESSAGE_FOR_COST
    distinct = cost_model.expected_distinct(
        cost_model.zipf_weights(ZIPF_SYMBOLS, ZIPF_EXPONENT), ticks_per_batch
    )
    ticks: dict[str, Any] = {}
    for name, writes in (("benchmark_feed", float(crossing_keys)), ("zipf_10000", distinct)):
        quiet = cost_model.Workload(TICKS_PER_MESSAGE_FOR_COST, 0.0, writes, writes)
        own = cost_model.cost_per_million_ticks(
            cpu_per_tick * ticks_per_batch, cost_model.BASELINE_MEMORY_MB, quiet, wait_ms_per_batch=calls_ms
        ).as_dict()
        of_alerts = workload.alerts_per_tick * alerts["total"]
        ticks[name] = {
            "ticks_alone": own,
            "alerts_per_tick": workload.alerts_per_tick,
            "alerts": of_alerts,
            "total": own["total"] + of_alerts,
            "state_writes_per_batch": writes,
            "state_writes_per_tick": writes / ticks_per_batch,
        }
    feed = ticks["benchmark_feed"]
    feed["target"] = cost_model.TICK_TARGET_USD
    feed["met"] = feed["total"] <= cost_model.TICK_TARGET_USD
    feed["met_without_alerts"] = feed["ticks_alone"]["total"] <= cost_model.TICK_TARGET_USD
    return {
        "per_million_alerts": alerts,
        "per_million_ticks": {"ticks_per_message": TICKS_PER_MESSAGE_FOR_COST, **ticks},
    }


def report(
    recorded: Mapping[str, Recorded],
    seed: int,
    workload: cost_model.Workload,
    crossing_keys: int,
    replays: int = REPLAYS,
) -> dict[str, Any]:
    """`aws_model` of the result file from the live runs of the three variants."""
    variants = {name: replay_variant(name, recorded[name], seed, replays) for name in VARIANTS}
    return {
        "seed": seed,
        "replays": replays,
        "table": AwsLatencyModel(seed).describe(),
        "assumption": (
            "B waits for A when A was answered before B arrived (same invocation), transitively reduced"
        ),
        "batches": {name: v.rows for name, v in variants.items()},
        "exceeded": {name: exceed_report(r.exceeded) for name, r in recorded.items()},
        "targets": targets(variants, seed, replays),
        "capacity": {name: capacity_of(v, seed) for name, v in variants.items()},
        "cost": cost_of(variants["cpp"], workload, crossing_keys),
    }


def text(doc: Mapping[str, Any]) -> str:
    """The tables of the README, from `aws_model`."""
    names = {"cpp": "C++", "python_sequential": "Python sequential", "python_threaded": "Python threaded"}
    lines = ["| batch | " + " | ".join(f"{names[n]} p50 / p99 ms (live p50)" for n in VARIANTS) + " |"]
    lines.append("|---|" + "---|" * len(VARIANTS))
    for k in KINDS:
        cells = []
        for n in VARIANTS:
            row = doc["batches"][n][k]
            cells.append(f"{row['p50_ms']:.1f} / {row['p99_ms']:.1f} ({row['live']['p50_ms']:.1f})")
        lines.append(f"| {k} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("| variant | batch | chain |")
    lines.append("|---|---|---|")
    for n in VARIANTS:
        for k in KINDS:
            lines.append(f"| {names[n]} | {k} | {doc['batches'][n][k]['chain']} |")
    lines.append("")
    lines.append(
        "| ticks per message | " + " | ".join(f"{names[n]} ticks/s at 5 (per unit)" for n in VARIANTS) + " |"
    )
    lines.append("|---|" + "---|" * len(VARIANTS))
    for i, m in enumerate(capacity.TICKS_PER_MESSAGE):
        cells = []
        for n in VARIANTS:
            row = doc["capacity"][n]["table"][i]
            cells.append(f"{row['ticks_per_second']:,.0f} ({row['ticks_per_second_per_unit']:,.0f})")
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    cells = [f"{doc['capacity'][n]['alerts_per_second']:,.0f}" for n in VARIANTS]
    lines.append("| alerts/s at 5 (25-alert batches) | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(
        "| event source | "
        + " | ".join(f"{names[n]} tick-to-notification p50 / p99 ms" for n in VARIANTS)
        + " |"
    )
    lines.append("|---|" + "---|" * len(VARIANTS))
    for d in DELIVERIES:
        cells = []
        for n in VARIANTS:
            t = doc["capacity"][n]["tick_to_notification"][d.name]
            cells.append(f"{t['p50_ms']:.0f} / {t['p99_ms']:.0f}")
        lines.append(
            f"| {d.name} (batch {d.batch_size}, window {d.window_s:g} s) | " + " | ".join(cells) + " |"
        )
    return "\n".join(lines)


# ------------------------------------------------------------------ the live run (I/O)
def record(
    batches: int, seed: int, build: Path, results: Path
) -> tuple[dict[str, Recorded], cost_model.Workload, int]:  # pragma: no cover
    """The three variants' live runs on moto under the model; with the benchmark feed's workload (its alerts
    per tick from `results`, the result file of bench/run.py's same-outputs run)."""
    from bench import run  # noqa: PLC0415 (the live helpers; bench.run is heavy to import)
    from local.emulator import MotoServer  # noqa: PLC0415
    from local.fault_proxy import FaultProxy  # noqa: PLC0415
    from local.feed import FeedConfig, generate_feed  # noqa: PLC0415

    bootstrap = build / "src" / "bootstrap"
    impls = run.implementations(bootstrap)
    variants = {
        "cpp": impls["cpp"],
        "python_sequential": run.Impl(
            "python", impls["python"].command, {**impls["python"].env, "BASELINE_THREADS": "1"}
        ),
        "python_threaded": run.Impl(
            "python", impls["python"].command, {**impls["python"].env, "BASELINE_THREADS": str(THREADS)}
        ),
    }
    bodies = generate_feed(FeedConfig(seed=7, messages=300))
    workload = run.workload_of(bodies)
    out: dict[str, Recorded] = {}
    with MotoServer() as moto:
        span = run.ticks_us([*run.warm_batch(0, alerts=False), *run.warm_batch(batches - 1, alerts=False)])
        rules = run.create_stack(moto.url, "cp-rules").import_rules(run.rules_tool_of(build), span)
        for name, impl in variants.items():
            run.log(f"call graphs: {name}, {batches} batches under the model")
            stack = run.create_stack(moto.url, f"cp-{name.replace('_', '-')}")
            with FaultProxy(moto.url, latency=AwsLatencyModel(seed), record_spans=True) as proxy:
                env = {**stack.table_env(rules), "AWS_ENDPOINT_URL": proxy.url}
                invocations = []
                with run.WarmFunction(impl, env) as fn:
                    for i in range(batches):
                        kind = kind_of(i)
                        bodies_i = (
                            alert25_batch(i) if kind == "alerts_25" else run.warm_batch(i, kind == "alerts_4")
                        )
                        event = run.bench_event(bodies_i, f"cp-{i}")
                        start = time.monotonic()
                        _, cpu_s = fn.invoke(event)
                        invocations.append(Invocation(kind, start, time.monotonic(), cpu_s * 1000))
                stats = proxy.latency_stats()
                exceeded = {
                    f"{s}/{o}": Exceeded(st.calls, st.exceeded, st.upstream_exceeded)
                    for (s, o), st in stats.items()
                }
                out[name] = Recorded(invocations, proxy.spans(), exceeded)
    alerts_per_tick = 0.0
    if results.exists():
        previous = json.loads(results.read_text(encoding="utf-8"))
        alerts_per_tick = previous["figures"]["cost_per_million_ticks_usd"]["workload"]["alerts_per_tick"]
    crossing = round(workload.state_writes_per_batch) if workload.state_writes_per_batch else 0
    return out, cost_model.Workload(workload.ticks_per_message, alerts_per_tick, crossing, crossing), crossing


def chart(path: Path, doc: Mapping[str, Any]) -> None:  # pragma: no cover
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    fig, ax = plt.subplots(figsize=(9, 4.5))
    width = 0.27
    for v, name in enumerate(VARIANTS):
        xs = [k + (v - 1) * width for k in range(len(KINDS))]
        p50 = [doc["batches"][name][k]["p50_ms"] for k in KINDS]
        p99 = [doc["batches"][name][k]["p99_ms"] for k in KINDS]
        ax.bar(xs, p50, width, label=f"{name} p50")
        ax.scatter(xs, p99, marker="_", s=200, color="black")
    ax.set_xticks(range(len(KINDS)), [f"{k} ({ALERTS[k]} alerts)" for k in KINDS])
    ax.set_ylabel("batch wall ms (bar p50, dash p99)")
    ax.set_yscale("log")
    ax.set_title("25-record batch under the AWS latency model (replayed call graphs, 10,000 draws)")
    ax.legend(fontsize=8)
    ax.grid(True, axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> int:  # pragma: no cover
    parser = argparse.ArgumentParser(prog="python -m bench.critical_path", description=__doc__.split("\n")[0])
    parser.add_argument("--build", type=Path, default=ROOT / "build" / "cpp-release")
    parser.add_argument(
        "--batches", type=int, default=60, help="live batches per variant (a third each kind)"
    )
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    began = time.monotonic()
    recorded, workload, crossing = record(args.batches, args.seed, args.build, args.out / "latest.json")
    doc = report(recorded, args.seed, workload, crossing)
    doc["measured"] = datetime.now(UTC).isoformat(timespec="seconds")
    doc["batches_per_variant"] = args.batches
    doc["duration_s"] = round(time.monotonic() - began, 1)
    from bench.requests_scale import merge_results  # noqa: PLC0415

    args.out.mkdir(parents=True, exist_ok=True)
    merge_results({"aws_model": doc}, args.out / "latest.json")
    chart(args.out / "aws_model.png", doc)
    print(text(doc))
    print(json.dumps({"targets": doc["targets"], "cost": doc["cost"]}, indent=2))
    print(f"wrote aws_model to {args.out / 'latest.json'} and {args.out / 'aws_model.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

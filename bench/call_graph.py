"""Each invocation's AWS call graph, inferred from the proxy's call spans, and its replay through the latency
model of bench/aws_model.py (issue 17 item 4). Pure: no I/O, seeded.

Inference (an assumption, stated in bench/README.md): spans come from a live run under the latency model
at concurrency 1, so every call the proxy saw between an invocation's start and end is that invocation's.
Call B depends on call A when A was answered before B arrived. Under the model independent calls overlap
(each is held for a sample of tens of milliseconds, while the function issues the next call in
microseconds), so "A ended before B started" is read as "B waited for A". Of those predecessors only the
ones no other predecessor follows are kept (the transitive reduction), so a graph's edges are its waits.

Replay: each call's duration is a fresh draw of its operation's row; a call starts when the last call it
depends on has ended; the batch's wall time is the end of its last call plus the function's measured CPU per
batch (the CPU runs on the longest chain: a conservative addition, the CPU between overlapping calls is
counted once in full).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from bench.aws_model import TABLE, Assumption, index

REPLAYS = 10_000


class SpanLike(Protocol):
    @property
    def service(self) -> str: ...
    @property
    def operation(self) -> str: ...
    @property
    def start(self) -> float: ...
    @property
    def end(self) -> float: ...


@dataclass(frozen=True)
class CallGraph:
    """One invocation's calls ("service/Operation", in order of arrival) and, per call, the calls it
    waited for (indices of earlier calls)."""

    calls: tuple[str, ...]
    waits: tuple[tuple[int, ...], ...]

    def __post_init__(self) -> None:
        if len(self.calls) != len(self.waits):
            raise ValueError("one list of waits per call")
        for i, before in enumerate(self.waits):
            if any(not 0 <= j < i for j in before):
                raise ValueError(f"call {i} may wait only for earlier calls, not {before}")

    @classmethod
    def chain(cls, calls: Sequence[str]) -> CallGraph:
        """The same calls one after another (the sequential baseline)."""
        return cls(tuple(calls), tuple((i - 1,) if i else () for i in range(len(calls))))

    def signature(self) -> str:
        """The graph as text: equal graphs (same calls, same waits) have equal signatures."""
        return "; ".join(
            f"{i}:{c}" + (f"<-{','.join(map(str, w))}" if w else "")
            for i, (c, w) in enumerate(zip(self.calls, self.waits, strict=True))
        )

    def longest_chain(self, weight: Mapping[str, float]) -> list[int]:
        """The path (call indices) whose summed weight (e.g. each operation's p50) is largest."""
        best: list[tuple[float, list[int]]] = []
        for i, before in enumerate(self.waits):
            base = max((best[j] for j in before), key=lambda b: b[0], default=(0.0, []))
            best.append((base[0] + weight.get(self.calls[i], 0.0), [*base[1], i]))
        return max(best, key=lambda b: b[0], default=(0.0, []))[1]

    def describe_chain(self, path: Sequence[int]) -> str:
        return " -> ".join(compress([short(self.calls[i]) for i in path]))


def compress(names: Sequence[str]) -> list[str]:
    """Repeats folded for reading: [A, A, A, B, C, B, C] -> ["A x3", "(B -> C) x2"] (runs of one name or of
    a pair, whichever covers more)."""
    out: list[str] = []
    i = 0
    while i < len(names):
        best = (1, 1)  # (pattern length, repeats)
        for size in (1, 2):
            pattern = list(names[i : i + size])
            repeats = 1
            while (
                len(pattern) == size and list(names[i + repeats * size : i + (repeats + 1) * size]) == pattern
            ):
                repeats += 1
            if repeats > 1 and size * repeats > best[0] * best[1]:
                best = (size, repeats)
        size, repeats = best
        text = " -> ".join(names[i : i + size])
        out.append(text if repeats == 1 else f"{text} x{repeats}" if size == 1 else f"({text}) x{repeats}")
        i += size * repeats
    return out


def short(call: str) -> str:
    """ "dynamodb/TransactWriteItems" -> "TransactWriteItems"."""
    return call.split("/", 1)[-1]


def assign(spans: Iterable[SpanLike], windows: Sequence[tuple[float, float]]) -> list[list[SpanLike]]:
    """The spans of each invocation window [start, end] (sorted, not overlapping: concurrency 1); a span
    outside every window belongs to none (the set-up's calls)."""
    out: list[list[SpanLike]] = [[] for _ in windows]
    starts = [w[0] for w in windows]
    for span in spans:
        i = int(np.searchsorted(starts, span.start, side="right")) - 1
        if i >= 0 and span.end <= windows[i][1]:
            out[i].append(span)
    return out


def infer(spans: Sequence[SpanLike]) -> CallGraph:
    """The call graph of one invocation's spans (see the module's text)."""
    ordered = sorted(spans, key=lambda s: (s.start, s.end))
    waits: list[tuple[int, ...]] = []
    for b, call in enumerate(ordered):
        before = [a for a in range(b) if ordered[a].end <= call.start]
        # Keep A unless another predecessor C started after A ended (then B waited for C, which waited for A).
        waits.append(tuple(a for a in before if not any(ordered[a].end <= ordered[c].start for c in before)))
    return CallGraph(tuple(f"{s.service}/{s.operation}" for s in ordered), tuple(waits))


def modal(graphs: Sequence[CallGraph]) -> tuple[CallGraph, int]:
    """The most frequent graph (the first seen among equals) and how many invocations had it."""
    if not graphs:
        raise ValueError("no invocation to take a graph from")
    counts = Counter(g.signature() for g in graphs)
    top = max(counts.values())
    graph = next(g for g in graphs if counts[g.signature()] == top)
    return graph, top


def calls_of(graph: CallGraph) -> tuple[str, ...]:
    """A graph's calls as a multiset (sorted), whatever their order and waits."""
    return tuple(sorted(graph.calls))


def modal_calls(graphs: Sequence[CallGraph]) -> tuple[list[CallGraph], CallGraph]:
    """The invocations that made the most frequent set of calls (e.g. not those that also refreshed their
    rules), and the most frequent graph among them. Their waits may differ: under the model, which call is
    answered first varies, and with it what the function issues next (a pooled connection freed, say)."""
    if not graphs:
        raise ValueError("no invocation to take a graph from")
    counts = Counter(calls_of(g) for g in graphs)
    top = max(counts.values())
    key = next(calls_of(g) for g in graphs if counts[calls_of(g)] == top)
    same = [g for g in graphs if calls_of(g) == key]
    return same, modal(same)[0]


def rows_by_call(table: Sequence[Assumption] = TABLE) -> dict[str, Assumption]:
    return {f"{service}/{operation}": row for (service, operation), row in index(table).items()}


@dataclass(frozen=True)
class Replay:
    """`replays` draws of one graph: each call's end (ms since the batch started, shape calls x replays) and
    the batch's wall time with the CPU added."""

    calls: tuple[str, ...]  # the rows of ends_ms
    ends_ms: NDArray[np.float64]
    wall_ms: NDArray[np.float64]
    unmodelled: tuple[str, ...]  # calls the model has no row for (taken as instant)

    def percentile(self, p: float) -> float:
        return float(np.percentile(self.wall_ms, p))

    def ends_of(self, operations: Sequence[str]) -> NDArray[np.float64]:
        """Per replay, the end of the last call among `operations` (e.g. the publishes)."""
        rows = [i for i, c in enumerate(self.calls) if short(c) in operations]
        if not rows:
            raise ValueError(f"the graph has none of {operations}")
        return np.asarray(self.ends_ms[rows].max(axis=0), dtype=np.float64)


def draw(row: Assumption, rng: np.random.Generator, n: int) -> NDArray[np.float64]:
    """n samples (ms) of one row of the model."""
    d = row.distribution
    return np.asarray(rng.lognormal(d.mu, d.sigma, n), dtype=np.float64)


def replay(
    graph: CallGraph,
    cpu_ms: float,
    seed: int,
    replays: int = REPLAYS,
    table: Sequence[Assumption] = TABLE,
) -> Replay:
    rows = rows_by_call(table)
    rng = np.random.default_rng(seed)
    ends = np.zeros((len(graph.calls), replays))
    for i, (call, before) in enumerate(zip(graph.calls, graph.waits, strict=True)):
        begin = ends[list(before)].max(axis=0) if before else np.zeros(replays)
        row = rows.get(call)
        ends[i] = begin + (draw(row, rng, replays) if row is not None else 0.0)
    last = ends.max(axis=0) if graph.calls else np.zeros(replays)
    unmodelled = tuple(sorted({c for c in graph.calls if c not in rows}))
    return Replay(graph.calls, ends, last + cpu_ms, unmodelled)


def replay_pooled(
    graphs: Sequence[CallGraph],
    cpu_ms: float,
    seed: int,
    replays: int = REPLAYS,
    table: Sequence[Assumption] = TABLE,
) -> Replay:
    """`replays` draws shared evenly among graphs of the same calls (calls_of equal; seed + i for the i-th),
    each part's rows put in the calls' sorted order."""
    if not graphs or len({calls_of(g) for g in graphs}) != 1:
        raise ValueError("graphs of the same calls expected")
    parts = []
    for i, graph in enumerate(graphs):
        n = replays // len(graphs) + (1 if i < replays % len(graphs) else 0)
        if n:
            part = replay(graph, cpu_ms, seed + i, n, table)
            order = sorted(range(len(graph.calls)), key=lambda j: graph.calls[j])
            parts.append(Replay(calls_of(graph), part.ends_ms[order], part.wall_ms, part.unmodelled))
    return Replay(
        parts[0].calls,
        np.concatenate([p.ends_ms for p in parts], axis=1),
        np.concatenate([p.wall_ms for p in parts]),
        parts[0].unmodelled,
    )


def slowest_of(k: int, row: Assumption, seed: int, replays: int = REPLAYS) -> NDArray[np.float64]:
    """Per replay, the slowest of k parallel calls priced by `row` (k >= 1)."""
    if k < 1:
        raise ValueError("k >= 1 parallel calls")
    rng = np.random.default_rng(seed)
    return np.asarray(np.stack([draw(row, rng, replays) for _ in range(k)]).max(axis=0), dtype=np.float64)


def chain_replay(graph: CallGraph, path: Sequence[int], seed: int, replays: int = REPLAYS) -> Replay:
    """The calls of `path` alone, one after another, no CPU: the floor a batch with that chain has."""
    return replay(CallGraph.chain([graph.calls[i] for i in path]), 0.0, seed, replays)


def p50_weights(table: Sequence[Assumption] = TABLE) -> dict[str, float]:
    return {call: row.p50_ms for call, row in rows_by_call(table).items()}


def summary(graph: CallGraph, result: Replay) -> dict[str, Any]:
    path = graph.longest_chain(p50_weights())
    return {
        "p50_ms": result.percentile(50),
        "p99_ms": result.percentile(99),
        "calls": len(graph.calls),
        "chain": graph.describe_chain(path),
        "graph": graph.signature(),
        "unmodelled": list(result.unmodelled),
    }

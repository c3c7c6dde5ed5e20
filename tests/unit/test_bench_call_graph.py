"""bench/call_graph.py: spans assigned to invocations, the waits inferred (transitively reduced), the modal
graph, and the seeded replay through the latency model. Pure, no processes."""

from __future__ import annotations

import numpy as np
import pytest

from bench.aws_model import TABLE, Assumption
from bench.call_graph import (
    CallGraph,
    assign,
    calls_of,
    chain_replay,
    compress,
    infer,
    modal,
    modal_calls,
    p50_weights,
    replay,
    replay_pooled,
    rows_by_call,
    short,
    slowest_of,
    summary,
)
from local.fault_proxy import Span

PUT, TX, PUB, GET = (
    "dynamodb/PutItem",
    "dynamodb/TransactWriteItems",
    "sns/PublishBatch",
    "dynamodb/BatchGetItem",
)
MARK_ = "dynamodb/UpdateItem"
# A model whose every draw is its p50 (sigma 0): a replay's sums are exact.
FIXED = tuple(Assumption(r.name, r.p50_ms, r.p50_ms, r.source, r.requests) for r in TABLE)


def span(op: str, start: float, end: float) -> Span:
    service, operation = op.split("/")
    return Span(service, operation, start, end)


def test_spans_belong_to_the_invocation_whose_window_holds_them() -> None:
    spans = [
        span(PUT, 0.5, 0.6),
        span(PUT, 1.1, 1.2),
        span(GET, 1.9, 2.1),
        span(PUT, 3.0, 3.1),
        span(PUT, 2.5, 2.6),
    ]
    parts = assign(spans, [(1.0, 2.0), (2.4, 3.5)])
    # before the first window, and straddling the first window's end: the set-up's, no invocation's
    assert parts == [[spans[1]], [spans[3], spans[4]]]


def test_a_call_waits_for_the_calls_answered_before_it_arrived_transitively_reduced() -> None:
    # read, then two writes in parallel, then a publish after both, then a mark after the publish
    spans = [
        span(GET, 0.0, 1.0),
        span(TX, 1.1, 3.0),
        span(PUT, 1.2, 2.0),
        span(PUB, 3.1, 4.0),
        span("dynamodb/UpdateItem", 4.1, 5.0),
    ]
    graph = infer(list(reversed(spans)))  # any order in; arrival order out
    assert graph.calls == (GET, TX, PUT, PUB, "dynamodb/UpdateItem")
    # the publish waited for both writes, not (directly) for the read; the mark only for the publish
    assert graph.waits == ((), (0,), (0,), (1, 2), (3,))
    assert graph.signature() == (
        "0:dynamodb/BatchGetItem; 1:dynamodb/TransactWriteItems<-0; 2:dynamodb/PutItem<-0; "
        "3:sns/PublishBatch<-1,2; 4:dynamodb/UpdateItem<-3"
    )
    assert graph.longest_chain(p50_weights()) == [0, 1, 3, 4]
    assert (
        graph.describe_chain([0, 1, 3, 4])
        == "BatchGetItem -> TransactWriteItems -> PublishBatch -> UpdateItem"
    )


def test_a_chain_is_the_calls_one_after_another() -> None:
    assert CallGraph.chain([GET, PUT, PUB]).waits == ((), (0,), (1,))
    assert CallGraph.chain([]).calls == ()
    assert CallGraph((), ()).longest_chain(p50_weights()) == []


def test_a_graph_refuses_waits_on_later_calls_or_a_missing_list() -> None:
    with pytest.raises(ValueError, match="earlier calls"):
        CallGraph((GET, PUT), ((1,), ()))
    with pytest.raises(ValueError, match="one list of waits per call"):
        CallGraph((GET,), ())


def test_the_modal_graph_is_the_most_frequent_first_seen_among_equals() -> None:
    a, b = CallGraph.chain([GET, PUT]), CallGraph.chain([PUT])
    assert modal([b, a, a]) == (a, 2)
    assert modal([b, a]) == (b, 1)
    with pytest.raises(ValueError, match="no invocation"):
        modal([])


def test_a_replay_adds_each_calls_draw_to_the_end_of_what_it_waits_for_and_the_cpu_once() -> None:
    graph = CallGraph((GET, TX, PUT, PUB, "sqs/DeleteMessage"), ((), (0,), (0,), (1, 2), ()))
    result = replay(graph, cpu_ms=2.0, seed=1, replays=4, table=FIXED)
    # read 5, then the transaction (28) beside the put (7.6), then the publish (20): 53, + CPU 2
    assert result.wall_ms.tolist() == pytest.approx([55.0] * 4)
    assert result.ends_ms[:, 0].tolist() == pytest.approx([5.0, 33.0, 12.6, 53.0, 0.0])
    assert result.unmodelled == ("sqs/DeleteMessage",)  # no row: instant
    assert result.ends_of(["PublishBatch"]).tolist() == pytest.approx([53.0] * 4)
    assert (result.percentile(50), result.percentile(99)) == pytest.approx((55.0, 55.0))
    with pytest.raises(ValueError, match="none of"):
        result.ends_of(["Publish"])
    assert replay(CallGraph((), ()), 1.5, 1, replays=2).wall_ms.tolist() == [1.5, 1.5]


def test_a_replay_is_seeded_and_its_draws_follow_the_model() -> None:
    graph = CallGraph.chain([PUT])
    first, again = replay(graph, 0.0, seed=7), replay(graph, 0.0, seed=7)
    assert np.array_equal(first.wall_ms, again.wall_ms)
    assert not np.array_equal(first.wall_ms, replay(graph, 0.0, seed=8).wall_ms)
    assert first.percentile(50) == pytest.approx(7.6, rel=0.03)  # the row's p50 and p99, 10,000 draws
    assert first.percentile(99) == pytest.approx(16, rel=0.1)


def test_the_slowest_of_k_parallel_writes_grows_with_k() -> None:
    row = rows_by_call()[PUT]
    one, four = (float(np.percentile(slowest_of(k, row, seed=3), 50)) for k in (1, 4))
    assert one == pytest.approx(7.6, rel=0.03)
    assert four > one
    with pytest.raises(ValueError, match="k >= 1"):
        slowest_of(0, row, seed=3)


def test_the_chain_alone_and_the_summary() -> None:
    graph = CallGraph((GET, TX, PUT, PUB), ((), (0,), (0,), (1, 2)))
    assert chain_replay(graph, [0, 1, 3], seed=1, replays=3).wall_ms.tolist() != []
    doc = summary(graph, replay(graph, 0.0, 1, replays=3, table=FIXED))
    assert doc == {
        "p50_ms": pytest.approx(53.0),
        "p99_ms": pytest.approx(53.0),
        "calls": 4,
        "chain": "BatchGetItem -> TransactWriteItems -> PublishBatch",
        "graph": graph.signature(),
        "unmodelled": [],
    }
    assert short("sns/Publish") == "Publish"


def test_the_most_frequent_calls_keep_every_invocation_that_made_them_whatever_its_waits() -> None:
    parallel = CallGraph((GET, PUT, PUT), ((), (0,), (0,)))
    waves = CallGraph((GET, PUT, PUT), ((), (0,), (1,)))
    refresh = CallGraph.chain(["dynamodb/Query", GET, PUT, PUT])
    same, graph = modal_calls([refresh, waves, parallel, parallel])
    assert same == [waves, parallel, parallel]
    assert graph == parallel
    assert calls_of(waves) == (GET, PUT, PUT)
    with pytest.raises(ValueError, match="no invocation"):
        modal_calls([])


def test_a_pooled_replay_shares_the_draws_among_the_graphs_in_the_calls_sorted_order() -> None:
    parallel = CallGraph((PUT, GET), ((), ()))
    chained = CallGraph((GET, PUT), ((), (0,)))
    pooled = replay_pooled([parallel, chained], 1.0, seed=2, replays=5, table=FIXED)
    assert pooled.calls == (GET, PUT)
    # 3 draws of the parallel graph (7.6 at most), 2 of the chain (5 + 7.6), each + 1 ms CPU
    assert pooled.wall_ms.tolist() == pytest.approx([8.6, 8.6, 8.6, 13.6, 13.6])
    assert pooled.ends_ms[1].tolist() == pytest.approx([7.6, 7.6, 7.6, 12.6, 12.6])  # the put, both ways
    assert replay_pooled([chained, chained], 0.0, 2, replays=1, table=FIXED).wall_ms.tolist() == [
        pytest.approx(12.6)
    ]
    for bad in ([], [parallel, CallGraph.chain([PUT])]):
        with pytest.raises(ValueError, match="same calls"):
            replay_pooled(bad, 0.0, 1)


def test_a_chain_reads_with_its_repeats_folded() -> None:
    assert compress(["A", "A", "A", "B", "C", "B", "C"]) == ["A x3", "(B -> C) x2"]
    assert compress(["G", "T", "T", "P", "U", "P", "U", "P"]) == ["G", "T x2", "(P -> U) x2", "P"]
    assert compress(["A", "B", "A"]) == ["A", "B", "A"]
    assert compress(["A", "A", "A", "A"]) == ["A x4"]  # a run of one name before a run of pairs
    assert compress([]) == []
    graph = CallGraph.chain([GET, TX, TX, PUB, MARK_, PUB, MARK_])
    assert (
        graph.describe_chain(range(7))
        == "BatchGetItem -> TransactWriteItems x2 -> (PublishBatch -> UpdateItem) x2"
    )

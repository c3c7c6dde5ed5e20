"""local/fault_proxy.py in latency mode: each answer is held until the sample has elapsed since the request
arrived (the upstream's own time inside it, never added), a slow upstream is counted as exceeded, holds on
different connections overlap. Time is a fake clock that the upstream and the sleeper advance: no test here
measures wall time."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator

import pytest

from local.fault_proxy import FaultKind, FaultProxy, FaultRule, LatencyStats, Span
from tests.support.http_upstream import QuietHandler, serving

DDB_AUTH = "AWS4-HMAC-SHA256 Credential=AKID/20261125/us-east-1/dynamodb/aws4_request, SignedHeaders=host"


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


class Fixed:
    """A model answering `seconds` for every operation but Scan (no figure)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def sample_s(self, service: str, operation: str) -> float | None:
        return None if operation == "Scan" else self.seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def upstream(clock: FakeClock) -> Iterator[str]:
    """Answers "ok" after advancing the fake clock by the seconds in the path (/take/0.01): its own time."""

    class Timed(QuietHandler):
        def respond(self, body: bytes) -> bytes:
            clock.advance(float(self.path.rsplit("/", 1)[-1]))
            return b"ok"

    with serving(Timed) as url:
        yield url


def _post(proxy: FaultProxy, path: str, operation: str = "UpdateItem") -> int:
    host, port = proxy.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    headers = {"Authorization": DDB_AUTH, "X-Amz-Target": f"DynamoDB_20120810.{operation}"}
    conn.request("POST", path, body=b"{}", headers=headers)
    reply = conn.getresponse()
    assert reply.read() == b"ok"
    conn.close()
    return reply.status


def test_the_answer_waits_for_the_sample_since_arrival(upstream: str, clock: FakeClock) -> None:
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.advance(seconds)

    with FaultProxy(upstream, latency=Fixed(0.050), clock=clock, sleep=sleep) as proxy:
        start = clock()
        assert _post(proxy, "/take/0.010") == 200
        answered = clock()
    # the upstream's 10 ms are part of the 50 ms sample: held 40 ms, answered exactly 50 ms after arrival
    assert slept == [pytest.approx(0.040)]
    assert answered - start == pytest.approx(0.050)
    stats = proxy.latency_stats()[("dynamodb", "UpdateItem")]
    assert (stats.calls, stats.exceeded, stats.upstream_exceeded) == (1, 0, 0)
    assert (stats.sampled_s, stats.held_s, stats.upstream_s) == pytest.approx((0.050, 0.040, 0.010))


def test_an_upstream_slower_than_the_sample_adds_nothing_and_is_counted(
    upstream: str, clock: FakeClock
) -> None:
    # Binary fractions of a second: the fake clock's sums are exact.
    slept: list[float] = []
    with FaultProxy(upstream, latency=Fixed(0.0625), clock=clock, sleep=slept.append) as proxy:
        start = clock()
        _post(proxy, "/take/0.125")
        _post(proxy, "/take/0.0625")  # exactly the sample: on time, nothing to hold, not exceeded
        _post(proxy, "/take/0.015625", operation="PutItem")
        elapsed = clock() - start
    assert elapsed == 0.125 + 0.0625 + 0.015625  # the sleeper never ran the clock
    assert slept == [0.0625 - 0.015625]
    stats = proxy.latency_stats()
    assert stats[("dynamodb", "UpdateItem")] == LatencyStats(
        calls=2, exceeded=1, upstream_exceeded=1, sampled_s=0.125, held_s=0.0, upstream_s=0.1875
    )
    assert stats[("dynamodb", "PutItem")] == LatencyStats(1, 0, 0, 0.0625, 0.046875, 0.015625)


def test_a_late_answer_counts_even_when_the_upstream_alone_was_on_time(
    upstream: str, clock: FakeClock
) -> None:
    # Every reading of this clock costs 1/128 s: the proxy's own time. Readings: arrival 0, before the
    # forward 1/128, the upstream's 1/32, after it 2/128 + 1/32, at the hold 3/128 + 1/32 = 7/128 s since
    # arrival. The upstream's exchange (1/128 + 1/32 = 5/128 s) is within the 6/128 s sample; the answer
    # is not.
    tick = 1 / 128

    def ticking() -> float:
        now = clock()
        clock.advance(tick)
        return now

    slept: list[float] = []
    with FaultProxy(upstream, latency=Fixed(6 * tick), clock=ticking, sleep=slept.append) as proxy:
        _post(proxy, "/take/0.03125")
    assert slept == []
    assert proxy.latency_stats()[("dynamodb", "UpdateItem")] == LatencyStats(1, 1, 0, 6 * tick, 0.0, 5 * tick)


def test_unmodelled_operations_and_injected_faults_are_not_held(upstream: str, clock: FakeClock) -> None:
    slept: list[float] = []
    throttle = FaultRule("dynamodb", FaultKind.DYNAMODB_THROTTLING, operation="GetItem")
    with FaultProxy(upstream, [throttle], latency=Fixed(0.050), clock=clock, sleep=slept.append) as proxy:
        _post(proxy, "/take/0.001", operation="Scan")
        host, port = proxy.url.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        headers = {"Authorization": DDB_AUTH, "X-Amz-Target": "DynamoDB_20120810.GetItem"}
        conn.request("POST", "/take/0", body=b"{}", headers=headers)
        assert conn.getresponse().status == 400  # the throttling answer, not forwarded
        conn.close()
    assert slept == []
    assert proxy.latency_stats() == {}
    assert proxy.unmodelled() == {("dynamodb", "Scan"): 1}


def test_holds_on_different_connections_overlap(upstream: str) -> None:
    # Each hold waits at a barrier of two: it is passed only if both requests are held at the same time.
    barrier = threading.Barrier(2, timeout=20)
    passed: list[int] = []

    def sleep(seconds: float) -> None:
        passed.append(barrier.wait())

    with FaultProxy(upstream, latency=Fixed(600.0), sleep=sleep) as proxy:
        statuses: list[int] = []
        clients = [
            threading.Thread(target=lambda: statuses.append(_post(proxy, "/take/0"))) for _ in range(2)
        ]
        for client in clients:
            client.start()
        for client in clients:
            client.join()
    assert statuses == [200, 200]
    assert sorted(passed) == [0, 1]
    assert proxy.latency_stats()[("dynamodb", "UpdateItem")].calls == 2


def test_by_default_a_hold_is_a_wait_that_closing_the_proxy_ends(upstream: str) -> None:
    # The real clock and wait: a 600 s hold, cut short by closing the proxy, which then answers.
    statuses: list[int] = []
    with FaultProxy(upstream, latency=Fixed(600.0)) as proxy:
        client = threading.Thread(target=lambda: statuses.append(_post(proxy, "/take/0")))
        client.start()
        while not proxy.latency_stats() and client.is_alive():  # accounted just before the hold starts
            client.join(0.01)
        assert statuses == []  # held: not answered while the proxy runs
    client.join(20)
    assert statuses == [200]
    assert proxy.latency_stats()[("dynamodb", "UpdateItem")].held_s > 500


def test_spans_are_each_calls_arrival_and_held_answer(upstream: str, clock: FakeClock) -> None:
    # Binary fractions of a second: the fake clock's sums are exact.
    def sleep(seconds: float) -> None:
        clock.advance(seconds)

    with FaultProxy(upstream, latency=Fixed(0.0625), clock=clock, sleep=sleep, record_spans=True) as proxy:
        _post(proxy, "/take/0.015625")  # held to the sample: answered 1/16 s after arrival
        _post(proxy, "/take/0.125", operation="Scan")  # no figure: answered when the upstream is done
    assert proxy.spans() == [
        Span("dynamodb", "UpdateItem", 0.0, 0.0625),
        Span("dynamodb", "Scan", 0.0625, 0.1875),
    ]


def test_no_spans_are_kept_unless_asked(upstream: str, clock: FakeClock) -> None:
    with FaultProxy(upstream, latency=Fixed(0.0), clock=clock, sleep=lambda _: None) as proxy:
        _post(proxy, "/take/0")
    assert proxy.spans() == []
    assert proxy.latency_stats()[("dynamodb", "UpdateItem")].calls == 1

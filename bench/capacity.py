"""Capacity and tick-to-notification latency under the AWS latency model (issue 17 item 4). Pure: no I/O.

Throughput assumes a backlog: every invocation gets a full batch, the poller has the next batch ready when
an invocation ends (no delivery time between batches), and each of the reserved executions works batches
back to back. A batch's wall time is the replayed wall time of the recorded quiet batch's AWS calls (its
state writes, as measured on 25 one-tick messages) plus the function's CPU per tick times the batch's ticks.

Tick-to-notification, per replay: the feed's SendMessage, the event source's delivery to the handler (the
model's `event_source_delivery` row), the batching window in full (at a low rate a message is the first of
its batch and waits the whole window; a window of 0 invokes at once), then the alert batch's replay until
its last publish is answered, plus the function's CPU for the batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from bench.aws_model import TABLE, Assumption
from bench.call_graph import draw

TICKS_PER_MESSAGE = (1, 10, 100)
RESERVED_CONCURRENCY = 5  # lib/stack/function.py's reserved executions (the event source's maximum too)


def row(name: str, table: Sequence[Assumption] = TABLE) -> Assumption:
    return next(r for r in table if r.name == name)


def batch_ms(calls_ms: float, cpu_ms_per_tick: float, ticks: float) -> float:
    """Wall time of one batch of `ticks` ticks: its AWS calls plus its CPU."""
    if calls_ms < 0 or cpu_ms_per_tick < 0 or ticks <= 0:
        raise ValueError("calls_ms >= 0, cpu_ms_per_tick >= 0 and ticks > 0 expected")
    return calls_ms + cpu_ms_per_tick * ticks


def ticks_per_second_per_unit(
    calls_ms: float, cpu_ms_per_tick: float, ticks_per_message: float, batch_size: int
) -> float:
    """Ticks one execution processes per second with full batches back to back."""
    ticks = batch_size * ticks_per_message
    return ticks / batch_ms(calls_ms, cpu_ms_per_tick, ticks) * 1000


def capacity_table(
    calls_ms: float,
    cpu_ms_per_tick: float,
    batch_size: int,
    concurrency: int = RESERVED_CONCURRENCY,
    ticks_per_message: Sequence[float] = TICKS_PER_MESSAGE,
) -> list[dict[str, Any]]:
    """Per ticks-per-message: the batch's wall time, ticks/s per unit of concurrency and at `concurrency`."""
    out = []
    for m in ticks_per_message:
        per_unit = ticks_per_second_per_unit(calls_ms, cpu_ms_per_tick, m, batch_size)
        out.append(
            {
                "ticks_per_message": m,
                "batch_ms": batch_ms(calls_ms, cpu_ms_per_tick, batch_size * m),
                "ticks_per_second_per_unit": per_unit,
                "ticks_per_second": per_unit * concurrency,
                "concurrency": concurrency,
            }
        )
    return out


def alerts_per_second(
    alerts_per_batch: int, alert_batch_ms: float, concurrency: int = RESERVED_CONCURRENCY
) -> float:
    """Alerts stored and published per second with every execution on alert batches back to back."""
    if alerts_per_batch < 0 or alert_batch_ms <= 0:
        raise ValueError("alerts >= 0 and a batch time > 0 expected")
    return alerts_per_batch / alert_batch_ms * 1000 * concurrency


@dataclass(frozen=True)
class Delivery:
    """An event source setting (lib/config.py, I4)."""

    name: str
    batch_size: int
    window_s: float


def tick_to_notification_ms(
    published_ms: NDArray[np.float64],
    cpu_ms: float,
    delivery: Delivery,
    seed: int,
    table: Sequence[Assumption] = TABLE,
) -> NDArray[np.float64]:
    """Per replay (one per element of `published_ms`, the alert batch's last publish answer since the batch
    started): SendMessage to that publish answer, in ms."""
    n = len(published_ms)
    rng = np.random.default_rng(seed)
    send = draw(row("sqs_send", table), rng, n)
    handed = draw(row("event_source_delivery", table), rng, n)
    return np.asarray(send + handed + delivery.window_s * 1000 + published_ms + cpu_ms, dtype=np.float64)


def percentiles(samples: NDArray[np.float64]) -> dict[str, float]:
    return {"p50_ms": float(np.percentile(samples, 50)), "p99_ms": float(np.percentile(samples, 99))}

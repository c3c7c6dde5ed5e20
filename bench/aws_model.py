"""The latency model of AWS (P2): per-operation round-trip times in us-east-1, a log-normal fitted to each
published p50/p99, seeded sampling, and the mapping from a request seen at the local proxy to its operation.

Pure: no I/O. local/fault_proxy.py holds each answer until a sample of this model has elapsed since the
request arrived (its `latency` port); bench/run.py reports the live figures under `aws_latency_model`.

Fit: if ln X ~ N(mu, sigma^2), the q-quantile is exp(mu + sigma * z_q), so mu = ln p50 (z_0.5 = 0) and
sigma = (ln p99 - ln p50) / z_0.99.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

Z_99 = NormalDist().inv_cdf(0.99)
# A live figure through the proxy stands for AWS only when the local path (proxy + emulator) alone took
# longer than the sample in fewer than this share of the calls: those calls are answered late.
EXCEED_LIMIT = 0.01


@dataclass(frozen=True)
class LogNormal:
    mu: float  # of ln X, X in milliseconds
    sigma: float

    @classmethod
    def fit(cls, p50_ms: float, p99_ms: float) -> LogNormal:
        """The log-normal whose median is p50_ms and whose 99th percentile is p99_ms."""
        if not 0 < p50_ms <= p99_ms:
            raise ValueError(f"need 0 < p50 <= p99, got {p50_ms} / {p99_ms}")
        return cls(math.log(p50_ms), (math.log(p99_ms) - math.log(p50_ms)) / Z_99)

    def quantile_ms(self, q: float) -> float:
        return math.exp(self.mu + self.sigma * NormalDist().inv_cdf(q))

    def sample_ms(self, rng: random.Random) -> float:
        return rng.lognormvariate(self.mu, self.sigma)


@dataclass(frozen=True)
class Assumption:
    """One row of the model: what it costs, where the figure comes from, which requests it prices."""

    name: str
    p50_ms: float
    p99_ms: float
    source: str
    requests: tuple[tuple[str, str], ...]  # (signing service, operation); empty: not an HTTP call

    @property
    def distribution(self) -> LogNormal:
        return LogNormal.fit(self.p50_ms, self.p99_ms)


_DEBRIE = "Alex DeBrie's DynamoDB latency benchmark (Lambda, us-east-1)"
# Issue 17's table, fixed for the targets. The event source row has no request at the proxy: it is the
# poller's hand-off to the handler, used when a replay prices tick-to-notification.
TABLE: tuple[Assumption, ...] = (
    Assumption("dynamodb_write", 7.6, 16, _DEBRIE, (("dynamodb", "PutItem"), ("dynamodb", "UpdateItem"))),
    Assumption("dynamodb_batch_write", 10, 28, f"{_DEBRIE}, batch of 25", (("dynamodb", "BatchWriteItem"),)),
    Assumption(
        "dynamodb_transact_write", 28, 95, f"{_DEBRIE} (25-32 / 92-98)", (("dynamodb", "TransactWriteItems"),)
    ),
    Assumption(
        "dynamodb_read",
        5,
        12,
        "assumption (consistent reads)",
        (("dynamodb", "GetItem"), ("dynamodb", "BatchGetItem"), ("dynamodb", "Query")),
    ),
    Assumption(
        "sns_publish",
        20,
        60,
        "assumption (no clean published figure)",
        (("sns", "Publish"), ("sns", "PublishBatch")),
    ),
    Assumption("sqs_send", 10, 30, "assumption", (("sqs", "SendMessage"), ("sqs", "SendMessageBatch"))),
    Assumption(
        "event_source_delivery",
        16,
        105,
        '"Serverless messaging latency compared" (bitesizedserverless.com, eu-west-1, 2022)',
        (),
    ),
)


def index(table: Sequence[Assumption] = TABLE) -> dict[tuple[str, str], Assumption]:
    """(service, operation) -> its row; a request priced by two rows is a table error."""
    out: dict[tuple[str, str], Assumption] = {}
    for row in table:
        for request in row.requests:
            if request in out:
                raise ValueError(f"{request} is in both {out[request].name} and {row.name}")
            out[request] = row
    return out


class AwsLatencyModel:
    """Seeded samples of the table: the same seed and the same sequence of requests give the same latencies.
    Not thread-safe: the proxy draws under its own lock, in the order the requests arrive."""

    def __init__(self, seed: int, table: Sequence[Assumption] = TABLE) -> None:
        self.seed = seed
        self.table = tuple(table)
        self._rows = index(self.table)
        self._random = random.Random(seed)

    def row_of(self, service: str, operation: str) -> Assumption | None:
        """The row that prices this request; None for an operation the model does not know."""
        return self._rows.get((service, operation))

    def sample_s(self, service: str, operation: str) -> float | None:
        """Seconds AWS takes to answer this request (one draw); None when the model has no figure for it."""
        row = self.row_of(service, operation)
        return None if row is None else row.distribution.sample_ms(self._random) / 1000

    def describe(self) -> list[dict[str, Any]]:
        """The table with its fitted parameters, for the result file."""
        return [
            {
                "operation": row.name,
                "p50_ms": row.p50_ms,
                "p99_ms": row.p99_ms,
                "mu": row.distribution.mu,
                "sigma": row.distribution.sigma,
                "source": row.source,
                "requests": [f"{service}/{operation}" for service, operation in row.requests],
            }
            for row in self.table
        ]


@dataclass(frozen=True)
class Exceeded:
    """Per operation: calls held by the model, those the local path (proxy and moto) answered later than the
    sample (nothing was held: the answer is late by the model's standard), and those where moto's exchange
    alone took longer than the sample (a subset, up to the proxy's own time)."""

    calls: int
    exceeded: int
    upstream: int = 0

    @property
    def share(self) -> float:
        return self.exceeded / self.calls if self.calls else 0.0

    @property
    def upstream_share(self) -> float:
        return self.upstream / self.calls if self.calls else 0.0


def exceed_report(per_operation: Mapping[str, Exceeded]) -> dict[str, Any]:
    """The exceed shares of one live run, per operation and overall, and whether its figures count: on the
    late answers (the stricter count)."""
    counts = per_operation.values()
    total = Exceeded(
        sum(e.calls for e in counts), sum(e.exceeded for e in counts), sum(e.upstream for e in counts)
    )

    def shares(e: Exceeded) -> dict[str, Any]:
        return {
            "calls": e.calls,
            "exceeded": e.exceeded,
            "share": e.share,
            "moto_alone_exceeded": e.upstream,
            "moto_alone_share": e.upstream_share,
        }

    return {
        **shares(total),
        "limit": EXCEED_LIMIT,
        "counts": total.calls > 0 and total.share < EXCEED_LIMIT,
        "per_operation": {name: shares(e) for name, e in sorted(per_operation.items())},
    }

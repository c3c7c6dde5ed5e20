"""Cost per million ticks from the measured figures and public AWS list prices (us-east-1).

Every price is here, in one place, with the date it was read from the AWS pricing pages; every assumption
sits next to the number it feeds. Free tiers are ignored (a production feed exhausts them in hours).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

# ---------------------------------------------------------------- list prices, us-east-1
PRICES_AS_OF = "2026-11 (unchanged since the DynamoDB on-demand price cut of 2024-11-01)"
LAMBDA_ARM64_GB_SECOND_USD = 0.0000133334  # first 7.5 billion GB-s per month (arm64 tier 1)
LAMBDA_REQUEST_USD = 0.20 / 1e6  # per invocation
SQS_STANDARD_REQUEST_USD = 0.40 / 1e6  # per API request (each 64 KiB chunk of a payload is one request)
DYNAMODB_WRITE_UNIT_USD = 0.625 / 1e6  # on-demand write request unit (1 KB item; x2 in a transaction)
DYNAMODB_READ_UNIT_USD = 0.125 / 1e6  # on-demand read request unit (4 KB strongly consistent read)
SNS_PUBLISH_USD = 0.50 / 1e6  # per publish of up to 64 KiB (delivery to SQS/Lambda endpoints is free)

# ---------------------------------------------------------------- assumptions (same for both implementations)
RECORDS_PER_BATCH = 25  # the stack's event source mapping batch size
MESSAGES_PER_SEND = 10  # the feed sends SendMessageBatch with 10 entries (< 64 KiB each call)
MESSAGES_PER_RECEIVE = 10  # Lambda's poller receives up to 10 messages per ReceiveMessage
MESSAGES_PER_DELETE = 10  # and deletes them with DeleteMessageBatch, 10 per call
# Wall time a batch waits on DynamoDB/SNS in-region (one BatchGetItem ~4 ms, conditional writes ~5 ms each,
# a publish ~10 ms); identical for both implementations because they make the same calls. Billed duration
# = this wait + the function's own CPU time per batch (measured), rounded up to the next millisecond.
AWS_WAIT_MS_PER_BATCH = 20.0
AWS_WAIT_MS_PER_ALERT = 25.0  # transaction ~10 ms + publish ~10 ms + the "sent" mark ~5 ms
# Alerts cost: TransactWriteItems of 2 items (state + alert, 2 WRU each in a transaction) plus the "sent"
# UpdateItem (1 WRU); state writes without a fire (side_ts CAS) 1 WRU; BatchGetItem reads 1 RRU per key.
WRU_PER_ALERT = 2 * 2 + 1
WRU_PER_STATE_WRITE = 1
RRU_PER_STATE_READ = 1
# The CPU a 3 GB function gets is ~1.7 vCPU (Lambda scales CPU with memory: 1 vCPU at 1,769 MB); below
# 1,769 MB the CPU share shrinks in proportion, so CPU time stretches by 1769 / memory.
FULL_VCPU_MB = 1769
BASELINE_MEMORY_MB = 3072
MIN_MEMORY_MB = 128


@dataclass(frozen=True)
class Workload:
    """What one batch does, from the benchmark feed (the same for both implementations)."""

    ticks_per_message: float
    alerts_per_tick: float
    state_writes_per_batch: float  # crossing side_ts CAS writes without a fire
    state_reads_per_batch: float  # crossing keys read by BatchGetItem


@dataclass(frozen=True)
class CostBreakdown:
    memory_mb: int
    billed_ms_per_batch: int
    lambda_compute: float
    lambda_requests: float
    sqs: float
    dynamodb: float
    sns: float

    @property
    def total(self) -> float:
        return self.lambda_compute + self.lambda_requests + self.sqs + self.dynamodb + self.sns

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "total": self.total}


def cpu_stretch(memory_mb: int) -> float:
    """How much longer the same CPU work takes at this memory size than with a full vCPU."""
    return max(1.0, FULL_VCPU_MB / memory_mb)


def cost_per_million_ticks(
    cpu_ms_per_batch: float, memory_mb: int, workload: Workload, *, wait_ms_per_batch: float | None = None
) -> CostBreakdown:
    """USD per 1,000,000 ticks for a function using `cpu_ms_per_batch` of CPU per 25-record batch.
    `wait_ms_per_batch`: the batch's wall time waiting on AWS (e.g. the call-graph replay's mean); default:
    AWS_WAIT_MS_PER_BATCH plus AWS_WAIT_MS_PER_ALERT per alert."""
    if cpu_ms_per_batch < 0 or memory_mb < MIN_MEMORY_MB or workload.ticks_per_message <= 0:
        raise ValueError("cpu time >= 0, memory >= 128 MB and ticks per message > 0 expected")
    ticks_per_batch = RECORDS_PER_BATCH * workload.ticks_per_message
    batches = 1e6 / ticks_per_batch
    messages = 1e6 / workload.ticks_per_message
    alerts = 1e6 * workload.alerts_per_tick
    wait_ms = (
        AWS_WAIT_MS_PER_BATCH + AWS_WAIT_MS_PER_ALERT * workload.alerts_per_tick * ticks_per_batch
        if wait_ms_per_batch is None
        else wait_ms_per_batch
    )
    billed_ms = math.ceil(wait_ms + cpu_ms_per_batch * cpu_stretch(memory_mb))
    gb_seconds = batches * billed_ms / 1000 * memory_mb / 1024
    sqs_requests = (
        messages / MESSAGES_PER_SEND + messages / MESSAGES_PER_RECEIVE + messages / MESSAGES_PER_DELETE
    )
    wru = alerts * WRU_PER_ALERT + batches * workload.state_writes_per_batch * WRU_PER_STATE_WRITE
    rru = batches * workload.state_reads_per_batch * RRU_PER_STATE_READ
    return CostBreakdown(
        memory_mb=memory_mb,
        billed_ms_per_batch=billed_ms,
        lambda_compute=gb_seconds * LAMBDA_ARM64_GB_SECOND_USD,
        lambda_requests=batches * LAMBDA_REQUEST_USD,
        sqs=sqs_requests * SQS_STANDARD_REQUEST_USD,
        dynamodb=wru * DYNAMODB_WRITE_UNIT_USD + rru * DYNAMODB_READ_UNIT_USD,
        sns=alerts * SNS_PUBLISH_USD,
    )


def recommended_memory_mb(peak_rss_mb: float, headroom: float = 2.0) -> int:
    """The smallest Lambda memory size (a multiple of 64 MB, >= 128) holding `headroom` x the peak RSS."""
    needed = max(MIN_MEMORY_MB, peak_rss_mb * headroom)
    return int(math.ceil(needed / 64) * 64)


def prices() -> dict[str, Any]:
    """The list prices and their date, for the result file."""
    return {
        "region": "us-east-1",
        "as_of": PRICES_AS_OF,
        "lambda_arm64_gb_second_usd": LAMBDA_ARM64_GB_SECOND_USD,
        "lambda_request_usd": LAMBDA_REQUEST_USD,
        "sqs_standard_request_usd": SQS_STANDARD_REQUEST_USD,
        "dynamodb_write_unit_usd": DYNAMODB_WRITE_UNIT_USD,
        "dynamodb_read_unit_usd": DYNAMODB_READ_UNIT_USD,
        "sns_publish_usd": SNS_PUBLISH_USD,
    }


# ---------------------------------------------------------------- per million alerts (issue 17)
# What one alert writes (items under 1 KB: one unit each): the alert item and its symbol's state item in one
# TransactWriteItems (x2 each in a transaction), the by-owner index's copy of the alert (projection ALL:
# one index write per put, not doubled by the transaction), and the "sent" mark, an UpdateItem of the
# notification attributes that the index copies too.
ALERT_WRITE_UNITS = {"alert_item": 2, "state_item": 2}
ALERT_INDEX_WRITES = 1
MARK_WRITE_UNITS = 1
MARK_INDEX_WRITES = 1
ALERT_TARGET_USD = 5.0  # issue 17: per million alerts
TICK_TARGET_USD = 0.02  # issue 17: per million ticks at 100 ticks per message, benchmark feed


def cost_per_million_alerts(
    lambda_ms_per_alert: float, memory_mb: int, alerts_per_publish_request: float
) -> dict[str, Any]:
    """USD per 1,000,000 alerts with its breakdown. `lambda_ms_per_alert`: the wall time an alert adds to
    its batch (billed duration); `alerts_per_publish_request`: notifications per billed SNS request
    (PublishBatch carries up to 10; SNS bills each 64 KiB chunk of a request's payload as one request)."""
    if lambda_ms_per_alert < 0 or memory_mb < MIN_MEMORY_MB or not 1 <= alerts_per_publish_request <= 10:
        raise ValueError("lambda time >= 0, memory >= 128 MB and 1..10 alerts per publish request expected")
    per_alert = 1e6 * DYNAMODB_WRITE_UNIT_USD
    items = {name: units * per_alert for name, units in ALERT_WRITE_UNITS.items()}
    rest = {
        "index_writes": (ALERT_INDEX_WRITES + MARK_INDEX_WRITES) * per_alert,
        "mark": MARK_WRITE_UNITS * per_alert,
        "publish": 1e6 / alerts_per_publish_request * SNS_PUBLISH_USD,
        "lambda_time": 1e6 * lambda_ms_per_alert / 1000 * memory_mb / 1024 * LAMBDA_ARM64_GB_SECOND_USD,
    }
    total = sum(items.values()) + sum(rest.values())
    return {
        "breakdown": {"write_units_by_item": items, **rest},
        "total": total,
        "target": ALERT_TARGET_USD,
        "met": total <= ALERT_TARGET_USD,
        "memory_mb": memory_mb,
        "lambda_ms_per_alert": lambda_ms_per_alert,
        "alerts_per_publish_request": alerts_per_publish_request,
    }


def zipf_weights(symbols: int, exponent: float) -> list[float]:
    """Each symbol's share of the ticks when the k-th most active has weight 1 / k^exponent."""
    if symbols < 1 or exponent <= 0:
        raise ValueError("symbols >= 1 and exponent > 0 expected")
    raw = [1 / k**exponent for k in range(1, symbols + 1)]
    total = sum(raw)
    return [w / total for w in raw]


def expected_distinct(weights: list[float], draws: float) -> float:
    """The expected number of distinct symbols among `draws` ticks drawn by `weights`: a batch's state
    writes when every symbol keeps state (one write per symbol and batch)."""
    return sum(1 - (1 - w) ** draws for w in weights)

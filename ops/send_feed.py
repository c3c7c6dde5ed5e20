"""Sends market ticks to an SQS queue -- the stack's queue on real AWS or on the emulator: a feed file (one
body per line, local/feed.py) or a generated stream, at a given rate (token bucket, messages per second)
with SendMessageBatch (10 entries and at most 256 KiB per call), retrying the entries SQS reports as failed
for a transient reason. boto3 resolves the endpoint (AWS_ENDPOINT_URL, or real AWS).

    python -m ops.send_feed --queue-url URL --file local/data/sample-feed.jsonl --rate 50
    python -m ops.send_feed --queue-url URL --generate 200 --rate 20
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from local.clock import Clock
from local.feed import FeedConfig, iter_feed, newest_tick_micros, read_feed

SQS_MAX_BATCH_ENTRIES = 10
SQS_MAX_BATCH_BYTES = 262_144  # also the limit of one message body


class TokenBucket:
    """`rate` tokens per second, at most `capacity` saved up; `take(n)` waits until n tokens exist."""

    def __init__(
        self,
        rate: float,
        capacity: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0 or capacity <= 0:
            raise ValueError("rate and capacity must be > 0")
        self.rate, self.capacity = rate, capacity
        self._clock, self._sleep = clock, sleep
        self._tokens, self._last = capacity, clock()

    def take(self, n: float) -> None:
        if n > self.capacity:
            raise ValueError(f"cannot take {n} tokens from a bucket of {self.capacity}")
        while True:
            now = self._clock()
            self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
            self._last = now
            if self._tokens >= n:
                self._tokens -= n
                return
            self._sleep((n - self._tokens) / self.rate)


@dataclass
class SendResult:
    sent: int = 0
    failed: int = 0
    api_calls: int = 0
    retried_entries: int = 0
    failures: list[tuple[int, str, str]] = field(default_factory=list)  # (feed index, code, message)


Progress = Callable[[SendResult], None]
_REGION_IN_URL = re.compile(r"^https://sqs[.-]([a-z0-9-]+)\.amazonaws\.com")


def sqs_client(queue_url: str, endpoint_url: str | None = None, region: str | None = None) -> Any:
    """An SQS client for the queue. Region: the argument, else the one an AWS queue URL names, else
    AWS_REGION / AWS_DEFAULT_REGION / the profile, else us-east-1 (moto's queue URLs name none)."""
    session = boto3.session.Session()
    match = _REGION_IN_URL.match(queue_url)
    region = (
        region
        or (match.group(1) if match else None)
        or os.environ.get("AWS_REGION")
        or session.region_name
        or "us-east-1"
    )
    config = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=20)
    return session.client("sqs", region_name=region, endpoint_url=endpoint_url, config=config)


def _batches(bodies: Iterable[str], size: int) -> Iterator[list[tuple[int, str]]]:
    """Batches of at most `size` entries and SQS_MAX_BATCH_BYTES of bodies, with feed indexes."""
    batch: list[tuple[int, str]] = []
    total = 0
    for index, body in enumerate(bodies):
        length = len(body.encode("utf-8"))
        if batch and (len(batch) == size or total + length > SQS_MAX_BATCH_BYTES):
            yield batch
            batch, total = [], 0
        batch.append((index, body))
        total += length
    if batch:
        yield batch


def send_feed(
    bodies: Iterable[str],
    queue_url: str,
    rate: float | None = None,
    *,
    client: Any = None,
    progress: Progress | None = None,
    max_attempts: int = 5,
    sleep: Callable[[float], None] = time.sleep,
    bucket: TokenBucket | None = None,
    paced_by: Clock | None = None,
) -> SendResult:
    """Send every body as one message, at most `rate` messages per second (None: as fast as SQS takes them).

    Entries SQS reports as failed are retried with exponential backoff and full jitter unless SQS marks the
    fault as the sender's (those, and those still failing after `max_attempts`, are counted as failed).
    Whole-call errors (throttling, 5xx, network) are retried by botocore's standard retry mode.
    `paced_by` (R7): each batch waits until that clock has reached its newest tick, so that a recorded feed
    plays at its own timestamps in the local system's clock (local/clock.py) instead of arriving from the
    future.
    """
    client = client or sqs_client(queue_url)
    size = SQS_MAX_BATCH_ENTRIES if rate is None else max(1, min(SQS_MAX_BATCH_ENTRIES, int(rate)))
    if bucket is None and rate is not None:
        bucket = TokenBucket(rate, size)
    result = SendResult()
    rng = random.Random()
    for batch in _batches(bodies, size):
        pending = {}
        for index, body in batch:
            if len(body.encode("utf-8")) > SQS_MAX_BATCH_BYTES:  # SQS would refuse the whole call
                result.failed += 1
                result.failures.append((index, "BodyTooLarge", f"body over {SQS_MAX_BATCH_BYTES} bytes"))
            else:
                pending[str(index)] = (index, body)
        if pending:
            if paced_by is not None:
                stamps = [t for _, body in pending.values() if (t := newest_tick_micros(body)) is not None]
                paced_by.wait_until(max(stamps, default=0), sleep)
            if bucket is not None:
                bucket.take(len(pending))
            _send_batch(
                client,
                queue_url,
                pending,
                result,
                max_attempts=max_attempts,
                jitter_sleep=lambda cap: sleep(rng.uniform(0, cap)),
            )
        if progress is not None:
            progress(result)
    return result


def _send_batch(
    client: Any,
    queue_url: str,
    pending: dict[str, tuple[int, str]],
    result: SendResult,
    *,
    max_attempts: int,
    jitter_sleep: Callable[[float], None],
) -> None:
    """One SendMessageBatch, then again for the entries that failed for a transient reason."""
    # The last attempt counts every failure as final and returns: the loop never runs out.
    for attempt in range(max_attempts):  # pragma: no branch
        entries = [{"Id": key, "MessageBody": body} for key, (_, body) in pending.items()]
        response = client.send_message_batch(QueueUrl=queue_url, Entries=entries)
        result.api_calls += 1
        for ok in response.get("Successful", []):
            pending.pop(ok["Id"])
            result.sent += 1
        retry: dict[str, tuple[int, str]] = {}
        for bad in response.get("Failed", []):
            index, body = pending.pop(bad["Id"])
            if bad.get("SenderFault") or attempt == max_attempts - 1:
                result.failed += 1
                result.failures.append((index, bad.get("Code", ""), bad.get("Message", "")))
            else:
                retry[bad["Id"]] = (index, body)
        if not retry:
            return
        result.retried_entries += len(retry)
        pending = retry
        jitter_sleep(min(5.0, 0.05 * 2**attempt))  # full jitter: uniform in [0, cap)


def _print_progress(total: int) -> Progress:
    def show(result: SendResult) -> None:
        print(f"\rsent {result.sent}/{total} failed {result.failed}", end="", file=sys.stderr, flush=True)

    return show


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.send_feed", description=__doc__.split("\n")[0])
    parser.add_argument("--queue-url", required=True)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--file", type=Path)
    source.add_argument("--generate", type=int, metavar="MESSAGES", help="send a generated stream")
    parser.add_argument("--seed", type=int, default=FeedConfig.seed)
    parser.add_argument("--rate", type=float, default=None, help="messages per second (default: unlimited)")
    parser.add_argument("--endpoint-url", default=None, help="default: AWS_ENDPOINT_URL, else real AWS")
    parser.add_argument("--region", default=None)
    parser.add_argument(
        "--paced",
        action="store_true",
        help="send each message once the local system's clock (TAP_CLOCK) has reached its newest tick",
    )
    args = parser.parse_args(argv)
    bodies: Iterable[str]
    if args.file is not None:
        listed = list(read_feed(args.file))
        bodies, total = listed, len(listed)
    else:
        bodies, total = iter_feed(FeedConfig(seed=args.seed, messages=args.generate)), args.generate
    client = sqs_client(args.queue_url, args.endpoint_url, args.region)
    try:
        result = send_feed(
            bodies,
            args.queue_url,
            args.rate,
            client=client,
            progress=_print_progress(total),
            paced_by=Clock.from_env() if args.paced else None,
        )
    except (ClientError, BotoCoreError) as exc:  # after botocore's retries: queue missing, no access, ...
        print(f"\nsend failed: {exc}", file=sys.stderr)
        return 2
    print(file=sys.stderr)
    print(
        json.dumps(
            {
                "sent": result.sent,
                "failed": result.failed,
                "api_calls": result.api_calls,
                "retried_entries": result.retried_entries,
            }
        )
    )
    for index, code, message in result.failures:
        print(f"message {index} failed: {code} {message}", file=sys.stderr)
    return 0 if result.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

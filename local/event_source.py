"""A local SQS -> Lambda event source mapping with AWS's semantics, driving functions through the local
Runtime API emulator (local/runtime_api.py).

What Lambda's SQS poller does and this one reproduces:
- long-polls the queue and gathers a batch of up to `batch_size` messages, invoking when the batch is full or
  the batching window (counted from the first message of the batch) has passed;
- builds the event exactly as Lambda does: `Records[]` with messageId, receiptHandle, body, attributes
  (ApproximateReceiveCount, SentTimestamp, SenderId, ApproximateFirstReceiveTimestamp, ...),
  messageAttributes (stringValue / binaryValue base64 / stringListValues / binaryListValues / dataType),
  md5OfBody, md5OfMessageAttributes when there are attributes, eventSource `aws:sqs`, eventSourceARN,
  awsRegion;
- with ReportBatchItemFailures, deletes only the messages not listed in `batchItemFailures`; a response that
  is not a valid partial-failure report (unknown or empty itemIdentifier, not JSON) fails the whole batch;
  a function error or timeout deletes nothing. Failed messages reappear after the visibility timeout and the
  queue's own redrive policy moves them to the DLQ after maxReceiveCount;
- up to `concurrency` batches in flight, one function process (execution environment) each.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import boto3

from lib.config import DEFAULT_BATCH_SIZE, DEFAULT_BATCHING_WINDOW_SECONDS, event_source_problem
from local.function_host import DEFAULT_RUNNER, RUNNERS, runner
from local.runtime_api import InvocationResult
from local.sqs_event import sqs_event

STOP_CHECK_S = 0.1  # how soon the command line notices Ctrl-C or SIGTERM
MAX_RECEIVE = 10  # SQS ReceiveMessage limit per call
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024  # Lambda's invocation payload limit: a batch never exceeds it


class Invoker(Protocol):
    """What the event source invokes: a function under its runner (local/function_host.py)."""

    def invoke(self, payload: bytes, timeout_s: float, trace_id: str | None = None) -> InvocationResult: ...


@dataclass(frozen=True)
class EventSourceConfig:
    queue_url: str
    queue_arn: str
    region: str = "us-east-1"
    batch_size: int = DEFAULT_BATCH_SIZE  # the stack's mapping (lib/config.py, I4)
    batching_window_s: float = DEFAULT_BATCHING_WINDOW_SECONDS
    function_timeout_s: float = 60.0
    report_batch_item_failures: bool = True
    poll_wait_s: int = 1  # long-poll wait per ReceiveMessage (short, so that stop() is prompt)

    @classmethod
    def from_terraform_outputs(cls, outputs: Mapping[str, Any], **overrides: Any) -> EventSourceConfig:
        """From `terraform output -json` (or plain name -> value): the queue the stack created; the region
        is the queue ARN's. Batch size, window and timeout default to the stack's mapping and function."""
        values = {k: v["value"] if isinstance(v, dict) and "value" in v else v for k, v in outputs.items()}
        arn = str(values["queue_arn"])
        return cls(queue_url=str(values["queue_url"]), queue_arn=arn, region=arn.split(":")[3], **overrides)

    def __post_init__(self) -> None:
        if (problem := event_source_problem(self.batch_size, self.batching_window_s)) is not None:
            raise ValueError(problem)


@dataclass
class BatchOutcome:
    message_ids: list[str]
    result: InvocationResult
    deleted: list[str]
    failed: list[str]


@dataclass
class Stats:
    batches: list[BatchOutcome] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, outcome: BatchOutcome) -> None:
        with self.lock:
            self.batches.append(outcome)

    @property
    def deleted(self) -> list[str]:
        with self.lock:
            return [m for b in self.batches for m in b.deleted]


def failed_message_ids(result: InvocationResult, message_ids: Sequence[str], partial: bool) -> list[str]:
    """The messages to leave on the queue after an invocation, by Lambda's rules."""
    if result.status != "ok":
        return list(message_ids)  # function error, timeout, init error: nothing is deleted
    if not partial:
        return []
    reported = _reported_failures(result.payload, message_ids)
    if reported is None:
        return list(message_ids)  # not a valid partial-failure report: the whole batch failed
    return [m for m in message_ids if m in reported]


def _reported_failures(payload: bytes, message_ids: Sequence[str]) -> set[str] | None:
    """The ids of a `batchItemFailures` report, or None when the report is invalid."""
    try:
        response = json.loads(payload) if payload.strip() else None
    except ValueError:
        return None
    if not isinstance(response, dict) or response.get("batchItemFailures") is None:
        return set()  # no report (or null): every message succeeded
    failures = response["batchItemFailures"]
    if not isinstance(failures, list):
        return None
    identifiers = [item.get("itemIdentifier") if isinstance(item, dict) else None for item in failures]
    if not all(isinstance(i, str) and i in message_ids for i in identifiers):
        return None  # empty, null or unknown identifier: Lambda fails the whole batch
    return {str(i) for i in identifiers}


def split_by_payload(
    messages: list[dict[str, Any]], config: EventSourceConfig, limit: int = MAX_PAYLOAD_BYTES
) -> list[list[dict[str, Any]]]:
    """Consecutive parts of a batch whose events stay within Lambda's payload limit."""
    parts: list[list[dict[str, Any]]] = []
    for message in messages:
        candidate = [*parts[-1], message] if parts else [message]
        if parts and len(sqs_event(candidate, config.queue_arn, config.region)) <= limit:
            parts[-1] = candidate
        else:
            parts.append([message])
    return parts


class SqsEventSource:
    """Polls one queue and invokes the functions behind `emulators` (one batch at a time each)."""

    def __init__(
        self,
        config: EventSourceConfig,
        sqs: Any,  # a boto3 SQS client
        emulators: Sequence[Invoker],
        on_batch: Callable[[BatchOutcome], None] | None = None,
    ) -> None:
        self.config = config
        self.sqs = sqs
        self.emulators = list(emulators)
        self.on_batch = on_batch
        self.stats = Stats()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.errors: list[BaseException] = []

    def __enter__(self) -> SqsEventSource:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        for emulator in self.emulators:
            thread = threading.Thread(target=self._worker, args=(emulator,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def _worker(self, emulator: Invoker) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once(emulator)
            except Exception as exc:  # keep polling like Lambda; the error stays visible in self.errors
                self.errors.append(exc)
                self._stop.wait(1)

    def receive_batch(self) -> list[dict[str, Any]]:
        """Gathers up to batch_size messages within the batching window (empty when the queue is)."""
        batch: list[dict[str, Any]] = []
        window_end: float | None = None
        while len(batch) < self.config.batch_size and not self._stop.is_set():
            remaining = None if window_end is None else window_end - time.monotonic()
            if remaining is not None and remaining <= 0:
                break
            wait = self.config.poll_wait_s
            if remaining is not None:
                wait = min(wait, int(remaining))
            response = self.sqs.receive_message(
                QueueUrl=self.config.queue_url,
                MaxNumberOfMessages=min(MAX_RECEIVE, self.config.batch_size - len(batch)),
                WaitTimeSeconds=wait,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            messages = response.get("Messages", [])
            if not messages and window_end is None:
                return batch  # nothing queued: poll again
            if batch == [] and messages:
                window_end = time.monotonic() + self.config.batching_window_s
            batch.extend(messages)
        return batch

    def poll_once(self, emulator: Invoker) -> list[BatchOutcome]:
        """One receive cycle: the batch (split where it would exceed 6 MB), invoked and deleted."""
        return [self._invoke(emulator, part) for part in split_by_payload(self.receive_batch(), self.config)]

    def _invoke(self, emulator: Invoker, messages: list[dict[str, Any]]) -> BatchOutcome:
        ids = [m["MessageId"] for m in messages]
        result = emulator.invoke(
            sqs_event(messages, self.config.queue_arn, self.config.region), self.config.function_timeout_s
        )
        failed = failed_message_ids(result, ids, self.config.report_batch_item_failures)
        done = [m for m in messages if m["MessageId"] not in failed]
        deleted: list[str] = []
        for start in range(0, len(done), MAX_RECEIVE):
            chunk = done[start : start + MAX_RECEIVE]
            response = self.sqs.delete_message_batch(
                QueueUrl=self.config.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
            )
            not_deleted = {f["Id"] for f in response.get("Failed", [])}
            for failure in response.get("Failed", []):
                # Not lost: the message comes back after the visibility timeout (a duplicate delivery).
                self.errors.append(RuntimeError(f"DeleteMessageBatch failed: {failure}"))
            deleted.extend(m["MessageId"] for i, m in enumerate(chunk) if str(i) not in not_deleted)
        outcome = BatchOutcome(ids, result, deleted, failed)
        self.stats.add(outcome)
        if self.on_batch is not None:
            self.on_batch(outcome)
        return outcome


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the event source for a deployed (local or real) stack until Ctrl-C, SIGTERM or --duration."""
    parser = argparse.ArgumentParser(prog="python -m local.event_source", description=main.__doc__)
    parser.add_argument("--outputs", type=Path, required=True, help="`terraform output -json` of the stack")
    parser.add_argument("--endpoint-url", help="SQS endpoint (moto server); default: AWS")
    parser.add_argument("--concurrency", type=int, default=5, help="function processes in parallel")
    parser.add_argument("--batch-size", type=int, default=25)
    parser.add_argument("--window", type=float, default=1.0, help="batching window in seconds")
    parser.add_argument("--timeout", type=float, default=60.0, help="function timeout in seconds")
    parser.add_argument("--duration", type=float, default=0, help="stop after this many seconds (0: never)")
    parser.add_argument("--env", action="append", default=[], help="KEY=VALUE for the function (repeatable)")
    parser.add_argument("--runner", choices=sorted(RUNNERS), default=DEFAULT_RUNNER, help="its Runtime API")
    parser.add_argument("command", nargs="+", help="the function process, e.g. build/cpp/bootstrap")
    args = parser.parse_args(argv)
    config = EventSourceConfig.from_terraform_outputs(
        json.loads(args.outputs.read_text()),
        batch_size=args.batch_size,
        batching_window_s=args.window,
        function_timeout_s=args.timeout,
    )
    sqs = boto3.client("sqs", region_name=config.region, endpoint_url=args.endpoint_url)
    env = dict(item.split("=", 1) for item in args.env)
    # Ctrl-C and SIGTERM stop it. Python runs a signal handler in the main thread only, and the kernel may
    # deliver a process-directed signal to any thread: one that lands on a poller thread does not wake
    # the main thread's wait. So the handlers only set `stop`, and the main thread waits in short slices.
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}

    def report(outcome: BatchOutcome) -> None:
        line = {
            "messages": len(outcome.message_ids),
            "status": outcome.result.status,
            "errorType": outcome.result.error_type,
            "deleted": len(outcome.deleted),
            "failed": outcome.failed,
            "durationMs": round(outcome.result.duration * 1000, 3),
        }
        print(json.dumps(line), flush=True)

    source = SqsEventSource(config, sqs, [], on_batch=report)
    try:
        with contextlib.ExitStack() as stack:
            source.emulators = [
                stack.enter_context(runner(args.command, env, args.runner, Path.cwd(), echo=True))
                for _ in range(args.concurrency)
            ]
            with source:
                ends = time.monotonic() + args.duration if args.duration else math.inf
                while not stop.wait(STOP_CHECK_S) and time.monotonic() < ends:
                    pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    for error in source.errors:
        print(f"event source error: {error}", file=sys.stderr)
    return 1 if source.errors else 0


if __name__ == "__main__":
    sys.exit(main())

"""Dead-letter queue operations (issue 9 part 5): list what is in the DLQ and why, and redrive it.

    python -m ops.dlq list    --dlq-url URL [--logs FILE | --log-group NAME] [--endpoint-url URL] [--json]
    python -m ops.dlq redrive --dlq-url URL --queue-url URL [--method auto|move-task|loop]
                                [--max-messages N] [--skip-rejected] [--endpoint-url URL]

Why a message is in the DLQ:
- the function dead-lettered it itself (malformed body, invalid ticks, F7): the reason is its
  `RejectionReason` message attribute, the original message id its `SourceMessageId`;
- the queue's redrive policy moved it after maxReceiveCount failed receives (transient failures that never
  cleared, crashes, timeouts): the message keeps its id, and the reason is the last one the function logged
  for that id (a file of its JSON log lines, or CloudWatch Logs FilterLogEvents on the function's log group),
  else "retries exhausted" (e.g. the invocation itself failed or timed out, which logs no message id).

Redrive moves them back to the main queue: with SQS's message-move task (StartMessageMoveTask, what the
console's "Start DLQ redrive" does) where the endpoint supports it, else by a receive / send / delete loop
that keeps body and message attributes and deletes a message only after its copy was sent.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TextIO

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from local.sqs_queues import queue_arn

RETRIES_EXHAUSTED = "retries exhausted"
LIST_VISIBILITY_S = 30  # how long listed messages stay hidden from other consumers while we page through
MOVE_VISIBILITY_S = 60  # a received message stays ours this long while its copy is being sent
TERMINAL_TASK_STATES = ("COMPLETED", "FAILED", "CANCELLED")


@dataclass(frozen=True)
class DeadLetter:
    message_id: str  # the message's id in the DLQ
    source_message_id: str  # its id on the main queue (the same id when the redrive policy moved it)
    reason: str
    reason_source: str  # "attribute", "logs" or "none"
    sent_timestamp_ms: int
    receive_count: int
    body: str


# -- reasons from the function's logs --------------------------------------------------------------------
def reasons_from_lines(lines: Iterable[str]) -> dict[str, str]:
    """message id -> the last reason the function logged for it ("<event>: <reason>"). Lines that are not
    the function's JSON events (metrics, platform lines, text) are skipped."""
    reasons: dict[str, str] = {}
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if not isinstance(event, dict):
            continue
        message_id, reason = event.get("messageId"), event.get("reason")
        if isinstance(message_id, str) and isinstance(reason, str):
            reasons[message_id] = f"{event.get('message', 'failed')}: {reason}"
    return reasons


def reasons_from_file(path: Path) -> dict[str, str]:
    with path.open(encoding="utf-8", errors="replace") as lines:
        return reasons_from_lines(lines)


def reasons_from_cloudwatch(logs: Any, log_group: str, message_ids: Iterable[str]) -> dict[str, str]:
    """FilterLogEvents per message id with a JSON filter pattern. The pattern narrows the search on AWS; the
    lines are matched again here (emulators may ignore JSON patterns)."""
    reasons: dict[str, str] = {}
    for message_id in message_ids:
        pattern = '{ $.messageId = "' + message_id + '" }'
        lines: list[str] = []
        for page in logs.get_paginator("filter_log_events").paginate(
            logGroupName=log_group, filterPattern=pattern
        ):
            lines.extend(e["message"] for e in page.get("events", []))
        found = reasons_from_lines(lines).get(message_id)
        if found is not None:
            reasons[message_id] = found
    return reasons


# -- listing ---------------------------------------------------------------------------------------------
def _receive(sqs: Any, url: str, visibility_s: int, count: int = 10) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = sqs.receive_message(
        QueueUrl=url,
        MaxNumberOfMessages=count,
        VisibilityTimeout=visibility_s,
        WaitTimeSeconds=0,
        AttributeNames=["All"],
        MessageAttributeNames=["All"],
    ).get("Messages", [])
    return messages


def peek(sqs: Any, dlq_url: str) -> list[dict[str, Any]]:
    """Every message of the DLQ, received with a short visibility timeout to page through them, then made
    visible again at once (the list does not consume them)."""
    seen: dict[str, dict[str, Any]] = {}
    while True:
        batch = [m for m in _receive(sqs, dlq_url, LIST_VISIBILITY_S) if m["MessageId"] not in seen]
        if not batch:
            break
        seen.update((m["MessageId"], m) for m in batch)
    messages = list(seen.values())
    _release(sqs, dlq_url, messages)
    return messages


def _release(sqs: Any, url: str, messages: Sequence[dict[str, Any]]) -> None:
    """Makes received messages visible again at once."""
    for start in range(0, len(messages), 10):
        entries = [
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
            for i, m in enumerate(messages[start : start + 10])
        ]
        sqs.change_message_visibility_batch(QueueUrl=url, Entries=entries)


def _string_attribute(message: dict[str, Any], name: str) -> str | None:
    value = message.get("MessageAttributes", {}).get(name, {}).get("StringValue")
    return value if isinstance(value, str) else None


def describe(
    messages: Sequence[dict[str, Any]], log_reasons: Callable[[list[str]], dict[str, str]]
) -> list[DeadLetter]:
    """The reason of each message: its RejectionReason attribute, else the logs, else retries exhausted."""
    unexplained = [m["MessageId"] for m in messages if _string_attribute(m, "RejectionReason") is None]
    logged = log_reasons(unexplained) if unexplained else {}
    out = []
    for m in messages:
        attributes = m.get("Attributes", {})
        rejection = _string_attribute(m, "RejectionReason")
        if rejection is not None:
            reason, source = rejection, "attribute"
        elif m["MessageId"] in logged:
            reason, source = logged[m["MessageId"]], "logs"
        else:
            reason, source = RETRIES_EXHAUSTED, "none"
        out.append(
            DeadLetter(
                message_id=m["MessageId"],
                source_message_id=_string_attribute(m, "SourceMessageId") or m["MessageId"],
                reason=reason,
                reason_source=source,
                sent_timestamp_ms=int(attributes.get("SentTimestamp", 0)),
                receive_count=int(attributes.get("ApproximateReceiveCount", 0)),
                body=m["Body"],
            )
        )
    return sorted(out, key=lambda d: (d.sent_timestamp_ms, d.message_id))


# -- redrive ---------------------------------------------------------------------------------------------
def _resendable(attributes: dict[str, Any]) -> dict[str, Any]:
    """Received message attributes as SendMessage takes them (empty list fields dropped)."""
    return {
        name: {k: v for k, v in value.items() if v not in ([], None)} for name, value in attributes.items()
    }


@dataclass
class RedriveResult:
    method: str  # "move-task" or "loop"
    moved: int
    failed: int
    detail: str = ""
    skipped: int = 0  # left in the DLQ: rejected by the function (skip_rejected)


def redrive_loop(
    sqs: Any, dlq_url: str, queue_url: str, limit: int | None = None, *, skip_rejected: bool = False
) -> RedriveResult:
    """Receive from the DLQ, send each message to the main queue, delete it from the DLQ only once the send
    succeeded. A message whose send failed stays in the DLQ (visible again after MOVE_VISIBILITY_S).
    `skip_rejected` leaves the messages the function rejected (RejectionReason) where they are: data
    problems that would only be rejected again; they are made visible again when the loop ends."""
    moved = failed = 0
    errors: list[str] = []
    attempted: set[str] = set()
    skipped: list[dict[str, Any]] = []
    while limit is None or moved + failed < limit:
        # Never receive more than the limit leaves: a received message stays hidden for MOVE_VISIBILITY_S.
        count = 10 if limit is None else min(10, limit - moved - failed)
        batch = [
            m for m in _receive(sqs, dlq_url, MOVE_VISIBILITY_S, count) if m["MessageId"] not in attempted
        ]
        if not batch:
            break
        attempted.update(m["MessageId"] for m in batch)
        if skip_rejected:
            rejected = [m for m in batch if _string_attribute(m, "RejectionReason") is not None]
            skipped += rejected
            batch = [m for m in batch if m not in rejected]
            if not batch:
                continue
        entries = []
        for i, m in enumerate(batch):
            entry: dict[str, Any] = {"Id": str(i), "MessageBody": m["Body"]}
            if m.get("MessageAttributes"):
                entry["MessageAttributes"] = _resendable(m["MessageAttributes"])
            entries.append(entry)
        try:
            sent = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
        except ClientError as e:  # the whole batch refused (e.g. a body above the queue's size limit)
            errors.append(e.response.get("Error", {}).get("Message", str(e)))
            failed += len(batch)
            continue
        failed += len(sent.get("Failed", []))
        errors.extend(f.get("Message", f.get("Code", "")) for f in sent.get("Failed", []))
        done = [batch[int(s["Id"])] for s in sent.get("Successful", [])]
        if done:
            deleted = sqs.delete_message_batch(
                QueueUrl=dlq_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
            # A failed delete leaves a copy in the DLQ too: the function's writes are idempotent (F4), so a
            # second delivery of the moved copy is harmless; the operator sees it in the next list.
            if deleted.get("Failed"):
                print(
                    f"dlq: {len(deleted['Failed'])} moved message(s) not deleted from the DLQ",
                    file=sys.stderr,
                )
        moved += len(done)
    _release(sqs, dlq_url, skipped)
    return RedriveResult("loop", moved, failed, "; ".join(errors), len(skipped))


def redrive_move_task(sqs: Any, dlq_url: str, queue_url: str, wait_s: float, poll_s: float) -> RedriveResult:
    """SQS's message-move task from the DLQ to the main queue; waits for it to finish (up to wait_s)."""
    source = queue_arn(sqs, dlq_url)
    handle = sqs.start_message_move_task(SourceArn=source, DestinationArn=queue_arn(sqs, queue_url))[
        "TaskHandle"
    ]
    deadline = time.monotonic() + wait_s
    while True:
        tasks = sqs.list_message_move_tasks(SourceArn=source, MaxResults=10).get("Results", [])
        task: dict[str, Any] = next((t for t in tasks if t.get("TaskHandle") == handle), {})
        status = task.get("Status", "UNKNOWN")
        if status in TERMINAL_TASK_STATES or time.monotonic() >= deadline:
            moved = int(task.get("ApproximateNumberOfMessagesMoved", 0))
            to_move = int(task.get("ApproximateNumberOfMessagesToMove", moved))
            failed = 0 if status == "COMPLETED" else max(1, to_move - moved)
            detail = f"task {status} {task.get('FailureReason', '')}".strip()
            return RedriveResult("move-task", moved, failed, detail)
        time.sleep(poll_s)


def redrive(
    sqs: Any,
    dlq_url: str,
    queue_url: str,
    *,
    method: str = "auto",
    wait_s: float = 600.0,
    poll_s: float = 2.0,
    probe: Any = None,
    limit: int | None = None,
    skip_rejected: bool = False,
) -> RedriveResult:
    """`auto` tries the move task and falls back to the loop when the endpoint refuses it (not implemented
    by the emulator, no permission, the DLQ not attached by a redrive policy, ...)."""
    if method == "loop" or limit is not None or skip_rejected:  # a move task always moves everything
        return redrive_loop(sqs, dlq_url, queue_url, limit, skip_rejected=skip_rejected)
    try:
        return redrive_move_task(probe or sqs, dlq_url, queue_url, wait_s, poll_s)
    except ClientError as e:
        if method == "move-task":
            raise
        error = e.response.get("Error", {})
        why = (
            f"{error.get('Code', '?')} (HTTP {e.response.get('ResponseMetadata', {}).get('HTTPStatusCode')})"
        )
        result = redrive_loop(sqs, dlq_url, queue_url)
        result.detail = f"message-move task refused: {why}; used the receive/send/delete loop" + (
            f"; {result.detail}" if result.detail else ""
        )
        return result


# -- CLI -------------------------------------------------------------------------------------------------
def _clients(args: argparse.Namespace) -> tuple[Any, Any, Any]:
    session = boto3.session.Session(region_name=args.region)
    sqs = session.client("sqs", endpoint_url=args.endpoint_url)
    # The move-task attempt must not spend botocore's retries on an endpoint that does not implement it.
    probe = session.client(
        "sqs", endpoint_url=args.endpoint_url, config=Config(retries={"total_max_attempts": 1})
    )
    logs = session.client("logs", endpoint_url=args.endpoint_url)
    return sqs, probe, logs


def _log_reasons(args: argparse.Namespace, logs: Any) -> Callable[[list[str]], dict[str, str]]:
    if args.logs is not None:
        path: Path = args.logs
        return lambda _ids: reasons_from_file(path)
    if args.log_group is not None:
        group: str = args.log_group
        return lambda ids: reasons_from_cloudwatch(logs, group, ids)
    return lambda _ids: {}


def print_list(dead: Sequence[DeadLetter], as_json: bool, out: TextIO) -> None:
    if as_json:
        for d in dead:
            print(json.dumps(asdict(d)), file=out)
        return
    for d in dead:
        body = d.body if len(d.body) <= 80 else d.body[:77] + "..."
        print(f"{d.source_message_id}  received {d.receive_count}x  [{d.reason_source}] {d.reason}", file=out)
        print(f"    body: {body}", file=out)
    print(f"{len(dead)} message(s) in the DLQ", file=out)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ops.dlq", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("list", "redrive"))
    parser.add_argument("--dlq-url", required=True, help="the dead-letter queue (stack output)")
    parser.add_argument("--queue-url", help="the main queue (stack output); required by redrive")
    parser.add_argument("--endpoint-url", help="AWS endpoint (moto); default: AWS itself")
    parser.add_argument("--region", default=None, help="default: AWS_REGION / the profile's region")
    parser.add_argument("--logs", type=Path, help="a file of the function's JSON log lines")
    parser.add_argument("--log-group", help="the function's CloudWatch log group (/aws/lambda/<function>)")
    parser.add_argument("--json", action="store_true", help="list: one JSON object per message")
    parser.add_argument("--method", choices=("auto", "move-task", "loop"), default="auto")
    parser.add_argument("--max-messages", type=int, help="redrive: at most this many (implies the loop)")
    parser.add_argument("--wait", type=float, default=600.0, help="redrive: seconds to wait for a move task")
    parser.add_argument(
        "--skip-rejected",
        action="store_true",
        help="redrive: leave what the function rejected (RejectionReason) in the DLQ (implies the loop)",
    )
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    args = _parser().parse_args(argv)
    out = out or sys.stdout
    sqs, probe, logs = _clients(args)
    if args.command == "list":
        print_list(describe(peek(sqs, args.dlq_url), _log_reasons(args, logs)), args.json, out)
        return 0
    if not args.queue_url:
        print("dlq: redrive needs --queue-url", file=sys.stderr)
        return 2
    result = redrive(
        sqs,
        args.dlq_url,
        args.queue_url,
        method=args.method,
        wait_s=args.wait,
        probe=probe,
        limit=args.max_messages,
        skip_rejected=args.skip_rejected,
    )
    print(json.dumps(asdict(result)), file=out)
    return 0 if result.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

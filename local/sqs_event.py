"""Lambda's SQS event, the one builder of it: `Records[]` as the event source mapping delivers them.

From ReceiveMessage result messages (what the local event source receives), or from bodies alone
(`received_message` stands in for SQS) for callers that invoke the function directly.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Sequence
from typing import Any

from local.clock import Clock

REGION = "us-east-1"
QUEUE_ARN = f"arn:aws:sqs:{REGION}:123456789012:market-data-queue-local"


def sqs_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """One entry of the event's Records[], from a ReceiveMessage result message."""
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": {
            name: _message_attribute(value) for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message["MD5OfBody"],
    }
    if "MD5OfMessageAttributes" in message:
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    record.update({"eventSource": "aws:sqs", "eventSourceARN": queue_arn, "awsRegion": region})
    return record


def _message_attribute(value: dict[str, Any]) -> dict[str, Any]:
    attribute: dict[str, Any] = {
        "stringValue": value.get("StringValue"),
        "binaryValue": _b64(value["BinaryValue"]) if "BinaryValue" in value else None,
        "stringListValues": list(value.get("StringListValues", [])),
        "binaryListValues": [_b64(v) for v in value.get("BinaryListValues", [])],
        "dataType": value["DataType"],
    }
    return {k: v for k, v in attribute.items() if v is not None}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def sqs_event(messages: Sequence[dict[str, Any]], queue_arn: str = QUEUE_ARN, region: str = REGION) -> bytes:
    return json.dumps({"Records": [sqs_record(m, queue_arn, region) for m in messages]}).encode()


def received_message(
    body: str, message_id: str | None = None, receive_count: int = 1, sent_ms: int | None = None
) -> dict[str, Any]:
    """A ReceiveMessage result message as SQS returns it for `body` (a fresh id unless given; sent now by the
    local system's clock, local/clock.py, unless `sent_ms`)."""
    sent = Clock.from_env().now_micros() // 1000 if sent_ms is None else sent_ms
    message_id = message_id or str(uuid.uuid4())
    return {
        "MessageId": message_id,
        "ReceiptHandle": f"rh-{message_id}",
        "Body": body,
        "MD5OfBody": hashlib.md5(body.encode("utf-8", errors="surrogatepass")).hexdigest(),
        "Attributes": {
            "ApproximateReceiveCount": str(receive_count),
            "SentTimestamp": str(sent),
            "SenderId": "AIDAIENQZJOLO23YVJ4VO",
            "ApproximateFirstReceiveTimestamp": str(sent),
        },
    }


def event_of(
    bodies: Sequence[str],
    ids: Sequence[str] | None = None,
    receive_count: int = 1,
    *,
    queue_arn: str = QUEUE_ARN,
    region: str = REGION,
    sent_ms: int | None = None,
) -> bytes:
    """The event that delivers `bodies` (message ids `ids`, else fresh ones) with `receive_count`, sent at
    `sent_ms` (default: now)."""
    messages = [
        received_message(body, ids[i] if ids else None, receive_count, sent_ms)
        for i, body in enumerate(bodies)
    ]
    return sqs_event(messages, queue_arn, region)

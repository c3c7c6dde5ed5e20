"""SQS helpers the local tools and the tests share: a queue's ARN, and draining a queue."""

from __future__ import annotations

from typing import Any


def queue_arn(sqs: Any, url: str) -> str:
    return str(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])


def drain(sqs: Any, url: str) -> list[dict[str, Any]]:
    """Receives every message the queue holds now (with their attributes, SentTimestamp included, and
    message attributes) and deletes them; returns them in the order received."""
    messages: list[dict[str, Any]] = []
    while got := sqs.receive_message(
        QueueUrl=url,
        MaxNumberOfMessages=10,
        AttributeNames=["All"],
        MessageAttributeNames=["All"],
        WaitTimeSeconds=0,
    ).get("Messages", []):
        sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)],
        )
        messages += got
    return messages

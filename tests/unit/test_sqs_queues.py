"""local/sqs_queues.py against moto: a queue's ARN, and drain taking every message with its attributes."""

from __future__ import annotations

from typing import Any

from local.function_resources import client
from local.sqs_queues import drain, queue_arn
from tests.support.moto_server import moto_server


def test_drain_takes_every_message_with_its_attributes_and_leaves_the_queue_empty() -> None:
    with moto_server() as endpoint:
        sqs = client("sqs", endpoint)
        url = sqs.create_queue(QueueName="drained")["QueueUrl"]
        assert queue_arn(sqs, url) == "arn:aws:sqs:us-east-1:123456789012:drained"
        assert drain(sqs, url) == []
        for i in range(23):  # more than two receive batches
            sqs.send_message(
                QueueUrl=url,
                MessageBody=f"m{i}",
                MessageAttributes={"n": {"DataType": "Number", "StringValue": str(i)}},
            )
        messages = drain(sqs, url)
        assert sorted(m["Body"] for m in messages) == sorted(f"m{i}" for i in range(23))
        assert all(int(m["Attributes"]["SentTimestamp"]) > 0 for m in messages)
        assert {m["MessageAttributes"]["n"]["StringValue"] for m in messages} == {str(i) for i in range(23)}
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        assert (
            attributes["ApproximateNumberOfMessages"]
            == attributes["ApproximateNumberOfMessagesNotVisible"]
            == "0"
        )


class _Queue:
    """An SQS client for one queue holding `count` messages; like SQS it refuses a batch whose entry ids
    repeat (BatchEntryIdsNotDistinct)."""

    def __init__(self, count: int) -> None:
        self.messages = [{"Body": f"m{i}", "ReceiptHandle": f"rh{i}"} for i in range(count)]

    def receive_message(self, **request: Any) -> dict[str, Any]:
        n = request.get("MaxNumberOfMessages", 1)  # SQS's default is one message
        got, self.messages = self.messages[:n], self.messages[n:]
        return {"Messages": got} if got else {}

    def delete_message_batch(self, QueueUrl: str, Entries: list[dict[str, str]]) -> None:  # noqa: N803
        assert len({e["Id"] for e in Entries}) == len(Entries), "BatchEntryIdsNotDistinct"


def test_drain_deletes_each_batch_with_distinct_entry_ids() -> None:
    assert [m["Body"] for m in drain(_Queue(12), "url")] == [f"m{i}" for i in range(12)]

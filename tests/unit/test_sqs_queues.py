"""local/sqs_queues.py against moto: a queue's ARN, and drain taking every message with its attributes."""

from __future__ import annotations

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

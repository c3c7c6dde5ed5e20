"""The function's own resources, created directly with boto3 (no terraform) on an emulator.

For the tests and benchmarks that drive the function without deploying the stack: both tables with the
stack's key schemas (lib/tap_stack.py), the trading topic, the DLQ, and a capture queue subscribed to the
topic (raw delivery off) so that every notification can be read back with its SNS envelope.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from local.sqs_queues import queue_arn

# (name prefix, sort key): partition key `symbol` (S) for both, as in the stack (SPEC I2, I2b).
TABLES = (("market-alerts", "timestamp"), ("alert-state", "rule_id"))


@dataclass(frozen=True)
class FunctionResources:
    alerts_table: str
    state_table: str
    topic_arn: str
    dlq_url: str
    capture_url: str

    def env(self) -> dict[str, str]:
        """The function's variables that name its resources (the stack sets the same)."""
        return {
            "ALERTS_TABLE": self.alerts_table,
            "STATE_TABLE": self.state_table,
            "TOPIC_ARN": self.topic_arn,
            "DLQ_URL": self.dlq_url,
        }


def create_function_resources(dynamodb: Any, sns: Any, sqs: Any, suffix: str) -> FunctionResources:
    """Creates the resources named `{name}-{suffix}` with the given boto3 clients."""
    for prefix, sort_key in TABLES:
        dynamodb.create_table(
            TableName=f"{prefix}-{suffix}",
            KeySchema=[
                {"AttributeName": "symbol", "KeyType": "HASH"},
                {"AttributeName": sort_key, "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "symbol", "AttributeType": "S"},
                {"AttributeName": sort_key, "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
    topic_arn = sns.create_topic(Name=f"trading-alerts-{suffix}")["TopicArn"]
    dlq_url = sqs.create_queue(QueueName=f"market-data-dlq-{suffix}")["QueueUrl"]
    capture_url = sqs.create_queue(QueueName=f"capture-{suffix}")["QueueUrl"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn(sqs, capture_url))
    return FunctionResources(
        f"market-alerts-{suffix}", f"alert-state-{suffix}", topic_arn, dlq_url, capture_url
    )

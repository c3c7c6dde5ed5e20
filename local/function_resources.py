"""The function's own resources, created directly with boto3 (no terraform) on an emulator, and read back.

For the tests, benchmarks and the chaos campaign that drive the function without deploying the stack: the
alerts, state and rules tables with the stack's key schemas, the trading topic, the DLQ, and a capture queue
subscribed to the topic (raw delivery off) so that every notification can be read back with its SNS
envelope. Deployed, the function reads its rules from the rules table, where `tap_rules import` puts them
(local/rules_import.py); the bootstrap's own black-box tests hand it a fixture document instead (RULES_PATH,
R7: such tests construct their versions explicitly).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer

from lib.stack.tables import ALERTS_BY_OWNER
from local.emulator import LOCAL_ENV
from local.rules_import import RulesTool
from local.sqs_queues import drain, queue_arn
from tests.support.rules_table import create_rules_table

ROOT = Path(__file__).resolve().parents[1]
RULES_PATH = ROOT / "config" / "alert-rules.json"
# (name prefix, sort key): partition key `symbol` (S) for both, as in the stack.
ALERTS_PREFIX = "market-alerts"
TABLES = ((ALERTS_PREFIX, "timestamp"), ("alert-state", "rule_id"))


def client(service: str, endpoint: str | None) -> Any:
    """A boto3 client of the emulator at `endpoint` with its credentials (None: boto3 resolves the endpoint,
    e.g. from AWS_ENDPOINT_URL)."""
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=LOCAL_ENV["AWS_REGION"],
        aws_access_key_id=LOCAL_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=LOCAL_ENV["AWS_SECRET_ACCESS_KEY"],
    )


@dataclass(frozen=True)
class FunctionResources:
    alerts_table: str
    state_table: str
    topic_arn: str
    dlq_url: str
    capture_url: str
    endpoint: str | None = None  # the emulator they live on (None: boto3's own endpoint resolution)
    rules_table: str = ""  # "" when made without one (a fixture's resources)

    def env(self) -> dict[str, str]:
        """The function's variables that name its resources (the stack sets the same)."""
        return {
            "ALERTS_TABLE": self.alerts_table,
            "STATE_TABLE": self.state_table,
            "TOPIC_ARN": self.topic_arn,
            "DLQ_URL": self.dlq_url,
        }

    def function_env(self, rules_path: Path | None = RULES_PATH) -> dict[str, str]:
        """The function's whole environment for these resources on the emulator: credentials, region,
        endpoint, resource names and where its rules are: the fixture document `rules_path` (RULES_PATH;
        the table is then not named, since the function would prefer it), or with None the rules table,
        as deployed."""
        endpoint = {"AWS_ENDPOINT_URL": self.endpoint} if self.endpoint else {}
        rules = (
            {"RULES_PATH": str(rules_path)} if rules_path is not None else {"RULES_TABLE": self.rules_table}
        )
        return {**LOCAL_ENV, **endpoint, **self.env(), **rules}

    def rules_tool(self, clock_env: dict[str, str] | None = None) -> RulesTool:
        """`tap_rules` on this rules table (R6), with the clock's variables when a virtual clock runs."""
        return RulesTool(self.rules_table, self.endpoint, clock_env or {})

    def client(self, service: str) -> Any:
        return client(service, self.endpoint)

    def alerts(self) -> list[dict[str, Any]]:
        """Every stored alert item (all pages), attribute values unwrapped (numbers as Decimal)."""
        pages = (
            self.client("dynamodb")
            .get_paginator("scan")
            .paginate(TableName=self.alerts_table, ConsistentRead=True)
        )
        plain = TypeDeserializer().deserialize
        return [{k: plain(v) for k, v in item.items()} for page in pages for item in page["Items"]]

    def alert_keys(self) -> list[tuple[str, str]]:
        """The (symbol, timestamp) keys of the stored alerts, sorted."""
        return sorted((str(a["symbol"]), str(a["timestamp"])) for a in self.alerts())

    def dead_letters(self) -> list[dict[str, Any]]:
        """Drains the DLQ: every message with its attributes (RejectionReason, SourceMessageId)."""
        return drain(self.client("sqs"), self.dlq_url)

    def notifications(self) -> list[dict[str, Any]]:
        """Drains the capture queue: the SNS envelopes, their Message parsed."""
        out = []
        for message in drain(self.client("sqs"), self.capture_url):
            envelope = json.loads(message["Body"])
            envelope["Message"] = json.loads(envelope["Message"])
            out.append(envelope)
        return out


def _by_owner_index() -> dict[str, Any]:
    return {
        "IndexName": ALERTS_BY_OWNER.name,
        "KeySchema": [
            {"AttributeName": ALERTS_BY_OWNER.hash_key, "KeyType": "HASH"},
            {"AttributeName": ALERTS_BY_OWNER.range_key, "KeyType": "RANGE"},
        ],
        "Projection": {"ProjectionType": ALERTS_BY_OWNER.projection_type},
    }


def create_function_resources(
    dynamodb: Any, sns: Any, sqs: Any, suffix: str, endpoint: str | None = None
) -> FunctionResources:
    """Creates the resources named `{name}-{suffix}` with the given boto3 clients (of `endpoint`)."""
    for prefix, sort_key in TABLES:
        # The alerts table's by-owner index, as the stack makes it: the API lists an owner's alerts by it.
        alerts = prefix == ALERTS_PREFIX
        index_keys = (ALERTS_BY_OWNER.hash_key, ALERTS_BY_OWNER.range_key) if alerts else ()
        index = {"GlobalSecondaryIndexes": [_by_owner_index()]} if alerts else {}
        dynamodb.create_table(
            TableName=f"{prefix}-{suffix}",
            KeySchema=[
                {"AttributeName": "symbol", "KeyType": "HASH"},
                {"AttributeName": sort_key, "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": name, "AttributeType": "S"} for name in ("symbol", sort_key, *index_keys)
            ],
            BillingMode="PAY_PER_REQUEST",
            **index,
        )
    create_rules_table(dynamodb, f"alert-rules-{suffix}")
    topic_arn = sns.create_topic(Name=f"trading-alerts-{suffix}")["TopicArn"]
    dlq_url = sqs.create_queue(QueueName=f"market-data-dlq-{suffix}")["QueueUrl"]
    capture_url = sqs.create_queue(QueueName=f"capture-{suffix}")["QueueUrl"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn(sqs, capture_url))
    return FunctionResources(
        f"market-alerts-{suffix}",
        f"alert-state-{suffix}",
        topic_arn,
        dlq_url,
        capture_url,
        endpoint,
        f"alert-rules-{suffix}",
    )


def resources_on(endpoint: str, suffix: str) -> FunctionResources:
    """The function's resources on the emulator at `endpoint`."""
    return create_function_resources(
        client("dynamodb", endpoint), client("sns", endpoint), client("sqs", endpoint), suffix, endpoint
    )

"""local/function_resources.py on moto: the function's resources created under one suffix, its environment
naming them, and what it wrote read back (alerts unwrapped, the DLQ and the notifications drained)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal

import pytest

from lib.stack.tables import ALERTS_BY_OWNER
from local.function_resources import RULES_PATH, FunctionResources, resources_on
from tests.support.moto_server import moto_server


@pytest.fixture(scope="module")
def resources() -> Iterator[FunctionResources]:
    with moto_server() as endpoint:
        yield resources_on(endpoint, "fr")


def test_resources_have_the_stacks_key_schemas_and_the_capture_subscription(
    resources: FunctionResources,
) -> None:
    # First in the module: a mutation run (make mutation-py) credits the fixture's creation to this test.
    ddb, sns, sqs = (resources.client(s) for s in ("dynamodb", "sns", "sqs"))
    assert (resources.alerts_table, resources.state_table) == ("market-alerts-fr", "alert-state-fr")
    # The alerts table's by-owner index (lib/stack/tables.py) adds its keys' definitions, as in the stack.
    by_owner = (ALERTS_BY_OWNER.hash_key, ALERTS_BY_OWNER.range_key)
    for table, sort_key, index_keys in (
        (resources.alerts_table, "timestamp", by_owner),
        (resources.state_table, "rule_id", ()),
    ):
        described = ddb.describe_table(TableName=table)["Table"]
        assert [(k["AttributeName"], k["KeyType"]) for k in described["KeySchema"]] == [
            ("symbol", "HASH"),
            (sort_key, "RANGE"),
        ]
        assert sorted(
            (a["AttributeName"], a["AttributeType"]) for a in described["AttributeDefinitions"]
        ) == sorted([("symbol", "S"), (sort_key, "S"), *((key, "S") for key in index_keys)])
        indexes = described.get("GlobalSecondaryIndexes", [])
        assert [(i["IndexName"], [k["AttributeName"] for k in i["KeySchema"]]) for i in indexes] == (
            [(ALERTS_BY_OWNER.name, list(by_owner))] if index_keys else []
        )
    rules = ddb.describe_table(TableName=resources.rules_table)["Table"]
    assert resources.rules_table == "alert-rules-fr"
    assert [(k["AttributeName"], k["KeyType"]) for k in rules["KeySchema"]] == [
        ("pk", "HASH"),
        ("sk", "RANGE"),
    ]
    assert resources.dlq_url.endswith("/market-data-dlq-fr")
    assert resources.capture_url.endswith("/capture-fr")
    capture_arn = sqs.get_queue_attributes(QueueUrl=resources.capture_url, AttributeNames=["QueueArn"])
    subscriptions = sns.list_subscriptions_by_topic(TopicArn=resources.topic_arn)["Subscriptions"]
    assert [(s["Protocol"], s["Endpoint"]) for s in subscriptions] == [
        ("sqs", capture_arn["Attributes"]["QueueArn"])
    ]


def test_the_environment_names_the_resources_on_the_emulator(resources: FunctionResources) -> None:
    env = resources.function_env()
    assert env["ALERTS_TABLE"] == "market-alerts-fr"
    assert env["STATE_TABLE"] == "alert-state-fr"
    assert env["TOPIC_ARN"].endswith(":trading-alerts-fr")
    assert env["DLQ_URL"] == resources.dlq_url
    assert env["AWS_ENDPOINT_URL"] == resources.endpoint
    assert env["RULES_PATH"] == str(RULES_PATH)
    assert env["AWS_ACCESS_KEY_ID"] == "testing"
    assert "RULES_TABLE" not in env  # the function would prefer the table to the fixture document
    deployed = resources.function_env(None)  # the rules from the table, as deployed
    assert deployed["RULES_TABLE"] == "alert-rules-fr"
    assert "RULES_PATH" not in deployed


def test_the_rules_tool_works_on_the_resources_rules_table(resources: FunctionResources) -> None:
    tool = resources.rules_tool({"TAP_CLOCK": "real"})
    assert (tool.table, tool.endpoint, dict(tool.clock_env)) == (
        "alert-rules-fr",
        resources.endpoint,
        {"TAP_CLOCK": "real"},
    )
    assert dict(resources.rules_tool().clock_env) == {}


def test_without_an_endpoint_boto3_resolves_it() -> None:
    env = FunctionResources("a", "s", "arn:t", "http://dlq", "http://cap").function_env()
    assert "AWS_ENDPOINT_URL" not in env
    assert (env["ALERTS_TABLE"], env["DLQ_URL"]) == ("a", "http://dlq")


def test_what_the_function_wrote_is_read_back(resources: FunctionResources) -> None:
    ddb, sns, sqs = (resources.client(s) for s in ("dynamodb", "sns", "sqs"))
    for ts in ("2026-11-25T14:30:01.000000Z#r", "2026-11-25T14:30:00.000000Z#r"):
        item = {"symbol": {"S": "MSFT"}, "timestamp": {"S": ts}, "price": {"N": "451.5"}}
        ddb.put_item(TableName=resources.alerts_table, Item=item)
    sns.publish(TopicArn=resources.topic_arn, Message=json.dumps({"alert_id": "MSFT|x"}))
    sqs.send_message(QueueUrl=resources.dlq_url, MessageBody="bad")

    assert {a["price"] for a in resources.alerts()} == {Decimal("451.5")}
    assert resources.alert_keys() == [
        ("MSFT", "2026-11-25T14:30:00.000000Z#r"),
        ("MSFT", "2026-11-25T14:30:01.000000Z#r"),
    ]
    assert [n["Message"] for n in resources.notifications()] == [{"alert_id": "MSFT|x"}]
    assert resources.notifications() == []  # drained
    assert [m["Body"] for m in resources.dead_letters()] == ["bad"]

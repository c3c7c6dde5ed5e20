"""local/function_resources.py on moto: the function's resources created under one suffix, its environment
naming them, and what it wrote read back (alerts unwrapped, the DLQ and the notifications drained)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal

import pytest

from local.function_resources import RULES_PATH, FunctionResources, resources_on
from tests.support.moto_server import moto_server


@pytest.fixture(scope="module")
def resources() -> Iterator[FunctionResources]:
    with moto_server() as endpoint:
        yield resources_on(endpoint, "fr")


def test_the_environment_names_the_resources_on_the_emulator(resources: FunctionResources) -> None:
    env = resources.function_env()
    assert env["ALERTS_TABLE"] == "market-alerts-fr"
    assert env["STATE_TABLE"] == "alert-state-fr"
    assert env["TOPIC_ARN"].endswith(":trading-alerts-fr")
    assert env["DLQ_URL"] == resources.dlq_url
    assert env["AWS_ENDPOINT_URL"] == resources.endpoint
    assert env["RULES_PATH"] == str(RULES_PATH)
    assert env["AWS_ACCESS_KEY_ID"] == "testing"


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

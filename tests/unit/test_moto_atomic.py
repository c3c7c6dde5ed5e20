"""local/moto_atomic.py: DynamoDB requests run one at a time, everything else concurrently."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.dynamodb import models as dynamodb_models
from moto.dynamodb.models import DynamoDBBackend
from werkzeug.test import Client

from local import moto_atomic

SQS_AUTH = (
    "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0"
)


def test_dynamodb_requests_run_under_the_lock_and_others_do_not() -> None:
    lock = threading.Lock()
    seen: list[tuple[str, bool]] = []

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        seen.append((environ.get("HTTP_X_AMZ_TARGET", ""), lock.locked()))
        start_response("200 OK", [])

        def body() -> Iterable[bytes]:  # produced lazily: must be drained inside the lock
            seen.append(("body", lock.locked()))
            yield b"{}"

        return body()

    wrapped = moto_atomic.serialise_dynamodb(app, lock)
    assert wrapped({"HTTP_X_AMZ_TARGET": "DynamoDB_20120810.UpdateItem"}, lambda *a: None) == [b"{}"]
    assert list(wrapped({"HTTP_X_AMZ_TARGET": "AmazonSQS.ReceiveMessage"}, lambda *a: None)) == [b"{}"]
    assert seen == [
        ("DynamoDB_20120810.UpdateItem", True),
        ("body", True),
        ("AmazonSQS.ReceiveMessage", False),
        ("body", False),
    ]
    assert not lock.locked()
    assert moto_atomic.serialise_dynamodb(app) is not wrapped  # a lock of its own when none is given


def test_main_serves_moto_threaded(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[Any, ...]] = []
    undone: list[bool] = []
    monkeypatch.setattr(moto_atomic, "undo_by_item", lambda: undone.append(True))
    monkeypatch.setattr(moto_atomic, "run_simple", lambda *a, **k: calls.append((*a, k)))
    assert moto_atomic.main(["-H", "127.0.0.1", "-p", "4567"]) == 0
    assert moto_atomic.main(["-H", "127.0.0.1", "-p", "4568", "--cert", "c.pem", "--key", "k.pem"]) == 0
    ((host, port, app, kwargs), (_, tls_port, _, tls_kwargs)) = calls
    assert (host, port, kwargs) == ("127.0.0.1", 4567, {"threaded": True, "ssl_context": None})
    assert (tls_port, tls_kwargs) == (4568, {"threaded": True, "ssl_context": ("c.pem", "k.pem")})
    assert callable(app)
    assert undone == [True, True]  # moto's transactions undone by item in every server


def test_requests_without_a_target_header_run_outside_the_lock() -> None:
    lock = threading.Lock()

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        return [b"locked" if lock.locked() else b"free"]

    assert list(moto_atomic.serialise_dynamodb(app, lock)({"PATH_INFO": "/bucket"}, lambda *a: None)) == [
        b"free"
    ]


def test_main_defaults_to_moto_on_loopback_port_5000(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[Any, ...]] = []
    monkeypatch.setattr(moto_atomic, "undo_by_item", lambda: None)
    monkeypatch.setattr(moto_atomic, "run_simple", lambda *a, **k: calls.append(a))
    assert moto_atomic.main([]) == 0
    ((host, port, app),) = calls
    assert (host, port) == ("127.0.0.1", 5000)
    # The served app is moto's: an SQS request through the DynamoDB guard reaches moto's SQS backend.
    reply = Client(app).post(
        "/",
        data="Action=ListQueues",
        headers={"Host": "sqs.us-east-1.amazonaws.com", "Authorization": SQS_AUTH},
    )
    assert reply.status_code == 200


def test_main_describes_itself(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    with pytest.raises(SystemExit):
        moto_atomic.main(["--help"])
    shown = capsys.readouterr().out
    assert shown.startswith("usage: python -m local.moto_atomic ")
    assert "\nmoto server with DynamoDB's atomicity: one request at a time for the DynamoDB API.\n" in shown
    assert " serve HTTPS with this certificate (PEM) ...\n" in shown
    assert " ... and its private key\n" in shown


@pytest.fixture
def undone_by_item(monkeypatch: pytest.MonkeyPatch) -> Iterable[Any]:
    """An in-process moto whose transactions are undone by item (as the server's), put back afterwards."""
    monkeypatch.setattr(DynamoDBBackend, "transact_write_items", DynamoDBBackend.transact_write_items)
    monkeypatch.setattr(dynamodb_models, "copy", dynamodb_models.copy)
    moto_atomic.undo_by_item()
    patched = DynamoDBBackend.transact_write_items
    moto_atomic.undo_by_item()  # once is enough: a second call changes nothing
    assert DynamoDBBackend.transact_write_items is patched
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        for name, keys in (("ranged", ("pk", "sk")), ("plain", ("pk",))):
            dynamodb.create_table(
                TableName=name,
                KeySchema=[
                    {"AttributeName": k, "KeyType": kind}
                    for k, kind in zip(keys, ("HASH", "RANGE"), strict=False)
                ],
                AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k in keys],
                BillingMode="PAY_PER_REQUEST",
            )
        yield dynamodb


def everything(dynamodb: Any) -> dict[str, list[Any]]:
    return {t: sorted(map(str, dynamodb.scan(TableName=t)["Items"])) for t in ("ranged", "plain")}


def test_a_failed_transaction_leaves_every_item_as_it_was(undone_by_item: Any) -> None:
    dynamodb = undone_by_item
    dynamodb.put_item(TableName="ranged", Item={"pk": {"S": "a"}, "sk": {"S": "1"}, "n": {"N": "1"}})
    dynamodb.put_item(TableName="ranged", Item={"pk": {"S": "a"}, "sk": {"S": "gone"}})
    dynamodb.put_item(TableName="plain", Item={"pk": {"S": "p"}, "n": {"N": "1"}})
    before = everything(dynamodb)
    add = {"UpdateExpression": "ADD n :one", "ExpressionAttributeValues": {":one": {"N": "1"}}}
    with pytest.raises(dynamodb.exceptions.TransactionCanceledException):
        dynamodb.transact_write_items(
            TransactItems=[
                {"Update": {"TableName": "ranged", "Key": {"pk": {"S": "a"}, "sk": {"S": "1"}}, **add}},
                {"Update": {"TableName": "plain", "Key": {"pk": {"S": "p"}}, **add}},
                {"Put": {"TableName": "ranged", "Item": {"pk": {"S": "a"}, "sk": {"S": "new"}}}},
                {"Put": {"TableName": "ranged", "Item": {"pk": {"S": "b"}, "sk": {"S": "new"}}}},
                {"Put": {"TableName": "plain", "Item": {"pk": {"S": "new"}}}},
                {"Delete": {"TableName": "ranged", "Key": {"pk": {"S": "a"}, "sk": {"S": "gone"}}}},
                {
                    "ConditionCheck": {
                        "TableName": "plain",
                        "Key": {"pk": {"S": "q"}},
                        "ConditionExpression": "attribute_exists(pk)",  # fails: all is undone
                    }
                },
            ]
        )
    assert everything(dynamodb) == before


def test_a_committed_transaction_writes_and_a_malformed_one_is_refused(undone_by_item: Any) -> None:
    dynamodb = undone_by_item
    dynamodb.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": "ranged", "Item": {"pk": {"S": "a"}, "sk": {"S": "1"}}}},
            {"Put": {"TableName": "plain", "Item": {"pk": {"S": "p"}}}},
        ]
    )
    assert everything(dynamodb) == {
        "ranged": [str({"pk": {"S": "a"}, "sk": {"S": "1"}})],
        "plain": [str({"pk": {"S": "p"}})],
    }
    # Nothing is saved of an item moto refuses before writing it: no such table, no key.
    backend = dynamodb_models.dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
    refused: list[dict[str, Any]] = [
        {"Put": {"TableName": "nowhere", "Item": {"pk": {"S": "x"}}}},
        {"Put": {"TableName": "ranged", "Item": {"pk": {"S": "x"}}}},
        {"Delete": {"TableName": "plain"}},
    ]
    assert moto_atomic.saved_items(backend, refused) == []

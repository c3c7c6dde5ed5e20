"""The local SQS event source: Lambda's record layout and partial-batch rules (by value), then the whole loop
against moto server with a Python function under awslambdaric: deletes, retries and redrive to the DLQ."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from local.event_source import (
    BatchOutcome,
    EventSourceConfig,
    SqsEventSource,
    failed_message_ids,
    main,
    split_by_payload,
)
from local.runtime_api import InvocationResult, RuntimeApiEmulator
from local.sqs_event import event_of, received_message, sqs_event, sqs_record

ARN = "arn:aws:sqs:us-east-1:123456789012:market-data-queue-test"


def _ok(payload: bytes) -> InvocationResult:
    return InvocationResult("ok", payload, None, 0.01, "req")


# -- the event, by value --
def test_record_has_lambdas_layout_and_attribute_encoding() -> None:
    message = {
        "MessageId": "059f36b4-87a3-44ab-83d2-661975830a7d",
        "ReceiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a...",
        "Body": '{"symbol":"AAPL","price":189.25}',
        "Attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1545082649183",
            "SenderId": "AIDAIENQZJOLO23YVJ4VO",
            "ApproximateFirstReceiveTimestamp": "1545082649185",
        },
        "MessageAttributes": {
            "source": {"StringValue": "feed-1", "DataType": "String"},
            "raw": {"BinaryValue": b"\x00\xff", "DataType": "Binary"},
        },
        "MD5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
        "MD5OfMessageAttributes": "00484c68...59e48fb7",
    }
    record = sqs_record(message, ARN, "us-east-1")
    assert list(record) == [
        "messageId",
        "receiptHandle",
        "body",
        "attributes",
        "messageAttributes",
        "md5OfBody",
        "md5OfMessageAttributes",
        "eventSource",
        "eventSourceARN",
        "awsRegion",
    ]
    assert record["attributes"] == message["Attributes"]
    assert record["messageAttributes"] == {
        "source": {
            "stringValue": "feed-1",
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "String",
        },
        "raw": {"binaryValue": "AP8=", "stringListValues": [], "binaryListValues": [], "dataType": "Binary"},
    }
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == ARN
    assert record["awsRegion"] == "us-east-1"
    plain = sqs_record({**message, "MessageAttributes": {}, "MD5OfMessageAttributes": None}, ARN, "eu-west-1")
    del message["MD5OfMessageAttributes"]
    assert "md5OfMessageAttributes" not in sqs_record(message, ARN, "eu-west-1")
    assert plain["messageAttributes"] == {}
    event = json.loads(sqs_event([message, message], ARN, "us-east-1"))
    assert len(event["Records"]) == 2


def test_record_carries_list_attributes_and_the_attributes_digest() -> None:
    message = {
        **received_message("b", "id-1"),
        "MessageAttributes": {
            "tags": {"StringListValues": ["x", "y"], "DataType": "String"},
            "blobs": {"BinaryListValues": [b"\x01", b"\xff\x00"], "DataType": "Binary"},
        },
        "MD5OfMessageAttributes": "0123456789abcdef0123456789abcdef",
    }
    record = sqs_record(message, ARN, "eu-west-1")
    assert record["messageAttributes"] == {
        "tags": {"stringListValues": ["x", "y"], "binaryListValues": [], "dataType": "String"},
        "blobs": {"stringListValues": [], "binaryListValues": ["AQ==", "/wA="], "dataType": "Binary"},
    }
    assert record["md5OfMessageAttributes"] == "0123456789abcdef0123456789abcdef"


def test_every_record_of_an_event_names_the_queue_and_region() -> None:
    event = json.loads(sqs_event([received_message("a"), received_message("b")], ARN, "eu-west-1"))
    assert [(r["body"], r["eventSourceARN"], r["awsRegion"]) for r in event["Records"]] == [
        ("a", ARN, "eu-west-1"),
        ("b", ARN, "eu-west-1"),
    ]


def test_received_message_is_what_sqs_returns_for_a_body() -> None:
    body = '{"symbol":"AAPL","price":189.25}'
    assert received_message(body, "m-1", receive_count=3, sent_ms=1545082649183) == {
        "MessageId": "m-1",
        "ReceiptHandle": "rh-m-1",
        "Body": body,
        "MD5OfBody": "22bd52e4de03a9120bccfab6c43dd04e",
        "Attributes": {
            "ApproximateReceiveCount": "3",
            "SentTimestamp": "1545082649183",
            "SenderId": "AIDAIENQZJOLO23YVJ4VO",
            "ApproximateFirstReceiveTimestamp": "1545082649183",
        },
    }
    # A lone surrogate (what a hostile feed can put in a JSON string) is digested as SQS stores it.
    assert received_message("\ud800", "m")["MD5OfBody"] == hashlib.md5(b"\xed\xa0\x80").hexdigest()


def test_received_message_defaults_to_a_first_receive_sent_now_with_a_fresh_id() -> None:
    before = int(time.time() * 1000)
    first, second = received_message("a"), received_message("a")
    after = int(time.time() * 1000)
    assert first["Attributes"]["ApproximateReceiveCount"] == "1"
    assert before <= int(first["Attributes"]["SentTimestamp"]) <= after
    assert first["MessageId"] != second["MessageId"]
    assert first["ReceiptHandle"] == f"rh-{first['MessageId']}"


def test_event_of_delivers_bodies_with_their_ids_count_queue_and_time() -> None:
    event = json.loads(
        event_of(["a", "b"], ["i-a", "i-b"], 2, queue_arn=ARN, region="eu-west-1", sent_ms=1000)
    )
    assert [
        (
            r["messageId"],
            r["body"],
            r["attributes"]["ApproximateReceiveCount"],
            r["attributes"]["SentTimestamp"],
        )
        for r in event["Records"]
    ] == [("i-a", "a", "2", "1000"), ("i-b", "b", "2", "1000")]
    assert {(r["eventSourceARN"], r["awsRegion"]) for r in event["Records"]} == {(ARN, "eu-west-1")}
    fresh = json.loads(event_of(["a", "b"]))["Records"]
    assert fresh[0]["messageId"] != fresh[1]["messageId"]
    assert fresh[0]["attributes"]["ApproximateReceiveCount"] == "1"


@pytest.mark.parametrize(
    ("result", "partial", "expected"),
    [
        (InvocationResult("error", b"{}", "Boom", 0.1, "r"), True, ["a", "b", "c"]),
        (InvocationResult("timeout", b"", "Sandbox.Timedout", 1, "r"), True, ["a", "b", "c"]),
        (_ok(b'{"batchItemFailures":[{"itemIdentifier":"c"},{"itemIdentifier":"a"}]}'), True, ["a", "c"]),
        (_ok(b'{"batchItemFailures":[{"itemIdentifier":"c"}]}'), False, []),  # mapping without the feature
        (_ok(b'{"batchItemFailures":[]}'), True, []),
        (_ok(b'{"batchItemFailures":null}'), True, []),
        (_ok(b"{}"), True, []),
        (_ok(b""), True, []),
        (_ok(b"null"), True, []),
        (_ok(b"not json"), True, ["a", "b", "c"]),
        (_ok(b'{"batchItemFailures":"a"}'), True, ["a", "b", "c"]),
        (_ok(b'{"batchItemFailures":[{"itemIdentifier":""}]}'), True, ["a", "b", "c"]),
        (_ok(b'{"batchItemFailures":[{"itemIdentifier":null}]}'), True, ["a", "b", "c"]),
        (_ok(b'{"batchItemFailures":[{"itemIdentifier":"zzz"}]}'), True, ["a", "b", "c"]),
        (_ok(b'{"batchItemFailures":["a"]}'), True, ["a", "b", "c"]),
    ],
)
def test_failed_message_ids_follow_lambdas_rules(
    result: InvocationResult, partial: bool, expected: list[str]
) -> None:
    assert failed_message_ids(result, ["a", "b", "c"], partial) == expected


def test_batches_are_split_to_stay_within_the_payload_limit() -> None:
    config = EventSourceConfig("u", ARN)

    def message(i: int, size: int) -> dict[str, Any]:
        return {"MessageId": f"m{i}", "ReceiptHandle": "h", "Body": "x" * size, "MD5OfBody": "0"}

    small = [message(i, 10) for i in range(5)]
    assert split_by_payload(small, config) == [small]
    assert split_by_payload([], config) == []
    big = [message(i, 1000) for i in range(5)]
    one = len(sqs_event(big[:1], ARN, "us-east-1"))
    two = len(sqs_event(big[:2], ARN, "us-east-1"))
    assert split_by_payload(big, config, limit=two) == [big[0:2], big[2:4], big[4:5]]
    assert split_by_payload(big, config, limit=one) == [[m] for m in big]
    for part in split_by_payload(big, config, limit=two + 500):
        assert len(sqs_event(part, ARN, "us-east-1")) <= two + 500


def test_config_is_validated_like_aws() -> None:
    with pytest.raises(ValueError, match="batch_size"):
        EventSourceConfig("u", ARN, batch_size=0)
    with pytest.raises(ValueError, match="batching window"):
        EventSourceConfig("u", ARN, batch_size=25, batching_window_s=0.5)
    assert EventSourceConfig("u", ARN, batch_size=10, batching_window_s=0).batch_size == 10


# -- against moto server --
@pytest.fixture(scope="module")
def sqs() -> Iterator[Any]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    client = boto3.client(
        "sqs",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    yield client
    server.stop()


def _queues(sqs: Any, name: str, visibility: int = 1, max_receive: int = 2) -> tuple[str, str, str]:
    dlq_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    url = sqs.create_queue(
        QueueName=name,
        Attributes={
            "VisibilityTimeout": str(visibility),
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive}),
        },
    )["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn, dlq_url


HANDLER = """
import json, os, time

def handler(event, context):
    with open(os.environ["SEEN_FILE"], "a") as seen:
        seen.write(json.dumps(event) + "\\n")
    failures = []
    for record in event["Records"]:
        if record["body"].startswith("slow"):
            time.sleep(5)
        if record["body"].startswith("fail"):
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
"""


def _emulator(tmp_path: Path, seen: Path) -> RuntimeApiEmulator:
    (tmp_path / "sqs_handler.py").write_text(textwrap.dedent(HANDLER))
    return RuntimeApiEmulator(
        [sys.executable, "-m", "awslambdaric", "sqs_handler.handler"],
        env={"PYTHONPATH": str(tmp_path), "SEEN_FILE": str(seen)},
        cwd=tmp_path,
    )


def _seen_records(seen: Path) -> list[dict[str, Any]]:
    if not seen.exists():
        return []
    return [r for line in seen.read_text().splitlines() for r in json.loads(line)["Records"]]


def _drain(sqs: Any, url: str) -> list[str]:
    bodies: list[str] = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        bodies.extend(m["Body"] for m in messages)
    return bodies


def test_partial_failures_are_retried_then_redriven_to_the_dlq(sqs: Any, tmp_path: Path) -> None:
    # Visibility above the cold start + batching window, as AWS requires it above the function timeout;
    # otherwise healthy messages reappear before their delete (a duplicate delivery, not what is tested here).
    url, arn, dlq_url = _queues(sqs, "market-data-queue-redrive", visibility=4)
    bodies = [f"ok-{i}" for i in range(12)] + ["fail-1", "fail-2"]
    for start in range(0, len(bodies), 10):
        sqs.send_message_batch(
            QueueUrl=url,
            Entries=[
                {
                    "Id": str(i),
                    "MessageBody": body,
                    "MessageAttributes": {"source": {"StringValue": "feed", "DataType": "String"}},
                }
                for i, body in enumerate(bodies[start : start + 10])
            ],
        )
    seen = tmp_path / "seen.jsonl"
    config = EventSourceConfig(url, arn, batch_size=25, batching_window_s=1, function_timeout_s=20)
    outcomes: list[BatchOutcome] = []
    with (
        _emulator(tmp_path, seen) as first,
        _emulator(tmp_path, seen) as second,
        SqsEventSource(config, sqs, [first, second], on_batch=outcomes.append) as source,
    ):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            dead = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["ApproximateNumberOfMessages"])
            if int(dead["Attributes"]["ApproximateNumberOfMessages"]) == 2:
                break
            time.sleep(0.3)
    assert source.errors == []
    assert sorted(_drain(sqs, dlq_url)) == ["fail-1", "fail-2"]
    assert _drain(sqs, url) == []
    records = _seen_records(seen)
    by_body: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_body.setdefault(record["body"], []).append(record)
    assert sorted(by_body) == sorted(bodies)
    for body in bodies:
        deliveries = by_body[body]
        # ok messages are deleted after their first delivery; failing ones are retried until maxReceiveCount
        assert len(deliveries) == (2 if body.startswith("fail") else 1), body
        counts = [int(r["attributes"]["ApproximateReceiveCount"]) for r in deliveries]
        assert counts == list(range(1, len(deliveries) + 1))
    record = by_body["ok-0"][0]
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == arn
    assert record["awsRegion"] == "us-east-1"
    assert record["md5OfBody"] == hashlib.md5(b"ok-0").hexdigest()
    assert {
        "ApproximateReceiveCount",
        "SentTimestamp",
        "SenderId",
        "ApproximateFirstReceiveTimestamp",
    } <= set(record["attributes"])
    assert record["messageAttributes"]["source"]["stringValue"] == "feed"
    assert "md5OfMessageAttributes" in record
    deleted = [m for o in outcomes for m in o.deleted]
    assert sorted(deleted) == sorted(source.stats.deleted)
    assert len(deleted) == 12
    assert all(len(o.message_ids) <= 25 for o in outcomes)


def test_timeout_keeps_the_whole_batch_and_batches_are_capped(sqs: Any, tmp_path: Path) -> None:
    url, arn, _ = _queues(sqs, "market-data-queue-timeout", visibility=30, max_receive=5)
    for body in ("slow", "ok-a", "ok-b"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    seen = tmp_path / "seen.jsonl"
    config = EventSourceConfig(url, arn, batch_size=10, batching_window_s=0.5, function_timeout_s=1)
    with _emulator(tmp_path, seen) as emulator:
        source = SqsEventSource(config, sqs, [emulator])
        (outcome,) = source.poll_once(emulator)
        assert outcome.result.status == "timeout"
        assert outcome.deleted == []
        assert sorted(outcome.failed) == sorted(outcome.message_ids)
        assert len(outcome.message_ids) == 3
        assert source.poll_once(emulator) == []  # all three invisible now: nothing to receive
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
    )
    assert attributes["Attributes"]["ApproximateNumberOfMessagesNotVisible"] == "3"

    url2, arn2, _ = _queues(sqs, "market-data-queue-cap", visibility=30)
    for i in range(5):
        sqs.send_message(QueueUrl=url2, MessageBody=f"m{i}")
    capped = SqsEventSource(EventSourceConfig(url2, arn2, batch_size=2, batching_window_s=5), sqs, [])
    start = time.monotonic()
    assert len(capped.receive_batch()) == 2  # a full batch does not wait for the window
    assert time.monotonic() - start < 4


def test_without_partial_reporting_a_successful_invocation_deletes_everything(
    sqs: Any, tmp_path: Path
) -> None:
    url, arn, _ = _queues(sqs, "market-data-queue-nopartial", visibility=30)
    for body in ("fail-x", "ok-y"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    seen = tmp_path / "seen.jsonl"
    config = EventSourceConfig(
        url,
        arn,
        batch_size=10,
        batching_window_s=0.3,
        function_timeout_s=20,
        report_batch_item_failures=False,
    )
    with _emulator(tmp_path, seen) as emulator:
        (outcome,) = SqsEventSource(config, sqs, [emulator]).poll_once(emulator)
    assert outcome.failed == []
    assert sorted(outcome.deleted) == sorted(outcome.message_ids)
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    assert attributes == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}


# -- failures of the poller itself are visible --
class _FlakySqs:
    def __init__(self) -> None:
        self.calls = 0

    def receive_message(self, **_: Any) -> dict[str, Any]:
        self.calls += 1
        if self.calls == 1:
            raise ConnectionError("queue unreachable")
        if self.calls == 2:
            return {
                "Messages": [
                    {
                        "MessageId": "m1",
                        "ReceiptHandle": "h1",
                        "Body": "b",
                        "MD5OfBody": "x",
                        "Attributes": {},
                    }
                ]
            }
        return {}

    def delete_message_batch(self, **kwargs: Any) -> dict[str, Any]:
        return {"Failed": [{"Id": e["Id"], "Code": "ReceiptHandleIsInvalid"} for e in kwargs["Entries"]]}


class _FakeEmulator:
    def invoke(self, payload: bytes, timeout_s: float) -> InvocationResult:
        assert json.loads(payload)["Records"][0]["messageId"] == "m1"
        return _ok(b"{}")


def test_poller_errors_and_failed_deletes_are_recorded() -> None:
    config = EventSourceConfig("u", ARN, batch_size=10, batching_window_s=0, poll_wait_s=0)
    sqs = _FlakySqs()
    source = SqsEventSource(config, sqs, [_FakeEmulator()])  # type: ignore[list-item]
    with source:
        deadline = time.monotonic() + 10
        while sqs.calls < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert [str(e) for e in source.errors] == [
        "queue unreachable",
        "DeleteMessageBatch failed: {'Id': '0', 'Code': 'ReceiptHandleIsInvalid'}",
    ]
    assert source.stats.deleted == []  # the delete failed: the message will come back


# -- the command line --
def test_cli_runs_the_mapping_from_terraform_outputs(
    sqs: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    url, arn, _ = _queues(sqs, "market-data-queue-cli", visibility=30)
    for body in ("ok-1", "fail-1", "ok-2"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    outputs = tmp_path / "outputs.json"
    outputs.write_text(
        json.dumps(
            {
                "queue_url": {"sensitive": False, "type": "string", "value": url},
                "queue_arn": {"sensitive": False, "type": "string", "value": arn},
            }
        )
    )
    (tmp_path / "sqs_handler.py").write_text(textwrap.dedent(HANDLER))
    seen = tmp_path / "seen.jsonl"
    command = [sys.executable, "-m", "awslambdaric", "sqs_handler.handler"]
    options = ["--outputs", str(outputs), "--endpoint-url", sqs.meta.endpoint_url, "--concurrency", "1"]
    options += ["--window", "0.2", "--batch-size", "10", "--env", f"PYTHONPATH={tmp_path}"]
    options += ["--env", f"SEEN_FILE={seen}"]
    assert main([*options, "--duration", "4", "--", *command]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert sum(line["deleted"] for line in lines) == 2
    assert [len(line["failed"]) for line in lines] == [1]
    assert lines[0]["status"] == "ok"

    # SIGINT (Ctrl-C) stops it cleanly, with no function process left behind
    timer = threading.Timer(1.5, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    started = time.monotonic()
    assert main([*options, "--duration", "60", "--", *command]) == 0
    assert time.monotonic() - started < 10
    timer.join()


def test_cli_reports_poller_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({"queue_url": "http://127.0.0.1:9/q", "queue_arn": ARN}))
    closed = "http://127.0.0.1:9"  # the discard port: nothing listens there
    argv = ["--outputs", str(outputs), "--endpoint-url", closed, "--concurrency", "1", "--duration", "1.5"]
    assert main([*argv, "--", sys.executable, "-c", "pass"]) == 1
    assert "event source error" in capsys.readouterr().err


def test_config_from_plain_outputs() -> None:
    config = EventSourceConfig.from_terraform_outputs(
        {"queue_url": "https://sqs.eu-west-1.amazonaws.com/1/q", "queue_arn": "arn:aws:sqs:eu-west-1:1:q"},
        batch_size=5,
    )
    assert (config.region, config.batch_size, config.batching_window_s) == ("eu-west-1", 5, 1.0)

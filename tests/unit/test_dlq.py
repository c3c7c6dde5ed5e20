"""The DLQ tool (ops/dlq.py) against moto server: reasons from the message attribute, from the function's
logs (a file and CloudWatch Logs FilterLogEvents) or "retries exhausted"; redrive by the receive/send/delete
loop (moto 5.2.5 does not implement StartMessageMoveTask); the move-task path with botocore's Stubber."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from local.function_resources import client
from local.sqs_event import sqs_event
from local.sqs_queues import queue_arn
from ops import dlq
from tests.chaos.hostile import firing_tick
from tests.support.function_harness import running_function
from tests.support.moto_server import FAKE_CREDENTIALS, moto_server

LOG_GROUP = "/aws/lambda/data-processor-test"


@dataclass
class Queues:
    endpoint: str
    sqs: Any
    queue_url: str
    dlq_url: str


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with moto_server() as url:
        yield url


@pytest.fixture(autouse=True)
def _credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def queues(endpoint: str, request: pytest.FixtureRequest) -> Queues:
    """A main queue whose redrive policy moves a message to the DLQ after its first failed receive."""
    sqs = client("sqs", endpoint)
    name = request.node.name.replace("[", "-").replace("]", "")[:60]
    dlq_url = sqs.create_queue(QueueName=f"dlq-{name}")["QueueUrl"]
    policy = json.dumps({"deadLetterTargetArn": queue_arn(sqs, dlq_url), "maxReceiveCount": 1})
    queue_url = sqs.create_queue(QueueName=f"q-{name}", Attributes={"RedrivePolicy": policy})["QueueUrl"]
    return Queues(endpoint, sqs, queue_url, dlq_url)


def _redrive_policy_moves(q: Queues, body: str) -> str:
    """Sends a message and lets it fail once: moto, like SQS, moves it to the DLQ on the next receive."""
    message_id: str = q.sqs.send_message(QueueUrl=q.queue_url, MessageBody=body)["MessageId"]
    assert q.sqs.receive_message(QueueUrl=q.queue_url, VisibilityTimeout=0)["Messages"]
    assert "Messages" not in q.sqs.receive_message(QueueUrl=q.queue_url, VisibilityTimeout=0)
    return message_id


def _function_dead_letters(q: Queues, body: str, reason: str, source_id: str) -> None:
    """What the function's SqsDeadLetters sends."""
    q.sqs.send_message(
        QueueUrl=q.dlq_url,
        MessageBody=body,
        MessageAttributes={
            "RejectionReason": {"DataType": "String", "StringValue": reason},
            "SourceMessageId": {"DataType": "String", "StringValue": source_id},
        },
    )


LOG_LINES = [
    "START RequestId: 1 Version: $LATEST",
    json.dumps({"_aws": {"Timestamp": 1}, "Messages": 3}),
    "[1, 2]",
    json.dumps({"level": "INFO", "messageId": "{id}", "message": "alert stored"}),
    json.dumps(
        {
            "level": "WARN",
            "messageId": "{id}",
            "message": "state write failed, message will be retried",
            "reason": "ProvisionedThroughputExceededException: rate exceeded",
        }
    ),
    json.dumps(
        {
            "level": "WARN",
            "messageId": "{id}",
            "message": "notification failed, message will be retried",
            "reason": "Throttling: Rate exceeded",
        }
    ),
]
LOGGED = "notification failed, message will be retried: Throttling: Rate exceeded"


def _seed(q: Queues) -> tuple[str, str]:
    """Three dead letters: rejected by the function, moved with a logged reason, moved without one."""
    _function_dead_letters(q, '{"price":-1}', "tick[0].price: must be a finite number > 0", "orig-1")
    logged = _redrive_policy_moves(q, '{"symbol":"AAPL"}')
    silent = _redrive_policy_moves(q, '{"symbol":"MSFT"}')
    return logged, silent


def _lines(message_id: str) -> list[str]:
    return [line.replace("{id}", message_id) for line in LOG_LINES]


def test_list_with_reasons_from_a_log_file(queues: Queues, tmp_path: Path) -> None:
    logged, silent = _seed(queues)
    logs = tmp_path / "function.log"
    logs.write_text("\n".join(_lines(logged)) + "\n")
    out = io.StringIO()
    argv = [
        "list",
        "--dlq-url",
        queues.dlq_url,
        "--endpoint-url",
        queues.endpoint,
        "--logs",
        str(logs),
        "--json",
    ]

    assert dlq.main(argv, out) == 0

    listed = {d["source_message_id"]: d for d in map(json.loads, out.getvalue().splitlines())}
    assert {k: (v["reason"], v["reason_source"]) for k, v in listed.items()} == {
        "orig-1": ("tick[0].price: must be a finite number > 0", "attribute"),
        logged: (LOGGED, "logs"),
        silent: (dlq.RETRIES_EXHAUSTED, "none"),
    }
    assert listed[logged]["message_id"] == logged  # the redrive policy keeps the message id
    assert listed[logged]["body"] == '{"symbol":"AAPL"}'
    assert listed[logged]["receive_count"] >= 1
    # Listing does not consume: the same three are there, visible at once.
    again = io.StringIO()
    assert dlq.main(argv, again) == 0
    assert len(again.getvalue().splitlines()) == 3


def test_list_with_reasons_from_cloudwatch_logs(queues: Queues) -> None:
    logged, silent = _seed(queues)
    logs = client("logs", queues.endpoint)
    group = f"{LOG_GROUP}-{logged[:8]}"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="2026/11/25/[$LATEST]abc")
    now = int(time.time() * 1000)
    logs.put_log_events(
        logGroupName=group,
        logStreamName="2026/11/25/[$LATEST]abc",
        logEvents=[{"timestamp": now + i, "message": line} for i, line in enumerate(_lines(logged))],
    )
    out = io.StringIO()

    argv = ["list", "--dlq-url", queues.dlq_url, "--endpoint-url", queues.endpoint, "--log-group", group]
    assert dlq.main(argv, out) == 0

    text = out.getvalue()
    assert f"{logged}  received" in text
    assert f"[logs] {LOGGED}" in text
    assert f"{silent}  received" in text
    assert f"[none] {dlq.RETRIES_EXHAUSTED}" in text
    assert "orig-1  received 1x  [attribute] tick[0].price: must be a finite number > 0" in text
    assert text.endswith("3 message(s) in the DLQ\n")


def test_list_without_logs_and_long_bodies_shortened(queues: Queues) -> None:
    _redrive_policy_moves(queues, "x" * 200)
    out = io.StringIO()
    assert dlq.main(["list", "--dlq-url", queues.dlq_url, "--endpoint-url", queues.endpoint], out) == 0
    assert f"    body: {'x' * 77}...\n" in out.getvalue()
    assert "[none] retries exhausted" in out.getvalue()


def test_list_of_an_empty_dlq(queues: Queues) -> None:
    out = io.StringIO()
    assert dlq.main(["list", "--dlq-url", queues.dlq_url, "--endpoint-url", queues.endpoint], out) == 0
    assert out.getvalue() == "0 message(s) in the DLQ\n"


def test_redrive_falls_back_to_the_loop_on_moto(queues: Queues) -> None:
    _seed(queues)
    queues.sqs.send_message(
        QueueUrl=queues.dlq_url,
        MessageBody="binary",
        MessageAttributes={"raw": {"DataType": "Binary", "BinaryValue": b"\x00\xff"}},
    )
    for i in range(20):  # more than one receive batch
        queues.sqs.send_message(QueueUrl=queues.dlq_url, MessageBody=f"bulk-{i}")
    out = io.StringIO()
    argv = ["redrive", "--dlq-url", queues.dlq_url, "--queue-url", queues.queue_url]

    assert dlq.main([*argv, "--endpoint-url", queues.endpoint], out) == 0

    result = json.loads(out.getvalue())
    assert result["method"] == "loop"
    assert result["moved"] == 24
    assert result["failed"] == 0
    assert result["detail"].startswith("message-move task refused: 500 (HTTP 500)")
    assert "Messages" not in queues.sqs.receive_message(QueueUrl=queues.dlq_url)
    moved = []
    while got := queues.sqs.receive_message(
        QueueUrl=queues.queue_url,
        MaxNumberOfMessages=10,
        MessageAttributeNames=["All"],
        VisibilityTimeout=300,
    ).get("Messages", []):
        moved.extend(got)
    by_body = {m["Body"]: m.get("MessageAttributes", {}) for m in moved}
    assert len(moved) == 24
    assert (
        by_body['{"price":-1}']["RejectionReason"]["StringValue"]
        == "tick[0].price: must be a finite number > 0"
    )
    assert by_body['{"price":-1}']["SourceMessageId"]["StringValue"] == "orig-1"
    assert by_body["binary"]["raw"] == {"BinaryValue": b"\x00\xff", "DataType": "Binary"}
    assert {'{"symbol":"AAPL"}', '{"symbol":"MSFT"}'} <= set(by_body)


def test_redrive_a_limited_number(queues: Queues) -> None:
    for i in range(5):
        queues.sqs.send_message(QueueUrl=queues.dlq_url, MessageBody=f"m{i}")
    result = dlq.redrive(queues.sqs, queues.dlq_url, queues.queue_url, limit=2)
    assert (result.method, result.moved, result.failed) == ("loop", 2, 0)
    remaining = dlq.peek(queues.sqs, queues.dlq_url)
    assert len(remaining) == 3


def test_redrive_never_deletes_what_it_could_not_send(queues: Queues) -> None:
    queues.sqs.set_queue_attributes(QueueUrl=queues.queue_url, Attributes={"MaximumMessageSize": "1024"})
    queues.sqs.send_message(QueueUrl=queues.dlq_url, MessageBody="y" * 2000)
    out = io.StringIO()
    argv = ["redrive", "--dlq-url", queues.dlq_url, "--queue-url", queues.queue_url, "--method", "loop"]

    assert dlq.main([*argv, "--endpoint-url", queues.endpoint], out) == 1

    result = json.loads(out.getvalue())
    assert (result["moved"], result["failed"]) == (0, 1)
    assert "shorter than 1024 bytes" in result["detail"]
    # Still in the DLQ (hidden until its visibility timeout ends).
    still = queues.sqs.get_queue_attributes(QueueUrl=queues.dlq_url, AttributeNames=["All"])["Attributes"]
    assert (
        int(still["ApproximateNumberOfMessagesNotVisible"]) + int(still["ApproximateNumberOfMessages"]) == 1
    )


def test_redrive_move_task_only_fails_on_moto(queues: Queues) -> None:
    sqs = client("sqs", queues.endpoint)
    with pytest.raises(ClientError):
        dlq.redrive(sqs, queues.dlq_url, queues.queue_url, method="move-task", probe=sqs)


def test_redrive_needs_the_main_queue(queues: Queues, capsys: pytest.CaptureFixture[str]) -> None:
    assert dlq.main(["redrive", "--dlq-url", queues.dlq_url, "--endpoint-url", queues.endpoint]) == 2
    assert "needs --queue-url" in capsys.readouterr().err


# -- what moto cannot do, with botocore's Stubber (requests and responses validated against the API model) --
DLQ_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/market-data-dlq-prod"
QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/market-data-queue-prod"
DLQ_ARN = "arn:aws:sqs:us-east-1:123456789012:market-data-dlq-prod"
QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:market-data-queue-prod"


def _stubbed() -> tuple[Any, Stubber]:
    sqs = client("sqs", "https://sqs.us-east-1.amazonaws.com")
    stubber = Stubber(sqs)
    for url, arn in ((DLQ_URL, DLQ_ARN), (QUEUE_URL, QUEUE_ARN)):
        stubber.add_response(
            "get_queue_attributes",
            {"Attributes": {"QueueArn": arn}},
            {"QueueUrl": url, "AttributeNames": ["QueueArn"]},
        )
    stubber.add_response(
        "start_message_move_task", {"TaskHandle": "h-1"}, {"SourceArn": DLQ_ARN, "DestinationArn": QUEUE_ARN}
    )
    return sqs, stubber


def _task(status: str, moved: int, **extra: Any) -> dict[str, Any]:
    return {
        "Results": [
            {"TaskHandle": "h-0", "Status": "COMPLETED", "SourceArn": DLQ_ARN},
            {
                "TaskHandle": "h-1",
                "Status": status,
                "SourceArn": DLQ_ARN,
                "ApproximateNumberOfMessagesMoved": moved,
                "ApproximateNumberOfMessagesToMove": 7,
                **extra,
            },
        ]
    }


def test_redrive_by_message_move_task_waits_for_completion() -> None:
    sqs, stubber = _stubbed()
    stubber.add_response(
        "list_message_move_tasks", _task("RUNNING", 3), {"SourceArn": DLQ_ARN, "MaxResults": 10}
    )
    stubber.add_response(
        "list_message_move_tasks", _task("COMPLETED", 7), {"SourceArn": DLQ_ARN, "MaxResults": 10}
    )
    with stubber:
        result = dlq.redrive(sqs, DLQ_URL, QUEUE_URL, poll_s=0)
    assert result == dlq.RedriveResult("move-task", 7, 0, "task COMPLETED")
    stubber.assert_no_pending_responses()


def test_redrive_by_message_move_task_that_fails() -> None:
    sqs, stubber = _stubbed()
    stubber.add_response(
        "list_message_move_tasks",
        _task("FAILED", 2, FailureReason="AWS.SimpleQueueService.NonExistentQueue"),
        {"SourceArn": DLQ_ARN, "MaxResults": 10},
    )
    with stubber:
        result = dlq.redrive(sqs, DLQ_URL, QUEUE_URL, method="move-task", poll_s=0)
    assert result == dlq.RedriveResult(
        "move-task", 2, 5, "task FAILED AWS.SimpleQueueService.NonExistentQueue"
    )


def test_redrive_loop_reports_entries_sqs_refused_and_failed_deletes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    sqs = client("sqs", "https://sqs.us-east-1.amazonaws.com")
    stubber = Stubber(sqs)
    received = {
        "Messages": [
            {"MessageId": f"m{i}", "ReceiptHandle": f"r{i}", "Body": f"b{i}", "MessageAttributes": {}}
            for i in range(2)
        ]
    }
    stubber.add_response("receive_message", received)
    stubber.add_response(
        "send_message_batch",
        {
            "Successful": [{"Id": "1", "MessageId": "n1", "MD5OfMessageBody": "x"}],
            "Failed": [{"Id": "0", "SenderFault": True, "Code": "InvalidMessageContents", "Message": "bad"}],
        },
        {
            "QueueUrl": QUEUE_URL,
            "Entries": [{"Id": "0", "MessageBody": "b0"}, {"Id": "1", "MessageBody": "b1"}],
        },
    )
    stubber.add_response(
        "delete_message_batch",
        {"Successful": [], "Failed": [{"Id": "0", "SenderFault": False, "Code": "InternalError"}]},
        {"QueueUrl": DLQ_URL, "Entries": [{"Id": "0", "ReceiptHandle": "r1"}]},
    )
    stubber.add_response("receive_message", received)  # visible again: already attempted, not resent
    with stubber:
        result = dlq.redrive_loop(sqs, DLQ_URL, QUEUE_URL)
    assert result == dlq.RedriveResult("loop", 1, 1, "bad")
    assert "1 moved message(s) not deleted from the DLQ" in capsys.readouterr().err


def test_reasons_from_lines_keeps_the_last_reason() -> None:
    assert dlq.reasons_from_lines(
        [*_lines("m-1"), "not json", json.dumps({"messageId": 1, "reason": "x"})]
    ) == {"m-1": LOGGED}


def test_list_with_the_real_functions_dead_letters_and_logs(tmp_path: Path) -> None:
    """End to end with the real bootstrap: one body it rejects (dead-lettered with its reason) and one that
    fails on every attempt (its state table is missing), which the redrive policy moves after
    maxReceiveCount; the tool explains both, the second from the function's own log lines."""
    with running_function(env={"STATE_TABLE": "alert-state-missing"}) as function:
        endpoint = function.resources.endpoint
        assert endpoint is not None  # running_function's resources live on its moto
        sqs = client("sqs", endpoint)
        policy = json.dumps(
            {"deadLetterTargetArn": queue_arn(sqs, function.resources.dlq_url), "maxReceiveCount": 1}
        )
        queue_url = sqs.create_queue(QueueName="market-data-queue-e2e", Attributes={"RedrivePolicy": policy})[
            "QueueUrl"
        ]
        rejected = sqs.send_message(QueueUrl=queue_url, MessageBody='{"symbol":"AAPL","price":-1}')[
            "MessageId"
        ]
        failing = sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(firing_tick("E2E1")))[
            "MessageId"
        ]
        messages = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, AttributeNames=["All"], MessageAttributeNames=["All"]
        )["Messages"]
        assert {m["MessageId"] for m in messages} == {rejected, failing}

        result = function.emulator.invoke(sqs_event(messages, queue_arn(sqs, queue_url), "us-east-1"), 30)

        assert json.loads(result.payload) == {"batchItemFailures": [{"itemIdentifier": failing}]}
        for m in messages:  # what the event source does: delete the acknowledged, release the failed
            if m["MessageId"] == rejected:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
            else:
                sqs.change_message_visibility(
                    QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0
                )
        assert "Messages" not in sqs.receive_message(QueueUrl=queue_url)  # moved to the DLQ by the policy
        logs = tmp_path / "function.log"
        logs.write_text("\n".join(line for p in function.emulator.processes for line in p.stdout) + "\n")
        out = io.StringIO()
        argv = ["list", "--dlq-url", function.resources.dlq_url, "--endpoint-url", endpoint, "--json"]

        assert dlq.main([*argv, "--logs", str(logs)], out) == 0

    listed = {d["source_message_id"]: d for d in map(json.loads, out.getvalue().splitlines())}
    assert listed[rejected]["reason_source"] == "attribute"
    assert (
        listed[rejected]["reason"]
        == "tick[0].price: must be a finite number > 0; tick[0].timestamp: required"
    )
    assert listed[failing]["reason_source"] == "logs"
    assert listed[failing]["reason"].startswith(
        "state read failed, message will be retried: ResourceNotFoundException"
    )
    assert listed[failing]["message_id"] == failing


def test_redrive_can_leave_what_the_function_rejected(queues: Queues) -> None:
    _seed(queues)
    _function_dead_letters(queues, "{}", "tick[0].symbol: missing", "orig-2")
    out = io.StringIO()
    argv = ["redrive", "--dlq-url", queues.dlq_url, "--queue-url", queues.queue_url, "--skip-rejected"]

    assert dlq.main([*argv, "--endpoint-url", queues.endpoint], out) == 0

    result = json.loads(out.getvalue())
    assert (result["method"], result["moved"], result["failed"], result["skipped"]) == ("loop", 2, 0, 2)
    left = dlq.peek(queues.sqs, queues.dlq_url)  # visible again at once, nothing consumed
    assert sorted(m["Body"] for m in left) == ['{"price":-1}', "{}"]
    moved = queues.sqs.receive_message(QueueUrl=queues.queue_url, MaxNumberOfMessages=10)["Messages"]
    assert sorted(m["Body"] for m in moved) == ['{"symbol":"AAPL"}', '{"symbol":"MSFT"}']


def test_redrive_loop_deletes_nothing_when_the_queue_refuses_every_entry() -> None:
    sqs = client("sqs", "https://sqs.us-east-1.amazonaws.com")
    stubber = Stubber(sqs)
    received = {"Messages": [{"MessageId": "m0", "ReceiptHandle": "r0", "Body": "b0"}]}
    stubber.add_response("receive_message", received)
    stubber.add_response(
        "send_message_batch",
        {"Successful": [], "Failed": [{"Id": "0", "SenderFault": True, "Code": "InvalidMessageContents"}]},
        {"QueueUrl": QUEUE_URL, "Entries": [{"Id": "0", "MessageBody": "b0"}]},
    )
    stubber.add_response("receive_message", received)  # still in the DLQ (no delete_message_batch call)
    with stubber:
        result = dlq.redrive_loop(sqs, DLQ_URL, QUEUE_URL)
    stubber.assert_no_pending_responses()
    assert result == dlq.RedriveResult("loop", 0, 1, "InvalidMessageContents")

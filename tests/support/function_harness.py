"""The real host `bootstrap` behind the Runtime API emulator, wired to a moto server with the resources the
function needs (alerts and state tables, a DLQ, the trading topic with an SQS queue subscribed to it so that
notifications can be read back). Shared by the hostile-input and crash-safety tests."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3  # type: ignore[import-untyped]

from lib.config import ROOT
from local.function_resources import create_function_resources
from local.runtime_api import InvocationResult, RuntimeApiEmulator
from local.sqs_queues import drain
from tests.support.moto_server import FAKE_CREDENTIALS, moto_server

# TAP_BOOTSTRAP: another build of the function (e.g. a sanitizer build); default the host build.
BOOTSTRAP = Path(os.environ.get("TAP_BOOTSTRAP", str(ROOT / "build" / "cpp" / "src" / "bootstrap")))
REGION = "us-east-1"
QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:market-data-queue-test"


def ensure_bootstrap() -> Path:
    """The function build to run: TAP_BOOTSTRAP (make test points it at the coverage build), else the host
    build, built by `make cpp-build` when missing."""
    if not BOOTSTRAP.exists() and "TAP_BOOTSTRAP" not in os.environ:
        subprocess.run(["make", "-s", "cpp-build"], cwd=ROOT, check=True)
    if not BOOTSTRAP.exists():
        raise FileNotFoundError(f"no function build at {BOOTSTRAP} (TAP_BOOTSTRAP / make cpp-build)")
    return BOOTSTRAP


def client(service: str, endpoint: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
    )


@dataclass
class Resources:
    """What the stack would create, created directly with boto3 on moto."""

    endpoint: str
    alerts_table: str
    state_table: str
    dlq_url: str
    topic_arn: str
    notifications_url: str  # an SQS queue subscribed to the topic: every publish lands here

    def function_env(self) -> dict[str, str]:
        return {
            **FAKE_CREDENTIALS,
            "ALERTS_TABLE": self.alerts_table,
            "STATE_TABLE": self.state_table,
            "TOPIC_ARN": self.topic_arn,
            "DLQ_URL": self.dlq_url,
            "RULES_PATH": str(ROOT / "config" / "alert-rules.json"),
            "AWS_ENDPOINT_URL": self.endpoint,
        }

    def alerts(self) -> list[dict[str, Any]]:
        """Every stored alert item (plain values)."""
        ddb = boto3.resource(
            "dynamodb",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        return list(ddb.Table(self.alerts_table).scan(ConsistentRead=True)["Items"])

    def dead_letters(self) -> list[dict[str, Any]]:
        """Drains the DLQ: every message with its attributes (RejectionReason, SourceMessageId)."""
        return drain(client("sqs", self.endpoint), self.dlq_url)

    def notifications(self) -> list[dict[str, Any]]:
        """Drains the notification queue: the SNS envelopes (Message parsed, MessageAttributes)."""
        out = []
        for message in drain(client("sqs", self.endpoint), self.notifications_url):
            envelope = json.loads(message["Body"])
            envelope["Message"] = json.loads(envelope["Message"])
            out.append(envelope)
        return out


def create_resources(endpoint: str) -> Resources:
    sqs = client("sqs", endpoint)
    r = create_function_resources(
        client("dynamodb", endpoint), client("sns", endpoint), sqs, uuid.uuid4().hex[:8]
    )
    return Resources(endpoint, r.alerts_table, r.state_table, r.dlq_url, r.topic_arn, r.capture_url)


@dataclass
class Record:
    """One SQS record of an event. `body` is inserted into the event JSON as given: a str is JSON-escaped by
    json.dumps; raw bytes (`raw_body_json`) are spliced in verbatim as the JSON string literal."""

    body: str | None = None
    raw_body_json: bytes | None = None  # a complete JSON string literal, quotes included
    message_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    receive_count: int = 1


def sqs_event(records: Sequence[Record]) -> bytes:
    """An SQS event as Lambda builds it, with the bodies' bytes under the caller's control."""
    parts: list[bytes] = []
    for r in records:
        now_ms = str(int(time.time() * 1000))
        fields: dict[str, Any] = {
            "messageId": r.message_id,
            "receiptHandle": f"rh-{r.message_id}",
            "body": "\0BODY\0",
            "attributes": {
                "ApproximateReceiveCount": str(r.receive_count),
                "SentTimestamp": now_ms,
                "SenderId": "AIDAIENQZJOLO23YVJ4VO",
                "ApproximateFirstReceiveTimestamp": now_ms,
            },
            "messageAttributes": {},
            "md5OfBody": "0" * 32,
            "eventSource": "aws:sqs",
            "eventSourceARN": QUEUE_ARN,
            "awsRegion": REGION,
        }
        text = json.dumps(fields).encode()
        literal = r.raw_body_json if r.raw_body_json is not None else json.dumps(r.body).encode()
        parts.append(text.replace(b'"\\u0000BODY\\u0000"', literal, 1))
    return b'{"Records": [' + b", ".join(parts) + b"]}"


@dataclass
class Function:
    emulator: RuntimeApiEmulator
    resources: Resources

    def invoke(self, records: Sequence[Record], timeout_s: float = 30.0) -> InvocationResult:
        return self.emulator.invoke(sqs_event(records), timeout_s)

    def log_lines(self) -> list[dict[str, Any]]:
        """The JSON log lines of every function process so far."""
        out = []
        for process in self.emulator.processes:
            for line in list(process.stdout):
                if line.startswith("{"):
                    out.append(json.loads(line))
        return out

    def metrics(self, name: str) -> int:
        return emf_total(self.emulator, name)


def emf_total(emulator: RuntimeApiEmulator, name: str) -> int:
    """Sum of an EMF metric over every invocation of every function process so far."""
    return sum(
        int(json.loads(line).get(name, 0))
        for process in emulator.processes
        for line in list(process.stdout)
        if '"_aws"' in line
    )


@contextmanager
def running_function(env: Mapping[str, str] | None = None) -> Iterator[Function]:
    """moto + resources + the bootstrap under the Runtime API emulator; everything stopped afterwards."""
    bootstrap = ensure_bootstrap()
    with moto_server() as endpoint:
        resources = create_resources(endpoint)
        with RuntimeApiEmulator(
            [str(bootstrap)], env={**resources.function_env(), **(env or {})}, cwd=ROOT
        ) as emulator:
            yield Function(emulator, resources)

"""The built function (`bootstrap`) as a black box: the local Lambda Runtime API emulator runs it against moto
server with signature checking and IAM enforcement on; each scenario asserts the invocation's response
(batchItemFailures), the DynamoDB items (alerts + state), the SNS notifications (captured by an SQS queue
subscribed to the topic) and the dead-letter queue. Also: the shipped arm64 bootstrap under qemu. (Cold
start and latency are measured by `make bench`, not here.)

TAP_BOOTSTRAP names the host build to run (the Makefile points it at the coverage build, so these runs count
for the C++ line coverage); TAP_ARM64_BOOTSTRAP the arm64 binary (default build/package/bootstrap).
"""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from local.clock import CLOCK_VARIABLE, virtual_clock
from local.emf import emf_totals
from local.fault_proxy import FaultKind, FaultProxy, FaultRule
from local.feed import FeedConfig, generate_feed, newest_tick_micros
from local.function_host import FunctionRunner, invoke_settled, runner
from local.function_resources import create_function_resources
from local.runtime_api import InvocationResult
from local.sqs_event import event_of as sqs_event
from local.sqs_queues import drain
from tests.chaos import oracle
from tests.support.function_harness import arm64_command, built
from tests.support.moto_server import moto_server
from tests.support.rules_table import create_rules_table
from tests.support.state_items import decode_state_items
from tests.support.tls import write_tls_files

ROOT = Path(__file__).resolve().parents[2]
BOOTSTRAP = Path(os.environ.get("TAP_BOOTSTRAP", ROOT / "build" / "cpp" / "src" / "bootstrap"))
CONFIG_RULES = ROOT / "config" / "alert-rules.json"
GOLDEN_RULES = ROOT / "tests" / "data" / "golden-rules.json"
GOLDEN_FEED = ROOT / "tests" / "data" / "golden-feed.jsonl"
GOLDEN_EXPECTED = ROOT / "tests" / "data" / "golden-expected-alerts.json"
REGION = "us-east-1"
ACCOUNT = "123456789012"
TIMEOUT_S = 60.0  # the function's timeout (I1)


def function_actions(stack: dict[str, Any]) -> list[str]:
    """What the moto IAM user of the function carries: the synthesized role's actions that the function
    itself calls (receiving and deleting is the event source mapping's, KMS, logs and X-Ray the service's),
    plus TransactWriteItems, which moto authorises as an action of its own (AWS checks its items' actions),
    and PublishBatch, which moto derives from the API name (AWS authorises it as sns:Publish: the SNS
    developer guide's API permissions reference)."""
    policy = json.loads(stack["resource"]["aws_iam_role_policy"]["role_policy"]["policy"])
    actions: set[str] = {"dynamodb:TransactWriteItems", "sns:PublishBatch"}
    for statement in policy["Statement"]:
        listed = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        actions.update(a for a in listed if a.startswith(("dynamodb:", "sns:")) or a == "sqs:SendMessage")
    return sorted(actions)


def test_function_actions_come_from_the_stack(synthesized_stack: dict[str, Any]) -> None:
    assert function_actions(synthesized_stack) == [
        "dynamodb:BatchGetItem",
        "dynamodb:PutItem",
        "dynamodb:Query",
        "dynamodb:Scan",
        "dynamodb:TransactWriteItems",
        "dynamodb:UpdateItem",
        "sns:Publish",
        "sns:PublishBatch",
        "sqs:SendMessage",
    ]


# ------------------------------------------------------------------------------------------ local AWS
@dataclass(frozen=True)
class Keys:
    access_key: str
    secret_key: str


@dataclass
class LocalAws:
    """One moto server with IAM enforcement on: an admin key for the test, the function's key."""

    url: str
    admin: Keys
    function: Keys
    ca: Path | None = None

    def client(self, service: str, url: str | None = None) -> Any:
        return boto3.client(
            service,
            endpoint_url=url or self.url,
            region_name=REGION,
            aws_access_key_id=self.admin.access_key,
            aws_secret_access_key=self.admin.secret_key,
            verify=str(self.ca) if self.ca else None,
        )


def enforce_iam(url: str, actions: Sequence[str], ca: Path | None = None) -> LocalAws:
    """Creates an admin user and a function user carrying `actions` (Resource "*": moto evaluates every
    request's resource as "*"), then switches moto's signature and IAM checks on."""
    bootstrap_iam = boto3.client(
        "iam",
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id="bootstrap",
        aws_secret_access_key="bootstrap",
        verify=str(ca) if ca else None,
    )

    def user(name: str, allowed: Sequence[str]) -> Keys:
        bootstrap_iam.create_user(UserName=name)
        statement = {"Effect": "Allow", "Resource": "*", "Action": list(allowed)}
        bootstrap_iam.put_user_policy(
            UserName=name,
            PolicyName=name,
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [statement]}),
        )
        key = bootstrap_iam.create_access_key(UserName=name)["AccessKey"]
        return Keys(key["AccessKeyId"], key["SecretAccessKey"])

    admin = user("admin", ["*"])
    function = user("data-processor", actions)
    # A form content type would make moto's request parser eat the body.
    reset = urllib.request.Request(
        url + "/moto-api/reset-auth", data=b"0", method="POST", headers={"Content-Type": "text/plain"}
    )
    context = ssl.create_default_context(cafile=str(ca)) if ca else None
    urllib.request.urlopen(reset, timeout=30, context=context).close()
    return LocalAws(url, admin, function, ca)


@dataclass
class Stack:
    """The function's resources, created with boto3 with the stack's key schemas (lib/tap_stack.py)."""

    aws: LocalAws
    alerts_table: str
    state_table: str
    topic_arn: str
    dlq_url: str
    capture_url: str

    def alerts(self) -> dict[tuple[str, str], dict[str, Any]]:
        return {(i["symbol"], i["timestamp"]): i for i in self._scan(self.alerts_table)}

    def states(self) -> dict[str, dict[str, Any]]:
        """Each symbol's state, decoded by the function's own reader (tests/support/state_items.py)."""
        client = self.aws.client("dynamodb")
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"TableName": self.state_table, "ConsistentRead": True}
        while True:
            page = client.scan(**kwargs)
            items += page["Items"]
            if "LastEvaluatedKey" not in page:
                return decode_state_items(items)
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _scan(self, table: str) -> list[dict[str, Any]]:
        resource = boto3.resource(
            "dynamodb",
            endpoint_url=self.aws.url,
            region_name=REGION,
            aws_access_key_id=self.aws.admin.access_key,
            aws_secret_access_key=self.aws.admin.secret_key,
            verify=str(self.aws.ca) if self.aws.ca else None,
        )
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"ConsistentRead": True}
        while True:
            page = resource.Table(table).scan(**kwargs)
            items += page["Items"]
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def drain(self, queue_url: str) -> list[dict[str, Any]]:
        """Every message now in the queue (received and deleted)."""
        return drain(self.aws.client("sqs"), queue_url)

    def notifications(self) -> list[dict[str, Any]]:
        """The SNS envelopes captured since the last call (raw delivery off: Message + MessageAttributes)."""
        return [json.loads(m["Body"]) for m in self.drain(self.capture_url)]

    def dead_letters(self) -> list[dict[str, Any]]:
        return self.drain(self.dlq_url)

    def env(self, rules: Path, endpoint: str | None = None, ca_bundle: str | None = None) -> dict[str, str]:
        """The function's environment (what the stack sets, plus Lambda's credentials)."""
        return {
            "ALERTS_TABLE": self.alerts_table,
            "STATE_TABLE": self.state_table,
            "TOPIC_ARN": self.topic_arn,
            "DLQ_URL": self.dlq_url,
            "RULES_PATH": str(rules),
            "LOG_LEVEL": "INFO",
            "METRICS_NAMESPACE": "MarketAlerts",
            "AWS_REGION": REGION,
            "AWS_ACCESS_KEY_ID": self.aws.function.access_key,
            "AWS_SECRET_ACCESS_KEY": self.aws.function.secret_key,
            "AWS_SESSION_TOKEN": "",
            "AWS_ENDPOINT_URL": endpoint or self.aws.url,
            "AWS_CA_BUNDLE": ca_bundle
            or (str(self.aws.ca) if self.aws.ca else "/etc/ssl/certs/ca-certificates.crt"),
        }


def create_stack(aws: LocalAws) -> Stack:
    r = create_function_resources(
        aws.client("dynamodb"), aws.client("sns"), aws.client("sqs"), uuid.uuid4().hex[:8]
    )
    return Stack(aws, r.alerts_table, r.state_table, r.topic_arn, r.dlq_url, r.capture_url)


# ------------------------------------------------------------------------------------------ the function
def message_ids(event: bytes) -> list[str]:
    return [r["messageId"] for r in json.loads(event)["Records"]]


@dataclass
class FunctionUnderTest:
    """The function under its runner (local/function_host.py), with every result it returned."""

    emulator: FunctionRunner
    results: list[InvocationResult] = field(default_factory=list)

    def invoke(self, event: bytes, timeout_s: float = TIMEOUT_S) -> InvocationResult:
        result = invoke_settled(self.emulator, event, timeout_s)
        self.results.append(result)
        return result

    def failures(self, event: bytes, timeout_s: float = TIMEOUT_S) -> list[str]:
        """Invokes and returns the failed message ids (the invocation itself must succeed)."""
        result = self.invoke(event, timeout_s)
        assert result.status == "ok", (result, self.output()[-20:])
        failed = [f["itemIdentifier"] for f in json.loads(result.payload)["batchItemFailures"]]
        if failed:  # why, for the test report: the function logs each failure with its reason
            print(
                "\n".join(
                    line
                    for line in self.output()[-40:]
                    if '"level":"ERROR"' in line or '"level":"WARN"' in line
                )
            )
        return failed

    def output(self) -> list[str]:
        return [line for p in self.emulator.processes for line in p.stdout + p.stderr]

    def wait_for_output(self, fragment: str, timeout_s: float = TIMEOUT_S) -> bool:
        """Whether a line holding `fragment` was read within `timeout_s`, waiting on the reader's notice
        of each line (a line the function's own threads write, such as the cold load's, may come after
        an invocation's answer)."""
        process = self.emulator.process
        assert process is not None
        with process.output_read:
            return process.output_read.wait_for(
                lambda: any(fragment in line for line in self.output()), timeout_s
            )

    def metrics(self, name: str) -> int:
        return int(emf_totals(line for p in self.emulator.processes for line in p.stdout)[name])


def terminate(emulator: FunctionRunner) -> int | None:
    """Ends the running function process with SIGTERM (a coverage build flushes its counters on it), then
    closes the emulator. Returns the process's exit status (None when none was running)."""
    process = emulator.process
    status = None
    if process is not None and process.alive():
        os.kill(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        while process.alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        status = process.returncode
    emulator.close()
    return status


@pytest.fixture
def run_function() -> Iterator[Any]:
    """Factory: run_function(env, command=None) -> a started FunctionUnderTest; all stopped afterwards."""
    started: list[FunctionRunner] = []

    def start(env: dict[str, str], command: Sequence[str] | None = None) -> FunctionUnderTest:
        emulator = runner(command or [str(built(BOOTSTRAP, "cpp-build"))], env)
        emulator.__enter__()
        started.append(emulator)
        return FunctionUnderTest(emulator)

    yield start
    for emulator in started:
        terminate(emulator)


@pytest.fixture(scope="module")
def aws(synthesized_stack: dict[str, Any]) -> Iterator[LocalAws]:
    with moto_server() as url:
        yield enforce_iam(url, function_actions(synthesized_stack))


@pytest.fixture
def stack(aws: LocalAws) -> Stack:
    return create_stack(aws)


def tick(symbol: str, price: float, ts: str, **extra: Any) -> dict[str, Any]:
    return {"symbol": symbol, "price": price, "timestamp": ts, **extra}


def body(*ticks: dict[str, Any]) -> str:
    return json.dumps(ticks[0] if len(ticks) == 1 else list(ticks))


# ------------------------------------------------------------------------------------------ scenarios
def test_happy_path(run_function: Any, stack: Stack) -> None:
    fn = run_function(stack.env(GOLDEN_RULES))
    event = sqs_event(
        [
            body(tick("AAPL", 199.0, "2026-11-25T14:30:00.000Z")),
            body(tick("AAPL", 200.5, "2026-11-25T14:30:01.000Z", bid=200.4, ask=201.2)),
            body(tick("MSFT", 401.0, "2026-11-25T16:30:00.000+02:00", volume=250_000)),
        ]
    )
    ids = message_ids(event)
    before_ms = time.time() * 1000
    assert fn.failures(event) == []
    after_ms = time.time() * 1000

    alerts = stack.alerts()
    assert set(alerts) == {
        ("AAPL", "2026-11-25T14:30:01.000000Z#aapl-up-200"),
        ("AAPL", "2026-11-25T14:30:01.000000Z#wide-spread"),
        ("MSFT", "2026-11-25T14:30:00.000000Z#block-trade"),
    }
    up = alerts[("AAPL", "2026-11-25T14:30:01.000000Z#aapl-up-200")]
    assert up["severity"] == "critical"
    assert up["message_id"] == ids[1]
    assert up["notification_state"] == "sent"
    assert up["sns_message_id"]
    # One state item per symbol (F3): its applied ticks in position order and the fires they caused.
    states = stack.states()
    t0 = oracle.normalise_timestamp("2026-11-25T14:30:00Z")[1]
    t1 = oracle.normalise_timestamp("2026-11-25T14:30:01Z")[1]
    assert states["AAPL"]["ticks"] == [[t0, 0, 199.0], [t1, 0, 200.5]]
    assert {(f["rule_id"], f["ts"], f["crossing"], f["stored"]) for f in states["AAPL"]["fires"]} == {
        ("aapl-up-200", t1, True, True),
        ("wide-spread", t1, False, True),
    }
    assert states["MSFT"]["ticks"] == [[t0, 0, 401.0]]  # the first tick of msft-down-400: held, no crossing

    envelopes = stack.notifications()
    assert len(envelopes) == 3
    by_id = {json.loads(e["Message"])["alert_id"]: e for e in envelopes}
    assert set(by_id) == {f"{s}|{t}" for s, t in alerts}
    envelope = by_id["AAPL|2026-11-25T14:30:01.000000Z#aapl-up-200"]
    message = json.loads(envelope["Message"])
    assert message["tick_time"] == "2026-11-25T14:30:01.000000Z"
    tick_ms = oracle.normalise_timestamp("2026-11-25T14:30:01Z")[1] / 1000
    assert before_ms - tick_ms - 1 <= message["age_ms"] <= after_ms - tick_ms + 1  # age at publish time
    assert message["unvouched"] is False  # in order: the engine vouches for it (docs/design.md 5.3)
    assert {k: v["Value"] for k, v in envelope["MessageAttributes"].items()} == {
        "symbol": "AAPL",
        "rule": "aapl-up-200",
        "severity": "critical",
    }
    assert stack.dead_letters() == []


def _golden_bodies() -> list[str]:
    return [line for line in GOLDEN_FEED.read_text().splitlines() if line.strip()]


@pytest.mark.parametrize("batch_size", [1, 25])
def test_golden_feed_at_concurrency_1(run_function: Any, stack: Stack, batch_size: int) -> None:
    fn = run_function(stack.env(GOLDEN_RULES))
    bodies = _golden_bodies()
    for start in range(0, len(bodies), batch_size):
        assert fn.failures(sqs_event(bodies[start : start + batch_size])) == []
    expected = json.loads(GOLDEN_EXPECTED.read_text())
    want = {(a["symbol"], a["timestamp"]): a for a in expected["alerts"]}
    got = stack.alerts()
    assert set(got) == set(want)
    for key, alert in want.items():
        assert got[key]["rule_id"] == alert["rule_id"]
        assert got[key]["severity"] == alert["severity"]
        assert float(got[key]["price"]) == alert["price"]
    messages = [json.loads(e["Message"]) for e in stack.notifications()]
    assert sorted(m["alert_id"] for m in messages) == sorted(f"{s}|{t}" for s, t in want)
    # Within W and no `once` rule on "*": every alert vouched, on its item and in its notification.
    assert [k for k, a in got.items() if "unvouched" in a] == []
    assert [m["alert_id"] for m in messages if m["unvouched"] is not False] == []
    assert stack.dead_letters() == []
    if batch_size == 1:
        # The handler counts a late tick once per (rule, symbol) key it is late for, the oracle once per
        # tick: at least the feed's late ticks (reported to the lead).
        assert fn.metrics("LateTicks") >= expected["late_ticks_in_feed_order"]


def test_malformed_bodies_go_to_the_dlq_and_valid_ticks_still_count(run_function: Any, stack: Stack) -> None:
    fn = run_function(stack.env(GOLDEN_RULES))
    mixed = json.dumps(
        [
            tick("AAPL", 199.0, "2026-11-25T14:30:00.000Z"),
            {"symbol": "AAPL", "price": -1, "timestamp": "2026-11-25T14:30:00.500Z"},
            tick("AAPL", 211.0, "2026-11-25T14:30:01.000Z"),
        ]
    )
    event = sqs_event(["{not json", mixed, '{"symbol":"AAPL","symbol":"MSFT","price":1,"timestamp":"x"}'])
    ids = message_ids(event)
    assert fn.failures(event) == []  # acknowledged: never retried

    dead = {m["MessageAttributes"]["SourceMessageId"]["StringValue"]: m for m in stack.dead_letters()}
    assert set(dead) == set(ids)
    reasons = {mid: m["MessageAttributes"]["RejectionReason"]["StringValue"] for mid, m in dead.items()}
    assert "json" in reasons[ids[0]].lower()
    assert "price" in reasons[ids[1]].lower()
    assert "duplicate" in reasons[ids[2]].lower()
    assert dead[ids[1]]["Body"] == mixed  # the original body, for a replay after a fix
    # The valid ticks of the mixed body: AAPL crosses 200 and trades above 210 at 14:30:01.
    assert set(stack.alerts()) == {
        ("AAPL", "2026-11-25T14:30:01.000000Z#aapl-up-200"),
        ("AAPL", "2026-11-25T14:30:01.000000Z#aapl-above-210"),
    }
    assert len(stack.notifications()) == 2
    assert fn.metrics("RejectedTicks") >= 1
    assert fn.metrics("DeadLettered") == 3


def test_redelivery_and_duplicates_never_alert_or_notify_twice(run_function: Any, stack: Stack) -> None:
    fn = run_function(stack.env(GOLDEN_RULES))
    crossing = body(
        tick("AAPL", 199.0, "2026-11-25T14:30:00.000Z"), tick("AAPL", 212.0, "2026-11-25T14:30:05.000Z")
    )
    spread = body(tick("BTC-USD", 98000.0, "2026-11-25T14:30:02.000Z", bid=97990.0, ask=98011.0))
    event = sqs_event([crossing, spread, crossing])  # the same body twice in one batch, too
    assert fn.failures(event) == []
    first_alerts = stack.alerts()
    assert len(first_alerts) == 3
    assert len(stack.notifications()) == 3

    # The whole batch again, as SQS redelivers it (same message ids, receive count 2), and once more with
    # new message ids (the producer sent it twice).
    assert fn.failures(sqs_event([crossing, spread, crossing], receive_count=2, ids=message_ids(event))) == []
    assert fn.failures(sqs_event([crossing, spread])) == []
    assert stack.alerts() == first_alerts
    assert stack.notifications() == []
    assert stack.dead_letters() == []


def _init_failure(run_function: Any, env: dict[str, str]) -> tuple[str, str]:
    """Starts the function and waits for it to report its init error and exit by itself (as Lambda lets
    it); returns (error type, error message)."""
    fn = run_function(env)
    process = fn.emulator.start_process()
    deadline = time.monotonic() + 30
    while process.alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert process.returncode == 1, process.stderr
    error_type, payload = fn.emulator.init_errors[-1]
    return error_type, str(json.loads(payload)["errorMessage"])


def test_init_errors_are_reported_through_init_error(run_function: Any, stack: Stack, tmp_path: Path) -> None:
    env = stack.env(GOLDEN_RULES)
    del env["TOPIC_ARN"]
    error_type, message = _init_failure(run_function, env)
    assert error_type == "Runtime.InvalidConfiguration"
    assert "TOPIC_ARN" in message

    bad_rules = tmp_path / "rules.json"
    bad_rules.write_text('{"version": 1, "rules": [{"id": "x", "condition": "price_sideways"}]}')
    error_type, message = _init_failure(run_function, stack.env(bad_rules))
    assert error_type == "Runtime.InvalidRules"
    assert message
    error_type, message = _init_failure(run_function, stack.env(tmp_path / "missing.json"))
    assert error_type == "Runtime.InvalidRules"
    assert "missing.json" in message

    # Through an invocation, as Lambda sees it: the invocation fails with the init error.
    fn = run_function(stack.env(tmp_path / "missing.json"))
    result = fn.invoke(sqs_event([body(tick("AAPL", 1.0, "2026-11-25T14:30:00Z"))]), 10)
    assert (result.status, result.error_type) == ("init_error", "Runtime.InvalidRules")
    assert stack.alerts() == {}


def test_a_reorder_window_the_function_cannot_take_stops_its_start(run_function: Any, stack: Stack) -> None:
    for value in ("1e3", " 60", "0"):
        error_type, message = _init_failure(
            run_function, {**stack.env(GOLDEN_RULES), "REORDER_WINDOW_SECONDS": value}
        )
        assert error_type == "Runtime.InvalidConfiguration"
        assert message == f"REORDER_WINDOW_SECONDS must be an integer from 1 to 3600, not {value}"


@pytest.mark.parametrize(("window", "placed"), [("5", False), ("60", True), (None, True)])
def test_the_reorder_window_is_the_configured_one(
    run_function: Any, stack: Stack, window: str | None, placed: bool
) -> None:
    """F3: a tick 10 s behind its symbol's newest is placed within W (default 60 s) and reveals the crossing
    there; with W = 5 s it is beyond W, counted, and crosses nothing."""
    env = stack.env(GOLDEN_RULES) | ({} if window is None else {"REORDER_WINDOW_SECONDS": window})
    fn = run_function(env)
    first = body(tick("AAPL", 199.0, "2026-11-25T14:30:00Z"), tick("AAPL", 199.5, "2026-11-25T14:30:20Z"))
    assert fn.failures(sqs_event([first])) == []
    assert fn.failures(sqs_event([body(tick("AAPL", 201.0, "2026-11-25T14:30:10Z"))])) == []
    revealed = {("AAPL", "2026-11-25T14:30:10.000000Z#aapl-up-200")}
    assert set(stack.alerts()) == (revealed if placed else set())
    assert fn.metrics("TicksBeyondWindow") == (0 if placed else 1)


def test_a_level_fire_beyond_w_is_unvouched_on_its_item_and_in_its_notification(
    run_function: Any, stack: Stack
) -> None:
    """Issue 15 item 4 (docs/design.md 5.3): a level fire on a tick beyond W is `unvouched` on its alert item
    and in its notification; a later fire in order is vouched (no attribute on its item, `false`)."""
    fn = run_function(stack.env(GOLDEN_RULES) | {"REORDER_WINDOW_SECONDS": "5"})
    first = body(tick("AAPL", 205.0, "2026-11-25T14:30:00Z"), tick("AAPL", 205.0, "2026-11-25T14:30:20Z"))
    assert fn.failures(sqs_event([first])) == []  # above 200 from the start: no crossing, below 210
    assert fn.failures(sqs_event([body(tick("AAPL", 212.0, "2026-11-25T14:30:10Z"))])) == []  # beyond W
    assert fn.failures(sqs_event([body(tick("AAPL", 212.0, "2026-11-25T14:30:50Z"))])) == []  # in order
    assert fn.metrics("TicksBeyondWindow") == 1
    late = "2026-11-25T14:30:10.000000Z#aapl-above-210"
    in_order = "2026-11-25T14:30:50.000000Z#aapl-above-210"
    alerts = stack.alerts()
    assert set(alerts) == {("AAPL", late), ("AAPL", in_order)}  # aapl-above-210's cooldown is 30 s
    assert alerts[("AAPL", late)]["unvouched"] is True
    assert "unvouched" not in alerts[("AAPL", in_order)]
    messages = {m["alert_id"]: m for m in (json.loads(e["Message"]) for e in stack.notifications())}
    assert (messages[f"AAPL|{late}"]["unvouched"], messages[f"AAPL|{in_order}"]["unvouched"]) == (True, False)


def test_an_event_that_is_not_an_sqs_event_fails_the_invocation_only(run_function: Any, stack: Stack) -> None:
    fn = run_function(stack.env(GOLDEN_RULES))
    result = fn.invoke(b'{"Records": 5}')
    assert (result.status, result.error_type) == ("error", "InvalidEvent")
    assert "Records" in json.loads(result.payload)["errorMessage"]
    assert fn.failures(sqs_event([body(tick("AAPL", 199.0, "2026-11-25T14:30:00Z"))])) == []  # still serving


def test_deadline_nearly_reached_reports_failures_instead_of_timing_out(
    run_function: Any, stack: Stack
) -> None:
    with FaultProxy(stack.aws.url, [FaultRule("*", FaultKind.HTTP_503)], seed=1) as proxy:
        fn = run_function(stack.env(GOLDEN_RULES, endpoint=proxy.url))
        event = sqs_event(
            [
                body(tick("AAPL", 199.0, "2026-11-25T14:30:00.000Z")),
                body(tick("MSFT", 401.0, "2026-11-25T14:30:00.000Z", volume=500_000)),
            ]
        )
        # A 3 s function timeout: the retries must stop before it, and the response must say what failed.
        assert sorted(fn.failures(event, timeout_s=3.0)) == sorted(message_ids(event))
        assert fn.emulator.process is not None
        assert fn.emulator.process.alive()
        assert proxy.injected()  # the calls were really attempted (and retried)
        assert fn.metrics("Retries") > 0
    assert stack.alerts() == {}
    assert stack.notifications() == []


def test_a_failed_notification_is_recovered_on_redelivery_once(run_function: Any, stack: Stack) -> None:
    publish_down = [FaultRule("sns", FaultKind.SNS_THROTTLING, operation="Publish")]
    with FaultProxy(stack.aws.url, publish_down, seed=7) as proxy:
        fn = run_function(stack.env(GOLDEN_RULES, endpoint=proxy.url))
        quiet = body(tick("MSFT", 401.0, "2026-11-25T14:30:00.000Z"))
        crossing = body(
            tick("AAPL", 199.0, "2026-11-25T14:30:00.000Z"), tick("AAPL", 200.5, "2026-11-25T14:30:01Z")
        )
        event = sqs_event([quiet, crossing])
        ids = message_ids(event)
        # SNS throttles every publish: the alert is stored (pending), its message is failed, the other not.
        assert fn.failures(event, timeout_s=20.0) == [ids[1]]
        key = ("AAPL", "2026-11-25T14:30:01.000000Z#aapl-up-200")
        assert stack.alerts()[key]["notification_state"] == "pending"
        assert stack.notifications() == []

        proxy.set_rules([])
        redelivered = sqs_event([crossing], receive_count=2, ids=[ids[1]])
        assert fn.failures(redelivered) == []
        assert stack.alerts()[key]["notification_state"] == "sent"
        assert [json.loads(e["Message"])["alert_id"] for e in stack.notifications()] == ["AAPL|" + key[1]]
        assert fn.failures(sqs_event([crossing], receive_count=3, ids=[ids[1]])) == []
        assert stack.notifications() == []  # recovered once, never again
    assert list(stack.alerts()) == [key]


def test_throttling_on_30_percent_of_calls_loses_and_duplicates_nothing(
    run_function: Any, stack: Stack
) -> None:
    rules_doc = json.loads(CONFIG_RULES.read_text())
    bodies: list[str] = []
    ticks: list[oracle.Tick] = []
    for line in generate_feed(FeedConfig(seed=11, messages=300, malformed=0, max_ticks_per_message=9)):
        if len(ticks) >= 1000:
            break
        bodies.append(line)
        ticks += oracle.parse_body(line).ticks
    expected = oracle.replay(ticks, oracle.load_rules(rules_doc)).alerts
    assert expected, "the feed must produce alerts"
    faults = [
        FaultRule("dynamodb", FaultKind.DYNAMODB_THROUGHPUT, 0.15),
        FaultRule("dynamodb", FaultKind.DYNAMODB_THROTTLING, 0.15 / 0.85),
        FaultRule("sns", FaultKind.SNS_THROTTLING, 0.30),
    ]
    with FaultProxy(stack.aws.url, faults, seed=2027) as proxy:
        fn = run_function(stack.env(CONFIG_RULES, endpoint=proxy.url))
        redeliveries = 0
        for start in range(0, len(bodies), 25):
            batch = bodies[start : start + 25]
            event = sqs_event(batch)
            failed = fn.failures(event)
            receive = 1
            while failed:  # the queue hands the failed messages back (in order, before newer ones)
                receive += 1
                redeliveries += len(failed)
                by_id = dict(zip(message_ids(event), batch, strict=True))
                event = sqs_event([by_id[m] for m in failed], receive_count=receive, ids=failed)
                batch = [by_id[m] for m in failed]
                failed = fn.failures(event)
        injected = proxy.injected()
    assert sum(n for (svc, _, _), n in injected.items() if svc == "dynamodb") > 0
    assert sum(n for (svc, _, _), n in injected.items() if svc == "sns") > 0
    alerts = stack.alerts()
    assert set(alerts) == {a.key for a in expected}
    assert all(a["notification_state"] == "sent" for a in alerts.values())
    notified = [json.loads(e["Message"])["alert_id"] for e in stack.notifications()]
    assert sorted(notified) == sorted(f"{a.symbol}|{a.timestamp}" for a in expected)  # exactly once each
    assert stack.dead_letters() == []
    assert fn.metrics("Retries") > 0
    print(
        f"\nthrottling run: {len(ticks)} ticks, {len(expected)} alerts, {sum(injected.values())} faults "
        f"injected, {fn.metrics('Retries')} retries, {redeliveries} message redeliveries"
    )


# ------------------------------------------------------------------------------------------ TLS
@pytest.fixture(scope="module")
def tls_aws(
    tmp_path_factory: pytest.TempPathFactory, synthesized_stack: dict[str, Any]
) -> Iterator[tuple[LocalAws, Path]]:
    files = write_tls_files(tmp_path_factory.mktemp("tls"))
    with moto_server((files["cert"], files["key"], files["ca"])) as url:
        yield enforce_iam(url, function_actions(synthesized_stack), ca=files["ca"]), files["other_ca"]


def test_over_tls_with_the_test_ca(run_function: Any, tls_aws: tuple[LocalAws, Path]) -> None:
    aws, other_ca = tls_aws
    stack = create_stack(aws)
    event = sqs_event(
        [
            body(tick("AAPL", 199.0, "2026-11-25T14:30:00.000Z")),
            body(tick("AAPL", 200.5, "2026-11-25T14:30:01.000Z")),
        ]
    )
    assert run_function(stack.env(GOLDEN_RULES)).failures(event) == []
    assert set(stack.alerts()) == {("AAPL", "2026-11-25T14:30:01.000000Z#aapl-up-200")}
    assert len(stack.notifications()) == 1

    # A CA bundle that did not sign moto's certificate: every call fails verification, the messages are
    # reported as failed (retried by SQS), nothing crashes.
    wrong = run_function(stack.env(GOLDEN_RULES, ca_bundle=str(other_ca)))
    event = sqs_event(
        [
            body(tick("AAPL", 199.0, "2026-11-25T14:31:00.000Z")),
            body(tick("AAPL", 201.0, "2026-11-25T14:31:01.000Z")),
        ]
    )
    assert sorted(wrong.failures(event)) == sorted(message_ids(event))
    assert wrong.emulator.process is not None
    assert wrong.emulator.process.alive()
    assert any("TLS server verification failed" in line for line in wrong.output())
    assert len(stack.alerts()) == 1


# ------------------------------------------------------------------------------------------ arm64
def test_shipped_arm64_bootstrap_under_qemu(run_function: Any, stack: Stack) -> None:
    command = arm64_command()
    fn = run_function(stack.env(GOLDEN_RULES, ca_bundle="/etc/ssl/certs/ca-certificates.crt"), command)
    event = sqs_event(
        [
            body(
                tick("AAPL", 199.0, "2026-11-25T14:30:00.000Z"),
                tick("AAPL", 200.5, "2026-11-25T14:30:01.000Z"),
            ),
            "[1, 2",
            body(tick("MSFT", 401.0, "2026-11-25T14:30:00.000Z", volume=150_000)),
        ]
    )
    ids = message_ids(event)
    assert fn.failures(event) == []
    assert set(stack.alerts()) == {
        ("AAPL", "2026-11-25T14:30:01.000000Z#aapl-up-200"),
        ("MSFT", "2026-11-25T14:30:00.000000Z#block-trade"),
    }
    assert len(stack.notifications()) == 2
    dead = stack.dead_letters()
    assert [m["MessageAttributes"]["SourceMessageId"]["StringValue"] for m in dead] == [ids[1]]
    t0 = oracle.normalise_timestamp("2026-11-25T14:30:00Z")[1]
    assert stack.states()["MSFT"]["ticks"] == [[t0, 0, 401.0]]


# ------------------------------------------------------------------------------------------ shutdown
def test_sigterm_ends_the_function_and_a_coverage_build_flushes_its_counters(
    run_function: Any, stack: Stack
) -> None:
    fn = run_function(stack.env(GOLDEN_RULES))
    assert fn.failures(sqs_event([body(tick("AAPL", 199.0, "2026-11-25T14:30:00Z"))])) == []
    gcda = BOOTSTRAP.parent / "CMakeFiles" / "bootstrap.dir" / "main.cpp.gcda"
    coverage_build = gcda.with_suffix(".gcno").exists()
    before = gcda.stat().st_mtime_ns if gcda.exists() else 0
    status = terminate(fn.emulator)
    # A coverage build dumps its counters and exits 0; a release build dies of the signal, as in Lambda.
    assert status == (0 if coverage_build else -signal.SIGTERM)
    if coverage_build:
        assert gcda.stat().st_mtime_ns > before


# ------------------------------------------------------------------------------------------ rules storage
RULES_TOOL = Path(os.environ.get("TAP_RULES_TOOL", ROOT / "build" / "cpp" / "src" / "tap_rules"))


def new_rules_table(aws: LocalAws) -> str:
    """A fresh rules table on `aws` (tests/support/rules_table.py: the stack's key schema); its name."""
    name = f"alert-rules-{uuid.uuid4().hex[:8]}"
    create_rules_table(aws.client("dynamodb"), name)
    return name


def rules_tool_env(aws: LocalAws, table: str, clock: str = "") -> dict[str, str]:
    """The operators' tool's environment (as an operator: the admin key) under the clock spec `clock`
    (local/clock.py; real time by default)."""
    return {
        CLOCK_VARIABLE: clock,
        "PATH": os.environ["PATH"],
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": aws.admin.access_key,
        "AWS_SECRET_ACCESS_KEY": aws.admin.secret_key,
        "AWS_ENDPOINT_URL": aws.url,
        "RULES_TABLE": table,
    }


def import_rules(aws: LocalAws, table: str, owner: str, document: Path, clock: str = "") -> int:
    """Imports `document` for `owner` with the operators' tool under the clock spec `clock`; returns the
    latest effective_from it printed, in microseconds since the epoch."""
    tool = built(RULES_TOOL, "cpp-build")
    done = subprocess.run(
        [str(tool), "import", "--owner", owner, str(document)],
        env=rules_tool_env(aws, table, clock),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return max(oracle.normalise_timestamp(line.split()[-1])[1] for line in done.stdout.splitlines())


def iso(micros: int) -> str:
    return datetime.fromtimestamp(micros / 1e6, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def rule_id_named(stack: Stack, table: str, name: str) -> str:
    """The id the import gave trader-a's rule `name`, read back from the rules table."""
    records = stack.aws.client("dynamodb").query(
        TableName=table,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :p)",
        ExpressionAttributeValues={":pk": {"S": "owner#trader-a"}, ":p": {"S": "rule#"}},
        ConsistentRead=True,
    )["Items"]
    return str({r["name"]["S"]: r["sk"]["S"].removeprefix("rule#") for r in records}[name])


def test_rules_from_the_rules_storage_apply_from_their_effective_from(
    run_function: Any, stack: Stack, tmp_path: Path
) -> None:
    table = new_rules_table(stack.aws)
    effective_from = import_rules(stack.aws, table, "trader-a", GOLDEN_RULES)
    before = effective_from - 2_000_000
    time.sleep(max(0.0, (effective_from + 200_000) / 1e6 - time.time()))  # ticks after the change
    start = int(time.time() * 1e6)
    # A hostile item (no definition at all) is skipped at the cold load, logged, and fails nothing (R4).
    stack.aws.client("dynamodb").put_item(
        TableName=table, Item={"pk": {"S": "owner#trader-b"}, "sk": {"S": "rule#hostile"}}
    )
    # No rules document at all: the function reads the table (R4), not the file.
    fn = run_function(stack.env(tmp_path / "absent.json") | {"RULES_TABLE": table})
    event = sqs_event(
        [
            body(tick("MSFT", 390.0, iso(before))),  # before every version: evaluated against nothing
            body(tick("AAPL", 199.0, iso(start - 20_000))),
            body(tick("AAPL", 200.5, iso(start - 10_000))),
        ]
    )
    assert fn.failures(event) == []
    rule_id = rule_id_named(stack, table, "aapl-up-200")
    alerts = stack.alerts()
    key = f"{iso(start - 10_000)}#{rule_id}"
    assert set(alerts) == {("AAPL", key)}  # the crossing, under the rule's server-assigned id
    assert alerts[("AAPL", key)]["owner"] == "trader-a"
    assert fn.metrics("Rules") == 5  # the document's six rules, one paused (no version)
    assert fn.metrics("TicksBeforeRules") == 1
    assert any("invalid rule skipped" in line and "rule#hostile" in line for line in fn.output())


def test_a_feed_before_every_rule_version_fires_nothing_in_the_shared_clock(
    run_function: Any, stack: Stack, tmp_path: Path
) -> None:
    """R7: the golden feed (fixed past timestamps) played in a shared virtual clock that starts at its last
    tick: rules imported under that clock take effect P after it, so every tick precedes every version --
    nothing fires, each valid tick counts TicksBeforeRules, none is stale or from the future (in real time
    the feed is a week old, beyond the horizon: the clock is what makes it live)."""
    bodies = _golden_bodies()
    last_tick = max(t for b in bodies if (t := newest_tick_micros(b)) is not None)
    clock = virtual_clock(last_tick, 10, int(time.time() * 1e6))
    table = new_rules_table(stack.aws)
    effective_from = import_rules(stack.aws, table, "trader-a", GOLDEN_RULES, clock)
    assert last_tick + 5_000_000 <= effective_from < last_tick + 60_000_000  # now + P, in the feed's time
    fn = run_function(stack.env(tmp_path / "absent.json") | {"RULES_TABLE": table, CLOCK_VARIABLE: clock})
    assert fn.failures(sqs_event(bodies)) == []
    assert stack.alerts() == {}
    assert stack.notifications() == []
    assert fn.metrics("TicksBeforeRules") == json.loads(GOLDEN_EXPECTED.read_text())["ticks"]
    assert (fn.metrics("StaleTicks"), fn.metrics("FutureTicks")) == (0, 0)
    assert fn.metrics("Rules") == 5


def test_a_clock_the_function_cannot_read_stops_its_start(run_function: Any, stack: Stack) -> None:
    """A bad TAP_CLOCK is an init error, never a silent fall back to real time (docs/design.md, 12.7)."""
    env = {**stack.env(GOLDEN_RULES), CLOCK_VARIABLE: "virtual:start=2026-11-25T14:30:00Z"}
    error_type, message = _init_failure(run_function, env)
    assert error_type == "Runtime.InvalidConfiguration"
    assert message == "TAP_CLOCK: expected real or virtual:start=<UTC>,anchor=<micros>,speed=<n>"


def test_the_rules_tool_refuses_a_clock_it_cannot_read(stack: Stack, tmp_path: Path) -> None:
    table = new_rules_table(stack.aws)
    done = subprocess.run(
        [str(built(RULES_TOOL, "cpp-build")), "suspend", "MSFT"],
        env=rules_tool_env(stack.aws, table, "virtual:speed=0"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stderr) == (
        1,
        "tap_rules: TAP_CLOCK: expected real or virtual:start=<UTC>,anchor=<micros>,speed=<n>\n",
    )
    assert stack.aws.client("dynamodb").scan(TableName=table)["Items"] == []


def test_a_rules_table_that_cannot_be_read_fails_the_batch_and_applies_nothing(
    run_function: Any, stack: Stack
) -> None:
    fn = run_function(stack.env(GOLDEN_RULES) | {"RULES_TABLE": "alert-rules-absent"})
    now = int(time.time() * 1e6)
    event = sqs_event([body(tick("AAPL", 199.0, iso(now - 20_000))), body(tick("AAPL", 201.0, iso(now)))])
    assert fn.failures(event) == message_ids(event)  # retried later, never applied without its rules
    assert fn.wait_for_output("rules not loaded at init")  # the load's thread logs it
    assert stack.alerts() == {}
    assert stack.states() == {}


class _HeldScans:
    """A latency model for the fault proxy: every DynamoDB Scan's answer is held (until the proxy's `sleep`
    returns, which the test decides), everything else is answered at once."""

    def sample_s(self, service: str, operation: str) -> float | None:
        return 3600.0 if (service, operation) == ("dynamodb", "Scan") else None


def test_the_function_asks_for_work_while_its_rules_load_and_evaluates_nothing_before_they_are_loaded(
    run_function: Any, stack: Stack, tmp_path: Path
) -> None:
    """Issue 15 (R4): the cold load runs beside the first /next. With every Scan held by the proxy, the
    function takes an invocation with no `rules loaded` line yet, and retries its batch unevaluated; once
    the Scans are answered, the redelivered batch fires exactly the expected alert."""
    now = int(time.time() * 1e6)
    clock = virtual_clock(now, 10, now)  # the held invocation's wait puts the ticks in the function's past
    table = new_rules_table(stack.aws)
    effective_from = import_rules(stack.aws, table, "trader-a", GOLDEN_RULES, clock)
    released = threading.Event()
    with FaultProxy(stack.aws.url, latency=_HeldScans(), sleep=lambda _s: released.wait()) as proxy:
        try:
            env = stack.env(tmp_path / "absent.json", endpoint=proxy.url)
            fn = run_function(env | {"RULES_TABLE": table, CLOCK_VARIABLE: clock})
            # A tick from before the import: in the function's past whatever its clock shows by then.
            early = body(tick("AAPL", 198.0, iso(now)))
            first = sqs_event([early])
            assert fn.failures(first, timeout_s=3.0) == message_ids(first)  # served while Scans are held
            assert not any('"rules loaded"' in line for line in fn.output())
            assert any("RulesLoadInProgress" in line for line in fn.output())  # the load was in flight
            assert stack.alerts() == {}

            released.set()
            # Its redelivery, and the crossing after effective_from (in the function's past by now: the
            # held invocation waited out most of its 3 s, 30 s of the clock).
            below, above = effective_from + 1_000_000, effective_from + 2_000_000
            crossing = [body(tick("AAPL", 199.0, iso(below))), body(tick("AAPL", 200.5, iso(above)))]
            redelivered = sqs_event(
                [early, *crossing], receive_count=2, ids=[*message_ids(first), "crossing-1", "crossing-2"]
            )
            assert fn.failures(redelivered) == []
        finally:
            released.set()
    assert fn.wait_for_output('"rules loaded"')
    rule_id = rule_id_named(stack, table, "aapl-up-200")
    assert set(stack.alerts()) == {("AAPL", f"{iso(above)}#{rule_id}")}
    assert len(stack.notifications()) == 1

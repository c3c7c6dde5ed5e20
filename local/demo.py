"""The whole system on one machine: a feed through the deployed stack and the real function, watched live.

`LocalSystem` drives a deployed stack (on the emulator, or real AWS resources) from its terraform outputs:
a capture queue subscribed to the trading topic (what a trader's subscription would receive), the local
event source (local/event_source.py) running the function's host `bootstrap` behind the Runtime API
emulator, and readers for the alerts table, the capture queue, the DLQ and the function's EMF records.
The demo (`python -m local.demo`, run by `make demo` after terraform apply) serves the stack's traders' API
locally (`deployed_api_system` in local/api_system.py), signs two traders and an operator in to the stack's
pool, imports each trader's document through `POST /rules/import`, sends a feed with local/feed.py while the
schedule of local/demo_schedule.py changes rules through the API, shows a live view and a summary, each
change's effect, each trader's alerts as `GET /alerts` lists them (checked to be exactly their own), and the
fidelity figure per owner (F3: the stored alerts per rule against the in-order replay of the committed
versions read back through the API, judged by the test oracle tests/chaos/judge.py); the integration tests
use the same class with assertions.

Tick-to-notification latency: from the wall-clock time just before the SendMessageBatch call that carried
a tick's message to the SentTimestamp of its SNS notification in the capture queue (moto delivers SNS ->
SQS inside Publish, so that is the publish time). The notification names its source message (message_id).
"""

from __future__ import annotations

import argparse
import base64
import json
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TextIO

import boto3

from local.api_system import ApiSystem, deployed_api_system
from local.clock import CLOCK_VARIABLE, Clock, feed_clock, parse_clock_spec
from local.demo_schedule import (
    OPERATOR,
    RETRY_LATER,
    Api,
    Player,
    controls_of_answers,
    demo_schedule,
    effect_line,
    foreign_alerts,
    play_all,
    versions_of_answer,
)
from local.emf import emf_totals
from local.event_source import EventSourceConfig, SqsEventSource
from local.feed import read_feed
from local.function_host import DEFAULT_RUNNER, RUNNERS, FunctionRunner, runner
from local.rules_import import RulesTool, RulesToolError, effective_froms, named_alerts
from local.sqs_queues import drain
from ops.alerts_api import AlertsApi, ApiReply, path_of
from ops.send_feed import SendResult, send_feed
from tests.chaos import oracle
from tests.chaos.event_time import Controls, Version, in_order_replay
from tests.chaos.judge import Fidelity, fidelity_lines, judge

ROOT = Path(__file__).resolve().parents[1]
# The demo's traders (users of the stack's pool) and their rules documents, imported through the API (R6).
DEFAULT_TRADERS = (
    ("trader-alice", ROOT / "config" / "alert-rules.json"),
    ("trader-bob", ROOT / "local" / "data" / "trader-bob-rules.json"),
)
NO_OWNER = "(no owner)"  # an alert of a rule given as a document (RULES_PATH) has none
# A recorded feed plays in a virtual clock (R7, local/clock.py) FEED_CLOCK_SPEED times faster than real time,
# which starts FEED_CLOCK_MARGIN_S of event time before the feed's first tick: the rules imported at its start
# take effect at now + P plus the import's own run time at that speed, all before the first tick.
FEED_CLOCK_SPEED = 50
FEED_CLOCK_MARGIN_S = 300.0
# The demo's speed leaves each batch the real time it needs. A batch's work deadline is an instant of the
# function's clock (docs/design.md 12.7: its real budget added to the clock's now), so at speed n a batch
# has timeout / n of real time. At 50 that was 1.18 s against moto on the loaded 2-core machine, while the
# demo's invocations took 0.83 s at the median and up to 1.39 s (concurrency 5, rules changing through the
# API): every one past 1.18 s failed its remaining messages ("deadline near"), and a second such failure
# redrove them to the DLQ (make demo's maxReceiveCount is 2). The design's rule: timeout / n covers a batch.
DEMO_BATCH_REAL_S = 6.0
DEMO_CLOCK_SPEED = int(EventSourceConfig("", "").function_timeout_s / DEMO_BATCH_REAL_S)


def recorded_feed_clock(
    bodies: Sequence[str], speed: int = FEED_CLOCK_SPEED, margin_s: float = FEED_CLOCK_MARGIN_S
) -> tuple[str, int]:
    """The clock spec a recorded feed plays under, and the feed's first tick (micros since the epoch)."""
    first = min(t.ts_us for body in oracle.parse_feed(bodies) for t in body.ticks)
    return feed_clock(first, margin_seconds=margin_s, speed=speed), first


def percentile(values: Sequence[float], q: float) -> float:
    """The q-quantile (0..1) by linear interpolation; values must not be empty."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    return statistics.quantiles(ordered, n=100, method="inclusive")[round(q * 100) - 1]


@dataclass
class Notification:
    alert_id: str
    message_id: str  # the source SQS message
    symbol: str
    rule: str
    severity: str
    arrived_ms: int  # SentTimestamp in the capture queue
    body: dict[str, Any]


@dataclass
class DeadLetter:
    body: str
    reason: str | None  # RejectionReason (None: redriven after maxReceiveCount)
    source_message_id: str | None


def _attr(envelope: Mapping[str, Any], name: str) -> str:
    value = envelope.get("MessageAttributes", {}).get(name, {})
    return str(value.get("Value", ""))


def parse_notification(message: Mapping[str, Any]) -> Notification:
    """A capture-queue message (an SNS envelope) as a Notification."""
    envelope = json.loads(message["Body"])
    body = json.loads(envelope["Message"])
    return Notification(
        alert_id=body["alert_id"],
        message_id=body["message_id"],
        symbol=_attr(envelope, "symbol"),
        rule=_attr(envelope, "rule"),
        severity=_attr(envelope, "severity"),
        arrived_ms=int(message["Attributes"]["SentTimestamp"]),
        body=body,
    )


class RecordingSqs:
    """The SQS client for the feed sender, recording the send time of every message it carries."""

    def __init__(self, sqs: Any, clock: Callable[[], float] = time.time) -> None:
        self.sqs = sqs
        self.clock = clock
        self.sent_at: dict[str, float] = {}  # SQS message id -> seconds since the epoch

    def send_message_batch(self, **kwargs: Any) -> Any:
        started = self.clock()
        response = self.sqs.send_message_batch(**kwargs)
        for ok in response.get("Successful", []):
            self.sent_at[ok["MessageId"]] = started
        return response


@dataclass
class Snapshot:
    sent: int
    total: int
    emf: dict[str, float]
    alerts: int
    notifications: int
    dead_letters: int
    queued: int


@dataclass
class LocalSystem:
    """A deployed stack plus the local machinery around it (see the module doc)."""

    outputs: Mapping[str, str]
    bootstrap: Sequence[str]
    endpoint_url: str | None = None
    region: str = "us-east-1"
    # The traders' rules: (owner, rules document) pairs that import_rules puts into the stack's rules table
    # (local/rules_import.py); the function reads them there, as deployed.
    rules: Sequence[tuple[str, Path]] = ()
    # The local system's one clock (local/clock.py): the spec every process reads; "" is real time.
    clock: str = ""
    concurrency: int = 1
    function_env: Mapping[str, str] = field(default_factory=dict)
    credentials: Mapping[str, str] = field(default_factory=dict)  # AWS_ACCESS_KEY_ID...; {}: default chain
    capture_url: str = ""
    subscription_arn: str = ""
    notifications: list[Notification] = field(default_factory=list)
    source: SqsEventSource | None = None
    emulators: list[FunctionRunner] = field(default_factory=list)
    runner_name: str = DEFAULT_RUNNER  # what serves the Runtime API (local/function_host.py)
    rule_names: dict[str, str] = field(default_factory=dict)  # imported rules: id -> name
    rule_owners: dict[str, str] = field(default_factory=dict)  # imported rules: id -> owner
    _clients: dict[str, Any] = field(default_factory=dict)

    def client(self, service: str) -> Any:
        """One client per service (creating one costs tens of ms; they are thread-safe)."""
        if service not in self._clients:
            self._clients[service] = boto3.client(
                service,
                region_name=self.region,
                endpoint_url=self.endpoint_url,
                aws_access_key_id=self.credentials.get("AWS_ACCESS_KEY_ID"),
                aws_secret_access_key=self.credentials.get("AWS_SECRET_ACCESS_KEY"),
                aws_session_token=self.credentials.get("AWS_SESSION_TOKEN"),
            )
        return self._clients[service]

    def env(self) -> dict[str, str]:
        """The function's environment: the stack's resources from its outputs (F9)."""
        env = {
            "ALERTS_TABLE": self.outputs["table_name"],
            "STATE_TABLE": self.outputs["state_table_name"],
            "TOPIC_ARN": self.outputs["topic_arn"],
            "DLQ_URL": self.outputs["dlq_url"],
            "LOG_LEVEL": "INFO",
            "AWS_REGION": self.region,
            "AWS_LAMBDA_FUNCTION_NAME": self.outputs.get("function_name", "data-processor"),
            "RULES_TABLE": self.outputs["rules_table_name"],
            **self.clock_env(),
        }
        if self.endpoint_url is not None:
            env["AWS_ENDPOINT_URL"] = self.endpoint_url
        return {**env, **self.credentials, **self.function_env}

    # -- the traders' rules -----------------------------------------------------------------------------
    def clock_env(self) -> dict[str, str]:
        """The clock's variable for every process of the system (none: real time)."""
        return {CLOCK_VARIABLE: self.clock} if self.clock else {}

    def rules_tool(self) -> RulesTool:
        """`tap_rules` on this stack's rules table, with this system's endpoint and clock."""
        return RulesTool(self.outputs["rules_table_name"], self.endpoint_url, self.clock_env())

    def import_rules(self, effective_by_us: int | None = None) -> dict[str, str]:
        """Imports each owner's document (R6) and learns the rules' ids; returns each owner's report.
        With `effective_by_us` (a feed's first tick), a change taking effect later fails the import: that
        feed would meet rules that are not there yet (a clock margin too small for this machine)."""
        tool = self.rules_tool()
        reports = tool.import_all(self.rules)
        if effective_by_us is not None:
            late = [
                f"{owner}: {ef}"
                for owner, report in reports.items()
                for ef in effective_froms(report)
                if oracle.normalise_timestamp(ef)[1] > effective_by_us
            ]
            if late:
                raise RulesToolError(f"rules effective after the feed's first tick: {', '.join(late)}")
        for owner, _ in self.rules:
            names = tool.rule_names(owner)
            self.rule_names.update(names)
            self.rule_owners.update(dict.fromkeys(names, owner))
        return reports

    # -- capture queue -----------------------------------------------------------------------------------
    def subscribe_capture_queue(self) -> None:
        """A fresh SQS queue subscribed to the trading topic (raw delivery off: the SNS envelope stays)."""
        sqs, sns = self.client("sqs"), self.client("sns")
        topic = self.outputs["topic_arn"]
        self.capture_url = sqs.create_queue(QueueName=f"alert-capture-{uuid.uuid4().hex[:12]}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=self.capture_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "sns.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": topic}},
                }
            ],
        }
        sqs.set_queue_attributes(QueueUrl=self.capture_url, Attributes={"Policy": json.dumps(policy)})
        self.subscription_arn = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)["SubscriptionArn"]

    def remove_capture_queue(self) -> None:
        if self.subscription_arn:
            self.client("sns").unsubscribe(SubscriptionArn=self.subscription_arn)
            self.subscription_arn = ""
        if self.capture_url:
            self.client("sqs").delete_queue(QueueUrl=self.capture_url)
            self.capture_url = ""

    def collect_notifications(self) -> int:
        """Moves what the capture queue holds into self.notifications; returns how many arrived."""
        messages = drain(self.client("sqs"), self.capture_url)
        self.notifications.extend(parse_notification(m) for m in messages)
        return len(messages)

    # -- the event source --------------------------------------------------------------------------------
    def take_over_event_source(self) -> None:
        """On the emulator: disables moto's own mapping of the stack (moto would invoke the function
        through Docker on every SendMessage, fail, and push healthy messages towards the DLQ); the local
        event source takes its place. Against AWS the real mapping stays: there is nothing to take over."""
        lam = self.client("lambda")
        mappings = lam.list_event_source_mappings(FunctionName=self.outputs["function_arn"])
        for esm in mappings["EventSourceMappings"]:
            if esm["EventSourceArn"] == self.outputs["queue_arn"]:
                lam.update_event_source_mapping(UUID=esm["UUID"], Enabled=False)

    def start(self) -> None:
        if self.endpoint_url is not None:
            self.take_over_event_source()
        config = EventSourceConfig.from_terraform_outputs(dict(self.outputs))
        self.emulators = [
            runner(self.bootstrap, self.env(), self.runner_name).__enter__() for _ in range(self.concurrency)
        ]
        self.source = SqsEventSource(config, self.client("sqs"), self.emulators)
        self.source.start()

    def stop(self) -> None:
        """Stops the pollers, then the function processes (killed: an execution environment ends so)."""
        if self.source is not None:
            self.source.stop()
        for emulator in self.emulators:
            emulator.close()

    def function_stdout(self) -> list[str]:
        return [line for e in self.emulators for p in e.processes for line in p.stdout]

    def emf(self) -> dict[str, float]:
        return emf_totals(self.function_stdout())

    def deleted(self) -> int:
        return len(set(self.source.stats.deleted)) if self.source is not None else 0

    # -- the stack's state -------------------------------------------------------------------------------
    def alerts(self) -> list[dict[str, Any]]:
        """Every item of the alerts table, attribute values unwrapped."""
        return [
            {k: next(iter(v.values())) for k, v in item.items()}
            for item in _scan(self.client("dynamodb"), self.outputs["table_name"])
        ]

    def dead_letters(self) -> list[DeadLetter]:
        """The DLQ's messages with their reasons; they stay in the queue (made visible again at once)."""
        sqs = self.client("sqs")
        url = self.outputs["dlq_url"]
        seen: dict[str, DeadLetter] = {}
        handles: list[str] = []
        while messages := sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], VisibilityTimeout=30
        ).get("Messages", []):
            for m in messages:
                attrs = m.get("MessageAttributes", {})
                handles.append(m["ReceiptHandle"])
                seen[m["MessageId"]] = DeadLetter(
                    body=m["Body"],
                    reason=attrs.get("RejectionReason", {}).get("StringValue"),
                    source_message_id=attrs.get("SourceMessageId", {}).get("StringValue"),
                )
        for start in range(0, len(handles), 10):  # hidden by the receives above: visible again now
            sqs.change_message_visibility_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": h, "VisibilityTimeout": 0}
                    for i, h in enumerate(handles[start : start + 10])
                ],
            )
        return list(seen.values())

    def queue_depth(self, url: str) -> int:
        attrs = self.client("sqs").get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])

    def snapshot(self, sent: int, total: int) -> Snapshot:
        self.collect_notifications()
        return Snapshot(
            sent=sent,
            total=total,
            emf=self.emf(),
            alerts=len(self.alerts()),
            notifications=len(self.notifications),
            dead_letters=self.queue_depth(self.outputs["dlq_url"]),
            queued=self.queue_depth(self.outputs["queue_url"]),
        )

    def wait_until_drained(
        self, sent: int, timeout_s: float, on_tick: Callable[[], None] | None = None
    ) -> bool:
        """Until every sent message was deleted by the event source (processed or dead-lettered) and every
        stored alert was notified; False after `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.collect_notifications()
            if self.deleted() >= sent and len(self.notifications) >= len(self.alerts()):
                return True
            time.sleep(0.25)
        return False

    def reset(self) -> None:
        """Empties the tables (the rules table too: a run imports its own rules, under its own clock) and
        the queues (between runs on one deployment)."""
        ddb, sqs = self.client("dynamodb"), self.client("sqs")
        for table, keys in (
            (self.outputs["table_name"], ("symbol", "timestamp")),
            (self.outputs["state_table_name"], ("symbol", "rule_id")),
            (self.outputs["rules_table_name"], ("pk", "sk")),
        ):
            for item in _scan(ddb, table):
                ddb.delete_item(TableName=table, Key={k: item[k] for k in keys})
        # Received and deleted rather than purged: SQS allows one PurgeQueue per queue and minute.
        for url in (self.outputs["queue_url"], self.outputs["dlq_url"], self.capture_url):
            if url:
                drain(sqs, url)
        self.notifications.clear()


def _scan(ddb: Any, table: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
    while True:
        page = ddb.scan(**kwargs)
        items.extend(page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


@dataclass
class RunReport:
    sent: SendResult
    wall_s: float
    drained: bool
    latencies_ms: list[float]
    emf: dict[str, float]
    alerts: list[dict[str, Any]]
    notifications: list[Notification]
    dead_letters: list[DeadLetter]

    @property
    def ticks_per_s(self) -> float:
        return self.emf["Ticks"] / self.wall_s if self.wall_s > 0 else 0.0


def run_feed(
    system: LocalSystem,
    bodies: Sequence[str],
    rate: float | None,
    timeout_s: float = 120.0,
    on_progress: Callable[[Snapshot], None] | None = None,
) -> RunReport:
    """Sends `bodies` through the running system and waits until it has processed them."""
    sqs = RecordingSqs(system.client("sqs"))
    # A recorded feed plays at its own timestamps in the system's clock (R7): each batch waits for its ticks.
    paced_by = Clock(parse_clock_spec(system.clock)) if system.clock else None
    started = time.monotonic()
    progress = {"sent": 0}
    stop_view = threading.Event()

    def view() -> None:
        while not stop_view.wait(0.5):
            on_progress(system.snapshot(progress["sent"], len(bodies)))  # type: ignore[misc]

    viewer = threading.Thread(target=view, daemon=True)
    if on_progress is not None:
        viewer.start()
    try:
        result = send_feed(
            bodies,
            system.outputs["queue_url"],
            rate,
            client=sqs,
            progress=lambda r: progress.__setitem__("sent", r.sent),
            paced_by=paced_by,
        )
        drained = system.wait_until_drained(result.sent, timeout_s)
    finally:
        stop_view.set()
        if on_progress is not None:
            viewer.join()
    wall = time.monotonic() - started
    latencies = [
        n.arrived_ms - sqs.sent_at[n.message_id] * 1000
        for n in system.notifications
        if n.message_id in sqs.sent_at
    ]
    return RunReport(
        sent=result,
        wall_s=wall,
        drained=drained,
        latencies_ms=latencies,
        emf=system.emf(),
        alerts=system.alerts(),
        notifications=list(system.notifications),
        dead_letters=system.dead_letters(),
    )


# -- the demo's display ----------------------------------------------------------------------------------
def progress_line(s: Snapshot) -> str:
    width = 24
    done = round(width * s.sent / s.total) if s.total else width
    return (
        f"\rfeed [{'#' * done}{'.' * (width - done)}] {s.sent}/{s.total} msgs | "
        f"ticks {int(s.emf['Ticks'])} | alerts stored {s.alerts} | notified {s.notifications} | "
        f"DLQ {s.dead_letters} | queued {s.queued}   "
    )


def by_owner(alerts: Sequence[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    """The alerts grouped by their rule's owner (F4), owners in order."""
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for a in alerts:
        groups.setdefault(str(a.get("owner", NO_OWNER)), []).append(a)
    return dict(sorted(groups.items()))


def summary(report: RunReport, out: TextIO, names: Mapping[str, str] | None = None) -> None:
    """The stored alerts per owner, each rule shown by its name (`names`: rule id -> name; an id without
    one is shown as it is), then the dead letters and the run's figures."""
    print("\n\nalerts stored (market-alerts table) and their notifications, per owner:", file=out)
    notified: dict[str, int] = {}
    for n in report.notifications:
        notified[n.alert_id] = notified.get(n.alert_id, 0) + 1
    for owner, alerts in by_owner(report.alerts).items():
        print(f"  {owner}: {len(alerts)} alerts", file=out)
        print(
            f"    {'symbol':8} {'tick time (UTC)':27} {'rule':24} {'severity':8} {'price':>10} notified",
            file=out,
        )
        for a in sorted(alerts, key=lambda a: (a["timestamp"], a["symbol"])):
            ts, _, rule = str(a["timestamp"]).partition("#")
            rule = (names or {}).get(rule, rule)
            count = notified.get(str(a.get("alert_id")), 0)
            print(
                f"    {a['symbol']:8} {ts:27} {rule:24} {a['severity']:8} {a['price']:>10} {count}x", file=out
            )
    print("dead-letter queue:", file=out)
    for d in report.dead_letters:
        print(f"  {d.reason or 'redriven after maxReceiveCount'}: {d.body[:70]}", file=out)
    rows = [
        ("messages sent", report.sent.sent),
        ("ticks processed", int(report.emf["Ticks"])),
        ("ticks rejected", int(report.emf["RejectedTicks"])),
        ("late ticks", int(report.emf["LateTicks"])),
        ("alerts stored", len(report.alerts)),
        ("notifications received", len(report.notifications)),
        ("dead-lettered messages", len(report.dead_letters)),
        ("function retries", int(report.emf["Retries"])),
        ("wall time (s)", f"{report.wall_s:.1f}"),
        ("ticks/s through the system", f"{report.ticks_per_s:.0f}"),
    ]
    if report.latencies_ms:
        rows.append(("tick->notification p50 (ms)", f"{percentile(report.latencies_ms, 0.5):.0f}"))
        rows.append(("tick->notification p99 (ms)", f"{percentile(report.latencies_ms, 0.99):.0f}"))
    print("summary:", file=out)
    for name, value in rows:
        print(f"  {name:30} {value:>10}", file=out)


def fidelity_summary(report: RunReport, bodies: Sequence[str], rules_path: Path, out: TextIO) -> Fidelity:
    """The feed's valid ticks replayed in order against the rules, the stored alerts judged per rule; the
    ticks the function counted beyond the reorder window may explain as many misses per rule."""
    ticks = [t for body in oracle.parse_feed(bodies) for t in body.ticks]
    rules = oracle.load_rules(json.loads(rules_path.read_text(encoding="utf-8")))
    beyond = int(report.emf.get("TicksBeyondWindow", 0))
    result = oracle.fidelity(ticks, rules, report.alerts, beyond_w_count=beyond)
    print("fidelity: stored alerts against the in-order replay of the same ticks (F3):", file=out)
    for line in fidelity_lines(result):
        print(line, file=out)
    return result


def trader_argument(text: str) -> tuple[str, Path]:
    """OWNER=FILE: a trader and their rules document."""
    owner, sep, document = text.partition("=")
    if not sep or not owner or not document:
        raise argparse.ArgumentTypeError(f"{text!r} is not OWNER=FILE")
    return owner, Path(document)


# -- the traders through the API (issue 16 item 4) ---------------------------------------------------------
OPERATOR_USER = "demo-operator"
API_SEE_TIMEOUT_S = 60.0  # for the alerts stored last to be listed (stored more than D ago, A2)
RETRY_PAUSE_S = 0.1


def send_until_committed(api: Api, method: str, path: str, body: Any = None) -> ApiReply:
    """A request that may answer 503 (A3) sent again until it does not; for requests whose resend changes
    only what is not in effect yet (an import: its mapping is idempotent per name, R6)."""
    while (reply := api.call(method, path, body=body)).status == RETRY_LATER:
        time.sleep(RETRY_PAUSE_S)  # Retry-After counts the clock's seconds: far fewer real ones at speed
    return reply


def import_lines(answer: Mapping[str, Any], effective_by_us: int | None) -> tuple[list[str], list[str]]:
    """An import's answer as lines, and its problems: a refused change, or one in effect only after the
    feed's first tick (that feed would meet rules that are not there yet: a clock margin too small here)."""
    lines, problems = [], []
    for c in answer["changes"]:
        ef = c.get("effective_from", "")
        lines.append(f"{c['change']:7} {c.get('name', ''):26} {c['status']} effective_from {ef or '-'}")
        if c["status"] != 200:
            problems.append(f"{c['change']} {c.get('name')}: {c['status']} {c.get('detail', '')}")
        elif effective_by_us is not None and ef and oracle.normalise_timestamp(ef)[1] > effective_by_us:
            problems.append(f"{c.get('name')}: effective after the feed's first tick ({ef})")
    return lines, problems


def listed(api: Api, path: str, key: str) -> list[dict[str, Any]]:
    """Every item of a paginated list (rules, alerts), following next_cursor to the end."""
    items: list[dict[str, Any]] = []
    query: dict[str, str | None] = {}
    while True:
        reply = api.call("GET", path, query=query)
        if not reply.ok:
            raise RulesToolError(f"GET {path}: {reply.status} {reply.text[:200]}")
        items += reply.document[key]
        # An alert page always carries next_cursor (for polling) and says `more`; a rule page has a cursor
        # only when more follow.
        more = reply.document.get("more", "next_cursor" in reply.document)
        if not more:
            return items
        query = {"cursor": reply.document["next_cursor"]}


def alerts_seen(api: Api, expected: int, timeout_s: float = API_SEE_TIMEOUT_S) -> list[dict[str, Any]]:
    """The trader's `GET /alerts` once it lists `expected` alerts (each becomes visible D after it was
    stored, A2) or after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while len(seen := listed(api, "/alerts", "alerts")) < expected and time.monotonic() < deadline:
        time.sleep(0.25)
    return seen


@dataclass
class TraderView:
    """What one trader reads back through the API after the feed."""

    user: SignedIn
    names: dict[str, str]  # rule id -> name
    alerts: list[dict[str, Any]]  # GET /alerts
    versions: list[Version]  # what the in-order replay takes


def read_back(user: SignedIn, expected_alerts: int) -> TraderView:
    rules = listed(user.api, "/rules", "rules")
    names = {str(r["id"]): str(r["name"]) for r in rules}
    versions: list[Version] = []
    for rule_id, name in sorted(names.items()):
        reply = user.api.call("GET", path_of("rules", rule_id, "versions"))
        versions += versions_of_answer(name, reply.document)
    return TraderView(user, names, alerts_seen(user.api, expected_alerts), versions)


def api_alert_lines(view: TraderView) -> list[str]:
    lines = [f"  {view.user.username}: {len(view.alerts)} alerts"]
    lines.append(f"    {'symbol':8} {'tick time (UTC)':27} {'rule':24} {'v':>2} {'severity':8} {'price':>10}")
    for a in sorted(view.alerts, key=lambda a: (str(a["tick_time"]), str(a["symbol"]))):
        rule = view.names.get(str(a["rule_id"]), str(a["rule_id"]))
        lines.append(
            f"    {a['symbol']:8} {a['tick_time']:27} {rule:24} {a['rule_version']:>2} {a['severity']:8} "
            f"{a['price']:>10}"
        )
    return lines


def arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m local.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--outputs", type=Path, required=True, help="`terraform output -json` of the stack")
    parser.add_argument("--endpoint-url", default=None, help="the emulator (default: real AWS)")
    parser.add_argument("--feed", type=Path, required=True, help="one SQS body per line (local/feed.py)")
    parser.add_argument("--rate", type=float, default=None, help="messages per second (default: unlimited)")
    parser.add_argument("--concurrency", type=int, default=5, help="function processes in parallel")
    parser.add_argument(
        "--trader",
        action="append",
        type=trader_argument,
        metavar="USER=FILE",
        help="a trader (a user created in the stack's pool) and the rules document they import through "
        "the API (repeatable; the demo's rule changes play with the default traders only; default: "
        + ", ".join(f"{o}={d.relative_to(ROOT)}" for o, d in DEFAULT_TRADERS)
        + ")",
    )
    parser.add_argument(
        "--speed",
        type=int,
        default=DEMO_CLOCK_SPEED,
        help="on the emulator, the feed plays at its own timestamps in a virtual clock this many times "
        "faster than real time (R7); each batch then has the function's timeout / SPEED of real time",
    )
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for the system")
    parser.add_argument("--quiet", action="store_true", help="no live view")
    parser.add_argument("--runner", choices=sorted(RUNNERS), default=DEFAULT_RUNNER, help="its Runtime API")
    parser.add_argument("bootstrap", nargs="+", help="the function process (the host build of bootstrap)")
    return parser.parse_args(argv)


@dataclass
class Feed:
    """The feed the demo plays: its bodies, ticks, first tick and span of event time (micros)."""

    bodies: list[str]
    ticks: list[oracle.Tick]
    origin_us: int
    span_us: int

    @classmethod
    def of(cls, bodies: list[str]) -> Feed:
        ticks = [t for body in oracle.parse_feed(bodies) for t in body.ticks]
        first = min(t.ts_us for t in ticks)
        return cls(bodies, ticks, first, max(t.ts_us for t in ticks) - first)


@dataclass(frozen=True)
class SignedIn:
    username: str
    sub: str  # the owner of everything they create (A1: the token's `sub`)
    api: AlertsApi


def token_subject(token: str) -> str:
    """The `sub` claim of a JWT, read without checking it (the front checks every token it is sent)."""
    payload = token.split(".")[1]
    return str(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["sub"])


def signed_in(api: ApiSystem, username: str, operator: bool = False) -> SignedIn:
    """A user created in the stack's pool and signed in with their password: the API with their token."""
    access = api.sign_in(username, operator=operator)["access"]
    return SignedIn(username, token_subject(access), AlertsApi(api.url, access))


def sign_in_everyone(api: ApiSystem, traders: Sequence[tuple[str, Path]], out: TextIO) -> dict[str, SignedIn]:
    """The traders and the operator, created in the stack's pool and signed in (real tokens)."""
    print(f"traders' API (local front, the deployed API function and user pool) at {api.url}", file=out)
    users = {name: signed_in(api, name) for name, _ in traders}
    users[OPERATOR] = signed_in(api, OPERATOR_USER, operator=True)
    for name, user in users.items():
        role = " (operator)" if name == OPERATOR else ""
        print(f"  signed in {user.username}{role}: owner {user.sub}", file=out)
    return users


def import_documents(
    users: Mapping[str, SignedIn],
    traders: Sequence[tuple[str, Path]],
    effective_by_us: int | None,
    out: TextIO,
) -> tuple[dict[str, dict[str, str]], list[str]]:
    """Each trader's document through `POST /rules/import`; their rules' name -> id, and the problems."""
    ids: dict[str, dict[str, str]] = {}
    problems: list[str] = []
    for name, document in traders:
        body = json.loads(document.read_text(encoding="utf-8"))
        reply = send_until_committed(users[name].api, "POST", "/rules/import", body)
        if not reply.ok:
            raise RulesToolError(f"{name}: POST /rules/import: {reply.status} {reply.text[:200]}")
        lines, refused = import_lines(reply.document, effective_by_us)
        problems += refused
        print(f"rules of {name} (POST /rules/import of {document.name}):", file=out)
        print("".join(f"  {line}\n" for line in lines), end="", file=out)
        ids[name] = {str(c["name"]): str(c["rule_id"]) for c in reply.document["changes"] if "rule_id" in c}
    return ids, problems


@dataclass
class ApiOutcome:
    """What the API part of the demo read back after the feed."""

    players: dict[str, Player]
    views: dict[str, TraderView]
    controls: Controls
    problems: list[str]


def show_api_outcome(outcome: ApiOutcome, report: RunReport, feed: Feed, out: TextIO) -> list[str]:
    """The changes and their effects, each trader's alerts through the API, the isolation checks and each
    owner's judgement; returns the problems found."""
    problems = list(outcome.problems)
    views = outcome.views
    print("changes during the feed, through the API (effective_from after the feed's first tick):", file=out)
    applied = sorted(
        (a for p in outcome.players.values() for a in p.applied), key=lambda a: a.effective_from_us
    )
    for a in applied:
        view = views.get(a.change.actor)
        fired, names = (view.alerts, view.names) if view else ([], {})
        print(
            effect_line(
                a,
                names=names,
                fired=fired,
                controls=outcome.controls,
                ticks=feed.ticks,
                origin_us=feed.origin_us,
            ),
            file=out,
        )
    for player in outcome.players.values():
        problems += player.errors
    print("alerts each trader reads through GET /alerts (their own token):", file=out)
    for view in views.values():
        print("\n".join(api_alert_lines(view)), file=out)
    owners = by_owner(report.alerts)
    isolation = foreign_alerts(
        {v.user.sub: v.alerts for v in views.values()}, {v.user.sub: v.names for v in views.values()}
    )
    isolation += [
        f"{v.user.username}: GET /alerts lists {len(v.alerts)} of {len(owners.get(v.user.sub, []))} stored"
        for v in views.values()
        if len(v.alerts) != len(owners.get(v.user.sub, []))
    ]
    if not isolation:
        print(
            "isolation: each trader lists exactly their own stored alerts, none of another's; another "
            "trader's rule is 404 to them",
            file=out,
        )
    problems += isolation
    beyond = int(report.emf.get("TicksBeyondWindow", 0))
    for v in views.values():
        print(
            f"{v.user.username}: stored alerts against the in-order replay of the committed versions "
            "(GET /rules/{id}/versions):",
            file=out,
        )
        mine = named_alerts(owners.get(v.user.sub, []), v.names)
        fidelity = judge(
            in_order_replay(feed.ticks, v.versions, outcome.controls), mine, beyond_w_count=beyond
        )
        print("\n".join(fidelity_lines(fidelity)), file=out)
        problems += [f"{v.user.username}: {p}" for p in fidelity.problems()]
    return problems


def run_with_api(
    system: LocalSystem, args: argparse.Namespace, feed: Feed, first_tick: int | None, out: TextIO
) -> tuple[RunReport, ApiOutcome, dict[str, str]]:
    """The API served, everyone signed in, the documents imported, the feed played while the schedule
    acts, and what the traders read back afterwards."""
    traders = args.trader or list(DEFAULT_TRADERS)
    clock = Clock(parse_clock_spec(system.clock))
    if system.endpoint_url is None:
        raise RulesToolError("the demo serves the stack's API on the emulator: --endpoint-url is needed")
    bootstrap = Path(system.bootstrap[0])
    with deployed_api_system(system.outputs, system.endpoint_url, bootstrap, system.clock) as api:
        users = sign_in_everyone(api, traders, out)
        ids, problems = import_documents(users, traders, first_tick, out)
        players = {
            name: Player(users[name].api, clock.wait_until, feed.origin_us, feed.span_us, ids.get(name, {}))
            for name in users
        }
        # The schedule names the default documents' rules: other documents play none.
        schedule = [] if args.trader else demo_schedule(*(name for name, _ in DEFAULT_TRADERS))
        system.start()
        changes = play_all(players, schedule)
        view = None if args.quiet else (lambda s: print(progress_line(s), end="", file=out, flush=True))
        report = run_feed(system, feed.bodies, args.rate, args.timeout, view)
        for thread in changes:
            thread.join()
        owners = by_owner(report.alerts)
        views = {name: read_back(users[name], len(owners.get(users[name].sub, []))) for name, _ in traders}
        symbols = sorted({c.symbol for c in schedule if c.symbol})
        operator = users[OPERATOR].api
        controls = controls_of_answers(
            operator.call("GET", path_of("symbols", s, "controls")).document for s in symbols
        )
        problems += foreign_probe(users, traders, views)
    usernames = {user.sub: user.username for user in users.values()}
    return report, ApiOutcome(players, views, controls, problems), usernames


def main(argv: Sequence[str] | None = None) -> int:
    args = arguments(argv)
    raw = json.loads(args.outputs.read_text())
    outputs = {k: str(v["value"] if isinstance(v, dict) else v) for k, v in raw.items()}
    system = LocalSystem(
        outputs,
        args.bootstrap,
        endpoint_url=args.endpoint_url,
        region=outputs["queue_arn"].split(":")[3],
        concurrency=args.concurrency,
        runner_name=args.runner,
    )
    feed = Feed.of(list(read_feed(args.feed)))
    # Against AWS the deployed function reads real time, and so does everything else.
    local = args.endpoint_url is not None
    system.clock, first_tick = recorded_feed_clock(feed.bodies, args.speed) if local else ("", None)
    out = sys.stdout
    print(
        f"demo: {len(feed.bodies)} messages from {args.feed}, {args.concurrency} function process(es)",
        file=out,
    )
    try:
        system.subscribe_capture_queue()
        report, outcome, usernames = run_with_api(system, args, feed, first_tick, out)
    finally:
        system.stop()
        system.remove_capture_queue()
    named = [{**a, "owner": usernames.get(str(a.get("owner")), a.get("owner"))} for a in report.alerts]
    rule_names = {i: n for v in outcome.views.values() for i, n in v.names.items()}
    summary(replace(report, alerts=named), out, rule_names)
    problems = show_api_outcome(outcome, report, feed, out)
    errors = [str(e) for e in system.source.errors] if system.source is not None else []
    code, messages = verdict(report, errors, args.timeout)
    messages += [f"demo: {p}" for p in problems]
    sys.stderr.write("".join(f"{m}\n" for m in messages))
    return 1 if problems else code


def foreign_probe(
    users: Mapping[str, SignedIn], traders: Sequence[tuple[str, Path]], views: Mapping[str, TraderView]
) -> list[str]:
    """Each trader asks for the other's first rule: 404 (A1: existence not disclosed)."""
    problems = []
    names = [name for name, _ in traders]
    for me, other in zip(names, names[1:] + names[:1], strict=True):
        if me == other or not views[other].names:
            continue
        rule_id = sorted(views[other].names)[0]
        status = users[me].api.call("GET", path_of("rules", rule_id)).status
        if status != 404:
            problems.append(f"{me} reading {other}'s rule {rule_id}: {status}, not 404")
    return problems


def verdict(report: RunReport, errors: Sequence[str], timeout_s: float) -> tuple[int, list[str]]:
    """Exit code and messages: success only when the system finished and the event source saw no error."""
    messages = [f"event source error: {e}" for e in errors]
    if not report.drained:
        messages.append(f"demo: the system did not finish within {timeout_s} s")
    return (0 if report.drained and not errors else 1), messages


if __name__ == "__main__":
    sys.exit(main())

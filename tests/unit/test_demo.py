"""The demo's pure parts: EMF sums, percentiles, notification parsing, send-time recording, display, verdict.
(Its AWS-facing parts run in tests/integration/test_deployment.py against the deployed stack.)"""

from __future__ import annotations

import argparse
import io
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from local.clock import parse_clock_spec
from local.demo import (
    DEMO_BATCH_REAL_S,
    FEED_CLOCK_SPEED,
    DeadLetter,
    LocalSystem,
    Notification,
    RecordingSqs,
    RunReport,
    Snapshot,
    _scan,
    arguments,
    by_owner,
    fidelity_summary,
    parse_notification,
    percentile,
    progress_line,
    recorded_feed_clock,
    summary,
    trader_argument,
    verdict,
)
from local.emf import emf_totals
from local.event_source import EventSourceConfig
from local.rules_import import RulesToolError
from ops.send_feed import SendResult


def emf(**metrics: float) -> str:
    return json.dumps({"_aws": {"Timestamp": 1, "CloudWatchMetrics": []}, "FunctionName": "f", **metrics})


def test_percentile() -> None:
    assert percentile([5.0], 0.99) == 5.0
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == pytest.approx(50.5)
    assert percentile(list(reversed(values)), 0.99) == pytest.approx(99.01)


def test_parse_notification_reads_the_sns_envelope() -> None:
    body: dict[str, Any] = {
        "alert_id": "AAPL|2026-11-25T14:30:00.000000Z#r",
        "message_id": "m-1",
        "price": 201.5,
    }
    envelope = {
        "Type": "Notification",
        "Message": json.dumps(body),
        "MessageAttributes": {
            "symbol": {"Type": "String", "Value": "AAPL"},
            "rule": {"Type": "String", "Value": "r"},
            "severity": {"Type": "String", "Value": "critical"},
        },
    }
    n = parse_notification({"Body": json.dumps(envelope), "Attributes": {"SentTimestamp": "1700000000123"}})
    assert n == Notification(body["alert_id"], "m-1", "AAPL", "r", "critical", 1700000000123, body)


class FakeSqs:
    def send_message_batch(self, **kwargs: Any) -> dict[str, Any]:
        ok, bad = kwargs["Entries"][:-1], kwargs["Entries"][-1]
        return {
            "Successful": [{"Id": e["Id"], "MessageId": f"id-{e['Id']}"} for e in ok],
            "Failed": [{"Id": bad["Id"], "Code": "InternalError", "SenderFault": False}],
        }


def test_recording_sqs_keeps_the_send_time_of_successful_entries() -> None:
    times = iter([10.0, 20.0])
    sqs = RecordingSqs(FakeSqs(), clock=lambda: next(times))
    sqs.send_message_batch(QueueUrl="q", Entries=[{"Id": "0"}, {"Id": "1"}, {"Id": "2"}])
    response = sqs.send_message_batch(QueueUrl="q", Entries=[{"Id": "3"}, {"Id": "4"}])
    assert response["Failed"][0]["Id"] == "4"
    assert sqs.sent_at == {"id-0": 10.0, "id-1": 10.0, "id-3": 20.0}


def test_progress_line() -> None:
    snap = Snapshot(sent=150, total=300, emf=emf_totals([emf(Ticks=700)]), alerts=9, notifications=8,
                    dead_letters=3, queued=12)  # fmt: skip
    line = progress_line(snap)
    assert line.startswith("\rfeed [" + "#" * 12 + "." * 12 + "] 150/300 msgs")
    assert "ticks 700 | alerts stored 9 | notified 8 | DLQ 3 | queued 12" in line
    assert "[" + "#" * 24 + "]" in progress_line(Snapshot(0, 0, snap.emf, 0, 0, 0, 0))


def report(drained: bool = True, latencies: list[float] | None = None) -> RunReport:
    alert = {
        "symbol": "AAPL",
        "timestamp": "2026-11-25T14:30:00.000000Z#aapl-breakout-200",
        "alert_id": "AAPL|2026-11-25T14:30:00.000000Z#aapl-breakout-200",
        "severity": "critical",
        "price": "201.5",
    }
    note = Notification(alert["alert_id"], "m", "AAPL", "aapl-breakout-200", "critical", 0, {})
    return RunReport(
        sent=SendResult(sent=3),
        wall_s=2.0,
        drained=drained,
        latencies_ms=[100.0, 300.0] if latencies is None else latencies,
        emf=emf_totals([emf(Ticks=40, RejectedTicks=1)]),
        alerts=[alert],
        notifications=[note],
        dead_letters=[DeadLetter("{bad", "invalid JSON", "m2"), DeadLetter("[]", None, None)],
    )


def test_summary_lists_alerts_dead_letters_and_figures() -> None:
    out = io.StringIO()
    summary(report(), out)
    text = out.getvalue()
    assert "AAPL     2026-11-25T14:30:00.000000Z aapl-breakout-200" in text
    assert "1x" in text
    assert "invalid JSON: {bad" in text
    assert "redriven after maxReceiveCount: []" in text
    assert "ticks/s through the system" in text
    assert report().ticks_per_s == 20.0
    assert "p99 (ms)" in text
    quiet = io.StringIO()
    summary(report(latencies=[]), quiet)
    assert "p50" not in quiet.getvalue()
    assert RunReport(SendResult(), 0.0, True, [], emf_totals([]), [], [], []).ticks_per_s == 0.0


def test_summary_shows_the_alerts_per_owner_by_rule_name() -> None:
    alice = {
        "symbol": "MSFT",
        "timestamp": "2026-11-25T14:31:00.000000Z#RULEID1",
        "alert_id": "MSFT|2026-11-25T14:31:00.000000Z#RULEID1",
        "severity": "warning",
        "price": "451",
        "owner": "trader-alice",
    }
    out = io.StringIO()
    summary(replace(report(), alerts=[*report().alerts, alice]), out, {"RULEID1": "msft-above-450"})
    lines = out.getvalue().splitlines()
    owners = [line.strip() for line in lines if line.strip().endswith(" alerts")]
    assert owners == ["(no owner): 1 alerts", "trader-alice: 1 alerts"]  # owners in order
    (row,) = [line for line in lines if line.startswith("    MSFT")]
    assert row.split()[:3] == ["MSFT", "2026-11-25T14:31:00.000000Z", "msft-above-450"]
    assert row.endswith("0x")  # not notified


def test_by_owner_groups_alerts_of_each_trader() -> None:
    alerts: list[dict[str, Any]] = [
        {"owner": "b", "n": 1},
        {"owner": "a", "n": 2},
        {"n": 3},
        {"owner": "b", "n": 4},
    ]
    assert by_owner(alerts) == {
        "(no owner)": [{"n": 3}],
        "a": [{"owner": "a", "n": 2}],
        "b": [{"owner": "b", "n": 1}, {"owner": "b", "n": 4}],
    }


def test_a_trader_is_owner_equals_file() -> None:
    assert trader_argument("trader-bob=local/data/b.json") == ("trader-bob", Path("local/data/b.json"))
    for bad in ("trader-bob", "=x.json", "bob="):
        with pytest.raises(argparse.ArgumentTypeError, match="is not OWNER=FILE"):
            trader_argument(bad)


class _Tool:
    """tap_rules as the system drives it: an import report per owner, then the owner's listing."""

    def __init__(self, effective_from: str) -> None:
        self.effective_from = effective_from

    def import_all(self, documents: list[tuple[str, Path]]) -> dict[str, str]:
        return {o: f"r-{o} created effective_from {self.effective_from}\n" for o, _ in documents}

    def rule_names(self, owner: str) -> dict[str, str]:
        return {f"ID-{owner}": f"r-{owner}"}


def test_import_rules_learns_names_and_owners_and_refuses_rules_later_than_the_feed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    system = LocalSystem(OUTPUTS, ["bootstrap"], rules=[("a", Path("a.json")), ("b", Path("b.json"))])
    monkeypatch.setattr(system, "rules_tool", lambda: _Tool("2026-11-25T14:29:55.000000Z"))
    first_tick = 1_795_617_000_000_000  # 2026-11-25T14:30:00Z
    reports = system.import_rules(effective_by_us=first_tick)
    assert sorted(reports) == ["a", "b"]
    assert system.rule_names == {"ID-a": "r-a", "ID-b": "r-b"}
    assert system.rule_owners == {"ID-a": "a", "ID-b": "b"}
    monkeypatch.setattr(system, "rules_tool", lambda: _Tool("2026-11-25T14:30:00.000001Z"))
    with pytest.raises(
        RulesToolError, match=r"effective after the feed's first tick: a: 2026-11-25T14:30:00"
    ):
        system.import_rules(effective_by_us=first_tick)
    assert system.import_rules() == {  # no feed to precede: any effective_from will do
        "a": "r-a created effective_from 2026-11-25T14:30:00.000001Z\n",
        "b": "r-b created effective_from 2026-11-25T14:30:00.000001Z\n",
    }


def test_the_rules_tool_uses_the_stacks_table_endpoint_and_clock() -> None:
    system = LocalSystem(OUTPUTS, ["bootstrap"], endpoint_url="http://127.0.0.1:5", clock="real")
    tool = system.rules_tool()
    assert (tool.table, tool.endpoint, dict(tool.clock_env)) == (
        "rules",
        "http://127.0.0.1:5",
        {"TAP_CLOCK": "real"},
    )
    assert system.env()["TAP_CLOCK"] == "real"


def test_a_recorded_feed_plays_in_a_virtual_clock_starting_before_its_first_tick() -> None:
    bodies = (DATA / "golden-feed.jsonl").read_text().splitlines()
    spec, first = recorded_feed_clock(bodies, speed=20, margin_s=60.0)
    assert first == 1_795_617_000_000_000  # the golden feed's first tick, 2026-11-25T14:30:00Z
    clock = parse_clock_spec(spec)
    assert (clock.is_virtual, clock.start_micros, clock.speed) == (True, first - 60_000_000, 20)
    assert parse_clock_spec(recorded_feed_clock(bodies)[0]).speed == FEED_CLOCK_SPEED


def test_the_demos_default_speed_leaves_each_batch_the_real_time_it_needs() -> None:
    """A batch's work deadline is in the function's clock: at speed n it has the timeout / n of real time
    (docs/design.md 12.7). At speed 50 (1.2 s) the demo's batches ran out of it, failed twice and were
    redriven to the DLQ."""
    args = arguments(["--outputs", "o.json", "--feed", "f.jsonl", "bootstrap"])
    timeout_s = EventSourceConfig.from_terraform_outputs(OUTPUTS).function_timeout_s
    assert timeout_s / args.speed >= DEMO_BATCH_REAL_S
    assert args.speed > 1  # still a virtual clock faster than real time: the feed plays in minutes


def test_verdict() -> None:
    assert verdict(report(), [], 60) == (0, [])
    assert verdict(report(drained=False), ["boom"], 60) == (
        1,
        ["event source error: boom", "demo: the system did not finish within 60 s"],
    )


def test_wait_until_drained_gives_up_after_its_timeout() -> None:
    assert LocalSystem({}, []).wait_until_drained(sent=1, timeout_s=0) is False


def test_scan_follows_pages() -> None:
    class Pages:
        def __init__(self) -> None:
            self.calls: list[dict[str, Any]] = []

        def scan(self, **kwargs: Any) -> dict[str, Any]:
            self.calls.append(kwargs)
            if "ExclusiveStartKey" not in kwargs:
                return {"Items": [{"k": {"S": "1"}}], "LastEvaluatedKey": {"k": {"S": "1"}}}
            return {"Items": [{"k": {"S": "2"}}]}

    ddb = Pages()
    assert _scan(ddb, "t") == [{"k": {"S": "1"}}, {"k": {"S": "2"}}]
    assert ddb.calls[1] == {"TableName": "t", "ConsistentRead": True, "ExclusiveStartKey": {"k": {"S": "1"}}}


class _Lambda:
    """The Lambda API of a stack with one mapping on another queue (nothing of ours to take over)."""

    def __init__(self) -> None:
        self.updated: list[str] = []

    def list_event_source_mappings(self, **_: Any) -> dict[str, Any]:
        return {"EventSourceMappings": [{"UUID": "other", "EventSourceArn": "arn:aws:sqs:us-east-1:1:other"}]}

    def update_event_source_mapping(self, **kwargs: Any) -> None:
        self.updated.append(kwargs["UUID"])


OUTPUTS = {
    "queue_url": "https://sqs.eu-west-1.amazonaws.com/1/q",
    "queue_arn": "arn:aws:sqs:eu-west-1:1:q",
    "table_name": "alerts",
    "state_table_name": "state",
    "topic_arn": "arn:aws:sns:eu-west-1:1:t",
    "dlq_url": "https://sqs.eu-west-1.amazonaws.com/1/dlq",
    "function_arn": "arn:aws:lambda:eu-west-1:1:function:f",
    "rules_table_name": "rules",
}


def test_against_aws_the_function_gets_no_endpoint_and_no_rules_path() -> None:
    env = LocalSystem(OUTPUTS, ["bootstrap"], region="eu-west-1").env()
    assert "AWS_ENDPOINT_URL" not in env  # boto3 and the function go to AWS itself
    assert "RULES_PATH" not in env  # the function's own default
    assert env["ALERTS_TABLE"] == "alerts"
    assert env["RULES_TABLE"] == "rules"  # the rules come from the stack's rules table, as deployed
    assert "TAP_CLOCK" not in env  # real time unless the system plays a recorded feed


def test_take_over_leaves_other_mappings_alone() -> None:
    system = LocalSystem(OUTPUTS, ["bootstrap"])
    lam = _Lambda()
    system._clients["lambda"] = lam
    system.take_over_event_source()
    assert lam.updated == []


def test_a_system_against_aws_starts_no_take_over_and_stops_what_it_started() -> None:
    system = LocalSystem(OUTPUTS, ["bootstrap"], concurrency=0)
    system.stop()  # nothing started yet: nothing to stop
    system.remove_capture_queue()  # nothing subscribed: no call
    system._clients["sqs"] = object()  # never called: no poller runs without a function
    system.start()  # no endpoint: the real mapping stays (no Lambda client is even created)
    assert "lambda" not in system._clients
    assert system.source is not None
    assert system.emulators == []
    system.stop()


DATA = Path(__file__).resolve().parents[1] / "data"


def test_fidelity_summary_judges_the_stored_alerts_per_rule() -> None:
    bodies = (DATA / "golden-feed.jsonl").read_text().splitlines()
    golden = json.loads((DATA / "golden-expected-alerts.json").read_text())["alerts"]
    stored = [{"symbol": a["symbol"], "timestamp": a["timestamp"]} for a in golden]
    exact = io.StringIO()
    result = fidelity_summary(replace(report(), alerts=stored), bodies, DATA / "golden-rules.json", exact)
    assert result.exact
    lines = exact.getvalue().splitlines()
    assert lines[0] == "fidelity: stored alerts against the in-order replay of the same ticks (F3):"
    assert lines[-1].split() == ["all", "12", "12", "12", "(exact)"]
    assert [line.split()[:4] for line in lines[2:-1] if line.split()[0] == "aapl-up-200"] == [
        ["aapl-up-200", "2", "2", "2"]
    ]
    # the MSFT crossing at 14:32:40 not stored: lost, unless a tick arrived beyond the reorder window
    lost = [a for a in stored if a["timestamp"] != "2026-11-25T14:32:40.000000Z#msft-down-400"]
    text = io.StringIO()
    assert not fidelity_summary(replace(report(), alerts=lost), bodies, DATA / "golden-rules.json", text).ok
    assert "(NOT EXPLAINED)" in text.getvalue()
    beyond = replace(report(), alerts=lost, emf=emf_totals([emf(TicksBeyondWindow=1)]))
    explained = io.StringIO()
    assert fidelity_summary(beyond, bodies, DATA / "golden-rules.json", explained).ok
    assert "(every difference explained)" in explained.getvalue()

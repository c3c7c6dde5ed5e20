"""The comparison baseline (bench/baseline/handler.py) against moto server: it must do the product's job.

Needs aws-lambda-powertools, which the project venv carries from requirements/bench.txt (not the product's
dependency: the baseline's only).
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

pytest.importorskip(
    "aws_lambda_powertools",
    reason="the baseline needs aws-lambda-powertools (requirements/bench.txt)",
)

from local.clock import CLOCK_VARIABLE, real_micros, virtual_clock
from local.function_resources import create_function_resources
from local.sqs_event import event_of
from local.sqs_queues import drain
from tests.chaos.oracle import check_guarantees, load_rules, parse_feed
from tests.support.moto_server import moto_environment

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
REGION = "us-east-1"


@dataclass
class Aws:
    endpoint: str
    handler: ModuleType
    ddb: Any
    sqs: Any
    dlq_url: str
    capture_url: str


class Context:
    """The attributes of the Lambda context object the handler (and Powertools) read."""

    function_name = "data-processor-baseline"
    function_version = "$LATEST"
    memory_limit_in_mb = 3072
    invoked_function_arn = f"arn:aws:lambda:{REGION}:123456789012:function:data-processor-baseline"
    log_group_name = "/aws/lambda/data-processor-baseline"
    log_stream_name = "local"

    def __init__(self, remaining_ms: int = 60_000) -> None:
        self.aws_request_id = str(uuid.uuid4())
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with moto_environment(POWERTOOLS_METRICS_NAMESPACE="MarketAlerts") as url:
        yield url


@pytest.fixture
def aws(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Aws:
    """Fresh tables, topic, DLQ and a capture queue subscribed to the topic; the handler imported anew."""
    urllib.request.urlopen(urllib.request.Request(endpoint + "/moto-api/reset", method="POST")).close()
    ddb = boto3.client("dynamodb", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    resources = create_function_resources(ddb, boto3.client("sns", region_name=REGION), sqs, "t")
    dlq_url, capture_url = resources.dlq_url, resources.capture_url
    env = {**resources.env(), "RULES_PATH": str(DATA / "golden-rules.json")}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    spec = importlib.util.spec_from_file_location(
        "baseline_handler", ROOT / "bench" / "baseline" / "handler.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # dataclasses resolve annotations through it
    spec.loader.exec_module(module)
    return Aws(endpoint, module, ddb, sqs, dlq_url, capture_url)


def sqs_event(bodies: list[str], receive_count: int = 1, ids: list[str] | None = None) -> dict[str, Any]:
    """An SQS event as the event source mapping builds it (local/sqs_event.py), as the handler gets it."""
    document: dict[str, Any] = json.loads(event_of(bodies, ids, receive_count, sent_ms=1764081000000))
    return document


def stored_alerts(aws: Aws) -> list[dict[str, Any]]:
    items = aws.ddb.scan(TableName="market-alerts-t")["Items"]
    return [{k: next(iter(v.values())) for k, v in item.items()} for item in items]


def notifications(aws: Aws) -> list[dict[str, Any]]:
    """SNS envelopes delivered to the capture queue."""
    return [json.loads(m["Body"]) for m in drain(aws.sqs, aws.capture_url)]


def golden_lines() -> list[str]:
    return (DATA / "golden-feed.jsonl").read_text().splitlines()


def expected_keys() -> list[tuple[str, str]]:
    doc = json.loads((DATA / "golden-expected-alerts.json").read_text())
    return sorted((a["symbol"], a["timestamp"]) for a in doc["alerts"])


def run_golden(aws: Aws, batch_size: int = 4) -> list[dict[str, Any]]:
    lines = golden_lines()
    events = []
    for start in range(0, len(lines), batch_size):
        event = sqs_event(lines[start : start + batch_size])
        assert aws.handler.lambda_handler(event, Context()) == {"batchItemFailures": []}
        events.append(event)
    return events


def test_golden_feed_gives_the_hand_computed_alerts_each_notified_once(aws: Aws) -> None:
    run_golden(aws)
    alerts = stored_alerts(aws)
    assert sorted((a["symbol"], a["timestamp"]) for a in alerts) == expected_keys()
    assert {a["notification_state"] for a in alerts} == {"sent"}
    sent = notifications(aws)
    ids = sorted(json.loads(n["Message"])["alert_id"] for n in sent)
    assert ids == sorted(f"{s}|{t}" for s, t in expected_keys())
    first = next(n for n in sent if json.loads(n["Message"])["rule_id"] == "msft-down-400")
    assert {k: v["Value"] for k, v in first["MessageAttributes"].items()} == {
        "symbol": "MSFT",
        "rule": "msft-down-400",
        "severity": "critical",
    }
    assert drain(aws.sqs, aws.dlq_url) == []
    ticks = [t for b in parse_feed(golden_lines()) for t in b.ticks]
    rules = load_rules(json.loads((DATA / "golden-rules.json").read_text()))
    assert check_guarantees(ticks, rules, alerts, 0) == []


def test_batching_does_not_change_the_golden_alerts(aws: Aws) -> None:
    run_golden(aws, batch_size=25)  # everything in one batch: the late ticks are sorted into place
    assert sorted((a["symbol"], a["timestamp"]) for a in stored_alerts(aws)) == expected_keys()


def test_redelivery_neither_stores_nor_notifies_twice(aws: Aws) -> None:
    events = run_golden(aws)
    assert len(notifications(aws)) == len(expected_keys())
    for event in events:
        for record in event["Records"]:
            record["attributes"]["ApproximateReceiveCount"] = "2"
        assert aws.handler.lambda_handler(event, Context()) == {"batchItemFailures": []}
    aws.handler._last_fire_cache.clear()  # a fresh container: no cache to hide behind
    for event in events:
        assert aws.handler.lambda_handler(event, Context()) == {"batchItemFailures": []}
    assert sorted((a["symbol"], a["timestamp"]) for a in stored_alerts(aws)) == expected_keys()
    assert notifications(aws) == []


@pytest.mark.parametrize("redriven", [False, True], ids=["retried", "redriven-from-dlq"])
def test_crash_between_store_and_notify_is_notified_on_redelivery(aws: Aws, redriven: bool) -> None:
    events = run_golden(aws)
    notifications(aws)
    key = {"symbol": {"S": "AAPL"}, "timestamp": {"S": "2026-11-25T14:31:30.000000Z#aapl-up-200"}}
    aws.ddb.update_item(  # as if the process died after the transaction and before the publish
        TableName="market-alerts-t",
        Key=key,
        UpdateExpression="SET notification_state = :p",
        ExpressionAttributeValues={":p": {"S": "pending"}},
    )
    for event in events:
        for record in event["Records"]:
            # a DLQ redrive delivers new messages (new id, receive count 1)
            record["attributes"]["ApproximateReceiveCount"] = "1" if redriven else "2"
            record["messageId"] += "-redriven" if redriven else ""
        aws.handler.lambda_handler(event, Context())
    again = [json.loads(n["Message"]) for n in notifications(aws)]
    assert [m["alert_id"] for m in again] == ["AAPL|2026-11-25T14:31:30.000000Z#aapl-up-200"]
    item = aws.ddb.get_item(TableName="market-alerts-t", Key=key)["Item"]
    assert item["notification_state"]["S"] == "sent"


def test_malformed_bodies_go_to_the_dlq_with_their_reasons(aws: Aws) -> None:
    good = '{"symbol":"AAPL","price":250.0,"timestamp":"2026-11-25T14:30:00Z","volume":200000}'
    bodies = [
        '{"symbol":"AAPL","price":',
        '{"symbol":"AAPL","price":-1,"timestamp":"2026-11-25T14:30:00Z"}',
        f'[{good},{{"symbol":"AAPL","price":"n/a","timestamp":"2026-11-25T14:30:01Z"}}]',
        '{"symbol":"AAPL","symbol":"MSFT","price":1,"timestamp":"2026-11-25T14:30:00Z"}',
        "[" * 50 + "]" * 50,
        '{"symbol":"AAPL","price":NaN,"timestamp":"2026-11-25T14:30:00Z"}',
    ]
    ids = [f"m{i}" for i in range(len(bodies))]
    assert aws.handler.lambda_handler(sqs_event(bodies, ids=ids), Context()) == {"batchItemFailures": []}
    dead = {
        m["MessageAttributes"]["SourceMessageId"]["StringValue"]: (
            m["Body"],
            m["MessageAttributes"]["RejectionReason"]["StringValue"],
        )
        for m in drain(aws.sqs, aws.dlq_url)
    }
    assert {k: v[0] for k, v in dead.items()} == dict(zip(ids, bodies, strict=True))
    reasons = {k: v[1] for k, v in dead.items()}
    assert reasons["m0"].startswith("invalid JSON")
    assert reasons["m1"] == "tick 0: price missing or not a finite number > 0"
    assert reasons["m2"] == "tick 1: price missing or not a finite number > 0"
    assert reasons["m3"] == "duplicate key 'symbol'"
    assert reasons["m4"] == "nesting deeper than 4"
    assert reasons["m5"] == "invalid JSON: NaN"
    # the good tick beside the bad one was still processed: price_above 210 and the block trade fired
    assert sorted(a["timestamp"] for a in stored_alerts(aws)) == [
        "2026-11-25T14:30:00.000000Z#aapl-above-210",
        "2026-11-25T14:30:00.000000Z#block-trade",
    ]


def test_transient_failures_are_reported_and_nothing_is_lost(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    dead = boto3.client(
        "dynamodb",
        region_name=REGION,
        endpoint_url="http://127.0.0.1:9",  # nothing listens: connection refused
        config=aws.handler.Config(retries={"mode": "standard", "max_attempts": 1}, connect_timeout=1),
    )
    lines = golden_lines()[:3]
    ids = ["a", "b", "c"]
    with monkeypatch.context() as mp:
        mp.setattr(aws.handler, "dynamodb", dead)
        response = aws.handler.lambda_handler(sqs_event(lines, ids=ids), Context())
    assert sorted(f["itemIdentifier"] for f in response["batchItemFailures"]) == ids
    assert stored_alerts(aws) == []
    # redelivered once the store is back: the alerts appear
    response = aws.handler.lambda_handler(sqs_event(lines, receive_count=2, ids=ids), Context())
    assert response == {"batchItemFailures": []}
    assert [a["timestamp"] for a in stored_alerts(aws)] == ["2026-11-25T14:30:02.000000Z#wide-spread"]
    assert len(notifications(aws)) == 1


def test_out_of_time_fails_the_messages_instead_of_working_past_the_deadline(aws: Aws) -> None:
    lines = golden_lines()[:2]
    response = aws.handler.lambda_handler(sqs_event(lines, ids=["x", "y"]), Context(remaining_ms=100))
    assert sorted(f["itemIdentifier"] for f in response["batchItemFailures"]) == ["x", "y"]
    assert stored_alerts(aws) == []


def test_rules_document_is_checked_at_start(tmp_path: Path, aws: Aws) -> None:
    doc = json.loads((DATA / "golden-rules.json").read_text())
    doc["rules"].append(dict(doc["rules"][0]))
    path = tmp_path / "dup.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="duplicate rule ids"):
        aws.handler.load_rules(path)
    assert os.environ["RULES_PATH"].endswith("golden-rules.json")


def test_a_transaction_conflict_fails_the_message_instead_of_dropping_the_alert(aws: Aws) -> None:
    body = '{"symbol":"AAPL","price":250.0,"timestamp":"2026-11-25T14:30:00Z"}'
    stub = Stubber(aws.handler.dynamodb)
    stub.add_response("batch_get_item", {"Responses": {"alert-state-t": []}})
    stub.add_response("update_item", {})  # aapl-up-200: first tick, records the side
    stub.add_client_error(  # aapl-above-210 fires, but another writer's transaction holds the item
        "transact_write_items",
        service_error_code="TransactionCanceledException",
        modeled_fields={"CancellationReasons": [{"Code": "TransactionConflict"}, {"Code": "None"}]},
    )
    with stub:
        response = aws.handler.lambda_handler(sqs_event([body], ids=["m"]), Context())
    stub.assert_no_pending_responses()
    assert response == {"batchItemFailures": [{"itemIdentifier": "m"}]}
    response = aws.handler.lambda_handler(sqs_event([body], receive_count=2, ids=["m"]), Context())
    assert response == {"batchItemFailures": []}
    assert [a["timestamp"] for a in stored_alerts(aws)] == ["2026-11-25T14:30:00.000000Z#aapl-above-210"]
    assert len(notifications(aws)) == 1


def test_an_older_tick_after_a_newer_same_side_tick_is_late(aws: Aws) -> None:
    def body(price: float, minute: int) -> str:
        return json.dumps({"symbol": "AAPL", "price": price, "timestamp": f"2026-11-25T14:3{minute}:00Z"})

    in_time_order = [(199.0, 1), (201.0, 2), (199.0, 3), (201.0, 4), (202.0, 5)]  # a minute apart
    # delivered one message per batch in the order 1, 3, 2, 4, 5 (two pollers can do this)
    for index in (0, 2, 1, 3, 4):
        aws.handler.lambda_handler(sqs_event([body(*in_time_order[index])]), Context())
    ticks = [t for b in parse_feed([body(p, m) for p, m in in_time_order]) for t in b.ticks]
    rules = load_rules(json.loads((DATA / "golden-rules.json").read_text()))
    crossing = [a for a in stored_alerts(aws) if a["rule_id"] == "aapl-up-200"]
    # side_ts advanced to 14:33 with the second batch, so 14:32 is late (hidden excursion, counted) and the
    # crossing at 14:34 that persists fires
    assert [a["timestamp"] for a in crossing] == ["2026-11-25T14:34:00.000000Z#aapl-up-200"]
    assert check_guarantees(ticks, [r for r in rules if r.id == "aapl-up-200"], crossing, 1) == []


# ------------------------------------------------------------------ rules from the rules table (issue 15)
T0 = 1_795_617_000_000_000  # 2026-11-25T14:30:00Z in micros
MINUTE = 60_000_000


def version_map(number: int, start: int, until: int | None, spec: dict[str, Any]) -> dict[str, Any]:
    m = {
        "v": {"N": str(number)},
        "from": {"N": str(start)},
        "symbol": {"S": "AAPL"},
        "condition": {"S": spec["condition"]},
        "threshold": {"N": str(spec["threshold"])},
        "severity": {"S": "warning"},
        "mode": {"S": spec["mode"]},
        "cooldown": {"N": str(spec.get("cooldown", 0))},
        "bar": {"N": str(spec.get("bar", 0))},
        "arming": {"N": "1"},
    }
    if until is not None:
        m["until"] = {"N": str(until)}
    return {"M": m}


def record(rule_id: str, versions: list[tuple[int, int | None, dict[str, Any]]]) -> dict[str, Any]:
    """A rule record as the C++ adapter stores it (rules_dynamodb.cpp rule_item), its definition the last
    version's."""
    spec = versions[-1][2]
    return {
        "pk": {"S": "owner#alice"},
        "sk": {"S": f"rule#{rule_id}"},
        "name": {"S": rule_id},
        "symbol": {"S": "AAPL"},
        "condition": {"S": spec["condition"]},
        "threshold": {"N": str(spec["threshold"])},
        "severity": {"S": "warning"},
        "mode": {"S": spec["mode"]},
        "cooldown": {"N": str(spec.get("cooldown", 0))},
        "bar": {"N": str(spec.get("bar", 0))},
        "state": {"S": "active"},
        "arming": {"N": "1"},
        "revision": {"N": str(len(versions))},
        "created": {"N": str(T0)},
        "updated": {"N": str(T0)},
        "versions": {"L": [version_map(i + 1, s, u, sp) for i, (s, u, sp) in enumerate(versions)]},
    }


def with_table(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, records: list[dict[str, Any]], rules_path: Path | None = None
) -> ModuleType:
    """The handler imported anew (a cold container) on the rules table holding `records` (or with
    `rules_path`, on that document), in a clock two hours after T0 (R7: the ticks' own time, so no version
    has left the retention horizon)."""
    for item in records:
        aws.ddb.put_item(TableName="alert-rules-t", Item=item)
    if rules_path is None:
        monkeypatch.delenv("RULES_PATH", raising=False)
        monkeypatch.setenv("RULES_TABLE", "alert-rules-t")
    else:
        monkeypatch.setenv("RULES_PATH", str(rules_path))
    monkeypatch.setenv(CLOCK_VARIABLE, virtual_clock(T0 + 120 * MINUTE, 1, real_micros()))
    spec = importlib.util.spec_from_file_location(
        "baseline_handler", ROOT / "bench" / "baseline" / "handler.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    return module


def tick(price: float, at_us: int) -> str:
    stamp = datetime.fromtimestamp(at_us / 1e6, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return json.dumps({"symbol": "AAPL", "price": price, "timestamp": stamp})


def fire_times(aws: Aws, rule_id: str) -> list[str]:
    return sorted(a["timestamp"].split("#")[0] for a in stored_alerts(aws) if a["rule_id"] == rule_id)


def at(offset_us: int) -> str:
    return datetime.fromtimestamp((T0 + offset_us) / 1e6, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_each_tick_meets_the_table_version_in_force_at_its_timestamp(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    every = {"condition": "price_above", "mode": "every", "cooldown": 60}
    edited = [
        (T0, T0 + 60 * MINUTE, {**every, "threshold": 100}),
        (T0 + 60 * MINUTE, None, {**every, "threshold": 200}),
    ]
    broken = {**record("broken", [(T0, None, {**every, "threshold": 1})]), "state": {"S": "gone"}}
    handler = with_table(aws, monkeypatch, [record("edited", edited), broken])
    assert [(r.id, r.version, r.threshold) for r in handler.RULES] == [
        ("edited", 1, 100.0),
        ("edited", 2, 200.0),
    ]
    offsets = [-MINUTE, 10 * MINUTE, 70 * MINUTE, 80 * MINUTE]  # before v1; in v1; in v2 below; in v2 above
    bodies = [tick(p, T0 + o) for p, o in zip([150.0, 150.0, 150.0, 250.0], offsets, strict=True)]
    assert handler.lambda_handler(sqs_event(bodies), Context()) == {"batchItemFailures": []}
    assert fire_times(aws, "edited") == [at(10 * MINUTE), at(80 * MINUTE)]
    assert {n["MessageAttributes"]["rule"]["Value"] for n in notifications(aws)} == {"edited"}


def test_once_fires_once_per_arming_its_marker_stored_with_the_alert(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    level = {"condition": "price_above", "threshold": 100, "mode": "once"}
    crossing = {"condition": "crosses_above", "threshold": 100, "mode": "once"}
    records = [record("level-once", [(T0, None, level)]), record("cross-once", [(T0, None, crossing)])]
    handler = with_table(aws, monkeypatch, records)
    prices = [90.0, 110.0, 90.0, 120.0]  # crosses above twice, above the level twice
    for i, price in enumerate(prices):
        handler.lambda_handler(sqs_event([tick(price, T0 + i * MINUTE)]), Context())
    assert fire_times(aws, "level-once") == [at(MINUTE)]
    assert fire_times(aws, "cross-once") == [at(MINUTE)]
    marker = aws.ddb.get_item(
        TableName="alert-state-t", Key={"symbol": {"S": "#once#cross-once"}, "rule_id": {"S": "#arming#1"}}
    )["Item"]
    assert marker["alert_key"]["S"] == f"{at(MINUTE)}#cross-once"
    # A cold container knows nothing of the fire: the marker alone refuses the second one.
    fresh = with_table(aws, monkeypatch, [])
    fresh.lambda_handler(sqs_event([tick(90.0, T0 + 10 * MINUTE), tick(130.0, T0 + 11 * MINUTE)]), Context())
    assert fire_times(aws, "level-once") == [at(MINUTE)]
    assert fire_times(aws, "cross-once") == [at(MINUTE)]
    assert len(notifications(aws)) == 2


def test_once_per_bar_fires_at_most_once_in_each_bar(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    bar = {"condition": "price_above", "threshold": 100, "mode": "once_per_bar", "bar": 60}
    handler = with_table(aws, monkeypatch, [record("per-minute", [(T0, None, bar)])])
    seconds = [10, 50, 65, 70, 130]  # bars 0, 0, 1, 1, 2
    bodies = [tick(110.0, T0 + s * 1_000_000) for s in seconds]
    for body in bodies:
        handler.lambda_handler(sqs_event([body]), Context())
    assert fire_times(aws, "per-minute") == [at(10_000_000), at(65_000_000), at(130_000_000)]


def test_the_threaded_variant_gives_the_golden_alerts_each_notified_once(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BASELINE_THREADS", "4")  # issue 17: per-symbol work in a thread pool
    handler = with_table(aws, monkeypatch, [], rules_path=DATA / "golden-rules.json")
    assert handler._pool is not None
    lines = golden_lines()
    for start in range(0, len(lines), 25):
        assert handler.lambda_handler(sqs_event(lines[start : start + 25]), Context()) == {
            "batchItemFailures": []
        }
    assert sorted((a["symbol"], a["timestamp"]) for a in stored_alerts(aws)) == expected_keys()
    ids = sorted(json.loads(n["Message"])["alert_id"] for n in notifications(aws))
    assert ids == sorted(f"{s}|{t}" for s, t in expected_keys())

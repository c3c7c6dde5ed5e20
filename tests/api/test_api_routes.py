"""Black box over HTTP (issue 16): the happy path of every route of docs/openapi.yaml through the local front
to the real API function, with real Cognito tokens; every answer checked against the document (conftest).
A fired alert is stored by the real processor (the same bootstrap, its SQS handler) on the same tables."""

from __future__ import annotations

import itertools
import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from lib.openapi import api_routes
from local.api_system import ApiSystem, GracefulEnvironment
from local.function_host import function_command
from local.runtime_api import RuntimeApiEmulator
from tests.api.conftest import VISIBLE_AFTER_SECONDS, Client, ClientFactory
from tests.support.cognito import claims_of
from tests.support.function_harness import Record, ensure_bootstrap, sqs_event

RULE = {
    "name": "breakout",
    "symbol": "AAPL",
    "condition": "price_above",
    "threshold": 200,
    "severity": "info",
}
# Every route this module drives, held equal to the document's below.
EXERCISED = {
    "GET /rules",
    "POST /rules",
    "POST /rules/import",
    "GET /rules/{rule_id}",
    "PATCH /rules/{rule_id}",
    "DELETE /rules/{rule_id}",
    "POST /rules/{rule_id}/pause",
    "POST /rules/{rule_id}/resume",
    "POST /rules/{rule_id}/rearm",
    "GET /rules/{rule_id}/versions",
    "GET /rules/{rule_id}/alerts",
    "GET /alerts",
    "GET /symbols/{symbol}/controls",
    "PUT /symbols/{symbol}/suspension",
    "DELETE /symbols/{symbol}/suspension",
    "PUT /symbols/{symbol}/band",
    "DELETE /symbols/{symbol}/band",
}


def unique_symbol() -> str:
    """A symbol of this test alone: controls and ticks are per symbol, shared by every owner."""
    return "T" + uuid.uuid4().hex[:8].upper()


def instant(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def sub(user: Client) -> str:
    return str(claims_of(user.tokens["access"])["sub"])


def create(user: Client, **definition: Any) -> dict[str, Any]:
    reply = user.request("POST", "/rules", {**RULE, **definition})
    assert reply.status == 201, reply.json
    change: dict[str, Any] = reply.json
    return change


def test_this_module_drives_every_documented_route() -> None:
    assert {route.key for route in api_routes()} == EXERCISED


def test_a_rules_life_create_read_list_edit_pause_resume_versions_delete(client: ClientFactory) -> None:
    alice = client("alice")
    created = alice.request("POST", "/rules", RULE, headers={"idempotency-key": "life-1"})
    assert created.status == 201, created.json
    rule_id = created.json["rule"]["id"]
    assert created.headers["etag"] == '"1"'
    assert created.headers["location"] == f"/rules/{rule_id}"
    assert (created.json["rule"]["owner"], created.json["rule"]["state"]) == (sub(alice), "active")
    # A retry with the same key answers the original answer.
    assert alice.request("POST", "/rules", RULE, headers={"idempotency-key": "life-1"}).json == created.json

    read = alice.request("GET", f"/rules/{rule_id}")
    assert (read.status, read.json["id"], read.headers["etag"]) == (200, rule_id, '"1"')
    listed = alice.request("GET", "/rules")
    assert (listed.status, [r["id"] for r in listed.json["rules"]]) == (200, [rule_id])

    edited = alice.request("PATCH", f"/rules/{rule_id}", {"threshold": 210}, headers={"if-match": '"1"'})
    assert edited.status == 200, edited.json
    assert (edited.json["rule"]["threshold"], edited.json["revision"], edited.headers["etag"]) == (
        210,
        2,
        '"2"',
    )
    paused = alice.request("POST", f"/rules/{rule_id}/pause")
    assert (paused.status, paused.json["rule"]["state"]) == (200, "paused")
    resumed = alice.request("POST", f"/rules/{rule_id}/resume")
    assert (resumed.status, resumed.json["rule"]["state"]) == (200, "active")

    versions = alice.request("GET", f"/rules/{rule_id}/versions").json["versions"]
    # A change made before the previous one took effect may replace it (R3): the count is not fixed, the
    # numbering, the first and the last are.
    assert [v["version"] for v in versions] == list(range(1, len(versions) + 1))
    assert (versions[0]["threshold"], versions[0]["enabled"]) == (200, True)
    assert (versions[-1]["threshold"], versions[-1]["enabled"]) == (210, True)
    # Every earlier version is closed, and the windows follow one another by effective_from. (They need
    # not abut: a pause and resume in quick succession leave the replaced window's bounds apart.)
    for earlier, later in itertools.pairwise(versions):
        assert earlier["effective_until"] is not None
        assert instant(earlier["effective_from"]) <= instant(later["effective_from"])
    assert versions[-1]["effective_until"] is None

    deleted = alice.request("DELETE", f"/rules/{rule_id}")
    assert (deleted.status, deleted.json["rule"]["state"]) == (200, "deleted")
    assert alice.request("GET", "/rules").json["rules"] == []
    assert [r["id"] for r in alice.request("GET", "/rules?state=deleted").json["rules"]] == [rule_id]


def test_an_import_creates_the_documents_rules_for_the_caller_once(client: ClientFactory) -> None:
    bob = client("bob")
    document = {
        "version": 1,
        "rules": [
            {
                "id": "imported-a",
                "symbol": "MSFT",
                "condition": "price_below",
                "threshold": 400,
                "severity": "warning",
            },
            {
                "id": "imported-b",
                "symbol": "*",
                "condition": "volume_above",
                "threshold": 1000,
                "severity": "info",
            },
        ],
    }
    imported = bob.request("POST", "/rules/import", document)
    assert imported.status == 200, imported.json
    changes = imported.json["changes"]
    assert [(c["change"], c["name"], c["status"]) for c in changes] == [
        ("create", "imported-a", 200),
        ("create", "imported-b", 200),
    ]
    listed = bob.request("GET", "/rules").json["rules"]
    assert sorted((r["name"], r["owner"]) for r in listed) == [
        ("imported-a", sub(bob)),
        ("imported-b", sub(bob)),
    ]
    # The owner's rules already equal the document: nothing changes.
    assert bob.request("POST", "/rules/import", document).json["changes"] == []


def test_operators_suspend_resume_band_and_read_a_symbols_controls(client: ClientFactory) -> None:
    operator = client("olga", operator=True)
    symbol = unique_symbol()
    empty = operator.request("GET", f"/symbols/{symbol}/controls")
    assert (empty.status, empty.json) == (200, {"symbol": symbol, "suspensions": [], "bands": []})

    suspended = operator.request("PUT", f"/symbols/{symbol}/suspension", {})
    assert (suspended.status, suspended.json["symbol"]) == (200, symbol)
    resumed = operator.request("DELETE", f"/symbols/{symbol}/suspension")
    assert resumed.status == 200, resumed.json
    banded = operator.request("PUT", f"/symbols/{symbol}/band", {"low": 10, "high": 20})
    assert banded.status == 200, banded.json
    controls = operator.request("GET", f"/symbols/{symbol}/controls").json
    assert controls["suspensions"] == [
        {"from": suspended.json["effective_from"], "until": resumed.json["effective_from"]}
    ]
    assert [(b["low"], b["high"], b["from"], b["until"]) for b in controls["bands"]] == [
        (10, 20, banded.json["effective_from"], None)
    ]
    cleared = operator.request("DELETE", f"/symbols/{symbol}/band")
    assert cleared.status == 200, cleared.json
    bands = operator.request("GET", f"/symbols/{symbol}/controls").json["bands"]
    assert [b["until"] for b in bands] == [cleared.json["effective_from"]]


def test_an_operator_reads_a_named_owners_rules(client: ClientFactory) -> None:
    carol, operator = client("carol"), client("oscar", operator=True)
    rule_id = create(carol)["rule"]["id"]
    listed = operator.request("GET", f"/rules?owner={sub(carol)}")
    assert [r["id"] for r in listed.json["rules"]] == [rule_id]
    assert operator.request("GET", f"/rules/{rule_id}?owner={sub(carol)}").json["owner"] == sub(carol)
    assert operator.request("GET", "/rules").json["rules"] == []  # the operator's own: none


def store_alert_through_the_processor(api: ApiSystem, tick: dict[str, Any]) -> None:
    """The processor (the bootstrap's SQS handler) on the system's tables, reading the rules table, handles
    one tick and stores what fires."""
    assert api.resources is not None
    env = api.resources.function_env(rules_path=None)
    emulator = RuntimeApiEmulator(function_command(ensure_bootstrap()), env=env).__enter__()
    try:
        result = emulator.invoke(sqs_event([Record(body=json.dumps(tick))]), 60.0)
        assert result.status == "ok", result
        assert json.loads(result.payload) == {"batchItemFailures": []}
    finally:
        GracefulEnvironment(emulator).close()


def test_a_fired_alert_is_listed_and_its_rule_rearmed(api: ApiSystem, client: ClientFactory) -> None:
    dana = client("dana")
    symbol = unique_symbol()
    change = create(dana, symbol=symbol, threshold=100)
    rule_id = change["rule"]["id"]
    time.sleep(max(0.0, instant(change["effective_from"]) - time.time()) + 0.5)  # the rule applies from here
    tick_time = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    store_alert_through_the_processor(api, {"symbol": symbol, "price": 101.5, "timestamp": tick_time})
    time.sleep(VISIBLE_AFTER_SECONDS + 0.5)  # listed once stored more than D ago

    alerts = dana.request("GET", "/alerts")
    assert alerts.status == 200
    [alert] = alerts.json["alerts"]
    assert (alert["rule_id"], alert["symbol"], alert["price"], alert["owner"]) == (
        rule_id,
        symbol,
        101.5,
        sub(dana),
    )
    assert alert["rule_version"] == 1
    assert instant(alert["tick_time"]) == instant(tick_time)
    assert alert["unvouched"] is False  # a `once` rule of one symbol, in order (docs/design.md 5.3)
    assert alerts.json["more"] is False
    assert dana.request("GET", f"/alerts?symbol={symbol}&rule_id={rule_id}").json["alerts"] == [alert]
    assert dana.request("GET", "/alerts?symbol=OTHER").json["alerts"] == []
    # Polling with the cursor gives what became visible since: nothing.
    assert dana.request("GET", f"/alerts?cursor={alerts.json['next_cursor']}").json["alerts"] == []
    assert dana.request("GET", f"/rules/{rule_id}/alerts").json["alerts"] == [alert]

    assert dana.request("GET", f"/rules/{rule_id}").json["state"] == "triggered"
    rearmed = dana.request("POST", f"/rules/{rule_id}/rearm")
    assert (rearmed.status, rearmed.json["rule"]["arming"], rearmed.json["rule"]["state"]) == (
        200,
        2,
        "active",
    )

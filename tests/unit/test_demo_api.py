"""The demo's API side (local/demo.py, local/api_system.py) without a stack: the import's report and its
refusals, paginated lists, waiting for alerts to become visible, a 503 on import, the per-trader alert lines,
the 404 probe, and the outcome's checks (isolation, every stored alert listed, the judgement per owner);
the deployed function's environment and the stage's throttling read back. The whole path runs in
tests/integration/test_deployment.py::test_demo_command."""

from __future__ import annotations

import argparse
import base64
import io
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from lib.config import DEFAULT_API_BURST, DEFAULT_API_RATE
from local import demo
from local.api_system import api_id_of, deployed_function_environment, stage_throttling
from local.clock import CLOCK_VARIABLE
from local.demo import (
    ApiOutcome,
    Feed,
    LocalSystem,
    RunReport,
    SignedIn,
    TraderView,
    alerts_seen,
    api_alert_lines,
    foreign_probe,
    import_documents,
    import_lines,
    listed,
    run_with_api,
    send_until_committed,
    show_api_outcome,
    token_subject,
)
from local.demo_schedule import Applied, Change, Player, micros
from local.emf import emf_totals
from local.emulator import LOCAL_ENV
from local.rules_import import RulesToolError
from ops.alerts_api import AlertsApi, ApiReply
from ops.send_feed import SendResult
from tests.chaos.event_time import Controls, Version

EF = "2026-11-25T14:29:58.000Z"
FIRST = micros("2026-11-25T14:30:00Z")


def reply(status: int, document: Any = None) -> ApiReply:
    return ApiReply(status, {}, document, json.dumps(document))


class Pages:
    """Answers GET requests from a list of replies, in turn; records each query."""

    def __init__(self, *replies: ApiReply) -> None:
        self.replies = list(replies)
        self.queries: list[dict[str, str | None]] = []

    def call(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str | None] | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> ApiReply:
        self.queries.append(dict(query or {}))
        return self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]


def test_import_lines_report_each_change_and_refuse_a_failed_or_late_one() -> None:
    answer = {
        "changes": [
            {"change": "create", "name": "a", "status": 200, "rule_id": "1", "effective_from": EF},
            {"change": "create", "name": "b", "status": 409, "detail": "name taken"},
            {"change": "create", "name": "c", "status": 200, "effective_from": "2026-11-25T14:30:01Z"},
        ]
    }
    lines, problems = import_lines(answer, FIRST)
    assert lines[0].split() == ["create", "a", "200", "effective_from", EF]
    assert lines[1].split() == ["create", "b", "409", "effective_from", "-"]
    assert problems == [
        "create b: 409 name taken",
        "c: effective after the feed's first tick (2026-11-25T14:30:01Z)",
    ]
    assert import_lines(answer, None)[1] == ["create b: 409 name taken"]  # real time: no feed clock to meet


def test_listed_follows_cursors_of_rule_and_alert_pages() -> None:
    rules = Pages(reply(200, {"rules": [{"id": 1}], "next_cursor": "c1"}), reply(200, {"rules": [{"id": 2}]}))
    assert listed(rules, "/rules", "rules") == [{"id": 1}, {"id": 2}]
    assert rules.queries == [{}, {"cursor": "c1"}]
    # An alert page carries a cursor also at its end (for polling): `more` says whether to follow it.
    alerts = Pages(
        reply(200, {"alerts": [{"n": 1}], "next_cursor": "a", "more": True}),
        reply(200, {"alerts": [], "next_cursor": "b", "more": False}),
    )
    assert listed(alerts, "/alerts", "alerts") == [{"n": 1}]
    with pytest.raises(RulesToolError, match="GET /rules: 401"):
        listed(Pages(reply(401, {"message": "Unauthorized"})), "/rules", "rules")


def test_alerts_seen_waits_for_the_expected_count_or_gives_up() -> None:
    late = Pages(
        reply(200, {"alerts": [], "next_cursor": "a", "more": False}),
        reply(200, {"alerts": [{"n": 1}], "next_cursor": "a", "more": False}),
    )
    assert alerts_seen(late, 1, timeout_s=30) == [{"n": 1}]
    never = Pages(reply(200, {"alerts": [], "next_cursor": "a", "more": False}))
    assert alerts_seen(never, 1, timeout_s=0) == []


def test_an_import_answered_503_is_sent_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(demo, "RETRY_PAUSE_S", 0)
    api = Pages(reply(503, {}), reply(200, {"changes": []}))
    assert send_until_committed(api, "POST", "/rules/import", {}).status == 200
    assert len(api.queries) == 2


def user(name: str, api: Any = None) -> SignedIn:
    return SignedIn(name, f"sub-{name}", api or AlertsApi("http://unused", "t"))


def fired(owner: str, rule_id: str, tick_time: str = "2026-11-25T14:30:00.000000Z") -> dict[str, Any]:
    return {
        "stored_id": "01J",
        "owner": owner,
        "rule_id": rule_id,
        "rule_version": 1,
        "symbol": "AAPL",
        "tick_time": tick_time,
        "price": 201.0,
        "severity": "info",
    }


def test_api_alert_lines_show_rules_by_name() -> None:
    view = TraderView(
        user("alice"), {"id1": "breakout"}, [fired("sub-alice", "id1"), fired("sub-alice", "x")], []
    )
    lines = api_alert_lines(view)
    assert lines[0] == "  alice: 2 alerts"
    assert "breakout" in lines[2]
    assert lines[3].split()[2] == "x"  # a rule it cannot name stays an id


def test_each_trader_gets_404_for_the_others_rule_and_anything_else_is_a_problem() -> None:
    traders = [("alice", Path("a.json")), ("bob", Path("b.json"))]
    users = {"alice": user("alice", Pages(reply(404, {}))), "bob": user("bob", Pages(reply(200, {})))}
    views = {
        "alice": TraderView(users["alice"], {"a1": "x"}, [], []),
        "bob": TraderView(users["bob"], {"b1": "y"}, [], []),
    }
    assert foreign_probe(users, traders, views) == ["bob reading alice's rule a1: 200, not 404"]
    views["alice"] = TraderView(users["alice"], {}, [], [])  # no rule of alice's to ask for
    assert foreign_probe(users, traders, views) == []
    assert foreign_probe(users, traders[:1], views) == []  # one trader: nobody else's rule


TICKS = [
    '{"symbol":"AAPL","price":199.0,"timestamp":"2026-11-25T14:30:00Z"}',
    '{"symbol":"AAPL","price":201.0,"timestamp":"2026-11-25T14:30:10Z"}',
]


def stored(owner: str, rule_id: str) -> dict[str, Any]:
    return {"symbol": "AAPL", "timestamp": f"2026-11-25T14:30:10.000000Z#{rule_id}", "owner": owner, "seq": 0}


def run_report(alerts: list[dict[str, Any]]) -> RunReport:
    return RunReport(SendResult(sent=2), 1.0, True, [], emf_totals([]), alerts, [], [])


def alice_version() -> Version:
    return Version(
        rule="up",
        version=1,
        symbol="AAPL",
        condition="crosses_above",
        threshold=200.0,
        severity="info",
        mode="every",
        cooldown_seconds=1,
        bar_seconds=0,
        arming=1,
        start_us=None,
        end_us=None,
        expires_us=None,
    )


def outcome(alice_alerts: list[dict[str, Any]], problems: list[str] | None = None) -> ApiOutcome:
    alice = TraderView(user("alice"), {"id1": "up"}, alice_alerts, [alice_version()])
    p = Player(Pages(reply(200, {})), lambda _: None, FIRST, 10_000_000)
    p.applied.append(Applied(Change(0.1, "alice", "create", "up"), "id1", FIRST))
    p.applied.append(Applied(Change(0.2, "nobody", "pause", "gone"), "g", FIRST + 1))
    p.errors.append("a refused change")
    return ApiOutcome({"alice": p}, {"alice": alice}, Controls(), problems or [])


def test_the_outcome_shows_changes_alerts_isolation_and_the_judgement() -> None:
    out = io.StringIO()
    report = run_report([stored("sub-alice", "id1")])
    problems = show_api_outcome(outcome([fired("sub-alice", "id1")]), report, Feed.of(TICKS), out)
    text = out.getvalue()
    assert problems == ["a refused change"]
    assert "alice          create        up" in text
    assert "its alerts before: 0, from then on: 1" in text
    assert "isolation: each trader lists exactly their own stored alerts" in text
    assert "(exact)" in text  # the stored alert is the replay's


def test_the_outcome_names_foreign_and_unlisted_alerts_and_a_judged_difference() -> None:
    out = io.StringIO()
    report = run_report([stored("sub-alice", "id1"), stored("sub-alice", "id1")])  # a duplicate
    listed_alerts = [fired("sub-bob", "b1")]
    problems = show_api_outcome(outcome(listed_alerts, ["earlier"]), report, Feed.of(TICKS), out)
    assert problems[:2] == ["earlier", "a refused change"]
    assert "sub-alice sees sub-bob's alert 01J (rule b1)" in problems  # owners as the API knows them
    assert "alice: GET /alerts lists 1 of 2 stored" in problems
    assert any(p.startswith("alice: up") for p in problems)  # the judge's problem with the duplicate
    assert "isolation:" not in out.getvalue()


def test_feed_of_knows_its_first_tick_and_span() -> None:
    feed = Feed.of(TICKS)
    assert (feed.origin_us, feed.span_us, len(feed.ticks)) == (FIRST, 10_000_000, 2)


# ---- local/api_system.py -----------------------------------------------------------------------------------
def test_the_function_gets_its_deployed_environment_plus_the_local_systems() -> None:
    configuration = {
        "Handler": "api",
        "Environment": {"Variables": {"RULES_TABLE": "r", "LOG_LEVEL": "INFO"}},
    }
    env = deployed_function_environment(configuration, "http://moto", "virtual:s")
    assert env == {
        **LOCAL_ENV,
        "AWS_ENDPOINT_URL": "http://moto",
        "RULES_TABLE": "r",
        "LOG_LEVEL": "INFO",
        "_HANDLER": "api",
        CLOCK_VARIABLE: "virtual:s",
    }
    real_time = deployed_function_environment({"Handler": "api"}, "http://moto", "")
    assert real_time == {**LOCAL_ENV, "AWS_ENDPOINT_URL": "http://moto", "_HANDLER": "api"}


def test_token_subject_reads_the_sub_claim() -> None:
    claims = base64.urlsafe_b64encode(json.dumps({"sub": "abc-1", "x": "?>"}).encode()).decode().rstrip("=")
    assert token_subject(f"h.{claims}.s") == "abc-1"


class Stages:
    def __init__(self, stage: dict[str, Any]) -> None:
        self.stage = stage
        self.asked: list[tuple[str, str]] = []

    def get_stage(self, ApiId: str, StageName: str) -> dict[str, Any]:  # noqa: N803 -- boto3's names
        self.asked.append((ApiId, StageName))
        return self.stage


def test_the_stages_throttling_is_read_back_from_the_deployed_stage() -> None:
    url = "https://abc123.execute-api.us-east-1.amazonaws.com"
    assert api_id_of(url) == "abc123"
    stages = Stages({"DefaultRouteSettings": {"ThrottlingRateLimit": 7.0, "ThrottlingBurstLimit": 9}})
    assert stage_throttling(stages, url) == (7.0, 9)
    assert stages.asked == [("abc123", "$default")]
    assert stage_throttling(Stages({}), url) == (float(DEFAULT_API_RATE), DEFAULT_API_BURST)


def test_a_refused_import_stops_the_demo(tmp_path: Path) -> None:
    document = tmp_path / "rules.json"
    document.write_text('{"version": 1, "rules": []}')
    refused = user("alice", Pages(reply(422, {"detail": "bad document"})))
    with pytest.raises(RulesToolError, match="alice: POST /rules/import: 422"):
        import_documents({"alice": refused}, [("alice", document)], None, io.StringIO())


def test_the_demo_serves_the_api_only_on_the_emulator() -> None:
    system = LocalSystem({}, ["bootstrap"])  # no endpoint: a stack in AWS, whose API AWS serves
    args = argparse.Namespace(trader=None)
    with pytest.raises(RulesToolError, match="--endpoint-url is needed"):
        run_with_api(system, args, Feed.of(TICKS), None, io.StringIO())

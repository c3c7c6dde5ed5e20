"""The demo's schedule of rule changes (local/demo_schedule.py): its data, the requests it sends, how a 503 is
handled (read back, resent only when the change did not take effect), the read-back turned into the replay's
versions and controls, the isolation check and the effect lines. The player runs against a scripted API."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest

from local.demo_schedule import (
    MAX_ATTEMPTS,
    OPERATOR,
    OPERATOR_ACTIONS,
    TRADER_ACTIONS,
    Applied,
    Change,
    Player,
    by_actor,
    committed_at,
    controls_of_answers,
    demo_schedule,
    effect_line,
    foreign_alerts,
    iso,
    micros,
    play_all,
    read_back_path,
    request_of,
    versions_of_answer,
)
from ops.alerts_api import ApiReply
from tests.chaos.event_time import Controls, Span
from tests.chaos.oracle import Tick

T0 = micros("2026-11-25T14:30:00Z")
SPAN = 100_000_000  # 100 s


def reply(status: int, document: Any = None, **headers: str) -> ApiReply:
    return ApiReply(status, dict(headers), document, json.dumps(document))


class ScriptedApi:
    """Answers each (method, path) with its queued replies in turn (the last one repeats); records calls."""

    def __init__(self, script: Mapping[tuple[str, str], list[ApiReply]]) -> None:
        self.script = {k: list(v) for k, v in script.items()}
        self.calls: list[tuple[str, str, Any, dict[str, str]]] = []

    def call(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str | None] | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> ApiReply:
        self.calls.append((method, path, body, dict(headers or {})))
        queue = self.script[(method, path)]
        return queue.pop(0) if len(queue) > 1 else queue[0]

    def sent(self, method: str, path: str) -> int:
        return sum(1 for m, p, _, _ in self.calls if (m, p) == (method, path))


def change_answer(ef: str, rule_id: str = "r-1") -> dict[str, Any]:
    return {"rule": {"id": rule_id}, "revision": 2, "effective_from": ef}


def version(n: int, start: str | None, until: str | None, **fields: Any) -> dict[str, Any]:
    return {
        "version": n,
        "effective_from": start,
        "effective_until": until,
        "symbol": "AAPL",
        "condition": "price_above",
        "threshold": 200,
        "severity": "info",
        "mode": "once",
        "arming": 1,
        "enabled": True,
        **fields,
    }


def player(api: ScriptedApi, **ids: str) -> Player:
    waited: list[int] = []
    p = Player(api, waited.append, T0, SPAN, dict(ids))
    p.waited = waited  # type: ignore[attr-defined]
    return p


# ---- the schedule's data -----------------------------------------------------------------------------------
def test_the_demo_schedule_has_every_kind_of_change_the_issues_name_in_time_order() -> None:
    schedule = demo_schedule("alice", "bob")
    assert [c.at for c in schedule] == sorted(c.at for c in schedule)
    assert all(0 < c.at < 1 for c in schedule)  # every change is sent while the feed plays
    kinds = {(c.actor, c.action, c.body.get("mode")) for c in schedule}
    assert ("alice", "create", "every") in kinds  # an `every` rule ...
    assert any(c.expires_after is not None and c.at < c.expires_after < 1 for c in schedule)  # ... expiring
    assert ("bob", "create", "once") in kinds
    assert {(c.actor, c.action) for c in schedule} >= {
        ("alice", "pause"),
        ("alice", "resume"),
        ("bob", "edit"),
        (OPERATOR, "suspend"),
        (OPERATOR, "resume-symbol"),
    }
    paused = [c for c in schedule if c.action in ("pause", "resume")]
    assert [c.action for c in paused] == ["pause", "resume"]
    assert paused[0].rule == paused[1].rule
    assert {c.action for c in schedule} <= set(TRADER_ACTIONS) | set(OPERATOR_ACTIONS)


def test_by_actor_keeps_each_actors_changes_in_time_order() -> None:
    late, early = Change(0.5, "a", "pause", "x"), Change(0.1, "a", "resume", "x")
    other = Change(0.3, "b", "pause", "y")
    assert by_actor([late, other, early]) == {"a": [early, late], "b": [other]}


def test_iso_writes_utc_milliseconds_that_micros_reads_back() -> None:
    assert iso(T0 + 1_500) == "2026-11-25T14:30:00.001Z"
    assert micros(iso(T0 + 2_000)) == T0 + 2_000


# ---- requests ----------------------------------------------------------------------------------------------
def test_requests_of_each_change() -> None:
    ids = {"r": "id/1"}
    create = Change(0.1, "a", "create", "new", {"symbol": "AAPL", "mode": "every"}, expires_after=0.5)
    method, path, body = request_of(create, ids, T0, SPAN)
    assert (method, path) == ("POST", "/rules")
    assert body == {"name": "new", "symbol": "AAPL", "mode": "every", "expires_at": iso(T0 + SPAN // 2)}
    assert "expires_at" not in request_of(Change(0.1, "a", "create", "n", {}), ids, T0, SPAN)[2]
    assert request_of(Change(0.1, "a", "edit", "r", {"threshold": 1}), ids, T0, SPAN) == (
        "PATCH",
        "/rules/id%2F1",
        {"threshold": 1},
    )
    assert request_of(Change(0.1, "a", "pause", "r"), ids, T0, SPAN) == ("POST", "/rules/id%2F1/pause", None)
    assert request_of(Change(0.1, OPERATOR, "suspend", symbol="EUR/USD"), ids, T0, SPAN) == (
        "PUT",
        "/symbols/EUR%2FUSD/suspension",
        None,
    )
    assert request_of(Change(0.1, OPERATOR, "resume-symbol", symbol="X"), ids, T0, SPAN)[:2] == (
        "DELETE",
        "/symbols/X/suspension",
    )
    assert read_back_path(Change(0.1, "a", "pause", "r"), ids) == "/rules/id%2F1/versions"
    assert read_back_path(Change(0.1, OPERATOR, "suspend", symbol="X"), ids) == "/symbols/X/controls"


# ---- whether a change took effect (read back after a 503) --------------------------------------------------
A, B = "2026-11-25T14:30:10Z", "2026-11-25T14:30:20Z"


@pytest.mark.parametrize(
    ("change", "versions", "expected"),
    [
        (Change(0, "a", "create", "r"), [version(1, A, None)], A),
        (Change(0, "a", "create", "r"), [], None),
        (Change(0, "a", "create", "r"), [version(1, A, None, enabled=False)], None),
        (Change(0, "a", "pause", "r"), [version(1, A, B)], B),
        (Change(0, "a", "pause", "r"), [version(1, A, None)], None),
        (Change(0, "a", "resume", "r"), [version(1, None, A), version(2, B, None)], B),
        (Change(0, "a", "resume", "r"), [version(2, A, B), version(1, None, A)], None),
        (
            Change(0, "a", "edit", "r", {"threshold": 211.5}),
            [version(1, None, A), version(2, A, None, threshold=211.5)],
            A,
        ),
        (Change(0, "a", "edit", "r", {"threshold": 211.5}), [version(1, A, None)], None),
    ],
)
def test_a_rule_change_took_effect_when_its_versions_show_it(
    change: Change, versions: list[dict[str, Any]], expected: str | None
) -> None:
    assert committed_at(change, {"versions": versions}) == (None if expected is None else micros(expected))


@pytest.mark.parametrize(
    ("action", "windows", "expected"),
    [
        ("suspend", [{"from": A, "until": None}], A),
        ("suspend", [{"from": A, "until": B}], None),
        ("suspend", [], None),
        ("resume-symbol", [{"from": A, "until": B}], B),
        ("resume-symbol", [{"from": A, "until": None}], None),
        ("resume-symbol", [], None),
    ],
)
def test_a_suspension_took_effect_when_the_symbols_controls_show_it(
    action: str, windows: list[dict[str, Any]], expected: str | None
) -> None:
    document = {"symbol": "X", "suspensions": windows, "bands": []}
    got = committed_at(Change(0, OPERATOR, action, symbol="X"), document)
    assert got == (None if expected is None else micros(expected))


# ---- the player --------------------------------------------------------------------------------------------
def test_the_player_sends_each_change_at_its_time_and_records_what_was_committed() -> None:
    api = ScriptedApi(
        {
            ("POST", "/rules"): [reply(201, change_answer(A, "new-id"))],
            ("GET", "/rules/new-id"): [reply(200, {}, etag='"1"')],
            ("PATCH", "/rules/new-id"): [reply(200, change_answer(B, "new-id"))],
        }
    )
    p = player(api)
    p.play(
        [Change(0.1, "a", "create", "n", {"symbol": "AAPL"}), Change(0.2, "a", "edit", "n", {"threshold": 3})]
    )
    assert p.waited == [T0 + SPAN // 10, T0 + SPAN // 5]  # type: ignore[attr-defined]
    assert [(a.rule_id, a.effective_from_us, a.attempts) for a in p.applied] == [
        ("new-id", micros(A), 1),
        ("new-id", micros(B), 1),
    ]
    create, _, edit = api.calls
    assert "Idempotency-Key" in create[3]
    assert edit[3] == {"If-Match": '"1"'}  # an edit names the revision it read
    assert p.errors == []


def test_after_a_503_a_change_in_effect_is_not_sent_again() -> None:
    api = ScriptedApi(
        {
            ("POST", "/rules/r1/pause"): [reply(503, {"type": "retry-later"}, **{"retry-after": "1"})],
            ("GET", "/rules/r1/versions"): [reply(200, {"versions": [version(1, A, B)]})],
        }
    )
    p = player(api, r="r1")
    p.play([Change(0.1, "a", "pause", "r")])
    assert api.sent("POST", "/rules/r1/pause") == 1
    assert [(a.effective_from_us, a.attempts) for a in p.applied] == [(micros(B), 1)]


def test_after_a_503_a_change_not_in_effect_is_sent_again() -> None:
    api = ScriptedApi(
        {
            ("POST", "/rules/r1/resume"): [reply(503, {}), reply(200, change_answer(B, "r1"))],
            ("GET", "/rules/r1/versions"): [reply(200, {"versions": [version(1, None, A)]})],
        }
    )
    p = player(api, r="r1")
    p.play([Change(0.1, "a", "resume", "r")])
    assert api.sent("POST", "/rules/r1/resume") == 2
    assert [(a.effective_from_us, a.attempts) for a in p.applied] == [(micros(B), 2)]


def test_a_create_answered_503_is_found_by_name_when_it_was_committed() -> None:
    api = ScriptedApi(
        {
            ("POST", "/rules"): [reply(503, {})],
            ("GET", "/rules"): [
                reply(200, {"rules": []}),
                reply(200, {"rules": [{"id": "c1", "name": "n"}]}),
            ],
            ("GET", "/rules/c1/versions"): [reply(200, {"versions": [version(1, A, None)]})],
        }
    )
    p = player(api)
    p.play([Change(0.1, "a", "create", "n", {})])
    assert api.sent("POST", "/rules") == 2  # not found after the first 503: sent again (same key)
    assert {c[3]["Idempotency-Key"] for c in api.calls if c[0] == "POST"} == {
        api.calls[0][3]["Idempotency-Key"]
    }
    assert [(a.rule_id, a.effective_from_us) for a in p.applied] == [("c1", micros(A))]


def test_a_change_refused_or_never_committed_is_an_error_and_the_schedule_goes_on() -> None:
    api = ScriptedApi(
        {
            ("POST", "/rules/r1/pause"): [reply(409, {"detail": "paused already"})],
            ("PUT", "/symbols/X/suspension"): [reply(503, {})],
            ("GET", "/symbols/X/controls"): [reply(200, {"suspensions": [], "bands": []})],
            ("DELETE", "/symbols/X/suspension"): [reply(200, {"effective_from": B})],
        }
    )
    p = player(api, r="r1")
    p.play(
        [
            Change(0.1, "a", "pause", "r"),
            Change(0.2, OPERATOR, "suspend", symbol="X"),
            Change(0.3, OPERATOR, "resume-symbol", symbol="X"),
        ]
    )
    assert api.sent("PUT", "/symbols/X/suspension") == MAX_ATTEMPTS
    assert len(p.errors) == 2
    assert "409" in p.errors[0]
    assert "not committed" in p.errors[1]
    assert [(a.change.action, a.rule_id) for a in p.applied] == [("resume-symbol", "")]


def test_a_failed_read_back_is_an_error() -> None:
    api = ScriptedApi(
        {
            ("POST", "/rules/r1/pause"): [reply(503, {})],
            ("GET", "/rules/r1/versions"): [reply(500, {"message": "Internal Server Error"})],
        }
    )
    p = player(api, r="r1")
    p.play([Change(0.1, "a", "pause", "r")])
    assert p.applied == []
    assert "GET /rules/r1/versions: 500" in p.errors[0]


def test_play_all_runs_one_player_per_actor() -> None:
    apis = {n: ScriptedApi({("POST", f"/rules/{n}/pause"): [reply(200, change_answer(A, n))]}) for n in "ab"}
    players = {n: player(apis[n], r=n) for n in "ab"}
    for thread in play_all(players, [Change(0.1, "a", "pause", "r"), Change(0.2, "b", "pause", "r")]):
        thread.join()
    assert [len(p.applied) for p in players.values()] == [1, 1]


# ---- the read-back as the replay's input -------------------------------------------------------------------
def test_versions_of_answer_keeps_enabled_versions_with_their_windows() -> None:
    answer = {
        "versions": [
            version(1, A, B, mode="every", cooldown_seconds=5, expires_at=B),
            version(2, B, None, enabled=False),
        ]
    }
    (v,) = versions_of_answer("name", answer)
    assert (v.rule, v.version, v.mode, v.cooldown_seconds, v.bar_seconds) == ("name", 1, "every", 5, 0)
    assert (v.start_us, v.end_us, v.expires_us) == (micros(A), micros(B), micros(B))


def test_controls_of_answers_are_the_suspensions_and_refuse_a_band() -> None:
    controls = controls_of_answers(
        [{"symbol": "X", "suspensions": [{"from": A, "until": B}, {"from": B, "until": None}], "bands": []}]
    )
    assert controls.suspensions == {"X": [Span(micros(A), micros(B)), Span(micros(B), None)]}
    with pytest.raises(ValueError, match="price band"):
        controls_of_answers([{"symbol": "X", "suspensions": [], "bands": [{"from": A, "until": None}]}])


# ---- what the traders see ----------------------------------------------------------------------------------
def test_foreign_alerts_names_every_alert_of_another_owner_or_rule() -> None:
    mine = {"owner": "alice", "rule_id": "a1", "stored_id": "1"}
    listed = {
        "alice": [
            mine,
            {**mine, "owner": "bob", "stored_id": "2"},
            {**mine, "rule_id": "b1", "stored_id": "3"},
        ],
        "bob": [],
    }
    problems = foreign_alerts(listed, {"alice": {"a1": "x"}, "bob": {"b1": "y"}})
    assert problems == [
        "alice sees bob's alert 2 (rule a1)",
        "alice sees alice's alert 3 (rule b1)",
    ]
    assert foreign_alerts({"alice": [mine]}, {"alice": ["a1"]}) == []


def tick(symbol: str, ts: str, price: float = 200.0) -> Tick:
    return Tick(symbol=symbol, price=price, ts=ts, ts_us=micros(ts), seq=0)


def test_effect_lines_count_a_rules_alerts_around_its_change_and_a_suspensions_ticks() -> None:
    ticks = [tick("AAPL", "2026-11-25T14:30:05Z"), tick("AAPL", "2026-11-25T14:30:15Z"), tick("MSFT", A)]
    fired = [
        {"rule_id": "id1", "tick_time": "2026-11-25T14:30:05Z"},
        {"rule_id": "id1", "tick_time": "2026-11-25T14:30:15Z"},
        {"rule_id": "id2", "tick_time": "2026-11-25T14:30:15Z"},
    ]
    edit = Applied(Change(0.1, "bob", "edit", "level", {"threshold": 1}), "id1", micros(A))
    line = effect_line(
        edit, names={"id1": "level"}, fired=fired, controls=Controls(), ticks=ticks, origin_us=T0
    )
    assert line.split() == [
        "+10.0",
        "s",
        "bob",
        "edit",
        "level",
        "its",
        "alerts",
        "before:",
        "1,",
        "from",
        "then",
        "on:",
        "1",
    ]
    suspended = Controls(suspensions={"AAPL": [Span(micros(A), None)]})
    suspend = Applied(Change(0.2, OPERATOR, "suspend", symbol="AAPL"), "", micros(A))
    line = effect_line(suspend, names={}, fired=[], controls=suspended, ticks=ticks, origin_us=T0)
    assert line.endswith("1 AAPL tick(s) suspended in all")

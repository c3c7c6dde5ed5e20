"""tests/chaos/campaign.py: a seeded short campaign (every fault kind, SIGKILLs inside invocations, an SNS
outage that sends messages with stored alerts to the DLQ, the hostile corpus, the DLQ redriven) must end
with the invariant holding; the invariant check itself must catch a duplicate, an unnotified alert, a
differing repeat, a lost message and a hostile body handled wrongly."""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import pytest

from local.clock import Clock
from local.event_source import BatchOutcome
from local.fault_proxy import FaultRule
from local.runtime_api import InvocationResult
from tests.chaos import campaign as chaos
from tests.chaos import oracle
from tests.chaos.campaign import (
    CAMPAIGN_KINDS,
    PERHAPS_SENT_TWICE,
    ChaosConfig,
    evaluate,
    fault_rules,
    perhaps_sent_twice,
)
from tests.chaos.event_time import Controls, Span, Version
from tests.chaos.hostile import BodyCase
from tests.chaos.live_rules import (
    OPERATOR_ACTIONS,
    TRADER_ACTIONS,
    Answer,
    Applied,
    Change,
    InvocationFailedError,
    Player,
    check_applied,
    controls_of_listing,
    schedule,
    versions_of_answer,
)
from tests.support.function_harness import ensure_bootstrap


def test_fault_rules_inject_the_total_rate_split_by_weight() -> None:
    rules = fault_rules(0.2)
    assert {r.kind for r in rules} == CAMPAIGN_KINDS
    for service in ("dynamodb", "sns"):
        miss = 1.0
        for rule in rules:
            if rule.service == service:
                miss *= 1 - rule.probability
        assert 1 - miss == pytest.approx(0.2)


def test_short_seeded_campaign_keeps_the_invariant(capsys: pytest.CaptureFixture[str]) -> None:
    bootstrap = ensure_bootstrap()
    argv = ["--seconds", "12", "--fault-rate", "0.3", "--seed", "5", "--concurrency", "2", "--rate", "10"]
    argv += ["--kill-every", "2", "--max-receive-count", "2", "--outage-at", "0", "--outage-seconds", "14"]
    argv += ["--hostile", "--fidelity-gate", "--bootstrap", str(bootstrap)]  # F3: every miss explained
    status = chaos.main(argv)
    summary = json.loads(capsys.readouterr().out)
    print(json.dumps(summary))
    assert summary["violations"] == []
    assert status == 0
    assert summary["ok"]
    assert summary["fidelity_gate"]
    assert summary["fidelity"]["ok"]
    assert set(summary["faults_injected"]) == {k.value for k in CAMPAIGN_KINDS}  # every kind: the sweep
    assert summary["kills"] >= 1
    assert summary["retries"] > 0
    assert summary["messages_lost"] == summary["lost_alerts"] == summary["duplicate_alerts"] == 0
    hostile = len(chaos.hostile_cases())
    assert summary["hostile_bodies"] == hostile > 70
    assert summary["messages_deleted"] == summary["messages_sent"] == 120 + hostile
    # The outage outlasts two receives: messages whose alerts were stored went to the DLQ, were redriven,
    # and their pending notifications were sent by the redriven copies.
    assert summary["dlq_redriven"] >= 1
    assert summary["recovered_notifications"] >= 1
    assert summary["dlq_at_end_rejected_by_function"] >= summary["hostile_rejected_with_their_reason"]
    assert summary["dlq_at_end_moved_by_redrive_policy"] == 0
    assert summary["stored_alerts"] > 0
    # Rules changed during the feed (live rules): each change committed where it was answered (else a
    # violation above), no `once` fired twice in one arming. The re-arm waits for its rule to trigger, which
    # a slow machine may postpone past the drain: then it is reported refused, not made.
    changes = summary["rule_changes"]
    assert set(changes["applied"]) >= {*TRADER_ACTIONS, *OPERATOR_ACTIONS} - {"rearm"}
    assert all(r.startswith("re-arm of ") for r in changes["refused"])
    assert summary["once_fires_per_arming_max"] <= 1


def _evaluate(cfg: ChaosConfig | None = None, **given: Any) -> dict[str, Any]:
    """evaluate() of a run that left nothing unusual behind, but for `given`."""
    quiet: dict[str, Any] = {
        "dead": [],
        "dead_before_recovery": 0,
        "redriven": 0,
        "hostile": [],
        "kills": [],
        "injected": Counter(),
        "late_ticks": 0,
        "retries": 0,
        "recovered": 0,
        "drained": True,
        "errors": [],
    }
    rules = oracle.load_rules(given.pop("rules_doc"))
    return evaluate(cfg or ChaosConfig(seconds=1), versions=oracle.versions_of(rules), **{**quiet, **given})


def _tick(price: float, ts: str) -> str:
    return json.dumps({"symbol": "MSFT", "price": price, "timestamp": ts, "volume": 1})


def _msft_above_450(cooldown_seconds: int) -> dict[str, Any]:
    """A rules document of one level rule: MSFT above 450."""
    rule = {"id": "r", "symbol": "MSFT", "condition": "price_above", "threshold": 450, "severity": "high"}
    return {"rules": [{**rule, "cooldown_seconds": cooldown_seconds}]}


def _note(alert_id: str, severity: str = "high") -> dict[str, Any]:
    return {"Message": json.dumps({"alert_id": alert_id, "severity": severity, "age_ms": 3})}


def test_the_invariant_check_catches_violations() -> None:
    rules = _msft_above_450(cooldown_seconds=0)
    bodies = [
        _tick(451.0, "2026-11-25T14:30:00Z"),
        _tick(452.0, "2026-11-25T14:30:01Z"),
        _tick(1.0, "2026-11-25T14:30:02Z"),
    ]
    ids = {"m0": bodies[0], "m1": bodies[1], "m2": bodies[2]}
    ok = InvocationResult("ok", b"{}", None, 0.1, "req")
    outcomes = [BatchOutcome(["m0", "m1"], ok, ["m0", "m1"], [])]  # m2 neither deleted nor in the DLQ
    first, second = "2026-11-25T14:30:00.000000Z#r", "2026-11-25T14:30:01.000000Z#r"
    stored = [
        {"symbol": "MSFT", "timestamp": first},
        {"symbol": "MSFT", "timestamp": first},
        {"symbol": "MSFT", "timestamp": second},
    ]
    notes = [_note(f"MSFT|{first}"), _note(f"MSFT|{first}", "low"), _note("MSFT|ghost")]
    summary = _evaluate(
        rules_doc=rules,
        bodies=bodies,
        messages_sent=3,
        ids_to_body=ids,
        outcomes=outcomes,
        stored=stored,
        notes=notes,
        drained=False,
    )
    text = "\n".join(summary["violations"])
    assert not summary["ok"]
    assert "stored 2 times" in text
    assert f"MSFT|{second} stored (None), never notified" in text
    assert "names no stored alert" in text
    assert "differ" in text
    assert "notified 2 times, after no interrupted invocation of its message and no log of a repeat" in text
    assert "message lost" in text
    assert "did not drain" in text
    assert summary["duplicate_alerts"] == 1
    assert summary["messages_lost"] == 1


def test_fidelity_is_reported_and_gated_on_what_f3_explains() -> None:
    # MSFT crosses 450 at 14:30:10 and 14:30:30; only the first crossing was stored
    rule = {"id": "x", "symbol": "MSFT", "condition": "crosses_above", "threshold": 450, "severity": "high"}
    bodies = [
        _tick(p, f"2026-11-25T14:30:{s}Z")
        for p, s in ((449.0, "00"), (451.0, "10"), (449.0, "20"), (451.0, "30"))
    ]
    ids = {f"m{i}": b for i, b in enumerate(bodies)}
    ok = InvocationResult("ok", b"{}", None, 0.1, "req")
    first = "2026-11-25T14:30:10.000000Z#x"
    run: dict[str, Any] = {
        "rules_doc": {"rules": [{**rule, "cooldown_seconds": 1}]},
        "bodies": bodies,
        "messages_sent": 4,
        "ids_to_body": ids,
        "outcomes": [BatchOutcome(list(ids), ok, list(ids), [])],
        "stored": [{"symbol": "MSFT", "timestamp": first}],
        "notes": [_note(f"MSFT|{first}")],
        "late_ticks": 1,  # the first version's checks tolerate a crossing hidden by a late tick
    }
    reported = _evaluate(**run)
    assert reported["ok"]
    assert not reported["fidelity_gate"]
    assert reported["fidelity"]["per_rule"]["x"] == {
        "replay": 2,
        "stored": 1,
        "matched": 1,
        "mode_choices": 0,
        "missing": {"beyond_w": 0, "mode_choice": 0, "unexplained": 1},
        "extra": 0,
        "duplicates": 0,
    }
    gated = _evaluate(ChaosConfig(seconds=1, fidelity_gate=True), **run)
    assert gated["violations"] == [
        "fidelity x: missing: MSFT 2026-11-25T14:30:30.000000Z (the replay fires there; nothing explains it)"
    ]
    explained = _evaluate(ChaosConfig(seconds=1, fidelity_gate=True), **run, beyond_window_ticks=1)
    assert explained["ok"]
    assert explained["fidelity"]["per_rule"]["x"]["missing"]["beyond_w"] == 1


class _Process:
    pid = 42

    def __init__(self) -> None:
        self.killed = threading.Event()
        self.first_next_at: float | None = 1.0  # it has asked for an invocation

    def alive(self) -> bool:
        return not self.killed.is_set()

    def kill(self) -> None:
        self.killed.set()


class _Environment:
    """An execution environment for the killer: counts how often the killer has looked at it."""

    def __init__(self) -> None:
        self.process = _Process()
        self.working = False
        self.looks = 0
        self.looked_thrice = threading.Event()

    @property
    def busy(self) -> bool:
        self.looks += 1
        if self.looks >= 3:
            self.looked_thrice.set()
        return self.working


def test_killer_waits_for_an_invocation_in_progress() -> None:
    env = _Environment()
    stop = threading.Event()
    kills: list[int] = []
    thread = threading.Thread(target=chaos._killer, args=([env], 0.01, random.Random(1), stop, kills))
    thread.start()
    assert env.looked_thrice.wait(5)  # the killer has looked, and found nothing running ...
    assert not env.process.killed.is_set()  # ... so nothing is killed
    env.working = True
    assert env.process.killed.wait(5)
    stop.set()
    thread.join()
    assert kills == [42]


def test_the_killer_leaves_a_process_that_has_not_started_yet() -> None:
    env = _Environment()
    env.working = True
    env.process.first_next_at = None  # the runner's next process, visible before it runs
    stop = threading.Event()
    thread = threading.Thread(target=chaos._killer, args=([env], 0.01, random.Random(1), stop, []))
    thread.start()
    assert env.looked_thrice.wait(5)
    assert not env.process.killed.is_set()
    env.process.first_next_at = 2.0
    assert env.process.killed.wait(5)
    stop.set()
    thread.join()


def test_a_repeat_after_a_killed_invocation_of_its_message_is_allowed() -> None:
    rules = _msft_above_450(cooldown_seconds=60)
    body = _tick(451.0, "2026-11-25T14:30:00Z")
    killed = InvocationResult("error", b"{}", "Runtime.ExitError", 0.1, "r1")
    ok = InvocationResult("ok", b"{}", None, 0.1, "r2")
    outcomes = [BatchOutcome(["m0"], killed, [], ["m0"]), BatchOutcome(["m0b"], ok, ["m0b"], [])]
    alert = "2026-11-25T14:30:00.000000Z#r"
    summary = _evaluate(
        rules_doc=rules,
        bodies=[body],
        messages_sent=1,
        ids_to_body={"m0": body, "m0b": body},
        outcomes=outcomes,
        stored=[{"symbol": "MSFT", "timestamp": alert}],
        notes=[_note(f"MSFT|{alert}")] * 2,
        kills=[1],
    )
    assert summary["violations"] == []
    assert summary["repeated_notifications"] == summary["repeats_following_an_interruption"] == 1
    assert summary["interrupted_invocations"] == 1
    assert summary["repeats"] == [
        {"alert": f"MSFT|{alert}", "notifications": 2, "after": ["Runtime.ExitError"]}
    ]


@pytest.mark.parametrize("logged", sorted(PERHAPS_SENT_TWICE))
def test_a_repeat_the_function_announced_is_allowed_and_another_alerts_log_explains_nothing(
    logged: str,
) -> None:
    rules = _msft_above_450(cooldown_seconds=60)
    bodies = [
        _tick(451.0, "2026-11-25T14:30:00Z"),
        _tick(1.0, "2026-11-25T14:30:30Z"),
        _tick(452.0, "2026-11-25T14:31:40Z"),
    ]
    ok = InvocationResult("ok", b"{}", None, 0.1, "r")
    first, second = "2026-11-25T14:30:00.000000Z#r", "2026-11-25T14:31:40.000000Z#r"
    lines = [
        "not a log line",
        "{not json",
        "[1]",
        json.dumps({"message": logged}),  # no alert named
        json.dumps({"message": "alert stored", "alert_id": f"MSFT|{second}"}),
        json.dumps({"message": logged, "alert_id": f"MSFT|{first}", "symbol": "MSFT"}),
    ]
    perhaps = perhaps_sent_twice(lines)
    assert perhaps == {f"MSFT|{first}": {logged}}
    summary = _evaluate(
        rules_doc=rules,
        bodies=bodies,
        messages_sent=3,
        ids_to_body={"m0": bodies[0], "m1": bodies[1], "m2": bodies[2]},
        outcomes=[BatchOutcome(["m0", "m1", "m2"], ok, ["m0", "m1", "m2"], [])],
        stored=[{"symbol": "MSFT", "timestamp": first}, {"symbol": "MSFT", "timestamp": second}],
        notes=[_note(f"MSFT|{first}")] * 2 + [_note(f"MSFT|{second}")] * 2,
        perhaps_sent=perhaps,
    )
    assert summary["repeats"] == [
        {"alert": f"MSFT|{first}", "notifications": 2, "after": [logged]},
        {"alert": f"MSFT|{second}", "notifications": 2, "after": []},
    ]
    assert summary["violations"] == [
        f"alert MSFT|{second} notified 2 times, after no interrupted invocation of its message and no log"
        " of a repeat"
    ]


def _rejected(body: str, reason: str) -> dict[str, Any]:
    return {"Body": body, "MessageAttributes": {"RejectionReason": {"StringValue": reason}}}


def test_hostile_bodies_are_checked_against_their_cases() -> None:
    cases = [
        BodyCase("valid", '{"v":1}', None, ("HV01|t#block-trade",)),
        BodyCase("valid-but-dead-lettered", '{"v":2}', None),
        BodyCase("missing", '{"v":3}', "bad"),
        BodyCase("wrong-reason", '{"v":4}', "tick[0].price: bad"),
        BodyCase("truncated", '{"v":5}', "tick[0]", reason_prefix=True),
        BodyCase("exact", '{"v":6}', "exact reason", ("HV02|t#block-trade",)),
    ]
    rejected = {
        '{"v":2}': "why",
        '{"v":4}': "tick[0].price: other",
        '{"v":5}': "tick[0].symbol...",
        '{"v":6}': "exact reason",
    }
    assert chaos._hostile_violations(cases, rejected, {"HV02|t#block-trade"}) == [
        "hostile valid: alert HV01|t#block-trade not stored",
        "hostile valid-but-dead-lettered: valid, yet dead-lettered (why)",
        "hostile missing: not in the DLQ with a reason",
        "hostile wrong-reason: reason 'tick[0].price: other', expected 'tick[0].price: bad'",
    ]


def test_a_repeat_of_a_hostile_bodys_alert_follows_the_interruption_of_that_body() -> None:
    case = BodyCase("deep", "[" * 5000 + "]" * 5000, "body: nesting deeper than 4 levels")
    valid = BodyCase("valid", '{"symbol":"HV01"}', None, ("HV01|t#block-trade",))
    timed_out = InvocationResult("timeout", b"", "Sandbox.Timedout", 8.0, "r1")
    ok = InvocationResult("ok", b"{}", None, 0.1, "r2")
    summary = _evaluate(
        rules_doc={"rules": []},
        bodies=[case.body, valid.body],
        messages_sent=2,
        ids_to_body={"h1": case.body, "h2": valid.body, "h2b": valid.body},
        outcomes=[
            BatchOutcome(["h1", "h2"], timed_out, [], ["h1", "h2"]),
            BatchOutcome(["h1", "h2b"], ok, ["h1", "h2b"], []),
        ],
        stored=[{"symbol": "HV01", "timestamp": "t#block-trade"}],
        notes=[
            {"Message": json.dumps({"alert_id": "HV01|t#block-trade", "message_id": m})}
            for m in ("h2", "h2b")
        ],
        dead=[_rejected(case.body, case.reason or "")],
        dead_before_recovery=1,
        hostile=[case, valid],
        recovered=1,
    )
    assert summary["violations"] == []
    assert summary["repeats"] == [
        {"alert": "HV01|t#block-trade", "notifications": 2, "after": ["Sandbox.Timedout"]}
    ]
    assert (summary["hostile_bodies"], summary["ticks_sent"]) == (2, 0)


def test_mix_keeps_both_orders_and_every_body() -> None:
    mixed = chaos.mix(["a", "b", "c"], ["X", "Y"], random.Random(3))
    assert sorted(mixed) == ["X", "Y", "a", "b", "c"]
    assert [b for b in mixed if b.islower()] == ["a", "b", "c"]
    assert [b for b in mixed if b.isupper()] == ["X", "Y"]
    assert chaos.mix(["a", "b", "c"], ["X", "Y"], random.Random(3)) == mixed  # seeded


def test_sweep_has_every_kind_once_and_the_schedule_opens_and_closes_the_outage() -> None:
    sweep = chaos.sweep_rules()
    assert {r.kind for r in sweep} == CAMPAIGN_KINDS
    assert all(r.limit == 1 and r.probability == 1.0 for r in sweep)

    class Recorder:
        def __init__(self) -> None:
            self.sets: list[list[FaultRule]] = []

        def set_rules(self, rules: list[FaultRule]) -> None:
            self.sets.append(list(rules))

    failed_twice = [_outcome(failed=["m1"]), _outcome(failed=["m1", "m2"])]
    proxy = Recorder()
    cfg = ChaosConfig(seconds=1, outage_at_s=0.01, outage_s=0.01, max_receive_count=2)
    chaos._schedule(proxy, cfg, failed_twice, threading.Event())  # type: ignore[arg-type]
    assert [chaos.OUTAGE in rules for rules in proxy.sets] == [True, False]
    assert all(rules[: len(sweep)] == sweep for rules in proxy.sets)

    # No message bound for the DLQ yet: the outage goes on past outage_s until one is (here: another thread
    # records m2's second failure), or until the cap.
    outcomes = [_outcome(failed=["m1", "m2"])]
    waiting = Recorder()
    scheduler = threading.Thread(target=chaos._schedule, args=(waiting, cfg, outcomes, threading.Event()))
    scheduler.start()
    while not waiting.sets:
        time.sleep(0.01)
    time.sleep(0.2)
    assert [chaos.OUTAGE in rules for rules in waiting.sets] == [True]  # outage_s (0.01 s) long past
    outcomes.append(_outcome(failed=["m2"]))
    scheduler.join(5)
    assert [chaos.OUTAGE in rules for rules in waiting.sets] == [True, False]
    capped = Recorder()
    chaos._schedule(capped, replace(cfg, outage_cap_s=0.05), [], threading.Event())  # type: ignore[arg-type]
    assert [chaos.OUTAGE in rules for rules in capped.sets] == [True, False]

    quiet = Recorder()
    chaos._schedule(quiet, ChaosConfig(seconds=1), [], threading.Event())  # type: ignore[arg-type]
    stopped = threading.Event()
    stopped.set()
    chaos._schedule(quiet, ChaosConfig(seconds=1, outage_at_s=5, outage_s=5), [], stopped)  # type: ignore[arg-type]
    assert quiet.sets == []  # no outage configured; stopped before it began


def test_dead_lettered_counts_each_messages_failed_receives() -> None:
    assert not chaos.dead_lettered([], 1)
    once_each = [_outcome(failed=["a"]), _outcome(failed=["b"]), _outcome(deleted=["a"])]
    assert chaos.dead_lettered(once_each, 1)
    assert not chaos.dead_lettered(once_each, 2)
    assert chaos.dead_lettered([*once_each, _outcome(failed=["b", "c"])], 2)


def _outcome(failed: list[str] | None = None, deleted: list[str] | None = None) -> BatchOutcome:
    ids = [*(failed or []), *(deleted or [])]
    return BatchOutcome(ids, InvocationResult("ok", b"{}", None, 0.1, "req"), deleted or [], failed or [])


class _Queue:
    """get_queue_attributes of a queue whose depth follows `depths` (then stays at the last)."""

    def __init__(self, depths: list[int]) -> None:
        self.depths = depths

    def get_queue_attributes(self, **_: Any) -> dict[str, Any]:
        depth = self.depths.pop(0) if len(self.depths) > 1 else self.depths[0]
        attributes = {"ApproximateNumberOfMessages": str(depth), "ApproximateNumberOfMessagesNotVisible": "0"}
        return {"Attributes": attributes}


def test_draining_waits_while_the_backlog_shrinks_and_gives_up_when_it_is_stuck() -> None:
    idle = [SimpleNamespace(busy=False)]
    shrinking = _Queue([50, 40, 40, 30, 20, 10, 0])
    assert chaos._wait_drained(shrinking, "q", idle, stall_s=0.5, poll_s=0.01)  # type: ignore[arg-type]
    stuck = _Queue([7])
    started = time.monotonic()
    assert not chaos._wait_drained(stuck, "q", idle, stall_s=0.1, poll_s=0.01)  # type: ignore[arg-type]
    assert time.monotonic() - started >= 0.1
    busy = [SimpleNamespace(busy=True)]  # an invocation still running: not drained yet
    assert not chaos._wait_drained(_Queue([0]), "q", busy, stall_s=0.1, poll_s=0.01)  # type: ignore[arg-type]


# ---- rule changes during the feed (tests/chaos/live_rules.py) ----------------------------------------------
T0 = "2026-11-25T14:30:00Z"


class _FakeApi:
    """The API function's answers for one trader: each rule's state; every change answers `effective_from`
    T0 + the number of changes so far (seconds); scripted statuses per (method, path) come first."""

    def __init__(self, scripted: dict[tuple[str, str], list[int]] | None = None) -> None:
        self.calls: list[tuple[str, str, Any, dict[str, str]]] = []  # headers but the Idempotency-Key
        self.keys: list[str] = []
        self.scripted = scripted or {}
        self.states: dict[str, list[str]] = {}  # rule id -> the states GET answers, the last one repeated
        self.changes = 0

    def call(self, owner: str, method: str, path: str, body: Any = None, **headers: str) -> Answer:
        assert owner == "alice"
        self.keys.append(headers.pop("idempotency-key", ""))
        self.calls.append((method, path, body, headers))
        if self.scripted.get((method, path)):
            status = self.scripted[(method, path)].pop(0)
            if status == 0:
                raise InvocationFailedError("timed out")
            return Answer(status, {}, {"title": "scripted"})
        if method == "GET":
            states = self.states.setdefault(path.split("/")[2], ["active"])
            return Answer(200, {"etag": '"3"'}, {"state": states.pop(0) if len(states) > 1 else states[0]})
        self.changes += 1
        answer = {"rule": {"id": "r-new"}, "effective_from": f"2026-11-25T14:30:{self.changes:02d}Z"}
        return Answer(201 if method == "POST" and path == "/rules" else 200, {}, answer)


class _FakeTool:
    def __init__(self) -> None:
        self.runs: list[tuple[str, ...]] = []

    def run(self, *args: str) -> str:
        self.runs.append(args)
        return f"{args[-1]} effective_from 2026-11-25T14:31:00.000000Z\n"


def _player(api: _FakeApi, tool: _FakeTool | None = None) -> Player:
    """A player whose schedule is all in the past of its clock: no waiting."""
    clock = Clock()
    return Player(api, tool or _FakeTool(), "alice", clock, clock.now_micros() - 10**12, {"old": "r-old"})


def _us(ts: str) -> int:
    return oracle.normalise_timestamp(ts)[1]


def test_the_player_commits_each_change_through_its_route_and_records_its_effective_from() -> None:
    api, tool = _FakeApi(), _FakeTool()
    player = _player(api, tool)
    body = {"symbol": "TSLA", "condition": "price_above", "threshold": 300, "severity": "info"}
    changes = [
        Change(0, "create", "new", body),
        Change(1, "edit", "old", {"threshold": 5}),
        Change(2, "pause", "old"),
        Change(3, "suspend", symbol="BTC-USD"),
        Change(4, "delete", "new"),
    ]
    player.play(changes, threading.Event())
    assert player.errors == []
    sent = [(m, p, b, h) for m, p, b, h in api.calls if m != "GET"]
    assert sent == [
        ("POST", "/rules", {"name": "new", **body}, {}),
        ("PATCH", "/rules/r-old", {"threshold": 5}, {"if-match": '"3"'}),  # the revision just read
        ("POST", "/rules/r-old/pause", None, {}),
        ("DELETE", "/rules/r-new", None, {}),
    ]
    assert tool.runs == [("suspend", "BTC-USD")]
    assert [(a.change.action, a.rule_id, a.effective_from_us) for a in player.applied] == [
        ("create", "r-new", _us("2026-11-25T14:30:01Z")),
        ("edit", "r-old", _us("2026-11-25T14:30:02Z")),
        ("pause", "r-old", _us("2026-11-25T14:30:03Z")),
        ("suspend", "", _us("2026-11-25T14:31:00Z")),
        ("delete", "r-new", _us("2026-11-25T14:30:04Z")),
    ]
    assert player.rule_ids == {"old": "r-old", "new": "r-new"}


def test_the_player_sends_again_what_was_not_committed_and_records_what_was_refused() -> None:
    api = _FakeApi({("PATCH", "/rules/r-old"): [412, 503], ("POST", "/rules/r-old/resume"): [409]})
    player = _player(api)
    player.play([Change(0, "edit", "old", {"threshold": 5}), Change(1, "resume", "old")], threading.Event())
    assert player.retries == 2
    assert [a.change.action for a in player.applied] == ["edit"]
    assert player.errors == ["POST /rules/r-old/resume: 409 {'title': 'scripted'}"]
    patches = [h for m, _, _, h in api.calls if m == "PATCH"]
    assert patches == [{"if-match": '"3"'}] * 3  # each attempt names the revision it read again
    keys = [k for (m, _, _, _), k in zip(api.calls, api.keys, strict=True) if m == "PATCH"]
    assert len(set(keys)) == 3  # three requests: each its own Idempotency-Key


def test_an_invocation_that_failed_is_sent_again_with_its_idempotency_key_a_few_times() -> None:
    api = _FakeApi({("POST", "/rules/r-old/pause"): [0, 0]})
    player = _player(api)
    player.play([Change(0, "pause", "old")], threading.Event())
    assert [a.change.action for a in player.applied] == ["pause"]
    assert len(api.keys) == 3
    assert len(set(api.keys)) == 1  # the same request: applied at most once, whichever attempt committed
    failing = _FakeApi({("POST", "/rules/r-old/pause"): [0, 0, 0, 0]})
    with pytest.raises(InvocationFailedError):
        _player(failing).play([Change(0, "pause", "old")], threading.Event())
    assert len(failing.calls) == 4


def test_a_rearm_waits_until_its_rule_has_triggered() -> None:
    api = _FakeApi()
    api.states["r-old"] = ["active", "active", "triggered"]
    player = _player(api)
    player.play([Change(0, "rearm", "old")], threading.Event())
    assert [(m, p) for m, p, _, _ in api.calls] == [("GET", "/rules/r-old")] * 3 + [
        ("POST", "/rules/r-old/rearm")
    ]
    assert [a.change.action for a in player.applied] == ["rearm"]

    never = _FakeApi()  # the feed ends (stop) before the rule triggers: the re-arm is refused, not sent
    stop = threading.Event()
    waiting = _player(never)
    thread = threading.Thread(target=waiting.play, args=([Change(0, "rearm", "old")], stop))
    thread.start()
    while len(never.calls) < 2:
        time.sleep(0.01)
    stop.set()
    thread.join(5)
    assert waiting.applied == []
    assert waiting.errors == ["re-arm of /rules/r-old: the feed ended before the rule triggered"]
    assert all(m == "GET" for m, _, _, _ in never.calls)


def test_the_player_waits_for_each_changes_time_in_the_feeds_clock_and_stops_when_told() -> None:
    clock = Clock()
    api = _FakeApi()
    player = Player(api, _FakeTool(), "alice", clock, clock.now_micros(), {"old": "r-old"})
    stop = threading.Event()
    started = time.monotonic()
    thread = threading.Thread(
        target=player.play, args=([Change(0.2, "pause", "old"), Change(60, "resume", "old")], stop)
    )
    thread.start()
    while not player.applied:
        time.sleep(0.01)
    assert time.monotonic() - started >= 0.2  # not before its time
    stop.set()  # the second change's time is a minute away: stopping ends the wait
    thread.join(5)
    assert not thread.is_alive()
    assert [a.change.action for a in player.applied] == ["pause"]


def _version(n: int, start: str | None, until: str | None, arming: int = 1, **more: Any) -> dict[str, Any]:
    return {
        "version": n,
        "effective_from": start,
        "effective_until": until,
        "symbol": "TSLA",
        "condition": "price_above",
        "threshold": 300,
        "severity": "info",
        "mode": "once",
        "arming": arming,
        "enabled": True,
        **more,
    }


def test_what_was_committed_is_read_back_as_the_replays_versions_and_controls() -> None:
    a, b, c = "2026-11-25T14:30:05.000000Z", "2026-11-25T14:31:00.5Z", "2026-11-25T14:32:00Z"
    answer = {
        "rule_id": "r1",
        "versions": [
            _version(1, a, b),
            _version(2, b, c, arming=2, mode="every", cooldown_seconds=5, expires_at="2026-11-26T00:00:00Z"),
            _version(3, c, None, arming=2, enabled=False),
        ],
    }
    versions = versions_of_answer("tsla", answer)
    assert versions == [
        Version("tsla", 1, "TSLA", "price_above", 300.0, "info", "once", 1, 0, 1, _us(a), _us(b)),
        Version(
            "tsla",
            2,
            "TSLA",
            "price_above",
            300.0,
            "info",
            "every",
            5,
            0,
            2,
            _us(b),
            _us(c),
            _us("2026-11-26T00:00:00Z"),
        ),
    ]
    listing = f"BTC-USD suspended [{a}, {b})\nBTC-USD suspended [{c}, open)\nNVDA suspended [{a}, open)\n"
    controls = controls_of_listing(listing)
    assert controls.suspensions == {
        "BTC-USD": [Span(_us(a), _us(b)), Span(_us(c), None)],
        "NVDA": [Span(_us(a), None)],
    }
    with pytest.raises(ValueError, match="not a suspension"):
        controls_of_listing(f"MSFT band 1 2 [{a}, open)")

    def applied(action: str, at: str, rule: str = "tsla", symbol: str = "") -> Applied:
        return Applied(Change(0, action, rule, symbol=symbol), "r1", _us(at))

    held = [
        applied("create", a),
        applied("rearm", b),
        applied("suspend", a, "", "BTC-USD"),
        applied("resume-symbol", b, "", "BTC-USD"),
    ]
    assert check_applied(held, versions, controls) == []
    wrong = [
        applied("edit", a),  # v1 opens at a, nothing closes there
        applied("pause", b),  # v2 opens where v1 closes: an edit or a re-arm, not a pause
        applied("delete", b),  # v2 is still open after b
        applied("resume", c),  # v3 (disabled) is not read back
        applied("suspend", b, "", "NVDA"),
        applied("resume-symbol", a, "", "NVDA"),
    ]
    assert check_applied(wrong, versions, controls) == [
        f"edit tsla at {_us(a)}: not what the rules table holds",
        f"pause tsla at {_us(b)}: not what the rules table holds",
        f"delete tsla at {_us(b)}: not what the rules table holds",
        f"resume tsla at {_us(c)}: not what the rules table holds",
        f"suspend NVDA at {_us(b)}: not what the rules table holds",
        f"resume-symbol NVDA at {_us(a)}: not what the rules table holds",
    ]
    rearm_without_new_arming = versions_of_answer(
        "tsla", {"versions": [_version(1, a, b), _version(2, b, None)]}
    )
    assert check_applied([applied("rearm", b)], rearm_without_new_arming, Controls()) != []
    assert check_applied([applied("delete", c)], versions, Controls()) == []  # every version closed by then


def test_the_standard_schedule_spreads_every_kind_of_change_over_the_feed() -> None:
    changes = schedule(100.0)
    assert {c.action for c in changes} == {*TRADER_ACTIONS, *OPERATOR_ACTIONS}
    assert [c.at_s for c in changes] == sorted(c.at_s for c in changes)
    assert changes[0].at_s > 0
    assert changes[-1].at_s < 100.0
    created = [c.rule for c in changes if c.action == "create"]
    assert all(c.rule in (*created, *json_rule_names()) for c in changes if c.action in TRADER_ACTIONS)
    rearm = next(c for c in changes if c.action == "rearm")
    assert next(c for c in changes if c.rule == rearm.rule).body["mode"] == "once"  # type: ignore[index]


def json_rule_names() -> list[str]:
    return [r.id for r in oracle.load_rules(json.loads(chaos.RULES_PATH.read_text()))]


def test_the_feed_is_generated_dense_enough_for_its_send_rate_at_the_clocks_speed() -> None:
    cfg = ChaosConfig(seconds=60, send_rate=10, speed=5)
    bodies = chaos.generate_feed(
        chaos.FeedConfig(seed=1, messages=600, malformed=0, mean_interval_s=chaos.feed_interval_s(cfg))
    )
    stamps = [t.ts_us for body in oracle.parse_feed(bodies) for t in body.ticks]
    per_event_second = len(bodies) / ((max(stamps) - min(stamps)) / 1e6)
    assert per_event_second * cfg.speed == pytest.approx(cfg.send_rate, rel=0.15)

"""The oracle (tests/chaos/event_time.py, tests/chaos/judge.py) on the hand-computed event-time scenario
lib/lambda/tests/data/event_time_golden.json: its in-order replay is the file's `replay`, and the judge
accepts the file's `expected` (the stored set after the batches) with exactly the differences F3 allows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.chaos.event_time import Band, Controls, Span, Version, beyond_window, in_order_replay
from tests.chaos.judge import Fidelity, judge
from tests.chaos.oracle import Tick, normalise_timestamp, parse_tick

GOLDEN = Path(__file__).resolve().parents[2] / "lib" / "lambda" / "tests" / "data" / "event_time_golden.json"


def _us(text: str | None) -> int | None:
    return None if text is None else normalise_timestamp(text)[1]


def _version(v: dict[str, Any]) -> Version:
    return Version(
        v["id"],
        v["version"],
        v["symbol"],
        v["condition"],
        float(v["threshold"]),
        v["severity"],
        v["mode"],
        v["cooldown_seconds"],
        v["bar_seconds"],
        v["arming"],
        _us(v["from"]),
        _us(v["until"]),
        _us(v["expires_at"]),
    )


def _controls(doc: dict[str, Any]) -> Controls:
    suspensions = {
        s: [Span(_us(w["from"]), _us(w["until"])) for w in c["suspensions"]] for s, c in doc.items()
    }
    bands = {
        s: [Band(_us(b["from"]), _us(b["until"]), float(b["low"]), float(b["high"])) for b in c["bands"]]
        for s, c in doc.items()
    }
    return Controls(suspensions, bands)


def _alerts(items: list[dict[str, Any]]) -> list[tuple[str, str, int, str, int]]:
    return [(a["symbol"], a["tick"], a["seq"], a["rule"], a["version"]) for a in items]


def _stored(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The expected alerts as the alerts table keys them (F4), with the seq the golden format adds."""
    return [{"symbol": a["symbol"], "timestamp": f"{a['tick']}#{a['rule']}", "seq": a["seq"]} for a in items]


@pytest.fixture(scope="module")
def golden() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(GOLDEN.read_text())
    doc["batches"] = [[parse_tick(t) for t in batch] for batch in doc["batches"]]
    doc["versions"] = [_version(v) for v in doc["versions"]]
    doc["controls"] = _controls(doc["controls"])
    return doc


def _replay_and_beyond(golden: dict[str, Any]) -> tuple[Any, set[tuple[str, int, int]]]:
    delivered: list[Tick] = [t for batch in golden["batches"] for t in batch]
    replay = in_order_replay(delivered, golden["versions"], golden["controls"])
    window_us = golden["limits"]["reorder_window_seconds"] * 1_000_000
    return replay, beyond_window(golden["batches"], window_us, golden["controls"])


def test_the_in_order_replay_is_the_hand_computed_one(golden: dict[str, Any]) -> None:
    replay, _ = _replay_and_beyond(golden)
    got = [(f.symbol, f.ts, f.seq, f.rule, f.version) for f in replay.fires]
    assert got == _alerts(golden["replay"])
    # what was not applied: 2 out-of-band prints, 2 suspended ticks, 1 duplicate position
    assert dict(replay.not_applied) == {"out_of_band": 2, "suspended": 2, "duplicate": 1}


def test_only_the_two_late_ticks_of_late_arrive_beyond_w(golden: dict[str, Any]) -> None:
    _, beyond = _replay_and_beyond(golden)
    assert beyond == {("LATE", _us("2026-11-25T14:30:20Z"), 0), ("LATE", _us("2026-11-25T14:30:30Z"), 0)}


def _per_rule(fidelity: Fidelity) -> dict[str, tuple[int, int, int, int, dict[str, int], int, int]]:
    return {
        rule: (r.replay, r.stored, r.matched, r.mode_choices, +r.missing, r.extra, r.duplicates)
        for rule, r in fidelity.rules.items()
    }


def test_the_judge_accepts_the_expected_stored_set_with_its_differences_explained(
    golden: dict[str, Any],
) -> None:
    replay, beyond = _replay_and_beyond(golden)
    fidelity = judge(replay, _stored(golden["expected"]), beyond)
    assert fidelity.problems() == []
    assert fidelity.ok
    assert not fidelity.exact
    # (replay, stored, matched, mode choices, missing by reason, extra, duplicates), counted by hand
    assert _per_rule(fidelity) == {
        "ex1": (1, 1, 1, 0, {}, 0, 0),
        "ex2": (2, 2, 2, 0, {}, 0, 0),
        "late": (2, 1, 1, 0, {"beyond_w": 1}, 0, 0),
        "ver": (4, 4, 4, 0, {}, 0, 0),
        "mod-once": (1, 1, 0, 1, {"mode_choice": 1}, 0, 0),
        "mod-every": (3, 2, 0, 2, {"mode_choice": 3}, 0, 0),
        "mod-bar": (2, 2, 1, 1, {"mode_choice": 1}, 0, 0),
        "star-once": (1, 1, 0, 1, {"mode_choice": 1}, 0, 0),
        "exp": (2, 2, 2, 0, {}, 0, 0),
        "sus": (1, 1, 1, 0, {}, 0, 0),
        "oob-x": (1, 1, 1, 0, {}, 0, 0),
        "oob-once": (1, 1, 1, 0, {}, 0, 0),
        "dup": (1, 1, 1, 0, {}, 0, 0),
    }
    stored, kept_out = "which the replay's mode excludes", "not stored: a stored fire of the rule excludes it"
    at = "MOD 2026-11-25T14:3{}.000000Z".format
    assert fidelity.as_dict()["choices"] == [
        f"mod-bar: stored {at('0:20')}, {stored}",
        f"mod-bar: replay {at('0:10')} {kept_out}",
        f"mod-every: stored {at('0:20')}, {stored}",
        f"mod-every: stored {at('0:50')}, {stored}",
        f"mod-every: replay {at('0:10')} {kept_out}",
        f"mod-every: replay {at('0:45')} {kept_out}",
        f"mod-every: replay {at('1:15')} {kept_out}",
        f"mod-once: stored {at('0:20')}, {stored}",
        f"mod-once: replay {at('0:10')} {kept_out}",
        f"star-once: stored EXP 2026-11-25T14:30:49.000000Z, {stored}",
        f"star-once: replay {at('0:45')} {kept_out}",
    ]


def test_without_knowing_what_arrived_beyond_w_the_late_miss_needs_a_count(golden: dict[str, Any]) -> None:
    replay, _ = _replay_and_beyond(golden)
    stored = _stored(golden["expected"])
    unknown = judge(replay, stored)
    assert not unknown.ok
    assert unknown.problems() == [
        "late: missing: LATE 2026-11-25T14:30:20.000000Z (the replay fires there; nothing explains it)"
    ]
    assert judge(replay, stored, beyond_w_count=2).ok  # two ticks counted beyond W


@pytest.mark.parametrize(
    ("symbol", "tick", "rule", "kind", "count"),
    [
        # the crossing of EX1 stored twice in its one excursion (keys t2 and t3): one alert per crossing
        ("EX1", "14:30:20", "ex1", "duplicates", 1),
        # VER 61@65 crossed from a tick of another threshold's window: no continuity
        ("VER", "14:31:05", "ver", "extra", 1),
        # the expired EXP tick at 14:31:00
        ("EXP", "14:31:00", "exp", "extra", 1),
        # a mod-every fire at 45: closer than its 30 s cooldown to both stored fires, 20 and 50
        ("MOD", "14:30:45", "mod-every", "extra", 2),
        # a second fire of the '*' once rule, on another symbol
        ("MOD", "14:30:45", "star-once", "extra", 1),
        # the suspended SUS tick 101@25, never applied
        ("SUS", "14:30:25", "sus", "extra", 1),
    ],
)
def test_the_judge_rejects_what_f3_forbids_added_to_the_expected_set(
    golden: dict[str, Any], symbol: str, tick: str, rule: str, kind: str, count: int
) -> None:
    replay, beyond = _replay_and_beyond(golden)
    added = {"symbol": symbol, "timestamp": f"2026-11-25T{tick}.000000Z#{rule}"}
    fidelity = judge(replay, [*_stored(golden["expected"]), added], beyond)
    assert getattr(fidelity.rules[rule], kind) == count
    assert not fidelity.ok


def test_a_matched_alert_left_out_is_missing_unexplained(golden: dict[str, Any]) -> None:
    replay, beyond = _replay_and_beyond(golden)
    without = judge(replay, [s for s in _stored(golden["expected"]) if s["symbol"] != "SUS"], beyond)
    assert without.rules["sus"].missing["unexplained"] == 1
    assert not without.ok

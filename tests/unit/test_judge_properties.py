"""Properties of the judge (tests/chaos/judge.py) on random ticks, rule versions and controls: the replay's
own alerts are judged exact; one of them removed is reported missing (unexplained), and that one only; one
stored twice is reported as a duplicate, and that one only."""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.chaos.event_time import CROSSING, LEVEL, Band, Controls, Replay, Span, Version, in_order_replay
from tests.chaos.judge import Fidelity, alert_items, judge
from tests.chaos.oracle import Tick, normalise_timestamp

SECOND = 1_000_000
BASE_US = normalise_timestamp("2026-11-25T14:30:00Z")[1]
SYMBOLS = ("A", "B")


@st.composite
def ticks(draw: st.DrawFn) -> list[Tick]:
    out = []
    for _ in range(draw(st.integers(0, 40))):
        second = draw(st.integers(0, 180))
        quote = draw(st.booleans())
        us = BASE_US + second * SECOND
        ts = normalise_timestamp(f"2026-11-25T14:{30 + second // 60}:{second % 60:02d}Z")[0]
        out.append(
            Tick(
                draw(st.sampled_from(SYMBOLS)),
                float(draw(st.sampled_from((98, 99, 100, 101, 102)))),
                ts,
                us,
                draw(st.none() | st.integers(0, 200)),
                99.0 if quote else None,
                draw(st.sampled_from((99.2, 99.8))) if quote else None,
                draw(st.integers(0, 1)),
            )
        )
    return out


@st.composite
def versions(draw: st.DrawFn) -> list[Version]:
    out = []
    for n in range(draw(st.integers(1, 3))):
        cuts = sorted(draw(st.sets(st.integers(1, 179), max_size=3)))
        edges: list[int | None] = [None, *(BASE_US + c * SECOND for c in cuts), None]
        symbol = draw(st.sampled_from((*SYMBOLS, "*")))
        condition = draw(st.sampled_from(CROSSING + LEVEL))
        threshold = draw(st.sampled_from((0.5, 100.0))) if condition == "spread_above" else 100.0
        for number, (start, end) in enumerate(itertools.pairwise(edges), start=1):
            if number > 1 and draw(st.booleans()):
                continue  # a pause: no version in this window (version 1 always exists)
            mode = draw(st.sampled_from(("once", "every", "once_per_bar")))
            expires = draw(st.none() | st.integers(0, 180))
            out.append(
                Version(
                    f"r{n}",
                    number,
                    symbol,
                    condition,
                    draw(st.sampled_from((threshold, threshold + 1))),
                    "info",
                    mode,
                    draw(st.integers(1, 30)),
                    60,
                    draw(st.integers(0, 1)),
                    start,
                    end,
                    None if expires is None else BASE_US + expires * SECOND,
                )
            )
    return out


@st.composite
def controls(draw: st.DrawFn) -> Controls:
    start = BASE_US + draw(st.integers(0, 180)) * SECOND
    suspension = (
        {"A": [Span(start, start + draw(st.integers(1, 30)) * SECOND)]} if draw(st.booleans()) else {}
    )
    band = {"B": [Band(None, None, 99.0, 101.5)]} if draw(st.booleans()) else {}
    return Controls(suspension, band)


def _totals(f: Fidelity) -> tuple[int, int, int, int, int]:
    missing = sum(r.missing["unexplained"] for r in f.rules.values())
    return f.total("matched"), f.total("mode_choices"), missing, f.total("extra"), f.total("duplicates")


def _pick(
    delivered: list[Tick], vs: list[Version], ctl: Controls, data: Any
) -> tuple[Replay, int, list[dict[str, Any]]]:
    """The replay, one of its alerts drawn at random (0 when it has none) and its alerts as stored items."""
    replay = in_order_replay(delivered, vs, ctl)
    chosen = data.draw(st.integers(0, len(replay.fires) - 1)) if replay.fires else 0
    return replay, chosen, alert_items(replay.fires)


@settings(max_examples=150, deadline=None)
@given(ticks(), versions(), controls())
def test_the_replay_judged_against_itself_is_exact(
    delivered: list[Tick], vs: list[Version], ctl: Controls
) -> None:
    replay = in_order_replay(delivered, vs, ctl)
    fidelity = judge(replay, alert_items(replay.fires))
    assert fidelity.problems() == []
    assert fidelity.ok
    assert fidelity.exact
    assert _totals(fidelity) == (len(replay.fires), 0, 0, 0, 0)


@settings(max_examples=150, deadline=None)
@given(ticks(), versions(), controls(), st.data())
def test_one_alert_removed_is_reported_missing_and_only_it(
    delivered: list[Tick], vs: list[Version], ctl: Controls, data: Any
) -> None:
    replay, lost, items = _pick(delivered, vs, ctl, data)
    if not items:
        return
    fidelity = judge(replay, items[:lost] + items[lost + 1 :])
    gone = replay.fires[lost]
    assert _totals(fidelity) == (len(replay.fires) - 1, 0, 1, 0, 0)
    assert fidelity.rules[gone.rule].missing["unexplained"] == 1
    assert fidelity.problems() == [
        f"{gone.rule}: missing: {gone.symbol} {gone.ts} (the replay fires there; nothing explains it)"
    ]
    # the same loss explained: its tick arrived beyond W
    assert judge(replay, items[:lost] + items[lost + 1 :], {gone.position}).ok


@settings(max_examples=150, deadline=None)
@given(ticks(), versions(), controls(), st.data())
def test_one_alert_stored_twice_is_reported_as_a_duplicate(
    delivered: list[Tick], vs: list[Version], ctl: Controls, data: Any
) -> None:
    replay, twice, items = _pick(delivered, vs, ctl, data)
    if not items:
        return
    fidelity = judge(replay, [*items, items[twice]])
    assert _totals(fidelity) == (len(replay.fires), 0, 0, 0, 1)
    assert fidelity.rules[replay.fires[twice].rule].duplicates == 1
    assert not fidelity.ok

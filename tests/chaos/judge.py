"""The judge of F3's guarantees: the stored alerts of a run against the in-order replay of the same ticks.

Stored alerts are matched to the replay per rule and excursion:
- a crossing alert matches the replay's fire of the excursion (the run of applied ticks on the fire side,
  in position order) that contains its tick: a crossing moved to an earlier tick of its excursion keeps the
  key it was first stored under; a second alert in one excursion is a duplicate (one alert per crossing);
- a level alert matches the replay's fire at the same tick;
- an unmatched stored alert is a counted MODE CHOICE when its tick qualifies (version effective, condition
  or crossing holds) and the rule's mode forbids it next to a fire of the replay (a cooldown on either side,
  the same arming of `once`, the same bar): the choice between fires discovered out of order; otherwise it
  is EXTRA. Two stored fires that the mode forbids together are extra as well.
A replay fire left unmatched is MISSING, with its reason: `beyond_w` (a tick of its excursion or the one
before it arrived beyond the reorder window W, when the caller knows which; else counted against the run's
ticks beyond W, per rule), `mode_choice` (a stored fire of the rule forbids it), or `unexplained`.
Full fidelity: no unexplained miss, no extra, no duplicate. The same key stored twice is a duplicate.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from tests.chaos.event_time import (
    Fire,
    Replay,
    TickLike,
    Version,
    conflict,
    crossing_at,
    on_fire_side,
    qualifies,
    version_at,
)

MISSING_REASONS = ("beyond_w", "mode_choice", "unexplained")
Position = tuple[str, int, int]  # (symbol, timestamp in us, seq)


@dataclass(frozen=True)
class Stored:
    """A stored alert as the judge needs it: its table key (symbol, "<ts>#<rule>") and seq when known."""

    symbol: str
    ts: str
    rule: str
    seq: int | None = None

    @classmethod
    def of(cls, item: Mapping[str, Any]) -> Stored:
        ts, _, rule = str(item["timestamp"]).partition("#")
        seq = item.get("seq")
        return cls(str(item["symbol"]), ts, rule, None if seq is None else int(seq))


@dataclass
class RuleFidelity:
    replay: int = 0
    stored: int = 0
    matched: int = 0
    mode_choices: int = 0
    missing: Counter[str] = field(default_factory=Counter)
    extra: int = 0
    duplicates: int = 0
    notes: list[str] = field(default_factory=list)  # what breaks fidelity
    choices: list[str] = field(default_factory=list)  # the counted mode choices, each

    @property
    def ok(self) -> bool:
        return self.missing["unexplained"] == self.extra == self.duplicates == 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "replay": self.replay,
            "stored": self.stored,
            "matched": self.matched,
            "mode_choices": self.mode_choices,
            "missing": {reason: self.missing[reason] for reason in MISSING_REASONS},
            "extra": self.extra,
            "duplicates": self.duplicates,
        }


@dataclass
class Fidelity:
    rules: dict[str, RuleFidelity]

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.rules.values())

    @property
    def exact(self) -> bool:
        """The stored alerts are the replay's, one for one."""
        return all(r.matched == r.replay == r.stored for r in self.rules.values())

    def total(self, name: str) -> int:
        return sum(int(getattr(r, name)) for r in self.rules.values())

    def problems(self) -> list[str]:
        return [f"{rule}: {note}" for rule, r in sorted(self.rules.items()) for note in r.notes]

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "exact": self.exact,
            "replay": self.total("replay"),
            "stored": self.total("stored"),
            "matched": self.total("matched"),
            "per_rule": {rule: r.as_dict() for rule, r in sorted(self.rules.items())},
            "problems": self.problems()[:20],
            "choices": [f"{rule}: {c}" for rule, r in sorted(self.rules.items()) for c in r.choices][:50],
        }


@dataclass(frozen=True)
class _Placed:
    """A stored alert placed on the replay's ticks: the symbol's tick index and the version there."""

    stored: Stored
    index: int
    tick: TickLike
    version: Version
    anchor_us: int = 0  # where its crossing starts (a level alert: its tick)

    def near(self, v: Version, symbol: str, ts_us: int) -> bool:
        """Whether v's mode forbids a fire at (symbol, ts_us) next to this one, at its key or its start."""
        return any(
            conflict(v, symbol, ts_us, self.version, self.stored.symbol, at)
            for at in (self.tick.ts_us, self.anchor_us)
        )


class _Judge:
    def __init__(self, replay: Replay, beyond_w: Collection[Position], beyond_w_count: int) -> None:
        self.replay = replay
        self.beyond_w = beyond_w
        self.budget: Counter[str] = Counter({v.rule: beyond_w_count for v in replay.versions})
        self.report = {v.rule: RuleFidelity() for v in replay.versions}
        self.index = {
            symbol: {(t.ts_us, t.seq): i for i, t in enumerate(ticks)}
            for symbol, ticks in replay.applied.items()
        }
        self.at_ts: dict[tuple[str, str], list[int]] = defaultdict(list)  # (symbol, ts) -> tick indexes
        for symbol, ticks in replay.applied.items():
            for i, t in enumerate(ticks):
                self.at_ts[(symbol, t.ts)].append(i)
        self.fired: dict[tuple[str, str, int], Fire] = {}
        for f in replay.fires:
            self.fired[(f.rule, f.symbol, self.index[f.symbol][(f.ts_us, f.seq)])] = f
            self.rule(f.rule).replay += 1
        self.claimed: set[tuple[str, str, int]] = set()  # (rule, symbol, excursion start or tick index)
        self.kept: list[_Placed] = []  # matched and mode choices

    def rule(self, rule: str) -> RuleFidelity:
        return self.report.setdefault(rule, RuleFidelity())

    def version_of(self, f: Fire) -> Version:
        return next(v for v in self.replay.versions if (v.rule, v.version) == (f.rule, f.version))

    def place(self, s: Stored) -> _Placed | str:
        ticks = self.replay.applied.get(s.symbol, [])
        at = [i for i in self.at_ts.get((s.symbol, s.ts), []) if s.seq in (None, ticks[i].seq)]
        if not at:
            return f"{s.symbol} {s.ts}: no applied tick there"
        index = next((i for i in at if (s.rule, s.symbol, i) in self.fired), at[0])
        version = version_at(self.replay.versions, s.rule, s.symbol, ticks[index].ts_us)
        if version is None:
            return f"{s.symbol} {s.ts}: no version of the rule effective at its tick"
        return _Placed(s, index, ticks[index], version)

    def excursion(self, p: _Placed) -> int | None:
        """Where the excursion containing p's tick starts (None: the tick is not on the fire side)."""
        ticks, v = self.replay.applied[p.stored.symbol], p.version
        if not on_fire_side(v.condition, v.threshold, p.tick.price):
            return None
        start = p.index
        while start > 0 and on_fire_side(v.condition, v.threshold, ticks[start - 1].price):
            start -= 1
        return start

    def qualifies_at(self, p: _Placed, index: int) -> bool:
        ticks = self.replay.applied[p.stored.symbol]
        if not p.version.crossing:
            previous = ticks[index - 1] if index else None
            return qualifies(p.version, previous, ticks[index], self.replay.versions)
        v = version_at(self.replay.versions, p.stored.rule, p.stored.symbol, ticks[index].ts_us)
        return (
            v is not None
            and v.same_line(p.version)
            and index > 0
            and crossing_at(v, ticks[index - 1], ticks[index], self.replay.versions)
        )

    def forbidden_by_replay(self, p: _Placed) -> bool:
        """Whether the replay's mode kept it from firing where p's crossing starts (or at p's level tick)."""
        return any(
            conflict(p.version, p.stored.symbol, p.anchor_us, self.version_of(f), f.symbol, f.ts_us)
            for f in self.replay.fires
            if f.rule == p.stored.rule
        )

    def judge_stored(self, s: Stored) -> None:
        r = self.rule(s.rule)
        placed = self.place(s)
        if isinstance(placed, str):
            r.extra += 1
            r.notes.append(f"extra: {placed}")
            return
        anchor = self.excursion(placed) if placed.version.crossing else placed.index
        if anchor is None:
            r.extra += 1
            r.notes.append(f"extra: {s.symbol} {s.ts}: its tick is not beyond the line")
            return
        placed = replace(placed, anchor_us=self.replay.applied[s.symbol][anchor].ts_us)
        key = (s.rule, s.symbol, anchor)
        if key in self.claimed:
            r.duplicates += 1
            r.notes.append(f"duplicate: {s.symbol} {s.ts}: a second alert of one crossing")
            return
        if key in self.fired:
            r.matched += 1
        elif self.qualifies_at(placed, anchor) and self.forbidden_by_replay(placed):
            r.mode_choices += 1
            r.choices.append(f"stored {s.symbol} {s.ts}, which the replay's mode excludes")
        else:
            r.extra += 1
            r.notes.append(f"extra: {s.symbol} {s.ts}: no fire of the replay there and no mode choice")
            return
        self.claimed.add(key)
        self.kept.append(placed)

    def judge_kept_together(self) -> None:
        """Stored fires must respect the mode among themselves: cooldowns, bars, one per arming."""
        by_symbol: dict[tuple[str, str], list[_Placed]] = defaultdict(list)
        armings: Counter[tuple[str, int]] = Counter()
        for p in self.kept:
            if p.version.mode == "once":
                armings[(p.stored.rule, p.version.arming)] += 1
            else:
                by_symbol[(p.stored.rule, p.stored.symbol)].append(p)
        for (rule, arming), n in armings.items():
            if n > 1:
                self.rule(rule).extra += n - 1
                self.rule(rule).notes.append(f"extra: {n} fires of arming {arming} of a once rule")
        for (rule, symbol), fires in by_symbol.items():
            fires.sort(key=lambda p: (p.tick.ts_us, p.tick.seq))
            for a, b in itertools.pairwise(fires):
                if conflict(b.version, symbol, b.tick.ts_us, a.version, symbol, a.tick.ts_us):
                    self.rule(rule).extra += 1
                    note = f"extra: {symbol} {a.tick.ts} and {b.tick.ts}: the mode forbids both"
                    self.rule(rule).notes.append(note)

    def judge_missing(self, f: Fire) -> None:
        r = self.rule(f.rule)
        ticks = self.replay.applied[f.symbol]
        index = self.index[f.symbol][(f.ts_us, f.seq)]
        if (f.rule, f.symbol, index) in self.claimed:
            return
        v = self.version_of(f)
        involved = [index]
        if f.crossing:
            involved.append(index - 1)
            end = index + 1
            while end < len(ticks) and on_fire_side(v.condition, v.threshold, ticks[end].price):
                involved.append(end)
                end += 1
        if any((f.symbol, ticks[i].ts_us, ticks[i].seq) in self.beyond_w for i in involved):
            r.missing["beyond_w"] += 1
        elif any(p.stored.rule == f.rule and p.near(v, f.symbol, f.ts_us) for p in self.kept):
            r.missing["mode_choice"] += 1
            r.choices.append(f"replay {f.symbol} {f.ts} not stored: a stored fire of the rule excludes it")
        elif self.budget[f.rule] > 0:
            self.budget[f.rule] -= 1
            r.missing["beyond_w"] += 1
        else:
            r.missing["unexplained"] += 1
            r.notes.append(f"missing: {f.symbol} {f.ts} (the replay fires there; nothing explains it)")


def judge(
    replay: Replay,
    stored_items: Iterable[Mapping[str, Any]],
    beyond_w: Collection[Position] = frozenset(),
    beyond_w_count: int = 0,
) -> Fidelity:
    """Per rule: the replay's alerts, the stored ones, matched, mode choices, missing (with reasons), extra
    and duplicates. `beyond_w`: positions of ticks known to have arrived beyond W; `beyond_w_count`: how
    many did, when only the count is known (each may hide one excursion per rule)."""
    j = _Judge(replay, beyond_w, beyond_w_count)
    stored = [Stored.of(item) for item in stored_items]
    copies = Counter(stored)
    for s, n in copies.items():
        r = j.rule(s.rule)
        r.stored += n
        if n > 1:
            r.duplicates += n - 1
            r.notes.append(f"duplicate: {s.symbol} {s.ts} stored {n} times")
    for s in sorted(copies, key=lambda s: (s.symbol, s.ts, s.rule)):
        j.judge_stored(s)
    j.judge_kept_together()
    for f in replay.fires:
        j.judge_missing(f)
    return Fidelity(j.report)


def alert_items(fires: Sequence[Fire]) -> list[dict[str, Any]]:
    """The replay's fires as stored items (what a perfect run stores)."""
    return [{"symbol": f.symbol, "timestamp": f"{f.ts}#{f.rule}", "seq": f.seq} for f in fires]


def fidelity_lines(fidelity: Fidelity) -> list[str]:
    """The per-rule table for a console (make demo, make bench, the chaos campaign)."""
    head = f"  {'rule':24} {'replay':>6} {'stored':>6} {'matched':>7} {'choices':>7} "
    head += f"{'beyond W':>8} {'by mode':>7} {'lost':>4} {'extra':>5} {'dup':>3}"
    lines = [head]
    for rule, r in sorted(fidelity.rules.items()):
        lines.append(
            f"  {rule:24} {r.replay:>6} {r.stored:>6} {r.matched:>7} {r.mode_choices:>7} "
            f"{r.missing['beyond_w']:>8} {r.missing['mode_choice']:>7} {r.missing['unexplained']:>4} "
            f"{r.extra:>5} {r.duplicates:>3}"
        )
    verdict = "exact" if fidelity.exact else "every difference explained" if fidelity.ok else "NOT EXPLAINED"
    lines.append(
        f"  {'all':24} {fidelity.total('replay'):>6} {fidelity.total('stored'):>6} "
        f"{fidelity.total('matched'):>7}   ({verdict})"
    )
    return lines

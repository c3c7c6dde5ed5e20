"""The in-order replay of F3 with rule versions (R1-R3, R7): what the stored alerts must converge to.

Written from the requirements, independent of the function's code (lib/lambda) and of the Python baseline:

- a rule VERSION applies to the ticks of its symbol (or every symbol: `*`) whose timestamp lies in its
  effective window [start, end) and is before its `expires_at`;
- the ticks applied are the valid ones outside every suspension of their symbol and inside its price band
  (`OutOfBand`), the first delivered of each position (symbol, timestamp, seq) -- the others are duplicates;
  they are applied in position order (timestamp, seq);
- a crossing of version v at tick t needs the symbol's previous applied tick p on the other side of the line
  (on the line: neither side) and p inside v's window or inside the window of an earlier version of the same
  rule with the same condition and threshold;
- modes: `every` (no two fires of a rule for a symbol closer than its cooldown), `once` (one fire per rule
  and arming, whatever the symbol: a `*` rule fires once in total), `once_per_bar` (one fire per rule,
  symbol and UTC bar aligned to multiples of `bar_seconds` since the epoch).

Level conditions compare strictly (F3); a spread within 1e-12 (relative to the ask) of the threshold counts
as equal: decimal prices differ by a few ulps in binary (189.74 - 189.24 = 0.5000000000000284).
"""

from __future__ import annotations

import operator
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

LEVEL = ("price_above", "price_below", "spread_above", "volume_above")
CROSSING = ("crosses_above", "crosses_below")
MODES = ("once", "every", "once_per_bar")
SECOND_US = 1_000_000


class TickLike(Protocol):
    @property
    def symbol(self) -> str: ...
    @property
    def price(self) -> float: ...
    @property
    def ts(self) -> str: ...
    @property
    def ts_us(self) -> int: ...
    @property
    def seq(self) -> int: ...
    @property
    def volume(self) -> int | None: ...
    @property
    def bid(self) -> float | None: ...
    @property
    def ask(self) -> float | None: ...


def spread_above(ask: float, bid: float, threshold: float) -> bool:
    return (ask - bid) - threshold > 1e-12 * max(1.0, abs(ask))


# F3's level conditions other than the spread: (tick field, comparison with the threshold).
_LEVEL_COMPARISONS: dict[str, tuple[str, Callable[[float, float], bool]]] = {
    "price_above": ("price", operator.gt),
    "price_below": ("price", operator.lt),
    "volume_above": ("volume", operator.gt),
}


def level_holds(condition: str, threshold: float, tick: TickLike) -> bool:
    """A level condition at this tick: the one comparison F3 names (no such field: no)."""
    if condition == "spread_above":
        if tick.bid is None or tick.ask is None:
            return False
        return spread_above(tick.ask, tick.bid, threshold)
    field_name, compare = _LEVEL_COMPARISONS[condition]
    value = getattr(tick, field_name)
    return value is not None and compare(value, threshold)


def on_fire_side(condition: str, threshold: float, price: float) -> bool:
    """Whether `price` is strictly beyond the line in the crossing's direction (on the line: never)."""
    return price > threshold if condition == "crosses_above" else price < threshold


def _inside(start_us: int | None, end_us: int | None, ts_us: int) -> bool:
    return (start_us is None or start_us <= ts_us) and (end_us is None or ts_us < end_us)


@dataclass(frozen=True)
class Version:
    """One version of a rule with its effective window [start_us, end_us) (None: open)."""

    rule: str
    version: int
    symbol: str
    condition: str
    threshold: float
    severity: str
    mode: str = "every"
    cooldown_seconds: int = 1
    bar_seconds: int = 0
    arming: int = 0
    start_us: int | None = None
    end_us: int | None = None
    expires_us: int | None = None

    def in_window(self, ts_us: int) -> bool:
        return _inside(self.start_us, self.end_us, ts_us)

    def applies(self, symbol: str, ts_us: int) -> bool:
        """R3: exactly the ticks inside the window and before `expires_at` (R1)."""
        return (
            self.symbol in ("*", symbol)
            and self.in_window(ts_us)
            and (self.expires_us is None or ts_us < self.expires_us)
        )

    @property
    def crossing(self) -> bool:
        return self.condition in CROSSING

    def same_line(self, other: Version) -> bool:
        return (self.rule, self.condition, self.threshold) == (other.rule, other.condition, other.threshold)


@dataclass(frozen=True)
class Span:
    """A window of an operator control: [start_us, end_us), None = open."""

    start_us: int | None
    end_us: int | None

    def covers(self, ts_us: int) -> bool:
        return _inside(self.start_us, self.end_us, ts_us)


@dataclass(frozen=True)
class Band(Span):
    low: float = 0.0
    high: float = float("inf")


@dataclass(frozen=True)
class Controls:
    """F3's operator controls per symbol: suspensions and absolute price bands, each by event time."""

    suspensions: Mapping[str, Sequence[Span]] = field(default_factory=dict)
    bands: Mapping[str, Sequence[Band]] = field(default_factory=dict)

    def suspended(self, tick: TickLike) -> bool:
        return any(s.covers(tick.ts_us) for s in self.suspensions.get(tick.symbol, ()))

    def out_of_band(self, tick: TickLike) -> bool:
        return any(
            b.covers(tick.ts_us) and not b.low <= tick.price <= b.high
            for b in self.bands.get(tick.symbol, ())
        )


@dataclass(frozen=True)
class Fire:
    """One alert of the replay: the tick it is keyed by, the version that fired."""

    symbol: str
    ts: str
    ts_us: int
    seq: int
    rule: str
    version: int
    severity: str
    price: float
    crossing: bool

    @property
    def position(self) -> tuple[str, int, int]:
        return (self.symbol, self.ts_us, self.seq)


@dataclass
class Replay:
    """The in-order replay: its alerts (position order), each symbol's applied ticks in position order, the
    versions it used and what it did not apply."""

    fires: list[Fire]
    applied: dict[str, list[TickLike]]
    versions: list[Version]
    not_applied: Counter[str]


class Modes:
    """The fires so far per mode key; `allows` answers whether a version may fire at a tick given them."""

    def __init__(self) -> None:
        self.fires: dict[tuple[str, str], list[int]] = defaultdict(list)  # (rule, symbol) -> fire times
        self.armed: set[tuple[str, int]] = set()  # (rule, arming) fired

    def allows(self, v: Version, symbol: str, ts_us: int) -> bool:
        if v.mode == "once":
            return (v.rule, v.arming) not in self.armed
        return not any(conflict(v, symbol, ts_us, v, symbol, t) for t in self.fires[(v.rule, symbol)])

    def record(self, v: Version, symbol: str, ts_us: int) -> None:
        self.fires[(v.rule, symbol)].append(ts_us)
        self.armed.add((v.rule, v.arming))


def conflict(v: Version, symbol: str, ts_us: int, other: Version, other_symbol: str, other_us: int) -> bool:
    """Whether two fires of one rule exclude each other: the later one's mode forbids it next to the earlier
    (as the in-order replay decides), in event time on both sides; `once` per arming, across symbols."""
    if ts_us < other_us:
        return conflict(other, other_symbol, other_us, v, symbol, ts_us)
    if v.mode == "once":
        return other.arming == v.arming
    if symbol != other_symbol:
        return False
    if v.mode == "every":
        return abs(ts_us - other_us) < v.cooldown_seconds * SECOND_US
    bar_us = v.bar_seconds * SECOND_US
    return ts_us // bar_us == other_us // bar_us


def applied_ticks(
    delivered: Iterable[TickLike], controls: Controls
) -> tuple[dict[str, list[TickLike]], Counter[str]]:
    """Per symbol, the ticks applied in position order; and the count of each reason a tick was not."""
    out: dict[str, list[TickLike]] = defaultdict(list)
    skipped: Counter[str] = Counter()
    seen: set[tuple[str, int, int]] = set()
    for tick in delivered:
        position = (tick.symbol, tick.ts_us, tick.seq)
        if controls.out_of_band(tick):
            skipped["out_of_band"] += 1
        elif controls.suspended(tick):
            skipped["suspended"] += 1
        elif position in seen:
            skipped["duplicate"] += 1  # the first delivered wins, whatever the prices
        else:
            seen.add(position)
            out[tick.symbol].append(tick)
    for ticks in out.values():
        ticks.sort(key=lambda t: (t.ts_us, t.seq))
    return dict(out), skipped


def continuous(v: Version, previous_us: int, versions: Sequence[Version]) -> bool:
    """F3: the previous applied tick inside v's window or that of an earlier version on the same line."""
    return v.in_window(previous_us) or any(
        u.version < v.version and u.same_line(v) and u.in_window(previous_us) for u in versions
    )


def crossing_at(v: Version, previous: TickLike | None, tick: TickLike, versions: Sequence[Version]) -> bool:
    return (
        previous is not None
        and on_fire_side(v.condition, v.threshold, tick.price)
        and not on_fire_side(v.condition, v.threshold, previous.price)
        and continuous(v, previous.ts_us, versions)
    )


def qualifies(v: Version, previous: TickLike | None, tick: TickLike, versions: Sequence[Version]) -> bool:
    """v applies at `tick` and its condition holds there (a crossing: from `previous`), mode aside."""
    if not v.applies(tick.symbol, tick.ts_us):
        return False
    if v.crossing:
        return crossing_at(v, previous, tick, versions)
    return level_holds(v.condition, v.threshold, tick)


def in_order_replay(
    delivered: Iterable[TickLike], versions: Sequence[Version], controls: Controls | None = None
) -> Replay:
    """The alerts of applying the ticks in position order, one by one (F3's in-order replay)."""
    applied, skipped = applied_ticks(delivered, controls or Controls())
    ordered = sorted(
        ((t, i) for ticks in applied.values() for i, t in enumerate(ticks)),
        key=lambda p: (p[0].ts_us, p[0].seq, p[0].symbol),
    )
    ranked = sorted(versions, key=lambda v: (v.rule, v.version))
    modes = Modes()
    fires: list[Fire] = []
    for tick, index in ordered:
        previous = applied[tick.symbol][index - 1] if index else None
        for v in ranked:
            if qualifies(v, previous, tick, ranked) and modes.allows(v, tick.symbol, tick.ts_us):
                modes.record(v, tick.symbol, tick.ts_us)
                fires.append(fire_of(v, tick))
    return Replay(fires, applied, ranked, skipped)


def fire_of(v: Version, tick: TickLike) -> Fire:
    return Fire(
        tick.symbol, tick.ts, tick.ts_us, tick.seq, v.rule, v.version, v.severity, tick.price, v.crossing
    )


def version_at(versions: Sequence[Version], rule: str, symbol: str, ts_us: int) -> Version | None:
    """The version of `rule` that applies to a tick of `symbol` at `ts_us` (windows of a rule never
    overlap: an edit closes the old window where the new one opens)."""
    return next((v for v in versions if v.rule == rule and v.applies(symbol, ts_us)), None)


def beyond_window(
    batches: Iterable[Sequence[TickLike]], window_us: int, controls: Controls | None = None
) -> set[tuple[str, int, int]]:
    """Positions of the ticks that arrive more than `window_us` behind their symbol's newest applied tick
    when `batches` are delivered one after the other (F3's event-time bound of W; the bound by held ticks is
    the function's own and shows in its metric)."""
    controls = controls or Controls()
    newest: dict[str, int] = {}
    out: set[tuple[str, int, int]] = set()
    for batch in batches:
        for tick in sorted(batch, key=lambda t: (t.ts_us, t.seq)):
            if controls.out_of_band(tick) or controls.suspended(tick):
                continue
            last = newest.get(tick.symbol)
            if last is not None and tick.ts_us < last - window_us:
                out.add((tick.symbol, tick.ts_us, tick.seq))
            else:
                newest[tick.symbol] = max(tick.ts_us, last if last is not None else tick.ts_us)
    return out

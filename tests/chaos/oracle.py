"""Independent test oracle for the alert semantics of F2/F3 (test code, not product).

Written from the requirements, not from the function's code nor from the Python baseline
(bench/baseline), so that what either stores can be checked against it:

- `parse_body` validates one SQS body like F2 (valid ticks + rejection reasons; fractions beyond
  microseconds are truncated);
- `replay` computes the alerts of F3's in-order replay of a rules document (its file-seeded versions,
  `versions_of`), with tests/chaos/event_time.py; tests/chaos/judge.py judges a run's stored alerts against
  it per rule and excursion (`fidelity`);
- `seed_replay` and `check_guarantees` keep the first version's model (a tick older than the key's state
  changes nothing: the Python baseline's behaviour under reordering) and its order-independent checks.

Semantics (F3): crosses_above fires when the previous applied price was <= threshold and this one is
> threshold; crosses_below mirrors it: previous >= threshold, this one < threshold. A price exactly on the
line is on neither fire side.
"""

from __future__ import annotations

import calendar
import itertools
import json
import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tests.chaos import event_time
from tests.chaos.event_time import CROSSING, LEVEL, level_holds, on_fire_side
from tests.chaos.judge import Fidelity, Position, judge

DEFAULT_COOLDOWN_SECONDS = 60
MAX_BODY_BYTES = 262_144

_SYMBOL = re.compile(r"^[A-Z0-9./:-]{1,16}$")
# The accepted shape, whole string (fullmatch: no trailing newline): seconds with 1-9 fraction digits
# optional, then `Z` or a numeric offset.
_TIMESTAMP_SHAPE = re.compile(
    r"(?P<second>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(?P<fraction>\d{1,9}))?(?P<zone>Z|[+-]\d\d:\d\d)"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def normalise_timestamp(text: str) -> tuple[str, int]:
    """ISO-8601 with Z or +HH:MM -> ("YYYY-MM-DDTHH:MM:SS.ffffffZ", microseconds since the epoch). The shape
    is checked here; the calendar (month lengths, leap years, offsets) is datetime's."""
    shape = _TIMESTAMP_SHAPE.fullmatch(text)
    if shape is None:
        raise ValueError(f"timestamp not ISO-8601 with Z or a numeric offset: {text!r}")
    micros = (shape["fraction"] or "").ljust(6, "0")[:6]  # truncated, never rounded
    zone = "+00:00" if shape["zone"] == "Z" else shape["zone"]
    try:
        utc = datetime.fromisoformat(f"{shape['second']}.{micros}{zone}").astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise ValueError(f"timestamp out of range: {text!r}") from exc
    whole_seconds = calendar.timegm(utc.utctimetuple())
    return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), whole_seconds * 1_000_000 + utc.microsecond


@dataclass(frozen=True)
class Tick:
    symbol: str
    price: float
    ts: str  # normalised, 27 characters
    ts_us: int
    volume: int | None = None
    bid: float | None = None
    ask: float | None = None
    seq: int = 0  # F2: orders ticks of equal timestamp; absent = 0


@dataclass(frozen=True)
class Rule:
    """One entry of the rules document, as the document states it (cooldown in seconds)."""

    id: str
    symbol: str
    condition: str
    threshold: float
    severity: str
    cooldown_seconds: int
    enabled: bool = True

    @property
    def cooldown_us(self) -> int:
        return self.cooldown_seconds * 1_000_000

    def applies_to(self, symbol: str) -> bool:
        return self.enabled and self.symbol in ("*", symbol)

    def level_holds(self, tick: Tick) -> bool:
        return level_holds(self.condition, self.threshold, tick)

    def on_fire_side(self, price: float) -> bool:
        return on_fire_side(self.condition, self.threshold, price)


def load_rules(doc: Mapping[str, Any]) -> list[Rule]:
    default = int(doc.get("default_cooldown_seconds", DEFAULT_COOLDOWN_SECONDS))
    rules = []
    for r in doc["rules"]:
        cooldown = int(r.get("cooldown_seconds", default))
        rules.append(
            Rule(
                id=r["id"],
                symbol=r["symbol"],
                condition=r["condition"],
                threshold=float(r["threshold"]),
                severity=r["severity"],
                cooldown_seconds=cooldown,
                enabled=bool(r.get("enabled", True)),
            )
        )
    return rules


def _positive_number(value: Any) -> bool:
    return (
        isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value > 0
    )


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    dup = [k for k, n in Counter(keys).items() if n > 1]
    if dup:
        raise ValueError(f"duplicate key {dup[0]!r}")
    return dict(pairs)


def _is_symbol(value: Any) -> bool:
    return isinstance(value, str) and _SYMBOL.fullmatch(value) is not None


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


# F2 field by field, in the order checked: (name, required, valid, the reason when not).
_TICK_FIELDS: tuple[tuple[str, bool, Callable[[Any], bool], str], ...] = (
    ("symbol", True, _is_symbol, "symbol missing or invalid"),
    ("price", True, _positive_number, "price missing or not a finite number > 0"),
    ("timestamp", True, lambda value: isinstance(value, str), "timestamp missing or not a string"),
    ("volume", False, _is_count, "volume not an integer >= 0"),
    ("bid", False, _positive_number, "bid not a finite number > 0"),
    ("ask", False, _positive_number, "ask not a finite number > 0"),
    ("seq", False, _is_count, "seq not an integer >= 0"),
)


def parse_tick(obj: Any) -> Tick:
    """One tick object per F2; raises ValueError with the reason."""
    if not isinstance(obj, dict):
        raise ValueError("tick is not an object")
    for name, required, valid, reason in _TICK_FIELDS:
        present = obj.get(name) is not None
        if (present or required) and not valid(obj.get(name)):
            raise ValueError(reason)
        if name == "timestamp":
            ts, ts_us = normalise_timestamp(obj[name])  # its own reason when malformed
    quote = {name: None if obj.get(name) is None else float(obj[name]) for name in ("bid", "ask")}
    return Tick(
        obj["symbol"],
        float(obj["price"]),
        ts,
        ts_us,
        obj.get("volume"),
        quote["bid"],
        quote["ask"],
        obj.get("seq") or 0,
    )


@dataclass
class ParsedBody:
    ticks: list[Tick] = field(default_factory=list)
    rejects: list[str] = field(default_factory=list)


def parse_body(body: str | bytes) -> ParsedBody:
    """The valid ticks of one SQS body and the reasons of what was rejected."""
    out = ParsedBody()
    raw = body.encode() if isinstance(body, str) else body
    if len(raw) > MAX_BODY_BYTES:
        out.rejects.append("body larger than 262144 bytes")
        return out
    try:
        doc = json.loads(
            raw.decode("utf-8"), object_pairs_hook=_no_duplicates, parse_constant=_reject_constant
        )
    except (UnicodeDecodeError, ValueError) as exc:
        out.rejects.append(f"invalid body: {exc}")
        return out
    for obj in doc if isinstance(doc, list) else [doc]:
        try:
            out.ticks.append(parse_tick(obj))
        except ValueError as exc:
            out.rejects.append(str(exc))
    return out


def _reject_constant(name: str) -> Any:
    raise ValueError(f"not JSON: {name}")


def parse_feed(lines: Iterable[str]) -> list[ParsedBody]:
    return [parse_body(line.rstrip("\n")) for line in lines if line.strip()]


@dataclass(frozen=True)
class Alert:
    symbol: str
    timestamp: str  # the table's sort key "<normalised ts>#<rule id>"
    rule_id: str
    severity: str
    price: float

    @property
    def key(self) -> tuple[str, str]:
        return (self.symbol, self.timestamp)


@dataclass
class ReplayResult:
    alerts: list[Alert]
    late_ticks: int


def versions_of(rules: Sequence[Rule]) -> list[event_time.Version]:
    """The file-seeded versions of a rules document (issue 14): effective from the epoch, in mode `every`
    with the document's cooldown (R6: 0 becomes 1); a disabled rule has none."""
    return [
        event_time.Version(
            r.id,
            1,
            r.symbol,
            r.condition,
            r.threshold,
            r.severity,
            cooldown_seconds=max(1, r.cooldown_seconds),
        )
        for r in rules
        if r.enabled
    ]


def replay(ticks: Sequence[Tick], rules: Sequence[Rule]) -> ReplayResult:
    """F3's in-order replay of `ticks` (given in delivery order: of two at one position the first wins)
    against the document's versions; `late_ticks` counts those duplicates."""
    result = event_time.in_order_replay(ticks, versions_of(rules))
    alerts = [Alert(f.symbol, f"{f.ts}#{f.rule}", f.rule, f.severity, f.price) for f in result.fires]
    return ReplayResult(alerts, result.not_applied["duplicate"])


def fidelity(
    ticks: Sequence[Tick],
    rules: Sequence[Rule],
    stored_alerts: Iterable[Mapping[str, Any]],
    beyond_w: Collection[Position] = frozenset(),
    beyond_w_count: int = 0,
) -> Fidelity:
    """The stored alerts of a run judged against the in-order replay of its ticks (tests/chaos/judge.py)."""
    in_order = event_time.in_order_replay(ticks, versions_of(rules))
    return judge(in_order, stored_alerts, beyond_w, beyond_w_count)


def seed_replay(ticks: Sequence[Tick], rules: Sequence[Rule]) -> ReplayResult:
    """The first version's model (the Python baseline's under reordering): `ticks` applied one by one in the
    given order; a tick not newer than a (rule, symbol) key's state is late and changes nothing."""
    side: dict[tuple[str, str], tuple[bool, int]] = {}  # (rule, symbol) -> (on the fire side, side_ts)
    last_fire: dict[tuple[str, str], int] = {}
    alerts: list[Alert] = []
    late = 0
    for tick in ticks:
        tick_late = False
        for rule in rules:
            if not rule.applies_to(tick.symbol):
                continue
            key = (rule.id, tick.symbol)
            fired_at = last_fire.get(key)
            cooled = fired_at is None or fired_at + rule.cooldown_us <= tick.ts_us
            if rule.condition in LEVEL:
                if not rule.level_holds(tick):
                    continue
                if fired_at is not None and tick.ts_us <= fired_at:
                    tick_late = True
                elif cooled:
                    last_fire[key] = tick.ts_us
                    alerts.append(_alert(tick, rule))
                continue
            new_side = rule.on_fire_side(tick.price)
            state = side.get(key)
            if state is None:
                side[key] = (new_side, tick.ts_us)
            elif tick.ts_us <= state[1]:
                tick_late = True
            else:
                side[key] = (new_side, tick.ts_us)  # F3: every newer applied tick advances the state
                if new_side and not state[0] and cooled:  # from the other side onto the fire side
                    last_fire[key] = tick.ts_us
                    alerts.append(_alert(tick, rule))
        late += tick_late
    return ReplayResult(alerts, late)


def _alert(tick: Tick, rule: Rule) -> Alert:
    return Alert(tick.symbol, f"{tick.ts}#{rule.id}", rule.id, rule.severity, tick.price)


def check_guarantees(
    feed_ticks: Sequence[Tick],
    rules: Sequence[Rule],
    stored_alerts: Iterable[Mapping[str, Any]],
    late_count: int,
    completeness: bool = True,
) -> list[str]:
    """Violations of the order-independent guarantees of the first version (empty list: all hold).

    `stored_alerts` are the alert items (at least `symbol` and `timestamp` = "<ts>#<rule id>").
    0. with no late tick, every tick was newer than all applied before it, so the ticks were applied in
       timestamp order and the alerts are exactly those of the in-order replay;
    1. no alert key stored twice;
    2. every alert is justified by its tick: the rule exists, is enabled and names the symbol, a feed tick
       of that symbol has that timestamp, the level condition holds there (crossing rules: the tick is on
       the target side and an earlier tick of the symbol is on the other side), and two alerts of one
       (rule, symbol) are at least the cooldown apart;
    3. every persistent crossing fired: in timestamp order, a run of ticks on the target side that follows
       a tick on the other side and lasts at least two ticks (or to the end of the feed) holds an alert of
       the rule within the run, unless the run starts inside the cooldown of an earlier alert of the rule.
       Reordering can hide such a crossing only when the tick before the run or a tick of the run arrived
       late (these sets are disjoint between the runs of one rule), so the misses of any one rule must not
       outnumber `late_count`;
    4. every tick where a level condition holds fired or lies within the cooldown after a fire of the rule;
       otherwise it must have arrived after a later fire (late): it needs a later fire and counts against
       `late_count` like the misses of 3.
    Checks 0, 3 and 4 read `late_count` as the first version's late ticks (every tick older than a key's
    state); under F3 a tick reordered within W is not late, so a caller judging an event-time run passes
    `completeness=False` and judges completeness with `fidelity` (tests/chaos/judge.py).
    """
    by_id = {r.id: r for r in rules}
    items = list(stored_alerts)
    keys = Counter((str(a["symbol"]), str(a["timestamp"])) for a in items)
    violations = [f"alert {k} stored {n} times" for k, n in sorted(keys.items()) if n > 1]

    ticks_at: dict[tuple[str, str], list[Tick]] = defaultdict(list)
    series: dict[str, list[Tick]] = defaultdict(list)
    for t in feed_ticks:
        if not ticks_at[(t.symbol, t.ts)]:
            series[t.symbol].append(t)  # one tick per (symbol, timestamp): the first in feed order
        ticks_at[(t.symbol, t.ts)].append(t)
    for s in series.values():
        s.sort(key=lambda t: t.ts_us)

    fires: dict[tuple[str, str], list[int]] = defaultdict(list)  # (rule, symbol) -> fire times
    for symbol, sort_key in sorted(keys):
        problem = _unjustified(symbol, sort_key, by_id, ticks_at, series, fires)
        if problem:
            violations.append(f"alert {symbol} {sort_key}: {problem}")

    violations += [
        f"alerts {rule_id} {symbol} {b - a} us apart, inside the cooldown of {by_id[rule_id].cooldown_us} us"
        for (rule_id, symbol), times in fires.items()
        for a, b in itertools.pairwise(times)
        if b - a < by_id[rule_id].cooldown_us
    ]

    if completeness:
        violations += _incomplete(feed_ticks, rules, series, fires, set(keys), late_count)
    return violations


def _incomplete(
    feed_ticks: Sequence[Tick],
    rules: Sequence[Rule],
    series: Mapping[str, list[Tick]],
    fires: Mapping[tuple[str, str], list[int]],
    keys: set[tuple[str, str]],
    late_count: int,
) -> list[str]:
    """Checks 0, 3 and 4 of `check_guarantees`."""
    violations: list[str] = []
    hidden: Counter[str] = Counter()  # per rule: misses that each need a late tick of their own
    missed: list[str] = []
    for symbol, ticks in series.items():
        for rule in rules:
            times = fires.get((rule.id, symbol), [])
            if rule.condition in CROSSING and rule.applies_to(symbol):
                for first in _missed_crossings(rule, ticks, times):
                    hidden[rule.id] += 1
                    missed.append(f"crossing {rule.id} {symbol} at {first.ts} persisted and never fired")
            elif rule.applies_to(symbol):
                never, late = _missed_levels(rule, ticks, times)
                violations += [f"{rule.id} {symbol} held at {t.ts} and never fired" for t in never]
                hidden[rule.id] += len(late)
                missed += [f"{rule.id} {symbol} held at {t.ts}, no fire within the cooldown" for t in late]
    if late_count == 0:
        violations += _differences_from_in_order(feed_ticks, rules, keys)
    if any(n > late_count for n in hidden.values()):
        violations += missed
    return violations


def _differences_from_in_order(
    feed_ticks: Sequence[Tick], rules: Sequence[Rule], stored: set[tuple[str, str]]
) -> list[str]:
    expected = {a.key for a in replay(sorted(feed_ticks, key=lambda t: t.ts_us), rules).alerts}
    return [
        f"alert {k} of the in-order replay missing (no late ticks)" for k in sorted(expected - stored)
    ] + [f"alert {k} not in the in-order replay (no late ticks)" for k in sorted(stored - expected)]


def _unjustified(
    symbol: str,
    sort_key: str,
    by_id: Mapping[str, Rule],
    ticks_at: Mapping[tuple[str, str], list[Tick]],
    series: Mapping[str, list[Tick]],
    fires: dict[tuple[str, str], list[int]],
) -> str | None:
    """Why the alert is not justified by its tick (None: it is); records its fire time in `fires`."""
    ts, _, rule_id = sort_key.partition("#")
    rule = by_id.get(rule_id)
    if rule is None or not rule.applies_to(symbol):
        return f"no enabled rule {rule_id!r} for {symbol}"
    candidates = ticks_at.get((symbol, ts), [])
    if not candidates:
        return f"no tick of {symbol} at {ts}"
    ts_us = candidates[0].ts_us
    fires[(rule.id, symbol)].append(ts_us)
    if rule.condition in LEVEL:
        justified = any(rule.level_holds(t) for t in candidates)
    else:
        justified = any(rule.on_fire_side(t.price) for t in candidates) and any(
            t.ts_us < ts_us and not rule.on_fire_side(t.price) for t in series[symbol]
        )
    return None if justified else f"condition {rule.condition} does not hold"


def _missed_levels(rule: Rule, ticks: Sequence[Tick], fires: Sequence[int]) -> tuple[list[Tick], list[Tick]]:
    """Ticks where the level rule held with no fire in (ts - cooldown, ts]: (no later fire either, those
    explained only by arriving late after a later fire)."""
    never: list[Tick] = []
    late: list[Tick] = []
    for tick in ticks:
        if not rule.level_holds(tick) or any(tick.ts_us - rule.cooldown_us < f <= tick.ts_us for f in fires):
            continue
        (late if any(f > tick.ts_us for f in fires) else never).append(tick)
    return never, late


def _missed_crossings(rule: Rule, ticks: Sequence[Tick], fires: Sequence[int]) -> list[Tick]:
    """The first tick of each persistent crossing of `rule` with no fire and no cooldown."""
    beyond = [rule.on_fire_side(t.price) for t in ticks]
    out = []
    i = 1
    while i < len(ticks):
        if not beyond[i] or beyond[i - 1]:
            i += 1
            continue
        j = i
        while j + 1 < len(ticks) and beyond[j + 1]:
            j += 1
        start, end = ticks[i].ts_us, ticks[j].ts_us
        persistent = j > i or j == len(ticks) - 1
        fired = any(start <= f <= end for f in fires)
        cooling = any(f < start < f + rule.cooldown_us for f in fires)
        if persistent and not fired and not cooling:
            out.append(ticks[i])
        i = j + 1
    return out


def replay_batches(batches: Iterable[Sequence[Tick]], rules: Sequence[Rule]) -> ReplayResult:
    """The first version's alerts when it receives `batches` one after the other (concurrency 1): inside a
    batch it applies each key's ticks in timestamp order (stable), the same as sorting the whole batch."""
    return seed_replay([t for batch in batches for t in sorted(batch, key=lambda t: t.ts_us)], rules)

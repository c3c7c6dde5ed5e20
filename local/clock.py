"""R7: the one clock of the local system, the Python reader of the clock spec.

Every actor of the local system (the function, the rules tool, the feed sender, the event source) reads
"now" through the spec in the environment variable TAP_CLOCK: real time when it is unset, empty or `real`;
`virtual:start=<UTC>,anchor=<micros>,speed=<n>` for a shared virtual clock that shows `start` at the real
instant `anchor` and runs `speed` times faster than real time. The grammar, the bounds and the mapping are
those of lib/lambda/include/tap/core/clock_spec.hpp; tests/contract/test_clock_contract.py holds the two
readers to the same answers, word for word.

`feed_clock` makes the spec a recorded feed plays under (docs/design.md, section 12).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

CLOCK_VARIABLE = "TAP_CLOCK"
MAX_SPEED = 1000
# The instants a tick may carry (tap/core/timestamp.hpp): [2000-01-01, 2101-01-01) in micros.
MIN_MICROS = 946_684_800 * 1_000_000
END_MICROS = 4_133_980_800 * 1_000_000

_VIRTUAL = "virtual:"
_KEYS = ("start=", "anchor=", "speed=")
_START = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,6}))?Z")
_DIGITS = re.compile(r"[0-9]+")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

SHAPE_MESSAGE = "expected real or virtual:start=<UTC>,anchor=<micros>,speed=<n>"
START_MESSAGE = "start must be YYYY-MM-DDTHH:MM:SS[.ffffff]Z from 2000 to 2100"
ANCHOR_MESSAGE = "anchor must be microseconds since the epoch from 2000 to 2100"
SPEED_MESSAGE = "speed must be an integer from 1 to 1000"


class ClockError(ValueError):
    """A spec the function would refuse at start-up; the message is the function's."""


@dataclass(frozen=True)
class ClockSpec:
    is_virtual: bool = False
    start_micros: int = 0
    anchor_micros: int = 0
    speed: int = 1

    def now(self, real_micros: int) -> int:
        """The clock's instant at the real instant `real_micros` (clamped like the function's)."""
        if not self.is_virtual:
            return real_micros
        real = min(max(real_micros, MIN_MICROS), END_MICROS)
        return self.start_micros + (real - self.anchor_micros) * self.speed


REAL = ClockSpec()


def _digits(text: str) -> int | None:
    """ASCII digits only (leading zeros allowed) within 64 bits, as the function's from_chars reads them."""
    significant = text.lstrip("0")  # int() refuses more than 4300 digits, from_chars reads them all
    if _DIGITS.fullmatch(text) is None or len(significant) > 19:
        return None
    value = int(significant or "0")
    return value if value < 2**63 else None


def _start(text: str) -> int | None:
    shape = _START.fullmatch(text)
    if shape is None:
        return None
    year, month, day, hour, minute, second = (int(shape[i]) for i in range(1, 7))
    try:
        instant = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        return None
    micros = (instant - _EPOCH) // timedelta(microseconds=1) + int((shape[7] or "").ljust(6, "0"))
    return micros if MIN_MICROS <= micros < END_MICROS else None


def parse_clock_spec(text: str) -> ClockSpec:
    """The spec `text` stands for; ClockError with the function's message otherwise."""
    if text in ("", "real"):
        return REAL
    if not text.startswith(_VIRTUAL):
        raise ClockError(SHAPE_MESSAGE)
    fields = text[len(_VIRTUAL) :].split(",", len(_KEYS) - 1)
    if len(fields) != len(_KEYS) or not all(f.startswith(k) for f, k in zip(fields, _KEYS, strict=True)):
        raise ClockError(SHAPE_MESSAGE)
    start_text, anchor_text, speed_text = (f[len(k) :] for f, k in zip(fields, _KEYS, strict=True))
    start = _start(start_text)
    if start is None:
        raise ClockError(START_MESSAGE)
    anchor = _digits(anchor_text)
    if anchor is None or not MIN_MICROS <= anchor < END_MICROS:
        raise ClockError(ANCHOR_MESSAGE)
    speed = _digits(speed_text)
    if speed is None or not 1 <= speed <= MAX_SPEED:
        raise ClockError(SPEED_MESSAGE)
    return ClockSpec(is_virtual=True, start_micros=start, anchor_micros=anchor, speed=speed)


def real_micros() -> int:
    """The real clock: micros since the epoch."""
    return time.time_ns() // 1000


def format_start(micros: int) -> str:
    """A start the spec accepts: YYYY-MM-DDTHH:MM:SS.ffffffZ."""
    return (_EPOCH + timedelta(microseconds=micros)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def virtual_clock(start_micros: int, speed: int, anchor_micros: int) -> str:
    """The spec of a clock showing `start_micros` at the real instant `anchor_micros`, `speed` times real
    time; checked here, so that a bad one fails where it is made, not in every process it reaches."""
    text = f"{_VIRTUAL}start={format_start(start_micros)},anchor={anchor_micros},speed={speed}"
    parse_clock_spec(text)
    return text


def feed_clock(
    first_tick_micros: int, *, margin_seconds: float, speed: int, anchor_micros: int | None = None
) -> str:
    """The clock a recorded feed plays under: it shows the feed's first tick minus `margin_seconds` (event
    time) now (or at `anchor_micros`), and runs `speed` times real time. Rules imported under it take
    effect_from in the feed's own time, so the feed's ticks meet them as live ticks would."""
    start = first_tick_micros - round(margin_seconds * 1_000_000)
    return virtual_clock(start, speed, real_micros() if anchor_micros is None else anchor_micros)


def offset_clock(offset_micros: int, anchor_micros: int | None = None) -> str:
    """Real time shifted by `offset_micros` (speed 1): a process whose clock is ahead or behind."""
    anchor = real_micros() if anchor_micros is None else anchor_micros
    return virtual_clock(anchor + offset_micros, 1, anchor)


@dataclass(frozen=True)
class Clock:
    """A process's clock: the spec over the real clock."""

    spec: ClockSpec = REAL

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Clock:
        return cls(parse_clock_spec(env.get(CLOCK_VARIABLE, "")))

    def now_micros(self) -> int:
        return self.spec.now(real_micros())

    def now(self) -> datetime:
        return _EPOCH + timedelta(microseconds=self.now_micros())

    def wait_until(self, micros: int, sleep: Callable[[float], None] = time.sleep) -> None:
        """Returns once the clock shows `micros` or later (sleeping what is left, at the clock's speed)."""
        while (left := micros - self.now_micros()) > 0:
            sleep(left / self.spec.speed / 1_000_000)

    def time(self) -> float:
        """Seconds since the epoch, as time.time() gives them: a drop-in for a `clock=time.time` seam."""
        return self.now_micros() / 1_000_000

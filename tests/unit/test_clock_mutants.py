"""The clock spec's reader (local/clock.py) at every bound of its grammar: the gaps a mutation run found
(issue 18). The real clock is patched, so no test waits."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from local import clock
from local.clock import (
    ANCHOR_MESSAGE,
    CLOCK_VARIABLE,
    END_MICROS,
    MAX_SPEED,
    MIN_MICROS,
    REAL,
    SHAPE_MESSAGE,
    SPEED_MESSAGE,
    START_MESSAGE,
    Clock,
    ClockError,
    ClockSpec,
    feed_clock,
    format_start,
    offset_clock,
    parse_clock_spec,
    virtual_clock,
)

ANCHOR = 1_800_000_000_000_000
START = "2026-01-05T14:30:00Z"
START_MICROS = 1_767_623_400_000_000


def spec(start: str = START, anchor: str = str(ANCHOR), speed: str = "2") -> str:
    return f"virtual:start={start},anchor={anchor},speed={speed}"


def refusal(text: str) -> str:
    with pytest.raises(ClockError) as caught:
        parse_clock_spec(text)
    return str(caught.value)


def test_the_bounds_are_the_functions() -> None:
    assert (CLOCK_VARIABLE, MAX_SPEED) == ("TAP_CLOCK", 1000)
    assert (MIN_MICROS, END_MICROS) == (946_684_800_000_000, 4_133_980_800_000_000)
    assert ClockSpec(False, 0, 0, 1) == REAL


@pytest.mark.parametrize(
    "text",
    [
        "REAL",
        " real",
        "virtual",
        "Virtual:start=2026-01-05T14:30:00Z,anchor=1800000000000000,speed=2",
        "virtual:start=2026-01-05T14:30:00Z,anchor=1800000000000000",
        "virtual:anchor=1800000000000000,start=2026-01-05T14:30:00Z,speed=2",
        "virtual:start=2026-01-05T14:30:00Z,anchor=1800000000000000,Speed=2",
        "virtual:Start=2026-01-05T14:30:00Z,anchor=1800000000000000,speed=2",
        "virtual:start=2026-01-05T14:30:00Z;anchor=1800000000000000;speed=2",
    ],
)
def test_a_spec_of_another_shape_is_refused_with_the_shape_message(text: str) -> None:
    assert refusal(text) == SHAPE_MESSAGE == "expected real or virtual:start=<UTC>,anchor=<micros>,speed=<n>"


def test_a_fourth_field_belongs_to_the_speed() -> None:
    assert refusal(spec(speed="2,extra=1")) == SPEED_MESSAGE == "speed must be an integer from 1 to 1000"


def test_a_valid_spec_gives_each_field() -> None:
    assert parse_clock_spec(spec(speed="1000")) == ClockSpec(True, START_MICROS, ANCHOR, 1000)
    assert parse_clock_spec("") is REAL
    assert parse_clock_spec("real") is REAL


@pytest.mark.parametrize(
    ("start", "micros"),
    [
        ("2000-01-01T00:00:00Z", MIN_MICROS),
        ("2100-12-31T23:59:59.999999Z", END_MICROS - 1),
        ("2026-01-05T14:30:00.5Z", START_MICROS + 500_000),
        ("2026-01-05T14:30:00.000001Z", START_MICROS + 1),
        ("2024-02-29T01:02:03.12Z", 1_709_168_523_120_000),
    ],
)
def test_a_start_is_read_to_the_microsecond(start: str, micros: int) -> None:
    read = parse_clock_spec(spec(start=start)).start_micros
    assert (read, type(read)) == (micros, int)  # whole micros, never a float


@pytest.mark.parametrize(
    "start",
    [
        "1999-12-31T23:59:59.999999Z",
        "2101-01-01T00:00:00Z",
        "2023-02-29T00:00:00Z",
        "2026-13-01T00:00:00Z",
        "2026-01-05T14:30:00z",
        "2026-01-05T14:30:00.1234567Z",
        "2026-01-05T14:30:00.Z",
        "2026-01-05 14:30:00Z",
        " 2026-01-05T14:30:00Z",
        "",
    ],
)
def test_a_start_outside_the_grammar_or_the_range_is_refused(start: str) -> None:
    assert (
        refusal(spec(start=start))
        == START_MESSAGE
        == ("start must be YYYY-MM-DDTHH:MM:SS[.ffffff]Z from 2000 to 2100")
    )


@pytest.mark.parametrize(
    ("anchor", "micros"),
    [(str(MIN_MICROS), MIN_MICROS), (str(END_MICROS - 1), END_MICROS - 1), ("0" * 40 + str(ANCHOR), ANCHOR)],
)
def test_an_anchor_from_2000_to_2100_is_read(anchor: str, micros: int) -> None:
    assert parse_clock_spec(spec(anchor=anchor)).anchor_micros == micros


@pytest.mark.parametrize(
    "anchor", [str(MIN_MICROS - 1), str(END_MICROS), "+" + str(ANCHOR), "", "1e15", "١٢"]
)
def test_an_anchor_outside_the_range_or_not_digits_is_refused(anchor: str) -> None:
    assert (
        refusal(spec(anchor=anchor))
        == ANCHOR_MESSAGE
        == ("anchor must be microseconds since the epoch from 2000 to 2100")
    )


@pytest.mark.parametrize(
    ("speed", "valid"), [("1", True), ("0", False), ("1001", False), ("-1", False), ("0001", True)]
)
def test_the_speed_is_1_to_1000(speed: str, valid: bool) -> None:
    if valid:
        assert parse_clock_spec(spec(speed=speed)).speed == int(speed)
    else:
        assert refusal(spec(speed=speed)) == SPEED_MESSAGE


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0", 0),
        ("000", 0),
        ("0" * 5000 + "7", 7),
        ("9223372036854775807", 2**63 - 1),
        ("9223372036854775808", None),
        ("1" * 20, None),
        ("", None),
        ("12a", None),
        (" 1", None),
    ],
)
def test_digits_are_ascii_within_63_bits_leading_zeros_allowed(text: str, value: int | None) -> None:
    assert clock._digits(text) == value


def test_a_virtual_clock_clamps_the_real_instant_to_the_range() -> None:
    virtual = ClockSpec(True, START_MICROS, ANCHOR, 3)
    assert virtual.now(ANCHOR + 7) == START_MICROS + 21
    assert virtual.now(ANCHOR - 7) == START_MICROS - 21
    assert virtual.now(MIN_MICROS - 5) == START_MICROS + (MIN_MICROS - ANCHOR) * 3
    assert virtual.now(END_MICROS + 5) == START_MICROS + (END_MICROS - ANCHOR) * 3
    assert ClockSpec().now(END_MICROS + 5) == END_MICROS + 5  # real time is not clamped


def test_real_micros_truncates_nanoseconds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clock.time, "time_ns", lambda: 1_234_567_999)
    assert clock.real_micros() == 1_234_567


def test_the_makers_write_the_spec_text(monkeypatch: pytest.MonkeyPatch) -> None:
    assert format_start(MIN_MICROS + 1) == "2000-01-01T00:00:00.000001Z"
    assert virtual_clock(START_MICROS, 7, ANCHOR) == spec(start="2026-01-05T14:30:00.000000Z", speed="7")
    assert feed_clock(START_MICROS, margin_seconds=0.25, speed=3, anchor_micros=ANCHOR) == spec(
        start="2026-01-05T14:29:59.750000Z", speed="3"
    )
    assert offset_clock(-1, anchor_micros=ANCHOR) == spec(start=format_start(ANCHOR - 1), speed="1")
    monkeypatch.setattr(clock.time, "time_ns", lambda: ANCHOR * 1000)
    assert offset_clock(2) == spec(start=format_start(ANCHOR + 2), speed="1")
    assert feed_clock(START_MICROS, margin_seconds=2, speed=1, anchor_micros=ANCHOR) == spec(
        start="2026-01-05T14:29:58.000000Z", speed="1"
    )
    assert feed_clock(START_MICROS, margin_seconds=0, speed=1) == spec(
        start="2026-01-05T14:30:00.000000Z", speed="1"
    )


def test_the_clock_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CLOCK_VARIABLE, spec())
    assert Clock.from_env().spec == ClockSpec(True, START_MICROS, ANCHOR, 2)
    monkeypatch.delenv(CLOCK_VARIABLE)
    assert Clock.from_env().spec is REAL
    assert Clock().spec is REAL


def test_a_clock_reports_now_as_micros_datetime_and_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clock.time, "time_ns", lambda: (ANCHOR + 1_500_000) * 1000)
    virtual = Clock(ClockSpec(True, START_MICROS, ANCHOR, 2))
    assert virtual.now_micros() == START_MICROS + 3_000_000
    assert virtual.now() == datetime(2026, 1, 5, 14, 30, 3, tzinfo=UTC)
    assert virtual.time() == START_MICROS / 1e6 + 3.0


def test_wait_until_sleeps_what_is_left_at_the_clocks_speed(monkeypatch: pytest.MonkeyPatch) -> None:
    real = [ANCHOR]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        real[0] += 250_000  # each sleep moves real time a quarter second, whatever was asked

    monkeypatch.setattr(clock.time, "time_ns", lambda: real[0] * 1000)
    virtual = Clock(ClockSpec(True, START_MICROS, ANCHOR, 4))
    virtual.wait_until(START_MICROS + 2_000_000, sleep)
    assert slept == [0.5, 0.25]  # 2 s of the clock is 0.5 s real at speed 4; then 1 s of it left
    virtual.wait_until(START_MICROS + 2_000_000, sleep)  # reached exactly: no sleep
    assert len(slept) == 2
    slept.clear()
    virtual.wait_until(START_MICROS + 3_000_001, sleep)  # one microsecond short is still a sleep
    assert slept == [1_000_001 / 4 / 1_000_000, 1 / 4 / 1_000_000]

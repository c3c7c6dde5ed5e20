"""local/clock.py: the clock spec's Python reader and the specs the local system makes (R7). The grammar is
held to the function's by tests/contract/test_clock_contract.py; these pin the mapping and the makers."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from local import clock
from local.clock import (
    CLOCK_VARIABLE,
    REAL,
    Clock,
    ClockError,
    feed_clock,
    format_start,
    offset_clock,
    parse_clock_spec,
    virtual_clock,
)
from local.feed import FeedConfig, generate_ticks, newest_tick_micros, write_feed
from local.sqs_event import received_message
from ops import send_feed as sender

ANCHOR = 1_800_000_000_000_000
FIRST_TICK = 1_767_623_400_000_000  # 2026-01-05T14:30:00Z


def test_unset_empty_and_real_are_real_time() -> None:
    assert Clock.from_env({}).spec is REAL
    assert Clock.from_env({CLOCK_VARIABLE: ""}).spec is REAL
    assert parse_clock_spec("real").now(12) == 12


def test_a_virtual_clock_maps_real_instants_at_its_speed() -> None:
    spec = parse_clock_spec(f"virtual:start=2026-01-05T14:30:00Z,anchor={ANCHOR},speed=10")
    assert (spec.start_micros, spec.anchor_micros, spec.speed) == (FIRST_TICK, ANCHOR, 10)
    assert spec.now(ANCHOR + 2_000_000) == FIRST_TICK + 20_000_000
    assert spec.now(0) == FIRST_TICK + (clock.MIN_MICROS - ANCHOR) * 10  # clamped like the function's


def test_feed_clock_starts_a_margin_before_the_first_tick() -> None:
    spec = parse_clock_spec(feed_clock(FIRST_TICK, margin_seconds=2.5, speed=20, anchor_micros=ANCHOR))
    assert spec.now(ANCHOR) == FIRST_TICK - 2_500_000
    assert spec.now(ANCHOR + 125_000) == FIRST_TICK  # 0.125 s real is 2.5 s of the feed at speed 20


def test_feed_clock_anchors_at_the_real_now_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clock.time, "time_ns", lambda: ANCHOR * 1000 + 999)
    spec = parse_clock_spec(feed_clock(FIRST_TICK, margin_seconds=1, speed=5))
    assert spec.anchor_micros == ANCHOR
    assert Clock(spec).now_micros() == FIRST_TICK - 1_000_000


def test_offset_clock_is_real_time_shifted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clock.time, "time_ns", lambda: ANCHOR * 1000)
    ahead = Clock.from_env({CLOCK_VARIABLE: offset_clock(5_000_000)})
    behind = Clock(parse_clock_spec(offset_clock(-5_000_000, anchor_micros=ANCHOR - 1)))
    assert ahead.now_micros() == ANCHOR + 5_000_000
    assert behind.now_micros() == ANCHOR - 5_000_000  # the anchor does not matter at speed 1
    assert ahead.time() == (ANCHOR + 5_000_000) / 1e6
    assert ahead.now() == datetime.fromtimestamp((ANCHOR + 5_000_000) / 1e6, UTC)


def test_a_spec_that_would_be_refused_fails_where_it_is_made() -> None:
    with pytest.raises(ClockError, match="speed must be an integer from 1 to 1000"):
        virtual_clock(FIRST_TICK, 0, ANCHOR)
    with pytest.raises(ClockError, match="start must be"):
        feed_clock(clock.MIN_MICROS, margin_seconds=1, speed=1, anchor_micros=ANCHOR)
    with pytest.raises(ClockError, match="expected real or virtual"):
        Clock.from_env({CLOCK_VARIABLE: "virtual"})


def test_format_start_is_what_the_spec_reads() -> None:
    assert format_start(FIRST_TICK + 1) == "2026-01-05T14:30:00.000001Z"
    assert parse_clock_spec(virtual_clock(FIRST_TICK + 1, 1, ANCHOR)).start_micros == FIRST_TICK + 1


def test_the_feed_generator_and_sqs_stand_in_read_now_from_the_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """R7: a generated feed starting "now" and a message "sent now" take the shared clock's now."""
    monkeypatch.setenv(CLOCK_VARIABLE, virtual_clock(FIRST_TICK, 1, clock.real_micros()))
    tick = next(generate_ticks(FeedConfig(start="now")))
    tick_micros = round(datetime.fromisoformat(tick["timestamp"]).timestamp() * 1e6)
    assert 0 <= tick_micros - FIRST_TICK < 60_000_000  # the first tick is at most 2 s after start, + the test
    sent_ms = int(received_message("{}")["Attributes"]["SentTimestamp"])
    assert 0 <= sent_ms - FIRST_TICK // 1000 < 60_000


def test_newest_tick_micros_reads_every_tick_of_a_body() -> None:
    packed = '[{"timestamp":"2026-01-05T14:30:00.5Z"},{"timestamp":"2026-01-05T16:30:01+02:00"},{"x":1}]'
    assert newest_tick_micros(packed) == FIRST_TICK + 1_000_000
    assert newest_tick_micros('{"timestamp":"2026-01-05T14:30:00Z"}') == FIRST_TICK
    for nothing in ('{"timestamp":"2026-01-05T14:30:00"}', '{"timestamp":7}', "[1]", "[{", '"s"'):
        assert newest_tick_micros(nothing) is None, nothing


class _RecordingSqs:
    """send_message_batch records the clock's instant of each call and accepts every entry."""

    def __init__(self, seen_by: Clock) -> None:
        self.clock, self.sent_at = seen_by, list[tuple[int, list[str]]]()

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, str]]) -> dict[str, object]:  # noqa: N803
        self.sent_at.append((self.clock.now_micros(), [e["MessageBody"] for e in Entries]))
        return {"Successful": [{"Id": e["Id"]} for e in Entries]}


def test_a_paced_sender_sends_no_tick_before_the_clock_reaches_it() -> None:
    """R7: a recorded feed plays at its own timestamps: no batch leaves before the shared clock shows its
    newest tick (so the function never sees it from the future), and a malformed body waits for nothing."""
    shared = Clock(parse_clock_spec(virtual_clock(FIRST_TICK, 1000, clock.real_micros())))
    bodies = [
        '{"symbol":"A","price":1,"timestamp":"2026-01-05T14:30:00.3Z"}',
        "not json",
        '[{"symbol":"A","price":1,"timestamp":"2026-01-05T14:30:01Z"}]',
    ]
    client = _RecordingSqs(shared)
    # One message per batch (rate 1), the bucket itself never waiting.
    bucket = sender.TokenBucket(rate=1e9, capacity=1)
    result = sender.send_feed(bodies, "q", 1, client=client, bucket=bucket, paced_by=shared)
    assert result.sent == 3
    assert [batch for _, batch in client.sent_at] == [[b] for b in bodies]
    for at, batch in client.sent_at:
        assert at >= max((newest_tick_micros(b) or 0) for b in batch)


def test_the_sender_paces_by_the_environments_clock(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shared = virtual_clock(FIRST_TICK, 1000, clock.real_micros())
    monkeypatch.setenv(CLOCK_VARIABLE, shared)
    client = _RecordingSqs(Clock(parse_clock_spec(shared)))
    monkeypatch.setattr(sender, "sqs_client", lambda *_a: client)
    path = tmp_path / "one.jsonl"
    write_feed(path, ['{"symbol":"A","price":1,"timestamp":"2026-01-05T14:30:02Z"}'])
    assert sender.main(["--queue-url", "q", "--file", str(path), "--paced"]) == 0
    assert client.sent_at[0][0] >= FIRST_TICK + 2_000_000
    assert json.loads(capsys.readouterr().out)["sent"] == 1

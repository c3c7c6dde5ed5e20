"""Market feed for the local system and for real queues: a seeded generator (sent by ops/send_feed.py).

generate: a seeded random walk per symbol, mean-reverting around the lines of config/alert-rules.json so
that prices cross them several times, with bid/ask quotes (occasionally wide), volumes (occasionally block
trades), strictly increasing timestamps per symbol (ISO-8601, mostly `Z`, some with numeric offsets) and a
few malformed messages. Ticks are packed into SQS bodies (one tick object, or an array of ticks) like a
feed handler does, one body per line of the feed file.

    python -m local.feed generate --seed 7 --messages 300 --out local/data/sample-feed.jsonl
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from local.clock import Clock

SQS_MAX_BATCH_ENTRIES = 10
SQS_MAX_BATCH_BYTES = 262_144  # also the limit of one message body
DEFAULT_START = "2026-11-25T14:30:00Z"


@dataclass(frozen=True)
class SymbolSpec:
    """One instrument of the generated market: its walk is pulled towards `anchor` (a rule's line)."""

    symbol: str
    anchor: float
    volatility: float  # standard deviation of one step, relative to the anchor
    tick_size: float
    spread_ticks: tuple[int, int]  # normal quoted spread, in ticks
    wide_spread: float  # absolute spread of an occasional wide quote
    lot: int  # typical traded quantity
    start_offset: float = 0.0  # first price = anchor * (1 + start_offset)


# AAPL/MSFT/BTC-USD/EUR/USD/TSLA sit on the lines of config/alert-rules.json; NVDA is named by no rule.
DEFAULT_SYMBOLS: tuple[SymbolSpec, ...] = (
    SymbolSpec("AAPL", 200.0, 0.0012, 0.01, (1, 3), 0.65, 300, -0.004),
    SymbolSpec("MSFT", 450.0, 0.0010, 0.01, (1, 3), 0.80, 200, -0.003),
    SymbolSpec("BTC-USD", 100_000.0, 0.0010, 0.01, (1, 40), 25.0, 2, -0.003),
    SymbolSpec("EUR/USD", 1.05, 0.0004, 0.0001, (1, 2), 0.0015, 20, 0.002),
    SymbolSpec("TSLA", 300.0, 0.0015, 0.01, (2, 5), 0.90, 250, -0.004),
    SymbolSpec("NVDA", 140.0, 0.0015, 0.01, (1, 3), 0.60, 400),
)
OFFSETS = (timedelta(hours=2), timedelta(hours=-5), timedelta(hours=5, minutes=30), timedelta(hours=1))


@dataclass(frozen=True)
class FeedConfig:
    seed: int = 7
    messages: int = 300
    max_ticks_per_message: int = 9
    malformed: int = 3
    # ISO-8601, or "now": the local system's clock (local/clock.py); ticks then carry live times and are no
    # longer reproducible
    start: str = DEFAULT_START
    mean_interval_s: float = 6.0  # per symbol
    symbols: tuple[SymbolSpec, ...] = DEFAULT_SYMBOLS
    reversion: float = 0.05  # pull towards the anchor per step
    wide_spread_p: float = 0.02
    block_trade_p: float = 0.01
    offset_p: float = 0.1
    no_quote_p: float = 0.05


def format_timestamp(when: datetime, offset: timedelta | None = None) -> str:
    """ISO-8601 with milliseconds: `...Z` in UTC, or the same instant at a numeric offset."""
    if offset is None:
        return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"
    return when.astimezone(timezone(offset)).isoformat(timespec="milliseconds")


def generate_ticks(cfg: FeedConfig) -> Iterator[dict[str, Any]]:
    """Endless stream of valid ticks in global timestamp order (strictly increasing per symbol)."""
    rng = random.Random(cfg.seed)
    start = (
        Clock.from_env().now()
        if cfg.start == "now"
        else datetime.fromisoformat(cfg.start.replace("Z", "+00:00"))
    )
    prices = {s.symbol: s.anchor * (1 + s.start_offset) for s in cfg.symbols}
    clock = {s.symbol: start + timedelta(milliseconds=rng.randrange(0, 2000)) for s in cfg.symbols}
    specs = {s.symbol: s for s in cfg.symbols}
    while True:
        symbol = min(clock, key=lambda k: (clock[k], k))
        spec, when = specs[symbol], clock[symbol]
        step = rng.gauss(0.0, spec.volatility * spec.anchor)
        raw = prices[symbol] + cfg.reversion * (spec.anchor - prices[symbol]) + step
        price = max(spec.tick_size, round(raw / spec.tick_size) * spec.tick_size)
        prices[symbol] = price
        yield build_tick(rng, cfg, spec, when, price)
        # at least 1 ms later, so that timestamps strictly increase per symbol at millisecond precision
        interval = max(0.001, rng.expovariate(1.0 / cfg.mean_interval_s))
        clock[symbol] = when + timedelta(milliseconds=max(1, round(interval * 1000)))


def _decimals(tick_size: float) -> int:
    return max(0, -int(f"{tick_size:e}".split("e")[1]))


def build_tick(
    rng: random.Random, cfg: FeedConfig, spec: SymbolSpec, when: datetime, price: float
) -> dict[str, Any]:
    """One tick of `spec` at `when`: the price rounded to its tick size, a volume, usually a quote."""
    digits = _decimals(spec.tick_size)
    offset = rng.choice(OFFSETS) if rng.random() < cfg.offset_p else None
    tick: dict[str, Any] = {
        "symbol": spec.symbol,
        "price": round(price, digits),
        "timestamp": format_timestamp(when, offset),
    }
    if rng.random() < cfg.block_trade_p:
        tick["volume"] = rng.randrange(100_001, 500_000)
    else:
        tick["volume"] = max(1, int(rng.lognormvariate(0.0, 0.8) * spec.lot))
    if rng.random() >= cfg.no_quote_p:
        if rng.random() < cfg.wide_spread_p:
            spread = spec.wide_spread
        else:
            spread = rng.randint(*spec.spread_ticks) * spec.tick_size
        half = round(spread / 2 / spec.tick_size) * spec.tick_size
        tick["bid"] = round(max(spec.tick_size, price - half), digits)
        tick["ask"] = round(price + max(half, spec.tick_size), digits)
    return tick


def _malformed(kind: int, rng: random.Random, good: list[dict[str, Any]]) -> str:
    """0: invalid JSON; 1: a tick with a negative price; 2: good ticks with a bad one in between."""
    if kind == 0:
        return json.dumps(good[0], separators=(",", ":"))[:-7]  # truncated in transit
    if kind == 1:
        return json.dumps({**good[0], "price": -abs(good[0]["price"])}, separators=(",", ":"))
    bad = rng.choice(
        [
            {"symbol": good[0]["symbol"], "price": "n/a", "timestamp": good[0]["timestamp"]},
            {"symbol": good[0]["symbol"], "price": good[0]["price"], "timestamp": "2026-11-25 14:30:00"},
            {"price": good[0]["price"], "timestamp": good[0]["timestamp"]},
        ]
    )
    return json.dumps([*good, bad], separators=(",", ":"))


def iter_feed(cfg: FeedConfig) -> Iterator[str]:
    """`cfg.messages` SQS bodies: packed ticks, `cfg.malformed` of them malformed at seeded positions."""
    rng = random.Random(cfg.seed ^ 0x5EED)
    ticks = generate_ticks(cfg)
    positions = rng.sample(range(cfg.messages), min(cfg.malformed, cfg.messages))
    kind_at = {position: kind % 3 for kind, position in enumerate(positions)}
    for index in range(cfg.messages):
        count = rng.randint(1, cfg.max_ticks_per_message)
        packed = [next(ticks) for _ in range(count)]
        if index in kind_at:
            yield _malformed(kind_at[index], rng, packed)
        elif count == 1 and rng.random() < 0.5:
            yield json.dumps(packed[0], separators=(",", ":"))
        else:
            yield json.dumps(packed, separators=(",", ":"))


def generate_feed(cfg: FeedConfig) -> list[str]:
    return list(iter_feed(cfg))


def write_feed(path: Path, bodies: Iterable[str]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", encoding="utf-8") as out:
        for body in bodies:
            if "\n" in body:
                raise ValueError("a feed line cannot hold a body with a newline")
            out.write(body + "\n")
            count += 1
    return count


def newest_tick_micros(body: str) -> int | None:
    """The newest timestamp (micros since the epoch) among the ticks of a body, None when no tick of it has
    a readable one: what a sender paced by the clock waits for (malformed bodies wait for nothing)."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return None
    newest = None
    for tick in parsed if isinstance(parsed, list) else [parsed]:
        try:
            when = datetime.fromisoformat(tick["timestamp"])
        except (TypeError, KeyError, ValueError):
            continue
        if when.tzinfo is not None:
            micros = (when - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
            newest = micros if newest is None else max(newest, micros)
    return newest


def read_feed(path: Path) -> Iterator[str]:
    with path.open(encoding="utf-8") as feed:
        for line in feed:
            body = line.rstrip("\n")
            if body:
                yield body


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.feed", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate", help="write a seeded feed file (one SQS body per line)")
    gen.add_argument("--seed", type=int, default=FeedConfig.seed)
    gen.add_argument("--messages", type=int, default=FeedConfig.messages)
    gen.add_argument("--max-ticks-per-message", type=int, default=FeedConfig.max_ticks_per_message)
    gen.add_argument("--malformed", type=int, default=FeedConfig.malformed)
    gen.add_argument("--start", default=FeedConfig.start, help='first tick time, ISO-8601, or "now"')
    gen.add_argument("--out", type=Path, required=True)
    args = vars(parser.parse_args(argv))
    out = args.pop("out")
    del args["command"]
    count = write_feed(out, generate_feed(FeedConfig(**args)))  # the options are FeedConfig's fields
    print(f"wrote {count} messages to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

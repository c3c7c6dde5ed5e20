"""A hot-symbol feed (issue 14): one symbol printing `rate` ticks per second of event time beside the usual
symbols of local/feed.py, delivered out of order as SQS delivers it. It sizes the per-symbol state: the
bytes the function writes per batch for a hot symbol (docs/design.md) are measured on it.

- Event time: tick k of the hot symbol is stamped start + floor(k * 1000 / rate) ms, so every second of
  event time holds exactly `rate` of its ticks, several per millisecond (timestamps at millisecond
  precision, like the other feeds). Each hot tick carries `seq` (F2): its symbol's sequence number, 1, 2,
  3, ..., which orders the ticks of equal timestamp; (symbol, timestamp, seq) is unique. The other
  symbols' ticks come from local/feed.py's walk (strictly increasing timestamps, no `seq`).
- Delivery order: a tick is delivered at its event time, except a `late_fraction` of them (drawn per
  tick) delivered up to `max_lateness_s` (exclusive) later: newer ticks of its symbol overtake it. A tick
  is therefore never more than `max_lateness_s` of event time behind the newest tick of its symbol
  delivered before it (the default 59 s stays inside F3's default reorder window of 60 s by event time;
  at 3,000 ticks/s the window's tick-count bound is the tighter one, which is what this feed exercises).
- Packing: ticks are packed in delivery order into bodies of 1..`max_ticks_per_message` ticks (arrays;
  a single tick sometimes as a bare object), one body per line, like local/feed.py.
- Deterministic: the same configuration writes the same file.
- `others=False` (`--no-others`): the hot symbol alone. A symbol's state item is written from its own ticks
  only, so the state bytes the function reports per batch of this feed are the hot symbol's
  (bench/hot_symbol.py measures them so).

    python -m local.hot_feed --seed 11 --seconds 10 --out build/hot-feed.jsonl   (or: make hot-feed)
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import sys
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from local.feed import DEFAULT_START, DEFAULT_SYMBOLS, FeedConfig, build_tick, generate_ticks, write_feed


@dataclass(frozen=True)
class HotFeedConfig:
    seed: int = 11
    seconds: int = 10  # of event time
    hot_symbol: str = "AAPL"  # one of local/feed.py's symbols (its walk and quotes)
    rate: int = 3_000  # hot ticks per second of event time
    late_fraction: float = 0.1  # share of ticks delivered late
    max_lateness_s: float = 5.0  # a late tick arrives less than this much event time after its place (< 60)
    max_ticks_per_message: int = 50
    start: str = DEFAULT_START
    others: bool = True  # False: the hot symbol alone (its state bytes per batch are then the batch's)


HELP = {
    "seconds": "event time covered",
    "hot_symbol": "one of local/feed.py's symbols",
    "rate": "hot ticks per second of event time",
    "late_fraction": "share of ticks delivered late",
    "max_lateness_s": "a late tick arrives less than this much event time after its place",
    "start": "first tick time, ISO-8601",
    "others": "also the other symbols of local/feed.py (--no-others: the hot symbol alone)",
}


@dataclass(frozen=True)
class HotFeed:
    bodies: list[str]
    ticks: int
    hot_ticks: int
    delayed: int  # ticks drawn to be delivered late


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _hot_ticks(cfg: HotFeedConfig, rng: random.Random, start: datetime) -> Iterator[dict[str, Any]]:
    spec = next(s for s in DEFAULT_SYMBOLS if s.symbol == cfg.hot_symbol)
    walk = FeedConfig(seed=cfg.seed)
    price = spec.anchor * (1 + spec.start_offset)
    for k in range(cfg.seconds * cfg.rate):
        step = rng.gauss(0.0, spec.volatility * spec.anchor)
        price = max(spec.tick_size, price + walk.reversion * (spec.anchor - price) + step)
        price = round(price / spec.tick_size) * spec.tick_size
        when = start + timedelta(milliseconds=k * 1000 // cfg.rate)
        yield {**build_tick(rng, walk, spec, when, price), "seq": k + 1}


def _other_ticks(cfg: HotFeedConfig, end: datetime) -> Iterator[dict[str, Any]]:
    others = tuple(s for s in DEFAULT_SYMBOLS if s.symbol != cfg.hot_symbol)
    walk = generate_ticks(FeedConfig(seed=cfg.seed, start=cfg.start, symbols=others))  # endless, time order
    return itertools.takewhile(lambda tick: _when(tick["timestamp"]) < end, walk)


def generate(cfg: HotFeedConfig) -> HotFeed:
    if cfg.hot_symbol not in {s.symbol for s in DEFAULT_SYMBOLS}:
        raise ValueError(f"hot symbol {cfg.hot_symbol!r} is none of {[s.symbol for s in DEFAULT_SYMBOLS]}")
    if cfg.seconds < 1 or cfg.rate < 1 or not 0 <= cfg.late_fraction <= 1 or cfg.max_lateness_s <= 0:
        raise ValueError("seconds and rate must be >= 1, late_fraction in [0, 1], max_lateness_s > 0")
    rng = random.Random(cfg.seed)
    start = _when(cfg.start)
    ticks = [*_hot_ticks(cfg, rng, start)]
    if cfg.others:
        ticks += _other_ticks(cfg, start + timedelta(seconds=cfg.seconds))
    delivery: list[tuple[datetime, int]] = []
    delayed = 0
    for index, tick in enumerate(ticks):
        at = _when(tick["timestamp"])
        if rng.random() < cfg.late_fraction:
            delayed += 1
            # whole microseconds below the bound: a delay never reaches max_lateness_s
            at += timedelta(microseconds=int(rng.random() * cfg.max_lateness_s * 1_000_000))
        delivery.append((at, index))
    delivery.sort()
    in_order = [ticks[index] for _, index in delivery]
    bodies: list[str] = []
    done = 0
    while done < len(in_order):
        count = rng.randint(1, cfg.max_ticks_per_message)
        packed = in_order[done : done + count]
        done += count
        single = len(packed) == 1 and rng.random() < 0.5
        bodies.append(json.dumps(packed[0] if single else packed, separators=(",", ":")))
    return HotFeed(bodies, len(ticks), cfg.seconds * cfg.rate, delayed)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.hot_feed", description=__doc__.split("\n\n")[0])
    defaults = HotFeedConfig()
    for name, value in asdict(defaults).items():  # one option per field, typed like its default
        option = "--" + name.replace("_", "-")
        if isinstance(value, bool):  # --others / --no-others
            parser.add_argument(option, action=argparse.BooleanOptionalAction, default=value, help=HELP[name])
        else:
            parser.add_argument(option, type=type(value), default=value, help=HELP.get(name))
    parser.add_argument("--out", type=Path, required=True)
    args = vars(parser.parse_args(argv))
    out = args.pop("out")
    feed = generate(replace(defaults, **args))  # the options are HotFeedConfig's fields
    count = write_feed(out, feed.bodies)
    print(
        f"wrote {count} messages to {out}: {feed.ticks} ticks, {feed.hot_ticks} of {args['hot_symbol']} "
        f"({args['rate']}/s of event time for {args['seconds']} s), {feed.delayed} delivered late"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

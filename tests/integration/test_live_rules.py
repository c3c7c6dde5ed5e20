"""Rules changed while the feed plays (issue 15 item 7; R1-R3, F3-F5), on the stack deployed to the emulator.

The trader's rules document is imported before the feed (as in tests/integration/test_deployment.py, whose
deployment and local system this module shares); then, while the sample feed plays in the feed's virtual
clock (R7), the standard schedule of tests/chaos/live_rules.py is committed: a `once` rule and an `every`
rule created, thresholds edited, a rule paused and resumed, the `once` rule re-armed after it fired, the
`every` rule deleted (through the deployed API function, the trader's path) and a symbol suspended and
lifted by the operator (`tap_rules`). Every version and suspension is then read back and is what the oracle
replays: at concurrency 1 the stored alerts are exactly the in-order replay's; at concurrency 5 F3's
guarantees hold, every difference explained, no `once` fired twice in one arming. Each change's answered
effective_from is where the versions read back change (R3: in effect from exactly there, for every tick).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest

from local.clock import CLOCK_VARIABLE, Clock, parse_clock_spec
from local.demo import RunReport, run_feed
from local.emulator import LOCAL_ENV
from local.feed import read_feed
from local.function_host import FunctionRunner, runner
from local.rules_import import named_alerts
from tests.chaos import event_time
from tests.chaos.event_time import Controls, Version
from tests.chaos.judge import judge
from tests.chaos.live_rules import FunctionApi, Player, check_applied, once_fires_per_arming, schedule
from tests.integration.conftest import Deployment
from tests.integration.test_deployment import (
    CONFIG_RULES,
    FULL_CONCURRENCY,
    HOST_BOOTSTRAP,
    SAMPLE_FEED,
    TRADER,
    check_dead_letters,
    check_notified_once,
    feed_ticks,
    local_system,
)

pytestmark = pytest.mark.integration

FEED_SECONDS = 600  # the sample feed's first ten minutes of event time: 12 s of real time at speed 50


def sample_feed() -> list[str]:
    """The sample feed's messages up to the first one holding a tick FEED_SECONDS after its first tick."""
    lines = list(read_feed(SAMPLE_FEED))
    stamps = [[t.ts_us for t in ticks] for ticks in map(lambda line: feed_ticks([line]), lines)]
    first = min(min(s) for s in stamps if s)
    end = next(i for i, s in enumerate(stamps) if s and max(s) >= first + FEED_SECONDS * 1_000_000)
    return lines[:end]


@contextmanager
def api_function(deployment: Deployment, clock: str) -> Iterator[FunctionRunner]:
    """The deployed API function (its environment and handler as the stack set them) as a host process on
    the feed's clock."""
    config = deployment.client("lambda").get_function(FunctionName=deployment.outputs["api_function_name"])
    settings = config["Configuration"]
    env = {
        **settings["Environment"]["Variables"],
        "_HANDLER": settings["Handler"],
        **LOCAL_ENV,
        "AWS_ENDPOINT_URL": deployment.moto.url,
        CLOCK_VARIABLE: clock,
    }
    with runner([str(HOST_BOOTSTRAP)], env) as function:
        yield function


@dataclass
class LiveRun:
    report: RunReport
    player: Player
    versions: list[Version]
    controls: Controls
    alerts: list[dict[str, object]]  # stored, rules by name
    ticks: list[event_time.TickLike]


def live_run(deployment: Deployment, concurrency: int) -> LiveRun:
    lines = sample_feed()
    ticks = feed_ticks(lines)
    first = min(t.ts_us for t in ticks)
    span_s = (max(t.ts_us for t in ticks) - first) / 1_000_000
    with (
        local_system(deployment, concurrency, CONFIG_RULES, lines) as system,
        api_function(deployment, system.clock) as api,
    ):
        clock = Clock(parse_clock_spec(system.clock))
        ids = {name: rule_id for rule_id, name in system.rule_names.items()}
        player = Player(FunctionApi(api), system.rules_tool(), TRADER, clock, first, ids)
        stop = threading.Event()
        changes = threading.Thread(target=player.play, args=(schedule(span_s), stop))
        changes.start()
        try:
            report = run_feed(system, lines, rate=None, timeout_s=90)
        finally:
            stop.set()
            changes.join()
        assert system.source is not None
        assert system.source.errors == []
        versions, controls = player.versions(), player.controls()
        names = system.rules_tool().rule_names(TRADER)
    assert report.drained
    assert player.errors == []
    assert len(player.applied) == len(schedule(span_s))  # every change committed, the re-arm included
    assert check_applied(player.applied, versions, controls) == []
    assert {a.get("owner") for a in report.alerts} <= {TRADER}
    check_notified_once(report)
    check_dead_letters(report, lines)
    return LiveRun(report, player, versions, controls, named_alerts(report.alerts, names), list(ticks))


def test_rules_changed_during_the_feed_at_concurrency_1_give_exactly_the_replays_alerts(
    deployment: Deployment,
) -> None:
    run = live_run(deployment, 1)
    replay = event_time.in_order_replay(run.ticks, run.versions, run.controls)
    expected = {(f.symbol, f"{f.ts}#{f.rule}"): f for f in replay.fires}
    stored = {(str(a["symbol"]), str(a["timestamp"])): a for a in run.alerts}
    assert sorted(stored) == sorted(expected)
    for key, fire in expected.items():
        item = stored[key]
        assert (item["rule_id"], item["severity"], float(str(item["price"]))) == (
            fire.rule,
            fire.severity,
            fire.price,
        )
    # The changes show: the `once` rule fired once in each of its two armings, a rule created during the
    # feed fired, the suspended symbol's ticks inside the suspension were not applied.
    assert once_fires_per_arming(run.alerts, run.versions) == {"tsla-once#1": 1, "tsla-once#2": 1}
    assert any(a["rule_id"] == "nvda-every" for a in run.alerts)
    assert replay.not_applied["suspended"] > 0
    print(
        f"\nconcurrency 1: {len(run.player.applied)} changes during the feed, {len(run.versions)} versions, "
        f"{len(expected)} alerts, exactly the replay's"
    )


def test_rules_changed_during_the_feed_at_full_concurrency_keep_f3s_guarantees(
    deployment: Deployment,
) -> None:
    run = live_run(deployment, FULL_CONCURRENCY)
    replay = event_time.in_order_replay(run.ticks, run.versions, run.controls)
    beyond = int(run.report.emf.get("TicksBeyondWindow", 0))
    verdict = judge(replay, run.alerts, beyond_w_count=beyond)
    assert verdict.ok, verdict.problems()
    once = once_fires_per_arming(run.alerts, run.versions)
    assert max(once.values(), default=0) <= 1, once
    print(
        f"\nconcurrency {FULL_CONCURRENCY}: {len(run.player.applied)} changes, "
        f"late {run.report.emf['LateTicks']:.0f}, beyond W {beyond}, "
        f"{verdict.total('matched')} of {verdict.total('replay')} replay alerts matched, "
        f"{verdict.total('mode_choices')} mode choices, once fires per arming {dict(once)}"
    )

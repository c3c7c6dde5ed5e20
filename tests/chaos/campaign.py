"""A seeded chaos campaign on the local system (issue 9, F3/F5/F7): the real function, at concurrency N
behind the local SQS event source, with faults injected into its DynamoDB and SNS calls and its processes
SIGKILLed inside invocations, then the invariant checked on the end state.

Faults: every kind once at the start (a sweep, so that a short run sees them all whatever the dice say),
then each DynamoDB/SNS call faulted with the total rate, split by kind; optionally an SNS outage window (every
Publish refused) that lasts until a message has failed maxReceiveCount receives, so that messages with alerts
land in the DLQ with their alerts stored but not notified. With `hostile`, the hostile-input corpus
(tests/chaos/hostile.py) is mixed into the feed.

Rules are live data (R1-R3): the function reads the rules table (RULES_TABLE), where `tap_rules import`
puts config/alert-rules.json for one trader before the feed, and while the feed plays a schedule of rule
changes (tests/chaos/live_rules.py: create a `once` and an `every` rule, edit thresholds, pause and resume,
re-arm the `once` rule after it fired, delete; the operator suspends a symbol and lifts it) is committed
through the API function and `tap_rules`, between the faults and the kills. What was committed is read back
(every version, every suspension) and is what the oracle replays.

Wiring: moto (atomic DynamoDB writes) <- fault proxy <- function processes (AWS_ENDPOINT_URL); the event
source polls the source queue on moto directly (the poller is Lambda's, not the function's), and the rules'
writers (API function, tap_rules) reach moto directly too. The source queue has a short visibility timeout
and a redrive policy to the DLQ, so that failed and killed batches come back in seconds and end in the DLQ
after `max_receive_count` receives.

The clock (R7, docs/design.md 12.7). Every process reads one virtual clock in which the generated feed plays
at its own timestamps, `speed` (5) times faster than real time; the feed is generated dense enough
(`feed_interval_s`: 2 messages per second of event time at 10 per real second) that the paced sender still
sends `send_rate` messages per real second. What each timing means there:
- the visibility timeout (9 s) and the function timeout (8 s) are real: Lambda and SQS time them on the real
  clock, and 9 s > 8 s keeps a batch from being redelivered while it still runs;
- the reorder window W (60 s of event time) is 12 s real: a message redelivered after one visibility timeout
  (9 s real, 45 s of event time behind the feed) is still within W of its symbols' newest ticks, so the
  first redelivery is an in-window reordering as in production; later ones fall beyond W, are counted
  (`TicksBeyondWindow`) and explain the misses they cause;
- P (5 s) is 1 s real, F (10 s) 2 s real: the paced feed never sends a tick ahead of the clock, and each
  change of the schedule takes effect 1 s real after its commit, well inside the feed;
- the function's work budget for a batch (its timeout, in its own clock) is 8 s / 5 = 1.6 s real: enough for
  a batch on moto; a batch slowed by faults past it fails and is redelivered, which is a fault like others;
- the rules are imported before the run's clock starts, by a writer whose clock is an hour behind it (R3:
  a writer behind only chooses an earlier effective_from; no reader has fenced yet), so that however long
  the import takes on a loaded machine its versions are in effect from before the feed; the run's clock
  then starts `clock_margin_s` (5 s of event time, 1 s real) before the first tick, the functions' start;
- the SNS outage (real seconds) lasts until a message has failed its last receive, an event waited for.

The invariant after draining (queue and invocations empty):
- fidelity (F3, tests/chaos/judge.py): the stored alerts against the in-order replay of the processed
  ticks with the versions and suspensions read back, per rule and excursion: no alert stored twice, none
  that no version effective at its tick justifies, no two that the mode forbids together (every `once` at
  most once per arming); with `fidelity_gate` also every replay alert stored or its absence explained by a
  tick beyond W (the functions' EMF TicksBeyondWindow sum) or a counted mode choice;
- every change of the schedule in the versions read back at the effective_from it was answered;
- every stored alert notified at least once; every notification names a stored alert; a repeat carries the
  same alert (same content, same attributes); exactly once unless the alert's notification may have gone
  out without its "sent" mark: a kill or timeout of an invocation that carried its tick, or the function's
  own log naming the alert (a mark that failed after its publish, a publish unanswered at its deadline);
- every message sent was deleted after success or is in the DLQ: nothing lost; every hostile body is in the
  DLQ with exactly its rejection reason (or, when valid, processed), its good ticks' alerts stored.

After the feed, recovery as an operator does it: faults off, the DLQ redriven except what the function
rejected (ops.dlq --skip-rejected), drained again; then the check.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from local.clock import CLOCK_VARIABLE, Clock, feed_clock, parse_clock_spec
from local.emf import emf_totals, json_records
from local.emulator import LOCAL_ENV, MotoServer
from local.event_source import BatchOutcome, EventSourceConfig, SqsEventSource
from local.fault_proxy import FaultKind, FaultProxy, FaultRule
from local.feed import FeedConfig, generate_feed
from local.function_host import (
    DEFAULT_RUNNER,
    RUNNERS,
    FunctionRunner,
    default_bootstrap,
    function_command,
    runner,
)
from local.function_resources import RULES_PATH, resources_on
from local.rules_import import RulesTool, effective_froms, named_key
from local.runtime_api import FunctionProcess, InvocationResult
from local.sqs_queues import drain, queue_arn
from ops import dlq
from ops.send_feed import SendResult, TokenBucket, send_feed
from tests.chaos import event_time, oracle
from tests.chaos.event_time import Controls, Version
from tests.chaos.hostile import MAX_BODY, TICK_TIME, BodyCase, body_cases
from tests.chaos.judge import judge
from tests.chaos.live_rules import (
    Applied,
    FunctionApi,
    Player,
    check_applied,
    once_fires_per_arming,
    schedule,
)

REGION = "us-east-1"
IMPORT_LEAD_S = 3600.0  # the import's clock is this far (event time) behind the run's
OWNER = "trader-chaos"  # the trader whose rules the campaign imports and changes
TICKS_PER_MESSAGE = 5  # the generated feed's mean (1 to max_ticks_per_message = 9)
# Relative weights of the kinds within the total fault rate; a stall costs a whole invocation timeout.
DYNAMODB_KINDS = {
    FaultKind.DYNAMODB_UNPROCESSED_KEYS: 2.0,  # BatchGetItem only (one per batch): a larger share
    FaultKind.DYNAMODB_THROUGHPUT: 1.0,
    FaultKind.DYNAMODB_THROTTLING: 1.0,
    FaultKind.HTTP_500: 1.0,
    FaultKind.HTTP_503: 1.0,
    FaultKind.RESET: 1.0,
    FaultKind.STALL: 0.3,
}
SNS_KINDS = {
    FaultKind.SNS_THROTTLING: 2.0,  # SNS sees few calls (one per alert): the kind of its own weighs more
    FaultKind.HTTP_500: 1.0,
    FaultKind.HTTP_503: 1.0,
    FaultKind.RESET: 1.0,
    FaultKind.STALL: 0.3,
}
# Not in the campaign: a `delay` lands its request after the delay even when the client gave up on it at
# its deadline, so a Publish abandoned by its invocation can still notify, and the redelivery notifies
# again -- a repeat the judge cannot tie to an interruption (SNS Publish is not idempotent). The kind
# serves the change protocol's adversarial tests (tests/unit/test_change_protocol_adversarial.py).
CAMPAIGN_KINDS = frozenset(FaultKind) - {FaultKind.DELAY}


@dataclass(frozen=True)
class ChaosConfig:
    seconds: float
    fault_rate: float = 0.2
    seed: int = 1
    concurrency: int = 2
    send_rate: float = 10.0  # messages per second
    kill_every_s: float = 5.0
    function_timeout_s: float = 8.0  # the function keeps 1 s for reporting; retries back off up to 2 s
    visibility_timeout_s: int = 9  # >= the function timeout, as Lambda requires
    max_receive_count: int = 5
    outage_at_s: float = 0.0  # SNS outage window, from the start of the feed
    outage_s: float = 0.0  # 0: no outage
    # The outage then goes on until a message has failed maxReceiveCount receives (the redrive policy moves it
    # to the DLQ at its next receive), at most this long: how fast the first alerts are stored depends on the
    # machine's load, and a fixed window may close before any message reached its last receive.
    outage_cap_s: float = 90.0
    hostile: bool = False  # mix the hostile-input corpus into the feed
    speed: int = 5  # the virtual clock's speed (see the docstring)
    clock_margin_s: float = 5.0  # event time between the clock's start and the feed's first tick
    live_changes: bool = True  # play the schedule of rule changes during the feed
    fidelity_gate: bool = False  # F3: every difference from the in-order replay explained (see the docstring)
    # Draining ends when the queue and the invocations are empty; it gives up when the queue has not shrunk
    # for this long (more than a message's maxReceiveCount receives take).
    drain_stall_s: float = 120.0
    bootstrap: Path = field(default_factory=default_bootstrap)
    runner: str = DEFAULT_RUNNER  # what serves the Runtime API (local/function_host.py RUNNERS)


def feed_interval_s(cfg: ChaosConfig) -> float:
    """The generated feed's mean interval per symbol such that, paced by the clock at `speed`, it is sent at
    `send_rate` messages per real second: `send_rate / speed` messages per second of event time."""
    symbols = len(FeedConfig().symbols)
    return symbols * cfg.speed / (TICKS_PER_MESSAGE * cfg.send_rate)


def fault_rules(rate: float) -> list[FaultRule]:
    """Rules injecting `rate` of the DynamoDB and SNS calls in total, split by weight. The proxy tries the
    rules in order with one coin each, so each rule's probability is conditional on the earlier ones not
    firing (BatchGetItem alone also gets the UnprocessedKeys share; other operations a little less)."""
    rules: list[FaultRule] = []
    for service, kinds in (("dynamodb", DYNAMODB_KINDS), ("sns", SNS_KINDS)):
        total = sum(kinds.values())
        left = 1.0
        for kind, weight in kinds.items():
            share = rate * weight / total
            rules.append(FaultRule(service, kind, min(1.0, share / left)))
            left -= share
    return rules


def sweep_rules() -> list[FaultRule]:
    """Each kind once, on the first calls it can apply to (ahead of the random rules)."""
    return [
        FaultRule(service, kind, 1.0, limit=1)
        for service, kinds in (("dynamodb", DYNAMODB_KINDS), ("sns", SNS_KINDS))
        for kind in kinds
    ]


# An SNS outage: every publish refused (503) while it lasts -- Publish and PublishBatch, the function's only
# SNS calls (docs/design.md 6a).
OUTAGE = FaultRule("sns", FaultKind.HTTP_503, 1.0)


def _schedule(
    proxy: FaultProxy, cfg: ChaosConfig, outcomes: Sequence[BatchOutcome], stop: threading.Event
) -> None:
    """The outage window: sweep + outage + random rules inside it, sweep + random outside. It opens at
    `outage_at_s`, lasts at least `outage_s` and until a message is bound for the DLQ (at most
    `outage_cap_s`)."""
    normal = sweep_rules() + fault_rules(cfg.fault_rate)
    if cfg.outage_s <= 0 or stop.wait(cfg.outage_at_s):
        return
    proxy.set_rules([*sweep_rules(), OUTAGE, *fault_rules(cfg.fault_rate)])
    cap = time.monotonic() + max(cfg.outage_s, cfg.outage_cap_s)
    stop.wait(cfg.outage_s)
    while not stop.is_set() and time.monotonic() < cap and not dead_lettered(outcomes, cfg.max_receive_count):
        stop.wait(0.1)
    proxy.set_rules(normal)


def _send_mixed(
    bodies: Sequence[str], hostile: Sequence[BodyCase], url: str, rate: float, sqs: Any, clock: Clock
) -> SendResult:
    """The mixed feed at `rate` messages per second, the generated bodies paced by the feed's clock; the
    hostile ones in between are not (some carry ticks hours or decades away: the F bound dead-letters
    them) but wait for the clock to reach their TICK_TIME, so that their good ticks are not early."""
    hostile_bodies = {c.body for c in hostile}
    bucket = TokenBucket(rate, max(1, min(10, int(rate))))
    total = SendResult()
    for is_hostile, run in itertools.groupby(bodies, key=lambda b: b in hostile_bodies):
        if is_hostile:
            clock.wait_until(oracle.normalise_timestamp(TICK_TIME)[1])
        done = send_feed(list(run), url, client=sqs, bucket=bucket, paced_by=None if is_hostile else clock)
        total.sent += done.sent
        total.failed += done.failed
    return total


def dead_lettered(outcomes: Sequence[BatchOutcome], max_receive_count: int) -> bool:
    """Whether a message has failed `max_receive_count` receives: the redrive policy moves it to the DLQ."""
    failures = Counter(m for o in list(outcomes) for m in o.failed)
    return any(n >= max_receive_count for n in failures.values())


def hostile_cases() -> list[BodyCase]:
    """The corpus bodies SQS accepts (the others never reach a function) whose good ticks the feed's clock
    reaches during the run: a case whose valid tick lies hours after TICK_TIME (a normalised offset, a
    fraction of nines) would meet the F bound there, a future tick its case does not describe; the function's
    own hostile-input tests (tests/unit/test_hostile_input.py) run every case."""
    return [
        c
        for c in body_cases()
        if c.sqs_accepts and len(c.body.encode()) <= MAX_BODY and not _after_the_run(c)
    ]


def _after_the_run(case: BodyCase) -> bool:
    """Whether the case is accepted with a tick (or an alert) more than an hour after TICK_TIME (the campaign
    plays minutes). The alerts name ticks the oracle's parser does not read (more than nine fraction
    digits). A rejected case is rejected for its own reason at any time."""
    if case.reason is not None:
        return False
    try:
        stamps = [t.ts_us for t in oracle.parse_body(case.body).ticks]
    except RecursionError:  # nesting deeper than Python's parser goes: no tick the function accepts either
        stamps = []
    stamps += [oracle.normalise_timestamp(a.split("|")[1].split("#")[0])[1] for a in case.alerts]
    hour_after = oracle.normalise_timestamp(TICK_TIME)[1] + 3_600_000_000
    return any(ts > hour_after for ts in stamps)


def mix(feed: Sequence[str], extra: Sequence[str], rng: random.Random) -> list[str]:
    """`extra` inserted into `feed` at seeded positions, each kept in its own order."""
    out = list(feed)
    for body in extra:
        out.insert(rng.randrange(len(out) + 1), body)
    return out


class _Environment:
    """One execution environment (the function under its runner) that records whether an invocation is
    running and each message's body."""

    def __init__(self, emulator: FunctionRunner, bodies: dict[str, str]) -> None:
        self.emulator = emulator
        self.busy = False
        self.bodies = bodies

    @property
    def process(self) -> FunctionProcess | None:
        return self.emulator.process

    def stdout(self) -> list[str]:
        return [line for p in self.emulator.processes for line in list(p.stdout)]

    def invoke(self, payload: bytes, timeout_s: float, trace_id: str | None = None) -> InvocationResult:
        for record in json.loads(payload)["Records"]:
            self.bodies[record["messageId"]] = record["body"]
        self.busy = True
        try:
            return self.emulator.invoke(payload, timeout_s, trace_id)
        finally:
            self.busy = False


def _killer(
    environments: Sequence[_Environment],
    every_s: float,
    rng: random.Random,
    stop: threading.Event,
    kills: list[int],
) -> None:
    """Every `every_s` (jittered), SIGKILLs the process of an environment in the middle of an invocation."""
    while not stop.wait(every_s * rng.uniform(0.5, 1.5)):
        while not stop.is_set():
            busy = [e for e in environments if e.busy and _running(e.process)]
            if busy:
                process = rng.choice(busy).process
                assert process is not None
                process.kill()
                kills.append(process.pid)
                break
            stop.wait(0.01)


def _running(process: FunctionProcess | None) -> bool:
    """A process that has asked for an invocation and not exited (a runner makes its next process visible
    before it starts it: one killed a moment ago may be in that state)."""
    return process is not None and process.first_next_at is not None and process.alive()


def _pending(sqs: Any, url: str) -> int:
    """Messages in the queue, visible or in flight."""
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])


def _wait_drained(
    sqs: Any, url: str, environments: Sequence[_Environment], stall_s: float, poll_s: float = 0.5
) -> bool:
    """Until the queue holds no message, visible or in flight, and no invocation runs; False when the queue
    did not shrink for `stall_s` (a backlog drains at its own pace; a stuck queue does not)."""
    fewest = _pending(sqs, url)
    progress = time.monotonic()
    while True:
        pending = _pending(sqs, url)
        if pending == 0 and not any(e.busy for e in environments):
            return True
        if pending < fewest:
            fewest, progress = pending, time.monotonic()
        elif time.monotonic() - progress > stall_s:
            return False
        time.sleep(poll_s)


@dataclass
class _Rules:
    """The trader's rules on the campaign's rules table: the import before the feed, the schedule's player
    during it, what was committed read back after it."""

    tool: RulesTool
    player: Player
    names: dict[str, str] = field(default_factory=dict)  # rule id -> name, every rule of the run
    versions: list[Version] = field(default_factory=list)
    controls: Controls = field(default_factory=Controls)

    def read_back(self) -> None:
        self.names = self.tool.rule_names(OWNER)
        self.player.rule_ids.update({name: rule_id for rule_id, name in self.names.items()})
        self.versions = self.player.versions()
        self.controls = self.player.controls()


def _import_rules(tool: RulesTool, first_tick_us: int) -> dict[str, str]:
    """config/alert-rules.json for OWNER; its rules' name -> id. Every import must take effect by the feed's
    first tick (the hostile bodies' ticks carry it too): otherwise the clock margin is too small here."""
    report = tool.import_rules(OWNER, RULES_PATH)
    late = [ef for ef in effective_froms(report) if oracle.normalise_timestamp(ef)[1] > first_tick_us]
    if late:
        raise RuntimeError(f"rules effective after the first tick: {', '.join(late)} (raise the margin)")
    return {name: rule_id for rule_id, name in tool.rule_names(OWNER).items()}


def _api_env(resources: Any, clock_env: dict[str, str]) -> dict[str, str]:
    """The API function on the campaign's resources (lib/stack/api_function.py sets the same names)."""
    key = resources.client("kms").create_key()["KeyMetadata"]["Arn"]  # the cursors' MAC key is made under it
    return {
        **LOCAL_ENV,
        "_HANDLER": "api",
        "AWS_ENDPOINT_URL": resources.endpoint,
        "RULES_TABLE": resources.rules_table,
        "ALERTS_TABLE": resources.alerts_table,
        "STATE_TABLE": resources.state_table,
        "KMS_KEY_ARN": key,
        "LOG_LEVEL": "WARN",
        **clock_env,
    }


def run(cfg: ChaosConfig) -> dict[str, Any]:
    rng = random.Random(cfg.seed)
    hostile = hostile_cases() if cfg.hostile else []
    feed = generate_feed(
        FeedConfig(
            seed=cfg.seed,
            messages=max(1, int(cfg.send_rate * cfg.seconds)),
            malformed=0,
            mean_interval_s=feed_interval_s(cfg),
        )
    )
    stamps = [t.ts_us for body in oracle.parse_feed(feed) for t in body.ticks]
    span_s = (max(stamps) - min(stamps)) / 1_000_000
    # The hostile bodies' good ticks carry TICK_TIME, at or before the feed's first tick: rules must be in
    # effect from the earlier of the two.
    first = min(stamps + [oracle.normalise_timestamp(TICK_TIME)[1]] * bool(hostile))
    bodies = mix(feed, [c.body for c in hostile], random.Random(cfg.seed + 2))
    with MotoServer() as moto:
        resources = resources_on(moto.url, f"chaos{cfg.seed}")
        # The rules are imported the evening before, so to speak: by a writer whose clock is IMPORT_LEAD_S
        # behind the run's (R3: a writer behind only gets an earlier effective_from, accepted since no reader
        # has fenced yet), so that no margin has to cover the import's own time on a loaded machine.
        earlier = {CLOCK_VARIABLE: feed_clock(first, margin_seconds=IMPORT_LEAD_S, speed=cfg.speed)}
        rule_ids = _import_rules(resources.rules_tool(earlier), first)
        clock_env = {CLOCK_VARIABLE: feed_clock(first, margin_seconds=cfg.clock_margin_s, speed=cfg.speed)}
        clock = Clock(parse_clock_spec(clock_env[CLOCK_VARIABLE]))
        tool = resources.rules_tool(clock_env)
        api = runner(function_command(cfg.bootstrap), _api_env(resources, clock_env), cfg.runner)
        api.__enter__()
        rules = _Rules(tool, Player(FunctionApi(api), tool, OWNER, clock, first, rule_ids))
        changes = schedule(span_s) if cfg.live_changes else []
        sqs = resources.client("sqs")
        policy = {
            "deadLetterTargetArn": queue_arn(sqs, resources.dlq_url),
            "maxReceiveCount": cfg.max_receive_count,
        }
        source_url = sqs.create_queue(
            QueueName=f"market-data-chaos{cfg.seed}",
            Attributes={
                "VisibilityTimeout": str(cfg.visibility_timeout_s),
                "RedrivePolicy": json.dumps(policy),
            },
        )["QueueUrl"]
        source = EventSourceConfig(
            source_url,
            queue_arn(sqs, source_url),
            REGION,
            batch_size=10,
            batching_window_s=0.3,
            function_timeout_s=cfg.function_timeout_s,
        )
        ids_to_body: dict[str, str] = {}
        outcomes: list[BatchOutcome] = []
        with FaultProxy(
            moto.url,
            sweep_rules() + fault_rules(cfg.fault_rate),
            seed=cfg.seed,
            stall_s=cfg.function_timeout_s + 1,
        ) as proxy:
            env = {
                **resources.function_env(None),
                "LOG_LEVEL": "WARN",
                "AWS_ENDPOINT_URL": proxy.url,
                **clock_env,
            }
            environments = [
                _Environment(runner(function_command(cfg.bootstrap), env, cfg.runner), ids_to_body)
                for _ in range(cfg.concurrency)
            ]
            for e in environments:
                e.emulator.__enter__()
            kills: list[int] = []
            stop_killing = threading.Event()
            killer = threading.Thread(
                target=_killer, args=(environments, cfg.kill_every_s, rng, stop_killing, kills)
            )
            stop_schedule = threading.Event()
            scheduler = threading.Thread(target=_schedule, args=(proxy, cfg, outcomes, stop_schedule))
            stop_changes = threading.Event()
            player = threading.Thread(target=rules.player.play, args=(changes, stop_changes))
            try:
                with SqsEventSource(source, sqs, environments, on_batch=outcomes.append) as poller:
                    killer.start()
                    scheduler.start()
                    player.start()
                    sent = _send_mixed(bodies, hostile, source_url, cfg.send_rate, sqs, clock)
                    stop_killing.set()
                    killer.join()
                    drained = _wait_drained(sqs, source_url, environments, cfg.drain_stall_s)
                    stop_changes.set()  # a re-arm still waiting for its rule to trigger gives up
                    player.join()
                    # Recovery, as an operator would do it: faults off, what the redrive policy moved back to
                    # the source queue (what the function rejected stays), drained again.
                    scheduler.join()
                    proxy.set_rules([])
                    redriven = dlq.redrive(sqs, resources.dlq_url, source_url, skip_rejected=True)
                    drained = _wait_drained(sqs, source_url, environments, cfg.drain_stall_s) and drained
                errors = [repr(e) for e in poller.errors]
                rules.read_back()
            finally:
                stop_killing.set()
                stop_schedule.set()
                stop_changes.set()
                for e in environments:
                    e.emulator.close()
                api.close()
            injected = proxy.injected()
        stored = resources.alerts()
        notes = [json.loads(m["Body"]) for m in drain(sqs, resources.capture_url)]
        dead = drain(sqs, resources.dlq_url)
    stdout = [line for e in environments for line in e.stdout()]  # read once: the metrics and the logs
    metrics = emf_totals(stdout)
    perhaps_sent = perhaps_sent_twice(stdout)
    return evaluate(
        cfg,
        versions=rules.versions,
        controls=rules.controls,
        names=rules.names,
        applied=rules.player.applied,
        change_errors=rules.player.errors,
        bodies=bodies,
        messages_sent=sent.sent,
        ids_to_body=ids_to_body,
        outcomes=outcomes,
        stored=stored,
        notes=notes,
        dead=dead,
        dead_before_recovery=redriven.moved + redriven.skipped,
        redriven=redriven.moved,
        hostile=hostile,
        kills=kills,
        injected=injected,
        late_ticks=int(metrics["LateTicks"]),
        beyond_window_ticks=int(metrics.get("TicksBeyondWindow", 0)),
        retries=int(metrics["Retries"]),
        recovered=int(metrics["RecoveredNotifications"]),
        perhaps_sent=perhaps_sent,
        drained=drained,
        errors=errors,
    )


# What the function logs when a notification may go out again with no interruption (docs/design.md
# section 6): the mark after a publish failed, or a publish got no answer before the deadline.
PERHAPS_SENT_TWICE = frozenset({"notification sent but not recorded", "notification outcome unknown"})


def perhaps_sent_twice(lines: Iterable[str]) -> dict[str, set[str]]:
    """Alert id -> the function's log messages saying its notification may be published again."""
    named: dict[str, set[str]] = {}
    for record in json_records(lines):
        if record.get("message") in PERHAPS_SENT_TWICE and "alert_id" in record:
            named.setdefault(str(record["alert_id"]), set()).add(str(record["message"]))
    return named


def evaluate(
    cfg: ChaosConfig,
    *,
    versions: Sequence[Version],
    bodies: Sequence[str],
    messages_sent: int,
    ids_to_body: dict[str, str],
    outcomes: Sequence[BatchOutcome],
    stored: Sequence[dict[str, Any]],
    notes: Sequence[dict[str, Any]],
    dead: Sequence[dict[str, Any]],
    dead_before_recovery: int,
    redriven: int,
    hostile: Sequence[BodyCase],
    kills: Sequence[int],
    injected: Counter[tuple[str, str, FaultKind]],
    late_ticks: int,
    retries: int,
    recovered: int,
    drained: bool,
    errors: Sequence[str],
    beyond_window_ticks: int = 0,
    controls: Controls | None = None,
    names: Mapping[str, str] | None = None,
    applied: Sequence[Applied] = (),
    change_errors: Sequence[str] = (),
    perhaps_sent: Mapping[str, set[str]] | None = None,
) -> dict[str, Any]:
    """The summary and the invariant's violations, from what the run left behind (`dead`: the DLQ at the
    end; `dead_before_recovery`, `redriven`: what the recovery found there and sent back). `versions` and
    `controls`: what the rules table held, read back, rules named by their names; `names` (rule id -> name)
    names the stored alerts' and notifications' rules alike; `applied`: the changes committed during the
    run, `change_errors` those refused."""
    stored = [_named(a, names or {}) for a in stored]
    notes = [_named_note(n, names or {}) for n in notes]
    controls = controls or Controls()
    deleted = {ids_to_body[m] for o in outcomes for m in o.deleted}
    # A message the function dead-lettered itself carries its reason as a message attribute; the redrive
    # policy moves a message as it is.
    rejected = {
        m["Body"]: m["MessageAttributes"]["RejectionReason"]["StringValue"]
        for m in dead
        if "RejectionReason" in m.get("MessageAttributes", {})
    }
    stuck = {m["Body"] for m in dead if "RejectionReason" not in m.get("MessageAttributes", {})}
    lost = [b for b in bodies if b not in deleted and b not in stuck]
    # The oracle replays the generated feed; the hostile bodies (their own symbols, some beyond what a
    # Python parser survives) are checked against their cases' expectations instead.
    hostile_bodies = {c.body for c in hostile}
    hostile_alerts = {a for c in hostile for a in c.alerts}
    ticks = {b: oracle.parse_body(b).ticks for b in bodies if b not in hostile_bodies}
    processed = [t for b, parsed in ticks.items() if b in deleted for t in parsed]
    dead_ticks = {(t.symbol, t.ts) for b in stuck for t in ticks.get(b, [])}
    # Alerts of a message that ended in the DLQ after a partial success are checked against that message.
    checked = [
        a
        for a in stored
        if (a["symbol"], str(a["timestamp"]).split("#")[0]) not in dead_ticks
        and f"{a['symbol']}|{a['timestamp']}" not in hostile_alerts
    ]
    # The judge over the versions read back: duplicates, unjustified alerts and fires the mode forbids
    # together (a `once` twice in one arming) always break the invariant; a replay alert missing without an
    # explanation (a tick beyond W, a mode choice) breaks it with the gate.
    replay = event_time.in_order_replay(processed, versions, controls)
    fidelity = judge(replay, checked, beyond_w_count=beyond_window_ticks)
    violations = [f"fidelity {p}" for p in fidelity.problems() if cfg.fidelity_gate or ": missing: " not in p]
    violations += check_applied(applied, versions, controls)
    once_fires = once_fires_per_arming(checked, versions)

    stored_ids = {f"{a['symbol']}|{a['timestamp']}" for a in stored}
    notified: Counter[str] = Counter()
    contents: dict[str, set[str]] = {}
    for envelope in notes:
        message = json.loads(envelope["Message"])
        notified[message["alert_id"]] += 1
        # age_ms (and `delayed`, derived from it) is the age at publish time; message_id names the SQS
        # message that carried the tick (a redriven message is a new one): they may differ between repeats,
        # nothing else may.
        content = {k: v for k, v in message.items() if k not in ("age_ms", "delayed", "message_id")}
        contents.setdefault(message["alert_id"], set()).add(
            json.dumps([content, envelope.get("MessageAttributes")], sort_keys=True)
        )
    timeouts = sum(o.result.error_type == "Sandbox.Timedout" for o in outcomes)
    repeated = {k: n for k, n in notified.items() if n > 1}
    state = {f"{a['symbol']}|{a['timestamp']}": a.get("notification_state") for a in stored}
    violations += [
        f"alert {a} stored ({state[a]}), never notified" for a in sorted(stored_ids - set(notified))
    ]
    violations += [f"notification {a} names no stored alert" for a in sorted(set(notified) - stored_ids)]
    violations += [f"notifications of {a} differ" for a, c in sorted(contents.items()) if len(c) > 1]
    # A repeat must follow a kill or timeout of an invocation that carried the alert's tick (the publish went
    # out, its "sent" mark did not), or the function's log of a publish perhaps sent twice; the alert id is
    # "<symbol>|<tick timestamp>#<rule>".
    interrupted = [o for o in outcomes if o.result.error_type in ("Runtime.ExitError", "Sandbox.Timedout")]
    carriers: dict[str, set[str]] = {}  # "<symbol>|<tick timestamp>" -> the bodies carrying that tick
    for b, parsed in ticks.items():
        for t in parsed:
            carriers.setdefault(f"{t.symbol}|{t.ts}", set()).add(b)
    for c in hostile:
        for a in c.alerts:
            carriers.setdefault(a.split("#")[0], set()).add(c.body)
    how: dict[str, set[str]] = {}  # body -> how the invocations carrying it were interrupted
    for o in interrupted:
        for m in o.message_ids:
            how.setdefault(ids_to_body[m], set()).add(o.result.error_type or "")
    # Or the function said it may publish again: a mark that failed, a publish unanswered at the deadline.
    after = {
        a: set().union(*(how.get(b, set()) for b in carriers.get(a.split("#")[0], set())))
        | (perhaps_sent or {}).get(a, set())
        for a in repeated
    }
    following = {a for a in repeated if after[a]}
    violations += [
        f"alert {a} notified {n} times, after no interrupted invocation of its message and no log of a repeat"
        for a, n in sorted(repeated.items())
        if a not in following
    ]
    violations += [f"message lost: {b[:80]}" for b in lost]
    if not drained:
        violations.insert(0, "the queue did not drain (what follows may be unfinished work)")
    violations += _hostile_violations(hostile, rejected, stored_ids)
    keys = Counter((str(a["symbol"]), str(a["timestamp"])) for a in stored)
    faults: Counter[str] = Counter()
    for (_, _, kind), n in injected.items():
        faults[kind.value] += n
    return {
        "seed": cfg.seed,
        "seconds": cfg.seconds,
        "fault_rate": cfg.fault_rate,
        "concurrency": cfg.concurrency,
        "messages_sent": messages_sent,
        "ticks_sent": sum(len(t) for t in ticks.values()),
        "invocations": len(outcomes),
        "invocation_results": dict(
            Counter(f"{o.result.status}/{o.result.error_type}/{bool(o.failed)}" for o in outcomes)
        ),
        "faults_injected": dict(sorted(faults.items())),
        "kills": len(kills),
        "invocation_timeouts": timeouts,
        "retries": retries,
        "late_ticks": late_ticks,
        "ticks_beyond_window": beyond_window_ticks,
        "fidelity": fidelity.as_dict(),
        "fidelity_gate": cfg.fidelity_gate,
        "messages_deleted": len(deleted),
        "dlq_before_recovery": dead_before_recovery,
        "dlq_redriven": redriven,
        "dlq_at_end_rejected_by_function": len(dead) - sum(m["Body"] in stuck for m in dead),
        "dlq_at_end_moved_by_redrive_policy": len(stuck),
        "hostile_bodies": len(hostile),
        "hostile_rejected_with_their_reason": sum(c.reason is not None for c in hostile),
        "recovered_notifications": recovered,
        "stored_alerts": len(stored),
        "lost_alerts": sum(r.missing["unexplained"] for r in fidelity.rules.values())
        + sum("never notified" in v for v in violations),
        "rule_changes": {
            "applied": dict(Counter(a.change.action for a in applied)),
            "refused": list(change_errors)[:5],
            "versions": len(versions),
            "suspensions": sum(len(s) for s in controls.suspensions.values()),
        },
        "once_fires_per_arming_max": max(once_fires.values(), default=0),
        "duplicate_alerts": sum(n - 1 for n in keys.values() if n > 1),
        "interrupted_invocations": len(interrupted),
        "repeated_notifications": sum(n - 1 for n in repeated.values()),
        "repeats_following_an_interruption": len(following),
        "repeats": [
            {"alert": a, "notifications": n, "after": sorted(after[a])} for a, n in sorted(repeated.items())
        ][:20],
        "messages_lost": len(lost),
        "event_source_errors": list(errors)[:5],
        "violation_count": len(violations),
        "violations": violations[:20],
        "ok": not violations,
    }


def _named(alert: Mapping[str, Any], names: Mapping[str, str]) -> dict[str, Any]:
    """A stored alert with its rule named by name (local/rules_import.py named_key), in its sort key and its
    id, as the replay and the hostile cases name rules."""
    named = {**alert, "timestamp": named_key(str(alert["timestamp"]), names)}
    if "rule_id" in alert:
        named["rule_id"] = names.get(str(alert["rule_id"]), alert["rule_id"])
    return named


def _named_note(envelope: Mapping[str, Any], names: Mapping[str, str]) -> dict[str, Any]:
    """A notification (SNS envelope) whose alert id names its rule by name, like the stored alerts."""
    message = json.loads(envelope["Message"])
    symbol, _, key = str(message["alert_id"]).partition("|")
    message["alert_id"] = f"{symbol}|{named_key(key, names)}"
    return {**envelope, "Message": json.dumps(message)}


def _hostile_violations(
    hostile: Sequence[BodyCase], rejected: dict[str, str], stored_ids: set[str]
) -> list[str]:
    """Each hostile body in the DLQ with exactly its reason (a valid one: not there), its alerts stored."""
    out = []
    for case in hostile:
        reason = rejected.get(case.body)
        if case.reason is None and reason is not None:
            out.append(f"hostile {case.name}: valid, yet dead-lettered ({reason[:80]})")
        elif case.reason is not None and reason is None:
            out.append(f"hostile {case.name}: not in the DLQ with a reason")
        elif case.reason is not None and reason is not None:
            exact = reason == case.reason or (case.reason_prefix and reason.startswith(case.reason))
            if not exact:
                out.append(f"hostile {case.name}: reason {reason[:80]!r}, expected {case.reason[:80]!r}")
        out += [f"hostile {case.name}: alert {a} not stored" for a in case.alerts if a not in stored_ids]
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="how long the feed is sent")
    parser.add_argument("--fault-rate", type=float, default=0.2, help="share of DynamoDB/SNS calls faulted")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--rate", type=float, default=10.0, help="messages per second")
    parser.add_argument("--kill-every", type=float, default=5.0, help="seconds between SIGKILLs")
    parser.add_argument("--max-receive-count", type=int, default=5, help="receives before the DLQ")
    parser.add_argument("--outage-at", type=float, default=0.0, help="SNS outage start (s into the feed)")
    parser.add_argument("--outage-seconds", type=float, default=0.0, help="SNS outage length (0: none)")
    parser.add_argument("--hostile", action="store_true", help="mix the hostile-input corpus into the feed")
    parser.add_argument(
        "--fidelity-gate",
        action="store_true",
        help="fail unless every difference from the in-order replay is explained (F3)",
    )
    parser.add_argument("--bootstrap", type=Path, help="the function build (default: TAP_BOOTSTRAP, host)")
    parser.add_argument(
        "--runner", choices=sorted(RUNNERS), default=DEFAULT_RUNNER, help="Runtime API server"
    )
    args = parser.parse_args(argv)
    cfg = ChaosConfig(
        seconds=args.seconds,
        fault_rate=args.fault_rate,
        seed=args.seed,
        concurrency=args.concurrency,
        send_rate=args.rate,
        kill_every_s=args.kill_every,
        max_receive_count=args.max_receive_count,
        outage_at_s=args.outage_at,
        outage_s=args.outage_seconds,
        hostile=args.hostile,
        fidelity_gate=args.fidelity_gate,
        runner=args.runner,
    )
    summary = run(replace(cfg, bootstrap=args.bootstrap) if args.bootstrap else cfg)
    print(json.dumps(summary, indent=2))
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())

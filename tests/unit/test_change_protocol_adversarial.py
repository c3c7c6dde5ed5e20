"""The change protocol's adversarial cases on the local system (R3, docs/design.md section 12.8).

Each case runs the real processes -- the operators' tool `tap_rules` as the writer, the function
`bootstrap` as the reader -- against moto, some requests through the fault proxy, every process on the
shared clock of local/clock.py at SPEED times real time (so P = 5 s of that clock is 0.5 s of real time).
One rule, `price_above` 100 with a 1 s cooldown, and ticks priced 150 spaced 2 s apart: a tick fires exactly
when its timestamp lies in one of the rule's committed windows. That is R3's exactness, checked after each
case against the windows the tool lists (the storage adapter's reading): every tick the function evaluated
fired if and only if a committed version was in effect at its timestamp.

The cases: (a) the writer's commit delayed past its effective_from by the proxy; (b) a function process
SIGSTOPped for longer than P, then given ticks newer than its last refresh; (c) per-process clock offsets of
+/- P; (d) index lag (index reads answered from a stale snapshot) and the processor's refresh path read
through the proxy: no `IndexName`, every rules read `ConsistentRead`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from lib.config import ROOT
from local.clock import CLOCK_VARIABLE, Clock, parse_clock_spec, real_micros, virtual_clock
from local.emf import emf_totals
from local.emulator import LOCAL_ENV, MotoServer
from local.fault_proxy import FaultKind, FaultProxy, FaultRule
from local.function_host import FunctionRunner, function_command, invoke_settled, runner
from local.function_resources import FunctionResources, resources_on
from local.sqs_event import event_of
from tests.support.function_harness import built, ensure_bootstrap
from tests.support.rules_table import create_rules_table

SPEED = 10
S = 1_000_000  # a second, in micros
P = 5 * S  # the change service's P (lib/lambda/include/tap/app/change_service.hpp)
OWNER = "trader-a"
SYMBOL = "ZZZ"
PRICE = 150.0  # every tick's: above the rule's threshold 100, below the edited one, 200
RULES_TOOL = Path(os.environ.get("TAP_RULES_TOOL", ROOT / "build" / "cpp" / "src" / "tap_rules"))
TIMEOUT_S = 60.0


def _document(tmp: Path, threshold: float) -> Path:
    path = tmp / f"rules-{threshold}.json"
    rule = {
        "id": "zzz-above",
        "symbol": SYMBOL,
        "condition": "price_above",
        "threshold": threshold,
        "severity": "info",
        "cooldown_seconds": 1,
        "description": f"{SYMBOL} above {threshold}",
    }
    path.write_text(json.dumps({"version": 1, "rules": [rule]}))
    return path


def iso(micros: int) -> str:
    return datetime.fromtimestamp(micros / 1e6, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _from_iso(text: str) -> int:
    return round(datetime.fromisoformat(text).timestamp() * S)


@dataclass
class Reader:
    """One function process (an execution environment) and the ticks it evaluated."""

    emulator: FunctionRunner
    evaluated: list[int] = field(default_factory=list)  # tick timestamps of the acknowledged messages
    failed: list[int] = field(default_factory=list)  # of the failed ones (retried later by SQS)

    def send(self, stamps: Sequence[int]) -> None:
        """One invocation, one message per tick of SYMBOL at 150 (above the threshold 100)."""
        bodies = [json.dumps({"symbol": SYMBOL, "price": PRICE, "timestamp": iso(ts)}) for ts in stamps]
        event = event_of(bodies)
        result = invoke_settled(self.emulator, event, TIMEOUT_S)
        assert result.status == "ok", result
        ids = [r["messageId"] for r in json.loads(event)["Records"]]
        failed = {f["itemIdentifier"] for f in json.loads(result.payload)["batchItemFailures"]}
        for message_id, ts in zip(ids, stamps, strict=True):
            (self.failed if message_id in failed else self.evaluated).append(ts)

    def metric(self, name: str) -> int:
        lines = [line for p in self.emulator.processes for line in p.stdout]
        return int(emf_totals(lines).get(name, 0))


@dataclass
class LocalRun:
    """moto, the function's resources, a rules table and a fault proxy in front of moto."""

    moto_url: str
    resources: FunctionResources
    table: str
    proxy: FaultProxy
    stack: ExitStack
    readers: list[Reader] = field(default_factory=list)

    def tool_env(self, clock: str, through_proxy: bool) -> dict[str, str]:
        endpoint = self.proxy.url if through_proxy else self.moto_url
        return {
            "PATH": os.environ["PATH"],
            **LOCAL_ENV,
            "AWS_ENDPOINT_URL": endpoint,
            "RULES_TABLE": self.table,
            CLOCK_VARIABLE: clock,
        }

    def start_tool(
        self, args: Sequence[str], clock: str, through_proxy: bool = False
    ) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [str(built(RULES_TOOL, "cpp-build")), *args],
            env=self.tool_env(clock, through_proxy),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def tool(self, args: Sequence[str], clock: str, through_proxy: bool = False) -> tuple[int, str, str]:
        process = self.start_tool(args, clock, through_proxy)
        out, err = process.communicate(timeout=120)
        return process.returncode, out, err

    def windows(self) -> list[tuple[int, int | None, float]]:
        """The committed versions of OWNER's rule as the tool lists them: window [from, until) (None: open)
        and threshold."""
        status, out, err = self.tool(["list", "--owner", OWNER], "")
        assert status == 0, err
        found = []
        for line in out.splitlines():
            if line.startswith("  v"):
                window, rest = line.split("[", 1)[1].split(")", 1)
                start, end = window.split(", ")
                threshold = float(rest.split()[2])  # "ZZZ price_above 100 every"
                found.append((_from_iso(start), None if end == "open" else _from_iso(end), threshold))
        return found

    def reader(self, clock: str, through_proxy: bool = False) -> Reader:
        endpoint = self.proxy.url if through_proxy else self.moto_url
        env = {
            **self.resources.function_env(),
            "AWS_ENDPOINT_URL": endpoint,
            "RULES_TABLE": self.table,
            CLOCK_VARIABLE: clock,
        }
        emulator = self.stack.enter_context(runner(function_command(ensure_bootstrap()), env))
        reader = Reader(emulator)
        self.readers.append(reader)
        return reader

    def fired(self) -> set[int]:
        """The tick timestamps of SYMBOL's stored alerts."""
        return {_from_iso(str(a["timestamp"]).split("#")[0]) for a in self.resources.alerts()}

    def assert_exact(self) -> None:
        """R3: every evaluated tick fired exactly when a committed version was in effect at it."""
        windows = self.windows()
        fired = self.fired()
        for reader in self.readers:
            for ts in reader.evaluated:
                fires = any(
                    start <= ts and (end is None or ts < end) and threshold < PRICE
                    for start, end, threshold in windows
                )
                assert (ts in fired) == fires, (iso(ts), fires, windows)


@pytest.fixture
def local_run() -> Iterator[LocalRun]:
    with ExitStack() as stack:
        moto = stack.enter_context(MotoServer())
        resources = resources_on(moto.url, uuid.uuid4().hex[:8])
        table = f"alert-rules-{uuid.uuid4().hex[:8]}"
        create_rules_table(resources.client("dynamodb"), table)
        proxy = stack.enter_context(
            FaultProxy(
                moto.url,
                delay_s=4.0,
                stale_index=True,
                record_operations=frozenset({"Query", "Scan", "GetItem", "BatchGetItem"}),
            )
        )
        yield LocalRun(moto.url, resources, table, proxy, stack)


def _shared_clock(offset: int = 0, anchor: int | None = None) -> tuple[str, Clock]:
    """A spec of the shared clock at SPEED (shifted by `offset` micros of its own time) and its reader."""
    anchor = real_micros() if anchor is None else anchor
    spec = virtual_clock(anchor + offset, SPEED, anchor)
    return spec, Clock(parse_clock_spec(spec))


def _wait_for(condition: Any, what: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def test_a_commit_delayed_past_its_effective_from_never_lands_behind_a_reader(
    local_run: LocalRun, tmp_path: Path
) -> None:
    """(a) The proxy holds the writer's commit for 80 s of the clock (16 P). Meanwhile a reader evaluates
    ticks past the effective_from the writer chose: the late commit must be refused by the fence (the writer
    answers retry-later), never land behind the reader; a retry afterwards takes effect after the fence."""
    spec, clock = _shared_clock()
    local_run.proxy.set_rules(
        [FaultRule("dynamodb", FaultKind.DELAY, operation="TransactWriteItems", limit=1)]
    )
    local_run.proxy.delay_s = 8.0  # real seconds: 80 s of the clock
    writer = local_run.start_tool(["import", "--owner", OWNER, str(_document(tmp_path, 100))], spec, True)
    _wait_for(lambda: any(c.kind is FaultKind.DELAY for c in local_run.proxy.calls), "the held commit")
    chosen_by = clock.now_micros() + P  # the effective_from the held commit carries is at most this
    reader = local_run.reader(spec)
    clock.wait_until(chosen_by + 2 * S)
    reader.send([clock.now_micros() - S // 2])  # past the held change's effective_from
    out, err = writer.communicate(timeout=120)
    assert reader.evaluated
    assert reader.evaluated[0] > chosen_by
    assert writer.returncode == 1, (out, err)  # P passed without a commit: retry later
    assert "not committed" in err, err
    assert local_run.windows() == []  # nothing landed behind the reader
    # The change again, undelayed: in effect from after every fence, so from the next ticks on.
    status, out, err = local_run.tool(["import", "--owner", OWNER, str(_document(tmp_path, 100))], spec)
    assert status == 0, err
    effective_from = _from_iso(out.split()[-1])
    assert effective_from > reader.evaluated[0]
    clock.wait_until(effective_from + S)
    reader.send([effective_from - S // 2, effective_from, effective_from + 2 * S // 2])
    local_run.assert_exact()
    assert len(local_run.fired()) == 2


def test_a_reader_stopped_longer_than_p_refreshes_before_newer_ticks(
    local_run: LocalRun, tmp_path: Path
) -> None:
    """(b) A warm reader is SIGSTOPped for 15 s of the clock (3 P) while the rule is edited (threshold 100 ->
    200: the ticks at 150 stop firing); resumed, it is given ticks newer than its last refresh: it must read
    the edit first (or fail the messages), never evaluate them against the set it held."""
    spec, clock = _shared_clock()
    status, out, err = local_run.tool(["import", "--owner", OWNER, str(_document(tmp_path, 100))], spec)
    assert status == 0, err
    created = _from_iso(out.split()[-1])
    reader = local_run.reader(spec)
    clock.wait_until(created + S)
    reader.send([created, created + S])  # warm, fired: its view holds threshold 100
    process = reader.emulator.process
    assert process is not None
    os.kill(process.pid, signal.SIGSTOP)
    try:
        status, out, err = local_run.tool(["import", "--owner", OWNER, str(_document(tmp_path, 200))], spec)
        assert status == 0, err
        edited = _from_iso(out.split()[-1])
        clock.wait_until(edited + 10 * S)  # stopped for longer than P past the edit's commit
    finally:
        os.kill(process.pid, signal.SIGCONT)
    reader.send([edited + S, edited + 3 * S])
    assert reader.failed == [] or all(ts > edited for ts in reader.failed)
    local_run.assert_exact()
    assert local_run.fired() == {created, created + S}


@pytest.mark.parametrize(
    ("reader_offset", "writer_offset"), [(P, -P), (-P, P)], ids=["reader-ahead", "writer-ahead"]
)
def test_clock_offsets_of_p_only_delay_a_change(
    local_run: LocalRun, tmp_path: Path, reader_offset: int, writer_offset: int
) -> None:
    """(c) The reader's clock and the writer's are P off the shared clock, in opposite directions. A reader
    ahead sets fences ahead: the writer behind must choose its effective_from past them (never inside the
    window the reader already evaluated). A reader behind holds the fences back: ticks beyond them wait
    (their messages fail and are retried), never evaluated without the change."""
    anchor = real_micros()
    _, clock = _shared_clock(anchor=anchor)
    reader_spec, _ = _shared_clock(reader_offset, anchor)
    writer_spec, _ = _shared_clock(writer_offset, anchor)
    reader = local_run.reader(reader_spec)
    start = clock.now_micros()
    reader.send([start - S])  # the reader's fence: its own now + L
    status, out, err = local_run.tool(
        ["import", "--owner", OWNER, str(_document(tmp_path, 100))], writer_spec
    )
    assert status == 0, err
    effective_from = _from_iso(out.split()[-1])
    # Ticks on the shared clock around the change, each sent once the shared clock has reached it.
    stamps = [effective_from + k * 2 * S for k in range(-3, 4)]
    for ts in stamps:
        clock.wait_until(ts + S // 5)
        reader.send([ts])
    if reader_offset < 0:  # the reader's fences trail the shared clock by P - L: live ticks wait for them
        assert reader.failed
    # SQS redelivers the failed messages later; by then the reader's fence has passed them.
    waiting, reader.failed = reader.failed, []
    clock.wait_until(stamps[-1] + 2 * P)
    if waiting:
        reader.send(waiting)
    assert reader.failed == []
    local_run.assert_exact()
    assert local_run.fired() == {ts for ts in [start - S, *stamps] if ts >= effective_from}


def test_index_lag_cannot_reach_the_processor(local_run: LocalRun, tmp_path: Path) -> None:
    """(d) The proxy answers every Query/Scan on an index from a stale snapshot (index lag). The processor's
    loading and refresh path goes through the proxy and must never name an index and read rules only with
    ConsistentRead: then an edit is in force for every tick from its effective_from, lag or not."""
    spec, clock = _shared_clock()
    status, out, err = local_run.tool(["import", "--owner", OWNER, str(_document(tmp_path, 100))], spec)
    assert status == 0, err
    created = _from_iso(out.split()[-1])
    reader = local_run.reader(spec, through_proxy=True)
    clock.wait_until(created + S)
    reader.send([created])
    status, out, err = local_run.tool(["import", "--owner", OWNER, str(_document(tmp_path, 200))], spec)
    assert status == 0, err
    edited = _from_iso(out.split()[-1])
    clock.wait_until(edited + 3 * S)
    reader.send([edited - S, edited, edited + 2 * S])
    reads = local_run.proxy.recorded
    assert all("IndexName" not in request for _, request in reads)  # no read of the function names one
    rules_reads = [(op, r) for op, r in reads if r.get("TableName") == local_run.table]
    rules_reads += [
        (op, r["RequestItems"][local_run.table])
        for op, r in reads
        if op == "BatchGetItem" and local_run.table in r["RequestItems"]
    ]
    for operation, request in rules_reads:
        assert request.get("ConsistentRead") is True, (operation, request)
    # The cold load's scan, the refresh's log and controls queries, the changed records' batch read.
    assert {op for op, _ in rules_reads} == {"Scan", "Query", "BatchGetItem"}
    local_run.assert_exact()
    assert local_run.fired() == {created, edited - S}
    assert reader.metric("RuleRefreshes") >= 1

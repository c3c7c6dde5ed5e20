"""Measured DynamoDB requests and bytes per batch, and the burst (issue 14 item 3, R5), on the local system.

The real host bootstrap (build/cpp/src/bootstrap, `make cpp-build`) runs under the Runtime API emulator
against moto, its DynamoDB and SNS calls through the fault proxy (local/fault_proxy.py), which counts them per
operation. Per batch the figures are the proxy's request counts and the function's own metrics record
(StateWrites, StateBytesWritten, Alerts, ...).

`requests_scale`: a quiet 25-message batch on five symbols (run twice: the first creates the symbols' state
items, the second is the steady case), a 4-alert batch and its redelivery (the same messages again), with 10
rules and with 10,000 rules on the batch's symbols. 10,000 is the most the rules document holds (its rule
count is capped by the function's loader, lib/lambda/src/core/rules.cpp); 100,000 needs the rules storage of
the next issue. The extra rules never hold at the batch's prices, so both sizes fire the same 4 alerts: the
requests must be identical, because they grow with symbols and alerts, never with rules.

`burst`: one tick firing 10,000 alerts on one symbol (10,000 level rules that all hold, mode every), delivered
until the function acknowledges it (SQS redelivers a failed or timed-out batch); then every alert must be
stored once and notified exactly once (SNS capture queue). The same with a SIGKILL of the function at its
N-th commit, and with throttling on a share of the DynamoDB and SNS calls: stored once, notified at least
once. Wall times are moto's, not a target.

`make bench-requests` writes both keys into bench/results/latest.json (the other keys stay).
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from lib.config import FUNCTION_TIMEOUT_SECONDS
from local.emf import emf_records
from local.emulator import MotoServer
from local.fault_proxy import FaultKind, FaultProxy, FaultRule, Hold
from local.function_host import LocalFunction, default_bootstrap, function_command, invoke_settled, runner
from local.function_resources import resources_on
from local.sqs_event import received_message, sqs_event

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "latest.json"

SYMBOLS = tuple(f"RQ{i}" for i in range(5))
ALERT_SYMBOLS = SYMBOLS[:4]
BATCH_MESSAGES = 25
QUIET_PRICE = 100.0
ALERT_PRICE = 150.0
ALERT_THRESHOLD = 140.0  # price_above on each alert symbol: holds at ALERT_PRICE only
RULE_SIZES = (10, 10_000)  # the rules document holds at most 10,000 (lib/lambda/src/core/rules.cpp)
BURST_SYMBOL = "BURST"
BURST_RULES = 10_000
BURST_PRICE = 500.0
# Why the default 10,000 may not finish here: moto's TransactWriteItems deep-copies the whole table once per
# item of the transaction (its rollback copy), so each commit costs O(items stored) and memory grows with it.
MOTO_LIMIT = (
    "10,000 on one tick: moto's transaction deep-copies the table per item; a run stored 3,920 alerts in 41 "
    "commits over 8 deliveries (each cut by the 60 s timeout) before the kernel OOM-killed moto at ~20 GB"
)
METRICS = (
    "Messages",
    "Ticks",
    "Alerts",
    "Notifications",
    "RecoveredNotifications",
    "StateWrites",
    "StateConflicts",
    "StateBytesWritten",
    "FailedMessages",
    "Retries",
)


def _rule(rule_id: str, symbol: str, condition: str, threshold: float) -> dict[str, Any]:
    return {
        "id": rule_id,
        "symbol": symbol,
        "condition": condition,
        "threshold": round(threshold, 6),
        "severity": "info",
    }


def base_rules() -> list[dict[str, Any]]:
    """The 10 rules of the small set: the 4 that fire in the alert batch, and 6 that never hold."""
    firing = [_rule(f"alert-{s}", s, "price_above", ALERT_THRESHOLD) for s in ALERT_SYMBOLS]
    quiet = [_rule(f"cross-{s}", s, "crosses_above", 1_000.0) for s in SYMBOLS]
    quiet.append(_rule("any-below-1", "*", "price_below", 1.0))
    return firing + quiet


def filler_rules(count: int) -> list[dict[str, Any]]:
    """`count` rules on the batch's symbols, every condition, thresholds far from the batch's prices (above
    200 or below 50) so that none holds or crosses: the same alerts fire at every size."""
    conditions = ("price_above", "price_below", "crosses_above", "crosses_below")
    rules = []
    for i in range(count):
        condition = conditions[i % len(conditions)]
        above = condition.endswith("above")
        threshold = 200.0 + i * 0.01 if above else 50.0 - i * 0.001
        rules.append(_rule(f"fill-{i:06d}", SYMBOLS[i % len(SYMBOLS)], condition, threshold))
    return rules


def rules_document(rules: Sequence[dict[str, Any]], cooldown_s: int = 60) -> dict[str, Any]:
    """A rules document the function loads (file-seeded: every version in mode `every`, this cooldown)."""
    return {"version": 1, "default_cooldown_seconds": cooldown_s, "rules": list(rules)}


def scale_rules(size: int) -> list[dict[str, Any]]:
    """`size` rules on the batch's symbols: the base set, then fillers."""
    base = base_rules()
    return base + filler_rules(size - len(base))


def burst_rules(count: int = BURST_RULES) -> list[dict[str, Any]]:
    """`count` level rules on the burst symbol, all holding at BURST_PRICE."""
    return [_rule(f"burst-{i:05d}", BURST_SYMBOL, "price_above", 1.0 + i * 0.01) for i in range(count)]


def _stamp(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def tick_body(symbol: str, price: float, at: datetime) -> str:
    return json.dumps({"symbol": symbol, "price": price, "timestamp": _stamp(at), "volume": 100})


def quiet_bodies(start: datetime) -> list[str]:
    """25 ticks round-robin on the five symbols, 10 ms apart, prices within 1 of QUIET_PRICE."""
    return [
        tick_body(
            SYMBOLS[i % len(SYMBOLS)], QUIET_PRICE + (i % 7) * 0.1, start + timedelta(milliseconds=10 * i)
        )
        for i in range(BATCH_MESSAGES)
    ]


def alert_bodies(start: datetime) -> list[str]:
    """25 ticks like a quiet batch, where the first tick of each alert symbol is at ALERT_PRICE: 4 alerts
    (the later ticks of those symbols are quiet again, and the cooldown covers nothing they would fire)."""
    bodies = []
    for i in range(BATCH_MESSAGES):
        symbol = SYMBOLS[i % len(SYMBOLS)]
        price = ALERT_PRICE if i < len(ALERT_SYMBOLS) else QUIET_PRICE
        bodies.append(tick_body(symbol, price, start + timedelta(milliseconds=10 * i)))
    return bodies


@dataclass(frozen=True)
class Batch:
    """The SQS messages of one batch: bodies and their message ids."""

    bodies: tuple[str, ...]
    ids: tuple[str, ...]

    @staticmethod
    def of(bodies: Sequence[str], name: str) -> Batch:
        return Batch(tuple(bodies), tuple(f"{name}-{i}" for i in range(len(bodies))))

    def event(self, receive_count: int = 1) -> bytes:
        return sqs_event(
            [received_message(b, m, receive_count) for b, m in zip(self.bodies, self.ids, strict=True)]
        )


def request_delta(
    before: collections.Counter[tuple[str, str]], after: collections.Counter[tuple[str, str]]
) -> dict[str, int]:
    """Requests per "service:Operation" between two proxy counts (zero entries left out)."""
    delta = after - before
    return {f"{service}:{op}": n for (service, op), n in sorted(delta.items())}


def metrics_of(record: dict[str, Any]) -> dict[str, int]:
    return {name: int(record.get(name, 0)) for name in METRICS}


def problem_lines(lines: Sequence[str], keep: int = 8) -> list[str]:
    """The function's warning and error log lines (JSON lines with "level"), the first `keep` of them."""
    found = [line for line in lines if '"level":"WARN' in line or '"level":"ERROR' in line]
    return found[:keep] + ([f"... {len(found) - keep} more"] if len(found) > keep else [])


def quiet_identical(entry: dict[str, Any]) -> bool:
    """True when every batch's DynamoDB requests are the same at each rule size."""
    per_size = [
        {b: s["batches"][b]["dynamodb_requests"] for b in s["batches"]} for s in entry["sizes"].values()
    ]
    return all(p == per_size[0] for p in per_size)


def merge_results(keys: dict[str, Any], path: Path = RESULTS) -> None:
    """Sets `keys` in the result file, keeping every other figure."""
    doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    doc.update(keys)
    path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")


def merge_burst_case(result: dict[str, Any], path: Path = RESULTS) -> None:
    """Sets one burst case (named by case, rule count and kill point) under `burst` in the result file,
    keeping the other cases and every other key: cases run by separate invocations add up."""
    doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    burst = doc.setdefault("burst", {"symbol": BURST_SYMBOL, "cases": {}})
    burst["moto_limit"] = MOTO_LIMIT
    kill = f"-at-commit-{result['kill_at_commit']}" if result.get("kill_at_commit") else ""
    burst["cases"][f"{result['case']}-{result['rules']}{kill}"] = result
    path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")


def all_once(counts: collections.Counter[str], expected: set[str], at_least: bool) -> bool:
    """Every expected id counted exactly once (or at least once), and no other id."""
    if set(counts) != expected:
        return False
    return all(n >= 1 for n in counts.values()) if at_least else all(n == 1 for n in counts.values())


# ---- I/O: the function behind the proxy on moto --------------------------------------------------------


@dataclass
class Setup:
    function: LocalFunction
    proxy: FaultProxy


@contextmanager
def proxied_function(
    rules: Sequence[dict[str, Any]],
    bootstrap: Path,
    hold: Hold | None = None,
    faults: Sequence[FaultRule] = (),
) -> Iterator[Setup]:
    """moto, the proxy in front of it for DynamoDB and SNS, and the function with `rules`."""
    with TemporaryDirectory() as tmp, MotoServer() as moto:
        rules_path = Path(tmp) / "rules.json"
        rules_path.write_text(json.dumps(rules_document(rules)), encoding="utf-8")
        resources = resources_on(moto.url, uuid.uuid4().hex[:8])
        with FaultProxy(moto.url, rules=faults, seed=14, hold=hold) as proxy:
            env = {
                **resources.function_env(rules_path),
                "AWS_ENDPOINT_URL_DYNAMODB": proxy.url,
                "AWS_ENDPOINT_URL_SNS": proxy.url,
            }
            with runner(function_command(bootstrap), env) as emulator:
                yield Setup(LocalFunction(emulator, resources), proxy)


def invoke_counted(setup: Setup, event: bytes, timeout_s: float) -> dict[str, Any]:
    """One invocation: its outcome, the proxy's requests and the function's metrics record."""
    before = setup.proxy.forwarded()
    injected_before = sum(setup.proxy.injected().values())
    lines = len(setup.function.stdout())
    records = len(emf_records(setup.function.stdout()))
    started = time.monotonic()
    result = invoke_settled(setup.function.emulator, event, timeout_s)
    wall = time.monotonic() - started
    new = emf_records(setup.function.stdout())[records:]
    requests = request_delta(before, setup.proxy.forwarded())
    failures: list[Any] = []
    if result.status == "ok":
        failures = json.loads(result.payload).get("batchItemFailures", [])
    return {
        "status": result.status,
        "failed_messages": len(failures),
        "requests": requests,
        "dynamodb_requests": {k: v for k, v in requests.items() if k.startswith("dynamodb:")},
        "injected_faults": sum(setup.proxy.injected().values()) - injected_before,
        "metrics": metrics_of(new[-1]) if new else None,
        "log_problems": problem_lines(setup.function.stdout()[lines:]),
        "wall_s": round(wall, 3),
    }


def measure_size(size: int, bootstrap: Path) -> dict[str, Any]:
    start = datetime.now(UTC) - timedelta(seconds=30)
    cold = Batch.of(quiet_bodies(start), "cold")
    quiet = Batch.of(quiet_bodies(start + timedelta(seconds=1)), "quiet")
    alert = Batch.of(alert_bodies(start + timedelta(seconds=2)), "alert")
    with proxied_function(scale_rules(size), bootstrap) as setup:
        batches = {
            "quiet_first": invoke_counted(setup, cold.event(), 30.0),
            "quiet": invoke_counted(setup, quiet.event(), 30.0),
            "alert": invoke_counted(setup, alert.event(), 30.0),
            "alert_redelivered": invoke_counted(setup, alert.event(receive_count=2), 30.0),
        }
        notified = collections.Counter(
            n["Message"]["alert_id"] for n in setup.function.resources.notifications()
        )
        stored = len(setup.function.resources.alerts())
    return {
        "rules": size,
        "batches": batches,
        "alerts_stored": stored,
        "notifications": sum(notified.values()),
    }


def measure_requests(bootstrap: Path) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "method": (
            "real bootstrap (build/cpp) on moto, DynamoDB and SNS through local/fault_proxy.py (no faults), "
            "requests counted per operation at the proxy, the rest from the function's metrics record; "
            "25-message batches on 5 symbols; quiet_first creates the symbols' state, quiet is the steady "
            "case"
        ),
        "sizes": {str(n): measure_size(n, bootstrap) for n in RULE_SIZES},
        "why_not_100000": (
            "the rules document the function loads holds at most 10,000 rules (kMaxRules, "
            "lib/lambda/src/core/rules.cpp); the rules storage of the next issue lifts it"
        ),
    }
    entry["requests_identical_across_sizes"] = quiet_identical(entry)
    return entry


def deliver_until_done(
    setup: Setup, batch: Batch, attempts: int, on_first: Callable[[], None] | None = None
) -> list[dict[str, Any]]:
    """Delivers `batch` as SQS would (receive count growing) until the function acknowledges every message
    or `attempts` run out. `on_first` runs beside the first invocation (e.g. to kill the process)."""
    runs: list[dict[str, Any]] = []
    for attempt in range(1, attempts + 1):
        killer = threading.Thread(target=on_first) if (on_first and attempt == 1) else None
        if killer:
            killer.start()
        run = invoke_counted(setup, batch.event(receive_count=attempt), float(FUNCTION_TIMEOUT_SECONDS))
        if killer:
            killer.join()
        runs.append(run)
        if run["status"] == "ok" and run["failed_messages"] == 0:
            break
    return runs


def _nth_commit(n: int) -> Hold:
    """Holds the n-th TransactWriteItems (never forwarded): the kill point."""
    seen = [0]

    def hold(operation: str, _body: bytes) -> bool:
        if operation == "TransactWriteItems":
            seen[0] += 1
        return seen[0] == n and operation == "TransactWriteItems"

    return hold


def measure_burst(
    bootstrap: Path,
    case: str,
    rules: int = BURST_RULES,
    *,
    kill_at_commit: int = 0,
    throttle: float = 0.0,
    attempts: int = 40,
) -> dict[str, Any]:
    faults: list[FaultRule] = []
    if throttle:
        faults = [
            FaultRule("dynamodb", FaultKind.DYNAMODB_THROTTLING, throttle),
            FaultRule("sns", FaultKind.SNS_THROTTLING, throttle),
        ]
    batch = Batch.of([tick_body(BURST_SYMBOL, BURST_PRICE, datetime.now(UTC) - timedelta(seconds=5))], case)
    hold = _nth_commit(kill_at_commit) if kill_at_commit else None
    started = time.monotonic()
    with proxied_function(burst_rules(rules), bootstrap, hold=hold, faults=faults) as setup:
        on_first = None
        if kill_at_commit:

            def on_first() -> None:
                if setup.proxy.held.wait(FUNCTION_TIMEOUT_SECONDS):
                    process = setup.function.emulator.process
                    if process is not None:
                        process.kill()

        runs = deliver_until_done(setup, batch, attempts, on_first=on_first)
        resources = setup.function.resources
        items = resources.alerts()
        notes = collections.Counter(n["Message"]["alert_id"] for n in resources.notifications())
        totals = setup.proxy.forwarded()
    stored = collections.Counter(str(i["alert_id"]) for i in items)
    expected = set(stored)
    at_least = bool(kill_at_commit or throttle)
    return {
        "case": case,
        "rules": rules,
        "kill_at_commit": kill_at_commit or None,
        "throttle_probability": throttle or None,
        "deliveries": len(runs),
        "acknowledged": bool(runs) and runs[-1]["status"] == "ok" and runs[-1]["failed_messages"] == 0,
        "runs": runs,
        "alerts_stored": len(items),
        "distinct_alerts": len(stored),
        "all_sent": {str(i["notification_state"]) for i in items} == {"sent"},
        "notifications": sum(notes.values()),
        "notified_ids": len(notes),
        "repeated_notifications": sum(n - 1 for n in notes.values()),
        "stored_once_each": len(items) == rules == len(stored),
        "notified_ok": all_once(notes, expected, at_least) and len(expected) == rules,
        "notification_rule": "at least once" if at_least else "exactly once",
        "commits": totals.get(("dynamodb", "TransactWriteItems"), 0),
        "requests": {f"{s}:{o}": n for (s, o), n in sorted(totals.items())},
        "wall_s_moto": round(time.monotonic() - started, 1),
    }


def describe(requests: dict[str, Any] | None, bursts: list[dict[str, Any]]) -> str:
    lines = []
    if requests:
        for n, size in requests["sizes"].items():
            for name, b in size["batches"].items():
                m = b["metrics"] or {}
                lines.append(
                    f"{int(n):>6,} rules {name:<18} dynamodb {b['dynamodb_requests']} "
                    f"sns {sum(v for k, v in b['requests'].items() if k.startswith('sns:'))} | "
                    f"StateWrites {m.get('StateWrites')} StateBytesWritten {m.get('StateBytesWritten')} "
                    f"Alerts {m.get('Alerts')} Notifications {m.get('Notifications')} "
                    f"Recovered {m.get('RecoveredNotifications')}"
                )
        lines.append(f"requests identical across sizes: {requests['requests_identical_across_sizes']}")
    for b in bursts:
        lines.append(
            f"burst {b['case']}: {b['deliveries']} deliveries, acknowledged {b['acknowledged']}, "
            f"{b['alerts_stored']} stored ({b['distinct_alerts']} distinct), "
            f"{b['notifications']} notifications "
            f"({b['notified_ids']} ids, {b['repeated_notifications']} repeats; {b['notification_rule']}: "
            f"{b['notified_ok']}), {b['commits']} commits, requests {b['requests']}, {b['wall_s_moto']} s"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.requests_scale", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--bootstrap", type=Path, default=default_bootstrap())
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--only", choices=("requests", "burst"), default=None)
    parser.add_argument("--burst-rules", type=int, default=BURST_RULES)
    parser.add_argument("--cases", default="clean,killed,throttled", help="burst cases, comma-separated")
    parser.add_argument("--kill-at-commit", type=int, default=30)
    parser.add_argument("--throttle", type=float, default=0.05, help="share of throttled calls")
    parser.add_argument("--attempts", type=int, default=40, help="deliveries at most per burst case")
    args = parser.parse_args(argv)
    if args.only in (None, "requests"):
        requests = measure_requests(args.bootstrap)
        merge_results({"requests_scale": requests}, args.out)
        print(describe(requests, []), flush=True)
    if args.only in (None, "burst"):
        options = {"clean": {}, "killed": {"kill_at_commit": args.kill_at_commit}}
        options["throttled"] = {"throttle": args.throttle}
        for case in args.cases.split(","):
            result = measure_burst(
                args.bootstrap, case, args.burst_rules, attempts=args.attempts, **options[case]
            )
            merge_burst_case(result, args.out)
            print(describe(None, [result]), flush=True)
    print(f"wrote to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Rule changes played while a feed plays (issue 15 item 7, R1-R3): the schedule, its player, and the
read-back that turns what was committed into the versions and controls the in-order replay takes
(tests/chaos/event_time.py).

A trader's changes (create, edit, pause, resume, re-arm, delete) go through the API function (the real
bootstrap with `_HANDLER=api`, called with the payload API Gateway's JWT-authorized routes send: the owner is
the token's `sub`, A1), since a rule's mode, a re-arm (which needs the `once` marker read from the state
table) and a delete are the API's; an operator's suspension goes through `tap_rules suspend` /
`resume-symbol` (local/rules_import.py). Both run under the feed's virtual clock (R7), so each change's
`effective_from` is in the feed's own time.

Each change is sent once the clock shows `at_s` seconds of event time after the feed's first tick; a re-arm
also waits until its rule shows `triggered` (an event the player waits for, not a window). What was committed
is read back afterwards, not assumed: every rule's versions through `GET /rules/{id}/versions`, the symbol
controls through `tap_rules controls`; `check_applied` holds the answers' effective_froms to them.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from local.clock import Clock
from local.demo_schedule import versions_of_answer
from local.http_api_payload import Request, Stage, gateway_response, new_request_id, request_event
from local.runtime_api import InvocationResult
from tests.chaos.event_time import Controls, Span, Version, version_at
from tests.chaos.oracle import normalise_timestamp

API_TIMEOUT_S = 30.0
RETRY_LATER = 503  # A3: the change was not committed within P; the player sends it again
REARM_POLL_S = 0.05
MAX_INVOCATION_FAILURES = 3


@dataclass(frozen=True)
class Change:
    """One change of the schedule, sent at `at_s` seconds of event time after the feed's first tick.

    Trader actions name the rule by its name (`rule`); `body` is the definition (create) or the patch (edit).
    Operator actions (`suspend`, `resume-symbol`) name a `symbol`."""

    at_s: float
    action: str
    rule: str = ""
    body: Mapping[str, Any] | None = None
    symbol: str = ""


TRADER_ACTIONS = ("create", "edit", "pause", "resume", "rearm", "delete")
OPERATOR_ACTIONS = ("suspend", "resume-symbol")


@dataclass(frozen=True)
class Applied:
    """A change as committed: the answer's effective_from (micros) and the rule's id (operator: "")."""

    change: Change
    rule_id: str
    effective_from_us: int


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Mapping[str, str]
    body: Any


class Invoker(Protocol):
    def invoke(self, payload: bytes, timeout_s: float, trace_id: str | None = None) -> InvocationResult: ...


@dataclass
class FunctionApi:
    """The API function under a runner, called as API Gateway calls it for an authorized `owner`."""

    function: Invoker
    clock: Callable[[], float] = time.time

    def call(self, owner: str, method: str, path: str, body: Any = None, **headers: str) -> Answer:
        raw = b"" if body is None else json.dumps(body).encode()
        request = Request(
            method,
            path,
            "",
            [("content-type", "application/json"), *headers.items()],
            raw,
            "127.0.0.1",
        )
        claims = {"sub": owner, "token_use": "access", "client_id": "live-rules"}
        event = request_event(
            request, "$default", {}, claims, stage=Stage(), request_id=new_request_id(), now=self.clock()
        )
        result = self.function.invoke(json.dumps(event).encode(), API_TIMEOUT_S)
        if result.status != "ok":
            raise InvocationFailedError(f"{method} {path}: the API function failed: {result.error_type}")
        response = gateway_response(result.payload)
        text = response.body.decode() if response.body else "null"
        return Answer(response.status, dict(response.headers), json.loads(text))


class InvocationFailedError(RuntimeError):
    """The API function's invocation failed (it may still have committed the change)."""


class TraderApi(Protocol):
    def call(self, owner: str, method: str, path: str, body: Any = None, **headers: str) -> Answer: ...


class OperatorTool(Protocol):
    def run(self, *args: str) -> str: ...


class ChangeRefusedError(RuntimeError):
    """A change of the schedule was refused (its answer says why)."""


def effective_from_us(text: str) -> int:
    return normalise_timestamp(text)[1]


@dataclass
class Player:
    """Plays a schedule for one trader (`owner`) and the operator, in the feed's clock."""

    api: TraderApi
    tool: OperatorTool
    owner: str
    clock: Clock
    origin_us: int  # the feed's first tick: `at_s` counts from here
    rule_ids: dict[str, str] = field(default_factory=dict)  # name -> id (imported rules given up front)
    applied: list[Applied] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    retries: int = 0

    def play(self, schedule: Sequence[Change], stop: threading.Event) -> None:
        """Each change at its time, in order; stops early (leaving the rest unplayed) when `stop` is set.
        A refused change is recorded in `errors` and the schedule goes on."""
        for change in schedule:
            try:
                self.clock.wait_until(self.origin_us + round(change.at_s * 1_000_000), _interruptible(stop))
            except _StoppedError:
                return
            try:
                self.applied.append(self.apply(change, stop))
            except ChangeRefusedError as exc:
                self.errors.append(str(exc))

    def apply(self, change: Change, stop: threading.Event) -> Applied:
        if change.action in OPERATOR_ACTIONS:
            out = self.tool.run(change.action, change.symbol)  # "SYMBOL effective_from T"
            return Applied(change, "", effective_from_us(out.split()[-1]))
        if change.action == "create":
            answer = self._send("POST", "/rules", {"name": change.rule, **(change.body or {})})
            self.rule_ids[change.rule] = answer.body["rule"]["id"]
            rule_id = self.rule_ids[change.rule]
            return Applied(change, rule_id, effective_from_us(answer.body["effective_from"]))
        rule_id = self.rule_ids[change.rule]
        path = f"/rules/{rule_id}"
        if change.action == "edit":
            answer = self._send("PATCH", path, dict(change.body or {}), edit_of=path)
        elif change.action == "delete":
            answer = self._send("DELETE", path)
        else:
            if change.action == "rearm":
                self._wait_triggered(path, stop)
            answer = self._send("POST", f"{path}/{change.action}")
        return Applied(change, rule_id, effective_from_us(answer.body["effective_from"]))

    def _send(self, method: str, path: str, body: Any = None, edit_of: str = "") -> Answer:
        """The request until it is committed: a 503 (not committed within P) or a 412 (an edit raced with
        another change of the rule) is sent again; anything else but 200/201 is refused. An invocation that
        failed (a timeout on a loaded machine) may have committed: it is sent again with the same
        Idempotency-Key, which answers the committed change's answer instead of applying it twice (A3)."""
        failures = 0
        while True:
            headers = {"idempotency-key": uuid.uuid4().hex}
            if edit_of:
                headers["if-match"] = self._api(method="GET", path=edit_of).headers["etag"]
            while True:
                try:
                    answer = self.api.call(self.owner, method, path, body, **headers)
                    break
                except InvocationFailedError:
                    failures += 1
                    if failures > MAX_INVOCATION_FAILURES:
                        raise
            if answer.status in (200, 201):
                return answer
            if answer.status not in (RETRY_LATER, 412):
                raise ChangeRefusedError(f"{method} {path}: {answer.status} {answer.body}")
            self.retries += 1

    def _api(self, method: str, path: str) -> Answer:
        answer = self.api.call(self.owner, method, path)
        if answer.status != 200:
            raise ChangeRefusedError(f"{method} {path}: {answer.status} {answer.body}")
        return answer

    def _wait_triggered(self, path: str, stop: threading.Event) -> None:
        """Until the rule's current arming has fired (R2: a re-arm is accepted only then)."""
        while self._api("GET", path).body["state"] != "triggered":
            if stop.wait(REARM_POLL_S):
                raise ChangeRefusedError(f"re-arm of {path}: the feed ended before the rule triggered")

    def versions(self) -> list[Version]:
        """Every version of every rule the player knows, read back through the API, named by rule name."""
        out: list[Version] = []
        for name, rule_id in sorted(self.rule_ids.items()):
            out += versions_of_answer(name, self._api("GET", f"/rules/{rule_id}/versions").body)
        return out

    def controls(self) -> Controls:
        return controls_of_listing(self.tool.run("controls"))


def _interruptible(stop: threading.Event) -> Callable[[float], None]:
    """A sleep for Clock.wait_until that returns at once when `stop` is set (the loop then ends)."""

    def sleep(seconds: float) -> None:
        if stop.wait(seconds):
            raise _StoppedError

    return sleep


class _StoppedError(Exception):
    pass


def controls_of_listing(listing: str) -> Controls:
    """`tap_rules controls` ("SYMBOL suspended [FROM, UNTIL)" lines; UNTIL `open`) as the replay's
    suspensions. Price bands are not part of the schedules: a band line is refused, not dropped."""
    suspensions: dict[str, list[Span]] = {}
    for line in listing.splitlines():
        symbol, kind, window = line.split(" ", 2)
        if kind != "suspended":
            raise ValueError(f"not a suspension: {line!r}")
        start, until = window.strip("[)").split(", ")
        span = Span(effective_from_us(start), None if until == "open" else effective_from_us(until))
        suspensions.setdefault(symbol, []).append(span)
    return Controls(suspensions=suspensions)


def check_applied(applied: Sequence[Applied], versions: Sequence[Version], controls: Controls) -> list[str]:
    """Each committed change against what was read back (R3: the change is in effect from exactly the
    effective_from it answered): a create or resume opens a version there, an edit or re-arm closes one and
    opens the next, a pause or delete closes one; a suspension opens there, a resume-symbol closes it."""
    problems = []
    for a in applied:
        name, ef = a.change.rule, a.effective_from_us
        mine = [v for v in versions if v.rule == name]
        opens = any(v.start_us == ef for v in mine)
        closes = any(v.end_us == ef for v in mine)
        spans = controls.suspensions.get(a.change.symbol, ())
        closed = all(v.end_us is not None and v.end_us <= ef for v in mine)
        rearmed = any(u.end_us == ef == v.start_us and v.arming > u.arming for u in mine for v in mine)
        held = {
            "create": opens,
            "resume": opens,
            "edit": opens and closes,
            "rearm": rearmed,
            "pause": closes and not opens,
            "delete": closed and not opens,  # an active rule's version closes there, a paused one's before
            "suspend": any(s.start_us == ef for s in spans),
            "resume-symbol": any(s.end_us == ef for s in spans),
        }[a.change.action]
        if not held:
            what = f"{a.change.action} {name or a.change.symbol}"
            problems.append(f"{what} at {ef}: not what the rules table holds")
    return problems


def once_fires_per_arming(alerts: Sequence[Mapping[str, Any]], versions: Sequence[Version]) -> Counter[str]:
    """Stored alerts (rules by name) per `rule#arming` of the `once` versions that fired them (R2: at most
    one each)."""
    fires: Counter[str] = Counter()
    for alert in alerts:
        ts, _, rule = str(alert["timestamp"]).partition("#")
        v = version_at(versions, rule, str(alert["symbol"]), normalise_timestamp(ts)[1])
        if v is not None and v.mode == "once":
            fires[f"{rule}#{v.arming}"] += 1
    return fires


def schedule(span_s: float) -> list[Change]:
    """The standard schedule over a feed lasting `span_s` seconds of event time (the rules of
    config/alert-rules.json imported before it): every kind of change, spread so that each one's effect lies
    inside the feed. TSLA and NVDA walk around 300 and 140 in the generated and sample feeds: the `once` rule
    fires early, and again after its re-arm."""
    at = [span_s * f for f in (0.05, 0.1, 0.15, 0.2, 0.3, 0.45, 0.5, 0.55, 0.65, 0.7)]
    once = {"symbol": "TSLA", "condition": "price_above", "threshold": 298, "severity": "warning"}
    every = {"symbol": "NVDA", "condition": "crosses_below", "threshold": 140, "severity": "info"}
    return [
        Change(at[0], "create", "tsla-once", {**once, "mode": "once"}),
        Change(at[1], "create", "nvda-every", {**every, "mode": "every", "cooldown_seconds": 5}),
        Change(at[2], "edit", "msft-above-450", {"threshold": 451}),
        Change(at[3], "pause", "aapl-breakout-200"),
        Change(at[4], "suspend", symbol="BTC-USD"),
        Change(at[5], "rearm", "tsla-once"),
        Change(at[6], "resume", "aapl-breakout-200"),
        Change(at[7], "resume-symbol", symbol="BTC-USD"),
        Change(at[8], "edit", "nvda-every", {"threshold": 139.5}),
        Change(at[9], "delete", "nvda-every"),
    ]

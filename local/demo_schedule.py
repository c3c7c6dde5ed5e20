"""The demo's rule changes played through the traders' API while the feed plays (issues 15 item 7, 16 item 4).

The schedule is data: each change names its actor (a trader, or the operator), the time it is sent (a
fraction of the feed's event-time span after its first tick) and what it does. `Player` sends one actor's
changes through the API front with that actor's token, in the feed's virtual clock (R7). A 503 from the
change protocol (A3: not committed within P) is handled as a client should: the change is read back and sent
again only if it did not take effect (a 503 may come after the commit). What was committed is read back
afterwards through the API (`GET /rules/{id}/versions`, `GET /symbols/{symbol}/controls`) and is what the
in-order replay takes (tests/chaos/event_time.py).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from ops.alerts_api import ApiReply, path_of
from tests.chaos.event_time import Controls, Span, TickLike, Version
from tests.chaos.oracle import normalise_timestamp

OPERATOR = "operator"
RETRY_LATER = 503
MAX_ATTEMPTS = 5  # a change still refused after this many 503s is reported, not retried forever
TRADER_ACTIONS = ("create", "edit", "pause", "resume")
OPERATOR_ACTIONS = ("suspend", "resume-symbol")


@dataclass(frozen=True)
class Change:
    """One change, sent once the feed's clock is `at` (0..1) of the feed's span past its first tick.

    Trader changes name their rule (`rule`); `body` is the definition (create) or the merge patch (edit);
    `expires_after` (create) puts `expires_at` at that fraction of the span. Operator changes name a
    `symbol`."""

    at: float
    actor: str
    action: str
    rule: str = ""
    body: Mapping[str, Any] = field(default_factory=dict)
    symbol: str = ""
    expires_after: float | None = None


@dataclass(frozen=True)
class Applied:
    """A change as committed: its rule's id (operator: "") and the effective_from it answered (micros)."""

    change: Change
    rule_id: str
    effective_from_us: int
    attempts: int = 1


def demo_schedule(alice: str, bob: str) -> list[Change]:
    """The demo's changes, in time order, on AAPL, which walks around 200 in both demo feeds (the sample and
    the golden one): alice's `every` rule fires on AAPL's crossings of 200 until it expires; bob's `once`
    rule fires the first time AAPL trades above 200.5 and never again; alice's breakout rule is paused and
    resumed; bob's AAPL level moves up; the operator suspends AAPL for a while."""
    every = {"symbol": "AAPL", "condition": "crosses_above", "threshold": 200, "severity": "info"}
    once = {"symbol": "AAPL", "condition": "price_above", "threshold": 200.5, "severity": "warning"}
    return [
        Change(
            0.05,
            alice,
            "create",
            "aapl-every-200",
            {**every, "mode": "every", "cooldown_seconds": 1},
            "",
            0.6,
        ),
        Change(0.1, bob, "create", "aapl-once-200.5", {**once, "mode": "once"}),
        Change(0.2, alice, "pause", "aapl-breakout-200"),
        Change(0.3, bob, "edit", "aapl-above-201", {"threshold": 211.5}),
        Change(0.5, alice, "resume", "aapl-breakout-200"),
        Change(0.7, OPERATOR, "suspend", symbol="AAPL"),
        Change(0.85, OPERATOR, "resume-symbol", symbol="AAPL"),
    ]


def by_actor(schedule: Sequence[Change]) -> dict[str, list[Change]]:
    """Each actor's changes in time order (one player per actor: one actor's slow answer delays no other)."""
    actors: dict[str, list[Change]] = {}
    for change in sorted(schedule, key=lambda c: c.at):
        actors.setdefault(change.actor, []).append(change)
    return actors


def iso(micros: int) -> str:
    """RFC 3339 UTC with milliseconds, as the API writes times."""
    return (
        datetime.fromtimestamp(micros / 1_000_000, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def micros(text: str) -> int:
    return normalise_timestamp(text)[1]


def request_of(
    change: Change, rule_ids: Mapping[str, str], origin_us: int, span_us: int
) -> tuple[str, str, Any]:
    """The change as (method, path, body)."""
    if change.action == "create":
        body = {"name": change.rule, **change.body}
        if change.expires_after is not None:
            body["expires_at"] = iso(origin_us + round(change.expires_after * span_us))
        return "POST", "/rules", body
    if change.action == "suspend":
        return "PUT", path_of("symbols", change.symbol, "suspension"), None
    if change.action == "resume-symbol":
        return "DELETE", path_of("symbols", change.symbol, "suspension"), None
    rule = path_of("rules", rule_ids[change.rule])
    if change.action == "edit":
        return "PATCH", rule, dict(change.body)
    return "POST", f"{rule}/{change.action}", None


def read_back_path(change: Change, rule_ids: Mapping[str, str]) -> str:
    """Where a change's effect shows: the rule's versions, or the symbol's controls."""
    if change.action in OPERATOR_ACTIONS:
        return path_of("symbols", change.symbol, "controls")
    return path_of("rules", rule_ids[change.rule], "versions")


def committed_at(change: Change, document: Mapping[str, Any]) -> int | None:
    """The effective_from (micros) of the change as the read-back document (of `read_back_path`) shows it
    committed, or None when it shows the change not in effect."""
    if change.action in OPERATOR_ACTIONS:
        windows = document["suspensions"]
        last = windows[-1] if windows else {"from": None, "until": None}
        if change.action == "suspend":
            return micros(str(last["from"])) if windows and last["until"] is None else None
        return micros(last["until"]) if windows and last["until"] is not None else None
    versions = [v for v in document["versions"] if v["enabled"]]
    if not versions:
        return None
    last = max(versions, key=lambda v: int(v["version"]))
    is_open = last["effective_until"] is None
    if change.action == "pause":
        return None if is_open else micros(last["effective_until"])
    held = all(last.get(k) == v for k, v in change.body.items() if change.action == "edit")
    return micros(last["effective_from"]) if is_open and held else None


class Api(Protocol):
    def call(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str | None] | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> ApiReply: ...


class ChangeRefusedError(RuntimeError):
    """The API refused a change (the reply says why)."""


def _reply_of(method: str, path: str, reply: ApiReply) -> ApiReply:
    if not reply.ok:
        raise ChangeRefusedError(f"{method} {path}: {reply.status} {reply.text.strip()[:200]}")
    return reply


@dataclass
class Player:
    """Plays one actor's changes through the API (`api` carries the actor's token) in the feed's clock."""

    api: Api
    wait_until: Callable[[int], None]  # blocks until the feed's clock shows these micros
    origin_us: int  # the feed's first tick
    span_us: int  # the feed's span of event time
    rule_ids: dict[str, str] = field(default_factory=dict)  # name -> id of the actor's rules
    applied: list[Applied] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def play(self, changes: Iterable[Change]) -> None:
        for change in changes:
            self.wait_until(self.origin_us + round(change.at * self.span_us))
            try:
                self.applied.append(self.apply(change))
            except ChangeRefusedError as refused:
                self.errors.append(str(refused))

    def apply(self, change: Change) -> Applied:
        method, path, body = request_of(change, self.rule_ids, self.origin_us, self.span_us)
        headers = {"Idempotency-Key": uuid.uuid4().hex} if method == "POST" else {}
        for attempt in range(1, MAX_ATTEMPTS + 1):
            if change.action == "edit":
                headers["If-Match"] = self.get(path).headers["etag"]
            reply = self.api.call(method, path, body=body, headers=headers)
            if reply.status != RETRY_LATER:
                answer = _reply_of(method, path, reply).document
                if change.action == "create":
                    self.rule_ids[change.rule] = answer["rule"]["id"]
                rule_id = self.rule_ids.get(change.rule, "")
                return Applied(change, rule_id, micros(answer["effective_from"]), attempt)
            effective_from = self.committed_at(change)
            if effective_from is not None:  # the 503 came after the commit: not sent again
                return Applied(change, self.rule_ids.get(change.rule, ""), effective_from, attempt)
        raise ChangeRefusedError(
            f"{method} {path}: {change.action} not committed after {MAX_ATTEMPTS} attempts"
        )

    def committed_at(self, change: Change) -> int | None:
        """After a 503: the change's effective_from read back when it took effect anyway, else None."""
        if change.action == "create":
            listed = self.get("/rules").document["rules"]
            found = [r["id"] for r in listed if r["name"] == change.rule]
            if not found:
                return None
            self.rule_ids[change.rule] = found[0]
        return committed_at(change, self.get(read_back_path(change, self.rule_ids)).document)

    def get(self, path: str) -> ApiReply:
        return _reply_of("GET", path, self.api.call("GET", path))


def play_all(players: Mapping[str, Player], schedule: Sequence[Change]) -> list[threading.Thread]:
    """Each actor's player in its own thread, started; join them to wait for every change."""
    threads = [
        threading.Thread(target=players[actor].play, args=(changes,), name=f"demo-{actor}", daemon=True)
        for actor, changes in by_actor(schedule).items()
    ]
    for thread in threads:
        thread.start()
    return threads


# -- reading back what was committed ---------------------------------------------------------------------
def _micros_or_none(text: str | None) -> int | None:
    return None if text is None else micros(text)


def versions_of_answer(name: str, answer: Mapping[str, Any]) -> list[Version]:
    """The versions route's answer (docs/openapi.yaml `Version`) as the replay's versions of rule `name`."""
    return [
        Version(
            rule=name,
            version=int(v["version"]),
            symbol=str(v["symbol"]),
            condition=str(v["condition"]),
            threshold=float(v["threshold"]),
            severity=str(v["severity"]),
            mode=str(v["mode"]),
            cooldown_seconds=int(v.get("cooldown_seconds", 1)),
            bar_seconds=int(v.get("bar_seconds", 0)),
            arming=int(v["arming"]),
            start_us=_micros_or_none(v["effective_from"]),
            end_us=_micros_or_none(v["effective_until"]),
            expires_us=_micros_or_none(v.get("expires_at")),
        )
        for v in answer["versions"]
        if v["enabled"]
    ]


def controls_of_answers(answers: Iterable[Mapping[str, Any]]) -> Controls:
    """The controls route's answers (docs/openapi.yaml `SymbolControls`) as the replay's suspensions. The
    demo sets no price band: one in an answer is refused, not dropped."""
    suspensions: dict[str, list[Span]] = {}
    for answer in answers:
        if answer["bands"]:
            raise ValueError(f"{answer['symbol']}: a price band the demo did not set")
        suspensions[str(answer["symbol"])] = [
            Span(_micros_or_none(w["from"]), _micros_or_none(w["until"])) for w in answer["suspensions"]
        ]
    return Controls(suspensions=suspensions)


# -- what the traders see --------------------------------------------------------------------------------
def foreign_alerts(
    listed: Mapping[str, Sequence[Mapping[str, Any]]], own_rules: Mapping[str, Iterable[str]]
) -> list[str]:
    """Every alert a trader's `GET /alerts` listed that is not theirs: another owner, or a rule not theirs."""
    problems = []
    for trader, alerts in listed.items():
        mine = set(own_rules.get(trader, ()))
        for a in alerts:
            if a.get("owner") != trader or a.get("rule_id") not in mine:
                problems.append(
                    f"{trader} sees {a.get('owner')}'s alert {a.get('stored_id')} (rule {a.get('rule_id')})"
                )
    return problems


def effect_line(
    applied: Applied,
    *,
    names: Mapping[str, str],
    fired: Sequence[Mapping[str, Any]],
    controls: Controls,
    ticks: Sequence[TickLike],
    origin_us: int,
) -> str:
    """One committed change and what it did: for a rule, its owner's alerts of that rule before and from the
    change's effective_from (`fired`: the owner's listed alerts); for a suspension, the symbol's ticks it
    held back."""
    c, ef = applied.change, applied.effective_from_us
    head = f"  {(ef - origin_us) / 1e6:+7.1f} s  {c.actor:14} {c.action:13} {c.rule or c.symbol:20}"
    if c.action in OPERATOR_ACTIONS:
        held = sum(1 for t in ticks if t.symbol == c.symbol and controls.suspended(t))
        return f"{head} {held} {c.symbol} tick(s) suspended in all"
    mine = [a for a in fired if names.get(str(a["rule_id"]), a["rule_id"]) == c.rule]
    before = sum(1 for a in mine if micros(str(a["tick_time"])) < ef)
    return f"{head} its alerts before: {before}, from then on: {len(mine) - before}"

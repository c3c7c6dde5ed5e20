"""COMPARISON BASELINE -- not part of the product.

The seed's own design, written the way a competent Python team would: a Python 3.11 Lambda handler with
boto3 (clients at module scope) and Powertools for AWS Lambda (BatchProcessor for partial batch failures,
structured Logger, EMF Metrics). It implements the same specification as the C++ function (F2-F8),
with the same rules document, the same algorithm and the same AWS calls as docs/design.md, so that
bench/ compares like with like:

- crossing state read once per batch (BatchGetItem, ConsistentRead) for every (rule, symbol) it touches;
  ticks of a key applied in timestamp order; state written only on a side change or a fire, as a
  compare-and-swap on the side_ts that was read; a CAS conflict re-reads the key and re-evaluates it;
- a fire is one TransactWriteItems [state update with its condition, Put alert IF attribute_not_exists];
  level rules need no read (their condition is last_fire_ts <= ts - cooldown), with a per-container cache
  of last_fire_ts as a lower bound to skip writes that cannot succeed;
- alerts are stored with notification_state "pending", published to SNS with message attributes (symbol,
  rule, severity), then marked "sent"; a tick late for a rule whose condition holds at it (any delivery
  after its alert was stored: a retry, a duplicate, a DLQ redrive) re-publishes that alert if it is still
  "pending" (a crash between store and notify never loses one);
- malformed bodies and invalid ticks go to the DLQ with a RejectionReason attribute and are acknowledged
  (their valid ticks are processed first); transient failures are reported in batchItemFailures;
- retries: botocore's standard mode (exponential backoff with full jitter on throttling, 5xx, network
  errors) plus the same backoff for BatchGetItem's UnprocessedKeys; nothing is retried past the deadline.

Environment: ALERTS_TABLE, STATE_TABLE, TOPIC_ARN, DLQ_URL, RULES_TABLE (rules_table.py) or RULES_PATH,
BASELINE_THREADS, TAP_CLOCK, AWS_ENDPOINT_URL (boto3 reads it).
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from bench.baseline import rules_table
from local.clock import Clock

DEFAULT_COOLDOWN_SECONDS = 60
MAX_BODY_BYTES = 262_144
MAX_DEPTH = 4  # body array -> tick object -> field value (an unknown field may hold one more level)
DEADLINE_MARGIN_MS = 1_500
CAS_ATTEMPTS = 3
LEVEL = frozenset({"price_above", "price_below", "spread_above", "volume_above"})
CROSSING = frozenset({"crosses_above", "crosses_below"})

logger = Logger(service="data-processor-baseline")
metrics = Metrics(namespace="MarketAlerts", service="data-processor-baseline")

# ------------------------------------------------------------------ configuration (module scope, once)
ALERTS_TABLE = os.environ.get("ALERTS_TABLE", "")
STATE_TABLE = os.environ.get("STATE_TABLE", "")
TOPIC_ARN = os.environ.get("TOPIC_ARN", "")
DLQ_URL = os.environ.get("DLQ_URL", "")
RULES_PATH = Path(
    os.environ.get("RULES_PATH", Path(__file__).resolve().parents[2] / "config" / "alert-rules.json")
)

_BOTO_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=3, read_timeout=10)
_REGION = os.environ.get("AWS_REGION") or None  # Lambda sets it; else AWS_DEFAULT_REGION / the profile
dynamodb = boto3.client("dynamodb", region_name=_REGION, config=_BOTO_CONFIG)
sns = boto3.client("sns", region_name=_REGION, config=_BOTO_CONFIG)
sqs = boto3.client("sqs", region_name=_REGION, config=_BOTO_CONFIG)


@dataclass(frozen=True)
class Rule:
    """One version of a rule: a document's rule is version 1 of mode every, in force at every instant."""

    id: str
    symbol: str
    condition: str
    threshold: float
    severity: str
    cooldown_us: int
    mode: str = "every"  # R2: every (cooldown), once_per_bar (bar), once (per arming)
    bar_us: int = 0
    arming: int = 0
    version: int = 1
    from_us: int = -(2**63)
    until_us: int = rules_table.OPEN_END
    expires_us: int | None = None
    enabled: bool = True
    owner: str = ""

    def applies_at(self, ts_us: int) -> bool:
        """R3: the version in force at the tick's timestamp (window, expiry, enabled)."""
        return (
            self.enabled
            and self.from_us <= ts_us < self.until_us
            and (self.expires_us is None or ts_us < self.expires_us)
        )

    def cutoff_us(self, ts_us: int) -> int:
        """The latest last fire that still lets this rule fire at ts_us (the state write's condition):
        every: a cooldown before; once_per_bar: before the tick's bar; once: before the tick (its marker,
        written in the alert's transaction, is what keeps it to one fire per arming)."""
        if self.mode == "every":
            return ts_us - self.cooldown_us
        if self.mode == "once_per_bar":
            return ts_us - ts_us % self.bar_us - 1
        return ts_us - 1


def load_rules(path: Path) -> list[Rule]:
    """The enabled rules of the document; raises ValueError on a document the function must not run with."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    if doc.get("version") != 1 or not isinstance(doc.get("rules"), list):
        raise ValueError("rules document: version 1 with a rules array expected")
    default = int(doc.get("default_cooldown_seconds", DEFAULT_COOLDOWN_SECONDS))
    ids = Counter(r["id"] for r in doc["rules"])
    if any(n > 1 for n in ids.values()):
        raise ValueError(f"rules document: duplicate rule ids {sorted(k for k, n in ids.items() if n > 1)}")
    rules = []
    for r in doc["rules"]:
        if r["condition"] not in LEVEL | CROSSING:
            raise ValueError(f"rule {r['id']}: unknown condition {r['condition']!r}")
        if r.get("enabled", True):
            cooldown = int(r.get("cooldown_seconds", default))
            rules.append(
                Rule(
                    r["id"],
                    r["symbol"],
                    r["condition"],
                    float(r["threshold"]),
                    r["severity"],
                    cooldown * 10**6,
                )
            )
    return rules


def rule_of(v: rules_table.Version) -> Rule:
    return Rule(
        v.id,
        v.symbol,
        v.condition,
        v.threshold,
        v.severity,
        v.cooldown_seconds * 10**6,
        mode=v.mode,
        bar_us=v.bar_seconds * 10**6,
        arming=v.arming,
        version=v.version,
        from_us=v.from_us,
        until_us=v.until_us,
        expires_us=v.expires_at_us,
        enabled=v.enabled,
        owner=v.owner,
    )


def load_table_rules(table: str) -> list[Rule]:
    """The rules table's versions by the function's cold load (bench/baseline/rules_table.py), in the
    local system's clock (TAP_CLOCK, as the function reads it); invalid items skipped and logged."""
    started = time.perf_counter()
    shards = int(os.environ.get("RULES_SHARDS", "1"))
    loaded = rules_table.load(dynamodb, table, shards, Clock.from_env().now_micros)
    for why in loaded.invalid:
        logger.warning("invalid rule skipped", extra={"reason": why})
    logger.info(
        "rules loaded",
        extra={"rules": len(loaded.versions), "invalid": len(loaded.invalid), "load_ms": _ms_since(started)},
    )
    return [rule_of(v) for v in loaded.versions]


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


RULES_TABLE = os.environ.get("RULES_TABLE", "")
# The function's choice (src/main.cpp): the rules table when named, else the fixture document.
RULES = load_table_rules(RULES_TABLE) if RULES_TABLE else load_rules(RULES_PATH)

# Per-container lower bound of last_fire_ts per (rule, symbol) of level rules (last_fire only grows).
_last_fire_cache: dict[tuple[str, str], int] = {}
# Per-container (rule id, arming) of `once` rules whose marker exists: they fire nothing more.
_triggered: set[tuple[str, int]] = set()
# Issue 17: BASELINE_THREADS > 1 runs each symbol's work in a thread pool of that size (boto3 clients are
# thread-safe); unset or 1, the sequential variant.
_THREADS = int(os.environ.get("BASELINE_THREADS", "1"))
_pool = ThreadPoolExecutor(max_workers=_THREADS) if _THREADS > 1 else None

# ------------------------------------------------------------------ ticks (F2)
_SYMBOL = re.compile(r"^[A-Z0-9./:-]{1,16}$")
_TS = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|([+-])(\d{2}):(\d{2}))$"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class RejectedError(ValueError):
    """A tick or body that can never be processed (goes to the DLQ with this reason)."""


def normalise_timestamp(text: str) -> tuple[str, int]:
    m = _TS.match(text)
    if m is None:
        raise RejectedError(f"timestamp {text[:40]!r} is not ISO-8601 with Z or a numeric offset")
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    micros = int((m.group(7) or "0")[:6].ljust(6, "0"))
    offset = timedelta(0)
    if m.group(8) != "Z":
        offset = (1 if m.group(9) == "+" else -1) * timedelta(
            hours=int(m.group(10)), minutes=int(m.group(11))
        )
    try:
        utc = datetime(year, month, day, hour, minute, second, micros, tzinfo=timezone(offset)).astimezone(
            UTC
        )
    except (ValueError, OverflowError) as exc:
        raise RejectedError(f"timestamp {text[:40]!r} out of range") from exc
    return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), (utc - _EPOCH) // timedelta(microseconds=1)


@dataclass(frozen=True)
class Tick:
    message_id: str
    symbol: str
    price: float
    ts: str
    ts_us: int
    volume: int | None
    bid: float | None
    ask: float | None


def _positive(value: Any) -> bool:
    return (
        isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value > 0
    )


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise RejectedError(f"duplicate key {key[:40]!r}")
        seen[key] = value
    return seen


def _no_constant(name: str) -> Any:
    raise RejectedError(f"invalid JSON: {name}")


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


def parse_tick(message_id: str, obj: Any) -> Tick:
    if not isinstance(obj, dict):
        raise RejectedError("tick is not a JSON object")
    symbol = obj.get("symbol")
    if not isinstance(symbol, str) or not _SYMBOL.match(symbol):
        raise RejectedError("symbol missing or not 1..16 characters of A-Z 0-9 . - / :")
    price: Any = obj.get("price")
    if not _positive(price):
        raise RejectedError("price missing or not a finite number > 0")
    if not isinstance(obj.get("timestamp"), str):
        raise RejectedError("timestamp missing or not a string")
    ts, ts_us = normalise_timestamp(obj["timestamp"])
    volume = obj.get("volume")
    if volume is not None and (not isinstance(volume, int) or isinstance(volume, bool) or volume < 0):
        raise RejectedError("volume not an integer >= 0")
    for name in ("bid", "ask"):
        if obj.get(name) is not None and not _positive(obj[name]):
            raise RejectedError(f"{name} not a finite number > 0")
    bid, ask = obj.get("bid"), obj.get("ask")
    return Tick(
        message_id,
        symbol,
        float(price),
        ts,
        ts_us,
        volume,
        None if bid is None else float(bid),
        None if ask is None else float(ask),
    )


def parse_body(message_id: str, body: str) -> tuple[list[Tick], list[str]]:
    """The valid ticks of a body and the reasons for everything rejected in it."""
    if len(body.encode("utf-8", "surrogatepass")) > MAX_BODY_BYTES:
        return [], [f"body larger than {MAX_BODY_BYTES} bytes"]
    try:
        doc = json.loads(body, object_pairs_hook=_pairs, parse_constant=_no_constant)
    except RejectedError as exc:
        return [], [str(exc)]
    except RecursionError:
        return [], [f"nesting deeper than {MAX_DEPTH}"]
    except ValueError as exc:
        return [], [f"invalid JSON: {exc}"]
    if _depth(doc) > MAX_DEPTH:
        return [], [f"nesting deeper than {MAX_DEPTH}"]
    ticks, reasons = [], []
    for index, obj in enumerate(doc if isinstance(doc, list) else [doc]):
        try:
            ticks.append(parse_tick(message_id, obj))
        except RejectedError as exc:
            reasons.append(f"tick {index}: {exc}")
    return ticks, reasons


# ------------------------------------------------------------------ rule evaluation
def level_holds(rule: Rule, tick: Tick) -> bool:
    if rule.condition == "price_above":
        return tick.price > rule.threshold
    if rule.condition == "price_below":
        return tick.price < rule.threshold
    if rule.condition == "spread_above":
        # Same tolerance as the C++ function: decimal prices differ by a few ulps in binary.
        return (
            tick.bid is not None
            and tick.ask is not None
            and (tick.ask - tick.bid) - rule.threshold > 1e-12 * max(1.0, abs(tick.ask))
        )
    return tick.volume is not None and tick.volume > rule.threshold


def side_of(rule: Rule, price: float) -> str:
    # F3: crosses_below mirrors crosses_above; a price on the line is on neither fire side.
    if rule.condition == "crosses_below":
        return "below" if price < rule.threshold else "at_or_above"
    return "above" if price > rule.threshold else "at_or_below"


def target_side(rule: Rule) -> str:
    return "above" if rule.condition == "crosses_above" else "below"


def candidate(rule: Rule, tick: Tick) -> bool:
    """The stateless part of the rule holds at this tick (it may have fired here)."""
    return (
        level_holds(rule, tick) if rule.condition in LEVEL else side_of(rule, tick.price) == target_side(rule)
    )


def normalise_us(us: int) -> str:
    return (_EPOCH + timedelta(microseconds=us)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _num(value: float | int) -> dict[str, str]:
    return {"N": repr(value)}


# ------------------------------------------------------------------ the batch
@dataclass
class Batch:
    context: LambdaContext | None
    failed: set[str] = field(default_factory=set)  # message ids to report in batchItemFailures
    fired: list[tuple[Rule, Tick]] = field(default_factory=list)
    # (rule id, tick identity) of late evaluations: a set, as a CAS retry evaluates again
    late: set[tuple[str, int]] = field(default_factory=set)
    # late evaluations at or before the state's last fire: the alert for that tick may be stored
    maybe_alerted: dict[tuple[str, int], tuple[Rule, Tick]] = field(default_factory=dict)

    def mark_late(self, rule: Rule, tick: Tick, last_fire_us: int | None) -> None:
        self.late.add((rule.id, id(tick)))
        if last_fire_us is not None and tick.ts_us <= last_fire_us:
            self.maybe_alerted[(rule.id, id(tick))] = (rule, tick)

    def late_ticks(self) -> int:
        return len({tick_id for _rule, tick_id in self.late})

    def out_of_time(self) -> bool:
        return self.context is not None and self.context.get_remaining_time_in_millis() < DEADLINE_MARGIN_MS


def _alert_item(rule: Rule, tick: Tick) -> dict[str, Any]:
    item: dict[str, Any] = {
        "symbol": {"S": tick.symbol},
        "timestamp": {"S": f"{tick.ts}#{rule.id}"},
        "rule_id": {"S": rule.id},
        "condition": {"S": rule.condition},
        "threshold": _num(rule.threshold),
        "severity": {"S": rule.severity},
        "price": _num(tick.price),
        "tick_timestamp": {"S": tick.ts},
        "message_id": {"S": tick.message_id},
        "created_at": {"S": _now()},
        "notification_state": {"S": "pending"},
    }
    for name in ("volume", "bid", "ask"):
        value = getattr(tick, name)
        if value is not None:
            item[name] = _num(value)
    return item


def _put_alert(rule: Rule, tick: Tick) -> dict[str, Any]:
    return {
        "Put": {
            "TableName": ALERTS_TABLE,
            "Item": _alert_item(rule, tick),
            "ConditionExpression": "attribute_not_exists(symbol)",
        }
    }


def _put_marker(rule: Rule, tick: Tick) -> list[dict[str, Any]]:
    """A `once` rule's marker for its arming, put in the alert's transaction as the C++ function puts it
    (dynamodb_store.cpp marker_item): a second fire of the arming is refused by it."""
    if rule.mode != "once":
        return []
    item = {
        "symbol": {"S": f"#once#{rule.id}"},
        "rule_id": {"S": f"#arming#{rule.arming}"},
        "rule": {"S": rule.id},
        "arming": {"N": str(rule.arming)},
        "alert_symbol": {"S": tick.symbol},
        "alert_key": {"S": f"{tick.ts}#{rule.id}"},
        "created_at": {"S": _now()},
    }
    put = {"TableName": STATE_TABLE, "Item": item, "ConditionExpression": "attribute_not_exists(symbol)"}
    return [{"Put": put}]


def _marker_refused(rule: Rule, codes: list[str]) -> bool:
    """The transaction failed on the marker alone: the arming has fired (remembered per container)."""
    refused = rule.mode == "once" and codes[-1] == "ConditionalCheckFailed" and codes[0] != codes[-1]
    if refused:
        _triggered.add((rule.id, rule.arming))
    return refused


def _spent(rule: Rule) -> bool:
    return (rule.id, rule.arming) in _triggered


def _cancel_codes(exc: ClientError) -> list[str]:
    return [r.get("Code", "None") for r in exc.response.get("CancellationReasons", [])]


def _state_key(rule: Rule, symbol: str) -> dict[str, Any]:
    return {"symbol": {"S": symbol}, "rule_id": {"S": rule.id}}


def apply_level(batch: Batch, rule: Rule, ticks: list[Tick]) -> None:
    key = (rule.id, ticks[0].symbol)
    for tick in ticks:
        if not level_holds(rule, tick):
            continue
        cached = _last_fire_cache.get(key)
        if cached is not None and tick.ts_us <= cached:
            batch.mark_late(rule, tick, cached)
            continue
        if (cached is not None and cached > rule.cutoff_us(tick.ts_us)) or _spent(rule):
            continue  # inside the cooldown or bar, or the arming spent: the write could not succeed
        update = {
            "Update": {
                "TableName": STATE_TABLE,
                "Key": _state_key(rule, tick.symbol),
                "UpdateExpression": "SET last_fire_ts = :ts, updated_at = :now",
                "ConditionExpression": "attribute_not_exists(last_fire_ts) OR last_fire_ts <= :cutoff",
                "ExpressionAttributeValues": {
                    ":ts": {"S": tick.ts},
                    ":cutoff": {"S": normalise_us(rule.cutoff_us(tick.ts_us))},
                    ":now": {"S": _now()},
                },
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        }
        try:
            dynamodb.transact_write_items(
                TransactItems=[update, _put_alert(rule, tick), *_put_marker(rule, tick)]
            )
        except ClientError as exc:
            codes = (
                _cancel_codes(exc) if exc.response["Error"]["Code"] == "TransactionCanceledException" else []
            )
            if not codes or any(c not in ("None", "ConditionalCheckFailed") for c in codes):
                raise  # a TransactionConflict, throttling, ...: transient, the message comes back
            if _marker_refused(rule, codes):
                continue
            old = exc.response["CancellationReasons"][0].get("Item", {})
            if "last_fire_ts" in old:
                last = normalise_timestamp(old["last_fire_ts"]["S"])[1]
                _last_fire_cache[key] = max(_last_fire_cache.get(key, last), last)
                if tick.ts_us <= last:
                    batch.mark_late(rule, tick, last)
            continue
        _last_fire_cache[key] = tick.ts_us
        batch.fired.append((rule, tick))


def apply_crossing(batch: Batch, rule: Rule, ticks: list[Tick], stored: dict[str, Any] | None) -> None:
    """Evaluates the key's ticks (timestamp order) against the state read; CAS conflicts re-read."""
    for _attempt in range(CAS_ATTEMPTS):
        try:
            _evaluate_crossing(batch, rule, ticks, stored)
            return
        except ClientError as exc:
            code = exc.response["Error"]["Code"]
            conflict = code == "ConditionalCheckFailedException" or (
                code == "TransactionCanceledException" and _cancel_codes(exc)[0] == "ConditionalCheckFailed"
            )
            if not conflict:
                raise
            logger.info("state CAS conflict, re-reading", extra={"rule": rule.id, "symbol": ticks[0].symbol})
            got = dynamodb.get_item(
                TableName=STATE_TABLE, Key=_state_key(rule, ticks[0].symbol), ConsistentRead=True
            )
            stored = got.get("Item")
    raise RuntimeError(f"state of {rule.id}/{ticks[0].symbol} kept changing under us")


def _evaluate_crossing(batch: Batch, rule: Rule, ticks: list[Tick], stored: dict[str, Any] | None) -> None:
    db_side_ts = stored["side_ts"]["S"] if stored and "side_ts" in stored else None
    side = stored["side"]["S"] if stored and "side" in stored else None
    side_us = normalise_timestamp(db_side_ts)[1] if db_side_ts else None
    last_fire = stored.get("last_fire_ts", {}).get("S") if stored else None
    last_fire_us = normalise_timestamp(last_fire)[1] if last_fire else None
    # The newest applied tick not yet persisted: side_ts must advance with every applied tick (F3), or
    # an older tick delivered later would not be late. One write per key and batch, not one per tick.
    newest: Tick | None = None

    def condition() -> tuple[str, dict[str, Any]]:
        if db_side_ts is None:
            return "attribute_not_exists(side_ts)", {}
        return "side_ts = :read", {":read": {"S": db_side_ts}}

    for tick in ticks:
        new_side = side_of(rule, tick.price)
        if side is None or side_us is None:
            side, side_us, newest = new_side, tick.ts_us, tick  # first tick ever: record the side only
            continue
        if tick.ts_us <= side_us:
            batch.mark_late(rule, tick, last_fire_us)
            continue
        changed = new_side != side
        side, side_us, newest = new_side, tick.ts_us, tick
        fires = (
            changed
            and new_side == target_side(rule)
            and (last_fire_us is None or last_fire_us <= rule.cutoff_us(tick.ts_us))
            and not _spent(rule)
        )
        if not fires:
            continue
        cond, values = condition()
        try:
            _fire_crossing(rule, tick, new_side, cond, values)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            if not _marker_refused(rule, _cancel_codes(exc)):
                raise  # a CAS conflict: apply_crossing re-reads
            continue  # the arming has fired: the side write below records this tick
        db_side_ts, last_fire_us, newest = tick.ts, tick.ts_us, None
        batch.fired.append((rule, tick))
    if newest is not None:
        cond, values = condition()
        dynamodb.update_item(
            TableName=STATE_TABLE,
            Key=_state_key(rule, newest.symbol),
            UpdateExpression="SET side = :side, side_ts = :ts, updated_at = :now",
            ConditionExpression=cond,
            ExpressionAttributeValues={
                **values,
                ":side": {"S": side_of(rule, newest.price)},
                ":ts": {"S": newest.ts},
                ":now": {"S": _now()},
            },
        )


def _fire_crossing(rule: Rule, tick: Tick, new_side: str, cond: str, values: dict[str, Any]) -> None:
    """One fire of a crossing rule: the state CAS, the alert and (mode once) the marker, together."""
    dynamodb.transact_write_items(
        TransactItems=[
            {
                "Update": {
                    "TableName": STATE_TABLE,
                    "Key": _state_key(rule, tick.symbol),
                    "UpdateExpression": (
                        "SET side = :side, side_ts = :ts, last_fire_ts = :ts, updated_at = :now"
                    ),
                    "ConditionExpression": cond,
                    "ExpressionAttributeValues": {
                        **values,
                        ":side": {"S": new_side},
                        ":ts": {"S": tick.ts},
                        ":now": {"S": _now()},
                    },
                }
            },
            _put_alert(rule, tick),
            *_put_marker(rule, tick),
        ]
    )


def read_states(keys: list[tuple[Rule, str]]) -> dict[tuple[str, str], dict[str, Any]]:
    """BatchGetItem (ConsistentRead) of the crossing keys, 100 per call, UnprocessedKeys retried."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for start in range(0, len(keys), 100):
        request: dict[str, Any] = {
            STATE_TABLE: {
                "Keys": [_state_key(r, s) for r, s in keys[start : start + 100]],
                "ConsistentRead": True,
            }
        }
        attempt = 0
        while request:
            response = dynamodb.batch_get_item(RequestItems=request)
            for item in response.get("Responses", {}).get(STATE_TABLE, []):
                out[(item["rule_id"]["S"], item["symbol"]["S"])] = item
            request = response.get("UnprocessedKeys") or {}
            if request:
                attempt += 1
                if attempt >= 8:
                    raise RuntimeError("BatchGetItem kept returning UnprocessedKeys")
                time.sleep(random.uniform(0, min(2.0, 0.05 * 2**attempt)))  # full jitter
    return out


# ------------------------------------------------------------------ notification (F5)
def publish(rule: Rule, tick: Tick) -> None:
    sort_key = f"{tick.ts}#{rule.id}"
    age_ms = (datetime.now(UTC) - _EPOCH) // timedelta(milliseconds=1) - tick.ts_us // 1000
    message = {
        "alert_id": f"{tick.symbol}|{sort_key}",
        "symbol": tick.symbol,
        "timestamp": sort_key,
        "rule_id": rule.id,
        "condition": rule.condition,
        "threshold": rule.threshold,
        "severity": rule.severity,
        "price": tick.price,
        "tick_timestamp": tick.ts,
        "age_ms": age_ms,
    }
    response = sns.publish(
        TopicArn=TOPIC_ARN,
        Subject=f"{rule.severity}: {rule.id} {tick.symbol}"[:100],
        Message=json.dumps(message),
        MessageAttributes={
            "symbol": {"DataType": "String", "StringValue": tick.symbol},
            "rule": {"DataType": "String", "StringValue": rule.id},
            "severity": {"DataType": "String", "StringValue": rule.severity},
        },
    )
    try:
        dynamodb.update_item(
            TableName=ALERTS_TABLE,
            Key={"symbol": {"S": tick.symbol}, "timestamp": {"S": sort_key}},
            UpdateExpression="SET notification_state = :sent, notified_at = :now, sns_message_id = :id",
            ExpressionAttributeValues={
                ":sent": {"S": "sent"},
                ":now": {"S": _now()},
                ":id": {"S": response["MessageId"]},
            },
        )
    except (ClientError, BotoCoreError):
        # The notification went out; a failed mark only risks one repeat after a crash (same alert id).
        logger.exception("marking the alert sent failed", extra={"alert": sort_key})
    metrics.add_metric(name="Notifications", unit=MetricUnit.Count, value=1)


def republish_pending(rule: Rule, tick: Tick) -> None:
    """Redelivery: publish the tick's alert for this rule if it is stored and still pending."""
    sort_key = f"{tick.ts}#{rule.id}"
    try:
        dynamodb.update_item(
            TableName=ALERTS_TABLE,
            Key={"symbol": {"S": tick.symbol}, "timestamp": {"S": sort_key}},
            UpdateExpression="SET notification_retry_at = :now",
            ConditionExpression="notification_state = :pending",
            ExpressionAttributeValues={":pending": {"S": "pending"}, ":now": {"S": _now()}},
            ReturnValues="ALL_NEW",
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return  # no such alert, or already notified
        raise
    logger.warning("re-publishing a pending alert", extra={"alert": sort_key, "message_id": tick.message_id})
    publish(rule, tick)


def dead_letter(message_id: str, body: str, reasons: list[str]) -> None:
    reason = "; ".join(reasons)
    sqs.send_message(
        QueueUrl=DLQ_URL,
        MessageBody=body,
        MessageAttributes={
            "RejectionReason": {"DataType": "String", "StringValue": reason[:1024]},
            "SourceMessageId": {"DataType": "String", "StringValue": message_id},
        },
    )
    logger.warning("message dead-lettered", extra={"message_id": message_id, "reason": reason})
    metrics.add_metric(name="Rejects", unit=MetricUnit.Count, value=1)


@dataclass
class Parsed:
    # (rule id, version, symbol) -> its ticks: each tick under the version in force at its timestamp (R3)
    ticks_by_key: dict[tuple[str, int, str], list[Tick]] = field(default_factory=lambda: defaultdict(list))
    rejected: dict[str, tuple[str, list[str]]] = field(default_factory=dict)  # id -> (body, reasons)
    ticks: int = 0


def parse_records(records: list[SQSRecord]) -> Parsed:
    out = Parsed()
    for record in records:
        ticks, reasons = parse_body(record.message_id, record.body)
        out.ticks += len(ticks)
        if reasons:
            out.rejected[record.message_id] = (record.body, reasons)
        for tick in ticks:
            for rule in RULES:
                if rule.symbol in ("*", tick.symbol) and rule.applies_at(tick.ts_us):
                    out.ticks_by_key[(rule.id, rule.version, tick.symbol)].append(tick)
    for ticks in out.ticks_by_key.values():
        ticks.sort(key=lambda t: t.ts_us)  # stable: equal timestamps keep delivery order
    return out


def apply_rules(batch: Batch, parsed: Parsed) -> None:
    by_id = {(r.id, r.version): r for r in RULES}
    # One state item per (rule, symbol) whatever the version (BatchGetItem refuses duplicate keys).
    crossing = {
        (r, s): by_id[(r, v)] for r, v, s in parsed.ticks_by_key if by_id[(r, v)].condition in CROSSING
    }
    crossing_keys = [(rule, symbol) for (_, symbol), rule in crossing.items()]
    try:
        states: dict[tuple[str, str], dict[str, Any]] | None = read_states(crossing_keys)
    except (ClientError, BotoCoreError, RuntimeError):
        logger.exception("reading the crossing state failed")
        states = None
    by_symbol: dict[str, list[tuple[Rule, list[Tick]]]] = defaultdict(list)
    for (rule_id, version, symbol), ticks in parsed.ticks_by_key.items():
        by_symbol[symbol].append((by_id[(rule_id, version)], ticks))

    def symbol_work(keys: list[tuple[Rule, list[Tick]]]) -> None:
        for rule, ticks in keys:
            apply_key(batch, rule, ticks, states)

    if _pool is None:
        for keys in by_symbol.values():
            symbol_work(keys)
    else:  # issue 17: the symbols' calls overlap (their state items, alerts and markers are disjoint)
        list(_pool.map(symbol_work, by_symbol.values()))


def apply_key(
    batch: Batch, rule: Rule, ticks: list[Tick], states: dict[tuple[str, str], dict[str, Any]] | None
) -> None:
    """One (rule version, symbol)'s ticks; a failure fails their messages (they come back)."""
    symbol = ticks[0].symbol
    try:
        if batch.out_of_time():
            raise TimeoutError("deadline")
        if rule.condition in LEVEL:
            apply_level(batch, rule, ticks)
        elif states is None:
            raise RuntimeError("no state")
        else:
            apply_crossing(batch, rule, ticks, states.get((rule.id, symbol)))
    except (ClientError, BotoCoreError, RuntimeError, TimeoutError) as exc:
        logger.error("key failed", extra={"rule": rule.id, "symbol": symbol, "error": str(exc)})
        batch.failed.update(t.message_id for t in ticks)


def notify(batch: Batch) -> None:
    fired_keys = {(tick.symbol, tick.ts, rule.id) for rule, tick in batch.fired}

    def send(fired: tuple[Rule, Tick]) -> None:
        rule, tick = fired
        try:
            if batch.out_of_time():
                raise TimeoutError("deadline")
            publish(rule, tick)
        except (ClientError, BotoCoreError, TimeoutError):
            logger.exception("publish failed", extra={"alert": f"{tick.ts}#{rule.id}"})
            batch.failed.add(tick.message_id)  # its redelivery re-publishes the pending alert

    if _pool is None:
        for fired in batch.fired:
            send(fired)
    else:  # each publish and its mark overlap the others
        list(_pool.map(send, batch.fired))
    # A stored alert moved its key's state (side_ts, last_fire_ts) to its tick: every later delivery of that
    # tick is late, at or before the last fire.
    for rule, tick in list(batch.maybe_alerted.values()):
        if tick.message_id in batch.failed or not candidate(rule, tick):
            continue
        if (tick.symbol, tick.ts, rule.id) in fired_keys:
            continue
        fired_keys.add((tick.symbol, tick.ts, rule.id))  # the same tick delivered twice: one look-up
        try:
            republish_pending(rule, tick)
        except (ClientError, BotoCoreError):
            logger.exception("re-publish failed", extra={"message_id": tick.message_id})
            batch.failed.add(tick.message_id)


def process_batch(records: list[SQSRecord], context: LambdaContext | None) -> set[str]:
    """The whole flow for one SQS batch; returns the message ids that failed transiently."""
    batch = Batch(context)
    parsed = parse_records(records)
    apply_rules(batch, parsed)
    notify(batch)
    for message_id, (body, reasons) in parsed.rejected.items():
        if message_id in batch.failed:
            continue  # its valid ticks come back; it is dead-lettered then
        try:
            dead_letter(message_id, body, reasons)
        except (ClientError, BotoCoreError):
            logger.exception("DLQ send failed", extra={"message_id": message_id})
            batch.failed.add(message_id)
    metrics.add_metric(name="Messages", unit=MetricUnit.Count, value=len(records))
    metrics.add_metric(name="Ticks", unit=MetricUnit.Count, value=parsed.ticks)
    metrics.add_metric(name="LateTicks", unit=MetricUnit.Count, value=batch.late_ticks())
    metrics.add_metric(name="Alerts", unit=MetricUnit.Count, value=len(batch.fired))
    return batch.failed


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    records = [SQSRecord(r) for r in event.get("Records", [])]
    failed = process_batch(records, context)

    def record_handler(record: SQSRecord) -> None:
        if record.message_id in failed:
            raise RuntimeError("transient failure; see the log lines with this message id")

    return dict(process_partial_response(event, record_handler, processor, context))

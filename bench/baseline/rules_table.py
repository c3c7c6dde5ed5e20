"""COMPARISON BASELINE -- not part of the product: the baseline's reader of the rules table.

The item schema belongs to the C++ adapter (lib/lambda/src/app/rules_dynamodb.cpp, docs/design.md on the
rules storage); this module decodes it with the same validity rules (an item that breaks one is skipped and
counted, as the function skips it) and makes the function's cold-load reads (rules_cache.cpp,
RulesCache::load): every shard's fence advanced first, then the segmented consistent Scan of the rule
records in parallel, the retention horizon applied to records and versions. tests/contract/
test_rules_table_reader.py holds it to the C++ side (`tap_rules loaded`, the function's own load).
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

MICROS = 1_000_000
OPEN_END = 2**63 - 1  # EffectiveWindow::kOpenEnd: an open window
INT64 = range(-(2**63), 2**63)
UINT32 = range(0, 2**32)
# The function's cache settings (rules_cache.hpp RulesCacheSettings, src/main.cpp kScanConnections).
SCAN_SEGMENTS = 16
SCAN_THREADS = 8
FENCE_LEAD_US = 3 * MICROS
HORIZON_US = 4 * 86400 * MICROS
# Validity (rule_fields.cpp, rule_change.cpp check_spec, message_template.hpp).
MIN_TIMESTAMP_US = 946_684_800 * MICROS  # 2000-01-01T00:00:00Z
END_TIMESTAMP_US = 4_133_980_800 * MICROS  # 2101-01-01T00:00:00Z
CONDITIONS = ("price_above", "price_below", "crosses_above", "crosses_below", "spread_above", "volume_above")
SEVERITIES = ("info", "warning", "critical")
MODES = ("once", "every", "once_per_bar")
STATES = ("active", "paused", "deleted")
BARS = (60, 300, 900, 3600, 86400)
PLACEHOLDERS = frozenset(
    ("symbol", "price", "threshold", "condition", "value", "time", "date", "rule", "severity")
)
_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_SYMBOL = re.compile(r"[A-Z0-9./:-]{1,16}")
_SYMBOL_PROBLEM = 'must be "*" or 1..16 chars of A-Z 0-9 . - / :'
_INTEGER = re.compile(r"-?[0-9]+")  # std::from_chars of an int64: no '+', no blanks
_DOUBLE = re.compile(r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|-?(?:inf|infinity|nan)", re.I)


@dataclass(frozen=True)
class Version:
    """One version of a rule as the engine applies it (tap::Rule after engine_versions)."""

    id: str
    version: int
    owner: str
    symbol: str
    condition: str
    threshold: float
    severity: str
    mode: str
    cooldown_seconds: int
    bar_seconds: int
    arming: int
    from_us: int
    until_us: int  # OPEN_END: open
    expires_at_us: int | None
    enabled: bool
    description: str
    message_template: str

    def applies_at(self, ts_us: int) -> bool:
        """Rule::applies_at: enabled, in the window, before the expiry."""
        return (
            self.enabled
            and self.from_us <= ts_us < self.until_us
            and (self.expires_at_us is None or ts_us < self.expires_at_us)
        )

    def line(self) -> dict[str, Any]:
        """The version as `tap_rules loaded` prints it."""
        return {
            "id": self.id,
            "version": self.version,
            "owner": self.owner,
            "symbol": self.symbol,
            "condition": self.condition,
            "threshold": self.threshold,
            "severity": self.severity,
            "mode": self.mode,
            "cooldown_seconds": self.cooldown_seconds,
            "bar_seconds": self.bar_seconds,
            "arming": self.arming,
            "from": self.from_us,
            "until": None if self.until_us == OPEN_END else self.until_us,
            "expires_at": self.expires_at_us,
            "enabled": self.enabled,
            "description": self.description,
            "message_template": self.message_template,
        }


class InvalidItemError(ValueError):
    """An item the function skips (counted as InvalidRules); the message starts with its "pk sk"."""


class _Fields:
    """The attributes of one item or map read by name and DynamoDB type, as the adapter's Fields: the first
    problem is kept and later reads return defaults, so a decoder reads straight through."""

    def __init__(self, attributes: Mapping[str, Any]) -> None:
        self._attributes = attributes
        self.error = ""

    def fail(self, name: str, why: str) -> None:
        if not self.error:
            self.error = f"{name}: {why}"

    def _typed(self, name: str, kind: str) -> Any:
        if name not in self._attributes:
            return None
        attribute = self._attributes[name]
        if not isinstance(attribute, dict) or kind not in attribute:
            self.fail(name, f"expected type {kind}")
            return None
        return attribute[kind]

    def opt_s(self, name: str) -> str | None:
        value = self._typed(name, "S")
        if value is None or isinstance(value, str):
            return value
        self.fail(name, "not a string")
        return None

    def s(self, name: str) -> str:
        value = self.opt_s(name)
        if value is None:
            self.fail(name, "missing")
        return value or ""

    def _number_text(self, name: str) -> str | None:
        value = self._typed(name, "N")
        if value is None or isinstance(value, str):
            return value
        self.fail(name, "not a number")
        return None

    def opt_n(self, name: str) -> int | None:
        text = self._number_text(name)
        if text is None:
            return None
        if not _INTEGER.fullmatch(text) or int(text) not in INT64:
            self.fail(name, "not an integer")
            return 0
        return int(text)

    def n(self, name: str) -> int:
        value = self.opt_n(name)
        if value is None:
            self.fail(name, "missing")
        return value or 0

    def u32(self, name: str) -> int:
        value = self.n(name)
        if value not in UINT32:
            self.fail(name, "out of range")
            return 0
        return value

    def d(self, name: str) -> float:
        text = self._number_text(name)
        if text is None:
            self.fail(name, "missing")
            return 0.0
        value = float(text) if _DOUBLE.fullmatch(text) else math.nan
        if not math.isfinite(value):
            self.fail(name, "not a finite number")
            return 0.0
        return value

    def opt_bool(self, name: str) -> bool | None:
        value = self._typed(name, "BOOL")
        if value is None or isinstance(value, bool):
            return value
        self.fail(name, "not a boolean")
        return None

    def maps(self, name: str) -> list[Mapping[str, Any]]:
        value = self._typed(name, "L")
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(name, "not a list")
            return []
        out: list[Mapping[str, Any]] = []
        for element in value:
            inner = element.get("M") if isinstance(element, dict) else None
            if not isinstance(inner, dict):
                self.fail(name, "an element is not a map")
                return out
            out.append(inner)
        return out

    def choice(self, name: str, choices: tuple[str, ...]) -> str:
        text = self.s(name)
        if text in choices:
            return text
        if not self.error:
            self.fail(name, "unknown value")
        return choices[0]


# ------------------------------------------------------------------ THE definition of a valid rule
def _text_problem(text: str, max_chars: int) -> str | None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid UTF-8"
    return None if len(text) <= max_chars else f"must be at most {max_chars} characters"


def template_problem(text: str) -> str | None:
    """message_template.cpp's next_piece over the whole text: "{{" and "}}" are braces, "{name}" a known
    placeholder, anything else a problem."""
    i = 0
    while i < len(text):
        c = text[i]
        if c not in "{}":
            i += 1
        elif i + 1 < len(text) and text[i + 1] == c:
            i += 2
        elif c == "}":
            return "a lone '}' (write '}}' for a brace)"
        else:
            close = text.find("}", i + 1)
            if close < 0:
                return "a '{' that is never closed (write '{{' for a brace)"
            if text[i + 1 : close] not in PLACEHOLDERS:
                return f"unknown placeholder {{{text[i + 1 : close][:40]}}}"
            i = close + 1
    return None


def spec_problems(spec: Mapping[str, Any]) -> list[str]:
    """check_spec (rule_change.cpp) on a stored definition: each problem as "field: why"."""
    problems: list[tuple[str, str | None]] = [
        ("name", None if _NAME.fullmatch(spec["name"]) else "must be 1..64 chars of A-Z a-z 0-9 _ . -"),
        ("symbol", None if spec["symbol"] == "*" or _SYMBOL.fullmatch(spec["symbol"]) else _SYMBOL_PROBLEM),
    ]
    threshold, condition, mode = spec["threshold"], spec["condition"], spec["mode"]
    problems.append(("threshold", None if 0 <= threshold <= 1e15 else "must be between 0 and 1e15"))
    if condition not in ("spread_above", "volume_above") and threshold <= 0:
        problems.append(("threshold", "must be > 0 for this condition"))
    if condition == "volume_above" and math.trunc(threshold) != threshold:
        problems.append(("threshold", "must be an integer for volume_above"))
    problems.append(("description", _text_problem(spec["description"], 256)))
    cooldown, bar = spec["cooldown_seconds"], spec["bar_seconds"]
    if mode == "every":
        problems.append(
            ("cooldown_seconds", None if 1 <= cooldown <= 86400 else "must be between 1 and 86400")
        )
    elif cooldown != 0:
        problems.append(("cooldown_seconds", "only for mode every"))
    if mode == "once_per_bar":
        problems.append(("bar_seconds", None if bar in BARS else "must be one of 60, 300, 900, 3600, 86400"))
    elif bar != 0:
        problems.append(("bar_seconds", "only for mode once_per_bar"))
    expires = spec["expires_at"]
    if expires is not None and not MIN_TIMESTAMP_US <= expires < END_TIMESTAMP_US:
        problems.append(("expires_at", "must lie in [2000-01-01T00:00:00Z, 2101-01-01T00:00:00Z)"))
    template = spec["message_template"]
    problems.append(("message_template", _text_problem(template, 512) or template_problem(template)))
    return [f"{field}: {why}" for field, why in problems if why is not None]


# ------------------------------------------------------------------ decoding (the adapter's read_record)
def _window(f: _Fields) -> tuple[int, int]:
    start = f.n("from")
    until = f.opt_n("until")
    end = OPEN_END if until is None else until
    if not f.error and end <= start:
        f.fail("until", "window is empty (until <= from)")
    return start, end


def _version(m: Mapping[str, Any], rule_id: str, owner: str, template: str) -> tuple[Version, str]:
    f = _Fields(m)
    number = f.u32("v")
    start, end = _window(f)
    version = Version(
        id=rule_id,
        version=number,
        owner=owner,
        symbol=f.s("symbol"),
        condition=f.choice("condition", CONDITIONS),
        threshold=f.d("threshold"),
        severity=f.choice("severity", SEVERITIES),
        mode=f.choice("mode", MODES),
        cooldown_seconds=f.n("cooldown"),
        bar_seconds=f.n("bar"),
        arming=f.u32("arming"),
        from_us=start,
        until_us=end,
        expires_at_us=f.opt_n("expires_at"),
        description=f.opt_s("description") or "",
        enabled=f.opt_bool("enabled") is not False,
        message_template=template,
    )
    return version, f.error


def decode_record(item: Mapping[str, Any]) -> list[Version]:
    """A rule record item's versions as the engine applies them; raises InvalidItemError for an item the
    function skips."""
    keys = _Fields(item)
    pk, sk = keys.s("pk"), keys.s("sk")
    if keys.error:
        raise InvalidItemError(keys.error)
    if not pk.startswith("owner#") or not sk.startswith("rule#"):
        raise InvalidItemError(f"{pk} {sk}: not a rule record")
    owner, rule_id = pk[len("owner#") :], sk[len("rule#") :]
    f = _Fields(item)
    spec: dict[str, Any] = {
        "name": f.s("name"),
        "symbol": f.s("symbol"),
        "condition": f.choice("condition", CONDITIONS),
        "threshold": f.d("threshold"),
        "severity": f.choice("severity", SEVERITIES),
        "description": f.opt_s("description") or "",
        "mode": f.choice("mode", MODES),
        "cooldown_seconds": f.n("cooldown"),
        "bar_seconds": f.n("bar"),
        "expires_at": f.opt_n("expires_at"),
        "message_template": f.opt_s("template") or "",
    }
    state = f.s("state")
    if state not in STATES and not f.error:
        f.fail("state", "unknown value")
    f.u32("arming")
    revision = f.u32("revision")
    f.n("created")
    f.n("updated")
    versions, version_error = [], ""
    for m in f.maps("versions"):
        version, error = _version(m, rule_id, owner, spec["message_template"])
        versions.append(version)
        version_error = version_error or (error and f"versions: {error}")
    why = f.error or version_error
    if not why and revision == 0:
        why = "revision: must be >= 1"
    why = why or next(iter(spec_problems(spec)), "")
    for a, b in itertools.pairwise(versions):
        if not why and b.version <= a.version:
            why = "versions: numbers not increasing"
        if not why and b.from_us < a.until_us:
            why = "versions: windows overlap"
    if why:
        raise InvalidItemError(f"{pk} {sk}: {why}")
    return versions


# ------------------------------------------------------------------ the cold load (RulesCache::load)
@dataclass
class Loaded:
    versions: list[Version]  # by (id, version)
    invalid: list[str]  # one line per skipped item
    fence_us: int  # the lowest shard fence: every tick before it is covered


def advance_fence(dynamodb: Any, table: str, shard: int, target_us: int) -> int:
    """The adapter's fence_request: the shard's fence raised to target (never lowered); its fence now."""
    try:
        item = dynamodb.update_item(
            TableName=table,
            Key={"pk": {"S": f"head#{shard}"}, "sk": {"S": "head"}},
            UpdateExpression="SET #f = :t",
            ConditionExpression="attribute_not_exists(#f) OR #f < :t",
            ExpressionAttributeNames={"#f": "fence"},
            ExpressionAttributeValues={":t": {"N": str(target_us)}},
            ReturnValues="ALL_NEW",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )["Attributes"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        item = exc.response["Item"]  # already at or past the target: the head as it is
    f = _Fields(item)
    seq, fence = f.opt_n("seq") or 0, f.opt_n("fence") or 0
    if not f.error and seq < 0:
        f.fail("seq", "negative")
    if f.error:
        raise InvalidItemError(f"head: {f.error}")  # the C++ load fails on it too
    return fence


def scan_segment(
    dynamodb: Any, table: str, segment: int, segments: int, horizon_us: int
) -> tuple[list[list[Version]], list[str]]:
    """One segment of the consistent Scan of the rule records: each current record's versions (a record
    whose every version ended at or before the horizon is dropped, R4) and the skipped items."""
    records: list[list[Version]] = []
    invalid: list[str] = []
    request: dict[str, Any] = {
        "TableName": table,
        "FilterExpression": "begins_with(#sk, :rule)",
        "ExpressionAttributeNames": {"#sk": "sk"},
        "ExpressionAttributeValues": {":rule": {"S": "rule#"}},
        "ConsistentRead": True,
        "Segment": segment,
        "TotalSegments": segments,
    }
    while True:
        page = dynamodb.scan(**request)
        for item in page.get("Items", []):
            try:
                versions = decode_record(item)
            except InvalidItemError as exc:
                invalid.append(str(exc))
                continue
            if any(v.until_us > horizon_us for v in versions):
                records.append(versions)
        if "LastEvaluatedKey" not in page:
            return records, invalid
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def load(
    dynamodb: Any,
    table: str,
    shards: int,
    now: Callable[[], int],
    *,
    segments: int = SCAN_SEGMENTS,
    threads: int = SCAN_THREADS,
) -> Loaded:
    """The function's cold load: fences first (every change committed before them is then visible to the
    scan), the segments in parallel, versions ended at or before now - H dropped."""
    now_us = now()
    fences = [advance_fence(dynamodb, table, s, now_us + FENCE_LEAD_US) for s in range(shards)]
    horizon_us = now_us - HORIZON_US
    with ThreadPoolExecutor(max_workers=threads) as pool:
        parts = list(
            pool.map(lambda i: scan_segment(dynamodb, table, i, segments, horizon_us), range(segments))
        )
    by_id: dict[str, list[Version]] = {}
    invalid: list[str] = []
    for records, skipped in parts:  # segment order: a later record of the same id replaces (as the C++ map)
        by_id.update((versions[0].id, versions) for versions in records)
        invalid.extend(skipped)
    kept = [v for versions in by_id.values() for v in versions if v.until_us > horizon_us]
    return Loaded(sorted(kept, key=lambda v: (v.id, v.version)), invalid, min(fences, default=0))

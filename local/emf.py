"""The one reader of the function's CloudWatch embedded-metric-format (EMF) records: sums over its stdout."""

from __future__ import annotations

import json
from collections.abc import Iterable

# The counters the function emits (its metrics module); a total is 0 until a record carries it.
EMF_COUNTS = (
    "Messages",
    "Ticks",
    "LateTicks",
    "RejectedTicks",
    "DeadLettered",
    "Alerts",
    "Notifications",
    "RecoveredNotifications",
    "StateWrites",
    "StateConflicts",
    "FailedMessages",
    "Retries",
)


def json_records(lines: Iterable[str]) -> list[dict[str, object]]:
    """The JSON objects among stdout lines (the function's log lines and EMF records); others are ignored."""
    records = []
    for line in lines:
        if not line.startswith("{"):
            continue
        try:
            records.append(json.loads(line))  # a JSON text that starts with "{" is an object
        except ValueError:
            continue
    return records


def emf_records(lines: Iterable[str]) -> list[dict[str, object]]:
    """The EMF records (JSON objects with `_aws`) among stdout lines; other lines are ignored."""
    return [record for record in json_records(lines) if "_aws" in record]


def emf_totals(lines: Iterable[str]) -> dict[str, float]:
    """Sums of the EMF metrics (every numeric member of an EMF record) over stdout lines."""
    totals = dict.fromkeys(EMF_COUNTS, 0.0)
    for record in emf_records(lines):
        for name, value in record.items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                totals[name] = totals.get(name, 0.0) + float(value)
    return totals

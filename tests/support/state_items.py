"""The symbols' state items of the alert-state table, as the black-box tests read them: decoded by the
function's own adapter (`tap_validate state-item --decode`, lib/lambda/src/app/dynamodb_store.cpp), so that
no Python copy of the item schema exists to drift from it.
"""

from __future__ import annotations

import base64
import json
import subprocess
from typing import Any

from tests.contract.validator import TOOL


def _dynamodb_json(value: Any) -> Any:
    """boto3's low-level item (binary values as bytes) as DynamoDB JSON text would carry it."""
    if isinstance(value, dict):
        return {k: base64.b64encode(v).decode() if k == "B" else _dynamodb_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_dynamodb_json(v) for v in value]
    return value


def decode_state_items(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The symbols' states among `items` (a low-level scan of the state table) by symbol; other items of the
    table (once markers) are left out. An item the function could not read raises ValueError."""
    if not items:
        return {}
    lines = "".join(json.dumps(_dynamodb_json(i)) + "\n" for i in items)
    run = subprocess.run(
        [str(TOOL), "state-item", "--decode"], input=lines, capture_output=True, text=True, check=True
    )
    states: dict[str, dict[str, Any]] = {}
    for item, line in zip(items, run.stdout.splitlines(), strict=True):
        decoded = json.loads(line)
        if decoded.get("error") == "not a symbol's state item":
            continue
        if "error" in decoded:
            raise ValueError(f"unreadable state item {item!r}: {decoded['error']}")
        states[decoded["symbol"]] = decoded
    return states

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


def _dynamodb_json(item: dict[str, Any]) -> dict[str, Any]:
    """boto3's low-level item (binary values as bytes) as DynamoDB JSON text carries it (base64)."""
    return {
        name: {"B": base64.b64encode(value["B"]).decode()} if "B" in value else value
        for name, value in item.items()
    }


def decode_state_items(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The symbols' states among `items` (a low-level scan of the state table) by symbol; other items of the
    table (once markers) are left out. An item the function could not read raises ValueError."""
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

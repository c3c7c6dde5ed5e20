"""The API's storage against moto, through its test driver `api_store_cli`: an owner's fired alerts read
through the alerts table's by-owner index (lib/stack/tables.py) page by page, each exactly once, in store
order, only below the visibility bound and never another owner's; and the cursor keys made with KMS and kept
encrypted in the rules table, on which two instances agree."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import boto3
import pytest

from lib.config import ROOT
from lib.stack.tables import ALERTS_BY_OWNER
from tests.support.moto_server import moto_environment
from tests.support.rules_table import create_rules_table

CLI = Path(os.environ.get("TAP_API_STORE_CLI", ROOT / "build" / "cpp" / "tests" / "api" / "api_store_cli"))
ALERTS = "market-alerts-test"
RULES = "alert-rules-test"
FIRST_MILLIS = 1_795_617_000_000  # 2026-11-25T14:30:00Z


@pytest.fixture(scope="module")
def cli() -> Path:
    if "TAP_API_STORE_CLI" not in os.environ:
        subprocess.run(["make", "-C", str(ROOT), "cpp-build"], check=True, stdout=subprocess.DEVNULL)
    assert CLI.exists(), f"{CLI} missing after make cpp-build"
    return CLI


def run(cli: Path, *args: str) -> list[dict[str, Any]]:
    out = subprocess.run([str(cli), *args], check=True, capture_output=True, text=True, timeout=120)
    return [json.loads(line) for line in out.stdout.splitlines()]


def create_alerts_table(ddb: Any) -> None:
    """The alerts table with the stack's key schema and its by-owner index."""
    ddb.create_table(
        TableName=ALERTS,
        KeySchema=[
            {"AttributeName": "symbol", "KeyType": "HASH"},
            {"AttributeName": "timestamp", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": name, "AttributeType": "S"}
            for name in ("symbol", "timestamp", ALERTS_BY_OWNER.hash_key, ALERTS_BY_OWNER.range_key)
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": ALERTS_BY_OWNER.name,
                "KeySchema": [
                    {"AttributeName": ALERTS_BY_OWNER.hash_key, "KeyType": "HASH"},
                    {"AttributeName": ALERTS_BY_OWNER.range_key, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": ALERTS_BY_OWNER.projection_type},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )


def test_alerts_page_through_the_index_exactly_once_below_the_bound(cli: Path) -> None:
    with moto_environment():
        create_alerts_table(boto3.client("dynamodb"))
        # alice: 60 alerts one second apart; bob: 10 in between.
        run(cli, "seed", ALERTS, "alice", "60", str(FIRST_MILLIS), "1000")
        run(cli, "seed", ALERTS, "bob", "10", str(FIRST_MILLIS + 500), "1000")
        bound = (FIRST_MILLIS + 50_000) * 1000  # alerts 0..49 are older than the bound
        lines = run(cli, "list", ALERTS, "alice", str(bound), "7")
        alerts, summary = lines[:-1], lines[-1]
        ids = [a["stored_id"] for a in alerts]
        assert len(ids) == 50, "every visible alert"
        assert len(set(ids)) == 50, "each once"
        assert ids == sorted(ids), "in store order"
        assert {a["owner"] for a in alerts} == {"alice"}
        assert summary["pages"] >= 50 // 7
        # Once the bound has passed them, the ten newer alerts are listed too.
        later = run(cli, "list", ALERTS, "alice", str((FIRST_MILLIS + 70_000) * 1000), "100")
        assert len(later[:-1]) == 60
        # A filter keeps the order and the owner.
        aapl = run(cli, "list", ALERTS, "alice", str(bound), "10", "AAPL")[:-1]
        assert [a["stored_id"] for a in aapl] == [a["stored_id"] for a in alerts if a["symbol"] == "AAPL"]
        assert len(aapl) == 25


def test_cursor_keys_are_made_once_and_shared(cli: Path) -> None:
    with moto_environment():
        ddb = boto3.client("dynamodb")
        create_rules_table(ddb, RULES)
        key = boto3.client("kms").create_key(Description="stack key")["KeyMetadata"]["KeyId"]
        now = int(time.time())
        (first,) = run(cli, "keys", RULES, key, str(now))
        assert first["same_secret"] is True
        assert first["cursor_crosses"] is True
        assert first["secret_bytes"] == 32
        period = now // (30 * 86400)
        assert first["current"] == f"p{period}"
        assert first["verify_only"] == [f"p{period + 1}"]
        items = ddb.query(
            TableName=RULES,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": "apikeys"}},
        )["Items"]
        assert sorted(i["sk"]["S"] for i in items) == [f"cursor#p{period}", f"cursor#p{period + 1}"]
        # Stored encrypted only: the blob is a KMS ciphertext, longer than the 32-byte key.
        assert all(len(i["blob"]["B"]) > 32 for i in items)
        # A second run (another cold start) reuses the stored keys.
        (again,) = run(cli, "keys", RULES, key, str(now))
        assert again["current"] == first["current"]
        assert (
            len(
                ddb.query(
                    TableName=RULES,
                    KeyConditionExpression="pk = :pk",
                    ExpressionAttributeValues={":pk": {"S": "apikeys"}},
                )["Items"]
            )
            == 2
        )

"""The rules storage adapter (lib/lambda/src/app/rules_dynamodb.cpp) against moto, through its test driver
`rules_store_cli`: the change protocol's conditions as DynamoDB evaluates them, the fence's one request, and
the cold load's scan skipping hostile items (written here with boto3) without failing."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lib.config import ROOT
from tests.support.rules_table import rules_table

CLI = Path(
    os.environ.get("TAP_RULES_STORE_CLI", ROOT / "build" / "cpp" / "tests" / "handler" / "rules_store_cli")
)
TABLE = "alert-rules-test"


@pytest.fixture(scope="module")
def cli() -> Path:
    if "TAP_RULES_STORE_CLI" not in os.environ:
        subprocess.run(["make", "-C", str(ROOT), "cpp-build"], check=True, stdout=subprocess.DEVNULL)
    assert CLI.exists(), f"{CLI} missing after make cpp-build"
    return CLI


@pytest.fixture
def table() -> Iterator[Any]:
    """A fresh moto server with the rules table as the stack defines it (pk + sk, strings)."""
    with rules_table(TABLE) as ddb:
        yield ddb


def run(cli: Path, *args: str) -> list[dict[str, Any]]:
    out = subprocess.run([str(cli), *args], check=True, capture_output=True, text=True, timeout=120)
    return [json.loads(line) for line in out.stdout.splitlines()]


def test_change_protocol_conditions_as_dynamodb_evaluates_them(cli: Path, table: Any) -> None:
    steps = {s["step"]: s for s in run(cli, "lifecycle", TABLE, "alice")}
    outcomes = {step: s["outcome"] for step, s in steps.items()}
    assert outcomes == {
        "head": "ok",
        "create": "committed",
        "create-same-name": "name_taken",
        "edit-stale": "stale",
        "create-second": "committed",
        "create-over-quota": "quota_exceeded",  # quota 2
        "fence": "ok",
        "fence-lower": "ok",
        "edit-behind-fence": "fence_passed",  # a reader holds the fence past this effective_from
        "rename": "committed",
        "create-old-name": "quota_exceeded",  # the old name is free again, but two rules count
        "delete": "committed",
        "create-after-delete": "committed",  # the delete gave back its quota and its name
        "suspend": "committed",
        "log": "ok",
        "head-after": "ok",
        "get": "equal",
        "list": "ok",
        "records": "ok",
        "controls": "ok",
    }
    assert steps["fence-lower"]["fence"] == steps["fence"]["fence"], (
        "a lower target never moves the fence back"
    )
    assert steps["head-after"]["seq"] == 6  # six committed changes, each counted once in the head
    assert steps["log"]["entries"] == 6  # and each logged by its effective_from
    assert (steps["list"]["all"], steps["list"]["live"]) == (3, 2)
    assert steps["records"]["records"] == 3
    assert steps["controls"]["equal"] is True
    names = table.query(
        TableName=TABLE,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :n)",
        ExpressionAttributeValues={":pk": {"S": "owner#alice"}, ":n": {"S": "name#"}},
        ConsistentRead=True,
    )["Items"]
    assert sorted(i["sk"]["S"] for i in names) == ["name#breakout-2", "name#second"]
    quota = table.get_item(TableName=TABLE, Key={"pk": {"S": "owner#alice"}, "sk": {"S": "quota"}})["Item"]
    assert quota["count"] == {"N": "2"}
    log = table.query(
        TableName=TABLE,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "log#0"}},
    )["Items"]
    assert all(int(i["ttl"]["N"]) > int(i["sk"]["S"][:19]) // 1_000_000 for i in log)


def test_fence_is_one_conditional_write_that_returns_the_head(cli: Path, table: Any) -> None:
    assert run(cli, "fence", TABLE, "0", "1000") == [
        {"step": "fence", "outcome": "ok", "seq": 0, "fence": 1000}
    ]
    assert run(cli, "fence", TABLE, "0", "500") == [
        {"step": "fence", "outcome": "ok", "seq": 0, "fence": 1000}
    ]
    assert run(cli, "fence", TABLE, "3", "7") == [{"step": "fence", "outcome": "ok", "seq": 0, "fence": 7}]


HOSTILE: list[dict[str, Any]] = [
    {"symbol": {"N": "1"}},  # wrong type
    {"threshold": {"S": "high"}},  # wrong type
    # an absurd window (ends before it starts)
    {"versions": {"L": [{"M": {"v": {"N": "1"}, "from": {"N": "10"}, "until": {"N": "5"}}}]}},
    {"revision": {"N": "0"}},
    {"state": {"S": "exploded"}},
]


# What a record and each of its versions define alike.
DEFINITION: dict[str, Any] = {
    "symbol": {"S": "AAPL"},
    "condition": {"S": "price_above"},
    "threshold": {"N": "1.5"},
    "severity": {"S": "info"},
    "mode": {"S": "once"},
    "cooldown": {"N": "0"},
    "bar": {"N": "0"},
}


def _valid(owner: str, rule: str, until: int | None) -> dict[str, Any]:
    version: dict[str, Any] = {**DEFINITION, "v": {"N": "1"}, "from": {"N": "1"}, "arming": {"N": "1"}}
    if until is not None:
        version["until"] = {"N": str(until)}
    return {
        "pk": {"S": f"owner#{owner}"},
        "sk": {"S": f"rule#{rule}"},
        "name": {"S": rule},
        **DEFINITION,
        "state": {"S": "active"},
        "arming": {"N": "1"},
        "revision": {"N": "1"},
        "created": {"N": "1"},
        "updated": {"N": "1"},
        "versions": {"L": [{"M": version}]},
    }


def test_scan_reads_every_segment_and_skips_hostile_items(cli: Path, table: Any) -> None:
    for i in range(40):
        table.put_item(TableName=TABLE, Item=_valid(f"o{i % 7}", f"r{i}", None))
    table.put_item(TableName=TABLE, Item=_valid("o1", "ended", 50))  # every version before the horizon
    for i, attrs in enumerate(HOSTILE):
        table.put_item(TableName=TABLE, Item={**_valid("evil", f"h{i}", None), **attrs})
    bare = {"pk": {"S": "owner#evil"}, "sk": {"S": "rule#bare"}, "name": {"S": "bare"}}  # attributes missing
    table.put_item(TableName=TABLE, Item=bare)
    # Items of other kinds are no records: never reported.
    table.put_item(TableName=TABLE, Item={"pk": {"S": "head#0"}, "sk": {"S": "head"}, "seq": {"N": "1"}})
    table.put_item(TableName=TABLE, Item={"pk": {"S": "owner#o1"}, "sk": {"S": "quota"}, "count": {"N": "1"}})
    for segments in ("1", "4"):
        (scan,) = run(cli, "scan", TABLE, segments, "100")
        assert (scan["records"], scan["versions"]) == (40, 40), segments
        assert scan["requests"] == int(segments)  # one page per segment at this size, every segment read
        assert len(scan["invalid"]) == len(HOSTILE) + 1, scan["invalid"]
        assert all(why.startswith("owner#evil rule#") for why in scan["invalid"])
    (everything,) = run(cli, "scan", TABLE, "2", "0")
    assert everything["records"] == 41


def test_concurrent_writers_on_one_head_each_counted_once(cli: Path, table: Any) -> None:
    """Writers racing on one head: every commit is counted once in `seq` and logged once; the figure of
    commits/s is moto's (docs/design.md, section 12.5), not asserted."""
    (result,) = run(cli, "commits", TABLE, "4", "2")
    assert result["errors"] == 0
    assert result["commits"] > 0
    head = table.get_item(
        TableName=TABLE, Key={"pk": {"S": "head#0"}, "sk": {"S": "head"}}, ConsistentRead=True
    )
    assert head["Item"]["seq"] == {"N": str(result["commits"])}
    log = table.query(
        TableName=TABLE,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "log#0"}},
        ConsistentRead=True,
        Select="COUNT",
    )
    assert log["Count"] == result["commits"]

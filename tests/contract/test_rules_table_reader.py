"""The baseline's reader of the rules table (bench/baseline/rules_table.py) held to the C++ storage adapter:
rules imported with `tap_rules import` into moto, then read by both -- the function's own cold load through
`tap_rules loaded` (RulesCache::load: fences, segmented consistent scans, the retention horizon) and the
Python load -- and compared version by version, field by field, and skipped item by skipped item. Hostile
tables too: Hypothesis-damaged copies of the imported records, one hand-written item per kind of problem,
and a table that cannot be read."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bench.baseline import rules_table
from lib.config import ROOT
from tests.support.rules_table import rules_table as moto_rules_table

TOOL = Path(os.environ.get("TAP_RULES_TOOL", ROOT / "build" / "cpp" / "src" / "tap_rules"))
TABLE = "alert-rules-reader"
DOCUMENT = ROOT / "config" / "alert-rules.json"
HOUR_US = 3600 * rules_table.MICROS
Item = dict[str, Any]


def now_us() -> int:
    return time.time_ns() // 1000


def tool(*args: str, table: str = TABLE) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RULES_TABLE": table}
    return subprocess.run(
        [str(TOOL), *args], capture_output=True, text=True, timeout=120, check=False, env=env
    )


@pytest.fixture(scope="module")
def imported() -> Iterator[tuple[Any, list[Item]]]:
    """A moto rules table holding two owners' imports; yields the client and the imported rule records."""
    if not TOOL.is_file():
        pytest.fail(f"{TOOL} is missing: build it with `make cpp-build` or set TAP_RULES_TOOL")
    with moto_rules_table(TABLE, RULES_TABLE=TABLE) as ddb:
        for owner in ("alice", "bob"):
            done = tool("import", "--owner", owner, str(DOCUMENT))
            assert done.returncode == 0, done.stderr
        yield ddb, rule_items(ddb)


def rule_items(ddb: Any) -> list[Item]:
    items: list[Item] = ddb.scan(TableName=TABLE, ConsistentRead=True)["Items"]
    return sorted((i for i in items if i["sk"]["S"].startswith("rule#")), key=lambda i: i["sk"]["S"])


def replace_records(ddb: Any, items: list[Item]) -> None:
    for old in rule_items(ddb):
        ddb.delete_item(TableName=TABLE, Key={"pk": old["pk"], "sk": old["sk"]})
    for item in items:
        ddb.put_item(TableName=TABLE, Item=item)


def both(ddb: Any) -> tuple[dict[str, Any], rules_table.Loaded]:
    """What the C++ cold load decoded (versions, invalid messages, summary) and the Python load."""
    done = tool("loaded")
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    cpp = {
        "versions": [line for line in lines if "id" in line],
        "invalid": [line["invalid"] for line in lines if set(line) == {"invalid"}],
        "summary": lines[-1],
    }
    return cpp, rules_table.load(ddb, TABLE, 1, now_us)


def assert_same(ddb: Any) -> rules_table.Loaded:
    cpp, py = both(ddb)
    assert [v.line() for v in py.versions] == cpp["versions"]
    assert sorted(py.invalid) == sorted(cpp["invalid"])
    assert cpp["summary"]["versions"] == len(py.versions)
    assert cpp["summary"]["invalid"] == len(py.invalid)
    assert py.fence_us >= cpp["summary"]["fence"]  # the Python load ran later: its fence is at or past
    return py


def test_imported_rules_read_the_same_as_the_function_reads_them(imported: tuple[Any, list[Item]]) -> None:
    ddb, records = imported
    replace_records(ddb, records)
    py = assert_same(ddb)
    document = json.loads(DOCUMENT.read_text())["rules"]
    enabled = [r for r in document if r.get("enabled", True)]
    assert len(py.versions) == 2 * len(enabled)  # each owner's enabled rules, one version each
    assert {v.owner for v in py.versions} == {"alice", "bob"}
    assert py.invalid == []


# ------------------------------------------------------------------ damage
def _versions(item: Item) -> list[Item]:
    """The item's version maps; none once an earlier damage made `versions` something else."""
    return [m["M"] for m in item.get("versions", {}).get("L", []) if "M" in m]


def _set(name: str, value: Item) -> Callable[[Item], None]:
    def apply(item: Item) -> None:
        item[name] = value

    return apply


def _set_version(name: str, value: Item | None) -> Callable[[Item], None]:
    def apply(item: Item) -> None:
        for m in _versions(item):
            if value is None:
                m.pop(name, None)
            else:
                m[name] = value

    return apply


def _drop(name: str) -> Callable[[Item], None]:
    def apply(item: Item) -> None:
        item.pop(name, None)

    return apply


def _window(start: int, until: int | None) -> Callable[[Item], None]:
    """Every version's window moved to [now + start, now + until) (hours; None: open)."""

    def apply(item: Item) -> None:
        base = now_us()
        for m in _versions(item):
            m["from"] = {"N": str(base + start * HOUR_US)}
            if until is None:
                m.pop("until", None)
            else:
                m["until"] = {"N": str(base + until * HOUR_US)}

    return apply


def _second_version(overlap: bool, same_number: bool) -> Callable[[Item], None]:
    def apply(item: Item) -> None:
        if not _versions(item):
            return  # a rule imported paused has no version
        first = _versions(item)[0]
        second = copy.deepcopy(first)
        start = int(first["from"]["N"])
        first["until"] = {"N": str(start + HOUR_US)}
        second["from"] = {"N": str(start + (HOUR_US // 2 if overlap else HOUR_US))}
        second["v"] = {"N": first["v"]["N"] if same_number else str(int(first["v"]["N"]) + 1)}
        item["versions"]["L"].append({"M": second})

    return apply


def _other_pk(item: Item) -> None:
    item["pk"] = {"S": "operator#" + item["pk"]["S"]}


def _other_owner(item: Item) -> None:  # the same rule id under another owner: the C++ map keeps one
    item["pk"] = {"S": "owner#mallory"}


# Each kind of problem the adapter knows, and valid variations it must read the same.
DAMAGE: dict[str, Callable[[Item], None]] = {
    "no name": _drop("name"),
    "name typed N": _set("name", {"N": "1"}),
    "bad name": _set("name", {"S": "has space"}),
    "lower-case symbol": _set("symbol", {"S": "aapl"}),
    "unknown condition": _set("condition", {"S": "sideways"}),
    # (numbers DynamoDB cannot hold -- "abc", "nan", "1e999" -- are refused by the table itself)
    "threshold typed S": _set("threshold", {"S": "200"}),
    "threshold above 1e15": _set("threshold", {"N": "2e15"}),
    "threshold negative": _set("threshold", {"N": "-1"}),
    "unknown severity": _set("severity", {"S": "apocalyptic"}),
    "unknown mode": _set("mode", {"S": "sometimes"}),
    "cooldown zero": _set("cooldown", {"N": "0"}),
    "cooldown fraction": _set("cooldown", {"N": "1.5"}),
    "bar with mode every": _set("bar", {"N": "60"}),
    "unknown state": _set("state", {"S": "gone"}),
    "revision zero": _set("revision", {"N": "0"}),
    "arming negative": _set("arming", {"N": "-1"}),
    "arming beyond 32 bits": _set("arming", {"N": "4294967296"}),
    "no created": _drop("created"),
    "expires before 2000": _set("expires_at", {"N": "1"}),
    "long description": _set("description", {"S": "d" * 257}),
    "unknown placeholder": _set("template", {"S": "{when} crossed"}),
    "lone brace": _set("template", {"S": "a } b"}),
    "versions not a list": _set("versions", {"S": "[]"}),
    "version not a map": _set("versions", {"L": [{"S": "v1"}]}),
    "version without number": _set_version("v", None),
    "version symbol typed N": _set_version("symbol", {"N": "7"}),
    "version threshold typed S": _set_version("threshold", {"S": "1"}),
    "version mode unknown": _set_version("mode", {"S": "never"}),
    "version enabled typed S": _set_version("enabled", {"S": "true"}),
    "empty window": _window(1, 1),
    "versions overlap": _second_version(overlap=True, same_number=False),
    "versions not increasing": _second_version(overlap=False, same_number=True),
    "not under an owner": _other_pk,
    # valid: read the same, not skipped
    "template with placeholders": _set("template", {"S": "{symbol} {{at}} {price}"}),
    "version disabled": _set_version("enabled", {"BOOL": False}),
    "version expiring": _set_version("expires_at", {"N": str(now_us() + HOUR_US)}),
    "ended before the horizon": _window(-200, -199),
    "ends after the horizon": _window(-200, -90),
    "a closed and a later version": _second_version(overlap=False, same_number=False),
    "the same id under another owner": _other_owner,
}
VALID = 7  # the last entries of DAMAGE


def test_each_kind_of_problem_is_skipped_and_counted_as_the_function_does(
    imported: tuple[Any, list[Item]],
) -> None:
    ddb, imported_records = imported
    records = [r for r in imported_records if r["versions"]["L"]]  # each damage has a version to reach
    damaged = []
    for i, damage in enumerate(DAMAGE.values()):
        item = copy.deepcopy(records[i % len(records)])
        item["sk"] = {"S": f"rule#d{i:02d}"}  # one item per kind
        damage(item)
        damaged.append(item)
    twin = copy.deepcopy(damaged[-2])  # a valid record's id under a second owner too: one of them is kept
    twin["pk"] = {"S": "owner#zed"}
    replace_records(ddb, [*damaged, twin])
    py = assert_same(ddb)
    assert len(py.invalid) == len(DAMAGE) - VALID
    ids = {v.id for v in py.versions}
    assert f"d{list(DAMAGE).index('ended before the horizon'):02d}" not in ids  # R4: dropped, not invalid
    assert f"d{list(DAMAGE).index('ends after the horizon'):02d}" in ids


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(min_value=0), st.sampled_from(sorted(DAMAGE))), max_size=12))
@example(damage=[(0, "version not a map"), (0, "versions overlap")])  # a damage over an earlier one
def test_damaged_tables_read_the_same(
    imported: tuple[Any, list[Item]], damage: list[tuple[int, str]]
) -> None:
    ddb, records = imported
    items = copy.deepcopy(records)
    for index, kind in damage:
        DAMAGE[kind](items[index % len(items)])
    unique = {(i["pk"]["S"], i["sk"]["S"]): i for i in items}  # a moved key may meet another
    replace_records(ddb, list(unique.values()))
    assert_same(ddb)


@pytest.mark.usefixtures("imported")
def test_an_unreadable_table_fails_both_loads() -> None:
    done = tool("loaded", table="no-such-table")
    assert done.returncode == 1
    assert "the cold load failed: ResourceNotFoundException" in done.stderr
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        rules_table.load(boto3.client("dynamodb"), "no-such-table", 1, now_us)

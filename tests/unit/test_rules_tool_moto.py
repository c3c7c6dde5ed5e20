"""The operators' rules command `tap_rules` (lib/lambda/src/tools/tap_rules.cpp) black-box against moto: R6's
import mapping and idempotency, owners kept apart, invalid documents refused whole, the quota, and symbol
controls (F3) landing with their windows. The table is created as the stack defines it (pk + sk)."""

from __future__ import annotations

import copy
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lib.config import ROOT
from tests.support.rules_table import rules_table

TOOL = Path(os.environ.get("TAP_RULES_TOOL", ROOT / "build" / "cpp" / "src" / "tap_rules"))
TABLE = "alert-rules-test"
DOCUMENT = ROOT / "config" / "alert-rules.json"


@pytest.fixture(scope="module")
def tool() -> Path:
    if "TAP_RULES_TOOL" not in os.environ:
        subprocess.run(["make", "-C", str(ROOT), "cpp-build"], check=True, stdout=subprocess.DEVNULL)
    assert TOOL.exists(), f"{TOOL} missing after make cpp-build"
    return TOOL


@pytest.fixture
def table() -> Iterator[Any]:
    with rules_table(TABLE, RULES_TABLE=TABLE) as ddb:
        yield ddb


def run(tool: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(tool), *args], capture_output=True, text=True, timeout=120, check=False)


def outcome(result: subprocess.CompletedProcess[str]) -> dict[str, str]:
    """Each printed rule's name -> what happened to it (without its effective_from)."""
    return {line.split()[0]: line.split()[1] for line in result.stdout.splitlines()}


def items(ddb: Any, pk: str, prefix: str) -> list[dict[str, Any]]:
    return list(
        ddb.query(
            TableName=TABLE,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :p)",
            ExpressionAttributeValues={":pk": {"S": pk}, ":p": {"S": prefix}},
            ConsistentRead=True,
        )["Items"]
    )


def head_seq(ddb: Any) -> int:
    head = ddb.get_item(
        TableName=TABLE, Key={"pk": {"S": "head#0"}, "sk": {"S": "head"}}, ConsistentRead=True
    )
    return int(head["Item"]["seq"]["N"])


def records(ddb: Any, owner: str) -> dict[str, dict[str, Any]]:
    return {i["name"]["S"]: i for i in items(ddb, f"owner#{owner}", "rule#")}


def write(tmp_path: Path, document: dict[str, Any]) -> Path:
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(document))
    return path


def test_import_maps_r6_and_a_second_run_changes_nothing(tool: Path, table: Any) -> None:
    first = run(tool, "import", "--owner", "alice", str(DOCUMENT))
    assert first.returncode == 0, first.stderr
    document = json.loads(DOCUMENT.read_text())
    assert outcome(first) == {r["id"]: "created" for r in document["rules"]}
    assert all(" effective_from " in line for line in first.stdout.splitlines())
    stored = records(table, "alice")
    assert set(stored) == {r["id"] for r in document["rules"]}  # id -> name
    for rule in document["rules"]:
        item = stored[rule["id"]]
        enabled = rule.get("enabled", True)
        assert item["state"]["S"] == ("active" if enabled else "paused")
        assert item["mode"]["S"] == "every"
        cooldown = rule.get("cooldown_seconds", document["default_cooldown_seconds"]) or 1
        assert item["cooldown"]["N"] == str(cooldown)
        assert len(item["versions"]["L"]) == (1 if enabled else 0)  # a paused rule has no version
    seq = head_seq(table)
    assert seq == len(document["rules"])

    again = run(tool, "import", "--owner", "alice", str(DOCUMENT))
    assert again.returncode == 0, again.stderr
    assert outcome(again) == {r["id"]: "unchanged" for r in document["rules"]}
    assert head_seq(table) == seq  # no new change in the head
    assert records(table, "alice") == stored


def test_an_edited_document_produces_exactly_its_edits(tool: Path, table: Any, tmp_path: Path) -> None:
    assert run(tool, "import", "--owner", "alice", str(DOCUMENT)).returncode == 0
    document = json.loads(DOCUMENT.read_text())
    edited = copy.deepcopy(document)
    edited["rules"][0]["threshold"] = 205.0
    edited["rules"][2]["enabled"] = False
    edited["rules"][-1]["enabled"] = True  # the disabled rule resumes
    seq = head_seq(table)
    result = run(tool, "import", "--owner", "alice", str(write(tmp_path, edited)))
    assert result.returncode == 0, result.stderr
    expected = {r["id"]: "unchanged" for r in document["rules"]}
    expected |= {
        document["rules"][0]["id"]: "edited",
        document["rules"][2]["id"]: "paused",
        document["rules"][-1]["id"]: "resumed",
    }
    assert outcome(result) == expected
    assert head_seq(table) == seq + 3
    stored = records(table, "alice")
    versions = stored[document["rules"][0]["id"]]["versions"]["L"]
    assert [v["M"]["threshold"]["N"] for v in versions] == ["200", "205"]
    assert "until" in versions[0]["M"]
    assert "until" not in versions[1]["M"]


def test_owners_are_kept_apart(tool: Path, table: Any, tmp_path: Path) -> None:
    assert run(tool, "import", "--owner", "alice", str(DOCUMENT)).returncode == 0
    alice = records(table, "alice")
    changed = json.loads(DOCUMENT.read_text())
    changed["rules"][0]["threshold"] = 199.0
    result = run(tool, "import", "--owner", "bob", str(write(tmp_path, changed)))
    assert result.returncode == 0, result.stderr
    assert set(outcome(result).values()) == {"created"}  # bob's own rules, same names
    assert records(table, "alice") == alice
    listed = run(tool, "list", "--owner", "bob")
    assert listed.returncode == 0
    assert f"{changed['rules'][0]['id']} id " in listed.stdout
    assert " AAPL crosses_above 199 every\n" in listed.stdout


def test_an_invalid_document_changes_nothing_and_lists_its_problems(
    tool: Path, table: Any, tmp_path: Path
) -> None:
    document = json.loads(DOCUMENT.read_text())
    document["rules"][1]["threshold"] = -5
    document["rules"][3]["symbol"] = ""
    result = run(tool, "import", "--owner", "alice", str(write(tmp_path, document)))
    assert result.returncode == 1
    assert "nothing was changed" in result.stderr
    assert "rules[1].threshold" in result.stderr
    assert "rules[3].symbol" in result.stderr
    assert table.scan(TableName=TABLE)["Items"] == []  # not even a head


def test_quota_exceeded_is_reported(tool: Path, table: Any) -> None:
    # The owner is at the quota (1000 rules not deleted, the change library's default).
    table.put_item(
        TableName=TABLE, Item={"pk": {"S": "owner#carol"}, "sk": {"S": "quota"}, "count": {"N": "1000"}}
    )
    result = run(tool, "import", "--owner", "carol", str(DOCUMENT))
    assert result.returncode == 1
    assert "quota exceeded" in result.stderr
    assert records(table, "carol") == {}


def test_suspensions_and_bands_land_as_controls_with_their_windows(tool: Path, table: Any) -> None:
    until = "2099-01-01T00:00:00Z"
    suspended = run(tool, "suspend", "MSFT", "--until", until)
    assert suspended.returncode == 0, suspended.stderr
    assert suspended.stdout.startswith("MSFT effective_from ")
    banded = run(tool, "band", "AAPL", "--low", "150", "--high", "250")
    assert banded.returncode == 0, banded.stderr
    controls = {i["sk"]["S"]: i for i in items(table, "controls", "symbol#")}
    assert set(controls) == {"symbol#MSFT", "symbol#AAPL"}
    (window,) = controls["symbol#MSFT"]["suspensions"]["L"]
    assert int(window["M"]["until"]["N"]) == 4070908800 * 1_000_000
    (band,) = controls["symbol#AAPL"]["bands"]["L"]
    assert (band["M"]["low"]["N"], band["M"]["high"]["N"]) == ("150", "250")
    assert "until" not in band["M"]
    listed = run(tool, "controls")
    assert listed.stdout.splitlines()[1].endswith(", 2099-01-01T00:00:00.000000Z)")
    cleared = run(tool, "clear-band", "AAPL")
    assert cleared.returncode == 0
    again = run(tool, "clear-band", "AAPL")
    assert again.returncode == 1
    assert "AAPL has no price band" in again.stderr


def test_usage_and_configuration_errors(tool: Path, table: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    helped = run(tool, "--help")
    assert helped.returncode == 0
    assert "import --owner OWNER FILE" in helped.stdout
    wrong = run(tool, "import", "config/alert-rules.json")
    assert wrong.returncode == 2
    assert "import needs --owner" in wrong.stderr
    unreadable = run(tool, "import", "--owner", "alice", "/nonexistent/rules.json")
    assert unreadable.returncode == 1
    assert "cannot read /nonexistent/rules.json" in unreadable.stderr
    monkeypatch.delenv("RULES_TABLE")
    unconfigured = run(tool, "controls")
    assert unconfigured.returncode == 1
    assert "RULES_TABLE is not set" in unconfigured.stderr


def test_a_change_that_cannot_commit_within_p_says_retry_later(
    tool: Path, table: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")  # nothing listens: every request fails
    result = run(tool, "suspend", "MSFT")
    assert result.returncode == 1
    assert result.stderr == "MSFT: not committed: the change could not be committed within P; retry later\n"

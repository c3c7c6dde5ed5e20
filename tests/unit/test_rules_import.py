"""local/rules_import.py: the local system's one way to import traders' rules, `tap_rules` run as a process.

The pure parts (reading the tool's reports, naming stored alerts) with the tool's own output; the process
part against moto with the real tool: config/alert-rules.json imported for an owner, its ids learnt, and a
refusal surfacing with the tool's message."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from lib.config import ROOT
from local.rules_import import (
    RulesTool,
    RulesToolError,
    default_tool,
    effective_froms,
    named_alerts,
    parse_rule_list,
)
from tests.support.moto_server import moto_environment
from tests.support.rules_table import create_rules_table

TABLE = "alert-rules-import"
DOCUMENT = ROOT / "config" / "alert-rules.json"

LISTING = """\
aapl-breakout-200 id 7Q2V4Z state active revision 1 arming 1 versions 1
  v1 [2026-11-25T14:25:00.000000Z, open) AAPL crosses_above 200 every
tsla-above-300-disabled id K9ZZ01 state paused revision 1 arming 1 versions 0
"""


def test_a_listing_gives_each_rule_id_its_name() -> None:
    assert parse_rule_list(LISTING) == {"7Q2V4Z": "aapl-breakout-200", "K9ZZ01": "tsla-above-300-disabled"}
    assert parse_rule_list("") == {}


def test_an_import_report_gives_the_effective_from_of_each_change() -> None:
    report = (
        "aapl-breakout-200 created effective_from 2026-11-25T14:25:05.000000Z\n"
        "msft-above-450 unchanged\n"
        "tsla-above-300-disabled created,paused effective_from 2026-11-25T14:25:06.000000Z\n"
    )
    assert effective_froms(report) == ["2026-11-25T14:25:05.000000Z", "2026-11-25T14:25:06.000000Z"]


def test_stored_alerts_are_named_by_their_rules_names() -> None:
    alerts = [
        {
            "symbol": "AAPL",
            "timestamp": "2026-11-25T14:30:00.000000Z#7Q2V4Z",
            "rule_id": "7Q2V4Z",
            "owner": "a",
        },
        {"symbol": "MSFT", "timestamp": "2026-11-25T14:31:00.000000Z#OTHER", "rule_id": "OTHER"},
    ]
    named = named_alerts(alerts, {"7Q2V4Z": "aapl-breakout-200"})
    assert named[0] == {
        "symbol": "AAPL",
        "timestamp": "2026-11-25T14:30:00.000000Z#aapl-breakout-200",
        "rule_id": "aapl-breakout-200",
        "owner": "a",
    }
    assert named[1] == alerts[1]  # a rule of another owner keeps its id
    assert alerts[0]["rule_id"] == "7Q2V4Z"  # the stored items themselves are left alone


def test_the_tool_environment_names_the_table_the_endpoint_and_the_clock(tmp_path: Path) -> None:
    tool = RulesTool("rules", "http://127.0.0.1:1", {"TAP_CLOCK": "real"}, tmp_path / "tap_rules")
    env = tool.env()
    assert (env["RULES_TABLE"], env["AWS_ENDPOINT_URL"], env["TAP_CLOCK"]) == (
        "rules",
        "http://127.0.0.1:1",
        "real",
    )
    # No endpoint: the tool resolves it as boto3 does, from this process's environment (or AWS itself).
    default = RulesTool("rules", None, {}, tmp_path / "x").env()
    assert default.get("AWS_ENDPOINT_URL") == os.environ.get("AWS_ENDPOINT_URL")
    assert "TAP_CLOCK" not in default or default["TAP_CLOCK"] == os.environ["TAP_CLOCK"]


def test_a_missing_tool_says_how_to_build_it(tmp_path: Path) -> None:
    with pytest.raises(RulesToolError, match="missing: `make cpp-build` builds it"):
        RulesTool("rules", None, {}, tmp_path / "tap_rules").run("--help")


def test_the_default_tool_is_the_host_build_unless_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TAP_RULES_TOOL", raising=False)
    assert default_tool() == ROOT / "build" / "cpp" / "src" / "tap_rules"
    monkeypatch.setenv("TAP_RULES_TOOL", "/opt/tap_rules")
    assert default_tool() == Path("/opt/tap_rules")


@pytest.fixture(scope="module")
def tool() -> Path:
    path = default_tool()
    if "TAP_RULES_TOOL" not in os.environ and not path.is_file():
        subprocess.run(["make", "-C", str(ROOT), "cpp-build"], check=True, stdout=subprocess.DEVNULL)
    assert path.is_file(), f"{path} missing after make cpp-build"
    return path


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    """One moto server and rules table for the module: each test imports for its own owner."""
    with moto_environment() as url:
        create_rules_table(boto3.client("dynamodb"), TABLE)
        yield url


def test_an_import_through_the_tool_lands_in_the_table(tool: Path, endpoint: str) -> None:
    rules = RulesTool(TABLE, endpoint, {}, tool)
    reports = rules.import_all([("trader-alice", DOCUMENT)])
    lines = reports["trader-alice"].splitlines()
    assert len(lines) == 9
    assert all(" created" in line for line in lines), lines
    assert len(effective_froms(reports["trader-alice"])) == 9
    names = rules.rule_names("trader-alice")
    assert sorted(names.values()) == sorted(line.split()[0] for line in lines)
    assert rules.rule_names("trader-bob") == {}  # owners kept apart
    # A second import of the same document changes nothing (R6: idempotent).
    again = rules.import_rules("trader-alice", DOCUMENT)
    assert all(line.endswith(" unchanged") for line in again.splitlines()), again


def test_a_refused_import_raises_with_the_tools_message(tool: Path, endpoint: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"version": 1, "rules": [{"id": "x"}]}')
    with pytest.raises(RulesToolError, match=r"tap_rules import --owner o .* exited 1: .*not a valid rules"):
        RulesTool(TABLE, endpoint, {}, tool).import_rules("o", bad)

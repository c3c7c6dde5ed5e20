"""Traders' rules into the local system's rules table: the operators' command `tap_rules` (R6), run here.

The one way the demo, the integration tests, the chaos campaign and the benchmark put rules into the rules
table: `tap_rules import --owner OWNER FILE` against the emulator, with the environment the tool reads
(endpoint, credentials, table, shard count, and the clock's variables when a virtual clock runs). The item
format is the C++ adapter's alone (lib/lambda/include/tap/app/rules_dynamodb.hpp): nothing here writes an
item.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local.emulator import LOCAL_ENV

ROOT = Path(__file__).resolve().parents[1]
TOOL_TIMEOUT_S = 120.0  # a change retries for at most P; moto may be slow under a loaded machine


def default_tool() -> Path:
    """TAP_RULES_TOOL (e.g. the coverage build), else the host build (`make cpp-build`)."""
    return Path(os.environ.get("TAP_RULES_TOOL", str(ROOT / "build" / "cpp" / "src" / "tap_rules")))


class RulesToolError(RuntimeError):
    """tap_rules refused or failed; the message carries its exit code and its stderr."""


@dataclass(frozen=True)
class RulesTool:
    """`tap_rules` bound to one rules table on one emulator (or, with endpoint None, the default chain)."""

    table: str
    endpoint: str | None = None
    clock_env: Mapping[str, str] = field(default_factory=dict)  # the shared clock's variables, if any
    tool: Path = field(default_factory=default_tool)

    def env(self) -> dict[str, str]:
        """The tool's environment: this process's (PATH, ...), the emulator's credentials, the table."""
        env = {**os.environ, **LOCAL_ENV, "RULES_TABLE": self.table, **self.clock_env}
        if self.endpoint is not None:
            env["AWS_ENDPOINT_URL"] = self.endpoint
        return env

    def run(self, *args: str) -> str:
        """Runs `tap_rules ARGS...`; returns its stdout, raises RulesToolError unless it exits 0."""
        if not self.tool.is_file():
            raise RulesToolError(f"{self.tool} missing: `make cpp-build` builds it")
        done = subprocess.run(
            [str(self.tool), *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=TOOL_TIMEOUT_S,
            check=False,
        )
        if done.returncode != 0:
            raise RulesToolError(
                f"tap_rules {' '.join(args)} exited {done.returncode}: {done.stderr.strip()}"
            )
        return done.stdout

    def import_rules(self, owner: str, document: Path) -> str:
        """Makes OWNER's rules those of `document` (R6); returns the tool's per-rule report."""
        return self.run("import", "--owner", owner, str(document))

    def import_all(self, documents: Sequence[tuple[str, Path]]) -> dict[str, str]:
        """Each (owner, document) in turn; each owner's report."""
        return {owner: self.import_rules(owner, document) for owner, document in documents}

    def rule_names(self, owner: str) -> dict[str, str]:
        """OWNER's rules, id -> name (the document's `id`), as `tap_rules list` prints them."""
        return parse_rule_list(self.run("list", "--owner", owner))


def effective_froms(report: str) -> list[str]:
    """The effective_from of each change an import report names ("NAME created effective_from T")."""
    return [line.split()[-1] for line in report.splitlines() if " effective_from " in line]


def parse_rule_list(listing: str) -> dict[str, str]:
    """`tap_rules list` output -> {rule id: name}: a rule's line is "NAME id ID state ..."; its versions'
    lines are indented."""
    names: dict[str, str] = {}
    for line in listing.splitlines():
        words = line.split()
        if not line.startswith(" ") and len(words) >= 3 and words[1] == "id":
            names[words[2]] = words[0]
    return names


def named_alerts(alerts: Iterable[Mapping[str, Any]], names: Mapping[str, str]) -> list[dict[str, Any]]:
    """Stored alerts with each rule's id replaced by its name (in `rule_id` and in the sort key
    `timestamp#rule`), so that they compare with the in-order replay of the rules document, whose rules
    are named by their `id` (tests/chaos/oracle.py). An alert of a rule outside `names` is kept as is."""
    out = []
    for alert in alerts:
        key = named_key(str(alert["timestamp"]), names)
        out.append({**alert, "rule_id": key.partition("#")[2], "timestamp": key})
    return out


def named_key(sort_key: str, names: Mapping[str, str]) -> str:
    """An alert's sort key `timestamp#rule` (or the tail of its id `symbol|timestamp#rule`) with the rule's
    id replaced by its name; a rule outside `names` is kept as is."""
    ts, _, rule = sort_key.partition("#")
    return f"{ts}#{names.get(rule, rule)}"

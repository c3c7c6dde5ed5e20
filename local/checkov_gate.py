"""checkov over the synthesized stack, with per-resource suppressions written in the stack code.

checkov's terraform_json runner ignores skip comments (it scans every entity with an empty skip list), so
this gate applies them the way checkov does for HCL: a `checkov:skip=ID:reason` line inside the failing
resource's line range suppresses that check for that resource only. A skip without a reason is refused.
Exit status: 0 when every failed check is suppressed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SKIP = re.compile(r"checkov:skip=([A-Za-z0-9_]+)(?::([^\"\n]*))?")


@dataclass(frozen=True)
class Outcome:
    passed: int
    failed: list[str]
    skipped: list[str]


def evaluate(report: dict[str, Any], source_lines: list[str]) -> Outcome:
    """Split checkov's failed checks into suppressed (with their reasons) and really failed."""
    failed, skipped = [], []
    for check in report["results"]["failed_checks"]:
        start, end = check["file_line_range"]
        label = f"{check['check_id']} {check['resource']} (lines {start}-{end})"
        reasons = [
            (m.group(2) or "").strip()
            for line in source_lines[start - 1 : end]
            for m in SKIP.finditer(line)
            if m.group(1) == check["check_id"]
        ]
        if reasons and all(reasons):
            skipped.append(f"{label}: {reasons[0]}")
        else:
            failed.append(label + (": skip without a reason" if reasons else f": {check['check_name']}"))
    return Outcome(report["summary"]["passed"], failed, skipped)


def run(checkov: str, stack_json: Path) -> Outcome:
    if not stack_json.is_file():
        raise FileNotFoundError(f"{stack_json} not found: run `make synth` first")
    proc = subprocess.run(
        [
            checkov,
            "-f",
            str(stack_json),
            "--framework",
            "terraform_json",
            "--skip-download",
            "--quiet",
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode not in (0, 1):  # 1 = some checks failed; anything else is checkov itself failing
        raise RuntimeError(f"checkov exited with {proc.returncode}: {proc.stderr.strip()[-2000:]}")
    report = json.loads(proc.stdout)
    return evaluate(report, stack_json.read_text(encoding="utf-8").splitlines())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkov", required=True, help="path of the checkov executable")
    parser.add_argument("stack_json", type=Path, help="cdktf.out/stacks/<stack>/cdk.tf.json")
    args = parser.parse_args(argv)
    try:
        outcome = run(args.checkov, args.stack_json)
    except (FileNotFoundError, RuntimeError, json.JSONDecodeError) as exc:
        print(f"checkov: {exc}", file=sys.stderr)
        return 2
    for line in outcome.skipped:
        print(f"  skipped {line}")
    for line in outcome.failed:
        print(f"  FAILED  {line}")
    print(
        f"checkov: {outcome.passed} passed, {len(outcome.failed)} failed, "
        f"{len(outcome.skipped)} skipped in code"
    )
    return 1 if outcome.failed else 0


if __name__ == "__main__":
    sys.exit(main())

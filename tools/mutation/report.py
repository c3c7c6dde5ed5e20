"""Outcomes of mutants and the run's summary: classification, the equivalents list, the per-file table.

Pure. A mutant is killed when the tests fail, survives when they pass, is invalid when it does not build,
and times out when the tests outrun their limit (counted as killed: a hang is noticed). The score is the
killed share of the valid, non-equivalent mutants.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from tools.mutation.mutants import Mutant


class Status(StrEnum):
    KILLED = "killed"
    SURVIVED = "survived"
    INVALID = "invalid"
    TIMEOUT = "timeout"
    EQUIVALENT = "equivalent"


@dataclass(frozen=True)
class Equivalent:
    file: str
    operator: str
    occurrence: int
    anchor: str
    reason: str


@dataclass(frozen=True)
class Result:
    mutant: Mutant
    status: Status
    reason: str = ""  # why an equivalent is one


def classify(build_rc: int | None, test_rc: int | None) -> Status:
    """A mutant's status from the build's and the tests' exit codes (None: timed out or not run)."""
    if build_rc != 0:
        return Status.INVALID
    if test_rc is None:
        return Status.TIMEOUT
    return Status.SURVIVED if test_rc == 0 else Status.KILLED


def parse_equivalents(text: str) -> list[Equivalent]:
    """The checked-in list: [[equivalent]] tables with id (file:line:operator:occurrence), line, reason.

    The line number of the id is informative only: an entry matches by file, operator, occurrence and the
    line's text, so that it survives edits elsewhere in the file.
    """
    entries = []
    for entry in tomllib.loads(text).get("equivalent", []):
        file, _line, operator, occurrence = entry["id"].rsplit(":", 3)
        reason = entry["reason"].strip()
        if not reason:
            raise ValueError(f"equivalent {entry['id']} has no reason")
        entries.append(Equivalent(file, operator, int(occurrence), entry["line"].strip(), reason))
    return entries


def equivalence(mutant: Mutant, equivalents: Iterable[Equivalent]) -> str | None:
    """The reason this mutant is declared equivalent, or None."""
    for e in equivalents:
        key = (e.file, e.operator, e.occurrence, e.anchor)
        if key == (mutant.file, mutant.operator, mutant.occurrence, mutant.anchor):
            return e.reason
    return None


def score(counts: dict[str, int]) -> float | None:
    """Killed (with timeouts) over valid non-equivalent mutants; None when there are none."""
    killed = counts[Status.KILLED] + counts[Status.TIMEOUT]
    valid = killed + counts[Status.SURVIVED]
    return killed / valid if valid else None


def wilson(killed: int, valid: int, z: float = 1.96) -> tuple[float, float] | None:
    """The Wilson score interval (95 % by default) of a killed share, or None with no valid mutant.

    A sample of the mutants measures the score only up to this interval: its lower bound is what a seeded
    sample shows at least.
    """
    if not valid:
        return None
    p, z2 = killed / valid, z * z
    centre = (p + z2 / (2 * valid)) / (1 + z2 / valid)
    half = z * math.sqrt(p * (1 - p) / valid + z2 / (4 * valid * valid)) / (1 + z2 / valid)
    return max(0.0, centre - half), min(1.0, centre + half)


def summarize(results: list[Result]) -> dict[str, object]:
    """The JSON summary: counts and score per file and in total, and every mutant with its status."""
    files: dict[str, dict[str, int]] = {}
    total = {s.value: 0 for s in Status}
    for r in results:
        counts = files.setdefault(r.mutant.file, {s.value: 0 for s in Status})
        counts[r.status] += 1
        total[r.status] += 1
    return {
        "files": {f: {**c, "score": score(c)} for f, c in files.items()},
        "total": {**total, "score": score(total)},
        "mutants": [
            {
                "id": r.mutant.id,
                "status": r.status.value,
                "original": r.mutant.original,
                "replacement": r.mutant.replacement,
                "line": r.mutant.anchor,
                **({"reason": r.reason} if r.reason else {}),
            }
            for r in results
        ],
    }


def table(summary: dict[str, object]) -> str:
    """The per-file table printed at the end of a run, then the survivors to look at."""
    files = summary["files"]
    total = summary["total"]
    assert isinstance(files, dict)
    assert isinstance(total, dict)
    columns = [s.value for s in Status]
    rows = [["file", *columns, "score"]]
    for name, counts in [*files.items(), ("total", total)]:
        rows.append([name, *(str(counts[c]) for c in columns), _percent(counts["score"])])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
    killed = total[Status.KILLED] + total[Status.TIMEOUT]
    interval = wilson(killed, killed + total[Status.SURVIVED])
    if interval:
        lines.append(
            f"score's 95 % Wilson interval: {_percent(interval[0])} .. {_percent(interval[1])}"
            f" ({killed} of {killed + total[Status.SURVIVED]} killed)"
        )
    mutants = summary["mutants"]
    assert isinstance(mutants, list)
    survivors = [m for m in mutants if m["status"] == Status.SURVIVED]
    if survivors:
        lines.append("survivors:")
        lines += [
            f"  {m['id']}  {m['original']!r} -> {m['replacement']!r}  in: {m['line']}" for m in survivors
        ]
    return "\n".join(lines)


def _percent(value: object) -> str:
    return f"{value * 100:.1f}%" if isinstance(value, float) else "-"

"""The function's own validators, driven from Python: one `tap_validate` process per mode, in batch mode
(a JSON line in, a verdict line out), so that property tests can ask thousands of questions cheaply.

TAP_VALIDATE names the build to run (`make test-py` points it at the coverage build, so these runs count
for the C++ gate); default the host build from `make cpp-build`.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lib.config import ROOT

TOOL = Path(os.environ.get("TAP_VALIDATE", str(ROOT / "build" / "cpp" / "src" / "tap_validate")))

# validate(document) -> reasons: [] accepts; otherwise each reason names its field ("rules[3].symbol: ...").
# Every implementation of the rules contract is one of these; the property tests run each over the same
# generated documents.
Validate = Callable[[object], list[str]]


class BatchValidator:
    """A `tap_validate MODE --batch` process: `reasons(line)` sends one input line, reads one verdict."""

    def __init__(self, mode: str) -> None:
        self._proc = subprocess.Popen(
            [str(TOOL), mode, "--batch"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )

    def verdict(self, line: str) -> dict[str, Any]:
        """The whole verdict line, for modes whose verdict carries more than reasons (clock)."""
        assert "\n" not in line, "one input per line"
        assert self._proc.stdin is not None
        assert self._proc.stdout is not None
        self._proc.stdin.write(line + "\n")
        self._proc.stdin.flush()
        verdict: dict[str, Any] = json.loads(self._proc.stdout.readline())
        if "error" in verdict:
            raise ValueError(f"tap_validate refused the request {line!r}: {verdict['error']}")
        return verdict

    def reasons(self, line: str) -> list[str]:
        verdict = self.verdict(line)
        return [] if verdict["valid"] else list(verdict["reasons"])

    def close(self) -> None:
        assert self._proc.stdin is not None
        self._proc.stdin.close()
        assert self._proc.wait(timeout=10) == 0


def function_rules_validator(batch: BatchValidator) -> Validate:
    """The function's loader (rules.cpp) as a Validate: the document is sent as one JSON line."""
    return lambda document: batch.reasons(json.dumps(document))

"""A Python handler (its module's source) as a Lambda function under awslambdaric and the local Runtime API
emulator: the stand-in functions of the API front's and the CLI's tests."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Mapping
from pathlib import Path

from local.runtime_api import RuntimeApiEmulator


def python_function(
    directory: Path, module: str, source: str, env: Mapping[str, str] | None = None
) -> RuntimeApiEmulator:
    """`module.handler` from `source` (written to `directory`), not yet started."""
    (directory / f"{module}.py").write_text(textwrap.dedent(source))
    return RuntimeApiEmulator(
        [sys.executable, "-m", "awslambdaric", f"{module}.handler"],
        env={"PYTHONPATH": str(directory), **(env or {})},
        cwd=directory,
    )

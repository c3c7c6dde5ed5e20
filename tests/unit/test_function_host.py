"""local/function_host.py: how a build is started (arm64 through qemu elsewhere), and the runner seam."""

from __future__ import annotations

from pathlib import Path

import pytest

from local import function_host
from local.function_host import RUNNERS, function_command, runner
from local.runtime_api import RuntimeApiEmulator


def _elf(path: Path, machine: int) -> Path:
    """The first 20 bytes of an ELF header with e_machine `machine` (the rest does not matter here)."""
    path.write_bytes(b"\x7fELF" + bytes(14) + machine.to_bytes(2, "little"))
    return path


@pytest.mark.parametrize(
    ("host", "machine", "expected"),
    [
        ("x86_64", 183, ["qemu-aarch64"]),  # arm64 build elsewhere: through qemu
        ("aarch64", 183, []),  # arm64 build at home: directly
        ("x86_64", 62, []),  # the host build: directly
    ],
)
def test_function_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, host: str, machine: int, expected: list[str]
) -> None:
    monkeypatch.setattr(function_host.platform, "machine", lambda: host)
    bootstrap = _elf(tmp_path / "bootstrap", machine)
    assert function_command(bootstrap) == [*expected, str(bootstrap)]


def test_a_script_is_started_directly(tmp_path: Path) -> None:
    script = tmp_path / "bootstrap"
    script.write_text("#!/bin/sh\nexec true\n")
    assert function_command(script) == [str(script)]


def test_the_default_runner_is_the_projects_runtime_api_emulator() -> None:
    assert set(RUNNERS) == {"runtime-api"}
    with runner(["true"], {"X": "1"}) as emulator:
        assert isinstance(emulator, RuntimeApiEmulator)
        assert emulator.env == {"X": "1"}
        assert emulator.processes == []  # nothing runs before the first invocation

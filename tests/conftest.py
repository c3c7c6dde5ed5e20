"""Shared fixtures: a function package (bootstrap alone), and one synthesis per session."""

from __future__ import annotations

import os
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest

from lib.config import ROOT

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")


def build_zip(path: Path, bootstrap: bytes = b"#!/bin/sh\nexit 1\n") -> Path:
    """A function package like `make package` builds: bootstrap alone."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("bootstrap", bootstrap)
    return path


@pytest.fixture(scope="session")
def package_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_zip(tmp_path_factory.mktemp("package") / "lambda_function.zip")


@pytest.fixture(scope="session")
def terraform_rc(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Makefile's TF_RC when set, else one written by scripts/terraform-rc.sh (the provider mirror)."""
    configured = os.environ.get("TF_CLI_CONFIG_FILE")
    if configured and Path(configured).is_file():
        return Path(configured)
    rc = tmp_path_factory.mktemp("tf") / "terraform.rc"
    rc.write_text(
        subprocess.run(
            [str(ROOT / "scripts" / "terraform-rc.sh")], capture_output=True, text=True, check=True
        ).stdout
    )
    return rc


@pytest.fixture(scope="session")
def synthesized_stack(package_zip: Path) -> dict[str, Any]:
    """The production stack (defaults), synthesized once per session (importing the bindings costs ~8 s)."""
    from lib.config import StackConfig  # noqa: PLC0415 -- only sessions that use the stack pay the import
    from lib.tap_stack import synth_json  # noqa: PLC0415

    return synth_json(StackConfig(zip_path=package_zip))


# Directories whose tests share session fixtures that are costly to build (the API system, the deployed
# stack, the contract's tables): under `pytest -n N --dist loadgroup` each runs whole on one worker, so the
# fixture is built once. Elsewhere a file is the unit, so module fixtures are built once too.
SHARED_SESSION_DIRS = frozenset({"api", "integration", "contract"})
TESTS = Path(__file__).parent


def xdist_group_of(path: Path) -> str:
    relative = path.relative_to(TESTS)
    return relative.parts[0] if relative.parts[0] in SHARED_SESSION_DIRS else relative.as_posix()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(pytest.mark.xdist_group(xdist_group_of(item.path)))

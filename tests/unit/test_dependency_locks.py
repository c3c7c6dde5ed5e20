"""The Python dependencies: every third-party module the code imports comes from a distribution pinned in a
lock of the project venv (requirements/<purpose>.txt, installed with --require-hashes --no-deps by
mk/python.mk), and every pin of a requirements/<purpose>.in is the one its lock holds (`make lock` was run).
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REQUIREMENTS = ROOT / "requirements"
VENV_PURPOSES = ("synth", "build", "local-and-test", "lint", "bench")  # mk/python.mk: PY_PURPOSES
# Every Python file of the repo (git's list: no venv, build tree or synthesized output).
SOURCES = [
    ROOT / p
    for p in subprocess.run(
        ["git", "ls-files", "*.py"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
]
_PIN = re.compile(r"^([A-Za-z0-9._-]+)(?:\[[^]]*\])?==([^\s;\\]+)", re.MULTILINE)


def _name(distribution: str) -> str:
    return re.sub(r"[-_.]+", "-", distribution).lower()


def _pins(path: Path) -> dict[str, str]:
    return {_name(name): version for name, version in _PIN.findall(path.read_text())}


def _imported_modules(path: Path) -> set[str]:
    """Top-level names of the absolute imports of a file (also those inside functions)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def _first_party(name: str, importer: Path) -> bool:
    """A package or module of the repo, a script of scripts/ (which tests import), or a module beside the
    importing script."""
    homes = (ROOT, ROOT / "scripts", importer.parent)
    return any((d / name).is_dir() or (d / f"{name}.py").is_file() for d in homes)


def test_every_imported_third_party_module_comes_from_a_lock() -> None:
    locked = {name for purpose in VENV_PURPOSES for name in _pins(REQUIREMENTS / f"{purpose}.txt")}
    providers = packages_distributions()
    unlocked: dict[str, list[str]] = {}
    for path in SOURCES:
        for module in _imported_modules(path):
            if module in sys.stdlib_module_names or _first_party(module, path):
                continue
            distributions = {_name(d) for d in providers.get(module, [])}
            if not distributions & locked:
                unlocked.setdefault(module, []).append(str(path.relative_to(ROOT)))
    assert unlocked == {}, "imported, but from no distribution of requirements/*.txt"


@pytest.mark.parametrize("purpose", [*VENV_PURPOSES, "checkov", "uv"])
def test_each_input_pin_is_the_one_its_lock_holds(purpose: str) -> None:
    wanted = _pins(REQUIREMENTS / f"{purpose}.in")
    locked = _pins(REQUIREMENTS / f"{purpose}.txt")
    assert wanted
    assert {name: locked.get(name) for name in wanted} == wanted, "requirements/*.in changed: run `make lock`"

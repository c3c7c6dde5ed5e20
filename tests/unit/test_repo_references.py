"""The repository stands on its own: what its docs and comments cite, it contains.

Three checks over every tracked source and document:
- a repository path cited anywhere (``lib/...``, ``docs/...``, a C++ path relative to ``lib/lambda`` or to
  the citing file) exists;
- a requirement id cited in a comment or a document (``F3``, ``I2b``, ...) is defined in
  docs/requirements.md;
- nothing points outside the repository for its design or requirements (the documents that guided its
  writing are not shipped with it).
"""

from __future__ import annotations

import io
import re
import subprocess
import tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REQUIREMENTS = ROOT / "docs" / "requirements.md"

# Files whose text is read: sources, build files and documents (data files and corpora are not prose).
TEXT_FILE = re.compile(
    r"(\.(py|cpp|hpp|md|mk|sh|toml|cmake|yaml|yml)$|(^|/)Makefile$|CMakeLists\.txt$|^\.ci/run$)"
)
# A path into the repository: one of its top-level folders (or one of lib/lambda's), then a name.
PATH_PREFIXES = "lib|local|tests|docs|bench|config|scripts|mk|ops|tools|\\.ci|src|include|cmake|fuzz"
CITED_PATH = re.compile(rf"(?<![\w./$-])((?:\.\./)*(?:{PATH_PREFIXES})/[\w./-]*[\w/])(?![\w*{{<])")
# A requirement id as docs/requirements.md defines them: a section letter and a number (I2b has a suffix).
REQUIREMENT_ID = re.compile(r"\b([IFRAPL][1-9][0-9]?b?)\b")
DEFINED_ID = re.compile(r"\*\*([IFRAPL][1-9][0-9]?b?)\b")
TRIPLE_QUOTES = ('"""', "'''")
OUTSIDE = re.compile(r"notes/design\.md|\.\./shared|\bSPEC\b")


def tracked_text_files() -> list[str]:
    listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True)
    return [f for f in listed.stdout.split() if TEXT_FILE.search(f) and (ROOT / f).is_file()]


def cited_paths(relative: str, text: str) -> list[tuple[int, str]]:
    """(line, path) of every repository path cited in ``text`` that does not exist."""
    base = (ROOT / relative).parent
    missing = []
    for match in CITED_PATH.finditer(text):
        path = match.group(1)
        candidates = (ROOT / path, base / path, ROOT / "lib" / "lambda" / path)
        if not any(c.exists() for c in candidates):
            missing.append((text.count("\n", 0, match.start()) + 1, path))
    return missing


def commentary(relative: str, text: str) -> str:
    """The prose of a file: a document or a build file whole; the comments of a C++ source; the comments
    and docstrings of a Python module (its other strings are data: a test may name a path on purpose)."""
    suffix = Path(relative).suffix
    if suffix == ".py":
        lines = [""] * (text.count("\n") + 1)  # each piece of prose on its own line, for the reports
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            quotes = token.string.lstrip("rbuRBU")[:3]
            if token.type == tokenize.COMMENT or (token.type == tokenize.STRING and quotes in TRIPLE_QUOTES):
                for offset, part in enumerate(token.string.split("\n")):
                    lines[token.start[0] - 1 + offset] += " " + part
        return "\n".join(lines)
    if suffix in (".cpp", ".hpp"):
        return "\n".join(line.split("//", 1)[1] if "//" in line else "" for line in text.splitlines())
    return text


def defined_requirements() -> set[str]:
    return set(DEFINED_ID.findall(REQUIREMENTS.read_text(encoding="utf-8")))


def test_the_checks_see_the_repository() -> None:
    files = tracked_text_files()
    assert "docs/design.md" in files
    assert "lib/lambda/src/app/handler.cpp" in files
    assert {"I1", "I2b", "F3", "F10", "R7", "A4", "P3", "L3"} <= defined_requirements()


def test_cited_paths_exist() -> None:
    missing = [
        f"{relative}:{line}: {path}"
        for relative in tracked_text_files()
        for line, path in cited_paths(
            relative, commentary(relative, (ROOT / relative).read_text(encoding="utf-8"))
        )
    ]
    assert not missing, "cited paths that do not exist:\n" + "\n".join(missing)


def test_cited_requirements_are_defined() -> None:
    defined = defined_requirements()
    undefined = [
        f"{relative}: {rid}"
        for relative in tracked_text_files()
        for rid in sorted(set(REQUIREMENT_ID.findall(commentary(relative, (ROOT / relative).read_text()))))
        if rid not in defined
    ]
    assert not undefined, "requirement ids not defined in docs/requirements.md:\n" + "\n".join(undefined)


def test_nothing_points_outside_the_repository() -> None:
    this_file = Path(__file__).resolve().relative_to(ROOT).as_posix()
    outside = [
        f"{relative}:{text.count(chr(10), 0, match.start()) + 1}: {match.group(0)}"
        for relative in tracked_text_files()
        if relative != this_file
        for text in [(ROOT / relative).read_text(encoding="utf-8")]
        for match in OUTSIDE.finditer(text)
    ]
    assert not outside, "references to documents outside the repository:\n" + "\n".join(outside)


@pytest.mark.parametrize(
    ("text", "missing"),
    [
        ("see lib/lambda/src/app/handler.cpp and docs/design.md", []),
        ("see `src/core/conditions.cpp` (relative to lib/lambda)", []),
        ("see notes/nowhere.md and lib/gone.py.", [(1, "lib/gone.py")]),
        ("a glob tests/unit/test_*.py and a template docs/{name}.md are not citations", []),
        ("line one\n[link](../lib/README.md) [gone](../docs/gone.md)", [(2, "../docs/gone.md")]),
    ],
)
def test_cited_paths_finds_exactly_the_missing_ones(text: str, missing: list[tuple[int, str]]) -> None:
    assert cited_paths("docs/design.md", text) == missing


def test_commentary_is_the_prose_of_a_file() -> None:
    source = 'x = "R1 lib/x.py"  # the R2 rule, lib/y.py\n"""F9 in a docstring,\nline two"""\n'
    python = commentary("lib/x.py", source)
    assert REQUIREMENT_ID.findall(python) == ["R2", "F9"]
    assert [line for line, _ in cited_paths("lib/x.py", python)] == [1]  # the comment's path, not the data
    assert REQUIREMENT_ID.findall(commentary("lib/x.cpp", 'f("F9");  // F3 semantics')) == ["F3"]
    assert REQUIREMENT_ID.findall(commentary("docs/x.md", "F3 and I2b")) == ["F3", "I2b"]

"""`make mutation`: mutate C++ sources one mutant at a time in a copy of the tree, rebuild, run the tests.

The working tree is never touched: lib/lambda and config are copied to build/mutation/tree (only files whose
content changed are rewritten, so ninja rebuilds incrementally), built in build/mutation/cpp, and each mutant
is written into the copy, built with ninja, judged by ctest under a timeout, and the original put back.
Usage: python -m tools.mutation.run [FILE ...] [--max-mutants N] [--seed S] [--timeout SECONDS]
       [--only ID ...] [--workdir DIR] [--target T ...] [--tests REGEX] [--list]
       (or: make mutation MUTATION_FILES=... MUTATION_MAX=N)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from tools.mutation.mutants import Mutant, apply, generate
from tools.mutation.report import Result, Status, classify, equivalence, parse_equivalents, summarize, table

REPO = Path(__file__).resolve().parents[2]
EQUIVALENTS = Path(__file__).with_name("equivalents.toml")
DEFAULT_FILES = [
    f"lib/lambda/src/{name}.cpp"
    for name in (
        "core/timestamp",
        "core/tick",
        "aws/sigv4",
        "aws/retry_policy",
        "aws/aws_error",
        "runtime/runtime",
    )
]
COPIED = ("lib/lambda", "config")  # what the C++ build and its tests read


def run_command(command: Sequence[str], timeout: float | None) -> int | None:
    """The command's exit code, or None when it outran the timeout (its whole process group is killed)."""
    with subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    ) as proc:
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return None


class Workspace:
    """A copy of the sources with its own build: where mutants are written, built and tested."""

    def __init__(
        self, repo: Path, tree: Path, configure: list[str], build: list[str], test: list[str]
    ) -> None:
        self.repo, self.tree = repo, tree
        self.configure_command, self.build_command, self.test_command = configure, build, test

    @classmethod
    def for_repo(cls, repo: Path, test_timeout: float, root: Path | None = None) -> Workspace:
        root = root or repo / "build" / "mutation"
        launcher = [
            f"-DCMAKE_{lang}_COMPILER_LAUNCHER=ccache" for lang in ("C", "CXX") if shutil.which("ccache")
        ]
        configure = [
            "cmake", "-G", "Ninja", "-S", str(root / "tree/lib/lambda"), "-B", str(root / "cpp"),
            # No optimisation and no debug info: the fastest rebuild of a mutated file. libstdc++'s checks
            # make a mutant that indexes past a std::array or vector abort its tests (killed), not pass by
            # luck.
            "-DCMAKE_BUILD_TYPE=", "-DCMAKE_CXX_FLAGS=-D_GLIBCXX_ASSERTIONS",
            f"-DTAP_DEPS_DIR={repo / 'build/deps'}", *launcher,
        ]  # fmt: skip
        build = ["ninja", "-C", str(root / "cpp")]
        jobs = str(os.cpu_count() or 1)
        test = [
            "ctest",
            "--test-dir",
            str(root / "cpp"),
            "--stop-on-failure",
            "-j",
            jobs,
            "--timeout",
            str(test_timeout),
        ]
        return cls(repo, root / "tree", configure, build, test)

    def sync(self) -> None:
        """Make the copy equal the working tree, rewriting only what differs (so builds stay incremental)."""
        for top in COPIED:
            for source in sorted((self.repo / top).rglob("*")):
                if not source.is_file():
                    continue
                target = self.tree / source.relative_to(self.repo)
                data = source.read_bytes()
                if not target.is_file() or target.read_bytes() != data:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(data)

    def prepare(self) -> int | None:
        """Configure (once) and build the unmutated copy."""
        if not (
            Path(self.configure_command[self.configure_command.index("-B") + 1]) / "build.ninja"
        ).is_file():
            rc = run_command(self.configure_command, None)
            if rc != 0:
                return rc
        return run_command(self.build_command, None)

    def narrow(self, targets: Sequence[str], tests: str | None) -> None:
        """Build only these targets and run only the tests matching this regex (ctest -R): a quicker judge
        whose kills are a subset of the whole suite's, so a score it gives is never higher."""
        self.build_command = [*self.build_command, *targets]
        if tests:
            self.test_command = [*self.test_command, "-R", tests]

    def write(self, file: str, text: str) -> None:
        (self.tree / file).write_text(text)

    def build(self) -> int | None:
        return run_command(self.build_command, None)  # a compiler ends; only a test can hang

    def test(self, timeout: float | None) -> int | None:
        return run_command(self.test_command, timeout)


def select(mutants: list[Mutant], max_mutants: int | None, rng: random.Random) -> list[Mutant]:
    """At most max_mutants of them, a seeded sample kept in source order."""
    if max_mutants is None or len(mutants) <= max_mutants:
        return mutants
    return sorted(rng.sample(mutants, max_mutants), key=lambda m: m.start)


def judge(workspace: Workspace, mutant: Mutant, original: str, timeout: float) -> Status:
    """Build and test one mutant in the workspace, then put the original back."""
    workspace.write(mutant.file, apply(original, mutant))
    try:
        build_rc = workspace.build()
        test_rc = workspace.test(timeout) if build_rc == 0 else None
    finally:
        workspace.write(mutant.file, original)
    return classify(build_rc, test_rc)


def run(
    workspace: Workspace,
    files: list[str],
    *,
    equivalents_text: str,
    max_mutants: int | None,
    seed: int,
    timeout: float,
    progress: Callable[[str], None],
    only: frozenset[str] = frozenset(),
) -> list[Result]:
    equivalents = parse_equivalents(equivalents_text)
    results: list[Result] = []
    for file in files:
        original = (workspace.repo / file).read_text()
        mutants = [m for m in generate(file, original) if not only or m.id in only]
        # Drawn before the equivalents are set aside and seeded per file: a file's sample depends only on its
        # text, the seed and the maximum (not on the equivalents list, nor on the other files of the run).
        chosen = []
        for mutant in select(mutants, max_mutants, random.Random(f"{seed}:{file}")):
            reason = equivalence(mutant, equivalents)
            if reason:
                results.append(Result(mutant, Status.EQUIVALENT, reason))
            else:
                chosen.append(mutant)
        for n, mutant in enumerate(chosen, 1):
            status = judge(workspace, mutant, original, timeout)
            results.append(Result(mutant, status))
            change = f"{mutant.original!r} -> {mutant.replacement!r}"
            progress(f"[{file} {n}/{len(chosen)}] {status:<8} {mutant.id}  {change}")
    results.sort(
        key=lambda r: (files.index(r.mutant.file), r.mutant.start, r.mutant.operator, r.mutant.occurrence)
    )
    return results


def main(
    argv: list[str] | None = None,
    make_workspace: Callable[[Path, float, Path | None], Workspace] = Workspace.for_repo,
    repo: Path = REPO,
) -> int:
    parser = argparse.ArgumentParser(prog="make mutation", description=__doc__.splitlines()[0])
    parser.add_argument(
        "files", nargs="*", default=DEFAULT_FILES, help="C++ sources, relative to the repository"
    )
    parser.add_argument(
        "--max-mutants", type=int, help="at most this many mutants per file (a seeded sample)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the sample (default 0)")
    parser.add_argument(
        "--timeout", type=float, default=60.0, help="seconds per mutant test run (default 60)"
    )
    parser.add_argument("--json", type=Path, default=Path("build/mutation.json"), help="the summary")
    parser.add_argument("--workdir", type=Path, help="the copy and its build (default build/mutation)")
    parser.add_argument("--only", action="append", default=[], metavar="ID", help="judge only this mutant")
    parser.add_argument(
        "--target", action="append", default=[], help="build only this target (ninja; repeatable)"
    )
    parser.add_argument("--tests", help="run only the tests matching this regex (ctest -R)")
    parser.add_argument("--list", action="store_true", help="list the mutants, build nothing")
    parser.add_argument("--equivalents", type=Path, default=EQUIVALENTS, help="the declared equivalents")
    args = parser.parse_args(argv)
    if args.list:
        for file in args.files:
            for m in generate(file, (repo / file).read_text()):
                print(f"{m.id}  {m.original!r} -> {m.replacement!r}")
        return 0
    workspace = make_workspace(repo, args.timeout, args.workdir)
    workspace.narrow(args.target, args.tests)
    workspace.sync()
    if workspace.prepare() != 0:
        print("mutation: the unmutated copy does not build", file=sys.stderr)
        return 2
    if workspace.test(None) != 0:
        print("mutation: the unmutated copy fails its tests", file=sys.stderr)
        return 2
    results = run(
        workspace,
        args.files,
        equivalents_text=args.equivalents.read_text(),
        max_mutants=args.max_mutants,
        seed=args.seed,
        timeout=args.timeout,
        progress=print,
        only=frozenset(args.only),
    )
    summary = summarize(results)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps({"seed": args.seed, "max_mutants": args.max_mutants, **summary}, indent=2) + "\n"
    )
    print(table(summary))
    print(f"summary: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The mutation driver: which mutants a C++ file yields, how outcomes are judged and summed up, the run."""

from __future__ import annotations

import json
import random
import runpy
import sys
import time
from pathlib import Path

import pytest

from tools.mutation import run as mutation_run
from tools.mutation.mutants import Mutant, apply, code_only, generate
from tools.mutation.report import (
    Result,
    Status,
    classify,
    equivalence,
    parse_equivalents,
    score,
    summarize,
    table,
    wilson,
)

SOURCE = """\
#include <vector>  // a < b in a comment
#define TWICE(x) \\
  ((x) + (x))

/* a == b, 7 in a block comment */
bool in_range(int a, int b) {
  std::vector<int> v{};
  const char* s = "a < b && 3";
  const char c = '+';
  int big = 1'000;
  total += a;
  helper(a, 2);
  int local = a - 1;
  return a < b && b != 16 && true;
}
void move(std::vector<int>&& items, int n);
"""


def by_id(mutants: list[Mutant]) -> dict[str, Mutant]:
    return {m.id: m for m in mutants}


def test_code_only_blanks_comments_literals_and_preprocessor_lines_keeping_offsets() -> None:
    code = code_only(SOURCE)
    assert len(code) == len(SOURCE)
    assert code.count("\n") == SOURCE.count("\n")
    for hidden in ("vector>", "a < b in", "TWICE", "((x) + (x))", "a == b", '"a < b && 3"', "'+'"):
        assert hidden not in code
    assert "return a < b && b != 16 && true;" in code
    assert "1'000" in code  # a digit separator is not a character literal


def test_code_only_blanks_raw_strings_escapes_and_unterminated_comments() -> None:
    text = 'x = R"js(a == "b" )js" + 1; y = "q\\"==" ; /* open'
    code = code_only(text)
    assert "==" not in code
    assert "open" not in code
    assert code.startswith("x = ")
    assert "+ 1; y = " in code
    unclosed = 's = R"(never closed == '
    assert code_only(unclosed) == "s = " + " " * (len(unclosed) - 4)
    assert code_only("// last line, no newline") == " " * 24
    assert code_only("#define A \\") == " " * 11


def test_operators_are_swapped_only_where_clang_format_spaces_a_binary_operator() -> None:
    mutants = by_id(generate("f.cpp", SOURCE))
    line = 14  # return a < b && b != 16 && true;
    assert (mutants[f"f.cpp:{line}:cmp:0"].original, mutants[f"f.cpp:{line}:cmp:0"].replacement) == (
        "<",
        "<=",
    )
    assert mutants[f"f.cpp:{line}:logic:0"].replacement == "||"
    assert mutants[f"f.cpp:{line}:logic:1"].start > mutants[f"f.cpp:{line}:logic:0"].start
    assert mutants[f"f.cpp:{line}:rel:0"].replacement == "=="
    assert mutants["f.cpp:11:arith:0"].replacement == "-="
    assert mutants["f.cpp:13:arith:0"].replacement == "+"
    # A `+` joining a string literal is concatenation: its `-` would only fail to compile.
    assert [m.operator for m in generate("g.cpp", 'return "a" + s + x - "b";')] == ["arith"]
    # Template brackets, rvalue references, comments, strings and macros yield nothing.
    assert not [m for m in mutants.values() if m.line in (1, 2, 3, 5, 7, 8, 9, 16)]


def test_integer_literals_get_boundary_mutants_and_zero_one_true_false_get_constant_ones() -> None:
    mutants = by_id(generate("f.cpp", SOURCE))
    assert [mutants[f"f.cpp:14:boundary:{i}"].replacement for i in (0, 1)] == ["15", "17"]
    assert mutants["f.cpp:13:const:0"].replacement == "0"
    assert mutants["f.cpp:14:const:0"].replacement == "false"
    assert mutants["f.cpp:12:boundary:0"].replacement == "1"
    assert not [m for m in mutants.values() if m.line == 10 and m.operator in ("boundary", "const")]
    # A hex literal keeps its spelling; floating-point literals are not mutated.
    mutated = [(m.operator, m.replacement) for m in generate("f.cpp", "x = 0x0f + 0X0 + 2.5;\n")]
    assert mutated == [
        ("delete", ""),
        ("boundary", "0e"),
        ("boundary", "10"),
        ("arith", "-"),
        ("boundary", "1"),
        ("arith", "-"),
    ]
    assert [m.replacement for m in generate("g.cpp", "return false;")] == ["true"]


def test_statement_deletion_removes_single_line_calls_and_assignments_only() -> None:
    deleted = {m.line: m for m in generate("f.cpp", SOURCE) if m.operator == "delete"}
    assert sorted(deleted) == [11, 12]
    assert deleted[12].original == "helper(a, 2);"
    assert apply(SOURCE, deleted[12]).splitlines()[11] == "  "
    continued = "f(\n    a);\nx = y +\n    g(b);\n  obj.reset();\n  return x;\n"
    assert [m.anchor for m in generate("g.cpp", continued) if m.operator == "delete"] == ["obj.reset();"]


def test_a_mutant_knows_its_line_anchor_and_refuses_a_changed_source() -> None:
    mutant = by_id(generate("f.cpp", SOURCE))["f.cpp:14:rel:0"]
    assert mutant.anchor == "return a < b && b != 16 && true;"
    assert "b == 16" in apply(SOURCE, mutant)
    with pytest.raises(ValueError, match="source changed"):
        apply(SOURCE.replace("b != 16", "b == 16"), mutant)


@pytest.mark.parametrize(
    ("build_rc", "test_rc", "status"),
    [
        (1, None, Status.INVALID),
        (None, None, Status.INVALID),
        (0, None, Status.TIMEOUT),
        (0, 8, Status.KILLED),
        (0, 0, Status.SURVIVED),
    ],
)
def test_classify_judges_a_mutant_by_its_build_and_its_tests(
    build_rc: int, test_rc: int, status: Status
) -> None:
    assert classify(build_rc, test_rc) is status


EQUIVALENTS = """
[[equivalent]]
id = "f.cpp:99:rel:0"
line = "  return a < b && b != 16 && true;  "
reason = "b is never 16 here"
"""


def test_an_equivalent_matches_by_line_text_not_line_number_and_needs_a_reason() -> None:
    entries = parse_equivalents(EQUIVALENTS)
    mutants = by_id(generate("f.cpp", SOURCE))
    assert equivalence(mutants["f.cpp:14:rel:0"], entries) == "b is never 16 here"
    assert equivalence(mutants["f.cpp:14:cmp:0"], entries) is None
    assert parse_equivalents("") == []
    with pytest.raises(ValueError, match="no reason"):
        parse_equivalents(EQUIVALENTS.replace("b is never 16 here", " "))


def test_summary_counts_per_file_and_scores_killed_and_timeouts_over_valid_non_equivalent() -> None:
    m = generate("f.cpp", SOURCE)
    g = generate("g.cpp", "x = 0;")[0]
    results = [
        Result(m[0], Status.KILLED),
        Result(m[1], Status.TIMEOUT),
        Result(m[2], Status.SURVIVED),
        Result(m[3], Status.INVALID),
        Result(m[4], Status.EQUIVALENT, "why"),
        Result(g, Status.INVALID),
    ]
    summary = summarize(results)
    files = summary["files"]
    assert isinstance(files, dict)
    assert files["f.cpp"]["score"] == pytest.approx(2 / 3)
    assert files["g.cpp"]["score"] is None
    assert summary["total"] == {**{s.value: 1 for s in Status}, "invalid": 2, "score": pytest.approx(2 / 3)}
    mutants = summary["mutants"]
    assert isinstance(mutants, list)
    assert mutants[4]["reason"] == "why"
    assert "reason" not in mutants[0]
    text = table(summary)
    assert "66.7%" in text.splitlines()[1]
    assert text.splitlines()[2].startswith("g.cpp")
    assert text.splitlines()[2].endswith("-")
    assert f"survivors:\n  {m[2].id}" in text
    assert "survivors" not in table(summarize(results[:2]))
    assert score({s.value: 0 for s in Status}) is None
    assert "95 % Wilson interval: 20.8% .. 93.9% (2 of 3 killed)" in text
    assert "Wilson" not in table(summarize(results[3:]))


def test_the_wilson_interval_bounds_a_sampled_score() -> None:
    assert wilson(0, 0) is None
    low, high = wilson(69, 69) or (0.0, 0.0)
    assert (round(low, 4), high) == (0.9473, 1.0)  # all of 69 killed: at least 94.7 %
    low, high = wilson(0, 10) or (1.0, 1.0)
    assert (low, round(high, 4)) == (0.0, 0.2775)
    low, high = wilson(50, 100) or (0.0, 0.0)
    assert (round(low, 4), round(high, 4)) == (0.4038, 0.5962)


# ---- the run, with a workspace whose build and test commands are shell one-liners ----

FILES = ["lib/lambda/src/x.cpp"]
PROGRAM = "int add(int a, int b) { return a + b; }\nbool small(int a) { return a < 3; }\n"


def workspace(repo: Path, test: str) -> mutation_run.Workspace:
    tree = repo / "build/mutation/tree"
    source = tree / "lib/lambda/src/x.cpp"
    configure = ["sh", "-c", f"mkdir -p {repo}/cpp && touch {repo}/cpp/build.ninja", "-B", str(repo / "cpp")]
    build = ["sh", "-c", f"! grep -q 'a <= 3' {source}"]  # this mutant "does not compile"
    return mutation_run.Workspace(repo, tree, configure, build, ["sh", "-c", test.format(source=source)])


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "lib/lambda/src").mkdir(parents=True)
    (tmp_path / "lib/lambda/src/x.cpp").write_text(PROGRAM)
    (tmp_path / "config").mkdir()
    (tmp_path / "config/rules.json").write_text("{}")
    return tmp_path


# The tests catch a + b -> a - b, hang on 3 -> 4, and miss 3 -> 2 and the constant mutants.
TESTS = "grep -q 'a + b' {source} || exit 1; grep -q 'a < 4' {source} && sleep 5; exit 0"


def test_run_judges_each_mutant_in_the_copy_and_restores_the_original(repo: Path) -> None:
    ws = workspace(repo, TESTS)
    ws.sync()
    assert ws.prepare() == 0
    assert (repo / "cpp/build.ninja").is_file()
    lines: list[str] = []
    results = mutation_run.run(
        ws, FILES, equivalents_text=EQUIVALENTS, max_mutants=None, seed=0, timeout=1.0, progress=lines.append
    )
    statuses = {r.mutant.id: r.status for r in results}
    assert statuses == {
        "lib/lambda/src/x.cpp:1:arith:0": Status.KILLED,
        "lib/lambda/src/x.cpp:2:cmp:0": Status.INVALID,
        "lib/lambda/src/x.cpp:2:boundary:0": Status.SURVIVED,
        "lib/lambda/src/x.cpp:2:boundary:1": Status.TIMEOUT,
    }
    assert len(lines) == 4
    assert "killed" in lines[0]
    assert (repo / "build/mutation/tree/lib/lambda/src/x.cpp").read_text() == PROGRAM
    again = mutation_run.run(
        ws,
        FILES,
        equivalents_text="",
        max_mutants=None,
        seed=0,
        timeout=1.0,
        progress=lines.append,
        only=frozenset({"lib/lambda/src/x.cpp:1:arith:0"}),
    )
    assert [(r.mutant.id, r.status) for r in again] == [("lib/lambda/src/x.cpp:1:arith:0", Status.KILLED)]
    assert (repo / "lib/lambda/src/x.cpp").read_text() == PROGRAM


def test_a_declared_equivalent_is_reported_with_its_reason_and_not_built(repo: Path) -> None:
    listed = '[[equivalent]]\nid = "lib/lambda/src/x.cpp:2:boundary:0"\nline = "{line}"\nreason = "r"\n'
    ws = workspace(repo, "exit 1")
    ws.sync()
    text = listed.format(line=PROGRAM.splitlines()[1])
    results = mutation_run.run(
        ws, FILES, equivalents_text=text, max_mutants=None, seed=0, timeout=5.0, progress=lambda _: None
    )
    assert [(r.status, r.reason) for r in results if r.mutant.operator == "boundary"] == [
        (Status.EQUIVALENT, "r"),
        (Status.KILLED, ""),
    ]


def test_max_mutants_takes_a_seeded_sample_in_source_order() -> None:
    mutants = generate("f.cpp", SOURCE)
    first = mutation_run.select(mutants, 4, random.Random(7))
    assert first == mutation_run.select(mutants, 4, random.Random(7))
    assert len(first) == 4
    assert first == sorted(first, key=lambda m: m.start)
    assert mutation_run.select(mutants, None, random.Random(7)) == mutants
    assert mutation_run.select(mutants, 1000, random.Random(7)) == mutants


def test_sync_rewrites_only_files_that_differ(repo: Path) -> None:
    ws = workspace(repo, "exit 0")
    ws.sync()
    copy = repo / "build/mutation/tree/config/rules.json"
    kept = repo / "build/mutation/tree/lib/lambda/src/x.cpp"
    before = kept.stat().st_mtime_ns
    (repo / "config/rules.json").write_text('{"changed": true}')
    time.sleep(0.01)
    ws.sync()
    assert copy.read_text() == '{"changed": true}'
    assert kept.stat().st_mtime_ns == before


def test_prepare_stops_at_a_failing_configure_and_configures_only_once(repo: Path) -> None:
    ws = workspace(repo, "exit 0")
    ws.configure_command = ["sh", "-c", "exit 3", "-B", str(repo / "cpp")]
    assert ws.prepare() == 3
    (repo / "cpp").mkdir()
    (repo / "cpp/build.ninja").touch()
    assert ws.prepare() == 0


def test_run_command_kills_the_whole_process_group_on_timeout(tmp_path: Path) -> None:
    marker = tmp_path / "late"
    started = time.monotonic()
    assert mutation_run.run_command(["sh", "-c", f"(sleep 2; touch {marker}) & wait"], 0.3) is None
    assert time.monotonic() - started < 1.5
    time.sleep(2.2)
    assert not marker.exists()
    assert mutation_run.run_command(["sh", "-c", "exit 4"], None) == 4


def test_the_real_workspace_builds_with_ninja_and_tests_with_ctest_under_a_timeout(tmp_path: Path) -> None:
    ws = mutation_run.Workspace.for_repo(tmp_path, 30.0)
    assert ws.tree == tmp_path / "build/mutation/tree"
    assert mutation_run.Workspace.for_repo(tmp_path, 1.0, tmp_path / "other").tree == tmp_path / "other/tree"
    assert ws.configure_command[:3] == ["cmake", "-G", "Ninja"]
    assert f"-DTAP_DEPS_DIR={tmp_path / 'build/deps'}" in ws.configure_command
    assert ws.build_command == ["ninja", "-C", str(tmp_path / "build/mutation/cpp")]
    assert ws.test_command[-2:] == ["--timeout", "30.0"]
    assert "--stop-on-failure" in ws.test_command


def test_a_narrowed_workspace_builds_its_targets_and_runs_the_matching_tests_only(tmp_path: Path) -> None:
    ws = mutation_run.Workspace.for_repo(tmp_path, 30.0)
    ws.narrow([], None)
    assert ws.build_command == ["ninja", "-C", str(tmp_path / "build/mutation/cpp")]
    assert "-R" not in ws.test_command
    ws.narrow(["tap_core_tests", "tap_aws_tests"], "^(Tick|Timestamp)\\.")
    assert ws.build_command[-2:] == ["tap_core_tests", "tap_aws_tests"]
    assert ws.test_command[-2:] == ["-R", "^(Tick|Timestamp)\\."]


def test_the_real_workspace_checks_container_bounds_so_a_mutant_reading_past_an_array_is_killed(
    tmp_path: Path,
) -> None:
    ws = mutation_run.Workspace.for_repo(tmp_path, 30.0)
    assert "-DCMAKE_CXX_FLAGS=-D_GLIBCXX_ASSERTIONS" in ws.configure_command


def test_main_lists_mutants_without_building(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def refuse(_repo: Path, _timeout: float, _workdir: Path | None) -> mutation_run.Workspace:
        raise AssertionError("--list builds nothing")

    assert mutation_run.main(["--list", "lib/lambda/src/x.cpp"], refuse, repo) == 0
    assert capsys.readouterr().out.splitlines()[0] == "lib/lambda/src/x.cpp:1:arith:0  '+' -> '-'"


def test_main_writes_the_json_summary_and_prints_the_table(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = repo / "out/mutation.json"
    equivalents = repo / "equivalents.toml"
    equivalents.write_text("")
    argv = ["lib/lambda/src/x.cpp", "--max-mutants", "2", "--seed", "1", "--json", str(out)]
    argv += ["--only", "lib/lambda/src/x.cpp:1:arith:0", "--only", "lib/lambda/src/x.cpp:2:cmp:0"]
    argv += ["--target", "all", "--tests", "."]
    code = mutation_run.main([*argv, "--equivalents", str(equivalents), "--timeout", "1"],
                             lambda r, _t, _w: workspace(r, TESTS), repo)  # fmt: skip
    assert code == 0
    summary = json.loads(out.read_text())
    assert summary["seed"] == 1
    assert summary["max_mutants"] == 2
    assert [m["status"] for m in summary["mutants"]] == ["killed", "invalid"]
    printed = capsys.readouterr().out
    assert "lib/lambda/src/x.cpp" in printed
    assert printed.rstrip().endswith(f"summary: {out}")


@pytest.mark.parametrize(
    ("build", "test", "message"),
    [("exit 1", "exit 0", "does not build"), ("exit 0", "exit 1", "fails its tests")],
)
def test_main_refuses_a_copy_that_fails_before_any_mutant(
    repo: Path, capsys: pytest.CaptureFixture[str], build: str, test: str, message: str
) -> None:
    def broken(r: Path, _t: float, _w: Path | None) -> mutation_run.Workspace:
        ws = workspace(r, test)
        ws.build_command = ["sh", "-c", build]
        return ws

    assert mutation_run.main(["lib/lambda/src/x.cpp"], broken, repo) == 2
    assert message in capsys.readouterr().err


@pytest.mark.filterwarnings("ignore:.*found in sys.modules:RuntimeWarning")
def test_the_module_lists_the_mutants_of_the_six_default_files(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", ["tools.mutation.run", "--list"])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_module("tools.mutation.run", run_name="__main__")
    assert exit_info.value.code == 0
    listed = {line.split(":")[0] for line in capsys.readouterr().out.splitlines()}
    assert listed == set(mutation_run.DEFAULT_FILES)


def test_the_sample_does_not_depend_on_the_equivalents_list(repo: Path) -> None:
    ws = workspace(repo, "exit 1")
    ws.sync()

    def sample(equivalents: str) -> list[tuple[str, Status]]:
        results = mutation_run.run(
            ws,
            FILES,
            equivalents_text=equivalents,
            max_mutants=2,
            seed=3,
            timeout=5.0,
            progress=lambda _: None,
        )
        return [(r.mutant.id, r.status) for r in results]

    plain = sample("")
    first = next(m for m in generate(FILES[0], PROGRAM) if m.id == plain[0][0])
    listed = sample(f'[[equivalent]]\nid = "{first.id}"\nline = "{first.anchor}"\nreason = "r"\n')
    assert [i for i, _ in listed] == [i for i, _ in plain]
    assert listed[0][1] is Status.EQUIVALENT
    assert plain[0][1] is Status.KILLED


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("/* c */x", "       x"),  # a block comment blanked to its last character
        ("/*/ a == b */ c", "              c"),  # `/*/` does not close itself
        ('R"(x)"y', "      y"),
        ('R"-(a)")-" + 1', " " * 10 + " + 1"),  # the delimiter is part of the closing sequence
        ('a = R"(1)" == R"(2)";', "a =        ==       ;"),  # each raw string ends at its own close
        ("c = 'a';", "c =    ;"),
        ('"a"b', "   b"),
        ('s = "" + t;', "s =    + t;"),  # an empty string closes at once
        ('"\\\\" + c', "     + c"),  # an escaped backslash does not escape the closing quote
        ('"abc', "    "),  # unterminated at the end of the text
        ('"abc\nx == y', "    \nx == y"),  # ... or at the end of the line
        ("x; #y", "x; #y"),  # `#` starts a directive only at the start of a line
        ("x;\n  #define A 1\ny;", "x;\n" + " " * 13 + "\ny;"),
        ("#define A \\\n\nx == y", "           \n\nx == y"),  # a continuation joins one line only
        ("x; // c\ny", "x;     \ny"),
    ],
)
def test_code_only_blanks_exactly_the_literal_or_comment(text: str, code: str) -> None:
    assert code_only(text) == code


@pytest.mark.parametrize(
    ("source", "replacements"),
    [
        ("x = 0;", ["1"]),  # 0 and 1 get the constant mutant only
        ("x = 1;", ["0"]),
        ("x = 2;", ["1", "3"]),
        ("x = 0x10;", ["0f", "11"]),
        ("x = 0x1F;", ["1E", "20"]),  # the case of the digits is kept
        ("x = 0x1;", ["0", "2"]),
        ("x = 0x0;", ["1"]),
    ],
)
def test_each_literal_gets_its_constant_or_boundary_mutants(source: str, replacements: list[str]) -> None:
    mutated = [m.replacement for m in generate("f.cpp", source) if m.operator in ("const", "boundary")]
    assert mutated == replacements

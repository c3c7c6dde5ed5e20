"""The mutants of one C++ source file: operator, boundary, constant and statement-deletion changes.

Pure: source text in, mutants out. Comments, string and character literals and preprocessor lines are
never mutated. Binary operators are recognised by the spaces clang-format puts around them, so the `<` of a
template argument list or the `&&` of an rvalue reference is left alone. A mutant's id is
file:line:operator:occurrence (the occurrence counts that operator's mutants on that line, in order); its
anchor is the line's text, which is what the equivalents list matches, so that list survives edits elsewhere
in the file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SWAPS = {
    "==": "!=",
    "!=": "==",
    "<": "<=",
    "<=": "<",
    ">": ">=",
    ">=": ">",
    "+": "-",
    "-": "+",
    "+=": "-=",
    "-=": "+=",
    "&&": "||",
    "||": "&&",
}
# The operator family each swap belongs to (the `operator` part of a mutant id).
FAMILY = {
    "==": "rel",
    "!=": "rel",
    "<": "cmp",
    "<=": "cmp",
    ">": "cmp",
    ">=": "cmp",
    "&&": "logic",
    "||": "logic",
}
BINARY = re.compile(r"(?<=\s)(==|!=|<=|>=|<|>|\+=|-=|\+|-|&&|\|\|)(?=\s)")
INTEGER = re.compile(r"(?<![\w.'])(\d+)(?=[uUlLzZ]{0,3}(?![\w.']))")
HEX = re.compile(r"(?<![\w.'])0[xX]([0-9a-fA-F]+)(?=[uUlLzZ]{0,3}(?![\w.']))")
BOOLEAN = re.compile(r"\b(true|false)\b")
RAW_STRING = re.compile(r'(?:u8|[uUL])?R"([^()\\\s]{0,16})\(')
# An expression statement on one line: a call, an assignment or an increment of a (qualified) name.
STATEMENT = re.compile(
    r"^(?:\+\+|--)?(?P<name>[A-Za-z_]\w*)(?:(?:::|\.|->)~?[A-Za-z_]\w*|\[[^\]]*\]|\(\))*\s*"
    r"(?:\((?!\))|\(\)|=(?!=)|\+=|-=|\*=|/=|\|=|&=|\^=|<<=|>>=|\+\+|--)"
)
NOT_STATEMENTS = frozenset(
    [
        "return",
        "break",
        "continue",
        "goto",
        "using",
        "typedef",
        "auto",
        "const",
        "constexpr",
        "static",
        "throw",
        "co_return",
        "co_yield",
        "delete",
        "if",
        "for",
        "while",
        "switch",
        "case",
        "default",
        "namespace",
        "struct",
        "class",
        "enum",
        "template",
        "else",
        "do",
    ]
)


@dataclass(frozen=True)
class Mutant:
    file: str  # as given (the run uses paths relative to the repository)
    line: int  # 1-based
    operator: str  # rel, cmp, arith, logic, boundary, const, delete
    occurrence: int  # index among this operator's mutants on this line
    start: int  # offsets of the replaced text in the file
    end: int
    original: str
    replacement: str
    anchor: str  # the line's text, stripped

    @property
    def id(self) -> str:
        return f"{self.file}:{self.line}:{self.operator}:{self.occurrence}"


def apply(text: str, mutant: Mutant) -> str:
    """The file's text with this mutant in place of the original code."""
    if text[mutant.start : mutant.end] != mutant.original:
        raise ValueError(f"{mutant.id}: the source changed since the mutants were generated")
    return text[: mutant.start] + mutant.replacement + text[mutant.end :]


def code_only(text: str) -> str:
    """The text with comments, literals and preprocessor lines blanked (same length, newlines kept)."""
    out = list(text)
    n = len(text)

    def blank(a: int, b: int) -> None:
        for k in range(a, b):
            if out[k] != "\n":
                out[k] = " "

    i = 0
    while i < n:
        if text.startswith("//", i) or (text[i] == "#" and not text[text.rfind("\n", 0, i) + 1 : i].strip()):
            end = _line_end(text, i)
        elif text.startswith("/*", i):
            close = text.find("*/", i + 2)
            end = n if close < 0 else close + 2
        elif (raw := RAW_STRING.match(text, i)) and (i == 0 or not _word(text[i - 1])):
            close = text.find(")" + raw.group(1) + '"', raw.end())
            end = n if close < 0 else close + len(raw.group(1)) + 2
        elif text[i] in "\"'" and not (text[i] == "'" and i > 0 and text[i - 1].isalnum()):
            end = _quoted_end(text, i)
        else:
            i += 1
            continue
        blank(i, end)
        i = end
    return "".join(out)


def _word(c: str) -> bool:
    return c.isalnum() or c == "_"


def _line_end(text: str, i: int) -> int:
    """End of a line comment or preprocessor line (a trailing backslash continues it)."""
    while True:
        nl = text.find("\n", i)
        if nl < 0:
            return len(text)
        if not text[:nl].endswith("\\"):
            return nl
        i = nl + 1


def _quoted_end(text: str, i: int) -> int:
    quote, j = text[i], i + 1
    while j < len(text) and text[j] != quote and text[j] != "\n":
        j += 2 if text[j] == "\\" else 1
    return min(j + 1, len(text))


def generate(file: str, text: str) -> list[Mutant]:
    """Every mutant of the file, in source order."""
    code = code_only(text)
    starts = [0] + [m.end() for m in re.finditer("\n", text)]
    found: list[tuple[int, int, str, str]] = []  # start, end, operator, replacement
    for m in BINARY.finditer(code):
        op = m.group(1)
        if op[0] in "+-" and _next_to_string_literal(text, m.start(), m.end()):
            continue  # string concatenation: `-` would not compile
        found.append((m.start(), m.end(), FAMILY.get(op, "arith"), SWAPS[op]))
    for m in INTEGER.finditer(code):
        value = int(m.group(1))
        if value in (0, 1):
            found.append((m.start(), m.end(), "const", str(1 - value)))
        else:
            found.append((m.start(), m.end(), "boundary", str(value + 1)))
            found.append((m.start(), m.end(), "boundary", str(value - 1)))
    for m in HEX.finditer(code):
        digits = m.group(1)
        value = int(digits, 16)
        spec = f"0{len(digits)}{'X' if digits.isupper() else 'x'}"
        found.extend(
            (m.start(1), m.end(1), "boundary", format(v, spec)) for v in (value + 1, value - 1) if v >= 0
        )
    for m in BOOLEAN.finditer(code):
        found.append((m.start(), m.end(), "const", "false" if m.group(1) == "true" else "true"))
    found.extend(_deletions(code, starts))

    mutants: list[Mutant] = []
    seen: dict[tuple[int, str], int] = {}
    for start, end, operator, replacement in sorted(found, key=lambda f: (f[0], f[2], f[3])):
        line = _line_of(starts, start)
        occurrence = seen.get((line, operator), 0)
        seen[(line, operator)] = occurrence + 1
        anchor = text[starts[line - 1] : _line_end_plain(text, starts[line - 1])].strip()
        mutants.append(
            Mutant(file, line, operator, occurrence, start, end, text[start:end], replacement, anchor)
        )
    return mutants


def _next_to_string_literal(text: str, start: int, end: int) -> bool:
    before, after = text[:start].rstrip(), text[end:].lstrip()
    return before.endswith('"') or after.startswith('"')


def _deletions(code: str, starts: list[int]) -> list[tuple[int, int, str, str]]:
    """Single-line expression statements that follow a complete statement or a brace."""
    found = []
    previous = ";"
    for offset in starts:
        raw = code[offset : _line_end_plain(code, offset)]
        stripped = raw.strip()
        if not stripped:
            continue
        m = STATEMENT.match(stripped)
        if (
            previous[-1] in ";{}"
            and stripped.endswith(";")
            and m
            and m.group("name") not in NOT_STATEMENTS
            and stripped.count("(") == stripped.count(")")
        ):
            begin = offset + len(raw) - len(raw.lstrip())
            found.append((begin, begin + len(stripped), "delete", ""))
        previous = stripped
    return found


def _line_end_plain(text: str, i: int) -> int:
    nl = text.find("\n", i)
    return len(text) if nl < 0 else nl


def _line_of(starts: list[int], offset: int) -> int:
    lo, hi = 0, len(starts) - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if starts[mid] <= offset:
            lo = mid
        else:
            hi = mid - 1
    return lo + 1

"""One definition of the function's settings: config/function-settings.json, read by synthesis
(lib/config.py) and compiled into the function. Differential: over generated values, edge strings included,
synthesis accepts a value exactly when the function's start-up configuration does."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable

from hypothesis import example, given, settings
from hypothesis import strategies as st

from lib.config import (
    FUNCTION_SETTINGS,
    FUNCTION_TIMEOUT_SECONDS,
    ROOT,
    ConfigError,
    EnumSetting,
    IntegerSetting,
    StackConfig,
    TextSetting,
    from_sources,
)
from tests.contract.validator import TOOL, BatchValidator

TABLE = ROOT / "config" / "function-settings.json"


def test_the_function_carries_the_table_in_the_repository() -> None:
    """The build compiles the file in (CMake regenerates it on change); a stale build fails here."""
    compiled = subprocess.run([str(TOOL), "settings", "--table"], capture_output=True, check=True).stdout
    assert compiled == TABLE.read_bytes()


def _variants(value: str) -> list[str]:
    return [value.lower(), value + "\n", " " + value, value + " ", value + "\x00", value[:-1], value * 2]


ENUMS = [s for s in FUNCTION_SETTINGS.values() if isinstance(s, EnumSetting)]
INTEGERS = [s for s in FUNCTION_SETTINGS.values() if isinstance(s, IntegerSetting)]
TEXTS = [s for s in FUNCTION_SETTINGS.values() if isinstance(s, TextSetting)]


def _bounds(setting: IntegerSetting) -> list[str]:
    """Both sides of each bound and the default: the verdicts there pin the bounds the function holds."""
    low, high = setting.minimum, setting.maximum
    return [str(v) for v in (low - 1, low, setting.default, high, high + 1)]


def _lengths(setting: TextSetting) -> list[str]:
    """Both sides of the length bound, each symbol, and characters just outside the allowed ones."""
    return [
        "a" * setting.max_length,
        "a" * (setting.max_length + 1),
        *[f"a{c}b" for c in setting.symbols],
        *[f"a{c}b" for c in " /[]\\\"'%,;#\t\u00e9\u0430"],
    ]


ALLOWED = sorted(
    {v for s in ENUMS for v in s.values} | {str(s.default) for s in INTEGERS} | {s.default for s in TEXTS}
)
EDGES = [
    "",
    "TRACE",
    "FATAL",
    "\n",
    "\u0406NFO",  # Cyrillic I
    "\uff29\uff2e\uff26\uff2f",  # fullwidth INFO
    "0",
    "-1",
    "+1",
    str(10**40),
    "1e308",
    "null",
    # integers written as a person or another tool might: none is digits only
    "1e3",
    "999999999999999999999",
    " 60",
    "60.0",
    "0x3c",
    "\uff16\uff10",  # fullwidth 60
    "\u0666\u0660",  # Arabic-Indic 60 (Python's int() takes it)
    "0" * 30 + "60",
    *[v for s in INTEGERS for v in _bounds(s)],
    *[v for s in TEXTS for v in _lengths(s)],
    *[v for a in ALLOWED for v in _variants(a)],
]
VALUES = st.one_of(st.sampled_from(ALLOWED), st.sampled_from(EDGES), st.text(max_size=12))


# How the stack takes each setting: LOG_LEVEL as given, each integer as the text of its context key.
STACK_READS: dict[str, Callable[[str], StackConfig]] = {
    "LOG_LEVEL": lambda value: StackConfig(log_level=value),
    "REORDER_WINDOW_SECONDS": lambda value: from_sources({"reorderWindowSeconds": value}, {}),
    "MAX_NOTIFY_AGE_SECONDS": lambda value: from_sources({"maxNotifyAgeSeconds": value}, {}),
    "RULES_SHARDS": lambda value: from_sources({"rulesShards": value}, {}),
    "RULE_QUOTA": lambda value: from_sources({"ruleQuota": value}, {}),
    "ALERTS_VISIBLE_AFTER_SECONDS": lambda value: from_sources({"alertsVisibleAfterSeconds": value}, {}),
    "OPERATOR_GROUP": lambda value: from_sources({"operatorGroup": value}, {}),
}


def test_the_stack_reads_every_setting_of_the_table() -> None:
    assert set(STACK_READS) == set(FUNCTION_SETTINGS)


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(sorted(FUNCTION_SETTINGS)), value=VALUES)
@example(name="LOG_LEVEL", value="TRACE")  # accepted by synthesis and refused by every cold start, once
@example(name="REORDER_WINDOW_SECONDS", value="1e3")
@example(name="REORDER_WINDOW_SECONDS", value=" 60")
def test_synthesis_and_the_function_agree(settings_batch: BatchValidator, name: str, value: str) -> None:
    function_refuses = settings_batch.reasons(json.dumps({"name": name, "value": value}))
    synthesis_refuses = FUNCTION_SETTINGS[name].check(value)
    assert bool(function_refuses) == (synthesis_refuses is not None), (value, function_refuses)
    try:  # the stack's own reading is that same one
        STACK_READS[name](value)
    except ConfigError:
        assert synthesis_refuses is not None
    else:
        assert synthesis_refuses is None


def test_every_allowed_value_starts_the_function(settings_batch: BatchValidator) -> None:
    for enum in ENUMS:
        assert enum.default in enum.values
        for value in enum.values:
            assert settings_batch.reasons(json.dumps({"name": enum.name, "value": value})) == []


def test_integer_bounds_are_the_same_on_both_sides(settings_batch: BatchValidator) -> None:
    """Each bound is inclusive on both sides and the next integer past it is refused by both."""
    assert INTEGERS, "the table has integer settings"
    for integer in INTEGERS:
        assert integer.minimum <= integer.default <= integer.maximum
        below, low, default, high, above = _bounds(integer)
        for value, taken in ((below, False), (low, True), (default, True), (high, True), (above, False)):
            function_takes = settings_batch.reasons(json.dumps({"name": integer.name, "value": value})) == []
            assert (function_takes, integer.check(value) is None) == (taken, taken), (integer.name, value)


def test_text_rules_are_the_same_on_both_sides(settings_batch: BatchValidator) -> None:
    """The length bound is inclusive on both sides, every symbol is taken, and each character outside the
    allowed ones is refused by both."""
    assert TEXTS, "the table has text settings"
    for text in TEXTS:
        assert text.check(text.default) is None
        for value in ["", *_lengths(text)]:
            function_takes = settings_batch.reasons(json.dumps({"name": text.name, "value": value})) == []
            assert function_takes == (text.check(value) is None), (text.name, value)
        assert text.check("a" * text.max_length) is None
        assert text.check("a" * (text.max_length + 1)) is not None
        assert text.check("") is not None


def test_the_function_starts_with_the_defaults_synthesis_uses() -> None:
    """With the variable unset the function runs with the table's default, the value the stack would set."""
    printed = subprocess.run([str(TOOL), "settings", "--defaults"], capture_output=True, check=True).stdout
    assert json.loads(printed) == {s.name: str(s.default) for s in FUNCTION_SETTINGS.values()}
    assert str(StackConfig().reorder_window_seconds) == json.loads(printed)["REORDER_WINDOW_SECONDS"]


def test_the_cold_load_budget_is_the_function_timeout() -> None:
    """The bootstrap's cold-load budget (main.cpp) is the function's timeout (lib/config.py, which the stack
    deploys): the load may use what an invocation may, and no more. Held here because the constant is
    compiled in, not passed in the environment."""
    source = (ROOT / "lib" / "lambda" / "src" / "main.cpp").read_text()
    budgets = re.findall(r"constexpr auto kColdLoadBudget = std::chrono::seconds\((\d+)\);", source)
    assert budgets == [str(FUNCTION_TIMEOUT_SECONDS)]

"""One definition of the function's settings: config/function-settings.json, read by synthesis
(lib/config.py) and compiled into the function. Differential: over generated values, edge strings included,
synthesis accepts a value exactly when the function's start-up configuration does."""

from __future__ import annotations

import json
import subprocess

from hypothesis import example, given, settings
from hypothesis import strategies as st

from lib.config import FUNCTION_SETTINGS, ROOT, ConfigError, StackConfig
from tests.contract.validator import TOOL, BatchValidator

TABLE = ROOT / "config" / "function-settings.json"


def test_the_function_carries_the_table_in_the_repository() -> None:
    """The build compiles the file in (CMake regenerates it on change); a stale build fails here."""
    compiled = subprocess.run([str(TOOL), "settings", "--table"], capture_output=True, check=True).stdout
    assert compiled == TABLE.read_bytes()


def _variants(value: str) -> list[str]:
    return [value.lower(), value + "\n", " " + value, value + " ", value + "\x00", value[:-1], value * 2]


ALLOWED = sorted({v for s in FUNCTION_SETTINGS.values() for v in s.values})
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
    *[v for a in ALLOWED for v in _variants(a)],
]
VALUES = st.one_of(st.sampled_from(ALLOWED), st.sampled_from(EDGES), st.text(max_size=12))


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(sorted(FUNCTION_SETTINGS)), value=VALUES)
@example(name="LOG_LEVEL", value="TRACE")  # accepted by synthesis and refused by every cold start, once
def test_synthesis_and_the_function_agree(settings_batch: BatchValidator, name: str, value: str) -> None:
    function_refuses = settings_batch.reasons(json.dumps({"name": name, "value": value}))
    synthesis_refuses = FUNCTION_SETTINGS[name].check(value)
    assert bool(function_refuses) == (synthesis_refuses is not None), (value, function_refuses)
    if name == "LOG_LEVEL":  # the stack's own check is that same one
        try:
            StackConfig(log_level=value)
        except ConfigError:
            assert synthesis_refuses is not None
        else:
            assert synthesis_refuses is None


def test_every_allowed_value_starts_the_function(settings_batch: BatchValidator) -> None:
    for setting in FUNCTION_SETTINGS.values():
        assert setting.default in setting.values
        for value in setting.values:
            assert settings_batch.reasons(json.dumps({"name": setting.name, "value": value})) == []

"""One clock contract (R7) in two readers: the function's (tap/core/clock_spec.hpp, through tap_validate) and
local/clock.py. Differential: on a corpus of valid and hostile specs and on generated ones, both accept the
same specs, read the same fields, refuse with the same message and map real instants to the same ones."""

from __future__ import annotations

import json
import subprocess

from hypothesis import given, settings
from hypothesis import strategies as st

from local.clock import (
    CLOCK_VARIABLE,
    END_MICROS,
    MIN_MICROS,
    ClockError,
    parse_clock_spec,
)
from tests.contract.validator import TOOL, BatchValidator

ANCHOR = 1_800_000_000_000_000
VALID = "virtual:start=2026-01-05T14:30:00Z,anchor=1800000000000000,speed=10"
CORPUS = [
    "",
    "real",
    VALID,
    "virtual:start=2026-01-05T14:30:00.5Z,anchor=1800000000000000,speed=1",
    "virtual:start=2000-01-01T00:00:00Z,anchor=946684800000000,speed=1000",
    "virtual:start=2100-12-31T23:59:59.999999Z,anchor=4133980799999999,speed=1",
    "virtual:start=2024-02-29T12:00:00Z,anchor=0001800000000000000,speed=0007",
    # hostile
    "REAL",
    "real\n",
    " real",
    "virtual",
    "virtual:",
    "virtual:start=,anchor=,speed=",
    VALID.replace("virtual", "VIRTUAL"),
    VALID + ",speed=2",
    VALID.replace(",", ";"),
    "virtual:anchor=1800000000000000,start=2026-01-05T14:30:00Z,speed=1",
    VALID.replace("14:30:00Z", "14:30:00+00:00"),
    VALID.replace("14:30:00Z", "14:30:00.1234567Z"),
    VALID.replace("14:30:00Z", "14:30:00.Z"),
    VALID.replace("14:30:00Z", "14:30:60Z"),
    VALID.replace("T14", " 14"),
    VALID.replace("2026-01-05", "2026-02-29"),
    VALID.replace("2026-01-05", "1999-12-31"),
    VALID.replace("2026-01-05", "2101-01-01"),
    VALID.replace("2026-01-05", "0000-01-01"),
    VALID.replace("2026", "\uff12\uff10\uff12\uff16"),  # fullwidth digits
    VALID.replace("1800000000000000", "\u0661800000000000000"),  # Arabic-Indic 1 (int() takes it)
    VALID.replace("1800000000000000", "1_800_000_000_000_000"),  # int() takes it too
    VALID.replace("1800000000000000", "-1800000000000000"),
    VALID.replace("1800000000000000", "946684799999999"),
    VALID.replace("1800000000000000", "4133980800000000"),
    VALID.replace("1800000000000000", "9223372036854775808"),
    VALID.replace("1800000000000000", "0" * 5000 + "1800000000000000"),
    VALID.replace("1800000000000000", "9" * 5000),  # beyond int()'s digit limit
    VALID.replace("speed=10", "speed=0"),
    VALID.replace("speed=10", "speed=1001"),
    VALID.replace("speed=10", "speed=1.5"),
    VALID.replace("speed=10", "speed= 1"),
    VALID.replace("speed=10", "speed=1\x00"),
    "virtual:start=x,anchor=x,speed=x",
]
REAL_INSTANTS = [
    0,
    -(2**63),
    2**63 - 1,
    MIN_MICROS - 1,
    MIN_MICROS,
    ANCHOR - 1,
    ANCHOR,
    ANCHOR + 1,
    END_MICROS,
]


def python_verdict(spec: str, real: int) -> dict[str, object]:
    try:
        parsed = parse_clock_spec(spec)
    except ClockError as error:
        return {"valid": False, "reasons": [str(error)]}
    return {
        "valid": True,
        "virtual": parsed.is_virtual,
        "start": parsed.start_micros,
        "anchor": parsed.anchor_micros,
        "speed": parsed.speed,
        "now": parsed.now(real),
    }


def test_both_readers_name_the_same_variable() -> None:
    printed = subprocess.run([str(TOOL), "clock", "--variable"], capture_output=True, check=True, text=True)
    assert printed.stdout == CLOCK_VARIABLE + "\n"


def test_the_corpus_reads_the_same_in_both_languages(clock_batch: BatchValidator) -> None:
    valid = 0
    for spec in CORPUS:
        for real in REAL_INSTANTS:
            function = clock_batch.verdict(json.dumps({"spec": spec, "real": real}))
            assert function == python_verdict(spec, real), (spec, real)
            valid += bool(function["valid"])
    # Both sides of the grammar were exercised: eight valid specs (the seven first and the anchor with 5,000
    # leading zeros, digits all the same), the rest refused.
    assert valid == 8 * len(REAL_INSTANTS)


FIELD = st.one_of(
    st.sampled_from(
        ["2026-01-05T14:30:00Z", "2026-01-05T14:30:00.25Z", "1800000000000000", "10", "1000", ""]
    ),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=12),
    st.from_regex(r"[0-9]{1,20}", fullmatch=True),
)


@settings(max_examples=400, deadline=None)
@given(
    start=FIELD,
    anchor=FIELD,
    speed=FIELD,
    separator=st.sampled_from([",", ";", ", "]),
    real=st.integers(min_value=-(2**63), max_value=2**63 - 1),
)
def test_generated_specs_read_the_same(
    clock_batch: BatchValidator, start: str, anchor: str, speed: str, separator: str, real: int
) -> None:
    spec = f"virtual:start={start}{separator}anchor={anchor}{separator}speed={speed}"
    assert clock_batch.verdict(json.dumps({"spec": spec, "real": real})) == python_verdict(spec, real), spec

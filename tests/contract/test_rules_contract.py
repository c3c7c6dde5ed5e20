"""One definition of a valid rules document: the function's loader (rules.cpp, `validate_rules`), driven
through `tap_validate rules --batch`.

Properties, over thousands of generated documents:
- every valid document is accepted;
- every single targeted corruption of a valid document is refused, and every reason names the corrupted
  field (`rules[3].symbol: ...`);
- the editors' JSON Schema (config/alert-rules.schema.json) gives the same verdict, except for duplicate
  rule ids, which JSON Schema cannot express.

The properties take a `Validate` (document -> reasons), so that the next implementation of the contract
(e.g. the rules-as-data import path, R6) runs the same test: add it to `validators` below (and to the
fixture's params), and the whole corpus is asked of it too.
"""

from __future__ import annotations

import copy
import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lib.config import ROOT
from tests.contract.validator import TOOL, BatchValidator, Validate, function_rules_validator

SCHEMA_PATH = ROOT / "config" / "alert-rules.schema.json"
SCHEMA = jsonschema.Draft202012Validator(json.loads(SCHEMA_PATH.read_text()))
POSITIVE = ["price_above", "price_below", "crosses_above", "crosses_below"]
CONDITIONS = [*POSITIVE, "spread_above", "volume_above"]
SEVERITIES = ["info", "warning", "critical"]
MAX = 1e15
EXAMPLES = settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])

Doc = dict[str, Any]


@pytest.fixture(scope="session", params=["function"])
def validate(request: pytest.FixtureRequest, rules_batch: BatchValidator) -> Validate:
    """Every implementation of the rules contract (the rules-as-data import path joins here)."""
    validators: dict[str, Validate] = {"function": function_rules_validator(rules_batch)}
    return validators[request.param]


# ---- valid documents
UPPER, DIGITS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "0123456789"
ids = st.text(UPPER + UPPER.lower() + DIGITS + "_.-", min_size=1, max_size=64)
symbols = st.one_of(st.just("*"), st.text(UPPER + DIGITS + "./:-", min_size=1, max_size=16))


@st.composite
def rules(draw: st.DrawFn, rule_id: str) -> Doc:
    condition = draw(st.sampled_from(CONDITIONS))
    if condition == "volume_above":
        threshold: float = draw(st.integers(0, int(MAX)))
    else:
        threshold = draw(st.floats(0, MAX, exclude_min=condition in POSITIVE, allow_nan=False))
    rule: Doc = {
        "id": rule_id,
        "symbol": draw(symbols),
        "condition": condition,
        "threshold": threshold,
        "severity": draw(st.sampled_from(SEVERITIES)),
    }
    optional = {
        "cooldown_seconds": st.integers(0, 86400),
        "enabled": st.booleans(),
        "description": st.text(max_size=256),
    }
    for key, values in optional.items():
        if draw(st.booleans()):
            rule[key] = draw(values)
    return rule


@st.composite
def documents(draw: st.DrawFn, min_rules: int = 0) -> Doc:
    rule_ids = draw(st.lists(ids, min_size=min_rules, max_size=6, unique=True))
    doc: Doc = {"version": 1, "rules": [draw(rules(i)) for i in rule_ids]}
    if draw(st.booleans()):
        doc["default_cooldown_seconds"] = draw(st.integers(1, 86400))
    return doc


# ---- single targeted corruptions: (what to change, the field its reasons must name)
Corruption = Callable[[st.DrawFn, Doc], str]
RULE_FIELDS = ["id", "symbol", "condition", "threshold", "severity"]
WRONG_TYPES: st.SearchStrategy[object] = st.sampled_from([None, True, 1, 1.5, "1", [], {}])


def _set(doc: Doc, i: int, key: str, value: object) -> str:
    doc["rules"][i][key] = value
    return f"rules[{i}].{key}"


def trailing_newline(draw: st.DrawFn, doc: Doc) -> str:
    i, key = draw(st.integers(0, len(doc["rules"]) - 1)), draw(st.sampled_from(["id", "symbol"]))
    return _set(doc, i, key, doc["rules"][i][key] + "\n")


def bad_text(draw: st.DrawFn, doc: Doc) -> str:
    i = draw(st.integers(0, len(doc["rules"]) - 1))
    key, value = draw(
        st.sampled_from(
            [
                ("id", ""),
                ("id", "a#b"),
                ("id", "x" * 65),
                ("id", " a"),
                ("symbol", "aapl"),
                ("symbol", ""),
                ("symbol", "A" * 17),
                ("symbol", "**"),
                ("condition", "price_sideways"),
                ("condition", "PRICE_ABOVE"),
                ("severity", "loud"),
                ("severity", "Info"),
                ("description", "x" * 257),
            ]
        )
    )
    return _set(doc, i, key, value)


def bad_number(draw: st.DrawFn, doc: Doc) -> str:
    i = draw(st.integers(0, len(doc["rules"]) - 1))
    rule = doc["rules"][i]
    key, value = draw(
        st.sampled_from(
            [
                ("threshold", -1),
                ("threshold", -1e-9),
                ("threshold", 2e15),
                ("cooldown_seconds", -1),
                ("cooldown_seconds", 86401),
                ("cooldown_seconds", 1.5),
                ("zero_positive", 0),
                ("fractional_volume", 10.5),
            ]
        )
    )
    if key == "zero_positive":
        rule["condition"] = draw(st.sampled_from(POSITIVE))
        key = "threshold"
    elif key == "fractional_volume":
        rule["condition"] = "volume_above"
        key = "threshold"
    return _set(doc, i, key, value)


def wrong_type(draw: st.DrawFn, doc: Doc) -> str:
    i = draw(st.integers(0, len(doc["rules"]) - 1))
    key = draw(st.sampled_from([*RULE_FIELDS, "cooldown_seconds", "enabled", "description"]))
    value = draw(WRONG_TYPES)
    expected: dict[str, Callable[[object], bool]] = {
        "threshold": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "cooldown_seconds": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "enabled": lambda v: isinstance(v, bool),
    }
    if expected.get(key, lambda v: isinstance(v, str))(value):
        value = {"not": "this"}
    return _set(doc, i, key, value)


def missing_field(draw: st.DrawFn, doc: Doc) -> str:
    i, key = draw(st.integers(0, len(doc["rules"]) - 1)), draw(st.sampled_from(RULE_FIELDS))
    del doc["rules"][i][key]
    return f"rules[{i}].{key}"


def unknown_property(draw: st.DrawFn, doc: Doc) -> str:
    i = draw(st.integers(0, len(doc["rules"]) - 1))
    key = draw(st.sampled_from(["color", "Id", "id ", "threshold\n", "é"]))
    return _set(doc, i, key, 1)


def duplicate_id(draw: st.DrawFn, doc: Doc) -> str:
    j = draw(st.integers(1, len(doc["rules"]) - 1))
    i = draw(st.integers(0, j - 1))
    return _set(doc, j, "id", doc["rules"][i]["id"])


def rule_not_object(draw: st.DrawFn, doc: Doc) -> str:
    i = draw(st.integers(0, len(doc["rules"]) - 1))
    doc["rules"][i] = draw(WRONG_TYPES.filter(lambda v: not isinstance(v, dict)))
    return f"rules[{i}]"


def document_level(draw: st.DrawFn, doc: Doc) -> str:
    key, value = draw(
        st.sampled_from(
            [
                ("version", 2),
                ("version", "1"),
                ("version", True),
                ("version", 1.5),
                ("version", None),
                ("default_cooldown_seconds", 0),
                ("default_cooldown_seconds", 86401),
                ("default_cooldown_seconds", "60"),
                ("rules", {}),
                ("rules", "[]"),
                ("owner", "x"),
                ("rules\n", []),
                ("delete", "version"),
                ("delete", "rules"),
            ]
        )
    )
    if key == "delete":
        del doc[str(value)]
        return str(value)
    doc[key] = value
    return key


CORRUPTIONS: list[Corruption] = [
    trailing_newline,
    bad_text,
    bad_number,
    wrong_type,
    missing_field,
    unknown_property,
    duplicate_id,
    rule_not_object,
    document_level,
]


@st.composite
def corrupted(draw: st.DrawFn) -> tuple[Doc, str, str]:
    corruption = draw(st.sampled_from(CORRUPTIONS))
    doc = copy.deepcopy(draw(documents(min_rules=2)))
    return doc, corruption(draw, doc), corruption.__name__


def schema_accepts(doc: Doc) -> bool:
    return SCHEMA.is_valid(doc)


# ---- the properties
@EXAMPLES
@given(doc=documents())
def test_valid_documents_are_accepted(validate: Validate, doc: Doc) -> None:
    assert validate(doc) == []
    assert schema_accepts(doc)


@EXAMPLES
@given(case=corrupted())
def test_each_corruption_is_refused_naming_its_field(validate: Validate, case: tuple[Doc, str, str]) -> None:
    doc, field, corruption = case
    reasons = validate(doc)
    assert reasons, (corruption, doc)
    assert all(r.startswith(field + ": ") for r in reasons), (corruption, field, reasons)
    # The editors' schema agrees, but cannot see duplicate ids.
    assert schema_accepts(doc) == (corruption == "duplicate_id"), (corruption, doc)


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**20), 10**20)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=5,
)


@settings(max_examples=500, deadline=None)
@given(doc=documents(min_rules=1), data=st.data())
def test_any_json_in_any_field_gets_the_same_verdict_from_the_schema(
    validate: Validate, doc: Doc, data: st.DataObject
) -> None:
    """Beyond the targeted corruptions: arbitrary JSON in one field. A refusal names that field."""
    top = ["version", "default_cooldown_seconds", "rules"]
    field = data.draw(st.sampled_from([*top, *(f"rules[0].{k}" for k in [*RULE_FIELDS, "cooldown_seconds"])]))
    value = data.draw(JSON_VALUES)
    if field in top:
        doc[field] = value
    else:
        doc["rules"][0][field.removeprefix("rules[0].")] = value
    reasons = validate(doc)
    assert (reasons == []) == schema_accepts(doc), (field, value, reasons)
    if _beyond_64_bits(value):
        # The function's JSON reader (simdjson) takes integers of at most 64 bits: a longer one is refused as
        # a number it cannot parse, without a field. Never valid anyway: no field takes such a number.
        assert reasons == ["invalid JSON: Problem while parsing a number"], reasons
    else:
        assert all(r.startswith((f"{field}:", f"{field}[", f"{field}.")) for r in reasons), (field, reasons)


def _beyond_64_bits(value: object) -> bool:
    if isinstance(value, list):
        return any(_beyond_64_bits(v) for v in value)
    if isinstance(value, dict):
        return any(_beyond_64_bits(v) for v in value.values())
    return isinstance(value, int) and not -(2**63) <= value < 2**64


def test_trailing_newline_in_id_or_symbol_is_refused_everywhere(validate: Validate, tmp_path: Path) -> None:
    """The drift that was: the schema's regex let `$` match before a final newline; the function refused."""
    rule: dict[str, str | float] = {
        "id": "a",
        "symbol": "AAPL",
        "condition": "price_above",
        "threshold": 1.0,
        "severity": "info",
    }
    why = {
        "id": "must be 1..64 chars of A-Z a-z 0-9 _ . -",
        "symbol": 'must be "*" or 1..16 chars of A-Z 0-9 . - / :',
    }
    path = tmp_path / "rules.json"
    for key in ("id", "symbol"):
        doc = {"version": 1, "rules": [{**rule, key: f"{rule[key]}\n"}]}
        assert validate(doc) == [f"rules[0].{key}: {why[key]}"]
        assert not schema_accepts(doc)
        # ... and so does the file check an operator runs before `tap_rules import` (the same loader).
        path.write_text(json.dumps(doc))
        verdict = subprocess.run([str(TOOL), "rules", str(path)], capture_output=True, text=True, check=False)
        assert verdict.returncode == 1
        assert f"{path}: rules[0].{key}: must be" in verdict.stderr


def test_the_repository_documents_are_valid(validate: Validate) -> None:
    documents = (
        "config/alert-rules.json",
        "local/data/trader-bob-rules.json",
        "tests/data/golden-rules.json",
    )
    for path in (ROOT / name for name in documents):
        assert validate(json.loads(path.read_text())) == [], path

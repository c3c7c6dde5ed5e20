"""The black-box tests' one reader of the state table (tests/support/state_items.py) goes through the
function's own decoder: items as boto3's low-level client returns them (binary values as bytes)."""

from __future__ import annotations

import pytest

from tests.contract.validator import TOOL
from tests.support.function_harness import built
from tests.support.state_items import decode_state_items

# The layout documented in lib/lambda/include/tap/app/dynamodb_store.hpp: version byte 1, then counts.
EMPTY_TICKS = b"\x01\x00"
EMPTY_FIRES = b"\x01\x00\x00"


@pytest.fixture(autouse=True)
def _tool() -> None:
    built(TOOL, "cpp-build")


def test_states_are_decoded_by_symbol_and_markers_left_out() -> None:
    state = {
        "symbol": {"S": "AAPL"},
        "rule_id": {"S": "#state"},
        "revision": {"N": "3"},
        "ticks": {"B": EMPTY_TICKS},
        "fires": {"B": EMPTY_FIRES},
    }
    marker = {"symbol": {"S": "#once#r1"}, "rule_id": {"S": "#arming#1"}, "rule": {"S": "r1"}}
    assert decode_state_items([marker, state]) == {
        "AAPL": {"symbol": "AAPL", "revision": 3, "ticks": [], "fires": [], "fires_complete_from": None}
    }
    assert decode_state_items([]) == {}


def test_an_item_the_function_could_not_read_is_an_error() -> None:
    bad = {
        "symbol": {"S": "AAPL"},
        "rule_id": {"S": "#state"},
        "revision": {"N": "3"},
        "ticks": {"B": b"\x02"},
    }
    with pytest.raises(ValueError, match="revision, ticks and fires are required"):
        decode_state_items([bad])

"""Black box over HTTP (issue 16): GET /rules over RULES rules of one trader, paged, misses and repeats
none; a cursor that was tampered with or belongs to another list (owner, route, filters) is 400
`invalid-cursor`, whatever the page size."""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.api.conftest import Client, api_system

# The figure is 1,000 (TAP_PAGINATION_RULES=1000): through the API, one create at a time, that
# seeding takes minutes here; 150 spans two pages of the largest size.
RULES = int(os.environ.get("TAP_PAGINATION_RULES", "150"))
PAGE = 100  # the route's largest page (docs/openapi.yaml PageLimit)
PARALLEL = 1  # one create at a time: creates of one owner contend on its change head
RETRIES = 10
OWNER = "pager"


@pytest.fixture(scope="module")
def api() -> Iterator[Any]:
    """The module's own API system: a quota that holds RULES rules."""
    with api_system(settings={"RULE_QUOTA": str(RULES)}) as system:
        yield system


DEFINITION = {"symbol": "AAPL", "condition": "price_above", "severity": "info"}


@pytest.fixture(scope="module")
def pager(api: Any) -> Client:
    """The trader with RULES rules."""
    return Client(api, OWNER, api.sign_in(OWNER))


@pytest.fixture(scope="module")
def seeded(pager: Client) -> dict[str, str]:
    """RULES rules of the pager, created through the API PARALLEL at a time: {id: name}. (Imports of
    100 or 20 rules each ran past the 30 s integration timeout on a loaded machine: one create per
    invocation stays short.)"""

    def create(i: int) -> tuple[str, str]:
        body = {**DEFINITION, "name": f"rule-{i:04d}", "threshold": 100 + i}
        key = {"idempotency-key": f"seed-{i:04d}"}  # a retry is the same create (A2)
        for _ in range(RETRIES):
            reply = pager.request("POST", "/rules", body=body, headers=key)
            if reply.status not in (429, 503):
                break
            # As a client must: throttled by the stage (429) or the change protocol not committed in
            # time (503, A3), the create is retried after Retry-After.
            time.sleep(float(reply.headers.get("retry-after", "1")))
        assert reply.status == 201, reply
        return reply.json["rule"]["id"], reply.json["rule"]["name"]

    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        return dict(pool.map(create, range(RULES)))


def pages(trader: Any, query: str) -> Iterator[dict[str, Any]]:
    """Every page of GET /rules?{query}, following next_cursor."""
    path = f"/rules?{query}"
    for _ in range(RULES + 2):
        reply = trader.request("GET", path)
        assert reply.status == 200, reply
        yield reply.json
        if "next_cursor" not in reply.json:
            return
        path = f"/rules?{query}&cursor={reply.json['next_cursor']}"
    pytest.fail("the cursors never end")


def test_paging_through_every_rule_misses_and_repeats_none(pager: Client, seeded: dict[str, str]) -> None:
    assert len(seeded) == RULES
    trader = pager
    listed = [rule["id"] for page in pages(trader, f"limit={PAGE}") for rule in page["rules"]]
    assert len(listed) == RULES
    assert listed == sorted(seeded)  # in id order, each once
    assert all(len(page["rules"]) == PAGE for page in list(pages(trader, f"limit={PAGE}"))[:-1])


def test_a_cursor_continues_with_another_page_size(pager: Client, seeded: dict[str, str]) -> None:
    trader = pager
    first = trader.request("GET", "/rules?limit=7").json
    rest = trader.request("GET", f"/rules?limit=13&cursor={first['next_cursor']}").json
    ids = [r["id"] for r in first["rules"] + rest["rules"]]
    assert ids == sorted(seeded)[:20]


def flip(cursor: str, index: int) -> str:
    """The cursor with one bit of its decoded byte `index` (negative: from the end) flipped."""
    raw = bytearray(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    raw[index] ^= 0x01
    return base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")


def test_tampered_and_foreign_cursors_are_400(
    client: Callable[..., Any], pager: Client, seeded: dict[str, str]
) -> None:
    trader = pager
    other = client("another-pager")
    own = trader.request("GET", "/rules?limit=5").json["next_cursor"]
    filtered = trader.request("GET", "/rules?limit=5&symbol=AAPL").json["next_cursor"]
    by_state = trader.request("GET", "/rules?limit=5&state=active").json["next_cursor"]
    alerts = trader.request("GET", "/alerts?limit=5").json["next_cursor"]
    issued_at = 2 + base64.urlsafe_b64decode(own + "==")[1]  # after the format and the key id (cursor.hpp)

    bad = {
        "another-route": ("/rules?limit=5", alerts, "foreign"),
        "other-filters-added": ("/rules?limit=5", filtered, "foreign"),
        "filters-dropped": ("/rules?limit=5", by_state, "foreign"),
        "other-filter-value": ("/rules?limit=5&symbol=MSFT", filtered, "foreign"),
        "mac-byte-flipped": ("/rules?limit=5", flip(own, -1), "tampered"),
        "position-byte-flipped": ("/rules?limit=5", flip(own, -40), "tampered"),
        "issued-at-flipped": ("/rules?limit=5", flip(own, issued_at), "tampered"),
        "key-id-flipped": ("/rules?limit=5", flip(own, 2), None),
        "truncated": ("/rules?limit=5", own[: len(own) // 2], "malformed"),
        "not-base64": ("/rules?limit=5", "!!not*base64!!", "malformed"),
        "empty": ("/rules?limit=5", "", "malformed"),
        "appended": ("/rules?limit=5", own + "AAAA", None),
    }
    for name, (path, cursor, reason) in bad.items():
        reply = trader.request("GET", f"{path}&cursor={cursor}")
        assert (reply.status, reply.json["type"]) == (400, "invalid-cursor"), (name, reply)
        assert reply.json["errors"][0]["field"] == "cursor", name
        if reason is not None:
            assert reply.json["errors"][0]["message"] == reason, (name, reply.json)
    # Another owner's valid cursor, on their list and on the owner's: foreign either way.
    reply = other.request("GET", f"/rules?limit=5&cursor={own}")
    assert (reply.status, reply.json["errors"][0]["message"]) == (400, "foreign")

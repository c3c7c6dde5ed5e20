"""Black box over HTTP (issue 16): GET /rules over 1,000 rules of one trader, paged at several sizes and
filtered, lists every rule exactly once, in id order, and never another trader's; a cursor that was
tampered with or belongs to another list (owner, route, filters) is 400 `invalid-cursor`, whatever the
page size.

The rules are put in as operators put them (`tap_rules import`, local/rules_import.py): the change library
through the C++ store, the same commits as the API's creates, without an HTTP round trip and a function
invocation per rule."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from local.api_system import ApiSystem
from tests.api.conftest import Client, api_system
from tests.support.cognito import claims_of

RULES = 1000  # the figure, and the change library's default quota (tap_rules creates under it)
PER_IMPORT = 250  # one `tap_rules import` per 250 rules: each stays well inside the tool's timeout
SYMBOLS = ("AAPL", "MSFT", "EUR/USD")
PAGE = 100  # the route's largest page (docs/openapi.yaml PageLimit)
ODD_PAGE = 93  # a size that does not divide RULES: the last page is partial
OTHER_RULES = 10  # the other trader's, named as the pager's first ones


def document(first: int, count: int) -> dict[str, Any]:
    """Rules `rule-{first:04d}`...: the symbols in turn, every fourth paused (`enabled: false`)."""
    return {
        "version": 1,
        "default_cooldown_seconds": 60,
        "rules": [
            {
                "id": f"rule-{i:04d}",
                "symbol": SYMBOLS[i % len(SYMBOLS)],
                "condition": "price_above",
                "threshold": 100 + i,
                "severity": "info",
                "enabled": i % 4 != 0,
            }
            for i in range(first, first + count)
        ],
    }


@pytest.fixture(scope="module")
def api() -> Iterator[ApiSystem]:
    """The module's own API system (its rules table holds only this module's rules)."""
    with api_system(settings={"RULE_QUOTA": str(RULES)}) as system:
        yield system


def signed_in(api: ApiSystem, username: str) -> Client:
    return Client(api, username, api.sign_in(username))


def owner_of(trader: Client) -> str:
    return str(claims_of(trader.tokens["access"])["sub"])


def imported(api: ApiSystem, trader: Client, count: int, folder: Path) -> dict[str, str]:
    """`count` rules of the trader imported with tap_rules; {id: name} as the store lists them."""
    assert api.resources is not None
    tool = api.resources.rules_tool()
    for first in range(0, count, PER_IMPORT):
        path = folder / f"{trader.username}-{first}.json"
        path.write_text(json.dumps(document(first, min(PER_IMPORT, count - first))))
        tool.import_rules(owner_of(trader), path)
    return tool.rule_names(owner_of(trader))


@pytest.fixture(scope="module")
def pager(api: ApiSystem) -> Client:
    """The trader with RULES rules."""
    return signed_in(api, "pager")


@pytest.fixture(scope="module")
def seeded(api: ApiSystem, pager: Client, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The pager's RULES rules, {id: name}."""
    rules = imported(api, pager, RULES, tmp_path_factory.mktemp("pager"))
    assert sorted(rules.values()) == [f"rule-{i:04d}" for i in range(RULES)]
    return rules


@pytest.fixture(scope="module")
def others(
    api: ApiSystem, seeded: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    """Another trader's OTHER_RULES rules, named as the pager's first ones: {id: name}."""
    other = signed_in(api, "other-pager")
    rules = imported(api, other, OTHER_RULES, tmp_path_factory.mktemp("other"))
    assert len(rules) == OTHER_RULES
    assert not rules.keys() & seeded.keys()
    return rules


def pages(trader: Client, query: str) -> Iterator[dict[str, Any]]:
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


def number(name: str) -> int:
    return int(name.removeprefix("rule-"))


@pytest.mark.parametrize("limit", [PAGE, ODD_PAGE])
def test_paging_through_a_thousand_rules_lists_each_once_in_id_order(
    pager: Client, seeded: dict[str, str], others: dict[str, str], limit: int
) -> None:
    listed = list(pages(pager, f"limit={limit}"))
    ids = [rule["id"] for page in listed for rule in page["rules"]]
    assert ids == sorted(seeded)  # every rule, once, in id order: none missed, none repeated
    assert {rule["name"] for page in listed for rule in page["rules"]} == set(seeded.values())
    assert not set(ids) & others.keys()  # the other trader's rules, named alike, never appear
    # Nothing filtered: every page but the last is full.
    assert all(len(page["rules"]) == limit for page in listed[:-1])


# A symbol (one with a slash), a state, and both: each filter's page reads PAGE records, so pages are short.
@pytest.mark.parametrize("query", ["symbol=EUR%2FUSD", "state=paused", "symbol=MSFT&state=active"])
def test_paging_with_filters_lists_exactly_the_matching_rules_once(
    pager: Client, seeded: dict[str, str], others: dict[str, str], query: str
) -> None:
    wanted = dict(pair.split("=") for pair in query.replace("%2F", "/").split("&"))

    def matches(name: str) -> bool:
        i = number(name)
        state = "active" if i % 4 else "paused"
        return (
            wanted.get("symbol", SYMBOLS[i % len(SYMBOLS)]) == SYMBOLS[i % len(SYMBOLS)]
            and wanted.get("state", state) == state
        )

    listed = [rule for page in pages(pager, f"limit={PAGE}&{query}") for rule in page["rules"]]
    assert [rule["id"] for rule in listed] == sorted(i for i, name in seeded.items() if matches(name))
    assert all(rule[key] == value for rule in listed for key, value in wanted.items())
    assert not {rule["id"] for rule in listed} & others.keys()


def test_the_other_trader_pages_through_their_own_rules_only(
    api: ApiSystem, others: dict[str, str], seeded: dict[str, str]
) -> None:
    other = signed_in(api, "other-pager")  # the same user: signed in again
    ids = [rule["id"] for page in pages(other, "limit=3") for rule in page["rules"]]
    assert ids == sorted(others)


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

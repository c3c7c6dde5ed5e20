"""The baseline's rules-table reader (bench/baseline/rules_table.py) on what moto never sends: attributes of
the wrong JSON shape, integers beyond 64 bits, paged scans, unreadable heads, and a fence already ahead.
Its agreement with the C++ adapter is tests/contract/test_rules_table_reader.py."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from botocore.exceptions import ClientError

from bench.baseline import rules_table as rt

FROM = 1_800_000_000 * rt.MICROS
RECORD: dict[str, Any] = {
    "pk": {"S": "owner#alice"},
    "sk": {"S": "rule#r1"},
    "name": {"S": "breakout"},
    "symbol": {"S": "AAPL"},
    "condition": {"S": "price_above"},
    "threshold": {"N": "200.5"},
    "severity": {"S": "critical"},
    "mode": {"S": "every"},
    "cooldown": {"N": "60"},
    "bar": {"N": "0"},
    "state": {"S": "active"},
    "arming": {"N": "1"},
    "revision": {"N": "1"},
    "created": {"N": "1"},
    "updated": {"N": "1"},
    "template": {"S": "{symbol} at {price}"},
    "versions": {
        "L": [
            {
                "M": {
                    "v": {"N": "1"},
                    "from": {"N": str(FROM)},
                    "symbol": {"S": "AAPL"},
                    "condition": {"S": "price_above"},
                    "threshold": {"N": "200.5"},
                    "severity": {"S": "critical"},
                    "mode": {"S": "every"},
                    "cooldown": {"N": "60"},
                    "bar": {"N": "0"},
                    "arming": {"N": "1"},
                }
            }
        ]
    },
}


def with_(changes: dict[str, Any], version: dict[str, Any] | None = None) -> dict[str, Any]:
    item = copy.deepcopy(RECORD)
    item["versions"]["L"][0]["M"].update(version or {})
    for name, value in changes.items():
        if value is None:
            del item[name]
        else:
            item[name] = value
    return item


def why(item: dict[str, Any]) -> str:
    with pytest.raises(rt.InvalidItemError) as caught:
        rt.decode_record(item)
    return str(caught.value)


def test_a_valid_record_decodes_to_its_engine_version() -> None:
    (v,) = rt.decode_record(RECORD)
    assert v.line() == {
        "id": "r1",
        "version": 1,
        "owner": "alice",
        "symbol": "AAPL",
        "condition": "price_above",
        "threshold": 200.5,
        "severity": "critical",
        "mode": "every",
        "cooldown_seconds": 60,
        "bar_seconds": 0,
        "arming": 1,
        "from": FROM,
        "until": None,
        "expires_at": None,
        "enabled": True,
        "description": "",
        "message_template": "{symbol} at {price}",
    }
    assert v.applies_at(FROM)
    assert not v.applies_at(FROM - 1)


def test_a_version_applies_only_in_its_window_before_its_expiry_and_when_enabled() -> None:
    (v,) = rt.decode_record(with_({}, {"until": {"N": str(FROM + 10)}, "expires_at": {"N": str(FROM + 5)}}))
    assert [v.applies_at(t) for t in (FROM - 1, FROM, FROM + 4, FROM + 5, FROM + 10)] == [
        False,
        True,
        True,
        False,
        False,
    ]
    (off,) = rt.decode_record(with_({}, {"enabled": {"BOOL": False}}))
    assert not off.applies_at(FROM)


@pytest.mark.parametrize(
    ("changes", "version", "expected"),
    [
        ({"name": "breakout"}, None, "name: expected type S"),
        ({"name": {"S": 7}}, None, "name: not a string"),
        ({"threshold": {"N": 7}}, None, "threshold: not a number"),
        ({"cooldown": {"N": str(2**63)}}, None, "cooldown: not an integer"),
        ({"arming": {"N": str(2**32)}}, None, "arming: out of range"),
        ({"threshold": {"N": "+1"}}, None, "threshold: not a finite number"),
        ({"threshold": {"N": "1_0"}}, None, "threshold: not a finite number"),
        ({"versions": {"L": "x"}}, None, "versions: not a list"),
        ({"versions": {"L": ["x"]}}, None, "versions: an element is not a map"),
        ({}, {"enabled": {"BOOL": "yes"}}, "versions: enabled: not a boolean"),
        ({}, {"v": {"N": "-1"}}, "versions: v: out of range"),
        (
            {"symbol": {"S": "*"}, "template": {"S": "{"}},
            None,
            "message_template: a '{' that is never closed",
        ),
        ({"template": {"S": "{{ok}} {" + "x" * 50 + "}"}}, None, "unknown placeholder {" + "x" * 40 + "}"),
        ({"description": {"S": "\ud800"}}, None, "description: must be valid UTF-8"),
        ({"mode": {"S": "once_per_bar"}, "cooldown": {"N": "0"}, "bar": {"N": "61"}}, None, "bar_seconds"),
        (
            {"mode": {"S": "once"}, "cooldown": {"N": "0"}, "bar": {"N": "60"}},
            None,
            "only for mode once_per_bar",
        ),
        ({"mode": {"S": "once"}}, None, "cooldown_seconds: only for mode every"),
        ({"condition": {"S": "volume_above"}}, None, "threshold: must be an integer for volume_above"),
        ({"threshold": {"N": "2e15"}}, None, "threshold: must be between 0 and 1e15"),
        ({"created": None}, None, "created: missing"),
        ({"condition": {"S": "sideways"}}, None, "condition: unknown value"),
        ({"template": {"S": "a } b"}}, None, "message_template: a lone '}'"),
        ({"threshold": {"N": "0"}}, None, "threshold: must be > 0 for this condition"),
        ({"expires_at": {"N": "1"}}, None, "expires_at: must lie in [2000-01-01"),
        ({}, {"until": {"N": str(FROM)}}, "versions: until: window is empty (until <= from)"),
        ({"state": {"S": "gone"}}, None, "state: unknown value"),
        ({"revision": {"N": "0"}}, None, "revision: must be >= 1"),
    ],
)
def test_each_problem_is_named_as_the_adapter_names_it(
    changes: dict[str, Any], version: dict[str, Any] | None, expected: str
) -> None:
    message = why(with_(changes, version))
    assert message.startswith("owner#alice rule#r1: ")
    assert expected in message


def second_version(number: int, start: int) -> dict[str, Any]:
    item = with_({}, {"until": {"N": str(FROM + 100)}})
    second = copy.deepcopy(item["versions"]["L"][0])
    second["M"].update({"v": {"N": str(number)}, "from": {"N": str(start)}})
    del second["M"]["until"]
    item["versions"]["L"].append(second)
    return item


def test_versions_are_numbered_upwards_with_windows_that_never_overlap() -> None:
    assert [v.version for v in rt.decode_record(second_version(2, FROM + 100))] == [1, 2]
    assert why(second_version(1, FROM + 100)).endswith("versions: numbers not increasing")
    assert why(second_version(2, FROM + 99)).endswith("versions: windows overlap")


def test_valid_variants_of_the_modes_decode() -> None:
    bar = with_({"mode": {"S": "once_per_bar"}, "cooldown": {"N": "0"}, "bar": {"N": "3600"}})
    assert rt.decode_record(bar)[0].line()["message_template"] == "{symbol} at {price}"
    once = with_({"mode": {"S": "once"}, "cooldown": {"N": "0"}, "bar": {"N": "0"}})
    assert len(rt.decode_record(once)) == 1
    assert rt.template_problem("{{}} {time} }}") is None


def test_an_item_without_its_keys_is_invalid() -> None:
    with pytest.raises(rt.InvalidItemError, match="pk: missing"):
        rt.decode_record({"sk": {"S": "rule#x"}})
    assert why(with_({"pk": {"S": "operator#alice"}})) == "operator#alice rule#r1: not a rule record"


class PagedTable:
    """A DynamoDB client's scan and update_item, scripted: pages of items, and one head answer."""

    def __init__(self, pages: list[list[dict[str, Any]]], head: dict[str, Any] | Exception) -> None:
        self.pages = pages
        self.head = head
        self.scans: list[dict[str, Any]] = []

    def scan(self, **request: Any) -> dict[str, Any]:
        self.scans.append(copy.deepcopy(request))
        start = int(request.get("ExclusiveStartKey", {}).get("page", 0))
        segment_pages = self.pages if request["Segment"] == 0 else [[]]
        page: dict[str, Any] = {"Items": segment_pages[start]}
        if start + 1 < len(segment_pages):
            page["LastEvaluatedKey"] = {"page": start + 1}
        return page

    def update_item(self, **request: Any) -> dict[str, Any]:
        if isinstance(self.head, Exception):
            raise self.head
        return {"Attributes": self.head}


def test_a_paged_scan_is_read_to_its_end_and_a_fence_ahead_is_taken_as_it_is() -> None:
    second = with_({"sk": {"S": "rule#r2"}})
    ahead = ClientError(
        {"Error": {"Code": "ConditionalCheckFailedException"}, "Item": {"fence": {"N": "99"}}}, "UpdateItem"
    )
    old = {"from": {"N": str(FROM - 2 * rt.HORIZON_US)}, "until": {"N": str(FROM - rt.HORIZON_US)}}
    ended = with_({"sk": {"S": "rule#old"}}, old)  # R4: ended at the horizon, dropped
    table = PagedTable([[RECORD, ended], [second, {"pk": {"S": "owner#a"}, "sk": {"S": "rule#bad"}}]], ahead)
    loaded = rt.load(table, "t", 2, lambda: FROM, segments=2, threads=2)
    assert [v.id for v in loaded.versions] == ["r1", "r2"]
    assert loaded.invalid == ["owner#a rule#bad: name: missing"]
    assert loaded.fence_us == 99
    assert all(s["ConsistentRead"] and s["TotalSegments"] == 2 for s in table.scans)
    assert [s.get("ExclusiveStartKey") for s in table.scans if s["Segment"] == 0] == [None, {"page": 1}]


@pytest.mark.parametrize(
    ("head", "expected"),
    [({"seq": {"N": "-1"}}, "head: seq: negative"), ({"fence": {"S": "1"}}, "head: fence: expected type N")],
)
def test_an_unreadable_head_fails_the_load(head: dict[str, Any], expected: str) -> None:
    with pytest.raises(rt.InvalidItemError, match=expected):
        rt.load(PagedTable([[]], head), "t", 1, lambda: FROM)


def test_a_refused_fence_write_fails_the_load() -> None:
    denied = ClientError({"Error": {"Code": "AccessDeniedException"}}, "UpdateItem")
    with pytest.raises(ClientError, match="AccessDenied"):
        rt.load(PagedTable([[]], denied), "t", 1, lambda: FROM)

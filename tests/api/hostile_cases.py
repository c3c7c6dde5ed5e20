"""The hostile-input corpus of the traders' API (issue 16): requests a client may send, each with the 4xx
status and the offending field (`errors[].field` of the problem document, RFC 9457) the API must answer.

A case's path may name `{rule}`: the id of a rule the caller owns (tests/api/test_api_hostile.py creates
it), so that a bad body reaches the route's own checks rather than a 404. A body is JSON text as sent
(`str`, so that invalid JSON, duplicate keys and non-finite numbers are sendable) or raw bytes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from dataclasses import field as default

BODY = "(body)"  # the field that names the body as a whole
GOOD = {
    "name": "hostile-probe",
    "symbol": "AAPL",
    "condition": "price_above",
    "threshold": 200,
    "severity": "info",
}
MAX_SPEC_BYTES = 16 * 1024  # the function's bound on a rule definition (docs/openapi.yaml MalformedBody)


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    path: str
    status: int
    field: str | None  # the field the problem names; None: a problem without `errors` (e.g. 404)
    body: str | bytes | None = None
    headers: dict[str, str] = default(default_factory=dict)


def definition(**changes: object) -> str:
    """A valid definition with `changes` applied (a value of None removes the property)."""
    merged = {**GOOD, **changes}
    return json.dumps({k: v for k, v in merged.items() if v is not None})


def with_raw(name: str, raw: str) -> str:
    """A valid definition whose property `name` is the raw JSON text `raw` (not expressible in json.dumps)."""
    return definition(**{name: None})[:-1] + f', "{name}": {raw}}}'


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


CREATE = [
    # Wrong types.
    Case("threshold-as-string", "POST", "/rules", 422, "threshold", definition(threshold="high")),
    Case("threshold-as-bool", "POST", "/rules", 422, "threshold", definition(threshold=True)),
    Case("threshold-as-object", "POST", "/rules", 422, "threshold", definition(threshold={"$gt": 1})),
    Case("name-as-number", "POST", "/rules", 422, "name", definition(name=5)),
    Case("symbol-as-array", "POST", "/rules", 422, "symbol", definition(symbol=["AAPL"])),
    Case("severity-as-null-is-missing", "POST", "/rules", 422, "severity", with_raw("severity", "null")),
    Case(
        "cooldown-as-string",
        "POST",
        "/rules",
        422,
        "cooldown_seconds",
        definition(mode="every", cooldown_seconds="60"),
    ),
    # Huge, non-finite and non-integral numbers.
    Case("threshold-1e400", "POST", "/rules", 422, "threshold", with_raw("threshold", "1e400")),
    Case("threshold-minus-1e400", "POST", "/rules", 422, "threshold", with_raw("threshold", "-1e400")),
    Case("threshold-1e308", "POST", "/rules", 422, "threshold", definition(threshold=1e308)),
    Case("threshold-negative", "POST", "/rules", 422, "threshold", definition(threshold=-1)),
    Case("threshold-NaN", "POST", "/rules", 400, BODY, with_raw("threshold", "NaN")),
    Case("threshold-minus-Infinity", "POST", "/rules", 400, BODY, with_raw("threshold", "-Infinity")),
    Case("threshold-trailing-dot", "POST", "/rules", 400, BODY, with_raw("threshold", "1.")),
    Case("threshold-leading-zero", "POST", "/rules", 400, BODY, with_raw("threshold", "01")),
    Case("threshold-Infinity", "POST", "/rules", 400, BODY, with_raw("threshold", "Infinity")),
    Case(
        "cooldown-2^63",
        "POST",
        "/rules",
        422,
        "cooldown_seconds",
        with_raw("cooldown_seconds", "9223372036854775808")[:-1] + ', "mode": "every"}',
    ),
    Case(
        "cooldown-fraction",
        "POST",
        "/rules",
        422,
        "cooldown_seconds",
        definition(mode="every", cooldown_seconds=60.5),
    ),
    Case(
        "bar-not-a-bar", "POST", "/rules", 422, "bar_seconds", definition(mode="once_per_bar", bar_seconds=61)
    ),
    # Unknown fields, including ones that name what the server decides.
    Case("unknown-field", "POST", "/rules", 422, "colour", definition(colour="red")),
    Case("owner-in-body", "POST", "/rules", 422, "owner", definition(owner="bob")),
    Case("id-in-body", "POST", "/rules", 422, "id", definition(id="01HZZZZZZZZZZZZZZZZZZZZZZZ")),
    Case("revision-in-body", "POST", "/rules", 422, "revision", definition(revision=99)),
    # Enumerations and formats.
    Case(
        "condition-injection",
        "POST",
        "/rules",
        422,
        "condition",
        definition(condition="price_above'; DROP TABLE rules;--"),
    ),
    Case("mode-unknown", "POST", "/rules", 422, "mode", definition(mode="always")),
    Case("expires-not-a-time", "POST", "/rules", 422, "expires_at", definition(expires_at="tomorrow")),
    Case(
        "expires-month-13", "POST", "/rules", 422, "expires_at", definition(expires_at="2030-13-01T00:00:00Z")
    ),
    # Over-long strings.
    Case("name-65", "POST", "/rules", 422, "name", definition(name="n" * 65)),
    Case("name-with-slash", "POST", "/rules", 422, "name", definition(name="../../etc/passwd")),
    Case("symbol-17", "POST", "/rules", 422, "symbol", definition(symbol="S" * 17)),
    Case("symbol-lowercase", "POST", "/rules", 422, "symbol", definition(symbol="aapl")),
    Case("description-257", "POST", "/rules", 422, "description", definition(description="d" * 257)),
    Case(
        "message-template-513",
        "POST",
        "/rules",
        422,
        "message_template",
        definition(message_template="m" * 513),
    ),
    # Missing required properties.
    Case("empty-object", "POST", "/rules", 422, "name", "{}"),
    Case("mode-every-without-cooldown", "POST", "/rules", 422, "cooldown_seconds", definition(mode="every")),
    # Not a readable JSON object.
    Case("no-body", "POST", "/rules", 400, BODY, None),
    Case("empty-body", "POST", "/rules", 400, BODY, ""),
    Case("not-json", "POST", "/rules", 400, BODY, "name=x&symbol=AAPL"),
    Case("truncated-json", "POST", "/rules", 400, BODY, definition()[:-5]),
    Case("an-array", "POST", "/rules", 400, BODY, json.dumps([GOOD])),
    Case("a-string", "POST", "/rules", 400, BODY, json.dumps(json.dumps(GOOD))),
    Case("null", "POST", "/rules", 400, BODY, "null"),
    Case("trailing-garbage", "POST", "/rules", 400, BODY, definition() + "{}"),
    Case("deep-nesting-in-unknown-field", "POST", "/rules", 400, BODY, with_raw("x", nested(64))),
    Case("deep-nesting-10000", "POST", "/rules", 400, BODY, with_raw("description", nested(10_000))),
    Case("oversized-body", "POST", "/rules", 400, BODY, definition(description=" " * MAX_SPEC_BYTES)),
    # Duplicate keys: the second value must not slip past the first one's checks.
    Case("duplicate-threshold", "POST", "/rules", 422, "threshold", definition()[:-1] + ', "threshold": -5}'),
    Case("duplicate-name", "POST", "/rules", 422, "name", definition()[:-1] + ', "name": "other"}'),
    # Invalid UTF-8: as JSON text the front (as API Gateway) passes U+FFFD, which no name allows; as a
    # binary body the function reads the bytes themselves.
    Case(
        "invalid-utf8-in-name-as-text",
        "POST",
        "/rules",
        422,
        "name",
        definition(name="XX").replace("XX", "\udcff", 1).encode("utf-8", "surrogateescape"),
    ),
    Case(
        "invalid-utf8-in-description-as-bytes",
        "POST",
        "/rules",
        400,
        BODY,
        definition(description="XX").replace("XX", "\udcff\udcfe", 1).encode("utf-8", "surrogateescape"),
        {"Content-Type": "application/octet-stream"},
    ),
    Case("lone-surrogate-escape", "POST", "/rules", 400, BODY, with_raw("description", '"\\ud800"')),
    Case("nul-in-name", "POST", "/rules", 422, "name", definition(name="a\u0000b")),
    # Headers of a create.
    Case(
        "idempotency-key-129",
        "POST",
        "/rules",
        422,
        "Idempotency-Key",
        definition(),
        {"Idempotency-Key": "k" * 129},
    ),
    Case(
        "idempotency-key-with-space",
        "POST",
        "/rules",
        422,
        "Idempotency-Key",
        definition(),
        {"Idempotency-Key": "a b"},
    ),
]

PATCH = [
    Case(
        "patch-threshold-as-string",
        "PATCH",
        "/rules/{rule}",
        422,
        "threshold",
        json.dumps({"threshold": "x"}),
        {"If-Match": '"1"'},
    ),
    Case(
        "patch-threshold-1e400",
        "PATCH",
        "/rules/{rule}",
        422,
        "threshold",
        '{"threshold": 1e400}',
        {"If-Match": '"1"'},
    ),
    Case(
        "patch-threshold-NaN", "PATCH", "/rules/{rule}", 400, BODY, '{"threshold": NaN}', {"If-Match": '"1"'}
    ),
    Case(
        "patch-threshold-minus-Infinity",
        "PATCH",
        "/rules/{rule}",
        400,
        BODY,
        '{"threshold": -Infinity}',
        {"If-Match": '"1"'},
    ),
    Case(
        "patch-unknown-field",
        "PATCH",
        "/rules/{rule}",
        422,
        "owner",
        json.dumps({"owner": "bob"}),
        {"If-Match": '"1"'},
    ),
    Case(
        "patch-duplicate-keys",
        "PATCH",
        "/rules/{rule}",
        422,
        "threshold",
        '{"threshold": 5, "threshold": -5}',
        {"If-Match": '"1"'},
    ),
    Case(
        "patch-deep-nesting",
        "PATCH",
        "/rules/{rule}",
        400,
        BODY,
        '{"description": ' + nested(64) + "}",
        {"If-Match": '"1"'},
    ),
    Case("patch-not-an-object", "PATCH", "/rules/{rule}", 400, BODY, "[]", {"If-Match": '"1"'}),
    Case(
        "patch-if-match-garbage",
        "PATCH",
        "/rules/{rule}",
        422,
        "If-Match",
        json.dumps({"threshold": 5}),
        {"If-Match": "'; DROP TABLE--"},
    ),
    Case(
        "patch-if-match-huge",
        "PATCH",
        "/rules/{rule}",
        422,
        "If-Match",
        json.dumps({"threshold": 5}),
        {"If-Match": '"99999999999999999999999"'},
    ),
    Case(
        "patch-if-match-stale",
        "PATCH",
        "/rules/{rule}",
        412,
        "If-Match",
        json.dumps({"threshold": 5}),
        {"If-Match": '"7"'},
    ),
    Case("patch-if-match-missing", "PATCH", "/rules/{rule}", 428, "If-Match", json.dumps({"threshold": 5})),
]

QUERY = [
    Case("limit-zero", "GET", "/rules?limit=0", 422, "limit"),
    Case("limit-101", "GET", "/rules?limit=101", 422, "limit"),
    Case("limit-huge", "GET", "/rules?limit=99999999999999999999", 422, "limit"),
    Case("limit-negative", "GET", "/rules?limit=-1", 422, "limit"),
    Case("limit-exponent", "GET", "/rules?limit=1e2", 422, "limit"),
    Case("limit-NaN", "GET", "/rules?limit=NaN", 422, "limit"),
    Case("state-unknown", "GET", "/rules?state=all", 422, "state"),
    Case("unknown-parameter", "GET", "/rules?sort=id", 422, "sort"),
    Case("rules-symbol-longer-than-any", "GET", "/rules?symbol=" + "S" * 65, 422, "symbol"),
    Case("rules-symbol-injection", "GET", "/rules?symbol=AAPL%27%20OR%20%271%27=%271", 422, "symbol"),
    Case("empty-cursor", "GET", "/rules?cursor=", 400, "cursor"),
    Case("cursor-over-4096", "GET", "/rules?cursor=" + "A" * 5000, 400, "cursor"),
    Case("alerts-symbol-longer-than-any", "GET", "/alerts?symbol=" + "S" * 33, 422, "symbol"),
    Case("alerts-from-not-a-time", "GET", "/alerts?from=yesterday", 422, "from"),
    Case(
        "alerts-to-before-from", "GET", "/alerts?from=2030-01-02T00:00:00Z&to=2030-01-01T00:00:00Z", 422, "to"
    ),
    Case("alerts-rule-id-129", "GET", "/alerts?rule_id=" + "r" * 129, 422, "rule_id"),
    Case("alerts-empty-cursor", "GET", "/alerts?cursor=", 400, "cursor"),
    Case("owner-of-someone-else", "GET", "/rules?owner=bob", 403, None),
]

INJECTION_IDS = [
    "%27%20OR%20%271%27%3D%271",  # ' OR '1'='1
    "%22%3B%20DROP%20TABLE%20rules%3B--",  # "; DROP TABLE rules;--
    "a%252Fb",  # an encoded "%2F": decoded once by the gateway, never again into a slash
    "rule%23pk",  # the store's key separator
    "%7B%22%24ne%22%3Anull%7D",  # {"$ne":null}
    "%00",
    "%FF%FE",  # not UTF-8
    "x" * 2000,  # longer than any store key
]

PATHS = [
    Case(
        f"{method}-rules-id{route.replace('/', '-')}-{i}",
        method,
        f"/rules/{rid}{route}",
        404,
        None,
        body,
        headers,
    )
    for i, rid in enumerate(INJECTION_IDS)
    for method, route, body, headers in [
        ("GET", "", None, {}),
        ("PATCH", "", json.dumps({"threshold": 5}), {"If-Match": '"1"'}),
        ("DELETE", "", None, {}),
        ("POST", "/pause", None, {}),
        ("GET", "/versions", None, {}),
        ("GET", "/alerts", None, {}),
    ]
]

CASES = [*CREATE, *PATCH, *QUERY, *PATHS]

# Encoded slashes. API Gateway's HTTP API decodes the path before it routes (rawPath arrives decoded), and
# so does the local front: such a path is a path of more segments -- no route (the gateway's own 404
# `{"message": "Not Found"}`), or a route whose rule the caller does not have (the function's 404).
SLASHED = [
    ("GET", "/rules/..%2F..%2Fetc%2Fpasswd"),
    ("GET", "/rules/a%2Fb"),
    ("DELETE", "/rules/a%2Fb"),
    ("GET", "/rules/%2F"),
    ("GET", "/rules/someone-else%2Fversions"),
    ("POST", "/rules/someone-else%2Fpause"),
    ("GET", "/rules/%2E%2E%2Falerts"),
    ("GET", "/rules/%24%7Bjndi%3Aldap%3A%2F%2Fx%7D"),  # ${jndi:ldap://x}
    ("DELETE", "/rules/%24%7Bjndi%3Aldap%3A%2F%2Fx%7D"),
]

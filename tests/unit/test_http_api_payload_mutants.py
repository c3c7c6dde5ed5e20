"""The payload 2.0 mapping (local/http_api_payload.py) pinned value by value, without a server: the gaps a
mutation run found (issue 18). Each test calls the pure functions directly, so mutants of what the module
builds at import (its canned errors) are switched on when the test runs."""

from __future__ import annotations

import base64
import re

import pytest

from local.http_api_payload import (
    INTEGRATION_ERROR,
    INTEGRATION_TIMEOUT,
    NOT_FOUND,
    STAGE,
    THROTTLED,
    TOO_LARGE,
    UNAUTHORIZED,
    Request,
    Response,
    Stage,
    claim_text,
    gateway_error,
    gateway_response,
    new_request_id,
    new_trace_id,
    request_event,
)

JSON = [("content-type", "application/json")]


def test_a_gateway_error_is_a_compact_json_message() -> None:
    assert gateway_error(418, "Tea") == Response(418, JSON, b'{"message":"Tea"}')
    assert gateway_error(500, 'a "b"').body == b'{"message":"a \\"b\\""}'


def test_the_canned_errors_have_api_gateways_statuses_and_messages() -> None:
    canned = [UNAUTHORIZED, NOT_FOUND, TOO_LARGE, THROTTLED, INTEGRATION_ERROR, INTEGRATION_TIMEOUT]
    assert [(r.status, r.headers, r.body) for r in canned] == [
        (401, JSON, b'{"message":"Unauthorized"}'),
        (404, JSON, b'{"message":"Not Found"}'),
        (413, JSON, b'{"message":"Request Entity Too Large"}'),
        (429, JSON, b'{"message":"Too Many Requests"}'),
        (500, JSON, b'{"message":"Internal Server Error"}'),
        (503, JSON, b'{"message":"Service Unavailable"}'),
    ]


def test_a_request_id_is_ten_random_bytes_in_base64() -> None:
    ids = {new_request_id() for _ in range(8)}
    assert len(ids) == 8
    for request_id in ids:
        assert len(base64.b64decode(request_id, validate=True)) == 10


def test_a_trace_id_is_root_1_epoch_seconds_in_hex_and_96_random_bits() -> None:
    trace = new_trace_id(0x5F5E1000 + 0.9)
    assert re.fullmatch(r"Root=1-5f5e1000-[0-9a-f]{24}", trace)
    assert re.fullmatch(r"Root=1-0000000a-[0-9a-f]{24}", new_trace_id(10.0))
    assert new_trace_id(10.0) != new_trace_id(10.0)


def test_claims_render_as_api_gateway_renders_them() -> None:
    assert claim_text(None) is None
    assert claim_text("é x") == "é x"
    assert claim_text(False) == "false"
    assert claim_text(1.5) == "1.5"
    assert claim_text({"a": 1, "n": "é"}) == '{"a":1,"n":"é"}'  # compact, not ASCII-escaped
    assert claim_text([]) == "[]"
    assert claim_text(["a b", 1, True, None, {"k": "é", "j": 2}]) == '[a b 1 true null {"k":"\\u00e9","j":2}]'


def _request(**overrides: object) -> Request:
    fields: dict[str, object] = {
        "method": "POST",
        "path": "/rules/r 1",
        "raw_query": "",
        "headers": [("X-Amzn-Trace-Id", "Root=given")],
        "body": b"",
        "source_ip": "10.0.0.9",
    }
    fields.update(overrides)
    return Request(**fields)  # type: ignore[arg-type]


def _event(request: Request, **overrides: object) -> dict[str, object]:
    arguments: dict[str, object] = {
        "route_key": "POST /rules/{rule_id}",
        "path_parameters": {},
        "claims": {},
        "stage": Stage("111122223333", "abc123", "abc123.execute-api.eu-west-1.amazonaws.com"),
        "request_id": "rid=",
        "now": 1_700_000_000.1239,
    }
    arguments.update(overrides)
    return request_event(request, **arguments)  # type: ignore[arg-type]


def test_the_event_is_payload_2_0_field_by_field() -> None:
    request = _request(
        raw_query="a=1&b=%20x&a=2&c=",
        headers=[
            ("User-Agent", "ua/1"),
            ("X-Amzn-Trace-Id", "Root=given"),
            ("X-Multi", "one"),
            ("x-multi", "two"),
            ("COOKIE", "s=1; t=2;; "),
            ("Cookie", " u=3"),
            ("Content-Type", "Application/JSON; charset=utf-8"),
        ],
        body=b'{"v": "\xc3\xa9\xff"}',
        protocol="HTTP/1.0",
        scheme="http",
        port=8080,
    )
    event = _event(request, path_parameters={"rule_id": "r 1"}, claims={"sub": "s", "n": 3, "gone": None})
    assert event == {
        "version": "2.0",
        "routeKey": "POST /rules/{rule_id}",
        "rawPath": "/rules/r 1",
        "rawQueryString": "a=1&b=%20x&a=2&c=",
        "cookies": ["s=1", "t=2", "u=3"],
        "headers": {
            "user-agent": "ua/1",
            "x-amzn-trace-id": "Root=given",
            "x-multi": "one,two",
            "content-type": "Application/JSON; charset=utf-8",
            "x-forwarded-for": "10.0.0.9",
            "x-forwarded-port": "8080",
            "x-forwarded-proto": "http",
        },
        "queryStringParameters": {"a": "1,2", "b": " x", "c": ""},
        "requestContext": {
            "accountId": "111122223333",
            "apiId": "abc123",
            "authorizer": {"jwt": {"claims": {"sub": "s", "n": "3"}, "scopes": None}},
            "domainName": "abc123.execute-api.eu-west-1.amazonaws.com",
            "domainPrefix": "abc123",
            "http": {
                "method": "POST",
                "path": "/rules/r 1",
                "protocol": "HTTP/1.0",
                "sourceIp": "10.0.0.9",
                "userAgent": "ua/1",
            },
            "requestId": "rid=",
            "routeKey": "POST /rules/{rule_id}",
            "stage": "$default",
            "time": "14/Nov/2023:22:13:20 +0000",
            "timeEpoch": 1_700_000_000_123,
        },
        "pathParameters": {"rule_id": "r 1"},
        "body": '{"v": "é\ufffd"}',  # text: decoded, an invalid byte replaced
        "isBase64Encoded": False,
    }
    assert STAGE == "$default"


def test_an_event_without_content_leaves_the_optional_keys_out() -> None:
    event = _event(_request(headers=[("Cookie", " ; ")]))
    assert "cookies" not in event
    assert "queryStringParameters" not in event
    assert "pathParameters" not in event
    assert "body" not in event
    assert event["isBase64Encoded"] is False
    headers = event["headers"]
    assert isinstance(headers, dict)
    trace = headers.pop("x-amzn-trace-id")  # none was sent: one is started at `now`
    assert headers == {"x-forwarded-for": "10.0.0.9", "x-forwarded-port": "443", "x-forwarded-proto": "https"}
    assert re.fullmatch(r"Root=1-6553f100-[0-9a-f]{24}", trace)
    context = event["requestContext"]
    assert isinstance(context, dict)
    assert context["http"]["userAgent"] == ""
    assert context["http"]["protocol"] == "HTTP/1.1"


def test_the_client_address_is_appended_to_a_forwarded_for_header() -> None:
    event = _event(_request(headers=[("X-Forwarded-For", "1.2.3.4")]))
    headers = event["headers"]
    assert isinstance(headers, dict)
    assert headers["x-forwarded-for"] == "1.2.3.4, 10.0.0.9"


def test_a_query_keeps_blank_values_and_joins_repeats_without_spaces() -> None:
    event = _event(_request(raw_query="x=&x=1&y"))
    assert event["queryStringParameters"] == {"x": ",1", "y": ""}


@pytest.mark.parametrize(
    ("content_type", "text"),
    [
        ("text/plain", True),
        ("TEXT/csv; charset=latin-1", True),
        (" application/json ;x=y", True),
        ("application/json; charset=utf-8; x=y", True),
        ("application/xml", True),
        ("application/javascript", True),
        ("application/jsonx", False),
        ("texts/plain", False),
        ("application/octet-stream", False),
        ("image/png; text/plain", False),
        (None, False),
    ],
)
def test_only_text_media_types_are_passed_as_text(content_type: str | None, text: bool) -> None:
    headers = [("Content-Type", content_type)] if content_type is not None else []
    event = _event(_request(headers=headers, body=b"\x00a\xff"))
    expected = "\x00a\ufffd" if text else base64.b64encode(b"\x00a\xff").decode()
    assert (event["body"], event["isBase64Encoded"]) == (expected, not text)


def test_an_answer_without_status_code_is_a_200_json_body() -> None:
    assert gateway_response(b'{"a": 1}') == Response(200, JSON, b'{"a": 1}')
    assert gateway_response(b"[1, 2]") == Response(200, JSON, b"[1, 2]")
    assert gateway_response(b'"t\\u00e9xt"') == Response(200, JSON, "téxt".encode())
    assert gateway_response(b"null") == Response(200, JSON, b"null")


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b'{"statusCode": "200"}',
        b'{"statusCode": true}',
        b'{"statusCode": 99}',
        b'{"statusCode": 600}',
        b'{"statusCode": 200.0}',
        b'{"statusCode": 200, "headers": []}',
        b'{"statusCode": 200, "cookies": {}}',
        b'{"statusCode": 200, "cookies": "a=1"}',
        b'{"statusCode": 200, "body": 5}',
        b'{"statusCode": 200, "headers": {"a": [1]}}',
        b'{"statusCode": 200, "headers": {"a": null}}',
        b'{"statusCode": 200, "body": "*", "isBase64Encoded": true}',
    ],
)
def test_an_invalid_answer_is_api_gateways_500(payload: bytes) -> None:
    assert gateway_response(payload) == Response(500, JSON, b'{"message":"Internal Server Error"}')


def test_a_proxy_answer_maps_status_headers_cookies_and_body() -> None:
    answer = (
        b'{"statusCode": 100, "headers": {"X-A": "v", "B": true, "C": false, "D": 1, "E": 1.5},'
        b' "cookies": ["a=1", 2], "body": "h\\u00e9"}'
    )
    assert gateway_response(answer) == Response(
        100,
        [
            ("x-a", "v"),
            ("b", "true"),
            ("c", "false"),
            ("d", "1"),
            ("e", "1.5"),
            ("set-cookie", "a=1"),
            ("set-cookie", "2"),
        ],
        "hé".encode(),
    )
    assert gateway_response(b'{"statusCode": 599, "headers": null, "cookies": null}') == Response(599)
    assert gateway_response(b'{"statusCode": 204, "body": null}') == Response(204, [], b"")
    no_body = b'{"statusCode": 204, "headers": {"x": "1"}, "cookies": ["c=1"]}'
    assert gateway_response(no_body) == Response(204, [("x", "1"), ("set-cookie", "c=1")], b"")


def test_a_base64_body_is_decoded_only_when_the_flag_is_true() -> None:
    encoded = base64.b64encode(b"\x00\xff").decode()
    flagged = f'{{"statusCode": 200, "body": "{encoded}", "isBase64Encoded": true}}'.encode()
    assert gateway_response(flagged) == Response(200, [], b"\x00\xff")
    fields = f'"statusCode": 201, "headers": {{"a": "b"}}, "body": "{encoded}", "isBase64Encoded": true'
    with_headers = f"{{{fields}}}".encode()
    assert gateway_response(with_headers) == Response(201, [("a", "b")], b"\x00\xff")
    as_text = f'{{"statusCode": 200, "body": "{encoded}", "isBase64Encoded": "true"}}'.encode()
    assert gateway_response(as_text).body == encoded.encode()
    unflagged = f'{{"statusCode": 200, "body": "{encoded}"}}'.encode()
    assert gateway_response(unflagged).body == encoded.encode()

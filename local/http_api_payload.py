"""API Gateway HTTP API's Lambda proxy payload format 2.0, both ways, as pure functions (no I/O, no clock):
`request_event` builds the event API Gateway gives the function for a request, `gateway_response` maps the
function's answer back to an HTTP response, with API Gateway's own error shapes (A3).

What API Gateway does, as documented ("Working with AWS Lambda proxy integrations for HTTP APIs") and, where
the documentation is silent, as captured from it:
- headers lower-cased, repeated headers joined by commas; `Cookie` moves to `cookies` (split at `; `);
  API Gateway adds `x-forwarded-for` (the client's address appended), `x-forwarded-port`,
  `x-forwarded-proto` and `x-amzn-trace-id` (kept when the client sent one);
- `queryStringParameters` decoded, repeated names joined by commas; `rawQueryString` as sent;
- keys without content (cookies, query, path parameters, body) are left out;
- the body is text only for `text/*`, `application/json`, `application/xml` and `application/javascript`;
  anything else (no Content-Type too) is base64 with `isBase64Encoded` true;
- JWT claims are strings: numbers and booleans in their JSON text, arrays as `[a b c]`, objects as JSON
  text, null-valued claims left out; `scopes` is null for a route without authorization scopes (none of
  this API's routes has any);
- an answer without `statusCode` is a 200 `application/json` response whose body is the answer (a JSON
  string answer is its own text); an answer that is not JSON, or a function error, is 500.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

STAGE = "$default"
_TEXT_TYPES = ("application/json", "application/xml", "application/javascript")


@dataclass(frozen=True)
class Request:
    """An HTTP request as the front received it (path percent-decoded, headers in arrival order)."""

    method: str
    path: str
    raw_query: str
    headers: list[tuple[str, str]]
    body: bytes
    source_ip: str
    protocol: str = "HTTP/1.1"
    scheme: str = "https"  # and port: where the client connected (API Gateway's are https and 443)
    port: int = 443


@dataclass(frozen=True)
class Stage:
    """Where the API runs: what `requestContext` names."""

    account_id: str = "123456789012"
    api_id: str = "localapi01"
    domain_name: str = "localapi01.execute-api.us-east-1.amazonaws.com"


@dataclass(frozen=True)
class Response:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


def gateway_error(status: int, message: str) -> Response:
    """API Gateway's own error: `{"message": ...}` as application/json."""
    body = json.dumps({"message": message}, separators=(",", ":")).encode()
    return Response(status, [("content-type", "application/json")], body)


UNAUTHORIZED = gateway_error(401, "Unauthorized")
NOT_FOUND = gateway_error(404, "Not Found")
TOO_LARGE = gateway_error(413, "Request Entity Too Large")
THROTTLED = gateway_error(429, "Too Many Requests")
INTEGRATION_ERROR = gateway_error(500, "Internal Server Error")
INTEGRATION_TIMEOUT = gateway_error(503, "Service Unavailable")


def new_request_id() -> str:
    """An id of API Gateway's form (`JKJaXmPLvHcESHA=`: 10 random bytes, base64)."""
    return base64.b64encode(secrets.token_bytes(10)).decode()


def new_trace_id(now: float) -> str:
    """An X-Ray trace header as API Gateway starts one: Root=1-<epoch seconds, hex>-<96 random bits>."""
    return f"Root=1-{int(now):08x}-{secrets.token_hex(12)}"


def claim_text(value: Any) -> str | None:
    """A claim's value as API Gateway passes it to the function (None: left out)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "[" + " ".join(_element_text(item) for item in value) + "]"
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _element_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def _joined(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    joined: dict[str, str] = {}
    for name, value in pairs:
        joined[name] = f"{joined[name]},{value}" if name in joined else value
    return joined


def _is_text(content_type: str | None) -> bool:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media.startswith("text/") or media in _TEXT_TYPES


def request_event(
    request: Request,
    route_key: str,
    path_parameters: Mapping[str, str],
    claims: Mapping[str, Any],
    *,
    stage: Stage,
    request_id: str,
    now: float,
) -> dict[str, Any]:
    """The payload format 2.0 event for `request` matched to `route_key`, at epoch seconds `now`."""
    cookies: list[str] = []
    pairs: list[tuple[str, str]] = []
    for name, value in request.headers:
        if name.lower() == "cookie":
            cookies += [c.strip() for c in value.split(";") if c.strip()]
        else:
            pairs.append((name.lower(), value))
    headers = _joined(pairs)
    forwarded = headers.get("x-forwarded-for")
    headers["x-forwarded-for"] = f"{forwarded}, {request.source_ip}" if forwarded else request.source_ip
    headers["x-forwarded-port"] = str(request.port)
    headers["x-forwarded-proto"] = request.scheme
    headers.setdefault("x-amzn-trace-id", new_trace_id(now))
    query = _joined(urllib.parse.parse_qsl(request.raw_query, keep_blank_values=True))
    rendered = {name: text for name, value in claims.items() if (text := claim_text(value)) is not None}
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": request.path,
        "rawQueryString": request.raw_query,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = headers
    if query:
        event["queryStringParameters"] = query
    event["requestContext"] = {
        "accountId": stage.account_id,
        "apiId": stage.api_id,
        "authorizer": {"jwt": {"claims": rendered, "scopes": None}},
        "domainName": stage.domain_name,
        "domainPrefix": stage.domain_name.split(".", 1)[0],
        "http": {
            "method": request.method,
            "path": request.path,
            "protocol": request.protocol,
            "sourceIp": request.source_ip,
            "userAgent": headers.get("user-agent", ""),
        },
        "requestId": request_id,
        "routeKey": route_key,
        "stage": STAGE,
        "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
        "timeEpoch": int(now * 1000),
    }
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    if request.body:
        is_text = _is_text(headers.get("content-type"))
        event["body"] = (
            request.body.decode("utf-8", errors="replace")
            if is_text
            else base64.b64encode(request.body).decode()
        )
        event["isBase64Encoded"] = not is_text
    else:
        event["isBase64Encoded"] = False
    return event


def gateway_response(payload: bytes) -> Response:
    """The HTTP response for the function's answer `payload` (a successful invocation's)."""
    try:
        answer = json.loads(payload)
    except ValueError:
        return INTEGRATION_ERROR
    if not isinstance(answer, dict) or "statusCode" not in answer:
        body = answer if isinstance(answer, str) else payload.decode()
        return Response(200, [("content-type", "application/json")], body.encode())
    try:
        return _proxy_response(answer)
    except (TypeError, ValueError):
        return INTEGRATION_ERROR


def _proxy_response(answer: Mapping[str, Any]) -> Response:
    status = answer["statusCode"]
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise ValueError(f"statusCode {status!r}")
    headers_in = answer.get("headers")
    headers_in = {} if headers_in is None else headers_in
    cookies = answer.get("cookies")
    cookies = [] if cookies is None else cookies
    body = answer.get("body")
    if not isinstance(headers_in, dict) or not isinstance(cookies, list):
        raise TypeError("headers must be an object and cookies a list")
    headers = [(str(name).lower(), _header_text(value)) for name, value in headers_in.items()]
    headers += [("set-cookie", str(cookie)) for cookie in cookies]
    if body is None:
        return Response(status, headers)
    if not isinstance(body, str):
        raise TypeError("body must be a string")
    if answer.get("isBase64Encoded") is True:
        return Response(status, headers, base64.b64decode(body, validate=True))
    return Response(status, headers, body.encode())


def _header_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    raise TypeError(f"header value {value!r}")

"""The API front's pipeline and WSGI mapping (local/api_front.py) pinned without moto or a function process:
the gaps a mutation run found (issue 18). The issuer is a generated key behind an injected JWKS; the
integration is a recording fake."""

from __future__ import annotations

import json
import logging
import threading
import urllib.error
import urllib.request
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from werkzeug.test import EnvironBuilder

from lib.openapi import Route
from local.api_front import (
    FUNCTION_TIMEOUT_S,
    INTEGRATION_TIMEOUT_S,
    MAX_BODY_BYTES,
    ApiFront,
    CognitoPool,
    FrontSettings,
)
from local.http_api_payload import Request, Stage
from local.jwt_authorizer import AuthorizerConfig, JwtAuthorizer
from local.runtime_api import InvocationResult

KEY = RSAKey.generate_key(2048, parameters={"kid": "k"}, private=True)
TOKEN = jwt.encode({"alg": "RS256", "kid": "k"}, {"iss": "https://i", "client_id": "app", "exp": 2**40}, KEY)
ROUTES = (Route("/rules/{rule_id}", "GET"), Route("/rules", "POST"))
STAGE = Stage("111122223333", "api9", "api9.example.com")


class Recorder:
    """A fake integration: records each call and answers `result` (after `release` is set, if given)."""

    def __init__(self, status: str = "ok", payload: bytes = b'{"statusCode": 201, "body": "made"}') -> None:
        self.result = InvocationResult(status, payload, "Oops", 0.0, "r")  # type: ignore[arg-type]
        self.calls: list[tuple[dict[str, Any], float, str | None]] = []
        self.release: threading.Event | None = None
        self.threads: list[str] = []

    def invoke(self, payload: bytes, timeout_s: float, trace_id: str | None = None) -> InvocationResult:
        self.calls.append((json.loads(payload), timeout_s, trace_id))
        self.threads.append(threading.current_thread().name)
        if self.release is not None:
            self.release.wait(10)
        return self.result


def front_for(integration: Recorder, monotonic: Any = None, **settings: Any) -> ApiFront:
    config = AuthorizerConfig("https://i", ("app",), "https://i/jwks")
    authorizer = JwtAuthorizer(config, fetch_jwks=lambda _u: KeySet([KEY]).as_dict(private=False))
    arguments: dict[str, Any] = {"rate": 0.0, "burst": 5, "stage": STAGE, **settings}
    clock = {"monotonic": monotonic} if monotonic is not None else {}
    return ApiFront(
        ROUTES, authorizer, integration, FrontSettings(**arguments), now=lambda: 1_700_000_000.5, **clock
    )


def request(
    method: str = "GET", path: str = "/rules/r1", body: bytes = b"", token: str | None = TOKEN
) -> Request:
    headers = [("X-Amzn-Trace-Id", "Root=t")] + ([("Authorization", f"Bearer {token}")] if token else [])
    return Request(method, path, "q=1", headers, body, "10.1.1.1")


def body_of(status: int, message: str) -> tuple[int, dict[str, str]]:
    return status, {"message": message}


def test_the_settings_default_to_api_gateways_limits() -> None:
    assert (MAX_BODY_BYTES, INTEGRATION_TIMEOUT_S, FUNCTION_TIMEOUT_S) == (10 * 1024 * 1024, 30.0, 30.0)
    settings = FrontSettings(rate=1.5, burst=2)
    assert (settings.function_timeout_s, settings.integration_timeout_s, settings.max_body_bytes) == (
        30.0,
        30.0,
        10 * 1024 * 1024,
    )
    assert settings.stage == Stage()


def test_a_request_goes_to_the_function_with_its_event_timeout_and_trace() -> None:
    integration = Recorder()
    front = front_for(integration, function_timeout_s=7.0)
    response = front.handle(request(), "rid-1")
    assert (response.status, response.body) == (201, b"made")
    assert response.headers == [("apigw-requestid", "rid-1")]
    [(event, timeout_s, trace_id)] = integration.calls
    assert (timeout_s, trace_id, front.invocations) == (7.0, "Root=t", 1)
    assert (event["routeKey"], event["pathParameters"], event["rawQueryString"]) == (
        "GET /rules/{rule_id}",
        {"rule_id": "r1"},
        "q=1",
    )
    context = event["requestContext"]
    assert (context["requestId"], context["timeEpoch"], context["apiId"]) == (
        "rid-1",
        1_700_000_000_500,
        "api9",
    )
    assert context["authorizer"]["jwt"]["claims"]["client_id"] == "app"


def test_a_request_without_an_id_gets_a_new_one() -> None:
    front = front_for(Recorder())
    ids = [dict(front.handle(request()).headers)["apigw-requestid"] for _ in range(2)]
    assert ids[0] != ids[1]
    assert all(len(i) == 16 for i in ids)


def test_the_authorization_header_is_found_by_any_case_and_the_first_one_counts() -> None:
    integration = Recorder()
    front = front_for(integration)
    first = Request("GET", "/rules/r1", "", [("AUTHORIZATION", TOKEN), ("authorization", "junk")], b"", "::1")
    assert front.handle(first, "a").status == 201
    later = Request("GET", "/rules/r1", "", [("authorization", "junk"), ("Authorization", TOKEN)], b"", "::1")
    assert front.handle(later, "b").status == 401


def test_the_body_limit_comes_first_and_takes_no_token(caplog: pytest.LogCaptureFixture) -> None:
    integration = Recorder()
    front = front_for(integration, burst=1, max_body_bytes=4)
    too_large = front.handle(request("PUT", "/nowhere", b"12345", token=None), "x")
    assert (too_large.status, json.loads(too_large.body)) == body_of(413, "Request Entity Too Large")
    assert too_large.headers == [("content-type", "application/json"), ("apigw-requestid", "x")]
    assert front.handle(request("POST", "/rules", b"1234"), "y").status == 201  # at the limit: accepted
    throttled = front.handle(request("PUT", "/nowhere", token=None), "z")  # the one token is spent
    assert (throttled.status, json.loads(throttled.body)) == body_of(429, "Too Many Requests")
    assert front.invocations == 1


def test_an_unknown_route_is_404_before_the_token_is_read() -> None:
    integration = Recorder()
    front = front_for(integration)
    for unknown in (request("DELETE", "/rules/r1", token=None), request("GET", "/rules", token="junk")):
        answer = front.handle(unknown, "x")
        assert (answer.status, json.loads(answer.body)) == body_of(404, "Not Found")
    assert integration.calls == []


def test_a_refused_token_is_401_and_logged_with_its_reason(caplog: pytest.LogCaptureFixture) -> None:
    integration = Recorder()
    front = front_for(integration)
    with caplog.at_level(logging.INFO, logger="api_front"):
        answer = front.handle(request(token=None), "x")
    assert (answer.status, json.loads(answer.body)) == body_of(401, "Unauthorized")
    assert caplog.messages == ["GET /rules/r1: 401 (no Authorization header)"]
    assert (integration.calls, front.invocations) == ([], 0)


@pytest.mark.parametrize("status", ["error", "timeout", "init_error"])
def test_a_failed_invocation_is_500_and_logged(status: str, caplog: pytest.LogCaptureFixture) -> None:
    front = front_for(Recorder(status))
    with caplog.at_level(logging.INFO, logger="api_front"):
        answer = front.handle(request(), "x")
    assert (answer.status, json.loads(answer.body)) == body_of(500, "Internal Server Error")
    assert caplog.messages == [f"integration {status} (Oops): 500"]


def test_no_answer_within_the_integration_timeout_is_503() -> None:
    integration = Recorder()
    integration.release = threading.Event()
    front = front_for(integration, integration_timeout_s=0.05)
    try:
        answer = front.handle(request(), "x")
    finally:
        integration.release.set()
        front.stop()
    assert (answer.status, json.loads(answer.body)) == body_of(503, "Service Unavailable")


def _call(front: ApiFront, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
    started: list[tuple[str, list[tuple[str, str]]]] = []

    def start_response(status: str, headers: list[tuple[str, str]], *_: Any) -> None:
        started.append((status, headers))

    body = b"".join(front.wsgi(environ, start_response))
    return started[0][0], started[0][1], body


def test_wsgi_maps_the_http_request_and_the_answer() -> None:
    integration = Recorder(payload=b'{"statusCode": 202, "headers": {"x-a": "1"}}')
    front = front_for(integration)
    environ = EnvironBuilder(
        method="GET",
        path="/rules/r%201",
        query_string="a=1&b=2",
        headers=[("Authorization", f"Bearer {TOKEN}"), ("X-Amzn-Trace-Id", "Root=w"), ("Cookie", "c=1")],
        environ_overrides={"REMOTE_ADDR": "10.9.9.9", "SERVER_PROTOCOL": "HTTP/1.0", "SERVER_PORT": "8443"},
        base_url="https://localhost:8443",
    ).get_environ()
    status, headers, body = _call(front, environ)
    assert (status, body) == ("202 ACCEPTED", b"")
    assert [h for h in headers if h[0] != "apigw-requestid"] == [("x-a", "1"), ("Content-Length", "0")]
    [(event, _, _)] = integration.calls
    assert (event["rawPath"], event["rawQueryString"], event["cookies"]) == ("/rules/r 1", "a=1&b=2", ["c=1"])
    http = event["requestContext"]["http"]
    assert (http["sourceIp"], http["protocol"], http["method"]) == ("10.9.9.9", "HTTP/1.0", "GET")
    assert (event["headers"]["x-forwarded-port"], event["headers"]["x-forwarded-proto"]) == ("8443", "https")


def test_wsgi_fills_what_the_environ_lacks_with_defaults() -> None:
    integration = Recorder()
    front = front_for(integration)
    environ = EnvironBuilder(
        method="POST", path="/rules", data=b"{}", headers=[("Authorization", TOKEN)]
    ).get_environ()
    for key in ("QUERY_STRING", "SERVER_PROTOCOL", "wsgi.url_scheme", "SERVER_PORT", "REMOTE_ADDR"):
        environ.pop(key, None)
    status, _, _ = _call(front, environ)
    assert status == "201 CREATED"
    [(event, _, _)] = integration.calls
    assert (event["rawQueryString"], event["body"], event["isBase64Encoded"]) == ("", "e30=", True)
    assert event["requestContext"]["http"]["protocol"] == "HTTP/1.1"
    assert event["requestContext"]["http"]["sourceIp"] == ""
    assert (event["headers"]["x-forwarded-port"], event["headers"]["x-forwarded-proto"]) == ("0", "http")


def test_wsgi_refuses_a_body_over_the_limit_before_reading_it() -> None:
    integration = Recorder()
    front = front_for(integration, max_body_bytes=3)
    environ = EnvironBuilder(method="POST", path="/rules", data=b"1234").get_environ()
    status, headers, body = _call(front, environ)
    assert (status, json.loads(body)) == (
        "413 REQUEST ENTITY TOO LARGE",
        {"message": "Request Entity Too Large"},
    )
    assert [name for name, _ in headers] == ["content-type", "apigw-requestid", "Content-Length"]
    assert len(dict(headers)["apigw-requestid"]) == 16
    assert (integration.calls, front.bucket.take()) == ([], True)


class _Unread:
    """A request body stream that must not be read."""

    def read(self, *_: Any) -> bytes:
        raise AssertionError("the body was read")

    readline = read


def test_wsgi_refuses_a_declared_length_over_the_limit_without_reading_the_body() -> None:
    front = front_for(Recorder(), max_body_bytes=3)
    environ = EnvironBuilder(method="POST", path="/rules", data=b"1234").get_environ()
    environ["wsgi.input"] = _Unread()
    status, _, _ = _call(front, environ)
    assert status == "413 REQUEST ENTITY TOO LARGE"


def test_stop_cancels_the_invocations_still_queued() -> None:
    front = front_for(Recorder())
    gate = threading.Event()
    busy = [front._executor.submit(gate.wait, 10) for _ in range(64)]  # every worker of the front
    queued = front._executor.submit(gate.wait, 10)
    front.stop()
    gate.set()
    assert queued.cancelled()
    assert all(future.result(10) for future in busy)


def test_the_front_serves_http_until_stopped(caplog: pytest.LogCaptureFixture) -> None:
    front = front_for(Recorder())
    with pytest.raises(AssertionError, match="not started"):
        _ = front.url
    with caplog.at_level(logging.INFO), front:
        assert front.url.startswith("http://127.0.0.1:")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(front.url + "/nowhere", timeout=10)
        assert refused.value.code == 404
        assert refused.value.headers["Content-Type"] == "application/json"
        assert [r for r in caplog.records if r.name == "werkzeug"] == []  # no access log of werkzeug's
    with pytest.raises(AssertionError):
        _ = front.url
    front.stop()  # a second stop is harmless


def test_a_cognito_pool_configures_the_authorizer() -> None:
    pool = CognitoPool("http://127.0.0.1:5000", "eu-west-1_p", ("a", "b"), "eu-west-1")
    assert pool.authorizer_config() == AuthorizerConfig(
        "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_p",
        ("a", "b"),
        "http://127.0.0.1:5000/eu-west-1_p/.well-known/jwks.json",
    )
    assert CognitoPool("u", "p", ()).region == "us-east-1"


def test_the_stage_throttle_refills_by_the_injected_monotonic_clock() -> None:
    integration = Recorder()
    clock = [500.0]
    front = front_for(integration, monotonic=lambda: clock[0], rate=1.0, burst=1)
    assert [front.handle(request(), "a").status, front.handle(request(), "b").status] == [201, 429]
    clock[0] += 1.0
    assert front.handle(request(), "c").status == 201
    assert all(name.startswith("api-front-invoke") for name in integration.threads)


def test_the_server_handles_requests_concurrently() -> None:
    both = threading.Barrier(2, timeout=5)

    class Meeting(Recorder):
        def invoke(self, payload: bytes, timeout_s: float, trace_id: str | None = None) -> InvocationResult:
            both.wait()  # returns only when the other request is in flight too
            return super().invoke(payload, timeout_s, trace_id)

    statuses: list[int] = []

    def post(url: str) -> None:
        call = urllib.request.Request(url + "/rules", b"{}", {"Authorization": TOKEN}, method="POST")
        with urllib.request.urlopen(call, timeout=10) as reply:
            statuses.append(reply.status)

    with front_for(Meeting()) as front:
        threads = [threading.Thread(target=post, args=(front.url,)) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert statuses == [201, 201]

"""The local API front (local/api_front.py) as API Gateway's HTTP API: black box over HTTP with real tokens
from moto's Cognito, in front of a stand-in function (a Python handler under awslambdaric and the local
Runtime API) that records each invocation and echoes the event it got. The pure parts (route selection,
the payload 2.0 mapping, the token bucket) are checked directly as well."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import signal
import sys
import textwrap
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from lib.openapi import Route, api_routes
from local.api_front import ApiFront, FrontSettings, main
from local.emulator import free_port
from local.function_pool import FunctionPool
from local.http_api_payload import Request, Stage, claim_text, gateway_response, request_event
from local.jwt_authorizer import (
    JWKS_TTL_S,
    REFETCH_INTERVAL_S,
    AuthorizerConfig,
    JwtAuthorizer,
    UnauthorizedError,
    cognito_issuer,
    fetch_jwks_http,
    moto_jwks_url,
)
from local.openapi_routes import load_routes, select
from local.runtime_api import InvocationResult
from local.token_bucket import TokenBucket
from tests.support.cognito import Pool, create_pool
from tests.support.moto_server import moto_environment
from tests.support.python_function import python_function

STAND_IN = """
import base64, json, os, time

def handler(event, context):
    with open(os.environ["STANDIN_LOG"], "a") as log:
        log.write(event["routeKey"] + "\\n")
    mode = event["headers"].get("x-standin", "echo")
    if mode == "fail":
        raise RuntimeError("stand-in failure")
    if mode == "sleep":
        time.sleep(3)
    if mode == "raw":
        return {"echo": event["rawPath"]}
    if mode == "string":
        return "plain text"
    if mode == "binary":
        body = base64.b64encode(b"\\x00\\xff").decode()
        headers = {"content-type": "application/octet-stream"}
        return {"statusCode": 200, "headers": headers, "body": body, "isBase64Encoded": True}
    if mode == "cookies":
        return {"statusCode": 204, "cookies": ["a=1", "b=2; Path=/"], "headers": {"x-n": 7}}
    return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": json.dumps(event)}
"""
UNAUTHORIZED = {"message": "Unauthorized"}


@dataclass
class Reply:
    status: int
    headers: dict[str, str]  # names lower-cased
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class System:
    front: ApiFront
    pool: Pool  # the configured issuer; its app client is the configured audience
    other_client: str  # an app client of the same pool that is not in the audience
    other_pool: Pool  # another pool on the same moto (same signing key)
    log: Path  # one line per invocation the stand-in function received

    def invocations(self) -> int:
        return len(self.log.read_text().splitlines()) if self.log.exists() else 0

    def token(self, user: str = "alice") -> str:
        return self.pool.tokens(user)["access"]


def call(
    url: str,
    method: str,
    path: str,
    token: str | None = None,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    request = urllib.request.Request(url + path, data=body, method=method, headers=headers or {})
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return Reply(
                response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
            )
    except urllib.error.HTTPError as error:
        return Reply(error.code, {k.lower(): v for k, v in error.headers.items()}, error.read())


def authorizer_for(pool: Pool, *audience: str) -> JwtAuthorizer:
    config = AuthorizerConfig(
        issuer=cognito_issuer("us-east-1", pool.pool_id),
        audience=audience or (pool.client_id,),
        jwks_url=moto_jwks_url(pool.endpoint, pool.pool_id),
    )
    return JwtAuthorizer(config)


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    tmp = tmp_path_factory.mktemp("front")
    log = tmp / "invocations.log"
    with moto_environment() as endpoint:
        pool, other_pool = create_pool(endpoint, "traders"), create_pool(endpoint, "elsewhere")
        pool.add_user("alice", groups=("operators",))
        pool.add_user("bob")
        other_pool.add_user("mallory")
        other_client = pool.add_client("not-the-api")
        settings = FrontSettings(rate=10_000, burst=10_000, integration_timeout_s=20)
        with (
            python_function(tmp, "stand_in", STAND_IN, {"STANDIN_LOG": str(log)}) as function,
            ApiFront(load_routes(), authorizer_for(pool), function, settings) as front,
        ):
            yield System(front, pool, other_client, other_pool, log)


# -- the JWT authorizer: every failure is 401 in API Gateway's shape and reaches no function ---------------
def _segment(document: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(document).encode()).rstrip(b"=").decode()


def _claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def _forged_tokens(system: System) -> dict[str, str]:
    """Tokens that must not pass, each built from a real one's claims."""
    real = system.token()
    claims = _claims_of(real)
    header, payload, signature = real.split(".")
    own_key = RSAKey.generate_key(2048, parameters={"kid": "dummy"}, private=True)
    other_kid = RSAKey.generate_key(2048, parameters={"kid": "rotated"}, private=True)
    jwks = fetch_jwks_http(moto_jwks_url(system.pool.endpoint, system.pool.pool_id))
    public_pem = RSAKey.import_key(jwks["keys"][0]).as_pem(private=False)
    hs_header = _segment({"alg": "HS256", "kid": "dummy", "typ": "JWT"})
    hs_input = f"{hs_header}.{payload}".encode()
    hs_signature = hmac.new(public_pem, hs_input, hashlib.sha256).digest()
    tampered = dict(claims, sub="someone-else")
    return {
        "malformed": "not.a.jwt",
        "garbage": "Zm9v",
        "wrong signature": f"{header}.{payload}.{signature[:-6]}AAAAAA",
        "tampered claims": f"{header}.{_segment(tampered)}.{signature}",
        "forged with another key under kid dummy": jwt.encode(
            {"alg": "RS256", "kid": "dummy"}, claims, own_key
        ),
        "kid not in the JWKS": jwt.encode({"alg": "RS256", "kid": "rotated"}, claims, other_kid),
        "no kid": jwt.encode({"alg": "RS256"}, claims, own_key),
        "alg none": f"{_segment({'alg': 'none', 'kid': 'dummy'})}.{payload}.",
        "HS256 with the public key as secret": (
            f"{hs_header}.{payload}.{base64.urlsafe_b64encode(hs_signature).rstrip(b'=').decode()}"
        ),
        "another pool's token": system.other_pool.tokens("mallory")["access"],
        "another app client's token": system.pool.tokens("alice", system.other_client)["access"],
        "another pool's ID token": system.other_pool.tokens("mallory")["id"],
    }


def test_every_token_failure_is_401_and_reaches_no_function(system: System) -> None:
    before = system.invocations()
    cases: dict[str, dict[str, str]] = {
        "missing": {},
        "empty bearer": {"Authorization": "Bearer "},
        "another scheme": {"Authorization": "Basic YWxpY2U6cHc="},
        **{name: {"Authorization": f"Bearer {t}"} for name, t in _forged_tokens(system).items()},
    }
    for name, headers in cases.items():
        reply = call(system.front.url, "GET", "/rules", headers=headers)
        assert (reply.status, reply.json()) == (401, UNAUTHORIZED), name
        assert reply.headers["content-type"] == "application/json", name
        assert reply.headers["apigw-requestid"], name
    assert system.invocations() == before  # the function saw none of them
    assert call(system.front.url, "GET", "/rules", system.token()).status == 200
    assert system.invocations() == before + 1


# Which check refuses each forged token (the authorizer's reason, logged by the front, never sent).
REFUSED_BY = {
    "malformed": "malformed token",
    "garbage": "malformed token",
    "wrong signature": "BadSignatureError",
    "tampered claims": "BadSignatureError",
    "forged with another key under kid dummy": "BadSignatureError",
    "kid not in the JWKS": "kid 'rotated' is not in the issuer's JWKS",
    "no kid": "no kid",
    "alg none": "algorithm 'none' is not allowed",
    "HS256 with the public key as secret": "algorithm 'HS256' is not allowed",
    "another pool's token": "iss",
    "another app client's token": "client_id",
    "another pool's ID token": "iss",
}


def test_each_forged_token_is_refused_by_the_check_meant_for_it(system: System) -> None:
    authorizer = authorizer_for(system.pool)
    forged = _forged_tokens(system)
    assert set(forged) == set(REFUSED_BY)
    for name, token in forged.items():
        with pytest.raises(UnauthorizedError) as refused:
            authorizer.authorize(f"Bearer {token}")
        assert REFUSED_BY[name] in refused.value.reason, (name, refused.value.reason)


def test_pools_share_one_signing_key_so_only_issuer_and_audience_keep_them_apart(system: System) -> None:
    """moto signs every pool's tokens with one key: another pool's token has a valid signature against this
    pool's JWKS. The front refuses it for its issuer -- even with that pool's client in the audience."""
    foreign = system.other_pool.tokens("mallory")["access"]
    jwks = fetch_jwks_http(moto_jwks_url(system.pool.endpoint, system.pool.pool_id))
    verified = jwt.decode(foreign, KeySet.import_key_set(dict(jwks)), algorithms=["RS256"])  # type: ignore[arg-type]
    assert verified.claims["iss"] == cognito_issuer("us-east-1", system.other_pool.pool_id)
    permissive = authorizer_for(system.pool, system.pool.client_id, system.other_pool.client_id)
    with pytest.raises(UnauthorizedError, match="iss"):
        permissive.authorize(f"Bearer {foreign}")
    # The same client list, the right issuer: a token of this pool passes; one of a client outside the
    # audience does not.
    assert permissive.authorize(f"Bearer {system.token()}")["client_id"] == system.pool.client_id
    with pytest.raises(UnauthorizedError, match="client_id"):
        permissive.authorize(system.pool.tokens("alice", system.other_client)["access"])


def test_access_tokens_pass_by_client_id_and_id_tokens_by_aud_without_token_use(system: System) -> None:
    """API Gateway reads `aud` (ID tokens) or, without it, `client_id` (access tokens); it does not check
    `token_use` -- the function refuses ID tokens (A1)."""
    tokens = system.pool.tokens("bob")
    authorizer = authorizer_for(system.pool)
    assert authorizer.authorize(tokens["access"])["token_use"] == "access"  # bare token: accepted too
    assert authorizer.authorize(f"bearer {tokens['id']}")["token_use"] == "id"
    reply = call(system.front.url, "GET", "/alerts", tokens["id"])
    assert reply.status == 200
    assert reply.json()["requestContext"]["authorizer"]["jwt"]["claims"]["token_use"] == "id"


def test_expiry_not_before_and_issued_at_are_read_against_the_injected_clock(system: System) -> None:
    token = system.token()
    claims = _claims_of(token)
    authorizer = authorizer_for(system.pool)
    authorizer.authorize(token)
    authorizer.now = lambda: claims["exp"]  # exp must be after now
    with pytest.raises(UnauthorizedError, match="exp"):
        authorizer.authorize(token)
    authorizer.now = lambda: claims["iat"] - 1  # issued in the future
    with pytest.raises(UnauthorizedError, match="issued in the future"):
        authorizer.authorize(token)
    # nbf, exp required: tokens of a key of our own, served as the issuer's JWKS through the port.
    key = RSAKey.generate_key(2048, parameters={"kid": "k1"}, private=True)
    config = AuthorizerConfig("https://issuer.example", ("app",), "https://issuer.example/jwks")
    own = JwtAuthorizer(
        config, fetch_jwks=lambda _url: KeySet([key]).as_dict(private=False), now=lambda: 1000.0
    )
    base = {"iss": "https://issuer.example", "client_id": "app", "exp": 2000}
    sign = lambda c: jwt.encode({"alg": "RS256", "kid": "k1"}, c, key)  # noqa: E731
    assert own.authorize(sign({**base, "nbf": 1000}))["nbf"] == 1000
    with pytest.raises(UnauthorizedError, match="not yet valid"):
        own.authorize(sign({**base, "nbf": 1001}))
    with pytest.raises(UnauthorizedError, match="exp"):
        own.authorize(sign({k: v for k, v in base.items() if k != "exp"}))
    with pytest.raises(UnauthorizedError, match="aud"):
        own.authorize(sign({**base, "aud": ["other"], "client_id": "app"}))  # aud present: aud decides
    assert own.authorize(sign({**base, "aud": ["other", "app"]}))["aud"] == ["other", "app"]


def test_the_jwks_is_cached_and_fetched_again_once_for_an_unknown_kid() -> None:
    keys = [RSAKey.generate_key(2048, parameters={"kid": k}, private=True) for k in ("k1", "k2")]
    served = [keys[0]]
    fetched: list[str] = []

    def fetch(url: str) -> dict[str, Any]:
        fetched.append(url)
        return dict(KeySet(list(served)).as_dict(private=False))

    clock = [0.0]
    config = AuthorizerConfig("https://i", ("app",), "https://i/jwks")
    authorizer = JwtAuthorizer(config, fetch_jwks=fetch, now=lambda: 1000.0, monotonic=lambda: clock[0])
    claims = {"iss": "https://i", "client_id": "app", "exp": 2000}
    by = [jwt.encode({"alg": "RS256", "kid": k.kid}, claims, k) for k in keys]
    authorizer.authorize(by[0])
    authorizer.authorize(by[0])
    assert len(fetched) == 1  # cached
    served.append(keys[1])  # the issuer rotates in a new key
    with pytest.raises(UnauthorizedError, match="k2"):
        authorizer.authorize(by[1])  # within the refetch interval: not fetched again
    assert len(fetched) == 1
    clock[0] += REFETCH_INTERVAL_S
    assert authorizer.authorize(by[1])["client_id"] == "app"  # unknown kid: fetched once more
    assert len(fetched) == 2
    clock[0] += REFETCH_INTERVAL_S
    bogus = jwt.encode({"alg": "RS256", "kid": "k3"}, claims, keys[0])
    for _ in range(3):
        with pytest.raises(UnauthorizedError, match="k3"):
            authorizer.authorize(bogus)
    assert len(fetched) == 3  # one refetch for the unknown kid, not one per request
    clock[0] += JWKS_TTL_S + 1
    authorizer.authorize(by[0])
    assert len(fetched) == 4  # the cache's lifetime is over
    failing = JwtAuthorizer(config, fetch_jwks=lambda _url: {"keys": "nope"})
    with pytest.raises(UnauthorizedError, match="JWKS unavailable"):
        failing.authorize(by[0])


def test_a_jwks_document_that_is_not_an_object_is_refused(tmp_path: Path) -> None:
    listed = tmp_path / "jwks.json"
    listed.write_text("[]")
    with pytest.raises(ValueError, match="a JWKS is a JSON object"):
        fetch_jwks_http(listed.as_uri())


# -- routes: the OpenAPI document's, most specific first; 404 before any token is read ---------------------
def test_the_front_serves_the_routes_the_stack_deploys() -> None:
    routes = load_routes()
    assert routes == api_routes()
    assert Route("/rules/import", "POST") in routes
    assert Route("/symbols/{symbol}/suspension", "PUT") in routes


def test_the_most_specific_route_of_the_method_is_selected() -> None:
    routes = (
        Route("/rules/{rule_id}", "GET"),
        Route("/rules/import", "GET"),
        Route("/rules/import", "POST"),
        Route("/{a}/{b}/x", "GET"),
        Route("/rules/{rule_id}/x", "GET"),
    )
    chosen = select(routes, "GET", "/rules/import")
    assert chosen is not None
    assert (chosen.route.path, chosen.path_parameters) == ("/rules/import", {})
    chosen = select(routes, "GET", "/rules/r-1")
    assert chosen is not None
    assert chosen.path_parameters == {"rule_id": "r-1"}
    chosen = select(routes, "GET", "/rules/r-1/x")
    assert chosen is not None
    assert chosen.route.path == "/rules/{rule_id}/x"
    chosen = select(routes, "GET", "/other/r-1/x")
    assert chosen is not None
    assert chosen.path_parameters == {"a": "other", "b": "r-1"}
    assert select(routes, "DELETE", "/rules/r-1") is None  # the path exists, the method does not
    assert select(routes, "GET", "/rules/") is None  # a variable never takes an empty segment
    assert select(routes, "GET", "/rules") is None
    assert select(routes, "GET", "/rules/import/more") is None


def test_unknown_routes_are_404_without_a_token_and_reach_no_function(system: System) -> None:
    before = system.invocations()
    for method, path in [("GET", "/nope"), ("DELETE", "/rules"), ("GET", "/rules/"), ("PUT", "/alerts")]:
        reply = call(system.front.url, method, path)
        assert (reply.status, reply.json()) == (404, {"message": "Not Found"}), (method, path)
    assert system.invocations() == before


# -- the payload 2.0 event --------------------------------------------------------------------------------
def test_the_event_has_api_gateways_payload_2_shape(system: System) -> None:
    token = system.token()
    claims = _claims_of(token)
    headers = {
        "Cookie": "session=abc; theme=dark",
        "X-Custom": "one",
        "User-Agent": "alerts-test/1.0",
        "Content-Type": "application/json",
        "X-Forwarded-For": "10.1.1.1",
        "X-Amzn-Trace-Id": "Root=1-5e9a1b2c-0123456789abcdef01234567",
    }
    started = time.time()
    reply = call(
        system.front.url,
        "POST",
        "/rules/r%201/pause?x=1&x=2&y=a%20b&empty=",
        token,
        b'{"reason": "caf\xc3\xa9"}',
        headers,
    )
    assert reply.status == 200
    event = reply.json()
    context = event.pop("requestContext")
    port = system.front.url.rsplit(":", 1)[1]
    assert event == {
        "version": "2.0",
        "routeKey": "POST /rules/{rule_id}/pause",
        "rawPath": "/rules/r 1/pause",  # HTTP APIs pass the path percent-decoded
        "rawQueryString": "x=1&x=2&y=a%20b&empty=",
        "cookies": ["session=abc", "theme=dark"],
        "headers": {
            "accept-encoding": "identity",
            "authorization": f"Bearer {token}",
            "content-length": "19",
            "content-type": "application/json",
            "host": f"127.0.0.1:{port}",
            "user-agent": "alerts-test/1.0",
            "x-custom": "one",
            "connection": "close",
            "x-forwarded-for": "10.1.1.1, 127.0.0.1",  # the client's address appended
            "x-forwarded-port": port,
            "x-forwarded-proto": "http",
            "x-amzn-trace-id": "Root=1-5e9a1b2c-0123456789abcdef01234567",  # the client's, kept
        },
        "queryStringParameters": {"x": "1,2", "y": "a b", "empty": ""},
        "pathParameters": {"rule_id": "r 1"},
        "body": '{"reason": "café"}',
        "isBase64Encoded": False,
    }
    request_id = context.pop("requestId")
    assert reply.headers["apigw-requestid"] == request_id
    assert len(base64.b64decode(request_id)) == 10
    epoch_ms = context.pop("timeEpoch")
    assert started * 1000 - 1 <= epoch_ms <= time.time() * 1000 + 1
    assert context.pop("time") == time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(epoch_ms / 1000))
    assert context == {
        "accountId": "123456789012",
        "apiId": "localapi01",
        "authorizer": {
            "jwt": {
                "claims": {
                    **{k: str(v) for k, v in claims.items() if not isinstance(v, list)},
                    "cognito:groups": "[operators]",
                },
                "scopes": None,
            }
        },
        "domainName": "localapi01.execute-api.us-east-1.amazonaws.com",
        "domainPrefix": "localapi01",
        "http": {
            "method": "POST",
            "path": "/rules/r 1/pause",
            "protocol": "HTTP/1.1",
            "sourceIp": "127.0.0.1",
            "userAgent": "alerts-test/1.0",
        },
        "routeKey": "POST /rules/{rule_id}/pause",
        "stage": "$default",
    }


def test_a_binary_body_is_base64_and_an_empty_one_is_left_out(system: System) -> None:
    token = system.token()
    binary = call(system.front.url, "PUT", "/symbols/AAPL/band", token, b"\x00\xffab")
    event = binary.json()
    assert (event["body"], event["isBase64Encoded"]) == (base64.b64encode(b"\x00\xffab").decode(), True)
    assert event["pathParameters"] == {"symbol": "AAPL"}
    form = call(
        system.front.url,
        "PUT",
        "/symbols/AAPL/band",
        token,
        b"a=1",
        {"Content-Type": "application/x-www-form-urlencoded"},
    ).json()
    assert form["isBase64Encoded"] is True  # only text/* and JSON, XML, JavaScript travel as text
    text = call(
        system.front.url, "PUT", "/symbols/AAPL/band", token, b"a", {"Content-Type": "text/plain"}
    ).json()
    assert (text["body"], text["isBase64Encoded"]) == ("a", False)
    empty = call(system.front.url, "GET", "/rules", token).json()
    assert "body" not in empty
    assert empty["isBase64Encoded"] is False
    assert {"cookies", "queryStringParameters", "pathParameters"}.isdisjoint(empty)


def test_claims_are_strings_as_api_gateway_renders_them() -> None:
    assert claim_text("x") == "x"
    assert claim_text(1787996002) == "1787996002"
    assert claim_text(True) == "true"
    assert claim_text(["admin", "ops", 3]) == "[admin ops 3]"
    assert claim_text({"a": 1}) == '{"a":1}'
    assert claim_text(None) is None
    request = Request("GET", "/alerts", "", [], b"", "10.0.0.1")
    event = request_event(
        request,
        "GET /alerts",
        {},
        {"sub": "s", "gone": None},
        stage=Stage("111122223333", "abc123", "api.example.com"),
        request_id="id",
        now=0.0,
    )
    assert event["requestContext"]["authorizer"]["jwt"]["claims"] == {"sub": "s"}
    assert event["requestContext"]["domainPrefix"] == "api"
    assert event["requestContext"]["http"]["userAgent"] == ""
    assert event["requestContext"]["time"] == "01/Jan/1970:00:00:00 +0000"
    assert event["headers"]["x-forwarded-for"] == "10.0.0.1"
    assert (event["headers"]["x-forwarded-port"], event["headers"]["x-forwarded-proto"]) == ("443", "https")
    assert re.fullmatch(r"Root=1-00000000-[0-9a-f]{24}", event["headers"]["x-amzn-trace-id"])


# -- the function's answer --------------------------------------------------------------------------------
def test_the_functions_answer_is_mapped_as_api_gateway_maps_it(system: System) -> None:
    token = system.token()

    def as_mode(mode: str) -> Reply:
        return call(system.front.url, "GET", "/alerts", token, headers={"X-Standin": mode})

    raw = as_mode("raw")  # no statusCode: 200, the answer is the JSON body
    assert (raw.status, raw.headers["content-type"], raw.json()) == (
        200,
        "application/json",
        {"echo": "/alerts"},
    )
    text = as_mode("string")
    assert (text.status, text.body) == (200, b"plain text")
    binary = as_mode("binary")
    assert (binary.status, binary.body) == (200, b"\x00\xff")
    cookies = urllib.request.urlopen(
        urllib.request.Request(
            system.front.url + "/alerts",
            headers={"Authorization": f"Bearer {token}", "X-Standin": "cookies"},
        )
    )
    assert cookies.status == 204
    assert cookies.headers.get_all("Set-Cookie") == ["a=1", "b=2; Path=/"]
    assert cookies.headers["x-n"] == "7"
    assert "Content-Type" not in cookies.headers  # none is invented
    failed = as_mode("fail")
    assert (failed.status, failed.json()) == (500, {"message": "Internal Server Error"})


def test_invalid_answers_are_500() -> None:
    assert gateway_response(b"not json").status == 500
    assert gateway_response(b'{"statusCode": "200"}').status == 500
    assert gateway_response(b'{"statusCode": true}').status == 500
    assert gateway_response(b'{"statusCode": 99}').status == 500
    assert gateway_response(b'{"statusCode": 200, "headers": []}').status == 500
    assert gateway_response(b'{"statusCode": 200, "body": 5}').status == 500
    assert gateway_response(b'{"statusCode": 200, "headers": {"a": [1]}}').status == 500
    assert gateway_response(b'{"statusCode": 200, "body": "*", "isBase64Encoded": true}').status == 500
    listed = gateway_response(b"[1, 2]")
    assert (listed.status, listed.body) == (200, b"[1, 2]")
    flags = gateway_response(b'{"statusCode": 200, "headers": {"a": false, "b": 1.5}, "body": "x"}')
    assert (flags.headers, flags.body) == ([("a", "false"), ("b", "1.5")], b"x")


class _Integration:
    """A fake integration: answers `result` after `delay` seconds."""

    def __init__(self, result: InvocationResult, delay: float = 0.0) -> None:
        self.result = result
        self.delay = delay
        self.calls = 0
        self.trace_ids: list[str | None] = []

    def invoke(self, payload: bytes, timeout_s: float, trace_id: str | None = None) -> InvocationResult:
        self.calls += 1
        self.trace_ids.append(trace_id)
        time.sleep(self.delay)
        return self.result


_KEY = RSAKey.generate_key(2048, parameters={"kid": "k"}, private=True)
_TOKEN = jwt.encode(
    {"alg": "RS256", "kid": "k"}, {"iss": "https://i", "client_id": "app", "exp": 2**40}, _KEY
)


def _front(integration: _Integration, **settings: Any) -> ApiFront:
    """A front (not serving HTTP) whose issuer signs with _KEY, in front of a fake integration."""
    config = AuthorizerConfig("https://i", ("app",), "https://i/jwks")
    authorizer = JwtAuthorizer(config, fetch_jwks=lambda _u: KeySet([_KEY]).as_dict(private=False))
    return ApiFront(load_routes(), authorizer, integration, FrontSettings(**settings))


def _post(front: ApiFront, body: bytes = b"") -> int:
    headers = [("Authorization", f"Bearer {_TOKEN}")]
    return front.handle(Request("POST", "/rules", "", headers, body, "127.0.0.1")).status


def test_a_function_error_is_500_and_no_answer_within_the_integration_timeout_is_503() -> None:
    for status in ("error", "timeout", "init_error"):
        failing = _Integration(InvocationResult(status, b"{}", "Oops", 0.0, "r"))
        front = _front(failing, rate=10, burst=10)
        assert _post(front) == 500, status
        front.stop()
    slow = _front(
        _Integration(InvocationResult("ok", b"{}", None, 0, "r"), 1.0),
        rate=1,
        burst=1,
        integration_timeout_s=0.2,
    )
    reply = slow.handle(Request("GET", "/alerts", "", [("authorization", _TOKEN)], b"", "::1"))
    assert (reply.status, json.loads(reply.body)) == (503, {"message": "Service Unavailable"})
    slow.stop()


def test_black_box_integration_timeout(system: System) -> None:
    settings = FrontSettings(rate=10, burst=10, integration_timeout_s=1.0)
    front = ApiFront(load_routes(), system.front.authorizer, system.front.integration, settings)
    with front:
        reply = call(front.url, "GET", "/alerts", system.token(), headers={"X-Standin": "sleep"})
    assert (reply.status, reply.json()) == (503, {"message": "Service Unavailable"})


# -- stage throttling and the payload limit ---------------------------------------------------------------
def test_token_bucket_rate_and_burst() -> None:
    clock = [0.0]
    bucket = TokenBucket(rate=2.0, burst=3, clock=lambda: clock[0])
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]  # the burst, then empty
    clock[0] += 0.5  # one token back at 2/s
    assert [bucket.take(), bucket.take()] == [True, False]
    clock[0] += 100.0  # never more than the burst
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    with pytest.raises(ValueError, match="not negative"):
        TokenBucket(rate=-1, burst=1)


def test_throttled_requests_are_429_and_reach_no_function(system: System) -> None:
    settings = FrontSettings(rate=0.001, burst=2)
    front = ApiFront(load_routes(), system.front.authorizer, system.front.integration, settings)
    token = system.token()
    before = system.invocations()
    with front:
        statuses = [call(front.url, "GET", "/alerts", token).status for _ in range(2)]
        throttled = call(front.url, "GET", "/alerts", token)
    assert statuses == [200, 200]
    assert (throttled.status, throttled.json()) == (429, {"message": "Too Many Requests"})
    assert system.invocations() == before + 2


def test_a_body_over_10_mb_is_413_and_reaches_no_function(system: System) -> None:
    before = system.invocations()
    limit = 10 * 1024 * 1024
    over = call(system.front.url, "POST", "/rules", system.token(), b"x" * (limit + 1))
    assert (over.status, over.json()) == (413, {"message": "Request Entity Too Large"})
    assert len(base64.b64decode(over.headers["apigw-requestid"])) == 10
    assert system.invocations() == before
    integration = _Integration(InvocationResult("ok", b"{}", None, 0, "r"))
    small = _front(integration, rate=5, burst=5, max_body_bytes=4)
    assert _post(small, b"12345") == 413
    assert integration.calls == 0
    assert _post(small, b"1234") == 200  # the limit itself is allowed
    assert integration.calls == 1
    assert str(integration.trace_ids[0]).startswith("Root=1-")  # the event's trace reaches Lambda
    small.stop()


def test_main_serves_until_stopped(tmp_path: Path, system: System) -> None:
    log = tmp_path / "main.log"
    (tmp_path / "stand_in.py").write_text(textwrap.dedent(STAND_IN))
    stop = threading.Event()
    printed: list[str] = []
    argv = [
        "--moto-url", system.pool.endpoint, "--pool-id", system.pool.pool_id,
        "--client-id", system.pool.client_id, "--rate", "5", "--burst", "5", "--concurrency", "2",
        "--env", f"PYTHONPATH={tmp_path}", "--env", f"STANDIN_LOG={log}", "--",
        sys.executable, "-m", "awslambdaric", "stand_in.handler",
    ]  # fmt: skip
    port = free_port()
    argv = ["--port", str(port), *argv]  # options before the command's "--"
    replies: list[Reply] = []
    token = system.token()

    def client() -> None:
        """Calls the front once it has printed its URL, then stops it."""
        deadline = time.monotonic() + 20
        while not printed and time.monotonic() < deadline:
            time.sleep(0.05)
        replies.append(call(printed[0], "GET", "/alerts", token))
        stop.set()

    handler_before = signal.getsignal(signal.SIGTERM)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("builtins.print", lambda *a, **_k: printed.append(str(a[0])))
        thread = threading.Thread(target=client)
        thread.start()
        assert main(argv, stop) == 0  # in the main thread: it installs its signal handlers
        thread.join(20)
    assert printed[0] == f"http://127.0.0.1:{port}"  # the port asked for
    assert replies[0].status == 200
    assert replies[0].json()["routeKey"] == "GET /alerts"
    assert signal.getsignal(signal.SIGTERM) == handler_before  # restored


# -- Lambda's concurrency behind the front ---------------------------------------------------------------
class _Environment:
    """A fake execution environment: each invocation waits at `barrier` (when given)."""

    def __init__(self, barrier: threading.Barrier | None) -> None:
        self.barrier = barrier
        self.closed = False
        self.invocations = 0

    def invoke(self, payload: bytes, timeout_s: float, trace_id: str | None = None) -> InvocationResult:
        self.invocations += 1
        if self.barrier is not None:
            self.barrier.wait(timeout=10)  # breaks (an error) unless all parties run at once
        return InvocationResult("ok", payload, None, 0.0, "r")

    def close(self) -> None:
        self.closed = True


def test_invocations_in_flight_together_get_environments_of_their_own_up_to_the_limit() -> None:
    barrier = threading.Barrier(3)
    pool = FunctionPool(lambda: _Environment(barrier), max_environments=3)
    results: list[InvocationResult] = []
    threads = [threading.Thread(target=lambda: results.append(pool.invoke(b"{}", 5))) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert [r.status for r in results] == ["ok"] * 3  # all three waited at the barrier together
    assert len(pool.environments) == 3
    environments = list(pool.environments)
    for environment in environments:
        environment.barrier = None  # type: ignore[attr-defined]
    with pool:
        pool.invoke(b"{}", 5, "Root=1-x")  # a warm environment is reused, none started
        assert len(pool.environments) == 3
    assert all(e.closed for e in environments)  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="at least one"):
        FunctionPool(lambda: _Environment(None), max_environments=0)


def test_at_the_limit_an_invocation_waits_for_a_free_environment() -> None:
    release = threading.Event()
    started: list[str] = []

    class Slow(_Environment):
        def invoke(self, payload: bytes, timeout_s: float, trace_id: str | None = None) -> InvocationResult:
            started.append(payload.decode())
            release.wait(10)
            return super().invoke(payload, timeout_s, trace_id)

    pool = FunctionPool(lambda: Slow(None), max_environments=1)
    first = threading.Thread(target=pool.invoke, args=(b"first", 5))
    second = threading.Thread(target=pool.invoke, args=(b"second", 5))
    first.start()
    while not started:
        time.sleep(0.01)
    second.start()
    second.join(0.2)
    assert started == ["first"]  # the second waits: the one environment is busy
    release.set()
    first.join(10)
    second.join(10)
    assert started == ["first", "second"]
    assert len(pool.environments) == 1


def test_an_environment_that_fails_to_start_frees_its_place() -> None:
    attempts: list[int] = []

    def start() -> _Environment:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("no environment")
        return _Environment(None)

    pool = FunctionPool(start, max_environments=1)
    with pytest.raises(RuntimeError, match="no environment"):
        pool.invoke(b"{}", 5)
    assert pool.invoke(b"{}", 5).status == "ok"
    assert len(pool.environments) == 1

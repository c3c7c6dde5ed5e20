"""The JWT authorizer (local/jwt_authorizer.py) pinned at its boundaries without a server: the gaps a
mutation run found (issue 18). Tokens are signed here with generated keys; the JWKS and both clocks are
injected."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, OctKey, RSAKey

from local import jwt_authorizer
from local.jwt_authorizer import (
    ALGORITHMS,
    FETCH_TIMEOUT_S,
    JWKS_TTL_S,
    REFETCH_INTERVAL_S,
    AuthorizerConfig,
    JwtAuthorizer,
    UnauthorizedError,
    cognito_issuer,
    fetch_jwks_http,
    moto_jwks_url,
)

ISSUER = "https://issuer"
CONFIG = AuthorizerConfig(ISSUER, ("app", "web"), "https://issuer/jwks")
NOW = 1000.7  # the tokens' clock; claims compare against int(NOW) = 1000
KEY = RSAKey.generate_key(2048, parameters={"kid": "k1"}, private=True)
OTHER = RSAKey.generate_key(2048, parameters={"kid": "k2"}, private=True)


class Issuer:
    """A JWKS port that records each fetch and serves the keys of `served` (or raises `failure`)."""

    def __init__(self, *served: Any) -> None:
        self.served = list(served)
        self.urls: list[str] = []
        self.failure: Exception | None = None
        self.clock = 0.0

    def fetch(self, url: str) -> dict[str, Any]:
        self.urls.append(url)
        if self.failure is not None:
            raise self.failure
        return dict(KeySet(self.served).as_dict(private=False))

    def authorizer(self) -> JwtAuthorizer:
        return JwtAuthorizer(CONFIG, fetch_jwks=self.fetch, now=lambda: NOW, monotonic=lambda: self.clock)


def token(claims: dict[str, Any] | None = None, key: RSAKey = KEY, **header: Any) -> str:
    body = {"iss": ISSUER, "client_id": "app", "exp": 2000} if claims is None else claims
    return jwt.encode({"alg": "RS256", "kid": key.kid, **header}, body, key)


def refusal(authorizer: JwtAuthorizer, authorization: str | None) -> str:
    with pytest.raises(UnauthorizedError) as caught:
        authorizer.authorize(authorization)
    assert caught.value.reason == str(caught.value)
    return caught.value.reason


def test_the_contract_constants_are_api_gateways() -> None:
    assert ALGORITHMS == ("RS256",)
    assert (JWKS_TTL_S, REFETCH_INTERVAL_S, FETCH_TIMEOUT_S) == (7200.0, 10.0, 5.0)


def test_cognito_issuer_and_moto_jwks_url_are_spelled_exactly() -> None:
    assert (
        cognito_issuer("eu-west-1", "eu-west-1_abc")
        == "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc"
    )
    assert moto_jwks_url("http://127.0.0.1:5000", "p1") == "http://127.0.0.1:5000/p1/.well-known/jwks.json"


@contextmanager
def _served(document: bytes) -> Iterator[io.BytesIO]:
    yield io.BytesIO(document)


def test_fetch_jwks_http_reads_the_document_with_its_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, float]] = []
    documents = [b'{"keys": []}', b"[1]"]

    def urlopen(url: str, timeout: float) -> Any:
        calls.append((url, timeout))
        return _served(documents.pop(0))

    monkeypatch.setattr(jwt_authorizer.urllib.request, "urlopen", urlopen)
    assert fetch_jwks_http("https://x/jwks") == {"keys": []}
    with pytest.raises(ValueError, match=r"^https://y/jwks: a JWKS is a JSON object$"):
        fetch_jwks_http("https://y/jwks")
    assert calls == [("https://x/jwks", 5.0), ("https://y/jwks", 5.0)]


@pytest.mark.parametrize(
    ("authorization", "reason"),
    [
        (None, "no Authorization header"),
        ("", "no Authorization header"),
        ("   ", "empty token"),
        ("Bearer ", "empty token"),
        ("bearer    ", "empty token"),
    ],
)
def test_a_missing_or_empty_token_is_refused_before_the_jwks_is_read(
    authorization: str | None, reason: str
) -> None:
    issuer = Issuer(KEY)
    assert refusal(issuer.authorizer(), authorization) == reason
    assert issuer.urls == []


@pytest.mark.parametrize("prefix", ["", "Bearer ", "bearer ", "BEARER   ", "  Bearer "])
def test_the_token_is_read_bare_or_after_a_bearer_prefix_of_any_case(prefix: str) -> None:
    issuer = Issuer(KEY)
    assert issuer.authorizer().authorize(f"{prefix}{token()}  ")["client_id"] == "app"


def test_another_scheme_is_part_of_a_malformed_token() -> None:
    reason = refusal(Issuer(KEY).authorizer(), f"Basic {token()}")
    assert reason.startswith("malformed token: ")


@pytest.mark.parametrize("text", ["not-a-jwt", "a.b", "é.é.é"])
def test_a_token_that_is_no_compact_jws_is_malformed(text: str) -> None:
    issuer = Issuer(KEY)
    assert refusal(issuer.authorizer(), text).startswith("malformed token: ")
    assert issuer.urls == []


def test_only_rs256_is_allowed_and_the_reason_names_the_algorithm() -> None:
    issuer = Issuer(KEY)
    hs256 = jwt.encode({"alg": "HS256", "kid": "k1"}, {"iss": ISSUER}, OctKey.import_key("s" * 32))
    assert refusal(issuer.authorizer(), hs256) == "algorithm 'HS256' is not allowed"
    assert issuer.urls == []


@pytest.mark.parametrize("kid", [None, 7])
def test_a_token_without_a_text_kid_is_refused(kid: object) -> None:
    issuer = Issuer(KEY)
    header = {"alg": "RS256"} if kid is None else {"alg": "RS256", "kid": kid}
    parts = [json.dumps(header).encode(), b'{"iss":"https://issuer"}', b"signature"]
    unchecked = ".".join(base64.urlsafe_b64encode(part).decode().rstrip("=") for part in parts)
    assert refusal(issuer.authorizer(), unchecked) == "no kid"
    assert issuer.urls == []


def test_a_valid_token_gives_its_claims_and_fetches_the_configured_jwks_once() -> None:
    issuer = Issuer(KEY)
    authorizer = issuer.authorizer()
    assert authorizer.fetches == 0
    claims = {"iss": ISSUER, "aud": "web", "exp": 1001, "nbf": 1000, "iat": 1000, "x": [1]}
    assert authorizer.authorize(token(claims)) == claims
    assert authorizer.authorize(token(claims)) == claims
    assert (authorizer.fetches, issuer.urls) == (1, ["https://issuer/jwks"])


@pytest.mark.parametrize(
    ("claims", "error"),
    [
        ({"iss": ISSUER, "client_id": "app", "exp": 1000}, "ExpiredTokenError"),  # exp == now: expired
        ({"iss": ISSUER, "client_id": "app"}, "MissingClaimError"),  # exp is essential
        ({"client_id": "app", "exp": 2000}, "MissingClaimError"),
        ({"iss": ISSUER + "/", "client_id": "app", "exp": 2000}, "InvalidClaimError"),
        ({"iss": ISSUER, "client_id": "app", "exp": 2000, "nbf": 1001}, "InvalidClaimError"),
        ({"iss": ISSUER, "client_id": "app", "exp": 2000, "iat": 1001}, "InvalidClaimError"),
        ({"iss": ISSUER, "client_id": "other", "exp": 2000}, "InvalidClaimError"),
        ({"iss": ISSUER, "exp": 2000}, "MissingClaimError"),
        # with `aud`, `client_id` is not read
        ({"iss": ISSUER, "aud": "other", "client_id": "app", "exp": 2000}, "InvalidClaimError"),
    ],
)
def test_each_claim_check_refuses_with_the_error_named(claims: dict[str, Any], error: str) -> None:
    assert refusal(Issuer(KEY).authorizer(), token(claims)).startswith(f"{error}: ")


def test_a_token_signed_by_another_key_under_a_known_kid_is_refused() -> None:
    forged = jwt.encode(
        {"alg": "RS256", "kid": "k1"}, {"iss": ISSUER, "client_id": "app", "exp": 2000}, OTHER
    )
    assert refusal(Issuer(KEY).authorizer(), forged).startswith("BadSignatureError: ")


def test_the_keys_are_kept_for_the_ttl_and_fetched_again_after_it() -> None:
    issuer = Issuer(KEY)
    authorizer = issuer.authorizer()
    issuer.clock = 50.0
    authorizer.authorize(token())
    issuer.clock = 50.0 + JWKS_TTL_S  # exactly the lifetime: still fresh
    authorizer.authorize(token())
    assert authorizer.fetches == 1
    issuer.clock = 50.0 + JWKS_TTL_S + 0.5
    authorizer.authorize(token())
    assert authorizer.fetches == 2
    issuer.clock += JWKS_TTL_S  # the new fetch restarted the lifetime
    authorizer.authorize(token())
    assert authorizer.fetches == 2


def test_an_unknown_kid_refetches_at_most_once_per_interval() -> None:
    issuer = Issuer(KEY)
    authorizer = issuer.authorizer()
    issuer.clock = 100.0
    authorizer.authorize(token())
    issuer.served.append(OTHER)  # the issuer rotates in a key
    issuer.clock = 100.0 + REFETCH_INTERVAL_S - 0.5
    assert refusal(authorizer, token(key=OTHER)) == "kid 'k2' is not in the issuer's JWKS"
    issuer.clock = 100.0 + REFETCH_INTERVAL_S  # exactly the interval: may fetch again
    assert authorizer.authorize(token(key=OTHER))["client_id"] == "app"
    assert authorizer.fetches == 2
    issuer.clock += 3 * REFETCH_INTERVAL_S  # a known kid never refetches within the lifetime
    authorizer.authorize(token())
    authorizer.authorize(token(key=OTHER))
    assert authorizer.fetches == 2


def test_a_failed_fetch_is_unauthorized_and_still_throttles_the_next() -> None:
    for failure in (OSError("down"), ValueError("bad"), json.JSONDecodeError("x", "d", 0)):
        issuer = Issuer(KEY)
        issuer.failure = failure
        authorizer = issuer.authorizer()
        assert refusal(authorizer, token()) == f"JWKS unavailable: {failure}"
        issuer.failure = None
        assert refusal(authorizer, token()) == "kid 'k1' is not in the issuer's JWKS"
        assert authorizer.fetches == 1
        issuer.clock = REFETCH_INTERVAL_S
        authorizer.authorize(token())
        assert authorizer.fetches == 2


def test_a_jwks_that_is_no_key_set_is_unauthorized() -> None:
    authorizer = JwtAuthorizer(CONFIG, fetch_jwks=lambda _url: {"keys": "nope"}, now=lambda: NOW)
    assert refusal(authorizer, token()).startswith("JWKS unavailable: ")


def test_only_rsa_keys_are_kept_so_a_kid_of_another_key_type_is_unknown() -> None:
    elliptic = ECKey.generate_key("P-256", parameters={"kid": "k2"}, private=True)
    document = dict(KeySet([KEY, elliptic]).as_dict(private=False))
    authorizer = JwtAuthorizer(CONFIG, fetch_jwks=lambda _url: document, now=lambda: NOW)
    assert authorizer.authorize(token())["iss"] == ISSUER
    assert refusal(authorizer, token(key=OTHER)) == "kid 'k2' is not in the issuer's JWKS"

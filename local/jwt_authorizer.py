"""API Gateway's JWT authorizer (HTTP API), as the local front applies it: the same checks, no more (A1).

A request passes when its `Authorization` header holds a JWT (bare or after `Bearer `) that
- is a JWS signed with RS256 (the one algorithm on the allow-list: `none`, HS256 and the rest are refused,
  so a token "signed" with the public key as an HMAC secret is refused too) by a key of the issuer's JWKS
  named by the token's `kid`;
- has `exp` after now, and `nbf` and `iat` (when present) not after now;
- has `iss` equal to the configured issuer;
- has `aud` in the configured audience list, or, without `aud`, `client_id` in it (access tokens).
`token_use` and group membership are not checked here: API Gateway does not; the API function does (A1).

The JWKS is fetched through a port (`fetch_jwks`: URL -> document), kept for `JWKS_TTL_S` (API Gateway
caches keys up to two hours), and fetched again once when a token names a kid the cache lacks, at most
every `REFETCH_INTERVAL_S`, so a stream of made-up kids cannot turn the front into a JWKS flooder.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey

ALGORITHMS = ("RS256",)  # API Gateway supports RSA-based algorithms only; Cognito signs with RS256
JWKS_TTL_S = 2 * 3600.0
REFETCH_INTERVAL_S = 10.0
FETCH_TIMEOUT_S = 5.0

Claims = dict[str, Any]
FetchJwks = Callable[[str], Mapping[str, Any]]


class UnauthorizedError(Exception):
    """The token fails a check; `reason` says which (for the front's log, never for the caller)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def cognito_issuer(region: str, pool_id: str) -> str:
    """The issuer a Cognito user pool writes in `iss` (moto writes the same)."""
    return f"https://cognito-idp.{region}.amazonaws.com/{pool_id}"


def moto_jwks_url(moto_url: str, pool_id: str) -> str:
    """Where moto serves a pool's JWKS; in AWS it is `<issuer>/.well-known/jwks.json`."""
    return f"{moto_url}/{pool_id}/.well-known/jwks.json"


def fetch_jwks_http(url: str) -> Mapping[str, Any]:
    with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT_S) as response:
        document = json.loads(response.read())
    if not isinstance(document, dict):
        raise ValueError(f"{url}: a JWKS is a JSON object")
    return document


@dataclass(frozen=True)
class AuthorizerConfig:
    issuer: str
    audience: Sequence[str]
    jwks_url: str


class JwtAuthorizer:
    """The checks above; `now` gives epoch seconds (the clock the tokens are read against: the issuer's,
    and moto stamps its tokens with real time, so a virtual clock of the local system belongs to the
    event's `time`, not here), `monotonic` times the JWKS cache."""

    def __init__(
        self,
        config: AuthorizerConfig,
        fetch_jwks: FetchJwks = fetch_jwks_http,
        now: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.fetch_jwks = fetch_jwks
        self.now = now
        self.monotonic = monotonic
        self.fetches = 0
        self._keys: dict[str, RSAKey] = {}
        self._fetched_at: float | None = None
        self._lock = threading.Lock()

    def authorize(self, authorization: str | None) -> Claims:
        """The token's claims when it passes every check; raises UnauthorizedError otherwise."""
        token = _bearer(authorization)
        try:
            header = jws.extract_compact(token.encode("ascii")).protected
        except (JoseError, ValueError, UnicodeError) as error:
            raise UnauthorizedError(f"malformed token: {error}") from error
        if header.get("alg") not in ALGORITHMS:
            raise UnauthorizedError(f"algorithm {header.get('alg')!r} is not allowed")
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise UnauthorizedError("no kid")
        key = self._key(kid)
        try:
            claims = jwt.decode(token, key, algorithms=list(ALGORITHMS)).claims
            self._registry(claims).validate(claims)
        except (JoseError, ValueError) as error:
            raise UnauthorizedError(f"{type(error).__name__}: {error}") from error
        return claims

    def _registry(self, claims: Claims) -> jwt.JWTClaimsRegistry:
        audience = list(self.config.audience)
        # API Gateway reads `client_id` only when the token has no `aud` (Cognito's access tokens).
        audience_claim = "aud" if "aud" in claims else "client_id"
        options: dict[str, jwt.ClaimsOption] = {
            "exp": {"essential": True},
            "iss": {"essential": True, "value": self.config.issuer},
            audience_claim: {"essential": True, "values": audience},
        }
        return jwt.JWTClaimsRegistry(now=lambda: int(self.now()), leeway=0, **options)

    def _key(self, kid: str) -> RSAKey:
        with self._lock:
            stale = self._fetched_at is None or self.monotonic() - self._fetched_at > JWKS_TTL_S
            unknown = kid not in self._keys
            may_refetch = self._fetched_at is None or (
                self.monotonic() - self._fetched_at >= REFETCH_INTERVAL_S
            )
            if stale or (unknown and may_refetch):
                self._refresh()
            if kid not in self._keys:
                raise UnauthorizedError(f"kid {kid!r} is not in the issuer's JWKS")
            return self._keys[kid]

    def _refresh(self) -> None:
        self.fetches += 1
        self._fetched_at = self.monotonic()
        try:
            key_set = KeySet.import_key_set(dict(self.fetch_jwks(self.config.jwks_url)))  # type: ignore[arg-type]
        except (OSError, ValueError, JoseError) as error:
            raise UnauthorizedError(f"JWKS unavailable: {error}") from error
        self._keys = {
            str(key.kid): key for key in key_set.keys if isinstance(key, RSAKey) and key.kid is not None
        }


def _bearer(authorization: str | None) -> str:
    """The token of the identity source: the header's value, with or without the `Bearer ` prefix."""
    if not authorization:
        raise UnauthorizedError("no Authorization header")
    value = authorization.strip()
    scheme, _, rest = value.partition(" ")
    token = rest.strip() if scheme.lower() == "bearer" else value
    if not token:
        raise UnauthorizedError("empty token")
    return token

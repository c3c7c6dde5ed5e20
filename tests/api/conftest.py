"""The black-box suite of the traders' API (issue 16): the real front and the real API function on moto
(local/api_system.py), real Cognito tokens, every answer checked against docs/openapi.yaml.

Fixtures:
- `api`: the session's ApiSystem (throttling out of the way: THROTTLE_RATE/BURST; alerts visible after
  VISIBLE_AFTER_SECONDS; the stack's other settings). A module that needs other settings overrides `api`
  with its own module-scoped fixture: `with api_system(settings={...}) as system: yield system`.
- `client(username, operator=False)`: a Client of that user (created and signed in on first use, the same
  Client for the same name within a test). Names are the test's own: `alice` of one test is not `alice` of
  another, so tests never see each other's rules.
  `client.request(method, path, body=None, headers=None, token="access")` -> Reply(status, headers, json):
  `body` bytes are sent as they are, anything else (but None) as JSON; `token` "access" or "id" sends that
  token of the user, None none (an `authorization` in `headers` is sent as given). Every answer is checked
  against the document (tests/api/contract.py) before it is returned.
"""

from __future__ import annotations

import http.client
import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest

from local.api_system import ApiSystem, running_api_system
from tests.api.contract import ContractError, Reply, check
from tests.support.function_harness import ensure_bootstrap
from tests.support.moto_server import moto_server

THROTTLE_RATE = 10_000.0  # API Gateway's account maximum: the suite tests the API, not the throttle
THROTTLE_BURST = 5_000
VISIBLE_AFTER_SECONDS = 1  # D (A2); the local system's index is immediate
TIMEOUT_S = 60.0


@contextmanager
def api_system(settings: dict[str, str] | None = None) -> Iterator[ApiSystem]:
    """A fresh moto and the traders' API on it with the suite's settings, then `settings`."""
    chosen = {"ALERTS_VISIBLE_AFTER_SECONDS": str(VISIBLE_AFTER_SECONDS), **(settings or {})}
    with (
        moto_server() as endpoint,
        running_api_system(
            endpoint, ensure_bootstrap(), settings=chosen, rate=THROTTLE_RATE, burst=THROTTLE_BURST
        ) as system,
    ):
        yield system


@pytest.fixture(scope="session")
def api() -> Iterator[ApiSystem]:
    with api_system() as system:
        yield system


def send(url: str, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> Reply:
    """One HTTP request; the answer as it came (no contract check)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=TIMEOUT_S)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        raw = response.read()
        answer_headers = {name.lower(): value for name, value in response.getheaders()}
    finally:
        connection.close()
    parsed: Any = None
    if raw and answer_headers.get("content-type", "").split(";")[0].strip().endswith("json"):
        try:
            parsed = json.loads(raw)
        except ValueError as unreadable:
            raise ContractError(
                f"{method} {path} -> {response.status}: not JSON: {raw[:200]!r}"
            ) from unreadable
    return Reply(response.status, answer_headers, parsed, raw)


@dataclass
class Client:
    """One user of the API (see the module's docstring)."""

    system: ApiSystem
    username: str
    tokens: dict[str, str]
    replies: list[Reply] = field(default_factory=list)

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        token: str | None = "access",
    ) -> Reply:
        data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        sent = {"content-type": "application/json"} if data is not None else {}
        if token is not None:
            sent["authorization"] = f"Bearer {self.tokens[token]}"
        sent.update(headers or {})
        reply = send(self.system.url, method, path, data, sent)
        check(method, path, reply)
        self.replies.append(reply)
        return reply


ClientFactory = Callable[..., Client]


@pytest.fixture
def client(api: ApiSystem) -> ClientFactory:
    test_id = uuid.uuid4().hex[:8]
    clients: dict[str, Client] = {}

    def make(username: str, operator: bool = False) -> Client:
        if username not in clients:
            unique = f"{username}-{test_id}"
            clients[username] = Client(api, unique, api.sign_in(unique, operator=operator))
        return clients[username]

    return make

"""Black box over HTTP (issue 16, A1): every trader is confined to their own data. Trader B gets 404 on every
rule route of A's rule and changes nothing of it; B's lists are empty; operator routes are 403 for a
trader, and so is naming another owner; an ID token is refused by the function (403 `id-token-refused`);
tokens of another pool or another app client are 401 at the front and reach no function."""

from __future__ import annotations

from typing import Any

import jwt
import pytest

from local.api_system import ApiSystem
from tests.api.conftest import Client, ClientFactory
from tests.support.cognito import Pool, create_pool

RULE = {"name": "mine", "symbol": "AAPL", "condition": "price_above", "threshold": 200, "severity": "info"}
GATEWAY_UNAUTHORIZED = {"message": "Unauthorized"}


def sub(user: Client) -> str:
    return str(jwt.decode(user.tokens["access"], options={"verify_signature": False})["sub"])


def snapshot(owner: Client, rule_id: str) -> tuple[Any, ...]:
    """Everything the owner reads of the rule: itself, its versions, its alerts, the owner's list."""
    return (
        owner.request("GET", f"/rules/{rule_id}").json,
        owner.request("GET", f"/rules/{rule_id}/versions").json,
        owner.request("GET", f"/rules/{rule_id}/alerts").json["alerts"],
        owner.request("GET", "/rules").json["rules"],
    )


# (method, path under /rules/{id}, body, headers): every route that names a rule.
RULE_ROUTES: list[tuple[str, str, Any, dict[str, str]]] = [
    ("GET", "", None, {}),
    ("PATCH", "", {"threshold": 1}, {"if-match": '"1"'}),
    ("DELETE", "", None, {}),
    ("POST", "/pause", None, {}),
    ("POST", "/resume", None, {}),
    ("POST", "/rearm", None, {}),
    ("GET", "/versions", None, {}),
    ("GET", "/alerts", None, {}),
]


def test_another_trader_gets_404_on_every_route_of_a_rule_and_changes_nothing(client: ClientFactory) -> None:
    alice, bob = client("alice"), client("bob")
    created = alice.request("POST", "/rules", RULE)
    assert created.status == 201, created.json
    rule_id = created.json["rule"]["id"]
    before = snapshot(alice, rule_id)
    for method, suffix, body, headers in RULE_ROUTES:
        reply = bob.request(method, f"/rules/{rule_id}{suffix}", body, headers=headers)
        assert (reply.status, reply.json["type"]) == (404, "not-found"), (method, suffix, reply.json)
    # The same answer as a rule that does not exist: existence is not disclosed.
    assert bob.request("GET", "/rules/no-such-rule").json["type"] == "not-found"
    assert bob.request("GET", "/rules").json["rules"] == []
    assert bob.request("GET", "/alerts").json["alerts"] == []
    assert snapshot(alice, rule_id) == before


def test_a_trader_naming_another_owner_is_403(client: ClientFactory) -> None:
    alice, bob = client("alice"), client("bob")
    alice.request("POST", "/rules", RULE)
    for path in (f"/rules?owner={sub(alice)}", f"/alerts?owner={sub(alice)}"):
        reply = bob.request("GET", path)
        assert (reply.status, reply.json["type"], reply.json["errors"][0]["field"]) == (
            403,
            "forbidden",
            "owner",
        )
    assert bob.request("GET", f"/rules?owner={sub(bob)}").status == 200  # naming oneself is no trespass


OPERATOR_ROUTES: list[tuple[str, str, Any]] = [
    ("GET", "/symbols/AAPL/controls", None),
    ("PUT", "/symbols/AAPL/suspension", {}),
    ("DELETE", "/symbols/AAPL/suspension", None),
    ("PUT", "/symbols/AAPL/band", {"low": 1, "high": 2}),
    ("DELETE", "/symbols/AAPL/band", None),
]


def test_operator_routes_are_403_for_a_trader_and_change_no_control(client: ClientFactory) -> None:
    trader, operator = client("trent"), client("olga", operator=True)
    before = operator.request("GET", "/symbols/AAPL/controls").json
    for method, path, body in OPERATOR_ROUTES:
        reply = trader.request(method, path, body)
        assert (reply.status, reply.json["type"]) == (403, "forbidden"), (method, path, reply.json)
    assert operator.request("GET", "/symbols/AAPL/controls").json == before


def test_an_id_token_reaches_the_function_and_is_refused_there(api: ApiSystem, client: ClientFactory) -> None:
    alice = client("alice")
    assert api.front is not None
    invocations = api.front.invocations
    for method, path, body in (("GET", "/rules", None), ("POST", "/rules", RULE), ("GET", "/alerts", None)):
        reply = alice.request(method, path, body, token="id")
        assert (reply.status, reply.json["type"]) == (403, "id-token-refused"), reply.json
    assert (
        api.front.invocations == invocations + 3
    )  # the front passes it: API Gateway does not check token_use
    assert alice.request("GET", "/rules").json["rules"] == []  # the refused create made nothing


@pytest.fixture(scope="module")
def foreign(api: ApiSystem) -> dict[str, dict[str, str]]:
    """Tokens of a user signed in through another pool, and of one signed in through another app client of
    this pool (moto signs both with the same key: only `iss` and the client tell them apart)."""
    elsewhere = create_pool(api.endpoint, "elsewhere")
    elsewhere.add_user("mallory")
    own = Pool(api.endpoint, api.pool_id, api.client_id)
    other_client = own.add_client("another-app")
    own.add_user("mallory-app")
    return {"pool": elsewhere.tokens("mallory"), "client": own.tokens("mallory-app", other_client)}


@pytest.mark.parametrize("which", ["pool", "client"])
@pytest.mark.parametrize("kind", ["access", "id"])
def test_tokens_of_another_pool_or_client_are_401_at_the_front(
    api: ApiSystem, foreign: dict[str, dict[str, str]], which: str, kind: str
) -> None:
    assert api.front is not None
    invocations = api.front.invocations
    stranger = Client(api, "stranger", foreign[which])
    for method, path, body in (("GET", "/rules", None), ("POST", "/rules", RULE), ("GET", "/alerts", None)):
        reply = stranger.request(method, path, body, token=kind)
        assert (reply.status, reply.json) == (401, GATEWAY_UNAUTHORIZED)
    assert api.front.invocations == invocations  # refused before the function

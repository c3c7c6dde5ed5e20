"""The CLI (ops/alerts_cli.py) against the local API front with real tokens from moto's Cognito, in front of
a stand-in API function: a Python handler under awslambdaric that answers each route with a canned document
in the API's shapes (docs/openapi.yaml) plus `seen`, what the request it got carried. The tests read what
the CLI sent from `seen`, and what it printed and returned."""

from __future__ import annotations

import base64
import io
import json
import stat
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from local.api_front import ApiFront, FrontSettings
from local.jwt_authorizer import AuthorizerConfig, JwtAuthorizer, cognito_issuer, moto_jwks_url
from local.openapi_routes import load_routes
from ops import alerts_cli
from ops.alerts_api import ApiReply, describe_failure
from ops.cognito_sign_in import Tokens, load_tokens, save_tokens
from tests.support.cognito import PASSWORD, Pool, create_pool
from tests.support.moto_server import moto_environment
from tests.support.python_function import python_function

STAND_IN = """
import json

RULE = {"name": "aapl-200", "symbol": "AAPL", "condition": "crosses_above", "threshold": 200.0,
        "severity": "critical", "mode": "once", "state": "active", "revision": 3}


def reply(status, document, headers=None):
    kind = "application/problem+json" if status >= 400 else "application/json"
    return {"statusCode": status, "headers": {"content-type": kind, **(headers or {})},
            "body": json.dumps(document)}


def problem(status, kind, detail, errors=None):
    document = {"type": kind, "title": kind, "status": status, "detail": detail}
    return reply(status, {**document, "errors": errors} if errors else document)


def handler(event, context):
    route = event["routeKey"]
    rule_id = (event.get("pathParameters") or {}).get("rule_id", "")
    query = event.get("queryStringParameters") or {}
    headers = event["headers"]
    body = json.loads(event["body"]) if event.get("body") else None
    seen = {"route": route, "path": event["pathParameters"] if "pathParameters" in event else {},
            "query": query, "body": body, "if_match": headers.get("if-match"),
            "idempotency_key": headers.get("idempotency-key"),
            "sub": event["requestContext"]["authorizer"]["jwt"]["claims"]["sub"]}
    if rule_id == "missing":
        return problem(404, "not-found", "no rule missing")
    if rule_id == "busy":
        return reply(503, {"type": "retry-later", "title": "Retry later", "status": 503,
                           "detail": "the change protocol did not commit within P"}, {"retry-after": "2"})
    if rule_id == "text":
        return {"statusCode": 200, "headers": {"content-type": "text/plain"}, "body": "plain words"}
    if route == "POST /rules" and body.get("threshold") == -1:
        return problem(422, "invalid-input", "the rule is invalid",
                       [{"field": "threshold", "message": "must be above 0"}])
    if route == "PATCH /rules/{rule_id}" and headers.get("if-match") != '"3"':
        return problem(412, "precondition-failed", "revision 3 is the rule's, not " + headers["if-match"])
    if route == "GET /rules":
        rules = [dict(RULE, id=f"r{i}", name=f"rule-{i}") for i in (1, 2, 3)]
        if query.get("cursor") == "c2":
            return reply(200, {"rules": rules[2:], "seen": seen})
        return reply(200, {"rules": rules[:2], "next_cursor": "c2", "seen": seen})
    if route == "GET /rules/{rule_id}":
        return reply(200, dict(RULE, id=rule_id, seen=seen), {"etag": '"3"'})
    if route in ("GET /alerts", "GET /rules/{rule_id}/alerts", "GET /rules/{rule_id}/versions"):
        key = "versions" if route.endswith("versions") else "alerts"
        return reply(200, {key: [{"rule_id": "r1", "price": 201.5}], "seen": seen})
    if route.startswith("DELETE /symbols"):
        return {"statusCode": 204}
    if route != "POST /rules/import" and route.startswith(("POST /rules", "PATCH", "DELETE /rules")):
        return reply(200, {"rule": dict(RULE, id=rule_id or "r9"), "revision": 4,
                           "effective_from": "2026-12-02T01:00:00.250Z", "seen": seen})
    return reply(200, {"seen": seen})
"""


@dataclass
class Api:
    url: str
    pool: Pool
    tmp: Path

    def env(self, user: str = "alice", **extra: str) -> dict[str, str]:
        """The CLI's environment: the API, a token of `user`, a private token file."""
        token = self.pool.tokens(user)["access"]
        base = {"ALERTS_API_URL": self.url, "ALERTS_TOKEN": token}
        return {**base, "ALERTS_TOKEN_FILE": str(self.tmp / "tokens.json"), **extra}


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def run(argv: list[str], env: dict[str, str]) -> Run:
    out, err = io.StringIO(), io.StringIO()
    code = alerts_cli.main(argv, out, err, env)
    return Run(code, out.getvalue(), err.getvalue())


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    tmp = tmp_path_factory.mktemp("cli")
    with moto_environment() as endpoint:
        pool = create_pool(endpoint, "traders")
        pool.add_user("alice")
        pool.add_user("bob")
        config = AuthorizerConfig(
            cognito_issuer("us-east-1", pool.pool_id),
            (pool.client_id,),
            moto_jwks_url(endpoint, pool.pool_id),
        )
        function = python_function(tmp, "stand_in_api", STAND_IN)
        settings = FrontSettings(rate=10_000, burst=10_000)
        with function, ApiFront(load_routes(), JwtAuthorizer(config), function, settings) as front:
            yield Api(front.url, pool, tmp)


def _claims_sub(api: Api, user: str) -> str:
    token = api.pool.tokens(user)["access"]
    payload = token.split(".")[1]
    return str(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["sub"])


# -- signing in -------------------------------------------------------------------------------------------
def test_sign_in_keeps_the_tokens_private_and_later_commands_use_them(
    api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token_file = tmp_path / "cfg" / "tokens.json"
    token_file.parent.mkdir()
    token_file.write_text("{}")
    token_file.chmod(0o644)  # a file left with wider permissions is narrowed
    env = {"ALERTS_API_URL": api.url, "ALERTS_TOKEN_FILE": str(token_file), "AWS_REGION": "us-east-1"}
    monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))
    signed = run(["sign-in", "--username", "bob", "--client-id", api.pool.client_id, "--password-stdin"], env)
    assert signed.code == 0, signed.err
    assert "signed in as bob" in signed.out
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert load_tokens(token_file).access_token.count(".") == 2
    listed = run(["--json", "list"], env)
    assert listed.json()["seen"]["sub"] == _claims_sub(api, "bob")  # the stored access token was sent

    monkeypatch.setattr("getpass.getpass", lambda *_a, **_k: "wrong-password")
    refused = run(["sign-in", "--username", "bob"], {**env, "ALERTS_CLIENT_ID": api.pool.client_id})
    assert refused.code == alerts_cli.EXIT_NOT_SIGNED_IN
    assert "sign-in refused" in refused.err
    no_client = run(["sign-in", "--username", "bob"], env)
    assert (no_client.code, no_client.err.strip()) == (
        alerts_cli.EXIT_USAGE,
        "no app client: pass --client-id or set ALERTS_CLIENT_ID",
    )


def test_without_a_token_or_url_the_cli_says_what_to_do(
    api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))  # the default token file: absent
    none = run(["list"], {"ALERTS_API_URL": api.url})
    assert none.code == alerts_cli.EXIT_NOT_SIGNED_IN
    assert str(tmp_path / ".config" / "trading-alerts" / "tokens.json") in none.err
    assert "run `sign-in`, or set ALERTS_TOKEN" in none.err
    no_url = run(["list"], {"ALERTS_TOKEN": "t"})
    assert (no_url.code, no_url.err.strip()) == (
        alerts_cli.EXIT_NOT_SIGNED_IN,
        "no API URL: pass --api-url or set ALERTS_API_URL",
    )
    bad_token = run(["--api-url", api.url, "list"], {"ALERTS_TOKEN": "not-a-jwt"})
    assert bad_token.code == alerts_cli.EXIT_NOT_SIGNED_IN
    assert bad_token.err.strip() == (
        "error 401: Unauthorized (sign in again: python -m ops.alerts_cli sign-in)"
    )
    unreachable = run(["--api-url", "http://127.0.0.1:9", "list"], {"ALERTS_TOKEN": "t"})
    assert unreachable.code == alerts_cli.EXIT_UNAVAILABLE
    assert unreachable.err.startswith("the API did not answer")


def test_token_files_that_are_not_ours_are_refused(tmp_path: Path) -> None:
    listed, foreign = tmp_path / "a.json", tmp_path / "b.json"
    listed.write_text("[]")
    foreign.write_text('{"password": "x"}')
    for path in (listed, foreign):
        with pytest.raises(ValueError, match="not a token file"):
            load_tokens(path)
    save_tokens(tmp_path / "new" / "t.json", Tokens("a", "i", "r", 5))
    assert load_tokens(tmp_path / "new" / "t.json") == Tokens("a", "i", "r", 5)
    assert stat.S_IMODE((tmp_path / "new").stat().st_mode) == 0o700


# -- rules ------------------------------------------------------------------------------------------------
def test_create_sends_the_definition_and_shows_the_change(api: Api, tmp_path: Path) -> None:
    definition = tmp_path / "rule.json"
    definition.write_text(json.dumps({"name": "from-file", "symbol": "MSFT", "threshold": 1}))
    argv = ["create", "--file", str(definition), "--threshold", "450", "--condition", "price_above"]
    argv += ["--severity", "warning", "--mode", "every", "--cooldown-seconds", "60"]
    created = run(["--json", *argv, "--idempotency-key", "k-1"], api.env())
    assert created.code == 0, created.err
    seen = created.json()["seen"]
    assert (seen["route"], seen["idempotency_key"]) == ("POST /rules", "k-1")
    assert seen["body"] == {
        "name": "from-file",
        "symbol": "MSFT",
        "threshold": 450.0,  # a flag overrides the file
        "condition": "price_above",
        "severity": "warning",
        "mode": "every",
        "cooldown_seconds": 60,
    }
    shown = run(argv, api.env())
    lines = shown.out.splitlines()
    assert lines[0] == "revision 4, effective from 2026-12-02T01:00:00.250Z"
    assert lines[1].split() == list(alerts_cli.RULE_COLUMNS)
    assert lines[2].split() == ["r9", "aapl-200", "AAPL", "crosses_above", "200.0", "critical", "once",
                                "active", "3"]  # fmt: skip
    listed = tmp_path / "list.json"
    listed.write_text("[1]")
    not_a_rule = run(["create", "--file", str(listed)], api.env())
    assert (not_a_rule.code, not_a_rule.err.strip()) == (
        alerts_cli.EXIT_USAGE,
        f"{listed}: a rule is a JSON object",
    )


def test_create_from_stdin(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO('{"name": "piped", "symbol": "AAPL"}'))
    created = run(["--json", "create", "--file", "-"], api.env())
    assert created.json()["seen"]["body"] == {"name": "piped", "symbol": "AAPL"}


def test_a_problem_document_is_printed_with_its_fields(api: Api) -> None:
    refused = run(["create", "--name", "x", "--threshold", "-1"], api.env())
    assert refused.code == alerts_cli.EXIT_REFUSED
    assert refused.err.splitlines() == [
        "error 422 invalid-input: the rule is invalid",
        "  threshold: must be above 0",
    ]
    assert refused.out == ""
    missing = run(["get", "missing"], api.env())
    assert (missing.code, missing.err.strip()) == (
        alerts_cli.EXIT_REFUSED,
        "error 404 not-found: no rule missing",
    )
    busy = run(["pause", "busy"], api.env())
    assert busy.code == alerts_cli.EXIT_UNAVAILABLE
    assert busy.err.splitlines() == [
        "error 503 retry-later: the change protocol did not commit within P",
        "  retry after 2 s",
    ]


def test_list_pages_and_all_pages(api: Api) -> None:
    page = run(["list", "--symbol", "AAPL", "--state", "active"], api.env())
    assert page.code == 0
    lines = page.out.splitlines()
    assert [line.split()[0] for line in lines[1:3]] == ["r1", "r2"]
    assert lines[-1] == "more: --cursor c2"
    seen = run(["--json", "list", "--symbol", "AAPL", "--state", "active"], api.env()).json()["seen"]
    assert seen["query"] == {"symbol": "AAPL", "state": "active"}
    every = run(["--json", "list", "--all"], api.env()).json()
    assert [rule["id"] for rule in every["rules"]] == ["r1", "r2", "r3"]
    assert list(every) == ["rules"]
    after = run(["--json", "list", "--cursor", "c2", "--owner", "bob"], api.env()).json()
    assert after["seen"]["query"] == {"cursor": "c2", "owner": "bob"}


def test_each_rule_command_reaches_its_route(api: Api, tmp_path: Path) -> None:
    document = tmp_path / "rules.json"
    document.write_text('{"version": 1, "rules": []}')
    expected = {
        ("get", "r1"): ("GET /rules/{rule_id}", {"rule_id": "r1"}),
        ("versions", "r1"): ("GET /rules/{rule_id}/versions", {"rule_id": "r1"}),
        ("pause", "r1"): ("POST /rules/{rule_id}/pause", {"rule_id": "r1"}),
        ("resume", "r1"): ("POST /rules/{rule_id}/resume", {"rule_id": "r1"}),
        ("rearm", "r1"): ("POST /rules/{rule_id}/rearm", {"rule_id": "r1"}),
        ("delete", "r1"): ("DELETE /rules/{rule_id}", {"rule_id": "r1"}),
        ("fired",): ("GET /alerts", {}),
        ("fired", "--rule", "r1"): ("GET /rules/{rule_id}/alerts", {"rule_id": "r1"}),
        ("import", str(document)): ("POST /rules/import", {}),
        ("controls", "BTC-USD"): ("GET /symbols/{symbol}/controls", {"symbol": "BTC-USD"}),
        ("suspend", "AAPL"): ("PUT /symbols/{symbol}/suspension", {"symbol": "AAPL"}),
        ("band", "AAPL", "--low", "1", "--high", "2"): ("PUT /symbols/{symbol}/band", {"symbol": "AAPL"}),
    }
    for args, (route, path) in expected.items():
        argv = list(args)
        reply = run(["--json", *argv], api.env())
        assert reply.code == 0, (argv, reply.err)
        seen = reply.json()["seen"]
        assert (seen["route"], seen["path"]) == (route, path), argv
    body = lambda *argv: run(["--json", *argv], api.env()).json()["seen"]["body"]  # noqa: E731
    assert body("import", str(document)) == {"version": 1, "rules": []}
    assert body("band", "AAPL", "--low", "1", "--high", "2.5") == {"low": 1.0, "high": 2.5}
    assert body("suspend", "AAPL", "--from", "2026-12-02T00:00:00Z", "--until", "2026-12-03T00:00:00Z") == {
        "from": "2026-12-02T00:00:00Z",
        "until": "2026-12-03T00:00:00Z",
    }
    assert (
        run(["--json", "pause", "r1", "--idempotency-key", "p-1"], api.env()).json()["seen"][
            "idempotency_key"
        ]
        == "p-1"
    )
    for argv in (["resume-symbol", "AAPL"], ["clear-band", "AAPL"]):  # 204: no content
        done = run(argv, api.env())
        assert (done.code, done.out) == (0, "done\n"), argv


def test_tables_for_one_rule_and_for_lists(api: Api) -> None:
    one = run(["get", "r1"], api.env()).out.splitlines()
    assert "id: r1" in one
    assert "threshold: 200.0" in one
    fired = run(["fired"], api.env()).out.splitlines()
    assert fired[0].split() == ["rule_id", "price"]
    assert fired[1].split() == ["r1", "201.5"]
    plain = run(["versions", "text"], api.env())
    assert (plain.code, plain.out) == (0, "done\n")  # not JSON: nothing to tabulate
    assert alerts_cli.table([]) == "(none)"
    assert alerts_cli.table([{"a": None, "b": "x"}, {"b": [1]}]).splitlines() == ["a  b", "-  x", "-  [1]"]


def test_edit_sends_the_revision_it_read_and_a_stale_one_is_refused(api: Api) -> None:
    edited = run(["--json", "edit", "r1", "--threshold", "210"], api.env())
    assert edited.code == 0, edited.err
    seen = edited.json()["seen"]
    assert (seen["route"], seen["if_match"], seen["body"]) == (
        "PATCH /rules/{rule_id}",
        '"3"',  # the ETag of the GET just before
        {"threshold": 210.0},
    )
    stale = run(["edit", "r1", "--if-match", '"2"', "--severity", "info"], api.env())
    assert stale.code == alerts_cli.EXIT_REFUSED
    assert stale.err.strip() == 'error 412 precondition-failed: revision 3 is the rule\'s, not "2"'
    no_etag = run(["edit", "text", "--severity", "info"], api.env())
    assert (no_etag.code, no_etag.err.strip()) == (
        alerts_cli.EXIT_USAGE,
        "the rule has no ETag: pass --if-match REVISION",
    )


def test_help_explains_commands_configuration_and_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        alerts_cli.main(["--help"])
    assert exited.value.code == 0
    text = capsys.readouterr().out
    for needle in ("sign-in", "resume-symbol", "ALERTS_TOKEN", "exit codes:", "stale If-Match"):
        assert needle in text
    with pytest.raises(SystemExit) as wrong:
        alerts_cli.main(["band", "AAPL"])  # --low and --high are required
    assert wrong.value.code == alerts_cli.EXIT_USAGE


def test_failures_described_from_either_shape() -> None:
    def reply(status: int, document: Any, text: str = "") -> ApiReply:
        return ApiReply(status, {}, document, text)

    titled = reply(409, {"type": "https://x/quota-exceeded", "title": "Quota exceeded", "errors": ["odd"]})
    assert describe_failure(titled) == ["error 409 quota-exceeded: Quota exceeded"]
    assert describe_failure(reply(400, {"title": "Bad"})) == ["error 400 problem: Bad"]
    assert describe_failure(reply(429, {"message": "Too Many Requests"})) == [
        "error 429: Too Many Requests (throttled: retry in a moment)"
    ]
    assert describe_failure(reply(502, None, "Bad Gateway\n")) == ["error 502: Bad Gateway"]
    assert describe_failure(reply(500, [1])) == ["error 500: no details"]

"""Black box: the real bootstrap with `_HANDLER=api` (the API function, issue 16) under the local Runtime
API against moto, called with hand-made API Gateway payload 2.0 events: a rule's life through its routes,
owner isolation, the `once` marker read from the state table, Idempotency-Key on the rules table, and the
problem documents of bad input."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from local.emulator import free_port
from local.function_host import runner
from local.function_resources import create_function_resources
from tests.support.function_harness import ensure_bootstrap
from tests.support.moto_server import moto_environment
from tests.support.rules_table import create_rules_table
from tests.unit.test_lambda_function import terminate

TIMEOUT_S = 30.0
P_SECONDS = 5  # R3's P: how long the change protocol keeps trying to commit
RULES_TABLE = "alert-rules-api"


def event(
    method: str,
    path: str,
    sub: str = "alice",
    body: Any = None,
    headers: dict[str, str] | None = None,
    token_use: str = "access",
    query: dict[str, str] | None = None,
) -> bytes:
    """A payload 2.0 event as API Gateway's JWT-authorized route sends it."""
    return json.dumps(
        {
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": path,
            "rawQueryString": "",
            "headers": {"content-type": "application/json", **(headers or {})},
            "queryStringParameters": query,
            "requestContext": {
                "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1"},
                "authorizer": {
                    "jwt": {"claims": {"sub": sub, "token_use": token_use, "client_id": "c"}, "scopes": None}
                },
                "requestId": uuid.uuid4().hex,
                "stage": "$default",
            },
            "body": None if body is None else json.dumps(body),
            "isBase64Encoded": False,
        }
    ).encode()


class Api:
    """The API function under the local Runtime API."""

    def __init__(self, emulator: Any) -> None:
        self.emulator = emulator

    def call(self, method: str, path: str, **kwargs: Any) -> tuple[int, dict[str, str], Any]:
        result = self.emulator.invoke(event(method, path, **kwargs), TIMEOUT_S)
        assert result.status == "ok", result
        response = json.loads(result.payload)
        assert response["isBase64Encoded"] is False
        return response["statusCode"], response["headers"], json.loads(response["body"])


def api_env(endpoint: str, cursor_key: str, alerts_table: str, state_table: str) -> dict[str, str]:
    """The API function's environment, its AWS services at `endpoint`."""
    return {
        "_HANDLER": "api",
        "KMS_KEY_ARN": cursor_key,
        "RULES_TABLE": RULES_TABLE,
        "ALERTS_TABLE": alerts_table,
        "STATE_TABLE": state_table,
        "RULE_QUOTA": "2",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_ENDPOINT_URL": endpoint,
    }


@pytest.fixture
def api() -> Iterator[tuple[Api, Any, str]]:
    with moto_environment() as url:
        ddb = boto3.client("dynamodb")
        create_rules_table(ddb, RULES_TABLE)
        resources = create_function_resources(
            ddb, boto3.client("sns"), boto3.client("sqs"), uuid.uuid4().hex[:8]
        )
        cursor_key = boto3.client("kms").create_key()["KeyMetadata"]["Arn"]
        env = api_env(url, cursor_key, resources.alerts_table, resources.state_table)
        emulator = runner([str(ensure_bootstrap())], env)
        emulator.__enter__()
        try:
            yield Api(emulator), ddb, resources.state_table
        finally:
            terminate(emulator)


DEFINITION = {
    "name": "breakout",
    "symbol": "AAPL",
    "condition": "price_above",
    "threshold": 200,
    "severity": "info",
}


def test_a_rules_life_through_the_api(api: tuple[Api, Any, str]) -> None:
    client, ddb, state_table = api
    status, headers, created = client.call(
        "POST", "/rules", body=DEFINITION, headers={"idempotency-key": "k1"}
    )
    assert status == 201, created
    rule_id = created["rule"]["id"]
    assert headers["ETag"] == '"1"'
    assert headers["Location"] == f"/rules/{rule_id}"
    assert created["rule"]["mode"] == "once"
    assert created["effective_from"].endswith("Z")
    # A retry with the key answers the original answer and creates nothing.
    assert client.call("POST", "/rules", body=DEFINITION, headers={"idempotency-key": "k1"})[2] == created
    assert (
        client.call("POST", "/rules", body={**DEFINITION, "threshold": 1}, headers={"idempotency-key": "k1"})[
            0
        ]
        == 422
    )

    assert client.call("GET", f"/rules/{rule_id}", sub="bob")[0] == 404
    assert client.call("POST", f"/rules/{rule_id}/pause", sub="bob")[0] == 404
    status, _, patched = client.call(
        "PATCH", f"/rules/{rule_id}", body={"threshold": 210}, headers={"if-match": '"1"'}
    )
    assert status == 200, patched
    assert patched["rule"]["threshold"] == 210
    assert (
        client.call("PATCH", f"/rules/{rule_id}", body={"threshold": 5}, headers={"if-match": '"1"'})[0]
        == 412
    )
    assert client.call("PATCH", f"/rules/{rule_id}", body={"threshold": 5})[0] == 428

    # The processor's `once` marker of arming 1 (its key: src/app/dynamodb_store.cpp) makes it triggered.
    assert client.call("POST", f"/rules/{rule_id}/rearm")[0] == 409
    ddb.put_item(
        TableName=state_table,
        Item={"symbol": {"S": f"#once#{rule_id}"}, "rule_id": {"S": "#arming#1"}},
    )
    assert client.call("GET", f"/rules/{rule_id}")[2]["state"] == "triggered"
    status, _, rearmed = client.call("POST", f"/rules/{rule_id}/rearm")
    assert (status, rearmed["rule"]["arming"], rearmed["rule"]["state"]) == (200, 2, "active")

    status, _, versions = client.call("GET", f"/rules/{rule_id}/versions")
    assert status == 200
    assert [v["version"] for v in versions["versions"]] == [1, 2, 3]
    assert versions["versions"][0]["effective_until"] == versions["versions"][1]["effective_from"]
    assert versions["versions"][2]["effective_until"] is None

    status, _, listed = client.call("GET", "/rules")
    assert status == 200
    assert [r["id"] for r in listed["rules"]] == [rule_id]
    assert client.call("DELETE", f"/rules/{rule_id}")[2]["rule"]["state"] == "deleted"


def test_quota_bad_input_and_id_tokens_are_problems(api: tuple[Api, Any, str]) -> None:
    client, _, _ = api
    for name in ("a", "b"):
        assert client.call("POST", "/rules", body={**DEFINITION, "name": name})[0] == 201
    status, headers, problem = client.call("POST", "/rules", body={**DEFINITION, "name": "c"})
    assert (status, problem["type"]) == (409, "quota-exceeded")
    assert headers["Content-Type"] == "application/problem+json"
    status, _, problem = client.call("POST", "/rules", body={**DEFINITION, "threshold": "high"}, sub="bob")
    assert (status, problem["errors"][0]["field"]) == (422, "threshold")
    assert client.call("GET", "/rules", token_use="id")[0] == 403


def test_pages_of_rules_through_mac_d_cursors(api: tuple[Api, Any, str]) -> None:
    client, _, _ = api
    created = sorted(
        client.call("POST", "/rules", body={**DEFINITION, "name": name})[2]["rule"]["id"]
        for name in ("a", "b")
    )
    listed: list[str] = []
    query = {"limit": "1"}
    for _ in range(5):
        status, _, page = client.call("GET", "/rules", query=query)
        assert status == 200, page
        listed += [rule["id"] for rule in page["rules"]]
        if "next_cursor" not in page:
            break
        query = {"limit": "1", "cursor": page["next_cursor"]}
    assert listed == created
    status, _, problem = client.call("GET", "/rules", sub="bob", query={"cursor": query["cursor"]})
    assert (status, problem["type"]) == (400, "invalid-cursor")


def test_a_store_out_of_reach_is_503_after_p_with_retry_after_and_an_error_log_line() -> None:
    """Nothing answers at the AWS endpoint: a change is retried after a backoff for as long as P lasts (R3),
    then answered 503 `retry-later` with Retry-After (A3), and the function logs the 5xx as an error."""
    env = api_env(
        f"http://127.0.0.1:{free_port()}", "arn:aws:kms:us-east-1:123456789012:key/k", "alerts", "state"
    )
    emulator = runner([str(ensure_bootstrap())], env)
    emulator.__enter__()
    try:
        started = time.monotonic()
        status, headers, problem = Api(emulator).call("POST", "/rules", body=DEFINITION)
        answered_after_s = time.monotonic() - started
        process = emulator.process
        assert process is not None
        with process.output_read:
            process.output_read.wait_for(lambda: any("API error" in line for line in process.stdout), 10.0)
        errors = [json.loads(line) for line in process.stdout if "API error" in line]
    finally:
        terminate(emulator)
    assert (status, problem["type"]) == (503, "retry-later"), problem
    assert headers["Retry-After"] == "5"
    assert answered_after_s >= P_SECONDS  # it kept trying while P lasted, not only once
    assert len(errors) == 1
    assert errors[0]["level"] == "ERROR"
    assert json.loads(errors[0]["reason"]) == problem

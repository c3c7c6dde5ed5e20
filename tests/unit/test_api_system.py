"""The local traders' API (local/api_system.py): started on moto, a trader and an operator signed in with
real Cognito tokens, a request round trip through the front to the real function, and a clean stop (the
function processes end on SIGTERM, not SIGKILL)."""

from __future__ import annotations

import json
import signal
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.error import HTTPError

import boto3
import jwt
import pytest

from lib.config import StackConfig
from local.api_system import ApiSystem, GracefulEnvironment, function_environment, running_api_system
from local.clock import CLOCK_VARIABLE, offset_clock
from local.function_resources import FunctionResources
from local.runtime_api import RuntimeApiEmulator
from tests.support.function_harness import ensure_bootstrap
from tests.support.moto_server import moto_server

RULE = {
    "name": "breakout",
    "symbol": "AAPL",
    "condition": "price_above",
    "threshold": 200,
    "severity": "info",
}


def jwt_claims(token: str) -> dict[str, Any]:
    return dict(jwt.decode(token, options={"verify_signature": False}))


def call(system: ApiSystem, method: str, path: str, token: str, body: object = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        system.url + path,
        data=data,
        method=method,
        headers={"authorization": f"Bearer {token}", "content-type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except HTTPError as refused:
        return refused.code, json.loads(refused.read())


@pytest.fixture(scope="module")
def system() -> Iterator[ApiSystem]:
    with (
        moto_server() as endpoint,
        running_api_system(endpoint, ensure_bootstrap(), rate=1000, burst=1000) as api,
    ):
        yield api


def test_the_system_serves_a_traders_rule_through_the_front_to_the_function(system: ApiSystem) -> None:
    access = system.sign_in("alice")["access"]
    created, change = call(system, "POST", "/rules", access, RULE)
    assert created == 201, change
    rule_id = change["rule"]["id"]
    assert change["rule"]["symbol"] == "AAPL"
    read, rule = call(system, "GET", f"/rules/{rule_id}", access)
    assert (read, rule["id"], rule["owner"]) == (200, rule_id, jwt_claims(access)["sub"])
    # The rule is in the system's rules table.
    rules = boto3.client(
        "dynamodb",
        endpoint_url=system.endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ).scan(TableName=system.rules_table)["Items"]
    assert any(rule_id in json.dumps(item) for item in rules)
    assert system.front is not None
    assert system.front.invocations == 2


def test_a_signed_in_user_carries_the_pools_issuer_and_client(system: ApiSystem) -> None:
    claims = jwt_claims(system.sign_in("bob")["access"])
    assert claims["iss"].endswith("/" + system.pool_id)
    assert claims["client_id"] == system.client_id
    assert claims["token_use"] == "access"
    assert system.url.startswith("http://127.0.0.1:")
    assert not system.url.endswith("/")


def test_an_operator_sign_in_joins_the_operator_group_even_for_an_existing_user(system: ApiSystem) -> None:
    def groups(tokens: dict[str, str]) -> list[str]:
        return list(jwt_claims(tokens["access"]).get("cognito:groups", []))

    assert groups(system.sign_in("carol")) == []
    assert groups(system.sign_in("carol", operator=True)) == [system.operator_group]
    assert groups(system.sign_in("carol")) == [system.operator_group]  # a later sign-in keeps the group
    operator = system.sign_in("dave", operator=True)
    assert groups(operator) == [system.operator_group]
    assert call(system, "PUT", "/symbols/MSFT/suspension", system.sign_in("erin")["access"], {})[0] == 403
    assert call(system, "PUT", "/symbols/MSFT/suspension", operator["access"], {})[0] == 200


def test_the_functions_environment_is_the_stacks_with_the_emulator_clock_and_overrides() -> None:
    resources = FunctionResources("alerts-x", "state-x", "arn:topic", "dlq", "capture", "http://e", "rules-x")
    clock = offset_clock(0)
    env = function_environment("http://e", resources, "arn:key", settings={"RULE_QUOTA": "3"}, clock=clock)
    config = StackConfig()
    assert env["_HANDLER"] == "api"
    assert env["AWS_ENDPOINT_URL"] == "http://e"
    assert (env["RULES_TABLE"], env["ALERTS_TABLE"], env["STATE_TABLE"]) == ("rules-x", "alerts-x", "state-x")
    assert env["KMS_KEY_ARN"] == "arn:key"
    assert env["RULE_QUOTA"] == "3"
    assert env["OPERATOR_GROUP"] == config.api.operator_group
    assert env["ALERTS_VISIBLE_AFTER_SECONDS"] == str(config.alerts_visible_after_seconds)
    assert env[CLOCK_VARIABLE] == clock
    assert CLOCK_VARIABLE not in function_environment("http://e", resources, "arn:key")


UP = "print('up', flush=True); time.sleep(60)"  # it speaks once its SIGTERM handling is set
SLEEPER = f"import signal, sys, time; signal.signal(signal.SIGTERM, lambda *_: sys.exit(7)); {UP}"
STUBBORN = f"import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); {UP}"


def started(script: str, tmp_path: Path) -> RuntimeApiEmulator:
    emulator = RuntimeApiEmulator([sys.executable, "-c", script], cwd=tmp_path).__enter__()
    process = emulator.start_process()
    with process.output_read:
        assert process.output_read.wait_for(lambda: process.stdout, 30)
    return emulator


def test_an_environment_closes_its_process_with_sigterm(tmp_path: Path) -> None:
    emulator = started(SLEEPER, tmp_path)
    process = emulator.process
    assert process is not None
    GracefulEnvironment(emulator).close()
    assert process.returncode == 7  # its own exit on SIGTERM, not a kill


def test_an_environment_kills_a_process_that_ignores_sigterm_after_the_grace(tmp_path: Path) -> None:
    emulator = started(STUBBORN, tmp_path)
    process = emulator.process
    assert process is not None
    GracefulEnvironment(emulator, grace_s=0.3).close()
    assert process.returncode == -signal.SIGKILL


def test_an_environment_without_a_process_just_closes(tmp_path: Path) -> None:
    emulator = RuntimeApiEmulator([sys.executable, "-c", "pass"], cwd=tmp_path).__enter__()
    GracefulEnvironment(emulator).close()
    assert emulator.process is None

"""schemathesis (issue 16) against the local API from docs/openapi.yaml: for every operation, a bounded,
derandomized set of generated requests with a valid access token (an operator's, so that the operator routes
are driven past their 403 too), through the front to the real function. Each answer must be no server error
(5xx) and conform to the document (status, content type, headers, body schema). Driven through
schemathesis's Python API and Hypothesis, not its pytest plugin."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from lib.openapi import OPENAPI_PATH
from local.api_system import ApiSystem
from tests.api.conftest import ClientFactory

EXAMPLES_PER_OPERATION = 25
CHECKS = (
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
)
SCHEMA = schemathesis.openapi.from_path(str(OPENAPI_PATH))


def operations() -> dict[str, Any]:
    """Every operation of the document by its label; an operation schemathesis cannot read fails here."""
    found = {}
    for result in SCHEMA.get_all_operations():
        assert isinstance(result, Ok), result.err()
        found[result.ok().label] = result.ok()
    return found


OPERATIONS = operations()


@pytest.fixture
def operator_token(client: ClientFactory) -> str:
    return client("fuzz", operator=True).tokens["access"]


@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_generated_requests_get_no_server_error_and_conform_to_the_document(
    api: ApiSystem, operator_token: str, label: str
) -> None:
    operation = OPERATIONS[label]
    headers = {"Authorization": f"Bearer {operator_token}"}

    calls: list[int] = []

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def run(case: Any) -> None:
        response = case.call(base_url=api.url, headers=headers, timeout=60)
        calls.append(response.status_code)
        case.validate_response(response, checks=CHECKS)

    run()
    assert calls  # requests were made: an operation that generates nothing is no pass


def failures(case: Any, status: int, body: Any) -> set[str]:
    """The names of the checks' failures for a hand-made answer to `case`."""
    response = requests.Response()
    response.status_code = status
    response._content = json.dumps(body).encode()
    response.headers["Content-Type"] = "application/json"
    response.request = requests.Request("GET", "http://127.0.0.1/rules").prepare()
    try:
        case.validate_response(response, checks=CHECKS)
    except FailureGroup as group:
        return {type(failure).__name__ for failure in group.exceptions}
    except Failure as failure:
        return {type(failure).__name__}
    return set()


def test_the_checks_fail_a_server_error_and_an_undocumented_body() -> None:
    """The checks above can fail: a 500, and a 200 of GET /rules without `rules`."""
    case = OPERATIONS["GET /rules"].Case()
    assert "ServerError" in failures(case, 500, {"message": "Internal Server Error"})
    assert "JsonSchemaError" in failures(case, 200, {"items": []})

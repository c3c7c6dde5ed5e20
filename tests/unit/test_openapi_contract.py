"""docs/openapi.yaml against the API function (A2, issue 16): the document is valid OpenAPI 3.1, and its
paths and methods are exactly the route table the function serves (api_routes prints the table the
bootstrap builds), so that a route is never served undocumented nor documented unserved."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

from openapi_spec_validator import validate
from openapi_spec_validator.readers import read_from_filename

from lib.config import ROOT
from tests.support.function_harness import built

OPENAPI = ROOT / "docs" / "openapi.yaml"
API_ROUTES = Path(os.environ.get("TAP_API_ROUTES", ROOT / "build" / "cpp" / "tests" / "api" / "api_routes"))
METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


def document() -> dict[str, Any]:
    loaded, _ = read_from_filename(str(OPENAPI))
    return dict(loaded)


def documented_routes(doc: dict[str, Any]) -> set[str]:
    return {
        f"{method.upper()} {path}"
        for path, item in doc["paths"].items()
        for method in item
        if method in METHODS
    }


def served_routes() -> list[str]:
    out = subprocess.run([str(built(API_ROUTES, "cpp-build"))], capture_output=True, check=True, text=True)
    return out.stdout.splitlines()


def test_the_document_is_valid_openapi_3_1() -> None:
    doc = document()
    assert doc["openapi"].startswith("3.1")
    validate(doc)


def test_the_function_serves_exactly_the_documented_routes() -> None:
    served = served_routes()
    assert len(served) == len(set(served)), "a route key is added twice"
    assert set(served) == documented_routes(document())

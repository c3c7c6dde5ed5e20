"""The routes docs/openapi.yaml states (lib/openapi.py), read from small documents: the gaps a mutation run
found (issue 18)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lib.config import ROOT
from lib.openapi import HTTP_METHODS, OPENAPI_PATH, OpenApiError, Route, api_routes


def document(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "openapi.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_document_and_the_operations_are_openapis() -> None:
    assert OPENAPI_PATH == ROOT / "docs" / "openapi.yaml"
    assert HTTP_METHODS == ("get", "put", "post", "delete", "options", "head", "patch", "trace")
    assert Route("/a/{b}", "PUT").key == "PUT /a/{b}"


def test_every_operation_of_every_path_is_a_route_sorted(tmp_path: Path) -> None:
    text = (
        "paths:\n"
        "  /b:\n    summary: é\n    parameters: []\n    trace: {}\n    get: {}\n"
        "  /a:\n    patch: {}\n    head: {}\n    options: {}\n    delete: {}\n    post: {}\n    put: {}\n"
    )
    assert api_routes(document(tmp_path, text)) == (
        Route("/a", "DELETE"),
        Route("/a", "HEAD"),
        Route("/a", "OPTIONS"),
        Route("/a", "PATCH"),
        Route("/a", "POST"),
        Route("/a", "PUT"),
        Route("/b", "GET"),
        Route("/b", "TRACE"),
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[1]\n", "no `paths`"),
        ("info: {}\n", "no `paths`"),
        ("paths: []\n", "no `paths`"),
        ("paths: {}\n", "no `paths`"),
        ("paths:\n  a:\n    get: {}\n", "path 'a' is not `/...` with operations"),
        ("paths:\n  1:\n    get: {}\n", "path 1 is not `/...` with operations"),
        ("paths:\n  /a: [get]\n", "path '/a' is not `/...` with operations"),
        ("paths:\n  /a:\n    summary: s\n    GET: {}\n", "path /a has no operation"),
    ],
)
def test_a_document_without_deployable_routes_is_refused(tmp_path: Path, text: str, message: str) -> None:
    path = document(tmp_path, text)
    with pytest.raises(OpenApiError) as refused:
        api_routes(path)
    assert str(refused.value) == f"{path}: {message}"

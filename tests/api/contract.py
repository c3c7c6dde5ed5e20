"""The black-box suite's one check of an answer against docs/openapi.yaml (issue 16: every documented response
validates against the schema): the route the front selects (lib/openapi.py's routes, local/openapi_routes.py's
selection), the status documented for its method, a documented content type, the body valid against that
content's schema (JSON Schema 2020-12, `$ref`s into the document, formats checked), and the documented
headers' values. A path that fits no route is API Gateway's own 404 `{"message"}`, as the front answers it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from lib.openapi import OPENAPI_PATH, api_routes
from local.openapi_routes import select

DOCUMENT_URI = "urn:tap:openapi"
GATEWAY_NOT_FOUND = {"message": "Not Found"}


class ContractError(AssertionError):
    """An answer the document does not allow."""


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]  # names in lower case
    json: Any  # the parsed body; None when the body is empty
    body: bytes = b""


@cache
def document() -> dict[str, Any]:
    loaded = yaml.safe_load(OPENAPI_PATH.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


@cache
def _registry() -> Registry:
    return Registry().with_resource(DOCUMENT_URI, DRAFT202012.create_resource(document()))


def _pointer(*parts: str) -> str:
    return "/".join(part.replace("~", "~0").replace("/", "~1") for part in parts)


def _follow(node: dict[str, Any], pointer: str) -> tuple[dict[str, Any], str]:
    """A response object and its pointer in the document, after its `$ref` (a local one)."""
    while "$ref" in node:
        pointer = node["$ref"].removeprefix("#/")
        node = document()
        for part in pointer.split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
    return node, pointer


def _validate(instance: Any, schema_pointer: str, what: str) -> None:
    validator = Draft202012Validator(
        {"$ref": f"{DOCUMENT_URI}#/{schema_pointer}"},
        registry=_registry(),
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    if errors:
        found = "; ".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:5])
        raise ContractError(f"{what}: {found} (in {json.dumps(instance)[:500]})")


def check(method: str, path: str, reply: Reply) -> None:
    """Raises ContractError unless the document allows `reply` to `method path` (a query string ignored)."""
    route_path = path.split("?", 1)[0]
    match = select(api_routes(), method.upper(), route_path)
    what = f"{method.upper()} {route_path} -> {reply.status}"
    if match is None:
        if (reply.status, reply.json) != (404, GATEWAY_NOT_FOUND):
            raise ContractError(f"{what}: no route, so API Gateway's 404 {GATEWAY_NOT_FOUND} was due")
        return
    operation = document()["paths"][match.route.path][method.lower()]
    responses = operation["responses"]
    if str(reply.status) not in responses:
        raise ContractError(f"{what}: status not documented for {match.route.key} ({sorted(responses)})")
    base = _pointer("paths", match.route.path, method.lower(), "responses", str(reply.status))
    response, pointer = _follow(responses[str(reply.status)], base)
    content = response.get("content", {})
    media_type = reply.headers.get("content-type", "").split(";", 1)[0].strip()
    if not content:
        if reply.body:
            raise ContractError(f"{what}: a body where the document states none")
    elif media_type not in content:
        raise ContractError(f"{what}: content type {media_type!r} not documented ({sorted(content)})")
    else:
        _validate(reply.json, f"{pointer}/content/{_pointer(media_type)}/schema", what)
    for name, stated in response.get("headers", {}).items():
        value = reply.headers.get(name.lower())
        if value is not None:
            header, header_pointer = _follow(stated, f"{pointer}/headers/{_pointer(name)}")
            schema_type = header.get("schema", {}).get("type")
            typed: Any = int(value) if schema_type == "integer" and value.isdigit() else value
            _validate(typed, f"{header_pointer}/schema", f"{what} header {name}")

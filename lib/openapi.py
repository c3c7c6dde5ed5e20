"""The API's routes as docs/openapi.yaml states them (A2): the one list of paths and methods.

The stack makes one API Gateway route per entry; nothing else lists them. Pure apart from reading the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from lib.config import ROOT

OPENAPI_PATH = ROOT / "docs" / "openapi.yaml"
# The operations of an OpenAPI path item (3.1, section 4.8.9); other keys (summary, parameters...) are not.
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


class OpenApiError(ValueError):
    """The document does not state routes the stack can deploy."""


@dataclass(frozen=True, order=True)
class Route:
    path: str
    method: str  # upper case, as API Gateway's route key writes it

    @property
    def key(self) -> str:
        """API Gateway's route key, e.g. `GET /rules/{rule_id}`."""
        return f"{self.method} {self.path}"


def api_routes(path: Path = OPENAPI_PATH) -> tuple[Route, ...]:
    """Every (path, method) of the document's `paths`, sorted."""
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    paths = document.get("paths") if isinstance(document, dict) else None
    if not isinstance(paths, dict) or not paths:
        raise OpenApiError(f"{path}: no `paths`")
    routes: list[Route] = []
    for route_path, item in paths.items():
        if not isinstance(route_path, str) or not route_path.startswith("/") or not isinstance(item, dict):
            raise OpenApiError(f"{path}: path {route_path!r} is not `/...` with operations")
        methods = [m for m in HTTP_METHODS if m in item]
        if not methods:
            raise OpenApiError(f"{path}: path {route_path} has no operation")
        routes += [Route(route_path, m.upper()) for m in methods]
    return tuple(sorted(routes))

"""The API's route table, read from docs/openapi.yaml (the one list of routes, A2), and API Gateway's route
selection over it: a request's method and path select the most specific route of that method, or none.

Pure apart from reading the document: `route_table(text)` parses, `select(routes, method, path)` matches.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

OPENAPI = Path(__file__).resolve().parent.parent / "docs" / "openapi.yaml"
# The operations of an OpenAPI path item; its other keys (parameters, summary, ...) are no routes.
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


@dataclass(frozen=True)
class Route:
    method: str  # upper case, as in a route key
    path: str  # the OpenAPI path, `{name}` segments templated

    @property
    def key(self) -> str:
        """API Gateway's route key, e.g. `GET /rules/{rule_id}`."""
        return f"{self.method} {self.path}"

    @property
    def segments(self) -> tuple[str, ...]:
        return tuple(self.path.removeprefix("/").split("/"))


@dataclass(frozen=True)
class Match:
    route: Route
    path_parameters: dict[str, str]


def route_table(document: str) -> tuple[Route, ...]:
    """Every (method, path) operation of an OpenAPI document."""
    paths = yaml.safe_load(document).get("paths") or {}
    return tuple(
        Route(method.upper(), path) for path, item in paths.items() for method in item if method in _METHODS
    )


def load_routes(path: Path = OPENAPI) -> tuple[Route, ...]:
    return route_table(path.read_text())


def _variable(segment: str) -> str | None:
    return segment[1:-1] if segment.startswith("{") and segment.endswith("}") else None


def _bind(route: Route, segments: list[str]) -> dict[str, str] | None:
    """The path parameters when the request's segments fit the route's (a variable takes one non-empty
    segment), else None."""
    if len(route.segments) != len(segments):
        return None
    parameters: dict[str, str] = {}
    for template, value in zip(route.segments, segments, strict=True):
        name = _variable(template)
        if name is None:
            if template != value:
                return None
        elif not value:
            return None
        else:
            parameters[name] = value
    return parameters


def select(routes: tuple[Route, ...], method: str, path: str) -> Match | None:
    """API Gateway's choice for an HTTP API without greedy or `$default` routes: among the routes of the
    method whose path fits, the most specific -- a literal segment beats a variable one, compared from the
    left (so `/rules/import` wins over `/rules/{rule_id}`). A path that fits no route of the method is no
    match (404), whatever other methods it has."""
    segments = path.removeprefix("/").split("/")  # `/rules/` has an empty last segment: no route's
    fits = [
        (route, parameters)
        for route in routes
        if route.method == method and (parameters := _bind(route, segments)) is not None
    ]
    if not fits:
        return None
    route, parameters = max(fits, key=lambda fit: tuple(_variable(s) is None for s in fit[0].segments))
    return Match(route, parameters)

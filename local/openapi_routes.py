"""API Gateway's route selection over the API's routes (lib/openapi.py reads them from docs/openapi.yaml, the
one list of routes, A2): a request's method and path select the most specific route of that method, or none.

Pure: `select(routes, method, path)` matches.
"""

from __future__ import annotations

from dataclasses import dataclass

from lib.openapi import Route, api_routes

__all__ = ["Match", "load_routes", "select"]

load_routes = api_routes  # the front serves exactly the routes the stack deploys


@dataclass(frozen=True)
class Match:
    route: Route
    path_parameters: dict[str, str]


def _segments(route: Route) -> tuple[str, ...]:
    return tuple(route.path.removeprefix("/").split("/"))


def _variable(segment: str) -> str | None:
    return segment[1:-1] if segment.startswith("{") and segment.endswith("}") else None


def _bind(route: Route, segments: list[str]) -> dict[str, str] | None:
    """The path parameters when the request's segments fit the route's (a variable takes one non-empty
    segment), else None."""
    if len(_segments(route)) != len(segments):
        return None
    parameters: dict[str, str] = {}
    for template, value in zip(_segments(route), segments, strict=True):
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
    route, parameters = max(fits, key=lambda fit: tuple(_variable(s) is None for s in _segments(fit[0])))
    return Match(route, parameters)

"""Route selection (local/openapi_routes.py) case by case: the gaps a mutation run found (issue 18)."""

from __future__ import annotations

import pytest

from lib.openapi import Route, api_routes
from local.openapi_routes import Match, load_routes, select

ROUTES = (
    Route("/rules/{rule_id}", "GET"),
    Route("/rules/import", "GET"),
    Route("/{kind}/literal", "GET"),
    Route("/first/{second}", "GET"),
    Route("/a/{x", "GET"),
    Route("/a/x}", "GET"),
    Route("/t/{ab}/{c}", "PUT"),
)


def test_load_routes_is_the_stacks_route_list() -> None:
    assert load_routes is api_routes


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "/rules/import", Match(Route("/rules/import", "GET"), {})),
        ("GET", "/rules/r-1", Match(Route("/rules/{rule_id}", "GET"), {"rule_id": "r-1"})),
        ("GET", "rules/r-1", Match(Route("/rules/{rule_id}", "GET"), {"rule_id": "r-1"})),
        # both fit; the literal first segment wins, compared from the left
        ("GET", "/first/literal", Match(Route("/first/{second}", "GET"), {"second": "literal"})),
        ("GET", "/other/literal", Match(Route("/{kind}/literal", "GET"), {"kind": "other"})),
        # a brace on one side only is a literal segment, not a variable
        ("GET", "/a/{x", Match(Route("/a/{x", "GET"), {})),
        ("GET", "/a/x}", Match(Route("/a/x}", "GET"), {})),
        ("PUT", "/t/1/22", Match(Route("/t/{ab}/{c}", "PUT"), {"ab": "1", "c": "22"})),
        ("GET", "/a/x", None),
        ("GET", "/rules/", None),
        ("GET", "/rules", None),
        ("GET", "/rules/import/x", None),
        ("GET", "//literal", None),
        ("POST", "/rules/import", None),
        ("get", "/rules/import", None),
        ("PUT", "/t/1/", None),
    ],
)
def test_the_most_specific_fitting_route_of_the_method_is_selected(
    method: str, path: str, expected: Match | None
) -> None:
    assert select(ROUTES, method, path) == expected


def test_no_routes_select_nothing() -> None:
    assert select((), "GET", "/") is None
    assert select((Route("/", "GET"),), "GET", "/") == Match(Route("/", "GET"), {})

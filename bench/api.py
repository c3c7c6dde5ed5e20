"""`api` in bench/results/latest.json (issue 16 item 7): the traders' API function (the host bootstrap with
`_HANDLER=api`) against moto, through the local front (local/api_system.py) as a client meets it.

- `cold_start_ms`: the API function process started `starts` times under the local Runtime API with the
  API system's own environment: process start to its first GET /next, and to its first answer (a GET /rules
  event of a signed-in trader, API Gateway's payload 2.0). Median and p90.
- `routes`: `requests` calls per route through the front (JWT check, route match, payload 2.0, the
  function, its DynamoDB calls on moto), the whole HTTP exchange timed: p50 / p99 ms per route. moto
  serialises every DynamoDB request in one Python process, so these figures rank routes; they are not AWS's.
- `cpu_per_request_ms`: the function process's CPU time (all threads) over every warm request, divided by
  their count: the figure that does not depend on moto.

`make bench` registers it in bench/run.py; `python -m bench.api --build build/cpp-release` measures it alone
and replaces the `api` key of the result file.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.requests_scale import RESULTS, merge_results
from bench.run import percentile, proc_cpu_s, wait_first_next
from local.api_system import ApiSystem, running_api_system
from local.emulator import MotoServer
from local.function_host import function_command, runner
from local.http_api_payload import Request, Stage, new_request_id, request_event

TRADER = "bench-trader"
DEFINITION = {
    "name": "bench",
    "symbol": "AAPL",
    "condition": "price_above",
    "threshold": 200,
    "severity": "info",
}
TIMEOUT_S = 30.0
COLD_STARTS = 10
REQUESTS = 50  # timed requests per route


@dataclass(frozen=True)
class Reply:
    status: int
    headers: Mapping[str, str]  # names lower-cased
    body: Any


class Client:
    """One trader's HTTP client of the front, keeping every status it met."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url, self.token = base_url, token

    def call(
        self, method: str, path: str, body: Any = None, headers: Mapping[str, str] | None = None
    ) -> Reply:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.base_url + path,
            data=data,
            method=method,
            headers={
                "authorization": f"Bearer {self.token}",
                "content-type": "application/json",
                **(headers or {}),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as answer:
                status, raw, got = answer.status, answer.read(), answer.headers.items()
        except urllib.error.HTTPError as error:
            status, raw, got = error.code, error.read(), error.headers.items()
        return Reply(status, {k.lower(): v for k, v in got}, json.loads(raw) if raw else None)


@dataclass(frozen=True)
class Route:
    """A route's timed call: `call(client, rule_id)` sends one request and returns its status."""

    key: str
    expected: int
    call: Callable[[Client, str], int]


def fresh_definition() -> dict[str, Any]:
    """A rule to create: a name of its own each time (a trader's names are unique: 409 otherwise)."""
    return {**DEFINITION, "name": f"bench-{uuid.uuid4().hex[:12]}"}


def _patch(client: Client, rule_id: str) -> int:
    revision = client.call("GET", f"/rules/{rule_id}").headers["etag"]
    return client.call("PATCH", f"/rules/{rule_id}", {"threshold": 201}, {"if-match": revision}).status


ROUTES = (
    Route("POST /rules", 201, lambda c, _: c.call("POST", "/rules", fresh_definition()).status),
    Route("GET /rules", 200, lambda c, _: c.call("GET", "/rules").status),
    Route("GET /rules/{rule_id}", 200, lambda c, r: c.call("GET", f"/rules/{r}").status),
    Route("PATCH /rules/{rule_id}", 200, _patch),
    Route("POST /rules/{rule_id}/pause", 200, lambda c, r: c.call("POST", f"/rules/{r}/pause").status),
    Route("POST /rules/{rule_id}/resume", 200, lambda c, r: c.call("POST", f"/rules/{r}/resume").status),
    Route("GET /rules/{rule_id}/versions", 200, lambda c, r: c.call("GET", f"/rules/{r}/versions").status),
    Route("GET /alerts", 200, lambda c, _: c.call("GET", "/alerts").status),
)


def first_answer_event(system: ApiSystem) -> bytes:
    """A GET /rules event of a signed-in trader, as the front builds it (the claims of a real token)."""
    claims = {
        "sub": TRADER,
        "token_use": "access",
        "client_id": system.client_id,
        "scope": "aws.cognito.signin.user.admin",
    }
    request = Request("GET", "/rules", "", [("content-type", "application/json")], b"", "127.0.0.1")
    event = request_event(
        request, "GET /rules", {}, claims, stage=Stage(), request_id=new_request_id(), now=time.time()
    )
    return json.dumps(event).encode()


def measure_cold_starts(bootstrap: Path, system: ApiSystem, starts: int) -> dict[str, Any]:
    """Process start to first /next and to first answer, `starts` times (one start first, not counted)."""
    to_next: list[float] = []
    to_answer: list[float] = []
    event = first_answer_event(system)
    for round_ in range(-1, starts):
        with runner(function_command(bootstrap), system.function_env) as emulator:
            began = time.monotonic()
            process = emulator.start_process()
            first_next = wait_first_next(process)
            result = emulator.invoke(event, TIMEOUT_S)
            answered = time.monotonic() - began
        if result.status != "ok" or json.loads(result.payload)["statusCode"] != 200:
            raise RuntimeError(f"the API function's first answer failed: {result}")
        if round_ >= 0:
            to_next.append(first_next * 1000)
            to_answer.append(answered * 1000)
    return {
        "starts": starts,
        "first_next": {"p50": statistics.median(to_next), "p90": percentile(to_next, 90)},
        "first_answer": {"p50": statistics.median(to_answer), "p90": percentile(to_answer, 90)},
    }


def function_pids(bootstrap: Path) -> set[int]:
    """The running processes of `bootstrap` that this process started (the API system's environments)."""
    me, target = os.getpid(), str(bootstrap.resolve())
    pids = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            parent = int((proc / "stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()[1])
            exe = os.readlink(proc / "exe")
        except (FileNotFoundError, ProcessLookupError, PermissionError):  # ended while listed
            continue
        if parent == me and exe == target:
            pids.add(int(proc.name))
    return pids


def measure_routes(bootstrap: Path, system: ApiSystem, requests: int) -> dict[str, Any]:
    """`requests` timed calls per route, round robin over the routes; the function's CPU over all of them."""
    client = Client(system.url, system.sign_in(TRADER)["access"])
    created = client.call("POST", "/rules", DEFINITION)
    if created.status != 201:
        raise RuntimeError(f"POST /rules answered {created.status}: {created.body}")
    rule_id = str(created.body["rule"]["id"])
    pids = function_pids(bootstrap)
    cpu_before = sum(proc_cpu_s(pid) for pid in pids)
    wall: dict[str, list[float]] = {route.key: [] for route in ROUTES}
    for _ in range(requests):
        for route in ROUTES:
            began = time.perf_counter()
            status = route.call(client, rule_id)
            wall[route.key].append((time.perf_counter() - began) * 1000)
            if status != route.expected:
                raise RuntimeError(f"{route.key} answered {status}, expected {route.expected}")
    if not pids or function_pids(bootstrap) != pids:
        raise RuntimeError(
            "the API function was restarted during the warm requests: its CPU is not comparable"
        )
    cpu_ms = (sum(proc_cpu_s(pid) for pid in pids) - cpu_before) * 1000
    # PATCH pays a GET for its If-Match: count both requests.
    calls = requests * (len(ROUTES) + 1)
    return {
        "requests_per_route": requests,
        "routes": {k: {"p50": percentile(v, 50), "p99": percentile(v, 99)} for k, v in wall.items()},
        "cpu_per_request_ms": cpu_ms / calls,
    }


def measure(bootstrap: Path, endpoint: str, starts: int, requests: int) -> dict[str, Any]:
    with running_api_system(endpoint, bootstrap, settings={"RULE_QUOTA": str(requests * 2 + 10)}) as system:
        result: dict[str, Any] = {"cold_start_ms": measure_cold_starts(bootstrap, system, starts)}
        result.update(measure_routes(bootstrap, system, requests))
    result["measured"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return result


def measure_default(bootstrap: Path, endpoint: str) -> dict[str, Any]:
    """What `make bench` measures (bench/run.py): the defaults of the command line."""
    return measure(bootstrap, endpoint, COLD_STARTS, REQUESTS)


def describe(result: Mapping[str, Any]) -> str:
    """The README's table of the figures."""
    cold = result["cold_start_ms"]
    lines = [
        "| figure | value |",
        "|---|---|",
        f"| cold start to first `/next` (p50 of {cold['starts']}) | {cold['first_next']['p50']:.1f} ms |",
        f"| cold start to first answer (p50) | {cold['first_answer']['p50']:.1f} ms |",
        f"| CPU per request (warm, all routes) | {result['cpu_per_request_ms']:.2f} ms |",
    ]
    for key, figure in result["routes"].items():
        lines.append(f"| `{key}` p50 / p99 | {figure['p50']:.0f} / {figure['p99']:.0f} ms |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.api", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--build", type=Path, default=Path("build/cpp-release"), help="CMake build with bootstrap"
    )
    parser.add_argument("--cold-starts", type=int, default=COLD_STARTS)
    parser.add_argument("--requests", type=int, default=REQUESTS, help="timed requests per route")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    with MotoServer() as moto:
        result = measure(args.build / "src" / "bootstrap", moto.url, args.cold_starts, args.requests)
    merge_results({"api": result}, args.out)
    print(describe(result))
    print(f"wrote api to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

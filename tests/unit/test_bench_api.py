"""bench/api.py: the API function's figures come from its own processes and every route answers as timed
(a short run through the real front and function on moto, ~15 s). The full run is part of `make bench`."""

from __future__ import annotations

import subprocess
from pathlib import Path

from bench.api import ROUTES, describe, function_pids, measure
from local.emulator import MotoServer
from tests.support.function_harness import ensure_bootstrap


def test_function_pids_are_this_processes_own_children_of_that_executable() -> None:
    sleep = Path("/bin/sleep")
    child = subprocess.Popen([str(sleep), "30"])
    # A grandchild of the same executable is another process's: not counted.
    shell = subprocess.Popen(["/bin/sh", "-c", f"{sleep} 30; :"])
    try:
        assert child.pid in function_pids(sleep)
        assert shell.pid not in function_pids(sleep)
        assert function_pids(sleep) == {child.pid}
        assert function_pids(Path("/bin/true")) == set()
    finally:
        for process in (child, shell):
            process.kill()
            process.wait()
    assert function_pids(sleep) == set()


def test_a_short_run_times_every_route_and_the_cold_start() -> None:
    with MotoServer() as moto:
        result = measure(ensure_bootstrap(), moto.url, starts=1, requests=2)
    cold = result["cold_start_ms"]
    assert cold["starts"] == 1
    assert 0 < cold["first_next"]["p50"] < cold["first_answer"]["p50"]
    assert sorted(result["routes"]) == sorted(route.key for route in ROUTES)
    for figure in result["routes"].values():
        assert 0 < figure["p50"] <= figure["p99"]
    assert result["requests_per_route"] == 2
    assert result["cpu_per_request_ms"] > 0
    table = describe(result)
    assert all(f"`{route.key}` p50 / p99" in table for route in ROUTES)
    assert "cold start to first answer" in table

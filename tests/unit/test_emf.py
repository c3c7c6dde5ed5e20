"""local/emf.py: the function's EMF records summed over its stdout, other lines ignored."""

from __future__ import annotations

import json

from local.emf import emf_records, emf_totals


def emf(**metrics: float) -> str:
    return json.dumps({"_aws": {"Timestamp": 1, "CloudWatchMetrics": []}, "FunctionName": "f", **metrics})


def test_emf_totals_sums_records_and_ignores_other_lines() -> None:
    lines = [
        emf(Ticks=3, LateTicks=1, Alerts=2),
        '{"level":"INFO","message":"alert stored"}',  # a log line, not EMF
        "not json at all",
        "{broken",
        "[1, 2]",
        emf(Ticks=4, Retries=2),
    ]
    totals = emf_totals(lines)
    assert (totals["Ticks"], totals["LateTicks"], totals["Alerts"], totals["Retries"]) == (7, 1, 2, 2)
    assert totals["Notifications"] == 0  # a counter no record carried
    assert totals.get("FunctionName") is None  # a dimension, not a metric


def test_emf_totals_sum_a_metric_outside_the_known_counters() -> None:
    assert emf_totals([emf(NewCounter=2), emf(NewCounter=3, flag=True)])["NewCounter"] == 5


def test_a_json_log_line_with_numbers_is_not_an_emf_record() -> None:
    log = '{"level":"INFO","message":"batch done","Ticks":9}'
    assert emf_records([log, emf(Ticks=1)]) == [json.loads(emf(Ticks=1))]
    assert emf_totals([log, emf(Ticks=1)])["Ticks"] == 1

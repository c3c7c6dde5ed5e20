"""bench/run.py under the AWS latency model: the `aws_latency_model` report from a warm run and what the
proxies saw, its printed summary, and the switch (--aws-model or TAP_AWS_MODEL=1). Fast, no processes."""

from __future__ import annotations

import json

import pytest

from bench.aws_model import AwsLatencyModel
from bench.run import ProxiedCalls, WarmRun, arguments, modelled_report, modelled_summary
from local.fault_proxy import LatencyStats


def _warm() -> WarmRun:
    quiet = [float(v) for v in range(1, 101)]  # p50 50.5, p99 99.01
    return WarmRun(
        wall_ms={
            ("cpp", False): quiet,
            ("python", False): [2 * v for v in quiet],
            ("cpp", True): [200.0] * 10,
            ("python", True): [300.0] * 10,
        },
        cpu_ms={
            ("cpp", False): [1.0, 3.0],
            ("python", False): [10.0],
            ("cpp", True): [4.0],
            ("python", True): [20.0],
        },
        peak_rss_mb={"cpp": 10.0, "python": 90.0},
        alerts={"cpp": 8, "python": 8},
    )


def _calls() -> dict[str, ProxiedCalls]:
    return {
        "cpp": ProxiedCalls(
            {
                ("dynamodb", "UpdateItem"): LatencyStats(
                    300, 1, 0, sampled_s=3.0, held_s=2.25, upstream_s=0.5
                ),
                ("sns", "Publish"): LatencyStats(100, 0, 0, sampled_s=1.0, held_s=0.75, upstream_s=0.25),
            },
            {("dynamodb", "Scan"): 2},
        ),
        "python": ProxiedCalls({("dynamodb", "UpdateItem"): LatencyStats(10, 1, 1, 0.5, 0.25, 0.125)}, {}),
    }


def test_the_report_carries_figures_shares_and_the_table() -> None:
    report = modelled_report(AwsLatencyModel(17), 110, 11, _warm(), _calls())
    assert (report["seed"], report["batches"], report["alert_every"]) == (17, 110, 11)
    assert report["table"] == AwsLatencyModel(0).describe()
    quiet = report["figures"]["warm_batch_p50_ms"]
    assert (quiet["cpp"], quiet["python"], quiet["ratio"], quiet["alerts"]) == (50.5, 101.0, 2.0, 0)
    assert report["figures"]["warm_batch_p99_ms"]["cpp"] == pytest.approx(99.01)
    loud = report["figures"]["warm_alert_batch_p50_ms"]
    assert (loud["cpp"], loud["python"], loud["ratio"], loud["alerts"]) == (200.0, 300.0, 1.5, 4)
    assert report["function_cpu_per_batch_ms"] == {
        "cpp": 2.0,
        "cpp_alert": 4.0,
        "python": 10.0,
        "python_alert": 20.0,
    }
    cpp = report["exceeded"]["cpp"]
    assert (cpp["calls"], cpp["exceeded"], cpp["share"], cpp["counts"]) == (400, 1, 0.0025, True)
    assert cpp["moto_alone_exceeded"] == 0
    assert cpp["per_operation"]["sns/Publish"] == {
        "calls": 100,
        "exceeded": 0,
        "share": 0.0,
        "moto_alone_exceeded": 0,
        "moto_alone_share": 0.0,
    }
    python = report["exceeded"]["python"]
    assert (python["share"], python["moto_alone_share"]) == (0.1, 0.1)
    assert (
        report["counts"] is False
    )  # the Python run's 10 % sinks both: the figures are compared side by side
    # C++: 4 s sampled, 3 s held, 0.75 s upstream: the local path used a quarter of it, moto 3/16
    assert report["share_of_sampled_time"] == {
        "cpp": {"local": 0.25, "moto": 0.1875},
        "python": {"local": 0.5, "moto": 0.25},
    }
    assert report["unmodelled_calls"] == {"cpp": {"dynamodb/Scan": 2}, "python": {}}
    assert json.loads(json.dumps(report)) == report


def test_a_run_without_held_calls_neither_divides_by_zero_nor_counts() -> None:
    report = modelled_report(AwsLatencyModel(1), 2, 2, _warm(), {"cpp": ProxiedCalls({}, {})})
    assert report["share_of_sampled_time"] == {"cpp": {"local": 0.0, "moto": 0.0}}
    assert report["counts"] is False


def test_the_summary_says_whether_the_figures_count() -> None:
    counted = modelled_report(AwsLatencyModel(17), 110, 11, _warm(), {"cpp": _calls()["cpp"]})
    text = modelled_summary(counted)
    assert "seed 17, 110 batches each" in text
    assert "warm_batch_p50_ms: C++ 50.50, Python 101 (2.00x)" in text
    assert (
        "cpp: answered later than the sample in 1 of 400 calls (0.25%; counts only below 1%); "
        "moto alone took longer in 0 (0.00%)"
    ) in text
    assert text.endswith("the live figures count")
    assert modelled_summary(modelled_report(AwsLatencyModel(17), 1, 1, _warm(), _calls())).endswith(
        "the live figures do NOT count"
    )


def test_the_model_run_is_switched_on_by_flag_or_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TAP_AWS_MODEL", raising=False)
    assert arguments().parse_args([]).aws_model is False
    assert arguments().parse_args(["--aws-model"]).aws_model is True
    monkeypatch.setenv("TAP_AWS_MODEL", "1")
    args = arguments().parse_args([])
    assert (args.aws_model, args.aws_model_batches, args.aws_model_seed) == (True, 300, 17)

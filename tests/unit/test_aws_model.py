"""bench/aws_model.py: the fitted log-normals reproduce the table's p50/p99 (exactly, and on a large seeded
sample), every request the function and the baseline make maps to its row, unknown ones to none, and the
exceed report decides whether a live figure counts."""

from __future__ import annotations

import http.client
import json
import math
import random
from email.message import Message
from statistics import NormalDist

import pytest

from bench.aws_model import (
    EXCEED_LIMIT,
    TABLE,
    Assumption,
    AwsLatencyModel,
    Exceeded,
    LogNormal,
    exceed_report,
    index,
)
from bench.run import percentile
from local.fault_proxy import FaultProxy, classify
from tests.support.http_upstream import QuietHandler, serving

ROWS = {row.name: row for row in TABLE}
SAMPLES = 200_000


def tolerance(row: Assumption, q: float) -> float:
    """Four standard errors of ln(sample q-quantile) for SAMPLES draws: sqrt(q(1-q)/n) / pdf(z_q) * sigma
    (0.9 % at p50 and 2.7 % at p99 for the widest row, the event source's sigma 0.81)."""
    z = NormalDist().inv_cdf(q)
    return 4 * math.sqrt(q * (1 - q) / SAMPLES) / NormalDist().pdf(z) * row.distribution.sigma


def _signed(service: str) -> str:
    return f"AWS4-HMAC-SHA256 Credential=AKID/20261125/us-east-1/{service}/aws4_request, SignedHeaders=host"


def _request_headers(service: str, target: str) -> Message:
    """A signed request's headers, with X-Amz-Target for the JSON protocols (target not empty)."""
    message = Message()
    message["Authorization"] = _signed(service)
    if target:
        message["X-Amz-Target"] = target
    return message


def test_the_table_is_the_issues() -> None:
    figures = {row.name: (row.p50_ms, row.p99_ms) for row in TABLE}
    assert figures == {
        "dynamodb_write": (7.6, 16),
        "dynamodb_batch_write": (10, 28),
        "dynamodb_transact_write": (28, 95),
        "dynamodb_read": (5, 12),
        "sns_publish": (20, 60),
        "sqs_send": (10, 30),
        "event_source_delivery": (16, 105),
    }
    assert all(row.source for row in TABLE)


@pytest.mark.parametrize("row", TABLE, ids=lambda r: r.name)
def test_the_fit_reproduces_p50_and_p99_analytically(row: Assumption) -> None:
    fitted = row.distribution
    assert fitted.quantile_ms(0.5) == pytest.approx(row.p50_ms, rel=1e-12)
    assert fitted.quantile_ms(0.99) == pytest.approx(row.p99_ms, rel=1e-12)


def test_the_fit_by_hand() -> None:
    # p50 10, p99 28: mu = ln 10 = 2.302585, sigma = ln 2.8 / 2.326348 = 1.029619 / 2.326348 = 0.442590
    fitted = LogNormal.fit(10, 28)
    assert fitted.mu == pytest.approx(2.302585, abs=1e-6)
    assert fitted.sigma == pytest.approx(0.442590, abs=1e-6)
    assert LogNormal.fit(5, 5).sigma == 0  # a point mass is a degenerate but valid fit


@pytest.mark.parametrize(("p50", "p99"), [(0, 1), (-1, 1), (10, 9)])
def test_the_fit_rejects_impossible_percentiles(p50: float, p99: float) -> None:
    with pytest.raises(ValueError, match="p50 <= p99"):
        LogNormal.fit(p50, p99)


@pytest.mark.parametrize("row", TABLE, ids=lambda r: r.name)
def test_a_large_seeded_sample_has_the_tables_p50_and_p99(row: Assumption) -> None:
    rng = random.Random(2026)
    draws = [row.distribution.sample_ms(rng) for _ in range(SAMPLES)]
    for q, expected in ((0.5, row.p50_ms), (0.99, row.p99_ms)):
        assert abs(math.log(percentile(draws, q * 100) / expected)) <= tolerance(row, q)


def test_the_model_samples_seconds_of_the_requests_row_reproducibly() -> None:
    model, again, other = AwsLatencyModel(7), AwsLatencyModel(7), AwsLatencyModel(8)
    draws = [model.sample_s("sns", "Publish") for _ in range(20_000)]
    assert draws == [again.sample_s("sns", "Publish") for _ in range(20_000)]
    assert draws[:5] != [other.sample_s("sns", "Publish") for _ in range(5)]
    seconds = [d for d in draws if d is not None]
    assert len(seconds) == len(draws)
    assert percentile(seconds, 50) == pytest.approx(ROWS["sns_publish"].p50_ms / 1000, rel=0.02)


# Every request of the function (lib/lambda/src/aws) and the baseline, as it reaches the proxy.
REQUESTS = [
    ("dynamodb", "DynamoDB_20120810.PutItem", "", "dynamodb_write"),
    ("dynamodb", "DynamoDB_20120810.UpdateItem", "", "dynamodb_write"),
    ("dynamodb", "DynamoDB_20120810.BatchWriteItem", "", "dynamodb_batch_write"),
    ("dynamodb", "DynamoDB_20120810.TransactWriteItems", "", "dynamodb_transact_write"),
    ("dynamodb", "DynamoDB_20120810.GetItem", "", "dynamodb_read"),
    ("dynamodb", "DynamoDB_20120810.BatchGetItem", "", "dynamodb_read"),
    ("dynamodb", "DynamoDB_20120810.Query", "", "dynamodb_read"),
    ("sns", "", "Action=Publish&TopicArn=t", "sns_publish"),
    ("sns", "", "Action=PublishBatch&TopicArn=t", "sns_publish"),
    ("sqs", "AmazonSQS.SendMessage", "", "sqs_send"),
    ("sqs", "AmazonSQS.SendMessageBatch", "", "sqs_send"),
    ("sqs", "", "Action=SendMessage&QueueUrl=q", "sqs_send"),  # the query protocol of older SDKs
]


@pytest.mark.parametrize(("service", "target", "body", "row"), REQUESTS)
def test_every_request_maps_to_its_row(service: str, target: str, body: str, row: str) -> None:
    found = AwsLatencyModel(0).row_of(*classify(_request_headers(service, target), body.encode()))
    assert found is not None
    assert found.name == row


@pytest.mark.parametrize(
    ("service", "operation"),
    [
        ("dynamodb", "Scan"),
        ("dynamodb", "DescribeTable"),
        ("sqs", "ReceiveMessage"),
        ("sqs", "DeleteMessageBatch"),
        ("sns", "Subscribe"),
        ("s3", "PutObject"),
        ("unknown", "unknown"),
        ("sns", "PutItem"),  # an operation of another service
    ],
)
def test_unknown_operations_have_no_row_and_no_sample(service: str, operation: str) -> None:
    model = AwsLatencyModel(0)
    assert model.row_of(service, operation) is None
    assert model.sample_s(service, operation) is None


def test_a_request_priced_by_two_rows_is_a_table_error() -> None:
    twice = Assumption("again", 1, 2, "x", (("dynamodb", "PutItem"),))
    with pytest.raises(ValueError, match="dynamodb_write and again"):
        index((*TABLE, twice))
    assert len(index()) == sum(len(row.requests) for row in TABLE)


def test_the_description_carries_the_fit_and_the_requests() -> None:
    described = {d["operation"]: d for d in AwsLatencyModel(3).describe()}
    assert set(described) == set(ROWS)
    write = described["dynamodb_write"]
    assert write["requests"] == ["dynamodb/PutItem", "dynamodb/UpdateItem"]
    assert (write["mu"], write["sigma"]) == (
        ROWS["dynamodb_write"].distribution.mu,
        ROWS["dynamodb_write"].distribution.sigma,
    )
    assert described["event_source_delivery"]["requests"] == []
    assert json.loads(json.dumps(described)) == described  # fit for the result file


def test_exceed_share_decides_whether_a_live_figure_counts() -> None:
    under = exceed_report({"dynamodb/UpdateItem": Exceeded(150, 1, 1), "sns/Publish": Exceeded(50, 0)})
    assert (under["calls"], under["exceeded"], under["share"]) == (200, 1, 0.005)
    assert under["counts"] is True
    assert under["limit"] == EXCEED_LIMIT == 0.01
    assert list(under["per_operation"]) == ["dynamodb/UpdateItem", "sns/Publish"]
    assert under["per_operation"]["dynamodb/UpdateItem"] == {
        "calls": 150,
        "exceeded": 1,
        "share": 1 / 150,
        "moto_alone_exceeded": 1,
        "moto_alone_share": 1 / 150,
    }
    assert (under["moto_alone_exceeded"], under["moto_alone_share"]) == (1, 0.005)
    at_limit = exceed_report({"dynamodb/UpdateItem": Exceeded(200, 2)})
    assert at_limit["share"] == 0.01
    assert at_limit["counts"] is False  # "< 1 %": exactly 1 % does not count
    nothing = exceed_report({})
    assert (nothing["share"], nothing["moto_alone_share"], nothing["counts"]) == (
        0.0,
        0.0,
        False,
    )  # no call measured: nothing counts


def test_the_proxy_holds_each_request_by_the_seeded_model() -> None:
    # The proxy's draws are the model's own sequence for the same seed and request order.
    slept: list[float] = []
    requests = [("dynamodb", "DynamoDB_20120810.UpdateItem", ""), ("sns", "", "Action=Publish")] * 3
    with (
        serving(QuietHandler) as upstream,
        FaultProxy(upstream, latency=AwsLatencyModel(11), clock=lambda: 0.0, sleep=slept.append) as proxy,
    ):
        host, port = proxy.url.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        for service, target, body in requests:
            conn.request("POST", "/", body=body.encode(), headers=dict(_request_headers(service, target)))
            conn.getresponse().read()
        conn.close()
    expected = AwsLatencyModel(11)
    assert slept == [expected.sample_s(s, o) for s, o in [("dynamodb", "UpdateItem"), ("sns", "Publish")] * 3]
    stats = proxy.latency_stats()
    assert {key: s.calls for key, s in stats.items()} == {
        ("dynamodb", "UpdateItem"): 3,
        ("sns", "Publish"): 3,
    }

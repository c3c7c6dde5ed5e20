"""local/feed.py: the generator's properties, the token bucket, and the sender against moto server."""

from __future__ import annotations

import itertools
import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from local import feed
from local.sqs_queues import drain
from ops import send_feed as sender
from tests.chaos.oracle import load_rules, parse_body, replay
from tests.support.moto_server import moto_environment

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "local" / "data" / "sample-feed.jsonl"


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with moto_environment() as url:
        yield url


@pytest.fixture
def queue(endpoint: str) -> tuple[object, str]:
    sqs = boto3.client("sqs", region_name="us-east-1", endpoint_url=endpoint)
    name = f"q{datetime.now(UTC).timestamp():.0f}{id(object())}"
    return sqs, sqs.create_queue(QueueName=name)["QueueUrl"]


def _drain(sqs: object, url: str) -> list[str]:
    return [m["Body"] for m in drain(sqs, url)]


# ---------------------------------------------------------------- generator


def test_sample_feed_is_what_the_documented_command_generates() -> None:
    assert feed.generate_feed(feed.FeedConfig(seed=7, messages=300)) == list(feed.read_feed(SAMPLE))


def test_generator_is_seeded() -> None:
    cfg = feed.FeedConfig(seed=3, messages=40)
    assert feed.generate_feed(cfg) == feed.generate_feed(cfg)
    assert feed.generate_feed(cfg) != feed.generate_feed(feed.FeedConfig(seed=4, messages=40))


def test_generated_feed_properties() -> None:
    bodies = list(feed.read_feed(SAMPLE))
    parsed = [parse_body(b) for b in bodies]
    ticks = [t for p in parsed for t in p.ticks]
    assert len(bodies) == 300
    assert 1_300 <= len(ticks) <= 1_700
    # exactly the three malformed kinds, nothing else rejected
    rejects = [p.rejects for p in parsed if p.rejects]
    assert len(rejects) == 3
    assert sorted(r[0].split(":")[0].split(" ")[0] for r in rejects) == ["invalid", "price", "symbol"]
    mixed = [p for p in parsed if p.rejects and p.ticks]
    assert len(mixed) == 1  # good ticks beside the bad one
    # packing: single objects and arrays of up to 9 ticks
    shapes = Counter(type(json.loads(b)).__name__ for b, p in zip(bodies, parsed, strict=True) if p.ticks)
    assert shapes["dict"] > 0
    assert shapes["list"] > 200
    assert {t.symbol for t in ticks} == {"AAPL", "MSFT", "BTC-USD", "EUR/USD", "TSLA", "NVDA"}
    raw = [t for b in bodies for t in _raw_ticks(b)]
    assert sum(1 for t in raw if t["timestamp"].endswith("Z")) > 0.8 * len(raw)
    assert {t["timestamp"][-6:] for t in raw if not t["timestamp"].endswith("Z")} == {
        "+02:00",
        "-05:00",
        "+05:30",
        "+01:00",
    }
    for symbol in {t.symbol for t in ticks}:
        times = [t.ts_us for t in ticks if t.symbol == symbol]
        assert times == sorted(set(times)), f"{symbol} timestamps not strictly increasing"
    assert any(t.volume is not None and t.volume > 100_000 for t in ticks)  # block trades
    assert any(t.bid is None for t in ticks)  # trades without a quote
    wide = [t for t in ticks if t.bid is not None and t.ask is not None and t.ask - t.bid > 0.5]
    assert {t.symbol for t in wide} >= {"AAPL", "MSFT", "TSLA"}
    # the walk crosses the rules' lines several times
    rules = load_rules(json.loads((ROOT / "config" / "alert-rules.json").read_text()))
    fired = Counter(a.rule_id for a in replay(ticks, rules).alerts)
    for rule_id in ("aapl-breakout-200", "btc-usd-cross-100k", "msft-above-450", "eur-usd-below-1.05"):
        assert fired[rule_id] >= 2, rule_id
    for symbol, line in (("AAPL", 200.0), ("TSLA", 300.0), ("EUR/USD", 1.05)):
        sides = [t.price > line for t in ticks if t.symbol == symbol]
        assert sum(a != b for a, b in itertools.pairwise(sides)) >= 4, symbol


def _raw_ticks(body: str) -> list[dict]:
    try:
        doc = json.loads(body)
    except ValueError:
        return []
    return [t for t in (doc if isinstance(doc, list) else [doc]) if "timestamp" in t]


def test_malformed_kinds_cycle() -> None:
    bodies = feed.generate_feed(feed.FeedConfig(seed=1, messages=12, malformed=12))
    kinds = []
    for body in bodies:
        parsed = parse_body(body)
        if parsed.ticks:
            kinds.append("mixed")
        else:
            kinds.append("json" if parsed.rejects[0].startswith("invalid body") else "negative")
    assert Counter(kinds) == {"json": 4, "negative": 4, "mixed": 4}


def test_format_timestamp() -> None:
    when = datetime(2026, 11, 25, 14, 30, 0, 123_456, tzinfo=UTC)
    assert feed.format_timestamp(when) == "2026-11-25T14:30:00.123Z"
    assert feed.format_timestamp(when, timedelta(hours=-5)) == "2026-11-25T09:30:00.123-05:00"


def test_write_and_read_feed(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "f.jsonl"
    assert feed.write_feed(path, ["{}", "[]"]) == 2
    path.write_text(path.read_text() + "\n")
    assert list(feed.read_feed(path)) == ["{}", "[]"]
    with pytest.raises(ValueError, match="newline"):
        feed.write_feed(path, ["{\n}"])


# ---------------------------------------------------------------- token bucket


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_token_bucket_paces_to_the_rate() -> None:
    t = FakeTime()
    bucket = sender.TokenBucket(rate=10, capacity=10, clock=t.clock, sleep=t.sleep)
    bucket.take(10)  # the initial burst is free
    assert t.now == 100.0
    for _ in range(5):
        bucket.take(10)
    assert t.now == pytest.approx(105.0)  # 50 more tokens at 10/s
    t.now += 60  # idle: saves up to the capacity only
    bucket.take(10)
    bucket.take(5)
    assert t.now == pytest.approx(165.5)


def test_token_bucket_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="> 0"):
        sender.TokenBucket(0, 1)
    with pytest.raises(ValueError, match="cannot take"):
        sender.TokenBucket(1, 2).take(3)


# ---------------------------------------------------------------- sender


def test_send_sample_feed_to_moto(queue: tuple[object, str]) -> None:
    sqs, url = queue
    bodies = list(feed.read_feed(SAMPLE))
    seen: list[int] = []
    result = sender.send_feed(bodies, url, progress=lambda r: seen.append(r.sent))
    assert (result.sent, result.failed, result.api_calls, result.retried_entries) == (300, 0, 30, 0)
    assert seen == list(range(10, 301, 10))
    assert sorted(_drain(sqs, url)) == sorted(bodies)


def test_send_at_a_rate_uses_small_batches(queue: tuple[object, str]) -> None:
    sqs, url = queue
    t = FakeTime()
    bucket = sender.TokenBucket(rate=4, capacity=4, clock=t.clock, sleep=t.sleep)
    result = sender.send_feed([f"m{i}" for i in range(10)], url, rate=4, bucket=bucket)
    assert (result.sent, result.api_calls) == (10, 3)  # batches of 4, 4, 2
    assert t.now == pytest.approx(101.5)  # 6 messages beyond the burst at 4/s
    assert sorted(_drain(sqs, url)) == sorted(f"m{i}" for i in range(10))
    # without an explicit bucket the sender builds its own and still delivers everything
    assert sender.send_feed(["a", "b", "c"], url, rate=200).sent == 3


def test_oversized_bodies_are_refused_locally(queue: tuple[object, str]) -> None:
    sqs, url = queue
    result = sender.send_feed(["a", "x" * (sender.SQS_MAX_BATCH_BYTES + 1), "b"], url)
    assert (result.sent, result.failed, result.api_calls) == (2, 1, 2)
    assert result.failures == [(1, "BodyTooLarge", "body over 262144 bytes")]
    assert sender.send_feed(["y" * (sender.SQS_MAX_BATCH_BYTES + 1)], url).api_calls == 0
    assert sorted(_drain(sqs, url)) == ["a", "b"]


def test_generate_from_now() -> None:
    first = json.loads(feed.generate_feed(feed.FeedConfig(start="now", messages=1, malformed=0))[0])
    tick = first[0] if isinstance(first, list) else first
    parsed = parse_body(json.dumps(tick)).ticks[0]
    assert abs(parsed.ts_us / 1e6 - datetime.now(UTC).timestamp()) < 60


def test_batches_respect_the_256_kib_limit() -> None:
    big = "x" * 100_000
    batches = list(sender._batches([big, big, big, "s"], 10))
    assert [[i for i, _ in b] for b in batches] == [[0, 1], [2, 3]]


def _stubbed() -> tuple[object, Stubber]:
    client = boto3.client("sqs", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b")
    return client, Stubber(client)


def test_failed_entries_are_retried_unless_the_sender_is_at_fault() -> None:
    client, stub = _stubbed()
    url = "https://sqs.us-east-1.amazonaws.com/123456789012/q"
    stub.add_response(
        "send_message_batch",
        {
            "Successful": [{"Id": "0", "MessageId": "m0", "MD5OfMessageBody": "x"}],
            "Failed": [
                {"Id": "1", "SenderFault": False, "Code": "InternalError"},
                {"Id": "2", "SenderFault": True, "Code": "InvalidMessageContents", "Message": "bad"},
            ],
        },
        {"QueueUrl": url, "Entries": [{"Id": str(i), "MessageBody": b} for i, b in enumerate("abc")]},
    )
    stub.add_response(
        "send_message_batch",
        {"Successful": [{"Id": "1", "MessageId": "m1", "MD5OfMessageBody": "x"}], "Failed": []},
        {"QueueUrl": url, "Entries": [{"Id": "1", "MessageBody": "b"}]},
    )
    sleeps: list[float] = []
    with stub:
        result = sender.send_feed(list("abc"), url, client=client, sleep=sleeps.append)
    assert (result.sent, result.failed, result.api_calls, result.retried_entries) == (2, 1, 2, 1)
    assert result.failures == [(2, "InvalidMessageContents", "bad")]
    assert len(sleeps) == 1
    assert 0 <= sleeps[0] <= 0.05


def test_entries_still_failing_after_max_attempts_are_counted() -> None:
    client, stub = _stubbed()
    url = "https://sqs.us-east-1.amazonaws.com/123456789012/q"
    for _ in range(3):
        stub.add_response(
            "send_message_batch",
            {"Successful": [], "Failed": [{"Id": "0", "SenderFault": False, "Code": "ServiceUnavailable"}]},
        )
    with stub:
        result = sender.send_feed(["a"], url, client=client, max_attempts=3, sleep=lambda _s: None)
    assert (result.sent, result.failed, result.api_calls, result.retried_entries) == (0, 1, 3, 2)
    assert result.failures == [(0, "ServiceUnavailable", "")]


def test_sqs_client_region(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    assert sender.sqs_client("https://sqs.eu-west-3.amazonaws.com/1/q").meta.region_name == "eu-west-3"
    assert sender.sqs_client("http://127.0.0.1:1/1/q").meta.region_name == "us-east-1"
    assert sender.sqs_client("http://127.0.0.1:1/1/q", region="ap-south-1").meta.region_name == "ap-south-1"
    client = sender.sqs_client("http://127.0.0.1:1/1/q", endpoint_url="http://127.0.0.1:9")
    assert client.meta.endpoint_url == "http://127.0.0.1:9"
    monkeypatch.setenv("AWS_REGION", "us-west-2")
    assert sender.sqs_client("https://sqs.eu-west-3.amazonaws.com/1/q").meta.region_name == "eu-west-3"
    assert sender.sqs_client("http://127.0.0.1:1/1/q").meta.region_name == "us-west-2"
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ca-central-1")
    assert sender.sqs_client("http://127.0.0.1:1/1/q").meta.region_name == "ca-central-1"


# ---------------------------------------------------------------- CLI


def test_cli_generate_and_send(
    endpoint: str, queue: tuple[object, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sqs, url = queue
    out = tmp_path / "feed.jsonl"
    assert (
        feed.main(["generate", "--seed", "5", "--messages", "25", "--malformed", "1", "--out", str(out)]) == 0
    )
    assert capsys.readouterr().out == f"wrote 25 messages to {out}\n"
    assert sender.main(["--queue-url", url, "--file", str(out), "--endpoint-url", endpoint]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out) == {"sent": 25, "failed": 0, "api_calls": 3, "retried_entries": 0}
    assert "sent 25/25 failed 0" in captured.err
    assert sorted(_drain(sqs, url)) == sorted(feed.read_feed(out))
    assert sender.main(["--queue-url", url, "--generate", "12", "--seed", "2", "--rate", "1000"]) == 0
    assert sorted(_drain(sqs, url)) == sorted(feed.generate_feed(feed.FeedConfig(seed=2, messages=12)))


def test_cli_send_exits_1_when_messages_fail(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    client, stub = _stubbed()
    stub.add_response(
        "send_message_batch",
        {"Successful": [], "Failed": [{"Id": "0", "SenderFault": True, "Code": "InvalidParameterValue"}]},
    )
    monkeypatch.setattr(sender, "sqs_client", lambda *_a: client)
    path = tmp_path / "one.jsonl"
    feed.write_feed(path, ["x"])
    with stub:
        assert (
            sender.main(["--queue-url", "https://sqs.us-east-1.amazonaws.com/1/q", "--file", str(path)]) == 1
        )
    assert "message 0 failed: InvalidParameterValue" in capsys.readouterr().err


def test_cli_send_to_a_missing_queue_fails_cleanly(endpoint: str, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"{endpoint}/123456789012/no-such-queue"
    assert sender.main(["--queue-url", url, "--generate", "2"]) == 2
    assert "send failed:" in capsys.readouterr().err


def test_an_empty_feed_makes_no_batch() -> None:
    assert list(sender._batches([], 10)) == []

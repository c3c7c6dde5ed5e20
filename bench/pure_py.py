"""CPU per tick of the baseline's pure path (parse + validate + evaluate), timed with timeit.

Runs in its own process (the baseline creates its boto3 clients and loads its rules at import). What is
timed per iteration is what the C++ benchmark BM_ParseValidateEvaluateFile times on the same files: the
Lambda event JSON parsed into records, every body parsed and validated into ticks, ticks grouped per
(rule, symbol) and evaluated against absent stored state. The baseline interleaves evaluation with its
DynamoDB calls, so its client is replaced by one that answers instantly (no I/O is timed); the request
documents the baseline builds for its writes are part of its evaluation and stay in.

    python -m bench.pure_py --event build/bench/event.json --rules config/alert-rules.json
prints {"ns_per_tick": ..., "ticks": ..., "alerts": ...}.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import timeit
from collections.abc import Sequence
from pathlib import Path
from typing import Any


class InstantDynamoDb:
    """Answers every call the baseline makes on the pure path with an empty success."""

    def batch_get_item(self, **_: Any) -> dict[str, Any]:
        return {"Responses": {}}

    def transact_write_items(self, **_: Any) -> dict[str, Any]:
        return {}

    def update_item(self, **_: Any) -> dict[str, Any]:
        return {}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pure_py", description=__doc__)
    parser.add_argument("--event", type=Path, required=True)
    parser.add_argument("--rules", type=Path, required=True)
    parser.add_argument("--min-time", type=float, default=0.5, help="seconds of timing per repetition")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args(argv)
    for name in ("ALERTS_TABLE", "STATE_TABLE", "TOPIC_ARN", "DLQ_URL"):
        os.environ.setdefault(name, "bench")
    os.environ["RULES_PATH"] = str(args.rules)
    os.environ.setdefault("AWS_REGION", "us-east-1")
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")

    # The baseline reads its environment at import: imported only now that it is set.
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord  # noqa: PLC0415

    from bench.baseline import handler  # noqa: PLC0415

    handler.dynamodb = InstantDynamoDb()
    event_text = args.event.read_text(encoding="utf-8")

    def once() -> tuple[int, int]:
        handler._last_fire_cache.clear()  # every iteration starts from the same (absent) state
        event = json.loads(event_text)
        records = [SQSRecord(r) for r in event["Records"]]
        parsed = handler.parse_records(records)
        batch = handler.Batch(None)
        handler.apply_rules(batch, parsed)
        return parsed.ticks, len(batch.fired)

    ticks, alerts = once()
    timer = timeit.Timer(once, timer=time.process_time)  # CPU time, as Google Benchmark reports it
    number, _ = timer.autorange()
    number = max(1, int(number * args.min_time / 0.2))  # autorange stops at >= 0.2 s
    times = timer.repeat(repeat=args.repeat, number=number)
    per_iteration = sorted(times)[len(times) // 2] / number
    print(json.dumps({"ns_per_tick": per_iteration / ticks * 1e9, "ticks": ticks, "alerts": alerts}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""local/chaos.py: a seeded short campaign (all fault kinds, SIGKILLs inside invocations, messages redriven
to the DLQ and recovered) must end with the invariant holding; the invariant check itself must catch a
duplicate, an unnotified alert, a differing repeat and a lost message."""

from __future__ import annotations

import json
import random
import runpy
import sys
import threading
import time
from collections import Counter
from types import SimpleNamespace
from typing import Any

import boto3
import pytest

from local import chaos
from local.chaos import ChaosConfig, FaultKind, evaluate, fault_rules
from local.event_source import BatchOutcome
from local.runtime_api import InvocationResult
from tests.support.function_harness import ensure_bootstrap
from tests.support.moto_server import moto_server


def test_fault_rules_inject_the_total_rate_split_by_weight() -> None:
    rules = fault_rules(0.2)
    assert {r.kind for r in rules} == set(FaultKind)
    for service in ("dynamodb", "sns"):
        miss = 1.0
        for rule in rules:
            if rule.service == service:
                miss *= 1 - rule.probability
        assert 1 - miss == pytest.approx(0.2)


def test_short_seeded_campaign_keeps_the_invariant(capsys: pytest.CaptureFixture[str]) -> None:
    bootstrap = ensure_bootstrap()
    argv = ["--seconds", "12", "--fault-rate", "0.4", "--seed", "5", "--concurrency", "2", "--rate", "10"]
    argv += ["--kill-every", "2", "--bootstrap", str(bootstrap)]
    status = chaos.main(argv)
    summary = json.loads(capsys.readouterr().out)
    print(json.dumps(summary))
    assert summary["violations"] == []
    assert status == 0
    assert summary["ok"]
    assert set(summary["faults_injected"]) == {k.value for k in FaultKind}  # every kind, seeded
    assert summary["kills"] >= 1
    assert summary["retries"] > 0
    assert summary["messages_lost"] == summary["lost_alerts"] == summary["duplicate_alerts"] == 0
    assert summary["messages_deleted"] == summary["messages_sent"] == 120
    assert summary["stored_alerts"] > 0


def _tick(price: float, ts: str) -> str:
    return json.dumps({"symbol": "MSFT", "price": price, "timestamp": ts, "volume": 1})


def _note(alert_id: str, severity: str = "high") -> dict[str, Any]:
    return {"Message": json.dumps({"alert_id": alert_id, "severity": severity, "age_ms": 3})}


def test_the_invariant_check_catches_violations() -> None:
    rules = {
        "rules": [
            {
                "id": "r",
                "symbol": "MSFT",
                "condition": "price_above",
                "threshold": 450,
                "severity": "high",
                "cooldown_seconds": 0,
                "enabled": True,
            }
        ]
    }
    bodies = [
        _tick(451.0, "2026-11-25T14:30:00Z"),
        _tick(452.0, "2026-11-25T14:30:01Z"),
        _tick(1.0, "2026-11-25T14:30:02Z"),
    ]
    ids = {"m0": bodies[0], "m1": bodies[1], "m2": bodies[2]}
    ok = InvocationResult("ok", b"{}", None, 0.1, "req")
    outcomes = [BatchOutcome(["m0", "m1"], ok, ["m0", "m1"], [])]  # m2 neither deleted nor in the DLQ
    first, second = "2026-11-25T14:30:00.000000Z#r", "2026-11-25T14:30:01.000000Z#r"
    stored = [
        {"symbol": "MSFT", "timestamp": first},
        {"symbol": "MSFT", "timestamp": first},
        {"symbol": "MSFT", "timestamp": second},
    ]
    notes = [_note(f"MSFT|{first}"), _note(f"MSFT|{first}", "low"), _note("MSFT|ghost")]
    summary = evaluate(
        ChaosConfig(seconds=1),
        rules_doc=rules,
        bodies=bodies,
        messages_sent=3,
        ids_to_body=ids,
        outcomes=outcomes,
        stored=stored,
        notes=notes,
        dead=[],
        dead_before_recovery=0,
        kills=[],
        injected=Counter(),
        late_ticks=0,
        retries=0,
        drained=False,
        errors=[],
    )
    text = "\n".join(summary["violations"])
    assert not summary["ok"]
    assert "stored 2 times" in text
    assert f"MSFT|{second} stored (None), never notified" in text
    assert "names no stored alert" in text
    assert "differ" in text
    assert "notified 2 times, after no interrupted invocation of its message" in text
    assert "message lost" in text
    assert "did not drain" in text
    assert summary["duplicate_alerts"] == 1
    assert summary["messages_lost"] == 1


class _Process:
    pid = 42

    def __init__(self) -> None:
        self.killed = False

    def alive(self) -> bool:
        return not self.killed

    def kill(self) -> None:
        self.killed = True


def test_killer_waits_for_an_invocation_in_progress() -> None:
    env = SimpleNamespace(busy=False, process=_Process())
    stop = threading.Event()
    kills: list[int] = []
    thread = threading.Thread(target=chaos._killer, args=([env], 0.01, random.Random(1), stop, kills))
    thread.start()
    time.sleep(0.1)
    assert kills == []  # nothing runs: nothing is killed
    env.busy = True
    deadline = time.monotonic() + 5
    while not kills and time.monotonic() < deadline:
        time.sleep(0.01)
    stop.set()
    thread.join()
    assert kills == [42]
    assert env.process.killed


def test_module_entry_point(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", ["chaos", "--help"])
    monkeypatch.delitem(sys.modules, "local.chaos")  # run afresh as __main__; restored afterwards
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_module("local.chaos", run_name="__main__")
    assert exit_info.value.code == 0


def test_redrive_moves_dead_letters_back_to_the_source_queue() -> None:
    with moto_server() as endpoint:
        sqs = boto3.client(
            "sqs",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        dlq = sqs.create_queue(QueueName="dlq")["QueueUrl"]
        source = sqs.create_queue(QueueName="source")["QueueUrl"]
        for body in ("a", "b"):
            sqs.send_message(QueueUrl=dlq, MessageBody=body)
        assert sorted(m["Body"] for m in chaos.redrive(sqs, dlq, source)) == ["a", "b"]
        assert chaos._drain_queue(sqs, dlq) == []
        assert sorted(m["Body"] for m in chaos._drain_queue(sqs, source)) == ["a", "b"]


def test_a_repeat_after_a_killed_invocation_of_its_message_is_allowed() -> None:
    rules = {
        "rules": [
            {
                "id": "r",
                "symbol": "MSFT",
                "condition": "price_above",
                "threshold": 450,
                "severity": "high",
                "cooldown_seconds": 60,
            }
        ]
    }
    body = _tick(451.0, "2026-11-25T14:30:00Z")
    killed = InvocationResult("error", b"{}", "Runtime.ExitError", 0.1, "r1")
    ok = InvocationResult("ok", b"{}", None, 0.1, "r2")
    outcomes = [BatchOutcome(["m0"], killed, [], ["m0"]), BatchOutcome(["m0b"], ok, ["m0b"], [])]
    alert = "2026-11-25T14:30:00.000000Z#r"
    summary = evaluate(
        ChaosConfig(seconds=1),
        rules_doc=rules,
        bodies=[body],
        messages_sent=1,
        ids_to_body={"m0": body, "m0b": body},
        outcomes=outcomes,
        stored=[{"symbol": "MSFT", "timestamp": alert}],
        notes=[_note(f"MSFT|{alert}")] * 2,
        dead=[],
        dead_before_recovery=0,
        kills=[1],
        injected=Counter(),
        late_ticks=0,
        retries=0,
        drained=True,
        errors=[],
    )
    assert summary["violations"] == []
    assert summary["repeated_notifications"] == summary["repeats_following_an_interruption"] == 1
    assert summary["interrupted_invocations"] == 1

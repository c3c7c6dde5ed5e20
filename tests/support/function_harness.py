"""The real `bootstrap` run the one local way (local/function_host.py), for the black-box tests: the build
to run (built when missing), and SQS events whose bodies' bytes the test controls (hostile input)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from lib.config import ROOT
from local import function_host
from local.function_host import LocalFunction, default_bootstrap, function_command
from local.sqs_event import received_message
from local.sqs_event import sqs_event as event_of_messages

# The arm64 bootstrap the zip ships (make package); TAP_ARM64_BOOTSTRAP names another build.
ARM64_BOOTSTRAP = Path(os.environ.get("TAP_ARM64_BOOTSTRAP", ROOT / "build" / "package" / "bootstrap"))


def built(path: Path, target: str) -> Path:
    """The artefact at `path`, made by `make target` first when it is missing."""
    if not path.exists():
        subprocess.run(["make", "-s", target], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    assert path.exists(), f"{path} missing (make {target})"
    return path


def arm64_command() -> list[str]:
    """How to start the shipped arm64 bootstrap here (through qemu-aarch64 on another architecture);
    skips the test where qemu-user is missing."""
    if shutil.which("qemu-aarch64") is None:
        pytest.skip("qemu-aarch64 is missing (make package installs qemu-user)")
    return function_command(built(ARM64_BOOTSTRAP, "package"))


def ensure_bootstrap() -> Path:
    """The function build to run: TAP_BOOTSTRAP (make test points it at the coverage build), else the host
    build, built by `make cpp-build` when missing."""
    bootstrap = default_bootstrap()
    if not bootstrap.exists() and "TAP_BOOTSTRAP" not in os.environ:
        subprocess.run(["make", "-s", "cpp-build"], cwd=ROOT, check=True)
    if not bootstrap.exists():
        raise FileNotFoundError(f"no function build at {bootstrap} (TAP_BOOTSTRAP / make cpp-build)")
    return bootstrap


@dataclass
class Record:
    """One SQS record of an event. `body` is inserted into the event JSON as given: a str is JSON-escaped by
    json.dumps; raw bytes (`raw_body_json`) are spliced in verbatim as the JSON string literal."""

    body: str | None = None
    raw_body_json: bytes | None = None  # a complete JSON string literal, quotes included
    message_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    receive_count: int = 1


def sqs_event(records: Sequence[Record]) -> bytes:
    """Lambda's SQS event (local/sqs_event.py), with the bodies' bytes under the caller's control: each
    body goes in through a placeholder replaced by its JSON literal."""
    placeholders = [f"\0BODY{i}\0" for i in range(len(records))]
    pairs = list(zip(placeholders, records, strict=True))
    text = event_of_messages([received_message(p, r.message_id, r.receive_count) for p, r in pairs])
    for placeholder, r in pairs:
        literal = r.raw_body_json if r.raw_body_json is not None else json.dumps(r.body).encode()
        text = text.replace(json.dumps(placeholder).encode(), literal, 1)
    return text


@contextmanager
def running_function(env: Mapping[str, str] | None = None) -> Iterator[LocalFunction]:
    """The function (built when missing) on moto with its resources; everything stopped afterwards."""
    with function_host.running_function(env, ensure_bootstrap()) as function:
        yield function

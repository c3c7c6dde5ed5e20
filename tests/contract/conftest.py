"""Fixtures of the contract tests: the function's validators in batch mode, one process per session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.contract.validator import TOOL, BatchValidator


def _batch(mode: str) -> Iterator[BatchValidator]:
    if not TOOL.is_file():
        pytest.fail(f"{TOOL} is missing: build it with `make cpp-build` or set TAP_VALIDATE")
    batch = BatchValidator(mode)
    yield batch
    batch.close()


@pytest.fixture(scope="session")
def rules_batch() -> Iterator[BatchValidator]:
    yield from _batch("rules")


@pytest.fixture(scope="session")
def settings_batch() -> Iterator[BatchValidator]:
    yield from _batch("settings")


@pytest.fixture(scope="session")
def clock_batch() -> Iterator[BatchValidator]:
    yield from _batch("clock")

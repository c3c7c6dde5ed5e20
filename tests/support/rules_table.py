"""The rules table on a moto server as the stack defines it (lib/stack/tables.py: pk + sk, strings)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3

from tests.support.moto_server import moto_environment


def create_rules_table(ddb: Any, name: str) -> None:
    """Creates the empty rules table `name` with the stack's key schema through the DynamoDB client `ddb`."""
    ddb.create_table(
        TableName=name,
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )


@contextmanager
def rules_table(name: str, **extra_env: str) -> Iterator[Any]:
    """A fresh moto server (moto_environment, with `extra_env`) holding an empty rules table `name`; yields
    the boto3 DynamoDB client."""
    with moto_environment(**extra_env):
        ddb = boto3.client("dynamodb")
        create_rules_table(ddb, name)
        yield ddb

"""I2 / I2b: the alerts table and the alert-state table, keyed by symbol, encrypted with the stack's key."""

from __future__ import annotations

from dataclasses import dataclass

from lib.config import StackConfig
from lib.stack.bindings import (
    Construct,
    DynamodbTable,
    DynamodbTableAttribute,
    DynamodbTablePointInTimeRecovery,
    DynamodbTableServerSideEncryption,
)


@dataclass(frozen=True)
class TableRef:
    name: str
    arn: str


class Tables(Construct):
    def __init__(self, scope: Construct, construct_id: str, config: StackConfig, *, key_arn: str) -> None:
        super().__init__(scope, construct_id)
        self.alerts = self._table("alerts_table", config.name("market-alerts"), "timestamp", key_arn, config)
        self.state = self._table("state_table", config.name("alert-state"), "rule_id", key_arn, config)

    def _table(
        self, construct_id: str, name: str, sort_key: str, key_arn: str, config: StackConfig
    ) -> TableRef:
        table = DynamodbTable(
            self,
            construct_id,
            name=name,
            billing_mode="PAY_PER_REQUEST",
            hash_key="symbol",
            range_key=sort_key,
            attribute=[
                DynamodbTableAttribute(name="symbol", type="S"),
                DynamodbTableAttribute(name=sort_key, type="S"),
            ],
            point_in_time_recovery=DynamodbTablePointInTimeRecovery(enabled=True),
            server_side_encryption=DynamodbTableServerSideEncryption(enabled=True, kms_key_arn=key_arn),
            deletion_protection_enabled=False,
            tags=config.tags,
        )
        return TableRef(name=table.name, arn=table.arn)

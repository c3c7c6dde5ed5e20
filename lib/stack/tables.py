"""I2 / I2b / I13: the alerts and alert-state tables (keyed by symbol) and the rules table (pk + sk), each
on-demand, with PITR, encrypted with the stack's key."""

from __future__ import annotations

from dataclasses import dataclass

from lib.config import StackConfig
from lib.stack.bindings import (
    Construct,
    DynamodbTable,
    DynamodbTableAttribute,
    DynamodbTableGlobalSecondaryIndex,
    DynamodbTablePointInTimeRecovery,
    DynamodbTableServerSideEncryption,
    DynamodbTableTtl,
)

# A4: one trader's alerts by store time without a scan. Keys: the alert item's `owner` and `stored_id` (a
# ULID taken at store; item schema: lib/lambda/include/tap/app/dynamodb_store.hpp). Projection ALL: the
# listing shows the whole alert, and naming its attributes here would copy the store adapter's format.
# Only the API reads it; the processor never queries an index (R3).
ALERTS_BY_OWNER = DynamodbTableGlobalSecondaryIndex(
    name="by-owner", hash_key="owner", range_key="stored_id", projection_type="ALL"
)


@dataclass(frozen=True)
class TableRef:
    name: str
    arn: str


class Tables(Construct):
    def __init__(self, scope: Construct, construct_id: str, config: StackConfig, *, key_arn: str) -> None:
        super().__init__(scope, construct_id)
        self.alerts = self._table(
            "alerts_table", config.name("market-alerts"), "timestamp", key_arn, config, index=ALERTS_BY_OWNER
        )
        self.state = self._table("state_table", config.name("alert-state"), "rule_id", key_arn, config)
        # I13: records, names, quota counters, change heads and the change log (item schema:
        # lib/lambda/include/tap/app/rules_dynamodb.hpp). Log items expire through `ttl` beyond the horizon.
        self.rules = self._table(
            "rules_table",
            config.name("alert-rules"),
            "sk",
            key_arn,
            config,
            hash_key="pk",
            ttl=DynamodbTableTtl(attribute_name="ttl", enabled=True),
        )

    def _table(
        self,
        construct_id: str,
        name: str,
        sort_key: str,
        key_arn: str,
        config: StackConfig,
        *,
        hash_key: str = "symbol",
        ttl: DynamodbTableTtl | None = None,
        index: DynamodbTableGlobalSecondaryIndex | None = None,
    ) -> TableRef:
        keys = [hash_key, sort_key]
        if index is not None:  # an index key is an attribute definition too (both strings)
            keys += [k for k in (index.hash_key, index.range_key) if k is not None]
        table = DynamodbTable(
            self,
            construct_id,
            name=name,
            billing_mode="PAY_PER_REQUEST",
            hash_key=hash_key,
            range_key=sort_key,
            attribute=[DynamodbTableAttribute(name=k, type="S") for k in keys],
            global_secondary_index=[index] if index is not None else None,
            point_in_time_recovery=DynamodbTablePointInTimeRecovery(enabled=True),
            server_side_encryption=DynamodbTableServerSideEncryption(enabled=True, kms_key_arn=key_arn),
            deletion_protection_enabled=False,
            ttl=ttl,
            tags=config.tags,
        )
        return TableRef(name=table.name, arn=table.arn)

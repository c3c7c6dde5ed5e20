"""The API function's environment (I14, A1): the one mapping from its variable names to their values, read by
the stack (lib/stack/api_function.py) and by the local traders' API (local/api_system.py), so that the two
run the function with the same settings."""

from __future__ import annotations

from lib.config import OPERATOR_GROUP_ENV, StackConfig


def api_environment(
    config: StackConfig, *, rules_table: str, alerts_table: str, state_table: str, key_arn: str
) -> dict[str, str]:
    """The function's variables for these resources (names, or the stack's tokens for them)."""
    return {
        "RULES_TABLE": rules_table,
        "RULES_SHARDS": str(config.rules_shards),  # the change heads, as the processor reads them
        "ALERTS_TABLE": alerts_table,
        "STATE_TABLE": state_table,
        OPERATOR_GROUP_ENV: config.api.operator_group,
        "RULE_QUOTA": str(config.rule_quota),
        "ALERTS_VISIBLE_AFTER_SECONDS": str(config.alerts_visible_after_seconds),
        "MAX_NOTIFY_AGE_SECONDS": str(config.max_notify_age_seconds),  # a listed alert's delayed
        # The cursor MAC key is a data key made under the stack's key (GenerateDataKey needs it).
        "KMS_KEY_ARN": key_arn,
        "LOG_LEVEL": config.log_level,
    }

"""I1 / I4: the function (C++ custom runtime on arm64), its log group and role, its SQS event source."""

from __future__ import annotations

from lib.config import FUNCTION_TIMEOUT_SECONDS, StackConfig
from lib.stack.bindings import (
    Construct,
    LambdaEventSourceMapping,
    LambdaEventSourceMappingScalingConfig,
    LambdaFunction,
    LambdaFunctionEnvironment,
)
from lib.stack.function_role import FunctionResources, FunctionRole
from lib.stack.runtime import encrypted_log_group, runtime_settings, suppress_checkov

MEMORY_MB = 3072
RESERVED_CONCURRENCY = 5
CHECKOV_SKIPS = (
    ("CKV_AWS_117", "no VPC: the function reaches only AWS public endpoints, a VPC adds cold start and NAT"),
    ("CKV_AWS_116", "invoked synchronously by the SQS event source: failures redrive to the queue's DLQ"),
    ("CKV_AWS_272", "code signing needs AWS Signer profiles, outside this stack; the zip hash is pinned"),
)


def function_name(config: StackConfig) -> str:
    return config.name("data-processor")


def log_group_name(config: StackConfig) -> str:
    """Known before the log group exists: the key's policy names it, and the log group needs the key."""
    return f"/aws/lambda/{function_name(config)}"


class Function(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        config: StackConfig,
        *,
        code_hash: str,
        account_id: str,
        uses: FunctionResources,
    ) -> None:
        super().__init__(scope, construct_id)
        log_group = encrypted_log_group(
            self, "log_group", config, name=log_group_name(config), key_arn=uses.key_arn
        )
        role = FunctionRole(
            self, "function_role", config, account_id=account_id, uses=uses, log_group_arn=log_group.arn
        )
        function = LambdaFunction(
            self,
            "function",
            function_name=function_name(config),
            description="Evaluates traders' alert rules on market ticks (C++ custom runtime)",
            role=role.arn,
            handler="bootstrap",
            memory_size=MEMORY_MB,
            timeout=FUNCTION_TIMEOUT_SECONDS,
            reserved_concurrent_executions=RESERVED_CONCURRENCY,
            environment=LambdaFunctionEnvironment(
                variables={
                    "ALERTS_TABLE": uses.alerts_table.name,
                    "STATE_TABLE": uses.state_table.name,
                    "TOPIC_ARN": uses.topic_arn,
                    "DLQ_URL": uses.dlq.url,
                    # The rules are read from the table (docs/design.md 12.6); its shard count is the
                    # one every writer uses too (config/function-settings.json).
                    "RULES_TABLE": uses.rules_table.name,
                    "RULES_SHARDS": str(config.rules_shards),
                    "LOG_LEVEL": config.log_level,
                    "REORDER_WINDOW_SECONDS": str(config.reorder_window_seconds),
                    "MAX_NOTIFY_AGE_SECONDS": str(config.max_notify_age_seconds),
                }
            ),
            depends_on=[role.policy, log_group],
            **runtime_settings(config, code_hash=code_hash, key_arn=uses.key_arn, log_group=log_group),
        )
        suppress_checkov(function, CHECKOV_SKIPS)
        LambdaEventSourceMapping(
            self,
            "event_source",
            event_source_arn=uses.queue.arn,
            function_name=function.arn,
            # I4: the stack settings (lib/config.py: defaults 25 / 1 s, checked against AWS's limits).
            batch_size=config.batch_size,
            maximum_batching_window_in_seconds=config.batching_window_seconds,
            function_response_types=["ReportBatchItemFailures"],
            # Matching the reserved concurrency: the poller never invokes into throttling, which would
            # count receives and push healthy messages to the DLQ.
            scaling_config=LambdaEventSourceMappingScalingConfig(maximum_concurrency=RESERVED_CONCURRENCY),
            tags=config.tags,
            depends_on=[role.policy],
        )
        self.name, self.arn = function.function_name, function.arn

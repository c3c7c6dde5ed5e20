"""I14 / I7: the traders' API function `alert-api-<suffix>` (the processor's zip, `_HANDLER=api`), its log
group and its own least-privilege role: rules (as a writer), alerts and their by-owner index (read), the
state table's `once` markers (read), the key, its logs, X-Ray. No SQS, no SNS."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lib.config import StackConfig
from lib.stack import policy
from lib.stack.api_environment import api_environment
from lib.stack.bindings import (
    Construct,
    IamRole,
    IamRolePolicy,
    IamRolePolicyAttachment,
    LambdaFunction,
    LambdaFunctionEnvironment,
)
from lib.stack.function import CHECKOV_SKIPS
from lib.stack.runtime import encrypted_log_group, runtime_settings, suppress_checkov
from lib.stack.tables import ALERTS_BY_OWNER, TableRef

# The custom runtime passes the handler setting as _HANDLER; the bootstrap runs the API for `api`.
API_HANDLER = "api"
API_MEMORY_MB = 1024
# Below API Gateway's 30 s integration limit, so that the function, not the gateway, answers a slow change
# (503 with Retry-After, A3).
API_TIMEOUT_SECONDS = 10
API_RESERVED_CONCURRENCY = 10
# The once markers' partition keys in the state table (the marker key of
# lib/lambda/src/app/dynamodb_store.cpp): the only state items the API reads.
ONCE_MARKER_KEYS = "#once#*"
# The processor's suppressions hold here too, but for the DLQ one: API Gateway invokes synchronously and
# answers the caller, there is no asynchronous event to keep.
API_CHECKOV_SKIPS = (
    *((check, reason) for check, reason in CHECKOV_SKIPS if check != "CKV_AWS_116"),
    ("CKV_AWS_116", "invoked synchronously by API Gateway, which returns the failure to the caller"),
)


def api_function_name(config: StackConfig) -> str:
    return config.name("alert-api")


def api_log_group_name(config: StackConfig) -> str:
    """Known before the log group exists: the key's policy names it."""
    return f"/aws/lambda/{api_function_name(config)}"


@dataclass(frozen=True)
class ApiFunctionResources:
    key_arn: str
    rules_table: TableRef
    alerts_table: TableRef
    state_table: TableRef
    rules_writer_policy_arn: str


class ApiFunction(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        config: StackConfig,
        *,
        zip_hash: str,
        account_id: str,
        uses: ApiFunctionResources,
    ) -> None:
        super().__init__(scope, construct_id)
        log_group = encrypted_log_group(
            self, "api_log_group", config, name=api_log_group_name(config), key_arn=uses.key_arn
        )
        role = IamRole(
            self,
            "api_role",
            name=config.name("alert-api-role"),
            assume_role_policy=policy.document(policy.lambda_trust(account_id)),
            tags=config.tags,
        )
        role_policy = IamRolePolicy(
            self,
            "api_role_policy",
            name=config.name("alert-api-policy"),
            role=role.id,
            policy=policy.document(*api_role_statements(uses, log_group.arn)),
        )
        # The change protocol's transaction and the key: the writers' one policy (lib/stack/rules_access.py).
        writer = IamRolePolicyAttachment(
            self, "api_rules_writer", role=role.name, policy_arn=uses.rules_writer_policy_arn
        )
        function = LambdaFunction(
            self,
            "api_function",
            function_name=api_function_name(config),
            description="The traders' alert API behind API Gateway (C++ custom runtime)",
            role=role.arn,
            handler=API_HANDLER,
            memory_size=API_MEMORY_MB,
            timeout=API_TIMEOUT_SECONDS,
            reserved_concurrent_executions=API_RESERVED_CONCURRENCY,
            environment=LambdaFunctionEnvironment(
                variables=api_environment(
                    config,
                    rules_table=uses.rules_table.name,
                    alerts_table=uses.alerts_table.name,
                    state_table=uses.state_table.name,
                    key_arn=uses.key_arn,
                )
            ),
            depends_on=[role_policy, writer, log_group],
            **runtime_settings(config, code_hash=zip_hash, key_arn=uses.key_arn, log_group=log_group),
        )
        suppress_checkov(function, API_CHECKOV_SKIPS)
        self.name, self.arn, self.invoke_arn = function.function_name, function.arn, function.invoke_arn


def api_role_statements(uses: ApiFunctionResources, log_group_arn: str) -> list[dict[str, Any]]:
    """Each action the API's code calls beyond the writers' policy, on the one resource it calls it on."""
    return [
        {
            # A4: an owner's alerts by store time, read from the index only (never an item by its key).
            "Sid": "ReadAlerts",
            "Effect": "Allow",
            "Action": "dynamodb:Query",
            "Resource": f"{uses.alerts_table.arn}/index/{ALERTS_BY_OWNER.name}",
        },
        {
            # Re-arm asks whether the current arming's once marker exists (one BatchGetItem).
            "Sid": "ReadOnceMarkers",
            "Effect": "Allow",
            "Action": "dynamodb:BatchGetItem",
            "Resource": uses.state_table.arn,
            "Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [ONCE_MARKER_KEYS]}},
        },
        policy.write_logs(log_group_arn),
        policy.xray_tracing(),
    ]

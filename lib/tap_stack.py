"""The market-data alerting stack (I1..I14, docs/requirements.md): the constructs of `lib/stack/` composed.

The function package is checked before any resource exists; the rules are traders' data in the rules
table (I13), imported with `tap_rules` after deployment, never synthesized. Each construct takes
the validated configuration and the names and ARNs it needs from the others; its resources keep the flat
Terraform addresses (`lib/stack/addressing.py`).
"""

from __future__ import annotations

import json
from typing import Any

from lib.config import StackConfig
from lib.openapi import api_routes
from lib.stack.account import Account
from lib.stack.addressing import AddressByIdStack
from lib.stack.alarms import Alarms
from lib.stack.api import HttpApi, access_log_group_name
from lib.stack.api_function import ApiFunction, ApiFunctionResources, api_log_group_name
from lib.stack.backend import state_backend
from lib.stack.bindings import App, Construct, Fn, TerraformOutput, Testing
from lib.stack.cognito import Identity
from lib.stack.encryption_key import EncryptionKey
from lib.stack.function import Function, function_name, log_group_name
from lib.stack.function_package import LambdaPackageError, package_hash
from lib.stack.function_role import FunctionResources
from lib.stack.provider import aws_provider
from lib.stack.queues import Queues
from lib.stack.rules_access import RulesWriterPolicy
from lib.stack.tables import Tables
from lib.stack.topics import Topics

__all__ = ["STACK_NAME", "App", "LambdaPackageError", "TapStack", "Testing", "package_hash", "synth_json"]

STACK_NAME = "tap-stack"


class TapStack(AddressByIdStack):
    def __init__(self, scope: Construct, stack_id: str, config: StackConfig) -> None:
        super().__init__(scope, stack_id)
        code_hash = package_hash(config.zip_path)
        aws_provider(self, config)
        state_backend(self, config)
        account = Account(self, "account", config.region)
        log_groups = (log_group_name(config), api_log_group_name(config), access_log_group_name(config))
        key = EncryptionKey(self, "encryption_key", config, account=account, log_group_names=log_groups)
        tables = Tables(self, "tables", config, key_arn=key.arn)
        queues = Queues(self, "queues", config, key_arn=key.arn)
        topics = Topics(self, "topics", config, key_arn=key.arn, account=account)
        uses = FunctionResources(
            key_arn=key.arn,
            alerts_table=tables.alerts,
            state_table=tables.state,
            rules_table=tables.rules,
            queue=queues.queue,
            dlq=queues.dlq,
            topic_arn=topics.trading_arn,
        )
        function = Function(
            self, "function", config, code_hash=code_hash, account_id=account.account_id, uses=uses
        )
        writers = RulesWriterPolicy(self, "rules_writers", config, rules=tables.rules, key_arn=key.arn)
        api = self._api(
            config, code_hash=code_hash, account=account, key_arn=key.arn, tables=tables, writer=writers.arn
        )
        Alarms(
            self,
            "alarms",
            config,
            function_name=function_name(config),
            queue=queues.queue,
            dlq=queues.dlq,
            ops_topic_arn=topics.ops_arn,
            api_id=api.id,
        )
        # I12: what operators, feed handlers and the local system read after `terraform apply`.
        for output_id, value in (
            ("queue_url", queues.queue.url),
            ("queue_arn", queues.queue.arn),
            ("dlq_url", queues.dlq.url),
            ("topic_arn", topics.trading_arn),
            ("ops_topic_arn", topics.ops_arn),
            ("table_name", tables.alerts.name),
            ("state_table_name", tables.state.name),
            ("rules_table_name", tables.rules.name),
            ("rules_writer_policy_arn", writers.arn),
            ("function_name", function.name),
            ("function_arn", function.arn),
            ("kms_key_arn", key.arn),
        ):
            TerraformOutput(self, output_id, value=value)

    def _api(
        self,
        config: StackConfig,
        *,
        code_hash: str,
        account: Account,
        key_arn: str,
        tables: Tables,
        writer: str,
    ) -> HttpApi:
        """I14: the identity (Cognito or external), the API function, the HTTP API, their outputs (I12)."""
        identity = Identity(self, "identity", config)
        uses = ApiFunctionResources(
            key_arn=key_arn,
            rules_table=tables.rules,
            alerts_table=tables.alerts,
            state_table=tables.state,
            rules_writer_policy_arn=writer,
        )
        function = ApiFunction(
            self, "api_function", config, zip_hash=code_hash, account_id=account.account_id, uses=uses
        )
        api = HttpApi(
            self,
            "http_api",
            config,
            routes=api_routes(),
            issuer=identity.issuer,
            audience=identity.audience,
            function_name=function.name,
            function_invoke_arn=function.invoke_arn,
            key_arn=key_arn,
        )
        outputs = {
            "api_url": api.url,
            "jwt_issuer": identity.issuer,
            "jwt_audience": Fn.join(",", identity.audience),  # API Gateway's audience list, comma-joined
            "api_function_name": function.name,
            "user_pool_id": identity.user_pool_id,
            "user_pool_client_id": identity.client_id,
        }
        for output_id, value in outputs.items():
            if value is not None:  # no pool of ours with an external issuer
                TerraformOutput(self, output_id, value=value)
        return api


def synth_json(config: StackConfig) -> dict[str, Any]:
    """The stack's Terraform JSON, in memory (tests)."""
    stack = TapStack(Testing.app(), STACK_NAME, config)
    synthesized: dict[str, Any] = json.loads(Testing.synth(stack))
    return synthesized

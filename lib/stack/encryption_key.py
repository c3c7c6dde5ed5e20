"""I6: one customer managed KMS key for every encrypted resource of the stack, and its alias."""

from __future__ import annotations

from lib.config import StackConfig
from lib.stack import policy
from lib.stack.account import Account
from lib.stack.bindings import Construct, KmsAlias, KmsKey

KMS_DELETION_WINDOW_DAYS = 7
# The services that use the key on behalf of the account's callers (queues, topics, tables, environment).
SERVICES_USING_THE_KEY = ("dynamodb", "lambda", "sns", "sqs")


class EncryptionKey(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        config: StackConfig,
        *,
        account: Account,
        log_group_names: tuple[str, ...],
    ) -> None:
        super().__init__(scope, construct_id)
        key = KmsKey(
            self,
            "key",
            description=f"market-data alerting ({config.environment_suffix}): queues, topics, tables, logs",
            enable_key_rotation=True,
            deletion_window_in_days=KMS_DELETION_WINDOW_DAYS,
            policy=_key_policy(account, log_group_names),
            tags=config.tags,
        )
        KmsAlias(self, "key_alias", name=config.name("alias/market-data"), target_key_id=key.key_id)
        self.arn = key.arn


def _key_policy(account: Account, log_group_names: tuple[str, ...]) -> str:
    root = {"AWS": account.arn("iam", "root", regional=False)}
    return policy.document(
        {
            # Without this statement AWS rejects the policy (the key must stay manageable via IAM).
            "Sid": "AccountAdministration",
            "Effect": "Allow",
            "Principal": root,
            "Action": "kms:*",
            "Resource": "*",  # in a key policy "*" means this key
        },
        {
            "Sid": "AccountServicesViaService",
            "Effect": "Allow",
            "Principal": root,
            "Action": [
                "kms:Decrypt",
                "kms:Encrypt",
                "kms:GenerateDataKey*",
                "kms:ReEncrypt*",
                "kms:CreateGrant",
                "kms:DescribeKey",
            ],
            "Resource": "*",
            "Condition": {
                "StringEquals": {
                    "kms:CallerAccount": account.account_id,
                    "kms:ViaService": [f"{s}.{account.region}.amazonaws.com" for s in SERVICES_USING_THE_KEY],
                }
            },
        },
        {
            # The stack's log groups only: both functions' and the API's access logs.
            "Sid": "CloudWatchLogsForTheStackLogGroups",
            "Effect": "Allow",
            "Principal": {"Service": f"logs.{account.region}.amazonaws.com"},
            "Action": [
                "kms:Decrypt",
                "kms:Encrypt",
                "kms:GenerateDataKey*",
                "kms:ReEncrypt*",
                "kms:DescribeKey",
            ],
            "Resource": "*",
            "Condition": {
                "ArnEquals": {
                    "kms:EncryptionContext:aws:logs:arn": [
                        account.arn("logs", f"log-group:{name}") for name in log_group_names
                    ]
                }
            },
        },
        {
            # CloudWatch alarms publishing to the encrypted ops topic.
            "Sid": "CloudWatchAlarmsToEncryptedTopic",
            "Effect": "Allow",
            "Principal": {"Service": "cloudwatch.amazonaws.com"},
            "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceAccount": account.account_id}},
        },
    )

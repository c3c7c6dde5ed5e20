"""I7: the role the function runs as, trusted by Lambda for this account only; its least-privilege policy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lib.config import StackConfig
from lib.stack import policy, rules_access
from lib.stack.bindings import Construct, IamRole, IamRolePolicy
from lib.stack.queues import QueueRef
from lib.stack.tables import TableRef


@dataclass(frozen=True)
class FunctionResources:
    """What the function uses: its environment names these, its role allows on each what the code calls."""

    key_arn: str
    alerts_table: TableRef
    state_table: TableRef
    rules_table: TableRef
    queue: QueueRef
    dlq: QueueRef
    topic_arn: str


class FunctionRole(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        config: StackConfig,
        *,
        account_id: str,
        uses: FunctionResources,
        log_group_arn: str,
    ) -> None:
        super().__init__(scope, construct_id)
        role = IamRole(
            self,
            "role",
            name=config.name("data-processor-role"),
            assume_role_policy=policy.document(policy.lambda_trust(account_id)),
            tags=config.tags,
        )
        # The function and its event source depend on the policy: without it their first calls fail.
        self.policy = IamRolePolicy(
            self,
            "role_policy",
            name=config.name("data-processor-policy"),
            role=role.id,
            policy=policy.document(*_statements(uses, log_group_arn)),
        )
        self.arn = role.arn


def _statements(uses: FunctionResources, log_group_arn: str) -> list[dict[str, Any]]:
    """Each action the function's code calls, on the one resource it calls it on."""
    return [
        {
            "Sid": "ConsumeQueue",
            "Effect": "Allow",
            "Action": [
                "sqs:ChangeMessageVisibility",
                "sqs:DeleteMessage",
                "sqs:GetQueueAttributes",
                "sqs:ReceiveMessage",
            ],
            "Resource": uses.queue.arn,
        },
        {"Sid": "RejectToDlq", "Effect": "Allow", "Action": "sqs:SendMessage", "Resource": uses.dlq.arn},
        {
            # Alerts are written in TransactWriteItems together with the state: Put/Update on each table.
            "Sid": "WriteAlerts",
            "Effect": "Allow",
            "Action": ["dynamodb:PutItem", "dynamodb:UpdateItem"],
            "Resource": uses.alerts_table.arn,
        },
        {
            # A consistent BatchGetItem per batch, then compare-and-swap UpdateItem (in transactions too).
            "Sid": "ReadWriteAlertState",
            "Effect": "Allow",
            "Action": ["dynamodb:BatchGetItem", "dynamodb:UpdateItem"],
            "Resource": uses.state_table.arn,
        },
        *rules_access.processor_statements(uses.rules_table),
        # Publish and PublishBatch (10 to a request): both authorised by sns:Publish, PublishBatch has no IAM
        # action of its own (the SNS developer guide's API permissions reference).
        {"Sid": "NotifyTraders", "Effect": "Allow", "Action": "sns:Publish", "Resource": uses.topic_arn},
        policy.use_key(uses.key_arn),
        policy.write_logs(log_group_arn),
        policy.xray_tracing(),
    ]

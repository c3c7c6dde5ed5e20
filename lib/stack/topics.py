"""I5: the traders' alert topic with their subscriptions, the operators' alarm topic; encrypted, TLS-only."""

from __future__ import annotations

import json

from lib.config import StackConfig
from lib.stack import policy
from lib.stack.account import Account
from lib.stack.bindings import Construct, SnsTopic, SnsTopicPolicy, SnsTopicSubscription


class Topics(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, config: StackConfig, *, key_arn: str, account: Account
    ) -> None:
        super().__init__(scope, construct_id)
        trading = SnsTopic(
            self, "topic", name=config.name("trading-alerts"), kms_master_key_id=key_arn, tags=config.tags
        )
        ops = SnsTopic(
            self, "ops_topic", name=config.name("ops-alarms"), kms_master_key_id=key_arn, tags=config.tags
        )
        self.trading_arn, self.ops_arn = trading.arn, ops.arn
        SnsTopicPolicy(
            self,
            "topic_policy",
            arn=self.trading_arn,
            policy=policy.document(policy.deny_insecure_transport("sns:Publish", self.trading_arn)),
        )
        SnsTopicPolicy(
            self,
            "ops_topic_policy",
            arn=self.ops_arn,
            policy=policy.document(
                {
                    "Sid": "CloudWatchAlarms",
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudwatch.amazonaws.com"},
                    "Action": "sns:Publish",
                    "Resource": self.ops_arn,
                    "Condition": {
                        "ArnLike": {"aws:SourceArn": account.arn("cloudwatch", "alarm:*")},
                        "StringEquals": {"aws:SourceAccount": account.account_id},
                    },
                },
                policy.deny_insecure_transport("sns:Publish", self.ops_arn),
            ),
        )
        for i, sub in enumerate(config.subscriptions):
            SnsTopicSubscription(
                self,
                f"subscription_{i}",
                topic_arn=self.trading_arn,
                protocol=sub.protocol,
                endpoint=sub.endpoint,
                filter_policy=json.dumps(sub.filter_policy) if sub.filter_policy else None,
                filter_policy_scope="MessageAttributes" if sub.filter_policy else None,
            )

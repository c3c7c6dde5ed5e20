"""I3: the tick queue and its dead-letter queue, both SSE-KMS and TLS-only; the queue redrives to the DLQ."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lib.config import StackConfig
from lib.stack import policy
from lib.stack.bindings import Construct, Fn, SqsQueue, SqsQueuePolicy, TerraformResourceLifecycle

RETENTION_SECONDS = 14 * 24 * 3600
DATA_KEY_REUSE_SECONDS = 300


@dataclass(frozen=True)
class QueueRef:
    name: str
    arn: str
    url: str


class Queues(Construct):
    def __init__(self, scope: Construct, construct_id: str, config: StackConfig, *, key_arn: str) -> None:
        super().__init__(scope, construct_id)
        # Both queues: kept 14 days, SSE-KMS with the stack's key.
        common: dict[str, Any] = {
            "message_retention_seconds": RETENTION_SECONDS,
            "kms_master_key_id": key_arn,
            "kms_data_key_reuse_period_seconds": DATA_KEY_REUSE_SECONDS,
            "tags": config.tags,
        }
        dlq = SqsQueue(self, "dlq", name=config.name("market-data-dlq"), **common)
        queue = SqsQueue(
            self,
            "queue",
            name=config.name("market-data-queue"),
            visibility_timeout_seconds=config.visibility_timeout_seconds,
            redrive_policy=Fn.jsonencode(
                {"deadLetterTargetArn": dlq.arn, "maxReceiveCount": config.max_receive_count}
            ),
            # moto returns the redrive policy re-formatted, a permanent plan diff; only there is it ignored.
            lifecycle=TerraformResourceLifecycle(ignore_changes=["redrive_policy"])
            if config.is_local
            else None,
            **common,
        )
        self.queue, self.dlq = (QueueRef(name=q.name, arn=q.arn, url=q.url) for q in (queue, dlq))
        for policy_id, ref in (("queue_policy", self.queue), ("dlq_policy", self.dlq)):
            SqsQueuePolicy(
                self,
                policy_id,
                queue_url=ref.url,
                policy=policy.document(policy.deny_insecure_transport("sqs:*", ref.arn)),
            )

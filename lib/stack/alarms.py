"""I8: CloudWatch alarms on the function's error rate, the DLQ and the queue's backlog, to the ops topic."""

from __future__ import annotations

from typing import Any

from lib.config import StackConfig
from lib.stack.bindings import (
    CloudwatchMetricAlarm,
    CloudwatchMetricAlarmMetricQuery,
    CloudwatchMetricAlarmMetricQueryMetric,
    Construct,
)
from lib.stack.queues import QueueRef

ERROR_RATE_PERCENT = 1


class Alarms(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        config: StackConfig,
        *,
        function_name: str,
        queue: QueueRef,
        dlq: QueueRef,
        ops_topic_arn: str,
    ) -> None:
        super().__init__(scope, construct_id)
        # Every alarm notifies the operators when it fires and when it clears.
        common: dict[str, Any] = {
            "alarm_actions": [ops_topic_arn],
            "ok_actions": [ops_topic_arn],
            "tags": config.tags,
        }

        def lambda_metric(query_id: str, metric: str) -> CloudwatchMetricAlarmMetricQuery:
            return CloudwatchMetricAlarmMetricQuery(
                id=query_id,
                metric=CloudwatchMetricAlarmMetricQueryMetric(
                    namespace="AWS/Lambda",
                    metric_name=metric,
                    dimensions={"FunctionName": function_name},
                    period=300,
                    stat="Sum",
                ),
            )

        CloudwatchMetricAlarm(
            self,
            "error_rate_alarm",
            alarm_name=config.name("data-processor-error-rate"),
            alarm_description="Lambda error rate above 1 % of invocations over 5 minutes",
            comparison_operator="GreaterThanThreshold",
            threshold=ERROR_RATE_PERCENT,
            evaluation_periods=1,
            treat_missing_data="notBreaching",
            metric_query=[
                CloudwatchMetricAlarmMetricQuery(
                    id="error_rate",
                    expression="IF(invocations > 0, 100 * errors / invocations, 0)",
                    label="Error rate (%)",
                    return_data=True,
                ),
                lambda_metric("errors", "Errors"),
                lambda_metric("invocations", "Invocations"),
            ],
            **common,
        )
        CloudwatchMetricAlarm(
            self,
            "dlq_alarm",
            alarm_name=config.name("market-data-dlq-not-empty"),
            alarm_description="Messages in the dead-letter queue: rejected or repeatedly failing ticks",
            namespace="AWS/SQS",
            metric_name="ApproximateNumberOfMessagesVisible",
            dimensions={"QueueName": dlq.name},
            statistic="Maximum",
            period=60,
            evaluation_periods=1,
            comparison_operator="GreaterThanThreshold",
            threshold=0,
            treat_missing_data="notBreaching",
            **common,
        )
        CloudwatchMetricAlarm(
            self,
            "oldest_message_alarm",
            alarm_name=config.name("market-data-queue-oldest-message-age"),
            alarm_description="Backlog: the oldest queued tick is older than the bound (partial failures)",
            namespace="AWS/SQS",
            metric_name="ApproximateAgeOfOldestMessage",
            dimensions={"QueueName": queue.name},
            statistic="Maximum",
            period=60,
            evaluation_periods=1,
            comparison_operator="GreaterThanThreshold",
            threshold=config.oldest_message_age_alarm_seconds,
            treat_missing_data="notBreaching",
            **common,
        )

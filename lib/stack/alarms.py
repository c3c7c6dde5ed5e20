"""I8: CloudWatch alarms on the function's error rate, the DLQ, the queue's backlog, skipped rules (R4),
the feed's clock (R3) and the API's 5xx rate (A3), to the ops topic."""

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
# A3: bad input is never a 5xx, so any share of 5xx answers above this is the API or AWS failing.
API_5XX_RATE_PERCENT = 1
# The namespace of the function's EMF records: its METRICS_NAMESPACE default
# (lib/lambda/src/app/function_config.cpp), which the stack does not override.
FUNCTION_METRICS_NAMESPACE = "MarketAlerts"
# R3's S: the function's clock and the feed's may differ by this much; beyond it (either sign) the feed lags
# or a clock is off, and F and the change fences no longer hold their margins.
FEED_CLOCK_OFFSET_BOUND_MS = 2000


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
        api_id: str,
    ) -> None:
        super().__init__(scope, construct_id)
        # Every alarm fires above its threshold in one period, counts missing data as healthy, and notifies
        # the operators when it fires and when it clears.
        common: dict[str, Any] = {
            "comparison_operator": "GreaterThanThreshold",
            "evaluation_periods": 1,
            "treat_missing_data": "notBreaching",
            "alarm_actions": [ops_topic_arn],
            "ok_actions": [ops_topic_arn],
            "tags": config.tags,
        }

        def five_minute_sum(
            query_id: str, namespace: str, metric: str, dimensions: dict[str, str]
        ) -> CloudwatchMetricAlarmMetricQuery:
            return CloudwatchMetricAlarmMetricQuery(
                id=query_id,
                metric=CloudwatchMetricAlarmMetricQueryMetric(
                    namespace=namespace, metric_name=metric, dimensions=dimensions, period=300, stat="Sum"
                ),
            )

        def lambda_metric(query_id: str, metric: str) -> CloudwatchMetricAlarmMetricQuery:
            return five_minute_sum(query_id, "AWS/Lambda", metric, {"FunctionName": function_name})

        def api_metric(query_id: str, metric: str) -> CloudwatchMetricAlarmMetricQuery:
            return five_minute_sum(query_id, "AWS/ApiGateway", metric, {"ApiId": api_id})

        def function_metric(query_id: str, metric: str, stat: str) -> CloudwatchMetricAlarmMetricQuery:
            return CloudwatchMetricAlarmMetricQuery(
                id=query_id,
                metric=CloudwatchMetricAlarmMetricQueryMetric(
                    namespace=FUNCTION_METRICS_NAMESPACE,
                    metric_name=metric,
                    dimensions={"FunctionName": function_name},
                    period=60,
                    stat=stat,
                ),
            )

        def math_alarm(
            construct_id: str,
            *,
            name: str,
            description: str,
            threshold: int,
            expression: tuple[str, str, str],
            inputs: list[CloudwatchMetricAlarmMetricQuery],
        ) -> None:
            query_id, formula, label = expression
            CloudwatchMetricAlarm(
                self,
                construct_id,
                alarm_name=config.name(name),
                alarm_description=description,
                threshold=threshold,
                metric_query=[
                    CloudwatchMetricAlarmMetricQuery(
                        id=query_id, expression=formula, label=label, return_data=True
                    ),
                    *inputs,
                ],
                **common,
            )

        def queue_alarm(
            construct_id: str, *, name: str, description: str, metric: str, queue_name: str, threshold: int
        ) -> None:
            CloudwatchMetricAlarm(
                self,
                construct_id,
                alarm_name=config.name(name),
                alarm_description=description,
                namespace="AWS/SQS",
                metric_name=metric,
                dimensions={"QueueName": queue_name},
                statistic="Maximum",
                period=60,
                threshold=threshold,
                **common,
            )

        math_alarm(
            "error_rate_alarm",
            name="data-processor-error-rate",
            description="Lambda error rate above 1 % of invocations over 5 minutes",
            threshold=ERROR_RATE_PERCENT,
            expression=("error_rate", "IF(invocations > 0, 100 * errors / invocations, 0)", "Error rate (%)"),
            inputs=[lambda_metric("errors", "Errors"), lambda_metric("invocations", "Invocations")],
        )
        queue_alarm(
            "dlq_alarm",
            name="market-data-dlq-not-empty",
            description="Messages in the dead-letter queue: rejected or repeatedly failing ticks",
            metric="ApproximateNumberOfMessagesVisible",
            queue_name=dlq.name,
            threshold=0,
        )
        queue_alarm(
            "oldest_message_alarm",
            name="market-data-queue-oldest-message-age",
            description="Backlog: the oldest queued tick is older than the bound (partial failures)",
            metric="ApproximateAgeOfOldestMessage",
            queue_name=queue.name,
            threshold=config.oldest_message_age_alarm_seconds,
        )
        CloudwatchMetricAlarm(
            self,
            "invalid_rules_alarm",
            alarm_name=config.name("data-processor-invalid-rules"),
            alarm_description="Rule items skipped as invalid (R4): a trader's rule is not applied",
            namespace=FUNCTION_METRICS_NAMESPACE,
            metric_name="InvalidRules",
            dimensions={"FunctionName": function_name},
            statistic="Sum",
            period=300,
            threshold=0,
            **common,
        )
        math_alarm(
            "feed_clock_offset_alarm",
            name="data-processor-feed-clock-offset",
            description="Function clock minus newest tick beyond S (2 s): feed lag or clock offset",
            threshold=FEED_CLOCK_OFFSET_BOUND_MS,
            expression=("offset", "MAX([ABS(highest), ABS(lowest)])", "Largest feed clock offset (ms)"),
            inputs=[
                function_metric("highest", "FeedClockOffsetMs", "Maximum"),
                function_metric("lowest", "FeedClockOffsetMs", "Minimum"),
            ],
        )
        math_alarm(
            "api_5xx_alarm",
            name="alert-api-5xx-rate",
            description="API 5xx answers above 1 % of requests over 5 minutes (never bad input: A3)",
            threshold=API_5XX_RATE_PERCENT,
            expression=("server_error_rate", "IF(requests > 0, 100 * errors / requests, 0)", "5xx rate (%)"),
            inputs=[api_metric("errors", "5xx"), api_metric("requests", "Count")],
        )

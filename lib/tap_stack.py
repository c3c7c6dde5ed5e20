"""The market-data alerting stack (SPEC I1..I12) in CDKTF Python.

Every cdktf/provider import of the project lives in this module, so that moving to the maintained fork
(CDK Terrain, `cdktn`) once it ships AWS bindings for provider 5.x is a change of imports here only.
"""

from __future__ import annotations

import base64
import hashlib
import json
import zipfile
from pathlib import Path
from typing import Any

from cdktf import (
    App,
    Fn,
    LocalBackend,
    S3Backend,
    TerraformOutput,
    TerraformResourceLifecycle,
    TerraformStack,
    Testing,
)
from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.cloudwatch_metric_alarm import (
    CloudwatchMetricAlarm,
    CloudwatchMetricAlarmMetricQuery,
    CloudwatchMetricAlarmMetricQueryMetric,
)
from cdktf_cdktf_provider_aws.data_aws_caller_identity import DataAwsCallerIdentity
from cdktf_cdktf_provider_aws.data_aws_partition import DataAwsPartition
from cdktf_cdktf_provider_aws.dynamodb_table import (
    DynamodbTable,
    DynamodbTableAttribute,
    DynamodbTablePointInTimeRecovery,
    DynamodbTableServerSideEncryption,
)
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.kms_alias import KmsAlias
from cdktf_cdktf_provider_aws.kms_key import KmsKey
from cdktf_cdktf_provider_aws.lambda_event_source_mapping import (
    LambdaEventSourceMapping,
    LambdaEventSourceMappingScalingConfig,
)
from cdktf_cdktf_provider_aws.lambda_function import (
    LambdaFunction,
    LambdaFunctionEnvironment,
    LambdaFunctionLoggingConfig,
    LambdaFunctionTracingConfig,
)
from cdktf_cdktf_provider_aws.provider import AwsProvider, AwsProviderDefaultTags, AwsProviderEndpoints
from cdktf_cdktf_provider_aws.sns_topic import SnsTopic
from cdktf_cdktf_provider_aws.sns_topic_policy import SnsTopicPolicy
from cdktf_cdktf_provider_aws.sns_topic_subscription import SnsTopicSubscription
from cdktf_cdktf_provider_aws.sqs_queue import SqsQueue
from cdktf_cdktf_provider_aws.sqs_queue_policy import SqsQueuePolicy
from constructs import Construct

from lib.config import FUNCTION_TIMEOUT_SECONDS, StackConfig
from lib.rules import load_rules

__all__ = ["App", "LambdaPackageError", "TapStack", "Testing", "package_hash"]

STACK_NAME = "tap-stack"
MEMORY_MB = 3072
RESERVED_CONCURRENCY = 5
BATCH_SIZE = 25
BATCH_WINDOW_SECONDS = 1  # AWS requires >= 1 s when the batch size is above 10
RETENTION_SECONDS = 14 * 24 * 3600
KMS_DELETION_WINDOW_DAYS = 7
ERROR_RATE_PERCENT = 1
RULES_IN_ZIP = "alert-rules.json"
LAMBDA_TASK_ROOT = "/var/task"
# Every AWS service the stack talks to, for the local endpoint set (AWS_ENDPOINT_URL convention).
LOCAL_SERVICES = ("cloudwatch", "cloudwatchlogs", "dynamodb", "iam", "kms", "lambda_", "sns", "sqs", "sts")


class LambdaPackageError(RuntimeError):
    """lambda_function.zip is missing, unreadable or does not hold what the function needs."""


def package_hash(zip_path: Path, rules: dict[str, Any]) -> str:
    """base64 SHA-256 of the zip (Terraform's filebase64sha256), after checking what the zip holds."""
    if not zip_path.is_file():
        raise LambdaPackageError(
            f"{zip_path} not found: build it first with `make package` (or `make synth`)"
        )
    try:
        with zipfile.ZipFile(zip_path) as archive:
            names = set(archive.namelist())
            shipped_rules = json.loads(archive.read(RULES_IN_ZIP)) if RULES_IN_ZIP in names else None
    except (zipfile.BadZipFile, json.JSONDecodeError) as exc:
        raise LambdaPackageError(f"{zip_path} is not a valid function package: {exc}") from None
    if "bootstrap" not in names:
        raise LambdaPackageError(f"{zip_path} has no `bootstrap` entry point: rebuild it with `make package`")
    if shipped_rules != rules:
        # The function reads the rules shipped in its zip; they must be this document, which the package
        # step validated with the function's own loader (lib/rules.py).
        raise LambdaPackageError(
            f"{zip_path}: its {RULES_IN_ZIP} differs from the validated rules document: "
            "rebuild it with `make package`"
        )
    return base64.b64encode(hashlib.sha256(zip_path.read_bytes()).digest()).decode()


def _policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _deny_insecure_transport(action: str, resource: str) -> dict[str, Any]:
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": action,
        "Resource": resource,
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def _checkov_skip(resource: Any, *skips: tuple[str, str]) -> None:
    """Suppressions checkov reads from the synthesized JSON (Terraform ignores "//" keys)."""
    resource.add_override("//", {"checkov": [f"checkov:skip={check}:{reason}" for check, reason in skips]})


class TapStack(TerraformStack):
    def __init__(self, scope: Construct, stack_id: str, config: StackConfig) -> None:
        super().__init__(scope, stack_id)
        self.config = config
        rules = load_rules(config.rules_path)
        code_hash = package_hash(config.zip_path, rules)
        tags = config.tags

        self._provider(config)
        if config.backend is not None:
            S3Backend(
                self,
                bucket=config.backend.bucket,
                key=config.backend.key,
                region=config.backend.region,
                dynamodb_table=config.backend.dynamodb_table,
                encrypt=True,
            )
        elif config.state_path is not None:
            LocalBackend(self, path=config.state_path)

        identity = DataAwsCallerIdentity(self, "current")
        partition = DataAwsPartition(self, "partition")
        account, region = identity.account_id, config.region
        arn_prefix = f"arn:{partition.partition}"
        function_name = config.name("data-processor")
        log_group_name = f"/aws/lambda/{function_name}"

        # ---- I6 KMS: one customer managed key for every encrypted resource of the stack.
        key_policy = _policy(
            {
                # Without this statement AWS rejects the policy (the key must stay manageable via IAM).
                "Sid": "AccountAdministration",
                "Effect": "Allow",
                "Principal": {"AWS": f"{arn_prefix}:iam::{account}:root"},
                "Action": "kms:*",
                "Resource": "*",  # in a key policy "*" means this key
            },
            {
                # Lambda (environment), SQS, SNS and DynamoDB use the key on behalf of the account's callers.
                "Sid": "AccountServicesViaService",
                "Effect": "Allow",
                "Principal": {"AWS": f"{arn_prefix}:iam::{account}:root"},
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
                        "kms:CallerAccount": account,
                        "kms:ViaService": [
                            f"{s}.{region}.amazonaws.com" for s in ("dynamodb", "lambda", "sns", "sqs")
                        ],
                    }
                },
            },
            {
                "Sid": "CloudWatchLogsForTheFunctionLogGroup",
                "Effect": "Allow",
                "Principal": {"Service": f"logs.{region}.amazonaws.com"},
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
                        "kms:EncryptionContext:aws:logs:arn": (
                            f"{arn_prefix}:logs:{region}:{account}:log-group:{log_group_name}"
                        )
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
                "Condition": {"StringEquals": {"aws:SourceAccount": account}},
            },
        )
        self.key = KmsKey(
            self,
            "key",
            description=f"market-data alerting ({config.environment_suffix}): queues, topics, tables, logs",
            enable_key_rotation=True,
            deletion_window_in_days=KMS_DELETION_WINDOW_DAYS,
            policy=key_policy,
            tags=tags,
        )
        KmsAlias(self, "key_alias", name=config.name("alias/market-data"), target_key_id=self.key.key_id)

        # ---- I2 / I2b DynamoDB
        self.alerts_table = self._table("alerts_table", config.name("market-alerts"), "timestamp")
        self.state_table = self._table("state_table", config.name("alert-state"), "rule_id")

        # ---- I3 SQS: the DLQ and the queue, both SSE-KMS, TLS-only.
        self.dlq = SqsQueue(
            self,
            "dlq",
            name=config.name("market-data-dlq"),
            message_retention_seconds=RETENTION_SECONDS,
            kms_master_key_id=self.key.arn,
            kms_data_key_reuse_period_seconds=300,
            tags=tags,
        )
        self.queue = SqsQueue(
            self,
            "queue",
            name=config.name("market-data-queue"),
            message_retention_seconds=RETENTION_SECONDS,
            visibility_timeout_seconds=config.visibility_timeout_seconds,
            kms_master_key_id=self.key.arn,
            kms_data_key_reuse_period_seconds=300,
            redrive_policy=Fn.jsonencode(
                {"deadLetterTargetArn": self.dlq.arn, "maxReceiveCount": config.max_receive_count}
            ),
            tags=tags,
            # moto returns the redrive policy re-formatted, a permanent plan diff; only there is it ignored.
            lifecycle=TerraformResourceLifecycle(ignore_changes=["redrive_policy"])
            if config.is_local
            else None,
        )
        for name, queue in (("queue_policy", self.queue), ("dlq_policy", self.dlq)):
            SqsQueuePolicy(
                self, name, queue_url=queue.url, policy=_policy(_deny_insecure_transport("sqs:*", queue.arn))
            )

        # ---- I5 SNS: traders' alerts and operators' alarms.
        self.topic = SnsTopic(
            self, "topic", name=config.name("trading-alerts"), kms_master_key_id=self.key.arn, tags=tags
        )
        self.ops_topic = SnsTopic(
            self, "ops_topic", name=config.name("ops-alarms"), kms_master_key_id=self.key.arn, tags=tags
        )
        SnsTopicPolicy(
            self,
            "topic_policy",
            arn=self.topic.arn,
            policy=_policy(_deny_insecure_transport("sns:Publish", self.topic.arn)),
        )
        SnsTopicPolicy(
            self,
            "ops_topic_policy",
            arn=self.ops_topic.arn,
            policy=_policy(
                {
                    "Sid": "CloudWatchAlarms",
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudwatch.amazonaws.com"},
                    "Action": "sns:Publish",
                    "Resource": self.ops_topic.arn,
                    "Condition": {
                        "ArnLike": {"aws:SourceArn": f"{arn_prefix}:cloudwatch:{region}:{account}:alarm:*"},
                        "StringEquals": {"aws:SourceAccount": account},
                    },
                },
                _deny_insecure_transport("sns:Publish", self.ops_topic.arn),
            ),
        )
        for i, sub in enumerate(config.subscriptions):
            SnsTopicSubscription(
                self,
                f"subscription_{i}",
                topic_arn=self.topic.arn,
                protocol=sub.protocol,
                endpoint=sub.endpoint,
                filter_policy=json.dumps(sub.filter_policy) if sub.filter_policy else None,
                filter_policy_scope="MessageAttributes" if sub.filter_policy else None,
            )

        # ---- I1 Lambda: log group, role (I7), function, event source mapping (I4).
        self.log_group = CloudwatchLogGroup(
            self,
            "log_group",
            name=log_group_name,
            retention_in_days=config.log_retention_days,
            kms_key_id=self.key.arn,
            tags=tags,
        )
        self.role = IamRole(
            self,
            "role",
            name=config.name("data-processor-role"),
            assume_role_policy=_policy(
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                    "Condition": {"StringEquals": {"aws:SourceAccount": account}},
                }
            ),
            tags=tags,
        )
        role_policy = IamRolePolicy(
            self,
            "role_policy",
            name=config.name("data-processor-policy"),
            role=self.role.id,
            policy=_policy(*self._function_statements()),
        )
        self.function = LambdaFunction(
            self,
            "function",
            function_name=function_name,
            description="Evaluates traders' alert rules on market ticks (C++ custom runtime)",
            role=self.role.arn,
            runtime="provided.al2023",
            handler="bootstrap",
            architectures=["arm64"],
            memory_size=MEMORY_MB,
            timeout=FUNCTION_TIMEOUT_SECONDS,
            reserved_concurrent_executions=RESERVED_CONCURRENCY,
            filename=str(config.zip_path),
            source_code_hash=code_hash,
            kms_key_arn=self.key.arn,
            environment=LambdaFunctionEnvironment(
                variables={
                    "ALERTS_TABLE": self.alerts_table.name,
                    "STATE_TABLE": self.state_table.name,
                    "TOPIC_ARN": self.topic.arn,
                    "DLQ_URL": self.dlq.url,
                    "RULES_PATH": f"{LAMBDA_TASK_ROOT}/{RULES_IN_ZIP}",
                    "LOG_LEVEL": config.log_level,
                }
            ),
            tracing_config=LambdaFunctionTracingConfig(mode="Active"),
            logging_config=LambdaFunctionLoggingConfig(log_format="Text", log_group=self.log_group.name),
            tags=tags,
            depends_on=[role_policy, self.log_group],
            # moto does not store logging_config (GetFunction omits it), a permanent plan diff there only.
            lifecycle=TerraformResourceLifecycle(ignore_changes=["logging_config"])
            if config.is_local
            else None,
        )
        _checkov_skip(
            self.function,
            (
                "CKV_AWS_117",
                "no VPC: the function reaches only AWS public endpoints, a VPC adds cold start and NAT",
            ),
            (
                "CKV_AWS_116",
                "invoked synchronously by the SQS event source: failures redrive to the queue's DLQ",
            ),
            (
                "CKV_AWS_272",
                "code signing needs AWS Signer profiles, outside this stack; the zip hash is pinned",
            ),
        )
        self.event_source = LambdaEventSourceMapping(
            self,
            "event_source",
            event_source_arn=self.queue.arn,
            function_name=self.function.arn,
            batch_size=BATCH_SIZE,
            maximum_batching_window_in_seconds=BATCH_WINDOW_SECONDS,
            function_response_types=["ReportBatchItemFailures"],
            # Matching the reserved concurrency: the poller never invokes into throttling, which would
            # count receives and push healthy messages to the DLQ.
            scaling_config=LambdaEventSourceMappingScalingConfig(maximum_concurrency=RESERVED_CONCURRENCY),
            tags=tags,
            depends_on=[role_policy],
        )

        # ---- I8 CloudWatch alarms to the ops topic, on ALARM and OK.
        self._alarms(function_name)

        # ---- I12 outputs
        for output_id, value in (
            ("queue_url", self.queue.url),
            ("queue_arn", self.queue.arn),
            ("dlq_url", self.dlq.url),
            ("topic_arn", self.topic.arn),
            ("ops_topic_arn", self.ops_topic.arn),
            ("table_name", self.alerts_table.name),
            ("state_table_name", self.state_table.name),
            ("function_name", self.function.function_name),
            ("function_arn", self.function.arn),
            ("kms_key_arn", self.key.arn),
        ):
            TerraformOutput(self, output_id, value=value)

    def _provider(self, config: StackConfig) -> None:
        local: dict[str, Any] = {}
        if config.endpoint_url is not None:
            url = config.endpoint_url.rstrip("/")
            local = {
                "endpoints": [AwsProviderEndpoints(**dict.fromkeys(LOCAL_SERVICES, url))],
                "skip_credentials_validation": True,
                "skip_metadata_api_check": "true",
                "skip_region_validation": True,
            }
        AwsProvider(
            self,
            "aws",
            region=config.region,
            default_tags=[AwsProviderDefaultTags(tags=config.tags)],
            **local,
        )

    def _table(self, construct_id: str, name: str, sort_key: str) -> DynamodbTable:
        return DynamodbTable(
            self,
            construct_id,
            name=name,
            billing_mode="PAY_PER_REQUEST",
            hash_key="symbol",
            range_key=sort_key,
            attribute=[
                DynamodbTableAttribute(name="symbol", type="S"),
                DynamodbTableAttribute(name=sort_key, type="S"),
            ],
            point_in_time_recovery=DynamodbTablePointInTimeRecovery(enabled=True),
            server_side_encryption=DynamodbTableServerSideEncryption(enabled=True, kms_key_arn=self.key.arn),
            deletion_protection_enabled=False,
            tags=self.config.tags,
        )

    def _function_statements(self) -> list[dict[str, Any]]:
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
                "Resource": self.queue.arn,
            },
            {"Sid": "RejectToDlq", "Effect": "Allow", "Action": "sqs:SendMessage", "Resource": self.dlq.arn},
            {
                # Alerts are written in TransactWriteItems together with the state: Put/Update on each table.
                "Sid": "WriteAlerts",
                "Effect": "Allow",
                "Action": ["dynamodb:PutItem", "dynamodb:UpdateItem"],
                "Resource": self.alerts_table.arn,
            },
            {
                # A consistent BatchGetItem per batch, then compare-and-swap UpdateItem (in transactions too).
                "Sid": "ReadWriteAlertState",
                "Effect": "Allow",
                "Action": ["dynamodb:BatchGetItem", "dynamodb:UpdateItem"],
                "Resource": self.state_table.arn,
            },
            {"Sid": "NotifyTraders", "Effect": "Allow", "Action": "sns:Publish", "Resource": self.topic.arn},
            {
                "Sid": "UseTheKey",
                "Effect": "Allow",
                "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                "Resource": self.key.arn,
            },
            {
                "Sid": "WriteOwnLogs",
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": f"{self.log_group.arn}:log-stream:*",
            },
            {
                # X-Ray trace APIs support no resource-level permissions: "*" is the only resource AWS allows.
                "Sid": "XRayTracing",
                "Effect": "Allow",
                "Action": ["xray:PutTelemetryRecords", "xray:PutTraceSegments"],
                "Resource": "*",
            },
        ]

    def _alarms(self, function_name: str) -> None:
        ops = [self.ops_topic.arn]
        common: dict[str, Any] = {"alarm_actions": ops, "ok_actions": ops, "tags": self.config.tags}

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
            alarm_name=self.config.name("data-processor-error-rate"),
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
            alarm_name=self.config.name("market-data-dlq-not-empty"),
            alarm_description="Messages in the dead-letter queue: rejected or repeatedly failing ticks",
            namespace="AWS/SQS",
            metric_name="ApproximateNumberOfMessagesVisible",
            dimensions={"QueueName": self.dlq.name},
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
            alarm_name=self.config.name("market-data-queue-oldest-message-age"),
            alarm_description="Backlog: the oldest queued tick is older than the bound (partial failures)",
            namespace="AWS/SQS",
            metric_name="ApproximateAgeOfOldestMessage",
            dimensions={"QueueName": self.queue.name},
            statistic="Maximum",
            period=60,
            evaluation_periods=1,
            comparison_operator="GreaterThanThreshold",
            threshold=self.config.oldest_message_age_alarm_seconds,
            treat_missing_data="notBreaching",
            **common,
        )


def synth_json(config: StackConfig) -> dict[str, Any]:
    """The stack's Terraform JSON, in memory (tests)."""
    stack = TapStack(Testing.app(), STACK_NAME, config)
    return json.loads(Testing.synth(stack))

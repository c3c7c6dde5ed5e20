"""Synthesis tests: each infrastructure requirement (I1..I12, docs/requirements.md) asserted by value.

The traders' API (I14) has its own file, tests/unit/test_api_stack.py."""

from __future__ import annotations

import ast
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest

from lib.config import ROOT, StackConfig, Subscription
from lib.config import S3Backend as S3BackendConfig
from lib.stack.backend import state_backend
from lib.stack.bindings import TerraformStack
from lib.stack.bindings import Testing as CdktfTesting  # not `Testing`: pytest would try to collect it
from lib.tap_stack import LambdaPackageError, package_hash, synth_json
from tests.conftest import build_zip
from tests.support.stack_json import ACCOUNT, KEY, PART, TAGS, res, statements

SFX = "dev"
# Resource types of this stack that carry tags, and the ones AWS gives no tags (each type must be in one).
TAGGABLE = {
    "aws_apigatewayv2_api",
    "aws_apigatewayv2_stage",
    "aws_cloudwatch_log_group",
    "aws_cloudwatch_metric_alarm",
    "aws_cognito_user_pool",
    "aws_dynamodb_table",
    "aws_iam_policy",
    "aws_iam_role",
    "aws_kms_key",
    "aws_lambda_event_source_mapping",
    "aws_lambda_function",
    "aws_sns_topic",
    "aws_sqs_queue",
}
UNTAGGABLE = {
    "aws_apigatewayv2_authorizer",
    "aws_apigatewayv2_integration",
    "aws_apigatewayv2_route",
    "aws_cognito_user_group",
    "aws_cognito_user_pool_client",
    "aws_iam_role_policy",
    "aws_iam_role_policy_attachment",
    "aws_kms_alias",
    "aws_lambda_permission",
    "aws_sns_topic_policy",
    "aws_sns_topic_subscription",
    "aws_sqs_queue_policy",
}


@pytest.fixture(scope="session")
def stack(synthesized_stack: dict[str, Any]) -> dict[str, Any]:
    return synthesized_stack


@pytest.fixture(scope="session")
def local_stack(package_zip: Path) -> dict[str, Any]:
    """A variant: local endpoint, shortened timings, a wider reorder window, subscriptions, S3 backend."""
    return synth_json(
        StackConfig(
            environment_suffix="pr-42",
            endpoint_url="http://127.0.0.1:5000",
            visibility_timeout_seconds=20,
            max_receive_count=2,
            reorder_window_seconds=120,
            max_notify_age_seconds=300,
            rules_shards=4,
            batch_size=10,
            batching_window_seconds=0,
            subscriptions=(
                Subscription("email", "desk@example.com", {"severity": ["critical"], "symbol": ["AAPL"]}),
                Subscription("sqs", "arn:aws:sqs:us-east-1:123456789012:desk"),
            ),
            backend=S3BackendConfig("tf-state", "tap/pr-42.tfstate", "eu-west-1", "tf-locks"),
            zip_path=package_zip,
        )
    )


# ---- I1 Lambda
def test_function_settings(stack: dict[str, Any], package_zip: Path) -> None:
    fn = res(stack, "aws_lambda_function", "function")
    assert fn["function_name"] == "data-processor-dev"
    assert fn["runtime"] == "provided.al2023"
    assert fn["handler"] == "bootstrap"
    assert fn["architectures"] == ["arm64"]
    assert fn["memory_size"] == 3072
    assert fn["timeout"] == 60
    assert fn["reserved_concurrent_executions"] == 5
    assert fn["kms_key_arn"] == KEY
    assert fn["tracing_config"] == {"mode": "Active"}
    assert fn["role"] == "${aws_iam_role.role.arn}"
    assert fn["logging_config"]["log_group"] == "${aws_cloudwatch_log_group.log_group.name}"
    assert fn["filename"] == str(package_zip)
    assert fn["source_code_hash"] == package_hash(package_zip)
    assert fn["environment"]["variables"] == {
        "ALERTS_TABLE": "${aws_dynamodb_table.alerts_table.name}",
        "STATE_TABLE": "${aws_dynamodb_table.state_table.name}",
        "TOPIC_ARN": "${aws_sns_topic.topic.arn}",
        "DLQ_URL": "${aws_sqs_queue.dlq.url}",
        "RULES_TABLE": "${aws_dynamodb_table.rules_table.name}",
        "RULES_SHARDS": "1",
        "LOG_LEVEL": "INFO",
        "REORDER_WINDOW_SECONDS": "60",
        "MAX_NOTIFY_AGE_SECONDS": "60",
    }
    assert "lifecycle" not in fn  # ignore_changes only for the emulator
    assert set(fn["depends_on"]) == {"aws_iam_role_policy.role_policy", "aws_cloudwatch_log_group.log_group"}


def test_function_log_group_created_encrypted_with_retention(stack: dict[str, Any]) -> None:
    lg = res(stack, "aws_cloudwatch_log_group", "log_group")
    assert lg["name"] == "/aws/lambda/data-processor-dev"
    assert lg["retention_in_days"] == 365
    assert lg["kms_key_id"] == KEY


# ---- I2 / I2b DynamoDB
@pytest.mark.parametrize(
    ("name", "table", "sort_key"),
    [("alerts_table", "market-alerts-dev", "timestamp"), ("state_table", "alert-state-dev", "rule_id")],
)
def test_tables(stack: dict[str, Any], name: str, table: str, sort_key: str) -> None:
    t = res(stack, "aws_dynamodb_table", name)
    assert t["name"] == table
    assert (t["hash_key"], t["range_key"]) == ("symbol", sort_key)
    assert t["attribute"][:2] == [{"name": "symbol", "type": "S"}, {"name": sort_key, "type": "S"}]
    assert t["billing_mode"] == "PAY_PER_REQUEST"
    assert t["point_in_time_recovery"] == {"enabled": True}
    assert t["server_side_encryption"] == {"enabled": True, "kms_key_arn": KEY}
    assert t["deletion_protection_enabled"] is False


def test_alerts_by_owner_index(stack: dict[str, Any]) -> None:
    """A4: one owner's alerts by store time (owner + the ULID stored_id), whole alerts, no scan."""
    alerts = res(stack, "aws_dynamodb_table", "alerts_table")
    assert alerts["global_secondary_index"] == [
        {"name": "by-owner", "hash_key": "owner", "range_key": "stored_id", "projection_type": "ALL"}
    ]
    assert alerts["attribute"][2:] == [{"name": "owner", "type": "S"}, {"name": "stored_id", "type": "S"}]
    state = res(stack, "aws_dynamodb_table", "state_table")
    assert "global_secondary_index" not in state
    assert len(state["attribute"]) == 2  # no index, no extra attribute definition


def test_rules_table(stack: dict[str, Any]) -> None:
    """I13: pk + sk (rules_dynamodb.hpp), on-demand, PITR, the key, destroyable; log items expire by `ttl`."""
    t = res(stack, "aws_dynamodb_table", "rules_table")
    assert t["name"] == "alert-rules-dev"
    assert (t["hash_key"], t["range_key"]) == ("pk", "sk")
    assert t["attribute"] == [{"name": "pk", "type": "S"}, {"name": "sk", "type": "S"}]
    assert t["billing_mode"] == "PAY_PER_REQUEST"
    assert t["point_in_time_recovery"] == {"enabled": True}
    assert t["server_side_encryption"] == {"enabled": True, "kms_key_arn": KEY}
    assert t["deletion_protection_enabled"] is False
    assert t["ttl"] == {"attribute_name": "ttl", "enabled": True}
    assert "global_secondary_index" not in t  # readers never depend on index lag (R3)


# ---- I3 SQS
def test_queue_and_dlq(stack: dict[str, Any]) -> None:
    q, dlq = res(stack, "aws_sqs_queue", "queue"), res(stack, "aws_sqs_queue", "dlq")
    assert (q["name"], dlq["name"]) == ("market-data-queue-dev", "market-data-dlq-dev")
    for queue in (q, dlq):
        assert queue["message_retention_seconds"] == 1209600
        assert queue["kms_master_key_id"] == KEY
    assert q["visibility_timeout_seconds"] == 360
    assert q["visibility_timeout_seconds"] >= 6 * res(stack, "aws_lambda_function", "function")["timeout"]
    assert q["redrive_policy"] == (
        '${jsonencode({"deadLetterTargetArn" = aws_sqs_queue.dlq.arn, "maxReceiveCount" = 5})}'
    )
    assert "lifecycle" not in q  # ignore_changes is only for the emulator


@pytest.mark.parametrize(("policy", "queue"), [("queue_policy", "queue"), ("dlq_policy", "dlq")])
def test_queue_policies_deny_non_tls(stack: dict[str, Any], policy: str, queue: str) -> None:
    p = res(stack, "aws_sqs_queue_policy", policy)
    assert p["queue_url"] == f"${{aws_sqs_queue.{queue}.url}}"
    assert statements(p["policy"]) == [
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "sqs:*",
            "Resource": f"${{aws_sqs_queue.{queue}.arn}}",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    ]


# ---- I4 event source mapping
def test_event_source_mapping(stack: dict[str, Any]) -> None:
    esm = res(stack, "aws_lambda_event_source_mapping", "event_source")
    fn = res(stack, "aws_lambda_function", "function")
    assert esm["event_source_arn"] == "${aws_sqs_queue.queue.arn}"
    assert esm["function_name"] == "${aws_lambda_function.function.arn}"
    assert esm["batch_size"] == 25
    assert esm["maximum_batching_window_in_seconds"] == 1
    assert esm["function_response_types"] == ["ReportBatchItemFailures"]
    assert esm["scaling_config"] == {"maximum_concurrency": fn["reserved_concurrent_executions"]}


# ---- I5 SNS
def test_topics_encrypted(stack: dict[str, Any]) -> None:
    assert res(stack, "aws_sns_topic", "topic")["name"] == "trading-alerts-dev"
    assert res(stack, "aws_sns_topic", "ops_topic")["name"] == "ops-alarms-dev"
    for name in ("topic", "ops_topic"):
        assert res(stack, "aws_sns_topic", name)["kms_master_key_id"] == KEY
    assert "aws_sns_topic_subscription" not in stack["resource"]  # none by default


def test_topic_policies(stack: dict[str, Any]) -> None:
    deny = {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "sns:Publish",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    trading = res(stack, "aws_sns_topic_policy", "topic_policy")
    assert trading["arn"] == "${aws_sns_topic.topic.arn}"
    assert statements(trading["policy"]) == [{**deny, "Resource": "${aws_sns_topic.topic.arn}"}]
    ops = res(stack, "aws_sns_topic_policy", "ops_topic_policy")
    assert statements(ops["policy"]) == [
        {
            "Sid": "CloudWatchAlarms",
            "Effect": "Allow",
            "Principal": {"Service": "cloudwatch.amazonaws.com"},
            "Action": "sns:Publish",
            "Resource": "${aws_sns_topic.ops_topic.arn}",
            "Condition": {
                "ArnLike": {"aws:SourceArn": f"arn:{PART}:cloudwatch:us-east-1:{ACCOUNT}:alarm:*"},
                "StringEquals": {"aws:SourceAccount": ACCOUNT},
            },
        },
        {**deny, "Resource": "${aws_sns_topic.ops_topic.arn}"},
    ]


# ---- I6 KMS
def test_kms_key(stack: dict[str, Any]) -> None:
    key = res(stack, "aws_kms_key", "key")
    assert key["enable_key_rotation"] is True
    assert key["deletion_window_in_days"] == 7
    assert res(stack, "aws_kms_alias", "key_alias") == {
        **res(stack, "aws_kms_alias", "key_alias"),
        "name": "alias/market-data-dev",
        "target_key_id": "${aws_kms_key.key.key_id}",
    }
    stmts = {s["Sid"]: s for s in statements(key["policy"])}
    assert set(stmts) == {
        "AccountAdministration",
        "AccountServicesViaService",
        "CloudWatchLogsForTheStackLogGroups",
        "CloudWatchAlarmsToEncryptedTopic",
    }
    root = {"AWS": f"arn:{PART}:iam::{ACCOUNT}:root"}
    assert stmts["AccountAdministration"]["Principal"] == root
    assert stmts["AccountAdministration"]["Action"] == "kms:*"
    via = stmts["AccountServicesViaService"]
    assert via["Principal"] == root
    assert via["Condition"]["StringEquals"] == {
        "kms:CallerAccount": ACCOUNT,
        "kms:ViaService": [f"{s}.us-east-1.amazonaws.com" for s in ("dynamodb", "lambda", "sns", "sqs")],
    }
    logs = stmts["CloudWatchLogsForTheStackLogGroups"]
    assert logs["Principal"] == {"Service": "logs.us-east-1.amazonaws.com"}
    # I14: the API's log groups follow (tests/unit/test_api_stack.py)
    assert logs["Condition"]["ArnEquals"]["kms:EncryptionContext:aws:logs:arn"][0] == (
        f"arn:{PART}:logs:us-east-1:{ACCOUNT}:log-group:/aws/lambda/data-processor-dev"
    )
    alarms = stmts["CloudWatchAlarmsToEncryptedTopic"]
    assert alarms["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert alarms["Action"] == ["kms:Decrypt", "kms:GenerateDataKey*"]


def test_every_key_policy_statement_allows_and_the_alarms_one_only_from_this_account(
    stack: dict[str, Any],
) -> None:
    stmts = statements(res(stack, "aws_kms_key", "key")["policy"])
    assert [s["Effect"] for s in stmts] == ["Allow"] * 4
    alarms = next(s for s in stmts if s["Sid"] == "CloudWatchAlarmsToEncryptedTopic")
    assert alarms["Resource"] == "*"
    assert alarms["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}


def test_the_function_writes_text_logs_to_its_log_group(stack: dict[str, Any]) -> None:
    fn = res(stack, "aws_lambda_function", "function")
    assert fn["logging_config"] == {
        "log_format": "Text",
        "log_group": "${aws_cloudwatch_log_group.log_group.name}",
    }


# ---- I7 IAM
def test_role_trusts_only_lambda(stack: dict[str, Any]) -> None:
    role = res(stack, "aws_iam_role", "role")
    assert role["name"] == "data-processor-role-dev"
    assert statements(role["assume_role_policy"]) == [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
        }
    ]


def test_function_policy_least_privilege(stack: dict[str, Any]) -> None:
    policy = res(stack, "aws_iam_role_policy", "role_policy")
    assert policy["role"] == "${aws_iam_role.role.id}"
    assert policy["name"] == "data-processor-policy-dev"
    got = {s["Sid"]: (s["Effect"], s["Action"], s["Resource"]) for s in statements(policy["policy"])}
    assert got == {
        "ConsumeQueue": (
            "Allow",
            [
                "sqs:ChangeMessageVisibility",
                "sqs:DeleteMessage",
                "sqs:GetQueueAttributes",
                "sqs:ReceiveMessage",
            ],
            "${aws_sqs_queue.queue.arn}",
        ),
        "RejectToDlq": ("Allow", "sqs:SendMessage", "${aws_sqs_queue.dlq.arn}"),
        "WriteAlerts": (
            "Allow",
            ["dynamodb:PutItem", "dynamodb:UpdateItem"],
            "${aws_dynamodb_table.alerts_table.arn}",
        ),
        "ReadWriteAlertState": (
            "Allow",
            ["dynamodb:BatchGetItem", "dynamodb:UpdateItem"],
            "${aws_dynamodb_table.state_table.arn}",
        ),
        "ReadRules": (
            "Allow",
            ["dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:Scan"],
            "${aws_dynamodb_table.rules_table.arn}",
        ),
        "AdvanceRulesFence": ("Allow", "dynamodb:UpdateItem", "${aws_dynamodb_table.rules_table.arn}"),
        "NotifyTraders": ("Allow", "sns:Publish", "${aws_sns_topic.topic.arn}"),
        "UseTheKey": ("Allow", ["kms:Decrypt", "kms:GenerateDataKey"], KEY),
        "WriteOwnLogs": (
            "Allow",
            ["logs:CreateLogStream", "logs:PutLogEvents"],
            "${aws_cloudwatch_log_group.log_group.arn}:log-stream:*",
        ),
        "XRayTracing": ("Allow", ["xray:PutTelemetryRecords", "xray:PutTraceSegments"], "*"),
    }


def _rules_table_statements(policy_json: str) -> list[dict[str, Any]]:
    return [s for s in statements(policy_json) if s["Resource"] == "${aws_dynamodb_table.rules_table.arn}"]


def test_processor_never_writes_rules_and_updates_only_head_items(stack: dict[str, Any]) -> None:
    """R1: the processor writes no rule; its one write is the fence, on items whose pk is a head's."""
    on_rules = _rules_table_statements(res(stack, "aws_iam_role_policy", "role_policy")["policy"])
    reads = ["dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:Scan"]
    writes = [s for s in on_rules if s["Action"] != reads]
    assert writes == [
        {
            "Sid": "AdvanceRulesFence",
            "Effect": "Allow",
            "Action": "dynamodb:UpdateItem",
            "Resource": "${aws_dynamodb_table.rules_table.arn}",
            "Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["head#*"]}},
        }
    ]
    actions = {a for s in on_rules for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert not actions & {"dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}


def test_rules_writer_policy(stack: dict[str, Any]) -> None:
    """The writers' own policy: the transaction's item actions and the reads that plan a change."""
    p = res(stack, "aws_iam_policy", "rules_writer_policy")
    assert p["name"] == "rules-writer-policy-dev"
    got = {s["Sid"]: (s["Effect"], s["Action"], s["Resource"]) for s in statements(p["policy"])}
    assert got == {
        "CommitRuleChanges": (
            "Allow",
            ["dynamodb:DeleteItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
            "${aws_dynamodb_table.rules_table.arn}",
        ),
        "ReadRulesToPlan": (
            "Allow",
            ["dynamodb:BatchGetItem", "dynamodb:Query"],
            "${aws_dynamodb_table.rules_table.arn}",
        ),
        "UseTheKey": ("Allow", ["kms:Decrypt", "kms:GenerateDataKey"], KEY),
    }
    assert "Condition" not in p["policy"]


def test_no_wildcards_in_identity_policies(stack: dict[str, Any]) -> None:
    """No `*` action in any Allow; `*` resource only for X-Ray (AWS allows nothing else there)."""
    policies = [*res(stack, "aws_iam_role_policy").values(), *res(stack, "aws_iam_policy").values()]
    for policy in policies:
        for s in statements(policy["policy"]):
            actions = s["Action"] if isinstance(s["Action"], list) else [s["Action"]]
            assert all(not a.endswith("*") for a in actions), s
            if s["Resource"] == "*":
                assert all(a.startswith("xray:") for a in actions), s


# ---- I8 alarms
def test_error_rate_alarm(stack: dict[str, Any]) -> None:
    a = res(stack, "aws_cloudwatch_metric_alarm", "error_rate_alarm")
    assert a["alarm_name"] == "data-processor-error-rate-dev"
    assert (a["comparison_operator"], a["threshold"], a["evaluation_periods"]) == (
        "GreaterThanThreshold",
        1,
        1,
    )
    expression, errors, invocations = a["metric_query"]
    assert expression == {
        "id": "error_rate",
        "expression": "IF(invocations > 0, 100 * errors / invocations, 0)",
        "label": "Error rate (%)",
        "return_data": True,
    }
    for query, metric in ((errors, "Errors"), (invocations, "Invocations")):
        assert query["metric"] == {
            "namespace": "AWS/Lambda",
            "metric_name": metric,
            "dimensions": {"FunctionName": "data-processor-dev"},
            "period": 300,
            "stat": "Sum",
        }
    assert a["treat_missing_data"] == "notBreaching"


@pytest.mark.parametrize(
    ("name", "alarm_name", "metric", "queue", "threshold"),
    [
        ("dlq_alarm", "market-data-dlq-not-empty-dev", "ApproximateNumberOfMessagesVisible", "dlq", 0),
        (
            "oldest_message_alarm",
            "market-data-queue-oldest-message-age-dev",
            "ApproximateAgeOfOldestMessage",
            "queue",
            300,
        ),
    ],
)
def test_queue_alarms(
    stack: dict[str, Any], name: str, alarm_name: str, metric: str, queue: str, threshold: int
) -> None:
    a = res(stack, "aws_cloudwatch_metric_alarm", name)
    assert a["alarm_name"] == alarm_name
    assert (a["namespace"], a["metric_name"], a["statistic"]) == ("AWS/SQS", metric, "Maximum")
    assert a["dimensions"] == {"QueueName": f"${{aws_sqs_queue.{queue}.name}}"}
    assert (a["comparison_operator"], a["threshold"]) == ("GreaterThanThreshold", threshold)


def test_invalid_rules_alarm(stack: dict[str, Any]) -> None:
    a = res(stack, "aws_cloudwatch_metric_alarm", "invalid_rules_alarm")
    assert a["alarm_name"] == "data-processor-invalid-rules-dev"
    assert (a["namespace"], a["metric_name"], a["statistic"]) == ("MarketAlerts", "InvalidRules", "Sum")
    assert a["dimensions"] == {"FunctionName": "data-processor-dev"}
    assert (a["comparison_operator"], a["threshold"]) == ("GreaterThanThreshold", 0)


def test_feed_clock_offset_alarm_fires_beyond_s_either_way(stack: dict[str, Any]) -> None:
    a = res(stack, "aws_cloudwatch_metric_alarm", "feed_clock_offset_alarm")
    assert a["alarm_name"] == "data-processor-feed-clock-offset-dev"
    assert (a["comparison_operator"], a["threshold"]) == ("GreaterThanThreshold", 2000)
    expression, highest, lowest = a["metric_query"]
    assert expression["expression"] == "MAX([ABS(highest), ABS(lowest)])"
    assert expression["return_data"] is True
    for query, stat in ((highest, "Maximum"), (lowest, "Minimum")):
        assert query["metric"] == {
            "namespace": "MarketAlerts",
            "metric_name": "FeedClockOffsetMs",
            "dimensions": {"FunctionName": "data-processor-dev"},
            "period": 60,
            "stat": stat,
        }


def test_the_feed_clock_offset_queries_carry_the_ids_its_expression_reads(stack: dict[str, Any]) -> None:
    a = res(stack, "aws_cloudwatch_metric_alarm", "feed_clock_offset_alarm")
    assert [q["id"] for q in a["metric_query"]] == ["offset", "highest", "lowest"]


def test_every_alarm_notifies_ops_on_alarm_and_ok(stack: dict[str, Any]) -> None:
    alarms = res(stack, "aws_cloudwatch_metric_alarm")
    assert len(alarms) == 6
    for a in alarms.values():
        assert a["alarm_actions"] == a["ok_actions"] == ["${aws_sns_topic.ops_topic.arn}"]


# ---- I9 tags
def test_tags_on_every_taggable_resource(stack: dict[str, Any]) -> None:
    assert stack["provider"]["aws"][0]["default_tags"] == [{"tags": TAGS}]
    types = set(stack["resource"])
    assert types <= TAGGABLE | UNTAGGABLE, f"classify the new resource types: {types - TAGGABLE - UNTAGGABLE}"
    for rtype in types & TAGGABLE:
        for name, config in stack["resource"][rtype].items():
            assert config.get("tags") == TAGS, f"{rtype}.{name}"


# ---- names
def test_every_name_carries_the_suffix(stack: dict[str, Any]) -> None:
    # Not an account-wide name: a stage's (`$default`, fixed by API Gateway) and a group's (its pool's own,
    # and the API function's OPERATOR_GROUP setting).
    scoped = {"aws_apigatewayv2_stage", "aws_cognito_user_group"}
    names = [
        config[field]
        for rtype, resources in stack["resource"].items()
        if rtype not in scoped
        for config in resources.values()
        for field in ("name", "function_name", "alarm_name")
        if isinstance(config.get(field), str) and not config[field].startswith("${")
    ]
    assert len(names) == 28
    assert all(n.endswith(f"-{SFX}") for n in names), names


# ---- addresses: a deployed state keeps matching the stack (a moved address is a destroy and a create)
def test_terraform_addresses(stack: dict[str, Any]) -> None:
    addresses = {f"{rtype}.{name}" for rtype, resources in stack["resource"].items() for name in resources}
    assert addresses == {
        "aws_cloudwatch_log_group.log_group",
        "aws_cloudwatch_metric_alarm.dlq_alarm",
        "aws_cloudwatch_metric_alarm.error_rate_alarm",
        "aws_cloudwatch_metric_alarm.feed_clock_offset_alarm",
        "aws_cloudwatch_metric_alarm.invalid_rules_alarm",
        "aws_cloudwatch_metric_alarm.oldest_message_alarm",
        "aws_dynamodb_table.alerts_table",
        "aws_dynamodb_table.rules_table",
        "aws_dynamodb_table.state_table",
        "aws_iam_policy.rules_writer_policy",
        "aws_iam_role.role",
        "aws_iam_role_policy.role_policy",
        "aws_kms_alias.key_alias",
        "aws_kms_key.key",
        "aws_lambda_event_source_mapping.event_source",
        "aws_lambda_function.function",
        "aws_sns_topic.ops_topic",
        "aws_sns_topic.topic",
        "aws_sns_topic_policy.ops_topic_policy",
        "aws_sns_topic_policy.topic_policy",
        "aws_sqs_queue.dlq",
        "aws_sqs_queue.queue",
        "aws_sqs_queue_policy.dlq_policy",
        "aws_sqs_queue_policy.queue_policy",
        # I14: the traders' API (one route per docs/openapi.yaml operation)
        "aws_apigatewayv2_api.http_api",
        "aws_apigatewayv2_authorizer.api_authorizer",
        "aws_apigatewayv2_integration.api_integration",
        "aws_apigatewayv2_route.route_delete_rules_rule_id",
        "aws_apigatewayv2_route.route_delete_symbols_symbol_band",
        "aws_apigatewayv2_route.route_delete_symbols_symbol_suspension",
        "aws_apigatewayv2_route.route_get_alerts",
        "aws_apigatewayv2_route.route_get_rules",
        "aws_apigatewayv2_route.route_get_rules_rule_id",
        "aws_apigatewayv2_route.route_get_rules_rule_id_alerts",
        "aws_apigatewayv2_route.route_get_rules_rule_id_versions",
        "aws_apigatewayv2_route.route_get_symbols_symbol_controls",
        "aws_apigatewayv2_route.route_patch_rules_rule_id",
        "aws_apigatewayv2_route.route_post_rules",
        "aws_apigatewayv2_route.route_post_rules_import",
        "aws_apigatewayv2_route.route_post_rules_rule_id_pause",
        "aws_apigatewayv2_route.route_post_rules_rule_id_rearm",
        "aws_apigatewayv2_route.route_post_rules_rule_id_resume",
        "aws_apigatewayv2_route.route_put_symbols_symbol_band",
        "aws_apigatewayv2_route.route_put_symbols_symbol_suspension",
        "aws_apigatewayv2_stage.api_stage",
        "aws_cloudwatch_log_group.api_access_log_group",
        "aws_cloudwatch_log_group.api_log_group",
        "aws_cloudwatch_metric_alarm.api_5xx_alarm",
        "aws_cognito_user_group.operators_group",
        "aws_cognito_user_pool.user_pool",
        "aws_cognito_user_pool_client.user_pool_client",
        "aws_iam_role.api_role",
        "aws_iam_role_policy.api_role_policy",
        "aws_iam_role_policy_attachment.api_rules_writer",
        "aws_lambda_function.api_function",
        "aws_lambda_permission.api_invoke_permission",
    }
    assert {f"{t}.{n}" for t, data in stack["data"].items() for n in data} == {
        "aws_caller_identity.current",
        "aws_partition.partition",
    }


# ---- I10 destroyable, I11 backend
def test_destroyable(stack: dict[str, Any]) -> None:
    text = json.dumps(stack)
    assert "prevent_destroy" not in text
    assert "RETAIN" not in text.upper().replace("RETAINED", "")
    for table in res(stack, "aws_dynamodb_table").values():
        assert table["deletion_protection_enabled"] is False


def test_backend_local_by_default_never_lockfile(stack: dict[str, Any], local_stack: dict[str, Any]) -> None:
    # No backend block in the stack itself: local state (cdktf's app.synth() writes a `local` backend).
    assert "backend" not in stack["terraform"]
    s3 = local_stack["terraform"]["backend"]["s3"]
    assert s3 == {
        "bucket": "tf-state",
        "key": "tap/pr-42.tfstate",
        "region": "eu-west-1",
        "dynamodb_table": "tf-locks",
        "encrypt": True,
    }
    assert "use_lockfile" not in json.dumps(stack) + json.dumps(local_stack)


def test_backend_local_file_when_a_state_path_is_set() -> None:
    stack = TerraformStack(CdktfTesting.app(), "backend-only")
    state_backend(stack, StackConfig(state_path="build/demo/terraform.tfstate"))
    backend = json.loads(CdktfTesting.synth(stack))["terraform"]["backend"]
    assert backend == {"local": {"path": "build/demo/terraform.tfstate"}}


def test_provider_targets_real_aws_by_default(stack: dict[str, Any]) -> None:
    (provider,) = stack["provider"]["aws"]
    assert provider["region"] == "us-east-1"
    assert "endpoints" not in provider
    assert "skip_credentials_validation" not in provider
    assert stack["terraform"]["required_providers"]["aws"]["version"] == "5.100.0"


# ---- I12 outputs
def test_outputs(stack: dict[str, Any]) -> None:
    assert {k: v["value"] for k, v in stack["output"].items()} == {
        "queue_url": "${aws_sqs_queue.queue.url}",
        "queue_arn": "${aws_sqs_queue.queue.arn}",
        "dlq_url": "${aws_sqs_queue.dlq.url}",
        "topic_arn": "${aws_sns_topic.topic.arn}",
        "ops_topic_arn": "${aws_sns_topic.ops_topic.arn}",
        "table_name": "${aws_dynamodb_table.alerts_table.name}",
        "state_table_name": "${aws_dynamodb_table.state_table.name}",
        "rules_table_name": "${aws_dynamodb_table.rules_table.name}",
        "rules_writer_policy_arn": "${aws_iam_policy.rules_writer_policy.arn}",
        "function_name": "${aws_lambda_function.function.function_name}",
        "function_arn": "${aws_lambda_function.function.arn}",
        "kms_key_arn": KEY,
        # I14 (tests/unit/test_api_stack.py checks their values)
        "api_url": "${aws_apigatewayv2_api.http_api.api_endpoint}",
        "jwt_issuer": "https://${aws_cognito_user_pool.user_pool.endpoint}",
        "jwt_audience": '${join(",", [aws_cognito_user_pool_client.user_pool_client.id])}',
        "api_function_name": "${aws_lambda_function.api_function.function_name}",
        "user_pool_id": "${aws_cognito_user_pool.user_pool.id}",
        "user_pool_client_id": "${aws_cognito_user_pool_client.user_pool_client.id}",
    }


# ---- the local variant
def test_local_variant_endpoints_and_timings(local_stack: dict[str, Any]) -> None:
    (provider,) = local_stack["provider"]["aws"]
    (endpoints,) = provider["endpoints"]
    assert endpoints == dict.fromkeys(
        (
            "apigatewayv2",
            "cloudwatch",
            "cloudwatchlogs",
            "cognitoidp",
            *("dynamodb", "iam", "kms", "lambda", "sns", "sqs", "sts"),
        ),
        "http://127.0.0.1:5000",
    )
    assert provider["skip_credentials_validation"] is True
    q = res(local_stack, "aws_sqs_queue", "queue")
    assert q["visibility_timeout_seconds"] == 20
    assert '"maxReceiveCount" = 2' in q["redrive_policy"]
    assert q["lifecycle"] == {"ignore_changes": ["redrive_policy"]}
    fn = res(local_stack, "aws_lambda_function", "function")
    assert fn["function_name"] == "data-processor-pr-42"
    assert fn["lifecycle"] == {"ignore_changes": ["logging_config"]}


def test_the_configured_reorder_window_is_the_functions(local_stack: dict[str, Any]) -> None:
    """W (F3) reaches the function as the environment variable it reads at start-up."""
    fn = res(local_stack, "aws_lambda_function", "function")
    assert fn["environment"]["variables"]["REORDER_WINDOW_SECONDS"] == "120"
    assert fn["environment"]["variables"]["MAX_NOTIFY_AGE_SECONDS"] == "300"  # F5's `delayed` bound
    assert fn["environment"]["variables"]["RULES_SHARDS"] == "4"  # the writers' count too (12.5)


def test_the_configured_event_source_batching_is_the_mappings(local_stack: dict[str, Any]) -> None:
    """I4: the low-latency setting (batch 10, no window) reaches the event source mapping as configured."""
    esm = res(local_stack, "aws_lambda_event_source_mapping", "event_source")
    assert (esm["batch_size"], esm["maximum_batching_window_in_seconds"]) == (10, 0)


def test_local_variant_subscriptions(local_stack: dict[str, Any]) -> None:
    subs = res(local_stack, "aws_sns_topic_subscription")
    email, sqs = subs["subscription_0"], subs["subscription_1"]
    assert (email["protocol"], email["endpoint"], email["topic_arn"]) == (
        "email",
        "desk@example.com",
        "${aws_sns_topic.topic.arn}",
    )
    assert json.loads(email["filter_policy"]) == {"severity": ["critical"], "symbol": ["AAPL"]}
    assert email["filter_policy_scope"] == "MessageAttributes"
    assert "filter_policy" not in sqs


# ---- one module imports cdktf: a move to its fork (CDK Terrain) is a change of imports there only
def test_only_the_bindings_module_imports_cdktf() -> None:
    bindings = {"cdktf", "constructs", "cdktf_cdktf_provider_aws"}
    importers = set()
    for source in (ROOT / "lib").rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(name.split(".")[0] in bindings for name in names):
                importers.add(source.relative_to(ROOT).as_posix())
    assert importers == {"lib/stack/bindings.py"}


# ---- the function package
def test_package_hash_follows_the_zip(tmp_path: Path) -> None:
    a = package_hash(build_zip(tmp_path / "a.zip"))
    b = package_hash(build_zip(tmp_path / "b.zip", bootstrap=b"#!/bin/sh\nexit 2\n"))
    assert a != b
    assert re.fullmatch(r"[A-Za-z0-9+/]{43}=", a)
    assert a == package_hash(tmp_path / "a.zip")


def test_package_errors(tmp_path: Path) -> None:
    with pytest.raises(LambdaPackageError, match="not found: build it first with `make package`"):
        package_hash(tmp_path / "missing.zip")
    (tmp_path / "bad.zip").write_bytes(b"not a zip")
    with pytest.raises(LambdaPackageError, match="not a valid function package"):
        package_hash(tmp_path / "bad.zip")
    with zipfile.ZipFile(tmp_path / "nobootstrap.zip", "w") as z:
        z.writestr("main.py", "print()")
    with pytest.raises(LambdaPackageError, match="no `bootstrap` entry point"):
        package_hash(tmp_path / "nobootstrap.zip")
    # A zip of an earlier build still carries a rules document: the rules now live in the rules table (R6).
    stale = build_zip(tmp_path / "stale.zip")
    with zipfile.ZipFile(stale, "a") as z:
        z.writestr("alert-rules.json", json.dumps({"version": 1, "rules": []}))
    with pytest.raises(LambdaPackageError, match=r"holds alert-rules.json besides `bootstrap`"):
        package_hash(stale)


def test_a_stale_package_says_how_to_rebuild_it(tmp_path: Path) -> None:
    stale = build_zip(tmp_path / "stale.zip")
    with zipfile.ZipFile(stale, "a") as z:
        z.writestr("alert-rules.json", "{}")
    with pytest.raises(
        LambdaPackageError, match=r"\(the rules live in the rules table\): rebuild it with `make package`$"
    ):
        package_hash(stale)

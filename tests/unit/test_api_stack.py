"""Synthesis tests of the traders' API (I14, I7, I8, I12; A1, A2), by value: the API's settings, Cognito,
the API function and its role, the HTTP API's routes, authorizer, stage and access logs, its alarm and
outputs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lib.config import ApiSettings, ConfigError, StackConfig, from_sources
from lib.openapi import OPENAPI_PATH, OpenApiError, Route, api_routes
from lib.stack.api import ACCESS_LOG_FORMAT, route_construct_id
from lib.tap_stack import package_hash, synth_json
from tests.support.stack_json import ACCOUNT, KEY, PART, TAGS, res, statements

API = "${aws_apigatewayv2_api.http_api.id}"
POOL = "${aws_cognito_user_pool.user_pool.id}"
CLIENT = "${aws_cognito_user_pool_client.user_pool_client.id}"
ISSUER = "https://${aws_cognito_user_pool.user_pool.endpoint}"
EXTERNAL_ISSUER = "https://login.example.com/realms/trading"


@pytest.fixture(scope="session")
def stack(synthesized_stack: dict[str, Any]) -> dict[str, Any]:
    return synthesized_stack


@pytest.fixture(scope="session")
def external_stack(package_zip: Path) -> dict[str, Any]:
    """A variant: local endpoint, an external issuer with two audiences, another operator group and
    throttling."""
    return synth_json(
        StackConfig(
            environment_suffix="ext",
            endpoint_url="http://127.0.0.1:5000",
            api=ApiSettings(
                throttle_burst=20,
                throttle_rate=10,
                operator_group="desk-ops",
                jwt_issuer=EXTERNAL_ISSUER,
                jwt_audience=("trading-web", "trading-cli"),
            ),
            zip_path=package_zip,
        )
    )


# ---- configuration
def test_api_settings_defaults() -> None:
    assert StackConfig().api == ApiSettings(
        throttle_burst=100, throttle_rate=50, operator_group="operators", jwt_issuer=None, jwt_audience=()
    )


def test_api_settings_from_context_and_environment() -> None:
    env = {
        "API_THROTTLE_BURST": "300",
        "API_THROTTLE_RATE": "120",
        "OPERATOR_GROUP": "desk-ops",
        "JWT_ISSUER": EXTERNAL_ISSUER,
        "JWT_AUDIENCE": "web, cli",
    }
    assert from_sources({}, env).api == ApiSettings(300, 120, "desk-ops", EXTERNAL_ISSUER, ("web", "cli"))
    # the context wins over the environment, key by key
    context = {"apiThrottleBurst": 7, "operatorGroup": "ops", "jwtAudience": "app"}
    assert from_sources(context, env).api == ApiSettings(7, 120, "ops", EXTERNAL_ISSUER, ("app",))


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"throttle_burst": -1}, "API burst limit must be within 0..5000"),
        ({"throttle_burst": 5001}, "API burst limit must be within 0..5000"),
        ({"throttle_rate": 10001}, "API rate limit must be within 0..10000"),
        ({"operator_group": ""}, "operator group ''"),
        ({"operator_group": "ops team"}, "operator group 'ops team'"),
        ({"operator_group": "x" * 129}, "operator group"),
        ({"jwt_issuer": EXTERNAL_ISSUER}, "an external JWT issuer needs its audience"),
        ({"jwt_audience": ("web",)}, "an external JWT issuer needs its audience"),
        ({"jwt_issuer": "http://login.example.com", "jwt_audience": ("web",)}, "must be an https:// URL"),
        ({"jwt_issuer": "https://a b", "jwt_audience": ("web",)}, "must be an https:// URL"),
        ({"jwt_issuer": EXTERNAL_ISSUER, "jwt_audience": ("web", "")}, "JWT audience ''"),
        ({"jwt_issuer": EXTERNAL_ISSUER, "jwt_audience": ("a b",)}, "JWT audience 'a b'"),
    ],
)
def test_api_settings_refused(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ApiSettings(**settings)


def test_api_settings_bounds_are_inclusive() -> None:
    assert ApiSettings(throttle_burst=5000, throttle_rate=10000).throttle_burst == 5000
    assert ApiSettings(throttle_burst=0, throttle_rate=0).throttle_rate == 0


def test_an_api_setting_that_is_not_an_integer_names_its_variable() -> None:
    with pytest.raises(ConfigError, match="API_THROTTLE_RATE must be an integer, got 'fast'"):
        from_sources({}, {"API_THROTTLE_RATE": "fast"})


# ---- the routes: docs/openapi.yaml's paths and methods, and nothing else
def test_routes_read_from_the_openapi_document() -> None:
    routes = api_routes()
    assert routes == tuple(sorted(routes))
    keys = {r.key for r in routes}
    assert {"GET /rules", "POST /rules", "PATCH /rules/{rule_id}", "GET /alerts"} <= keys
    assert "GET /rules/import" not in keys  # only the methods a path states
    assert Route("/rules/{rule_id}", "DELETE").key == "DELETE /rules/{rule_id}"


def test_route_reader_takes_only_operations(tmp_path: Path) -> None:
    doc = tmp_path / "api.yaml"
    doc.write_text(
        "paths:\n  /b:\n    summary: s\n    parameters: []\n    put: {}\n    get: {}\n  /a:\n    delete: {}\n"
    )
    assert api_routes(doc) == (Route("/a", "DELETE"), Route("/b", "GET"), Route("/b", "PUT"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("openapi: 3.1.0\n", "no `paths`"),
        ("- a list\n", "no `paths`"),
        ("paths: {}\n", "no `paths`"),
        ("paths:\n  rules:\n    get: {}\n", "path 'rules' is not `/...`"),
        ("paths:\n  /rules: []\n", "path '/rules' is not `/...`"),
        ("paths:\n  /rules:\n    summary: x\n", "path /rules has no operation"),
    ],
)
def test_route_reader_refuses_a_document_without_deployable_routes(
    tmp_path: Path, text: str, message: str
) -> None:
    doc = tmp_path / "api.yaml"
    doc.write_text(text)
    with pytest.raises(OpenApiError, match=message):
        api_routes(doc)


def test_one_route_per_openapi_operation(stack: dict[str, Any]) -> None:
    routes = res(stack, "aws_apigatewayv2_route")
    assert sorted(r["route_key"] for r in routes.values()) == sorted(r.key for r in api_routes(OPENAPI_PATH))
    for route in api_routes():
        assert routes[route_construct_id(route)] == {
            **routes[route_construct_id(route)],
            "api_id": API,
            "route_key": route.key,
            "authorization_type": "JWT",
            "authorizer_id": "${aws_apigatewayv2_authorizer.api_authorizer.id}",
            "target": "integrations/${aws_apigatewayv2_integration.api_integration.id}",
        }
    assert route_construct_id(Route("/rules/{rule_id}/versions", "GET")) == "route_get_rules_rule_id_versions"


# ---- I14: the HTTP API
def test_http_api(stack: dict[str, Any]) -> None:
    api = res(stack, "aws_apigatewayv2_api", "http_api")
    assert (api["name"], api["protocol_type"]) == ("alert-api-dev", "HTTP")
    integration = res(stack, "aws_apigatewayv2_integration", "api_integration")
    assert integration == {
        **integration,
        "api_id": API,
        "integration_type": "AWS_PROXY",
        "integration_method": "POST",
        "integration_uri": "${aws_lambda_function.api_function.invoke_arn}",
        "payload_format_version": "2.0",
    }


def test_jwt_authorizer_accepts_the_pools_access_tokens(stack: dict[str, Any]) -> None:
    authorizer = res(stack, "aws_apigatewayv2_authorizer", "api_authorizer")
    assert authorizer == {
        **authorizer,
        "api_id": API,
        "name": "alert-api-authorizer-dev",
        "authorizer_type": "JWT",
        "identity_sources": ["$request.header.Authorization"],
        "jwt_configuration": {"issuer": ISSUER, "audience": [CLIENT]},
    }


def test_stage_access_logs_and_throttling(stack: dict[str, Any]) -> None:
    stage = res(stack, "aws_apigatewayv2_stage", "api_stage")
    assert (stage["api_id"], stage["name"], stage["auto_deploy"]) == (API, "$default", True)
    assert stage["access_log_settings"] == {
        "destination_arn": "${aws_cloudwatch_log_group.api_access_log_group.arn}",
        "format": ACCESS_LOG_FORMAT,
    }
    fields = json.loads(stage["access_log_settings"]["format"])
    assert fields["authorizerError"] == "$context.authorizer.error"
    assert {"requestId", "ip", "requestTime", "httpMethod", "routeKey", "status", "integrationError"} <= set(
        fields
    )
    assert stage["default_route_settings"] == {"throttling_burst_limit": 100, "throttling_rate_limit": 50}


@pytest.mark.parametrize(
    ("name", "log_group"),
    [
        ("api_access_log_group", "/aws/apigateway/alert-api-access-dev"),
        ("api_log_group", "/aws/lambda/alert-api-dev"),
    ],
)
def test_api_log_groups_encrypted_with_retention(stack: dict[str, Any], name: str, log_group: str) -> None:
    lg = res(stack, "aws_cloudwatch_log_group", name)
    assert (lg["name"], lg["retention_in_days"], lg["kms_key_id"]) == (log_group, 365, KEY)


def test_the_key_lets_cloudwatch_logs_encrypt_exactly_the_stacks_log_groups(stack: dict[str, Any]) -> None:
    key = res(stack, "aws_kms_key", "key")
    (logs,) = [s for s in statements(key["policy"]) if s["Sid"] == "CloudWatchLogsForTheStackLogGroups"]
    arn = f"arn:{PART}:logs:us-east-1:{ACCOUNT}:log-group:"
    assert logs["Condition"] == {
        "ArnEquals": {
            "kms:EncryptionContext:aws:logs:arn": [
                f"{arn}/aws/lambda/data-processor-dev",
                f"{arn}/aws/lambda/alert-api-dev",
                f"{arn}/aws/apigateway/alert-api-access-dev",
            ]
        }
    }
    # every log group of the stack, none else
    names = {lg["name"] for lg in res(stack, "aws_cloudwatch_log_group").values()}
    arns = logs["Condition"]["ArnEquals"]["kms:EncryptionContext:aws:logs:arn"]
    assert {a.removeprefix(arn) for a in arns} == names


def test_api_gateway_may_invoke_the_function_for_this_api_only(stack: dict[str, Any]) -> None:
    permission = res(stack, "aws_lambda_permission", "api_invoke_permission")
    assert permission == {
        **permission,
        "action": "lambda:InvokeFunction",
        "function_name": "${aws_lambda_function.api_function.function_name}",
        "principal": "apigateway.amazonaws.com",
        "source_arn": "${aws_apigatewayv2_api.http_api.execution_arn}/*/*",
    }


# ---- A1: the default issuer, a Cognito pool
def test_user_pool(stack: dict[str, Any]) -> None:
    pool = res(stack, "aws_cognito_user_pool", "user_pool")
    assert pool["name"] == "alert-traders-dev"
    assert pool["admin_create_user_config"] == {"allow_admin_create_user_only": True}
    assert pool["password_policy"] == {
        "minimum_length": 12,
        "require_lowercase": True,
        "require_uppercase": True,
        "require_numbers": True,
        "require_symbols": True,
    }
    assert pool["deletion_protection"] == "INACTIVE"


def test_app_client_signs_in_with_passwords_and_has_no_secret(stack: dict[str, Any]) -> None:
    client = res(stack, "aws_cognito_user_pool_client", "user_pool_client")
    assert client == {
        **client,
        "name": "alert-api-client-dev",
        "user_pool_id": POOL,
        "generate_secret": False,
        "explicit_auth_flows": [
            "ALLOW_ADMIN_USER_PASSWORD_AUTH",
            "ALLOW_REFRESH_TOKEN_AUTH",
            "ALLOW_USER_PASSWORD_AUTH",
        ],
        "prevent_user_existence_errors": "ENABLED",
    }


def test_operators_group_is_the_functions_operator_group(stack: dict[str, Any]) -> None:
    group = res(stack, "aws_cognito_user_group", "operators_group")
    assert (group["name"], group["user_pool_id"]) == ("operators", POOL)
    fn = res(stack, "aws_lambda_function", "api_function")
    assert fn["environment"]["variables"]["OPERATOR_GROUP"] == group["name"]


def test_an_external_issuer_replaces_the_pool(external_stack: dict[str, Any]) -> None:
    assert not {"aws_cognito_user_pool", "aws_cognito_user_pool_client", "aws_cognito_user_group"} & set(
        external_stack["resource"]
    )
    authorizer = res(external_stack, "aws_apigatewayv2_authorizer", "api_authorizer")
    assert authorizer["jwt_configuration"] == {
        "issuer": EXTERNAL_ISSUER,
        "audience": ["trading-web", "trading-cli"],
    }
    stage = res(external_stack, "aws_apigatewayv2_stage", "api_stage")
    assert stage["default_route_settings"] == {"throttling_burst_limit": 20, "throttling_rate_limit": 10}
    fn = res(external_stack, "aws_lambda_function", "api_function")
    assert fn["environment"]["variables"]["OPERATOR_GROUP"] == "desk-ops"
    assert fn["lifecycle"] == {"ignore_changes": ["logging_config"]}  # moto does not store it
    outputs = {k: v["value"] for k, v in external_stack["output"].items()}
    assert outputs["jwt_issuer"] == EXTERNAL_ISSUER
    assert outputs["jwt_audience"] == '${join(",", ["trading-web", "trading-cli"])}'
    assert "user_pool_id" not in outputs
    assert "user_pool_client_id" not in outputs


# ---- I14 / I7: the API function and its role
def test_api_function(stack: dict[str, Any], package_zip: Path) -> None:
    fn = res(stack, "aws_lambda_function", "api_function")
    processor = res(stack, "aws_lambda_function", "function")
    assert fn["function_name"] == "alert-api-dev"
    assert (fn["runtime"], fn["handler"], fn["architectures"]) == ("provided.al2023", "api", ["arm64"])
    # the processor's zip: one build, the handler setting selects the API
    assert (fn["filename"], fn["source_code_hash"]) == (processor["filename"], processor["source_code_hash"])
    assert fn["source_code_hash"] == package_hash(package_zip)
    assert (fn["memory_size"], fn["timeout"], fn["reserved_concurrent_executions"]) == (1024, 10, 10)
    assert fn["kms_key_arn"] == KEY
    assert fn["tracing_config"] == {"mode": "Active"}
    assert fn["role"] == "${aws_iam_role.api_role.arn}"
    assert fn["logging_config"]["log_group"] == "${aws_cloudwatch_log_group.api_log_group.name}"
    assert fn["environment"]["variables"] == {
        "RULES_TABLE": "${aws_dynamodb_table.rules_table.name}",
        "RULES_SHARDS": "1",
        "ALERTS_TABLE": "${aws_dynamodb_table.alerts_table.name}",
        "STATE_TABLE": "${aws_dynamodb_table.state_table.name}",
        "OPERATOR_GROUP": "operators",
        "RULE_QUOTA": "1000",
        "ALERTS_VISIBLE_AFTER_SECONDS": "75",
        "MAX_NOTIFY_AGE_SECONDS": "60",
        "KMS_KEY_ARN": KEY,
        "LOG_LEVEL": "INFO",
    }
    assert set(fn["depends_on"]) == {
        "aws_iam_role_policy.api_role_policy",
        "aws_iam_role_policy_attachment.api_rules_writer",
        "aws_cloudwatch_log_group.api_log_group",
    }
    assert "lifecycle" not in fn


def test_api_role_trusts_only_lambda(stack: dict[str, Any]) -> None:
    role = res(stack, "aws_iam_role", "api_role")
    assert role["name"] == "alert-api-role-dev"
    # the processor role's trust (test_tap_stack.py states it): Lambda, on behalf of this account only
    assert role["assume_role_policy"] == res(stack, "aws_iam_role", "role")["assume_role_policy"]
    ((principal, service),) = statements(role["assume_role_policy"])[0]["Principal"].items()
    assert (principal, service) == ("Service", "lambda.amazonaws.com")


def test_api_role_least_privilege(stack: dict[str, Any]) -> None:
    """Exactly these statements, each on its resource; the writers' policy is attached; no SQS, no SNS."""
    policy = res(stack, "aws_iam_role_policy", "api_role_policy")
    assert (policy["name"], policy["role"]) == ("alert-api-policy-dev", "${aws_iam_role.api_role.id}")
    assert statements(policy["policy"]) == [
        {
            "Sid": "ReadAlerts",
            "Effect": "Allow",
            "Action": "dynamodb:Query",
            "Resource": "${aws_dynamodb_table.alerts_table.arn}/index/by-owner",
        },
        {
            "Sid": "ReadOnceMarkers",
            "Effect": "Allow",
            "Action": "dynamodb:BatchGetItem",
            "Resource": "${aws_dynamodb_table.state_table.arn}",
            "Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["#once#*"]}},
        },
        {
            "Sid": "WriteOwnLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": "${aws_cloudwatch_log_group.api_log_group.arn}:log-stream:*",
        },
        {
            "Sid": "XRayTracing",
            "Effect": "Allow",
            "Action": ["xray:PutTelemetryRecords", "xray:PutTraceSegments"],
            "Resource": "*",
        },
    ]
    attachment = res(stack, "aws_iam_role_policy_attachment", "api_rules_writer")
    assert (attachment["role"], attachment["policy_arn"]) == (
        "${aws_iam_role.api_role.name}",
        "${aws_iam_policy.rules_writer_policy.arn}",
    )
    attached = {a["role"] for a in res(stack, "aws_iam_role_policy_attachment").values()}
    assert attached == {"${aws_iam_role.api_role.name}"}  # the processor never gets the writers' policy
    actions = json.dumps(statements(policy["policy"]))
    assert "sqs:" not in actions
    assert "sns:" not in actions


# ---- I8: the API's 5xx rate
def test_api_5xx_alarm(stack: dict[str, Any]) -> None:
    """100 * 5xx / Count over 5 minutes above 1 %, to the operators on ALARM and on OK."""
    a = res(stack, "aws_cloudwatch_metric_alarm", "api_5xx_alarm")

    def five_minute_sum(query_id: str, metric: str) -> dict[str, Any]:
        metric_stat = {"namespace": "AWS/ApiGateway", "metric_name": metric, "period": 300, "stat": "Sum"}
        return {"id": query_id, "metric": {**metric_stat, "dimensions": {"ApiId": API}}}

    ops = ["${aws_sns_topic.ops_topic.arn}"]
    assert {k: v for k, v in a.items() if k != "alarm_description"} == {
        "alarm_name": "alert-api-5xx-rate-dev",
        "comparison_operator": "GreaterThanThreshold",
        "threshold": 1,
        "evaluation_periods": 1,
        "treat_missing_data": "notBreaching",
        "metric_query": [
            {
                "id": "server_error_rate",
                "expression": "IF(requests > 0, 100 * errors / requests, 0)",
                "label": "5xx rate (%)",
                "return_data": True,
            },
            five_minute_sum("errors", "5xx"),
            five_minute_sum("requests", "Count"),
        ],
        "alarm_actions": ops,
        "ok_actions": ops,
        "tags": TAGS,
    }


# ---- I9 tags on the API's taggable resources
@pytest.mark.parametrize(
    ("rtype", "name"),
    [
        ("aws_apigatewayv2_api", "http_api"),
        ("aws_apigatewayv2_stage", "api_stage"),
        ("aws_cognito_user_pool", "user_pool"),
        ("aws_lambda_function", "api_function"),
        ("aws_iam_role", "api_role"),
        ("aws_cloudwatch_log_group", "api_log_group"),
        ("aws_cloudwatch_log_group", "api_access_log_group"),
        ("aws_cloudwatch_metric_alarm", "api_5xx_alarm"),
    ],
)
def test_api_resources_tagged(stack: dict[str, Any], rtype: str, name: str) -> None:
    assert res(stack, rtype, name)["tags"] == TAGS


# ---- I12 outputs
def test_api_outputs(stack: dict[str, Any]) -> None:
    outputs = {k: v["value"] for k, v in stack["output"].items()}
    assert {k: outputs[k] for k in outputs if k not in OUTPUTS_BEFORE_THE_API} == {
        "api_url": "${aws_apigatewayv2_api.http_api.api_endpoint}",
        "jwt_issuer": ISSUER,
        "jwt_audience": f'${{join(",", [{CLIENT[2:-1]}])}}',
        "api_function_name": "${aws_lambda_function.api_function.function_name}",
        "user_pool_id": POOL,
        "user_pool_client_id": CLIENT,
    }


OUTPUTS_BEFORE_THE_API = {
    "queue_url",
    "queue_arn",
    "dlq_url",
    "topic_arn",
    "ops_topic_arn",
    "table_name",
    "state_table_name",
    "rules_table_name",
    "rules_writer_policy_arn",
    "function_name",
    "function_arn",
    "kms_key_arn",
}

"""I14: the HTTP API `alert-api-<suffix>` in front of the API function.

A JWT authorizer (the configured issuer and audience, lib/stack/cognito.py) on every route; one route per
path and method of docs/openapi.yaml (lib/openapi.py reads it: no second list); the `$default` stage,
auto-deployed, with JSON access logs in a log group encrypted with the stack's key and default-route
throttling from configuration. TLS only: an HTTP API's endpoints are HTTPS-only (API Gateway has no plain
HTTP listener), and the stack adds no custom domain, so there is nothing else to restrict.
"""

from __future__ import annotations

import json
import re

from lib.config import StackConfig
from lib.openapi import Route
from lib.stack.bindings import (
    Apigatewayv2Api,
    Apigatewayv2Authorizer,
    Apigatewayv2AuthorizerJwtConfiguration,
    Apigatewayv2Integration,
    Apigatewayv2Route,
    Apigatewayv2Stage,
    Apigatewayv2StageAccessLogSettings,
    Apigatewayv2StageDefaultRouteSettings,
    Construct,
    LambdaPermission,
)
from lib.stack.runtime import encrypted_log_group

STAGE = "$default"
# API Gateway's JWT authorizer reads the bearer token from here (and answers 401 itself without one).
TOKEN_SOURCE = "$request.header.Authorization"
# The standard JSON access-log fields, with why a request was refused before or after the function.
ACCESS_LOG_FORMAT = json.dumps(
    {
        "requestId": "$context.requestId",
        "ip": "$context.identity.sourceIp",
        "requestTime": "$context.requestTime",
        "httpMethod": "$context.httpMethod",
        "routeKey": "$context.routeKey",
        "status": "$context.status",
        "protocol": "$context.protocol",
        "responseLength": "$context.responseLength",
        "responseLatency": "$context.responseLatency",
        "integrationLatency": "$context.integrationLatency",
        "integrationError": "$context.integrationErrorMessage",
        "authorizerError": "$context.authorizer.error",
    }
)


def access_log_group_name(config: StackConfig) -> str:
    """Known before the log group exists: the key's policy names it."""
    return config.name("/aws/apigateway/alert-api-access")


def route_construct_id(route: Route) -> str:
    """A stable Terraform name per route key: `GET /rules/{rule_id}` -> `route_get_rules_rule_id`."""
    return "route_" + re.sub(r"[^a-z0-9]+", "_", route.key.lower()).strip("_")


class HttpApi(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        config: StackConfig,
        *,
        routes: tuple[Route, ...],
        issuer: str,
        audience: list[str],
        function_name: str,
        function_invoke_arn: str,
        key_arn: str,
    ) -> None:
        super().__init__(scope, construct_id)
        api = Apigatewayv2Api(
            self,
            "http_api",
            name=config.name("alert-api"),
            protocol_type="HTTP",
            description="The traders' alert API (A2): rules and fired alerts, JWT-authorized",
            tags=config.tags,
        )
        authorizer = Apigatewayv2Authorizer(
            self,
            "api_authorizer",
            api_id=api.id,
            name=config.name("alert-api-authorizer"),
            authorizer_type="JWT",
            identity_sources=[TOKEN_SOURCE],
            jwt_configuration=Apigatewayv2AuthorizerJwtConfiguration(issuer=issuer, audience=audience),
        )
        integration = Apigatewayv2Integration(
            self,
            "api_integration",
            api_id=api.id,
            integration_type="AWS_PROXY",
            integration_method="POST",
            integration_uri=function_invoke_arn,
            payload_format_version="2.0",
        )
        for route in routes:
            Apigatewayv2Route(
                self,
                route_construct_id(route),
                api_id=api.id,
                route_key=route.key,
                authorization_type="JWT",
                authorizer_id=authorizer.id,
                target=f"integrations/{integration.id}",
            )
        access_logs = encrypted_log_group(
            self, "api_access_log_group", config, name=access_log_group_name(config), key_arn=key_arn
        )
        Apigatewayv2Stage(
            self,
            "api_stage",
            api_id=api.id,
            name=STAGE,
            auto_deploy=True,
            access_log_settings=Apigatewayv2StageAccessLogSettings(
                destination_arn=access_logs.arn, format=ACCESS_LOG_FORMAT
            ),
            default_route_settings=Apigatewayv2StageDefaultRouteSettings(
                throttling_burst_limit=config.api.throttle_burst,
                throttling_rate_limit=config.api.throttle_rate,
            ),
            tags=config.tags,
        )
        # API Gateway may invoke the function for this API's routes only (any stage, any route of it).
        LambdaPermission(
            self,
            "api_invoke_permission",
            statement_id="AllowHttpApiInvoke",
            action="lambda:InvokeFunction",
            function_name=function_name,
            principal="apigateway.amazonaws.com",
            source_arn=f"{api.execution_arn}/*/*",
        )
        self.id, self.url = api.id, api.api_endpoint

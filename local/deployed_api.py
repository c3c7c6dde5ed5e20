"""The traders' API of a deployed stack, served on this machine: the local API front (local/api_front.py) in
front of the real API function (the host `bootstrap`) with the environment the stack gave the deployed
function, read back from Lambda, and the stack's own Cognito pool and app client (its outputs). Users are
created in that pool and sign in with the password flow, so the tokens are the pool's real ones.

One source for names: the function's environment is whatever `GetFunctionConfiguration` answers (the stack
set it, lib/stack/api_function.py); only the local system's own variables are added (endpoint, credentials,
the clock of R7, which the front reads too for the events it builds).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import boto3

from lib.config import DEFAULT_API_BURST, DEFAULT_API_RATE, OPERATOR_GROUP_ENV
from local.api_front import ApiFront, FrontSettings
from local.clock import CLOCK_VARIABLE, Clock, parse_clock_spec
from local.function_pool import FunctionPool
from local.jwt_authorizer import AuthorizerConfig, JwtAuthorizer, moto_jwks_url
from local.openapi_routes import load_routes
from local.runtime_api import RuntimeApiEmulator
from ops.alerts_api import AlertsApi
from ops.cognito_sign_in import sign_in

STAGE_NAME = "$default"


@dataclass(frozen=True)
class SignedIn:
    username: str
    sub: str  # the owner of everything they create (A1: the token's `sub`)
    api: AlertsApi


@dataclass
class DeployedApi:
    """The served API (`url`) and the pool its users sign in to."""

    url: str
    endpoint: str | None
    region: str
    pool_id: str
    client_id: str
    operator_group: str

    def cognito(self) -> Any:
        return boto3.client("cognito-idp", region_name=self.region, endpoint_url=self.endpoint)

    def add_user(self, username: str, operator: bool = False) -> str:
        """Creates `username` in the pool (an operator joins the function's operator group); its password."""
        password = f"Demo-{secrets.token_urlsafe(12)}-9a"
        cognito = self.cognito()
        cognito.admin_create_user(UserPoolId=self.pool_id, Username=username, MessageAction="SUPPRESS")
        cognito.admin_set_user_password(
            UserPoolId=self.pool_id, Username=username, Password=password, Permanent=True
        )
        if operator:
            cognito.admin_add_user_to_group(
                UserPoolId=self.pool_id, Username=username, GroupName=self.operator_group
            )
        return password

    def sign_in(self, username: str, operator: bool = False) -> SignedIn:
        """A new user of the pool, signed in through the app client (USER_PASSWORD_AUTH, the CLI's flow):
        the API as that user, with their access token."""
        password = self.add_user(username, operator)
        tokens = sign_in(self.client_id, username, password, self.region, endpoint_url=self.endpoint)
        attributes = self.cognito().admin_get_user(UserPoolId=self.pool_id, Username=username)[
            "UserAttributes"
        ]
        sub = next(a["Value"] for a in attributes if a["Name"] == "sub")
        return SignedIn(username, sub, AlertsApi(self.url, tokens.access_token))


def api_id_of(url: str) -> str:
    """The HTTP API's id from its invoke URL (https://<id>.execute-api.<region>.amazonaws.com)."""
    return (urlparse(url).hostname or "").split(".", 1)[0]


def stage_throttling(apigw: Any, api_url: str) -> tuple[float, int]:
    """The deployed stage's default route throttling (rate, burst); the configuration's defaults when the
    stage does not say."""
    settings = apigw.get_stage(ApiId=api_id_of(api_url), StageName=STAGE_NAME).get("DefaultRouteSettings", {})
    return (
        float(settings.get("ThrottlingRateLimit", DEFAULT_API_RATE)),
        int(settings.get("ThrottlingBurstLimit", DEFAULT_API_BURST)),
    )


def function_environment(
    configuration: Mapping[str, Any],
    endpoint: str | None,
    region: str,
    credentials: Mapping[str, str],
    clock: str,
) -> dict[str, str]:
    """The deployed function's environment and handler, plus the local system's endpoint, credentials and
    clock."""
    env = {**configuration.get("Environment", {}).get("Variables", {}), "_HANDLER": configuration["Handler"]}
    env.update({"AWS_REGION": region, "AWS_DEFAULT_REGION": region, **credentials})
    if endpoint is not None:
        env["AWS_ENDPOINT_URL"] = endpoint
    if clock:
        env[CLOCK_VARIABLE] = clock
    return env


@contextmanager
def deployed_api_system(
    outputs: Mapping[str, str],
    endpoint: str | None,
    bootstrap: Sequence[str],
    clock: str = "",
    *,
    region: str = "us-east-1",
    credentials: Mapping[str, str] | None = None,
    concurrency: int = 2,
    echo: bool = False,
) -> Iterator[DeployedApi]:
    """The deployed stack's API served on 127.0.0.1 until the block ends (see the module doc)."""

    def client(service: str) -> Any:
        return boto3.client(service, region_name=region, endpoint_url=endpoint)

    configuration = client("lambda").get_function_configuration(FunctionName=outputs["api_function_name"])
    env = function_environment(configuration, endpoint, region, credentials or {}, clock)
    rate, burst = stage_throttling(client("apigatewayv2"), outputs["api_url"])
    pool_id = outputs["user_pool_id"]
    authorizer = JwtAuthorizer(
        AuthorizerConfig(
            issuer=outputs["jwt_issuer"],
            audience=tuple(outputs["jwt_audience"].split(",")),
            jwks_url=moto_jwks_url(endpoint, pool_id)
            if endpoint
            else f"{outputs['jwt_issuer']}/.well-known/jwks.json",
        )
    )
    now = Clock(parse_clock_spec(clock)).time  # the time of the events it builds: the function's clock

    def environment() -> RuntimeApiEmulator:
        return RuntimeApiEmulator(list(bootstrap), env=env, echo_output=echo).__enter__()

    with (
        FunctionPool(environment, concurrency) as function,
        ApiFront(load_routes(), authorizer, function, FrontSettings(rate, burst), now=now) as front,
    ):
        yield DeployedApi(
            front.url,
            endpoint,
            region,
            pool_id,
            outputs["user_pool_client_id"],
            env.get(OPERATOR_GROUP_ENV, ""),
        )

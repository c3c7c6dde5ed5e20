"""The local traders' API (issue 16): the one place that starts it on an emulator (moto).

`running_api_system` creates what the stack would (I14): the rules table, the processor's tables, a KMS key
(the cursor MAC's data key is made under it), a Cognito user pool with its app client and the operators'
group; then the API front (local/api_front.py, in this process) before the real `bootstrap` with
`_HANDLER=api` under the local Runtime API, as many execution environments as the stack's reserved
concurrency. The function's environment comes from the stack's own mapping (lib/stack/api_environment.py)
for the default configuration, `settings` overriding it.

The function processes end with SIGTERM, then SIGKILL after a grace period: a coverage build writes its
counters only on a clean exit.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from lib.config import DEFAULT_API_BURST, DEFAULT_API_RATE, OPERATOR_GROUP_ENV, StackConfig
from lib.stack.api import STAGE
from lib.stack.api_environment import api_environment
from lib.stack.api_function import API_HANDLER, API_RESERVED_CONCURRENCY
from local.api_front import ApiFront, CognitoPool, FrontSettings
from local.clock import CLOCK_VARIABLE, Clock, parse_clock_spec
from local.cognito_users import add_client, add_user, cognito_client, user_tokens
from local.emulator import LOCAL_ENV
from local.function_host import function_command
from local.function_pool import FunctionPool
from local.function_resources import FunctionResources, client, resources_on
from local.jwt_authorizer import AuthorizerConfig, JwtAuthorizer, moto_jwks_url
from local.openapi_routes import load_routes
from local.runtime_api import InvocationResult, RuntimeApiEmulator

STOP_GRACE_S = 20.0  # a coverage build's exit writes its counters: give it time before SIGKILL


@dataclass(frozen=True)
class ApiSystem:
    url: str  # the front's base URL, http://127.0.0.1:PORT (no trailing slash)
    endpoint: str  # moto's URL
    pool_id: str
    client_id: str
    rules_table: str
    alerts_table: str
    state_table: str
    operator_group: str = StackConfig().api.operator_group
    # The front itself (its `invocations` count what reached the function) and the processor's resources
    # (to run the processor on the same tables); None only for a system described by hand.
    front: ApiFront | None = field(default=None, compare=False, repr=False)
    resources: FunctionResources | None = field(default=None, compare=False, repr=False)
    # The function's whole environment (to start one more process of it, e.g. for a cold start).
    function_env: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    def sign_in(self, username: str, *, operator: bool = False) -> dict[str, str]:
        """{"access": ..., "id": ...} of `username`, created (in the operators' group with `operator`) on
        first use; an existing user joins the group when `operator` asks for it."""
        cognito = cognito_client(self.endpoint)
        groups = (self.operator_group,) if operator else ()
        try:
            add_user(cognito, self.pool_id, username, groups)
        except cognito.exceptions.UsernameExistsException:
            for group in groups:
                cognito.admin_add_user_to_group(UserPoolId=self.pool_id, Username=username, GroupName=group)
        return user_tokens(cognito, self.pool_id, self.client_id, username)


class GracefulEnvironment:
    """One execution environment of the pool (a Runtime API emulator and its process) whose close ends the
    process with SIGTERM first, SIGKILL only after `grace_s`."""

    def __init__(self, emulator: RuntimeApiEmulator, grace_s: float = STOP_GRACE_S) -> None:
        self.emulator = emulator
        self.grace_s = grace_s

    def invoke(self, payload: bytes, timeout_s: float, trace_id: str | None = None) -> InvocationResult:
        return self.emulator.invoke(payload, timeout_s, trace_id)

    def close(self) -> None:
        process = self.emulator.process
        if process is not None and process.alive():
            os.kill(process.pid, signal.SIGTERM)
            deadline = time.monotonic() + self.grace_s
            while process.alive() and time.monotonic() < deadline:
                time.sleep(0.02)
        self.emulator.close()  # SIGKILL for a process still running


def function_environment(
    endpoint: str,
    resources: FunctionResources,
    key_arn: str,
    *,
    settings: Mapping[str, str] | None = None,
    clock: str | None = None,
) -> dict[str, str]:
    """The API function's whole environment on the emulator: the stack's variables for the default
    configuration, the emulator's credentials and endpoint, the clock, then `settings`."""
    stack = api_environment(
        StackConfig(),
        rules_table=resources.rules_table,
        alerts_table=resources.alerts_table,
        state_table=resources.state_table,
        key_arn=key_arn,
    )
    clock_env = {} if clock is None else {CLOCK_VARIABLE: clock}
    return {
        **LOCAL_ENV,
        "AWS_ENDPOINT_URL": endpoint,
        "_HANDLER": API_HANDLER,
        **stack,
        **clock_env,
        **(settings or {}),
    }


@contextmanager
def served_front(
    bootstrap: Path,
    env: Mapping[str, str],
    authorizer: JwtAuthorizer,
    *,
    stage: FrontSettings,
    concurrency: int,
    clock: str,
    echo: bool,
) -> Iterator[ApiFront]:
    """API Gateway's part (the front: `authorizer`, the routes, the `stage`'s throttling) before up to
    `concurrency` environments of the API function (`bootstrap` with `env`), in `clock` (a TAP_CLOCK spec;
    "" real time), until the block ends."""
    command = function_command(bootstrap)

    def environment() -> GracefulEnvironment:
        return GracefulEnvironment(RuntimeApiEmulator(command, env=env, echo_output=echo).__enter__())

    now = Clock(parse_clock_spec(clock)).time
    with (
        FunctionPool(environment, concurrency) as function,
        ApiFront(load_routes(), authorizer, function, stage, now=now) as front,
    ):
        yield front


@contextmanager
def running_api_system(
    endpoint: str,
    bootstrap: Path,
    *,
    settings: Mapping[str, str] | None = None,
    clock: str | None = None,
    rate: float = DEFAULT_API_RATE,
    burst: int = DEFAULT_API_BURST,
    concurrency: int = API_RESERVED_CONCURRENCY,
    echo: bool = False,
) -> Iterator[ApiSystem]:
    """The traders' API on the emulator at `endpoint`, serving until the block ends (the stage's throttling
    `rate`/`burst`; `clock` the TAP_CLOCK spec of the function and the front's event times)."""
    suffix = uuid.uuid4().hex[:8]
    resources = resources_on(endpoint, suffix)
    key_arn = str(client("kms", endpoint).create_key()["KeyMetadata"]["Arn"])
    env = function_environment(endpoint, resources, key_arn, settings=settings, clock=clock)
    operator_group = env["OPERATOR_GROUP"]
    cognito = cognito_client(endpoint)
    pool_id = str(cognito.create_user_pool(PoolName=f"traders-{suffix}")["UserPool"]["Id"])
    client_id = add_client(cognito, pool_id, f"traders-app-{suffix}")
    cognito.create_group(UserPoolId=pool_id, GroupName=operator_group)
    authorizer = JwtAuthorizer(CognitoPool(endpoint, pool_id, (client_id,)).authorizer_config())
    stage = FrontSettings(rate, burst)
    with served_front(
        bootstrap, env, authorizer, stage=stage, concurrency=concurrency, clock=clock or "", echo=echo
    ) as front:
        yield ApiSystem(
            url=front.url,
            endpoint=endpoint,
            pool_id=pool_id,
            client_id=client_id,
            rules_table=resources.rules_table,
            alerts_table=resources.alerts_table,
            state_table=resources.state_table,
            operator_group=operator_group,
            front=front,
            resources=resources,
            function_env=env,
        )


# -- the deployed stack's API, served locally (make demo) ---------------------------------------------------
def api_id_of(url: str) -> str:
    """The HTTP API's id from its invoke URL (https://<id>.execute-api.<region>.amazonaws.com)."""
    return (urlparse(url).hostname or "").split(".", 1)[0]


def stage_throttling(apigw: Any, api_url: str) -> tuple[float, int]:
    """The deployed stage's default route throttling (rate, burst); the configuration's defaults when the
    stage does not say."""
    stage = apigw.get_stage(ApiId=api_id_of(api_url), StageName=STAGE)
    settings = stage.get("DefaultRouteSettings", {})
    return (
        float(settings.get("ThrottlingRateLimit", DEFAULT_API_RATE)),
        int(settings.get("ThrottlingBurstLimit", DEFAULT_API_BURST)),
    )


def deployed_function_environment(
    configuration: Mapping[str, Any], endpoint: str, clock: str
) -> dict[str, str]:
    """The deployed function's environment and handler as Lambda answers them (the stack set both: no name
    is spelled here), plus the emulator's credentials and endpoint and the clock."""
    variables = configuration.get("Environment", {}).get("Variables", {})
    clock_env = {CLOCK_VARIABLE: clock} if clock else {}
    return {
        **LOCAL_ENV,
        "AWS_ENDPOINT_URL": endpoint,
        **variables,
        "_HANDLER": configuration["Handler"],
        **clock_env,
    }


@contextmanager
def deployed_api_system(
    outputs: Mapping[str, str],
    endpoint: str,
    bootstrap: Path,
    clock: str = "",
    *,
    concurrency: int = 2,
    echo: bool = False,
) -> Iterator[ApiSystem]:
    """The API of a stack deployed to the emulator at `endpoint` (its terraform `outputs`), served until the
    block ends: the front with the stage's throttling, the JWT authorizer on the stack's issuer and audience,
    before the real `bootstrap` with the deployed function's environment read back from Lambda, on the
    stack's pool, app client and tables; `clock` the TAP_CLOCK spec of the function and the front."""
    configuration = client("lambda", endpoint).get_function_configuration(
        FunctionName=outputs["api_function_name"]
    )
    env = deployed_function_environment(configuration, endpoint, clock)
    rate, burst = stage_throttling(client("apigatewayv2", endpoint), outputs["api_url"])
    pool_id = outputs["user_pool_id"]
    authorizer = JwtAuthorizer(
        AuthorizerConfig(
            issuer=outputs["jwt_issuer"],
            audience=tuple(outputs["jwt_audience"].split(",")),
            jwks_url=moto_jwks_url(endpoint, pool_id),
        )
    )
    stage = FrontSettings(rate, burst)
    with served_front(
        bootstrap, env, authorizer, stage=stage, concurrency=concurrency, clock=clock, echo=echo
    ) as front:
        yield ApiSystem(
            url=front.url,
            endpoint=endpoint,
            pool_id=pool_id,
            client_id=outputs["user_pool_client_id"],
            rules_table=outputs["rules_table_name"],
            alerts_table=outputs["table_name"],
            state_table=outputs["state_table_name"],
            operator_group=env[OPERATOR_GROUP_ENV],
            front=front,
            function_env=env,
        )

"""The local API front: what API Gateway's HTTP API does for the traders' API (A1, A3), no more, on
127.0.0.1 -- stage throttling, the payload limit, route selection from docs/openapi.yaml, the JWT authorizer,
the payload 2.0 event, the Lambda proxy integration through the local Runtime API, and API Gateway's own
error shapes (`{"message": ...}`).

A request goes through, in this order:
1. a body over 10 MB: 413 `Request Entity Too Large`;
2. the stage's token bucket (rate, burst) is empty: 429 `Too Many Requests`;
3. no route of the method fits the path (local/openapi_routes.py): 404 `Not Found`;
4. the JWT authorizer refuses the token (local/jwt_authorizer.py): 401 `Unauthorized`;
5. the function is invoked with the event (local/http_api_payload.py); its answer is the response. A
   function error or an unreadable answer is 500 `Internal Server Error`; no answer within the
   integration timeout is 503 `Service Unavailable`.
The function is reached only at step 5. Every response carries `apigw-requestid`, as API Gateway's do.

The integration is a port (`Integration`): any runner of local/function_host.py (the Runtime API
emulator, the RIE) fits it, and so does a pool of them (local/function_pool.py: Lambda's concurrency).
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Protocol

from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request as WsgiRequest
from werkzeug.wrappers import Response as WsgiResponse

from lib.openapi import Route
from local.emulator import HOST
from local.function_pool import FunctionPool
from local.http_api_payload import (
    INTEGRATION_ERROR,
    INTEGRATION_TIMEOUT,
    NOT_FOUND,
    THROTTLED,
    TOO_LARGE,
    UNAUTHORIZED,
    Request,
    Response,
    Stage,
    gateway_response,
    new_request_id,
    request_event,
)
from local.jwt_authorizer import (
    AuthorizerConfig,
    JwtAuthorizer,
    UnauthorizedError,
    cognito_issuer,
    moto_jwks_url,
)
from local.openapi_routes import load_routes, select
from local.runtime_api import InvocationResult, RuntimeApiEmulator
from local.token_bucket import TokenBucket

MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit for HTTP APIs
INTEGRATION_TIMEOUT_S = 30.0  # HTTP API's maximum (and default) integration timeout
FUNCTION_TIMEOUT_S = 30.0
log = logging.getLogger("api_front")


class Integration(Protocol):
    """What runs the function: one invocation with the function's timeout."""

    def invoke(self, payload: bytes, timeout_s: float, trace_id: str | None = None) -> InvocationResult: ...


@dataclass(frozen=True)
class FrontSettings:
    """The stage's throttling (the stack's settings) and the integration's limits."""

    rate: float
    burst: int
    function_timeout_s: float = FUNCTION_TIMEOUT_S
    integration_timeout_s: float = INTEGRATION_TIMEOUT_S
    max_body_bytes: int = MAX_BODY_BYTES
    stage: Stage = field(default_factory=Stage)


class ApiFront:
    """The pipeline (`handle`) and the HTTP server around it (`start`/`stop`, or `with`)."""

    def __init__(
        self,
        routes: Sequence[Route],
        authorizer: JwtAuthorizer,
        integration: Integration,
        settings: FrontSettings,
        *,
        now: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.routes = tuple(routes)
        self.authorizer = authorizer
        self.integration = integration
        self.settings = settings
        self.now = now
        self.bucket = TokenBucket(settings.rate, settings.burst, monotonic)
        self.invocations = 0
        # One thread per request in flight (the integration decides how many run at once).
        self._executor = ThreadPoolExecutor(max_workers=64, thread_name_prefix="api-front-invoke")
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    # -- the pipeline ------------------------------------------------------------------------------------
    def handle(self, request: Request, request_id: str | None = None) -> Response:
        request_id = request_id or new_request_id()
        return _identified(self._answer(request, request_id), request_id)

    def _answer(self, request: Request, request_id: str) -> Response:
        if len(request.body) > self.settings.max_body_bytes:
            return TOO_LARGE
        if not self.bucket.take():
            return THROTTLED
        match = select(self.routes, request.method, request.path)
        if match is None:
            return NOT_FOUND
        authorization = _header(request.headers, "authorization")
        try:
            claims = self.authorizer.authorize(authorization)
        except UnauthorizedError as refused:
            log.info("%s %s: 401 (%s)", request.method, request.path, refused.reason)
            return UNAUTHORIZED
        event = request_event(
            request,
            match.route.key,
            match.path_parameters,
            claims,
            stage=self.settings.stage,
            request_id=request_id,
            now=self.now(),
        )
        trace_id = event["headers"]["x-amzn-trace-id"]  # Lambda gets the request's trace
        return self._invoke(json.dumps(event).encode(), trace_id)

    def _invoke(self, payload: bytes, trace_id: str) -> Response:
        self.invocations += 1
        timeout_s = self.settings.function_timeout_s
        future = self._executor.submit(self.integration.invoke, payload, timeout_s, trace_id)
        try:
            result = future.result(timeout=self.settings.integration_timeout_s)
        except FutureTimeout:
            return INTEGRATION_TIMEOUT
        if result.status != "ok":
            log.info("integration %s (%s): 500", result.status, result.error_type)
            return INTEGRATION_ERROR
        return gateway_response(result.payload)

    # -- HTTP --------------------------------------------------------------------------------------------
    def wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        wsgi_request = WsgiRequest(environ)
        wsgi_request.max_content_length = self.settings.max_body_bytes
        try:
            body = wsgi_request.get_data(cache=False)
        except RequestEntityTooLarge:  # step 1, before the body is read
            response = _identified(TOO_LARGE, new_request_id())
            return _Response(response.body, response.status, response.headers)(environ, start_response)
        request = Request(
            method=wsgi_request.method,
            path=wsgi_request.path,
            raw_query=environ.get("QUERY_STRING", ""),
            headers=list(wsgi_request.headers.items()),
            body=body,
            source_ip=wsgi_request.remote_addr or "",
            protocol=environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
            scheme=environ.get("wsgi.url_scheme", "http"),
            port=int(environ.get("SERVER_PORT", "0")),
        )
        response = self.handle(request)
        return _Response(response.body, response.status, response.headers)(environ, start_response)

    @property
    def url(self) -> str:
        assert self._server is not None, "not started"
        return f"http://{HOST}:{self._server.server_port}"

    def start(self, port: int = 0) -> str:
        self._server = make_server(HOST, port, self.wsgi, threaded=True, request_handler=_QuietHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            assert self._thread is not None
            self._thread.join()
            self._server = None
        self._executor.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> ApiFront:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _identified(response: Response, request_id: str) -> Response:
    return Response(response.status, [*response.headers, ("apigw-requestid", request_id)], response.body)


class _Response(WsgiResponse):
    default_mimetype = None  # no Content-Type unless the function (or API Gateway's error) sets one


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """API Gateway's access log is the stage's; here the denials go to the module's logger."""


def _header(headers: Sequence[tuple[str, str]], name: str) -> str | None:
    return next((value for key, value in headers if key.lower() == name), None)


@dataclass(frozen=True)
class CognitoPool:
    """The issuer: a user pool on moto and the app clients whose tokens pass."""

    moto_url: str
    pool_id: str
    client_ids: tuple[str, ...]
    region: str = "us-east-1"

    def authorizer_config(self) -> AuthorizerConfig:
        return AuthorizerConfig(
            issuer=cognito_issuer(self.region, self.pool_id),
            audience=self.client_ids,
            jwks_url=moto_jwks_url(self.moto_url, self.pool_id),
        )


@contextmanager
def running_api_front(
    command: Sequence[str],
    env: Mapping[str, str],
    pool: CognitoPool,
    settings: FrontSettings,
    *,
    concurrency: int,
    echo: bool = True,
    port: int = 0,
) -> Iterator[ApiFront]:
    """The front serving on `port` (0: a free one), in front of `command` under the local Runtime API (up to
    `concurrency` execution environments with `env`), until the block ends: what `main` starts."""

    def environment() -> RuntimeApiEmulator:
        return RuntimeApiEmulator(command, env=env, echo_output=echo).__enter__()

    authorizer = JwtAuthorizer(pool.authorizer_config())
    with FunctionPool(environment, concurrency) as function:
        front = ApiFront(load_routes(), authorizer, function, settings)
        front.start(port)
        try:
            yield front
        finally:
            front.stop()


def main(argv: Sequence[str] | None = None, stop: threading.Event | None = None) -> int:
    """Serves the API on 127.0.0.1 in front of a function run under the local Runtime API, with a Cognito
    pool's tokens (moto's), until SIGINT/SIGTERM. Prints the URL."""
    parser = argparse.ArgumentParser(
        prog="python -m local.api_front",
        description=main.__doc__,
        epilog="example: python -m local.api_front --moto-url http://127.0.0.1:5000 --pool-id us-east-1_X "
        "--client-id abc --rate 50 --burst 100 -- build/cpp/src/bootstrap",
    )
    parser.add_argument("--moto-url", required=True, help="the emulator, which serves the pool's JWKS")
    parser.add_argument("--pool-id", required=True, help="the Cognito user pool whose tokens pass")
    parser.add_argument(
        "--client-id", action="append", required=True, help="an accepted app client (repeatable)"
    )
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--rate", type=float, required=True, help="stage throttling: requests per second")
    parser.add_argument("--burst", type=int, required=True, help="stage throttling: burst")
    parser.add_argument("--port", type=int, default=0, help="default: a free port")
    parser.add_argument("--function-timeout", type=float, default=FUNCTION_TIMEOUT_S)
    parser.add_argument(
        "--concurrency", type=int, default=10, help="execution environments at most (default 10)"
    )
    parser.add_argument(
        "--env", action="append", default=[], metavar="NAME=VALUE", help="the function's environment"
    )
    parser.add_argument("command", nargs="+", help="the function process, e.g. build/cpp/src/bootstrap")
    args = parser.parse_args(argv)
    env = dict(item.split("=", 1) for item in args.env)
    pool = CognitoPool(args.moto_url, args.pool_id, tuple(args.client_id), args.region)
    settings = FrontSettings(args.rate, args.burst, function_timeout_s=args.function_timeout)
    stopped = stop or threading.Event()
    previous = {s: signal.signal(s, lambda *_: stopped.set()) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        with running_api_front(
            args.command, env, pool, settings, concurrency=args.concurrency, port=args.port
        ) as front:
            print(front.url, flush=True)
            stopped.wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="api_front: %(message)s")
    sys.exit(main())

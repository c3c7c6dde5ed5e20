"""moto server with DynamoDB's atomicity: one request at a time for the DynamoDB API.

DynamoDB applies a conditional write (UpdateItem/PutItem with a condition, TransactWriteItems) atomically.
moto checks the condition and then writes in separate Python steps, and its server is threaded, so two
concurrent compare-and-swap writes on one item can both succeed there: at concurrency 5 the local system
then stored two crossings inside one cooldown, or notified an alert whose item a racing transaction
replaced. Serialising the DynamoDB requests restores the semantics the function relies on (F3/F4);
every other service stays concurrent (SQS long polls must not block each other).

    python -m local.moto_atomic -H 127.0.0.1 -p 5000 [--cert CERT --key KEY]   (what local/emulator.py starts)
"""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def serialise_dynamodb(app: WsgiApp, lock: threading.Lock | None = None) -> WsgiApp:
    """`app` with every DynamoDB request (X-Amz-Target DynamoDB_20120810.*) run under one lock, its
    response body produced inside it."""
    guard = lock or threading.Lock()

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB"):
            with guard:
                return list(app(environ, start_response))
        return app(environ, start_response)

    return wrapped


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.moto_atomic", description=__doc__.split("\n\n")[0])
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=5000)
    parser.add_argument("--cert", help="serve HTTPS with this certificate (PEM) ...")
    parser.add_argument("--key", help="... and its private key")
    args = parser.parse_args(argv)
    app = serialise_dynamodb(DomainDispatcherApplication(create_backend_app))
    tls = (args.cert, args.key) if args.cert else None
    run_simple(args.host, args.port, app, threaded=True, ssl_context=tls)
    return 0


if __name__ == "__main__":
    sys.exit(main())

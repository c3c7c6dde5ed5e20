"""moto server with DynamoDB's atomicity: one request at a time for the DynamoDB API.

DynamoDB applies a conditional write (UpdateItem/PutItem with a condition, TransactWriteItems) atomically.
moto checks the condition and then writes in separate Python steps, and its server is threaded, so two
concurrent compare-and-swap writes on one item can both succeed there: at concurrency 5 the local system
then stored two crossings inside one cooldown, or notified an alert whose item a racing transaction
replaced. Serialising the DynamoDB requests restores the semantics the function relies on (F3/F4);
every other service stays concurrent (SQS long polls must not block each other).

moto makes a TransactWriteItems undoable by deep-copying every table it names, whole: a transaction costs
time in the table's size, and filling a table through the change protocol (one transaction per change)
costs time in the square of its size (1,000 rules of one owner: minutes). Under the lock above, nothing
else changes a table while a transaction runs, so copying only the items it names (and putting them back,
or removing the ones it created, when it fails) undoes it just as well (`undo_by_item`).

    python -m local.moto_atomic -H 127.0.0.1 -p 5000 [--cert CERT --key KEY]   (what local/emulator.py starts)
"""

from __future__ import annotations

import argparse
import copy
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from types import SimpleNamespace
from typing import Any

from moto.dynamodb import models as dynamodb_models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table
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


Saved = tuple[Table, DynamoType, DynamoType | None, Any]  # table, hash, range, the item's copy or None


def saved_items(backend: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> list[Saved]:
    """A copy of each item the transaction names (None: absent), where its key can be read."""
    saved: list[Saved] = []
    for entry in transact_items:
        op: Any = next(iter(entry.values()), {})
        table = backend.tables.get(op.get("TableName", ""))
        if table is None:
            continue
        attrs: Any = op.get("Item") if "Item" in op else op.get("Key")
        try:
            hash_key = DynamoType(attrs[table.hash_key_attr])
            range_key = DynamoType(attrs[table.range_key_attr]) if table.range_key_attr else None
        except (KeyError, TypeError):
            continue  # moto refuses the transaction before it writes that item
        saved.append((table, hash_key, range_key, copy.deepcopy(table.get_item(hash_key, range_key))))
    return saved


def restore(saved: list[Saved]) -> None:
    """Each saved item back as it was (absent ones removed), the first saved last."""
    for table, hash_key, range_key, item in reversed(saved):
        if range_key is None:
            if item is None:
                table.items.pop(hash_key, None)
            else:
                table.items[hash_key] = item
        elif item is None:
            table.items.get(hash_key, {}).pop(range_key, None)
        else:
            table.items[hash_key][range_key] = item


def undo_by_item() -> None:
    """moto's TransactWriteItems undone by item instead of by whole-table copies (the docstring above)."""
    original = DynamoDBBackend.transact_write_items
    if getattr(original, "undoes_by_item", False):
        return

    def deepcopy(value: Any, memo: Any = None) -> Any:
        # moto's whole-table backup becomes the table itself (its rollback then a no-op: restore undoes)
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)

    dynamodb_models.copy = SimpleNamespace(deepcopy=deepcopy)  # type: ignore[assignment]

    def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        saved = saved_items(self, transact_items)
        try:
            original(self, transact_items)
        except Exception:
            restore(saved)
            raise

    transact_write_items.undoes_by_item = True  # type: ignore[attr-defined]
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.moto_atomic", description=__doc__.split("\n\n")[0])
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=5000)
    parser.add_argument("--cert", help="serve HTTPS with this certificate (PEM) ...")
    parser.add_argument("--key", help="... and its private key")
    args = parser.parse_args(argv)
    undo_by_item()
    app = serialise_dynamodb(DomainDispatcherApplication(create_backend_app))
    tls = (args.cert, args.key) if args.cert else None
    run_simple(args.host, args.port, app, threaded=True, ssl_context=tls)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The traders' and operators' command line over the alert API (A2): sign in, then manage rules and read
fired alerts. Run `python -m ops.alerts_cli --help`; every command has its own `--help`.

Configuration (flags win over the environment):
  ALERTS_API_URL    the API's URL (the local front prints its own)
  ALERTS_TOKEN      an access token to use as is (else the token file's, written by `sign-in`)
  ALERTS_TOKEN_FILE where `sign-in` keeps the tokens (default ~/.config/trading-alerts/tokens.json, 0600)
  ALERTS_CLIENT_ID  the Cognito app client `sign-in` uses; AWS_REGION its region (default us-east-1)
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from botocore.exceptions import BotoCoreError, ClientError

from ops.alerts_api import AlertsApi, ApiReply, describe_failure, path_of
from ops.cognito_sign_in import DEFAULT_TOKEN_FILE, load_tokens, save_tokens, sign_in

EXIT_OK, EXIT_REFUSED, EXIT_USAGE, EXIT_NOT_SIGNED_IN, EXIT_UNAVAILABLE = 0, 1, 2, 3, 4
EXIT_CODES = f"""exit codes:
  {EXIT_OK}  done
  {EXIT_REFUSED}  the API refused the request (4xx: invalid input, not found, conflict, stale If-Match, ...)
  {EXIT_USAGE}  wrong command line
  {EXIT_NOT_SIGNED_IN}  no token (sign in, or set ALERTS_TOKEN) or no API URL; sign-in refused
  {EXIT_UNAVAILABLE}  the API did not answer, or failed (5xx; 503 may carry Retry-After)
"""
RULE_COLUMNS = ("id", "name", "symbol", "condition", "threshold", "severity", "mode", "state", "revision")
# The fields of a rule definition (docs/openapi.yaml, RuleDefinition) as flags: (flag, field, type, help).
# The API validates them (A3): the help names the common values, the API's answer names a wrong one.
RULE_FIELDS: tuple[tuple[str, str, Callable[[str], Any], str], ...] = (
    ("--name", "name", str, "your name for the rule (letters, digits, . _ -)"),
    ("--symbol", "symbol", str, "e.g. AAPL; * for every symbol"),
    ("--condition", "condition", str, "price_above, price_below, crosses_above, crosses_below, ..."),
    ("--threshold", "threshold", float, "the price (or spread, volume) the condition compares with"),
    ("--severity", "severity", str, "info, warning or critical"),
    ("--mode", "mode", str, "once (default), every (with --cooldown-seconds) or once_per_bar"),
    ("--cooldown-seconds", "cooldown_seconds", int, "mode every: the least time between two alerts"),
    ("--bar-seconds", "bar_seconds", int, "mode once_per_bar: the bar, e.g. 60 or 3600"),
    ("--expires-at", "expires_at", str, "RFC 3339 time after which the rule stops"),
    ("--description", "description", str, "free text"),
    ("--message-template", "message_template", str, "the notification's text"),
)


class CliError(Exception):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Context:
    args: argparse.Namespace
    out: TextIO
    err: TextIO
    env: dict[str, str]

    def api(self) -> AlertsApi:
        url = self.args.api_url or self.env.get("ALERTS_API_URL")
        if not url:
            raise CliError("no API URL: pass --api-url or set ALERTS_API_URL", EXIT_NOT_SIGNED_IN)
        return AlertsApi(url, self.token())

    def token(self) -> str:
        if self.env.get("ALERTS_TOKEN"):
            return self.env["ALERTS_TOKEN"]
        try:
            return load_tokens(self.token_file()).access_token
        except (OSError, ValueError) as error:
            raise CliError(
                f"not signed in ({error}): run `sign-in`, or set ALERTS_TOKEN", EXIT_NOT_SIGNED_IN
            ) from error

    def token_file(self) -> Path:
        configured = self.args.token_file or self.env.get("ALERTS_TOKEN_FILE")
        return Path(configured) if configured else DEFAULT_TOKEN_FILE.expanduser()


# -- output -----------------------------------------------------------------------------------------------
def table(rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> str:
    """Rows as aligned text columns (`columns`, else every key in order of appearance)."""
    if not rows:
        return "(none)"
    names = list(columns or dict.fromkeys(key for row in rows for key in row))
    cells = [[_cell(row.get(name)) for name in names] for row in rows]
    widths = [max(len(name), *(len(line[i]) for line in cells)) for i, name in enumerate(names)]
    lines = [names, *cells]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines
    )


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    return value if isinstance(value, str) else json.dumps(value)


def _show(ctx: Context, document: Any) -> None:
    """A reply's document: as JSON with --json, else as a table or as key: value lines."""
    if ctx.args.json:
        print(json.dumps(document, indent=2), file=ctx.out)
        return
    if isinstance(document, dict) and isinstance(document.get("rule"), dict):  # a committed change
        print(f"revision {document.get('revision')}, effective from {document.get('effective_from')}",
              file=ctx.out)  # fmt: skip
        print(table([document["rule"]], RULE_COLUMNS), file=ctx.out)
        return
    lists = [key for key, value in (document or {}).items() if isinstance(value, list)]
    if isinstance(document, dict) and lists:
        key = lists[0]
        print(table(document[key], RULE_COLUMNS if key == "rules" else None), file=ctx.out)
        if document.get("next_cursor"):
            print(f"more: --cursor {document['next_cursor']}", file=ctx.out)
        return
    if isinstance(document, dict):
        for key, value in document.items():
            print(f"{key}: {_cell(value)}", file=ctx.out)
        return
    print("done" if document is None else _cell(document), file=ctx.out)  # None: no content


def _checked(ctx: Context, reply: ApiReply) -> ApiReply:
    if not reply.ok:
        code = EXIT_UNAVAILABLE if reply.status >= 500 else EXIT_REFUSED
        code = EXIT_NOT_SIGNED_IN if reply.status == 401 else code
        raise CliError("\n".join(describe_failure(reply)), code)
    return reply


def _call(ctx: Context, method: str, path: str, **kwargs: Any) -> ApiReply:
    try:
        return _checked(ctx, ctx.api().call(method, path, **kwargs))
    except OSError as error:
        raise CliError(f"the API did not answer: {error}", EXIT_UNAVAILABLE) from error


# -- commands ---------------------------------------------------------------------------------------------
def _definition(args: argparse.Namespace) -> dict[str, Any]:
    """The rule fields given: a JSON file's (`--file`, `-` for stdin), overridden by flags."""
    fields: dict[str, Any] = {}
    if args.file:
        text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text()
        loaded = json.loads(text)
        if not isinstance(loaded, dict):
            raise CliError(f"{args.file}: a rule is a JSON object", EXIT_USAGE)
        fields.update(loaded)
    for _flag, field, _type, _help in RULE_FIELDS:
        if getattr(args, field) is not None:
            fields[field] = getattr(args, field)
    return fields


def _idempotency(args: argparse.Namespace) -> dict[str, str]:
    return {"Idempotency-Key": args.idempotency_key} if args.idempotency_key else {}


def cmd_sign_in(ctx: Context) -> int:
    args = ctx.args
    client_id = args.client_id or ctx.env.get("ALERTS_CLIENT_ID")
    if not client_id:
        raise CliError("no app client: pass --client-id or set ALERTS_CLIENT_ID", EXIT_USAGE)
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else getpass.getpass()
    region = ctx.env.get("AWS_REGION", "us-east-1")
    try:
        tokens = sign_in(client_id, args.username, password, region)
    except (ClientError, BotoCoreError) as error:
        raise CliError(f"sign-in refused: {error}", EXIT_NOT_SIGNED_IN) from error
    save_tokens(ctx.token_file(), tokens)
    print(f"signed in as {args.username}; tokens in {ctx.token_file()} (mode 0600)", file=ctx.out)
    return EXIT_OK


def cmd_create(ctx: Context) -> int:
    body = _definition(ctx.args)
    _show(ctx, _call(ctx, "POST", "/rules", body=body, headers=_idempotency(ctx.args)).document)
    return EXIT_OK


def _paged(ctx: Context, path: str, query: dict[str, str | None]) -> int:
    """One page, or with --all every page (following next_cursor) as one list."""
    query = {**query, "cursor": ctx.args.cursor}
    document = _call(ctx, "GET", path, query=query).document
    if ctx.args.all:
        key = next(k for k, v in document.items() if isinstance(v, list))
        items = list(document[key])
        while document.get("next_cursor"):
            document = _call(ctx, "GET", path, query={**query, "cursor": document["next_cursor"]}).document
            items += document[key]
        document = {key: items}
    _show(ctx, document)
    return EXIT_OK


def cmd_list(ctx: Context) -> int:
    args = ctx.args
    return _paged(ctx, "/rules", {"symbol": args.symbol, "state": args.state, "owner": args.owner})


def cmd_fired(ctx: Context) -> int:
    args = ctx.args
    path = path_of("rules", args.rule, "alerts") if args.rule else "/alerts"
    return _paged(ctx, path, {"owner": args.owner})


def cmd_get(ctx: Context) -> int:
    reply = _call(ctx, "GET", path_of("rules", ctx.args.rule_id), query={"owner": ctx.args.owner})
    _show(ctx, reply.document)
    return EXIT_OK


def cmd_versions(ctx: Context) -> int:
    path = path_of("rules", ctx.args.rule_id, "versions")
    _show(ctx, _call(ctx, "GET", path, query={"owner": ctx.args.owner}).document)
    return EXIT_OK


def cmd_change(ctx: Context) -> int:
    """pause, resume, rearm: a POST to the rule's action."""
    path = path_of("rules", ctx.args.rule_id, ctx.args.command)
    _show(ctx, _call(ctx, "POST", path, headers=_idempotency(ctx.args)).document)
    return EXIT_OK


def cmd_delete(ctx: Context) -> int:
    _show(ctx, _call(ctx, "DELETE", path_of("rules", ctx.args.rule_id)).document)
    return EXIT_OK


def cmd_edit(ctx: Context) -> int:
    """PATCH with If-Match: the revision given, else the ETag of a GET just before (a change in between is
    refused with 412, never overwritten)."""
    path = path_of("rules", ctx.args.rule_id)
    if_match = ctx.args.if_match or _call(ctx, "GET", path).headers.get("etag")
    if not if_match:
        raise CliError("the rule has no ETag: pass --if-match REVISION", EXIT_USAGE)
    patch = _definition(ctx.args)
    _show(ctx, _call(ctx, "PATCH", path, body=patch, headers={"If-Match": if_match}).document)
    return EXIT_OK


def cmd_import(ctx: Context) -> int:
    document = json.loads(Path(ctx.args.document).read_text())
    reply = _call(ctx, "POST", "/rules/import", body=document, headers=_idempotency(ctx.args))
    _show(ctx, reply.document)
    return EXIT_OK


SYMBOL_ROUTES = {  # command: (method, the leaf of /symbols/{symbol}/...)
    "controls": ("GET", "controls"),
    "suspend": ("PUT", "suspension"),
    "resume-symbol": ("DELETE", "suspension"),
    "band": ("PUT", "band"),
    "clear-band": ("DELETE", "band"),
}


def cmd_symbol(ctx: Context) -> int:
    """The operators' symbol controls."""
    args = ctx.args
    body: dict[str, Any] | None = None
    if args.command == "suspend":
        body = {name: value for name, value in (("from", args.start), ("until", args.until)) if value}
    elif args.command == "band":
        body = {"low": args.low, "high": args.high}
    method, leaf = SYMBOL_ROUTES[args.command]
    _show(ctx, _call(ctx, method, path_of("symbols", args.symbol, leaf), body=body).document)
    return EXIT_OK


# -- the command line -------------------------------------------------------------------------------------
def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="python -m ops.alerts_cli",
        description="Manage your price alerts through the alert API. Sign in once (`sign-in`), then "
        "create, list, pause, edit ... rules and see what fired. Operators also suspend symbols and set "
        "price bands.",
        epilog=EXIT_CODES + "\n" + __doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    top.add_argument("--api-url", help="the API's URL (default: $ALERTS_API_URL)")
    top.add_argument("--token-file", help="where the tokens are kept (default: $ALERTS_TOKEN_FILE)")
    top.add_argument("--json", action="store_true", help="print the API's JSON instead of tables")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, run: Callable[[Context], int], text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=text, description=text)
        sub.set_defaults(run=run)
        return sub

    sign = command("sign-in", cmd_sign_in, "Sign in to the Cognito pool and keep the tokens (0600).")
    sign.add_argument("--username", required=True)
    sign.add_argument("--client-id", help="the app client (default: $ALERTS_CLIENT_ID)")
    sign.add_argument("--password-stdin", action="store_true", help="read the password from stdin")

    def rule_fields(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--file", help="the fields as a JSON object (`-`: stdin); flags override them")
        for flag, field, kind, text in RULE_FIELDS:
            sub.add_argument(flag, dest=field, type=kind, help=text)

    create = command("create", cmd_create, "Create a rule, e.g. --name aapl-200 --symbol AAPL "
                     "--condition crosses_above --threshold 200 --severity critical.")  # fmt: skip
    rule_fields(create)
    create.add_argument("--idempotency-key", help="retrying with the same key creates the rule once")

    listing = command("list", cmd_list, "List your rules (a page; --all for every page).")
    listing.add_argument("--symbol")
    listing.add_argument("--state", choices=("active", "paused", "triggered", "expired", "deleted"))
    fired = command("fired", cmd_fired, "List your fired alerts by store time (or one rule's: --rule).")
    fired.add_argument("--rule", help="only this rule's alerts")
    for paged in (listing, fired):
        paged.add_argument("--owner", help="operators: another owner's")
        paged.add_argument("--cursor", help="the page after the one that printed this cursor")
        paged.add_argument("--all", action="store_true", help="follow the cursors to the last page")

    for name, run, text in (
        ("get", cmd_get, "Show one rule."),
        ("versions", cmd_versions, "Show a rule's versions with their effective windows."),
    ):
        sub = command(name, run, text)
        sub.add_argument("rule_id")
        sub.add_argument("--owner", help="operators: another owner's")
    for name, text in (
        ("pause", "Pause a rule."),
        ("resume", "Resume a paused rule."),
        ("rearm", "Re-arm a triggered `once` rule."),
    ):
        sub = command(name, cmd_change, text)
        sub.add_argument("rule_id")
        sub.add_argument("--idempotency-key")
    command("delete", cmd_delete, "Delete a rule.").add_argument("rule_id")
    edit = command("edit", cmd_edit, "Change some fields of a rule (If-Match: the revision just read).")
    edit.add_argument("rule_id")
    edit.add_argument("--if-match", help="the revision you read (default: read it now)")
    rule_fields(edit)
    imported = command(
        "import", cmd_import, "Import a rules document (the format of config/alert-rules.json)."
    )
    imported.add_argument("document", help="the document's file")
    imported.add_argument("--idempotency-key")

    for name, text in (
        ("controls", "Operators: a symbol's suspensions and price bands."),
        (
            "suspend",
            "Operators: suspend a symbol's alerting (from now, or --from; until --until or resumed).",
        ),
        ("resume-symbol", "Operators: end a symbol's open suspension."),
        ("band", "Operators: set a symbol's price band (--low, --high)."),
        ("clear-band", "Operators: clear a symbol's price band."),
    ):
        sub = command(name, cmd_symbol, text)
        sub.add_argument("symbol")
        if name == "suspend":
            sub.add_argument("--from", dest="start", help="start (RFC 3339; default: now)")
            sub.add_argument("--until", help="end (RFC 3339; default: until resumed)")
        if name == "band":
            sub.add_argument("--low", type=float, required=True)
            sub.add_argument("--high", type=float, required=True)
    return top


def main(
    argv: Sequence[str] | None = None,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
    env: dict[str, str] | None = None,
) -> int:
    args = parser().parse_args(argv)
    ctx = Context(args, out, err, dict(os.environ if env is None else env))
    try:
        return int(args.run(ctx))
    except CliError as error:
        print(str(error), file=err)
        return error.code


if __name__ == "__main__":
    sys.exit(main())

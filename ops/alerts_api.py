"""The traders' alert API over HTTP, for the CLI (ops/alerts_cli.py): one call is one request with the
bearer token, answered as an `ApiReply` whatever its status; and what a failed reply says, in words.

Two error shapes reach a client (A3): the function's RFC 9457 problem documents
(`application/problem+json`: type, title, status, detail, errors[field, message]) and API Gateway's own
`{"message": ...}` (401, 413, 429, 5xx of the integration).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

TIMEOUT_S = 30.0


@dataclass(frozen=True)
class ApiReply:
    status: int
    headers: dict[str, str]  # names lower-cased
    document: Any  # the body as JSON (None when it is not JSON)
    text: str

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def path_of(*segments: str) -> str:
    """`/rules/{id}/pause` from its segments, each percent-encoded (an id never adds a segment)."""
    return "".join("/" + urllib.parse.quote(segment, safe="") for segment in segments)


class AlertsApi:
    def __init__(self, base_url: str, token: str, timeout_s: float = TIMEOUT_S) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout_s = timeout_s

    def call(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str | None] | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> ApiReply:
        """One request; an HTTP error status is a reply too. Raises OSError when no reply comes."""
        present = {name: value for name, value in (query or {}).items() if value is not None}
        url = self.base_url + path + (f"?{urllib.parse.urlencode(present)}" if present else "")
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Authorization", f"Bearer {self.token}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                return _reply(response.status, response.headers.items(), response.read())
        except urllib.error.HTTPError as error:
            return _reply(error.code, error.headers.items(), error.read())


def _reply(status: int, headers: Sequence[tuple[str, str]], raw: bytes) -> ApiReply:
    text = raw.decode("utf-8", errors="replace")
    try:
        document = json.loads(text) if text else None
    except ValueError:
        document = None
    return ApiReply(status, {name.lower(): value for name, value in headers}, document, text)


def describe_failure(reply: ApiReply) -> list[str]:
    """What a failed reply says, first line first: a problem document's kind, detail and fields, or API
    Gateway's message with what to do about it."""
    document = reply.document if isinstance(reply.document, dict) else {}
    if "detail" in document or "title" in document:
        kind = str(document.get("type", "")).rsplit("/", 1)[-1] or "problem"
        lines = [f"error {reply.status} {kind}: {document.get('detail') or document.get('title')}"]
        for problem in document.get("errors") or []:
            if isinstance(problem, dict):
                lines.append(f"  {problem.get('field')}: {problem.get('message')}")
        if "retry-after" in reply.headers:
            lines.append(f"  retry after {reply.headers['retry-after']} s")
        return lines
    message = document.get("message") or reply.text.strip() or "no details"
    hint = {
        401: " (sign in again: python -m ops.alerts_cli sign-in)",
        429: " (throttled: retry in a moment)",
    }.get(reply.status, "")
    return [f"error {reply.status}: {message}{hint}"]

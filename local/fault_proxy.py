"""A fault-injecting HTTP proxy (loopback only) between the function and the local AWS emulator.

The function's AWS endpoint (AWS_ENDPOINT_URL) points at the proxy; the proxy forwards each request byte for
byte -- Host header included -- to the upstream emulator, or answers it itself with an injected fault. SigV4
signs the Host header the client used, and the upstream recomputes the signature from the headers it
receives, so signature checking stays on behind the proxy.

Faults are chosen per request by rules (service, operation, probability) with a seeded random source, so a
run is reproducible for a given request order. The kinds answer with the bodies AWS really sends:
- `dynamodb_throughput` / `dynamodb_throttling`: 400 with the JSON 1.0 `__type` error of DynamoDB
  (ProvisionedThroughputExceededException, ThrottlingException);
- `sns_throttling`: 400 with SNS's query-protocol XML `Throttling` error;
- `http_500`, `http_503`: a bare 5xx (InternalFailure / ServiceUnavailable);
- `reset`: the connection is reset (RST) before any answer;
- `stall`: the request is held (never forwarded) for `stall_s`, longer than the client waits, then the
  connection is closed without an answer;
- `dynamodb_unprocessed_keys`: a BatchGetItem is forwarded, and part of the answer (at least one key) is
  moved from Responses to UnprocessedKeys, as DynamoDB does when a batch exceeds its limits;
- `delay`: the request is held for `delay_s`, then forwarded and answered as usual (a write that reaches
  the service late: the change protocol's adversarial case of a commit delayed past its effective_from).

Index lag (`stale_index`): a DynamoDB Query or Scan naming an `IndexName` is answered from a snapshot, the
answer the upstream gave the first time that request was seen, as an eventually consistent index may lag
its table without bound. `recorded` keeps the bodies of the DynamoDB requests whose operation is in
`record_operations`, so that a test can assert how a client reads (no index, `ConsistentRead`).

Latency mode (`latency`, a model of the services' round trips such as bench/aws_model.py): each forwarded
request draws a sample at arrival, and its answer is held until the sample has elapsed SINCE THE REQUEST
ARRIVED -- the emulator's own time is part of the sample, never added to it. When the local path alone took
longer than the sample nothing is held, and the call is counted as exceeded (per operation): a figure
measured through the proxy stands for the modelled service only while that share is small. Each request is
held on its own connection's thread (the server starts one per connection), so a hold never delays another
connection.

Call spans (`record_spans`, bench/call_graph.py): each forwarded request's (service, operation, arrival,
answer) on the proxy's clock, the answer taken after any latency hold, just before the answer is written --
what the client waited for that call. A benchmark that knows when each invocation began and ended assigns
the spans to invocations and infers which call waited for which.

Apart from the rules, `hold` picks one request to keep: the first for which hold(operation, body) is true is
never forwarded nor answered until the proxy closes, and `held` is set -- an exact point at which a test can
kill the function (crash safety).
"""

from __future__ import annotations

import collections
import enum
import http.client
import json
import random
import re
import socket
import struct
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.message import Message
from http.server import BaseHTTPRequestHandler
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from local.loopback_http import LoopbackServer

# Hop-by-hop headers (RFC 9110 7.6.1) are not forwarded; the proxy frames its own answers.
_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
}
_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request")
# Unsigned requests: the service from the JSON protocol's target prefix, else from an AWS host name.
_TARGET_SERVICES = {"DynamoDB_20120810": "dynamodb", "AmazonSQS": "sqs"}
_AWS_HOST = re.compile(r"^([a-z0-9-]+)\.[a-z0-9-]+\.amazonaws\.com(:\d+)?$")


class FaultKind(enum.Enum):
    DYNAMODB_THROUGHPUT = "dynamodb_throughput"
    DYNAMODB_THROTTLING = "dynamodb_throttling"
    SNS_THROTTLING = "sns_throttling"
    HTTP_500 = "http_500"
    HTTP_503 = "http_503"
    RESET = "reset"
    STALL = "stall"
    DYNAMODB_UNPROCESSED_KEYS = "dynamodb_unprocessed_keys"
    DELAY = "delay"


@dataclass(frozen=True)
class FaultRule:
    """Inject `kind` into `probability` of the requests to `service` (and `operation`, when given), at most
    `limit` times (None: no limit). The proxy counts injections per rule value, across set_rules, so that a
    rule used up stays used up when the rule list changes around it."""

    service: str  # signing name: dynamodb, sns, sqs; "*" for any
    kind: FaultKind
    probability: float = 1.0
    operation: str | None = None  # e.g. UpdateItem, Publish; None for every operation
    limit: int | None = None

    def matches(self, service: str, operation: str) -> bool:
        if self.kind is FaultKind.DYNAMODB_UNPROCESSED_KEYS and operation != "BatchGetItem":
            return False  # a partial answer exists only for BatchGetItem
        return self.service in ("*", service) and self.operation in (None, operation)


@dataclass(frozen=True)
class Call:
    """What the proxy saw: one request and what happened to it (`kind` None when forwarded)."""

    service: str
    operation: str
    kind: FaultKind | None


def classify(headers: Message, body: bytes) -> tuple[str, str]:
    """(service, operation) of an AWS request: the service from the SigV4 credential scope (unsigned: the
    X-Amz-Target prefix or an AWS Host name), the operation from X-Amz-Target (JSON protocols) or the Action
    parameter (query protocol)."""
    scope = _SCOPE.search(headers.get("Authorization", ""))
    host = _AWS_HOST.match(headers.get("Host", ""))
    target = headers.get("X-Amz-Target")
    prefix = target.rsplit(".", 1)[0] if target else ""
    service = scope.group(1) if scope else _TARGET_SERVICES.get(prefix, host.group(1) if host else "unknown")
    if target:
        return service, target.rsplit(".", 1)[-1]
    action = parse_qs(body.decode("utf-8", errors="replace")).get("Action")
    return service, action[0] if action else "unknown"


def fault_response(kind: FaultKind) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of an injected error, as the service itself would answer."""
    request_id = str(uuid.uuid4())
    if kind in (FaultKind.DYNAMODB_THROUGHPUT, FaultKind.DYNAMODB_THROTTLING):
        name, message = {
            FaultKind.DYNAMODB_THROUGHPUT: (
                "ProvisionedThroughputExceededException",
                "The level of configured provisioned throughput for the table was exceeded. Consider "
                "increasing your provisioning level with the UpdateTable API.",
            ),
            FaultKind.DYNAMODB_THROTTLING: (
                "ThrottlingException",
                "Rate of requests exceeds the allowed throughput.",
            ),
        }[kind]
        body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{name}", "message": message}).encode()
        return 400, {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": request_id}, body
    if kind is FaultKind.SNS_THROTTLING:
        body = (
            '<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Sender</Type>'
            "<Code>Throttling</Code><Message>Rate exceeded</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
        return 400, {"Content-Type": "text/xml", "x-amzn-RequestId": request_id}, body
    status, code = (500, "InternalFailure") if kind is FaultKind.HTTP_500 else (503, "ServiceUnavailable")
    body = json.dumps({"__type": code, "message": "injected by the fault proxy"}).encode()
    return status, {"Content-Type": "application/json", "x-amzn-RequestId": request_id}, body


def _key_of(item: dict[str, Any], names: Sequence[str]) -> tuple[str, ...]:
    return tuple(json.dumps(item.get(n), sort_keys=True) for n in names)


def partial_batch_get(request: bytes, response: bytes, rng: random.Random) -> bytes:
    """A BatchGetItem answer with some requested keys (at least one) moved to UnprocessedKeys: their
    items leave Responses, the keys go back with the table's request parameters (the RequestItems shape)."""
    items: dict[str, Any] = json.loads(request)["RequestItems"]
    answer: dict[str, Any] = json.loads(response)
    requested = [(table, key) for table, spec in items.items() for key in spec["Keys"]]
    chosen = rng.sample(requested, max(1, len(requested) // 2)) if requested else []
    unprocessed: dict[str, Any] = dict(answer.get("UnprocessedKeys") or {})
    for table, key in chosen:
        names = sorted(key)
        drop = _key_of(key, names)
        rows = answer.setdefault("Responses", {}).get(table, [])
        answer["Responses"][table] = [r for r in rows if _key_of(r, names) != drop]
        entry = unprocessed.setdefault(table, {**{k: v for k, v in items[table].items() if k != "Keys"}})
        entry.setdefault("Keys", []).append(key)
    answer["UnprocessedKeys"] = unprocessed
    return json.dumps(answer).encode()


class _NoDelayConnection(http.client.HTTPConnection):
    """http.client writes the headers and the body separately: with Nagle's algorithm on, the body would
    wait for the upstream's (delayed) acknowledgement of the headers."""

    def connect(self) -> None:
        super().connect()
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


Hold = Callable[[str, bytes], bool]  # (operation, request body) -> keep this request


@dataclass(frozen=True)
class Span:
    """One forwarded call on the proxy's clock: arrived at `start`, answered at `end` (seconds)."""

    service: str
    operation: str
    start: float
    end: float


class LatencyModel(Protocol):
    def sample_s(self, service: str, operation: str) -> float | None:
        """Seconds the service takes to answer this request (one draw); None: no figure, not held."""


@dataclass(frozen=True)
class LatencyStats:
    """Latency mode, per (service, operation): the calls held by the model, those the local path (proxy and
    upstream) answered later than their sample (`exceeded`: nothing held, the answer is late), those where
    the upstream's exchange alone took longer (`upstream_exceeded`), and the seconds sampled, held and spent
    upstream."""

    calls: int = 0
    exceeded: int = 0
    upstream_exceeded: int = 0
    sampled_s: float = 0.0
    held_s: float = 0.0
    upstream_s: float = 0.0

    def plus(self, sample_s: float, hold_s: float, upstream_s: float) -> LatencyStats:
        return LatencyStats(
            self.calls + 1,
            self.exceeded + (hold_s < 0),
            self.upstream_exceeded + (upstream_s > sample_s),
            self.sampled_s + sample_s,
            self.held_s + max(hold_s, 0),
            self.upstream_s + upstream_s,
        )


class FaultProxy:
    """The proxy server on 127.0.0.1 (a free port), forwarding to `upstream` (http://127.0.0.1:PORT)."""

    def __init__(
        self,
        upstream: str,
        rules: Sequence[FaultRule] = (),
        seed: int = 0,
        stall_s: float = 30.0,
        hold: Hold | None = None,
        *,
        latency: LatencyModel | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] | None = None,
        delay_s: float = 0.0,
        stale_index: bool = False,
        record_operations: frozenset[str] = frozenset(),
        record_spans: bool = False,
    ) -> None:
        """`latency`: hold answers by this model (None: answer at once); `clock` and `sleep` time the holds
        (default: the monotonic clock, and a wait that ends early when the proxy closes). `delay_s`: how
        long a `delay` fault holds its request; `stale_index`, `record_operations`, `record_spans`: see the
        module's text."""
        parts = urlsplit(upstream)
        if parts.scheme != "http" or parts.hostname is None or parts.port is None:
            raise ValueError(f"upstream must be http://host:port, got {upstream!r}")
        self.upstream = (parts.hostname, parts.port)
        self.rules = list(rules)
        self._fired: collections.Counter[FaultRule] = collections.Counter()
        self.calls: list[Call] = []
        self.stall_s = stall_s
        self.hold = hold
        self.held = threading.Event()
        self._random = random.Random(seed)
        self._partial_random = random.Random(seed + 1)  # its own stream: the decisions stay replayable
        self._closing = threading.Event()  # ends the stalls when the proxy closes
        self.latency = latency
        self.clock = clock
        self._sleep = sleep or self._closing.wait
        self._latency: dict[tuple[str, str], LatencyStats] = {}
        self._unmodelled: collections.Counter[tuple[str, str]] = collections.Counter()
        self.delay_s = delay_s
        self.stale_index = stale_index
        self._index_snapshot: dict[str, tuple[int, dict[str, str], bytes]] = {}
        self.record_operations = record_operations
        self.recorded: list[tuple[str, dict[str, Any]]] = []  # (operation, the request's JSON body)
        self.record_spans = record_spans
        self._spans: list[Span] = []
        self._lock = threading.Lock()
        self._http = LoopbackServer(self._handler_class())

    @property
    def url(self) -> str:
        return f"http://{self._http.address}"

    def __enter__(self) -> FaultProxy:
        self._http.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._closing.set()
        self._http.stop()

    def set_rules(self, rules: Sequence[FaultRule]) -> None:
        with self._lock:
            self.rules = list(rules)

    def injected(self) -> collections.Counter[tuple[str, str, FaultKind]]:
        """How many faults of each kind were injected, per (service, operation, kind)."""
        with self._lock:
            return collections.Counter((c.service, c.operation, c.kind) for c in self.calls if c.kind)

    def forwarded(self) -> collections.Counter[tuple[str, str]]:
        with self._lock:
            return collections.Counter((c.service, c.operation) for c in self.calls if c.kind is None)

    def latency_stats(self) -> dict[tuple[str, str], LatencyStats]:
        """Latency mode: the held calls per (service, operation)."""
        with self._lock:
            return dict(self._latency)

    def spans(self) -> list[Span]:
        """The forwarded calls' spans so far, in the order they were answered (`record_spans`)."""
        with self._lock:
            return list(self._spans)

    def _span(self, service: str, operation: str, arrived: float) -> None:
        if self.record_spans:
            span = Span(service, operation, arrived, self.clock())
            with self._lock:
                self._spans.append(span)

    def unmodelled(self) -> collections.Counter[tuple[str, str]]:
        """Latency mode: forwarded calls the model has no figure for (answered at once)."""
        with self._lock:
            return collections.Counter(self._unmodelled)

    def _sample(self, service: str, operation: str) -> float | None:
        """The model's latency for this request, drawn under the lock so that the sequence of draws is the
        sequence of arrivals."""
        if self.latency is None:
            return None
        with self._lock:
            sample = self.latency.sample_s(service, operation)
            if sample is None:
                self._unmodelled[(service, operation)] += 1
            return sample

    def _hold_until(self, key: tuple[str, str], arrived: float, sample_s: float, upstream_s: float) -> None:
        """Blocks this connection's thread until `sample_s` has passed since `arrived`."""
        hold_s = sample_s - (self.clock() - arrived)
        with self._lock:
            self._latency[key] = self._latency.get(key, LatencyStats()).plus(sample_s, hold_s, upstream_s)
        if hold_s > 0:
            self._sleep(hold_s)

    def _holds(self, operation: str, body: bytes) -> bool:
        """Whether this is the request to hold (the first that `hold` picks)."""
        with self._lock:
            if self.hold is None or self.held.is_set() or not self.hold(operation, body):
                return False
            self.held.set()
            return True

    def _record(self, service: str, operation: str, body: bytes) -> None:
        if service == "dynamodb" and operation in self.record_operations:
            with self._lock:
                self.recorded.append((operation, json.loads(body)))

    @staticmethod
    def _index_key(service: str, operation: str, body: bytes) -> str | None:
        """The snapshot's key of a Query or Scan on an index (None for any other request)."""
        if service != "dynamodb" or operation not in ("Query", "Scan"):
            return None
        request = json.loads(body)
        return json.dumps(request, sort_keys=True) if "IndexName" in request else None

    def _decide(self, service: str, operation: str) -> FaultKind | None:
        """The first matching rule whose coin comes up (one draw per matching rule, under the lock so that
        the sequence of draws is the sequence of requests)."""
        with self._lock:
            kind = None
            for rule in self.rules:
                if rule.limit is not None and self._fired[rule] >= rule.limit:
                    continue
                if rule.matches(service, operation) and self._random.random() < rule.probability:
                    self._fired[rule] += 1
                    kind = rule.kind
                    break
            self.calls.append(Call(service, operation, kind))
            return kind

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True
            _upstream: http.client.HTTPConnection | None = None

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: the calls list is the record."""

            def _relay(self) -> None:
                arrived = proxy.clock()
                # A client that writes the body after the headers with Nagle's algorithm on (the function's
                # HTTP client does) sends it only once the headers are acknowledged: acknowledge them now,
                # not when the delayed-ACK timer fires (~40 ms, measured; direct to moto there is no stall).
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                service, operation = classify(self.headers, body)
                proxy._record(service, operation, body)
                if proxy._holds(operation, body):
                    proxy._closing.wait()
                    self.close_connection = True  # the function was killed meanwhile: nobody to answer
                    return
                kind = proxy._decide(service, operation)
                if kind is FaultKind.RESET:
                    # SO_LINGER with a zero timeout: close() sends RST instead of FIN.
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.close_connection = True
                    return
                if kind is FaultKind.STALL:
                    proxy._closing.wait(proxy.stall_s)
                    self.close_connection = True  # then drop it: the client has given up by now
                    return
                if kind is FaultKind.DELAY:
                    proxy._closing.wait(proxy.delay_s)
                elif kind is not None and kind is not FaultKind.DYNAMODB_UNPROCESSED_KEYS:
                    self._answer(*fault_response(kind))
                    return
                index_key = proxy._index_key(service, operation, body) if proxy.stale_index else None
                with proxy._lock:
                    snapshot = proxy._index_snapshot.get(index_key) if index_key else None
                if snapshot is not None:
                    self._answer(*snapshot)
                    return
                sample_s = proxy._sample(service, operation)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                sent = proxy.clock()
                try:
                    status, reply_headers, reply = self._forward(body, headers)
                except OSError as exc:
                    self._upstream = None
                    message = json.dumps({"__type": "BadGateway", "message": f"upstream: {exc}"}).encode()
                    self._answer(502, {"Content-Type": "application/json"}, message)
                    return
                upstream_s = proxy.clock() - sent
                if kind is FaultKind.DYNAMODB_UNPROCESSED_KEYS and status == 200:
                    with proxy._lock:
                        reply = partial_batch_get(body, reply, proxy._partial_random)
                    # DynamoDB's checksum of the body, when the upstream sent one, must match the new body.
                    reply_headers = {k: v for k, v in reply_headers.items() if k.lower() != "x-amz-crc32"}
                    reply_headers["x-amz-crc32"] = str(zlib.crc32(reply))
                if index_key is not None and status == 200:
                    with proxy._lock:
                        proxy._index_snapshot.setdefault(index_key, (status, reply_headers, reply))
                if sample_s is not None:
                    proxy._hold_until((service, operation), arrived, sample_s, upstream_s)
                proxy._span(service, operation, arrived)
                self._answer(status, reply_headers, reply)

            def _forward(self, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
                if self._upstream is None:
                    self._upstream = _NoDelayConnection(*proxy.upstream, timeout=60)
                try:
                    return self._exchange(body, headers)
                except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                    # The upstream closed its idle keep-alive connection: one fresh attempt.
                    self._upstream.close()
                    return self._exchange(body, headers)

            def _exchange(self, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
                assert self._upstream is not None
                # skip_host/skip_accept_encoding: the client's Host header (signed) goes out unchanged.
                self._upstream.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                for name, value in headers.items():
                    self._upstream.putheader(name, value)
                if "content-length" not in {k.lower() for k in headers}:
                    self._upstream.putheader("Content-Length", str(len(body)))
                self._upstream.endheaders(body)
                response = self._upstream.getresponse()
                reply = response.read()
                reply_headers = {k: v for k, v in response.getheaders() if k.lower() not in _HOP_BY_HOP}
                return response.status, reply_headers, reply

            def _answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    if name.lower() not in ("content-length", "date", "server"):  # send_response's own
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                try:
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the client is gone (a killed function): nobody to answer

            do_GET = do_POST = do_PUT = do_DELETE = _relay  # noqa: N815 -- http.server's names

        return Handler

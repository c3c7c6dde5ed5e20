"""local/fault_proxy.py: forwarding byte for byte (Host header included), the injected AWS errors, seeded
decisions, connection resets and upstream failures."""

from __future__ import annotations

import http.client
import json
import random
import socket
import struct
import threading
import time
import zlib
from collections.abc import Iterator, Mapping
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from local.fault_proxy import (
    Call,
    FaultKind,
    FaultProxy,
    FaultRule,
    classify,
    fault_response,
    partial_batch_get,
)

DDB_AUTH = "AWS4-HMAC-SHA256 Credential=AKID/20261125/us-east-1/dynamodb/aws4_request, SignedHeaders=host"
SNS_AUTH = "AWS4-HMAC-SHA256 Credential=AKID/20261125/us-east-1/sns/aws4_request, SignedHeaders=host"


class _Echo(BaseHTTPRequestHandler):
    """Upstream: answers every request with what it received; closes after a request to /close without
    saying so (an idle keep-alive connection the server dropped)."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self._reply(body)

    def do_GET(self) -> None:
        self._reply(b"")

    def _reply(self, body: bytes) -> None:
        reply = json.dumps(
            {"path": self.path, "headers": dict(self.headers.items()), "body": body.decode()}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.send_header("Connection", "keep-alive")
        self.end_headers()
        self.wfile.write(reply)
        self.close_connection = self.path == "/close"


@pytest.fixture
def upstream() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def _client(proxy: FaultProxy) -> http.client.HTTPConnection:
    host, port = proxy.url.removeprefix("http://").split(":")
    return http.client.HTTPConnection(host, int(port), timeout=30)


def _headers(**values: str) -> Message:
    message = Message()
    for name, value in values.items():
        message[name.replace("_", "-")] = value
    return message


def test_classify_by_credential_scope_target_and_action() -> None:
    ddb = _headers(Authorization=DDB_AUTH, X_Amz_Target="DynamoDB_20120810.UpdateItem")
    assert classify(ddb, b"{}") == ("dynamodb", "UpdateItem")
    assert classify(_headers(Authorization=SNS_AUTH), b"Action=Publish&TopicArn=x") == ("sns", "Publish")
    assert classify(_headers(), b"") == ("unknown", "unknown")


def test_unsigned_requests_take_the_service_from_the_target_or_an_aws_host() -> None:
    assert classify(_headers(X_Amz_Target="DynamoDB_20120810.Query"), b"{}") == ("dynamodb", "Query")
    assert classify(_headers(X_Amz_Target="AmazonSQS.SendMessage"), b"{}") == ("sqs", "SendMessage")
    assert classify(_headers(Host="sns.us-east-1.amazonaws.com"), b"Action=Publish") == ("sns", "Publish")
    assert classify(_headers(Host="sqs.us-east-1.amazonaws.com:443", X_Amz_Target="X.Y"), b"") == ("sqs", "Y")
    assert classify(_headers(Host="127.0.0.1:4566"), b"Action=Publish") == ("unknown", "Publish")
    signed = _headers(Authorization=SNS_AUTH, Host="sqs.us-east-1.amazonaws.com")
    assert classify(signed, b"Action=Publish") == ("sns", "Publish")  # the signature's scope comes first


def test_rules_match_service_and_operation() -> None:
    assert FaultRule("dynamodb", FaultKind.HTTP_500).matches("dynamodb", "PutItem")
    assert FaultRule("*", FaultKind.HTTP_500).matches("sns", "Publish")
    assert not FaultRule("sns", FaultKind.HTTP_500).matches("dynamodb", "PutItem")
    assert not FaultRule("sns", FaultKind.HTTP_500, operation="Publish").matches("sns", "Subscribe")


def test_fault_bodies_are_the_services_own() -> None:
    status, headers, body = fault_response(FaultKind.DYNAMODB_THROUGHPUT)
    assert status == 400
    assert headers["Content-Type"] == "application/x-amz-json-1.0"
    assert json.loads(body)["__type"].endswith("#ProvisionedThroughputExceededException")
    assert json.loads(fault_response(FaultKind.DYNAMODB_THROTTLING)[2])["__type"].endswith(
        "#ThrottlingException"
    )
    status, headers, body = fault_response(FaultKind.SNS_THROTTLING)
    assert (status, headers["Content-Type"]) == (400, "text/xml")
    assert b"<Code>Throttling</Code>" in body
    assert fault_response(FaultKind.HTTP_500)[0] == 500
    assert json.loads(fault_response(FaultKind.HTTP_503)[2])["__type"] == "ServiceUnavailable"


def test_upstream_must_be_plain_http() -> None:
    with pytest.raises(ValueError, match="upstream"):
        FaultProxy("https://127.0.0.1:1")


def test_forwards_unchanged_and_injects_by_seeded_rules(upstream: str) -> None:
    rules = [
        FaultRule("sns", FaultKind.SNS_THROTTLING, probability=0.0),  # never: the next rule decides
        FaultRule("sns", FaultKind.SNS_THROTTLING, operation="Publish"),
    ]
    with FaultProxy(upstream, rules, seed=3) as proxy:
        conn = _client(proxy)
        headers = {"Authorization": DDB_AUTH, "X-Amz-Target": "DynamoDB_20120810.PutItem", "Host": "signed:1"}
        conn.request("POST", "/", body=b'{"a":1}', headers=headers)
        reply = conn.getresponse()
        seen = json.loads(reply.read())
        assert reply.status == 200
        assert seen["headers"]["Host"] == "signed:1"  # the signed Host header reaches the upstream
        assert seen["headers"]["X-Amz-Target"] == "DynamoDB_20120810.PutItem"
        assert seen["body"] == '{"a":1}'

        conn.request("POST", "/", body=b"Action=Publish", headers={"Authorization": SNS_AUTH})
        reply = conn.getresponse()
        assert reply.status == 400
        assert b"Throttling" in reply.read()

        proxy.set_rules([])
        conn.request("GET", "/plain")  # no body, no Content-Length from the client
        assert json.loads(conn.getresponse().read())["headers"]["Content-Length"] == "0"
        conn.close()
        assert proxy.injected() == {("sns", "Publish", FaultKind.SNS_THROTTLING): 1}
        assert proxy.forwarded() == {("dynamodb", "PutItem"): 1, ("unknown", "unknown"): 1}
        assert proxy.calls[1] == Call("sns", "Publish", FaultKind.SNS_THROTTLING)


def test_same_seed_same_decisions(upstream: str) -> None:
    def run() -> list[FaultKind | None]:
        with FaultProxy(upstream, [FaultRule("*", FaultKind.HTTP_503, probability=0.5)], seed=42) as proxy:
            conn = _client(proxy)
            for _ in range(20):
                conn.request("POST", "/", body=b"x")
                conn.getresponse().read()
            conn.close()
            return [c.kind for c in proxy.calls]

    first = run()
    assert first == run()
    assert FaultKind.HTTP_503 in first
    assert None in first


def test_reset_closes_the_connection_without_an_answer(upstream: str) -> None:
    with FaultProxy(upstream, [FaultRule("*", FaultKind.RESET)]) as proxy:
        conn = _client(proxy)
        conn.request("POST", "/", body=b"x")
        with pytest.raises((ConnectionResetError, http.client.RemoteDisconnected)):
            conn.getresponse()
        conn.close()


def test_upstream_dropping_its_keep_alive_connection_is_retried_once(upstream: str) -> None:
    with FaultProxy(upstream) as proxy:
        conn = _client(proxy)
        conn.request("POST", "/close", body=b"1")
        assert conn.getresponse().read()
        conn.request("POST", "/again", body=b"2")  # the proxy's upstream connection is gone: reconnects
        reply = conn.getresponse()
        assert reply.status == 200
        assert json.loads(reply.read())["path"] == "/again"
        conn.close()


def test_upstream_down_is_a_502() -> None:
    with FaultProxy("http://127.0.0.1:9") as proxy:  # discard port: nothing listens on loopback
        conn = _client(proxy)
        conn.request("POST", "/", body=b"x")
        reply = conn.getresponse()
        assert reply.status == 502
        assert json.loads(reply.read())["__type"] == "BadGateway"
        conn.close()


def test_stall_holds_past_the_client_timeout_then_drops(upstream: str) -> None:
    with FaultProxy(upstream, [FaultRule("*", FaultKind.STALL)], stall_s=1.0) as proxy:
        host, port = proxy.url.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=0.3)
        conn.request("POST", "/", body=b"x")
        with pytest.raises(TimeoutError):  # the client gives up first
            conn.getresponse()
        conn.close()
        patient = _client(proxy)
        patient.request("POST", "/", body=b"x")
        with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError)):  # dropped, unanswered
            patient.getresponse()
        patient.close()
        assert proxy.injected() == {("unknown", "unknown", FaultKind.STALL): 2}
        assert proxy.forwarded() == {}


class _BatchGet(BaseHTTPRequestHandler):
    """Upstream DynamoDB stand-in: BatchGetItem answers each requested key that exists (x "1" does not)."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        request = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
        responses = {
            table: [{**k, "v": {"S": "val"}} for k in spec["Keys"] if k["x"]["S"] != "1"]
            for table, spec in request.get("RequestItems", {}).items()
        }
        reply = json.dumps({"Responses": responses, "UnprocessedKeys": {}}).encode()
        self.send_response(200 if "RequestItems" in request else 400)
        self.send_header("Content-Length", str(len(reply)))
        self.send_header("x-amz-crc32", "1")
        self.end_headers()
        self.wfile.write(reply)


def test_partial_batch_get_moves_keys_to_unprocessed() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _BatchGet)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    rules = [FaultRule("dynamodb", FaultKind.DYNAMODB_UNPROCESSED_KEYS)]
    headers = {"Authorization": DDB_AUTH, "X-Amz-Target": "DynamoDB_20120810.BatchGetItem"}
    keys = [{"s": {"S": "A"}, "x": {"S": str(i)}} for i in range(4)]
    request = {"RequestItems": {"t": {"Keys": keys, "ConsistentRead": True}}}
    try:
        with FaultProxy(f"http://127.0.0.1:{server.server_address[1]}", rules, seed=5) as proxy:
            conn = _client(proxy)
            conn.request("POST", "/", body=json.dumps(request).encode(), headers=headers)
            reply = conn.getresponse()
            body = reply.read()
            answer = json.loads(body)
            assert reply.status == 200
            assert reply.getheader("x-amz-crc32") == str(zlib.crc32(body))
            unprocessed = answer["UnprocessedKeys"]["t"]
            assert unprocessed["ConsistentRead"] is True
            assert len(unprocessed["Keys"]) == 2
            returned = [{"s": r["s"], "x": r["x"]} for r in answer["Responses"]["t"]]
            # every key is answered or unprocessed, never both (key "1" does not exist)
            assert not [k for k in returned if k in unprocessed["Keys"]]
            assert sorted(
                json.dumps(k) for k in returned + unprocessed["Keys"] if k["x"]["S"] != "1"
            ) == sorted(json.dumps(k) for k in keys if k["x"]["S"] != "1")
            # an error from the upstream passes unchanged; other operations are not matched
            conn.request("POST", "/", body=b"{}", headers=headers)
            assert conn.getresponse().read() == b'{"Responses": {}, "UnprocessedKeys": {}}'
            put = {**headers, "X-Amz-Target": "DynamoDB_20120810.PutItem"}
            conn.request("POST", "/", body=b"{}", headers=put)
            conn.getresponse().read()
            conn.close()
            assert proxy.forwarded() == {("dynamodb", "PutItem"): 1}
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_partial_batch_get_of_nothing_and_of_one_key() -> None:
    rng = random.Random(1)
    empty = partial_batch_get(b'{"RequestItems": {}}', b"{}", rng)
    assert json.loads(empty) == {"UnprocessedKeys": {}}
    one = {"RequestItems": {"t": {"Keys": [{"k": {"S": "a"}}]}}}
    answer = json.loads(
        partial_batch_get(json.dumps(one).encode(), b'{"Responses": {"t": [{"k": {"S": "a"}}]}}', rng)
    )
    assert answer == {"Responses": {"t": []}, "UnprocessedKeys": {"t": {"Keys": [{"k": {"S": "a"}}]}}}


def test_a_client_gone_before_the_answer_is_no_error(
    upstream: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with FaultProxy(upstream) as proxy:
        host, port = proxy.url.removeprefix("http://").split(":")
        for _ in range(3):
            sock = socket.create_connection((host, int(port)))
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx")
            sock.close()  # RST: the proxy's answer finds the connection reset
        deadline = time.monotonic() + 5
        while len(proxy.forwarded()) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.1)
        conn = _client(proxy)  # the proxy still serves
        conn.request("POST", "/", body=b"y")
        assert conn.getresponse().status == 200
        conn.close()
    assert "Traceback" not in capsys.readouterr().err


def test_a_limited_rule_stops_after_its_count_even_across_rule_changes(upstream: str) -> None:
    once = FaultRule("*", FaultKind.HTTP_500, limit=1)
    twice = FaultRule("*", FaultKind.HTTP_503, limit=2)
    with FaultProxy(upstream, [once, twice], seed=1) as proxy:
        conn = _client(proxy)

        def statuses(n: int) -> list[int]:
            out = []
            for _ in range(n):
                conn.request("POST", "/", body=b"x")
                reply = conn.getresponse()
                reply.read()
                out.append(reply.status)
            return out

        assert statuses(2) == [500, 503]
        proxy.set_rules([twice, once])  # counts are kept per rule: `once` is used up
        assert statuses(3) == [503, 200, 200]
        conn.close()
    assert [c.kind for c in proxy.calls] == [FaultKind.HTTP_500] + [FaultKind.HTTP_503] * 2 + [None] * 2


def _ddb(
    conn: http.client.HTTPConnection, operation: str, body: Mapping[str, object], tag: str
) -> dict[str, str]:
    """One DynamoDB request through the proxy; the echo upstream's record of what it received."""
    headers = {"Authorization": DDB_AUTH, "X-Amz-Target": f"DynamoDB_20120810.{operation}", "X-Tag": tag}
    conn.request("POST", "/", body=json.dumps(body).encode(), headers=headers)
    reply = conn.getresponse()
    assert reply.status == 200
    seen: dict[str, str] = json.loads(reply.read())["headers"]
    return seen


def test_a_delayed_request_is_forwarded_after_the_delay(upstream: str) -> None:
    rule = FaultRule("dynamodb", FaultKind.DELAY, operation="TransactWriteItems", limit=1)
    with FaultProxy(upstream, [rule], delay_s=0.3) as proxy:
        conn = _client(proxy)
        started = time.monotonic()
        assert _ddb(conn, "TransactWriteItems", {"a": 1}, "late")["X-Tag"] == "late"  # forwarded, answered
        assert time.monotonic() - started >= 0.3
        started = time.monotonic()
        _ddb(conn, "TransactWriteItems", {"a": 1}, "prompt")  # the rule is used up
        assert time.monotonic() - started < 0.3
        assert [c.kind for c in proxy.calls] == [FaultKind.DELAY, None]


def test_index_reads_are_answered_from_a_stale_snapshot(upstream: str) -> None:
    """Index lag: the second identical Query on an index gets the first answer (the upstream never sees it);
    a table read, or another index request, reaches the upstream."""
    with FaultProxy(upstream, stale_index=True, record_operations=frozenset({"Query"})) as proxy:
        conn = _client(proxy)
        on_index = {"TableName": "t", "IndexName": "by-owner", "KeyConditionExpression": "o = :o"}
        assert _ddb(conn, "Query", on_index, "first")["X-Tag"] == "first"
        assert _ddb(conn, "Query", on_index, "second")["X-Tag"] == "first"  # stale
        assert _ddb(conn, "Query", {**on_index, "Limit": 1}, "other")["X-Tag"] == "other"
        assert _ddb(conn, "Query", {"TableName": "t"}, "a")["X-Tag"] == "a"
        assert _ddb(conn, "Query", {"TableName": "t"}, "b")["X-Tag"] == "b"  # tables are never stale
        assert _ddb(conn, "GetItem", {"TableName": "t"}, "c")["X-Tag"] == "c"
        # Recorded: the Query bodies only, in order.
        assert [op for op, _ in proxy.recorded] == ["Query"] * 5
        assert proxy.recorded[0][1] == on_index
    with FaultProxy(upstream) as proxy:  # off by default: every request is forwarded, none recorded
        conn = _client(proxy)
        assert _ddb(conn, "Scan", {"TableName": "t", "IndexName": "i"}, "x")["X-Tag"] == "x"
        assert _ddb(conn, "Scan", {"TableName": "t", "IndexName": "i"}, "y")["X-Tag"] == "y"
        assert proxy.recorded == []

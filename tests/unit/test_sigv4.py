"""The C++ AWS layer (lib/lambda/src/aws) proven from the outside, through its test driver `aws_cli`.

1. AWS's SigV4 test suite (from botocore's sdist, unpacked by `make aws-testsuite`): every header-signing
   case must give the expected canonical request, string to sign and Authorization header.
2. A differential property test: random requests signed by botocore.auth.SigV4Auth and by our signer must
   give the same Authorization header (and canonical request).
3. A smoke test against moto server with signature and IAM checks on: the layer's DynamoDB, SNS and SQS
   calls succeed with the right key and fail with a wrong one.
"""

from __future__ import annotations

import datetime
import json
import os
import ssl
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import quote

import boto3
import botocore.auth
import pytest
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.moto_server import moto_server
from tests.support.tls import write_tls_files

ROOT = Path(__file__).resolve().parents[2]
SUITE_DIR = Path(os.environ.get("TAP_AWS4_TESTSUITE", ROOT / "build" / "aws4_testsuite"))
CLI = Path(os.environ.get("TAP_AWS_CLI", ROOT / "build" / "cpp" / "tests" / "aws" / "aws_cli"))

ACCESS_KEY = "AKIDEXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
SUITE_TIME = datetime.datetime(2015, 8, 30, 12, 36, 0, tzinfo=datetime.UTC)

# Cases of the suite that do not apply to header signing as the function does it, each with the reason.
NOT_APPLICABLE = {
    # The token is added *after* signing (left out of SignedHeaders). Our signer always signs the session
    # token, as botocore and the AWS SDKs do for DynamoDB, SNS and SQS; the "before" variant is run.
    "post-sts-token/post-sts-header-after": "unsigned session token: not how any service we call is signed",
}


def _make(target: str, path: Path) -> Path:
    """Brings `path` up to date with `make target` (quick when nothing changed); env overrides skip it."""
    subprocess.run(["make", "-C", str(ROOT), target], check=True, stdout=subprocess.DEVNULL)
    assert path.exists(), f"{path} missing after make {target}"
    return path


class Signer:
    """One aws_cli process in batch mode: a JSON line in, a JSON line out."""

    def __init__(self, cli: Path) -> None:
        self.proc = subprocess.Popen(
            [str(cli), "sign"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, encoding="utf-8"
        )

    def sign(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, f"aws_cli sign died (exit {self.proc.poll()})"
        return json.loads(line)

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        assert self.proc.wait(timeout=10) == 0


@pytest.fixture(scope="module")
def cli() -> Path:
    return CLI if "TAP_AWS_CLI" in os.environ else _make("cpp-build", CLI)


@pytest.fixture(scope="module")
def signer(cli: Path) -> Iterator[Signer]:
    s = Signer(cli)
    yield s
    s.close()


# ---------------------------------------------------------------------------------------------- the suite
def _suite_cases() -> list[str]:
    suite = SUITE_DIR if "TAP_AWS4_TESTSUITE" in os.environ else _make("aws-testsuite", SUITE_DIR)
    return sorted(str(p.parent.relative_to(suite)) for p in suite.rglob("*.req"))


def _parse_raw_request(raw: str) -> dict[str, Any]:
    """The .req format: request line, headers (continuation lines folded into the value), blank, body."""
    head, _, body = raw.partition("\n\n")
    lines = head.split("\n")
    request_line = lines[0]
    method, _, rest = request_line.partition(" ")
    target = rest[: rest.rindex(" HTTP/")]  # the path may contain spaces (normalize-path/get-space)
    path, _, query = target.partition("?")
    headers: list[list[str]] = []
    for line in lines[1:]:
        if not line:
            continue  # a trailing newline without a body (normalize-path/get-special-character)
        if line[:1] in (" ", "\t"):
            headers[-1][1] += "\n" + line  # obs-fold: the signer's trimall must fold it
        else:
            name, _, value = line.partition(":")
            headers.append([name, value])
    return {"method": method, "path": path, "query": query, "headers": headers, "body": body}


def test_suite_is_complete_and_the_exclusions_exist() -> None:
    cases = _suite_cases()
    assert len(cases) == 34
    assert set(NOT_APPLICABLE) <= set(cases)


@pytest.mark.parametrize("case", _suite_cases())
def test_aws4_testsuite(signer: Signer, case: str) -> None:
    if case in NOT_APPLICABLE:
        pytest.skip(NOT_APPLICABLE[case])
    base = SUITE_DIR / case / Path(case).name

    def read(ext: str) -> str:
        return base.with_suffix(ext).read_text(encoding="utf-8").replace("\r", "")

    creq = read(".creq")
    token = next(
        (ln.split(":", 1)[1] for ln in creq.split("\n") if ln.startswith("x-amz-security-token:")), ""
    )
    request = _parse_raw_request(read(".req"))
    request.update(
        endpoint="https://example.amazonaws.com",
        access_key=ACCESS_KEY,
        secret_key=SECRET_KEY,
        token=token,
        region="us-east-1",
        service="service",
        time=int(SUITE_TIME.timestamp()),
    )
    out = signer.sign(request)
    assert out["creq"] == creq
    assert out["sts"] == read(".sts")
    assert out["authorization"] == read(".authz")


# --------------------------------------------------------------------------------- botocore differential
DIFF_TIME = datetime.datetime(2026, 11, 25, 14, 30, 7, tzinfo=datetime.UTC)
SUB_DELIMS = "!$&'()*+,;=:@"
# Segment text: unreserved, sub-delims, space, '%', a few non-ASCII letters (no '/', '?', '#').
SEGMENT_CHARS = st.sampled_from(list("aZ09-_.~ %") + list(SUB_DELIMS) + ["é", "ሴ", "€"])
segments = st.one_of(st.sampled_from(["", ".", ".."]), st.text(SEGMENT_CHARS, min_size=1, max_size=8))
query_text = st.text(st.sampled_from([*"aB3-_.~ =&+/%?", "é", "ሴ"]), max_size=6)
header_names = st.sampled_from(
    [
        "My-Header",
        "my-header",
        "X-Custom",
        "Content-Type",
        "X-Amz-Target",
        "User-Agent",
        "x-amzn-trace-id",
        "Expect",
        "Accept",
        "Zeta",
    ]
)
# Printable ASCII plus runs of spaces and tabs (folded whitespace); Python's str.split() and our trimall
# agree on these.
header_values = st.lists(
    st.sampled_from([chr(c) for c in range(0x21, 0x7F)] + [" ", "   ", "\t", " \t "]), max_size=12
).map("".join)


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    path_segments = draw(st.lists(segments, max_size=5))
    path = "/" + "/".join(quote(s, safe=SUB_DELIMS) for s in path_segments)
    if draw(st.booleans()):
        path += "/"
    pairs = draw(
        st.lists(
            st.tuples(st.sampled_from(["a", "B", "key", "ሴ", "x y"]) | query_text, query_text, st.booleans()),
            max_size=6,
        )
    )
    query = "&".join(
        quote(k, safe="-_.~") + (("=" + quote(v, safe="-_.~")) if with_eq else "") for k, v, with_eq in pairs
    )
    return {
        "method": draw(st.sampled_from(["GET", "POST", "PUT", "DELETE", "HEAD", "PATCH"])),
        "endpoint": draw(
            st.sampled_from(
                [
                    "https://dynamodb.us-east-1.amazonaws.com",
                    "http://127.0.0.1:5123",
                    "https://sns.eu-west-1.amazonaws.com:8443",
                ]
            )
        ),
        "path": path,
        "query": query,
        "headers": [list(h) for h in draw(st.lists(st.tuples(header_names, header_values), max_size=6))],
        "body": draw(st.text(max_size=40)),
        "access_key": draw(
            st.text(st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"), min_size=1, max_size=20)
        ),
        "secret_key": draw(st.text(st.sampled_from("abcXYZ0189+/="), min_size=1, max_size=40)),
        "token": draw(
            st.one_of(st.just(""), st.text(st.sampled_from("AQoDYXdz09+/="), min_size=1, max_size=60))
        ),
        "region": draw(st.sampled_from(["us-east-1", "eu-west-1", "ap-southeast-2"])),
        "service": draw(st.sampled_from(["dynamodb", "sns", "sqs", "service"])),
        "time": int(DIFF_TIME.timestamp()),
    }


def botocore_sign(req: dict[str, Any]) -> tuple[str, str]:
    url = req["endpoint"] + req["path"] + ("?" + req["query"] if req["query"] else "")
    request = AWSRequest(method=req["method"], url=url, data=req["body"].encode("utf-8"))
    for name, value in req["headers"]:
        request.headers[name] = value  # HTTPHeaders appends: repeated names keep every value in order
    auth = botocore.auth.SigV4Auth(
        Credentials(req["access_key"], req["secret_key"], req["token"] or None), req["service"], req["region"]
    )
    with mock.patch("botocore.auth.get_current_datetime", return_value=DIFF_TIME):
        auth.add_auth(request)
    authorization = request.headers["Authorization"]
    del request.headers["Authorization"]  # the canonical request as it was signed
    return authorization, auth.canonical_request(request)


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)
@given(req=requests())
def test_differential_against_botocore(signer: Signer, req: dict[str, Any]) -> None:
    expected_authz, expected_creq = botocore_sign(req)
    out = signer.sign(req)
    assert out["creq"] == expected_creq
    assert out["authorization"] == expected_authz
    headers = {name.lower(): value for name, value in out["headers"]}
    assert headers["x-amz-date"] == "20261125T143007Z"
    assert headers.get("x-amz-security-token", "") == req["token"]


# ------------------------------------------------------------------------------------- moto smoke test
@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, Path]]:
    """moto server over TLS with a certificate from a test CA: (url, that CA, another CA)."""
    files = write_tls_files(tmp_path_factory.mktemp("moto-tls"))
    with moto_server((files["cert"], files["key"], files["ca"])) as url:
        yield url, files["ca"], files["other_ca"]


SMOKE_STEPS = [
    "UpdateItem",
    "UpdateItem-condition",
    "PutItem",
    "TransactWriteItems",
    "TransactWriteItems-cancelled",
    "BatchGetItem",
    "Publish",
    "SendMessage",
]
FUNCTION_ACTIONS = [
    "dynamodb:UpdateItem",
    "dynamodb:PutItem",
    "dynamodb:BatchGetItem",
    # moto authorizes TransactWriteItems as an action of its own (AWS checks the actions of the items).
    "dynamodb:TransactWriteItems",
    "sns:Publish",
    "sqs:SendMessage",
]


def _run_smoke(cli: Path, env: dict[str, str], table: str, topic: str, queue: str) -> tuple[int, list[dict]]:
    out = subprocess.run(
        [str(cli), "smoke", table, topic, queue],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return out.returncode, [json.loads(line) for line in out.stdout.splitlines()]


def _create_table(ddb: Any, name: str) -> None:
    ddb.create_table(
        TableName=name,
        KeySchema=[
            {"AttributeName": "symbol", "KeyType": "HASH"},
            {"AttributeName": "timestamp", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "symbol", "AttributeType": "S"},
            {"AttributeName": "timestamp", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )


def test_layer_against_moto_over_tls_with_signature_and_iam_checks(
    cli: Path, moto: tuple[str, Path, Path]
) -> None:
    url, ca, other_ca = moto
    region = "us-east-1"

    def client(service: str, key: str, secret: str, token: str | None = None) -> Any:
        return boto3.client(
            service,
            endpoint_url=url,
            region_name=region,
            verify=str(ca),
            aws_access_key_id=key,
            aws_secret_access_key=secret,
            aws_session_token=token,
        )

    for table in ("market-alerts-smoke", "market-alerts-smoke-sts"):
        _create_table(client("dynamodb", "admin", "admin"), table)
    topic = client("sns", "admin", "admin").create_topic(Name="trading-alerts-smoke")["TopicArn"]
    queue = client("sqs", "admin", "admin").create_queue(QueueName="market-data-dlq-smoke")["QueueUrl"]
    iam = client("iam", "admin", "admin")
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Resource": "*", "Action": FUNCTION_ACTIONS}],
    }
    iam.create_user(UserName="fn")
    iam.put_user_policy(
        UserName="fn",
        PolicyName="fn",
        PolicyDocument=json.dumps(
            {
                **policy,
                "Statement": [
                    *policy["Statement"],
                    {"Effect": "Allow", "Resource": "*", "Action": ["sts:AssumeRole"]},
                ],
            }
        ),
    )
    role_arn = iam.create_role(
        RoleName="fn-role",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
            }
        ),
    )["Role"]["Arn"]
    iam.put_role_policy(RoleName="fn-role", PolicyName="fn", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName="fn")["AccessKey"]
    # From here on moto checks every request's signature and the caller's IAM actions.
    reset = urllib.request.Request(
        url + "/moto-api/reset-auth", data=b"0", method="POST", headers={"Content-Type": "text/plain"}
    )  # a form content type would eat the body
    urllib.request.urlopen(reset, context=ssl.create_default_context(cafile=str(ca))).close()

    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_REGION=region,
        AWS_ENDPOINT_URL=url,
        AWS_CA_BUNDLE=str(ca),
        AWS_ACCESS_KEY_ID=key["AccessKeyId"],
        AWS_SECRET_ACCESS_KEY=key["SecretAccessKey"],
    )
    rc, steps = _run_smoke(cli, env, "market-alerts-smoke", topic, queue)
    assert rc == 0, steps
    assert [s["step"] for s in steps if "step" in s] == SMOKE_STEPS
    got = client("dynamodb", key["AccessKeyId"], key["SecretAccessKey"]).batch_get_item(
        RequestItems={
            "market-alerts-smoke": {"Keys": [{"symbol": {"S": "AAPL"}, "timestamp": {"S": "t2#r1"}}]}
        }
    )
    assert len(got["Responses"]["market-alerts-smoke"]) == 1  # what the layer wrote is really there

    # Temporary credentials, as Lambda gives them: the session token is sent and signed.
    creds = client("sts", key["AccessKeyId"], key["SecretAccessKey"]).assume_role(
        RoleArn=role_arn, RoleSessionName="smoke"
    )["Credentials"]
    sts_env = {
        **env,
        "AWS_ACCESS_KEY_ID": creds["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": creds["SecretAccessKey"],
        "AWS_SESSION_TOKEN": creds["SessionToken"],
    }
    rc, steps = _run_smoke(cli, sts_env, "market-alerts-smoke-sts", topic, queue)
    assert rc == 0, steps
    rc, steps = _run_smoke(
        cli, {**sts_env, "AWS_SESSION_TOKEN": "forged"}, "market-alerts-smoke-sts", topic, queue
    )
    assert rc == 1, steps
    assert steps[0]["ok"] is False, steps

    # A wrong secret: the signature no longer matches; every call fails, without retries.
    secret = key["SecretAccessKey"]
    bad_env = {**env, "AWS_SECRET_ACCESS_KEY": secret[:-1] + ("A" if secret[-1] != "A" else "B")}
    rc, steps = _run_smoke(cli, bad_env, "market-alerts-smoke", topic, queue)
    assert rc == 1
    by_step = {s["step"]: s for s in steps if "step" in s}
    assert "signature" in by_step["UpdateItem"]["detail"].lower()
    assert not any(by_step[name]["ok"] for name in ("UpdateItem", "PutItem", "Publish", "SendMessage"))
    assert steps[-1]["retries"] == 0

    # A CA bundle that did not sign moto's certificate: TLS verification fails, nothing is sent.
    rc, steps = _run_smoke(cli, {**env, "AWS_CA_BUNDLE": str(other_ca)}, "market-alerts-smoke", topic, queue)
    assert rc == 1
    assert "TlsVerificationFailed" in {s["step"]: s for s in steps if "step" in s}["Publish"]["detail"]
    assert steps[-1]["retries"] == 0

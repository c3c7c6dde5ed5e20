"""The C++ KMS client (lib/lambda/src/aws/kms.cpp) against moto, through the AWS layer's test driver
`aws_cli kms`: GenerateDataKey returns a 256-bit key and its blob, Decrypt recovers the key under the same
encryption context only, and the blob is an ordinary KMS ciphertext that boto3 decrypts to the same key."""

from __future__ import annotations

import base64
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import boto3
import pytest

from lib.config import ROOT
from tests.support.moto_server import moto_environment

CLI = Path(os.environ.get("TAP_AWS_CLI", ROOT / "build" / "cpp" / "tests" / "aws" / "aws_cli"))


@pytest.fixture(scope="module")
def cli() -> Path:
    if "TAP_AWS_CLI" not in os.environ:
        subprocess.run(["make", "-C", str(ROOT), "cpp-build"], check=True, stdout=subprocess.DEVNULL)
    assert CLI.exists(), f"{CLI} missing after make cpp-build"
    return CLI


def round_trip(cli: Path, key_id: str) -> tuple[int, dict[str, Any]]:
    out = subprocess.run([str(cli), "kms", key_id], capture_output=True, text=True, timeout=60, check=False)
    return out.returncode, json.loads(out.stdout.splitlines()[-1])


def test_data_key_round_trip_binds_the_context(cli: Path) -> None:
    with moto_environment():
        kms = boto3.client("kms")
        key_id = kms.create_key(Description="stack key")["KeyMetadata"]["KeyId"]
        code, result = round_trip(cli, key_id)
        assert code == 0, result
        plaintext = base64.b64decode(result["plaintext"])
        assert len(plaintext) == 32  # AES_256: the cursor MAC's 32-byte secret
        assert base64.b64decode(result["decrypted"]) == plaintext
        assert result["key_arn"].endswith(key_id)
        # Another context (another key id of the cursor keyring) does not decrypt the blob.
        assert result["other_context"] == "InvalidCiphertextException"
        # The stored blob is KMS's own: any KMS client decrypts it under the same context.
        blob = base64.b64decode(result["ciphertext"])
        context = {"purpose": "api-cursor", "key_id": "k1"}
        assert kms.decrypt(CiphertextBlob=blob, EncryptionContext=context)["Plaintext"] == plaintext


def test_unknown_key_is_kms_error(cli: Path) -> None:
    with moto_environment():
        code, result = round_trip(cli, "alias/no-such-key")
        assert code == 1
        assert result["step"] == "GenerateDataKey"
        assert result["ok"] is False
        assert "NotFoundException" in result["detail"]

"""Signing in to the configured Cognito user pool (USER_PASSWORD_AUTH through the app client) and keeping
the tokens in a file only its owner may read (0600), for the CLI (ops/alerts_cli.py).

boto3 finds the endpoint the usual way (AWS_ENDPOINT_URL for the emulator), and InitiateAuth needs no AWS
credentials: the user's password is the credential.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import boto3

DEFAULT_TOKEN_FILE = Path("~/.config/trading-alerts/tokens.json")


@dataclass(frozen=True)
class Tokens:
    access_token: str
    id_token: str
    refresh_token: str
    expires_at: int  # epoch seconds


def sign_in(client_id: str, username: str, password: str, region: str, now: float | None = None) -> Tokens:
    """The user's tokens; raises botocore's ClientError when Cognito refuses (wrong password, ...)."""
    cognito: Any = boto3.client("cognito-idp", region_name=region)
    result = cognito.initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": password},
    )["AuthenticationResult"]
    issued = time.time() if now is None else now
    return Tokens(
        access_token=result["AccessToken"],
        id_token=result["IdToken"],
        refresh_token=result.get("RefreshToken", ""),
        expires_at=int(issued) + int(result["ExpiresIn"]),
    )


def save_tokens(path: Path, tokens: Tokens) -> None:
    """Writes the tokens with mode 0600 (also over an existing file with wider permissions); the directory
    is created 0700."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)
    with os.fdopen(descriptor, "w") as out:
        json.dump(asdict(tokens), out)


def load_tokens(path: Path) -> Tokens:
    """The stored tokens; raises OSError when there are none, ValueError when the file is not ours."""
    document = json.loads(path.read_text())
    if not isinstance(document, dict):
        raise ValueError(f"{path}: not a token file")
    try:
        return Tokens(**document)
    except TypeError as error:
        raise ValueError(f"{path}: not a token file") from error

"""The function's package, lambda_function.zip: checked to hold exactly `bootstrap`, then hashed.

The rules are not in it: they are traders' data in the rules table (I13, R6), so a zip that still carries a
rules document is a stale build of an earlier version and is refused.
"""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path

PACKAGE_MEMBERS = ("bootstrap",)


class LambdaPackageError(RuntimeError):
    """lambda_function.zip is missing, unreadable or does not hold what the function needs."""


def package_hash(zip_path: Path) -> str:
    """base64 SHA-256 of the zip (Terraform's filebase64sha256), after checking what the zip holds."""
    if not zip_path.is_file():
        raise LambdaPackageError(
            f"{zip_path} not found: build it first with `make package` (or `make synth`)"
        )
    try:
        with zipfile.ZipFile(zip_path) as archive:
            names = set(archive.namelist())
    except zipfile.BadZipFile as exc:
        raise LambdaPackageError(f"{zip_path} is not a valid function package: {exc}") from None
    if "bootstrap" not in names:
        raise LambdaPackageError(f"{zip_path} has no `bootstrap` entry point: rebuild it with `make package`")
    if extra := sorted(names - set(PACKAGE_MEMBERS)):
        raise LambdaPackageError(
            f"{zip_path} holds {', '.join(extra)} besides `bootstrap` (the rules live in the rules table): "
            "rebuild it with `make package`"
        )
    return base64.b64encode(hashlib.sha256(zip_path.read_bytes()).digest()).decode()

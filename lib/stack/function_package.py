"""The function's package, lambda_function.zip: checked against the validated rules, then hashed."""

from __future__ import annotations

import base64
import hashlib
import json
import zipfile
from pathlib import Path
from typing import Any

RULES_IN_ZIP = "alert-rules.json"


class LambdaPackageError(RuntimeError):
    """lambda_function.zip is missing, unreadable or does not hold what the function needs."""


def package_hash(zip_path: Path, rules: dict[str, Any]) -> str:
    """base64 SHA-256 of the zip (Terraform's filebase64sha256), after checking what the zip holds."""
    if not zip_path.is_file():
        raise LambdaPackageError(
            f"{zip_path} not found: build it first with `make package` (or `make synth`)"
        )
    try:
        with zipfile.ZipFile(zip_path) as archive:
            names = set(archive.namelist())
            shipped_rules = json.loads(archive.read(RULES_IN_ZIP)) if RULES_IN_ZIP in names else None
    except (zipfile.BadZipFile, json.JSONDecodeError) as exc:
        raise LambdaPackageError(f"{zip_path} is not a valid function package: {exc}") from None
    if "bootstrap" not in names:
        raise LambdaPackageError(f"{zip_path} has no `bootstrap` entry point: rebuild it with `make package`")
    if shipped_rules != rules:
        # The function reads the rules shipped in its zip; they must be this document, which the package
        # step validated with the function's own loader (lib/rules.py).
        raise LambdaPackageError(
            f"{zip_path}: its {RULES_IN_ZIP} differs from the validated rules document: "
            "rebuild it with `make package`"
        )
    return base64.b64encode(hashlib.sha256(zip_path.read_bytes()).digest()).decode()

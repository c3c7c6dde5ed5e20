"""What every function of the stack shares (I1, I14): the one zip as a C++ custom runtime on arm64, its
environment encrypted with the stack's key, X-Ray active tracing, a log group of its own and the checkov
suppressions written into the synthesized JSON. Every log group of the stack (the API's access logs too)
keeps the configured retention and is encrypted with the key."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from lib.config import StackConfig
from lib.stack.bindings import (
    CloudwatchLogGroup,
    Construct,
    LambdaFunction,
    LambdaFunctionLoggingConfig,
    LambdaFunctionTracingConfig,
    TerraformResourceLifecycle,
)


def encrypted_log_group(
    scope: Construct, construct_id: str, config: StackConfig, *, name: str, key_arn: str
) -> CloudwatchLogGroup:
    return CloudwatchLogGroup(
        scope,
        construct_id,
        name=name,
        retention_in_days=config.log_retention_days,
        kms_key_id=key_arn,
        tags=config.tags,
    )


def runtime_settings(
    config: StackConfig, *, code_hash: str, key_arn: str, log_group: CloudwatchLogGroup
) -> dict[str, Any]:
    """The LambdaFunction arguments both functions take alike."""
    return {
        "runtime": "provided.al2023",
        "architectures": ["arm64"],
        "filename": str(config.zip_path),
        "source_code_hash": code_hash,
        "kms_key_arn": key_arn,
        "tracing_config": LambdaFunctionTracingConfig(mode="Active"),
        "logging_config": LambdaFunctionLoggingConfig(log_format="Text", log_group=log_group.name),
        "tags": config.tags,
        # moto does not store logging_config (GetFunction omits it), a permanent plan diff there only.
        "lifecycle": TerraformResourceLifecycle(ignore_changes=["logging_config"])
        if config.is_local
        else None,
    }


def suppress_checkov(function: LambdaFunction, skips: Iterable[tuple[str, str]]) -> None:
    """Suppressions checkov reads from the synthesized JSON (Terraform ignores "//" keys)."""
    function.add_override("//", {"checkov": [f"checkov:skip={check}:{reason}" for check, reason in skips]})

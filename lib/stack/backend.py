"""Where Terraform keeps the state (I11): S3 with DynamoDB locking, a given local file, or cdktf's default."""

from __future__ import annotations

from lib.config import StackConfig
from lib.stack.bindings import LocalBackend, S3Backend, TerraformStack


def state_backend(stack: TerraformStack, config: StackConfig) -> None:
    if config.backend is not None:
        S3Backend(
            stack,
            bucket=config.backend.bucket,
            key=config.backend.key,
            region=config.backend.region,
            dynamodb_table=config.backend.dynamodb_table,
            encrypt=True,
        )
    elif config.state_path is not None:
        LocalBackend(stack, path=config.state_path)

"""The AWS provider: region, default tags, and every service pointed at the local endpoint when one is set."""

from __future__ import annotations

from typing import Any

from lib.config import StackConfig
from lib.stack.bindings import AwsProvider, AwsProviderDefaultTags, AwsProviderEndpoints, TerraformStack

# Every AWS service the stack talks to, for the local endpoint set (AWS_ENDPOINT_URL convention).
LOCAL_SERVICES = (
    "apigatewayv2",
    "cloudwatch",
    "cloudwatchlogs",
    "cognitoidp",
    "dynamodb",
    "iam",
    "kms",
    "lambda_",
    "sns",
    "sqs",
    "sts",
)


def aws_provider(stack: TerraformStack, config: StackConfig) -> None:
    local: dict[str, Any] = {}
    if config.endpoint_url is not None:
        url = config.endpoint_url.rstrip("/")
        local = {
            "endpoints": [AwsProviderEndpoints(**dict.fromkeys(LOCAL_SERVICES, url))],
            "skip_credentials_validation": True,
            "skip_metadata_api_check": "true",
            "skip_region_validation": True,
        }
    AwsProvider(
        stack,
        "aws",
        region=config.region,
        default_tags=[AwsProviderDefaultTags(tags=config.tags)],
        **local,
    )

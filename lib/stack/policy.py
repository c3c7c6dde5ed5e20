"""IAM policy documents as the stack writes them: the JSON envelope and the TLS-only deny statement."""

from __future__ import annotations

import json
from typing import Any


def document(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def deny_insecure_transport(action: str, resource: str) -> dict[str, Any]:
    """Refuses any request to `resource` that does not come over TLS (resource policies of queues, topics)."""
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": action,
        "Resource": resource,
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def use_key(key_arn: str) -> dict[str, Any]:
    """Decrypt with the stack's key, and make data keys for writing to resources it encrypts."""
    return {
        "Sid": "UseTheKey",
        "Effect": "Allow",
        "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
        "Resource": key_arn,
    }


def lambda_trust(account_id: str) -> dict[str, Any]:
    """A function role's trust: Lambda, on behalf of this account only."""
    return {
        "Effect": "Allow",
        "Principal": {"Service": "lambda.amazonaws.com"},
        "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
    }


def write_logs(log_group_arn: str) -> dict[str, Any]:
    """A function's log writes, to its own log group's streams."""
    return {
        "Sid": "WriteOwnLogs",
        "Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": f"{log_group_arn}:log-stream:*",
    }


def xray_tracing() -> dict[str, Any]:
    # X-Ray trace APIs support no resource-level permissions: "*" is the only resource AWS allows.
    return {
        "Sid": "XRayTracing",
        "Effect": "Allow",
        "Action": ["xray:PutTelemetryRecords", "xray:PutTraceSegments"],
        "Resource": "*",
    }

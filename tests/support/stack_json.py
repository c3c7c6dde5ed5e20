"""Reading a synthesized stack (Terraform JSON) in the synthesis tests: resources by type and name, policy
statements, and the references the stack writes for its key, account and partition."""

from __future__ import annotations

import json
from typing import Any

KEY = "${aws_kms_key.key.arn}"
ACCOUNT = "${data.aws_caller_identity.current.account_id}"
PART = "${data.aws_partition.partition.partition}"
TAGS = {"Environment": "dev", "Team": "trading-platform", "CostCenter": "market-data"}  # the default config's


def res(stack: dict[str, Any], rtype: str, name: str | None = None) -> Any:
    resources = stack["resource"][rtype]
    return resources if name is None else resources[name]


def statements(policy_json: str) -> list[dict[str, Any]]:
    doc = json.loads(policy_json)
    assert doc["Version"] == "2012-10-17"
    stmts: list[dict[str, Any]] = doc["Statement"]
    return stmts

"""Terraform names by construct id (lib/stack/addressing.py): constructs group resources, move none."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cdktf import AssetType, TerraformAsset

from lib.stack.addressing import AddressByIdStack
from lib.stack.bindings import AwsProvider, Construct, SnsTopic, SqsQueue
from lib.stack.bindings import Testing as CdktfTesting  # not `Testing`: pytest would try to collect it


def stack_with_provider() -> AddressByIdStack:
    stack = AddressByIdStack(CdktfTesting.app(), "s")
    AwsProvider(stack, "aws", region="us-east-1")
    return stack


def test_a_nested_resource_is_named_by_its_own_id() -> None:
    stack = stack_with_provider()
    queue = SqsQueue(Construct(stack, "queues"), "queue", name="q")
    SnsTopic(Construct(Construct(stack, "deep"), "topics"), "topic", name="t", kms_master_key_id=queue.arn)
    synthesized = json.loads(CdktfTesting.synth(stack))
    assert set(synthesized["resource"]["aws_sqs_queue"]) == {"queue"}
    assert (
        synthesized["resource"]["aws_sns_topic"]["topic"]["kms_master_key_id"] == "${aws_sqs_queue.queue.arn}"
    )


def test_one_id_twice_is_refused_with_both_paths() -> None:
    # Different types would not collide in Terraform, but one id per element keeps every name unambiguous.
    stack = stack_with_provider()
    SqsQueue(Construct(stack, "a"), "q", name="q")
    SnsTopic(Construct(stack, "b"), "q", name="t")
    with pytest.raises(RuntimeError, match=r"s/b/q and s/a/q have one construct id, 'q': rename one"):
        CdktfTesting.synth(stack)


def test_an_asset_is_stored_under_its_own_id(tmp_path: Path) -> None:
    # cdktf names an asset's directory by the node (not the element): same rule, no path hash.
    (tmp_path / "code.zip").write_bytes(b"zip")
    stack = stack_with_provider()
    asset = TerraformAsset(
        Construct(stack, "function"), "package", path=str(tmp_path / "code.zip"), type=AssetType.FILE
    )
    assert asset.path.startswith("assets/package/")
    assert asset.path.endswith("/code.zip")

"""The stack the integration tests share: synthesized, applied once per session with terraform to the local
emulator (moto server), and destroyed by the one test marked `destroys_stack`, which runs last (an apply
takes about two minutes here: every module that needs a deployed stack shares this one, and each run of the
local system empties the tables and queues it uses first)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from lib.app import main as synth_main
from local.emulator import MotoServer
from local.terraform import Terraform

SFX = "it"


class Deployment:
    def __init__(self, moto: MotoServer, tf: Terraform, outputs: dict[str, str]) -> None:
        self.moto, self.tf, self.outputs = moto, tf, outputs

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.moto.url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )


@pytest.fixture(scope="session")
def deployment(
    tmp_path_factory: pytest.TempPathFactory, package_zip: Path, terraform_rc: Path
) -> Iterator[Deployment]:
    out = tmp_path_factory.mktemp("cdktf.out")
    with MotoServer() as moto:
        env = {
            **moto.env(),
            "ENVIRONMENT_SUFFIX": SFX,
            "VISIBILITY_TIMEOUT_SECONDS": "30",
            "MAX_RECEIVE_COUNT": "2",
            "LAMBDA_ZIP": str(package_zip),
            "TF_STATE_PATH": "terraform.tfstate",
        }
        assert synth_main(env=env, outdir=str(out)) == 0
        tf_env = {**os.environ, **env, "TF_CLI_CONFIG_FILE": str(terraform_rc)}
        tf = Terraform(out / "stacks" / "tap-stack", env=tf_env)
        tf.init()
        started = time.monotonic()
        tf.apply()
        print(f"\napply took {time.monotonic() - started:.1f} s")
        yield Deployment(moto, tf, tf.outputs())


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The test that destroys the shared stack runs after every other collected test."""
    items.sort(key=lambda item: item.get_closest_marker("destroys_stack") is not None)

"""main.py's app: synthesis into an output directory, and clear errors for bad configuration."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lib.app import main


def test_synthesizes_the_stack_json(tmp_path: Path, package_zip: Path) -> None:
    env = {"ENVIRONMENT_SUFFIX": "qa", "LAMBDA_ZIP": str(package_zip)}
    assert main(env=env, outdir=str(tmp_path)) == 0
    stack = json.loads((tmp_path / "stacks" / "tap-stack" / "cdk.tf.json").read_text())
    assert stack["resource"]["aws_lambda_function"]["function"]["function_name"] == "data-processor-qa"
    assert list(stack["terraform"]["backend"]) == ["local"]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ENVIRONMENT_SUFFIX": "Bad_Suffix"}, "environment suffix 'Bad_Suffix' is invalid"),
        ({"LAMBDA_ZIP": "/nonexistent/lambda_function.zip"}, "not found: build it first with `make package`"),
    ],
)
def test_bad_configuration_fails_clearly(
    tmp_path: Path, package_zip: Path, capsys: pytest.CaptureFixture[str], env: dict[str, str], message: str
) -> None:
    assert main(env={"LAMBDA_ZIP": str(package_zip), **env}, outdir=str(tmp_path)) == 2
    err = capsys.readouterr().err
    assert err.startswith("synth: ")
    assert message in err
    assert not (tmp_path / "stacks" / "tap-stack" / "cdk.tf.json").exists()

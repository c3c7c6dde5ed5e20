"""Drive the terraform CLI over a synthesized stack directory (cdktf.out/stacks/<stack>).

The caller's environment decides the target: with AWS_ENDPOINT_URL and the local credentials of
local.emulator it is the emulator, without them real AWS. TF_CLI_CONFIG_FILE (the Makefile's TF_RC)
selects the provider mirror.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

AUTOMATION_ENV = {"TF_IN_AUTOMATION": "1", "TF_INPUT": "0", "CHECKPOINT_DISABLE": "1"}


class TerraformError(RuntimeError):
    """terraform exited non-zero; the message carries the command and the end of its output."""


class Terraform:
    def __init__(
        self, workdir: Path, env: Mapping[str, str] | None = None, binary: str = "terraform"
    ) -> None:
        if not (workdir / "cdk.tf.json").is_file():
            raise TerraformError(f"{workdir}/cdk.tf.json not found: synthesize the stack first (make synth)")
        self.workdir = workdir
        self.env = {**(os.environ if env is None else env), **AUTOMATION_ENV}
        self.binary = binary

    def run(self, *args: str) -> str:
        proc = subprocess.run(
            [self.binary, *args], cwd=self.workdir, env=self.env, capture_output=True, text=True, check=False
        )
        if proc.returncode != 0:
            tail = (proc.stdout + proc.stderr).strip()[-4000:]
            raise TerraformError(f"terraform {' '.join(args)} failed ({proc.returncode}):\n{tail}")
        return proc.stdout

    def init(self) -> None:
        self.run("init", "-no-color")

    def apply(self) -> None:
        self.run("apply", "-auto-approve", "-no-color")

    def pending_changes(self) -> list[str]:
        """What `plan` would change (its "# <address> will be ..." lines); [] when the stack matches."""
        proc = subprocess.run(
            [self.binary, "plan", "-detailed-exitcode", "-no-color"],
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode == 1:
            raise TerraformError(f"terraform plan failed:\n{proc.stderr.strip()[-4000:]}")
        if proc.returncode == 0:
            return []
        return [line.strip()[2:] for line in proc.stdout.splitlines() if line.strip().startswith("# ")]

    def destroy(self) -> None:
        self.run("destroy", "-auto-approve", "-no-color")

    def outputs(self) -> dict[str, str]:
        raw = json.loads(self.run("output", "-json", "-no-color"))
        return {name: str(item["value"]) for name, item in raw.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="terraform over a synthesized stack directory")
    parser.add_argument("action", choices=("up", "output", "down"), help="init+apply, outputs, destroy")
    parser.add_argument("--dir", type=Path, required=True, help="cdktf.out/stacks/<stack>")
    args = parser.parse_args(argv)
    try:
        tf = Terraform(args.dir)
        if args.action == "up":
            tf.init()
            tf.apply()
        elif args.action == "output":
            for name, value in sorted(tf.outputs().items()):
                print(f"{name:18} {value}")
        else:
            tf.destroy()
    except TerraformError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

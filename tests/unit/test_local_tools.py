"""The local tooling: emulator lifecycle, terraform CLI driver, checkov gate, the CDKTF app entry."""

from __future__ import annotations

import json
import os
import socket
import stat
from collections.abc import Callable
from pathlib import Path

import boto3
import pytest

from local import checkov_gate, emulator, terraform
from local.emulator import EmulatorError, MotoServer, healthy
from tests.support.tls import write_tls_files


# ---- emulator
def test_moto_server_context_manager_serves_and_stops() -> None:
    with MotoServer() as moto:
        assert moto.url.startswith("http://127.0.0.1:")
        assert healthy(moto.url)
        assert moto.env()["AWS_ENDPOINT_URL"] == moto.url
        sqs = boto3.client(
            "sqs",
            endpoint_url=moto.url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        sqs.create_queue(QueueName="q")
        moto.reset()
        assert sqs.list_queues().get("QueueUrls", []) == []
        process = moto.process
    assert process is not None
    assert process.poll() is not None
    assert not healthy(moto.url)
    moto.stop()  # idempotent


def test_moto_server_that_cannot_start_is_reported(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(EmulatorError, match=f"did not come up on http://127.0.0.1:{port}"):
            MotoServer(port, start_timeout=20).start(tmp_path / "moto.log")
    assert (tmp_path / "moto.log").exists()


def test_moto_server_over_tls_is_trusted_through_its_ca_only(tmp_path: Path) -> None:
    files = write_tls_files(tmp_path)
    with MotoServer(tls=(files["cert"], files["key"], files["ca"])) as moto:
        assert moto.url.startswith("https://127.0.0.1:")
        assert healthy(moto.url, files["ca"])
        assert not healthy(moto.url, files["other_ca"])
        assert not healthy(moto.url)  # the system's trust store does not know the test CA


def test_a_server_that_cannot_start_without_a_log_points_at_its_output() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(EmulatorError) as failed:
            MotoServer(busy.getsockname()[1], start_timeout=20).start()
    assert str(failed.value).endswith("(see its output)")


def test_cli_starts_on_the_given_port_from_any_directory_and_logs_moto(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # moto is started from the repository, wherever the caller is
    port, state, log = emulator.free_port(), tmp_path / "run" / "local" / "moto.json", tmp_path / "moto.log"
    assert emulator.main(["start", "--state-file", str(state), "--log", str(log), "--port", str(port)]) == 0
    recorded = json.loads(state.read_text())
    assert capsys.readouterr().out.strip() == recorded["url"] == f"http://127.0.0.1:{port}"
    assert emulator.main(["stop", "--state-file", str(state)]) == 0
    os.waitpid(recorded["pid"], 0)  # our own child: reap it
    assert '"GET /moto-api/data.json HTTP/1.1" 200' in log.read_text()  # moto's request log, stderr included


def test_stop_kills_a_wedged_server(monkeypatch: pytest.MonkeyPatch) -> None:
    """A server ignoring SIGTERM is killed after the grace period."""
    moto = MotoServer().start()
    assert moto.process is not None
    real_wait = moto.process.wait
    calls = []

    def wait(timeout: float | None = None) -> int:
        calls.append(timeout)
        if len(calls) == 1:
            raise emulator.subprocess.TimeoutExpired("moto_server", timeout or 0)
        return real_wait()

    monkeypatch.setattr(moto.process, "wait", wait)
    moto.stop()
    assert calls == [10, None]


def test_cli_start_and_stop(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = tmp_path / "run" / "moto.json"
    assert emulator.main(["start", "--state-file", str(state), "--log", str(tmp_path / "m.log")]) == 0
    url = capsys.readouterr().out.strip()
    recorded = json.loads(state.read_text())
    assert recorded["url"] == url
    assert healthy(url)
    assert emulator.main(["stop", "--state-file", str(state)]) == 0
    assert not state.exists()
    os.waitpid(recorded["pid"], 0)  # our own child: reap it
    assert not healthy(url)
    assert emulator.main(["stop", "--state-file", str(state)]) == 0
    assert "nothing to stop" in capsys.readouterr().err
    state.write_text(json.dumps({"pid": 2**22 + 12345, "url": url}))
    assert emulator.main(["stop", "--state-file", str(state)]) == 0
    assert "already gone" in capsys.readouterr().err


# ---- terraform driver (a fake terraform binary stands in; the real one runs in the integration test)
FAKE_TF = """#!/bin/sh
echo "$@" >> calls.log
case "$1" in
  output) echo '{"queue_url": {"value": "http://q", "type": "string"}}' ;;
  plan) echo "  # aws_sqs_queue.queue will be updated in-place"; exit ${PLAN_RC:-0} ;;
  destroy) [ -n "$FAIL" ] && { echo "boom" >&2; exit 1; } ;;
esac
exit 0
"""


@pytest.fixture
def stack_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake = bindir / "terraform"
    fake.write_text(FAKE_TF)
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    stack = tmp_path / "stack"
    stack.mkdir()
    (stack / "cdk.tf.json").write_text("{}")
    return stack


def test_terraform_cli(
    stack_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert terraform.main(["up", "--dir", str(stack_dir)]) == 0
    assert terraform.main(["output", "--dir", str(stack_dir)]) == 0
    assert "queue_url          http://q" in capsys.readouterr().out
    assert terraform.main(["down", "--dir", str(stack_dir)]) == 0
    assert (stack_dir / "calls.log").read_text().splitlines() == [
        "init -no-color",
        "apply -auto-approve -no-color",
        "output -json -no-color",
        "destroy -auto-approve -no-color",
    ]
    monkeypatch.setenv("FAIL", "1")
    assert terraform.main(["down", "--dir", str(stack_dir)]) == 1
    assert "terraform destroy -auto-approve -no-color failed (1):\nboom" in capsys.readouterr().err


def test_terraform_plan_states(stack_dir: Path) -> None:
    tf = terraform.Terraform(stack_dir, env={**os.environ, "PLAN_RC": "0"})
    assert tf.env["TF_IN_AUTOMATION"] == "1"
    assert tf.pending_changes() == []
    changed = terraform.Terraform(stack_dir, env={**os.environ, "PLAN_RC": "2"})
    assert changed.pending_changes() == ["aws_sqs_queue.queue will be updated in-place"]
    with pytest.raises(terraform.TerraformError, match="terraform plan failed"):
        terraform.Terraform(stack_dir, env={**os.environ, "PLAN_RC": "1"}).pending_changes()


def test_terraform_needs_a_synthesized_stack(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert terraform.main(["up", "--dir", str(tmp_path)]) == 1
    assert "cdk.tf.json not found: synthesize the stack first" in capsys.readouterr().err


def test_terraform_runs_in_the_stack_directory_with_the_callers_environment(stack_dir: Path) -> None:
    env = {"PATH": os.environ["PATH"], "AWS_ENDPOINT_URL": "http://127.0.0.1:4566", "PLAN_RC": "2"}
    tf = terraform.Terraform(stack_dir, env=env)
    tf.init()
    assert tf.pending_changes() == ["aws_sqs_queue.queue will be updated in-place"]  # PLAN_RC reached it
    assert (stack_dir / "calls.log").read_text().splitlines() == [
        "init -no-color",
        "plan -detailed-exitcode -no-color",
    ]
    show_env = stack_dir.parent / "show-env"
    show_env.write_text(
        '#!/bin/sh\necho "$AWS_ENDPOINT_URL $TF_IN_AUTOMATION $TF_INPUT $CHECKPOINT_DISABLE"\n'
    )
    show_env.chmod(0o755)
    assert (
        terraform.Terraform(stack_dir, env=env, binary=str(show_env)).run() == "http://127.0.0.1:4566 1 0 1\n"
    )


def test_terraform_failures_carry_the_end_of_the_output(stack_dir: Path) -> None:
    failing = stack_dir.parent / "failing"
    failing.write_text(f"#!/bin/sh\nprintf '{'a' * 100}{'b' * 4000}' >&2\nexit 1\n")
    failing.chmod(0o755)
    tf = terraform.Terraform(stack_dir, binary=str(failing))
    with pytest.raises(terraform.TerraformError) as run_failed:
        tf.run("apply")
    assert str(run_failed.value) == "terraform apply failed (1):\n" + "b" * 4000
    with pytest.raises(terraform.TerraformError) as plan_failed:
        tf.pending_changes()
    assert str(plan_failed.value) == "terraform plan failed:\n" + "b" * 4000


# ---- checkov gate
SOURCE = """{
  "resource": {
    "aws_lambda_function": {
      "function": {
        "//": {"checkov": [
          "checkov:skip=CKV_AWS_117:no VPC needed",
          "checkov:skip=CKV_AWS_116"
        ]}
      }
    }
  }
}""".splitlines()


def failed(check_id: str, lines: tuple[int, int] = (4, 9)) -> dict[str, object]:
    return {
        "check_id": check_id,
        "check_name": f"name of {check_id}",
        "resource": "resource.function",
        "file_line_range": list(lines),
    }


def report(*checks: dict[str, object], passed: int = 40) -> dict[str, object]:
    return {"results": {"failed_checks": list(checks)}, "summary": {"passed": passed}}


def test_gate_applies_skips_with_reasons_per_resource() -> None:
    outcome = checkov_gate.evaluate(
        report(
            failed("CKV_AWS_117"), failed("CKV_AWS_116"), failed("CKV_AWS_50"), failed("CKV_AWS_117", (1, 2))
        ),
        SOURCE,
    )
    assert outcome.passed == 40
    assert outcome.skipped == ["CKV_AWS_117 resource.function (lines 4-9): no VPC needed"]
    assert outcome.failed == [
        "CKV_AWS_116 resource.function (lines 4-9): skip without a reason",
        "CKV_AWS_50 resource.function (lines 4-9): name of CKV_AWS_50",
        "CKV_AWS_117 resource.function (lines 1-2): name of CKV_AWS_117",  # outside the resource's lines
    ]


def fake_checkov(tmp_path: Path, body: str) -> str:
    path = tmp_path / "checkov"
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return str(path)


def test_gate_main(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stack = tmp_path / "cdk.tf.json"
    stack.write_text("\n".join(SOURCE))
    (tmp_path / "pass.json").write_text(json.dumps(report(failed("CKV_AWS_117"))))
    (tmp_path / "fail.json").write_text(json.dumps(report(failed("CKV_AWS_50"))))
    ok = fake_checkov(tmp_path, f"cat {tmp_path}/pass.json; exit 1")
    assert checkov_gate.main(["--checkov", ok, str(stack)]) == 0
    assert "checkov: 40 passed, 0 failed, 1 skipped in code" in capsys.readouterr().out
    bad = fake_checkov(tmp_path, f"cat {tmp_path}/fail.json; exit 1")
    assert checkov_gate.main(["--checkov", bad, str(stack)]) == 1
    assert "FAILED  CKV_AWS_50" in capsys.readouterr().out
    broken = fake_checkov(tmp_path, "echo crashed >&2; exit 3")
    assert checkov_gate.main(["--checkov", broken, str(stack)]) == 2
    assert "checkov exited with 3: crashed" in capsys.readouterr().err
    assert checkov_gate.main(["--checkov", ok, str(tmp_path / "none.json")]) == 2
    assert "run `make synth` first" in capsys.readouterr().err


def test_gate_honours_a_skip_on_the_first_line_of_the_resource_only() -> None:
    lines = ['"a": {', '  "//": "checkov:skip=CKV_AWS_50:not needed",', '  "b": 1', "}"]
    outcome = checkov_gate.evaluate(report(failed("CKV_AWS_50", (2, 3)), failed("CKV_AWS_50", (3, 4))), lines)
    assert outcome.skipped == ["CKV_AWS_50 resource.function (lines 2-3): not needed"]
    assert outcome.failed == ["CKV_AWS_50 resource.function (lines 3-4): name of CKV_AWS_50"]


def test_gate_runs_checkov_offline_on_the_stack_as_terraform_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = tmp_path / "cdk.tf.json"
    stack.write_text("\n".join(SOURCE))
    (tmp_path / "pass.json").write_text(json.dumps(report(failed("CKV_AWS_117"))))
    checkov = fake_checkov(
        tmp_path, f'printf "%s\\n" "$@" > {tmp_path}/args; cat {tmp_path}/pass.json; exit 0'
    )
    assert checkov_gate.main(["--checkov", checkov, str(stack)]) == 0  # 0: checkov found nothing failing
    offline_json = ["--framework", "terraform_json", "--skip-download", "--quiet", "-o", "json"]
    assert (tmp_path / "args").read_text().splitlines() == ["-f", str(stack), *offline_json]
    assert "  skipped CKV_AWS_117 resource.function (lines 4-9): no VPC needed\n" in capsys.readouterr().out


def test_gate_reports_the_tail_of_a_crashing_checkovs_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = tmp_path / "cdk.tf.json"
    stack.write_text("{}")
    (tmp_path / "err").write_text("a" * 100 + "b" * 2000)
    crashing = fake_checkov(tmp_path, f"cat {tmp_path}/err >&2; exit 2")
    assert checkov_gate.main(["--checkov", crashing, str(stack)]) == 2
    assert capsys.readouterr().err == "checkov: checkov exited with 2: " + "b" * 2000 + "\n"


# ---- the command lines of the three tools
CliMain = Callable[[list[str] | None], int]


@pytest.mark.parametrize(
    ("main", "bad_choice", "missing", "required"),
    [
        (emulator.main, ["restart", "--state-file", "s.json"], ["stop"], "--state-file"),
        (terraform.main, ["apply", "--dir", "."], ["up"], "--dir"),
        (checkov_gate.main, None, ["stack.json"], "--checkov"),
    ],
)
def test_cli_refuses_an_unknown_action_and_a_missing_required_option(
    main: CliMain,
    bad_choice: list[str] | None,
    missing: list[str],
    required: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if bad_choice is not None:
        with pytest.raises(SystemExit):
            main(bad_choice)
        assert f"invalid choice: '{bad_choice[0]}'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(missing)
    assert f"the following arguments are required: {required}" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("main", "description", "helps"),
    [
        (
            emulator.main,
            "Start or stop the local AWS emulator (moto server).",
            ["where start records pid and URL", "moto's output (start)", "default: a free port"],
        ),
        (
            terraform.main,
            "terraform over a synthesized stack directory",
            ["init+apply, outputs, destroy", "cdktf.out/stacks/<stack>"],
        ),
        (
            checkov_gate.main,
            "checkov over the synthesized stack, with per-resource suppressions written in the stack code.",
            ["path of the checkov executable", "cdktf.out/stacks/<stack>/cdk.tf.json"],
        ),
    ],
)
def test_cli_help_describes_the_tool_and_each_option(
    main: CliMain,
    description: str,
    helps: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # one line per option
    with pytest.raises(SystemExit):
        main(["--help"])
    shown = capsys.readouterr().out
    assert f"\n{description}\n" in shown
    for text in helps:
        assert f" {text}\n" in shown

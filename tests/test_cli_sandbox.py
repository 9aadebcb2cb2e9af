"""``agent-sdk sandbox run``, in-process through ``agent_sdk.cli.main(argv)``, with real bwrap.

Only the ``sandbox-bwrap`` plugin is loaded (``AGENT_SDK_LOAD_PLUGINS=sandbox-bwrap``); the
tests skip when it is not installed, or when bubblewrap cannot run here (unless
``AGENT_SDK_REQUIRE_SERVICES=1`` makes that a failure).
"""

from __future__ import annotations

import functools
import io
import json
import os
from pathlib import Path
from typing import Any

import pytest

from agent_sdk.cli import main
from agent_sdk.testing.services import services_required

pytestmark = pytest.mark.usefixtures("kernel_env", "fresh_structlog", "clean_redactor")

RESULT_KEYS = {"exit_code", "stdout", "stderr", "timed_out", "killed", "isolation", "duration_s"}


@functools.cache
def _unavailable() -> str | None:
    try:
        from agent_sdk_sandbox_bwrap.sandbox import BwrapSandbox
    except ImportError:
        return "the agent-sdk-sandbox-bwrap plugin is not installed"
    from agent_sdk.errors import SandboxUnavailableError

    try:
        BwrapSandbox().probe()
    except SandboxUnavailableError as exc:
        return f"bwrap cannot run here: {exc}"
    return None


@pytest.fixture(autouse=True)
def only_bwrap(kernel_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Load only this plugin (after ``kernel_env`` emptied the allowlist)."""
    reason = _unavailable()
    if reason is not None:
        if services_required() and "not installed" not in reason:
            pytest.fail(reason)
        pytest.skip(reason)
    monkeypatch.setenv("AGENT_SDK_LOAD_PLUGINS", "sandbox-bwrap")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any], str]:
    code = main(["sandbox", "run", *argv])
    captured = capsys.readouterr()
    return code, (json.loads(captured.out) if captured.out.strip() else {}), captured.err


def program(directory: Path, text: str, name: str = "program.py") -> str:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_runs_a_file_and_prints_one_json_result(
    capsys: pytest.CaptureFixture[str], kernel_env: Path
) -> None:
    code, result, _ = run(capsys, program(kernel_env, "print('hello from the sandbox')\n"))
    assert code == 0
    assert set(result) >= RESULT_KEYS
    assert result["stdout"] == "hello from the sandbox\n"
    assert result["exit_code"] == 0
    assert result["isolation"]["network"] == "none"
    assert result["isolation"]["workspace"]["kind"] == "tmpfs"


def test_exit_status_mirrors_the_program(
    capsys: pytest.CaptureFixture[str], kernel_env: Path
) -> None:
    code, result, _ = run(capsys, program(kernel_env, "import sys; sys.exit(7)\n"))
    assert code == 7
    assert result["exit_code"] == 7


def test_a_signal_death_exits_128_plus_the_signal(
    capsys: pytest.CaptureFixture[str], kernel_env: Path
) -> None:
    code, result, _ = run(capsys, program(kernel_env, "kill -TERM $$\n", "die.sh"))
    assert result["exit_code"] == -15
    assert code == 128 + 15


def test_reads_the_program_from_stdin_with_a_language(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"echo $((2 + 3))\n")))
    code, result, _ = run(capsys, "--language", "bash", "-")
    assert code == 0
    assert result["stdout"] == "5\n"


def test_a_timeout_is_reported_and_exits_124(
    capsys: pytest.CaptureFixture[str], kernel_env: Path
) -> None:
    code, result, _ = run(
        capsys, "--timeout", "0.5", program(kernel_env, "import time; time.sleep(30)\n")
    )
    assert code == 124
    assert result["timed_out"] is True
    assert result["killed"] == "timeout"


def test_a_given_workspace_is_used_and_kept(
    capsys: pytest.CaptureFixture[str], kernel_env: Path
) -> None:
    workspace = kernel_env / "ws"
    workspace.mkdir()
    if os.geteuid() == 0:
        os.chown(workspace, 65534, 65534)  # the code runs as uid 65534 on the host
    code, result, _ = run(
        capsys,
        "--workspace",
        str(workspace),
        program(kernel_env, "open('report.txt', 'w').write('done')\n"),
    )
    assert code == 0, result
    assert (workspace / "report.txt").read_text() == "done"
    assert result["artifacts"] == ["report.txt"]
    assert result["isolation"]["workspace"]["kept"] is True


def test_plugin_settings_come_from_the_config_file(
    capsys: pytest.CaptureFixture[str], kernel_env: Path
) -> None:
    config = kernel_env / "sandbox.toml"
    config.write_text("[plugins.sandbox-bwrap]\noutput_limit_bytes = 2048\n")
    code, result, _ = run(
        capsys,
        "--config",
        str(config),
        program(kernel_env, "while True: print('x' * 100)\n"),
    )
    assert result["stdout_truncated"] is True
    assert len(result["stdout"]) == 2048
    assert result["killed"] == "output limit"
    assert code == 128 + 9


def test_an_unknown_sandbox_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], kernel_env: Path
) -> None:
    code, result, err = run(capsys, "--sandbox", "nope", program(kernel_env, "pass\n"))
    assert code == 2
    assert result == {}
    assert "no sandbox named 'nope'" in err


def test_an_invalid_plugin_table_is_a_configuration_error(
    capsys: pytest.CaptureFixture[str], kernel_env: Path
) -> None:
    (kernel_env / "agent-sdk.toml").write_text("[plugins.sandbox-bwrap]\ncpu_seconds = 3\n")
    code, result, err = run(capsys, program(kernel_env, "pass\n"))
    assert code == 2
    assert result == {}
    assert "plugins.sandbox-bwrap" in err


def test_an_unavailable_sandbox_exits_1_with_the_fix(
    capsys: pytest.CaptureFixture[str], kernel_env: Path
) -> None:
    (kernel_env / "agent-sdk.toml").write_text(
        '[plugins.sandbox-bwrap]\nbwrap_path = "/nonexistent/bwrap"\n'
    )
    code, result, err = run(capsys, program(kernel_env, "print('must not run')\n"))
    assert code == 1
    assert result == {}
    assert "bubblewrap not found" in err
    assert "apt-get install bubblewrap" in err

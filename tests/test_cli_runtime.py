"""The runtime CLI in-process: run, resume, cancel, runs, status, db."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from agent_sdk.cli import main

pytest.importorskip("agent_sdk_sqlite", reason="needs the agent-sdk-sqlite plugin installed")

PLUGIN = '''
from pathlib import Path
from agent_sdk import hookimpl
from agent_sdk.errors import ToolError
from agent_sdk.kinds.agent import Agent
from agent_sdk.kinds.tool import tool
from agent_sdk.messages import Message
from agent_sdk.runtime.loop import render_input, run_tool_loop

@tool(threaded=False)
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b

@tool(threaded=False)
def once_broken(marker: str) -> str:
    """Fails the first time (per marker file), then works."""
    path = Path(marker)
    if not path.exists():
        path.write_text("failed once")
        raise ToolError("first call fails")
    return "fixed"

class Loop(Agent):
    name = "loop"

    async def run(self, task_input, ctx):
        return await run_tool_loop(ctx, [Message.user(render_input(task_input))])

@hookimpl
def agent_sdk_register_tools():
    return [add, once_broken]

@hookimpl
def agent_sdk_register_agents():
    return [Loop]
'''


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    module = f"cli_runtime_plugin_{abs(hash(tmp_path)) % 10**8}"
    (tmp_path / f"{module}.py").write_text(PLUGIN)
    (tmp_path / "agent-sdk.toml").write_text(
        textwrap.dedent(
            f"""
            [plugins.sqlite]
            path = "{tmp_path / "runs.db"}"
            [models.default]
            provider = "scripted"
            responses = [
              {{ tool_calls = [ {{ name = "add", arguments = {{ a = 1, b = 2 }} }} ] }},
              {{ content = "3" }},
            ]
            [agents.calc]
            type = "loop"
            tools = ["add"]
            [workflows.calc]
            [[workflows.calc.tasks]]
            id = "sum"
            agent = "calc"
            input = "add 1 and 2"
            [[workflows.calc.tasks]]
            id = "direct"
            tool = "add"
            args = {{ a = "${{input.x}}", b = 10 }}
            [workflows.calc.input]
            x = 5
            [workflows.fragile]
            [[workflows.fragile.tasks]]
            id = "f"
            tool = "once_broken"
            args = {{ marker = "{tmp_path / "marker"}" }}
            """
        )
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    for var in ("AGENT_SDK_CONFIG", "AGENT_SDK_PLUGIN_MODULES", "AGENT_SDK_DISABLE_PLUGINS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AGENT_SDK_LOAD_PLUGINS", "sqlite")
    monkeypatch.setenv("AGENT_SDK_PLUGIN_MODULES", module)
    return tmp_path


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_run_prints_a_summary_and_exits_zero(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = cli(capsys, "run", "calc")
    assert code == 0
    assert "succeeded" in out
    assert "sum" in out
    assert "direct" in out


def test_run_json_reports_outputs_usage_and_input_overrides(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = cli(capsys, "run", "calc", "--json", "--set", "x=7")
    assert code == 0
    result = json.loads(out)
    assert result["status"] == "succeeded"
    assert result["outputs"] == {"sum": "3", "direct": 17}
    assert result["usage"]["input_tokens"] > 0


def test_run_without_a_name_needs_one_when_several_workflows_exist(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli(capsys, "run")
    assert code == 2
    assert "calc" in err
    assert "fragile" in err


def test_failed_run_exits_one_and_run_resume_finishes_it(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = cli(capsys, "run", "fragile", "--json")
    assert code == 1
    failed = json.loads(out)
    assert failed["status"] == "failed"
    assert "first call fails" in failed["error"]["message"]

    code, out, err = cli(capsys, "run", "fragile", "--resume", "--json")
    assert code == 0, err
    resumed = json.loads(out)
    assert resumed["run_id"] == failed["run_id"]
    assert resumed["outputs"] == {"f": "fixed"}

    code, _, err = cli(capsys, "resume", failed["run_id"])
    assert code == 1
    assert "already succeeded" in err


def test_runs_list_show_and_events_describe_a_finished_run(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cli(capsys, "run", "calc", "-q")
    code, out, _ = cli(capsys, "runs", "list", "--json")
    assert code == 0
    [run] = json.loads(out)
    assert run["workflow"] == "calc"
    assert run["status"] == "succeeded"

    code, out, _ = cli(capsys, "runs", "show", run["id"], "--json")
    shown = json.loads(out)
    assert {t["task_id"]: t["status"] for t in shown["tasks"]} == {
        "direct": "succeeded",
        "sum": "succeeded",
    }
    assert shown["steps"] >= 3
    types = [e["type"] for e in shown["events"]]
    assert types[0] == "run_started"
    assert types[-1] == "run_finished"

    code, out, _ = cli(capsys, "runs", "events", run["id"])
    assert code == 0
    assert "task_succeeded" in out
    code, out, _ = cli(capsys, "runs", "show", run["id"])
    assert "journal steps" in out
    code, out, _ = cli(capsys, "runs", "list")
    assert run["id"] in out

    code, _, err = cli(capsys, "runs", "show", "run_does_not_exist")
    assert code == 1
    assert "no run" in err


def test_status_shows_alerts_of_failed_runs(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cli(capsys, "run", "fragile", "-q")
    code, out, _ = cli(capsys, "status", "--json")
    assert code == 0
    status = json.loads(out)
    assert status["running"] == []
    assert [a["rule"] for a in status["alerts"]] == ["run_failed"]
    code, out, _ = cli(capsys, "status")
    assert "recent alerts" in out


def test_cancel_of_a_finished_run_says_so(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = cli(capsys, "run", "calc", "--json")
    run_id = json.loads(out)["run_id"]
    code, _, err = cli(capsys, "cancel", run_id)
    assert code == 1
    assert "already finished" in err


def test_db_backup_and_restore_round_trip(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cli(capsys, "run", "calc", "-q")
    backup = project / "backup.db"
    code, out, _ = cli(capsys, "db", "backup", str(backup))
    assert code == 0
    assert backup.exists()
    cli(capsys, "run", "calc", "-q")
    code, out, _ = cli(capsys, "runs", "list", "--json")
    assert len(json.loads(out)) == 2
    code, _, err = cli(capsys, "db", "restore", str(backup), "--yes")
    assert code == 0, err
    code, out, _ = cli(capsys, "runs", "list", "--json")
    assert len(json.loads(out)) == 1
    code, out, _ = cli(capsys, "db", "purge", "--older-than-days", "0")
    assert code == 0
    assert "deleted 1 run" in out

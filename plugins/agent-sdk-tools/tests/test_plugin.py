"""The plugin as a whole: entry point, registration, the shared settings table, a light hooks
module, and the tools driven by the workflow engine."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
import time
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest
from agent_sdk_tools import hooks
from agent_sdk_tools.config import ToolsConfig
from agent_sdk_tools.execute import PythonExec, Shell
from agent_sdk_tools.fetch import HttpFetch
from agent_sdk_tools.files import ListDir, ReadFile, WriteFile
from agent_sdk_tools.search import WebSearch

from agent_sdk.app import App
from agent_sdk.config import load_config
from agent_sdk.errors import ConfigError
from agent_sdk.kinds.sandbox import ExecutionRequest, ExecutionResult, Sandbox
from agent_sdk.kinds.tool import Tool
from agent_sdk.plugins import get_plugin_manager, module_plugin
from agent_sdk.runtime.engine import Engine
from agent_sdk.testing.memory import MemoryStorage

ALL_TOOLS: list[type[Tool]] = [
    ReadFile,
    WriteFile,
    ListDir,
    HttpFetch,
    WebSearch,
    PythonExec,
    Shell,
]


def test_entry_point_named_after_the_plugin_targets_the_hooks_module() -> None:
    (entry_point,) = [ep for ep in entry_points(group="agent_sdk") if ep.name == "tools"]
    assert entry_point.load() is hooks


def test_plugin_registers_the_seven_tools(plugin_manager, register_plugin) -> None:
    register_plugin(hooks, name="tools")
    registry = plugin_manager.registry()
    for cls in ALL_TOOLS:
        assert registry.get("tool", cls.name) is cls
    assert sorted(c.name for c in ALL_TOOLS) == [
        "http_fetch",
        "list_dir",
        "python_exec",
        "read_file",
        "shell",
        "web_search",
        "write_file",
    ]


def test_read_only_tools_are_marked_without_side_effects() -> None:
    pure = {cls.name for cls in ALL_TOOLS if not cls.side_effects}
    assert pure == {"read_file", "list_dir", "http_fetch", "web_search"}


def test_every_tool_shares_one_flat_settings_table(plugin_manager, register_plugin) -> None:
    register_plugin(hooks, name="tools")
    assert all(cls.Config is ToolsConfig for cls in ALL_TOOLS)
    schema = plugin_manager.registry().plugin_schema("tools")
    assert schema["additionalProperties"] is False
    for key in ("workspace_root", "max_read_bytes", "http_timeout_s", "search_timeout_s"):
        assert key in schema["properties"]


def test_every_setting_and_argument_is_described() -> None:
    for name, field in ToolsConfig.model_fields.items():
        assert field.description, f"[plugins.tools] {name} has no description"
    for cls in ALL_TOOLS:
        assert cls.description
        for name, field in cls.Arguments.model_fields.items():
            assert field.description, f"{cls.name}.{name} has no description"
        assert cls.spec().parameters["additionalProperties"] is False


def test_plugin_table_is_validated_at_start_up(register_plugin, make_config) -> None:
    register_plugin(hooks, name="tools")
    config = make_config(
        textwrap.dedent(
            """
            [plugins.tools]
            max_read_bytes = 4096
            http_allow_domains = ["example.com"]
            http_rate_limit = { rate = 2, per_s = 1.0 }
            """
        )
    )
    assert config.plugins.settings("tools")["max_read_bytes"] == 4096
    with pytest.raises(ConfigError, match="unknown key"):
        make_config("[plugins.tools]\nmax_read_byte = 1\n")
    with pytest.raises(ConfigError, match="http_allow_domains"):
        make_config('[plugins.tools]\nhttp_allow_domains = ["https://example.com/"]\n')


def test_loading_the_plugin_imports_neither_httpx_nor_ddgs() -> None:
    probe = textwrap.dedent(
        """
        import json, sys
        import agent_sdk_tools.hooks as hooks
        after_import = sorted(m for m in ("httpx", "ddgs", "lxml", "primp") if m in sys.modules)
        hooks.agent_sdk_register_tools()
        after_register = sorted(m for m in ("httpx", "ddgs", "lxml", "primp") if m in sys.modules)
        print(json.dumps([after_import, after_register]))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(out.stdout) == [[], []]


# --- through the engine ---------------------------------------------------------------------


class SubprocessSandbox(Sandbox):
    """Runs code in a plain subprocess (no isolation: tests only)."""

    name = "test-subprocess"

    def probe(self) -> dict[str, Any]:
        return {}

    async def execute(self, request: ExecutionRequest) -> ExecutionResult:
        argv = [sys.executable, "-c", request.code]
        if request.language == "bash":
            argv = ["bash", "-c", request.code]
        started = time.monotonic()
        proc = await asyncio.create_subprocess_exec(
            *argv, cwd=request.workspace, stdout=asyncio.subprocess.PIPE
        )
        out, _ = await asyncio.wait_for(proc.communicate(), request.timeout_s)
        return ExecutionResult(
            exit_code=proc.returncode,
            stdout=out.decode(),
            stderr="",
            duration_s=time.monotonic() - started,
        )


WORKFLOW = """
[sandbox]
backend = "test-subprocess"

[plugins.tools]
exec_in_workspace = true

[workflows.files]
[[workflows.files.tasks]]
id = "write"
tool = "write_file"
args = { path = "out/greeting.txt", content = "${input.text}" }

[[workflows.files.tasks]]
id = "read"
tool = "read_file"
args = { path = "${tasks.write.output.path}" }
depends_on = ["write"]

[[workflows.files.tasks]]
id = "count"
tool = "python_exec"
args = { code = "print(len(open('out/greeting.txt').read()))" }
depends_on = ["write"]

[[workflows.files.tasks]]
id = "listing"
tool = "list_dir"
args = { recursive = true }
depends_on = ["write"]

[workflows.escape]
[[workflows.escape.tasks]]
id = "steal"
tool = "read_file"
args = { path = "../secret.txt" }
"""


def make_engine_app() -> App:
    pm = get_plugin_manager(load_entrypoints=False, env={})
    pm.register(hooks, name="tools")
    pm.register(
        module_plugin("test-sandbox", agent_sdk_register_sandboxes=lambda: [SubprocessSandbox])
    )
    return App(load_config(text=WORKFLOW, env={}, pm=pm), pm, {})


async def test_a_workflow_writes_reads_and_runs_code_in_the_run_workspace(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    storage = MemoryStorage()
    engine = Engine(make_engine_app(), storage, workspace=workspace)
    result = await engine.run("files", {"text": "hello from a workflow"})
    assert result.status == "succeeded", result.error
    assert result.outputs["write"]["path"] == "out/greeting.txt"
    assert result.outputs["read"]["content"] == "hello from a workflow"
    assert result.outputs["count"]["stdout"] == "21\n"
    assert result.outputs["count"]["sandbox"] == "test-subprocess"
    assert [e["name"] for e in result.outputs["listing"]["entries"]] == [
        "out",
        "out/greeting.txt",
    ]
    assert (workspace / "out" / "greeting.txt").read_text() == "hello from a workflow"
    steps = await storage.get_steps(result.run_id)
    assert sum(1 for s in steps if s.type == "tool_result") == 4


async def test_a_workflow_task_cannot_read_outside_the_run_workspace(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (tmp_path / "secret.txt").write_text("secret")
    engine = Engine(make_engine_app(), MemoryStorage(), workspace=workspace)
    result = await engine.run("escape")
    assert result.status == "failed"
    assert "outside the workspace" in result.tasks["steal"].error["message"]

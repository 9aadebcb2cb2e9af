"""A secret planted in a run never reaches storage (events, tasks, run, alerts, journal) or logs."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest

from agent_sdk.app import App
from agent_sdk.config import Config
from agent_sdk.errors import ToolError
from agent_sdk.kinds.agent import Agent, AgentContext, AgentResult
from agent_sdk.kinds.storage import StorageBackend
from agent_sdk.kinds.tool import tool
from agent_sdk.logging import configure_logging
from agent_sdk.messages import Message
from agent_sdk.plugins import AgentSDKPluginManager
from agent_sdk.runtime.engine import Engine
from agent_sdk.runtime.loop import render_input, run_tool_loop
from agent_sdk.secrets import REDACTOR, resolve
from agent_sdk.testing.memory import MemoryStorage

SECRET = "sk-planted-7f3a9c1e5b"


@tool(threaded=False)
def leaky(query: str) -> str:
    """Fails with the secret in its message, the way a careless client library does."""
    raise ToolError(f"upstream rejected key {SECRET} for {query!r}")


class Loop(Agent):
    name = "loop"

    async def run(self, task_input: Any, ctx: AgentContext) -> AgentResult:
        return await run_tool_loop(ctx, [Message.user(render_input(task_input))])


@pytest.fixture(params=["memory", "sqlite"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> StorageBackend:
    if request.param == "memory":
        return MemoryStorage()
    sqlite = pytest.importorskip("agent_sdk_sqlite.storage")
    return sqlite.SQLiteStorage(sqlite.SQLiteStorage.Config(path=str(tmp_path / "runs.db")))


async def test_a_planted_secret_reaches_no_stored_record_and_no_log_line(
    storage: StorageBackend,
    plugin_manager: AgentSDKPluginManager,
    register_plugin: Callable[..., str],
    make_config: Callable[..., Config],
) -> None:
    REDACTOR.clear()
    assert resolve({"env": "LEAKY_KEY"}, env={"LEAKY_KEY": SECRET}) == SECRET
    register_plugin(
        agent_sdk_register_tools=lambda: [leaky], agent_sdk_register_agents=lambda: [Loop]
    )
    config = make_config(
        f"""
[models.default]
provider = "scripted"
responses = [
  {{ tool_calls = [ {{ name = "leaky", arguments = {{ query = "q" }} }} ] }},
  {{ content = "the key {SECRET} did not work" }},
]
[agents.a]
type = "loop"
[workflows.w]
[[workflows.w.tasks]]
id = "t"
agent = "a"
input = "use the key"
[[workflows.w.tasks]]
id = "fail"
tool = "leaky"
args = {{ query = "again" }}
depends_on = ["t"]
"""
    )
    logs = io.StringIO()
    configure_logging("json", "debug", stream=logs)
    await storage.open()
    try:
        async with Engine(App(config, plugin_manager, {}), storage) as engine:
            result = await engine.run("w")
        assert result.status == "failed"
        dumped = json.dumps(
            {
                "run": attrs.asdict(await storage.get_run(result.run_id)),  # type: ignore[arg-type]
                "tasks": [attrs.asdict(t) for t in await storage.list_tasks(result.run_id)],
                "events": [attrs.asdict(e) for e in await storage.list_events(result.run_id)],
                "steps": [
                    attrs.asdict(s)
                    for s in await storage.get_steps(result.run_id)
                    if s.type != "model_response"
                ],
                "alerts": [attrs.asdict(a) for a in await storage.list_alerts()],
            },
            default=str,
        )
    finally:
        await storage.close()
        REDACTOR.clear()
    assert "upstream rejected key" in dumped, "the error itself is kept"
    assert SECRET not in dumped, dumped[
        max(dumped.find(SECRET) - 300, 0) : dumped.find(SECRET) + 50
    ]
    assert "***" in dumped
    assert SECRET not in logs.getvalue()

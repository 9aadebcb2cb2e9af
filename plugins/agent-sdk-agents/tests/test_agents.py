"""The agents plugin: discovery, registration, settings, and ``tool-agent`` end to end."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points
from typing import Any

import pytest
from agent_sdk_agents import hooks
from agent_sdk_agents.code_agent import CodeAgent
from agent_sdk_agents.research_agent import ResearchAgent
from agent_sdk_agents.tool_agent import DEFAULT_SYSTEM_PROMPT, ToolAgent

from agent_sdk.errors import ConfigError
from agent_sdk.runtime.engine import Engine
from agent_sdk.testing.memory import MemoryStorage


def test_entry_point_named_after_the_plugin_targets_the_hooks_module() -> None:
    (entry_point,) = [ep for ep in entry_points(group="agent_sdk") if ep.name == "agents"]
    assert entry_point.load() is hooks


def test_importing_the_hooks_module_imports_no_agent_module() -> None:
    code = (
        "import sys, agent_sdk_agents.hooks; "
        "print(sorted(m for m in sys.modules if m.startswith('agent_sdk_agents')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['agent_sdk_agents', 'agent_sdk_agents.hooks']"


def test_plugin_registers_the_three_agent_types(plugin_manager: Any, register_plugin: Any) -> None:
    register_plugin(hooks, name="agents")
    registry = plugin_manager.registry()
    assert registry.get("agent", "tool-agent") is ToolAgent
    assert registry.get("agent", "code-agent") is CodeAgent
    assert registry.get("agent", "research-agent") is ResearchAgent


def test_plugin_table_is_the_union_of_the_agent_configs(
    plugin_manager: Any, register_plugin: Any, make_config: Any
) -> None:
    register_plugin(hooks, name="agents")
    schema = plugin_manager.registry().plugin_schema("agents")
    assert {"system_prompt", "max_attempts", "language", "search_tool"} <= set(schema["properties"])
    config = make_config("[plugins.agents]\nmax_attempts = 5\ntemperature = 0.2\n")
    assert config.plugins.settings("agents") == {"max_attempts": 5, "temperature": 0.2}
    with pytest.raises(ConfigError, match="unknown key"):
        make_config("[plugins.agents]\nmax_attempt = 5\n")


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('type = "code-agent"\nmax_attempts = 0', "agents.a.max_attempts"),
        ('type = "code-agent"\nlanguage = "ruby"', "agents.a.language"),
        ('type = "tool-agent"\nmax_attempts = 2', "agents.a.max_attempts: unknown key"),
        ('type = "research-agent"\nmax_sources = "3"', "agents.a.max_sources"),
    ],
)
def test_agent_options_are_validated_against_the_agent_type(
    register_plugin: Any, make_config: Any, table: str, message: str
) -> None:
    register_plugin(hooks, name="agents")
    with pytest.raises(ConfigError, match=message):
        make_config(f'[models.default]\nprovider = "scripted"\n[agents.a]\n{table}\n')


async def test_tool_agent_calls_its_tools_and_outputs_the_final_text(
    app_factory: Any, wf: Any, world: Any
) -> None:
    app = app_factory(
        """
[models.default]
provider = "scripted"
responses = [
  { tool_calls = [ { name = "web_search", arguments = { query = "answer" } } ], expect = { tools_offered = ["web_search"] } },
  { content = "It is 42.", expect = { last_role = "tool", last_message_contains = "alpha" } },
]
[agents.helper]
type = "tool-agent"
tools = ["web_search"]
temperature = 0.1
"""
        + wf("helper", "find the answer")
    )
    async with Engine(app, MemoryStorage()) as engine:
        result = await engine.run("w")
        first, _ = engine.services.model("default").calls  # type: ignore[attr-defined]
    assert result.status == "succeeded", result.error
    assert result.outputs["t"] == "It is 42."
    assert world.searches == [{"query": "answer", "max_results": 5}]
    assert first.messages[0].content == DEFAULT_SYSTEM_PROMPT
    assert first.messages[1].content == "find the answer"
    assert first.temperature == 0.1
    assert [spec.name for spec in first.tools] == ["web_search"]


async def test_tool_agent_system_prompt_comes_from_the_plugin_table_or_the_agent(
    app_factory: Any, wf: Any
) -> None:
    app = app_factory(
        """
[models.default]
provider = "scripted"
responses = [ { content = "a" }, { content = "b" } ]
[plugins.agents]
system_prompt = "Plugin-wide prompt."
[agents.plain]
type = "tool-agent"
[agents.own]
type = "tool-agent"
system_prompt = "Own prompt."
[workflows.w]
[[workflows.w.tasks]]
id = "one"
agent = "plain"
input = "x"
[[workflows.w.tasks]]
id = "two"
agent = "own"
input = "y"
depends_on = ["one"]
"""
    )
    async with Engine(app, MemoryStorage()) as engine:
        result = await engine.run("w")
        calls = engine.services.model("default").calls  # type: ignore[attr-defined]
    assert result.outputs == {"one": "a", "two": "b"}
    assert [c.messages[0].content for c in calls] == ["Plugin-wide prompt.", "Own prompt."]


async def test_tool_agent_limits_are_enforced_by_the_runtime(
    app_factory: Any, run: Any, wf: Any
) -> None:
    calls = ", ".join(
        f'{{ tool_calls = [ {{ name = "web_search", arguments = {{ query = "q{i}" }} }} ] }}'
        for i in range(3)
    )
    app = app_factory(
        f'[models.default]\nprovider = "scripted"\nresponses = [ {calls} ]\n'
        '[agents.helper]\ntype = "tool-agent"\nmax_turns = 2\n' + wf("helper")
    )
    result = await run(app)
    assert result.status == "failed"
    assert result.tasks["t"].error["type"] == "BudgetExceededError"

"""Tests of the alerts plugin, run against the installed distribution."""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest
from agent_sdk_alerts import hooks
from agent_sdk_alerts.tools import Echo

from agent_sdk.errors import ConfigError
from agent_sdk.kinds.tool import ToolContext
from agent_sdk.messages import ToolCall


def test_entry_point_named_after_the_plugin_targets_the_hooks_module() -> None:
    (entry_point,) = [ep for ep in entry_points(group="agent_sdk") if ep.name == "alerts"]
    assert entry_point.load() is hooks


def test_plugin_registers_the_echo_tool(plugin_manager, register_plugin) -> None:
    register_plugin(hooks, name="alerts")
    assert plugin_manager.registry().get("tool", "alerts_echo") is Echo


def test_plugin_table_is_validated_against_the_tool_config(register_plugin, make_config) -> None:
    register_plugin(hooks, name="alerts")
    assert make_config('[plugins.alerts]\nprefix = "> "\n').plugins.settings("alerts") == {
        "prefix": "> "
    }
    with pytest.raises(ConfigError, match="unknown key"):
        make_config('[plugins.alerts]\nprefx = "> "\n')


@pytest.mark.asyncio
async def test_echo_returns_the_text_after_the_configured_prefix() -> None:
    tool = Echo(Echo.Config(prefix="> "))
    call = ToolCall(id="c1", name="alerts_echo", arguments={"text": "hi"})
    result = await tool.invoke(call, ToolContext())
    assert result.ok
    assert result.data == "> hi"


@pytest.mark.asyncio
async def test_echo_reports_invalid_arguments_as_a_structured_error() -> None:
    call = ToolCall(id="c1", name="alerts_echo", arguments={"txt": "hi"})
    result = await Echo().invoke(call, ToolContext())
    assert not result.ok
    assert result.error is not None
    assert result.error["type"] == "ToolValidationError"

"""Hook implementations of the ``agents`` plugin (the target of its ``agent_sdk`` entry point).

Every agent-sdk application imports this module at start-up, so it stays light: the agent
modules are imported inside the registration hook.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent_sdk import hookimpl

if TYPE_CHECKING:
    from agent_sdk.kinds.agent import Agent


@hookimpl
def agent_sdk_register_agents() -> list[type[Agent]]:
    """Register ``tool-agent``, ``code-agent`` and ``research-agent``."""
    from agent_sdk_agents.code_agent import CodeAgent
    from agent_sdk_agents.research_agent import ResearchAgent
    from agent_sdk_agents.tool_agent import ToolAgent

    return [ToolAgent, CodeAgent, ResearchAgent]

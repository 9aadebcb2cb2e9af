"""What the plugin's agents share: the common ``Config`` fields and small helpers.

The ``[plugins.agents]`` table is the union of the three agents' ``Config`` models, and the
kernel refuses two components defining one setting differently. So settings every agent has
(``system_prompt``, ``temperature``, ``max_tokens``) are declared once, here, and each agent
applies its own default in code when the value is unset.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from agent_sdk.errors import ToolError
from agent_sdk.kinds.agent import AgentContext
from agent_sdk.kinds.base import EmptyConfig
from agent_sdk.messages import ToolSpec

__all__ = ["AgentOptions", "clip", "query_of", "require_tool"]


class AgentOptions(EmptyConfig):
    """Settings every agent of this plugin has (``[agents.<name>]`` or ``[plugins.agents]``)."""

    system_prompt: str | None = Field(
        None,
        description="System prompt of the agent; unset: the agent type's built-in prompt.",
    )
    temperature: float | None = Field(
        None, ge=0, le=2, description="Sampling temperature of every model call; unset: model's."
    )
    max_tokens: int | None = Field(
        None, ge=1, description="Completion cap per model call, in tokens; unset: model's."
    )


def require_tool(ctx: AgentContext, tool: str, agent: str, setting: str) -> ToolSpec:
    """The spec of *tool*, which the agent must be allowed to call.

    Raises:
        ToolError: *tool* is not registered or not in the agent's ``tools`` list.
    """
    for spec in ctx.tool_specs([tool]):
        if spec.name == tool:
            return spec
    raise ToolError(
        f"{agent}: tool {tool!r} (setting {setting!r}) is not available to this agent",
        hint=f"install the plugin that provides {tool!r} and list it in `tools` of the "
        f"[agents.<name>] table, or set {setting} to a tool that is",
    )


def clip(text: str, limit: int, *, keep: str = "end") -> str:
    """*text* cut to at most *limit* characters, keeping its end (errors) or start (pages)."""
    if len(text) <= limit:
        return text
    marker = f"[... {len(text) - limit} characters cut ...]"
    if keep == "end":
        return marker + "\n" + text[len(text) - limit :]
    return text[:limit] + "\n" + marker


def query_of(task_input: Any, keys: tuple[str, ...] = ("query", "question", "topic")) -> str:
    """The question a task input asks: the text itself, or the first of *keys* in a mapping."""
    from agent_sdk.runtime.loop import render_input

    if isinstance(task_input, Mapping):
        for key in keys:
            value = task_input.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()
    return render_input(task_input).strip()

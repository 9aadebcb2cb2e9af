"""``tool-agent``: the kernel's tool-calling loop over the tools the agent is given."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from agent_sdk.kinds.agent import Agent, AgentContext, AgentResult
from agent_sdk.messages import Message
from agent_sdk.runtime.loop import render_input, run_tool_loop
from agent_sdk_agents._common import AgentOptions

__all__ = ["DEFAULT_SYSTEM_PROMPT", "ToolAgent"]

DEFAULT_SYSTEM_PROMPT = (
    "You are a capable assistant. Use the tools you are given when they help you answer "
    "correctly; read each tool result before continuing. When you are done, reply with the "
    "final answer only, without calling a tool."
)


class ToolAgent(Agent):
    """Model → tool calls → results → model ... until the model answers without a tool.

    The tools offered are the agent's ``tools`` (every registered tool when unset). The output
    is the model's final text. Limits (``max_turns``, ``max_tool_calls``, ``token_budget``)
    are enforced by the runtime.
    """

    name: ClassVar[str] = "tool-agent"
    description: ClassVar[str] = "Tool-calling loop over its configured tools; output: final text."

    class Config(AgentOptions):
        """``tool-agent`` settings (plus the shared ``system_prompt``, ``temperature``...)."""

        max_validation_retries: int = Field(
            2,
            ge=0,
            le=10,
            description="Invalid-argument tool calls tolerated per tool before the task fails.",
        )

    async def run(self, task_input: Any, ctx: AgentContext) -> AgentResult:
        config: ToolAgent.Config = self.config
        messages = [
            Message.system(config.system_prompt or DEFAULT_SYSTEM_PROMPT),
            Message.user(render_input(task_input)),
        ]
        return await run_tool_loop(
            ctx,
            messages,
            temperature=config.temperature,
            max_tokens=config.max_tokens,
            max_validation_retries=config.max_validation_retries,
        )

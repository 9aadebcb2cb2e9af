"""Agents: given a task input, produce an output, usually by calling a model and tools.

An agent does not talk to storage, retries or tracing itself: it asks its
:class:`AgentContext` for a model and tools, and the runtime behind that context makes every
model call and tool call durable (journaled before the next step), retried, rate limited and
traced. That is what lets a crashed run resume without repeating a tool call.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict, Field

from agent_sdk.kinds.base import Component, Kind
from agent_sdk.messages import (
    Message,
    ModelRequest,
    ModelResponse,
    ToolCall,
    ToolResult,
    ToolSpec,
    Usage,
)

__all__ = ["Agent", "AgentContext", "AgentResult"]


class AgentResult(BaseModel):
    """What an agent returns.

    Attributes:
        output: the final answer (text or any JSON-serialisable value).
        messages: the conversation that produced it.
        usage: tokens used by all of the agent's model calls.
        turns: model calls made.
        tool_calls: tool calls made.
    """

    model_config = ConfigDict(extra="forbid")

    output: Any = None
    messages: list[Message] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    turns: int = 0
    tool_calls: int = 0


class AgentContext(Protocol):
    """Runtime services an agent uses (implemented by the runtime; a test can fake it).

    Attributes:
        run_id: the current run.
        task_id: the current workflow task.
    """

    run_id: str
    task_id: str

    def tool_specs(self, names: list[str] | None = None) -> list[ToolSpec]:
        """Specs of the tools this agent may call (``names``: a subset, ``None``: all allowed)."""
        ...

    async def call_model(self, request: ModelRequest, *, model: str | None = None) -> ModelResponse:
        """Make one durable, retried, traced model call.

        Args:
            request: the call.
            model: a configured model name; ``None`` for the agent's default.

        Raises:
            ModelProviderError: after retries are exhausted.
            BudgetExceededError: a token budget or turn limit would be exceeded.
        """
        ...

    async def call_tools(self, calls: list[ToolCall]) -> list[ToolResult]:
        """Run tool calls (concurrently where there are several), durably, in request order.

        A recorded result is replayed instead of running the tool again.
        """
        ...


class Agent(Component):
    """Base class of agents (registered by ``agent_sdk_register_agents``)."""

    kind: ClassVar[Kind] = "agent"

    @abstractmethod
    async def run(self, task_input: Any, ctx: AgentContext) -> AgentResult:
        """Work on *task_input* (text or a JSON value built from upstream task outputs).

        Returns:
            The agent's result.

        Raises:
            AgentSDKError: when the agent cannot finish; the task fails with it.
        """

"""The tool-calling agent loop: model → tool calls → results → model ... → final answer.

:func:`run_tool_loop` is what a tool-using agent does; agents call it with their context and
prompt. Durability, retries, rate limits, breakers, tracing and the run's limits (max turns,
max tool calls, token budget) are enforced by the :class:`~agent_sdk.kinds.agent.AgentContext`
behind ``ctx.call_model`` / ``ctx.call_tools``, so the loop itself stays small and the same
code runs live or replayed from the journal after a crash.

Argument validation errors go back to the model as structured tool results so it can correct
itself; each tool gets at most ``max_validation_retries`` such corrections before the loop
gives up with :class:`~agent_sdk.errors.ToolValidationError`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from agent_sdk.errors import ToolValidationError
from agent_sdk.kinds.agent import AgentContext, AgentResult
from agent_sdk.messages import Message, ModelRequest, ToolSpec, Usage

__all__ = ["render_input", "run_tool_loop"]


def render_input(task_input: Any) -> str:
    """Turn a task input (text or JSON) into the user message text."""
    if isinstance(task_input, str):
        return task_input
    import json

    return json.dumps(task_input, indent=2, default=str, ensure_ascii=False)


async def run_tool_loop(
    ctx: AgentContext,
    messages: Sequence[Message],
    *,
    tools: Sequence[ToolSpec] | None = None,
    model: str | None = None,
    temperature: float | None = None,
    max_tokens: int | None = None,
    max_validation_retries: int = 2,
) -> AgentResult:
    """Run the loop until the model answers without calling a tool.

    Args:
        ctx: the agent's context (durable model and tool calls, limits).
        messages: the conversation to start from (usually system + user).
        tools: tool specs offered to the model (default: every tool the agent may use).
        model: configured model name (default: the agent's).
        temperature: sampling override.
        max_tokens: completion cap per call, in tokens.
        max_validation_retries: argument-validation failures tolerated per tool.

    Returns:
        :class:`AgentResult` with the final text as ``output``, the conversation, usage, turns
        and tool-call count.

    Raises:
        BudgetExceededError: max turns, max tool calls or the token budget was exceeded
            (raised by the context).
        ToolValidationError: a tool's arguments failed validation more than
            *max_validation_retries* times.
        ModelProviderError: the model failed after retries.
    """
    conversation = list(messages)
    specs = tuple(tools if tools is not None else ctx.tool_specs())
    usage = Usage()
    turns = 0
    tool_calls = 0
    invalid: Counter[str] = Counter()
    while True:
        response = await ctx.call_model(
            ModelRequest(
                messages=tuple(conversation),
                tools=specs,
                temperature=temperature,
                max_tokens=max_tokens,
            ),
            model=model,
        )
        turns += 1
        usage = usage + response.usage
        conversation.append(response.message)
        calls = list(response.message.tool_calls)
        if not calls:
            return AgentResult(
                output=response.message.content or "",
                messages=conversation,
                usage=usage,
                turns=turns,
                tool_calls=tool_calls,
            )
        results = await ctx.call_tools(calls)
        tool_calls += len(calls)
        for result in results:
            conversation.append(Message.tool(result))
            if not result.ok and (result.error or {}).get("type") == "ToolValidationError":
                invalid[result.name] += 1
                if invalid[result.name] > max_validation_retries:
                    raise ToolValidationError(
                        f"the model sent invalid arguments to tool {result.name!r} "
                        f"{invalid[result.name]} times; last error: "
                        f"{(result.error or {}).get('message')}",
                        hint="use a stronger model, constrain decoding, or simplify the schema",
                    )

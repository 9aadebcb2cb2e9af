"""Payloads of the runtime event hooks (``agent_sdk_before_*`` / ``agent_sdk_after_*``).

They are small frozen attrs classes: cheap to build on every model and tool call, and safe to
hand to any plugin (a plugin cannot change the runtime's state through them).
"""

from __future__ import annotations

from typing import Any, Literal

import attrs

from agent_sdk.messages import ModelRequest, ToolCall

__all__ = ["ModelCallInfo", "Outcome", "RunInfo", "TaskInfo", "ToolCallInfo"]


@attrs.frozen
class RunInfo:
    """A run: ``run_id``, ``workflow`` name, its ``input`` (JSON) and whether it is ``resumed``."""

    run_id: str
    workflow: str
    input: Any = None
    resumed: bool = False


@attrs.frozen
class TaskInfo:
    """A task of a run.

    Attributes:
        run_id: the run.
        task_id: the task's id in the workflow.
        type: ``"agent"`` (runs an agent) or ``"tool"`` (one deterministic tool call).
        target: the agent's or tool's name.
        attempt: 1 for the first try.
    """

    run_id: str
    task_id: str
    type: Literal["agent", "tool"]
    target: str
    attempt: int = 1


@attrs.frozen
class ModelCallInfo:
    """A model call.

    Attributes:
        run_id: the run (``""`` outside one).
        task_id: the task (``""`` outside one).
        model: the configured model name.
        provider: the provider's registered name.
        request: the request being sent.
        index: 0-based count of model calls in this task.
    """

    run_id: str
    task_id: str
    model: str
    provider: str
    request: ModelRequest
    index: int = 0


@attrs.frozen
class ToolCallInfo:
    """A tool call: its ``run_id``, ``task_id``, the ``call`` and whether it was ``replayed``
    from the journal instead of executed."""

    run_id: str
    task_id: str
    call: ToolCall
    replayed: bool = False


@attrs.frozen
class Outcome:
    """How something ended.

    Attributes:
        status: ``"succeeded"``, ``"failed"`` or ``"cancelled"``.
        output: the result (JSON) when succeeded.
        error: ``AgentSDKError.to_dict()`` when failed or cancelled.
        duration_s: wall-clock seconds.
    """

    status: Literal["succeeded", "failed", "cancelled"]
    output: Any = None
    error: dict[str, Any] | None = None
    duration_s: float = 0.0

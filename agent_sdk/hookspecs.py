# mypy: disable-error-code="empty-body"
"""Every agent-sdk hook specification, grouped by phase.

A plugin implements any subset of these with :data:`agent_sdk.hookimpl`::

    from agent_sdk import hookimpl

    @hookimpl
    def agent_sdk_register_tools():
        return [MyTool]

Rules (house style 2-6): every hook is prefixed ``agent_sdk_``; registration hooks return
*lists of component classes*; runtime hooks are ``agent_sdk_before_<x>`` /
``agent_sdk_after_<x>`` and return nothing; specs only ever gain arguments, and an
implementation names only the arguments it needs. The kernel always calls hooks through
``pm.hook.<name>(...)``.

Phases, in the order an application goes through them:

1. **registration**: ``agent_sdk_register_*`` (called once while the registry is built),
2. **bootstrap**: ``agent_sdk_configure`` (configuration validated) then ``agent_sdk_startup``,
3. **runtime events**: before/after run, task, model call and tool call; ``agent_sdk_alert``,
4. **shutdown**: ``agent_sdk_shutdown``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent_sdk import hookspec

if TYPE_CHECKING:
    from pydantic import BaseModel

    from agent_sdk.config import Config
    from agent_sdk.events import ModelCallInfo, Outcome, RunInfo, TaskInfo, ToolCallInfo
    from agent_sdk.kinds.agent import Agent
    from agent_sdk.kinds.alerts import Alert, AlertSink
    from agent_sdk.kinds.model import ModelProvider
    from agent_sdk.kinds.sandbox import Sandbox
    from agent_sdk.kinds.storage import StorageBackend
    from agent_sdk.kinds.tool import Tool
    from agent_sdk.messages import ModelResponse, ToolResult

# --- registration ------------------------------------------------------------------------


@hookspec
def agent_sdk_register_model_providers() -> list[type[ModelProvider]]:
    """Return the model provider classes this plugin provides.

    Called once per plugin manager, while the component registry is built.

    Returns:
        A list of :class:`~agent_sdk.kinds.model.ModelProvider` subclasses (classes, not
        instances; the kernel instantiates them with their validated ``Config``).
    """


@hookspec
def agent_sdk_register_tools() -> list[type[Tool]]:
    """Return the tool classes this plugin provides.

    Called once per plugin manager, while the component registry is built.

    Returns:
        A list of :class:`~agent_sdk.kinds.tool.Tool` subclasses, e.g. made with
        :func:`agent_sdk.kinds.tool.tool`.
    """


@hookspec
def agent_sdk_register_agents() -> list[type[Agent]]:
    """Return the agent classes this plugin provides.

    Called once per plugin manager, while the component registry is built.

    Returns:
        A list of :class:`~agent_sdk.kinds.agent.Agent` subclasses.
    """


@hookspec
def agent_sdk_register_storage_backends() -> list[type[StorageBackend]]:
    """Return the storage backend classes this plugin provides.

    Called once per plugin manager, while the component registry is built.

    Returns:
        A list of :class:`~agent_sdk.kinds.storage.StorageBackend` subclasses.
    """


@hookspec
def agent_sdk_register_alert_sinks() -> list[type[AlertSink]]:
    """Return the alert sink classes this plugin provides.

    Called once per plugin manager, while the component registry is built.

    Returns:
        A list of :class:`~agent_sdk.kinds.alerts.AlertSink` subclasses.
    """


@hookspec
def agent_sdk_register_sandboxes() -> list[type[Sandbox]]:
    """Return the sandbox classes this plugin provides.

    Called once per plugin manager, while the component registry is built.

    Returns:
        A list of :class:`~agent_sdk.kinds.sandbox.Sandbox` subclasses.
    """


@hookspec
def agent_sdk_register_settings() -> list[type[BaseModel]]:
    """Return pydantic models of settings this plugin reads from ``[plugins.<name>]`` itself.

    For plugins whose settings are not a component's ``Config`` (a tracing exporter, a
    metrics endpoint...). Called once per plugin manager, while the registry is built. The
    plugin's table schema is the union of these models and its components' ``Config`` models;
    read the validated values in ``agent_sdk_configure`` with
    ``Model.model_validate(config.plugins.settings("<name>"))``.

    Returns:
        A list of pydantic model classes (``extra="forbid"`` recommended).
    """


# --- bootstrap ---------------------------------------------------------------------------


@hookspec
def agent_sdk_configure(config: Config) -> None:
    """React to the loaded configuration, before any work starts.

    Called once, after the whole file (core sections and every ``[plugins.<name>]`` table) has
    been validated. Raise :class:`~agent_sdk.errors.ConfigError` to reject a combination of
    settings a schema cannot express; the application then stops before doing anything.

    Args:
        config: the validated configuration (secret references not yet resolved).
    """


@hookspec
def agent_sdk_startup(config: Config) -> None:
    """Acquire process-wide resources (connection pools, exporters, background tasks).

    Called once when an application starts (``agent-sdk run``, the server...), after
    ``agent_sdk_configure``. Every plugin that started gets ``agent_sdk_shutdown``.

    Args:
        config: the validated configuration.
    """


# --- runtime events ----------------------------------------------------------------------


@hookspec
def agent_sdk_before_run(run: RunInfo) -> None:
    """Called when a run starts or resumes, before its first task is scheduled.

    Args:
        run: the run's id, workflow, input and whether it is resumed.
    """


@hookspec
def agent_sdk_after_run(run: RunInfo, outcome: Outcome) -> None:
    """Called once a run has finished (succeeded, failed or cancelled) and its state is stored.

    Args:
        run: the run.
        outcome: final status, outputs or error, and wall-clock duration in seconds.
    """


@hookspec
def agent_sdk_before_task(run: RunInfo, task: TaskInfo) -> None:
    """Called before each attempt of a task starts (its dependencies have succeeded).

    Args:
        run: the run.
        task: the task, its type (``"agent"``/``"tool"``), target and attempt number.
    """


@hookspec
def agent_sdk_after_task(run: RunInfo, task: TaskInfo, outcome: Outcome) -> None:
    """Called after each attempt of a task ends, once its state is stored.

    Args:
        run: the run.
        task: the task attempt.
        outcome: status, output or error, duration in seconds.
    """


@hookspec
def agent_sdk_before_model_call(call: ModelCallInfo) -> None:
    """Called before a model call is sent (not for calls replayed from the journal).

    A guardrail may raise :class:`~agent_sdk.errors.AgentSDKError` to block the call; the task
    then fails with that error.

    Args:
        call: run, task, configured model, provider and the request.
    """


@hookspec
def agent_sdk_after_model_call(
    call: ModelCallInfo, response: ModelResponse | None, error: BaseException | None
) -> None:
    """Called after a model call returns or fails (after retries).

    Args:
        call: the call.
        response: the response, or ``None`` if it failed.
        error: the final error, or ``None`` if it succeeded.
    """


@hookspec
def agent_sdk_before_tool_call(call: ToolCallInfo) -> None:
    """Called before a tool runs (not for results replayed from the journal).

    A guardrail may raise :class:`~agent_sdk.errors.ToolError` to refuse the call; the model then
    receives that error as the call's structured result.

    Args:
        call: run, task and the :class:`~agent_sdk.messages.ToolCall`.
    """


@hookspec
def agent_sdk_after_tool_call(call: ToolCallInfo, result: ToolResult) -> None:
    """Called after a tool call has a result (executed or replayed; see ``call.replayed``).

    Args:
        call: the call.
        result: the structured result (``ok``, ``data`` or ``error``).
    """


@hookspec
def agent_sdk_alert(alert: Alert) -> None:
    """Called when an alert rule fires, after deduplication and rate limiting.

    Delivery to configured alert sinks happens separately; implement this hook to observe
    alerts in-process (tests, custom routing).

    Args:
        alert: the alert.
    """


# --- shutdown ----------------------------------------------------------------------------


@hookspec
def agent_sdk_shutdown(config: Config) -> None:
    """Release what ``agent_sdk_startup`` acquired. Called once, even after a failed run.

    Args:
        config: the validated configuration.
    """


HOOK_NAMES: tuple[str, ...] = tuple(
    name for name in list(globals()) if name.startswith("agent_sdk_")
)
"""Every hook name, in declaration order (used by the docs completeness test)."""

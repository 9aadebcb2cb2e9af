"""Tools: functions a model (or a deterministic workflow step) can call.

A tool declares its arguments as a pydantic model (``Arguments``); its JSON Schema is what the
model sees, and every call's arguments are validated against it *before* the tool runs. A
validation failure becomes a :class:`~agent_sdk.messages.ToolResult` with ``ok=False`` that the
agent loop hands back to the model, so it can correct itself.

Most tools are plain functions wrapped by :func:`tool`; argument schemas come from the type
hints and the docstring::

    from agent_sdk.kinds.tool import tool

    @tool
    def add(a: int, b: int) -> int:
        \"\"\"Add two integers.\"\"\"
        return a + b
"""

from __future__ import annotations

import asyncio
import inspect
from abc import abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, get_type_hints, overload

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from agent_sdk.errors import AgentSDKError, ToolValidationError
from agent_sdk.kinds.base import Component, Kind
from agent_sdk.messages import ToolCall, ToolResult, ToolSpec

__all__ = ["FunctionTool", "NoArguments", "Tool", "ToolContext", "tool"]


class NoArguments(BaseModel):
    """Arguments model of a tool that takes none."""

    model_config = ConfigDict(extra="forbid")


class ToolContext:
    """What a running tool may know about its call.

    Attributes:
        run_id: the run this call belongs to (``""`` outside a run).
        task_id: the workflow task (``""`` outside a workflow).
        call_id: the tool call's id; with ``run_id`` it forms the call's idempotency key.
        workspace: the directory file tools are confined to, or ``None``.
        services: what the runtime offers a tool: ``"app"`` (the :class:`~agent_sdk.app.App`),
            ``"runtime"`` (:class:`~agent_sdk.runtime.context.Services`: ``.sandbox()`` is the
            configured sandbox, probed once), ``"idempotency_key"`` (stable across a crash
            and resume: a tool with external effects can deduplicate with it) and ``"mounts"``
            (the run's read-only sandbox mounts, mount point → host path, declared by the
            workflow; pass them to :class:`~agent_sdk.kinds.sandbox.ExecutionRequest`). Empty
            outside a run.
    """

    __slots__ = ("call_id", "run_id", "services", "task_id", "workspace")

    def __init__(
        self,
        *,
        run_id: str = "",
        task_id: str = "",
        call_id: str = "",
        workspace: Path | None = None,
        services: dict[str, Any] | None = None,
    ) -> None:
        self.run_id = run_id
        self.task_id = task_id
        self.call_id = call_id
        self.workspace = workspace
        self.services = services or {}

    @property
    def idempotency_key(self) -> str:
        """``"<run_id>:<task_id>:<call_id>"``: identifies this call across a crash and resume."""
        return f"{self.run_id}:{self.task_id}:{self.call_id}"


class Tool(Component):
    """Base class of tools (registered by ``agent_sdk_register_tools``).

    Class attributes:
        Arguments: pydantic model of the call's arguments (``extra="forbid"`` recommended).
        side_effects: ``True`` (default) if running the tool twice differs from running it
            once. The runtime never re-executes a recorded call either way; this flag is
            informational for caches (only side-effect-free tools are cached).
    """

    kind: ClassVar[Kind] = "tool"
    Arguments: ClassVar[type[BaseModel]] = NoArguments
    side_effects: ClassVar[bool] = True

    @classmethod
    def spec(cls) -> ToolSpec:
        """Return what a model is told: name, description, JSON Schema of :attr:`Arguments`.

        Computed once per class (schema generation costs ~0.7 ms; a spec is immutable).
        """
        cached = cls.__dict__.get("_spec_cache")
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        schema = cls.Arguments.model_json_schema()
        schema.pop("title", None)
        spec = ToolSpec(name=cls.name, description=cls.description, parameters=schema)
        cls._spec_cache = spec  # type: ignore[attr-defined]
        return spec

    def validate_arguments(self, arguments: dict[str, Any]) -> BaseModel:
        """Validate raw arguments against :attr:`Arguments`.

        Raises:
            ToolValidationError: naming each invalid field, what was expected and what was found.
        """
        try:
            return self.Arguments.model_validate(arguments)
        except ValidationError as exc:
            problems = []
            for err in exc.errors(include_url=False):
                loc = ".".join(str(p) for p in err["loc"]) or "<arguments>"
                problems.append(f"{loc}: {err['msg']} (found {err.get('input')!r})")
            raise ToolValidationError(
                f"invalid arguments for tool {self.name!r}: " + "; ".join(problems),
                errors=[
                    {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]}
                    for e in exc.errors(include_url=False)
                ],
                hint=f"arguments must match the schema of {self.name!r}",
            ) from None

    @abstractmethod
    async def run(self, args: Any, ctx: ToolContext) -> Any:
        """Do the work.

        Args:
            args: an instance of :attr:`Arguments`, already validated.
            ctx: the call's context.

        Returns:
            Any JSON-serialisable value; it becomes :attr:`ToolResult.data`.

        Raises:
            ToolError: an expected failure, reported to the model as a structured error.
        """

    async def invoke(self, call: ToolCall, ctx: ToolContext) -> ToolResult:
        """Validate *call*'s arguments, run the tool, and wrap the outcome in a :class:`ToolResult`.

        Never raises for tool failures: validation errors, :class:`~agent_sdk.errors.ToolError`
        and unexpected exceptions all become ``ok=False`` results whose ``error`` says what
        happened. ``asyncio.CancelledError`` propagates (cancellation is not a tool failure).
        """
        try:
            args = self.validate_arguments(call.arguments)
            data = await self.run(args, ctx)
        except AgentSDKError as exc:
            return ToolResult(call_id=call.id, name=call.name, ok=False, error=exc.to_dict())
        except Exception as exc:  # a tool bug must not kill the run  # noqa: BLE001 - isolate a plugin/tool failure
            from agent_sdk.secrets import REDACTOR

            return ToolResult(
                call_id=call.id,
                name=call.name,
                ok=False,
                error={
                    "type": type(exc).__name__,
                    "message": REDACTOR.redact(str(exc)),
                    "hint": None,
                    "transient": False,
                },
            )
        return ToolResult(call_id=call.id, name=call.name, ok=True, data=data)


class FunctionTool(Tool):
    """A tool made from a function by :func:`tool`. See there."""

    function: ClassVar[Callable[..., Any]]
    context_parameter: ClassVar[str | None] = None
    threaded: ClassVar[bool] = True

    async def run(self, args: Any, ctx: ToolContext) -> Any:
        kwargs = {name: getattr(args, name) for name in type(args).model_fields}
        if self.context_parameter:
            kwargs[self.context_parameter] = ctx
        fn = type(self).function
        if inspect.iscoroutinefunction(fn):
            return await fn(**kwargs)
        if self.threaded:
            return await asyncio.to_thread(fn, **kwargs)
        return fn(**kwargs)


def _first_paragraph(doc: str | None) -> str:
    if not doc:
        return ""
    return inspect.cleandoc(doc).split("\n\n", 1)[0].replace("\n", " ").strip()


@overload
def tool(fn: Callable[..., Any], /) -> type[FunctionTool]: ...


@overload
def tool(
    fn: None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    side_effects: bool = True,
    threaded: bool = True,
) -> Callable[[Callable[..., Any]], type[FunctionTool]]: ...


def tool(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    side_effects: bool = True,
    threaded: bool = True,
) -> type[FunctionTool] | Callable[[Callable[..., Any]], type[FunctionTool]]:
    """Make a :class:`Tool` class from a function.

    The argument schema comes from the function's type hints and defaults; a parameter
    annotated :class:`ToolContext` receives the call's context instead of a model argument.
    Synchronous functions run in a worker thread (``threaded=True``, the default) so a slow
    tool cannot stall the event loop; pass ``threaded=False`` for trivial pure functions.

    Args:
        fn: the function (when used as ``@tool`` without parentheses).
        name: tool name; defaults to the function's name.
        description: defaults to the docstring's first paragraph.
        side_effects: see :attr:`Tool.side_effects`.
        threaded: run a synchronous function in a thread.

    Returns:
        A :class:`FunctionTool` subclass (register the class, not an instance).

    Raises:
        TypeError: a parameter has no type hint (the model needs a schema for it).
    """

    def wrap(func: Callable[..., Any]) -> type[FunctionTool]:
        hints = get_type_hints(func)
        fields: dict[str, Any] = {}
        ctx_param: str | None = None
        for pname, param in inspect.signature(func).parameters.items():
            if hints.get(pname) is ToolContext:
                ctx_param = pname
                continue
            if pname not in hints:
                raise TypeError(
                    f"tool {func.__qualname__}: parameter {pname!r} needs a type hint "
                    "(the model is given a JSON Schema built from the hints)"
                )
            default = ... if param.default is inspect.Parameter.empty else param.default
            fields[pname] = (hints[pname], default)
        tool_name = name or func.__name__
        args_model = create_model(
            f"{tool_name}_arguments", __config__=ConfigDict(extra="forbid"), **fields
        )
        attrs: dict[str, Any] = {
            "name": tool_name,
            "description": description
            if description is not None
            else _first_paragraph(func.__doc__),
            "Arguments": args_model,
            "function": staticmethod(func),
            "context_parameter": ctx_param,
            "side_effects": side_effects,
            "threaded": threaded,
            "__module__": func.__module__,
            "__doc__": func.__doc__,
        }
        return type(f"{tool_name}_tool", (FunctionTool,), attrs)

    if fn is not None:
        return wrap(fn)
    return wrap

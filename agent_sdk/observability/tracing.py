"""OpenTelemetry tracing from the runtime hooks (builtin plugin ``tracing``).

Enable it in the configuration file::

    [plugins.tracing]
    exporter = "otlp"                          # "none" (default), "console", "otlp", "memory"
    endpoint = "http://localhost:4318/v1/traces"
    service_name = "billing-agents"
    capture_content = false                    # prompts, answers, tool arguments/results

With ``exporter = "none"`` every hook returns at once and ``opentelemetry`` is never imported.
Otherwise the plugin needs ``pip install 'agent-sdk[otel]'`` (``otlp`` also needs
``opentelemetry-exporter-otlp-proto-http``, or ``-grpc`` with ``protocol = "grpc"``); a missing
package is a :class:`~agent_sdk.errors.ConfigError` naming the ``pip install`` to run, raised
by ``agent_sdk_configure`` before any work.

Spans (names and attributes follow the OpenTelemetry GenAI semantic conventions)::

    invoke_workflow {workflow}                  one execution of a run (a resume is a new trace)
    └── invoke_agent {agent} | task {task_id}   one task attempt (agent task | tool task)
        ├── chat {model}                        one model call (kind CLIENT)
        └── execute_tool {tool}                 one tool call (executed or replayed)

Every span carries ``agent_sdk.run_id`` (and, below the run, ``agent_sdk.task_id``) and
``agent_sdk.workflow`` on run and task spans. Model spans: ``gen_ai.operation.name = "chat"``,
``gen_ai.provider.name`` (the provider's registered name), ``gen_ai.request.model``,
``gen_ai.response.model``, ``gen_ai.response.finish_reasons``, ``gen_ai.usage.input_tokens`` /
``output_tokens``. Tool spans: ``gen_ai.operation.name = "execute_tool"``, ``gen_ai.tool.name``,
``gen_ai.tool.call.id``, ``agent_sdk.replayed`` (``true`` for a result replayed from the journal
on resume: a zero-length span, nothing ran). A failure sets the span status to ``ERROR`` with a
redacted description, ``error.type`` (the exception class or the structured error's ``type``)
and an ``exception`` event (type and redacted message, no stack trace).

Content (messages, tool arguments and results, run and task inputs/outputs) is recorded only
with ``capture_content = true``, as JSON in ``gen_ai.input.messages``,
``gen_ai.output.messages``, ``gen_ai.tool.call.arguments``, ``gen_ai.tool.call.result``,
``agent_sdk.input`` and ``agent_sdk.output``. Every attribute value, span name, status
description and event attribute passes through :data:`agent_sdk.secrets.REDACTOR` (registered
secret values become ``***``); values under sensitive mapping keys (``api_key``,
``Authorization``...) and attributes whose own key is sensitive are replaced by ``***``.

Parenting uses explicit parent contexts looked up by ``(run_id, task_id, call id)`` rather than
the ambient OpenTelemetry context, because a run's before/after hooks and its tasks' hooks run
in different asyncio tasks. The run span itself is parented to whatever span is current when the
run starts (e.g. an HTTP request span), if any. Spans in flight are held in a
:class:`~agent_sdk.observability.BoundedMap` (``max_open_spans``, default 10,000): past it the
oldest is ended with ``agent_sdk.incomplete = true`` and a ``tracing_span_evicted`` warning.
Spans whose after-hook never comes are ended the same way when their task or run ends, or at
shutdown.

Each application gets its own ``TracerProvider`` (created in ``agent_sdk_startup``, flushed and
shut down in ``agent_sdk_shutdown``); the global provider is set only with
``set_global = true``. With ``exporter = "memory"`` the spans are kept in an
``InMemorySpanExporter``: ``get_tracing(app.pm).finished_spans()`` returns them (tests).
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent_sdk import hookimpl
from agent_sdk.errors import ConfigError, ConfigIssue
from agent_sdk.observability import BoundedMap
from agent_sdk.secrets import REDACTED, REDACTOR, is_sensitive_key

if TYPE_CHECKING:
    import pluggy
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import Span, Tracer

    from agent_sdk.config import Config
    from agent_sdk.events import ModelCallInfo, Outcome, RunInfo, TaskInfo, ToolCallInfo
    from agent_sdk.messages import Message, ModelResponse, ToolResult

__all__ = ["TracingPlugin", "TracingSettings", "get_tracing"]

PLUGIN_NAME = "tracing"
INSTALL_OTEL = "pip install 'agent-sdk[otel]'"
OTLP_PACKAGES: dict[str, tuple[str, str]] = {
    "http/protobuf": (
        "opentelemetry.exporter.otlp.proto.http.trace_exporter",
        "opentelemetry-exporter-otlp-proto-http",
    ),
    "grpc": (
        "opentelemetry.exporter.otlp.proto.grpc.trace_exporter",
        "opentelemetry-exporter-otlp-proto-grpc",
    ),
}
"""OTLP protocol → (exporter module, distribution to install)."""

_MAX_DESCRIPTION = 1000
_SpanKey = tuple[str, ...]


class TracingSettings(BaseModel):
    """``[plugins.tracing]``: where spans go and what they may contain."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    exporter: Literal["none", "console", "otlp", "memory"] = Field(
        "none",
        description="Span exporter: none (tracing off, opentelemetry never imported), console "
        "(stdout), otlp (an OpenTelemetry collector), memory (kept in process; tests).",
    )
    service_name: str = Field(
        "agent-sdk", min_length=1, description="The service.name resource attribute."
    )
    endpoint: str | None = Field(
        None,
        description="OTLP endpoint (otlp only), e.g. http://localhost:4318/v1/traces for "
        "http/protobuf or localhost:4317 for grpc; default: the exporter's default or the "
        "OTEL_EXPORTER_OTLP_* environment variables.",
    )
    protocol: Literal["http/protobuf", "grpc"] = Field(
        "http/protobuf", description="OTLP transport (otlp only)."
    )
    capture_content: bool = Field(
        False,
        description="Record message content, tool arguments/results and run/task "
        "inputs/outputs (redacted) in span attributes. Off by default.",
    )
    set_global: bool = Field(
        False,
        description="Also install this application's TracerProvider as the process-wide "
        "global provider (off: each application keeps its own).",
    )
    max_open_spans: int = Field(
        10_000,
        ge=1,
        description="Spans in flight kept at most; past it the oldest is ended as incomplete.",
    )


def _log_warning(event: str, **fields: Any) -> None:
    from agent_sdk.logging import get_logger

    get_logger(__name__).warning(event, **fields)


def _import_sdk(source: str) -> None:
    """Import the OpenTelemetry SDK or raise a ConfigError naming the package to install."""
    try:
        importlib.import_module("opentelemetry.sdk.trace")
    except ImportError as exc:
        raise ConfigError(
            [
                ConfigIssue(
                    source,
                    f"plugins.{PLUGIN_NAME}.exporter",
                    f"tracing is enabled but the OpenTelemetry SDK is not installed ({exc})",
                    f'{INSTALL_OTEL}, or set exporter = "none"',
                )
            ]
        ) from None


def _otlp_exporter_class(settings: TracingSettings, source: str) -> Any:
    module_name, package = OTLP_PACKAGES[settings.protocol]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(
            [
                ConfigIssue(
                    source,
                    f"plugins.{PLUGIN_NAME}.exporter",
                    f'exporter = "otlp" ({settings.protocol}) needs the {package} package, '
                    f"which is not installed ({exc})",
                    f"pip install {package}",
                )
            ]
        ) from None
    return module.OTLPSpanExporter


# --- attribute hygiene -------------------------------------------------------------------


def _clean(key: str, value: Any) -> Any:
    """An attribute value safe to export: redacted, and of an OpenTelemetry attribute type.

    Strings are redacted; bools, ints and floats pass; a sequence of strings stays a sequence
    (each redacted); anything else becomes redacted JSON. A sensitive *key* masks the value.
    """
    if is_sensitive_key(key):
        return REDACTED
    if isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return REDACTOR.redact(value)
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return [REDACTOR.redact(v) for v in value]
    return _json(value)


def _json(value: Any) -> str:
    """Redacted JSON text of *value* (sensitive keys masked, secret values masked)."""
    text = json.dumps(REDACTOR.redact_value(value), default=str, ensure_ascii=False)
    return REDACTOR.redact(text)


def _set(span: Span, attributes: Mapping[str, Any]) -> None:
    span.set_attributes({k: _clean(k, v) for k, v in attributes.items() if v is not None})


def _message_parts(message: Message) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    if message.tool_result is not None:
        result = message.tool_result
        parts.append(
            {
                "type": "tool_call_response",
                "id": result.call_id,
                "response": result.data if result.ok else {"error": result.error},
            }
        )
    elif message.content is not None:
        parts.append({"type": "text", "content": message.content})
    parts += [
        {"type": "tool_call", "id": c.id, "name": c.name, "arguments": c.arguments}
        for c in message.tool_calls
    ]
    return parts


def _messages(messages: Sequence[Message]) -> list[dict[str, Any]]:
    """Messages in the GenAI semantic conventions' ``gen_ai.*.messages`` JSON shape."""
    return [{"role": m.role, "parts": _message_parts(m)} for m in messages]


# --- the plugin --------------------------------------------------------------------------


class TracingPlugin:
    """The ``tracing`` builtin: one instance per plugin manager (so per application).

    Attributes:
        name: the plugin name, which is also its settings table (``[plugins.tracing]``).
        settings: the validated settings (defaults until ``agent_sdk_configure``).
        provider: this application's ``TracerProvider`` while started, else ``None``.
        exporter: the span exporter while started (an ``InMemorySpanExporter`` for
            ``exporter = "memory"``), else ``None``.
    """

    name: ClassVar[str] = PLUGIN_NAME

    def __init__(self) -> None:
        self.settings = TracingSettings()
        self.provider: TracerProvider | None = None
        self.exporter: SpanExporter | None = None
        self._tracer: Tracer | None = None
        self._spans: BoundedMap[_SpanKey, Span] = BoundedMap(
            self.settings.max_open_spans, self._evicted
        )

    # --- public helpers ------------------------------------------------------------------

    @property
    def enabled(self) -> bool:
        """``True`` while spans are being recorded (started with an exporter other than none)."""
        return self._tracer is not None

    @property
    def open_spans(self) -> int:
        """Number of spans started and not yet ended (bounded by ``max_open_spans``)."""
        return len(self._spans)

    def finished_spans(self) -> list[ReadableSpan]:
        """Spans captured by the ``memory`` exporter, in the order they ended.

        Returns:
            The spans (``[]`` for any other exporter, or before startup).
        """
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
            InMemorySpanExporter,
        )

        exporter: InMemorySpanExporter | None = (
            self.exporter if isinstance(self.exporter, InMemorySpanExporter) else None
        )
        return list(exporter.get_finished_spans()) if exporter is not None else []

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Export the spans that ended and are still buffered; ``True`` if all were exported."""
        return self.provider.force_flush(timeout_millis) if self.provider is not None else True

    # --- bootstrap hooks -----------------------------------------------------------------

    @hookimpl
    def agent_sdk_register_settings(self) -> list[type[BaseModel]]:
        """Declare :class:`TracingSettings` as the ``[plugins.tracing]`` schema."""
        return [TracingSettings]

    @hookimpl
    def agent_sdk_configure(self, config: Config) -> None:
        """Read ``[plugins.tracing]``; when tracing is on, check OpenTelemetry is importable.

        Raises:
            ConfigError: invalid settings, or a package the chosen exporter needs is missing
                (the message gives the ``pip install`` command).
        """
        self.settings = self._read_settings(config)

    def _read_settings(self, config: Config) -> TracingSettings:
        try:
            settings = TracingSettings.model_validate(config.plugins.settings(self.name))
        except ValidationError as exc:
            issues = [
                ConfigIssue(
                    config.source,
                    ".".join(["plugins", self.name, *map(str, err["loc"])]),
                    err["msg"],
                )
                for err in exc.errors(include_url=False)
            ]
            raise ConfigError(issues) from None
        if settings.exporter != "none":
            _import_sdk(config.source)
            if settings.exporter == "otlp":
                _otlp_exporter_class(settings, config.source)
        return settings

    @hookimpl
    def agent_sdk_startup(self, config: Config) -> None:
        """Create this application's ``TracerProvider`` and exporter (nothing if ``none``)."""
        settings = self._read_settings(config)
        self.settings = settings
        if settings.exporter == "none" or self._tracer is not None:
            return
        from opentelemetry import trace
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import (
            BatchSpanProcessor,
            ConsoleSpanExporter,
            SimpleSpanProcessor,
        )
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
            InMemorySpanExporter,
        )

        from agent_sdk import __version__

        exporter: SpanExporter
        if settings.exporter == "memory":
            exporter = InMemorySpanExporter()
        elif settings.exporter == "console":
            exporter = ConsoleSpanExporter(service_name=settings.service_name)
        else:
            cls = _otlp_exporter_class(settings, config.source)
            exporter = cls(endpoint=settings.endpoint) if settings.endpoint else cls()
        provider = TracerProvider(resource=Resource.create({"service.name": settings.service_name}))
        processor = (
            BatchSpanProcessor(exporter)
            if settings.exporter == "otlp"
            else SimpleSpanProcessor(exporter)
        )
        provider.add_span_processor(processor)
        if settings.set_global:
            trace.set_tracer_provider(provider)
        self._spans = BoundedMap(settings.max_open_spans, self._evicted)
        self.provider, self.exporter = provider, exporter
        self._tracer = provider.get_tracer("agent_sdk", __version__)

    @hookimpl
    def agent_sdk_shutdown(self) -> None:
        """End spans still open (as incomplete), flush and shut down the provider."""
        for _key, span in self._spans.pop_all():
            self._end_incomplete(span, "the application shut down before the span ended")
        self._tracer = None
        provider, self.provider = self.provider, None
        if provider is not None:
            provider.shutdown()  # flushes the processors, then shuts the exporter down

    # --- runtime hooks -------------------------------------------------------------------

    @hookimpl
    def agent_sdk_before_run(self, run: RunInfo) -> None:
        """Start the ``invoke_workflow {workflow}`` span of the run."""
        if self._tracer is None:
            return
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "invoke_workflow",
            "gen_ai.workflow.name": run.workflow,
            "gen_ai.conversation.id": run.run_id,
            "agent_sdk.run_id": run.run_id,
            "agent_sdk.workflow": run.workflow,
            "agent_sdk.resumed": run.resumed,
        }
        if self.settings.capture_content:
            attributes["agent_sdk.input"] = run.input
        self._start(("run", run.run_id), f"invoke_workflow {run.workflow}", None, attributes)

    @hookimpl
    def agent_sdk_after_run(self, run: RunInfo, outcome: Outcome) -> None:
        """End the run span (and, as incomplete, any task or call span of the run still open)."""
        if self._tracer is None:
            return
        for key, span in self._spans.pop_where(lambda k: k[0] != "run" and k[1] == run.run_id):
            reason = f"the run ended ({outcome.status}) before this {key[0]} span's after-hook"
            self._end_incomplete(span, reason)
        span = self._take(
            ("run", run.run_id),
            f"invoke_workflow {run.workflow}",
            None,
            {"agent_sdk.run_id": run.run_id, "agent_sdk.workflow": run.workflow},
        )
        self._finish_outcome(span, outcome)

    @hookimpl
    def agent_sdk_before_task(self, run: RunInfo, task: TaskInfo) -> None:
        """Start the task attempt's span: ``invoke_agent {agent}`` or ``task {task_id}``."""
        if self._tracer is None:
            return
        attributes: dict[str, Any] = {
            "agent_sdk.run_id": run.run_id,
            "agent_sdk.task_id": task.task_id,
            "agent_sdk.workflow": run.workflow,
            "agent_sdk.task_type": task.type,
            "agent_sdk.task_target": task.target,
            "agent_sdk.attempt": task.attempt,
            "agent_sdk.resumed": run.resumed,
        }
        if task.type == "agent":
            attributes["gen_ai.operation.name"] = "invoke_agent"
            attributes["gen_ai.agent.name"] = task.target
        parent = self._spans.get(("run", run.run_id))
        self._start(("task", run.run_id, task.task_id), _task_span_name(task), parent, attributes)

    @hookimpl
    def agent_sdk_after_task(self, run: RunInfo, task: TaskInfo, outcome: Outcome) -> None:
        """End the task attempt's span (and any call span of it still open, as incomplete)."""
        if self._tracer is None:
            return
        for _key, span in self._spans.pop_where(
            lambda k: k[0] in ("model", "tool") and k[1] == run.run_id and k[2] == task.task_id
        ):
            reason = f"task {task.task_id!r} ended before this call's after-hook"
            self._end_incomplete(span, reason)
        span = self._take(
            ("task", run.run_id, task.task_id),
            _task_span_name(task),
            self._spans.get(("run", run.run_id)),
        )
        if self.settings.capture_content and outcome.status == "succeeded":
            _set(span, {"agent_sdk.output": outcome.output})
        self._finish_outcome(span, outcome)

    @hookimpl
    def agent_sdk_before_model_call(self, call: ModelCallInfo) -> None:
        """Start the ``chat {model}`` span of a model call."""
        if self._tracer is None:
            return
        request = call.request
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": call.provider,
            "gen_ai.request.model": request.model or call.model,
            "gen_ai.request.temperature": request.temperature,
            "gen_ai.request.max_tokens": request.max_tokens,
            "agent_sdk.model": call.model,
            "agent_sdk.model_call_index": call.index,
            "agent_sdk.run_id": call.run_id or None,
            "agent_sdk.task_id": call.task_id or None,
        }
        if self.settings.capture_content:
            attributes["gen_ai.input.messages"] = _messages(request.messages)
            if request.tools:
                attributes["gen_ai.tool.definitions"] = [
                    t.model_dump(mode="json") for t in request.tools
                ]
        from opentelemetry.trace import SpanKind

        self._start(
            _model_key(call),
            _model_span_name(call),
            self._spans.get(("task", call.run_id, call.task_id)),
            attributes,
            kind=SpanKind.CLIENT,
        )

    @hookimpl
    def agent_sdk_after_model_call(
        self, call: ModelCallInfo, response: ModelResponse | None, error: BaseException | None
    ) -> None:
        """End the model call's span with usage and finish reason, or the error."""
        if self._tracer is None:
            return
        from opentelemetry.trace import SpanKind

        span = self._take(
            _model_key(call),
            _model_span_name(call),
            self._spans.get(("task", call.run_id, call.task_id)),
            kind=SpanKind.CLIENT,
        )
        if response is not None:
            attributes: dict[str, Any] = {
                "gen_ai.response.model": response.model or None,
                "gen_ai.response.finish_reasons": [response.finish_reason],
                "gen_ai.usage.input_tokens": response.usage.input_tokens,
                "gen_ai.usage.output_tokens": response.usage.output_tokens,
            }
            if self.settings.capture_content:
                output = _messages([response.message])
                output[0]["finish_reason"] = response.finish_reason
                attributes["gen_ai.output.messages"] = output
            _set(span, attributes)
        if error is not None:
            _record_error(span, type(error).__qualname__, str(error))
        span.end()

    @hookimpl
    def agent_sdk_before_tool_call(self, call: ToolCallInfo) -> None:
        """Start the ``execute_tool {tool}`` span of a tool call."""
        if self._tracer is None:
            return
        self._start(
            _tool_key(call),
            f"execute_tool {call.call.name}",
            self._spans.get(("task", call.run_id, call.task_id)),
            self._tool_attributes(call),
        )

    @hookimpl
    def agent_sdk_after_tool_call(self, call: ToolCallInfo, result: ToolResult) -> None:
        """End the tool call's span (a replayed result gets a zero-length span of its own)."""
        if self._tracer is None:
            return
        name = f"execute_tool {call.call.name}"
        parent = self._spans.get(("task", call.run_id, call.task_id))
        if call.replayed:
            span = self._new_span(name, parent, self._tool_attributes(call))
        else:
            span = self._take(_tool_key(call), name, parent, self._tool_attributes(call))
        if self.settings.capture_content:
            _set(
                span,
                {"gen_ai.tool.call.result": result.data if result.ok else {"error": result.error}},
            )
        if not result.ok:
            error = result.error or {}
            _record_error(span, str(error.get("type") or "_OTHER"), str(error.get("message", "")))
        span.end()

    # --- internals -----------------------------------------------------------------------

    def _tool_attributes(self, call: ToolCallInfo) -> dict[str, Any]:
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": call.call.name,
            "gen_ai.tool.call.id": call.call.id,
            "gen_ai.tool.type": "function",
            "agent_sdk.replayed": call.replayed,
            "agent_sdk.run_id": call.run_id or None,
            "agent_sdk.task_id": call.task_id or None,
        }
        if self.settings.capture_content:
            attributes["gen_ai.tool.call.arguments"] = call.call.arguments
        return attributes

    def _new_span(
        self,
        name: str,
        parent: Span | None,
        attributes: Mapping[str, Any],
        kind: Any = None,
    ) -> Span:
        from opentelemetry import trace

        assert self._tracer is not None
        context = trace.set_span_in_context(parent) if parent is not None else None
        span = self._tracer.start_span(
            REDACTOR.redact(name),
            context=context,
            kind=kind if kind is not None else trace.SpanKind.INTERNAL,
            record_exception=False,
            set_status_on_exception=False,
        )
        _set(span, attributes)
        return span

    def _start(
        self,
        key: _SpanKey,
        name: str,
        parent: Span | None,
        attributes: Mapping[str, Any],
        kind: Any = None,
    ) -> None:
        span = self._new_span(name, parent, attributes, kind)
        previous = self._spans.put(key, span)
        if previous is not None:  # a before-hook twice without its after-hook in between
            self._end_incomplete(previous, "started again before its after-hook")

    def _take(
        self,
        key: _SpanKey,
        name: str,
        parent: Span | None,
        attributes: Mapping[str, Any] | None = None,
        kind: Any = None,
    ) -> Span:
        """Pop the open span under *key*, or start one now (its before-hook was missed)."""
        span = self._spans.pop(key)
        if span is None:
            span = self._new_span(name, parent, attributes or {}, kind)
            span.set_attribute("agent_sdk.before_hook_missed", True)
        return span

    def _finish_outcome(self, span: Span, outcome: Outcome) -> None:
        span.set_attribute("agent_sdk.status", outcome.status)
        if outcome.status != "succeeded":
            error = outcome.error or {}
            default = "CancelledError" if outcome.status == "cancelled" else "_OTHER"
            _record_error(span, str(error.get("type") or default), str(error.get("message", "")))
        span.end()

    def _end_incomplete(self, span: Span, reason: str) -> None:
        span.set_attribute("agent_sdk.incomplete", True)
        _record_error(span, "agent_sdk.incomplete", reason)
        span.end()

    def _evicted(self, key: _SpanKey, span: Span) -> None:
        evicted = self._spans.evicted
        if evicted == 1 or evicted % 1000 == 0:
            _log_warning(
                "tracing_span_evicted",
                span=key[0],
                evicted_total=evicted,
                max_open_spans=self.settings.max_open_spans,
                hint="an after-hook is not being called, or raise max_open_spans in "
                "[plugins.tracing]",
            )
        self._end_incomplete(span, "evicted: too many spans in flight")


def _task_span_name(task: TaskInfo) -> str:
    return f"invoke_agent {task.target}" if task.type == "agent" else f"task {task.task_id}"


def _model_span_name(call: ModelCallInfo) -> str:
    return f"chat {call.request.model or call.model}"


def _model_key(call: ModelCallInfo) -> _SpanKey:
    return ("model", call.run_id, call.task_id, str(call.index))


def _tool_key(call: ToolCallInfo) -> _SpanKey:
    return ("tool", call.run_id, call.task_id, call.call.id)


def _record_error(span: Span, error_type: str, message: str) -> None:
    """Mark *span* failed: ``ERROR`` status, ``error.type`` and an ``exception`` event."""
    from opentelemetry.trace import Status, StatusCode

    clean_type = REDACTOR.redact(error_type) or "_OTHER"
    clean_message = REDACTOR.redact(message)
    span.set_status(Status(StatusCode.ERROR, clean_message[:_MAX_DESCRIPTION] or clean_type))
    span.set_attribute("error.type", clean_type)
    span.add_event("exception", {"exception.type": clean_type, "exception.message": clean_message})


def get_tracing(pm: pluggy.PluginManager) -> TracingPlugin | None:
    """The tracing plugin of one application (``get_tracing(app.pm)``), or ``None``.

    Returns:
        The :class:`TracingPlugin` registered as ``tracing`` in *pm*, or ``None`` if it is
        blocked, failed or replaced by something else.
    """
    plugin = pm.get_plugin(PLUGIN_NAME)
    return plugin if isinstance(plugin, TracingPlugin) else None

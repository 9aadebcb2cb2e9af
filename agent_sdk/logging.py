"""Structured logging: structlog, configured once, with bound ids and secret redaction.

Log events are snake_case names with key/value context (``log.info("tool_call_failed",
tool="shell", error=...)``). ``run_id``, ``task_id`` and ``request_id`` bound with
:func:`bind_context` appear on every event logged inside the block, including from plugins.
Every event passes through :data:`agent_sdk.secrets.REDACTOR` before it is rendered.

The CLI calls :func:`configure_logging` once (console renderer on a TTY, JSON lines
otherwise, ``--log-format`` to choose). A library user who configures structlog themselves
keeps their configuration: :func:`get_logger` only installs a default (warnings and errors to
stderr) when structlog has not been configured at all.
"""

from __future__ import annotations

import logging as _stdlib_logging
import sys
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import IO, Any, Literal, TextIO, cast

import structlog

from agent_sdk.secrets import REDACTOR

__all__ = ["LogFormat", "bind_context", "configure_logging", "get_logger", "redact_processor"]

LogFormat = Literal["auto", "console", "json"]
_LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40, "critical": 50}


class _StderrProxy:
    """Writes to whatever ``sys.stderr`` is *now*.

    Binding the logger to the ``sys.stderr`` object seen at configuration time would keep
    writing to a stream that was since replaced (and perhaps closed): pytest's ``capsys``,
    ``contextlib.redirect_stderr``, a daemon re-opening its streams.
    """

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()

    def isatty(self) -> bool:
        return sys.stderr.isatty()


def redact_processor(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: mask registered secrets and sensitive keys in every field."""
    redacted: MutableMapping[str, Any] = REDACTOR.redact_value(dict(event_dict))
    return redacted


def configure_logging(
    format: LogFormat = "auto", level: str = "info", stream: IO[str] | None = None
) -> None:
    """Configure structlog for the process.

    Args:
        format: ``"console"`` (human, colours on a TTY), ``"json"`` (one JSON object per line)
            or ``"auto"`` (console if *stream* is a TTY, else JSON).
        level: minimum level: ``debug``, ``info``, ``warning``, ``error``, ``critical``.
        stream: where to write (default ``sys.stderr``; stdout stays free for command output).

    Raises:
        ValueError: unknown level or format.
    """
    if level.lower() not in _LEVELS:
        raise ValueError(f"log level must be one of {sorted(_LEVELS)}, found {level!r}")
    out: IO[str] | _StderrProxy = stream or _StderrProxy()
    if format == "auto":
        format = "console" if out.isatty() else "json"
    renderer: Any
    if format == "console":
        renderer = structlog.dev.ConsoleRenderer(colors=out.isatty())
    elif format == "json":
        renderer = structlog.processors.JSONRenderer(default=str)
    else:
        raise ValueError(f"log format must be auto, console or json, found {format!r}")
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redact_processor,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level.lower()]),
        logger_factory=structlog.PrintLoggerFactory(file=cast(TextIO, out)),
        cache_logger_on_first_use=False,
    )
    _stdlib_logging.captureWarnings(True)


class _LazyLogger:
    """A logger that resolves structlog's configuration at each call, not at creation.

    Module-level loggers (``log = get_logger(__name__)``) are created at import, usually before
    the CLI calls :func:`configure_logging`; binding a structlog logger then would freeze the
    default configuration into it.
    """

    __slots__ = ("_initial",)

    def __init__(self, initial: dict[str, Any]) -> None:
        self._initial = initial

    def bind(self, **values: Any) -> _LazyLogger:
        """A logger with *values* added to every event."""
        return _LazyLogger({**self._initial, **values})

    def __getattr__(self, name: str) -> Any:
        if not structlog.is_configured():
            configure_logging("console", "warning")
        return getattr(structlog.get_logger().bind(**self._initial), name)


def get_logger(name: str | None = None, **initial: Any) -> Any:
    """Return a structlog logger; the default configuration (warnings and errors to stderr)
    applies until :func:`configure_logging` or the user configures structlog.

    The configuration is looked up when an event is logged, so a logger created at import
    follows a later :func:`configure_logging`.

    Args:
        name: logger name (usually ``__name__``), added as ``logger``.
        initial: key/values bound to every event of this logger.
    """
    if name:
        initial["logger"] = name
    return _LazyLogger(initial)


@contextmanager
def bind_context(**ids: Any) -> Iterator[None]:
    """Bind ``run_id``, ``task_id``, ``request_id`` (or any key) to every event in the block.

    Uses context variables, so it is safe across asyncio tasks: a task created inside the
    block inherits the ids; one created outside does not see them.
    """
    with structlog.contextvars.bound_contextvars(**{k: v for k, v in ids.items() if v is not None}):
        yield

"""Helpers shared by the tools (internal)."""

from __future__ import annotations

import asyncio
from typing import Generic, TypeVar

from agent_sdk.errors import ToolError

__all__ = ["PerLoop", "tool_error"]

T = TypeVar("T")


def tool_error(message: str, *, hint: str | None = None, transient: bool = False) -> ToolError:
    """Return a :class:`ToolError`; ``transient=True`` tells the runtime a retry may succeed
    (and lets the tool's circuit breaker count it)."""
    error = ToolError(message, hint=hint)
    error.transient = transient
    return error


class PerLoop(Generic[T]):
    """One value per running event loop (the last one used), rebuilt when the loop changes.

    Rate limiters hold futures of the loop they were first used in; a tool instance may be
    called from several ``asyncio.run`` calls in a row (scripts, tests), so state bound to a
    loop is remade for a new loop instead of failing.
    """

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._value: T | None = None

    def get(self) -> T | None:
        """The value made for the running loop, or ``None``."""
        if self._loop is asyncio.get_running_loop():
            return self._value
        return None

    def set(self, value: T) -> T:
        """Remember *value* for the running loop and return it."""
        self._loop = asyncio.get_running_loop()
        self._value = value
        return value

"""Hooks of the ``testdupe`` fixture plugin: a tool named ``greet``, like ``testgood``'s."""

from __future__ import annotations

from agent_sdk import hookimpl
from agent_sdk.kinds.tool import Tool, tool


@tool(name="greet", threaded=False)
def greet_loudly(name: str) -> str:
    """Greet someone, loudly."""
    return f"HELLO {name.upper()}"


@hookimpl
def agent_sdk_register_tools() -> list[type[Tool]]:
    return [greet_loudly]

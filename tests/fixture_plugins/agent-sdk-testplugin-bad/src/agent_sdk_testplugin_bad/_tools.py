"""A valid tool the ``testplugin-bad`` plugins (mis)register."""

from __future__ import annotations

from agent_sdk.kinds.tool import tool


@tool(threaded=False)
def ping() -> str:
    """Answer pong."""
    return "pong"

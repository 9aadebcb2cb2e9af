"""``testraises``: imports fine, but its registration hook raises."""

from __future__ import annotations

from agent_sdk import hookimpl
from agent_sdk.kinds.tool import Tool


@hookimpl
def agent_sdk_register_tools() -> list[type[Tool]]:
    raise RuntimeError("testraises cannot list its tools")
